"""Recommendation workflows: serving and evaluation records.

Building, activating and pruning model versions moved to :mod:`recommendations.building`,
:mod:`recommendations.builds` and the ``ModelVersion`` model. Serving (``recommend_for_user``,
``similar_movies``) reads the process-wide cached model from :mod:`recommendations.loading`
and never calls TMDB.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db.models import Avg, Count

from movies.models import Movie, Rating

from . import hybrid, tfidf
from .loading import LoadedModel, get_active_model
from .models import Evaluation, ModelVersion

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, str], None]

# Strategy names on the page and in the API: "hybrid" = content + collaborative + prior;
# "content_based" = a model without a collaborative part (RECS_COLLABORATIVE off, or a version
# built before the hybrid); "popularity_fallback" = cold start (too few ratings, nothing liked).
STRATEGY_HYBRID = "hybrid"
# A recommendation whose score is mostly the popularity prior is explained as such.
PRIOR_LED_SHARE = 0.6
STRATEGY_CONTENT = "content_based"
STRATEGY_FALLBACK = "popularity_fallback"
MAX_TOP_N = 50


def record_evaluation(
    *,
    version: ModelVersion,
    metrics: dict,
    protocol: dict,
    params: dict,
    input_files: dict,
    catalog_size: int,
    users: int,
    seconds: float,
) -> Evaluation:
    """Save one offline evaluation (``manage.py evaluate --model-version/--record``)."""
    if "production" not in metrics:
        # The admin column shows production NDCG / hit rate; say so rather than store a gap.
        logger.info("Evaluation of version %s has no production strategy", version.pk)
    return Evaluation.objects.create(
        model_version=version,
        metrics=metrics,
        protocol=protocol,
        params=params,
        input_files=input_files,
        catalog_size=catalog_size,
        users=users,
        seconds=seconds,
    )


# --- Serving ------------------------------------------------------------------------------


@dataclass
class Recommendation:
    movie: Movie
    score: float | None
    because: list[Movie] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)
    reason: str = ""

    @property
    def explanation(self) -> str:
        if self.reason:
            return self.reason
        parts = []
        if self.because:
            parts.append("Because you liked " + ", ".join(m.title for m in self.because))
        if self.shared:
            parts.append("shared: " + ", ".join(self.shared))
        return " · ".join(parts)


@dataclass
class RecommendationResult:
    items: list[Recommendation]
    strategy: str
    total_ratings: int
    liked_ratings: int
    needed: int
    model_version: int | None
    fallback_reason: str = ""


def validate_top_n(value) -> int:
    """``top_n`` as an int in 1..50, or ValueError with a message for people."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"top_n must be a whole number from 1 to {MAX_TOP_N}.") from None
    if str(value).strip() != str(n) and not isinstance(value, int):
        raise ValueError(f"top_n must be a whole number from 1 to {MAX_TOP_N}.")
    if not 1 <= n <= MAX_TOP_N:
        raise ValueError(f"top_n must be between 1 and {MAX_TOP_N} (got {n}).")
    return n


def content_scores(
    *, model: LoadedModel, liked_rows: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, object]:
    """The scoring step: cosine of every movie to the user's profile. ``(scores, profile)``.

    Kept as one function so another scorer (collaborative / hybrid) can replace or blend it.
    """
    profile = tfidf.user_profile(model.matrix, liked_rows, weights)
    scores = tfidf.cosine_scores(model.matrix, profile, model.row_norms, matrix_t=model.matrix_t)
    return scores, profile


def _pretty_terms(terms: list[str], movies: list[Movie]) -> list[str]:
    """Map squashed tokens ("jamescameron") back to the names people know ("James Cameron")."""
    names: dict[str, str] = {}
    for m in movies:
        for obj in [*m.genres.all(), *m.keywords.all(), *(c.person for c in m.credits.all())]:
            names.setdefault(tfidf.squash_name(obj.name).lower(), obj.name)
    out: list[str] = []
    for term in terms:
        pretty = " ".join(names.get(tok, tok) for tok in term.split())
        if pretty not in out:
            out.append(pretty)
    return out


def _popular(*, exclude_ids: set[int], n: int) -> list[Recommendation]:
    """Most rated on this site (then best average), topped up by TMDB popularity."""
    items: list[Recommendation] = []
    site = (
        Movie.objects.exclude(pk__in=exclude_ids)
        .annotate(n_ratings=Count("ratings"), avg_rating=Avg("ratings__score"))
        .filter(n_ratings__gt=0)
        .order_by("-n_ratings", "-avg_rating", "-popularity", "pk")
        .for_cards()[:n]
    )
    for m in site:
        items.append(
            Recommendation(
                movie=m,
                score=float(m.n_ratings),
                reason=f"Popular here: rated by {m.n_ratings} member(s)",
            )
        )
    if len(items) < n:
        taken = exclude_ids | {r.movie.pk for r in items}
        for m in Movie.objects.exclude(pk__in=taken).popular().for_cards()[: n - len(items)]:
            items.append(Recommendation(movie=m, score=m.popularity, reason="Popular on TMDB"))
    return items


