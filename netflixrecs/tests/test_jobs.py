"""The Job base (netflixrecs.jobs), exercised through SyncRun, its first concrete model.

Runs on SQLite (stale = heartbeat age) and on PostgreSQL (stale = advisory lock free), where a
lease held by a subprocess that is SIGKILLed must free the next run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conftest import wait_for_line
from movies.errors import CatalogError
from movies.models import SyncAlreadyRunning, SyncRun
from netflixrecs.jobs import models as jobs
from netflixrecs.jobs.tasks import expire_stale_jobs
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="advisory-lock leases are PostgreSQL's"
)


def _age(run: SyncRun, seconds: float, field: str = "heartbeat_at") -> None:
    SyncRun.objects.filter(pk=run.pk).update(**{field: timezone.now() - timedelta(seconds=seconds)})
    run.refresh_from_db()


# --- single flight and claiming ---------------------------------------------------------------


@pytest.mark.django_db
def test_single_flight_is_the_databases_rule():
    SyncRun.objects.create(status=SyncRun.Status.RUNNING, pages=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        SyncRun.objects.create(status=SyncRun.Status.QUEUED, pages=1)
    # Finished runs do not count.
    SyncRun.objects.create(status=SyncRun.Status.FAILED, pages=1)
    SyncRun.objects.create(status=SyncRun.Status.SUCCEEDED, pages=1)
    assert SyncRun.objects.in_progress().count() == 1
    assert SyncRun.objects.finished().count() == 2


@pytest.mark.django_db
def test_enqueue_refuses_a_second_job_naming_the_first():
    first = SyncRun.objects.enqueue(pages=1, triggered_by="test")
    assert first.status == SyncRun.Status.QUEUED and first.attempts == 0
    with pytest.raises(SyncAlreadyRunning) as refused:
        SyncRun.objects.begin(pages=1)
    assert refused.value.running == first
    assert f"#{first.pk} is already queued" in str(refused.value)
    assert isinstance(refused.value, jobs.JobAlreadyRunning)
    assert isinstance(refused.value, CatalogError)
    assert SyncRun.objects.count() == 1


@pytest.mark.django_db
def test_begin_starts_running_and_claimed_by_this_process():
    run = SyncRun.objects.begin(pages=1)
    host, pid, token = run.lease_owner.split(":")
    assert run.status == SyncRun.Status.RUNNING and run.attempts == 1
    assert int(pid) == os.getpid() and host and len(token) == 8
    assert run.started_at and run.heartbeat_at and run.is_in_progress


@pytest.mark.django_db
def test_of_two_deliveries_exactly_one_claims():
    run = SyncRun.objects.enqueue(pages=1)
    first, second = SyncRun.objects.get(pk=run.pk), SyncRun.objects.get(pk=run.pk)
    assert first.claim() is True
    assert second.claim() is False
    run.refresh_from_db()
    assert (run.status, run.attempts, run.lease_owner) == ("running", 1, first.lease_owner)


@pytest.mark.django_db
def test_a_redelivery_takes_over_a_job_whose_lease_died():
    run = SyncRun.objects.begin(pages=1)
    first_owner = run.lease_owner
    assert SyncRun.objects.get(pk=run.pk).claim() is False  # alive: nobody takes it
    _age(run, 120)
    again = SyncRun.objects.get(pk=run.pk)
    assert again.claim() is True
    assert again.attempts == 2 and again.lease_owner != first_owner
    assert SyncRun.objects.get(pk=run.pk).claim() is False


@pytest.mark.django_db
def test_finished_jobs_are_never_claimed():
    run = SyncRun.objects.begin(pages=1)
    run.succeed(message="Done")
    assert SyncRun.objects.get(pk=run.pk).claim() is False


# --- stale detection and expiry -------------------------------------------------------------


@pytest.mark.django_db
def test_a_silent_running_job_goes_stale_after_the_stale_time(settings):
    settings.JOB_STALE_SECONDS = 45
    run = SyncRun.objects.begin(pages=1)
    _age(run, 30)
    assert not run.is_stale()
    _age(run, 60)
    assert run.is_stale()
    assert list(SyncRun.objects.stale()) == [run]


@pytest.mark.django_db
def test_queued_jobs_expire_after_the_queued_timeout(settings):
    settings.JOB_QUEUED_TIMEOUT = 600
    run = SyncRun.objects.enqueue(pages=1)
    _age(run, 300, "created_at")
    assert not run.is_stale()
    _age(run, 900, "created_at")
    assert run.is_stale()


@pytest.mark.django_db
def test_expire_stale_fails_dead_jobs_with_a_reason_and_frees_the_next():
    dead = SyncRun.objects.begin(pages=1)
    _age(dead, 3600)
    done = SyncRun.objects.create(status=SyncRun.Status.SUCCEEDED, pages=1)
    assert SyncRun.objects.expire_stale() == 1
    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.FAILED and dead.finished_at
    assert "went away" in dead.error
    done.refresh_from_db()
    assert done.status == SyncRun.Status.SUCCEEDED and not done.error
    assert SyncRun.objects.expire_stale() == 0
    # enqueue expires by itself: a second dead run does not block the next one.
    second = SyncRun.objects.begin(pages=1)
    _age(second, 3600)
    assert SyncRun.objects.enqueue(pages=1).status == SyncRun.Status.QUEUED
    second.refresh_from_db()
    assert second.status == SyncRun.Status.FAILED


@pytest.mark.django_db
def test_expire_stale_says_why_a_queued_job_never_ran(settings):
    settings.JOB_QUEUED_TIMEOUT = 60
    run = SyncRun.objects.enqueue(pages=1)
    _age(run, 120, "created_at")
    assert SyncRun.objects.expire_stale() == 1
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED and run.error.startswith("Never started")


@pytest.mark.django_db
def test_the_beat_task_expires_every_job_model():
    assert SyncRun in jobs.job_models()
    dead = SyncRun.objects.begin(pages=1)
    _age(dead, 3600)
    result = expire_stale_jobs()
    assert result["movies.SyncRun"] == 1
    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.FAILED
    assert expire_stale_jobs()["movies.SyncRun"] == 0


def test_the_beat_task_is_scheduled_and_discovered(settings):
    from netflixrecs.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["expire-stale-jobs"]
    assert entry["task"] == "netflixrecs.jobs.tasks.expire_stale_jobs"
    assert entry["schedule"] == settings.JOB_EXPIRE_EVERY_SECONDS
    app.loader.import_default_modules()
    assert "netflixrecs.jobs.tasks.expire_stale_jobs" in app.tasks
    # Redelivery of an unacknowledged task only after the longest task could have finished.
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert timeout > settings.RECS_BUILD_TIME_LIMIT
    from movies.tasks import CHUNK_TIME_LIMIT

    assert timeout > CHUNK_TIME_LIMIT


# --- ending a job ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_mark_failed_only_touches_jobs_in_progress():
    run = SyncRun.objects.begin(pages=1)
    assert run.mark_failed("stuck, cleared by hand") is True
    run.refresh_from_db()
    assert (run.status, run.error) == (SyncRun.Status.FAILED, "stuck, cleared by hand")
    assert run.finished_at is not None
    assert run.mark_failed("again") is False
    run.refresh_from_db()
    assert run.error == "stuck, cleared by hand"


@pytest.mark.django_db
def test_succeed_and_fail_record_the_end():
    run = SyncRun.objects.begin(pages=1)
    run.succeed(message="Done: all of it")
    run.refresh_from_db()
    assert (run.status, run.message, run.percent) == ("succeeded", "Done: all of it", 100)
    assert run.finished_at is not None and not run.is_in_progress
    other = SyncRun.objects.begin(pages=1)
    other.fail("TMDB said no")
    other.refresh_from_db()
    assert (other.status, other.error) == ("failed", "TMDB said no")


@pytest.mark.django_db
def test_fail_never_raises(monkeypatch):
    run = SyncRun.objects.begin(pages=1)

    def broken():
        raise RuntimeError("database gone")

    monkeypatch.setattr(run, "_rows", broken)
    run.fail("whatever happened")  # logged, not raised
    assert run.status == SyncRun.Status.FAILED


# --- progress and heartbeat ------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.django_db
def test_progress_writes_are_throttled_and_the_last_one_flushed(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(jobs, "clock", clock)
    run = SyncRun.objects.begin(pages=1, progress_total=10)
    with CaptureQueriesContext(connection) as writes:
        for done in range(1, 6):  # five reports of one step in the same instant: one write
            run.report_progress(done, 10, "movies")
    assert len(writes) == 1
    assert SyncRun.objects.get(pk=run.pk).progress_done == 1
    clock.now += 1.0
    with CaptureQueriesContext(connection) as writes:
        run.report_progress(6, 10, "movies")
        run.report_progress(7, 10, "movies")
    assert len(writes) == 1
    stored = SyncRun.objects.get(pk=run.pk)
    assert (stored.progress_done, stored.progress_message) == (6, "movies")
    run.flush_progress()
    stored = SyncRun.objects.get(pk=run.pk)
    assert (stored.progress_done, stored.progress_message) == (7, "movies")
    with CaptureQueriesContext(connection) as writes:
        run.flush_progress()  # nothing held back any more
        run.report_progress(10, 10, "last")  # the final step is always written
    assert len(writes) == 1
    assert SyncRun.objects.get(pk=run.pk).progress_done == 10


@pytest.mark.django_db
def test_a_new_step_is_written_at_once_even_within_the_interval(monkeypatch):
    """A step can be long (fitting a million-movie model): the admin must show it as soon as
    it starts, not the previous step until the next report."""
    clock = FakeClock()
    monkeypatch.setattr(jobs, "clock", clock)
    run = SyncRun.objects.begin(pages=1, progress_total=3)
    run.report_progress(1, 3, "Reading the catalog")
    with CaptureQueriesContext(connection) as writes:
        run.report_progress(1, 3, "Reading the catalog")  # same step, same instant: held
        run.report_progress(1, 3, "Fitting TF-IDF")  # new step: written now
    assert len(writes) == 1
    assert SyncRun.objects.get(pk=run.pk).progress_message == "Fitting TF-IDF"


@pytest.mark.django_db
def test_progress_refreshes_the_heartbeat():
    run = SyncRun.objects.begin(pages=1, progress_total=10)
    _age(run, 3600)
    run.report_progress(1, 10, "first")
    assert not SyncRun.objects.get(pk=run.pk).is_stale()


@pytest.mark.django_db
def test_a_heartbeat_keeps_a_running_job_alive():
    run = SyncRun.objects.begin(pages=1)
    _age(run, 3600)
    jobs._Heartbeat(run).beat()
    run.refresh_from_db()
    assert timezone.now() - run.heartbeat_at < timedelta(seconds=30)
    assert not run.is_stale()


@pytest.mark.django_db
def test_the_lease_records_a_heartbeat_and_stops_its_thread():
    run = SyncRun.objects.begin(pages=1)
    _age(run, 3600)
    with run.lease():
        assert not SyncRun.objects.get(pk=run.pk).is_stale()
        beating = [t for t in __import__("threading").enumerate() if t.name.startswith("heartbeat")]
        assert beating
    assert not any(t.is_alive() for t in beating)


@on_postgres
@pytest.mark.django_db
def test_postgres_a_held_lease_is_alive_whatever_the_heartbeat():
    run = SyncRun.objects.begin(pages=1)
    with run.lease():
        _age(run, 3600)
        assert not run.is_stale()
        assert SyncRun.objects.expire_stale() == 0
    assert run.is_stale()  # lease released and the heartbeat old


LEASE_HOLDER = textwrap.dedent(
    """
    import sys, time
    import django
    django.setup()
    from movies.models import SyncRun
    run = SyncRun.objects.get(pk=int(sys.argv[1]))
    with run.lease():
        print("leased", flush=True)
        time.sleep(600)
    """
)


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_a_sigkilled_lease_holder_frees_the_next_run():
    db = connection.settings_dict
    run = SyncRun.objects.begin(pages=1, triggered_by="doomed worker")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "netflixrecs.settings_test",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
    }
    holder = subprocess.Popen(
        [sys.executable, "-c", LEASE_HOLDER, str(run.pk)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_line(holder, "leased")
        _age(run, 3600)  # only the lock says it is alive now
        assert not run.is_stale()
        with pytest.raises(SyncAlreadyRunning):
            SyncRun.objects.enqueue(pages=1)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    # The server drops the killed session's lock when it notices the closed connection.
    for _ in range(100):
        if run.is_stale():
            break
        time.sleep(0.1)
    nxt = SyncRun.objects.enqueue(pages=1, triggered_by="next")
    assert nxt.status == SyncRun.Status.QUEUED
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED and "went away" in run.error


# --- admin ------------------------------------------------------------------------------------

STATUS = "admin:movies_syncrun_status"
CHANGELIST = "admin:movies_syncrun_changelist"


@pytest.mark.django_db
def test_status_panel_needs_view_permission(client):
    staff = UserFactory(username="staff-no-perms", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse(STATUS)).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_syncrun"))
    response = client.get(reverse(STATUS))
    assert response.status_code == 200
    assert (
        b'data-testid="sync-status"' in response.content and b"No sync running." in response.content
    )


@pytest.mark.django_db
def test_status_panel_shows_the_running_job_and_the_list_polls_it(admin_client):
    run = SyncRun.objects.begin(pages=2, progress_total=40, triggered_by="test")
    run.report_progress(10, 40, "page 1")
    panel = admin_client.get(reverse(STATUS)).content.decode()
    assert f"Sync running:</strong> #{run.pk}" in panel and "10/40 movies, 25%" in panel
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert f'hx-get="{reverse(STATUS)}" hx-trigger="every 2s"' in page
    assert "10/40 (25%) page 1" in page  # the progress column


@pytest.mark.django_db
def test_mark_stuck_jobs_failed_action(admin_client):
    stuck = SyncRun.objects.begin(pages=1)
    done = SyncRun.objects.create(status=SyncRun.Status.SUCCEEDED, pages=1)
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "mark_stuck_jobs_failed", "_selected_action": [stuck.pk, done.pk]},
        follow=True,
    )
    assert b"Marked 1 job(s) failed." in response.content
    assert b"1 selected job(s) were not in progress" in response.content
    stuck.refresh_from_db()
    assert stuck.status == SyncRun.Status.FAILED and "admin" in stuck.error
    done.refresh_from_db()
    assert done.status == SyncRun.Status.SUCCEEDED


@pytest.mark.django_db
def test_mark_failed_action_needs_the_change_permission(client):
    staff = UserFactory(username="viewer", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_syncrun"))
    client.force_login(staff)
    stuck = SyncRun.objects.begin(pages=1)
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert "mark_stuck_jobs_failed" not in page
    client.post(
        reverse(CHANGELIST), {"action": "mark_stuck_jobs_failed", "_selected_action": [stuck.pk]}
    )
    stuck.refresh_from_db()
    assert stuck.status == SyncRun.Status.RUNNING
