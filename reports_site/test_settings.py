"""Settings for the test suite: the normal settings, made fast and self-contained."""

from .settings import *  # noqa: F403
from .settings import DATABASES, STORAGES, VAR_DIR, sqlite_options

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Serve static files from the app folders, as in development: tests run without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# SQLite tests use a file, not memory: threads and worker processes (a real qcluster) must see
# the same database, with WAL and the busy timeout, as in production.
if DATABASES["default"]["ENGINE"] == "reports_site.sqlite":
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
    # A test database need not survive a crash: no waiting for the disk.
    DATABASES["default"]["OPTIONS"] = sqlite_options(synchronous="OFF")

# django-axes refuses authenticate() without a request, as Client.login() and direct calls make
# it. Its tests (tests/test_login_throttle.py) turn it back on.
AXES_ENABLED = False
