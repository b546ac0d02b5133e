"""Build-time content neighbours: each movie's top-``k`` most similar movies by TF-IDF cosine.

Pure numpy / scipy (no Django). Stored in the version as ``content_nbr_idx`` (int32, one line
per catalog row, best first, padded with -1) and ``content_nbr_sim`` (float32, 0 where padded):
"More like this" (:mod:`recommendations.similar`) and the two-phase candidates
(:mod:`recommendations.candidates`) read a line instead of scanning the catalog per request.

Computed in row blocks (:func:`block_neighbours`), each a sparse product of ``block_rows`` rows
with the whole term-major matrix, so memory is bounded by the block whatever the catalog size;
:func:`content_neighbours` runs the blocks in order. The kernel is the
top-``k`` product of ``sparse_dot_topn`` (a well-kept compiled kernel, chosen over scipy's
full product + ``argpartition`` by ``bench/bench_kernel.py``) plus an exact order per row;
``max_term_rows`` optionally leaves out terms found in more rows than that, which at a million
movies are the ones that make the product dense while adding little to who is *most* similar.

Scaling (``work_budget``): the exact product of the whole catalog visits ``Σ_t df_t²`` postings
(``df_t``: rows holding term ``t``), which grows with n². While that is at most
``work_budget × n`` (postings per movie on average) the kernel stays exact, so small catalogs
are unchanged. Above it, each term's postings in the term-major operand are capped to its
``posting_cap`` highest-weight rows (:func:`posting_cap` picks the largest cap that fits the
budget), so a block's work stays bounded whatever the catalog size. A movie then finds its
candidates through the terms on which they weigh most; the best ``CANDIDATES × k`` are
re-scored exactly (stored similarities are true cosines), and the finish merges each list
with the movies that found it (:func:`add_reverse`): if A is among B's neighbours, A is
offered B -- the link A missed because its common terms were capped is usually found from
B's side.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from sparse_dot_topn import sp_matmul_topn

ProgressFn = Callable[[int, int, str], None]
BLOCK_ROWS = 2048
# Candidates per row (times k) taken from a capped product and re-scored exactly. The capped
# product ranks a row's candidates by partial scores, so its true best often sit below 2k: at
# 1M movies (budget 20,000) a pool of 4k raised recall@12 before add-reverse from 0.740 to
# 0.803 for 24-29% more time per block, 8k to 0.848 for 70-90% more (bench/bench_neighbour_pool.py,
# docs/benchmarks.md).
CANDIDATES = 4


class NeighbourError(ValueError):
    """Bad input to the neighbour kernel (a programming error, not user input)."""


def normalised(
    matrix: sp.spmatrix, max_term_rows: int | None = None, cap: int | None = None
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Row-normalised CSR (cosine = dot) and its transpose, common terms pruned if asked and
    each term's postings capped to its ``cap`` highest-weight rows if given (see
    :func:`posting_cap`): the two operands of :func:`block_neighbours` (a fan-out build stores
    them once for every block worker to map)."""
    if not sp.issparse(matrix) or matrix.ndim != 2:
        raise NeighbourError("matrix must be a 2-D scipy sparse matrix.")
    m = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    if max_term_rows is not None:
        if int(max_term_rows) < 1:
            raise NeighbourError("max_term_rows must be at least 1.")
        df = np.diff(sp.csc_matrix(m).indptr)
        common = np.flatnonzero(df > int(max_term_rows))
        if common.size:
            m = sp.csr_matrix(m @ sp.diags((df <= int(max_term_rows)).astype(np.float32)))
            m.eliminate_zeros()
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    m = sp.csr_matrix(sp.diags(np.where(norms > 0, 1.0 / np.maximum(norms, 1e-30), 0.0)) @ m)
    mt = sp.csr_matrix(m.T)
    if cap is not None:
        mt = cap_postings(mt, cap)
    return m, mt


def exact_work(matrix: sp.spmatrix) -> float:
    """Postings the exact product visits per row on average: ``Σ_t df_t² / n``."""
    df = np.diff(sp.csc_matrix(matrix).indptr).astype(np.float64)
    return float((df * df).sum() / max(1, matrix.shape[0]))


