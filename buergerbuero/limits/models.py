from __future__ import annotations

from django.db import models


class Counter(models.Model):
    """How often one subject (a client address, an e-mail address, an organisation …) did one
    thing (``scope``) in one fixed time window.

    ``key`` is an HMAC of scope and subject under the ``SECRET_KEY``: no address, e-mail or
    phone number is stored. Windows are Unix seconds, so that both databases compare plain
    integers.
    """

    key = models.CharField(max_length=64)
    scope = models.CharField(max_length=40)  # readable, for operators: "booking-address" …
    window_start = models.BigIntegerField()
    expires = models.BigIntegerField(db_index=True)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window_start"], name="limits_counter_window")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key[:8]}… @{self.window_start}: {self.count}"
