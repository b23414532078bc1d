"""After the consultation: one anonymous rating per consultation, and personal data that
goes after the retention period (consultation, chat, documents with their files, invites)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from PIL import Image
from pytest_django import Settings

from buergerbuero.consult import services as consult_services
from buergerbuero.consult.models import (
    ChatMessage,
    Consultation,
    Document,
    Feedback,
    InterpreterInvite,
    ParticipantRole,
)
from buergerbuero.consult.services import ConsultError, Participant
from buergerbuero.jobs import registry
from buergerbuero.offices.models import Office
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import Ticket
from tests.consult.support import OPEN, english, start_consultation

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

THANKS = "Thank you for your feedback."
ALREADY = "Thank you — we already have your feedback."
BAD_RATING = "Please choose between 1 and 5 stars."


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def ended(office: Office, agent: User, at: dt.datetime, name: str = "Anna Beispiel") -> Consultation:
    """A consultation that started at OPEN and was ended by its agent ``at``."""
    consultation = start_consultation(office, agent, name=name)
    consult_services.end_consultation(consultation, agent.staff_member, now=at)
    return Consultation.objects.select_related("ticket").get(pk=consultation.pk)


@pytest.fixture
def finished(office: Office, agent: User) -> Consultation:
    return ended(office, agent, OPEN + dt.timedelta(minutes=15))


def done_url(consultation: Consultation) -> str:
    return reverse("consult:done", kwargs={"token": consultation.ticket.token})


def text(response: Response) -> str:
    return response.content.decode()


# --- the rating -----------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_rating_is_stored_without_any_link_to_the_person(finished: Consultation, office: Office) -> None:
    consult_services.give_feedback(finished.ticket, 4, "  Sehr freundlich.  ", now=OPEN)

    row = Feedback.objects.values().get()
    assert row == {
        "id": row["id"],
        "office_id": office.pk,
        "rating": 4,
        "comment": "Sehr freundlich.",
        "given_on": OPEN.date(),
    }
    assert Consultation.objects.get(pk=finished.pk).feedback_given is True


def test_feedback_model_has_no_field_that_leads_to_the_person() -> None:
    fields = {field.name: field for field in Feedback._meta.get_fields()}

    assert set(fields) == {"id", "office", "rating", "comment", "given_on"}
    assert fields["office"].related_model is Office
    related = {field.related_model for field in fields.values() if field.is_relation}
    assert related == {Office}
    # A day, not a moment: it cannot be matched with the time a consultation ended.
    assert type(fields["given_on"]) is models.DateField


@pytest.mark.django_db
@pytest.mark.parametrize("rating", [0, 6, -1, 100])
def test_ratings_outside_one_to_five_are_refused(finished: Consultation, rating: int) -> None:
    with translation.override("en"), pytest.raises(ConsultError) as refused:
        consult_services.give_feedback(finished.ticket, rating, "")

    assert (refused.value.code, refused.value.message) == ("bad_rating", BAD_RATING)
    assert not Feedback.objects.exists()
    # A wrong rating does not use up the chance to give one.
    consult_services.give_feedback(finished.ticket, 5, "")
    assert list(Feedback.objects.values_list("rating", flat=True)) == [5]


@pytest.mark.django_db
def test_one_to_five_are_all_accepted(office: Office, agent: User) -> None:
    for rating in range(1, 6):
        consultation = ended(office, agent, OPEN + dt.timedelta(minutes=rating))
        consult_services.give_feedback(consultation.ticket, rating, "")

    assert sorted(Feedback.objects.values_list("rating", flat=True)) == [1, 2, 3, 4, 5]


@pytest.mark.django_db
def test_only_once_per_consultation(finished: Consultation) -> None:
    consult_services.give_feedback(finished.ticket, 5, "Super")

    with translation.override("en"), pytest.raises(ConsultError) as again:
        consult_services.give_feedback(finished.ticket, 1, "Doch nicht")

    assert (again.value.code, again.value.message) == ("already_given", ALREADY)
    assert list(Feedback.objects.values_list("rating", "comment")) == [(5, "Super")]


@pytest.mark.django_db
def test_only_after_the_end(office: Office, agent: User) -> None:
    consultation = start_consultation(office, agent)

    with pytest.raises(ConsultError):
        consult_services.give_feedback(consultation.ticket, 5, "")

    assert not Feedback.objects.exists()
    assert Consultation.objects.get(pk=consultation.pk).feedback_given is False


@pytest.mark.django_db
def test_a_long_comment_is_cut_to_1000_characters(finished: Consultation) -> None:
    consult_services.give_feedback(finished.ticket, 3, "x" * 5000)

    assert Feedback.objects.get().comment == "x" * 1000


# --- the closing page -----------------------------------------------------------------------
@pytest.mark.django_db
def test_closing_page_form_thanks_once_and_refuses_politely_after(finished: Consultation) -> None:
    browser = english()
    url = done_url(finished)

    page = browser.get(url)
    assert page.status_code == 200
    assert 'name="rating"' in text(page)
    assert 'method="post"' in text(page)

    sent = browser.post(url, {"rating": "4", "comment": "Hat geholfen"}, follow=True)
    assert sent.redirect_chain == [(url, 302)]
    assert THANKS in text(sent)
    assert 'name="rating"' not in text(sent)  # no second form

    again = browser.post(url, {"rating": "1", "comment": "Nochmal"}, follow=True)
    assert again.status_code == 200
    assert ALREADY in text(again)
    assert list(Feedback.objects.values_list("rating", "comment")) == [(4, "Hat geholfen")]


@pytest.mark.django_db
@pytest.mark.parametrize("rating", ["", "abc", "0", "6", "4.5", "-3"])
def test_closing_page_refuses_a_bad_rating_and_keeps_the_form(finished: Consultation, rating: str) -> None:
    browser = english()

    response = browser.post(done_url(finished), {"rating": rating}, follow=True)

    assert response.status_code == 200
    assert BAD_RATING in text(response)
    assert 'name="rating"' in text(response)
    assert not Feedback.objects.exists()


@pytest.mark.django_db
def test_closing_page_needs_the_csrf_token(finished: Consultation) -> None:
    response = Client(enforce_csrf_checks=True).post(done_url(finished), {"rating": "1"})

    assert response.status_code == 403
    assert not Feedback.objects.exists()


@pytest.mark.django_db
def test_no_rating_before_the_end_or_without_a_ticket(office: Office, agent: User) -> None:
    consultation = start_consultation(office, agent)

    assert english().post(done_url(consultation), {"rating": "5"}).status_code == 404
    assert english().post("/w/no-such-token/done/", {"rating": "5"}).status_code == 404
    assert not Feedback.objects.exists()


# --- retention ------------------------------------------------------------------------------
def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(out, format="PNG")
    return out.getvalue()


def with_content(consultation: Consultation, member: StaffMember) -> Path:
    """Chat, a document and an interpreter invite for ``consultation`` (still open); the
    path of the document's file."""
    who = Participant(consultation, ParticipantRole.CITIZEN)
    consult_services.post_message(who, "Hier ist mein Grundriss.", now=OPEN)
    document = consult_services.share_document(who, SimpleUploadedFile("Grundriss.png", png()), now=OPEN)
    consult_services.invite_interpreter(consultation, member, now=OPEN)
    path = Path(document.file.path)
    assert path.is_file()
    return path