def _cold_start(*, model: LoadedModel, rated_ids: set[int], n: int) -> list[Recommendation]:
    """The hybrid's cold-start list (its prior: movies members liked, blended with the
    vote-count-damped TMDB rating), rated movies excluded."""
    rated_rows, _ = model.rows_for(rated_ids)
    # A few extra in case movies were deleted since the build.
    recs = hybrid.cold_start(model.hybrid, n=n + 10, exclude_rows=rated_rows)
    ids = [int(model.movie_ids[r.row]) for r in recs]
    movies = Movie.objects.for_cards().in_bulk(ids)
    items = [
        Recommendation(
            movie=movies[mid],
            score=round(r.score, 4),
            reason="Popular with members here and well rated on TMDB",
        )
        for mid, r in zip(ids, recs, strict=True)
        if mid in movies
    ]
    return items[:n]


def recommend_for_user(*, user, top_n: int = 10) -> RecommendationResult:
    """Personal recommendations with explanations, or the cold-start fallback.

    Personal needs ``RECS_MIN_RATINGS`` ratings, at least one at ``RECS_LIKE_THRESHOLD`` or
    above, and a loadable active model. Models with hybrid arrays are served by
    ``hybrid.recommend`` (the code ``manage.py evaluate`` measures as ``production``), fed with
    *all* the user's ratings so low ones push similar movies down; strategy "hybrid", or
    "content_based" when the model has no collaborative part. Older versions are served by the
    TF-IDF scorer ("content_based"). The fallback is the hybrid's cold-start list (or, for
    models without one and with no model at all, site and TMDB popularity).
    """
    top_n = validate_top_n(top_n)
    ratings = list(Rating.objects.filter(user=user).values_list("movie_id", "score"))
    rated_ids = {movie_id for movie_id, _ in ratings}
    liked = [(mid, float(s)) for mid, s in ratings if float(s) >= settings.RECS_LIKE_THRESHOLD]
    total = len(ratings)
    needed = max(0, settings.RECS_MIN_RATINGS - total)
    model = get_active_model()

    def fallback(reason: str) -> RecommendationResult:
        if model is not None and model.hybrid is not None:
            items = _cold_start(model=model, rated_ids=rated_ids, n=top_n)
        else:
            items = _popular(exclude_ids=rated_ids, n=top_n)
        return RecommendationResult(
            items=items,
            strategy=STRATEGY_FALLBACK,
            total_ratings=total,
            liked_ratings=len(liked),
            needed=needed,
            model_version=model.version_id if model else None,
            fallback_reason=reason,
        )

    if model is None:
        return fallback("no_model")
    if needed:
        return fallback("few_ratings")
    if not liked:
        return fallback("no_liked")
    if model.hybrid is not None:
        return _recommend_hybrid(
            model=model,
            ratings=ratings,
            top_n=top_n,
            fallback=fallback,
            total=total,
            liked_count=len(liked),
        )
    return _recommend_content(
        model=model,
        liked=liked,
        rated_ids=rated_ids,
        top_n=top_n,
        fallback=fallback,
        total=total,
    )


def _explanation_terms(*, model: LoadedModel, profile, row: int, movies: list[Movie]) -> list[str]:
    terms = tfidf.shared_terms(model.matrix, profile, int(row), model.feature_names, k=10)
    # Single words/names read better than bigrams ("James Cameron Sigourney Weaver").
    terms = sorted(terms, key=lambda t: " " in t)[:3]
    return _pretty_terms(terms, movies)


