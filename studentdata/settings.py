"""Settings for studentdata, read from the environment.

Every value comes from an environment variable with a safe default. The helpers
below fail loudly on a value they cannot read, so a typo in production stops the
process at start instead of silently running with a default.

Embedded default (``make demo``): no DATABASE_URL → SQLite file; no broker →
Celery tasks run inline. Production sets DATABASE_URL, REDIS_URL and SECRET_KEY.
"""

import hashlib
import hmac
import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str | None = None) -> str | None:
    """The variable's value; set but empty counts as unset (compose passes blanks)."""
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Demo mode is the embedded, single-machine default of `make demo`: it alone may
# run with DEBUG and a generated development secret.
DEMO_MODE = env_bool("STUDENTDATA_DEMO", False)
DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if DEMO_MODE or DEBUG or env_bool("STUDENTDATA_TESTING", False):
        SECRET_KEY = "insecure-demo-only-key-never-use-in-production"  # noqa: S105
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY is required (set STUDENTDATA_DEMO=1 for the local demo)."
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
if "*" in ALLOWED_HOSTS and not (DEBUG or DEMO_MODE):
    raise ImproperlyConfigured("ALLOWED_HOSTS='*' is only allowed in development.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "studentdata",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "oauth2_provider",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "accounts",
    "records",
    "access",
    "reports",
]

MIDDLEWARE = [
    "access.middleware.EntryScopeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "access.middleware.ViewerMiddleware",
    # After the viewer: the second factor its roles require, and staff's idle time-out.
    "accounts.middleware.SecondFactorMiddleware",
]

ROOT_URLCONF = "studentdata.urls"
WSGI_APPLICATION = "studentdata.wsgi.application"
ASGI_APPLICATION = "studentdata.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# Database: DATABASE_URL → PostgreSQL (or whatever it names); unset → SQLite file.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend, keeping row-level security's settings in step with the
        # tenant context (records/row_security.py).
        DATABASES["default"]["ENGINE"] = "studentdata.db.postgresql"
        # Random reads cost little more than sequential ones on SSDs. PostgreSQL's default
        # (4) makes the planner walk a whole name index to fill a principal's page instead
        # of sorting their school's students: 40 ms against 3 ms at 200,000 students.
        random_page_cost = env_str("PG_RANDOM_PAGE_COST", "1.1")
        # A request must not take every core: a parallel plan looks cheaper to the planner
        # (its workers are free to it) and walked the district's whole name index for a
        # principal's page, 555 ms against 9 ms serial on two cores. 0: serial plans.
        parallel_workers = env_str("PG_PARALLEL_WORKERS_PER_GATHER", "0")
        try:
            float(random_page_cost)
        except ValueError:
            raise ImproperlyConfigured("PG_RANDOM_PAGE_COST must be a number") from None
        if not parallel_workers.isdigit():
            raise ImproperlyConfigured(
                "PG_PARALLEL_WORKERS_PER_GATHER must be a whole number"
            ) from None
        # Act as another role after connecting (SET ROLE): a login user that may act as
        # the application's role, as the benchmarks do (row-level security then applies).
        acting_role = env_str("DATABASE_ROLE")
        if acting_role and not re.fullmatch(r"[a-z_][a-z0-9_]*", acting_role):
            raise ImproperlyConfigured("DATABASE_ROLE must be a plain role name")
        # No JIT compilation: a request's statements are short, but one with many
        # correlated subqueries (a school filtered by attendance rate) is estimated dear
        # enough to be compiled, and compiling took 1.7 s of a 1.8 s statement.
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
            f"-c random_page_cost={random_page_cost} "
            f"-c max_parallel_workers_per_gather={parallel_workers} -c jit=off"
            + (f" -c role={acting_role}" if acting_role else "")
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "var" / "studentdata.sqlite3")),
        }
    }
