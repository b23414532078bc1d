"""The figures behind ``/readyz`` and ``/metrics`` (Prometheus text format, written by hand:
a dozen gauges and one histogram do not need a client library)."""

from __future__ import annotations

import datetime as dt
import logging
import os

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q

from buergerbuero.jobs.models import Heartbeat
from buergerbuero.jobs.registry import LANES
from buergerbuero.notify.models import DeliveryStatus, Notification
from buergerbuero.realtime import bridge
from buergerbuero.realtime.consumers import open_sockets
from buergerbuero.realtime.hub import hub
from buergerbuero.waiting.models import Ticket, TicketStatus

logger = logging.getLogger(__name__)


def readiness(now: dt.datetime) -> dict[str, str]:
    """Each check: "ok", or a short reason."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:
        logger.warning("readyz: the database does not answer", exc_info=True)
        return {"database": "failed"}
    if settings.REDIS_URL:
        try:
            bridge.ping()
            checks["redis"] = "ok"
        except Exception:
            logger.warning("readyz: Redis does not answer", exc_info=True)
            checks["redis"] = "failed"
    beats = dict(Heartbeat.objects.values_list("lane", "beat_at"))
    for lane in LANES:
        beat = beats.get(lane)
        age = (now - beat).total_seconds() if beat is not None else None
        if age is None:
            checks[f"jobs_{lane}"] = "no heartbeat"
        elif age > settings.JOBS_HEARTBEAT_MAX_AGE:
            checks[f"jobs_{lane}"] = f"heartbeat {age:.0f} s old"
        else:
            checks[f"jobs_{lane}"] = "ok"
    return checks


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Out:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(self, name: str, kind: str, help_text: str) -> None:
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]

    def sample(self, name: str, value: float, **labels: object) -> None:
        inner = ",".join(f'{key}="{_label(val)}"' for key, val in labels.items())
        self.lines.append(f"{name}{{{inner}}} {value:g}" if inner else f"{name} {value:g}")


def render(now: dt.datetime) -> str:
    out = _Out()
    pid = os.getpid()
    _process(out, pid)
    _queues(out)
    _outbox(out, now)
    _jobs(out, now)
    return "\n".join(out.lines) + "\n"


def _process(out: _Out, pid: int) -> None:
    out.metric("bb_websockets_open", "gauge", "Open WebSockets of the answering process, by kind.")
    for kind in ("waiting_room", "console", "directory", "consultation", "other"):
        out.sample("bb_websockets_open", open_sockets.get(kind, 0), kind=kind, pid=pid)
    stats = hub.stats
    out.metric(
        "bb_fanout_seconds", "histogram", "Event queued to last local socket written (answering process)."
    )
    cumulative = 0
    for bound, count in zip(stats.BUCKETS, stats.fanout_counts, strict=False):
        cumulative += count
        out.sample("bb_fanout_seconds_bucket", cumulative, le=bound, pid=pid)
    out.sample("bb_fanout_seconds_bucket", stats.fanouts, le="+Inf", pid=pid)
    out.sample("bb_fanout_seconds_sum", round(stats.fanout_sum, 6), pid=pid)
    out.sample("bb_fanout_seconds_count", stats.fanouts, pid=pid)
    out.metric("bb_sockets_evicted_total", "counter", "Sockets closed because they fell behind.")
    out.sample("bb_sockets_evicted_total", stats.evicted, pid=pid)
    out.metric("bb_resyncs_total", "counter", "Times the local sockets were told to resync.")
    out.sample("bb_resyncs_total", stats.resyncs, pid=pid)
    out.metric("bb_publish_failures_total", "counter", "Events Redis did not take (delivered locally).")
    out.sample("bb_publish_failures_total", stats.publish_failures, pid=pid)
    if settings.REDIS_URL:
        out.metric("bb_redis_subscribed", "gauge", "1 while this process hears the Redis event channel.")
        out.sample("bb_redis_subscribed", int(bridge.state.subscribed), pid=pid)


def _queues(out: _Out) -> None:
    rows = (
        Ticket.objects.filter(status__in=[TicketStatus.WAITING, TicketStatus.CALLED])
        .values("office__organization__slug", "office__slug")
        .annotate(
            waiting=Count("pk", filter=Q(status=TicketStatus.WAITING)),
            called=Count("pk", filter=Q(status=TicketStatus.CALLED)),
        )
        .order_by("office__organization__slug", "office__slug")
    )
    out.metric("bb_queue_waiting", "gauge", "Citizens waiting, per office.")
    called: list[tuple[str, str, int]] = []
    for row in rows:
        org, office = row["office__organization__slug"], row["office__slug"]
        out.sample("bb_queue_waiting", row["waiting"], organization=org, office=office)
        called.append((org, office, row["called"]))
    out.metric("bb_queue_called", "gauge", "Citizens called and not yet in their consultation, per office.")
    for org, office, count in called:
        out.sample("bb_queue_called", count, organization=org, office=office)


def _outbox(out: _Out, now: dt.datetime) -> None:
    counts = Notification.objects.aggregate(
        pending=Count("pk", filter=Q(status=DeliveryStatus.PENDING)),
        due=Count("pk", filter=Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)),
        failed=Count("pk", filter=Q(status=DeliveryStatus.FAILED)),
    )
    out.metric("bb_outbox_messages", "gauge", "Messages of the outbox by state (due: pending and due now).")
    for state in ("pending", "due", "failed"):
        out.sample("bb_outbox_messages", counts[state], state=state)
    oldest = (
        Notification.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    out.metric("bb_outbox_oldest_due_seconds", "gauge", "How long the oldest due message has waited.")
    out.sample("bb_outbox_oldest_due_seconds", round((now - oldest).total_seconds(), 3) if oldest else 0)


def _jobs(out: _Out, now: dt.datetime) -> None:
    beats = {beat.lane: beat for beat in Heartbeat.objects.all()}
    out.metric("bb_job_heartbeat_age_seconds", "gauge", "Seconds since each job lane's last heartbeat.")
    for lane in LANES:
        beat = beats.get(lane)
        if beat is not None:
            out.sample(
                "bb_job_heartbeat_age_seconds", round((now - beat.beat_at).total_seconds(), 3), lane=lane
            )
    out.metric("bb_job_lag_seconds", "gauge", "How late the lane's jobs started (largest, last interval).")
    for lane in LANES:
        beat = beats.get(lane)
        if beat is not None:
            out.sample("bb_job_lag_seconds", beat.lag_seconds, lane=lane)
