import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand

from buergerbuero.jobs.registry import join_lanes, start_lanes

STOP_TIMEOUT = 30.0


class Command(BaseCommand):
    help = "Run the background jobs until SIGINT or SIGTERM (scaled mode: one such process)."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            self.stdout.write("Stopping background jobs …")
            stop.set()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        lanes = start_lanes(stop)
        self.stdout.write("Background jobs running.")
        while not stop.is_set() and all(lane.is_alive() for lane in lanes):
            stop.wait(1.0)
        stop.set()
        # A message being sent finishes first (its SMTP or gateway timeout bounds the wait).
        join_lanes(lanes, timeout=STOP_TIMEOUT)
        self.stdout.write("Background jobs stopped.")