# A streaming replica of the primary (docs/operations.md, "Read replica"): public report
# cards, state pages and research extracts' record reads may go to it
# (studentdata/db/replica.py); writes and every access decision stay on the primary.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL")
if DATABASE_REPLICA_URL:
    if DATABASES["default"]["ENGINE"] != "studentdata.db.postgresql":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs DATABASE_URL to name PostgreSQL")
    try:
        replica = dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=60)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_REPLICA_URL is not a database URL: {exc}") from None
    if replica["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must name PostgreSQL: a standby")
    # The primary's backend and session options: row-level security's settings, the
    # planner's, the role acted as.
    replica["ENGINE"] = DATABASES["default"]["ENGINE"]
    replica.setdefault("OPTIONS", {})["options"] = DATABASES["default"]["OPTIONS"]["options"]
    # Tests have no standby: the replica's reads go to the primary's test database.
    replica["TEST"] = {"MIRROR": "default"}
    DATABASES["replica"] = replica
    DATABASE_ROUTERS = ["studentdata.db.replica.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a held username or address before any password is checked.
    "accounts.sign_in_guard.SignInGuardBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# guardian's anonymous user row is not needed: anonymous readers get nothing.
ANONYMOUS_USER_NAME = None

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    # Long passphrases are welcome; the cap only stops absurd input (REQUIREMENTS 17).
    {"NAME": "accounts.validators.MaximumLengthValidator", "OPTIONS": {"max_length": 128}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Failed sign-ins (accounts/sign_in_guard.py): per account whatever the address, and
# per client address whatever the username (a school's staff share one: a higher
# limit). Reaching a limit holds sign-in back for SIGN_IN_BACKOFF_SECONDS, doubled by
# each failure after, at most SIGN_IN_BACKOFF_MAX_MINUTES; failures are forgotten after
# SIGN_IN_FORGET_MINUTES without one.
SIGN_IN_ACCOUNT_FAILURES = env_int("SIGN_IN_ACCOUNT_FAILURES", 5, minimum=1)
SIGN_IN_NETWORK_FAILURES = env_int("SIGN_IN_NETWORK_FAILURES", 30, minimum=1)
SIGN_IN_BACKOFF_SECONDS = env_int("SIGN_IN_BACKOFF_SECONDS", 30, minimum=1)
SIGN_IN_BACKOFF_MAX_MINUTES = env_int("SIGN_IN_BACKOFF_MAX_MINUTES", 15, minimum=1)
SIGN_IN_FORGET_MINUTES = env_int("SIGN_IN_FORGET_MINUTES", 60, minimum=1)
# Second factor (accounts/second_factor.py): the issuer authenticator apps show.
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "studentdata")

# Proxies in front of the web processes that append the client's address to
# X-Forwarded-For (docker-compose.yml: 1, the TLS proxy). 0: REMOTE_ADDR is the client.
FORWARDED_PROXY_COUNT = env_int("FORWARDED_PROXY_COUNT", 0, minimum=0)

# Password resets asked for in an hour: per client address (then a page says so), and
# per email address (then no more mail goes out, and nothing says so).
RESET_PER_CLIENT_HOUR = env_int("RESET_PER_CLIENT_HOUR", 20, minimum=1)
RESET_PER_ADDRESS_HOUR = env_int("RESET_PER_ADDRESS_HOUR", 3, minimum=1)

# Guardian invitations: links in emails are absolute, built on SITE_URL.
SITE_URL = (env_str("SITE_URL", "http://127.0.0.1:8000") or "").rstrip("/")
if not SITE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"SITE_URL must start with http:// or https://, got {SITE_URL!r}")
INVITATION_DAYS = env_int("INVITATION_DAYS", 14, minimum=1)

