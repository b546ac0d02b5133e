"""Fixtures for the TMDB tests: the fake TMDB server on a free loopback port, and settings
that point the real client at it with test-sized timeouts, backoffs and rate limits."""

from __future__ import annotations

import uuid

import pytest

from devtools.fake_tmdb import DATA_FILE, FakeTMDB
from movies import tmdb

# Hand-written (invented) credits: TMDB lists cast in any order with an "order" field, and
# crew with several jobs; one director is also credited as writer.
CREDITS = {
    "cast": [
        {"id": 9003, "name": "Carol Third", "character": "Ship's cat", "order": 2},
        {"id": 9001, "name": "Alice First", "character": "Captain", "order": 0},
        {"id": 9004, "name": "Dan Fourth", "character": "Cook", "order": 3},
        {"id": 9002, "name": "Bob Second", "character": "Pilot", "order": 1},
    ],
    "crew": [
        {"id": 9100, "name": "Erin Director", "job": "Director", "department": "Directing"},
        {"id": 9100, "name": "Erin Director", "job": "Screenplay", "department": "Writing"},
        {"id": 9101, "name": "Frank Codirector", "job": "Director", "department": "Directing"},
        {"id": 9102, "name": "Gina Producer", "job": "Producer", "department": "Production"},
    ],
}


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
    settings.TMDB_REQUEST_DEADLINE = 5.0
    settings.TMDB_MAX_RESPONSE_BYTES = 5 * 1024 * 1024
    settings.TMDB_MAX_RETRIES = 3
    settings.TMDB_BACKOFF_BASE = 0.01
    settings.TMDB_BACKOFF_MAX = 2.0
    # Raised so tests run at full speed; the rate-limit tests set their own.
    settings.TMDB_RATE_LIMIT = 100_000
    settings.TMDB_RATE_WINDOW = 1.0
    settings.REDIS_URL = ""
    tmdb.reset_rate_limiters()


def _serve(settings, fake: FakeTMDB):
    """Start ``fake``, point the client at it, and stop it after the test."""
    fake.start()
    point_client_at(settings, fake)
    yield fake
    fake.stop()
    tmdb.reset_rate_limiters()


@pytest.fixture
def fake_tmdb(settings):
    """The fake with 45 invented movies; the client is configured to use it."""
    yield from _serve(settings, FakeTMDB(movies=invented_catalog()))


@pytest.fixture
def shared_fake_tmdb(settings, shared_data_dir):
    """The fake serving the 3,000 TMDB movies of the shared dataset (read at run time)."""
    yield from _serve(settings, FakeTMDB(data_path=shared_data_dir / DATA_FILE))


@pytest.fixture
def tmdb_celery_workers(celery_workers, fake_tmdb):
    """Two real Celery workers (root conftest's ``celery_workers``) pointed at the fake TMDB,
    sharing a Redis token bucket under a per-test key prefix.

    Yields ``(workers, log_paths, env)``; the limit is 20 requests per 2 s, chunks of 2 pages.
    """
    return celery_workers(
        count=2,
        name="tmdb-test",
        extra_env={
            "CACHE_KEY_PREFIX": f"tmdbtest-{uuid.uuid4().hex[:8]}",
            "TMDB_API_BASE": fake_tmdb.url,
            "TMDB_READ_TOKEN": fake_tmdb.read_token,
            "TMDB_API_KEY": "",
            "TMDB_RATE_LIMIT": "20",
            "TMDB_RATE_WINDOW": "2",
            "TMDB_READ_TIMEOUT": "2",
            "TMDB_BACKOFF_BASE": "0.05",
            "TMDB_SYNC_CHUNK_PAGES": "2",
        },
    )
