"""recommendations.tasks: queue_rebuild and the rebuild task (in-process), claiming, and a real
worker on Redis (second CI pass: PostgreSQL + Redis)."""

from __future__ import annotations

import threading
import time

import pytest
from celery.result import AsyncResult
from django.db import connection, transaction

from recommendations import builds, loading, pipeline, tasks, tfidf
from recommendations.models import ModelVersion
from recommendations.tasks import queue_rebuild, rebuild_model, rebuild_tfidf
from recommendations.tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


def test_task_builds_the_queued_version(catalog):
    version = ModelVersionFactory(status="queued")
    result = rebuild_model.delay(version.pk).get()
    version.refresh_from_db()
    assert version.status == "succeeded" and version.is_active
    assert result["version"] == version.pk and result["movies"] == 12
    assert version.progress_done == version.progress_total == 3
    assert version.attempts == 1 and version.lease_owner


def test_the_old_task_name_still_builds(catalog):
    """Messages queued before the rename name ``rebuild_tfidf``; they must still be built."""
    assert rebuild_tfidf.name == "recommendations.tasks.rebuild_tfidf"
    assert rebuild_model.name == "recommendations.tasks.rebuild_model"
    version = ModelVersionFactory(status="queued")
    assert rebuild_tfidf.delay(version.pk).get()["version"] == version.pk
    version.refresh_from_db()
    assert version.status == "succeeded"


def test_task_honours_activate_when_ready(catalog):
    active = builds.build_model(triggered_by="test")
    version = ModelVersionFactory(status="queued", activate_when_ready=False)
    rebuild_model.delay(version.pk).get()
    version.refresh_from_db()
    active.refresh_from_db()
    assert version.status == "succeeded" and not version.is_active and active.is_active


def test_task_returns_quietly_when_the_version_is_gone(db):
    assert rebuild_model.delay(987654).get() is None


def test_task_ignores_a_version_that_is_not_queued(catalog):
    version = ModelVersionFactory(status="failed")
    assert rebuild_model.delay(version.pk).get() is None
    version.refresh_from_db()
    assert version.status == "failed"


def test_task_failure_marks_the_version_failed(db):
    version = ModelVersionFactory(status="queued")
    with pytest.raises(Exception, match="catalog is empty"):
        rebuild_model.delay(version.pk).get()
    version.refresh_from_db()
    assert version.status == "failed" and "catalog is empty" in version.error


def test_task_has_time_limits_and_survives_a_lost_worker():
    for task in (rebuild_model, rebuild_tfidf):
        assert task.soft_time_limit and task.time_limit
        assert task.soft_time_limit < task.time_limit
        assert task.acks_late is True and task.reject_on_worker_lost is True


def test_queue_rebuild_queues_and_runs_the_task(catalog, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        version = queue_rebuild(triggered_by="test")
    assert version is not None
    version.refresh_from_db()
    assert version.status == "succeeded" and version.is_active
    assert version.progress_message == "Done"


def test_queue_rebuild_sends_after_commit_and_only_once(
    catalog, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(tasks.rebuild_model, "delay", lambda pk: sent.append(pk))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        version = queue_rebuild(triggered_by="test", activate=False)
        assert queue_rebuild(triggered_by="again") is None  # single-flight
    assert sent == []  # not before the commit
    for callback in callbacks:
        callback()
    assert sent == [version.pk] and not version.activate_when_ready


# --- two deliveries of one queued rebuild (issue #9 defect 4) --------------------------------


def test_a_second_delivery_during_the_build_does_not_build(catalog, monkeypatch):
    """The duplicate delivery arrives while the first one is building: its claim() fails (the
    row is running with a live lease) and it returns without building."""
    version = ModelVersionFactory(status="queued")
    fits, nested = [], []
    real_fit = tfidf.fit_tfidf

    def fit_and_redeliver(soups, params):
        fits.append(1)
        if len(fits) == 1:
            # .result, not .get(): Celery refuses to block on a result inside a task.
            nested.append(rebuild_model.apply(args=[version.pk]).result)
        return real_fit(soups, params)

    monkeypatch.setattr(tfidf, "fit_tfidf", fit_and_redeliver)
    result = rebuild_model.delay(version.pk).get()
    assert nested == [None] and len(fits) == 1
    assert result["version"] == version.pk
    version.refresh_from_db()
    assert version.status == "succeeded" and version.attempts == 1


def test_two_deliveries_that_both_saw_the_row_queued(catalog):
    """Both read the row while it was queued; one conditional UPDATE lets exactly one win."""
    version = ModelVersionFactory(status="queued")
    first, second = ModelVersion.objects.get(pk=version.pk), ModelVersion.objects.get(pk=version.pk)
    assert (first.claim(), second.claim()) == (True, False)
    assert rebuild_model.delay(version.pk).get() is None  # a third delivery: running, leased


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_deliveries_build_once(catalog, monkeypatch):
    """Two threads deliver the same queued rebuild at the same moment: one builds, the other
    returns None. (Real concurrency needs PostgreSQL; SQLite serialises the writers.)"""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for concurrent writers")
    version = ModelVersionFactory(status="queued")
    barrier = threading.Barrier(2)
    fits, results, errors = [], [], []
    real_fit = tfidf.fit_tfidf
    monkeypatch.setattr(tfidf, "fit_tfidf", lambda s, p: fits.append(1) or real_fit(s, p))
    real_claim = ModelVersion.claim

    def claim_together(self):
        barrier.wait(timeout=30)
        return real_claim(self)

    monkeypatch.setattr(ModelVersion, "claim", claim_together)

    def deliver():
        try:
            results.append(rebuild_model.apply(args=[version.pk]).get())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sorted(results, key=lambda r: r is not None) == [None, results[0] or results[1]]
    assert len(fits) == 1
    version.refresh_from_db()
    assert version.status == "succeeded" and version.attempts == 1


# --- a real worker -------------------------------------------------------------------------


def wait_for(version: ModelVersion, timeout: float = 90) -> dict:
    """Wait until the worker picked the task up, then for its result."""
    deadline = time.monotonic() + timeout
    while not version.celery_task_id:
        if time.monotonic() > deadline:
            pytest.fail(f"no worker picked version {version.pk} up in {timeout} s")
        time.sleep(0.2)
        version.refresh_from_db()
    result = AsyncResult(version.celery_task_id).get(timeout=timeout)
    version.refresh_from_db()
    return result


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_rebuild_on_a_real_worker_is_picked_up_without_restart(
    celery_worker_process, catalog, space_fan
):
    first = builds.build_model(triggered_by="test")
    assert pipeline.recommend_for_user(user=space_fan).model_version == first.pk

    # Single-flight: a second request while the first is queued is refused.
    with transaction.atomic():
        queued = queue_rebuild(triggered_by="test:worker")
        assert queued is not None
        assert queue_rebuild(triggered_by="test:worker") is None

    result = wait_for(queued)
    built = queued
    assert built.status == "succeeded", built.error
    assert built.is_active and built.progress_message == "Done"
    assert result["version"] == built.pk and result["active"] is True
    assert built.artifact_dir.is_dir()

    first.refresh_from_db()
    assert not first.is_active
    # This process (the "web process") picks the new version up without a restart.
    assert loading.get_active_model().version_id == built.pk
    assert pipeline.recommend_for_user(user=space_fan).model_version == built.pk
