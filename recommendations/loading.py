"""Loading model versions, and the per-process cache of the one being served.

Every web process (gunicorn worker) keeps the active version in memory, loaded once with its
arrays memory-mapped, so workers share the page cache. Whether a newer version was activated is
checked with one tiny query at most every ``RECS_VERSION_CHECK_SECONDS``; never a disk read per
request.

Nothing in a version's files is trusted before it is checked (:func:`load_version`): sizes
against the ``.npy`` headers, checksums, then the structure of every sparse matrix and the
lengths and dtypes of every array, so a damaged file is an :class:`ArtifactError`, never a
crashed worker. If the active version cannot be loaded, the process serves the newest ready
version that can (so a restart after damage does not turn into 503s), logs it, and writes what
happened on the active version's row (``load_error``) for the admin. A version that failed to
load is retried only after ``RETRY_FAILED_SECONDS``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from . import hybrid, tfidf
from .artifacts import (
    ArtifactError,
    check_csr,
    load_arrays,
    remove_dir,
    remove_staged,
    stage_version,
)
from .models import ModelVersion
from .signals import version_activated

logger = logging.getLogger(__name__)

RETRY_FAILED_SECONDS = 60.0
# At most this many older versions are tried when the active one cannot be loaded.
MAX_FALLBACK_CANDIDATES = 5


@dataclass
class LoadedModel:
    version_id: int
    matrix: sp.csr_matrix
    movie_ids: np.ndarray  # ascending; row i of the matrix is movie_ids[i]
    feature_names: np.ndarray
    row_norms: np.ndarray
    arrays: dict[str, np.ndarray]  # everything stored
    matrix_t: sp.csr_matrix | None = None  # term-major copy: the postings cosine path
    # The hybrid's arrays (prior, params, and the collaborative ones unless switched off);
    # None for versions built before the hybrid existed: they serve TF-IDF only.
    hybrid: dict[str, np.ndarray] | None = None
    # The collaborative neighbour CSR, wrapped once here rather than on every request.
    neighbours: sp.csr_matrix | None = None

    @property
    def n_rows(self) -> int:
        return self.matrix.shape[0]

    @cached_property
    def feature_index(self) -> dict[str, int]:
        """Term -> column, built once per loaded model: explanations look terms up for every
        card, and a scan of the memory-mapped names per card cost ~15 ms each."""
        return {str(name): j for j, name in enumerate(self.feature_names)}

    @property
    def has_collab(self) -> bool:
        return self.neighbours is not None and self.neighbours.nnz > 0

    def rows_for(self, movie_ids) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, found_mask)`` for the given movie ids (movies newer than the model are
        not found)."""
        ids = np.asarray(list(movie_ids), dtype=np.int64)
        if len(ids) == 0 or len(self.movie_ids) == 0:
            return np.empty(0, dtype=np.int64), np.zeros(len(ids), dtype=bool)
        pos = np.searchsorted(self.movie_ids, ids)
        pos_clipped = np.minimum(pos, len(self.movie_ids) - 1)
        found = self.movie_ids[pos_clipped] == ids
        return pos_clipped[found].astype(np.int64), found

    def row_for(self, movie_id: int) -> int | None:
        rows, found = self.rows_for([movie_id])
        return int(rows[0]) if found[0] else None


def _check_vector(arrays: dict, name: str, length: int, kinds: str) -> np.ndarray:
    try:
        arr = arrays[name]
    except KeyError:
        raise ArtifactError(f"Array {name!r} is missing.") from None
    if arr.ndim != 1 or len(arr) != length:
        raise ArtifactError(f"Array {name!r} has shape {arr.shape}, expected ({length},).")
    if arr.dtype.kind not in kinds:
        raise ArtifactError(f"Array {name!r} has dtype {arr.dtype}.")
    return arr


def _check_content_neighbours(arrays: dict, n_rows: int) -> None:
    """The optional stored content neighbours: both or neither, (n_rows, k), in range."""
    idx, sim = arrays.get("content_nbr_idx"), arrays.get("content_nbr_sim")
    if idx is None and sim is None:
        return
    if idx is None or sim is None:
        raise ArtifactError("Content neighbours are invalid: only one of idx / sim is stored.")
    if idx.ndim != 2 or idx.shape[0] != n_rows or sim.shape != idx.shape:
        raise ArtifactError("Content neighbours are invalid: their shape does not match.")
    if idx.dtype.kind not in "iu" or sim.dtype.kind != "f":
        raise ArtifactError("Content neighbours are invalid: wrong dtypes.")
    if idx.size and (int(idx.min()) < -1 or int(idx.max()) >= n_rows):
        raise ArtifactError("Content neighbours are invalid: a row outside the catalog.")


