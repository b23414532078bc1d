from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from buergerbuero.lib.env import ConfigError
from buergerbuero.sfu.process import JanusProcess, parse_port_range


class Command(BaseCommand):
    help = (
        "Write the Janus configuration of this installation (its secrets, config/janus/) into a folder, "
        "for another Janus server: then `janus -F <folder>` there and add it to JANUS_SERVERS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path)
        parser.add_argument(
            "--listen", default="127.0.0.1", help="address of the HTTP API (web servers only)"
        )
        parser.add_argument("--port", type=int, default=settings.JANUS_PORT)
        parser.add_argument("--admin-port", type=int, default=settings.JANUS_ADMIN_PORT)
        parser.add_argument("--rtp-ports", default=settings.JANUS_RTP_PORTS)
        parser.add_argument("--public-ip", default=settings.JANUS_PUBLIC_IP)
        parser.add_argument("--interfaces", default=settings.JANUS_ICE_INTERFACES)
        parser.add_argument("--name", default="buergerbuero")

    def handle(self, *args: Any, folder: Path, **options: Any) -> None:
        try:
            rtp_ports = parse_port_range(options["rtp_ports"])
        except ConfigError as error:
            raise CommandError(str(error)) from None
        janus = JanusProcess(
            folder.resolve(),
            api_secret=settings.JANUS_API_SECRET,
            admin_secret=settings.JANUS_ADMIN_SECRET,
            admin_key=settings.JANUS_ADMIN_KEY,
            http_port=options["port"],
            admin_port=options["admin_port"],
            rtp_ports=rtp_ports,
            ice_enforce_list=options["interfaces"],
            public_ip=options["public_ip"],
            http_ip=options["listen"],
            server_name=options["name"],
        )
        janus.render()
        self.stdout.write(
            f"Written to {janus.folder} (it holds the secrets: keep it readable by Janus only).\n"
            f"Start: janus -F {janus.folder}\n"
            f"Then add {options['name']}=http://{options['listen']}:{options['port']}/janus to JANUS_SERVERS."
        )
