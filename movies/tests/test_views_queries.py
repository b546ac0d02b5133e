"""List and detail pages run a fixed number of queries, however many movies they show.

Each test renders a page with a small catalog, counts its queries, grows the data well past
one page (24 cards), and asserts the count is exactly the same.
"""

import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from movies.stamp import STAMP_KEY
from tests.factories import (
    CreditFactory,
    GenreFactory,
    KeywordFactory,
    MovieFactory,
    RatingFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_periodic_checks(settings):
    """Two cheap checks run at most every few seconds (the active model version, the search
    index's catalog shape); on a slow machine one can fall between the two measured requests
    and add a query that has nothing to do with the page's size."""
    settings.RECS_VERSION_CHECK_SECONDS = 3600
    settings.SEARCH_INDEX_CHECK_SECONDS = 3600


def count_queries(client, url, params=None, *, fresh: bool = False) -> int:
    # Warm up first: per-process caches (content types, model-version lookups of other apps'
    # template tags) would otherwise make the first request look more expensive.
    client.get(url, params or {})
    if fresh:  # a new catalog stamp: what is kept under it is read afresh, as after an edit
        cache.delete(STAMP_KEY)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


def add_rated_movies(user, n: int, genres) -> list:
    movies = [MovieFactory(genres=genres, poster_path="/p.jpg") for _ in range(n)]
    for i, movie in enumerate(movies):
        if i % 2 == 0:
            RatingFactory(user=user, movie=movie, score=Decimal("3.5"))
    return movies


@pytest.fixture
def genres(db):
    return [GenreFactory(name="Drama"), GenreFactory(name="Comedy")]


def test_home_query_count_does_not_grow(auth_client, user, genres, django_assert_num_queries):
    add_rated_movies(user, 3, genres)
    small = count_queries(auth_client, reverse("home"))
    add_rated_movies(user, 30, genres)
    with django_assert_num_queries(small):
        auth_client.get(reverse("home"))
    assert small <= 6


@pytest.mark.parametrize(
    ("params", "first_n"),
    [({}, 5), ({"genre": "drama", "sort": "rating", "page": "2"}, 26)],
)
def test_browse_query_count_does_not_grow(
    auth_client, user, genres, params, first_n, django_assert_num_queries
):
    # first_n puts fewer cards on the measured page than the 24 it shows later.
    add_rated_movies(user, first_n, genres)
    url = reverse("movies:browse")
    small = count_queries(auth_client, url, params, fresh=True)
    small_kept = count_queries(auth_client, url, params)  # the listing kept under the stamp
    add_rated_movies(user, 60, genres)  # a catalog edit: the next view lists afresh
    with django_assert_num_queries(small):
        response = auth_client.get(url, params)
    assert len(response.context["movies"]) == 24
    # The user's own ratings are on the cards, fetched in the same query.
    assert any(m.my_score == Decimal("3.5") for m in response.context["movies"])
    assert small <= 9
    auth_client.get(url, params)  # the listing is kept; this one keeps the cards' rows too
    with django_assert_num_queries(small_kept):
        kept = auth_client.get(url, params)
    # The same page, but for the CSRF tokens (masked afresh on every response).
    token = re.compile(rb"[A-Za-z0-9]{64}")
    assert token.sub(b"T", kept.content) == token.sub(b"T", response.content)
    assert small_kept < small


def test_browse_anonymous_query_count_does_not_grow(client, genres, django_assert_num_queries):
    MovieFactory.create_batch(5, genres=genres)
    small = count_queries(client, reverse("movies:browse"), {"q": "movie"}, fresh=True)
    MovieFactory.create_batch(40, genres=genres)
    with django_assert_num_queries(small):
        client.get(reverse("movies:browse"), {"q": "movie"})


def test_detail_query_count_does_not_grow(auth_client, user, genres, django_assert_num_queries):
    movie = MovieFactory(genres=genres)
    RatingFactory(user=user, movie=movie)

    def grow(n):
        movie.keywords.add(*[KeywordFactory() for _ in range(n)])
        for _ in range(n):
            CreditFactory(movie=movie)
        CreditFactory(movie=movie, kind="director")

    grow(2)
    small = count_queries(auth_client, movie.get_absolute_url())
    grow(20)
    # The edit changed the catalog stamp: the first view reads the page's facts again (the
    # same number of queries as with 2 keywords), the next ones take them from the cache.
    with django_assert_num_queries(small + 4):
        auth_client.get(movie.get_absolute_url())
    with django_assert_num_queries(small):
        auth_client.get(movie.get_absolute_url())


def test_my_ratings_query_count_does_not_grow(auth_client, user, genres, django_assert_num_queries):
    add_rated_movies(user, 4, genres)
    small = count_queries(auth_client, reverse("movies:my_ratings"))
    add_rated_movies(user, 60, genres)
    with django_assert_num_queries(small):
        response = auth_client.get(reverse("movies:my_ratings"))
    assert len(response.context["ratings"]) == 24
    assert small <= 5
