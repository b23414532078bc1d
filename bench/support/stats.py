"""Statistics of the benchmarks: nearest-rank percentiles and milliseconds for the report."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1): a value that was measured, never interpolated;
    NaN for no values (the report shows it as ``null``)."""
    if not values:
        return math.nan
    ordered = sorted(values)  # linear on what is sorted already
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def finite(value: float) -> float | None:
    """``None`` for NaN and infinity (JSON has neither)."""
    return None if math.isnan(value) or math.isinf(value) else value


def rounded(value: float | None, digits: int = 1) -> float | None:
    checked = None if value is None else finite(value)
    return None if checked is None else round(checked, digits)


def in_ms(seconds: float) -> float | None:
    """Seconds as milliseconds for the report (one decimal; ``None`` where not finite)."""
    return rounded(seconds * 1000)


def ms_percentile(seconds: Sequence[float], q: float) -> float | None:
    """A percentile of durations in seconds, in milliseconds."""
    return in_ms(percentile(seconds, q))


def ratio(value: float, baseline: float, digits: int = 2) -> float | None:
    """``value / baseline`` (the baseline measured in the same run), ``None`` without one."""
    if baseline <= 0 or math.isnan(baseline) or math.isnan(value):
        return None
    return round(value / baseline, digits)
