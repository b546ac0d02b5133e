"""Fixtures for the TMDB tests: the fake TMDB server on a free loopback port, and settings
that point the real client at it with test-sized timeouts, backoffs and rate limits."""

from __future__ import annotations

import pytest

from devtools.fake_tmdb import DATA_FILE, FakeTMDB
from movies import tmdb


def tmdb_movie(tmdb_id: int, title: str, popularity: float, **extra) -> dict:
    """A movie in TMDB's details shape (our own invented data)."""
    return {
        "id": tmdb_id,
        "title": title,
        "original_title": title,
        "original_language": "en",
        "overview": f"An invented film called {title}.",
        "tagline": "",
        "release_date": "2001-02-03",
        "runtime": 100,
        "popularity": popularity,
        "vote_average": 6.5,
        "vote_count": 120,
        "genres": [{"id": 18, "name": "Drama"}],
        "keywords": {"keywords": [{"id": 5000 + tmdb_id, "name": f"theme {tmdb_id}"}]},
        **extra,
    }


def invented_catalog(n: int = 45) -> list[dict]:
    """``n`` invented movies (three popular pages at 45); popularity falls with the id."""
    return [tmdb_movie(100 + i, f"Invented Film {i}", popularity=1000.0 - i) for i in range(n)]


def point_client_at(settings, fake: FakeTMDB) -> None:
    settings.TMDB_API_BASE = fake.url
    settings.TMDB_READ_TOKEN = fake.read_token
    settings.TMDB_API_KEY = ""
    settings.TMDB_CONNECT_TIMEOUT = 1.0
    settings.TMDB_READ_TIMEOUT = 0.5
    settings.TMDB_MAX_RETRIES = 3
    settings.TMDB_BACKOFF_BASE = 0.01
    settings.TMDB_BACKOFF_MAX = 2.0
    # Raised so tests run at full speed; the rate-limit tests set their own.
    settings.TMDB_RATE_LIMIT = 100_000
    settings.TMDB_RATE_WINDOW = 1.0
    settings.REDIS_URL = ""
    tmdb.reset_rate_limiters()


@pytest.fixture
def fake_tmdb(settings):
    """The fake with 45 invented movies; the client is configured to use it."""
    fake = FakeTMDB(movies=invented_catalog()).start()
    point_client_at(settings, fake)
    yield fake
    fake.stop()
    tmdb.reset_rate_limiters()


@pytest.fixture
def shared_fake_tmdb(settings, shared_data_dir):
    """The fake serving the 3,000 TMDB movies of the shared dataset (read at run time)."""
    fake = FakeTMDB(data_path=shared_data_dir / DATA_FILE).start()
    point_client_at(settings, fake)
    yield fake
    fake.stop()
    tmdb.reset_rate_limiters()


@pytest.fixture
def tmdb_celery_workers(settings, tmp_path, fake_tmdb):
    """Two real Celery workers (subprocesses, Redis broker, the pytest Postgres database),
    pointed at the fake TMDB and sharing a Redis token bucket under a per-test key prefix.

    Needs Postgres + Redis (a subprocess cannot see an in-memory SQLite test database), so it
    skips otherwise; when it runs, a worker that does not come up is a failure.
    Yields ``(workers, log_paths, env)``; the limit is 20 requests per 2 s, chunks of 2 pages.
    """
    import os
    import subprocess
    import sys
    import time
    import uuid
    from pathlib import Path

    from django.db import connection

    from netflixrecs.celery import app

    db = settings.DATABASES["default"]
    redis_url = os.environ.get("REDIS_URL", "")
    if not db["ENGINE"].endswith("postgresql") or not redis_url:
        pytest.skip("needs Postgres + Redis (runs in the second CI pass)")

    url = (
        f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{connection.settings_dict['NAME']}"
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND or settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "MODEL_DIR": str(settings.MODEL_DIR),
        "CONN_MAX_AGE": "0",
        "CACHE_KEY_PREFIX": f"tmdbtest-{uuid.uuid4().hex[:8]}",
        "TMDB_API_BASE": fake_tmdb.url,
        "TMDB_READ_TOKEN": fake_tmdb.read_token,
        "TMDB_API_KEY": "",
        "TMDB_RATE_LIMIT": "20",
        "TMDB_RATE_WINDOW": "2",
        "TMDB_READ_TIMEOUT": "2",
        "TMDB_BACKOFF_BASE": "0.05",
        "TMDB_SYNC_CHUNK_PAGES": "2",
    }
    celery = Path(sys.executable).with_name("celery")
    procs, logs, nodes = [], [], []
    for n in range(2):
        # A per-run node name so a leftover worker of another run never answers our ping.
        node = f"tmdb-test-{n}-{os.getpid()}-{time.monotonic_ns()}@localhost"
        log_path = tmp_path / f"worker-{n}.log"
        with open(log_path, "wb") as log:
            procs.append(
                subprocess.Popen(
                    [str(celery), "-A", "netflixrecs", "worker", "-P", "solo", "-c", "1"]
                    + ["--without-heartbeat", "--without-gossip", "--without-mingle"]
                    + ["-n", node, "--loglevel", "INFO"],
                    cwd=str(settings.BASE_DIR),
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        logs.append(log_path)
        nodes.append(node)
    app.conf.task_always_eager = False
    try:
        deadline = time.monotonic() + 60
        pending = set(nodes)
        while pending:
            for proc, log_path in zip(procs, logs, strict=True):
                if proc.poll() is not None:
                    pytest.fail(
                        f"Celery worker exited with {proc.returncode}:\n{log_path.read_text()}",
                        pytrace=False,
                    )
            for reply in app.control.ping(destination=list(pending), timeout=1.0):
                pending -= set(reply)
            if pending and time.monotonic() > deadline:
                pytest.fail(f"Celery workers {pending} did not come up in 60 s", pytrace=False)
        yield procs, logs, env
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
