"""Recommendation workflows: building, activating and pruning model versions.

``build_model`` is the one build path; ``manage.py build_tfidf``, the Celery task and the admin
button all end up there. Serving is :mod:`recommendations.pipeline`.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import FloatField
from django.db.models.functions import Cast
from django.utils import timezone

from movies.models import Credit, Movie, Rating

from . import hybrid, tfidf
from .artifacts import TMP_PREFIX, remove_dir, save_arrays
from .models import ModelVersion
from .serving import expire_cache

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, str], None]

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
