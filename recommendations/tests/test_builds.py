"""builds.build_model and builds.request_rebuild: rows, artifacts, failures, single-flight,
and the lease held while building (database tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from conftest import wait_for_line
from movies.models import Movie
from netflixrecs.jobs.models import lease_is_free
from recommendations import artifacts, building, builds, pipeline, tfidf
from recommendations.errors import BuildAlreadyRunning
from recommendations.models import ModelVersion
from recommendations.tests.catalog import make_movie
from recommendations.tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


def build(**kwargs) -> ModelVersion:
    return builds.build_model(triggered_by="test", **kwargs)


def test_build_creates_an_active_version_with_checksummed_artifacts(catalog):
    seen = []
    version = build(progress=lambda c, t, m: seen.append(m))
    assert version.status == ModelVersion.Status.SUCCEEDED and version.is_active
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


def test_build_records_progress_and_the_lease_owner(catalog):
    version = build()
    assert (version.progress_done, version.progress_total) == (building.STEPS, building.STEPS)
    assert version.progress_message == "Done" and version.percent == 100
    assert version.started_at and version.finished_at and version.heartbeat_at
    assert version.lease_owner.split(":")[1] == str(os.getpid()) and version.attempts == 1


def test_small_catalog_falls_back_to_min_df_1(db):
    make_movie("space", 0)
    make_movie("romance", 0)
    make_movie("crime", 0)
    version = build()
    assert version.min_df_used == 1


def test_no_activate_keeps_the_previous_active_version(catalog):
    first = build()
    second = build(activate=False)
    assert second.status == "succeeded" and not second.is_active
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
    before = pipeline.recommend_for_user(user=space_fan)
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
    after = pipeline.recommend_for_user(user=space_fan)
    assert after.model_version == good.pk
    assert [i.movie.pk for i in after.items] == [i.movie.pk for i in before.items]


def test_single_flight(catalog):
    running = ModelVersionFactory(status="running", heartbeat_at=timezone.now())
    with pytest.raises(BuildAlreadyRunning, match="already running") as info:
        build()
    assert info.value.running == running
    assert builds.request_rebuild(triggered_by="test") is None
    running.status = "failed"
    running.save()
    assert build().is_active


def test_a_claimed_version_is_built_with_its_stored_parameters(catalog):
    version = builds.request_rebuild(triggered_by="test", activate=False)
    ModelVersion.objects.filter(pk=version.pk).update(params={**version.params, "max_features": 7})
    version.refresh_from_db()
    assert version.claim()
    built = builds.build_model(triggered_by="ignored", version=version, activate=False)
    assert built.vocabulary_size == 7 and not built.is_active


def test_an_unclaimed_version_is_refused(catalog):
    version = builds.request_rebuild(triggered_by="test")
    with pytest.raises(builds.VersionError, match="claim it first"):
        builds.build_model(triggered_by="test", version=version)
    version.refresh_from_db()
    assert version.status == "queued"


def test_request_rebuild_only_creates_the_queued_row(catalog, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        version = builds.request_rebuild(triggered_by="test")
    assert callbacks == []  # nothing is sent to Celery from here
    assert version.status == "queued" and version.progress_message == "Queued"
    assert version.activate_when_ready and version.params == building.default_params().to_dict()


def test_the_lease_is_held_while_building(catalog, monkeypatch):
    """The build runs inside version.lease(): the heartbeat is fresh during the build and the
    version is not stale, so nobody can take it over."""
    seen = {}
    real_fit = tfidf.fit_tfidf

    def spy(soups, params):
        version = ModelVersion.objects.get()
        seen["status"], seen["stale"] = version.status, version.is_stale()
        seen["heartbeat"] = version.heartbeat_at
        return real_fit(soups, params)

    monkeypatch.setattr(tfidf, "fit_tfidf", spy)
    build()
    assert seen["status"] == "running" and seen["stale"] is False
    assert seen["heartbeat"] is not None


# --- a killed build does not block the next one ---------------------------------------------


def test_stale_build_is_expired_so_it_cannot_block_forever(catalog, settings):
    """Any database: a running row nobody leases and that has been silent for a long time."""
    old = timezone.now() - timedelta(seconds=settings.RECS_BUILD_TIME_LIMIT + 120)
    stale = ModelVersionFactory(status="running", started_at=old, heartbeat_at=old)
    version = build()
    stale.refresh_from_db()
    assert stale.status == "failed" and "went away" in stale.error
    assert version.is_active


def test_a_build_silent_past_the_stale_limit_no_longer_blocks_sqlite(catalog, settings):
    """Without PostgreSQL's advisory lock the heartbeat's age decides: a killed build's row
    stops heartbeating, and after JOB_STALE_SECONDS (< 60 s) a new build starts."""
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL decides by the lease lock: see the SIGKILL test below")
    assert settings.JOB_STALE_SECONDS < 60
    now = timezone.now()
    alive = ModelVersionFactory(status="running", heartbeat_at=now - timedelta(seconds=10))
    with pytest.raises(BuildAlreadyRunning):
        build()
    ModelVersion.objects.filter(pk=alive.pk).update(
        heartbeat_at=now - timedelta(seconds=settings.JOB_STALE_SECONDS + 1)
    )
    version = build()
    alive.refresh_from_db()
    assert alive.status == "failed" and "went away" in alive.error
    assert version.is_active


_KILLABLE_BUILD = textwrap.dedent(
    """
    import sys, time, django
    django.setup()
    from recommendations import builds, tfidf

    def hang(soups, params):
        print("building", flush=True)
        time.sleep(600)

    tfidf.fit_tfidf = hang
    builds.build_model(triggered_by="subprocess")
    """
)


@pytest.mark.django_db(transaction=True)
def test_a_sigkilled_build_stops_blocking_at_once_on_postgresql(catalog, settings, tmp_path):
    """Issue #9 defect 3: a build process killed with SIGKILL blocked every build for ~33
    minutes. With the lease (a PostgreSQL advisory lock held by the build's session) the server
    drops the lock with the process, and the next build starts as soon as the row has been
    silent for the short grace (2 heartbeats = 10 s by default, well within 60 s)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (the lease is an advisory lock)")
    db = settings.DATABASES["default"]
    url = (
        f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{connection.settings_dict['NAME']}"
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "MODEL_DIR": str(settings.MODEL_DIR),
        "DJANGO_SETTINGS_MODULE": "netflixrecs.settings_test",
        "CONN_MAX_AGE": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLABLE_BUILD],
        cwd=str(settings.BASE_DIR),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_line(proc, "building")
        running = ModelVersion.objects.get()
        assert running.status == "running"
        grace = ModelVersion.lease_grace_seconds()
        assert grace < 60
        silent = timezone.now() - timedelta(seconds=grace + 1)
        # Alive and leased: even a row that looks silent is not taken over.
        ModelVersion.objects.filter(pk=running.pk).update(heartbeat_at=silent)
        assert not lease_is_free(ModelVersion, running.pk, using="default")
        with pytest.raises(BuildAlreadyRunning):
            build()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # The server notices the dead session and releases the lock (asynchronously, at once).
    deadline = time.monotonic() + 30
    while not lease_is_free(ModelVersion, running.pk, using="default"):
        assert time.monotonic() < deadline, "the killed build's lease was never released"
        time.sleep(0.1)
    # The killed build's last heartbeat is at most one heartbeat old when it dies; past the
    # grace the next build starts (here the clock is moved instead of waiting 10 s).
    ModelVersion.objects.filter(pk=running.pk).update(heartbeat_at=silent)
    version = build()
    running.refresh_from_db()
    assert running.status == "failed" and "went away" in running.error
    assert version.is_active and version.status == "succeeded"
