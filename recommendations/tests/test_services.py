"""Build and versioning services (database tests). Serving: test_pipeline.py and friends."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from movies.models import Movie
from recommendations import artifacts, services, tfidf
from recommendations.models import ModelVersion
from recommendations.pipeline import recommend_for_user
from recommendations.tests.catalog import make_movie

pytestmark = pytest.mark.django_db


def build(**kwargs) -> ModelVersion:
    return services.build_model(triggered_by="test", **kwargs)


# --- building ------------------------------------------------------------------------------


def test_build_creates_an_active_version_with_checksummed_artifacts(catalog):
    seen = []
    version = build(progress=lambda c, t, m: seen.append(m))
    assert version.status == ModelVersion.Status.READY and version.is_active
    assert version.movie_count == 12
    assert version.vocabulary_size > 10 and version.nnz > 0
    assert version.min_df_used == 2  # every term is shared by 4 movies of a theme
    assert version.build_seconds is not None and version.triggered_by == "test"
    assert version.params["max_features"] == 5000
    files = sorted(p.name for p in version.artifact_dir.iterdir())
    assert files == sorted(version.checksums)
    assert {"data.npy", "indices.npy", "indptr.npy", "movie_ids.npy"} <= set(files)
    for name, digest in version.checksums.items():
        assert artifacts.sha256_file(version.artifact_dir / name) == digest
    ids = np.load(version.artifact_dir / "movie_ids.npy")
    assert list(ids) == sorted(Movie.objects.values_list("pk", flat=True))
    assert "Reading the catalog" in seen and "Done" in seen
    # No temporary directory left behind.
    assert [p.name for p in version.artifact_dir.parent.iterdir()] == [str(version.pk)]


def test_small_catalog_falls_back_to_min_df_1(db):
    make_movie("space", 0)
    make_movie("romance", 0)
    make_movie("crime", 0)
    version = build()
    assert version.min_df_used == 1


def test_no_activate_keeps_the_previous_active_version(catalog):
    first = build()
    second = build(activate=False)
    assert second.status == "ready" and not second.is_active
    first.refresh_from_db()
    assert first.is_active


def test_empty_catalog_is_a_clear_error_and_changes_nothing(db):
    with pytest.raises(tfidf.EmptyCatalogError, match="catalog is empty"):
        build()
    version = ModelVersion.objects.get()
    assert version.status == "failed" and "catalog is empty" in version.error
    assert not ModelVersion.objects.active().exists()
    assert not version.artifact_dir.exists()


def test_bad_params_create_nothing(catalog):
    with pytest.raises(tfidf.InvalidParamsError):
        build(params=tfidf.TfidfParams(max_df=3.0))
    assert not ModelVersion.objects.exists()


def test_params_that_prune_everything_fail_without_activating(catalog):
    active = build()
    # max_df as a count of 1 document with min_df 1: only one-off terms, none exist.
    params = tfidf.TfidfParams(min_df=1, max_df=1, stop_words="english")
    with pytest.raises(tfidf.EmptyCatalogError):
        build(params=params)
    assert ModelVersion.objects.active().get() == active


def test_failed_write_leaves_previous_version_serving_and_nothing_half_written(
    catalog, space_fan, monkeypatch
):
    good = build()
    before = recommend_for_user(user=space_fan)
    assert before.strategy.name == "hybrid" and before.model_version == good.pk

    real_save = np.save
    calls = {"n": 0}

    def dying_save(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # killed part-way through writing the arrays
            raise KeyboardInterrupt("killed")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(artifacts.np, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        build()
    monkeypatch.undo()

    failed = ModelVersion.objects.exclude(pk=good.pk).get()
    assert failed.status == "failed" and "killed" in failed.error
    assert not failed.is_active and not failed.artifact_dir.exists()
    model_dir = good.artifact_dir.parent
    assert sorted(p.name for p in model_dir.iterdir()) == [str(good.pk)]  # no .tmp- left
    good.refresh_from_db()
    assert good.is_active
    after = recommend_for_user(user=space_fan)
    assert after.model_version == good.pk
    assert [i.movie.pk for i in after.items] == [i.movie.pk for i in before.items]


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


def test_single_flight(catalog):
    running = ModelVersion.objects.create(triggered_by="other", status="building")
    with pytest.raises(services.BuildAlreadyRunning, match="already running"):
        build()
    assert services.request_rebuild(triggered_by="test") is None
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(triggered_by="x", status="queued")
    running.status = "failed"
    running.save()
    assert build().is_active


def test_stale_build_is_expired_so_it_cannot_block_forever(catalog, settings):
    stale = ModelVersion.objects.create(triggered_by="killed worker", status="building")
    old = timezone.now() - timezone.timedelta(seconds=settings.RECS_BUILD_TIME_LIMIT + 120)
    ModelVersion.objects.filter(pk=stale.pk).update(updated_at=old)
    version = build()
    stale.refresh_from_db()
    assert stale.status == "failed" and "Abandoned" in stale.error
    assert version.is_active


def test_request_rebuild_queues_and_runs_the_task(catalog, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        version = services.request_rebuild(triggered_by="test")
    assert version is not None
    version.refresh_from_db()
    assert version.status == "ready" and version.is_active
    assert version.progress_message == "Done"


def test_rollback_and_delete_and_prune(catalog):
    v1 = build()
    v2 = build()
    v1.refresh_from_db()
    assert v2.is_active and not v1.is_active
    services.activate_version(version=v1)
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert v1.is_active and not v2.is_active
    with pytest.raises(services.VersionError, match="active"):
        services.delete_version(version=v1)
    failed = ModelVersion.objects.create(triggered_by="x", status="failed")
    with pytest.raises(services.VersionError, match="only ready"):
        services.activate_version(version=failed)
    v3 = build(activate=False)
    v4 = build(activate=False)
    deleted = services.prune_versions(keep=1)
    assert deleted == 3  # v2, v3 (older ready beyond keep=1) and the failed one
    assert set(ModelVersion.objects.values_list("pk", flat=True)) == {v1.pk, v4.pk}
    assert not v2.artifact_dir.exists() and not v3.artifact_dir.exists()
    assert v1.artifact_dir.exists() and v4.artifact_dir.exists()
