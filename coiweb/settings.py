"""One settings module, driven by environment variables (see README, "Configuration")."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    """Read NAME, or the contents of the file named by NAME_FILE (for container secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_int(name: str, default: int) -> int:
    value = env(name)
    try:
        return default if value in (None, "") else int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def env_required(name: str, dev_default: str) -> str:
    """Secrets must be set outside DEBUG; in DEBUG a fixed development value is used."""
    value = env(name)
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(f"{name} is required when DEBUG is off (see README, Configuration)")


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_required("SECRET_KEY", "dev-only-insecure-secret-key")
# Comma-separated Fernet keys, newest first; older keys still decrypt (see rotate_credentials).
COIWEB_FERNET_KEYS = env_required(
    "COIWEB_FERNET_KEYS", "SBn_OqQ8fAn5iEUAXMW0LUQ-Kn1XtBl8ZKbTLmDLNeQ="
)
ALLOWED_HOSTS = [
    h.strip() for h in (env("ALLOWED_HOSTS", "localhost,127.0.0.1") or "").split(",") if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in (env("CSRF_TRUSTED_ORIGINS", "") or "").split(",") if o.strip()
]

# No "daphne" app: it only swaps in its runserver, and importing it loads Twisted (about
# 25 MB) into every process, the mailbox watcher and the workers too. Serve with `daphne`.
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "accounts",
    "chat",
    "pwa",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "coiweb.urls"
ASGI_APPLICATION = "coiweb.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pwa.context_processors.web_push",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'coiweb.sqlite3'}") or "",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    "DATABASE_POOL", True
):
    # A small per-process pool (Django 5.1+, psycopg_pool): tasks and requests reuse
    # connections instead of paying for a new login each time; safe under ASGI.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env_int("DATABASE_POOL_SIZE", 10),
        "timeout": 30,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The web server, the worker and the watcher write concurrently: WAL and IMMEDIATE
    # transactions turn "database is locked" errors into short waits.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0") or ""
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # channels-redis blocks on the server for up to 5 s per receive; redis-py 8's default
        # 5 s client read timeout races it and kills idle sockets with 1011. Give reads room.
        # The health check pings a connection that sat idle in the pool before using it, so
        # one left dead by a Redis restart is replaced instead of failing a websocket.
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "health_check_interval": 10}]
        },
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("COIWEB_TASK_SOFT_TIME_LIMIT", 120)
CELERY_TASK_TIME_LIMIT = env_int("COIWEB_TASK_TIME_LIMIT", 180)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "chat:home"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC") or "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request otherwise
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_MIMETYPES = {".webmanifest": "application/manifest+json"}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "SAMEORIGIN"

# Mail connections
COIWEB_EXTRA_CA_FILE = env("COIWEB_EXTRA_CA_FILE") or None  # a CA to trust besides the system's
COIWEB_MAIL_TIMEOUT = env_int("COIWEB_MAIL_TIMEOUT", 15)
# A large history import fetches and parses in a child process, beside the storing.
COIWEB_HISTORY_FETCH_PROCESS = env_bool("COIWEB_HISTORY_FETCH_PROCESS", True)
# A message whose server stays unreachable (or answers 4xx) is retried this long, as a mail
# server keeps mail queued, before it is marked failed.
COIWEB_SEND_GIVE_UP_SECONDS = env_int("COIWEB_SEND_GIVE_UP_SECONDS", 24 * 3600)
# The largest file a person may attach (most mail servers refuse mails over 25-50 MB, and
# base64 makes a file a third bigger on the wire).
COIWEB_MAX_ATTACHMENT_BYTES = env_int("COIWEB_MAX_ATTACHMENT_MB", 15) * 1024 * 1024
# Files fetched from the server for display are kept in the database up to this size.
COIWEB_KEEP_FILES_UP_TO = env_int("COIWEB_KEEP_FILES_UP_TO_MB", 15) * 1024 * 1024

COIWEB_IDLE_RENEW_SECONDS = env_int("COIWEB_IDLE_RENEW_SECONDS", 600)  # RFC 2177: < 29 minutes
COIWEB_POLL_SECONDS = env_int("COIWEB_POLL_SECONDS", 60)  # servers without IDLE
# A watcher renews its mailbox leases every third of this; when it dies, others take its
# mailboxes over within about this long.
COIWEB_LEASE_SECONDS = env_int("COIWEB_LEASE_SECONDS", 30)


def _vapid_public_key(private_key: str, public_key: str) -> str:
    """The public key of a raw, base64url VAPID private key; a given one must be its pair."""
    import base64

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    try:
        raw = base64.b64decode(private_key + "=" * (-len(private_key) % 4), b"-_", validate=True)
        if len(raw) != 32:
            raise ValueError("not 32 bytes")
        key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except ValueError:
        raise ImproperlyConfigured(
            "COIWEB_VAPID_PRIVATE_KEY must be a raw P-256 key in base64url "
            "(generate a pair with scripts/vapid_keys.py)"
        ) from None
    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    derived = base64.urlsafe_b64encode(point).rstrip(b"=").decode()
    if public_key and public_key.rstrip("=") != derived:
        raise ImproperlyConfigured("COIWEB_VAPID_PUBLIC_KEY is not the pair of the private key")
    return derived


# Web Push (RFC 8030, 8291, 8292) to devices that asked for notifications. Off unless a
# VAPID key is set; the public key is derived from the private one when not given.
COIWEB_VAPID_PRIVATE_KEY = env("COIWEB_VAPID_PRIVATE_KEY") or ""
COIWEB_VAPID_PUBLIC_KEY = ""
COIWEB_VAPID_SUBJECT = env("COIWEB_VAPID_SUBJECT") or ""
if COIWEB_VAPID_PRIVATE_KEY:
    COIWEB_VAPID_PUBLIC_KEY = _vapid_public_key(
        COIWEB_VAPID_PRIVATE_KEY, env("COIWEB_VAPID_PUBLIC_KEY") or ""
    )
    # Push services contact this address about misbehaving senders; some refuse without it.
    if not COIWEB_VAPID_SUBJECT.startswith(("mailto:", "https:")):
        raise ImproperlyConfigured(
            "COIWEB_VAPID_SUBJECT must be a mailto: or https: URL when Web Push is on"
        )
# Devices may only subscribe with push services on these hosts (and their subdomains), so
# a subscription cannot make the server POST to arbitrary addresses. "*" allows any https host.
COIWEB_PUSH_SERVICE_HOSTS = [
    h.strip().lower()
    for h in (
        env(
            "COIWEB_PUSH_SERVICE_HOSTS",
            "fcm.googleapis.com,push.services.mozilla.com,notify.windows.com,push.apple.com",
        )
        or ""
    ).split(",")
    if h.strip()
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"imapclient": {"level": "WARNING"}},
}
