"""Public uploads (logos, waiting-area images and videos) can never become a page on our origin.

Uploads are checked by content and by name (the two must agree; SVG is refused), stored under
a random name, and served by our own view with a type from an allow-list, ``nosniff`` and a
sandboxing Content-Security-Policy. Files land in a temporary MEDIA_ROOT (never in var/).
Decision documented here: a JPEG named ``.png`` is refused (like a shared document), not renamed.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from django.test import Client
from django.utils.translation import override
from PIL import Image
from pytest_django import Settings

from buergerbuero.lib import media
from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from tests.offices.test_validation import change_form_data, change_url

MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
SCRIPT = b"<html><body><script>document.title='pwned'</script></body></html>"
POLYGLOT_MP4 = MP4_HEAD + SCRIPT
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
SANDBOX = "sandbox; default-src 'none'; frame-ancestors 'none'"


def image_bytes(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (0, 75, 135)).save(out, kind)
    return out.getvalue()


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with override("en"):
        yield


@pytest.fixture(autouse=True)
def media_root(settings: Settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def lead_client(office_lead: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(office_lead)
    return client


def upload_in_admin(client: Client, office: Office, **files: Any) -> Any:
    data = change_form_data(client, office)
    data.update(files)
    return client.post(change_url(office), data)


def errors_of(response: Any, field: str) -> list[str]:
    return list(response.context["adminform"].form.errors.get(field, []))


# --- checked by content and by name ------------------------------------------------------------
@pytest.mark.django_db
class TestUploadsInTheAdmin:
    def test_html_named_mp4_video_is_refused_by_the_admin(self, lead_client: Client, office: Office) -> None:
        response = upload_in_admin(
            lead_client, office, waiting_video=SimpleUploadedFile("promo.html", POLYGLOT_MP4, "video/mp4")
        )

        assert response.status_code == 200
        assert errors_of(response, "waiting_video") == [
            "The file's name does not match its content. Please check the file."
        ]
        office.refresh_from_db()
        assert not office.waiting_video

    def test_svg_image_is_refused_with_a_clear_message(self, lead_client: Client, office: Office) -> None:
        response = upload_in_admin(
            lead_client, office, waiting_image=SimpleUploadedFile("bild.svg", SVG, "image/svg+xml")
        )

        assert response.status_code == 200
        assert errors_of(response, "waiting_image") == [
            "SVG images are not accepted, because they can contain scripts. "
            "Please upload a PNG, JPEG or WebP image."
        ]
        office.refresh_from_db()
        assert not office.waiting_image

    def test_svg_content_under_a_png_name_is_refused(self, lead_client: Client, office: Office) -> None:
        response = upload_in_admin(lead_client, office, waiting_image=SimpleUploadedFile("bild.png", SVG))

        assert errors_of(response, "waiting_image")[0].startswith("SVG images are not accepted")

    def test_jpeg_named_png_is_refused_not_renamed(self, lead_client: Client, office: Office) -> None:
        response = upload_in_admin(
            lead_client, office, waiting_image=SimpleUploadedFile("foto.png", image_bytes("JPEG"))
        )

        assert errors_of(response, "waiting_image") == [
            "The file's name does not match its content. Please check the file."
        ]

    def test_video_is_stored_under_a_random_name_with_its_own_extension(
        self, lead_client: Client, office: Office, media_root: Path
    ) -> None:
        response = upload_in_admin(
            lead_client, office, waiting_video=SimpleUploadedFile("Sommer Promo.MP4", POLYGLOT_MP4)
        )

        assert response.status_code == 302, errors_of(response, "waiting_video")
        office.refresh_from_db()
        name = office.waiting_video.name
        assert re.fullmatch(r"waiting/[A-Za-z0-9_-]{20,}\.mp4", name), name
        assert "Promo" not in name
        assert (media_root / name).read_bytes() == POLYGLOT_MP4

    def test_jpeg_image_is_stored_as_jpg_under_a_random_name(
        self, lead_client: Client, office: Office
    ) -> None:
        response = upload_in_admin(
            lead_client, office, waiting_image=SimpleUploadedFile("rathaus.jpeg", image_bytes("JPEG"))
        )

        assert response.status_code == 302
        office.refresh_from_db()
        assert re.fullmatch(r"waiting/[A-Za-z0-9_-]{20,}\.jpg", office.waiting_image.name)

    def test_office_whose_stored_video_went_missing_still_saves(
        self, lead_client: Client, office: Office
    ) -> None:
        Office.objects.filter(pk=office.pk).update(waiting_video="waiting/verschwunden.mp4")
        data = change_form_data(lead_client, office)
        del data["waiting_video"]  # a browser sends no file for a field left alone
        data["waiting_area_text"] = "Neu"

        response = lead_client.post(change_url(office), data)

        assert response.status_code == 302
        office.refresh_from_db()
        assert (office.waiting_area_text, office.waiting_video.name) == ("Neu", "waiting/verschwunden.mp4")

    def test_two_uploads_of_the_same_name_get_different_names(
        self, lead_client: Client, office: Office
    ) -> None:
        names = set()
        for _ in range(2):
            upload_in_admin(
                lead_client, office, waiting_image=SimpleUploadedFile("a.png", image_bytes("PNG"))
            )
            office.refresh_from_db()
            names.add(office.waiting_image.name)

        assert len(names) == 2


@pytest.mark.django_db
class TestLogo:
    def test_svg_logo_is_refused(self, org: Organization) -> None:
        org.logo = SimpleUploadedFile("wappen.svg", SVG)

        with pytest.raises(ValidationError) as caught:
            org.full_clean()

        assert caught.value.message_dict["logo"][0].startswith("SVG images are not accepted")

    def test_html_logo_named_png_is_refused(self, org: Organization) -> None:
        org.logo = SimpleUploadedFile("wappen.png", SCRIPT)

        with pytest.raises(ValidationError) as caught:
            org.full_clean()

        assert caught.value.message_dict["logo"] == ["Please upload a PNG, JPEG or WebP image."]

    def test_too_large_logo_is_refused(self, org: Organization) -> None:
        org.logo = SimpleUploadedFile("wappen.png", image_bytes("PNG") + b"\0" * media.LOGO_MAX_BYTES)

        with pytest.raises(ValidationError) as caught:
            org.full_clean()

        assert caught.value.message_dict["logo"] == ["The file is too large (at most 1.0\xa0MB)."]

    def test_png_logo_is_accepted_and_stored_under_a_random_name(self, org: Organization) -> None:
        org.logo = SimpleUploadedFile("wappen.png", image_bytes("PNG"))
        org.full_clean()
        org.save()

        assert re.fullmatch(r"branding/[A-Za-z0-9_-]{20,}\.png", org.logo.name)


# --- served by our own view -------------------------------------------------------------------------
def content_of(response: Any) -> bytes:
    """The body of a media response (an async stream, as Django serves it under ASGI)."""

    async def collect() -> bytes:
        return b"".join([part async for part in response.streaming_content])

    return async_to_sync(collect)()


def put(media_root: Path, name: str, content: bytes) -> None:
    path = media_root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


@pytest.mark.django_db
class TestServing:
    @pytest.mark.parametrize(
        "name",
        ["waiting/promo.html", "waiting/promo.htm", "waiting/bild.svg", "branding/logo.svg", "waiting/x"],
    )
    def test_polyglot_on_disk_with_a_page_name_is_never_served(self, media_root: Path, name: str) -> None:
        put(media_root, name, POLYGLOT_MP4)

        response = Client().get(f"/media/{name}")

        assert response.status_code == 404
        assert b"<script>document.title" not in response.content

    def test_old_upload_with_an_allowed_extension_is_served_with_safe_headers(self, media_root: Path) -> None:
        put(media_root, "waiting/promo.mp4", POLYGLOT_MP4)  # an upload from before random names

        response = Client().get("/media/waiting/promo.mp4")

        assert response.status_code == 200
        assert response["Content-Type"] == "video/mp4"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == SANDBOX
        assert "max-age=" in response["Cache-Control"]
        assert content_of(response) == POLYGLOT_MP4

    @pytest.mark.parametrize(
        ("name", "content_type"),
        [("branding/a.png", "image/png"), ("waiting/b.jpeg", "image/jpeg"), ("waiting/c.webm", "video/webm")],
    )
    def test_type_comes_from_the_allow_list_by_extension(
        self, media_root: Path, name: str, content_type: str
    ) -> None:
        put(media_root, name, SCRIPT)

        response = Client().get(f"/media/{name}")

        assert response["Content-Type"] == content_type
        assert response["Content-Security-Policy"] == SANDBOX

    def test_logo_folder_serves_no_video(self, media_root: Path) -> None:
        put(media_root, "branding/clip.mp4", POLYGLOT_MP4)

        assert Client().get("/media/branding/clip.mp4").status_code == 404

    @pytest.mark.parametrize(
        "path",
        [
            "/media/waiting/../../secret.png",
            "/media/waiting/..%2F..%2Fsecret.png",
            "/media/waiting/%2e%2e/%2e%2e/secret.png",
            "/media/waiting/sub/../../secret.png",
            "/media/consultations/1/secret.png",
            "/media/waiting/..\\..\\secret.png",
            "/media/waiting/.png",
        ],
    )
    def test_path_traversal_is_impossible(self, media_root: Path, path: str) -> None:
        put(media_root.parent, "secret.png", b"secret")
        put(media_root, "secret.png", b"secret")
        put(media_root, "consultations/1/secret.png", b"secret")

        response = Client().get(path)

        assert response.status_code == 404

    def test_a_link_out_of_the_folder_is_not_followed(self, media_root: Path) -> None:
        put(media_root.parent, "secret.png", b"secret")
        (media_root / "waiting").mkdir(parents=True, exist_ok=True)
        (media_root / "waiting" / "link.png").symlink_to(media_root.parent / "secret.png")

        assert Client().get("/media/waiting/link.png").status_code == 404

    def test_missing_file_is_404(self) -> None:
        assert Client().get("/media/waiting/nothing.png").status_code == 404

    def test_unchanged_file_answers_304(self, media_root: Path) -> None:
        put(media_root, "waiting/a.png", image_bytes("PNG"))
        first = Client().get("/media/waiting/a.png")

        again = Client().get("/media/waiting/a.png", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])

        assert again.status_code == 304

    @pytest.mark.parametrize(
        ("wanted", "content_range", "part"),
        [
            ("bytes=2-5", "bytes 2-5/10", b"2345"),
            ("bytes=7-", "bytes 7-9/10", b"789"),
            ("bytes=-3", "bytes 7-9/10", b"789"),
            ("bytes=8-100", "bytes 8-9/10", b"89"),
        ],
    )
    def test_a_byte_range_is_answered_for_video_players(
        self, media_root: Path, wanted: str, content_range: str, part: bytes
    ) -> None:
        put(media_root, "waiting/film.mp4", b"0123456789")

        response = Client().get("/media/waiting/film.mp4", HTTP_RANGE=wanted)

        assert response.status_code == 206
        assert response["Content-Range"] == content_range
        assert content_of(response) == part
        assert response["Content-Type"] == "video/mp4"
        assert response["Content-Security-Policy"] == SANDBOX

    def test_a_range_beyond_the_file_is_416(self, media_root: Path) -> None:
        put(media_root, "waiting/film.mp4", b"0123456789")

        response = Client().get("/media/waiting/film.mp4", HTTP_RANGE="bytes=10-")

        assert response.status_code == 416
        assert response["Content-Range"] == "bytes */10"

    @pytest.mark.parametrize("wanted", ["bytes=0-1,4-5", "bytes=5-2", "items=0-1", "bytes=-"])
    def test_other_ranges_get_the_whole_file(self, media_root: Path, wanted: str) -> None:
        put(media_root, "waiting/film.mp4", b"0123456789")

        response = Client().get("/media/waiting/film.mp4", HTTP_RANGE=wanted)

        assert response.status_code == 200
        assert response["Accept-Ranges"] == "bytes"
        assert content_of(response) == b"0123456789"

    def test_only_reading_is_allowed(self, media_root: Path) -> None:
        put(media_root, "waiting/a.png", image_bytes("PNG"))

        assert Client().post("/media/waiting/a.png").status_code == 405


# --- a separate origin for media ----------------------------------------------------------------------
@pytest.mark.django_db
def test_templates_use_a_separate_media_origin(settings: Settings, org: Organization, office: Office) -> None:
    settings.MEDIA_URL = "https://media.example.de/"
    office.waiting_image.name = "waiting/abc.png"
    office.waiting_video.name = "waiting/def.mp4"
    org.logo.name = "branding/ghi.png"

    area = render_to_string("waiting/_area.html", {"office": office})
    page = render_to_string("base.html", {"organization": org})

    assert 'src="https://media.example.de/waiting/abc.png"' in area
    assert 'src="https://media.example.de/waiting/def.mp4"' in area
    assert 'src="https://media.example.de/branding/ghi.png"' in page
