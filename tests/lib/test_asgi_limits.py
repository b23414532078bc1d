"""Request bodies above the limit are refused before anyone reads them.

Against the real server (uvicorn in its own process) with a small limit: a huge declared
``Content-Length`` and an endless chunked body are both answered with 413 at once, the server
keeps serving, and a normal document upload in a consultation still works. The default limit
fits the largest legitimate upload (the 40 MiB waiting-area video).
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from PIL import Image
from pytest_django import Settings

from buergerbuero.lib import asgi_limits, media
from buergerbuero.offices.models import Office
from tests.consult.support import start_consultation
from tests.support.server import AsgiServer

MiB = 1024 * 1024
LIMIT = 2 * MiB


@pytest.fixture(scope="module")
def small_limit_server(
    django_db_setup: None, django_db_blocker: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AsgiServer]:
    media_root = tmp_path_factory.mktemp("media")
    server = AsgiServer(extra_env={"REQUEST_MAX_BYTES": str(LIMIT), "MEDIA_ROOT": str(media_root)})
    server.start()
    yield server
    server.stop()


def raw_request(server: AsgiServer, head: str, timeout: float = 5) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    connection.sendall(head.encode("latin-1"))
    return connection


def read_status(connection: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data


def healthy(server: AsgiServer) -> bool:
    return httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200


# --- the default -------------------------------------------------------------------------------------
def test_default_limit_fits_the_largest_legitimate_upload(settings: Settings) -> None:
    settings.REQUEST_MAX_BYTES = 0
    settings.DOCUMENT_MAX_BYTES = 15 * MiB

    assert asgi_limits.request_max_bytes() == media.VIDEO_MAX_BYTES + asgi_limits.MARGIN
    assert asgi_limits.request_max_bytes() >= settings.DOCUMENT_MAX_BYTES + asgi_limits.MARGIN


def test_default_limit_follows_a_larger_document_limit(settings: Settings) -> None:
    settings.REQUEST_MAX_BYTES = 0
    settings.DOCUMENT_MAX_BYTES = 100 * MiB

    assert asgi_limits.request_max_bytes() == 101 * MiB


def test_configured_limit_wins(settings: Settings) -> None:
    settings.REQUEST_MAX_BYTES = 3 * MiB

    assert asgi_limits.request_max_bytes() == 3 * MiB


# --- against the real server ---------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_huge_declared_body_is_refused_before_it_is_read(small_limit_server: AsgiServer) -> None:
    started = time.monotonic()
    connection = raw_request(
        small_limit_server,
        "POST /staff/login/ HTTP/1.1\r\nHost: localhost\r\nAccept: text/html\r\n"
        "Accept-Language: en\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {300 * MiB}\r\n\r\n",
    )
    connection.sendall(b"x" * 1024)  # and then nothing: the server must not wait for the rest

    status, response = read_status(connection)
    connection.close()

    assert status == 413
    assert time.monotonic() - started < 3
    assert b"Traceback" not in response
    assert healthy(small_limit_server)


@pytest.mark.django_db(transaction=True)
def test_refusal_says_why_in_the_persons_language(small_limit_server: AsgiServer) -> None:
    response = httpx.post(
        f"{small_limit_server.url}/staff/login/",
        content=b"x" * (LIMIT + 1),
        headers={"Accept-Language": "de", "Accept": "*/*"},
        timeout=10,
    )

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"].startswith("Die Datei ist zu groß")


@pytest.mark.django_db(transaction=True)
def test_endless_chunked_body_is_cut_off_at_the_limit(small_limit_server: AsgiServer) -> None:
    connection = raw_request(
        small_limit_server,
        "POST /staff/login/ HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    chunk = b"x" * 65536
    sent = 0
    refused_early = False
    try:
        while sent < 50 * MiB:
            connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
    except OSError:  # the server hung up: it stopped reading
        refused_early = True
    status = 0
    with contextlib.suppress(OSError):
        status, _response = read_status(connection)
    connection.close()

    assert refused_early or status == 413
    assert sent < LIMIT + 16 * MiB  # what the sockets' buffers hold beyond the limit
    assert status in {0, 413}  # a reset may overtake the 413 on the wire
    assert healthy(small_limit_server)


@pytest.mark.django_db(transaction=True)
def test_normal_document_upload_in_a_consultation_still_works(
    small_limit_server: AsgiServer, office: Office, agent: User
) -> None:
    consultation = start_consultation(office, agent)
    token = consultation.ticket.token
    image = io.BytesIO()
    Image.new("RGB", (600, 600)).save(image, "PNG")  # a real picture, about 1 MiB with noise below
    content = image.getvalue() + b"\0" * (LIMIT // 2)
    with httpx.Client(base_url=small_limit_server.url, timeout=10) as browser:
        page = browser.get(reverse("consult:citizen", kwargs={"token": token}))
        assert page.status_code == 200
        url = reverse("consult:share_document", kwargs={"consultation_id": consultation.pk})
        response = browser.post(
            f"{url}?ticket={token}",
            files={"file": ("Plan.png", content, "image/png")},
            headers={"X-CSRFToken": browser.cookies["csrftoken"], "Referer": small_limit_server.url + "/"},
        )

    assert response.status_code == 201, response.text
    assert json.loads(response.text)["name"] == "Plan.png"
    stored = Path(small_limit_server.extra_env["MEDIA_ROOT"]) / "consultations" / str(consultation.pk)
    assert [path.stat().st_size for path in stored.iterdir()] == [len(content)]
