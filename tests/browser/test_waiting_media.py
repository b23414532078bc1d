"""The waiting area's image and video still load and play in Chromium, now that public media
are served with ``Content-Security-Policy: sandbox; default-src 'none'`` and ``nosniff``.

The video is a real WebM, recorded by Chromium itself from a canvas (MediaRecorder), so that
the test needs no video file in the repository and no ffmpeg.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from PIL import Image

from buergerbuero.offices.models import Office
from buergerbuero.waiting.services import joining
from tests import factories
from tests.support.live import ALWAYS_OPEN, reset_join_limit
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.mode_independent, pytest.mark.django_db(transaction=True)]

RECORD_WEBM = """async () => {
  const canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 48;
  const paint = canvas.getContext("2d");
  const recorder = new MediaRecorder(canvas.captureStream(25), { mimeType: "video/webm;codecs=vp8" });
  const chunks = [];
  recorder.ondataavailable = (event) => chunks.push(event.data);
  const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
  recorder.start();
  for (let frame = 0; frame < 30; frame++) {
    paint.fillStyle = `rgb(${frame * 8}, 75, 135)`;
    paint.fillRect(0, 0, 64, 48);
    await new Promise((resolve) => setTimeout(resolve, 40));
  }
  recorder.stop();
  await stopped;
  const bytes = new Uint8Array(await new Blob(chunks, { type: "video/webm" }).arrayBuffer());
  let text = "";
  bytes.forEach((byte) => { text += String.fromCharCode(byte); });
  return btoa(text);
}"""


@pytest.fixture(scope="module")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def server(django_db_setup: None, django_db_blocker: Any, media_root: Path) -> Iterator[AsgiServer]:
    running = AsgiServer(extra_env={"MEDIA_ROOT": str(media_root)})
    running.start()
    yield running
    running.stop()


def recorded_webm(page: Any) -> bytes:
    page.goto("about:blank")
    return base64.b64decode(page.evaluate(RECORD_WEBM))


def test_waiting_area_image_and_video_load_on_the_waiting_room_page(
    page: Any, server: AsgiServer, media_root: Path
) -> None:
    (media_root / "waiting").mkdir(exist_ok=True)
    picture = io.BytesIO()
    Image.new("RGB", (120, 80), (0, 75, 135)).save(picture, "PNG")
    (media_root / "waiting" / "bild.png").write_bytes(picture.getvalue())
    (media_root / "waiting" / "film.webm").write_bytes(recorded_webm(page))
    organization = factories.make_org("medienstadt")
    office = factories.make_office(
        organization, "meldeamt", hours=ALWAYS_OPEN, observes_public_holidays=False
    )
    Office.objects.filter(pk=office.pk).update(
        waiting_image="waiting/bild.png", waiting_image_alt="Das Rathaus", waiting_video="waiting/film.webm"
    )
    reset_join_limit()
    ticket = joining.join(
        office, service=None, display_name="", language="de", mode="video", now=timezone.now()
    )
    failed: list[str] = []
    media_policies: dict[str, str] = {}
    page.on("requestfailed", lambda request: failed.append(request.url))

    def remember_policy(response: Any) -> None:
        if "/media/" in response.url:
            media_policies[response.url.rsplit("/", 1)[1]] = response.headers["content-security-policy"]

    page.on("response", remember_policy)

    page.goto(f"{server.url}/w/{ticket.token}/")

    image = page.locator("img.waiting-media")
    page.wait_for_function("document.querySelector('img.waiting-media').complete")
    assert image.evaluate("img => img.naturalWidth") == 120
    video = page.locator("video.waiting-media")
    played = video.evaluate(
        """async (video) => {
          video.muted = true;
          await video.play();
          await new Promise((resolve) => setTimeout(resolve, 300));
          return { width: video.videoWidth, time: video.currentTime, error: video.error };
        }"""
    )
    assert played["error"] is None
    assert played["width"] == 64
    assert played["time"] > 0
    assert failed == []
    assert set(media_policies) == {"bild.png", "film.webm"}  # loaded under the sandbox policy
    assert all(policy.startswith("sandbox; default-src 'none'") for policy in media_policies.values())
