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
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from sparse_dot_topn import sp_matmul_topn

ProgressFn = Callable[[int, int, str], None]
BLOCK_ROWS = 2048


class NeighbourError(ValueError):
    """Bad input to the neighbour kernel (a programming error, not user input)."""


def normalised(
    matrix: sp.spmatrix, max_term_rows: int | None = None
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Row-normalised CSR (cosine = dot) and its transpose, common terms pruned if asked: the
    two operands of :func:`block_neighbours` (a fan-out build stores them once for every
    block worker to map)."""
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
    return m, sp.csr_matrix(m.T)


def block_neighbours(
    matrix: sp.csr_matrix, matrix_t: sp.csr_matrix, start: int, stop: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` neighbours of rows ``start:stop`` (self excluded, similarity > 0).

    ``matrix`` rows must be L2-normalised and ``matrix_t`` its transpose (see
    :func:`normalised`). Returns ``(idx, sim)`` of shape ``(stop - start, k)``, best first (equal
    similarities by lower row; which of several tied at the k-th place is kept is the
    kernel's choice), padded with -1 / 0."""
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
    prod = sp_matmul_topn(matrix[start:stop], matrix_t, top_n=int(k) + 1, sort=True, n_threads=1)
    for i in range(stop - start):
        lo, hi = prod.indptr[i], prod.indptr[i + 1]
        cols, vals = prod.indices[lo:hi], prod.data[lo:hi]
        keep = (cols != start + i) & (vals > 0)
        cols, vals = cols[keep], vals[keep]
        if cols.size > k:
            part = np.argpartition(-vals, k - 1)[:k]
            # Values tied with the k-th may fall either side of argpartition's cut: take all
            # of them, then the exact order below keeps the lower rows.
            kth = vals[part].min()
            part = np.flatnonzero(vals >= kth)
            cols, vals = cols[part], vals[part]
        order = np.lexsort((cols, -vals))[:k]
        idx[i, : order.size] = cols[order]
        sim[i, : order.size] = vals[order]
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


def content_neighbours(
    matrix: sp.spmatrix,
    k: int,
    *,
    block_rows: int = BLOCK_ROWS,
    max_term_rows: int | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, np.ndarray]:
    """``{"content_nbr_idx", "content_nbr_sim"}`` for every row, block by block, in order."""
    if int(block_rows) < 1:
        raise NeighbourError("block_rows must be at least 1.")
    m, mt = normalised(matrix, max_term_rows)
    n = m.shape[0]
    blocks = plan_blocks(n, block_rows)
    k = neighbour_count(n, k)
    out = empty_neighbours(n, k)
    idx, sim = out["content_nbr_idx"], out["content_nbr_sim"]
    for start, stop in blocks:
        idx[start:stop], sim[start:stop] = block_neighbours(m, mt, start, stop, k)
        if progress:
            progress(stop, n, "Content neighbours")
    return out
