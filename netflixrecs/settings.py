"""Settings for netflixrecs.

Everything comes from the environment (django-environ), with embedded defaults so that a
fresh clone runs with nothing installed: SQLite under ``var/``, a local-memory cache and
Celery tasks executed in-process. ``DJANGO_ENV=production`` switches to production mode,
which refuses to start without ``SECRET_KEY`` and ``ALLOWED_HOSTS`` and passes
``manage.py check --deploy``. Every variable is listed in ``.env.example`` and the README.
"""

import datetime
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A local .env is a convenience for development; real deployments set the environment.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production"}:
    raise environ.ImproperlyConfigured("DJANGO_ENV must be 'development' or 'production'")
PRODUCTION = DJANGO_ENV == "production"

if PRODUCTION:
    # No defaults on purpose: production must never run on a key that is in the repository.
    SECRET_KEY = env.str("SECRET_KEY")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
    DEBUG = False
else:
    SECRET_KEY = env.str(
        "SECRET_KEY", default="dev-only-insecure-key-6c1f0b7e2d9a4f3b8e5d1c7a9b2e4f6d8c0a1b3e"
    )
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
    DEBUG = env.bool("DEBUG", default=True)

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles so runserver serves static files the way production does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "csp",
    "axes",
    "health_check",  # /health/ (netflixrecs/health.py) and `manage.py health_check`
    "accounts",
    "movies",
    "recommendations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything that reads the request: a NUL byte never reaches a view or the database.
    "netflixrecs.middleware.RejectNulMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "netflixrecs.urls"
WSGI_APPLICATION = "netflixrecs.wsgi.application"

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

# --- Database -----------------------------------------------------------------------------
# No DATABASE_URL: an SQLite file under var/, so a newcomer needs nothing installed. Settings
# create no directories at import time; `make migrate` (and `make demo`) creates var/.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite under concurrent web use (Django 5.1+ OPTIONS): WAL lets readers run beside the
    # one writer; IMMEDIATE transactions take the write lock at BEGIN, so a writer waits for
    # busy_timeout instead of failing with "database is locked" when it upgrades a read lock
    # half-way through a transaction; synchronous=NORMAL is the durable-enough WAL setting.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=20),
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
            ),
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's RedisCache, one redis.Redis client per pool (netflixrecs/cache.py).
            "BACKEND": "netflixrecs.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="netflixrecs"),
        }
    }
    # Sessions read from Redis, written through to the database: one query less per request
    # and sessions survive a cache flush (bench/bench_load.py measured the difference).
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL or None)
# No broker configured: run tasks in-process, so the site works with nothing else running.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
if PRODUCTION and CELERY_TASK_ALWAYS_EAGER and "CELERY_TASK_ALWAYS_EAGER" not in env.ENVIRON:
    # A 30-minute build must not run inside an admin's HTTP request by accident.
    raise environ.ImproperlyConfigured(
        "Production needs a Celery broker (set REDIS_URL or CELERY_BROKER_URL); to run tasks "
        "in-process anyway, set CELERY_TASK_ALWAYS_EAGER=true explicitly."
    )
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {}

# --- Jobs (netflixrecs/jobs: TMDB syncs, model builds) --------------------------------------
# A running job refreshes its heartbeat this often (seconds).
JOB_HEARTBEAT_SECONDS = env.float("JOB_HEARTBEAT_SECONDS", default=5.0)
# Without PostgreSQL's advisory-lock lease, a running job silent for this long is dead, so a
# new run after a killed one starts within a minute.
JOB_STALE_SECONDS = env.float("JOB_STALE_SECONDS", default=45.0)
# A job still queued after this long (no worker took it) no longer blocks a new one.
JOB_QUEUED_TIMEOUT = env.float("JOB_QUEUED_TIMEOUT", default=3600.0)
# Celery beat expires dead jobs this often (seconds; 0 = only when a new job is queued).
JOB_EXPIRE_EVERY_SECONDS = env.float("JOB_EXPIRE_EVERY_SECONDS", default=60.0)
if JOB_EXPIRE_EVERY_SECONDS > 0:
    CELERY_BEAT_SCHEDULE["expire-stale-jobs"] = {
        "task": "netflixrecs.jobs.tasks.expire_stale_jobs",
        "schedule": JOB_EXPIRE_EVERY_SECONDS,
    }

# --- Auth ---------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses any attempt while the username + address pair is locked out.
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend that refuses imported dataset users.
    "accounts.backends.PeopleBackend",
]

