"""E-mail through Django's mail backends (SMTP in production), with the calendar file."""

from __future__ import annotations

import smtplib
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from buergerbuero.notify.models import Notification
from buergerbuero.notify.transports.base import PermanentFailure, TemporaryFailure


def message_id(notification: Notification) -> str:
    """The same for every attempt at one outbox row: a repeat after a worker died mid-send is
    recognisable (and dropped by many mail systems) as the same message."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<notification-{notification.pk}@{domain}>"


class EmailTransport:
    def send(self, notification: Notification) -> None:
        message = EmailMultiAlternatives(
            subject=notification.subject,
            body=notification.body_text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[notification.recipient],
            headers={"Message-ID": message_id(notification)},
        )
        if notification.body_html:
            message.attach_alternative(notification.body_html, "text/html")
        if notification.attachment:
            method = "CANCEL" if "METHOD:CANCEL" in notification.attachment else "REQUEST"
            message.attach("termin.ics", notification.attachment, f"text/calendar; method={method}")
        try:
            message.send()
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _text in error.recipients.values()]
            if all(code >= 500 for code in codes):
                raise PermanentFailure(f"recipient refused: {codes}") from error
            raise TemporaryFailure(f"recipient deferred: {codes}") from error
        except smtplib.SMTPResponseException as error:
            failure = PermanentFailure if error.smtp_code >= 500 else TemporaryFailure
            raise failure(f"SMTP {error.smtp_code}") from error
        except (smtplib.SMTPException, OSError) as error:  # not reachable, connection dropped …
            raise TemporaryFailure(f"{type(error).__name__}: {error}") from error