# Families read the portal in English or Spanish: the browser's choice, or the switcher's.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
# Shared templates' strings; each app's own strings live in <app>/locale.
LOCALE_PATHS = [BASE_DIR / "studentdata" / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not (DEBUG or DEMO_MODE or env_bool("STUDENTDATA_TESTING", False))
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Outside production, serve static files straight from the apps (no collectstatic).
WHITENOISE_USE_FINDERS = DEBUG or DEMO_MODE or env_bool("STUDENTDATA_TESTING", False)
if WHITENOISE_USE_FINDERS:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing

# Email: printed to the console outside production (pytest swaps in its locmem outbox);
# SMTP in production, configured from the environment.
if DEBUG or DEMO_MODE or env_bool("STUDENTDATA_TESTING", False):
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)  # implicit TLS, usually port 465
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", not EMAIL_USE_SSL)  # STARTTLS, usually port 587
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be true.")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "studentdata <noreply@localhost>")
if "@" not in DEFAULT_FROM_EMAIL:
    raise ImproperlyConfigured(
        f"DEFAULT_FROM_EMAIL must be an email address, got {DEFAULT_FROM_EMAIL!r}"
    )
SERVER_EMAIL = DEFAULT_FROM_EMAIL

LOGIN_URL = "accounts:home"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "accounts:home"

# Celery: a broker configured → Redis; none → tasks run inline in the caller.
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", CELERY_BROKER_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "UTC"
# A message is acknowledged once its task has finished, so a worker that dies mid-task
# leaves it to another worker; every task is safe to run twice (records/leases.py).
CELERY_TASK_ACKS_LATE = True
# A pool process killed mid-task (out of memory, a signal): its message goes back too, at
# once, and the next worker restarts or fails the job it finds abandoned (records/leases.py).
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Each process reserves one message at a time: a worker lost takes no queued message with
# it, and a long task never holds others back behind it.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Time limits of the long tasks (imports, report releases, research extracts, CSV
# deliveries): the soft limit raises inside the task, which records why it stopped (an
# import's transaction rolls back, applying nothing); the hard limit, a little later,
# kills a task the soft one could not reach. Two hours is several times the longest
# expected (docs/benchmarks.md): an import runs 100,000 students in 2 minutes, so about 20
# for the largest US district (a million); a report release of 20,000 students takes 2
# minutes and grows faster than its district, up to an hour for the largest district or
# a state (which protects all its districts' tables together); an extract of 200,000
# students, 2 minutes. Beat's housekeeping tasks take seconds: ten minutes at most.
CELERY_LONG_TASK_SOFT_TIME_LIMIT = env_int("CELERY_LONG_TASK_SOFT_TIME_LIMIT", 2 * 3600, minimum=1)
CELERY_LONG_TASK_TIME_LIMIT = CELERY_LONG_TASK_SOFT_TIME_LIMIT + min(
    300, max(1, CELERY_LONG_TASK_SOFT_TIME_LIMIT // 10)
)
CELERY_TASK_SOFT_TIME_LIMIT = min(600, CELERY_LONG_TASK_SOFT_TIME_LIMIT)
CELERY_TASK_TIME_LIMIT = min(660, CELERY_LONG_TASK_TIME_LIMIT)
# Redis hands a delivered message to another worker when it has not been acknowledged
# within this many seconds: how a dead worker's task is run again. It must outlast the
# longest task (its hard limit), or a task still running would be handed out again
# (harmless, records/leases.py, but wasted); three hours leave most of an hour beyond the
# two-hour limit. Housekeeping fails a job still waiting half an hour after it.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3 * 3600, minimum=1)
if CELERY_VISIBILITY_TIMEOUT <= CELERY_LONG_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"CELERY_VISIBILITY_TIMEOUT ({CELERY_VISIBILITY_TIMEOUT} s) must be longer than the "
        f"long tasks' hard time limit ({CELERY_LONG_TASK_TIME_LIMIT} s)"
    )
