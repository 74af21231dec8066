"""Settings shared by every environment; all of it read from the environment.

`local` (the default) runs on SQLite, the in-memory channel layer, a Celery broker in a SQLite file and
the simulated providers, so a fresh clone needs no server and no key. Setting `DATABASE_URL`,
`REDIS_URL` or a provider's keys switches the matching piece to the real thing; the README lists
every variable.
"""

import datetime
from pathlib import Path

import environ

from config.settings.components.database import database_from_url
from config.settings.components.providers import provider_settings
from config.settings.components.storage import s3_storage

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# Runtime files of the demo: SQLite, broker queue, cache, media, the admin's password. CALLWRIGHT_VAR_DIR
# puts them elsewhere (the end-to-end test runs the demo on a fresh one in a temporary directory).
VAR_DIR = Path(env("CALLWRIGHT_VAR_DIR", default=str(BASE_DIR / "var")))
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    env.read_env(str(BASE_DIR / ".env"))

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
TIME_ZONE = "UTC"  # stored times are UTC; callee-local time is computed per contact
USE_TZ = True
# The admin's default language (`DJANGO_LANGUAGE_CODE`); each user may choose another (LocaleMiddleware and the
# language switch). The catalogues live in locale/ (`make messages` updates and compiles them).
LANGUAGE_CODE = env("DJANGO_LANGUAGE_CODE", default="en-us")
USE_I18N = True
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The port the demo's web process listens on (`make run PORT=8001`); the defaults below follow it.
PORT = env.int("PORT", default=8000)
# The public https origin Twilio reaches us at; webhook signatures are checked against it.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default=f"http://127.0.0.1:{PORT}").rstrip("/")
# Region used to read phone numbers written without a country code.
DEFAULT_PHONE_REGION = env("DEFAULT_PHONE_REGION", default="US")
# Number types (libphonenumber's PhoneNumberType names) a contact may not have: imports reject such rows
# and the admin refuses them. A premium-rate (+1 900) or shared-cost number costs the caller per minute.
CONTACT_REFUSED_NUMBER_TYPES = env.list("CONTACT_REFUSED_NUMBER_TYPES", default=["PREMIUM_RATE", "SHARED_COST"])

# DATABASES
# ------------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": database_from_url(
        env("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'callwright.sqlite3'}"),
        pool_max_size=env.int("DATABASE_POOL_MAX_SIZE", default=16),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# APPS
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "config.apps.CallwrightAdminConfig",  # django.contrib.admin with our AdminSite
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from here: /api/docs/ works offline
    "django_celery_beat",
    "axes",  # locks out repeated failed logins (admin) and token failures (API)
    "guardian",  # object permissions: a user or token granted some campaigns or contact lists only
    "django_prometheus",
    "import_export",
    "contacts",
    "campaigns",
    "calls",
    "voice",
    "monitoring",
]

MIDDLEWARE = [
    "monitoring.middleware.PrometheusBeforeMiddleware",  # first; django-prometheus's, made sync (see the module)
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the language: the switch's cookie, else the browser's
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "contacts.operator_language.OperatorLanguageMiddleware",  # a logged-in operator's own language wins
    "campaigns.integrations.idempotency.IdempotencyMiddleware",  # API POSTs with an Idempotency-Key
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a locked-out admin login into its lockout page
    "monitoring.middleware.PrometheusAfterMiddleware",  # last
]
# django-axes checks every login against its lockouts first; then Django's own backend logs in (and answers
# model permissions); django-guardian answers permissions on one object (`user.has_perm(perm, obj)`).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# No anonymous user row: nothing is granted to anonymous visitors (the API and admin require a login).
ANONYMOUS_USER_NAME = None

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# STATIC FILES (served by WhiteNoise, since the ASGI server serves none)
# ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = env("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "/media/"

# REDIS: cache, channel layer and Celery broker when REDIS_URL is set
# ------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")

