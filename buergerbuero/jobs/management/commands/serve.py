import os
import threading
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from buergerbuero.demo.data import DEMO_PASSWORD, DEMO_TOTP_SECRET
from buergerbuero.demo.services import demo_logins
from buergerbuero.jobs.registry import join_lanes, start_lanes
from buergerbuero.lib.env import env_int, served_url
from buergerbuero.orgs.models import Organization
from buergerbuero.sfu.process import start_embedded

APP = "buergerbuero.config.asgi:application"


class Command(BaseCommand):
    help = "Serve the product over ASGI (uvicorn); in the embedded mode also run the background jobs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        # env_int: PORT=abc ends in manage.py's one-line configuration error, not a traceback.
        parser.add_argument("--port", type=int, default=env_int("PORT", 8000))
        parser.add_argument("--workers", type=int, default=env_int("WEB_WORKERS", 1))
        parser.add_argument("--banner", action="store_true", help="print the URLs and demo logins")
        parser.add_argument(
            "--janus",
            action="store_true",
            help="also run the embedded Janus for events (if JANUS_SERVERS is unset and Janus installed)",
        )

    def handle(
        self, *args: Any, host: str, port: int, workers: int, banner: bool, janus: bool, **options: Any
    ) -> None:
        if workers > 1 and settings.JOBS_IN_WEB_PROCESS:
            self.stderr.write("Several web workers need REDIS_URL and a separate `manage.py worker`.")
            raise SystemExit(2)
        if not os.environ.get("PUBLIC_URL"):
            # Links in e-mails, SMS and calendar files point where this server listens, also
            # when --host/--port differ from HOST/PORT (worker processes read the environment).
            os.environ["HOST"], os.environ["PORT"] = host, str(port)
            settings.PUBLIC_URL = served_url()
        if banner:
            self._print_banner(host, port)
        common: dict[str, Any] = {
            "host": host,
            "port": port,
            # Browsers offer compression; it costs CPU per socket per message (measured).
            "ws_per_message_deflate": False,
            # Larger frames are refused (close 1009) before a consumer sees them.
            "ws_max_size": settings.WS_MAX_BYTES,
            "proxy_headers": True,
            # X-Forwarded-For/-Proto count only from these (the reverse proxy): anyone else who
            # reaches the server directly cannot choose the address the rate limits see.
            "forwarded_allow_ips": settings.FORWARDED_ALLOW_IPS,
            "log_level": "info",
            "lifespan": "off",  # Django's ASGI handler has no lifespan events
            # uvicorn's loggers go through Django's LOGGING (its handler redacts link secrets)
            # instead of uvicorn's own handlers.
            "log_config": None,
        }
        # The embedded mode's Janus (events' media), when JANUS_SERVERS names none and it is
        # installed; stopped with the server. Without it the product runs on, events cannot go live.
        sfu = start_embedded() if janus else None
        try:
            if workers > 1:
                uvicorn.run(APP, workers=workers, **common)
                return
            stop = threading.Event()
            lanes = start_lanes(stop) if settings.JOBS_IN_WEB_PROCESS else []
            try:
                uvicorn.Server(uvicorn.Config(APP, **common)).run()  # returns on Ctrl-C / SIGTERM
            finally:
                stop.set()
                join_lanes(lanes, timeout=10)
        finally:
            if sfu is not None:
                sfu.stop()

    def _print_banner(self, host: str, port: int) -> None:
        shown_host = "localhost" if host in {"127.0.0.1", "0.0.0.0", "::"} else host  # noqa: S104
        base = f"http://{shown_host}:{port}"
        first = Organization.objects.order_by("pk").first()
        lines = [
            "",
            "Virtuelles Bürgerbüro is starting.",
            f"  Citizens:  {base}/{first.slug}/" if first else f"  Citizens:  {base}/",
            f"  Staff:     {base}/staff/",
            f"  Admin:     {base}/admin/",
            f"  Demo logins (password for all: {DEMO_PASSWORD}):",
            *[f"    {user:<20} {role:<12} {org}" for user, role, org in demo_logins()],
            "  Org admins and betrieb confirm with a second factor: the current code is printed by",
            "    .venv/bin/python manage.py demo_code admin.musterstadt",
            f"    (or add the key {DEMO_TOTP_SECRET} to an authenticator app)",
            "  Stop with Ctrl-C.",
            "",
        ]
        self.stdout.write("\n".join(lines))
