"""Collaborative item models learned from a user x item ratings matrix (CSR).

Pure numpy / scipy; no Django. Rows of the ratings matrix are users, columns are catalog rows
(the same row numbering as the TF-IDF matrix), values are the ratings (0 = not rated).

Two models, both stored as a sparse *neighbour matrix* ``N`` (n_items x n_items, CSR) where row
``j`` holds the (at most ``top_k``) items that rating ``j`` pushes up or down. A user's score for
every item is then ``w @ N[history_rows]`` -- one small sparse slice per request, no dense
item x item matrix, so storage is bounded by ``n_rated_items * top_k`` whatever the catalog size.

* :func:`ease_neighbours` -- EASE (Steck 2019, "Embarrassingly Shallow Autoencoders"): a ridge
  regression of every item on all the others, closed form ``B = I - P / diag(P)`` with
  ``P = (X'X + l2 I)^-1``. The inverse is dense over the items it covers, so it is restricted to
  the ``max_items`` most-rated items (bounded memory and time: 5,000 items = 200 MB, a few
  seconds); the long tail still gets content and popularity scores from the hybrid.
* :func:`cosine_neighbours` -- classic item-item collaborative filtering: cosine similarity of
  the items' (binary) co-rating columns, computed as a sparse product.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


class CollabError(ValueError):
    """Bad input to a collaborative model, with a message meant for people."""


def _check_ratings(ratings: sp.spmatrix) -> sp.csr_matrix:
    if not sp.issparse(ratings):
        raise CollabError("ratings must be a scipy sparse user x item matrix.")
    # Always a copy: callers' matrices must never be changed (cosine binarises in place).
    m = sp.csr_matrix(ratings, dtype=np.float64, copy=True)
    if m.ndim != 2:
        raise CollabError("ratings must be two-dimensional (users x items).")
    if m.nnz and not np.all(np.isfinite(m.data)):
        raise CollabError("ratings contain NaN or infinite values.")
    m.eliminate_zeros()
    return m


def _top_k_per_row(dense: np.ndarray, top_k: int | None) -> np.ndarray:
    """Zero all but the ``top_k`` largest-magnitude entries of every row (in place)."""
    if top_k is not None and 0 < top_k < dense.shape[1]:
        drop = np.argpartition(-np.abs(dense), top_k, axis=1)[:, top_k:]
        np.put_along_axis(dense, drop, 0.0, axis=1)
    return dense


def _embed(block: np.ndarray, items: np.ndarray, n_items: int) -> sp.csr_matrix:
    """Place an (m x m) block over catalog rows ``items`` into an n_items x n_items CSR."""
    coo = sp.coo_matrix(block)
    return sp.csr_matrix(
        (coo.data.astype(np.float32), (items[coo.row], items[coo.col])),
        shape=(n_items, n_items),
    )


def ease_neighbours(
    ratings: sp.spmatrix,
    *,
    l2: float = 1500.0,
    top_k: int | None = 200,
    max_items: int = 5000,
    min_item_ratings: int = 1,
) -> sp.csr_matrix:
    """EASE item weights as a neighbour matrix (row = source item, top_k targets per row).

    ``ratings`` are explicit scores: fitting on them (rather than on 0/1) lets well-liked
    co-ratings weigh more. ``l2`` is the ridge penalty; larger = smoother, more popular items.
    Only items with at least ``min_item_ratings`` ratings, and at most the ``max_items`` most
    rated of them, take part (ties broken by the lower row, so the choice is deterministic).
    """
    if l2 <= 0:
        raise CollabError(f"l2 must be positive (got {l2}).")
    if max_items < 1:
        raise CollabError(f"max_items must be at least 1 (got {max_items}).")
    x = _check_ratings(ratings)
    n_items = x.shape[1]
    counts = np.diff(x.tocsc().indptr)
    eligible = np.flatnonzero(counts >= max(1, min_item_ratings))
    if eligible.size < 2:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    if eligible.size > max_items:
        order = np.lexsort((eligible, -counts[eligible]))
        eligible = np.sort(eligible[order[:max_items]])
    sub = x[:, eligible]
    gram = (sub.T @ sub).toarray()
    gram[np.diag_indices_from(gram)] += l2
    inverse = np.linalg.inv(gram)
    weights = inverse / -np.diag(inverse)[np.newaxis, :]
    weights[np.diag_indices_from(weights)] = 0.0
    return _embed(_top_k_per_row(weights, top_k), eligible, n_items)


def cosine_neighbours(
    ratings: sp.spmatrix, *, top_k: int | None = None, binary: bool = True
) -> sp.csr_matrix:
    """Item-item cosine similarity of co-rating columns, as a neighbour matrix.

    ``binary=True`` compares *who rated* (the classic baseline); ``top_k`` keeps the most
    similar neighbours of every item (None = all).
    """
    x = _check_ratings(ratings)
    if binary:
        x.data[:] = 1.0
    cols = sp.csc_matrix(x)
    norms = np.sqrt(np.asarray(cols.multiply(cols).sum(axis=0)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    xn = sp.csr_matrix(x @ sp.diags(inv))
    sim = sp.csr_matrix(xn.T @ xn)
    sim.setdiag(0.0)
    sim.eliminate_zeros()
    if top_k is not None:
        sim = _sparse_top_k_per_row(sim, top_k)
    return sp.csr_matrix(sim, dtype=np.float32)


def _sparse_top_k_per_row(m: sp.csr_matrix, top_k: int) -> sp.csr_matrix:
    m = sp.csr_matrix(m)
    rows, cols, vals = [], [], []
    for r in range(m.shape[0]):
        start, end = m.indptr[r], m.indptr[r + 1]
        if end == start:
            continue
        data, idx = m.data[start:end], m.indices[start:end]
        if end - start > top_k:
            keep = np.argpartition(-np.abs(data), top_k - 1)[:top_k]
            data, idx = data[keep], idx[keep]
        rows.append(np.full(len(idx), r))
        cols.append(idx)
        vals.append(data)
    if not rows:
        return sp.csr_matrix(m.shape, dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=m.shape
    )


def neighbour_scores(
    neighbours: sp.csr_matrix, rows: Sequence[int], weights: Sequence[float]
) -> np.ndarray:
    """``sum_j weights[j] * neighbours[rows[j]]`` as a dense 1-D array over all items.

    Only the history rows of the neighbour matrix are touched, so a request costs
    O(len(rows) * top_k) plus one pass over the output array.
    """
    n = neighbours.shape[1]
    rows_a = np.asarray(rows, dtype=np.int64)
    if rows_a.size == 0:
        return np.zeros(n, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != rows_a.shape:
        raise CollabError("rows and weights must have the same length.")
    block = neighbours[rows_a]
    return np.asarray(block.T @ w, dtype=np.float64).ravel()


def _entries(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``rows``' CSR entries end to end (in row order), and each row's length:
    what ``matrix[rows]`` copies, without scipy's slicing bookkeeping."""
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    at = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
    return at, lengths


