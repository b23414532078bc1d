"""The wait-estimate bench runs (small) and reports what issue #13 asks for."""

from __future__ import annotations

import json

import pytest

from bench import wait_estimate

pytestmark = pytest.mark.mode_independent


def test_quick_bench_reports_oracle_range_and_cold_start(capsys: pytest.CaptureFixture[str]) -> None:
    assert wait_estimate.main(["--quick"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("ratio", "ratio_to_oracle", "oracle_mae_minutes", "range_coverage", "cold_start_known_share"):
        assert isinstance(report[key], float | int), key
    assert {"new_office", "services_differ"} <= set(report["per_scenario"])
    assert report["cold_start_known_share"] >= 0.95  # a wait is told from the first citizen
    assert report["ratio"] < 1  # better than position × average ÷ agents
    assert report["oracle_moments"] == 200 * len(wait_estimate.SCENARIOS)
