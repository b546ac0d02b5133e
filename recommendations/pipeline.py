"""Serving: a user's recommendations, and "More like this", as steps a reader can follow.

:func:`recommend_for_user` runs

1. **gather** the user's ratings (one query);
2. **choose** the strategy from the registry (:mod:`recommendations.strategies`): ``hybrid``
   or ``content_based`` when a model is active and the user has liked something it knows,
   otherwise the ``popularity_fallback`` with a :class:`~recommendations.fallbacks.FallbackReason`;
3. **candidates and scores**: the strategy's scorer ranks the model's rows
   (:mod:`recommendations.scoring`), skipping the excluded movies: every row, or with
   ``RECS_SERVING`` two-phase a bounded candidate set (:mod:`recommendations.twophase`),
   the top 50 re-ranked for diversity (:func:`rerank`) before the picks are explained;
4. **explain**: movies with "Because you liked ... · shared: ..." (:mod:`recommendations.explain`);
5. **filter**: only movies outside :func:`excluded_movie_ids` (the rated, hidden and
   watchlisted ones). The scorers skip those rows already so the list stays full; the final
   filter makes the rule hold whatever a scorer does.

Watchlisted movies also count as mild interest and hidden ones as a dislike
(:data:`WATCHLIST_SCORE`, :data:`HIDDEN_SCORE`): the model reads them as those ratings, the
page never calls them "movies you liked", and they do not count towards ``RECS_MIN_RATINGS``.

The model is the process-wide cached one (:mod:`recommendations.loading`); serving never
calls TMDB.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from movies.member import MemberState, read_member_state
from movies.models import HiddenMovie, Movie, Rating
from movies.selectors import card_movies

from . import diversity, predictions, similar, strategies, tfidf, twophase
from .errors import InvalidRequest
from .explain import RecommendedMovie, explain
from .fallbacks import FallbackReason
from .loading import LoadedModel, get_active_model
from .scoring import ModelHistory, UserRatings
from .strategies import Strategy

MAX_TOP_N = 50
# How the model reads the marks: "want to watch" as mild interest (CF weight +1.25, below the
# like threshold so no "because you liked"), "not interested" as a clear dislike.
WATCHLIST_SCORE = 3.75
HIDDEN_SCORE = 1.0


@dataclass
class RecommendationResult:
    items: list[RecommendedMovie]
    strategy: Strategy
    total_ratings: int
    liked_ratings: int
    needed: int  # ratings still missing for personal recommendations
    model_version: int | None
    fallback: FallbackReason | None = None  # why, when the strategy is the fallback
    # Predicted stars (unrounded) by movie id, for a user with enough ratings; else empty.
    predictions: dict[int, float] = field(default_factory=dict)

    @property
    def is_personal(self) -> bool:
        """Picked from this user's ratings (not the popularity fallback)."""
        return self.fallback is None


