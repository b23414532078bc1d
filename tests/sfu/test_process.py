"""The Janus the product runs: its configuration, and ``manage.py serve --janus`` starting and
stopping it."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.management import CommandError, call_command

from buergerbuero.lib.env import ConfigError
from buergerbuero.sfu.process import JanusProcess, parse_port_range, ping
from tests.support.coturn import free_port_range
from tests.support.janus import JanusTestServer, require_janus
from tests.support.server import AsgiServer, free_port


def test_only_the_videoroom_and_the_http_transport_are_loaded(janus: JanusTestServer) -> None:
    info = httpx.get(f"{janus.url}/info", timeout=5).json()
    assert list(info["plugins"]) == ["janus.plugin.videoroom"]
    assert list(info["transports"]) == ["janus.transport.http"]
    assert info["api_secret"] is True
    assert info["auth_token"] is False


def _rendered(tmp_path: Path, **options: Any) -> JanusProcess:
    """A Janus configuration rendered into ``tmp_path`` (not started)."""
    janus = JanusProcess(
        tmp_path / "janus",
        api_secret="api-s",
        admin_secret="admin-s",
        admin_key="key-s",
        http_port=18000,
        admin_port=17000,
        rtp_ports=(40000, 40099),
        **options,
    )
    janus.render()
    return janus


def test_the_rendered_configuration_is_private_and_complete(tmp_path: Path) -> None:
    janus = _rendered(tmp_path, public_ip="203.0.113.7", event_loops=3)
    assert stat.S_IMODE(janus.folder.stat().st_mode) == 0o700
    files = {path.name: path for path in janus.folder.glob("*.jcfg")}
    assert set(files) == {"janus.jcfg", "janus.plugin.videoroom.jcfg", "janus.transport.http.jcfg"}
    for path in files.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert "${" not in path.read_text()
    rendered = "".join(path.read_text() for path in files.values())
    for secret in ("api-s", "admin-s", "key-s"):  # in its setting, never in a comment
        assert rendered.count(f'"{secret}"') == 1
        assert rendered.count(secret) == 1
    core = files["janus.jcfg"].read_text()
    assert 'api_secret = "api-s"' in core
    assert 'admin_secret = "admin-s"' in core
    assert 'rtp_port_range = "40000-40099"' in core
    assert 'nat_1_1_mapping = "203.0.113.7"' in core
    assert "event_loops = 3" in core  # media loops, not a thread per handle
    assert 'admin_key = "key-s"' in files["janus.plugin.videoroom.jcfg"].read_text()
    http = files["janus.transport.http.jcfg"].read_text()
    assert 'ip = "127.0.0.1"' in http
    assert 'admin_ip = "127.0.0.1"' in http


def test_the_configuration_for_another_janus_server_is_written_with_our_secrets(
    tmp_path: Path, settings: Any
) -> None:
    out = io.StringIO()
    call_command(
        "janus_config", str(tmp_path / "jan2"), "--listen", "10.0.0.11", "--public-ip", "203.0.113.9",
        "--rtp-ports", "40000-40999", stdout=out,
    )  # fmt: skip
    core = (tmp_path / "jan2" / "janus.jcfg").read_text()
    assert f'api_secret = "{settings.JANUS_API_SECRET}"' in core
    assert 'nat_1_1_mapping = "203.0.113.9"' in core
    assert 'ip = "10.0.0.11"' in (tmp_path / "jan2" / "janus.transport.http.jcfg").read_text()
    assert "http://10.0.0.11:8088/janus" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("janus_config", str(tmp_path / "x"), "--rtp-ports", "5-3")


@pytest.mark.parametrize("value", ["", "20000", "20000-", "abc-def", "30000-20000", "80-90", "60000-70000"])
def test_a_nonsense_port_range_stops_the_start(value: str) -> None:
    with pytest.raises(ConfigError):
        parse_port_range(value)


def test_serve_with_janus_runs_it_and_stops_it_with_the_server(db: None, tmp_path: Path) -> None:
    require_janus()
    janus_port, admin_port = free_port(), free_port()
    first = free_port_range(20, low=30000, high=60000)
    env = {
        "JANUS_PORT": str(janus_port),
        "JANUS_ADMIN_PORT": str(admin_port),
        "JANUS_RTP_PORTS": f"{first}-{first + 19}",
        "JANUS_API_SECRET": "serve-test-secret",
        "VAR_DIR": str(tmp_path / "var"),
        "JOBS_IN_WEB_PROCESS": "false",
    }
    for name in ("JANUS_SERVERS", "JANUS_API_SECRET_FILE"):
        os.environ.pop(name, None)
    url = f"http://127.0.0.1:{janus_port}/janus"
    server = AsgiServer(extra_env=env, serve_args=["--janus"])
    server.start()
    try:
        assert ping(url, "serve-test-secret", timeout=2)
        assert not ping(url, "guess", timeout=2)
        assert (Path(env["VAR_DIR"]) / "janus" / "janus.jcfg").exists()
    finally:
        server.stop()
    assert not ping(url, "serve-test-secret", timeout=1)


def test_serve_without_the_flag_runs_no_janus(db: None) -> None:
    janus_port = free_port()
    server = AsgiServer(
        extra_env={"JANUS_PORT": str(janus_port), "JANUS_API_SECRET": "s", "JOBS_IN_WEB_PROCESS": "false"}
    )
    server.start()
    try:
        assert not ping(f"http://127.0.0.1:{janus_port}/janus", "s", timeout=1)
    finally:
        server.stop()


def test_janus_gets_one_media_loop_per_core_unless_told(tmp_path: Path) -> None:
    janus = _rendered(tmp_path)
    assert f"event_loops = {os.cpu_count()}" in (janus.folder / "janus.jcfg").read_text()
