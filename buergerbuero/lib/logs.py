"""Logs without secrets or personal data.

Links that citizens, interpreters and calendar programs carry are bearer secrets: whoever
reads ``/w/<ticket>/``, ``/a/<appointment>/``, ``/interpret/<invite>/`` or
``/calendar/<feed>.ics`` in a log can open the waiting room, the appointment (name, e-mail,
phone) or a staff member's calendar. ``RedactSecrets`` (a filter on the log handlers, see
``LOGGING`` in the settings; uvicorn's own loggers are routed through them by ``serve``)
replaces such path segments and ``token=``/``ticket=`` query values with ``…``, in every record
(access lines, WebSocket handshakes, Django's “Not Found: …”).

Contact data is shown masked where a log must name a recipient: ``b***@example.de``,
``+49 *** 89``. Client addresses in uvicorn's access lines are shortened as German data
protection authorities advise for web logs (IPv4 to its /24, IPv6 to its /48): enough to see
a network misbehave, not enough to name a household.
"""

from __future__ import annotations

import ipaddress
import logging
import re

MASK = "…"

# Path segments that are secrets by their place in our URLs.
_SECRET_SEGMENTS = re.compile(
    r"(?P<prefix>/(?:w|a|ws/tickets)/)(?!…)[^/?#\s\"]+"  # tickets and appointments
    r"|(?P<invite>/interpret/)(?!done/|consultations/|…)[^/?#\s\"]+"  # interpreter invites
    r"|(?P<feed>/calendar/)[^/?#\s\"]+?(?=\.ics)"  # staff calendar feeds
)
# Query values that carry secrets (the consultation socket and documents take ?ticket=).
_SECRET_QUERY = re.compile(r"(?P<key>[?&](?:ticket|token|secret|invite|key)=)[^&#\s\"]+", re.IGNORECASE)
# Anything else that looks like one of our random tokens (secrets.token_urlsafe: 22+ characters
# mixing upper and lower case letters and digits), e.g. in an address we do not know yet.
# Slugs (lower case), ids (digits) and class names (no digits) do not match.
_TOKEN_LIKE = re.compile(
    r"(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])(?=[A-Za-z0-9_-]*[0-9])"
    r"[A-Za-z0-9_-]{22,}"
)


def redact(text: str) -> str:
    """``text`` with every secret of a link replaced by ``…``."""
    text = _SECRET_SEGMENTS.sub(
        lambda m: (m.group("prefix") or m.group("invite") or m.group("feed")) + MASK, text
    )
    text = _SECRET_QUERY.sub(lambda m: m.group("key") + MASK, text)
    return _TOKEN_LIKE.sub(MASK, text)


_CLIENT = re.compile(r"^(?:[0-9.]+|\[[0-9a-fA-F:.]+\]):[0-9]+$")


def shorten_address(client: str) -> str:
    """``203.0.113.57:51234`` → ``203.0.113.0``; ``[2001:db8:1:2::5]:443`` → ``2001:db8:1::``."""
    host = client.rsplit(":", 1)[0] if client.count(":") == 1 or client.startswith("[") else client
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return MASK
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


class RedactSecrets(logging.Filter):
    """Rewrites each record's message and string arguments through ``redact``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "keep_links", False):  # the development preview of a message
            return True
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
            # uvicorn's HTTP and WebSocket lines start with the client's "host:port".
            first = record.args[0] if record.args else None
            if record.name.startswith("uvicorn") and isinstance(first, str) and _CLIENT.match(first):
                record.args = (shorten_address(first), *record.args[1:])
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def mask_email(address: str) -> str:
    """``berta@example.de`` → ``b***@example.de`` (the domain helps to tell a typo)."""
    local, at, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if at else "***"


def mask_phone(number: str) -> str:
    """``+4915123456789`` → ``+49 *** 89``."""
    digits = re.sub(r"\D", "", number)
    if len(digits) < 6:
        return "***"
    return f"+{digits[:2]} *** {digits[-2:]}"


def mask_recipient(recipient: str) -> str:
    return mask_email(recipient) if "@" in recipient else mask_phone(recipient)


# --- messages written to the log instead of being sent ---------------------------------------
_LINK = re.compile(r"https?://[^\s<>\"']+")
# A record with this attribute keeps its links (the development preview of a message, which
# must let a newcomer open the appointment link): ``logger.info(..., extra=KEEP_LINKS)``.
KEEP_LINKS = {"keep_links": True}


def describe_message(channel: str, recipient: str, subject: str, text: str, *, preview: bool) -> str:
    """The log line of a message that the embedded mode does not really send: its channel,
    subject (it names the kind and the office, never the person) and masked recipient; with
    ``preview``, also the links it carries — never its text, which names the citizen."""
    line = f"{channel} “{subject}” to {mask_recipient(recipient)} (not sent: no gateway configured)"
    if not preview:
        return line
    links = list(dict.fromkeys(_LINK.findall(text)))
    return f"{line}; links: {' '.join(links) or 'none'}"
