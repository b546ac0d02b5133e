"""The sync loop (movies.services.tmdb_sync): idempotency and the faults the issue lists.
Real client, fake TMDB server."""

from __future__ import annotations

import pytest

from devtools.fake_tmdb import FakeTMDB
from movies.conftest import CREDITS, invented_catalog, point_client_at, tmdb_movie
from movies.models import Credit, Genre, Keyword, Movie, Person
from movies.services.tmdb_sync import SyncStopped, sync_popular
from movies.tmdb import AUTH_HELP

pytestmark = pytest.mark.django_db


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


def test_invented_catalog_helper_is_sorted():
    pops = [m["popularity"] for m in invented_catalog()]
    assert pops == sorted(pops, reverse=True)