# --- Login throttling (django-axes) --------------------------------------------------------
# After AXES_FAILURE_LIMIT wrong passwords for one username from one address, that pair is
# locked for AXES_COOLOFF_MINUTES (0: until an admin resets it). Keyed on the pair, so an
# attacker can neither lock a person out from elsewhere nor try many usernames from one
# address past the limit each. A successful log-in resets the count. Admins unlock from the
# admin ("Access attempts": delete the row) or `manage.py axes_reset_username NAME` /
# `axes_reset_ip_username IP NAME` / `axes_reset`.
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
_cooloff_minutes = env.float("AXES_COOLOFF_MINUTES", default=15)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=_cooloff_minutes) if _cooloff_minutes > 0 else None
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
# Behind N reverse proxies (production: SECURE_PROXY_SSL_HEADER), REMOTE_ADDR is the proxy's;
# the client is then the Nth address from the right of X-Forwarded-For (accounts.security).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "accounts.security.client_ip"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# --- Email --------------------------------------------------------------------------------
# Console by default in development: password-reset mails are printed where runserver runs.
# Production must name a real backend: reset links printed to a server log are a leak.
if PRODUCTION:
    EMAIL_CONFIG = env.email_url("EMAIL_URL")
    if EMAIL_CONFIG["EMAIL_BACKEND"].endswith(("console.EmailBackend", "dummy.EmailBackend")):
        raise environ.ImproperlyConfigured(
            "EMAIL_URL must name a real mail backend in production (e.g. smtp+tls://...), "
            "not the console or dummy backend."
        )
else:
    EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="netflixrecs <noreply@localhost>")

