"""What operators and load balancers ask: ``/readyz`` and ``/metrics`` (``/healthz``, "the
process answers", is ``orgs.views.healthz``).

``/readyz`` answers 200 when this process can serve: the database answers, Redis answers
(scaled mode), and every job lane wrote its heartbeat within ``JOBS_HEARTBEAT_MAX_AGE``
seconds (a stuck or missing worker makes every web process unready, which is what an operator
must see). Otherwise 503, with which check failed (no details that help an attacker).

``/metrics`` is Prometheus' text format. It is not public: with ``METRICS_TOKEN`` set it
needs ``Authorization: Bearer <token>``; without, it answers only requests from a loopback
address (behind a reverse proxy that forwards ``X-Forwarded-For`` from ``FORWARDED_ALLOW_IPS``
the address is the real client's, so a public request is refused). Socket and fan-out
figures are those of the process that answers, labelled with its ``pid`` (in the scaled mode
each web process has its own sockets; workers sharing one port answer in turn, so sum the
latest sample per ``pid``, or run one ``serve`` per port); queue, outbox and job figures
come from the database and are the same from every process.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from buergerbuero.ops import metrics


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = metrics.readiness(timezone.now())
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if ready else "fail", "checks": checks}, status=200 if ready else 503)


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain; charset=utf-8")
    return HttpResponse(
        metrics.render(timezone.now()), content_type="text/plain; version=0.0.4; charset=utf-8"
    )
