"""movies.services.marks: idempotent, atomic, the two marks exclude each other; and
movies.services.ratings.rate_movie taking a rated movie off the watchlist."""

import threading
from decimal import Decimal
from unittest import mock

import pytest
from django.db import DatabaseError, connection

from movies.models import HiddenMovie, Rating, WatchlistEntry
from movies.services import marks
from movies.services.ratings import rate_movie
from tests.factories import MovieFactory

pytestmark = pytest.mark.django_db


def watchlisted(user, movie) -> bool:
    return WatchlistEntry.objects.filter(user=user, movie=movie).exists()


def hidden(user, movie) -> bool:
    return HiddenMovie.objects.filter(user=user, movie=movie).exists()


def test_add_to_watchlist_is_idempotent_and_says_what_changed(user, movie):
    first = marks.add_to_watchlist(user=user, movie=movie)
    again = marks.add_to_watchlist(user=user, movie=movie)
    assert first == marks.MarkChange(changed=True)
    assert again == marks.MarkChange(changed=False)
    assert WatchlistEntry.objects.filter(user=user).count() == 1


def test_remove_from_watchlist_is_idempotent(user, movie):
    marks.add_to_watchlist(user=user, movie=movie)
    assert marks.remove_from_watchlist(user=user, movie=movie).changed is True
    assert marks.remove_from_watchlist(user=user, movie=movie).changed is False
    assert not watchlisted(user, movie)


def test_hide_and_unhide_are_idempotent(user, movie):
    assert marks.hide_movie(user=user, movie=movie).changed is True
    assert marks.hide_movie(user=user, movie=movie).changed is False
    assert HiddenMovie.objects.filter(user=user).count() == 1
    assert marks.unhide_movie(user=user, movie=movie).changed is True
    assert marks.unhide_movie(user=user, movie=movie).changed is False
    assert not hidden(user, movie)


def test_hiding_takes_the_movie_off_the_watchlist(user, movie):
    marks.add_to_watchlist(user=user, movie=movie)
    change = marks.hide_movie(user=user, movie=movie)
    assert change == marks.MarkChange(changed=True, left_watchlist=True)
    assert hidden(user, movie) and not watchlisted(user, movie)


def test_adding_to_the_watchlist_unhides(user, movie):
    marks.hide_movie(user=user, movie=movie)
    change = marks.add_to_watchlist(user=user, movie=movie)
    assert change == marks.MarkChange(changed=True, unhidden=True)
    assert watchlisted(user, movie) and not hidden(user, movie)


def test_marks_are_per_user(user, other_user, movie):
    marks.add_to_watchlist(user=other_user, movie=movie)
    marks.hide_movie(user=user, movie=movie)  # takes nothing off other_user's watchlist
    assert watchlisted(other_user, movie)
    assert marks.remove_from_watchlist(user=user, movie=movie).changed is False
    assert watchlisted(other_user, movie)


def test_hide_is_atomic_when_clearing_the_watchlist_fails(user, movie):
    marks.add_to_watchlist(user=user, movie=movie)
    failing = mock.patch.object(WatchlistEntry.objects, "filter", side_effect=DatabaseError("x"))
    with failing, pytest.raises(DatabaseError):
        marks.hide_movie(user=user, movie=movie)
    assert not hidden(user, movie)  # the hide was rolled back with the failed delete
    assert watchlisted(user, movie)


def test_add_to_watchlist_is_atomic_when_unhiding_fails(user, movie):
    marks.hide_movie(user=user, movie=movie)
    failing = mock.patch.object(HiddenMovie.objects, "filter", side_effect=DatabaseError("x"))
    with failing, pytest.raises(DatabaseError):
        marks.add_to_watchlist(user=user, movie=movie)
    assert not watchlisted(user, movie)
    assert hidden(user, movie)


# --- Rating takes a movie off the watchlist ---------------------------------------------------


def test_rating_a_movie_takes_it_off_the_watchlist(user, other_user, movie):
    other = MovieFactory()
    marks.add_to_watchlist(user=user, movie=movie)
    marks.add_to_watchlist(user=user, movie=other)
    marks.add_to_watchlist(user=other_user, movie=movie)
    rate_movie(user=user, movie=movie, score=Decimal("4.0"))
    assert not watchlisted(user, movie)
    assert watchlisted(user, other)  # only the rated movie
    assert watchlisted(other_user, movie)  # only this user's entry


def test_rating_is_rolled_back_when_the_watchlist_cannot_be_cleared(user, movie):
    marks.add_to_watchlist(user=user, movie=movie)
    failing = mock.patch.object(WatchlistEntry.objects, "filter", side_effect=DatabaseError("x"))
    with failing, pytest.raises(DatabaseError):
        rate_movie(user=user, movie=movie, score=Decimal("4.0"))
    assert not Rating.objects.filter(user=user, movie=movie).exists()
    assert watchlisted(user, movie)


# --- Concurrency (PostgreSQL) ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_adds_of_one_mark_never_fail_and_report_one_change_on_postgres(user, movie):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL (runs in the second CI pass): the in-memory SQLite test database "
            "serialises every connection"
        )
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    results, errors = [], []

    def add():
        try:
            barrier.wait()
            results.append(marks.add_to_watchlist(user=user, movie=movie).changed)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=add) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(results) == [False] * (threads_n - 1) + [True]
    assert WatchlistEntry.objects.filter(user=user, movie=movie).count() == 1