def _serving_dir(version: ModelVersion):
    """Where this process maps ``version`` from: its staged private copy (artifacts.py says
    why), or the published directory itself when staging is off or impossible here."""
    stage_root = settings.RECS_STAGE_DIR
    if not stage_root:
        return version.artifact_dir
    try:
        staged = stage_version(version.artifact_dir, version.checksums, Path(stage_root))
    except OSError as exc:
        logger.warning(
            "Cannot stage model version %s into %s (%s); mapping %s directly",
            version.pk,
            stage_root,
            exc,
            version.artifact_dir,
        )
        return version.artifact_dir
    with contextlib.suppress(OSError):
        remove_staged(Path(stage_root), keep={staged.name})
    return staged


def load_version(version: ModelVersion) -> LoadedModel:
    """Load (memory-mapped) and validate one version's artifacts; raises ArtifactError.

    Every sparse matrix is checked with :func:`artifacts.check_csr` and every vector for its
    length and dtype before any scipy object is built on the mapped pages.
    """
    serving_dir = _serving_dir(version)
    try:
        arrays = load_arrays(serving_dir, version.checksums, mmap=True, verify=True)
    except ArtifactError:
        if serving_dir == version.artifact_dir:
            raise
        # The staged copy itself went bad: drop it and stage once more from the source.
        remove_dir(serving_dir)
        arrays = load_arrays(_serving_dir(version), version.checksums, mmap=True, verify=True)
    try:
        n_rows, n_cols = check_csr(arrays)
        movie_ids = _check_vector(arrays, "movie_ids", n_rows, "iu")
        if n_rows > 1 and bool((np.diff(movie_ids) <= 0).any()):
            # Lookups are binary searches: unsorted ids would map movies to the wrong rows.
            raise ArtifactError("Array 'movie_ids' is not strictly ascending.")
        row_norms = _check_vector(arrays, "row_norms", n_rows, "f")
        feature_names = _check_vector(arrays, "feature_names", n_cols, "U")
        matrix_t = None
        if "t_data" in arrays:
            check_csr(arrays, prefix="t_", shape=(n_cols, n_rows))
            matrix_t = tfidf.matrix_from_arrays(arrays, prefix="t_")
        matrix = tfidf.matrix_from_arrays(arrays)
        _check_content_neighbours(arrays, n_rows)
        hybrid_arrays, neighbours = None, None
        if "prior" in arrays:
            names = (*hybrid.ARRAY_NAMES, *hybrid.EXTRA_ARRAY_NAMES)
            hybrid_arrays = {name: arrays[name] for name in names if name in arrays}
            hybrid.load_params(hybrid_arrays)  # unreadable parameters = a broken version
            _check_vector(arrays, "prior", n_rows, "f")
            for name in ("cold_prior", "item_bias"):
                if name in arrays:
                    _check_vector(arrays, name, n_rows, "f")
            if "rating_mean" in arrays and arrays["rating_mean"].shape != ():
                raise ArtifactError("Array 'rating_mean' is not a single number.")
            if "cf_data" in arrays:
                check_csr(arrays, prefix="cf_", shape=(n_rows, n_rows))
            neighbours = hybrid.neighbour_matrix(hybrid_arrays)
            if neighbours.shape != (n_rows, n_rows):
                raise ValueError("the neighbour matrix does not match the catalog")
        return LoadedModel(
            version_id=version.pk,
            matrix=matrix,
            movie_ids=movie_ids,
            feature_names=feature_names,
            row_norms=row_norms,
            arrays=arrays,
            matrix_t=matrix_t,
            hybrid=hybrid_arrays,
            neighbours=neighbours,
        )
    except ArtifactError as exc:
        raise ArtifactError(f"Version {version.pk} artifacts are invalid: {exc}") from exc
    except (KeyError, ValueError, TypeError, hybrid.HybridError) as exc:
        raise ArtifactError(f"Version {version.pk} artifacts are inconsistent: {exc}") from exc


