"""Why a user gets the popularity fallback instead of personal picks, and the fallback lists.

Each :class:`FallbackReason` carries the message the page shows for it, so templates ask the
result (``result.fallback.message``) instead of comparing strings. The list itself is the
hybrid's cold-start list (its popularity prior) or, for a model without one and with no model
at all, site and TMDB popularity.
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
                f"Until you have rated {settings.RECS_MIN_RATINGS} movies we show movies "
                "popular with members here and well rated on TMDB that you have not rated."
            )
        if self is FallbackReason.NO_LIKED:
            stars = floatformat(settings.RECS_LIKE_THRESHOLD, 1)
            return (
                f"None of your ratings is {stars} stars or more yet; rate a movie you liked to "
                "get recommendations based on it. Meanwhile, movies popular with members here "
                "and well rated on TMDB."
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
        .for_cards()[:n]
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
        for m in Movie.objects.exclude(pk__in=taken).popular().for_cards()[: n - len(items)]:
            items.append(RecommendedMovie(movie=m, score=m.popularity, reason="Popular on TMDB"))
    return items


def cold_start_movies(
    *, model: LoadedModel, exclude_ids: Set[int], n: int
) -> list[RecommendedMovie]:
    """The hybrid's cold-start list (its prior: movies members liked, blended with the
    vote-count-damped TMDB rating), excluded movies left out."""
    exclude_rows, _ = model.rows_for(exclude_ids)
    # A few extra in case movies were deleted since the build.
    recs = hybrid.cold_start(model.hybrid, n=n + 10, exclude_rows=exclude_rows)
    ids = [int(model.movie_ids[r.row]) for r in recs]
    movies = Movie.objects.for_cards().in_bulk(ids)
    items = [
        RecommendedMovie(
            movie=movies[mid],
            score=round(r.score, 4),
            reason="Popular with members here and well rated on TMDB",
        )
        for mid, r in zip(ids, recs, strict=True)
        if mid in movies
    ]
    return items[:n]


def fallback_movies(
    *, model: LoadedModel | None, exclude_ids: Set[int], n: int
) -> list[RecommendedMovie]:
    """The fallback list: the model's cold-start list, or plain popularity without one."""
    if model is not None and model.hybrid is not None:
        return cold_start_movies(model=model, exclude_ids=exclude_ids, n=n)
    return popular_movies(exclude_ids=exclude_ids, n=n)
