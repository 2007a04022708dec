"""Django settings, all read from the environment with safe development defaults."""

import json
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name, default=None):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

# Development gets a fixed key; production refuses to start without one.
_DEV_SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"
SECRET_KEY = env("SECRET_KEY", _DEV_SECRET_KEY if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "core.admin_site.CaseAdminConfig",  # django.contrib.admin on our site class
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "django_tasks",
    "django_tasks_db",
    "axes",
    # Second factor for the admin roles (core/second_factor.py): TOTP apps and recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Ours. Order matters for the demo loader: plans before the apps that name plans.
    "core",
    "plans",
    "incidents",
    "training",
    "directory",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads the request: a NUL reaching PostgreSQL is a 500 (core/middleware.py).
    "core.middleware.RefuseNulMiddleware",
    # Turns SQLite's "database is locked" after the busy timeout into 503 + Retry-After.
    "core.middleware.DatabaseBusyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): the session passed a second factor (django-otp).
    "django_otp.middleware.OTPMiddleware",
    # request.user as the user itself from here on, not behind two lazy proxies.
    "core.middleware.ResolvedUserMiddleware",
    # Admin and session API wait for the second factor of the roles that need one.
    "core.middleware.SecondFactorMiddleware",
    # Pages and forms in the signed-in person's time zone (core/timezones.py).
    "core.timezones.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: turns locked-out sign-ins into a clear refusal.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Project-wide overrides of library templates (the admin's base_site).
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.site.site_context",
                "directory.oidc.sign_in_context",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# SQLite file in the project folder unless DATABASE_URL says otherwise.
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(env("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads and processes (runserver, gunicorn workers, the timer commands) share
    # one file. WAL lets readers run while one writer writes; a writer waits up to `timeout`
    # seconds for another to finish. IMMEDIATE makes every transaction take the write lock
    # when it begins: a DEFERRED one that read first and then writes cannot wait for the
    # lock (SQLite answers "database is locked" at once, to avoid a deadlock).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": int(env("SQLITE_TIMEOUT_SECONDS", "20")),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        }
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env_bool(
    "DB_JIT", False
):
    # PostgreSQL's JIT compiles the expressions of any query the planner costs high, such as a
    # COUNT over 100,000 incidents under a coordinator's visibility filter: compiling takes
    # 10-40 ms and saves less on queries this short (README, "Performance"). DB_JIT=1 keeps it.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    "DB_PREPARED_STATEMENTS", False
):
    # Parameters bound by the server, and a statement the connection has run
    # DB_PREPARE_THRESHOLD times prepared, so PostgreSQL plans it once per connection
    # (README, "Performance": planning the incident list's query took longer than running
    # it). Off behind a pooler in transaction mode (PgBouncer), which cannot keep them.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "server_side_binding": True,
            "prepare_threshold": int(env("DB_PREPARE_THRESHOLD", "5")),
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Password guessing: django-axes counts failed sign-ins (admin, self-service
# site and the API token endpoint alike) and locks that username from that
# address after AXES_FAILURE_LIMIT failures for AXES_COOLOFF_HOURS.
AUTHENTICATION_BACKENDS = [
    "core.auth.LockoutBackend",
    # ModelBackend with its two permission queries answered from the cache (core/auth.py).
    "core.auth.CachedPermissionBackend",
]
# The permission cache needs a cache every process shares, or one process: a revocation in
# one gunicorn worker must reach the others at once. So it is on with Redis (REDIS_URL) and in
# development (runserver, tests: one process), and off by default in production without Redis.
PERMISSION_CACHE = env_bool("PERMISSION_CACHE", bool(env("REDIS_URL")) or DEBUG)
AXES_FAILURE_LIMIT = int(env("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(env("AXES_COOLOFF_HOURS", "1"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Behind a load balancer every request comes from the balancer's address. Set
# TRUSTED_PROXY_COUNT to the number of proxies in front of the app (1 for one load
# balancer that appends to X-Forwarded-For); the client's address is then read from
# that header (core/http.py), for the lockout above (which counts a username *and*
# an address together, so a guesser elsewhere cannot lock a person out) and for the
# address an acknowledgement records. 0 (the default) trusts no header: a client
# could forge it to dodge the lockout. AXES_PROXY_COUNT is the older name.
TRUSTED_PROXY_COUNT = int(env("TRUSTED_PROXY_COUNT", env("AXES_PROXY_COUNT", "0")))
AXES_CLIENT_IP_CALLABLE = "core.http.client_ip"
# The username an attempt is recorded under, never longer than its column (core/auth.py).
AXES_USERNAME_CALLABLE = "core.auth.lockout_username"

# Sign-in through the organisation's OpenID provider (directory/oidc.py, README "Sign-in
# through an OpenID provider"): on only when a client id and the provider (OIDC_ISSUER, or
# its endpoint URLs) are set. Unset, the sign-in pages are as they always were: local passwords.
OIDC_ISSUER = env("OIDC_ISSUER", "")
OIDC_RP_CLIENT_ID = env("OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = env("OIDC_CLIENT_SECRET", "")
OIDC_RP_SCOPES = env("OIDC_SCOPES", "openid email profile")
# Endpoints: read from the issuer's discovery document unless given here ("none": not used;
# OIDC_USERINFO_ENDPOINT=none reads the claims from the ID token alone).
OIDC_OP_AUTHORIZATION_ENDPOINT = env("OIDC_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = env("OIDC_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = env("OIDC_USERINFO_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = env("OIDC_JWKS_URI", "")
OIDC_OP_END_SESSION_ENDPOINT = env("OIDC_END_SESSION_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = env("OIDC_SIGN_ALGO", "RS256")
# How the client secret reaches the token endpoint: HTTP Basic (the OAuth default) or the body.
OIDC_TOKEN_AUTH_METHOD = env("OIDC_TOKEN_AUTH_METHOD", "client_secret_basic")
if OIDC_TOKEN_AUTH_METHOD not in ("client_secret_basic", "client_secret_post"):
    raise ImproperlyConfigured(
        "OIDC_TOKEN_AUTH_METHOD is client_secret_basic or client_secret_post."
    )
OIDC_TOKEN_USE_BASIC_AUTH = OIDC_TOKEN_AUTH_METHOD == "client_secret_basic"
OIDC_PROVIDER_NAME = env("OIDC_PROVIDER_NAME", "your organisation's sign-in")
# The claim holding the person's directory groups (a list of names or ids), and how those map
# to our groups: {"directory group name or id": "Our group" or ["Our group", ...]}. Groups
# SCIM may fill (Staff, plan audiences, course groups) also match by the same name.
OIDC_GROUPS_CLAIM = env("OIDC_GROUPS_CLAIM", "groups")
try:
    OIDC_GROUP_MAP = {
        str(source): [targets] if isinstance(targets, str) else [str(name) for name in targets]
        for source, targets in json.loads(env("OIDC_GROUP_MAP", "") or "{}").items()
    }
except (ValueError, AttributeError, TypeError) as exc:
    raise ImproperlyConfigured(
        'OIDC_GROUP_MAP must be a JSON object: {"directory group": "Our group", ...}.'
    ) from exc
# Providers that never send `email_verified` (Microsoft Entra ID) but own the address.
OIDC_TRUST_EMAIL = env_bool("OIDC_TRUST_EMAIL", False)
# Whether a first sign-in may link an account with an administrative role by its email.
OIDC_LINK_PRIVILEGED = env_bool("OIDC_LINK_PRIVILEGED", False)
OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID and (OIDC_ISSUER or OIDC_OP_AUTHORIZATION_ENDPOINT))
# mozilla-django-oidc's own settings: PKCE and a nonce on every request, the ID token kept in
# the session for the provider's sign-out, and no wait longer than OIDC_TIMEOUT seconds.
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_STORE_ID_TOKEN = True
OIDC_TIMEOUT = float(env("OIDC_TIMEOUT", "10"))
OIDC_CREATE_USER = True
if OIDC_ENABLED:
    AUTHENTICATION_BACKENDS.append("directory.oidc.OidcBackend")
# Second factor (README, "Second factor"): members of Coordinators, Plan approvers,
# Compliance and Incident intake (and superusers) pass a TOTP code or a recovery code, or an
# OIDC sign-in whose `amr` names a second factor, before any admin page or session API call.
# On in production (DEBUG off), off in development and tests unless set.
ADMIN_REQUIRE_2FA = env_bool("ADMIN_REQUIRE_2FA", not DEBUG)
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", "Incident response")
# Wrong codes: django-otp's throttling doubles the wait after each failure (1 s, 2 s, 4 s, …).
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
# The zone of anyone who has not chosen their own (Profile.time_zone); times are stored in UTC.
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Evidence files on incidents (incidents.services.attachments). A folder by default, never
    # served as it is: every download goes through the app, which records it. For S3-compatible
    # object storage install the `s3` extra (django-storages) and set ATTACHMENT_STORAGE=s3
    # (README, "Attachments").
    "attachments": (
        {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": env("ATTACHMENT_S3_BUCKET"),
                "endpoint_url": env("ATTACHMENT_S3_ENDPOINT_URL"),
                "region_name": env("ATTACHMENT_S3_REGION"),
                "location": env("ATTACHMENT_S3_PREFIX", "attachments"),
                "file_overwrite": False,
                "default_acl": "private",
                "querystring_auth": True,
            },
        }
        if env("ATTACHMENT_STORAGE", "local") == "s3"
        else {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {
                "location": env("ATTACHMENT_ROOT", str(BASE_DIR / "attachments")),
                "base_url": None,
                "file_permissions_mode": 0o640,
                "directory_permissions_mode": 0o750,
            },
        }
    ),
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Sessions live in the database so several app servers can share them.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env("REDIS_URL")}
        if env("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Email: console in development; any backend through the environment.
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "incidents@localhost")
# For django.core.mail.backends.filebased.EmailBackend.
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", str(BASE_DIR / "sent-emails"))
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# A failed email is retried (manage.py resend_failed_emails, run by the escalation cron)
# after 2, 4, 8, … minutes, this many attempts in all; then it stays failed, on the record.
EMAIL_MAX_ATTEMPTS = int(env("EMAIL_MAX_ATTEMPTS", "5"))
# Absolute links in emails (acknowledgement pages, incidents).
# Unset, it is the address `make run` serves (PORT, default 8000), so links work on any port.
SITE_URL = (env("SITE_URL") or f"http://127.0.0.1:{env('PORT', '8000')}").rstrip("/")

# Background work goes through the Tasks API. Immediate in development and
# tests; in production the database queue (workers: manage.py db_worker),
# so no email is ever sent inside a web request.
TASK_BACKEND = env("TASK_BACKEND", "immediate" if DEBUG else "database")
_TASK_BACKENDS = {
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
    "database": "django_tasks_db.DatabaseBackend",
    "dummy": "django_tasks.backends.dummy.DummyBackend",
}
if TASK_BACKEND not in _TASK_BACKENDS:
    raise ImproperlyConfigured(f"TASK_BACKEND must be one of {sorted(_TASK_BACKENDS)}.")
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[TASK_BACKEND]}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.StandardPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "core.renderers.BrowsableAPIRenderer",
    ],
    # DRF's parsers, refusing a NUL anywhere and JSON nested too deep with 400 (core/parsing.py).
    "DEFAULT_PARSER_CLASSES": [
        "core.parsing.JSONParser",
        "core.parsing.FormParser",
        "core.parsing.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    # Throttling limits load per client; it is not the password-guessing
    # defence (that is django-axes). The token endpoint has its own scope.
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", "120/minute"),
        "user": env("API_THROTTLE_USER", "6000/minute"),
        "auth": env("API_THROTTLE_AUTH", "30/minute"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Incident response case system API",
    "DESCRIPTION": "Incidents, versioned response plans and acknowledgements, training and drills.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Several models have a `status` (or `kind`) with their own choices: name each enum.
    "ENUM_NAME_OVERRIDES": {
        "IncidentStatusEnum": "incidents.models.Status",
        # The same choices as training's ImprovementAction.Status: one enum serves both.
        "ActionStatusEnum": "incidents.models.Action.ActionStatus",
        "ActionKindEnum": "incidents.models.Action.Kind",
        "ReviewStatusEnum": "incidents.models.PostIncidentReview.ReviewStatus",
        "TimelineKindEnum": "incidents.models.TimelineEntry.Kind",
        "PlanVersionStatusEnum": "plans.models.PlanVersion.Status",
        "ChangeRequestStatusEnum": "plans.models.PlanChangeRequest.Status",
        "CourseKindEnum": "training.models.Course.Kind",
        "SessionStatusEnum": "training.models.Session.Status",
        "RecordStatusEnum": "training.models.Record.Status",
        "ReadinessStateEnum": "incidents.models.Readiness.State",
        "ObligationStateEnum": [
            ("pending", "pending"),
            ("at_risk", "at risk"),
            ("breached", "breached"),
            ("met", "met"),
            ("missed", "missed"),
            ("not_applicable", "not applicable"),
        ],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.add_error_responses",
    ],
}

SIMPLE_HISTORY_DATE_INDEX = "Composite"
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
SIMPLE_HISTORY_REVERT_DISABLED = True

# Domain settings.
INCIDENT_LATE_REPORT_HOURS = int(env("INCIDENT_LATE_REPORT_HOURS", "24"))
# Share of a response target's time after which it counts as "at risk".
INCIDENT_TARGET_AT_RISK_RATIO = float(env("INCIDENT_TARGET_AT_RISK_RATIO", "0.75"))
ACKNOWLEDGEMENT_REMINDER_INTERVAL_DAYS = int(env("ACKNOWLEDGEMENT_REMINDER_INTERVAL_DAYS", "7"))
# Electronic signatures without a password: how recent the provider re-authentication must be.
SIGNING_REAUTH_SECONDS = int(env("SIGNING_REAUTH_SECONDS", "300"))
TRAINING_DUE_SOON_DAYS = int(env("TRAINING_DUE_SOON_DAYS", "30"))
TRAINING_REMINDER_INTERVAL_DAYS = int(env("TRAINING_REMINDER_INTERVAL_DAYS", "7"))
# Evidence files (docs/incidents.md §Attachments): the largest accepted, in bytes (25 MiB), and
# the kinds accepted, by file-name extension (each checked against the content's first bytes).
ATTACHMENT_MAX_BYTES = int(env("ATTACHMENT_MAX_BYTES", str(25 * 1024 * 1024)))
ATTACHMENT_ALLOWED_TYPES = env_list(
    "ATTACHMENT_ALLOWED_TYPES", "pdf,png,jpg,jpeg,gif,txt,log,csv,json,eml,zip,docx,xlsx,pcap"
)
# Name of the user recorded as the actor of scheduled work run without --user.
SYSTEM_USERNAME = env("SYSTEM_USERNAME", "system")

# Production hardening: on whenever DEBUG is off.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "WARNING")},
}