class _ModelCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.model: LoadedModel | None = None
        self._checked_at = float("-inf")
        self._active_id: int | None = None
        self._failed: dict[int, float] = {}

    def reset(self) -> None:
        with self._lock:
            self.__init__()

    def expire(self) -> None:
        """Make the next call re-check the active version (used after activating here)."""
        self._checked_at = float("-inf")

    def get(self) -> LoadedModel | None:
        now = time.monotonic()
        if now - self._checked_at < settings.RECS_VERSION_CHECK_SECONDS:
            return self.model if self._active_id is not None else None
        with self._lock:
            if now - self._checked_at < settings.RECS_VERSION_CHECK_SECONDS:
                return self.model if self._active_id is not None else None
            try:
                self._refresh(now)
            finally:
                # Fresh only once the refresh is over: a thread that checks while another one
                # is still loading waits on the lock for the model instead of getting None
                # (threaded servers such as runserver answered "no model" during a load).
                self._checked_at = now
            return self.model if self._active_id is not None else None

    def _refresh(self, now: float) -> None:
        version = ModelVersion.objects.active().only("id", "checksums", "status").first()
        self._active_id = version.pk if version else None
        if version is None:
            # Deactivated everything: nothing to serve, keep nothing mapped.
            self.model = None
            return
        if self.model is not None and self.model.version_id == version.pk:
            return
        failed_at = self._failed.get(version.pk)
        if failed_at is not None and now - failed_at < RETRY_FAILED_SECONDS:
            if self.model is None:
                self.model = self._newest_loadable(exclude=version.pk, now=now)
            return
        try:
            self.model = self._load(version)
        except ArtifactError as exc:
            self._failed[version.pk] = now
            self.model = self._newest_loadable(exclude=version.pk, now=now)
            serving = (
                f"serving version {self.model.version_id}"
                if self.model
                else "serving the popularity fallback (no other version loads)"
            )
            logger.error("Cannot load model version %s (%s); %s", version.pk, exc, serving)
            _record_load_error(version.pk, f"{exc} This process is {serving}.")
            return
        _record_load_error(version.pk, "")

    def _load(self, version: ModelVersion) -> LoadedModel:
        model = load_version(version)
        self._failed.pop(version.pk, None)
        logger.info("Loaded recommendation model version %s", version.pk)
        return model

    def _newest_loadable(self, *, exclude: int, now: float) -> LoadedModel | None:
        """The newest ready version other than ``exclude`` that loads (the one already loaded
        counts without reloading it), or None."""
        candidates = (
            ModelVersion.objects.ready()
            .exclude(pk=exclude)
            .newest_first()
            .only("id", "checksums", "status")[:MAX_FALLBACK_CANDIDATES]
        )
        for candidate in candidates:
            if self.model is not None and self.model.version_id == candidate.pk:
                return self.model
            failed_at = self._failed.get(candidate.pk)
            if failed_at is not None and now - failed_at < RETRY_FAILED_SECONDS:
                continue
            try:
                return self._load(candidate)
            except ArtifactError as exc:
                self._failed[candidate.pk] = now
                logger.error("Cannot load model version %s either (%s)", candidate.pk, exc)
        return None


def _record_load_error(version_id: int, message: str) -> None:
    """Say on the version's row that this process could not load it (empty: it could)."""
    rows = ModelVersion.objects.filter(pk=version_id)
    if not message:
        rows = rows.exclude(load_error="")
    try:
        rows.update(load_error=message[:2000], load_error_at=timezone.now() if message else None)
    except DatabaseError:
        # The report is for people; serving must not fail because it cannot be written.
        logger.exception("Could not record the load error of model version %s", version_id)


_cache = _ModelCache()


def get_active_model() -> LoadedModel | None:
    """The model this process serves: the active version, or the newest ready version that
    loads if the active version's files cannot be loaded, or None (popularity fallback)."""
    return _cache.get()


def reset_cache() -> None:
    _cache.reset()


def expire_cache() -> None:
    _cache.expire()


def _on_version_activated(**_kwargs) -> None:
    expire_cache()


version_activated.connect(_on_version_activated, dispatch_uid="loading.expire_cache")
