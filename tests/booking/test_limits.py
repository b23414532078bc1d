"""Abuse limits of the booking pages: bookings per client address and per e-mail address or
mobile number, moves and cancellations per address, moves per appointment, and SMS only to the
countries the organisation allows.

The clock and the fixture office are those of ``tests/booking/conftest.py``; the default
limits are 10 bookings per address per hour, 3 per e-mail address or mobile number per day,
10 changes per address per hour, 3 moves per appointment.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from buergerbuero.booking import services
from buergerbuero.booking.models import Appointment
from buergerbuero.booking.services import BookingError, Contact
from buergerbuero.notify.models import Notification
from buergerbuero.offices.models import Office, Service
from buergerbuero.orgs.models import Organization
from tests.booking.conftest import NOW

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock", "agent_member")]
DETAILS = "/testhausen/buergerbuero/book/details/"
_numbers = itertools.count(1)


def english(message: str) -> str:
    with translation.override("en"):
        return gettext(message)


def browser(address: str = "198.51.100.7", language: str = "en") -> Client:
    return Client(REMOTE_ADDR=address, headers={"accept-language": language})


def details(service: Service, slot: Any) -> str:
    return DETAILS + "?" + urlencode({"service": service.pk, "start": slot.start.isoformat()})


def person(**changes: str) -> dict[str, str]:
    number = next(_numbers)
    data = {
        "name": f"Bürger {number}",
        "email": f"buerger{number}@example.org",
        "language": "en",
        "consent": "on",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value}


def free_slots(service: Service, count: int) -> list[Any]:
    return services.finder(service.office, service, now=NOW).next_free(count)


def body(response: Response) -> str:
    return response.content.decode()


def contact(email: str = "", phone: str = "") -> Contact:
    return Contact("Erika", email=email, phone=phone, consent=True)


# --- bookings per address and per contact ---------------------------------------------------------
def test_a_hundred_bookings_from_one_address_stop_after_ten(service: Service) -> None:
    client = browser()
    answers = [client.post(details(service, slot), person()).status_code for slot in free_slots(service, 100)]

    assert answers[:10] == [302] * 10
    assert answers[10:] == [429] * 90
    assert Appointment.objects.count() == 10
    assert (
        browser("198.51.100.8").post(details(service, free_slots(service, 1)[0]), person()).status_code == 302
    )


def test_the_refusal_says_why_in_the_citizens_language_and_changes_nothing(
    service: Service, settings: Any
) -> None:
    settings.BOOKING_LIMIT_PER_ADDRESS_HOUR = 0
    for language, marker in (("en", "Too many bookings"), ("de", "Zu viele Buchungen")):
        response = browser(language=language).post(details(service, free_slots(service, 1)[0]), person())

        assert response.status_code == 429
        assert marker in body(response)
        assert 'role="alert"' in body(response)
    assert not Appointment.objects.exists()
    assert not Notification.objects.exists()


def test_a_fourth_booking_with_one_email_address_is_refused(service: Service) -> None:
    slots = free_slots(service, 4)
    for number, slot in enumerate(slots[:3]):
        client = browser(f"198.51.100.{number + 20}")
        assert client.post(details(service, slot), person(email="erika@example.org")).status_code == 302

    response = browser("198.51.100.30").post(details(service, slots[3]), person(email="Erika@Example.org"))

    assert response.status_code == 429
    assert "This e-mail address has as many appointments today as we allow." in body(response)
    assert Appointment.objects.count() == 3


def test_a_fourth_booking_with_one_mobile_number_is_refused(office: Office, service: Service) -> None:
    slots = free_slots(service, 4)
    for number, slot in enumerate(slots[:3]):
        services.book(
            office, service, start=slot.start, contact=contact(f"p{number}@example.org", "0151 23456789")
        )

    with pytest.raises(BookingError) as refused:
        services.book(office, service, start=slots[3].start, contact=contact(phone="+49 151 23456789"))

    assert refused.value.code == "limited"
    assert Appointment.objects.count() == 3


def test_a_booking_of_a_taken_time_gives_the_contacts_allowance_back(
    office: Office, service: Service
) -> None:
    slot, *others = free_slots(service, 4)
    services.book(office, service, start=slot.start, contact=contact("otto@example.org"))
    for _attempt in range(5):
        with pytest.raises(BookingError) as refused:
            services.book(office, service, start=slot.start, contact=contact("erika@example.org"))
        assert refused.value.code == "taken"

    for other in others[:3]:
        services.book(office, service, start=other.start, contact=contact("erika@example.org"))

    assert Appointment.objects.filter(email="erika@example.org").count() == 3


# --- SMS countries ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "number",
    ["+870 773 111 632", "+8816 31 234567", "+252 61 2345678", "+93 70 123 4567", "+7 912 345 6789"],
    ids=["inmarsat", "iridium", "somalia", "afghanistan", "russia"],
)
def test_a_mobile_number_of_a_country_not_allowed_is_refused_naming_the_allowed_ones(
    service: Service, number: str
) -> None:
    response = browser().post(details(service, free_slots(service, 1)[0]), person(phone=number))

    assert response.status_code == 400
    assert "We can only send SMS to mobile numbers from: Germany (+49)." in body(response)
    assert not Appointment.objects.exists()


def test_an_organisation_may_allow_more_countries(
    org: Organization, office: Office, service: Service
) -> None:
    org.sms_countries = "49, 43"
    org.save(update_fields=["sms_countries"])
    slot = free_slots(service, 1)[0]

    appointment = services.book(office, service, start=slot.start, contact=contact(phone="+43 664 1234567"))

    assert appointment.phone == "+436641234567"
    with translation.override("de"):
        error = services.check_contact(contact(phone="+252 61 2345678"), org).errors["phone"]
    assert "Deutschland (+49), Österreich (+43)" in error


def test_a_phone_only_booking_is_refused_while_the_sms_budget_is_spent(
    org: Organization, office: Office, service: Service
) -> None:
    org.sms_daily_limit = 0
    org.save(update_fields=["sms_daily_limit"])

    response = browser().post(
        details(service, free_slots(service, 1)[0]), person(email="", phone="0151 23456789")
    )

    assert response.status_code == 400
    assert english("We cannot send any more SMS today. Please give an e-mail address instead.") in body(
        response
    )


# --- moves and cancellations ---------------------------------------------------------------------
def test_the_fourth_move_of_an_appointment_is_refused_and_sends_nothing(
    office: Office, service: Service
) -> None:
    first, *later = free_slots(service, 5)
    appointment = services.book(
        office, service, start=first.start, contact=contact("e@example.org", "0151 23456789")
    )
    for slot in later[:3]:
        appointment = services.reschedule(appointment, slot.start)
    written = Notification.objects.count()

    with pytest.raises(BookingError) as refused:
        services.reschedule(appointment, later[3].start)

    assert refused.value.code == "too_many_moves"
    assert Appointment.objects.get().starts_at == later[2].start
    assert Notification.objects.count() == written


def test_the_appointment_page_offers_no_further_move_after_the_last(office: Office, service: Service) -> None:
    first, *later = free_slots(service, 5)
    appointment = services.book(office, service, start=first.start, contact=contact("e@example.org"))
    for slot in later[:3]:
        appointment = services.reschedule(appointment, slot.start)
    client = browser()

    page = client.get(f"/a/{appointment.token}/")
    moved = client.post(
        f"/a/{appointment.token}/reschedule/", {"start": later[3].start.isoformat()}, follow=True
    )

    assert f"/a/{appointment.token}/reschedule/" not in body(page)
    assert "This appointment has been moved as often as possible." in body(page)
    assert "This appointment has been moved as often as possible." in body(moved)
    assert Appointment.objects.get().starts_at == later[2].start


def test_moves_and_cancellations_from_one_address_stop_after_ten(office: Office, service: Service) -> None:
    slots = free_slots(service, 24)
    appointments = [
        services.book(office, service, start=slot.start, contact=contact(f"c{number}@example.org"))
        for number, slot in enumerate(slots[:12])
    ]
    client = browser()
    answers = []
    for number, appointment in enumerate(appointments[:6]):
        answers.append(
            client.post(
                f"/a/{appointment.token}/reschedule/", {"start": slots[12 + number].start.isoformat()}
            ).status_code
        )
    for appointment in appointments[6:]:
        answers.append(client.post(f"/a/{appointment.token}/cancel/").status_code)

    assert answers[:10] == [302] * 10
    assert answers[10:] == [429, 429]
    assert Appointment.objects.filter(status="cancelled").count() == 4
    assert Appointment.objects.filter(moves=1).count() == 6
    assert browser("198.51.100.99").post(f"/a/{appointments[11].token}/cancel/").status_code == 302
