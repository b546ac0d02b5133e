"""Build, versioning and serving services (database tests)."""

from __future__ import annotations

import logging
from decimal import Decimal

import numpy as np
import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from movies.models import Movie
from recommendations import artifacts, services, serving, tfidf
from recommendations.models import ModelVersion
from recommendations.tests.catalog import make_movie, rate
from tests.factories import RatingFactory, UserFactory

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
    before = services.recommend_for_user(user=space_fan)
    assert before.strategy == "hybrid" and before.model_version == good.pk

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
    after = services.recommend_for_user(user=space_fan)
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


# --- serving -------------------------------------------------------------------------------


def test_hybrid_recommendations_with_explanations(catalog, space_fan):
    build()
    result = services.recommend_for_user(user=space_fan, top_n=5)
    assert result.strategy == "hybrid"
    assert result.total_ratings == 5 and result.needed == 0
    ids = [i.movie.pk for i in result.items]
    rated = set(space_fan.ratings.values_list("movie_id", flat=True))
    assert not rated & set(ids)
    assert ids[0] == catalog["space"][3].pk  # the one space movie not rated yet
    top = result.items[0]
    assert top.score > 0
    assert 1 <= len(top.because) <= 3
    assert {m.pk for m in top.because} <= {m.pk for m in catalog["space"][:3]}
    assert top.shared and top.explanation.startswith("Because you liked ")
    assert "shared: " in top.explanation
    # Squashed tokens are turned back into the names people know.
    from recommendations.tests.catalog import THEMES

    names = {n for t in THEMES.values() for n in [*t["genres"], *t["keywords"], *t["cast"]]}
    squashed = {tfidf.squash_name(n).lower() for n in names if " " in n}
    shown = {term for i in result.items for term in i.shared}
    assert shown and not shown & squashed
    assert shown & names  # at least one real name (genre, keyword, person) is shown
    scores = [i.score for i in result.items]
    assert scores == sorted(scores, reverse=True)


def test_cold_start_uses_the_hybrid_prior_excluding_rated(catalog, user):
    # Movies other members liked before the build lead the cold-start list (the prior).
    for name in ("carol", "dave"):
        other = UserFactory(username=name)
        for m in catalog["crime"][:2]:
            RatingFactory(user=other, movie=m, score=Decimal("4.5"))
    build()
    rate(user, [catalog["crime"][0], *catalog["space"][:1]], "5.0")
    result = services.recommend_for_user(user=user, top_n=10)
    assert result.strategy == "popularity_fallback"
    assert result.fallback_reason == "few_ratings" and result.needed == 3
    ids = [i.movie.pk for i in result.items]
    assert len(ids) == 10
    assert not {catalog["crime"][0].pk, catalog["space"][0].pk} & set(ids)  # rated: excluded
    assert ids[0] == catalog["crime"][1].pk
    assert result.items[0].explanation == "Popular with members here and well rated on TMDB"
    assert result.items[0].score >= result.items[-1].score


def test_cold_start_without_a_hybrid_uses_site_popularity(catalog, user):
    """No model at all: most rated on the site, then TMDB popularity."""
    rate(user, catalog["space"][:2], "5.0")
    other = UserFactory(username="carol")
    for m in catalog["crime"][:2]:
        RatingFactory(user=other, movie=m, score=Decimal("3.0"))
    result = services.recommend_for_user(user=user, top_n=3)
    assert result.fallback_reason == "no_model"
    assert {i.movie.pk for i in result.items[:2]} == {m.pk for m in catalog["crime"][:2]}
    assert "rated by 1" in result.items[0].explanation


def test_no_liked_movies_falls_back(catalog, user):
    build()
    rate(user, catalog["space"] + catalog["romance"][:1], "3.0")
    result = services.recommend_for_user(user=user)
    assert result.strategy == "popularity_fallback" and result.fallback_reason == "no_liked"