if REDIS_URL:
    # One connection pool per process, not one per thread and async context (config/redis_pool.py).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"pool_class": "config.redis_pool.SharedConnectionPool"},
        }
    }
    # channels_redis' layer on a pool that waits for a free connection (calls/channel_layer.py).
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "calls.channel_layer.WaitingRedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
else:
    # A file cache is shared by web, worker and beat, unlike a per-process memory cache.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# CELERY (https://docs.celeryq.dev/en/stable/userguide/configuration.html)
# ------------------------------------------------------------------------------
# Without Redis the broker is kombu's SQLAlchemy transport on a SQLite file of its own: it needs no
# server, web, worker and beat on one machine share it, and each fetch is one `BEGIN IMMEDIATE`
# transaction (the file-system transport let a consumer read a message file while it was being
# written). The README says why; BENCHMARKS.md has its soak.
CELERY_BROKER_SQLITE_FILE = VAR_DIR / "celery-broker.sqlite3"
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or f"sqla+sqlite:///{CELERY_BROKER_SQLITE_FILE}")
if CELERY_BROKER_URL.startswith(("sqla+", "sqlalchemy+")):
    # Passed to SQLAlchemy's create_engine: wait up to 30 s for another process's write lock
    # rather than fail a publish with "database is locked".
    CELERY_BROKER_TRANSPORT_OPTIONS = {"connect_args": {"timeout": 30}}
else:
    # An ETA longer than the visibility timeout is redelivered in a loop (Celery docs, Redis).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 60 * 60}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE  # must equal TIME_ZONE (django-celery-beat #376)
CELERY_ENABLE_UTC = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # tasks write their results to the database
# Except an import's chunk tasks, whose results their job collects (contacts/importing/parsing.py); without
# Redis there is no result backend, and an import reads its chunks in its own task.
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_RESULT_EXPIRES = 60 * 60  # a chunk's result is forgotten once collected; this is for a job that died
# Every task is idempotent, so a task whose worker dies mid-run is delivered again.
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=5 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=4 * 60)
# django-celery-beat's DatabaseScheduler, recording each tick (beat's liveness and its "last tick" metric).
CELERY_BEAT_SCHEDULER = "monitoring.beat:TickRecordingScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # keep our LOGGING (and its phone masking)
CELERY_WORKER_SEND_TASK_EVENTS = False

