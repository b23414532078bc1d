"""The real-time events: their names and typed payloads, in one place.

Services build an event with the constructors below and ``publish`` it; the hub carries the
event's type next to its serialised text, so that consumers branch on ``kind`` instead of
searching the JSON (which breaks as soon as the encoder's separators change) and the fan-out
still serialises once. Pages receive the same JSON as before: the ``type`` field names the event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, NotRequired, TypedDict

# --- names -------------------------------------------------------------------------------------
# The waiting room (``office:<id>:waiting``) and the office directory.
QUEUE: Final = "queue"
LIVE: Final = "live"
ANNOUNCEMENT: Final = "announcement"
OFFICE_LIVE: Final = "office_live"
HOURS_CHANGED: Final = "hours_changed"
# The staff console (``office:<id>:staff``, ``member:<id>``).
CHANGED: Final = "changed"
BOOKED_ARRIVED: Final = "booked_arrived"
SESSION_ENDED: Final = "session_ended"
# One citizen's ticket (``ticket:<id>``); ADMITTED also goes to the agent (``member:<id>``).
CALLED: Final = "called"
ADMITTED: Final = "admitted"
REQUEUED: Final = "requeued"
ENDED: Final = "ended"
TRANSFERRED: Final = "transferred"
# A consultation (``consultation:<id>``); ENDED as above.
CHAT: Final = "chat"
DOCUMENT: Final = "document"
INTERPRETER_REMOVED: Final = "interpreter_removed"
SIGNAL: Final = "signal"
PRESENCE: Final = "presence"
# A form filled in together in a consultation (``consult.filling``).
FORM_STATE: Final = "form.state"  # the whole form: opened, confirmed, signed, interpreter's rights
FORM_VALUE: Final = "form.value"  # one field's accepted edit
FORM_FOCUS: Final = "form.focus"  # who is in which field
FORM_CLOSED: Final = "form.closed"
# An event's stage (``event:<id>``, moderation on ``event:<id>:hosts``, one viewer's socket on
# ``event-attendee:<id>``); its chat messages are CHAT events.
EVENT_STATUS: Final = "event_status"
STAGE: Final = "stage"
QUESTION: Final = "question"
HAND: Final = "hand"
ON_STAGE: Final = "on_stage"
# Sent by the server to one socket only (never through a group).
RESYNC: Final = "resync"  # a consultation's contents after an outage; renegotiate the peers
SIGNAL_REFUSED: Final = "signal_refused"
ERROR: Final = "error"


# --- payloads ----------------------------------------------------------------------------------
class LiveFigures(TypedDict):
    """An office's figures after a change (what every waiting room and the directory show)."""

    waiting: int
    seats: int
    staffed: int
    free: int
    estimate: dict[str, object] | None


class QueueEvent(TypedDict):
    type: Literal["queue"]
    seq: int
    op: str  # join | leave
    key: list[int]  # the ticket's place in the queue order (each page compares its own)
    live: dict[str, Any]  # LiveFigures


class LiveEvent(TypedDict):
    type: Literal["live"]
    seq: int
    live: dict[str, Any]  # LiveFigures


class AnnouncementEvent(TypedDict):
    type: Literal["announcement"]
    seq: int
    text: str


class OfficeLiveEvent(LiveFigures):
    """The directory's event: the office's slug and its figures side by side."""

    type: Literal["office_live"]
    office: str


class HoursChangedEvent(TypedDict):
    type: Literal["hours_changed"]
    office: NotRequired[str]  # the directory's event names the office


class ChangedEvent(TypedDict):
    type: Literal["changed"]
    seq: NotRequired[int]


class BookedArrivedEvent(TypedDict):
    type: Literal["booked_arrived"]
    ticket: int


class SessionEndedEvent(TypedDict):
    type: Literal["session_ended"]


class CalledEvent(TypedDict):
    type: Literal["called"]
    deadline: str
    agent: str


class AdmittedEvent(TypedDict):
    type: Literal["admitted"]
    consultation: int


class RequeuedEvent(TypedDict):
    type: Literal["requeued"]


class EndedEvent(TypedDict):
    type: Literal["ended"]
    reason: NotRequired[str]  # a ticket's event names why; a consultation's has none


