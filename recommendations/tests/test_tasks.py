"""The rebuild_tfidf Celery task (in-process) and a real worker on Redis."""

import pytest

from recommendations import services
from recommendations.models import ModelVersion
from recommendations.tasks import rebuild_tfidf

pytestmark = pytest.mark.django_db


def test_task_builds_the_queued_version(catalog):
    version = ModelVersion.objects.create(triggered_by="test", status="queued")
    result = rebuild_tfidf.delay(version.pk).get()
    version.refresh_from_db()
    assert version.status == "ready" and version.is_active
    assert result["version"] == version.pk and result["movies"] == 12
    assert version.progress_current == version.progress_total == 3


def test_task_honours_activate_when_ready(catalog):
    active = services.build_model(triggered_by="test")
    version = ModelVersion.objects.create(
        triggered_by="test", status="queued", activate_when_ready=False
    )
    rebuild_tfidf.delay(version.pk).get()
    version.refresh_from_db()
    active.refresh_from_db()
    assert version.status == "ready" and not version.is_active and active.is_active


def test_task_returns_quietly_when_the_version_is_gone(db):
    assert rebuild_tfidf.delay(987654).get() is None


def test_task_ignores_a_version_that_is_not_queued(catalog):
    version = ModelVersion.objects.create(triggered_by="test", status="failed")
    assert rebuild_tfidf.delay(version.pk).get() is None
    version.refresh_from_db()
    assert version.status == "failed"


def test_task_failure_marks_the_version_failed(db):
    version = ModelVersion.objects.create(triggered_by="test", status="queued")
    with pytest.raises(Exception, match="catalog is empty"):
        rebuild_tfidf.delay(version.pk).get()
    version.refresh_from_db()
    assert version.status == "failed" and "catalog is empty" in version.error


def test_task_has_time_limits():
    assert rebuild_tfidf.soft_time_limit and rebuild_tfidf.time_limit
    assert rebuild_tfidf.soft_time_limit < rebuild_tfidf.time_limit
