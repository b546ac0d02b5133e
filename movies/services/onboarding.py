"""The onboarding grid's one write: "haven't seen it"."""

from __future__ import annotations

from movies.models import Movie, SkippedMovie


def skip_movie(*, user, movie: Movie) -> bool:
    """Mark ``movie`` as not seen by ``user`` so the onboarding grid stops offering it.

    Idempotent: skipping twice (a double click, two tabs) is not an error; get_or_create
    catches the unique constraint's IntegrityError of a concurrent skip and reads the winner's
    row. Returns False when it was already skipped."""
    _, created = SkippedMovie.objects.get_or_create(user=user, movie=movie)
    return created
