"""The embedded mode's folder (``VAR_DIR``, default ``var/``) and its generated secret key.

Importing the settings only reads: they find the folder here and take ``SECRET_KEY`` from the
environment or from the key file this module generated earlier. The entry points make the
folder and the key before Django starts: ``manage.py`` (so ``make run``'s first command, and
every server and worker) and the test run (``tests/settings.py``, the settings module pytest
is given, since pytest-django imports the settings before any conftest runs). With neither a
configured key nor a generated one the settings stop with a clear message instead of running
with an empty key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from buergerbuero.lib.env import ConfigError, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
SECRET_KEY_FILE_NAME = "secret_key"  # noqa: S105 - a file name, not a secret


def var_dir() -> Path:
    return Path(env_str("VAR_DIR", str(BASE_DIR / "var")))


def secret_key() -> str:
    """``SECRET_KEY`` (or ``SECRET_KEY_FILE``) if configured, else the key :func:`prepare` generated."""
    configured = env_str("SECRET_KEY")
    if configured:
        return configured
    key_file = var_dir() / SECRET_KEY_FILE_NAME
    try:
        return key_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ConfigError(
            f"SECRET_KEY is not set and {key_file} does not exist: set SECRET_KEY (or SECRET_KEY_FILE), "
            "or run any `manage.py` command once, which generates the key there"
        ) from None


def prepare() -> None:
    """Make ``VAR_DIR`` (with ``static/``, which WhiteNoise expects) and, unless ``SECRET_KEY`` is
    configured, a random key in it. Idempotent, and safe when processes start at the same time."""
    folder = var_dir()
    (folder / "static").mkdir(parents=True, exist_ok=True)
    if env_str("SECRET_KEY"):
        return
    key_file = folder / SECRET_KEY_FILE_NAME
    if key_file.exists():
        return
    # Written in full under a name of its own (0600 from the start), then linked into place:
    # of two processes starting together one key wins, and no one reads a half-written file.
    draft = folder / f".{SECRET_KEY_FILE_NAME}.{os.getpid()}"
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as draft_file:
            draft_file.write(secrets.token_urlsafe(50))
        os.link(draft, key_file)
    except FileExistsError:
        pass
    finally:
        draft.unlink(missing_ok=True)