def validate_top_n(value) -> int:
    """``top_n`` as an int in 1..50, or :class:`InvalidRequest` with a message for people."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise InvalidRequest(f"top_n must be a whole number from 1 to {MAX_TOP_N}.") from None
    if str(value).strip() != str(n) and not isinstance(value, int):
        raise InvalidRequest(f"top_n must be a whole number from 1 to {MAX_TOP_N}.")
    if not 1 <= n <= MAX_TOP_N:
        raise InvalidRequest(f"top_n must be between 1 and {MAX_TOP_N} (got {n}).")
    return n


def gather_ratings(user, *, marks: bool = True) -> UserRatings:
    """Step 1: the user's ratings as plain values, with their watchlist and hidden movies as
    marks (``marks=False`` leaves them out), in one query (``movies.member.read_member_state``).
    """
    return ratings_from_state(read_member_state(user), marks=marks)


def ratings_from_state(state: MemberState, *, marks: bool = True) -> UserRatings:
    """:class:`UserRatings` of a member state read already (``member_state(request)`` shares
    one read among a page's parts)."""
    signals: tuple[tuple[int, float], ...] = ()
    if marks:
        # A movie both hidden and watchlisted (should not happen) counts as hidden.
        signals = tuple((mid, HIDDEN_SCORE) for mid in sorted(state.hidden)) + tuple(
            (mid, WATCHLIST_SCORE) for mid in state.watchlist if mid not in state.hidden
        )
    return UserRatings(
        ratings=tuple((movie_id, float(score)) for movie_id, score in state.ratings),
        like_threshold=settings.RECS_LIKE_THRESHOLD,
        marks=signals,
    )


def excluded_movie_ids(ratings: UserRatings) -> Set[int]:
    """Movies never recommended to this user: rated, hidden or on the watchlist."""
    return ratings.rated_ids | ratings.marked_ids


def needed_ratings(ratings: UserRatings) -> int:
    return max(0, settings.RECS_MIN_RATINGS - ratings.total)


def choose_strategy(
    *, model: LoadedModel | None, ratings: UserRatings, history: ModelHistory | None
) -> Strategy | FallbackReason:
    """Step 2: the personal strategy to serve, or why the user gets the fallback.

    Personal needs a loadable active model, ``RECS_MIN_RATINGS`` ratings and at least one at
    ``RECS_LIKE_THRESHOLD`` or above that the model knows. A model with a collaborative part
    serves ``hybrid``; one without (switched off, or built before the hybrid) ``content_based``.
    """
    if model is None or history is None:
        return FallbackReason.NO_MODEL
    if needed_ratings(ratings):
        return FallbackReason.FEW_RATINGS
    if not ratings.liked:
        return FallbackReason.NO_LIKED
    if not history.has_liked:
        return FallbackReason.LIKED_NOT_IN_MODEL
    if model.hybrid is not None and model.has_collab:
        return strategies.HYBRID
    return strategies.CONTENT_BASED


def keep_allowed(
    items: list[RecommendedMovie], *, excluded: Set[int], n: int
) -> list[RecommendedMovie]:
    """Step 5: no excluded movie, at most ``n``."""
    return [item for item in items if item.movie.pk not in excluded][:n]


def rerank(*, model: LoadedModel, n: int, lam: float):
    """Step 3b: maximal marginal relevance over the scored pool (``RECS_MMR_LAMBDA``; 1 = the
    score order). What ``evaluate`` measures as ``production_mmr``: no NDCG cost there and
    more hits and diversity on a site's own ratings (docs/evaluation.md).

    Returned as the scorer's ``pick(rows, scores) -> positions`` (None when ``lam`` is 1): the
    scorer explains only the movies picked, not the whole pool."""
    if lam >= 1:
        return None

    def pick(rows, scores) -> list[int]:
        if len(rows) <= 1:
            return list(range(min(n, len(rows))))
        return diversity.mmr_rerank(
            list(rows), list(scores), matrix=model.matrix, n=n, lam=lam, row_norms=model.row_norms
        )

    return pick


def serves_two_phase(model: LoadedModel) -> bool:
    """Whether ``RECS_SERVING`` scores this model's requests two-phase (``auto``: from
    :data:`twophase.AUTO_MIN_ROWS` movies on)."""
    try:
        return twophase.use_two_phase(settings.RECS_SERVING, model.n_rows)
    except ValueError as exc:
        raise ImproperlyConfigured(str(exc)) from None


def recommend_for_user(
    *, user, top_n: int = 10, ratings: UserRatings | None = None
) -> RecommendationResult:
    """Personal recommendations with explanations, or the popularity fallback (see above).

    ``ratings``: the user's :func:`gather_ratings`, when the caller has them already."""
    top_n = validate_top_n(top_n)
    if ratings is None:
        ratings = gather_ratings(user)
    excluded = excluded_movie_ids(ratings)
    model = get_active_model()
    history = ModelHistory.of(model, ratings) if model is not None else None
    choice = choose_strategy(model=model, ratings=ratings, history=history)
    if isinstance(choice, FallbackReason):
        return _fallback(choice, model=model, ratings=ratings, excluded=excluded, n=top_n)
    exclude_rows, _ = model.rows_for(excluded)
    lam = settings.RECS_MMR_LAMBDA
    candidates = choice.scorer(
        model=model,
        history=history,
        n=max(top_n, diversity.MMR_POOL) if lam < 1 else top_n,
        exclude_rows=exclude_rows,
        two_phase=serves_two_phase(model),
        pick=rerank(model=model, n=top_n, lam=lam),
    )[:top_n]
    if not candidates:
        return _fallback(
            FallbackReason.NOTHING_SIMILAR,
            model=model,
            ratings=ratings,
            excluded=excluded,
            n=top_n,
        )
    items = keep_allowed(
        explain(model=model, history=history, candidates=candidates), excluded=excluded, n=top_n
    )
    return RecommendationResult(
        items=items,
        strategy=choice,
        total_ratings=ratings.total,
        liked_ratings=len(ratings.liked),
        needed=0,
        model_version=model.version_id,
        predictions=predictions.predict_for(
            model=model, ratings=ratings, movie_ids=[i.movie.pk for i in items]
        ),
    )


def _fallback(
    reason: FallbackReason,
    *,
    model: LoadedModel | None,
    ratings: UserRatings,
    excluded: Set[int],
    n: int,
) -> RecommendationResult:
    items = keep_allowed(
        strategies.POPULARITY_FALLBACK.scorer(model=model, exclude_ids=excluded, n=n),
        excluded=excluded,
        n=n,
    )
    return RecommendationResult(
        items=items,
        strategy=strategies.POPULARITY_FALLBACK,
        total_ratings=ratings.total,
        liked_ratings=len(ratings.liked),
        needed=needed_ratings(ratings),
        model_version=model.version_id if model else None,
        fallback=reason,
        predictions=predictions.predict_for(
            model=model, ratings=ratings, movie_ids=[i.movie.pk for i in items]
        ),
    )


# --- More like this -----------------------------------------------------------------------


@dataclass
class SimilarMovie:
    movie: Movie
    score: float


def similar_movies(
    *, movie: Movie, n: int = 12, user=None, seen: Set[int] | None = None
) -> list[SimilarMovie]:
    """Top ``n`` movies like ``movie`` by :func:`similar.similar_rows` (co-rating neighbours,
    content weighed by text richness, the popularity prior); empty without a model.

    For a signed-in ``user`` (the viewer) the movies they rated or hid are left out (one
    query, or none when the caller passes them as ``seen``); the watchlist stays: "more like
    this" is browsing, not a recommendation.
    ``score`` is the blend's, for ordering and tests: pages do not show it.
    """
    model = get_active_model()
    if model is None:
        return []
    row = model.row_for(movie.pk)
    if row is None:
        return []
    skip: list[int] = []
    if seen is not None:
        skip_rows, _ = model.rows_for(set(seen))
        skip = [int(r) for r in skip_rows]
    elif getattr(user, "is_authenticated", False):
        # Default orderings are dropped: a compound statement does not allow them.
        rated = Rating.objects.filter(user=user).order_by().values_list("movie_id", flat=True)
        hidden = HiddenMovie.objects.filter(user=user).order_by().values_list("movie_id", flat=True)
        seen = rated.union(hidden)
        skip_rows, _ = model.rows_for(set(seen))
        skip = [int(r) for r in skip_rows]
    rows = similar.similar_rows(
        row,
        matrix=model.matrix,
        row_norms=model.row_norms,
        matrix_t=model.matrix_t,
        neighbours=model.neighbours if model.has_collab else None,
        prior=model.hybrid.get("prior") if model.hybrid is not None else None,
        richness=_richness(model),
        content_nbr_idx=model.arrays.get("content_nbr_idx"),
        content_nbr_sim=model.arrays.get("content_nbr_sim"),
        exclude_rows=skip,
        n=n,
    )
    ids = [int(model.movie_ids[r.row]) for r in rows]
    movies = card_movies(ids)  # the cards' rows, kept per catalog stamp
    return [
        SimilarMovie(movie=movies[mid], score=round(r.score, 4))
        for mid, r in zip(ids, rows, strict=True)
        if mid in movies
    ]


_richness_cache: list = [None, None]  # [the model it was computed for, its text richness]


def _richness(model: LoadedModel) -> np.ndarray:
    """The served model's text richness, computed once per loaded model (an O(n_rows) pass)."""
    if _richness_cache[0] is not model:
        _richness_cache[:] = [model, tfidf.text_richness(model.matrix)]
    return _richness_cache[1]
