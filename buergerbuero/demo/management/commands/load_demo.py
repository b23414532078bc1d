from typing import Any

from django.core.management.base import BaseCommand

from buergerbuero.demo.services import load_demo


class Command(BaseCommand):
    help = "Create or update the demo organisations, offices and staff (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        load_demo()
        self.stdout.write(self.style.SUCCESS("Demo data is up to date."))
