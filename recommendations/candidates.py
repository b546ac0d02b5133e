"""Phase one of two-phase serving: the few thousand rows worth scoring for one user.

Pure numpy / scipy (no Django). Every source is bounded by a limit that does not depend on the
catalog size, so the set stays the same size at 3,000 or 1,000,000 movies:

* **collaborative**: the items the user's history reaches through the stored top-K neighbours
  (what the CF part of the blend scores at all), the ``cf_max`` best of them, plus the one
  with the largest ``|CF|`` so the CF part is scaled exactly as in the full scan;
* **content neighbours**: the build-time top-K most similar movies of each liked movie
  (``content_nbr_idx``, padded with -1; skipped for versions without them);
* **postings**: the profile's heaviest terms whose postings are short enough to be selective,
  and in each of them the ``per_term`` movies with the largest weight, reading at most
  ``postings_budget`` entries of the term-major copy;
* **prior head**: the top of the popularity prior (:func:`prior_head`, once per model).

Phase two (:mod:`recommendations.twophase`) scores only these rows with the full hybrid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class CandidateLimits:
    """Per-source caps; none grows with the catalog."""

    cf_max: int = 500
    content_k: int = 20  # neighbours used per liked movie (of the stored k)
    max_liked: int = 30  # liked movies whose neighbours are read (the best-rated first)
    max_terms: int = 20
    per_term: int = 100
    postings_budget: int = 200_000  # postings entries read in all
    prior_head: int = 200

    def __post_init__(self):
        for name, value in self.__dict__.items():
            if int(value) < 0:
                raise ValueError(f"{name} must not be negative.")

    @property
    def max_size(self) -> int:
        """Upper bound of the candidate set, whatever the catalog."""
        return (
            self.cf_max
            + 1
            + self.content_k * self.max_liked
            + self.max_terms * self.per_term
            + self.prior_head
        )


@dataclass
class Candidates:
    """The gathered rows (ascending, unique, excluded rows removed) and where they came from."""

    rows: np.ndarray
    by_source: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.rows)


def prior_head(prior: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` rows with the highest prior (unordered); one O(n) pass, done once per model."""
    prior = np.asarray(prior)
    k = min(int(k), prior.size)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.argpartition(prior, prior.size - k)[prior.size - k :].astype(np.int64)


def cf_rows(items: np.ndarray, values: np.ndarray, limit: int) -> np.ndarray:
    """The ``limit`` items with the best CF score, plus the one with the largest |score| (the
    CF part's scale: a disliked movie's neighbour can set it)."""
    items = np.asarray(items, dtype=np.int64)
    if items.size == 0:
        return items
    values = np.asarray(values)
    pick = [int(np.argmax(np.abs(values)))]
    if limit > 0:
        if items.size > limit:
            top = np.argpartition(values, items.size - limit)[items.size - limit :]
        else:
            top = np.arange(items.size)
        pick = np.concatenate([top, pick])
    return items[np.asarray(pick, dtype=np.int64)]


def content_neighbour_rows(
    nbr_idx: np.ndarray | None, liked_rows: np.ndarray, liked_scores: np.ndarray, limits
) -> np.ndarray:
    """The stored content neighbours of the (best-rated ``max_liked``) liked rows."""
    if nbr_idx is None or len(liked_rows) == 0 or limits.content_k == 0:
        return np.zeros(0, dtype=np.int64)
    liked_rows = np.asarray(liked_rows, dtype=np.int64)
    if liked_rows.size > limits.max_liked:
        order = np.argsort(-np.asarray(liked_scores), kind="stable")[: limits.max_liked]
        liked_rows = liked_rows[order]
    block = np.asarray(nbr_idx[liked_rows, : limits.content_k]).ravel()
    return block[block >= 0].astype(np.int64)