def consultation_with_content(
    office: Office, agent: User, ended_at: dt.datetime, name: str
) -> tuple[int, Path]:
    consultation = start_consultation(office, agent, name=name)
    path = with_content(consultation, agent.staff_member)
    consult_services.end_consultation(consultation, agent.staff_member, now=ended_at)
    return consultation.pk, path


@pytest.mark.django_db
def test_prune_deletes_old_consultations_with_everything_and_keeps_younger(
    office: Office, agent: User, settings: Settings
) -> None:
    days = dt.timedelta(days=settings.CONSULTATION_RETENTION_DAYS)
    old_end = OPEN + dt.timedelta(minutes=10)
    boundary_end = OPEN + dt.timedelta(minutes=20)
    now = boundary_end + days  # the boundary consultation ended exactly the period ago
    old, old_file = consultation_with_content(office, agent, old_end, "Alt")
    boundary, boundary_file = consultation_with_content(office, agent, boundary_end, "Grenze")
    young, young_file = consultation_with_content(office, agent, now - dt.timedelta(days=1), "Jung")
    running = start_consultation(office, agent, name="Läuft")
    running_file = with_content(running, agent.staff_member)
    consult_services.give_feedback(Consultation.objects.get(pk=old).ticket, 5, "")
    feedback_before = list(Feedback.objects.values())

    deleted = consult_services.prune_consultations(now=now)

    assert deleted > 0
    assert not Consultation.objects.filter(pk=old).exists()
    assert not Ticket.objects.filter(display_name="Alt").exists()
    assert not ChatMessage.objects.filter(consultation_id=old).exists()
    assert not Document.objects.filter(consultation_id=old).exists()
    assert not InterpreterInvite.objects.filter(consultation_id=old).exists()
    assert not old_file.exists()
    for kept, path in ((boundary, boundary_file), (young, young_file), (running.pk, running_file)):
        assert Consultation.objects.filter(pk=kept).exists()
        assert ChatMessage.objects.filter(consultation_id=kept).count() == 1
        assert Document.objects.filter(consultation_id=kept).count() == 1
        assert InterpreterInvite.objects.filter(consultation_id=kept).count() == 1
        assert path.is_file()
    assert list(Feedback.objects.values()) == feedback_before  # anonymous: it stays

    # A second run finds nothing more; a second later the boundary consultation goes too.
    assert consult_services.prune_consultations(now=now) == 0
    consult_services.prune_consultations(now=now + dt.timedelta(seconds=1))
    assert not Consultation.objects.filter(pk=boundary).exists()
    assert not boundary_file.exists()
    assert Consultation.objects.filter(pk=young).exists()


@pytest.mark.django_db
def test_prune_follows_the_retention_setting(office: Office, agent: User, settings: Settings) -> None:
    settings.CONSULTATION_RETENTION_DAYS = 7
    consultation, path = consultation_with_content(office, agent, OPEN + dt.timedelta(hours=1), "Anna")

    consult_services.prune_consultations(now=OPEN + dt.timedelta(days=7))
    assert Consultation.objects.filter(pk=consultation).exists()
    consult_services.prune_consultations(now=OPEN + dt.timedelta(days=7, hours=2))
    assert not Consultation.objects.filter(pk=consultation).exists()
    assert not path.exists()


@pytest.mark.django_db
def test_prune_without_a_time_uses_now(office: Office, agent: User, settings: Settings) -> None:
    long_ago = timezone.now() - dt.timedelta(days=settings.CONSULTATION_RETENTION_DAYS + 1)
    consultation, path = consultation_with_content(office, agent, long_ago, "Anna")

    consult_services.prune_consultations()

    assert not Consultation.objects.filter(pk=consultation).exists()
    assert not path.exists()


def test_prune_job_is_registered() -> None:
    jobs = {job.name: job for job in registry.JOBS}

    assert "prune_consultations" in jobs
    job = jobs["prune_consultations"]
    # the statistics job aggregates first (stats.services.after_aggregation)
    assert job.run.__wrapped__ is consult_services.prune_consultations  # type: ignore[attr-defined]
    assert dt.timedelta(0) < job.every <= dt.timedelta(days=1)
