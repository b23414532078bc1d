"""Output of the benchmarks: readable lines while they run, one JSON object as the last line."""

from __future__ import annotations

import json
import sys
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