def _recommend_hybrid(
    *, model: LoadedModel, ratings, top_n: int, fallback, total: int, liked_count: int
) -> RecommendationResult:
    ids = np.fromiter((mid for mid, _ in ratings), dtype=np.int64, count=len(ratings))
    scores = np.fromiter((float(s) for _, s in ratings), dtype=np.float64, count=len(ratings))
    rows, found = model.rows_for(ids)
    scores = scores[found]
    liked_mask = scores >= settings.RECS_LIKE_THRESHOLD
    if not liked_mask.any():
        return fallback("liked_not_in_model")
    recs = hybrid.recommend(
        model.hybrid,
        tfidf_matrix=model.matrix,
        history_rows=rows,  # every rating: low ones push similar movies down
        history_scores=scores,
        n=top_n,
        tfidf_row_norms=model.row_norms,
        tfidf_matrix_t=model.matrix_t,
        neighbours=model.neighbours,
    )
    if not recs:
        return fallback("nothing_similar")
    # "shared: ..." terms come from the liked profile, as on the TF-IDF page.
    profile = tfidf.user_profile(model.matrix, rows[liked_mask], scores[liked_mask])
    rec_ids = [int(model.movie_ids[r.row]) for r in recs]
    because_ids = {int(model.movie_ids[b]) for r in recs for b in r.because}
    movies = Movie.objects.with_details().in_bulk(rec_ids + sorted(because_ids))
    items: list[Recommendation] = []
    for rec, movie_id in zip(recs, rec_ids, strict=True):
        movie = movies.get(movie_id)
        if movie is None:  # deleted since the build
            continue
        because = [
            movies[int(model.movie_ids[b])]
            for b in rec.because
            if int(model.movie_ids[b]) in movies
        ]
        shared = _explanation_terms(
            model=model, profile=profile, row=rec.row, movies=[movie, *because]
        )
        items.append(
            Recommendation(
                movie=movie,
                score=round(rec.score, 4),
                because=because,
                shared=shared,
                reason=_hybrid_reason(rec, because=because, shared=shared),
            )
        )
    return RecommendationResult(
        items=items,
        strategy=STRATEGY_HYBRID if model.has_collab else STRATEGY_CONTENT,
        total_ratings=total,
        liked_ratings=liked_count,
        needed=0,
        model_version=model.version_id,
    )


def _hybrid_reason(rec: hybrid.Recommendation, *, because: list, shared: list[str]) -> str:
    """Say what mostly put a movie on the list: the user's own movies, or its popularity.

    A movie that is there mostly on the prior (popular and well rated) is not credited to a
    liked movie alone; an empty string lets :attr:`Recommendation.explanation` build the usual
    "Because you liked X · shared: ..." text.
    """
    if not because and not shared:
        return "Popular and well rated"
    if rec.prior_share < PRIOR_LED_SHARE:
        return ""
    liked = ", ".join(m.title for m in because[:2])
    return "Popular and well rated" + (f" · also close to {liked}" if liked else "")


def _recommend_content(
    *, model: LoadedModel, liked, rated_ids: set[int], top_n: int, fallback, total: int
) -> RecommendationResult:
    """The TF-IDF-only scorer, for versions built before the hybrid (no hybrid arrays)."""
    liked_rows, found = model.rows_for(mid for mid, _ in liked)
    if len(liked_rows) == 0:
        return fallback("liked_not_in_model")
    weights = np.asarray([s for (_, s), ok in zip(liked, found, strict=True) if ok])
    liked_ids = [mid for (mid, _), ok in zip(liked, found, strict=True) if ok]
    rated_rows, _ = model.rows_for(rated_ids)

    scores, profile = content_scores(model=model, liked_rows=liked_rows, weights=weights)
    best = tfidf.top_n(scores, rated_rows, top_n)
    best = best[scores[best] > 0]  # nothing in common at all is not a recommendation
    if len(best) == 0:
        return fallback("nothing_similar")

    best_ids = [int(model.movie_ids[r]) for r in best]
    contrib = tfidf.contributions(model.matrix, liked_rows, weights, best)
    movies = Movie.objects.with_details().in_bulk(best_ids + liked_ids)
    items: list[Recommendation] = []
    for i, row in enumerate(best):
        movie = movies.get(best_ids[i])
        if movie is None:  # deleted since the build
            continue
        order = np.lexsort((np.arange(len(liked_ids)), -contrib[i]))[:3]
        because = [movies[liked_ids[j]] for j in order if contrib[i, j] > 0]
        items.append(
            Recommendation(
                movie=movie,
                score=round(float(scores[row]), 4),
                because=because,
                shared=_explanation_terms(
                    model=model, profile=profile, row=int(row), movies=[movie, *because]
                ),
            )
        )
    return RecommendationResult(
        items=items,
        strategy=STRATEGY_CONTENT,
        total_ratings=total,
        liked_ratings=len(liked),
        needed=0,
        model_version=model.version_id,
    )


@dataclass
class SimilarMovie:
    movie: Movie
    score: float


def similar_movies(*, movie: Movie, n: int = 12) -> list[SimilarMovie]:
    """Top ``n`` movies by cosine similarity to ``movie``; empty without a model."""
    model = get_active_model()
    if model is None:
        return []
    row = model.row_for(movie.pk)
    if row is None:
        return []
    scores = tfidf.cosine_scores(
        model.matrix, model.matrix[row], model.row_norms, matrix_t=model.matrix_t
    )
    best = tfidf.top_n(scores, [row], n)
    best = best[scores[best] > 0]
    ids = [int(model.movie_ids[r]) for r in best]
    movies = Movie.objects.for_cards().in_bulk(ids)
    return [
        SimilarMovie(movie=movies[mid], score=round(float(scores[r]), 4))
        for mid, r in zip(ids, best, strict=True)
        if mid in movies
    ]