@dataclass(frozen=True)
class NeighbourIndex:
    """A neighbour matrix laid out for serving, made once per loaded model
    (:func:`neighbour_index`).

    The stored neighbours link at most ``HybridParams.max_items`` items among themselves, so
    every column in use is one of a few thousand ``items``: ``compact`` gives each CSR entry
    its column's position among them, and a user's CF sum is one ``bincount`` over a few
    thousand bins (no sort of the 100,000 entries a 500-rating history reaches). The CSC
    copy (``col_*``, columns numbered as ``items``) lists who points at a movie, so explaining
    10 picks reads their columns (a few thousand entries) instead of every history row's list.
    """

    items: np.ndarray  # ascending catalog rows that are a neighbour of some row
    indptr: np.ndarray  # the CSR's, int64
    compact: np.ndarray  # per CSR entry: its column's position in ``items`` (int32)
    data: np.ndarray  # the CSR's values
    col_indptr: np.ndarray  # per position in ``items``: its entries in col_rows / col_data
    col_rows: np.ndarray  # source rows (ascending within a column)
    col_data: np.ndarray


def build_neighbour_index(neighbours: sp.csr_matrix) -> NeighbourIndex:
    """:class:`NeighbourIndex` of ``neighbours``: one O(nnz) pass (a few tens of ms for the
    1,000,000 entries of 5,000 items x 200 neighbours)."""
    indices = np.asarray(neighbours.indices)
    items = np.flatnonzero(np.bincount(indices, minlength=neighbours.shape[1]))
    lookup = np.zeros(neighbours.shape[1], dtype=np.int32)
    lookup[items] = np.arange(items.size, dtype=np.int32)
    compact = lookup[indices]
    indptr = np.asarray(neighbours.indptr, dtype=np.int64)
    # the CSC copy over the compact columns: entries grouped by column, stable in row order
    owner = np.repeat(np.arange(neighbours.shape[0], dtype=np.int64), np.diff(indptr))
    order = np.argsort(compact, kind="stable")
    col_indptr = np.zeros(items.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(compact, minlength=items.size), out=col_indptr[1:])
    return NeighbourIndex(
        items=items.astype(np.int64),
        indptr=indptr,
        compact=compact,
        data=np.asarray(neighbours.data),
        col_indptr=col_indptr,
        col_rows=owner[order],
        col_data=np.asarray(neighbours.data)[order],
    )


