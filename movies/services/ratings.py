"""Rating workflows. Views validate input with RatingForm; these enforce it again.

Both writes are single statements so that concurrent requests for the same (user, movie) can
never trip the unique constraint: ``rate_movie`` is an INSERT ... ON CONFLICT DO UPDATE and
``remove_rating`` a plain DELETE. A read-then-write (``update_or_create``) lost that race on
PostgreSQL: two requests both saw no row and both inserted, or a concurrent un-rate deleted the
row between the SELECT and the UPDATE, and the loser answered 500.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from movies.models import Movie, Rating, WatchlistEntry, validate_score


def rate_movie(*, user, movie: Movie, score: Decimal) -> tuple[Rating, bool]:
    """Create or change ``user``'s rating of ``movie`` in one upsert. Returns
    ``(rating, created)``; ``created`` is False when an existing rating was changed.

    Rating a movie takes it off the watchlist (seen it), in the same transaction."""
    validate_score(score)
    candidate = Rating(user=user, movie=movie, score=Decimal(str(score)))
    with transaction.atomic():
        # pre_save stamps candidate.created_at; the upsert only writes it when it inserts.
        Rating.objects.bulk_create(
            [candidate],
            update_conflicts=True,
            unique_fields=["user", "movie"],
            update_fields=["score", "updated_at"],
        )
        # Same transaction: the upsert holds the row lock, so a concurrent un-rate cannot
        # delete the row before this read. The stored created_at tells insert from update.
        rating = Rating.objects.get(user=user, movie=movie)
        WatchlistEntry.objects.filter(user=user, movie=movie).delete()
    return rating, rating.created_at == candidate.created_at


def remove_rating(*, user, movie: Movie) -> bool:
    """Delete ``user``'s rating of ``movie``; False when there was none (or a concurrent
    request removed it first)."""
    deleted, _ = Rating.objects.filter(user=user, movie=movie).delete()
    return bool(deleted)
