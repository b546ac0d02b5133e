"""The per-process cache of the active model.

Every web process (gunicorn worker) keeps the active version in memory, loaded once with its
arrays memory-mapped, so workers share the page cache. Whether a newer version was activated is
checked with one tiny query at most every ``RECS_VERSION_CHECK_SECONDS``; never a disk read per
request. If loading a version fails (missing, truncated or tampered files) the error is logged
and the process keeps serving what it had (or nothing, which means the popularity fallback);
the failed version is retried only after ``RETRY_FAILED_SECONDS``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from django.conf import settings

from . import hybrid, tfidf
from .artifacts import ArtifactError, load_arrays
from .models import ModelVersion

logger = logging.getLogger(__name__)

RETRY_FAILED_SECONDS = 60.0


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


def load_version(version: ModelVersion) -> LoadedModel:
    """Load (memory-mapped) and verify one version's artifacts; raises ArtifactError."""
    arrays = load_arrays(version.artifact_dir, version.checksums, mmap=True, verify=True)
    try:
        matrix = tfidf.matrix_from_arrays(arrays)
        movie_ids = arrays["movie_ids"]
        if len(movie_ids) != matrix.shape[0]:
            raise ValueError("movie_ids and matrix rows differ in length")
        hybrid_arrays, neighbours = None, None
        if "prior" in arrays:
            hybrid_arrays = {name: arrays[name] for name in hybrid.ARRAY_NAMES if name in arrays}
            hybrid.load_params(hybrid_arrays)  # unreadable parameters = a broken version
            if len(hybrid_arrays["prior"]) != matrix.shape[0]:
                raise ValueError("the hybrid prior and the matrix differ in length")
            neighbours = hybrid.neighbour_matrix(hybrid_arrays)
            if neighbours.shape != (matrix.shape[0], matrix.shape[0]):
                raise ValueError("the neighbour matrix does not match the catalog")
        return LoadedModel(
            version_id=version.pk,
            matrix=matrix,
            movie_ids=movie_ids,
            feature_names=arrays["feature_names"],
            row_norms=arrays["row_norms"],
            arrays=arrays,
            matrix_t=tfidf.matrix_from_arrays(arrays, prefix="t_") if "t_data" in arrays else None,
            hybrid=hybrid_arrays,
            neighbours=neighbours,
        )
    except (KeyError, ValueError, hybrid.HybridError) as exc:
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
            self._refresh(now)
            return self.model if self._active_id is not None else None

    def _refresh(self, now: float) -> None:
        self._checked_at = now
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
            return
        try:
            self.model = load_version(version)
            self._failed.pop(version.pk, None)
            logger.info("Loaded recommendation model version %s", version.pk)
        except ArtifactError as exc:
            self._failed[version.pk] = now
            logger.error(
                "Cannot load model version %s (%s); still serving %s",
                version.pk,
                exc,
                f"version {self.model.version_id}" if self.model else "the popularity fallback",
            )


_cache = _ModelCache()


def get_active_model() -> LoadedModel | None:
    """The model this process serves: the active version, or the last good one if the active
    version's files cannot be loaded, or None (popularity fallback)."""
    return _cache.get()


def reset_cache() -> None:
    _cache.reset()


def expire_cache() -> None:
    _cache.expire()
