"""Importing the settings only reads; the entry point (``manage.py``) makes ``VAR_DIR`` and the
secret key; a nonsensical value ends in one clear line instead of a traceback.

Each case runs in a process of its own with ``VAR_DIR`` in a temporary folder, as a fresh clone
would start."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

# Each process gets neither the pass's database nor its Redis (``_run``): the same in both passes.
pytestmark = pytest.mark.mode_independent

IMPORT_SETTINGS = "import buergerbuero.config.settings as s; print(s.SECRET_KEY)"


def _run(args: list[str], var_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SECRET_KEY_FILE", "PORT", "WEB_WORKERS"}
    }
    environment.update(env, VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="buergerbuero.config.settings")
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_importing_the_settings_creates_no_file(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    done = _run(["-c", IMPORT_SETTINGS], var_dir, SECRET_KEY="configured-for-this-test")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "configured-for-this-test"
    assert not var_dir.exists()


def test_without_any_key_the_settings_say_what_to_do(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    done = _run(["-c", IMPORT_SETTINGS], var_dir)
    assert done.returncode != 0
    assert "SECRET_KEY is not set" in done.stderr
    assert "manage.py" in done.stderr
    assert not var_dir.exists()


def test_manage_py_makes_the_folder_and_one_private_key(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    first = _run(["manage.py", "help"], var_dir)
    assert first.returncode == 0, first.stderr
    key_file = var_dir / "secret_key"
    key = key_file.read_text(encoding="utf-8").strip()
    assert len(key) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (var_dir / "static").is_dir()
    # Later starts keep the key (sessions and signed links stay valid) and the settings read it.
    assert _run(["manage.py", "help"], var_dir).returncode == 0
    assert key_file.read_text(encoding="utf-8").strip() == key
    read = _run(["-c", IMPORT_SETTINGS], var_dir)
    assert read.stdout.strip() == key
    assert sorted(path.name for path in var_dir.iterdir()) == ["secret_key", "static"]


def test_a_configured_key_generates_none(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    done = _run(["manage.py", "help"], var_dir, SECRET_KEY="configured-for-this-test")
    assert done.returncode == 0, done.stderr
    assert not (var_dir / "secret_key").exists()


def test_a_port_that_is_no_number_ends_in_one_clear_line(tmp_path: Path) -> None:
    done = _run(["manage.py", "serve"], tmp_path / "var", PORT="abc")
    assert done.returncode == 2
    assert done.stderr.strip() == "Configuration error: PORT='abc' is not an integer"
    assert "Traceback" not in done.stderr


def test_web_workers_that_are_no_number_end_in_one_clear_line(tmp_path: Path) -> None:
    done = _run(["manage.py", "serve"], tmp_path / "var", WEB_WORKERS="two")
    assert done.returncode == 2
    assert done.stderr.strip() == "Configuration error: WEB_WORKERS='two' is not an integer"
