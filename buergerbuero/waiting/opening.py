"""Staff open or close their office on the spot (the console's "open now until …" and
"close now").

The hours rules stay in ``offices.services`` (today's extra openings or a one-day closure);
here is who may do it (staff who serve the office: agents, office leads, org admins) and who
hears of it after commit: the office's waiting rooms, its organisation's directory and its
consoles, like after every other change of the queue.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.db import transaction

from buergerbuero.offices import services as hours
from buergerbuero.offices.models import Office
from buergerbuero.realtime import publish as realtime
from buergerbuero.staff.models import StaffMember
from buergerbuero.staff.services import offices_served
from buergerbuero.waiting.services.groups import directory_group, staff_group, waiting_group


def open_now(
    member: StaffMember, office: Office, until: dt.time, now: dt.datetime | None = None
) -> hours.OfficeStatus:
    """Open the office from this minute until ``until`` today (``hours.open_today_until``)."""
    served = _served_office(member, office)
    with transaction.atomic():
        status = hours.open_today_until(served, until, now)
        transaction.on_commit(lambda: _publish_hours_changed(served))
    return status


def close_now(member: StaffMember, office: Office, now: dt.datetime | None = None) -> hours.OfficeStatus:
    """Close the office from this minute for the rest of today (``hours.close_rest_of_today``)."""
    served = _served_office(member, office)
    with transaction.atomic():
        status = hours.close_rest_of_today(served, now)
        transaction.on_commit(lambda: _publish_hours_changed(served))
    return status


def _served_office(member: StaffMember, office: Office) -> Office:
    """The office with its hours, if the staff member serves it (else PermissionDenied)."""
    served = offices_served(member).filter(pk=office.pk).select_related("organization")
    found = hours.offices_with_hours(served).first()
    if found is None:
        raise PermissionDenied
    return found


def _publish_hours_changed(office: Office) -> None:
    # Through the module: tests listen on realtime.publish.publish.
    realtime.publish(waiting_group(office.pk), {"type": "hours_changed"})
    realtime.publish(
        directory_group(office.organization_id), {"type": "hours_changed", "office": office.slug}
    )
    realtime.publish(staff_group(office.pk), {"type": "changed"})
