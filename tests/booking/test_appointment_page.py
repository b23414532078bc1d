"""The appointment page after the appointment was held, for a link that leads nowhere, and the
staff member's name without grammatical case (#13)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from buergerbuero.booking.models import AppointmentStatus
from buergerbuero.offices.models import Service
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import Ticket, TicketStatus
from tests.booking.conftest import at
from tests.booking.test_views import body, booked, german

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock", "agent_member")]


def _held(client: Client, service: Service, clock: Any) -> str:
    """Books, enters at 09:56 and has the consultation end as done; returns the page's path."""
    appointment = booked(service)
    clock.move_to(at(2026, 12, 2, 9, 56))
    client.post(f"/a/{appointment.token}/join/")
    Ticket.objects.filter(reserved_for__isnull=False).update(status=TicketStatus.DONE)
    clock.move_to(at(2026, 12, 2, 10, 30))  # still within the link's grace time
    return f"/a/{appointment.token}/"


def test_a_held_appointment_no_longer_offers_to_enter(client: Client, service: Service, clock: Any) -> None:
    path = _held(client, service, clock)

    page = client.get(path)

    assert page.status_code == 200
    assert f'action="{path}join/"' not in body(page)
    assert german("Your appointment has taken place. Thank you for your visit.") in body(page)


def test_entering_again_after_the_appointment_was_held_queues_nobody(
    client: Client, service: Service, clock: Any
) -> None:
    path = _held(client, service, clock)

    response = client.post(f"{path}join/", follow=True)

    assert response.redirect_chain == [(path, 302)]
    assert not Ticket.objects.filter(status__in=[TicketStatus.WAITING, TicketStatus.CALLED]).exists()
    assert Ticket.objects.count() == 1


def test_a_reload_while_waiting_still_leads_back_to_the_same_place(
    client: Client, service: Service, clock: Any
) -> None:
    appointment = booked(service)
    clock.move_to(at(2026, 12, 2, 9, 56))
    first = client.post(f"/a/{appointment.token}/join/")
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.ATTENDED

    again = client.post(f"/a/{appointment.token}/join/")

    assert again["Location"] == first["Location"]


@pytest.mark.parametrize("suffix", ["", "reschedule/", "termin.ics"])
def test_a_tampered_appointment_link_says_the_link_is_not_valid(
    client: Client, service: Service, suffix: str
) -> None:
    appointment = booked(service)
    tampered = appointment.token[:-2] + ("xy" if not appointment.token.endswith("xy") else "ab")

    response = client.get(f"/a/{tampered}/{suffix}")

    assert response.status_code == 404
    assert german("This appointment link is not valid") in body(response)
    assert german("We could not find this office or organisation.") not in body(response)


def test_the_staff_member_is_named_without_grammatical_case(
    client: Client, service: Service, agent_member: StaffMember
) -> None:
    StaffMember.objects.filter(pk=agent_member.pk).update(display_name="Herr Nowak")
    appointment = booked(service)

    page = body(client.get(f"/a/{appointment.token}/"))

    assert "Ansprechperson: Herr Nowak" in page
    assert "Bei Herr Nowak" not in page
