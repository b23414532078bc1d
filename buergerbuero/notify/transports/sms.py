"""SMS through a generic HTTP gateway (``httpx``): URL, credentials and the body's fields are
settings, so that the German providers' APIs (which take the number and the text in a POST)
can be plugged in without code. Without a gateway the messages go to the log."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
from django.conf import settings

from buergerbuero.lib.logs import KEEP_LINKS, describe_message
from buergerbuero.notify.models import Notification
from buergerbuero.notify.transports.base import PermanentFailure, TemporaryFailure

logger = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10


def _fill(template: Any, values: dict[str, str]) -> Any:
    if isinstance(template, str):
        for key, value in values.items():
            template = template.replace("{" + key + "}", value)
        return template
    if isinstance(template, dict):
        return {key: _fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(value, values) for value in template]
    return template


class HttpGatewayTransport:
    def send(self, notification: Notification) -> None:
        values = {"to": notification.recipient, "text": notification.body_text, "sender": settings.SMS_SENDER}
        body = _fill(json.loads(settings.SMS_GATEWAY_BODY), values)
        auth = None
        headers = {}
        if settings.SMS_GATEWAY_USER:
            auth = httpx.BasicAuth(settings.SMS_GATEWAY_USER, settings.SMS_GATEWAY_PASSWORD)
        if settings.SMS_GATEWAY_TOKEN:
            headers["Authorization"] = f"Bearer {settings.SMS_GATEWAY_TOKEN}"
        payload = {"data": body} if settings.SMS_GATEWAY_FORMAT == "form" else {"json": body}
        try:
            response = httpx.post(
                settings.SMS_GATEWAY_URL, auth=auth, headers=headers, timeout=TIMEOUT_SECONDS, **payload
            )
        except httpx.HTTPError as error:
            raise TemporaryFailure(f"gateway not reachable: {error}") from error
        if response.status_code >= 500 or response.status_code == 429:
            raise TemporaryFailure(f"gateway answered {response.status_code}")
        if response.status_code >= 400:
            raise PermanentFailure(f"gateway refused: {response.status_code} {response.text[:200]}")


class LogTransport:
    """The embedded default: one line in the server's log with the masked number, never the
    text (it names the citizen); ``LOG_MESSAGE_PREVIEW=true`` adds the link (lib.logs)."""

    def send(self, notification: Notification) -> None:
        preview = settings.LOG_MESSAGE_PREVIEW
        line = describe_message(
            "SMS", notification.recipient, notification.kind, notification.body_text, preview=preview
        )
        logger.info("%s", line, extra=KEEP_LINKS if preview else None)


def sms_transport() -> HttpGatewayTransport | LogTransport:
    return HttpGatewayTransport() if settings.SMS_GATEWAY_URL else LogTransport()
