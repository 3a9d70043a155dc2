"""Settings, read from the environment with safe defaults for local use.

Production sets at least DEBUG=0, SECRET_KEY, ALLOWED_HOSTS and DATABASE_URL (see README.md).
With DEBUG off, the secure-cookie, HTTPS and HSTS settings default to on.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """A boolean from the environment; anything but a clear yes or no is an error."""
    value = os.environ.get(name)
    if value is None:
        return default
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no, on/off; got {value!r}"
    )


def env_int(name: str, default: int) -> int:
    """A whole number from the environment; anything else is an error."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {value!r}") from None


def env_float(name: str, default: float) -> float:
    """A number from the environment; anything else is an error."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number; got {value!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list from the environment."""
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-local-development-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Local files (the SQLite database, report files) live here unless told otherwise.
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_filters",
    "django_tables2",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "axes",
    "csp",
    "reports_site.tenancy",
    "consumption",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "reports_site.urls"
WSGI_APPLICATION = "reports_site.wsgi.application"

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
            ],
        },
    },
]


# SQLite by default. WAL lets readers work beside a writer, the busy timeout waits for a lock
# instead of failing, and IMMEDIATE transactions take the write lock up front so that the web
# process and the django-q2 ORM broker do not deadlock on "database is locked".
def sqlite_options(synchronous: str = "NORMAL") -> dict:
    """`synchronous=NORMAL` with WAL loses no committed data to a crashed process, only to a lost
    machine; the test database does without durability altogether (OFF)."""
    return {
        "init_command": f"PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous};",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }


# A server's connections are kept for a minute (checked before reuse): a new PostgreSQL
# connection costs its first queries a cold catalog cache, a tenth of a large report's build.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60 if os.environ.get("DATABASE_URL") else 0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No JIT compilation (options given in DATABASE_URL come after, and win): PostgreSQL
    # compiles a plan whose estimated cost is high, as that of a report's hundreds of sample
    # windows is. A 30-day report by day in Asia/Kolkata over 10,000 projects took 38 s with
    # it and 9.5 s without; the largest report by day in UTC gains nothing from it.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"-c jit=off {options.get('options', '')}".strip()
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's SQLite backend, with letter case folded as PostgreSQL does (reports_site.unicode).
    DATABASES["default"]["ENGINE"] = "reports_site.sqlite"
    DATABASES["default"]["OPTIONS"] = sqlite_options()
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)

# The rollups' index of days includes their sums for PostgreSQL; SQLite keeps its keys alone,
# which serve it as well.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "tenancy.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
# django-axes first: it refuses a locked-out login before a password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"


# Report files: local files under MEDIA_ROOT, or objects in an S3-compatible bucket when S3_BUCKET
# is set (django-storages). Credentials left unset come from boto3's own sources (its environment
# variables, an instance role). The objects stay private: downloads check permissions first, then
# stream the object, or with S3_DOWNLOAD_REDIRECT=1 redirect to a URL signed for
# S3_URL_EXPIRY_SECONDS.
def report_files_storage() -> dict:
    """The storage of report files, as the environment configures it."""
    bucket = os.environ.get("S3_BUCKET", "").strip()
    if not bucket:
        if env_bool("S3_DOWNLOAD_REDIRECT", False):
            raise ImproperlyConfigured(
                "S3_DOWNLOAD_REDIRECT needs S3_BUCKET: local files are streamed."
            )
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "location": os.environ.get("S3_PREFIX", "").strip().strip("/"),
            "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("S3_REGION") or None,
            "access_key": os.environ.get("S3_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("S3_SECRET_ACCESS_KEY") or None,
            "addressing_style": os.environ.get("S3_ADDRESSING_STYLE") or None,
            "signature_version": "s3v4",
            "default_acl": None,
        },
    }