def postings_rows(
    matrix_t: sp.csr_matrix | None,
    terms: np.ndarray,
    weights: np.ndarray,
    limits: CandidateLimits,
) -> np.ndarray:
    """Rows with the largest weights in the profile's heaviest selective terms.

    Terms are taken by profile weight; a term whose postings alone exceed a quarter of the
    budget is too common to select anything (a genre in every tenth movie) and is skipped.
    """
    if matrix_t is None or len(terms) == 0 or limits.max_terms == 0:
        return np.zeros(0, dtype=np.int64)
    indptr = matrix_t.indptr
    terms = np.asarray(terms, dtype=np.int64)
    lengths = indptr[terms + 1] - indptr[terms]
    selective = lengths <= max(limits.postings_budget // 4, limits.per_term)
    order = np.argsort(-np.asarray(weights)[selective], kind="stable")
    chosen = terms[selective][order][: limits.max_terms]
    out, read = [], 0
    for t in chosen:
        start, stop = int(indptr[t]), int(indptr[t + 1])
        if read + (stop - start) > limits.postings_budget:
            continue
        read += stop - start
        rows = matrix_t.indices[start:stop]
        if stop - start > limits.per_term:
            vals = matrix_t.data[start:stop]
            keep = np.argpartition(vals, vals.size - limits.per_term)[-limits.per_term :]
            rows = rows[keep]
        out.append(np.asarray(rows, dtype=np.int64))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def gather(
    *,
    exclude_rows: Sequence[int] | np.ndarray,
    n_rows: int,
    cf_items: np.ndarray | None = None,
    cf_values: np.ndarray | None = None,
    liked_rows: np.ndarray | None = None,
    liked_scores: np.ndarray | None = None,
    content_nbr_idx: np.ndarray | None = None,
    matrix_t: sp.csr_matrix | None = None,
    profile_terms: np.ndarray | None = None,
    profile_weights: np.ndarray | None = None,
    head: np.ndarray | None = None,
    limits: CandidateLimits | None = None,
) -> Candidates:
    """Union of the four sources (see the module docstring) minus ``exclude_rows``."""
    limits = limits or CandidateLimits()
    empty = np.zeros(0, dtype=np.int64)
    liked = empty if liked_rows is None else np.asarray(liked_rows, dtype=np.int64)
    sources = {
        "collaborative": (
            cf_rows(cf_items, cf_values, limits.cf_max) if cf_items is not None else empty
        ),
        "content_neighbours": content_neighbour_rows(
            content_nbr_idx,
            liked,
            np.ones(len(liked)) if liked_scores is None else liked_scores,
            limits,
        ),
        "postings": (
            postings_rows(matrix_t, profile_terms, profile_weights, limits)
            if profile_terms is not None
            else empty
        ),
        "prior_head": empty if head is None else np.asarray(head, dtype=np.int64),
    }
    rows = np.unique(np.concatenate(list(sources.values())))
    rows = rows[(rows >= 0) & (rows < n_rows)]
    excl = np.asarray(exclude_rows, dtype=np.int64)
    if excl.size:
        rows = rows[~np.isin(rows, excl)]
    return Candidates(rows=rows, by_source=sources)


def brute_content_neighbours(
    matrix: sp.csr_matrix, rows: Sequence[int], k: int, *, row_norms: np.ndarray | None = None
) -> np.ndarray:
    """Exact top-``k`` cosine neighbours of ``rows`` (self excluded, similarity > 0), as a
    -1-padded int32 array with one line per catalog row (only ``rows`` filled).

    For tests, the benchmark and the offline evaluation, where the model has no stored content
    neighbours: one matrix-vector product per row (O(nnz) each), so only for a few rows.
    """
    rows = np.unique(np.asarray(rows, dtype=np.int64))
    n, n_features = matrix.shape
    out = np.full((n, k), -1, dtype=np.int32)
    norms = (
        np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        if row_norms is None
        else np.asarray(row_norms, dtype=np.float64)
    )
    safe = np.where(norms > 0, norms, 1.0)
    for row in rows:
        vec = np.zeros(n_features, dtype=matrix.dtype)
        r = matrix[int(row)]
        vec[r.indices] = r.data
        sims = (matrix @ vec) / safe
        sims[int(row)] = -np.inf
        kk = min(k, n - 1)
        if kk <= 0 or norms[row] == 0:
            continue
        top = np.argpartition(-sims, kk - 1)[:kk]
        top = top[sims[top] > 0]
        top = top[np.lexsort((top, -sims[top]))]
        out[row, : top.size] = top
    return out
