"""Recommendation workflows: building, activating and pruning model versions, and serving.

``build_model`` is the one build path; ``manage.py build_tfidf``, the Celery task and the admin
button all end up there. Serving (``recommend_for_user``, ``similar_movies``) reads the
process-wide cached model from :mod:`recommendations.serving` and never calls TMDB.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, FloatField
from django.db.models.functions import Cast
from django.utils import timezone

from movies.models import Credit, Movie, Rating

from . import hybrid, tfidf
from .artifacts import TMP_PREFIX, remove_dir, save_arrays
from .models import Evaluation, ModelVersion
from .serving import LoadedModel, expire_cache, get_active_model

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
# Ratings are read from the database in chunks of this many rows (values only, no objects).
RATINGS_CHUNK = 50_000
# Progress steps of a build after reading the catalog: TF-IDF, hybrid, writing artifacts.
STEPS = 3


class BuildAlreadyRunning(Exception):
    """Single-flight: another build is queued or running."""

    def __init__(self, running: ModelVersion | None = None):
        self.running = running
        which = f" (version {running.pk}, {running.status})" if running else ""
        super().__init__(f"A build is already running{which}; not starting another one.")


class VersionError(Exception):
    """An operation on a version is not allowed (e.g. activating a failed one)."""


def default_params() -> tfidf.TfidfParams:
    """The vectorizer parameters from settings (TFIDF_*)."""
    return tfidf.TfidfParams(
        max_features=settings.TFIDF_MAX_FEATURES,
        stop_words=settings.TFIDF_STOP_WORDS,
        ngram_range=(1, settings.TFIDF_NGRAM_MAX),
        min_df=settings.TFIDF_MIN_DF,
        max_df=settings.TFIDF_MAX_DF,
    )


# --- Catalog -> soups ---------------------------------------------------------------------


def catalog_soups(*, progress: ProgressFn | None = None) -> tuple[np.ndarray, list[str]]:
    """``(movie_ids ascending, soups)`` for the whole catalog, in a fixed number of queries."""
    genres: dict[int, list[str]] = defaultdict(list)
    for movie_id, name in Movie.genres.through.objects.order_by("genre__name").values_list(
        "movie_id", "genre__name"
    ):
        genres[movie_id].append(name)
    keywords: dict[int, list[str]] = defaultdict(list)
    for movie_id, name in Movie.keywords.through.objects.order_by("keyword__name").values_list(
        "movie_id", "keyword__name"
    ):
        keywords[movie_id].append(name)
    cast: dict[int, list[str]] = defaultdict(list)
    directors: dict[int, list[str]] = defaultdict(list)
    for movie_id, kind, name in Credit.objects.order_by("movie_id", "kind", "order").values_list(
        "movie_id", "kind", "person__name"
    ):
        (cast if kind == Credit.Kind.CAST else directors)[movie_id].append(name)

    rows = list(Movie.objects.order_by("pk").values_list("pk", "overview"))
    total = len(rows)
    ids = np.fromiter((pk for pk, _ in rows), dtype=np.int64, count=total)
    soups: list[str] = []
    for i, (pk, overview) in enumerate(rows, start=1):
        soups.append(
            tfidf.build_soup(
                genres=genres.get(pk, []),
                keywords=keywords.get(pk, []),
                overview=overview or "",
                cast=cast.get(pk, []),  # billing order; build_soup keeps the top 3
                directors=directors.get(pk, []),
            )
        )
        if progress and (i % 1000 == 0 or i == total):
            progress(i, total, "Reading the catalog")
    return ids, soups


def default_hybrid_params() -> hybrid.HybridParams:
    """The hybrid's parameters from settings (RECS_COLLABORATIVE, RECS_LIKE_THRESHOLD)."""
    return hybrid.HybridParams(
        collab=settings.RECS_COLLABORATIVE, like_threshold=settings.RECS_LIKE_THRESHOLD
    )


@dataclass(frozen=True)
class SiteRatings:
    """The site's ratings as a users x model-rows CSR, and what it holds."""

    matrix: sp.csr_matrix
    users: int
    rated_items: int

    @property
    def ratings(self) -> int:
        return int(self.matrix.nnz)


