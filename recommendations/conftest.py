"""Fixtures of the recommender tests: a small themed catalog and a fresh model cache."""

from __future__ import annotations

import pytest

from recommendations import serving
from recommendations.tests.catalog import THEMES, make_movie, rate


@pytest.fixture(autouse=True)
def _fresh_model_cache(settings):
    """Each test starts with no model loaded and checks the active version on every call."""
    settings.RECS_VERSION_CHECK_SECONDS = 0
    serving.reset_cache()
    yield
    serving.reset_cache()


@pytest.fixture
def catalog(db):
    """Four movies in each of three themes: {theme: [movies]}."""
    return {theme: [make_movie(theme, i) for i in range(4)] for theme in THEMES}


@pytest.fixture
def space_fan(user, catalog):
    """alice: loves three space movies, dislikes two romances (5 ratings)."""
    rate(user, catalog["space"][:3], "5.0")
    rate(user, catalog["romance"][:2], "1.5")
    return user


@pytest.fixture
def celery_worker_process(settings, tmp_path):
    """A real Celery worker (subprocess) on Redis, using the pytest database and MODEL_DIR.

    Only possible on Postgres + Redis (a separate process cannot see an in-memory SQLite
    test database), so it skips otherwise; when it runs, a worker that does not come up is a
    failure, not a skip.
    """
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from django.db import connection

    from netflixrecs.celery import app

    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("postgresql") or not settings.REDIS_URL:
        pytest.skip("needs Postgres + Redis (runs in the second CI pass)")

    url = (
        f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{connection.settings_dict['NAME']}"
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND or settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "MODEL_DIR": str(settings.MODEL_DIR),
        "CONN_MAX_AGE": "0",
    }
    celery = Path(sys.executable).with_name("celery")
    log_path = tmp_path / "celery-worker.log"
    # A per-run node name so a leftover worker of another run never answers our ping.
    node = f"recs-test-{os.getpid()}-{time.monotonic_ns()}@localhost"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                str(celery),
                "-A",
                "netflixrecs",
                "worker",
                "-P",
                "solo",
                "-c",
                "1",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-n",
                node,
                "--loglevel",
                "INFO",
            ],
            cwd=str(settings.BASE_DIR),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    app.conf.task_always_eager = False
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"Celery worker exited with {proc.returncode}:\n{log_path.read_text()}",
                    pytrace=False,
                )
            if app.control.ping(destination=[node], timeout=1.0):
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"Celery worker did not come up in 60 s:\n{log_path.read_text()}",
                    pytrace=False,
                )
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
