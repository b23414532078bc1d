"""Output of the benchmarks: readable lines while they run, one JSON object as the last line."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from typing import Any


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def with_all(targets: dict[str, bool]) -> dict[str, bool]:
    """The targets of the issue and whether all of them are met (``targets_met`` in the JSON)."""
    return {**targets, "all": all(targets.values())}


def emit(result: dict[str, Any]) -> None:
    """The result as the last line (scripts and tests read that line)."""
    say(json.dumps(result))


def run_and_report(measure: Callable[[], dict[str, Any]], cleanup: Callable[[], None]) -> int:
    """The life of a bench: ``measure`` (set up, run, evaluate), then ``cleanup`` whatever
    happened (Ctrl-C and SIGTERM included, and not interrupted itself: the servers, databases
    and Redis keys must go), then the result as the last line. Exit code 130 when interrupted."""
    from bench.support.processes import terminate_as_interrupt

    with terminate_as_interrupt():
        try:
            result = measure()
        except KeyboardInterrupt:
            sys.stderr.write("interrupted; cleaning up\n")
            return 130
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            cleanup()
            signal.signal(signal.SIGINT, signal.default_int_handler)
    emit(result)
    return 0
