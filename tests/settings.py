"""The settings of the test run: the product's own, once the embedded mode's folder and secret key
exist. pytest-django imports the settings before any conftest runs, and the product's settings
only read (``buergerbuero.lib.var_dir``), so the test run makes them first, as ``manage.py`` does
for every command."""

from buergerbuero.lib import var_dir

var_dir.prepare()

from buergerbuero.config.settings import *  # noqa: E402, F403
