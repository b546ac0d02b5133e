"""TMDB sync: parsing, idempotency, the faults the issue lists, the command, the Celery fan-out
chained to the rebuild, and the admin entry points. Real client, fake TMDB server."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from devtools.fake_tmdb import FakeTMDB
from movies.conftest import invented_catalog, point_client_at, tmdb_movie
from movies.models import Credit, Genre, Keyword, Movie, Person, SyncRun
from movies.services import tmdb_sync
from movies.services.tmdb_sync import SyncStopped, movie_data_from_tmdb, sync_popular
from movies.tmdb import AUTH_HELP

pytestmark = pytest.mark.django_db

# Hand-written (invented) credits: TMDB lists cast in any order with an "order" field, and
# crew with several jobs; one director is also credited as writer.
CREDITS = {
    "cast": [
        {"id": 9003, "name": "Carol Third", "character": "Ship's cat", "order": 2},
        {"id": 9001, "name": "Alice First", "character": "Captain", "order": 0},
        {"id": 9004, "name": "Dan Fourth", "character": "Cook", "order": 3},
        {"id": 9002, "name": "Bob Second", "character": "Pilot", "order": 1},
    ],
    "crew": [
        {"id": 9100, "name": "Erin Director", "job": "Director", "department": "Directing"},
        {"id": 9100, "name": "Erin Director", "job": "Screenplay", "department": "Writing"},
        {"id": 9101, "name": "Frank Codirector", "job": "Director", "department": "Directing"},
        {"id": 9102, "name": "Gina Producer", "job": "Producer", "department": "Production"},
    ],
}


def test_parse_cast_by_order_and_directors_by_job(settings):
    settings.TMDB_TOP_CAST = 3
    details = tmdb_movie(7, "Parsed", 5.0, credits=CREDITS, poster_path=None)
    data = movie_data_from_tmdb(details)
    assert [(c.person.name, c.order, c.character) for c in data.cast] == [
        ("Alice First", 0, "Captain"),
        ("Bob Second", 1, "Pilot"),
        ("Carol Third", 2, "Ship's cat"),
    ]
    assert [(d.name, d.tmdb_id) for d in data.directors] == [
        ("Erin Director", 9100),
        ("Frank Codirector", 9101),
    ]
    assert data.release_date == datetime.date(2001, 2, 3) and data.year == 2001
    assert [(g.name, g.tmdb_id) for g in data.genres] == [("Drama", 18)]
    assert [k.name for k in data.keywords] == ["theme 7"]
    assert data.poster_path == ""  # TMDB said "no poster"


def test_parse_leaves_unsent_fields_alone():
    data = movie_data_from_tmdb({"id": 8, "title": "Sparse"})
    assert data.poster_path is None and data.cast is None and data.genres is None
    assert data.keywords is None and data.release_date is None


@pytest.mark.parametrize("details", [{"title": "No id"}, {"id": 9, "title": ""}, {"id": "9"}])
def test_parse_rejects_movies_without_id_or_title(details):
    with pytest.raises(ValueError, match="id or a title"):
        movie_data_from_tmdb(details)


def test_sync_stores_cast_and_directors(settings):
    movies = [tmdb_movie(1, "With Credits", 10.0, credits=CREDITS, poster_path="/p.jpg")]
    with FakeTMDB(movies=movies) as fake:
        point_client_at(settings, fake)
        summary = sync_popular(pages=1)
    assert (summary.created, summary.failed) == (1, 0)
    movie = Movie.objects.with_details().get(tmdb_id=1)
    assert [(c.person.name, c.order) for c in movie.cast()] == [
        ("Alice First", 0),
        ("Bob Second", 1),
        ("Carol Third", 2),
    ]
    assert [p.name for p in movie.directors()] == ["Erin Director", "Frank Codirector"]
    assert movie.poster_path == "/p.jpg"


def counts() -> dict:
    return {m.__name__: m.objects.count() for m in (Movie, Genre, Keyword, Person, Credit)} | {
        "movie_keywords": Movie.keywords.through.objects.count()
    }


def test_sync_is_idempotent(fake_tmdb):
    first = sync_popular(pages=3)
    assert (first.pages, first.fetched, first.created, first.failed) == (3, 45, 45, 0)
    before = counts()
    second = sync_popular(pages=3)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 45)
    assert counts() == before
    top = Movie.objects.popular().first()
    assert top.tmdb_id == 100 and top.keywords.get().name == "theme 100"


def test_pages_beyond_tmdbs_last_page_are_not_requested(fake_tmdb):
    summary = sync_popular(pages=10)
    assert summary.pages == 3 and summary.created == 45
    assert len(fake_tmdb.requests("popular")) == 3


# --- faults ----------------------------------------------------------------------------------


def test_rate_limited_run_fetches_everything_within_the_limit(fake_tmdb, settings):
    """TMDB itself answers 429 above 20 requests a second, and throws in three 429s with
    Retry-After; the client keeps to 20/s and waits them out."""
    settings.TMDB_RATE_LIMIT, settings.TMDB_RATE_WINDOW = 20, 1.0
    fake_tmdb.server_rate_limit = (20, 1.0)
    fake_tmdb.add_fault("movie", "429", times=3, retry_after=0.3)
    summary = sync_popular(pages=3)
    assert (summary.created, summary.failed) == (45, 0)
    assert Movie.objects.count() == 45
    statuses = fake_tmdb.status_counts()
    assert statuses[429] == 3  # only the injected ones: the server's own limit never tripped
    assert statuses[200] == 48  # 3 pages + 45 movies
    assert fake_tmdb.max_in_window(1.0) <= 20


def test_5xx_bursts_are_retried(fake_tmdb):
    # Bursts shorter than the retry budget (3 retries): every request ends in a 200.
    fake_tmdb.add_fault("movie", "500", times=3, movie_id=100)
    fake_tmdb.add_fault("popular", "503", times=2)
    fake_tmdb.add_fault("movie", "503", times=2, movie_id=120)
    summary = sync_popular(pages=3)
    assert (summary.created, summary.failed) == (45, 0)
    assert fake_tmdb.status_counts() == {500: 3, 503: 4, 200: 48}


def test_a_timeout_fails_one_movie_and_does_not_hang(fake_tmdb, settings):
    settings.TMDB_MAX_RETRIES = 1
    fake_tmdb.add_fault("movie", "slow", delay=30, movie_id=105)
    summary = sync_popular(pages=3)
    assert (summary.created, summary.failed) == (44, 1)
    assert summary.failures[0][0] == 105 and "did not answer" in summary.failures[0][1]
    assert not Movie.objects.filter(tmdb_id=105).exists()
    assert len(fake_tmdb.requests("movie", movie_id=105)) == 2  # first try + one retry


def test_malformed_json_is_one_failed_movie(fake_tmdb):
    fake_tmdb.add_fault("movie", "malformed", movie_id=106)
    summary = sync_popular(pages=3)
    assert (summary.fetched, summary.created, summary.failed) == (44, 44, 1)
    assert summary.failures == [(106, summary.failures[0][1])]
    assert "malformed JSON" in summary.failures[0][1]


def test_401_stops_the_run_with_check_your_key(fake_tmdb):
    fake_tmdb.add_fault("movie", "401")
    with pytest.raises(SyncStopped) as info:
        sync_popular(pages=3)
    assert AUTH_HELP in str(info.value)
    assert len(fake_tmdb.requests("movie")) == 1  # stopped at once, no retries
    assert len(fake_tmdb.requests("popular")) == 1


def test_401_from_the_command_is_a_command_error(fake_tmdb, settings):
    settings.TMDB_READ_TOKEN = "revoked"
    with pytest.raises(CommandError, match="check your TMDB key"):
        call_command("sync_tmdb", "--pages", "1", "--no-progress")
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.FAILED and "check your TMDB key" in run.message


def test_sync_killed_half_way_then_rerun_has_no_duplicates(fake_tmdb):
    class Killed(BaseException):
        """Stands in for SIGKILL/Ctrl-C: not an Exception, nothing catches it."""

    def kill_after_20(done, total, message):
        if done == 20:
            raise Killed

    with pytest.raises(Killed):
        sync_popular(pages=3, progress=kill_after_20)
    assert Movie.objects.count() == 20
    summary = sync_popular(pages=3)
    assert (summary.created, summary.unchanged, summary.failed) == (25, 20, 0)
    assert Movie.objects.count() == 45
    assert Movie.objects.values("tmdb_id").distinct().count() == 45
    assert Genre.objects.filter(name="Drama").count() == 1
    assert Keyword.objects.count() == 45


# --- entry points ----------------------------------------------------------------------------


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
    assert version.status == ModelVersion.Status.READY and version.is_active
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


def test_celery_fan_out_then_rebuild(fake_tmdb, settings, django_capture_on_commit_callbacks):
    from recommendations.models import ModelVersion

    settings.TMDB_SYNC_CHUNK_PAGES = 1
    with django_capture_on_commit_callbacks(execute=True):
        run = tmdb_sync.create_sync_run(triggered_by="test", pages=3, rebuild=True)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.message
    assert (run.chunks_total, run.chunks_done) == (3, 3)
    assert (run.created, run.failed, run.progress_done, run.progress_total) == (45, 0, 45, 45)
    assert run.percent == 100 and "model rebuild queued" in run.message
    version = ModelVersion.objects.get(pk=run.model_version_id)
    assert version.triggered_by == f"tmdb-sync #{run.pk}"
    assert version.status == ModelVersion.Status.READY and version.movie_count == 45


def test_fan_out_stops_every_chunk_on_401(fake_tmdb, settings, django_capture_on_commit_callbacks):
    settings.TMDB_SYNC_CHUNK_PAGES = 1
    fake_tmdb.add_fault("movie", "401")
    with django_capture_on_commit_callbacks(execute=True):
        run = tmdb_sync.create_sync_run(triggered_by="test", pages=3, rebuild=True)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert AUTH_HELP in run.message and run.model_version_id is None
    assert run.chunks_done == 3
    assert len(fake_tmdb.requests("movie")) == 1  # the later chunks saw the failed run


def test_only_one_sync_at_a_time(fake_tmdb):
    first = tmdb_sync.create_sync_run(triggered_by="test", pages=1)
    assert first is not None and first.status == SyncRun.Status.QUEUED
    assert tmdb_sync.create_sync_run(triggered_by="test", pages=1) is None


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


# --- admin -----------------------------------------------------------------------------------


@pytest.fixture
def admin_client_(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-12345!")
    client.force_login(admin)
    return client


def test_admin_button_syncs_and_rebuilds(
    fake_tmdb, admin_client_, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(reverse("admin:movies_syncrun_sync"), {"pages": "2"})
    assert response.status_code == 302
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.SUCCEEDED and run.created == 40
    assert run.model_version_id is not None and run.triggered_by == "admin: root"
    page = admin_client_.get(reverse("admin:movies_syncrun_changelist"))
    assert b"Sync from TMDB and rebuild the model" in page.content
    assert b"No sync running" in page.content and b"40 created" in page.content
    status = admin_client_.get(reverse("admin:movies_syncrun_status"))
    assert b"Last sync: #" in status.content


def test_admin_button_rejects_bad_pages(fake_tmdb, admin_client_):
    response = admin_client_.post(reverse("admin:movies_syncrun_sync"), {"pages": "0"}, follow=True)
    assert b"Pages must be a whole number from 1 to 500" in response.content
    assert not SyncRun.objects.exists()
    assert admin_client_.get(reverse("admin:movies_syncrun_sync")).status_code == 405


def test_admin_shows_a_running_sync_and_refuses_a_second(fake_tmdb, admin_client_):
    SyncRun.objects.create(status=SyncRun.Status.RUNNING, pages=5, progress_total=100)
    response = admin_client_.post(reverse("admin:movies_syncrun_sync"), {"pages": "1"}, follow=True)
    assert b"already queued or running" in response.content
    assert b"Sync running:" in response.content
    assert SyncRun.objects.count() == 1


def test_movie_admin_action_refreshes_selected(
    fake_tmdb, admin_client_, django_capture_on_commit_callbacks
):
    sync_popular(pages=1)
    Movie.objects.filter(tmdb_id__in=[100, 101]).update(vote_count=1)
    ids = list(Movie.objects.filter(tmdb_id__in=[100, 101]).values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            reverse("admin:movies_movie_changelist"),
            {"action": "sync_selected_from_tmdb", "_selected_action": ids},
        )
    assert response.status_code == 302
    run = SyncRun.objects.get()
    assert sorted(run.tmdb_ids) == [100, 101]
    assert (run.status, run.updated) == (SyncRun.Status.SUCCEEDED, 2)
    assert set(Movie.objects.filter(pk__in=ids).values_list("vote_count", flat=True)) == {120}


# --- the shared TMDB data ---------------------------------------------------------------------


@pytest.mark.dataset
def test_sync_two_pages_of_the_shared_tmdb_data(shared_fake_tmdb):
    summary = sync_popular(pages=2)
    assert (summary.created, summary.failed) == (40, 0)
    expected = shared_fake_tmdb.popular[:40]
    assert list(Movie.objects.popular().values_list("tmdb_id", flat=True)) == [
        m["id"] for m in expected
    ]
    top = Movie.objects.get(tmdb_id=expected[0]["id"])
    assert top.keywords.count() == len(expected[0]["keywords"]["keywords"])
    assert top.genres.count() == len(expected[0]["genres"])
    assert not Credit.objects.exists()  # the dataset has no credits


def _call(*args) -> str:
    import io

    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_invented_catalog_helper_is_sorted():
    pops = [m["popularity"] for m in invented_catalog()]
    assert pops == sorted(pops, reverse=True)
