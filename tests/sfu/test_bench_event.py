"""bench/event.py, small: two lean viewers really receive the host's video through Janus, and one
of them brought on stage is seen by the other (the figures themselves are the bench's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.janus import require_janus

pytestmark = pytest.mark.mode_independent

ROOT = Path(__file__).resolve().parents[2]


def test_two_viewers_see_the_host_and_a_guest() -> None:
    require_janus()
    result = subprocess.run(
        [sys.executable, "bench/event.py", "--viewers", "2", "--seconds", "1", "--switches", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["connected_viewers"] == 2
    assert report["failures"] == 0
    assert report["stage_switch_failures"] == 0
    assert report["stage_switch_p95_ms"] is not None
    assert report["frames_per_viewer_second"] > 0  # frames kept arriving after the first picture
    assert report["video_kbps_per_viewer"] > 0
    assert report["janus_cpu_ms_per_s_all_viewers"] is not None