# DJANGO REST FRAMEWORK
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Integration tokens (a hash stored, scoped, revocable); the session for the browsable API.
    "DEFAULT_AUTHENTICATION_CLASSES": (
        "campaigns.integrations.tokens.IntegrationTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ),
    "DEFAULT_PERMISSION_CLASSES": (
        "config.api_permissions.ModelOrObjectPermissions",
        "config.api_permissions.TokenScopePermission",
    ),
    "DEFAULT_THROTTLE_CLASSES": (
        "campaigns.integrations.throttles.TokenRateThrottle",
        "campaigns.integrations.throttles.IPRateThrottle",
    ),
    "NUM_PROXIES": env.int("TRUSTED_PROXY_COUNT", default=0),
    # Every 4xx as RFC 9457 problem details.
    "EXCEPTION_HANDLER": "campaigns.integrations.problems.problem_exception_handler",
    # JSON in, as the schema says (a file upload names its own parser): one request body type per
    # operation, which generated clients need to pick the encoding.
    "DEFAULT_PARSER_CLASSES": ("rest_framework.parsers.JSONParser",),
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": (
        "config.api_permissions.GrantedObjectsFilter",  # object grants: only what the caller may see
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# Rate limits of the API ("<n>/<s|min|hour|day>"; empty: none), per token and per client address.
API_RATE_PER_TOKEN = env("API_RATE_PER_TOKEN", default="600/min")
API_RATE_PER_IP = env("API_RATE_PER_IP", default="1200/min")
# Proxies in front of the web processes that append to X-Forwarded-For (0: the client is REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# django-axes: AXES_FAILURE_LIMIT failed admin logins or API token attempts lock out that username and that
# address for AXES_COOLOFF_TIME; the admin's "Access attempts" shows lockouts, and deleting one lifts it.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_CLIENT_IP_CALLABLE = "campaigns.integrations.throttles.client_ip"
AXES_RESET_ON_SUCCESS = True
# A POST's Idempotency-Key is remembered this long (with its first answer), then forgotten.
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
# Request bodies read into memory: a bulk upsert of 10,000 contacts is a few MB of JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=20 * 1024 * 1024)
# Outbound webhooks (campaigns/integrations/webhooks.py): a receiver has this long to answer; a failed attempt
# is retried after WEBHOOK_RETRY_BASE_SECONDS doubled each time (capped, with jitter), WEBHOOK_MAX_ATTEMPTS in
# all; a subscription whose deliveries fail WEBHOOK_PAUSE_AFTER_FAILURES times in a row is paused.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", default=6 * 60 * 60.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=10)
WEBHOOK_PAUSE_AFTER_FAILURES = env.int("WEBHOOK_PAUSE_AFTER_FAILURES", default=20)
# Webhook URLs whose host is or resolves to a loopback, private, link-local, multicast, reserved or unspecified
# address are refused, at save and at each delivery (campaigns/integrations/webhook_urls.py); True allows them
# (the demo's and the tests' receivers listen on 127.0.0.1). WEBHOOKS_REQUIRE_HTTPS refuses plain http URLs.
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=False)
WEBHOOKS_REQUIRE_HTTPS = env.bool("WEBHOOKS_REQUIRE_HTTPS", default=False)
SPECTACULAR_SETTINGS = {
    "TITLE": "Callwright API",
    "DESCRIPTION": "AI phone-call campaigns: contacts, campaigns and calls. Authenticate with an integration "
    "token (`Authorization: Bearer cw_…`, created in the admin). Errors are RFC 9457 problem details; POSTs "
    "accept an `Idempotency-Key`; events reach your URLs as signed webhooks (see the README).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Every operation's 4xx as problem details, and the Idempotency-Key header on every POST.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "campaigns.integrations.schema.add_problem_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "CampaignStatusEnum": "campaigns.models.Campaign.Status",
        "CallStatusEnum": "calls.models.CallStatus",
        "ImportStatusEnum": "contacts.models.ContactImportJob.Status",
        "DeliveryStatusEnum": "campaigns.integrations.models.WebhookDelivery.Status",
        "WebhookEventEnum": "campaigns.integrations.models.WebhookEvent",
    },
    "COMPONENT_SPLIT_REQUEST": True,  # request and response bodies typed apart (read-only fields in answers only)
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# IMPORT / EXPORT
# ------------------------------------------------------------------------------
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = True  # per-row admin log entries cost minutes on big files
# Contact files are streamed, never held whole in memory; this limit is a policy on top.
CONTACT_IMPORT_MAX_FILE_MB = env.int("CONTACT_IMPORT_MAX_FILE_MB", default=100)
# Chunk tasks that read a big import's rows on the workers, 2 × this in flight (libphonenumber is the
# bottleneck); 1 reads inline in the job's own task.
CONTACT_IMPORT_PARSE_WORKERS = env.int("CONTACT_IMPORT_PARSE_WORKERS", default=2)
# An uploaded contact file whose preview is never confirmed is deleted after this many minutes (a sweep
# every CONTACT_IMPORT_UPLOAD_SWEEP_SECONDS); a confirmed one is deleted when its job ends.
CONTACT_IMPORT_UPLOAD_MAX_AGE_MINUTES = env.int("CONTACT_IMPORT_UPLOAD_MAX_AGE_MINUTES", default=60)
CONTACT_IMPORT_UPLOAD_SWEEP_SECONDS = env.int("CONTACT_IMPORT_UPLOAD_SWEEP_SECONDS", default=15 * 60)

# TRACING (monitoring/tracing.py): OpenTelemetry, off unless TRACING_ENABLED or an OTLP endpoint is set
# ------------------------------------------------------------------------------
TRACING_ENABLED = env.bool(
    "TRACING_ENABLED",
    default=bool(
        env("OTEL_EXPORTER_OTLP_ENDPOINT", default="") or env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", default="")
    ),
)
if TRACING_ENABLED:  # a span per request, after the request metrics; absent (no cost at all) when off
    MIDDLEWARE.insert(1, "monitoring.middleware.TracingMiddleware")