# Workers look for unacknowledged messages past the timeout every hundredth of it (every
# 100 s at most, kombu's default; every second for the tests' few seconds).
_RESTORE_EVERY = max(1, min(100, CELERY_VISIBILITY_TIMEOUT // 100))
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "unacked_restore_interval": min(10, _RESTORE_EVERY),
    "unacked_restore_throttle": max(1, _RESTORE_EVERY // min(10, _RESTORE_EVERY)),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Months of the access log's reads (staff and family reads) kept; older months are
# dropped whole (records/partitions.py). 0 keeps them all. Disclosures to parties
# outside the school, the record 34 CFR 99.32 requires, are kept as long as the record.
ACCESS_LOG_RETENTION_MONTHS = env_int("ACCESS_LOG_RETENTION_MONTHS", 0, minimum=0)
if 0 < ACCESS_LOG_RETENTION_MONTHS < 12:  # records.partitions.MINIMUM_RETENTION_MONTHS
    raise ImproperlyConfigured(
        "ACCESS_LOG_RETENTION_MONTHS must be 0 (keep every read) or at least 12 months"
    )

# Uploaded import files wait here for their worker: web and worker must share it.
IMPORT_UPLOAD_ROOT = Path(env_str("IMPORT_UPLOAD_ROOT", str(BASE_DIR / "var" / "imports")))
# Stored files (providers' CSV deliveries, signed agreements): web and worker share it.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
# Each district's access-log chain head, appended nightly (access/anchors.py) to a file
# the database cannot rewrite, each line signed under AUDIT_ANCHOR_KEY (by default
# derived from SECRET_KEY; set it apart so a copy of the settings cannot forge anchors).
AUDIT_ANCHOR_PATH = Path(
    env_str("AUDIT_ANCHOR_PATH", str(BASE_DIR / "var" / "audit" / "anchors.jsonl"))
)
AUDIT_ANCHOR_KEY = (
    env_str("AUDIT_ANCHOR_KEY")
    or hmac.new(SECRET_KEY.encode(), b"studentdata audit anchors", hashlib.sha256).hexdigest()
)
# Research studies' pseudonym keys are stored wrapped (AES-GCM) under this key, so a copy
# of the database alone cannot recompute a pseudonym (access/studies.py). By default
# derived from SECRET_KEY; set it apart. Changing it makes open studies' keys unreadable.
STUDY_KEY_WRAPPING_KEY = (
    env_str("STUDY_KEY_WRAPPING_KEY")
    or hmac.new(SECRET_KEY.encode(), b"studentdata study keys", hashlib.sha256).hexdigest()
)
# Largest upload accepted on the import page; larger files are refused with a form error.
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 512 * 1024 * 1024, minimum=1)
# What one import may read, checked before reading (a small zip can hold a huge file):
# MB per file uncompressed, when there is no district yet to say (a district's own
# District.import_max_file_mb rules otherwise); MB of all its files; rows per file.
IMPORT_MAX_FILE_MB = env_int("IMPORT_MAX_FILE_MB", 100, minimum=1)
if IMPORT_MAX_FILE_MB > 1024:
    raise ImproperlyConfigured(f"IMPORT_MAX_FILE_MB must be at most 1024, got {IMPORT_MAX_FILE_MB}")
IMPORT_MAX_TOTAL_MB = env_int("IMPORT_MAX_TOTAL_MB", 1024, minimum=1)
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 2_000_000, minimum=1)

# How long a viewer, a page's access decision and a projected student are kept in the
# cache. Entries are keyed by cache epochs that every relevant write moves forward
# (records/cache_epochs.py), so this bounds memory, not staleness. 0 turns caching off.
ACCESS_CACHE_SECONDS = env_int("ACCESS_CACHE_SECONDS", 600, minimum=0)

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
    # Each process's own memory (access/cache.py): projected students, one entry each,
    # and a copy of hot access decisions in front of Redis. A 500-student page needs 500
    # entries; at about 2 KB a student, 20,000 hold forty such pages in some 40 MB.
    "access-local": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "access-local",
        "TIMEOUT": ACCESS_CACHE_SECONDS or 1,
        "OPTIONS": {"MAX_ENTRIES": 20_000},
    },
    # Rendered pages, apart: a 500-student page is about 300 KB; 100 bound them to 30 MB.
    # Kept as they are, not pickled: a page and its answer are never changed once made.
    "access-pages": {
        "BACKEND": "studentdata.object_cache.ObjectCache",
        "LOCATION": "access-pages",
        "TIMEOUT": ACCESS_CACHE_SECONDS or 1,
        "OPTIONS": {"MAX_ENTRIES": 100},
    },
}

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes an unauthenticated request a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "studentdata.authentication.TokenAuthentication",
        "studentdata.authentication.ProviderTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "studentdata.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
