"""The member's own state (movies.member): one query, the separate reads' orders, one read
per request shared by the movie page's parts."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from movies.member import EMPTY, forget_member_state, member_state, read_member_state
from movies.models import HiddenMovie, Rating, WatchlistEntry
from tests.factories import MovieFactory, RatingFactory

pytestmark = pytest.mark.django_db


def _at(minutes: int):
    return timezone.now() - datetime.timedelta(minutes=minutes)


@pytest.fixture
def state_of(user, other_user):
    movies = MovieFactory.create_batch(6)
    # Ratings newest-changed first, whatever the order they were made in.
    for movie, age in ((movies[0], 30), (movies[1], 10), (movies[2], 20)):
        RatingFactory(user=user, movie=movie, score=Decimal("4.5"))
        Rating.objects.filter(user=user, movie=movie).update(updated_at=_at(age))
    for movie, age in ((movies[3], 5), (movies[4], 1)):
        WatchlistEntry.objects.create(user=user, movie=movie)
        WatchlistEntry.objects.filter(user=user, movie=movie).update(created_at=_at(age))
    HiddenMovie.objects.create(user=user, movie=movies[5])
    RatingFactory(user=other_user, movie=movies[3])  # someone else's: never read
    WatchlistEntry.objects.create(user=other_user, movie=movies[0])
    return movies


def test_one_query_reads_ratings_and_both_marks_in_their_orders(
    user, state_of, django_assert_num_queries
):
    movies = state_of
    with django_assert_num_queries(1):
        state = read_member_state(user)
    assert [mid for mid, _ in state.ratings] == [movies[1].pk, movies[2].pk, movies[0].pk]
    assert state.scores[movies[0].pk] == Decimal("4.5")
    assert state.watchlist == (movies[4].pk, movies[3].pk)
    assert state.hidden == {movies[5].pk}
    assert movies[3].pk not in state.scores and movies[0].pk not in state.watchlist_ids


def test_a_visitor_has_no_state_and_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert read_member_state(AnonymousUser()) is EMPTY


def test_read_once_per_request_until_forgotten(rf, user, state_of, django_assert_num_queries):
    request = rf.get("/")
    request.user = user
    with django_assert_num_queries(1):
        first = member_state(request)
        assert member_state(request) is first
    Rating.objects.filter(user=user).delete()
    forget_member_state(request)
    assert member_state(request).ratings == ()


def test_movie_page_reads_the_members_state_once(auth_client, user, state_of):
    """The rating widget, the mark buttons, the predicted stars and "More like this" all
    need the member's ratings or marks: one read of each table for the whole page."""
    movie = state_of[0]
    auth_client.get(movie.get_absolute_url())  # warm per-process caches
    with CaptureQueriesContext(connection) as ctx:
        html = auth_client.get(movie.get_absolute_url()).content.decode()
    rating_reads = [q["sql"] for q in ctx.captured_queries if 'FROM "movies_rating"' in q["sql"]]
    assert len(rating_reads) == 1 and "UNION ALL" in rating_reads[0]
    assert 'data-testid="your-rating">4.5<' in html
