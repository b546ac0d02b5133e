"""manage.py sync_tmdb: one in-process SyncRun, its report, its rebuild request."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from movies.models import Movie, SyncRun

pytestmark = pytest.mark.django_db


def test_401_from_the_command_is_a_command_error(fake_tmdb, settings):
    settings.TMDB_READ_TOKEN = "revoked"
    with pytest.raises(CommandError, match="check your TMDB key"):
        call_command("sync_tmdb", "--pages", "1", "--no-progress")
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.FAILED and "check your TMDB key" in run.message


def test_command_syncs_and_reports(fake_tmdb):
    out = _call("sync_tmdb", "--pages", "2", "--no-progress")
    assert "40 fetched, 40 created, 0 updated, 0 unchanged, 0 failed" in out
    assert Movie.objects.count() == 40
    run = SyncRun.objects.get()
    assert (run.status, run.created, run.fetched) == (SyncRun.Status.SUCCEEDED, 40, 40)
    assert (run.progress_done, run.progress_total, run.percent) == (40, 40, 100)


def test_command_rebuild_builds_the_model(fake_tmdb, django_capture_on_commit_callbacks):
    from recommendations.models import ModelVersion

    with django_capture_on_commit_callbacks(execute=True):
        out = _call("sync_tmdb", "--pages", "1", "--rebuild", "--no-progress")
    version = ModelVersion.objects.get()
    assert f"model rebuild queued (version {version.pk})" in out
    # No broker in tests: the build ran in-process and its model is active.
    assert version.status == ModelVersion.Status.SUCCEEDED and version.is_active
    assert version.movie_count == 20
    assert SyncRun.objects.get().model_version_id == version.pk


def test_command_lists_failures_and_keeps_going(fake_tmdb):
    fake_tmdb.add_fault("movie", "malformed", movie_id=101)
    out = _call("sync_tmdb", "--pages", "1", "--no-progress")
    assert "failed 101: TMDB sent malformed JSON" in out
    assert "19 created" in out


@pytest.mark.parametrize("args", [["--pages", "0"], ["--start-page", "501"]])
def test_command_rejects_bad_arguments(fake_tmdb, args):
    with pytest.raises(CommandError):
        call_command("sync_tmdb", *args, "--no-progress")
    assert not SyncRun.objects.exists()


def test_command_needs_a_key(settings):
    settings.TMDB_READ_TOKEN = settings.TMDB_API_KEY = ""
    with pytest.raises(CommandError, match="TMDB_READ_TOKEN"):
        call_command("sync_tmdb", "--no-progress")


def _call(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()
