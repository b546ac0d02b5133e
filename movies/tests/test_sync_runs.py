"""The Celery fan-out of a SyncRun (movies.tasks + movies.services.sync_runs), chained to the
rebuild through movies.signals.catalog_changed."""

from __future__ import annotations

import pytest

from movies.errors import CatalogError
from movies.models import Movie, SyncAlreadyRunning, SyncRun
from movies.services.tmdb_sync import sync_popular
from movies.tasks import queue_sync
from movies.tmdb import AUTH_HELP

pytestmark = pytest.mark.django_db


def test_celery_fan_out_then_rebuild(fake_tmdb, settings, django_capture_on_commit_callbacks):
    from recommendations.models import ModelVersion

    settings.TMDB_SYNC_CHUNK_PAGES = 1
    with django_capture_on_commit_callbacks(execute=True):
        run = queue_sync(triggered_by="test", pages=3, rebuild=True)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.message
    assert (run.chunks_total, run.chunks_done) == (3, 3)
    assert (run.created, run.failed, run.progress_done, run.progress_total) == (45, 0, 45, 45)
    assert run.percent == 100 and "model rebuild queued" in run.message
    version = ModelVersion.objects.get(pk=run.model_version_id)
    assert version.triggered_by == f"tmdb-sync #{run.pk}"
    assert version.status == ModelVersion.Status.READY and version.movie_count == 45


def test_fan_out_stops_every_chunk_on_401(fake_tmdb, settings, django_capture_on_commit_callbacks):
    settings.TMDB_SYNC_CHUNK_PAGES = 1
    fake_tmdb.add_fault("movie", "401")
    with django_capture_on_commit_callbacks(execute=True):
        run = queue_sync(triggered_by="test", pages=3, rebuild=True)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert AUTH_HELP in run.message and run.model_version_id is None
    assert run.chunks_done == 3
    assert len(fake_tmdb.requests("movie")) == 1  # the later chunks saw the failed run


def test_only_one_sync_at_a_time(fake_tmdb):
    first = queue_sync(triggered_by="test", pages=1)
    assert first is not None and first.status == SyncRun.Status.QUEUED
    with pytest.raises(SyncAlreadyRunning) as refused:
        queue_sync(triggered_by="test", pages=1)
    assert refused.value.running == first and "already queued" in str(refused.value)
    assert isinstance(refused.value, CatalogError)
    assert SyncRun.objects.count() == 1


def test_changed_movies_refresh(fake_tmdb, django_capture_on_commit_callbacks):
    from movies.tasks import refresh_changed_movies

    sync_popular(pages=1)
    Movie.objects.filter(tmdb_id=101).update(title="Stale title")
    fake_tmdb.changed_ids = [101, 102, 555_555]  # the last one is not in our catalog
    with django_capture_on_commit_callbacks(execute=True):
        result = refresh_changed_movies()
    assert result["changed"] == 2
    run = SyncRun.objects.get(pk=result["run"])
    assert run.tmdb_ids == [101, 102] and run.status == SyncRun.Status.SUCCEEDED
    assert (run.updated, run.unchanged) == (1, 1)
    assert Movie.objects.get(tmdb_id=101).title == "Invented Film 1"