# per neighbour matrix object (wrapped once per loaded model): its index
_INDEXES: dict[int, tuple[weakref.ref, NeighbourIndex]] = {}


def neighbour_index(neighbours: sp.csr_matrix) -> NeighbourIndex:
    """:func:`build_neighbour_index`, cached per ``neighbours`` object while it lives (serving
    wraps the stored arrays once per loaded model, ``hybrid.neighbour_matrix``)."""
    key = id(neighbours)
    entry = _INDEXES.get(key)
    if entry is not None and entry[0]() is neighbours:
        return entry[1]
    index = build_neighbour_index(neighbours)
    try:
        ref = weakref.ref(neighbours, lambda _r, key=key: _INDEXES.pop(key, None))
    except TypeError:  # not weak-referenceable: build every time rather than leak
        return index
    _INDEXES[key] = (ref, index)
    return index


def neighbour_scores_sparse(
    neighbours: sp.csr_matrix, rows: Sequence[int], weights: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`neighbour_scores` as ``(items, scores)`` for the items that get a score only.

    Serving adds these into its one score vector in place: no array of length n_items is made,
    so a request costs O(len(rows) * top_k) here whatever the catalog size. Sums per item in
    the order of the history (the same floats as ``neighbours[rows].T @ weights``' entries
    summed in float64), over the compact columns of :func:`neighbour_index`.
    """
    rows_a = np.asarray(rows, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != rows_a.shape:
        raise CollabError("rows and weights must have the same length.")
    if rows_a.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    index = neighbour_index(neighbours)
    at, lengths = _entries(index.indptr, rows_a)
    cols = index.compact[at]
    values = index.data[at] * np.repeat(w, lengths)
    m = index.items.size
    sums = np.bincount(cols, weights=values, minlength=m)
    reached = np.zeros(m, dtype=bool)
    reached[cols] = True  # (an item whose terms cancel out to 0 is still reached)
    return index.items[reached], sums[reached]


def neighbour_contributions(
    neighbours: sp.csr_matrix,
    rows: Sequence[int],
    weights: Sequence[float],
    target_rows: Sequence[int],
) -> np.ndarray:
    """Entry ``[t, j]`` = ``weights[j] * neighbours[rows[j], target_rows[t]]`` (targets x rows)."""
    rows_a = np.asarray(rows, dtype=np.int64)
    targets = np.asarray(target_rows, dtype=np.int64)
    if rows_a.size == 0 or targets.size == 0:
        return np.zeros((len(targets), len(rows_a)))
    # The targets' columns (:func:`neighbour_index`): who points at each target, matched to
    # the history by a sorted lookup; a history of 500 rows reaches 100,000 entries, the 10
    # targets' columns a few thousand.
    index = neighbour_index(neighbours)
    out = np.zeros((rows_a.size, targets.size))
    if index.items.size:
        pos = np.minimum(np.searchsorted(index.items, targets), index.items.size - 1)
        found = np.flatnonzero(index.items[pos] == targets)
        at, lengths = _entries(index.col_indptr, pos[found])
        src, vals = index.col_rows[at], index.col_data[at]
        target = np.repeat(found, lengths)
        order = np.argsort(rows_a, kind="stable")
        hist = rows_a[order]
        lo = np.searchsorted(hist, src, side="left")
        hi = np.searchsorted(hist, src, side="right")
        hits = hi - lo  # history positions holding each source row (duplicates allowed)
        if hits.sum():
            keep = np.flatnonzero(hits)
            rep = hits[keep]
            k = np.repeat(lo[keep] - np.cumsum(rep) + rep, rep) + np.arange(int(rep.sum()))
            np.add.at(out, (order[k], np.repeat(target[keep], rep)), np.repeat(vals[keep], rep))
    return (out * np.asarray(weights, dtype=np.float64)[:, np.newaxis]).T