class TransferredEvent(TypedDict):
    type: Literal["transferred"]
    office: int
    office_name: str
    show_position: bool


class InterpreterRemovedEvent(TypedDict):
    type: Literal["interpreter_removed"]


class PresenceEvent(TypedDict):
    type: Literal["presence"]
    role: str
    online: bool
    connection: str  # names the socket: a late "offline" of an earlier one is told apart
    reply: NotRequired[bool]  # answers an announcement: keep a working connection


class SignalEvent(TypedDict):
    """Relayed signalling (built by ``consult.signalling.validate``)."""

    type: Literal["signal"]
    to: str


class ResyncEvent(TypedDict):
    type: Literal["resync"]
    messages: list[dict[str, object]]
    documents: list[dict[str, object]]
    form: NotRequired[dict[str, object] | None]  # the open form's state (``form.state`` without type)


class FormStateEvent(TypedDict):
    type: Literal["form.state"]
    form: dict[str, object]  # consult.filling.state_json


class FormValueEvent(TypedDict):
    type: Literal["form.value"]
    form: int
    field: str
    value: str | bool
    version: int  # the field's version after this edit: pages keep the highest they have seen
    by: str  # the role that wrote it
    confirmed: bool  # False: a staff suggestion the citizen has not confirmed
    status: str  # the form's status after the edit (an edit takes back a confirmation)
    client: str  # the page that sent it, and its number for the edit: it knows its own echo
    seq: int


class FormFocusEvent(TypedDict):
    type: Literal["form.focus"]
    form: int
    role: str
    field: str  # "" when they left the form's fields
    connection: str


class FormClosedEvent(TypedDict):
    type: Literal["form.closed"]
    form: int


class SignalRefusedEvent(TypedDict):
    type: Literal["signal_refused"]
    code: str


class ErrorEvent(TypedDict):
    type: Literal["error"]
    message: str


class EventStatusEvent(TypedDict):
    type: Literal["event_status"]
    status: str
    chat_enabled: bool


class StageSeatJSON(TypedDict):
    id: int
    role: str
    name: str
    pinned: bool
    muted: bool
    feed: int | None
    attendee: int | None
    member: int | None


class StageEvent(TypedDict):
    type: Literal["stage"]
    seats: list[StageSeatJSON]


class QuestionEvent(TypedDict):
    type: Literal["question"]
    id: int
    text: str
    author: str
    status: str
    upvotes: int


class HandEvent(TypedDict):
    type: Literal["hand"]
    attendee: int
    name: str
    raised: bool


class OnStageEvent(TypedDict):
    type: Literal["on_stage"]
    on: bool


class ContentEvent(TypedDict):
    """A chat message or a document: the type and the item's own fields side by side."""

    type: Literal["chat", "document"]


Event = (
    QueueEvent
    | LiveEvent
    | AnnouncementEvent
    | OfficeLiveEvent
    | HoursChangedEvent
    | ChangedEvent
    | BookedArrivedEvent
    | SessionEndedEvent
    | CalledEvent
    | AdmittedEvent
    | RequeuedEvent
    | EndedEvent
    | TransferredEvent
    | InterpreterRemovedEvent
    | PresenceEvent
    | SignalEvent
    | ResyncEvent
    | FormStateEvent
    | FormValueEvent
    | FormFocusEvent
    | FormClosedEvent
    | SignalRefusedEvent
    | ErrorEvent
    | EventStatusEvent
    | StageEvent
    | QuestionEvent
    | HandEvent
    | OnStageEvent
    | ContentEvent
)


# --- constructors (typed: mypy checks every field a service publishes) --------------------------
def queue(seq: int, op: str, key: list[int], figures: dict[str, Any]) -> QueueEvent:
    return {"type": QUEUE, "seq": seq, "op": op, "key": key, "live": figures}


def live(seq: int, figures: dict[str, Any]) -> LiveEvent:
    return {"type": LIVE, "seq": seq, "live": figures}


def announcement(seq: int, text: str) -> AnnouncementEvent:
    return {"type": ANNOUNCEMENT, "seq": seq, "text": text}


