"""The job loop's sign of life, one row per lane (read by ``/readyz`` and ``/metrics``)."""

from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    lane = models.CharField(max_length=40, primary_key=True)
    beat_at = models.DateTimeField()
    # How late the lane's jobs started (the largest since the previous beat), in seconds.
    lag_seconds = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return f"{self.lane} at {self.beat_at:%H:%M:%S}"
