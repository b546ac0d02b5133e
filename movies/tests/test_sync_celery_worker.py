"""The Celery fan-out on real workers: two worker processes share the chunks of one sync, and
the token bucket in Redis keeps them together under the limit (measured at the fake TMDB)."""

from __future__ import annotations

import time

import pytest

from movies.conftest import tmdb_movie
from movies.models import Movie, SyncRun
from movies.tasks import queue_sync


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_two_workers_share_a_sync_within_the_shared_limit(fake_tmdb, tmdb_celery_workers):
    procs, logs, _ = tmdb_celery_workers
    # 6 pages of invented movies; the workers plan chunks of 2 pages: 3 chunk tasks.
    extra = [tmdb_movie(1000 + i, f"Extra Film {i}", popularity=500.0 - i) for i in range(75)]
    fake_tmdb.movies.extend(extra)
    fake_tmdb.by_id.update({m["id"]: m for m in extra})
    fake_tmdb.popular = sorted(fake_tmdb.movies, key=lambda m: (-m["popularity"], m["id"]))
    assert len(fake_tmdb.popular) == 120

    run = queue_sync(triggered_by="worker test", pages=6)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED):
            break
        time.sleep(0.5)
    logs_text = [p.read_text() for p in logs]
    assert run.status == SyncRun.Status.SUCCEEDED, (run.message, logs_text)
    assert (run.created, run.failed) == (120, 0)
    assert Movie.objects.count() == 120
    assert run.chunks_done == run.chunks_total == 3
    # Both workers ran chunk tasks...
    assert all("sync_tmdb_chunk" in text and "succeeded" in text for text in logs_text)
    # ...and together stayed within 20 requests in any 2 s (126 requests in all).
    assert fake_tmdb.status_counts() == {200: 126}
    assert fake_tmdb.max_in_window(2.0) <= 20
