"""ModelVersion: the rules of one version (methods) and of the table (queryset), on the job
base."""

from __future__ import annotations

import os
import time

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from netflixrecs.jobs.models import Job, JobAlreadyRunning, JobStatus
from recommendations import builds
from recommendations.artifacts import TMP_PREFIX
from recommendations.errors import BuildAlreadyRunning, RecommenderError, VersionError
from recommendations.models import ModelVersion
from recommendations.tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


def build(**kwargs) -> ModelVersion:
    return builds.build_model(triggered_by="test", **kwargs)


def test_model_version_is_a_job_with_the_job_statuses():
    assert issubclass(ModelVersion, Job)
    assert ModelVersion.Status is JobStatus
    assert set(ModelVersion.Status.values) == {"queued", "running", "succeeded", "failed"}
    assert ModelVersion.already_running_error is BuildAlreadyRunning
    assert issubclass(BuildAlreadyRunning, RecommenderError)
    assert issubclass(BuildAlreadyRunning, JobAlreadyRunning)
    assert issubclass(VersionError, RecommenderError)
    assert not hasattr(ModelVersion, "kind")


def test_str_says_model_not_tfidf(db):
    version = ModelVersionFactory(status="succeeded")
    assert str(version) == f"Model v{version.pk} (succeeded)"


def test_ready_means_succeeded(db):
    ok = ModelVersionFactory(status="succeeded")
    ModelVersionFactory(status="failed")
    ModelVersionFactory(status="running", single_flight_key="other-lane")
    assert list(ModelVersion.objects.ready()) == [ok]
    assert ok.is_ready


def test_at_most_one_active_version_is_enforced_by_the_database(catalog):
    a = build()
    b = build(activate=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=b.pk).update(is_active=True)
    a.refresh_from_db()
    assert a.is_active


def test_only_ready_versions_can_be_active_in_the_database(catalog):
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(triggered_by="x", status="failed", is_active=True)


def test_single_flight_is_enforced_by_the_database(db):
    ModelVersionFactory(status="running")
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(triggered_by="x", status="queued")
    with pytest.raises(BuildAlreadyRunning, match="already running"):
        ModelVersion.objects.enqueue(triggered_by="x")


def test_stale_builds_are_expired_by_the_base(db, settings):
    old = timezone.now() - timezone.timedelta(seconds=settings.JOB_QUEUED_TIMEOUT + 60)
    stale = ModelVersionFactory(status="queued")
    ModelVersion.objects.filter(pk=stale.pk).update(created_at=old)
    assert list(ModelVersion.objects.stale()) == [stale]
    assert ModelVersion.objects.expire_stale() == 1
    stale.refresh_from_db()
    assert stale.status == "failed" and "Never started" in stale.error


def test_activate_rolls_back_and_refuses_what_cannot_serve(catalog):
    v1 = build()
    v2 = build()
    v1.refresh_from_db()
    assert v2.is_active and not v1.is_active
    assert v1.activate() is v1 and v1.is_active
    v2.refresh_from_db()
    assert not v2.is_active and ModelVersion.objects.active().get() == v1
    failed = ModelVersionFactory(status="failed")
    with pytest.raises(VersionError, match="only ready"):
        failed.activate()
    no_files = ModelVersionFactory(status="succeeded")
    with pytest.raises(VersionError, match="no artifact files"):
        no_files.activate()
    assert ModelVersion.objects.active().get() == v1


def test_delete_with_files(catalog):
    v1 = build()
    v2 = build(activate=False)
    with pytest.raises(VersionError, match="active"):
        v1.delete_with_files()
    running = ModelVersionFactory(status="running")
    with pytest.raises(VersionError, match="still running"):
        running.delete_with_files()
    v2.delete_with_files()
    assert not ModelVersion.objects.filter(pk=v2.pk).exists()
    assert not v2.artifact_dir.exists() and v1.artifact_dir.exists()


def test_prune_keeps_the_active_and_the_newest_ready(catalog):
    v1 = build()
    v2 = build()
    v1.activate()
    ModelVersionFactory(status="failed")
    v3 = build(activate=False)
    v4 = build(activate=False)
    deleted = ModelVersion.objects.prune(keep=1)
    assert deleted == 3  # v2, v3 (older ready beyond keep=1) and the failed one
    assert set(ModelVersion.objects.values_list("pk", flat=True)) == {v1.pk, v4.pk}
    assert not v2.artifact_dir.exists() and not v3.artifact_dir.exists()
    assert v1.artifact_dir.exists() and v4.artifact_dir.exists()
    with pytest.raises(ValueError):
        ModelVersion.objects.prune(keep=-1)


def test_prune_never_touches_a_build_in_progress(catalog):
    running = ModelVersionFactory(status="running")
    assert ModelVersion.objects.prune(keep=0) == 0
    assert ModelVersion.objects.filter(pk=running.pk).exists()


def test_prune_removes_old_temporary_directories_only(db, settings):
    base = settings.MODEL_DIR
    base.mkdir(parents=True)
    old, fresh = base / f"{TMP_PREFIX}7-old", base / f"{TMP_PREFIX}8-fresh"
    for path in (old, fresh):
        path.mkdir()
        (path / "data.npy").write_bytes(b"partial")
    long_ago = time.time() - settings.RECS_BUILD_TIME_LIMIT - 60
    os.utime(old, (long_ago, long_ago))
    ModelVersion.objects.prune()
    assert not old.exists()
    assert fresh.exists()  # may belong to a build that is still writing


def test_mark_failed_only_changes_builds_in_progress(db):
    stuck = ModelVersionFactory(status="running")
    assert stuck.mark_failed("stuck")
    stuck.refresh_from_db()
    assert stuck.status == "failed" and stuck.error == "stuck"
    done = ModelVersionFactory(status="succeeded")
    assert not done.mark_failed("stuck")
    done.refresh_from_db()
    assert done.status == "succeeded"