# --- I18N ---------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# Development and tests serve files straight from the app/static folders, no collectstatic.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Security (production) ----------------------------------------------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Load balancers probe /health/ over plain HTTP on the internal network.
    SECURE_REDIRECT_EXEMPT = [r"^health/$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    # Off only for plain-HTTP loopback runs (bench/bench_load.py); check --deploy warns then.
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"

# --- Logging ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- TMDB ---------------------------------------------------------------------------------
# The real v3 API by default; tests point TMDB_API_BASE at the fake TMDB server on loopback.
TMDB_API_BASE = env.str("TMDB_API_BASE", default="https://api.themoviedb.org/3")
TMDB_READ_TOKEN = env.str("TMDB_READ_TOKEN", default="")
TMDB_API_KEY = env.str("TMDB_API_KEY", default="")
TMDB_IMAGE_BASE = env.str("TMDB_IMAGE_BASE", default="https://image.tmdb.org/t/p/")
TMDB_POSTER_SIZE = env.str("TMDB_POSTER_SIZE", default="w342")
# Client behaviour (movies/tmdb.py). Timeouts are (connect, read) seconds for every call.
TMDB_CONNECT_TIMEOUT = env.float("TMDB_CONNECT_TIMEOUT", default=5.0)
TMDB_READ_TIMEOUT = env.float("TMDB_READ_TIMEOUT", default=15.0)
# The read timeout is per socket read; this bounds a whole attempt (headers and body), so a
# server trickling bytes cannot hold a request. Bodies over TMDB_MAX_RESPONSE_BYTES are refused
# (far above any real answer), so a runaway answer cannot eat the worker's memory.
TMDB_REQUEST_DEADLINE = env.float("TMDB_REQUEST_DEADLINE", default=30.0)
TMDB_MAX_RESPONSE_BYTES = env.int("TMDB_MAX_RESPONSE_BYTES", default=5 * 1024 * 1024)
# Retries on connection errors, timeouts, 429 and 5xx: exponential backoff with full jitter,
# base * 2**attempt capped at TMDB_BACKOFF_MAX; a Retry-After header wins (also capped).
TMDB_MAX_RETRIES = env.int("TMDB_MAX_RETRIES", default=4)
TMDB_BACKOFF_BASE = env.float("TMDB_BACKOFF_BASE", default=0.5)
TMDB_BACKOFF_MAX = env.float("TMDB_BACKOFF_MAX", default=30.0)
# Client-side limit: at most TMDB_RATE_LIMIT requests in any TMDB_RATE_WINDOW seconds, shared
# by every process and Celery worker through a token bucket in Redis when REDIS_URL is set.
TMDB_RATE_LIMIT = env.int("TMDB_RATE_LIMIT", default=40)
TMDB_RATE_WINDOW = env.float("TMDB_RATE_WINDOW", default=10.0)
# Sync: popular pages fetched by default (20 movies a page), cast members kept per movie,
# pages per Celery chunk task when a sync fans out over workers.
TMDB_SYNC_PAGES = env.int("TMDB_SYNC_PAGES", default=13)
TMDB_TOP_CAST = env.int("TMDB_TOP_CAST", default=3)
TMDB_SYNC_CHUNK_PAGES = env.int("TMDB_SYNC_CHUNK_PAGES", default=5)
# Optional periodic refresh (Celery beat; off by default): every N hours, re-fetch the movies
# TMDB reports as changed (/movie/changes) and rebuild the model. 0 disables it.
TMDB_REFRESH_EVERY_HOURS = env.float("TMDB_REFRESH_EVERY_HOURS", default=0)
if TMDB_REFRESH_EVERY_HOURS > 0:
    CELERY_BEAT_SCHEDULE["tmdb-refresh-changed-movies"] = {
        "task": "movies.tasks.refresh_changed_movies",
        "schedule": TMDB_REFRESH_EVERY_HOURS * 3600,
    }

# --- Content-Security-Policy (django-csp) --------------------------------------------------
# Scripts, styles and everything else from this site only (no inline script, style="" or on*=
# handler anywhere: templates use classes and static/js/site.js), posters from TMDB's image
# host, no framing, forms posting to this site only. Enforced in production. In development
# the same policy is sent report-only: a violation shows in the browser console (and fails
# tests/test_csp.py) without breaking the page someone is working on.
_tmdb_images = urlsplit(TMDB_IMAGE_BASE)
CSP_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"]
        + ([f"{_tmdb_images.scheme}://{_tmdb_images.netloc}"] if _tmdb_images.netloc else []),
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
if PRODUCTION:
    CONTENT_SECURITY_POLICY = CSP_POLICY
else:
    CONTENT_SECURITY_POLICY_REPORT_ONLY = CSP_POLICY

# --- Recommender --------------------------------------------------------------------------
# Plain pathlib.Path values (not environ.Path): the code uses / and .is_dir() on them.
MODEL_DIR = Path(env.str("MODEL_DIR", default=str(VAR_DIR / "models")))
# Web processes map a private, verified copy of each model version staged here (one per
# machine, shared by its workers), never MODEL_DIR itself: a file changed in place under a
# running process cannot crash it (recommendations/artifacts.py). tmpfs by default; empty
# maps MODEL_DIR directly.
RECS_STAGE_DIR = env.str(
    "RECS_STAGE_DIR", default="/dev/shm/netflixrecs" if Path("/dev/shm").is_dir() else ""
)
# Users with fewer ratings than this get the popularity fallback.
RECS_MIN_RATINGS = env.int("RECS_MIN_RATINGS", default=5)
# Ratings at or above this count as "liked" for the content profile.
RECS_LIKE_THRESHOLD = env.float("RECS_LIKE_THRESHOLD", default=4.0)
# TF-IDF vectorizer defaults (the reference design); build_tfidf options override them per build.
TFIDF_MAX_FEATURES = env.int("TFIDF_MAX_FEATURES", default=5000)
TFIDF_STOP_WORDS = env.str("TFIDF_STOP_WORDS", default="english") or None
TFIDF_NGRAM_MAX = env.int("TFIDF_NGRAM_MAX", default=2)
TFIDF_MIN_DF = env.int("TFIDF_MIN_DF", default=2)
TFIDF_MAX_DF = env.float("TFIDF_MAX_DF", default=0.8)
# Web processes look up the active model version at most this often (seconds); never per request.
RECS_VERSION_CHECK_SECONDS = env.float("RECS_VERSION_CHECK_SECONDS", default=5.0)
# Celery time limits of one rebuild; a build with no progress for longer counts as dead.
RECS_BUILD_SOFT_TIME_LIMIT = env.int("RECS_BUILD_SOFT_TIME_LIMIT", default=30 * 60)
RECS_BUILD_TIME_LIMIT = env.int("RECS_BUILD_TIME_LIMIT", default=32 * 60)
# Redis redelivers an unacknowledged task after the visibility timeout; tasks are acked late,
# so it must exceed the longest hard time limit (the rebuild's, or a TMDB sync chunk's 32
# minutes) or a long task would be started a second time while it still runs.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int(
        "CELERY_VISIBILITY_TIMEOUT", default=max(RECS_BUILD_TIME_LIMIT, 32 * 60) + 10 * 60
    )
}
if CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] <= max(RECS_BUILD_TIME_LIMIT, 32 * 60):
    raise environ.ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT must exceed RECS_BUILD_TIME_LIMIT (and a sync chunk's 1920 s), "
        "or a long task is delivered a second time while it still runs."
    )