# PROMETHEUS
# ------------------------------------------------------------------------------
PROMETHEUS_METRIC_NAMESPACE = ""
# Who may read /metrics (monitoring/exposition.py): a bearer token when set, else these client networks.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list(
    "METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
)

# E-MAIL (alert notifications): SMTP from the environment; local settings print mail to the console instead.
# ------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="callwright@localhost")
ALERTS_FROM_EMAIL = env("ALERTS_FROM_EMAIL", default=DEFAULT_FROM_EMAIL)

# BACKUPS (monitoring/backups.py): pg_dump + MEDIA_ROOT, daily from beat, kept BACKUP_KEEP_DAYS days
# ------------------------------------------------------------------------------
BACKUP_DIR = env("BACKUP_DIR", default=str(VAR_DIR / "backups"))
BACKUP_KEEP_DAYS = env.int("BACKUP_KEEP_DAYS", default=14)
BACKUP_INTERVAL_HOURS = env.int("BACKUP_INTERVAL_HOURS", default=24)  # 0: beat never backs up
# An S3-compatible copy of each set (AWS, MinIO, B2, R2): boto3 reads AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.
BACKUP_S3_BUCKET = env("BACKUP_S3_BUCKET", default="")
BACKUP_S3_ENDPOINT_URL = env("BACKUP_S3_ENDPOINT_URL", default="")  # empty: AWS
BACKUP_S3_PREFIX = env("BACKUP_S3_PREFIX", default="callwright/")

# PROVIDERS: real adapters when their keys are set, simulated ones otherwise
# ------------------------------------------------------------------------------
_providers = provider_settings(env)
TWILIO_ACCOUNT_SID = _providers.twilio_account_sid
TWILIO_AUTH_TOKEN = _providers.twilio_auth_token
TWILIO_FROM_NUMBER = _providers.twilio_from_number
ELEVENLABS_API_KEY = _providers.elevenlabs_api_key
ELEVENLABS_VOICE_ID = _providers.elevenlabs_voice_id
OPENAI_API_KEY = _providers.openai_api_key
OPENAI_BASE_URL = _providers.openai_base_url
TELEPHONY_PROVIDER = _providers.telephony
SPEECH_TO_TEXT_PROVIDER = _providers.speech_to_text
LANGUAGE_MODEL_PROVIDER = _providers.language_model
TEXT_TO_SPEECH_PROVIDER = _providers.text_to_speech
OPENAI_STT_MODE = _providers.openai_stt_mode  # realtime (streamed) | utterance

# TELEPHONY: webhooks, the media stream, the simulated carrier and the reaper
# ------------------------------------------------------------------------------
TWILIO_HTTP_TIMEOUT_SECONDS = env.float("TWILIO_HTTP_TIMEOUT_SECONDS", default=10.0)
# A Twilio-compatible REST server (e.g. a local mock) instead of https://api.twilio.com; empty: Twilio.
TWILIO_API_BASE_URL = env("TWILIO_API_BASE_URL", default="")
# The simulated carrier signs its callbacks with this token; webhooks accept it only when
# TELEPHONY_PROVIDER=simulated (with Twilio they check TWILIO_AUTH_TOKEN), so it is not a secret.
SIMULATED_CARRIER_AUTH_TOKEN = env("SIMULATED_CARRIER_AUTH_TOKEN", default="simulated-carrier-auth-token")
SIMULATED_CARRIER_ACCOUNT_SID = "AC" + "0" * 32
SIMULATED_CARRIER_PERSONA = env("SIMULATED_CARRIER_PERSONA", default="")  # empty: chosen by the number
SIMULATED_CARRIER_CHAOS = env.bool("SIMULATED_CARRIER_CHAOS", default=False)  # duplicate + reorder callbacks
SIMULATED_CARRIER_TIME_SCALE = env.float("SIMULATED_CARRIER_TIME_SCALE", default=1.0)  # <1: faster than real time
# Calls open longer than ring timeout + max duration + this margin are closed by the reaper.
CALLS_REAPER_MARGIN_SECONDS = env.int("CALLS_REAPER_MARGIN_SECONDS", default=300)
CALLS_REAPER_INTERVAL_SECONDS = env.int("CALLS_REAPER_INTERVAL_SECONDS", default=5)  # beat's reaper pass
# A call still queued this long was never handed to the carrier (a crash or a broker error after the dial).
CALLS_QUEUED_GRACE_SECONDS = env.int("CALLS_QUEUED_GRACE_SECONDS", default=15)
MEDIA_STREAM_TOKEN_MAX_AGE_SECONDS = 2 * 60 * 60
# Who converses on a media stream: a zero-argument callable returning a voice.sessions.VoiceSession.
# The default holds the conversation (STT → LLM → TTS) and persists it to the call;
# "voice.sessions.ListeningSession" listens and says nothing.
VOICE_SESSION_FACTORY = env("VOICE_SESSION_FACTORY", default="calls.conversation_host.conversation_session")

