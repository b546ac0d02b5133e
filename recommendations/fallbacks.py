"""Why a user gets the popularity fallback instead of personal picks, and the fallback lists.

Each :class:`FallbackReason` carries the message the page shows for it, so templates ask the
result (``result.fallback.message``) instead of comparing strings. The list itself is the
cold-start list (the model's cold-start prior -- popularity plus a damped average rating --
mixed across genres and decades) or, for a model without a hybrid and with no model at all,
site and TMDB popularity.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Avg, Count
from django.template.defaultfilters import floatformat

from movies.models import Movie

from . import hybrid
from .explain import RecommendedMovie

if TYPE_CHECKING:
    from collections.abc import Set

    from .loading import LoadedModel

_NOT_SIMILAR = (
    "We could not find movies similar to the ones you liked yet; here are popular movies you "
    "have not rated."
)


class FallbackReason(enum.Enum):
    """Why the fallback is served. The values are stable identifiers (logs, tests)."""

    NO_MODEL = "no_model"
    FEW_RATINGS = "few_ratings"
    NO_LIKED = "no_liked"
    LIKED_NOT_IN_MODEL = "liked_not_in_model"
    NOTHING_SIMILAR = "nothing_similar"

    @property
    def message(self) -> str:
        """What the page says about it (settings are read when asked)."""
        if self is FallbackReason.NO_MODEL:
            return (
                "No recommendation model has been built yet, so these are simply the most "
                "popular movies you have not rated."
            )
        if self is FallbackReason.FEW_RATINGS:
            return (
                f"Until you have rated {settings.RECS_MIN_RATINGS} movies, here are popular, "
                "well-rated films from across genres and decades that you have not rated."
            )
        if self is FallbackReason.NO_LIKED:
            stars = floatformat(settings.RECS_LIKE_THRESHOLD, 1)
            return (
                f"None of your ratings is {stars} stars or more yet; rate a movie you liked to "
                "get recommendations based on it. Meanwhile, popular, well-rated films from across "
                "genres and decades."
            )
        return _NOT_SIMILAR  # LIKED_NOT_IN_MODEL, NOTHING_SIMILAR


def popular_movies(*, exclude_ids: Set[int], n: int) -> list[RecommendedMovie]:
    """Most rated on this site (then best average), topped up by TMDB popularity."""
    items: list[RecommendedMovie] = []
    site = (
        Movie.objects.exclude(pk__in=exclude_ids)
        .annotate(n_ratings=Count("ratings"), avg_rating=Avg("ratings__score"))
        .filter(n_ratings__gt=0)
        .order_by("-n_ratings", "-avg_rating", "-popularity", "pk")
        .with_card_genres()[:n]
    )
    for m in site:
        items.append(
            RecommendedMovie(
                movie=m,
                score=float(m.n_ratings),
                reason=f"Popular here: rated by {m.n_ratings} member(s)",
            )
        )
    if len(items) < n:
        taken = set(exclude_ids) | {r.movie.pk for r in items}
        for m in Movie.objects.exclude(pk__in=taken).popular().with_card_genres()[: n - len(items)]:
            items.append(RecommendedMovie(movie=m, score=m.popularity, reason="Popular on TMDB"))
    return items


# The cold-start list is re-ranked from this many candidates per place (genre/decade mix).
DIVERSITY_POOL = 4
COLD_START_REASON = "Popular and well rated"


def cold_start_movies(
    *, model: LoadedModel, exclude_ids: Set[int], n: int
) -> list[RecommendedMovie]:
    """The cold-start list: the model's cold-start prior (popularity and a damped average,
    see ``hybrid.cold_start_prior``), re-ranked so genres and decades are mixed; excluded
    movies left out. Two queries (the movies, their genres)."""
    exclude_rows, _ = model.rows_for(exclude_ids)
    # Extra candidates: the re-rank needs a choice, and movies may be deleted since the build.
    recs = hybrid.cold_start(model.hybrid, n=n * DIVERSITY_POOL + 10, exclude_rows=exclude_rows)
    ids = [int(model.movie_ids[r.row]) for r in recs]
    movies = Movie.objects.with_card_genres().in_bulk(ids)
    found = [(movies[mid], r) for mid, r in zip(ids, recs, strict=True) if mid in movies]
    primary = [next(iter(m.genres.all()), None) for m, _ in found]
    order = hybrid.diversify(
        [r.row for _, r in found],
        [r.score for _, r in found],
        genres=[g.pk if g else None for g in primary],
        decades=[m.decade for m, _ in found],
        n=n,
    )
    items = []
    for i in order:
        movie, rec = found[i]
        genre = primary[i]
        items.append(
            RecommendedMovie(
                movie=movie,
                score=round(rec.score, 4),
                reason=COLD_START_REASON + (f" · {genre.name}" if genre else ""),
            )
        )
    return items


def fallback_movies(
    *, model: LoadedModel | None, exclude_ids: Set[int], n: int
) -> list[RecommendedMovie]:
    """The fallback list: the model's cold-start list, or plain popularity without one."""
    if model is not None and model.hybrid is not None:
        return cold_start_movies(model=model, exclude_ids=exclude_ids, n=n)
    return popular_movies(exclude_ids=exclude_ids, n=n)
