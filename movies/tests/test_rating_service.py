from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from movies.models import Rating
from movies.services.ratings import rate_movie, remove_rating


@pytest.mark.django_db
def test_rate_change_and_remove(user, movie):
    rating, created = rate_movie(user=user, movie=movie, score=Decimal("3.5"))
    assert created and rating.score == Decimal("3.5")
    rating, created = rate_movie(user=user, movie=movie, score=Decimal("4.5"))
    assert not created and Rating.objects.get().score == Decimal("4.5")
    assert remove_rating(user=user, movie=movie) is True
    assert remove_rating(user=user, movie=movie) is False
    assert not Rating.objects.exists()


@pytest.mark.django_db
def test_bad_score_changes_nothing(user, movie):
    rate_movie(user=user, movie=movie, score=Decimal("2.0"))
    with pytest.raises(ValidationError):
        rate_movie(user=user, movie=movie, score=Decimal("2.2"))
    assert Rating.objects.get().score == Decimal("2.0")


@pytest.mark.django_db
def test_rate_reports_created_then_updated_and_keeps_created_at(user, movie):
    first, created = rate_movie(user=user, movie=movie, score=Decimal("1.0"))
    again, created_again = rate_movie(user=user, movie=movie, score=Decimal("1.0"))
    assert created and not created_again
    assert again.pk == first.pk and again.created_at == first.created_at
    assert again.updated_at >= first.updated_at
    remove_rating(user=user, movie=movie)
    _, created_after_removal = rate_movie(user=user, movie=movie, score=Decimal("2.0"))
    assert created_after_removal


def _hammer(user_pk, movie_pk, rounds, barrier, errors, outcomes):
    """One 'request' thread: rate and un-rate the same movie as fast as it can."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from movies.models import Movie

    try:
        user = get_user_model().objects.get(pk=user_pk)
        movie = Movie.objects.get(pk=movie_pk)
        barrier.wait(timeout=30)
        for i in range(rounds):
            try:
                if i % 2:
                    outcomes.append(("unrate", remove_rating(user=user, movie=movie)))
                else:
                    _, created = rate_movie(user=user, movie=movie, score=Decimal("3.5"))
                    outcomes.append(("rate", created))
            except Exception as exc:  # noqa: BLE001 - the test reports every failure
                errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_concurrent_rate_and_unrate_of_one_movie_never_fail_on_postgres(user, movie):
    """Rating and un-rating the same movie at once used to raise IntegrityError (a 500)."""
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL (runs in the second CI pass): the in-memory SQLite test database "
            "serialises every connection; tests/test_sqlite_concurrency.py covers SQLite"
        )
    threads_n, rounds = 6, 40
    barrier = threading.Barrier(threads_n)
    errors: list[str] = []
    outcomes: list[tuple[str, bool]] = []
    threads = [
        threading.Thread(
            target=_hammer, args=(user.pk, movie.pk, rounds, barrier, errors, outcomes)
        )
        for _ in range(threads_n)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == [], f"{len(errors)} failures, first: {errors[0]}"
    assert len(outcomes) == threads_n * rounds
    assert Rating.objects.filter(user=user, movie=movie).count() <= 1
    # Each insert is reported as created exactly once per removal that preceded it.
    created = sum(1 for op, flag in outcomes if op == "rate" and flag)
    removed = sum(1 for op, flag in outcomes if op == "unrate" and flag)
    remaining = Rating.objects.filter(user=user, movie=movie).count()
    assert created == removed + remaining
