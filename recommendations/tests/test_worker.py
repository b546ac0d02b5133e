"""Rebuild through a real Celery worker on Redis (second CI pass: Postgres + Redis)."""

import time

import pytest
from celery.result import AsyncResult
from django.db import transaction

from recommendations import services, serving
from recommendations.models import ModelVersion
from recommendations.pipeline import recommend_for_user


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
    first = services.build_model(triggered_by="test")
    assert recommend_for_user(user=space_fan).model_version == first.pk

    # Single-flight: a second request while the first is queued is refused.
    with transaction.atomic():
        queued = services.request_rebuild(triggered_by="test:worker")
        assert queued is not None
        assert services.request_rebuild(triggered_by="test:worker") is None

    result = wait_for(queued)
    built = queued
    assert built.status == "ready", built.error
    assert built.is_active and built.progress_message == "Done"
    assert result["version"] == built.pk and result["active"] is True
    assert built.artifact_dir.is_dir()

    first.refresh_from_db()
    assert not first.is_active
    # This process (the "web process") picks the new version up without a restart.
    assert serving.get_active_model().version_id == built.pk
    assert recommend_for_user(user=space_fan).model_version == built.pk