def office_live(office: str, figures: dict[str, Any]) -> OfficeLiveEvent:
    return {
        "type": OFFICE_LIVE,
        "office": office,
        "waiting": figures["waiting"],
        "seats": figures["seats"],
        "staffed": figures["staffed"],
        "free": figures["free"],
        "estimate": figures["estimate"],
    }


def changed(seq: int | None = None) -> ChangedEvent:
    return {"type": CHANGED} if seq is None else {"type": CHANGED, "seq": seq}


def booked_arrived(ticket: int) -> BookedArrivedEvent:
    return {"type": BOOKED_ARRIVED, "ticket": ticket}


def called(deadline: str, agent: str) -> CalledEvent:
    return {"type": CALLED, "deadline": deadline, "agent": agent}


def admitted(consultation: int) -> AdmittedEvent:
    return {"type": ADMITTED, "consultation": consultation}


def requeued() -> RequeuedEvent:
    return {"type": REQUEUED}


def ended(reason: str | None = None) -> EndedEvent:
    return {"type": ENDED} if reason is None else {"type": ENDED, "reason": str(reason)}


def transferred(office: int, office_name: str, show_position: bool) -> TransferredEvent:
    return {"type": TRANSFERRED, "office": office, "office_name": office_name, "show_position": show_position}


def interpreter_removed() -> InterpreterRemovedEvent:
    return {"type": INTERPRETER_REMOVED}


def presence(role: str, online: bool, connection: str, *, reply: bool = False) -> PresenceEvent:
    event: PresenceEvent = {"type": PRESENCE, "role": role, "online": online, "connection": connection}
    if reply:
        event["reply"] = True
    return event


def resync(
    messages: list[dict[str, object]],
    documents: list[dict[str, object]],
    form: dict[str, object] | None = None,
) -> ResyncEvent:
    return {"type": RESYNC, "messages": messages, "documents": documents, "form": form}


def form_state(form: dict[str, object]) -> FormStateEvent:
    return {"type": FORM_STATE, "form": form}


def form_value(
    form: int,
    field: str,
    value: str | bool,
    *,
    version: int,
    by: str,
    confirmed: bool,
    status: str,
    client: str,
    seq: int,
) -> FormValueEvent:
    return {
        "type": FORM_VALUE,
        "form": form,
        "field": field,
        "value": value,
        "version": version,
        "by": by,
        "confirmed": confirmed,
        "status": status,
        "client": client,
        "seq": seq,
    }


def form_focus(form: int, role: str, field: str, connection: str) -> FormFocusEvent:
    return {"type": FORM_FOCUS, "form": form, "role": role, "field": field, "connection": connection}


def form_closed(form: int) -> FormClosedEvent:
    return {"type": FORM_CLOSED, "form": form}


def signal_refused(code: str) -> SignalRefusedEvent:
    return {"type": SIGNAL_REFUSED, "code": code}


def error(message: str) -> ErrorEvent:
    return {"type": ERROR, "message": message}


def event_status(status: str, chat_enabled: bool) -> EventStatusEvent:
    return {"type": EVENT_STATUS, "status": status, "chat_enabled": chat_enabled}


def stage(seats: list[StageSeatJSON]) -> StageEvent:
    return {"type": STAGE, "seats": seats}


def question(question_id: int, text: str, author: str, status: str, upvotes: int) -> QuestionEvent:
    return {
        "type": QUESTION,
        "id": question_id,
        "text": text,
        "author": author,
        "status": status,
        "upvotes": upvotes,
    }


def hand(attendee: int, name: str, raised: bool) -> HandEvent:
    return {"type": HAND, "attendee": attendee, "name": name, "raised": raised}


def on_stage(on: bool) -> OnStageEvent:
    return {"type": ON_STAGE, "on": on}


def content(kind: Literal["chat", "document"], fields: dict[str, Any]) -> dict[str, Any]:
    """A chat message or document event: ``fields`` are the item's JSON (never a ``type``)."""
    return {"type": kind, **fields}


def type_of(event: Mapping[str, object]) -> str:
    """The event's name (``""`` for anything without one)."""
    kind = event.get("type")
    return kind if isinstance(kind, str) else ""