def site_ratings_matrix(
    *, movie_ids: np.ndarray, progress: ProgressFn | None = None
) -> SiteRatings:
    """Every site rating as a (users x len(movie_ids)) CSR of scores; column i = movie_ids[i].

    Reads plain values in chunks (score cast to a float by the database: no model instances,
    no Decimal objects) into numpy arrays, so millions of ratings cost seconds and ~16 bytes
    each. Ratings of movies that are not in ``movie_ids`` (added after the catalog was read)
    are left out.
    """
    total = Rating.objects.count()
    query = (
        Rating.objects.order_by()
        .annotate(value=Cast("score", FloatField()))
        .values_list("user_id", "movie_id", "value")
        .iterator(chunk_size=RATINGS_CHUNK)
    )
    users, movies, scores = [], [], []
    done = 0
    while chunk := list(islice(query, RATINGS_CHUNK)):
        block = np.array(chunk, dtype=np.float64)  # ids are far below 2**53: exact
        users.append(block[:, 0].astype(np.int64))
        movies.append(block[:, 1].astype(np.int64))
        scores.append(block[:, 2].astype(np.float32))
        done += len(chunk)
        if progress:
            progress(done, max(total, done), "Reading ratings")
    n_items = len(movie_ids)
    if not done or n_items == 0:
        return SiteRatings(sp.csr_matrix((0, n_items), dtype=np.float32), 0, 0)
    user_ids, movie_col, values = (np.concatenate(a) for a in (users, movies, scores))
    pos = np.minimum(np.searchsorted(movie_ids, movie_col), n_items - 1)
    keep = movie_ids[pos] == movie_col
    user_index, user_rows = np.unique(user_ids[keep], return_inverse=True)
    matrix = sp.csr_matrix((values[keep], (user_rows, pos[keep])), shape=(len(user_index), n_items))
    matrix.sum_duplicates()  # (user, movie) is unique in the database; a no-op, kept for safety
    rated_items = int(np.count_nonzero(np.diff(matrix.tocsc().indptr)))
    return SiteRatings(matrix, users=len(user_index), rated_items=rated_items)


def catalog_tmdb_prior(*, movie_ids: np.ndarray, params: hybrid.HybridParams) -> np.ndarray:
    """``hybrid.tmdb_prior`` of the movies' TMDB vote counts and averages, in model-row order."""
    counts = np.zeros(len(movie_ids))
    averages = np.zeros(len(movie_ids))
    rows = Movie.objects.order_by("pk").values_list("pk", "vote_count", "vote_average")
    values = np.array(list(rows), dtype=np.float64).reshape(-1, 3)
    if len(values) and len(movie_ids):
        pos = np.minimum(np.searchsorted(movie_ids, values[:, 0]), len(movie_ids) - 1)
        found = movie_ids[pos] == values[:, 0]
        counts[pos[found]] = values[found, 1]
        averages[pos[found]] = values[found, 2]
    return hybrid.tmdb_prior(counts, averages, min_votes_quantile=params.tmdb_min_votes_quantile)


def fit_hybrid(
    *,
    model: tfidf.TfidfModel,
    movie_ids: np.ndarray,
    params: hybrid.HybridParams,
    progress: ProgressFn | None = None,
) -> tuple[dict[str, np.ndarray], dict]:
    """Fit the hybrid on the site's ratings: ``(arrays to store, stats for the version row)``.

    With ``params.collab`` off no collaborative array is returned (the prior still uses the
    site's rating counts), so serving uses content + popularity.
    """
    site = site_ratings_matrix(movie_ids=movie_ids, progress=progress)
    if progress:
        progress(1, STEPS, "Fitting the hybrid")
    arrays = hybrid.fit(
        tfidf_matrix=model.matrix,
        ratings=site.matrix,
        tmdb_popularity=catalog_tmdb_prior(movie_ids=movie_ids, params=params),
        params=params,
    )
    if not params.collab:
        for name in hybrid.CF_ARRAY_NAMES:
            arrays.pop(name)
    stats = {
        "hybrid_params": params.to_dict(),
        "site_ratings": site.ratings,
        "site_users": site.users,
        "rated_items": site.rated_items,
        "cf_neighbours": len(arrays.get("cf_data", ())),
    }
    return arrays, stats