# Ready versions kept (besides the active one) when old versions are pruned.
RECS_KEEP_VERSIONS = env.int("RECS_KEEP_VERSIONS", default=3)
# Each build also fits the hybrid (recommendations/hybrid.py); false = learn nothing from
# co-ratings (no collaborative arrays stored): the site then serves content + popularity.
# Takes effect at the next build.
RECS_COLLABORATIVE = env.bool("RECS_COLLABORATIVE", default=True)
# How a request is scored: "exact" scans every movie; "two_phase" gathers a bounded candidate
# set (collaborative and content neighbours, the best movies over the profile's terms, the
# prior's head) and scores only those with the same blend; "auto" is exact below 200,000
# movies, where a full scan costs no more (recommendations/twophase.py, docs/benchmarks.md).
# Content neighbours stored per movie at build ("More like this", two-phase candidates);
# 0 = none (serving scans the catalog instead).
RECS_CONTENT_NEIGHBOURS = env.int("RECS_CONTENT_NEIGHBOURS", default=50)
if not 0 <= RECS_CONTENT_NEIGHBOURS <= 1000:
    raise environ.ImproperlyConfigured(
        f"RECS_CONTENT_NEIGHBOURS must be 0..1000 (got {RECS_CONTENT_NEIGHBOURS})."
    )
# Rows per content-neighbour block of a build: one Celery task each when a broker is
# configured (the blocks of one build spread over every worker), run in order in-process
# when not. A block's memory grows with it (its rows' top-k products), not with the catalog.
RECS_NEIGHBOUR_BLOCK_ROWS = env.int("RECS_NEIGHBOUR_BLOCK_ROWS", default=2048)
if not 1 <= RECS_NEIGHBOUR_BLOCK_ROWS <= 100_000:
    raise environ.ImproperlyConfigured(
        f"RECS_NEIGHBOUR_BLOCK_ROWS must be 1..100000 (got {RECS_NEIGHBOUR_BLOCK_ROWS})."
    )
# Work budget of the content-neighbour kernel, in postings visited per movie on average: the
# exact product visits Σ df² / n, which grows with the catalog (3,000 TMDB movies: ~3,800;
# 100,000 fitted synthetic: ~66,000; 1M: ~10x that). While it fits, neighbours are exact;
# above it each term's postings are capped to its highest-weight movies so a block's cost
# stops growing with n, and the lists are symmetrised at finish (recommendations/
# neighbours.py, docs/benchmarks.md). 0 = always exact (n² at a million movies).
RECS_NEIGHBOUR_WORK_BUDGET = env.int("RECS_NEIGHBOUR_WORK_BUDGET", default=20_000)
if not (RECS_NEIGHBOUR_WORK_BUDGET == 0 or 100 <= RECS_NEIGHBOUR_WORK_BUDGET <= 100_000_000):
    raise environ.ImproperlyConfigured(
        "RECS_NEIGHBOUR_WORK_BUDGET must be 0 or 100..100000000 "
        f"(got {RECS_NEIGHBOUR_WORK_BUDGET})."
    )
# Diversity re-rank of the served list (maximal marginal relevance over the top 50): 1 = off.
RECS_MMR_LAMBDA = env.float("RECS_MMR_LAMBDA", default=0.9)
if not 0.0 <= RECS_MMR_LAMBDA <= 1.0:
    raise environ.ImproperlyConfigured(f"RECS_MMR_LAMBDA must be 0..1 (got {RECS_MMR_LAMBDA}).")
RECS_SERVING = env.str("RECS_SERVING", default="auto").strip().lower()
if RECS_SERVING not in ("exact", "two_phase", "auto"):
    raise environ.ImproperlyConfigured(
        f"RECS_SERVING must be exact, two_phase or auto (got {RECS_SERVING!r})."
    )

# --- Demo ---------------------------------------------------------------------------------
SHARED_DATA_DIR = Path(env.str("SHARED_DATA_DIR", default=str(BASE_DIR.parent / "shared" / "data")))

# --- Ratings import / export (accounts) ----------------------------------------------------
# An upload over either limit is refused whole (nothing is written); imports of more than
# ACCOUNT_IMPORT_SYNC_ROWS matched rows are applied by a Celery task with progress on the page.
# A preview not confirmed within ACCOUNT_IMPORT_PREVIEW_HOURS expires (upload the file again).
ACCOUNT_IMPORT_MAX_BYTES = env.int("ACCOUNT_IMPORT_MAX_BYTES", default=5 * 1024 * 1024)
ACCOUNT_IMPORT_MAX_ROWS = env.int("ACCOUNT_IMPORT_MAX_ROWS", default=50_000)
ACCOUNT_IMPORT_SYNC_ROWS = env.int("ACCOUNT_IMPORT_SYNC_ROWS", default=2_000)
ACCOUNT_IMPORT_PREVIEW_HOURS = env.float("ACCOUNT_IMPORT_PREVIEW_HOURS", default=24)
# People (directors, actors) appear in "your taste" once you rated this many of their films.
ACCOUNT_TASTE_MIN_PEOPLE_RATINGS = env.int("ACCOUNT_TASTE_MIN_PEOPLE_RATINGS", default=2)