if DEBUG or DEMO_MODE:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

# Providers' OneRoster clients: OAuth 2 client credentials (django-oauth-toolkit). Client
# secrets are kept hashed; the console shows one once. Scopes are OneRoster's own.
ONEROSTER_SCOPE_ROOTS = (
    "https://purl.imsglobal.org/spec/or/v1p1/scope/",
    "https://purl.imsglobal.org/spec/or/v1p2/scope/",
)
ONEROSTER_SCOPE_NAMES = (
    "roster-core.readonly",
    "roster.readonly",
    "roster-demographics.readonly",
)
OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("OAUTH_TOKEN_SECONDS", 3600, minimum=60),
    "SCOPES": {
        root + name: f"OneRoster {name}"
        for root in ONEROSTER_SCOPE_ROOTS
        for name in ONEROSTER_SCOPE_NAMES
    },
    "DEFAULT_SCOPES": [ONEROSTER_SCOPE_ROOTS[1] + "roster-core.readonly"],
    # RFC 9700, the OAuth 2.0 security best practice, in full. Providers use only the
    # client-credentials grant; the flows these close are not offered to them anyway.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "PKCE_REQUIRED": True,
    # A bearer token only in the Authorization header, never in a URL (and its logs).
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    # Tokens kept only as their SHA-256 checksum: a copy of the database holds none
    # that works (studentdata.authentication looks a token up by its checksum).
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
}
# django-oauth-toolkit's own models (its swappable settings must be named).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"  # noqa: S105
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"  # noqa: S105
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"  # noqa: S105
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
# Requests a minute per provider client before 429 server_busy.
PROVIDER_RATE_PER_MINUTE = env_int("PROVIDER_RATE_PER_MINUTE", 600, minimum=1)
# Days a CSV delivery's download link works.
PROVIDER_DELIVERY_DAYS = env_int("PROVIDER_DELIVERY_DAYS", 7, minimum=1)

SPECTACULAR_SETTINGS = {
    "TITLE": "studentdata API",
    "DESCRIPTION": "Student records, projected to the categories each reader may see.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from this server: nothing is fetched from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Security headers. Production runs behind a TLS-terminating proxy.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not (DEBUG or DEMO_MODE))
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not (DEBUG or DEMO_MODE))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=60)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# HSTS for a year wherever TLS is expected (0 turns it off); the demo serves plain HTTP.
SECURE_HSTS_SECONDS = env_int(
    "SECURE_HSTS_SECONDS", 0 if (DEBUG or DEMO_MODE) else 365 * 24 * 3600, minimum=0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Lets the domain's owner submit it to browsers' built-in HSTS lists (nothing happens
# until they do); SECURE_HSTS_PRELOAD=false withdraws the consent.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
# Content-Security-Policy: every script and style is a file served from this origin,
# so no inline script, inline style or style attribute runs (tests/test_security_headers.py
# scans every template for them). Charts are inline SVG with presentation attributes.
SELF, NONE = "'self'", "'none'"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # data: for the icons the API explorer's stylesheet embeds.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Browser features no page here uses, refused to this origin and anything it embeds.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer", "autoplay", "browsing-topics", "camera", "display-capture",
        "geolocation", "gyroscope", "magnetometer", "microphone", "midi", "payment",
        "publickey-credentials-get", "screen-wake-lock", "serial", "usb",
        "xr-spatial-tracking",
    )
}  # fmt: skip

# Django admin (accounts and districts only, never student records: accounts/admin.py)
# is off in production unless asked for.
ADMIN_ENABLED = env_bool("ADMIN_ENABLED", DEBUG or DEMO_MODE or env_bool("STUDENTDATA_TESTING"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