# VOICE: details of the speech adapters (voice/providers/speech_selection.py)
# ------------------------------------------------------------------------------
ELEVENLABS_BASE_URL = env("ELEVENLABS_BASE_URL", default="")  # empty: api.elevenlabs.io
OPENAI_TRANSCRIPTION_MODEL = env("OPENAI_TRANSCRIPTION_MODEL", default="gpt-4o-mini-transcribe")
OPENAI_TTS_MODEL = env("OPENAI_TTS_MODEL", default="gpt-4o-mini-tts")
OPENAI_TTS_VOICE = env("OPENAI_TTS_VOICE", default="alloy")  # the secondary voice
# Fixed delays of the simulated speech providers (0: instant), for a demo that feels like real ones and for
# the voice benchmark's "fake providers of fixed delay": STT per utterance, LLM to its first token, TTS to
# the first byte of each chunk.
SIMULATED_STT_DELAY_MS = env.int("SIMULATED_STT_DELAY_MS", default=0)
SIMULATED_LLM_FIRST_TOKEN_MS = env.int("SIMULATED_LLM_FIRST_TOKEN_MS", default=0)
SIMULATED_TTS_FIRST_BYTE_MS = env.int("SIMULATED_TTS_FIRST_BYTE_MS", default=0)

# LOGGING: every handler masks phone numbers (keeps the last 4 digits)
# ------------------------------------------------------------------------------
# LOG_LEVEL (DJANGO_LOG_LEVEL is its older name) sets our loggers. Celery's own INFO lines — a
# "received" and a "succeeded" per task, beat's "Sending due task" per tick, start-up chatter — are
# shown only at DEBUG: at a 2-second dialer tick they are thousands of lines an hour.
LOG_LEVEL = env("LOG_LEVEL", default=env("DJANGO_LOG_LEVEL", default="INFO")).upper()
CELERY_LOG_LEVEL = "DEBUG" if LOG_LEVEL == "DEBUG" else "WARNING"
# LOG_FORMAT: "plain" (a line of text; the demo and development) or "json" (one object a line, for a log
# collector; the default of production settings). Both carry the call id on every line about a call.
LOG_FORMAT = env("LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "mask_phone_numbers": {"()": "monitoring.logging.PhoneNumberMaskingFilter"},
        "call_id": {"()": "monitoring.logging.CallIdFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(process)d %(call)s%(message)s"},
        "json": {
            "()": "monitoring.logging.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(call_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["mask_phone_numbers", "call_id"],
        },
    },
    "root": {"level": LOG_LEVEL, "handlers": ["console"]},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": CELERY_LOG_LEVEL},
        "kombu": {"level": CELERY_LOG_LEVEL},
        "httpx": {"level": CELERY_LOG_LEVEL},  # a line per simulated-carrier callback
    },
}

# SENTRY (optional): errors go to Sentry when SENTRY_DSN is set — exactly the ERROR lines the logs get,
# through a logging handler with the same phone-number masking (monitoring/logging.py). Sentry's automatic
# integrations, which patch Django, Celery and the logging module, stay off.
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        release=env("CALLWRIGHT_VERSION", default=None),
        default_integrations=False,
    )
    LOGGING["handlers"]["sentry"] = {
        "class": "sentry_sdk.integrations.logging.EventHandler",
        "level": "ERROR",
        "filters": ["mask_phone_numbers", "call_id"],
    }
    LOGGING["root"]["handlers"].append("sentry")

