"""Booking offered on other apps' pages: the waiting room's enter page, when it refuses
(closed, full), shows free appointment times. The page composes the two apps in its
template, so the waiting app itself does not depend on booking (booking stands on waiting)."""

from __future__ import annotations

from django import template

from buergerbuero.booking.views import Suggestions, suggested_slots
from buergerbuero.offices.models import Office

register = template.Library()


@register.simple_tag
def free_times(office: Office) -> Suggestions:
    """The office's next free times per service, each with the link to book it."""
    return suggested_slots(office)
