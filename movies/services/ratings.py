"""Rating workflows. Views validate input with RatingForm; these enforce it again."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from movies.models import Movie, Rating, validate_score


@transaction.atomic
def rate_movie(*, user, movie: Movie, score: Decimal) -> tuple[Rating, bool]:
    """Create or change ``user``'s rating of ``movie``. Returns ``(rating, created)``."""
    validate_score(score)
    rating, created = Rating.objects.update_or_create(
        user=user, movie=movie, defaults={"score": Decimal(str(score))}
    )
    return rating, created


def remove_rating(*, user, movie: Movie) -> bool:
    """Delete ``user``'s rating of ``movie``; False when there was none."""
    deleted, _ = Rating.objects.filter(user=user, movie=movie).delete()
    return bool(deleted)
