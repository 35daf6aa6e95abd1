"""Django settings for trialsite.

Every value that differs between a laptop and a production server comes from the environment
(see `.env.example`, which lists and explains each variable). The defaults are safe for local
development only: DEBUG is off unless asked for, and production refuses to start without a
real SECRET_KEY.
"""

from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env.smart_cast = False
# A .env file (see .env.example) fills in what the real environment does not set.
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _secret(name: str, default: str | None = None) -> str | None:
    """A secret from NAME, or from the file named by NAME_FILE (Docker/Kubernetes secrets)."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text().strip()
    return env.str(name, default=default)


DEBUG = env.bool("DEBUG", default=False)

# Used only with DEBUG=true, which must never be set in production.
_DEV_SECRET = "dev-only-insecure-key-never-use-in-production-0123456789abcdef"  # noqa: S105
SECRET_KEY = _secret("SECRET_KEY", default=_DEV_SECRET if DEBUG else None)
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY must be set when DEBUG is false (see .env.example).")

# Keys the audit chain and signature HMACs (trialsite/audit/chain.py). The database never holds
# it, so a change made in the database cannot be hidden by recomputing links. Set it apart from
# SECRET_KEY (which may be rotated) and keep a copy with the backups: without it the trail
# cannot be verified. By default it is derived from SECRET_KEY.
AUDIT_HMAC_KEY = _secret("AUDIT_HMAC_KEY", default="") or f"audit-chain:{SECRET_KEY}"
# Rotation (docs/operations.md, `manage.py rotate_audit_key`): the current key's number, and
# the earlier keys as "1=key,2=key", kept to verify the links sealed under them.
AUDIT_HMAC_KEY_ID = env.int("AUDIT_HMAC_KEY_ID", default=1)
AUDIT_HMAC_RETIRED_KEYS: dict[int, str] = {}
for _item in filter(None, map(str.strip, (_secret("AUDIT_HMAC_RETIRED_KEYS") or "").split(","))):
    _number, _, _key = _item.partition("=")
    if not _number.strip().isdigit() or not _key:
        raise RuntimeError('AUDIT_HMAC_RETIRED_KEYS lists "number=key" pairs, e.g. "1=old-key".')
    AUDIT_HMAC_RETIRED_KEYS[int(_number)] = _key
if AUDIT_HMAC_KEY_ID in AUDIT_HMAC_RETIRED_KEYS:
    raise RuntimeError("AUDIT_HMAC_KEY_ID names a retired key (see .env.example).")
# SECRET_KEY rotation: the previous keys, so that sessions and password links made under them
# stay valid until they expire.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "axes",
    "ninja",  # the API's reference page from local files (no CDN: sites may be offline)
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "trialsite.sites",
    "trialsite.accounts",
    "trialsite.audit",
    "trialsite.crf",
    "trialsite.outbox",
    "enrollment",
    "visits",
    "outcomes",
    "safety",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # HTML compressed in the application, not at the proxy: Django's GZipMiddleware pads each
    # response with random bytes against BREACH (the pages carry CSRF tokens, masked per
    # request, and study data), which a proxy's gzip does not; it runs after every other
    # middleware has written the response. Static files come compressed from WhiteNoise.
    "django.middleware.gzip.GZipMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "trialsite.accounts.middleware.SessionPolicyMiddleware",
    "trialsite.security.ContentSecurityPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "trialsite.sites.middleware.SiteTimezoneMiddleware",
    "trialsite.audit.middleware.AuditContextMiddleware",
    # Logs each request made with an API token (trialsite/api.py), after its response.
    "trialsite.api.ApiUseMiddleware",
    # Last, so that a locked-out attempt is answered before any view runs.
    "axes.middleware.AxesMiddleware",
]

# N+1 queries (a query per row of a list, from a related object not read with the list)
# raise in the tests: `make test` sets ZEAL=true (django-zeal, a development dependency).
if env.bool("ZEAL", default=False):
    INSTALLED_APPS.append("zeal")
    MIDDLEWARE.insert(0, "zeal.middleware.zeal_middleware")
    ZEAL_RAISE = True
    # A session is read again when its key is cycled (after a secret-key rotation): never a
    # list.
    ZEAL_ALLOWLIST = [{"model": "sessions.Session"}]

ROOT_URLCONF = "trialsite.urls"
WSGI_APPLICATION = "trialsite.wsgi.application"

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
                "trialsite.context_processors.study",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# DATABASE_URL is the application's role: it owns no table, so it cannot alter triggers or
# touch the audit table except to read it. MIGRATION_DATABASE_URL is the owner's role, used by
# `manage.py migrate` (see scripts/services.sh). Both default to the development cluster.
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://trialsite_app@127.0.0.1:5432/trialsite"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# No parallel query by default: a page's queries read a few hundred rows through indexes, and
# starting parallel workers for one of them cost more than it saved (the home and data-quality
# pages of a site of 1,000 participants took 10-25 ms longer with them, on the load
# benchmark's study), and under load they take the cores other requests are waiting for.
# DB_PARALLEL_WORKERS gives them back (PostgreSQL's max_parallel_workers_per_gather).
_db_options = DATABASES["default"].setdefault("OPTIONS", {})
_db_options["options"] = " ".join(
    filter(
        None,
        (
            _db_options.get("options", ""),
            f"-c max_parallel_workers_per_gather={env.int('DB_PARALLEL_WORKERS', default=0)}",
        ),
    )
)
# The role that web and worker processes use; migrations grant it what it needs and no more.
DATABASE_APP_ROLE = env.str("DATABASE_APP_ROLE", default="trialsite_app")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts and security ------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, with the user's roles, sites and permissions in one query.
    "trialsite.accounts.backends.RequestUserBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Failed log-ins: lock the account for 15 minutes after 5 failures (ASVS 2.2.1). Keyed by
# user name alone: behind a proxy every client may share one address. Wrong passwords at the
# signature and password-change prompts count too (trialsite/accounts/reauth.py).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]  # the warning to add ip_address: see above
# Addresses are logged with each attempt. Behind TRUSTED_PROXY_COUNT proxies (e.g. 1 for the
# TLS proxy the README recommends) the client's address is read from X-Forwarded-For, counting
# that many proxies from the right; with 0 the header is ignored (anyone can forge it).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if TRUSTED_PROXY_COUNT else ("REMOTE_ADDR",)
)
# A password-set link e-mailed to a new user works for this long (and only once).
PASSWORD_RESET_TIMEOUT = 3 * 24 * 3600
OTP_TOTP_ISSUER = "trialsite"
AXES_RESET_ON_SUCCESS = True
# No "AXES: BEGIN" banner on every management command.
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# Sessions end after 30 idle minutes, and 12 hours after log-in however busy (ASVS 3.3.2);
# requests renew the idle limit (at most once a minute, below).
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_ABSOLUTE_SECONDS = env.int("SESSION_ABSOLUTE_SECONDS", default=12 * 3600)
# A GET writes nothing: the session is saved when it changes, and its expiry is moved at
# most once a minute (trialsite/accounts/middleware.py), which keeps the idle limit.
SESSION_SAVE_EVERY_REQUEST = False
SESSION_TOUCH_SECONDS = 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# API tokens (trialsite/api.py): made for at most this many days, and each may make this
# many requests a minute (counted in Redis, across every web process).
API_TOKEN_MAX_DAYS = env.int("API_TOKEN_MAX_DAYS", default=365)
API_REQUESTS_PER_MINUTE = env.int("API_REQUESTS_PER_MINUTE", default=120)

# HTTPS hardening defaults on whenever DEBUG is off; a TLS-terminating proxy must send
# X-Forwarded-Proto.
_HTTPS = env.bool("HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = _HTTPS
SESSION_COOKIE_SECURE = _HTTPS
CSRF_COOKIE_SECURE = _HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if _HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=_HTTPS)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^health/$"]  # container health checks speak plain HTTP inside
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Only this site's own scripts, styles and images; no inline script or style (ASVS 14.4.3).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# --- Time -----------------------------------------------------------------------------------
# Stored in UTC; shown in the zone of the user's site (trialsite.sites.middleware).
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-gb"
USE_I18N = True

# --- Static and media files -----------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "var" / "staticfiles")))
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
MEDIA_URL = "media/"
# Documents (PDFs, exports) are stored through Django's storage API: under MEDIA_ROOT, or with
# DOCUMENT_STORAGE=s3 in an S3-compatible bucket (django-storages), which several web and
# worker machines share. Downloads still pass through the application (permissions, the log).
DOCUMENT_STORAGE = env.str("DOCUMENT_STORAGE", default="filesystem")
if DOCUMENT_STORAGE not in ("filesystem", "s3"):
    raise RuntimeError('DOCUMENT_STORAGE must be "filesystem" or "s3" (see .env.example).')
_documents = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
if DOCUMENT_STORAGE == "s3":
    _documents = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("S3_BUCKET"),
            "location": env.str("S3_PREFIX", default=""),
            "endpoint_url": env.str("S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("S3_REGION", default="") or None,
            "access_key": _secret("S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": _secret("S3_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": "private",
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }
STORAGES = {
    "default": _documents,
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_STORAGE",
            default="whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage",
        )
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- E-mail ---------------------------------------------------------------------------------
# EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.org:587 ; consolemail:// prints mail.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _secret("EMAIL_HOST_PASSWORD", default=_email.get("EMAIL_HOST_PASSWORD", ""))
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
if "EMAIL_FILE_PATH" in _email:  # filemail:////var/mail/x writes each message to a file there
    EMAIL_FILE_PATH = _email["EMAIL_FILE_PATH"]
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="trialsite <edc@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Who is e-mailed at once about every serious adverse event, besides the site's investigators.
SAFETY_CONTACTS = env.list("SAFETY_CONTACTS", default=[])
# Seconds between retries of a failed SAE e-mail.
SAE_NOTIFY_RETRY_SECONDS = env.float("SAE_NOTIFY_RETRY_SECONDS", default=30)
ADMINS = [("Administrator", a) for a in env.list("ADMIN_EMAILS", default=[])]

# --- Celery and Redis -----------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    # 02:00 UTC is 07:00 in Lahore: reminders arrive before clinic hours.
    "visit-reminders": {
        "task": "visits.tasks.send_visit_reminders",
        "schedule": crontab(hour=2, minute=0),
    },
}
# Overdue SAE assessments are escalated by e-mail; checked every 15 minutes.
CELERY_BEAT_SCHEDULE["sae-escalation"] = {
    "task": "safety.tasks.escalate_overdue_saes",
    "schedule": crontab(minute="*/15"),
}
# Audit rows are chained (trialsite/audit/chain.py) within a minute of being committed.
CELERY_BEAT_SCHEDULE["audit-seal"] = {
    "task": "trialsite.audit.tasks.seal_audit_trail",
    "schedule": 60.0,
}
# /health/ (trialsite/health.py): beat's heartbeat task every minute; older than the limit,
# beat or the workers have stopped. Free disk under MEDIA_ROOT below the minimum fails too.
CELERY_BEAT_SCHEDULE["heartbeat"] = {"task": "trialsite.health.record_heartbeat", "schedule": 60.0}
CELERY_INCLUDE = ["trialsite.health", "trialsite.spread"]
# Work handed over through the outbox (trialsite/outbox/services.py) is relayed every few
# seconds, so that what was queued while the broker was down goes out once it is back.
CELERY_BEAT_SCHEDULE["outbox"] = {"task": "trialsite.outbox.tasks.relay_outbox", "schedule": 5.0}
# A request that hands work over waits at most this long for the broker (then the outbox
# keeps the work for the next relay).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    # Tasks are acknowledged when done (acks_late): a task whose worker died (SIGKILL, a lost
    # machine) is given to another worker once this many seconds have passed since it was
    # delivered. Longer than any task runs (DOCUMENT_RENDER_TIME_LIMIT) or waits for a retry.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
}
HEALTH_HEARTBEAT_MAX_AGE = 180
HEALTH_PING_SECONDS = 1.0
# Work waiting in the outbox longer than this (seconds) fails /health/: the broker or beat is
# down (the work itself is kept and goes out when they are back).
HEALTH_OUTBOX_MAX_AGE = 120
HEALTH_MIN_FREE_MB = env.int("HEALTH_MIN_FREE_MB", default=1024)
# Remind coordinators this many days before a visit window opens.
VISIT_REMINDER_DAYS_AHEAD = env.int("VISIT_REMINDER_DAYS_AHEAD", default=3)

# PostgreSQL's client programs for backups (monitoring/backup.py); else found on PATH.
PG_BIN = env.str("PG_BIN", default="/usr/lib/postgresql/15/bin")

# The official CDISC ODM 1.3.2 schema (MIT licence) used to validate exports; not copied into
# the repository.
ODM_SCHEMA_DIR = Path(
    env.str("ODM_SCHEMA_DIR", default=str(BASE_DIR.parent / "shared" / "odm" / "ODM1-3-2"))
)

# --- The study ------------------------------------------------------------------------------
# A PDF or export still rendering after this many seconds is given up as failed (and can be
# retried); the Celery task is stopped at the same limit.
DOCUMENT_RENDER_TIME_LIMIT = 30 * 60
# Long PDFs (from this many characters of HTML) are cut into about PDF_PARTS parts, laid out
# by every free worker process of the cluster at once (trialsite/pdf.py, trialsite/spread.py);
# 1 lays every PDF out whole in one process. More parts spread over more processes, but each
# part costs a fixed start of about a tenth of a second.
PDF_PARTS = env.int("PDF_PARTS", default=8)
PDF_PARALLEL_FROM_CHARS = 30_000
# A part taken by another worker process is laid out again by the rendering task if it has
# not come back after this long (or three times the task's own slowest part): that process
# has died.
SPREAD_WAIT_SECONDS = 30

STUDY_NAME = env.str("STUDY_NAME", default="NCT07157891 Secretome + PRGF in knee OA")

# LOG_FORMAT=json writes each log line as a JSON object (trialsite/logs.py) for collectors.
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "trialsite.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint tells each page it lays out at INFO.
    "loggers": {"weasyprint.progress": {"level": "WARNING"}},
}
