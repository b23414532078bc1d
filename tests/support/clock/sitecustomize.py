"""Moves the wall clock of a server process started for a test (Python imports this module at
start-up when its folder is on ``PYTHONPATH``).

A test that needs the product to live at another moment puts this folder first on the server
process's ``PYTHONPATH`` and says in ``BB_TEST_CLOCK_SHIFT`` how many seconds that moment lies
ahead of the real clock (negative: behind). Python imports ``sitecustomize`` after the site
packages are on the path and before ``manage.py`` runs, so the whole process (Django, the job
loop, uvicorn's ``Date`` header) lives in the moved time from its first line on, and the clock
keeps ticking. Only wall-clock time moves (``time.time``, ``datetime.now`` …):
``time.monotonic`` — asyncio's and the job loop's timers — is left alone, so uvicorn and the
periodic jobs keep their pace. A shift rather than a moment: every process started with it,
and the test itself, agree on the time to the millisecond.

(Being first on the path, this module hides any other ``sitecustomize`` of the interpreter
for that process; the project's virtualenv has none.)
"""

from __future__ import annotations

import os
import time

_shift = float(os.environ.get("BB_TEST_CLOCK_SHIFT") or 0)
if _shift:
    import time_machine

    time_machine.travel(time.time() + _shift, tick=True).start()
