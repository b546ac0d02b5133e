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
    assert version.status == ModelVersion.Status.SUCCEEDED and version.movie_count == 45


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


# --- the catalog_changed signal ----------------------------------------------------------------


@pytest.fixture
def catalog_listener():
    """Replaces the recommender's receiver with a recording one for the test."""
    from movies.signals import catalog_changed
    from recommendations.receivers import rebuild_on_catalog_change

    calls = []

    def listener(sender, **kwargs):
        calls.append((sender, kwargs))
        return listener.answer

    listener.answer = None
    catalog_changed.disconnect(dispatch_uid="recommendations.rebuild_on_catalog_change")
    catalog_changed.connect(listener, dispatch_uid="test-listener")
    yield listener, calls
    catalog_changed.disconnect(dispatch_uid="test-listener")
    catalog_changed.connect(
        rebuild_on_catalog_change, dispatch_uid="recommendations.rebuild_on_catalog_change"
    )


def _sync(pages=1, rebuild=True, capture=None) -> SyncRun:
    with capture(execute=True):
        run = queue_sync(triggered_by="test", pages=pages, rebuild=rebuild)
    run.refresh_from_db()
    return run


def test_a_rebuild_request_is_a_signal_with_the_run(
    fake_tmdb, catalog_listener, django_capture_on_commit_callbacks
):
    listener, calls = catalog_listener

    class Queued:
        pk = 77

    listener.answer = Queued()
    run = _sync(capture=django_capture_on_commit_callbacks)
    assert run.status == SyncRun.Status.SUCCEEDED
    [(sender, kwargs)] = calls
    assert sender is SyncRun and kwargs["run"].pk == run.pk
    assert kwargs["triggered_by"] == f"tmdb-sync #{run.pk}"
    assert run.model_version_id == 77 and "model rebuild queued (version 77)" in run.message


def test_no_signal_without_a_rebuild_request(
    fake_tmdb, catalog_listener, django_capture_on_commit_callbacks
):
    _, calls = catalog_listener
    run = _sync(rebuild=False, capture=django_capture_on_commit_callbacks)
    assert run.status == SyncRun.Status.SUCCEEDED and calls == []
    assert run.message == "Done: 20 fetched, 20 created, 0 updated, 0 unchanged, 0 failed"


def test_a_failing_receiver_does_not_fail_the_sync(
    fake_tmdb, catalog_listener, django_capture_on_commit_callbacks
):
    def broken(sender, **kwargs):
        raise RuntimeError("no model for you")

    from movies.signals import catalog_changed

    catalog_changed.disconnect(dispatch_uid="test-listener")
    catalog_changed.connect(broken, dispatch_uid="test-listener")  # instead of the recorder
    run = _sync(capture=django_capture_on_commit_callbacks)
    assert run.status == SyncRun.Status.SUCCEEDED and run.model_version_id is None
    assert "model rebuild failed: no model for you" in run.message


def test_a_busy_recommender_is_reported(
    fake_tmdb, catalog_listener, django_capture_on_commit_callbacks
):
    run = _sync(capture=django_capture_on_commit_callbacks)  # the listener answers None
    assert run.model_version_id is None
    assert "a model build is already running" in run.message


def test_the_catalog_never_imports_the_recommender():
    from pathlib import Path

    import movies

    root = Path(movies.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "tests" not in path.parts
        and any(
            line.lstrip().startswith(("import recommendations", "from recommendations"))
            for line in path.read_text().splitlines()
        )
    ]
    assert offenders == []


def test_a_second_delivery_of_the_start_task_does_nothing(fake_tmdb):
    from movies.tasks import sync_tmdb_pages

    run = SyncRun.objects.enqueue(pages=1, triggered_by="test")
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.RUNNING)  # claimed elsewhere
    assert sync_tmdb_pages(run.pk) is None
    assert sync_tmdb_pages(123_456) is None  # the row is gone
    assert fake_tmdb.requests("popular") == []