# DIALER
# ------------------------------------------------------------------------------
# How often beat runs the dispatcher, and how many seconds of calls-per-second a campaign may bank
# when a tick runs late (its token bucket's burst).
DIALER_TICK_SECONDS = env.int("DIALER_TICK_SECONDS", default=2)
# Campaign time against real time: a campaign's retry delays (its retry policy's minutes) are multiplied by
# it. 1 in production; the end-to-end test runs 30 minutes of a campaign in seconds with it (and the
# simulated carrier's SIMULATED_CARRIER_TIME_SCALE for rings and calls), every dialer tick still run.
CAMPAIGN_TIME_SCALE = env.float("CAMPAIGN_TIME_SCALE", default=1.0)
DIALER_BURST_SECONDS = env.float("DIALER_BURST_SECONDS", default=2.0)
# The dispatcher has its own queue: on the demo one process serves it, so its in-process CPS bucket
# is the only one; with Redis any worker may take it.
# Finished calls whose targets are settled by one task (campaigns/settlement.py); 0: a task per call.
SETTLEMENT_BATCH_SECONDS = 0.05
CELERY_TASK_ROUTES = {"campaigns.dispatch_due": {"queue": "dialer"}}

# AFTER THE CALL: post-call analysis (campaigns/analysis.py)
# ------------------------------------------------------------------------------
# The analysis model follows LANGUAGE_MODEL_PROVIDER (openai with a key, else the deterministic simulated one).
OPENAI_ANALYSIS_MODEL = env("OPENAI_ANALYSIS_MODEL", default="gpt-4o-mini")
ANALYSIS_TIMEOUT_SECONDS = env.float("ANALYSIS_TIMEOUT_SECONDS", default=60.0)  # per request to the model
ANALYSIS_ENABLED = env.bool("ANALYSIS_ENABLED", default=True)  # analyse each finished, answered call

# COST: what each call is estimated to cost (calls/costs.py). Prices are decimal strings in CALL_PRICES["currency"].
# The simulated providers are priced like the real ones they stand in for, so the demo's figures look real.
# CALL_PRICES_JSON (the whole table as JSON) replaces it, e.g. with your contract's rates.
CALL_PRICES = env.json(
    "CALL_PRICES_JSON",
    default={
        "currency": "USD",
        # Carriers bill each started minute of an answered call.
        "telephony_per_minute": {"twilio": "0.0140", "simulated": "0.0140"},
        "tts_per_1k_characters": {"elevenlabs": "0.1000", "openai": "0.0150", "simulated": "0.1000"},
        "stt_per_minute": {"openai": "0.0030", "simulated": "0.0030"},
        # Per million tokens, by model; "default" prices a model the table does not name.
        "llm_per_1m_tokens": {
            "gpt-4o-mini": {"input": "0.15", "output": "0.60"},
            "gpt-4o": {"input": "2.50", "output": "10.00"},
            "simulated": {"input": "0.15", "output": "0.60"},
            "default": {"input": "0.15", "output": "0.60"},
        },
    },
)

# RECORDINGS AND RETENTION (calls/services/recordings.py)
# ------------------------------------------------------------------------------
# Calls that ended more than this many days ago lose their recording, transcript and provider events (the
# call rows, outcomes and summaries stay); 0 keeps everything. The purge runs hourly and is audited.
RETENTION_DAYS = env.int("RETENTION_DAYS", default=0)
# Recordings (and reports) go to the default storage: local files under MEDIA_ROOT, or an S3-compatible bucket
# with RECORDINGS_S3_BUCKET set (django-storages; AWS_* / AWS_S3_ENDPOINT_URL as django-storages reads them).
RECORDINGS_S3_BUCKET = env("RECORDINGS_S3_BUCKET", default="")
if RECORDINGS_S3_BUCKET:
    STORAGES["default"] = s3_storage(
        bucket=RECORDINGS_S3_BUCKET,
        endpoint_url=env("AWS_S3_ENDPOINT_URL", default=""),
        region=env("AWS_S3_REGION_NAME", default=""),
    )
