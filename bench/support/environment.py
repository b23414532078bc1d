"""A bench's own world: temporary directory, database, Redis prefix; all removed afterwards.

SQLite in the temporary directory (the embedded mode), or a PostgreSQL database created for
the run and dropped after it (``DROP … WITH (FORCE)``: the servers may still hold
connections), and with a Redis URL a key prefix of the run whose keys are deleted at the end
(Redis outlives the run and is shared). Django is set up in this process on the same
settings, so that a bench prepares its data through the models and services.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

POSTGRES_SERVER_URL = "postgres://postgres@127.0.0.1:5432"
# Variables of the caller's shell that would point the bench at someone else's stores.
FOREIGN = ("DATABASE_URL", "REDIS_URL", "REDIS_PREFIX", "SQLITE_PATH", "DJANGO_ALLOW_ASYNC_UNSAFE")


def postgres_url(database: str, server_url: str = POSTGRES_SERVER_URL) -> str:
    return f"{server_url}/{database}"


def beside(database_url: str, suffix: str) -> str:
    """A database next to the one of ``database_url`` on the same server (``<name>_<suffix>``)."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/") or "postgres"
    return urlunsplit(parts._replace(path=f"/{name}_{suffix}"))


class BenchEnvironment:
    """``database_url``: the PostgreSQL database to create and drop (``None``: SQLite);
    ``redis_url``: the servers use Redis under ``redis_prefix`` (default: unique per run)."""

    def __init__(
        self,
        name: str,
        *,
        database_url: str | None = None,
        redis_url: str | None = None,
        redis_prefix: str | None = None,
        keep: bool = False,
    ) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self.database_url = database_url
        self.redis_url = redis_url
        self.redis_prefix = redis_prefix or f"bench-{name}-{os.getpid()}-{secrets.token_hex(4)}"
        self.keep = keep
        self.created = False
        self.env: dict[str, str] = {}

    @property
    def label(self) -> str:
        return "postgresql" if self.database_url else "sqlite"

    @property
    def database(self) -> str | None:
        return urlsplit(self.database_url).path.lstrip("/") if self.database_url else None

    def setup(self, **extra: str) -> dict[str, str]:
        """Creates the stores, replaces this process's environment with the servers' one (plus
        ``extra``) and sets Django up on it; returns that environment for the servers."""
        env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
        env.update(
            DJANGO_SETTINGS_MODULE="buergerbuero.config.settings",
            SECRET_KEY=secrets.token_urlsafe(50),  # sessions made here must be valid in the servers
            VAR_DIR=str(self.tmp / "var"),
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        if self.database_url:
            self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            self._admin("CREATE DATABASE {}")
            self.created = True
            env["DATABASE_URL"] = self.database_url
        else:
            env["SQLITE_PATH"] = str(self.tmp / "bench.sqlite3")
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
            env["REDIS_PREFIX"] = self.redis_prefix
        env.update(extra)
        self.env = env
        os.environ.clear()
        os.environ.update(env)
        import django

        django.setup()
        return env

    def migrate(self) -> None:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if self.created:
            with contextlib.suppress(Exception):
                self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        if self.redis_url:
            with contextlib.suppress(Exception):
                import redis

                client = redis.Redis.from_url(self.redis_url)
                keys = list(client.scan_iter(match=f"{self.redis_prefix}*", count=1000))
                if keys:
                    client.delete(*keys)
                client.close()
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _admin(self, statement: str) -> None:
        import psycopg
        from psycopg import sql

        assert self.database_url is not None  # noqa: S101
        parts = urlsplit(self.database_url)
        with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
            admin.execute(sql.SQL(statement).format(sql.Identifier(self.database)))  # type: ignore[arg-type]
