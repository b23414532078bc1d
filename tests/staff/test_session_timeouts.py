"""Staff sessions end after SESSION_IDLE_MINUTES without a request and SESSION_MAX_HOURS
after the login (defaults 30 minutes and 12 hours), with a message on the login page."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings

HOME = reverse("staff:home")
LOGIN = reverse("staff:login")
START = timezone.now().replace(microsecond=0) + dt.timedelta(days=1)


def logged_in_at(moment: dt.datetime, user: User) -> Client:
    with time_machine.travel(moment, tick=False):
        client = Client(headers={"accept-language": "en"})
        client.force_login(user)
    return client


def get_at(client: Client, moment: dt.datetime, url: str = HOME) -> int:
    with time_machine.travel(moment, tick=False):
        return client.get(url).status_code


def test_defaults_are_thirty_minutes_idle_and_twelve_hours_in_all() -> None:
    assert settings.SESSION_IDLE_MINUTES == 30
    assert settings.SESSION_MAX_HOURS == 12
    assert settings.SESSION_COOKIE_AGE == 12 * 3600


def test_activity_keeps_the_session_and_thirty_idle_minutes_end_it(agent: User) -> None:
    client = logged_in_at(START, agent)
    assert get_at(client, START + dt.timedelta(minutes=29)) == 200
    assert get_at(client, START + dt.timedelta(minutes=58)) == 200  # 29 minutes after the last request

    later = START + dt.timedelta(minutes=89)
    with time_machine.travel(later, tick=False):
        response = client.get(HOME)
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN + "?next=")
        assert "_auth_user_id" not in client.session
        page = client.get(response["Location"]).content.decode()
    assert "logged out after 30 minutes without activity" in page


def test_the_session_ends_after_twelve_hours_however_active(agent: User) -> None:
    client = logged_in_at(START, agent)
    for quarter in range(1, 48):  # every 15 minutes for 11¾ hours
        assert get_at(client, START + dt.timedelta(minutes=15 * quarter)) == 200

    with time_machine.travel(START + dt.timedelta(hours=12, minutes=1), tick=False):
        response = client.get(HOME)
        assert response.status_code == 302
        page = client.get(response["Location"]).content.decode()
    assert "Your session ended after 12 hours" in page


def test_the_idle_limit_is_a_setting(agent: User, settings: Settings) -> None:
    settings.SESSION_IDLE_MINUTES = 5
    client = logged_in_at(START, agent)

    assert get_at(client, START + dt.timedelta(minutes=4)) == 200
    assert get_at(client, START + dt.timedelta(minutes=10)) == 302


def test_a_session_from_before_these_rules_counts_as_ended(agent: User) -> None:
    client = logged_in_at(START, agent)
    session = client.session
    del session["bb_login_started"]
    session.save()

    assert get_at(client, START + dt.timedelta(minutes=1)) == 302
