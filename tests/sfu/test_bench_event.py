"""bench/event.py, small: three lean viewers really receive the host's video through Janus and see
two guests come on stage one after the other (the second on the m-lines the first left); the
figures themselves are the bench's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.janus import require_janus

pytestmark = pytest.mark.mode_independent

ROOT = Path(__file__).resolve().parents[2]


def test_three_viewers_see_the_host_and_two_guests_in_turn() -> None:
    require_janus()
    result = subprocess.run(
        [sys.executable, "bench/event.py", "--viewers", "3", "--seconds", "1", "--switches", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["connected_viewers"] == 3
    assert report["failures"] == 0
    assert report["stage_switch_failures"] == 0
    assert report["stage_switch_p95_ms"] is not None
    assert report["frames_per_viewer_second"] > 0  # frames kept arriving after the first picture
    assert report["video_kbps_per_viewer"] > 0
    assert report["janus_cpu_ms_per_s_all_viewers"] is not None