# --- Building -----------------------------------------------------------------------------


def expire_stale_builds() -> int:
    """Mark builds with no progress for longer than the task's hard time limit as failed.

    A worker killed mid-build (OOM, SIGKILL, machine restart) cannot mark its own row; without
    this, single-flight would block every later build.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.RECS_BUILD_TIME_LIMIT + 60)
    return (
        ModelVersion.objects.in_progress()
        .filter(updated_at__lt=cutoff)
        .update(
            status=ModelVersion.Status.FAILED,
            error="Abandoned: no progress within the build time limit (worker killed?).",
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
    )


class _Progress:
    """Writes progress to the version row (throttled) and forwards it to ``callback``."""

    def __init__(self, version: ModelVersion, callback: ProgressFn | None):
        self.version = version
        self.callback = callback
        self._last_write = 0.0
        self._last_message = ""

    def __call__(self, current: int, total: int, message: str) -> None:
        now = time.monotonic()
        if message != self._last_message or now - self._last_write >= 0.5 or current >= total:
            ModelVersion.objects.filter(pk=self.version.pk).update(
                progress_current=current,
                progress_total=total,
                progress_message=message[:255],
                updated_at=timezone.now(),
            )
            self._last_write, self._last_message = now, message
        if self.callback:
            self.callback(current, total, message)


def _start(version: ModelVersion | None, *, triggered_by: str, params, activate: bool):
    if version is None:
        expire_stale_builds()
        try:
            with transaction.atomic():
                return ModelVersion.objects.create(
                    status=ModelVersion.Status.BUILDING,
                    triggered_by=triggered_by[:150],
                    params=params.to_dict(),
                    activate_when_ready=activate,
                    started_at=timezone.now(),
                )
        except IntegrityError:
            raise BuildAlreadyRunning(ModelVersion.objects.in_progress().first()) from None
    version.status = ModelVersion.Status.BUILDING
    version.params = params.to_dict()
    version.started_at = timezone.now()
    version.error = ""
    version.save(update_fields=["status", "params", "started_at", "error", "updated_at"])
    return version


def build_model(
    *,
    triggered_by: str,
    params: tfidf.TfidfParams | None = None,
    activate: bool = True,
    progress: ProgressFn | None = None,
    version: ModelVersion | None = None,
    hybrid_params: hybrid.HybridParams | None = None,
) -> ModelVersion:
    """Build a new model version (TF-IDF + hybrid) from the catalog; optionally activate it.

    ``version`` is the queued row made by :func:`request_rebuild` (the task passes it); without
    it a new row is created, refusing with :class:`BuildAlreadyRunning` if a build is in
    progress. On any error the row is marked failed, no artifact directory is left behind, the
    previously active version stays active, and the error is re-raised.

    The same build fits the hybrid (:func:`fit_hybrid`, ``hybrid_params`` defaulting to the
    settings) on the site's ratings and stores its arrays in the same version directory.
    """
    params = params or default_params()
    hybrid_params = hybrid_params or default_hybrid_params()
    # Validated before any row exists: bad parameters change nothing.
    if version is None:
        params.validate()
    version = _start(version, triggered_by=triggered_by, params=params, activate=activate)
    report = _Progress(version, progress)
    started = time.monotonic()
    try:
        params.validate()
        movie_ids, soups = catalog_soups(progress=report)
        report(0, STEPS, "Fitting TF-IDF")
        model = tfidf.fit_tfidf(soups, params)
        hybrid_arrays, stats = fit_hybrid(
            model=model, movie_ids=movie_ids, params=hybrid_params, progress=report
        )
        report(2, STEPS, "Writing artifacts")
        arrays = {**model.to_arrays(), "movie_ids": movie_ids, **hybrid_arrays}
        checksums = save_arrays(version.artifact_dir, arrays)
        version.status = ModelVersion.Status.READY
        version.checksums = checksums
        version.movie_count = model.n_rows
        version.vocabulary_size = model.vocabulary_size
        version.nnz = model.nnz
        version.min_df_used = float(model.min_df_used)
        for key, value in stats.items():
            setattr(version, key, value)
        version.build_seconds = round(time.monotonic() - started, 3)
        version.finished_at = timezone.now()
        version.progress_current, version.progress_total = STEPS, STEPS
        version.progress_message = "Done"
        # Ready and active in one transaction: nobody sees a ready build that is about to
        # become active, and a failure while activating leaves the previous one active.
        with transaction.atomic():
            version.save(
                update_fields=[
                    "status",
                    "checksums",
                    "movie_count",
                    "vocabulary_size",
                    "nnz",
                    "min_df_used",
                    *stats,
                    "build_seconds",
                    "finished_at",
                    "progress_current",
                    "progress_total",
                    "progress_message",
                    "updated_at",
                ]
            )
            if activate:
                activate_version(version=version)
    except BaseException as exc:
        # BaseException too: a Celery soft time limit or Ctrl-C must still mark the row.
        remove_dir(version.artifact_dir)
        version.status = ModelVersion.Status.FAILED
        version.is_active = False
        version.error = f"{type(exc).__name__}: {exc}"[:5000]
        version.finished_at = timezone.now()
        version.build_seconds = round(time.monotonic() - started, 3)
        ModelVersion.objects.filter(pk=version.pk).update(
            status=version.status,
            is_active=False,
            error=version.error,
            finished_at=version.finished_at,
            build_seconds=version.build_seconds,
            updated_at=timezone.now(),
        )
        logger.warning("Model build %s failed: %s", version.pk, version.error)
        raise
    if progress:
        progress(STEPS, STEPS, "Done")
    version.refresh_from_db()
    return version


def request_rebuild(*, triggered_by: str, activate: bool = True) -> ModelVersion | None:
    """Queue a rebuild on Celery. Returns the queued version, or None when a build is
    already queued or running (single-flight, enforced by a database constraint)."""
    from .tasks import rebuild_tfidf

    expire_stale_builds()
    try:
        with transaction.atomic():
            version = ModelVersion.objects.create(
                status=ModelVersion.Status.QUEUED,
                triggered_by=triggered_by[:150],
                params=default_params().to_dict(),
                activate_when_ready=activate,
                progress_message="Queued",
            )
    except IntegrityError:
        return None
    transaction.on_commit(lambda: rebuild_tfidf.delay(version.pk))
    return version


def activate_version(*, version: ModelVersion) -> ModelVersion:
    """Make ``version`` the active one (also the rollback path). Only ready versions."""
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if locked.status != ModelVersion.Status.READY:
            raise VersionError(f"Version {locked.pk} is {locked.status}; only ready versions.")
        if not locked.artifact_dir.is_dir():
            raise VersionError(f"Version {locked.pk} has no artifact files on disk.")
        ModelVersion.objects.active().exclude(pk=locked.pk).update(is_active=False)
        locked.is_active = True
        locked.activated_at = timezone.now()
        locked.save(update_fields=["is_active", "activated_at", "updated_at"])
        transaction.on_commit(expire_cache)
    version.is_active, version.activated_at = True, locked.activated_at
    return locked


def delete_version(*, version: ModelVersion) -> None:
    """Delete a version and its files. The active one and a running build cannot be deleted."""
    if version.is_active:
        raise VersionError(f"Version {version.pk} is active; activate another one first.")
    if version.in_progress:
        raise VersionError(f"Version {version.pk} is still {version.status}.")
    path = version.artifact_dir
    version.delete()
    remove_dir(path)


def prune_versions(*, keep: int | None = None) -> int:
    """Delete all but the newest ``keep`` ready inactive versions, every failed version and
    leftover temporary directories. The active version and running builds are never touched.
    Returns the number of versions deleted."""
    keep = settings.RECS_KEEP_VERSIONS if keep is None else keep
    if keep < 0:
        raise ValueError("keep must be >= 0")
    ready = ModelVersion.objects.ready().filter(is_active=False).order_by("-created_at", "-id")
    doomed = list(ready[keep:]) + list(ModelVersion.objects.filter(status="failed"))
    for version in doomed:
        delete_version(version=version)
    base = settings.MODEL_DIR
    if base.is_dir():
        cutoff = time.time() - settings.RECS_BUILD_TIME_LIMIT
        for path in base.iterdir():
            if path.name.startswith(TMP_PREFIX) and path.stat().st_mtime < cutoff:
                remove_dir(path)
    return len(doomed)


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
