"""bench/support: the statistics every bench reports, and the lean load client against the
bare broadcast server (real processes and sockets), which the waiting-room bench stands on."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.support.broadcast import BroadcastServer
from bench.support.stats import in_ms, ms_percentile, percentile, ratio, rounded
from bench.support.websocket import BASELINE, ClientPool, ClientSpec

pytestmark = pytest.mark.mode_independent


def test_percentile_is_the_nearest_rank_of_what_was_measured() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]  # unsorted on purpose
    assert percentile(values, 0.5) == 3.0
    assert percentile(values, 0.95) == 5.0
    assert percentile(values, 0.0) == 1.0
    assert percentile(values, 1.0) == 5.0
    assert percentile(list(range(1, 101)), 0.99) == 99
    assert math.isnan(percentile([], 0.5))


def test_the_report_never_holds_nan_or_infinity() -> None:
    assert in_ms(0.01234) == 12.3
    assert in_ms(math.inf) is None
    assert ms_percentile([], 0.99) is None
    assert rounded(math.nan) is None
    assert ratio(3.0, 1.5) == 2.0
    assert ratio(3.0, 0.0) is None  # no baseline measured: no ratio, rather than a made-up one
    assert ratio(math.nan, 1.0) is None


def test_the_lean_client_receives_every_broadcast(tmp_path: Path) -> None:
    sockets = 20
    server = BroadcastServer({"type": "queue", "seq": 0, "live": {"waiting": 1}}, tmp_path)
    pool = ClientPool(1)
    try:
        specs = [ClientSpec(i, server.port, f"/ws/{i}/", BASELINE) for i in range(sockets)]
        connected, failed, _ = pool.connect(specs, inflight=8, timeout=30)
        assert (connected, failed) == (sockets, 0)  # each had its snapshot
        server.broadcast(7)
        received, expected = pool.wait(7, BASELINE, -1, timeout=30)
        assert (received, expected) == (sockets, sockets)
        collected = pool.collect()
        assert len(collected.receipts[7]) == sockets
        assert collected.lost == [0, 0]
    finally:
        pool.close()
        server.stop()