S3_DOWNLOAD_REDIRECT = env_bool("S3_DOWNLOAD_REDIRECT", False)
S3_URL_EXPIRY_SECONDS = env_int("S3_URL_EXPIRY_SECONDS", 300)
STORAGES = {
    "default": report_files_storage(),
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Security. With DEBUG off every one of these defaults to the strict value that
# `manage.py check --deploy` asks for; a deployment behind plain HTTP must opt out explicitly.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("SECURE_PROXY_SSL_HEADER", False) else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Content-Security-Policy on every response: scripts and styles only from the site's own files
# (no inline code, no eval; htmx is told the same in base.html). Swagger UI's stylesheet draws
# its icons as data: images.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Login throttling (django-axes). Failures are counted per account and per address, each on its
# own: LOGIN_MAX_FAILURES failed logins for one e-mail (from anywhere), or from one address (for
# any e-mail), refuse further logins for LOGIN_LOCKOUT_MINUTES after the last failure, right
# password or not, with the lockout page and HTTP 429. Attempts refused during a lockout are not
# counted, so one address gets LOGIN_MAX_FAILURES guesses per period in all: it can lock at most
# one account at a time, never every account. Operators unlock in the admin or with
# `manage.py axes_reset_username EMAIL` / `axes_reset_ip ADDRESS` / `axes_reset` (README.md).
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15)
if LOGIN_MAX_FAILURES < 1 or LOGIN_LOCKOUT_MINUTES < 1:
    raise ImproperlyConfigured("LOGIN_MAX_FAILURES and LOGIN_LOCKOUT_MINUTES must be at least 1.")


