"""Diversity of recommendation lists: intra-list diversity, novelty, and an MMR re-rank.

Pure numpy/scipy, no Django: ``manage.py evaluate`` reports the metrics for every strategy and
the ``production_mmr`` strategy measures the re-rank against ``production`` in the same run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

# Candidates the re-rank reads (the head of the scored list; cheap: 50 x 50 cosines at most).
MMR_POOL = 50


def _unit_rows(matrix, rows: Sequence[int], row_norms: np.ndarray | None = None):
    """The given TF-IDF rows scaled to unit length (zero rows stay zero)."""
    rows = np.asarray(rows, dtype=np.int64)
    sub = sp.csr_matrix(matrix[rows], dtype=np.float64)
    if row_norms is None:
        norms = np.sqrt(np.asarray(sub.multiply(sub).sum(axis=1)).ravel())
    else:
        # the rows picked, then widened (widening every norm first was an 8 MB array per
        # re-rank at 1M movies; the same floats)
        norms = np.asarray(row_norms)[rows].astype(np.float64)
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    # each row's entries times its inverse norm, in place of a diagonal matrix product (the
    # same floats; the product's bookkeeping was most of the site's re-rank at 2 ms)
    sub.data *= np.repeat(inv, np.diff(sub.indptr))
    return sub


def pairwise_cosine(matrix, rows: Sequence[int], row_norms: np.ndarray | None = None):
    """Dense cosine similarity between the given rows of ``matrix``."""
    unit = _unit_rows(matrix, rows, row_norms)
    return np.asarray((unit @ unit.T).todense(), dtype=np.float64)


def intra_list_diversity(matrix, rows: Sequence[int], row_norms=None) -> float:
    """Mean over unordered pairs of ``1 - cosine``; 0.0 for lists shorter than two."""
    n = len(rows)
    if n < 2:
        return 0.0
    sims = pairwise_cosine(matrix, rows, row_norms)
    upper = sims[np.triu_indices(n, k=1)]
    return float(np.mean(1.0 - upper))


def self_information(interaction_counts: np.ndarray) -> np.ndarray:
    """``-log2(count / total)`` per item. Items never seen count as seen once (finite, highest)."""
    counts = np.maximum(np.asarray(interaction_counts, dtype=np.float64), 1.0)
    total = float(np.asarray(interaction_counts, dtype=np.float64).sum()) or 1.0
    return -np.log2(np.minimum(counts / total, 1.0))


def novelty(rows: Sequence[int], info: np.ndarray) -> float:
    """Mean self-information of the recommended rows (0.0 for an empty list)."""
    if len(rows) == 0:
        return 0.0
    return float(np.mean(info[np.asarray(rows, dtype=np.int64)]))


def mmr_rerank(
    rows: Sequence[int],
    scores: Sequence[float],
    *,
    matrix,
    n: int,
    lam: float,
    row_norms: np.ndarray | None = None,
) -> list[int]:
    """Maximal marginal relevance over ``rows`` (best first): positions into ``rows``.

    Each pick maximises ``lam * rel - (1 - lam) * max_sim`` where ``rel`` is the score scaled
    to [0, 1] over the pool and ``max_sim`` the cosine to the closest pick so far. ``lam = 1``
    keeps the order; the first pick is always the best-scored item. Ties go to the earlier row.
    """
    if len(rows) != len(scores):
        raise ValueError("rows and scores must have the same length.")
    if not 0.0 <= lam <= 1.0:
        raise ValueError("lam must be between 0 and 1.")
    m = len(rows)
    if m == 0 or n <= 0:
        return []
    s = np.asarray(scores, dtype=np.float64)
    spread = s.max() - s.min()
    rel = (s - s.min()) / spread if spread > 0 else np.ones(m)
    if lam >= 1.0:
        return list(np.argsort(-rel, kind="stable")[:n])
    sims = pairwise_cosine(matrix, rows, row_norms)
    max_sim = np.zeros(m)
    left = np.ones(m, dtype=bool)
    picked: list[int] = []
    while len(picked) < min(n, m):
        value = lam * rel - (1.0 - lam) * max_sim
        value[~left] = -math.inf
        best = int(np.argmax(value))  # argmax: first of equal values
        picked.append(best)
        left[best] = False
        max_sim = np.maximum(max_sim, sims[best])
    return picked
