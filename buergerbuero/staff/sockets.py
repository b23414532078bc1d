"""The staff side of WebSockets: a socket lives only as long as the login behind it.

A staff socket (the console, the staff member in a consultation) is refused unless its login
is valid (not logged out, not timed out, second factor passed where required), listens to
its login's group for ``session_ended`` (published at logout and timeout, across processes)
and re-reads its session every ``CHECK_SECONDS`` and before each refresh of citizens' data,
so it also stops when that event was missed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.base import UpdateError
from django.utils.module_loading import import_string
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device

from buergerbuero.staff import second_factor, sessions

CHECK_SECONDS = 30.0
logger = logging.getLogger(__name__)


def login_group(scope: dict[str, Any]) -> str | None:
    session = scope.get("session")
    return sessions.socket_group(session) if session is not None else None


def _login_is_valid(session_key: str | None, user: Any, *, activity: bool) -> bool:
    if not session_key or user is None or not user.is_authenticated:
        return False
    # The session as stored now, not the copy the socket got when it opened.
    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key)
    if str(store.get(SESSION_KEY)) != str(user.pk):
        return False  # logged out, deleted or expired
    if store.get(HASH_SESSION_KEY) != user.get_session_auth_hash():
        return False  # the password changed since
    if sessions.ended(store, idle_counts=not activity) is not None:
        return False
    if second_factor.must_verify(user) and not _verified(store, user):
        return False
    if activity and sessions.touch(store):
        try:
            store.save(must_create=False)
        except UpdateError:
            return False  # deleted meanwhile: logged out
    return True


def _verified(store: Any, user: Any) -> bool:
    persistent_id = store.get(DEVICE_ID_SESSION_KEY)
    if not persistent_id:
        return False
    device = Device.from_persistent_id(persistent_id)
    return device is not None and device.user_id == user.pk and bool(device.confirmed)


async def login_is_valid(scope: dict[str, Any], *, activity: bool = False) -> bool:
    """Whether the login behind this socket still holds; with ``activity`` the socket's use
    counts as activity (an open consultation) instead of being ended by the idle timeout."""
    key = getattr(scope.get("session"), "session_key", None)
    return bool(await sync_to_async(_login_is_valid)(key, scope.get("user"), activity=activity))


def watch(
    scope: dict[str, Any], on_end: Callable[[], Awaitable[None]], *, activity: bool = False
) -> asyncio.Task[None]:
    """Re-check the login every ``CHECK_SECONDS``; call ``on_end`` once it no longer holds."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            try:
                valid = await login_is_valid(scope, activity=activity)
            except Exception:  # e.g. the database restarting: try again next round
                logger.warning("could not re-check a staff socket's login", exc_info=True)
                continue
            if not valid:
                await on_end()
                return

    return asyncio.create_task(loop(), name="staff-login-watch")


def stop(task: asyncio.Task[None] | None) -> None:
    if task is not None and task is not asyncio.current_task() and not task.done():
        task.cancel()