def login_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The e-mail a login names, lower-cased: logins ignore its case, so the count must too."""
    username = (request.POST if credentials is None else credentials).get("username")
    return username.strip().lower() if username else username


AXES_FAILURE_LIMIT = LOGIN_MAX_FAILURES
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username"], ["ip_address"]]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = login_username
AXES_CLIENT_IP_CALLABLE = "reports_site.client_address.client_address"
AXES_LOCKOUT_TEMPLATE = "registration/login_locked.html"
AXES_HTTP_RESPONSE_CODE = 429
# A successful login does not clear the count: with an account of their own, an attacker could
# otherwise clear their address's count between guesses.
AXES_RESET_ON_SUCCESS = False
# Only failures are kept, and only until they expire; successful logins are not logged.
AXES_DISABLE_ACCESS_LOG = True

# Background work: django-q2. The ORM broker needs no extra service; a build that outlives
# `timeout` is stopped, and `retry` is well above it so a task is never run twice at once.
# With REDIS_URL, the queue is in Redis (django-q2's Redis broker): a cluster takes a task the
# moment it is queued. Without it, the ORM broker polls the database every Q_POLL_SECONDS.
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
Q_CLUSTER = {
    "name": "reports",
    **({"redis": REDIS_URL} if REDIS_URL else {"orm": "default"}),
    "poll": env_float("Q_POLL_SECONDS", 0.05),
    "workers": env_int("Q_WORKERS", 2),
    "timeout": env_int("Q_TIMEOUT", 600),
    "retry": env_int("Q_RETRY", 900),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 3),
    "catch_up": False,
    "save_limit": 1000,
    "ack_failures": True,
}

# With REDIS_URL, the cache every process shares is in Redis, and sessions are read through it
# (kept in the database); each process keeps its own cache otherwise. (django-q2's cluster
# statistics go to Redis through its broker.)
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# Reports: the longest collection period, and how long reports are kept (0: forever).
REPORT_MAX_PERIOD_DAYS = env_int("REPORT_MAX_PERIOD_DAYS", 366)
REPORT_RETENTION_DAYS = env_int("REPORT_RETENTION_DAYS", 90)
# A build whose heartbeat is older than this is taken for dead by the sweeper.
REPORT_HEARTBEAT_TIMEOUT_SECONDS = env_int("REPORT_HEARTBEAT_TIMEOUT_SECONDS", 60)
# A report Pending for longer than this whose build task is no longer in the queue is queued
# again (at most three times in all).
REPORT_QUEUE_TIMEOUT_SECONDS = env_int("REPORT_QUEUE_TIMEOUT_SECONDS", 300)
# The workers are stalled when work has waited this long and no task finished and no build beat
# its heartbeat meanwhile (`worker_health` exits 1; `run_worker` restarts its cluster). The
# schedules queue a task every minute, so a working cluster is never idle for two.
WORKER_STALL_SECONDS = env_int("WORKER_STALL_SECONDS", 120)
# `run_worker`: how often it looks at its cluster, and how long a worker process's death may
# leave the cluster taking no work before it is restarted.
WORKER_CHECK_SECONDS = env_int("WORKER_CHECK_SECONDS", 5)
WORKER_PROBE_SECONDS = env_int("WORKER_PROBE_SECONDS", 20)

# Report deliveries (reports.delivery): e-mail goes through Django's SMTP backend to EMAIL_HOST
# (your own relay), or, in development without EMAIL_HOST, is printed by the worker. Files up to
# DELIVERY_ATTACHMENT_MAX_BYTES are attached, larger ones linked. Links are absolute, from
# SITE_URL (e.g. https://reports.example.com); without it, a delivery that needs a link fails
# saying so. A failed delivery is tried again after 1, 2, 4... minutes, DELIVERY_MAX_ATTEMPTS
# times in all.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "").strip()
EMAIL_BACKEND = (
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG and not EMAIL_HOST
    else "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = EMAIL_HOST or "localhost"
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "Set one of EMAIL_USE_TLS (STARTTLS, usually port 587) and EMAIL_USE_SSL (port 465)."
    )
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "GPU reports <reports@localhost>")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000" if DEBUG else "").strip().rstrip("/")
if SITE_URL and not SITE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"SITE_URL must start with http:// or https://; got {SITE_URL!r}")
DELIVERY_ATTACHMENT_MAX_BYTES = env_int("DELIVERY_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
DELIVERY_MAX_ATTEMPTS = env_int("DELIVERY_MAX_ATTEMPTS", 5)
DELIVERY_WEBHOOK_TIMEOUT_SECONDS = env_int("DELIVERY_WEBHOOK_TIMEOUT_SECONDS", 10)
if DELIVERY_MAX_ATTEMPTS < 1 or DELIVERY_WEBHOOK_TIMEOUT_SECONDS < 1:
    raise ImproperlyConfigured(
        "DELIVERY_MAX_ATTEMPTS and DELIVERY_WEBHOOK_TIMEOUT_SECONDS must be at least 1."
    )

# The REST API (Run:ai's): service accounts' bearer tokens, or the browser's session (with CSRF).
# Errors are {"code": N, "message": "..."}.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "reports.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "reports.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
# Lifetime of an access token from POST /api/v1/token. Failed token requests are counted in the
# database (shared by every process) per client ID and per address, in windows of
# API_TOKEN_FAILURE_WINDOW_SECONDS. A client ID with API_TOKEN_MAX_FAILURES must wait, right
# secret or not. An address with API_TOKEN_MAX_FAILURES_PER_ADDRESS is refused wrong credentials,
# but still gets tokens for client IDs that are not locked: a proxy's address is many clients'.
API_TOKEN_LIFETIME_SECONDS = env_int("API_TOKEN_LIFETIME_SECONDS", 3600)
API_TOKEN_MAX_FAILURES = env_int("API_TOKEN_MAX_FAILURES", 10)
API_TOKEN_MAX_FAILURES_PER_ADDRESS = env_int("API_TOKEN_MAX_FAILURES_PER_ADDRESS", 100)
API_TOKEN_FAILURE_WINDOW_SECONDS = env_int("API_TOKEN_FAILURE_WINDOW_SECONDS", 300)
# A client's address is REMOTE_ADDR, unless the site is behind TRUSTED_PROXY_COUNT proxies that
# each append to TRUSTED_PROXY_HEADER (e.g. X-Forwarded-For); see reports_site.client_address.
TRUSTED_PROXY_HEADER = os.environ.get("TRUSTED_PROXY_HEADER", "").strip()
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1)
if TRUSTED_PROXY_HEADER and TRUSTED_PROXY_COUNT < 1:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be at least 1 with TRUSTED_PROXY_HEADER.")
SPECTACULAR_SETTINGS = {
    "TITLE": "GPU consumption reports API",
    "DESCRIPTION": "Run:ai-compatible reports API: consumption reports built in the background.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # django-axes announces itself at INFO in every process and command.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
