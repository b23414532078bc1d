import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand

from buergerbuero.jobs.registry import run_jobs


class Command(BaseCommand):
    help = "Run the background jobs until SIGINT or SIGTERM (scaled mode: one such process)."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            self.stdout.write("Stopping background jobs …")
            stop.set()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        self.stdout.write("Background jobs running.")
        run_jobs(stop)