def posting_cap(matrix: sp.spmatrix, work_budget: float | None) -> int | None:
    """The postings kept per term for ``work_budget`` postings visited per row on average:
    None (exact, nothing capped) when ``Σ_t df_t² <= work_budget × n`` or no budget is given,
    else the largest cap ``c`` with ``Σ_t df_t × min(df_t, c) <= work_budget × n`` (at least
    1). Deterministic: the same matrix and budget give the same cap on every machine."""
    if work_budget is None:
        return None
    if float(work_budget) < 1:
        raise NeighbourError("work_budget must be at least 1.")
    n = max(1, matrix.shape[0])
    df = np.sort(np.diff(sp.csc_matrix(matrix).indptr).astype(np.float64))
    allowed = float(work_budget) * n
    if (df * df).sum() <= allowed:
        return None
    # work(c) = Σ_{df<=c} df² + c × Σ_{df>c} df: increasing in c; binary search over c.
    sq_prefix = np.concatenate(([0.0], np.cumsum(df * df)))
    prefix = np.concatenate(([0.0], np.cumsum(df)))

    def work(c: int) -> float:
        i = int(np.searchsorted(df, c, side="right"))
        return sq_prefix[i] + c * (prefix[-1] - prefix[i])

    lo, hi = 1, int(df[-1])
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if work(mid) <= allowed:
            lo = mid
        else:
            hi = mid - 1
    return lo


def cap_postings(matrix_t: sp.csr_matrix, cap: int) -> sp.csr_matrix:
    """``matrix_t`` (term-major) with each term's postings cut to its ``cap`` highest weights
    (equal weights: the lower rows), columns sorted."""
    if int(cap) < 1:
        raise NeighbourError("cap must be at least 1.")
    counts = np.diff(matrix_t.indptr)
    if counts.size == 0 or counts.max() <= cap:
        return matrix_t
    terms = np.repeat(np.arange(matrix_t.shape[0]), counts)
    # Within each term, by weight descending then row ascending (lexsort: last key first).
    order = np.lexsort((matrix_t.indices, -matrix_t.data, terms))
    rank = np.arange(order.size) - np.repeat(matrix_t.indptr[:-1], counts)
    keep = order[rank < cap]
    keep.sort()  # back in term-major, row-sorted order
    kept_counts = np.minimum(counts, cap)
    indptr = np.concatenate(([0], np.cumsum(kept_counts))).astype(matrix_t.indptr.dtype)
    out = sp.csr_matrix((matrix_t.data[keep], matrix_t.indices[keep], indptr), shape=matrix_t.shape)
    out.has_sorted_indices = True
    return out


