"""A real SMTP server for tests: ``aiosmtpd`` on 127.0.0.1, collecting what it receives.

:class:`SmtpServer` runs aiosmtpd's ``Controller`` (its own event loop in a thread) on a free
loopback port and keeps every accepted message with its envelope and parsed as an
``email.message.EmailMessage``. It can be stopped and started again on the *same* port, so a
test can take the mail server down (connections are refused) and bring it back where the
product's settings still point. A ``delay`` makes each DATA command slow (to keep two senders
busy at the same time), and ``refuse_recipients`` answers RCPT TO with an error, as a mail
server does for an unknown address.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A TCP port nobody listens on at the moment (the OS's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the server accepted it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self.server.refuse_recipients
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.server._data_started()
        try:
            if self.server.delay:
                await asyncio.sleep(self.server.delay)
            content = envelope.original_content or b""
            parsed = email.message_from_bytes(content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.server._received(
                ReceivedMail(
                    mail_from=envelope.mail_from or "",
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    raw=content,
                    message=parsed,
                )
            )
        finally:
            self.server._data_finished()
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server on loopback that records what it accepts."""

    def __init__(self, host: str = HOST, port: int | None = None, *, delay: float = 0.0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.delay = delay
        # An SMTP reply such as "550 5.1.1 No such user" for every RCPT TO, or "" to accept.
        self.refuse_recipients = ""
        self._controller: Controller | None = None
        self._lock = threading.Lock()
        self._messages: list[ReceivedMail] = []
        self._in_data = 0
        self.most_at_once = 0  # the most DATA commands that were in progress at the same time

    # --- running --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        """Listen on ``port`` (the same one after a stop)."""
        if self._controller is not None:
            return
        deadline = time.monotonic() + 5
        while True:  # the port may still be held for a moment after a stop
            controller = Controller(_Handler(self), hostname=self.host, port=self.port, ready_timeout=5.0)
            try:
                controller.start()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._controller = controller

    def stop(self) -> None:
        """Close the port: connections are refused until :meth:`start`."""
        if self._controller is None:
            return
        self._controller.stop()
        self._controller = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> SmtpServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- what arrived ---------------------------------------------------------------------
    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self.most_at_once = 0

    def _received(self, mail: ReceivedMail) -> None:
        with self._lock:
            self._messages.append(mail)

    def _data_started(self) -> None:
        with self._lock:
            self._in_data += 1
            self.most_at_once = max(self.most_at_once, self._in_data)

    def _data_finished(self) -> None:
        with self._lock:
            self._in_data -= 1
