"""/readyz tells a load balancer whether the process can serve; /metrics is for operators only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from buergerbuero.jobs.models import Heartbeat
from buergerbuero.jobs.registry import LANES
from buergerbuero.offices.models import Office
from tests.faults.support import waiting_tickets

pytestmark = pytest.mark.django_db


def _beat(age_seconds: float) -> None:
    for lane in LANES:
        Heartbeat.objects.update_or_create(
            lane=lane,
            defaults={"beat_at": timezone.now() - dt.timedelta(seconds=age_seconds), "lag_seconds": 0.5},
        )


def test_readyz_is_ok_with_a_database_and_fresh_job_heartbeats(client: Client, settings: Any) -> None:
    settings.REDIS_URL = ""
    _beat(3)

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "jobs_timers": "ok", "jobs_network": "ok"},
    }


def test_readyz_fails_without_a_worker_or_with_a_stale_heartbeat(client: Client, settings: Any) -> None:
    settings.REDIS_URL = ""
    # The server process of other tests beats into the shared test database (undone with the
    # test's transaction).
    Heartbeat.objects.all().delete()
    assert client.get("/readyz").status_code == 503

    _beat(settings.JOBS_HEARTBEAT_MAX_AGE + 5)
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["jobs_timers"].startswith("heartbeat")


def test_readyz_fails_when_redis_does_not_answer(client: Client, settings: Any) -> None:
    from buergerbuero.realtime import bridge

    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    bridge._publisher.cache_clear()
    _beat(1)
    try:
        response = client.get("/readyz")
    finally:
        bridge._publisher.cache_clear()

    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "failed"


def test_metrics_answer_loopback_only_without_a_token(settings: Any, office: Office) -> None:
    settings.METRICS_TOKEN = ""
    waiting_tickets(office, 3)
    _beat(2)

    public = Client(REMOTE_ADDR="203.0.113.7").get("/metrics")
    local = Client(REMOTE_ADDR="127.0.0.1").get("/metrics")

    assert public.status_code == 403
    assert local.status_code == 200
    assert local["Content-Type"].startswith("text/plain; version=0.0.4")
    text = local.content.decode()
    assert f'bb_queue_waiting{{organization="{office.organization.slug}",office="{office.slug}"}} 3' in text
    assert "bb_fanout_seconds_bucket{" in text
    assert 'bb_job_lag_seconds{lane="timers"} 0.5' in text
    assert 'bb_outbox_messages{state="due"} 0' in text


def test_metrics_need_the_bearer_token_when_one_is_set(settings: Any) -> None:
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    local = Client(REMOTE_ADDR="127.0.0.1")

    assert local.get("/metrics").status_code == 403
    assert local.get("/metrics", headers={"authorization": "Bearer wrong"}).status_code == 403
    answer = Client(REMOTE_ADDR="198.51.100.2").get(
        "/metrics", headers={"authorization": "Bearer s3cret-metrics-token"}
    )
    assert answer.status_code == 200