def _exact_pairs(
    matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray, cells: int = 1 << 24
) -> np.ndarray:
    """Cosine of each pair ``(rows[i], cols[i])`` of the row-normalised ``matrix``; ``rows``
    ascending. A few rows at a time are spread dense (at most ``cells`` floats) and each
    pair's column-row entries gathered from them: linear in the pairs' terms, no sparse
    fancy indexing (which cost more than the capped product itself)."""
    out = np.zeros(rows.size, dtype=np.float32)
    if rows.size == 0:
        return out
    n_terms = matrix.shape[1]
    step = max(1, cells // max(1, n_terms))
    uniq = np.unique(rows)
    for u0 in range(0, uniq.size, step):
        chunk = uniq[u0 : u0 + step]
        # A scratch of at most ``cells`` floats (64 MB) for a few rows, never the catalog.
        rows_chunk = matrix[chunk]
        dense = np.zeros(chunk.size * n_terms, dtype=np.float32)
        dense[
            np.repeat(np.arange(chunk.size, dtype=np.int64) * n_terms, np.diff(rows_chunk.indptr))
            + rows_chunk.indices
        ] = rows_chunk.data
        lo = np.searchsorted(rows, chunk[0])
        hi = np.searchsorted(rows, chunk[-1], side="right")
        local = np.searchsorted(chunk, rows[lo:hi]).astype(np.int64)
        sub = matrix[cols[lo:hi]]  # the column rows, in pair order
        lengths = np.diff(sub.indptr)
        flat = np.repeat(local * n_terms, lengths) + sub.indices
        # One trailing zero: reduceat needs every start inside the array, empty rows included.
        vals = np.append(dense[flat] * sub.data, np.float32(0))
        sums = np.add.reduceat(vals, sub.indptr[:-1])
        out[lo:hi] = np.where(lengths > 0, sums, 0)
    return out


def block_neighbours(
    matrix: sp.csr_matrix,
    matrix_t: sp.csr_matrix,
    start: int,
    stop: int,
    k: int,
    *,
    capped: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` neighbours of rows ``start:stop`` (self excluded, similarity > 0).

    ``matrix`` rows must be L2-normalised and ``matrix_t`` its transpose (see
    :func:`normalised`). Returns ``(idx, sim)`` of shape ``(stop - start, k)``, best first (equal
    similarities by lower row; which of several tied at the k-th place is kept is the
    kernel's choice), padded with -1 / 0. ``capped``: ``matrix_t``'s postings were capped
    (:func:`cap_postings`), so the product's values are partial: the best ``CANDIDATES × k``
    of each row are re-scored exactly against ``matrix`` and the best ``k`` of those kept."""
    n = matrix.shape[0]
    if not 0 <= start <= stop <= n:
        raise NeighbourError(f"block {start}:{stop} is outside 0..{n}.")
    if int(k) < 1:
        raise NeighbourError("k must be at least 1.")
    idx = np.full((stop - start, k), -1, dtype=np.int32)
    sim = np.zeros((stop - start, k), dtype=np.float32)
    if stop == start:
        return idx, sim
    # sparse_dot_topn keeps only each row's k + 1 best (self included) while multiplying:
    # 2.8x faster than the full product + argpartition, the same neighbours
    # (bench/bench_kernel.py, docs/benchmarks.md).
    top_n = int(k) * CANDIDATES + 1 if capped else int(k) + 1
    prod = sp_matmul_topn(matrix[start:stop], matrix_t, top_n=top_n, sort=True, n_threads=1)
    if capped:
        pair_rows = np.repeat(np.arange(start, stop), np.diff(prod.indptr))
        prod.data = _exact_pairs(matrix, pair_rows, prod.indices)
    # Per row: self and non-positive out, then by similarity descending, equal ones by lower
    # row, the first k (one sort for the block instead of one per row).
    rows = np.repeat(np.arange(stop - start), np.diff(prod.indptr))
    cols, vals = prod.indices, prod.data
    keep = (cols != rows + start) & (vals > 0)
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    order = np.lexsort((cols, -vals, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    rank = np.arange(rows.size) - np.searchsorted(rows, rows)
    top = rank < k
    idx[rows[top], rank[top]] = cols[top]
    sim[rows[top], rank[top]] = vals[top]
    return idx, sim


def neighbour_count(n_rows: int, k: int) -> int:
    """The ``k`` actually stored for ``n_rows`` movies: at most ``n_rows - 1``, at least 1."""
    return max(1, min(int(k), max(int(n_rows) - 1, 1)))


def plan_blocks(n_rows: int, block_rows: int = BLOCK_ROWS) -> list[tuple[int, int]]:
    """``[(start, stop), ...]``: the row blocks of ``n_rows`` rows, in order."""
    if int(block_rows) < 1:
        raise NeighbourError("block_rows must be at least 1.")
    return [
        (start, min(start + int(block_rows), int(n_rows)))
        for start in range(0, int(n_rows), int(block_rows))
    ]


def empty_neighbours(n_rows: int, k: int) -> dict[str, np.ndarray]:
    """The arrays :func:`content_neighbours` fills, all padding (-1 / 0)."""
    return {
        "content_nbr_idx": np.full((n_rows, k), -1, dtype=np.int32),
        "content_nbr_sim": np.zeros((n_rows, k), dtype=np.float32),
    }


def add_reverse(idx: np.ndarray, sim: np.ndarray, chunk_rows: int = 65536) -> None:
    """Symmetrise the lists in place: each row keeps its ``k`` best of its own neighbours and
    the rows that list it (if A is among B's, B is offered to A with the same similarity),
    best first, equal similarities by lower row. Used after a capped kernel: a link missed
    from one side is usually found from the other."""
    n, k = idx.shape
    if n == 0 or k == 0:
        return
    valid = idx >= 0
    src = np.repeat(np.arange(n, dtype=np.int32), valid.sum(axis=1))
    dst, val = idx[valid], sim[valid]
    # The reverse offers grouped by the row they go to.
    order = np.argsort(dst, kind="stable")
    rev_row, rev_src, rev_val = dst[order], src[order], val[order]
    del order, src, dst, val, valid
    rev_ptr = np.searchsorted(rev_row, np.arange(n + 1))
    for lo in range(0, n, int(chunk_rows)):
        hi = min(n, lo + int(chunk_rows))
        f_idx, f_sim = idx[lo:hi], sim[lo:hi]
        f_ok = f_idx >= 0
        rows = np.concatenate(
            (np.repeat(np.arange(lo, hi), f_ok.sum(axis=1)), rev_row[rev_ptr[lo] : rev_ptr[hi]])
        )
        cols = np.concatenate((f_idx[f_ok], rev_src[rev_ptr[lo] : rev_ptr[hi]]))
        vals = np.concatenate((f_sim[f_ok], rev_val[rev_ptr[lo] : rev_ptr[hi]]))
        # One copy per (row, column): the higher (both sides' copies are exact cosines;
        # they differ only by rounding).
        key = rows.astype(np.int64) * n + cols
        o = np.argsort(key)
        key, vals = key[o], vals[o]
        start = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
        vals = np.maximum.reduceat(vals, start)
        key = key[start]
        rows, cols = key // n, key % n
        # By row, similarity descending, equal ones by lower column: the unsigned bit pattern
        # of a non-negative float32 orders like the float, so (row, -sim) is one int64 key;
        # a stable sort of it on column order breaks the ties (key is already by column).
        desc = np.uint32(0xFFFFFFFF) - vals.astype(np.float32).view(np.uint32)
        o = np.argsort((rows << 32) | desc.astype(np.int64), kind="stable")
        rows, cols, vals = rows[o], cols[o], vals[o]
        starts = np.searchsorted(rows, np.arange(lo, hi))
        rank = np.arange(rows.size) - starts[rows - lo]
        keep = rank < k
        f_idx[:] = -1
        f_sim[:] = 0
        f_idx[rows[keep] - lo, rank[keep]] = cols[keep]
        f_sim[rows[keep] - lo, rank[keep]] = vals[keep]


def content_neighbours(
    matrix: sp.spmatrix,
    k: int,
    *,
    block_rows: int = BLOCK_ROWS,
    max_term_rows: int | None = None,
    work_budget: float | None = None,
    reverse: bool = True,
    progress: ProgressFn | None = None,
) -> dict[str, np.ndarray]:
    """``{"content_nbr_idx", "content_nbr_sim"}`` for every row, block by block, in order.

    ``work_budget``: see the module (None = always exact). When the budget caps the postings
    the lists are symmetrised (:func:`add_reverse`) unless ``reverse`` is False."""
    if int(block_rows) < 1:
        raise NeighbourError("block_rows must be at least 1.")
    cap = posting_cap(matrix, work_budget)
    m, mt = normalised(matrix, max_term_rows, cap)
    n = m.shape[0]
    blocks = plan_blocks(n, block_rows)
    k = neighbour_count(n, k)
    out = empty_neighbours(n, k)
    idx, sim = out["content_nbr_idx"], out["content_nbr_sim"]
    for start, stop in blocks:
        idx[start:stop], sim[start:stop] = block_neighbours(
            m, mt, start, stop, k, capped=cap is not None
        )
        if progress:
            progress(stop, n, "Content neighbours")
    if cap is not None and reverse:
        add_reverse(idx, sim)
    return out
