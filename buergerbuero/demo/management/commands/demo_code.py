from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from buergerbuero.demo.data import DEMO_TOTP_SECRET


class Command(BaseCommand):
    help = "Print the current second-factor code of a demo login (org admins, betrieb)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", nargs="?", default="admin.musterstadt")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        device = TOTPDevice.objects.filter(user__username=username, confirmed=True).first()
        if device is None:
            raise CommandError(f"{username} has no authenticator app")
        if device.bin_key != _demo_key():
            raise CommandError(f"{username} does not use the demo key; only demo logins have published codes")
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift)
        self.stdout.write(f"{code:0{device.digits}d}")


def _demo_key() -> bytes:
    import base64

    return base64.b32decode(DEMO_TOTP_SECRET)
