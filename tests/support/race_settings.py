"""Settings of the server processes of the booking races (``tests/booking/test_races.py``):
the product's settings plus the race seams of ``tests.support.lock_race``, taken from the
environment. Read only by tests (``DJANGO_SETTINGS_MODULE`` of those servers), never by the product.

- ``RACE_HOLD_SECONDS``: every save of an appointment sleeps this long first (the window between
  “this time is free” and the write, widened so that a race without the lock surely collides).
- ``RACE_WITHOUT_LOCKS=true``: ``locking.locked`` is the identity (patched before the apps import
  it, which happens after the settings are read) and SQLite's transactions are ``DEFERRED``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from django.db.models.signals import pre_save

from buergerbuero.config.settings import *  # noqa: F403
from buergerbuero.config.settings import DATABASES
from buergerbuero.lib import locking

HOLD_SECONDS = float(os.environ.get("RACE_HOLD_SECONDS", "0"))
WITHOUT_LOCKS = os.environ.get("RACE_WITHOUT_LOCKS") == "true"


def _hold(**_kwargs: Any) -> None:
    time.sleep(HOLD_SECONDS)


if HOLD_SECONDS > 0:
    # A lazy sender ("app.Model"): the models are not loaded yet while settings are read.
    pre_save.connect(_hold, sender="booking.Appointment", weak=False, dispatch_uid="race-hold")

if WITHOUT_LOCKS:
    locking.locked = lambda queryset, *, skip_locked=False: queryset
    if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        DATABASES["default"]["OPTIONS"]["transaction_mode"] = "DEFERRED"
