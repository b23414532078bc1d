"""A mail host that accepts connections and never answers: the queue's timers stay on time.

A real ``manage.py worker`` sends 20 due e-mails to a black hole (a listening socket that
never accepts, so every SMTP conversation waits for its greeting until ``EMAIL_TIMEOUT``).
Meanwhile a called citizen's confirmation deadline passes: the citizen must be back in the
queue within a few seconds, as ``expire_unanswered_calls`` runs every 2 s — before the job
lanes, it waited behind the outbox (20 × 5 s). On SIGTERM the worker stops between two
messages, and no message is lost or marked failed: every one is still pending, unclaimed.
"""

from __future__ import annotations

import datetime as dt
import socket
import time
from pathlib import Path

import pytest
from django.utils import timezone

from buergerbuero.jobs.models import Heartbeat
from buergerbuero.notify.models import Channel, DeliveryStatus, Notification
from buergerbuero.waiting.models import Ticket, TicketStatus
from tests import factories
from tests.faults.support import Worker, waiting_tickets
from tests.waiting.conftest import always_open_office

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = 20
EMAIL_TIMEOUT = 5
ON_TIME = 5.0  # the job runs every 2 s


def _wait_for(check: object, timeout: float) -> float:
    started = time.monotonic()
    while not check():  # type: ignore[operator]
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"not within {timeout:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - started


def test_queue_timers_stay_on_time_while_the_mail_host_does_not_answer(tmp_path: Path) -> None:
    org = factories.make_org("testhausen")
    office = always_open_office(org, "buergerbuero")
    [ticket] = waiting_tickets(office, 1)
    now = timezone.now()
    for number in range(MESSAGES):
        Notification.objects.create(
            channel=Channel.EMAIL,
            kind="test",
            dedupe_key=f"fault-{number}",
            recipient=f"person{number}@example.org",
            subject="Ihr Termin",
            body_text="…",
            next_attempt_at=now,
            created_at=now,
        )
    black_hole = socket.socket()
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(64)  # connections complete in the kernel; nobody ever answers
    worker = Worker(
        tmp_path / "worker.log",
        {
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(black_hole.getsockname()[1]),
            "EMAIL_TIMEOUT": str(EMAIL_TIMEOUT),
        },
    )
    try:
        worker.start()
        _wait_for(lambda: Heartbeat.objects.filter(lane="timers").exists(), 60)
        _wait_for(lambda: Notification.objects.filter(claimed_until__isnull=False).exists(), 30)
        deadline = timezone.now() + dt.timedelta(seconds=1)
        Ticket.objects.filter(pk=ticket.pk).update(
            status=TicketStatus.CALLED, called_at=now, call_deadline=deadline
        )

        requeued_in = _wait_for(
            lambda: Ticket.objects.filter(pk=ticket.pk, status=TicketStatus.WAITING, missed_calls=1).exists(),
            30,
        )
        stopped_in = worker.terminate(timeout=30)
    finally:
        worker.stop()
        black_hole.close()

    print(  # noqa: T201
        f"mail host down: call requeued {requeued_in:.1f} s after the deadline was set; "
        f"stop took {stopped_in:.1f} s"
    )
    assert requeued_in <= 1 + ON_TIME
    assert stopped_in <= EMAIL_TIMEOUT + 5  # the message in progress finishes, no new one starts
    messages = list(Notification.objects.values_list("status", "claimed_until", "sent_at"))
    assert len(messages) == MESSAGES
    assert all(status == DeliveryStatus.PENDING for status, _, _ in messages)  # none lost, none failed
    assert all(claimed is None and sent is None for _, claimed, sent in messages)
