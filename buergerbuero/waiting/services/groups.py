"""Who hears what: the names of the real-time groups of the waiting room, the consoles and
the directory. Every group name is written here and nowhere else."""

from __future__ import annotations


def waiting_group(office_id: int) -> str:
    return f"office:{office_id}:waiting"


def staff_group(office_id: int) -> str:
    return f"office:{office_id}:staff"


def ticket_group(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


MEMBER_PREFIX = "member:"


def member_group(member_id: int) -> str:
    """One staff member's consoles (a booked citizen arrived, a consultation started)."""
    return f"{MEMBER_PREFIX}{member_id}"


def directory_group(organization_id: int) -> str:
    return f"org:{organization_id}:directory"