def test_no_model_falls_back(catalog, space_fan):
    result = services.recommend_for_user(user=space_fan)
    assert result.strategy == "popularity_fallback"
    assert result.fallback_reason == "no_model" and result.model_version is None
    assert len(result.items) == 7  # 12 movies - 5 rated


@pytest.mark.parametrize("bad", [0, 51, "abc", "2.5", None, -1])
def test_top_n_is_validated(bad):
    with pytest.raises(ValueError, match="top_n"):
        services.validate_top_n(bad)


def test_new_active_version_is_picked_up_without_restart(catalog, space_fan):
    v1 = build()
    assert services.recommend_for_user(user=space_fan).model_version == v1.pk
    v2 = build()
    assert services.recommend_for_user(user=space_fan).model_version == v2.pk
    services.activate_version(version=v1)  # rollback is picked up too
    assert services.recommend_for_user(user=space_fan).model_version == v1.pk


def test_version_check_is_cheap_within_the_ttl(
    catalog, space_fan, settings, django_assert_num_queries
):
    build()
    settings.RECS_VERSION_CHECK_SECONDS = 300
    serving.reset_cache()
    assert serving.get_active_model() is not None
    with django_assert_num_queries(0):
        for _ in range(5):
            assert serving.get_active_model() is not None


def test_model_arrays_are_memory_mapped(catalog):
    build()
    model = serving.get_active_model()
    assert isinstance(model.arrays["data"], np.memmap)
    assert isinstance(model.arrays["indices"], np.memmap)
    # The matrix is built around the mapped pages, not a private copy.
    assert np.shares_memory(model.matrix.data, model.arrays["data"])
    assert np.shares_memory(model.matrix_t.indices, model.arrays["t_indices"])


def _corrupt_truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _corrupt_flip(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # same size, different content: only the checksum notices
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("corrupt", [_corrupt_truncate, _corrupt_flip, lambda p: p.unlink()])
def test_corrupt_artifacts_keep_the_previous_model_serving(catalog, space_fan, caplog, corrupt):
    v1 = build()
    assert services.recommend_for_user(user=space_fan).model_version == v1.pk
    v2 = build()
    corrupt(v2.artifact_dir / "data.npy")
    with caplog.at_level(logging.ERROR, logger="recommendations.serving"):
        result = services.recommend_for_user(user=space_fan)
    assert result.strategy == "hybrid" and result.model_version == v1.pk
    assert f"Cannot load model version {v2.pk}" in caplog.text


def test_corrupt_artifacts_without_a_previous_model_fall_back(catalog, space_fan, caplog):
    v1 = build()
    _corrupt_flip(v1.artifact_dir / "indices.npy")
    with caplog.at_level(logging.ERROR, logger="recommendations.serving"):
        result = services.recommend_for_user(user=space_fan)
    assert result.strategy == "popularity_fallback" and result.items
    assert "fails its checksum" in caplog.text


def test_movies_added_after_the_build_are_ignored_until_the_next_one(catalog, space_fan):
    build()
    newcomer = make_movie("space", 99)
    rate(space_fan, [newcomer], "5.0")
    result = services.recommend_for_user(user=space_fan)
    assert result.strategy == "hybrid"
    assert newcomer.pk not in [i.movie.pk for i in result.items]
    assert services.similar_movies(movie=newcomer) == []


def test_similar_movies(catalog):
    assert services.similar_movies(movie=catalog["crime"][0]) == []  # no model yet
    build()
    similar = services.similar_movies(movie=catalog["crime"][0], n=12)
    assert [s.movie.pk for s in similar[:3]] and {s.movie.pk for s in similar[:3]} == {
        m.pk for m in catalog["crime"][1:]
    }
    assert catalog["crime"][0].pk not in [s.movie.pk for s in similar]
    assert all(s.score > 0 for s in similar)
    assert len(services.similar_movies(movie=catalog["crime"][0], n=2)) == 2
