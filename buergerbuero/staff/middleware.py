"""Session timeouts and the second-factor gate for every HTTP request of a logged-in person.

Both come after Django's authentication and django-otp's middleware (``request.user`` and
``request.user.is_verified()`` are known). The WebSocket side applies the same rules in
:mod:`buergerbuero.staff.sockets`.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import ngettext

from buergerbuero.staff import second_factor, sessions

# Reachable before the second factor is passed: the second-factor pages, logging out, static
# files and the language switch of those pages.
_OPEN_URL_NAMES = ("staff:verify", "staff:setup", "staff:logout", "staff:login", "javascript-catalog")


class SessionTimeoutMiddleware:
    """Logs a person out after the idle or absolute timeout; otherwise notes the activity."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            reason = sessions.ended(request.session)
            if reason is not None:
                logout(request)  # also closes the login's sockets (staff.signals)
                messages.warning(request, _timeout_message(reason))
                return HttpResponseRedirect(_login_url(request))
            sessions.touch(request.session)
        return self.get_response(request)


class SecondFactorMiddleware:
    """A login that must pass the second factor reaches nothing else until it has."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._open_paths: tuple[str, ...] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not _verified(request)
            and not request.path.startswith(self.open_paths())
            and second_factor.must_verify(user)
        ):
            step = "staff:verify" if second_factor.app_of(user) is not None else "staff:setup"
            return HttpResponseRedirect(f"{reverse(step)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    def open_paths(self) -> tuple[str, ...]:
        if self._open_paths is None:
            self._open_paths = (
                *(reverse(name) for name in _OPEN_URL_NAMES),
                settings.STATIC_URL,
                "/i18n/",
            )
        return self._open_paths


def _verified(request: HttpRequest) -> bool:
    """django-otp's verdict (OTPMiddleware sets ``user.is_verified``)."""
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified()) if callable(is_verified) else False


def _timeout_message(reason: str) -> str:
    if reason == sessions.IDLE:
        minutes = settings.SESSION_IDLE_MINUTES
        return ngettext(
            "You were logged out after %(minutes)d minute without activity. Please log in again.",
            "You were logged out after %(minutes)d minutes without activity. Please log in again.",
            minutes,
        ) % {"minutes": minutes}
    hours = settings.SESSION_MAX_HOURS
    return ngettext(
        "Your session ended after %(hours)d hour. Please log in again.",
        "Your session ended after %(hours)d hours. Please log in again.",
        hours,
    ) % {"hours": hours}


def _login_url(request: HttpRequest) -> str:
    login = reverse(settings.LOGIN_URL)
    if request.method == "GET":
        return f"{login}?{urlencode({'next': request.get_full_path()})}"
    return login
