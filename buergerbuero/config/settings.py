"""Settings for the Virtuelles Bürgerbüro.

Every value comes from the environment (see ``.env.example``). With nothing set, the
project runs in its *embedded default*: SQLite in WAL mode in ``var/``, real-time events fanned
out within the process. Setting ``DATABASE_URL`` and ``REDIS_URL`` switches to the *scaled* mode.
Importing this module only reads: ``var/`` and its secret key are made by the entry points
(``buergerbuero.lib.var_dir``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _

from buergerbuero.lib import var_dir
from buergerbuero.lib.env import ConfigError, env_bool, env_int, env_list, env_str, served_url
from buergerbuero.sfu.servers import janus_servers, sfu_secret

BASE_DIR = var_dir.BASE_DIR
VAR_DIR = var_dir.var_dir()
# The configured key, or the one generated once into VAR_DIR for the embedded mode.
SECRET_KEY = var_dir.secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "buergerbuero.orgs",
    "buergerbuero.offices",
    "buergerbuero.staff",
    "buergerbuero.waiting",
    "buergerbuero.forms",
    "buergerbuero.consult",
    "buergerbuero.booking",
    "buergerbuero.events",
    "buergerbuero.stats",
    "buergerbuero.notify",
    "buergerbuero.embed",
    "buergerbuero.demo",
    "buergerbuero.jobs",
    "buergerbuero.audit",
    "buergerbuero.limits",
    "buergerbuero.sfu",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Staff accounts: login throttling (axes) and the second factor (django-otp).
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "channels",
    "corsheaders",
    "ninja",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise (static files need no page policy), before everything that renders:
    # the one Content-Security-Policy (frame-ancestors included) and the Permissions-Policy.
    "buergerbuero.lib.browser_policy.ContentSecurityPolicyMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Staff sessions end after SESSION_IDLE_MINUTES / SESSION_MAX_HOURS; a login that needs a
    # second factor reaches only the second-factor pages until it is verified.
    "buergerbuero.staff.middleware.SessionTimeoutMiddleware",
    "buergerbuero.staff.middleware.SecondFactorMiddleware",
    # Last, as axes asks: turns a locked-out login into our lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "buergerbuero.config.urls"
ASGI_APPLICATION = "buergerbuero.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "buergerbuero" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    # Persistent connections do not suit ASGI: every request runs in a thread of its own, so
    # kept connections pile up until PostgreSQL refuses more (Django's deployment docs).
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
    # A pool per process instead: a burst of requests (200 citizens booking the same minute)
    # waits for one of DB_POOL_SIZE connections rather than failing with "too many clients".
    DB_POOL_SIZE = env_int("DB_POOL_SIZE", 10)
    if DATABASES["default"]["ENGINE"].endswith("postgresql") and DB_POOL_SIZE > 0:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": DB_POOL_SIZE,
            "timeout": env_int("DB_POOL_TIMEOUT", 30),
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(VAR_DIR / "buergerbuero.sqlite3")),
            # Kept open: requests run on a fixed pool of threads (lib/asgi_handler.py), the
            # sockets' database work on one thread; opening a connection with its PRAGMAs
            # cost 14 % of the server's CPU in a morning rush.
            "CONN_MAX_AGE": None,
            "OPTIONS": {
                # Concurrent writers queue up instead of failing with "database is locked".
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA foreign_keys=ON;"
                    "PRAGMA busy_timeout=20000;"
                ),
            },
            # A file (not :memory:) so that server processes started by the tests share it;
            # one per test run so that parallel runs do not trample on each other.
            "TEST": {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Threads that serve HTTP requests in each web process (lib/asgi_handler.py), as a WSGI
# server's; PostgreSQL's connections come from the pool of DB_POOL_SIZE per process.
REQUEST_THREADS = env_int("REQUEST_THREADS", 16)

# --- Redis (scaled mode) ------------------------------------------------------------------
# No CHANNEL_LAYERS: the consumers use no channel layer. buergerbuero.realtime fans events out
# within the process and through one Redis pub/sub subscription per process across them.
REDIS_URL = env_str("REDIS_URL")
REDIS_PREFIX = env_str("REDIS_PREFIX", "bb")

# Rate limits need one shared counter per client across processes: Redis when scaled.
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's Redis cache, with one connection pool per process (not per request).
            "BACKEND": "buergerbuero.lib.cache.SharedPoolRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_PREFIX,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth ---------------------------------------------------------------------------------
LOGIN_URL = "staff:login"
LOGIN_REDIRECT_URL = "staff:home"
LOGOUT_REDIRECT_URL = "staff:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes, attempts kept in the database so that every process sees
# them): LOGIN_FAILURE_LIMIT failures for one account, or from one client address, lock
# further attempts for LOGIN_COOLOFF_MINUTES (a failure during the lockout starts it anew).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "buergerbuero.staff.lockout.locked_out"
# The address the server saw (uvicorn puts the proxy's X-Forwarded-For there only for
# FORWARDED_ALLOW_IPS); a header a client sends itself is never trusted.
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
# Successful logins are H6's audit log's business; axes keeps only the failures.
AXES_DISABLE_ACCESS_LOG = True
# Second factor (django-otp): TOTP apps and single-use recovery codes.
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Virtuelles Bürgerbüro")
# Staff sessions: logged out after SESSION_IDLE_MINUTES without a request and, whatever
# happens, SESSION_MAX_HOURS after the login (buergerbuero.staff.middleware).
SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 30)
SESSION_MAX_HOURS = env_int("SESSION_MAX_HOURS", 12)
SESSION_COOKIE_AGE = SESSION_MAX_HOURS * 3600
if SESSION_IDLE_MINUTES < 1 or SESSION_MAX_HOURS < 1:
    raise ConfigError("SESSION_IDLE_MINUTES and SESSION_MAX_HOURS must be at least 1")

# --- Languages and time -------------------------------------------------------------------
LANGUAGE_CODE = "de"
# Everything a citizen sees exists in these; Arabic is written right to left.
LANGUAGES = [
    ("de", _("German")),
    ("en", _("English")),
    ("tr", _("Turkish")),
    ("ar", _("Arabic")),
    ("uk", _("Ukrainian")),
    ("ru", _("Russian")),
]
LOCALE_PATHS = [BASE_DIR / "buergerbuero" / "locale"]
FORMAT_MODULE_PATH = ["buergerbuero.formats"]
LANGUAGE_COOKIE_NAME = "bb_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "Europe/Berlin"
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files ------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"  # made with VAR_DIR (lib.var_dir.prepare); WhiteNoise expects it
STATICFILES_DIRS = [BASE_DIR / "buergerbuero" / "static"]
# Serve straight from the apps' static folders: no collectstatic step for the embedded mode.
WHITENOISE_USE_FINDERS = True
# A separate, cookieless origin (e.g. https://media.example.de/) is the stronger choice for
# uploads; it must serve MEDIA_ROOT with the headers of buergerbuero.offices.media_views.
MEDIA_URL = env_str("MEDIA_URL", "/media/").rstrip("/") + "/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

# --- E-mail -------------------------------------------------------------------------------
# Django's SMTP backend when EMAIL_HOST is set; otherwise (the embedded default) each message is
# one line in the server's log (masked recipient; LOG_MESSAGE_PREVIEW adds its links).
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "buergerbuero.notify.transports.log_email.LogEmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Virtuelles Bürgerbüro <buergerbuero@localhost>")
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ConfigError("EMAIL_USE_TLS and EMAIL_USE_SSL exclude each other")

# --- Security headers ---------------------------------------------------------------------
# CORS only for the read API, and only for the websites an organisation lists
# (buergerbuero.embed.cors decides per request).
CORS_URLS_REGEX = r"^/api/v1/.*$"
CORS_ALLOW_METHODS = ("GET", "OPTIONS")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Behind HTTPS the citizen pages also work embedded in another site's frame: the cookies
# their forms need (CSRF, language) must then travel in a cross-site frame.
if SESSION_COOKIE_SECURE:
    CSRF_COOKIE_SAMESITE = "None"
    LANGUAGE_COOKIE_SAMESITE = "None"
    LANGUAGE_COOKIE_SECURE = True
# HSTS behind HTTPS: a year unless HSTS_SECONDS says otherwise (SecurityMiddleware sends it on
# HTTPS responses only). The scheme comes from uvicorn, which believes X-Forwarded-Proto only
# from FORWARDED_ALLOW_IPS; SECURE_PROXY_SSL_HEADER stays unset because Django would believe
# that header from anyone who reaches the server directly.
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 365 * 24 * 3600 if SESSION_COOKIE_SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", False)
if SECURE_HSTS_SECONDS and not SESSION_COOKIE_SECURE:
    raise ConfigError("HSTS_SECONDS needs SECURE_COOKIES=true (the site behind HTTPS)")
# The proxies whose X-Forwarded-For/-Proto uvicorn believes (comma-separated addresses or
# networks, "*" for any): the client address of rate limits and the https scheme come from them.
FORWARDED_ALLOW_IPS = env_list("FORWARDED_ALLOW_IPS", ["127.0.0.1"])

# Content-Security-Policy (django-csp, buergerbuero.lib.browser_policy): scripts and styles
# only from our origin or with the response's nonce (base.html's brand colour), never
# 'unsafe-inline'. Django's admin needs no inline style either: its one inline <style>
# (change_list.html) appears only when a list has no actions at the top or bottom, which none
# of ours does, and its scripts set styles through the CSSOM, which CSP does not govern.
# WebSockets: 'self' covers ws:/wss: to our own host (CSP Level 3, Chromium since 2017).
# frame-ancestors: 'self' here; citizen pages name their organisation's websites
# (buergerbuero.embed.framing).
_MEDIA = urlsplit(MEDIA_URL)
_MEDIA_ORIGIN = [f"{_MEDIA.scheme}://{_MEDIA.netloc}"] if _MEDIA.scheme and _MEDIA.netloc else []
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        # data: for QR codes (the second factor's setup) and nothing executable.
        "img-src": [SELF, "data:", *_MEDIA_ORIGIN],
        "media-src": [SELF, *_MEDIA_ORIGIN],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [SELF],
    }
}
# Permissions-Policy (django-permissions-policy): every powerful feature off; the consultation
# page turns camera, microphone and screen capture on for itself (browser_policy.allow_devices).
# Only features Chromium knows (it warns about others). Not here: autoplay (the call's videos,
# the waiting room's and console's chimes) and publickey-credentials-get (passkeys).
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "browsing-topics",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "local-fonts",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

# --- Consultations: media relay, documents, retention -------------------------------------
# STUN/TURN for calls across restrictive networks (coturn with use-auth-secret); without
# them calls on a LAN and on localhost still work. Media never pass through this server.
STUN_URLS = env_list("STUN_URLS", [])
TURN_URLS = env_list("TURN_URLS", [])
TURN_SECRET = env_str("TURN_SECRET")
TURN_CREDENTIAL_TTL = env_int("TURN_CREDENTIAL_TTL", 6 * 3600)
# "relay" sends every call through TURN, which hides the participants' IP addresses from
# each other (a privacy choice some organisations make); "all" lets browsers connect directly.
ICE_TRANSPORT_POLICY = env_str("ICE_TRANSPORT_POLICY", "all")
if ICE_TRANSPORT_POLICY not in {"all", "relay"}:
    raise ConfigError("ICE_TRANSPORT_POLICY must be all or relay")

# --- Events: Janus (Debian's `janus`) as the SFU --------------------------------------------
# JANUS_SERVERS: "name=http://host:8088/janus,…" (the Janus API of each server; an event is
# assigned to one). Unset: one embedded Janus on loopback that `manage.py serve` starts
# (buergerbuero.sfu.process). All servers share the secrets below; without them they are
# derived from SECRET_KEY, so every process of one installation agrees without a file.
JANUS_API_SECRET = env_str("JANUS_API_SECRET") or sfu_secret(SECRET_KEY, "api")
JANUS_ADMIN_KEY = env_str("JANUS_ADMIN_KEY") or sfu_secret(SECRET_KEY, "admin-key")
JANUS_ADMIN_SECRET = env_str("JANUS_ADMIN_SECRET") or sfu_secret(SECRET_KEY, "admin")
JANUS_PATH = env_str("JANUS_PATH", "/usr/bin/janus")
JANUS_PORT = env_int("JANUS_PORT", 8088)
JANUS_ADMIN_PORT = env_int("JANUS_ADMIN_PORT", 7088)
JANUS_RTP_PORTS = env_str("JANUS_RTP_PORTS", "20000-20999")
# The interfaces (or address prefixes, comma-separated) the embedded Janus offers ICE candidates
# on (default: all but loopback, which Janus never offers) and the public address it announces
# behind a 1:1 NAT.
JANUS_ICE_INTERFACES = env_str("JANUS_ICE_INTERFACES")
JANUS_PUBLIC_IP = env_str("JANUS_PUBLIC_IP")
JANUS_EMBEDDED = not env_list("JANUS_SERVERS", [])
JANUS_SERVERS = janus_servers(
    env_list("JANUS_SERVERS", [f"embedded=http://127.0.0.1:{JANUS_PORT}/janus"]),
    api_secret=JANUS_API_SECRET,
    admin_key=JANUS_ADMIN_KEY,
)
CONSULTATION_RETENTION_DAYS = env_int("CONSULTATION_RETENTION_DAYS", 30)
DOCUMENT_MAX_BYTES = env_int("DOCUMENT_MAX_BYTES", 15 * 1024 * 1024)
# Office forms (fillable PDFs) uploaded in the admin; larger ones are refused by their size alone.
FORM_PDF_MAX_BYTES = env_int("FORM_PDF_MAX_BYTES", 10 * 1024 * 1024)
# Request bodies above this are refused before they are read (buergerbuero.lib.asgi_limits);
# 0: the largest legitimate upload (a document or the waiting-area video) plus 1 MiB.
REQUEST_MAX_BYTES = env_int("REQUEST_MAX_BYTES", 0)
# WebSocket frames above this are refused by the server (uvicorn's ws_max_size); the largest
# legitimate message is a consultation's signalling message (consult.consumers.MAX_SIGNAL_BYTES).
WS_MAX_BYTES = env_int("WS_MAX_BYTES", 128 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
INTERPRETER_INVITE_HOURS = env_int("INTERPRETER_INVITE_HOURS", 4)

# --- Appointments and notifications --------------------------------------------------------
# The address of this site as citizens reach it: links in e-mails, SMS and calendar files point
# here. Without it: where `serve` listens (HOST, PORT), see lib.env.served_url.
PUBLIC_URL = env_str("PUBLIC_URL", served_url()).rstrip("/")
# Minutes before the start at which a reminder goes out (e-mail and SMS).
APPOINTMENT_REMINDERS = [int(minutes) for minutes in env_list("APPOINTMENT_REMINDERS", ["1440", "15"])]
APPOINTMENT_JOIN_EARLY_MINUTES = env_int("APPOINTMENT_JOIN_EARLY_MINUTES", 10)
# How long after its end an appointment's link still opens the waiting area.
APPOINTMENT_GRACE_MINUTES = env_int("APPOINTMENT_GRACE_MINUTES", 30)
APPOINTMENT_RETENTION_DAYS = env_int("APPOINTMENT_RETENTION_DAYS", 30)
# Audit log entries (staff actions, logins) are kept as long as the longer of the two above.
AUDIT_RETENTION_DAYS = env_int(
    "AUDIT_RETENTION_DAYS", max(CONSULTATION_RETENTION_DAYS, APPOINTMENT_RETENTION_DAYS)
)
# SMS through a generic HTTP gateway (most German providers take a POST with the number and
# the text). Without SMS_GATEWAY_URL the messages are written to the log.
SMS_GATEWAY_URL = env_str("SMS_GATEWAY_URL")
SMS_GATEWAY_USER = env_str("SMS_GATEWAY_USER")
SMS_GATEWAY_PASSWORD = env_str("SMS_GATEWAY_PASSWORD")
SMS_GATEWAY_TOKEN = env_str("SMS_GATEWAY_TOKEN")  # sent as "Authorization: Bearer …"
# "json" or "form"; the body's fields, with {to}, {text} and {sender} filled in.
SMS_GATEWAY_FORMAT = env_str("SMS_GATEWAY_FORMAT", "json")
SMS_GATEWAY_BODY = env_str("SMS_GATEWAY_BODY", '{"to": "{to}", "text": "{text}", "sender": "{sender}"}')
SMS_SENDER = env_str("SMS_SENDER", "Buergerbuero")
if SMS_GATEWAY_FORMAT not in {"json", "form"}:
    raise ConfigError("SMS_GATEWAY_FORMAT must be json or form")
try:
    if not isinstance(json.loads(SMS_GATEWAY_BODY), dict):
        raise ValueError("not an object")
except ValueError as error:
    raise ConfigError(f"SMS_GATEWAY_BODY must be a JSON object: {error}") from error
# Attempts before a message is given up (then it shows as failed in the admin).
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 10)

# --- Abuse limits (buergerbuero.limits: counters in the database, seen by every process) ------
# Booking attempts per client address per hour, and bookings per e-mail address or mobile
# number per day (UTC day).
BOOKING_LIMIT_PER_ADDRESS_HOUR = env_int("BOOKING_LIMIT_PER_ADDRESS_HOUR", 10)
BOOKING_LIMIT_PER_CONTACT_DAY = env_int("BOOKING_LIMIT_PER_CONTACT_DAY", 3)
# Moves and cancellations of appointments per client address per hour.
BOOKING_CHANGES_PER_ADDRESS_HOUR = env_int("BOOKING_CHANGES_PER_ADDRESS_HOUR", 10)
# How often one appointment may be moved (each move sends its messages again).
APPOINTMENT_MAX_MOVES = env_int("APPOINTMENT_MAX_MOVES", 3)
# Entering a waiting room, per client address per 10 minutes.
JOIN_LIMIT_PER_ADDRESS = env_int("JOIN_LIMIT_PER_ADDRESS", 10)

# --- Background jobs ----------------------------------------------------------------------
# In the embedded mode the job loop runs inside the web process (`manage.py serve`); in the
# scaled mode `manage.py worker` runs it as a process of its own.
JOBS_IN_WEB_PROCESS = env_bool("JOBS_IN_WEB_PROCESS", not REDIS_URL)
# /readyz fails when a job lane's heartbeat is older than this (seconds).
JOBS_HEARTBEAT_MAX_AGE = env_int("JOBS_HEARTBEAT_MAX_AGE", 30)
# /metrics: with a token only for `Authorization: Bearer <token>`, without one only from loopback.
METRICS_TOKEN = env_str("METRICS_TOKEN")

# Every record goes through one handler whose filter removes the secrets of links (tickets,
# appointments, invites, calendar feeds: lib.logs); uvicorn's loggers propagate to it (`serve`
# passes log_config=None), and Django's own "django" handler is replaced by it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"redact_secrets": {"()": "buergerbuero.lib.logs.RedactSecrets"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secrets"]}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # axes logs every login at INFO; its warnings (lockouts) are what matters.
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "axes": {"level": "WARNING"},
        # httpx logs each request at INFO: for the SFU's long polls that is a line every 30 s
        # per viewer (failures still reach the log through the callers).
        "httpx": {"level": "WARNING"},
        "django": {"handlers": [], "level": "INFO"},
        "uvicorn": {"handlers": [], "level": "INFO"},
    },
}
# Without a mail server or SMS gateway, e-mails and SMS are not written to the log in full:
# only their kind and the masked recipient. `true` (development; `make run` sets it) adds a
# preview with the link but without the citizen's name and contact data.
LOG_MESSAGE_PREVIEW = env_bool("LOG_MESSAGE_PREVIEW", False)
