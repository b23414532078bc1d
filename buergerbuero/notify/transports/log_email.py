"""The e-mail backend without a mail server (the embedded default): instead of printing whole
messages (Django's console backend: the citizen's name, address and appointment in the log),
one line per message with the masked recipient; ``LOG_MESSAGE_PREVIEW=true`` adds its links."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from buergerbuero.lib.logs import KEEP_LINKS, describe_message

logger = logging.getLogger(__name__)


class LogEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        preview = settings.LOG_MESSAGE_PREVIEW
        for message in email_messages:
            for recipient in message.recipients():
                line = describe_message(
                    "E-mail", recipient, str(message.subject), str(message.body), preview=preview
                )
                logger.info("%s", line, extra=KEEP_LINKS if preview else None)
        return len(email_messages)
