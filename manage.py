#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buergerbuero.config.settings")
    from django.core.management import execute_from_command_line

    from buergerbuero.lib import var_dir
    from buergerbuero.lib.env import ConfigError

    try:
        # The embedded mode's folder and secret key, before the settings read them.
        var_dir.prepare()
        execute_from_command_line(sys.argv)
    except ConfigError as error:
        # A value that makes no sense (PORT=abc) stops the start with one clear line.
        sys.stderr.write(f"Configuration error: {error}\n")
        sys.exit(2)
