"""Kernel comparison for one content-neighbour block.

scipy's full sparse product + ``argpartition`` per row (the naive kernel, :func:`scipy_block`
below, what ``recommendations.neighbours`` used first) against the served kernel,
``recommendations.neighbours.block_neighbours`` on ``sparse_dot_topn.sp_matmul_topn``, on one
2,048-row block, k = 50, of ``bench_recommend.synthetic_matrix(n)``:

    nice -n 10 .venv/bin/python bench/bench_kernel.py 30000
"""

import resource
import sys
import time

sys.path[:0] = ["bench", "."]

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from bench_recommend import synthetic_matrix  # noqa: E402

from recommendations import neighbours  # noqa: E402

BLOCK, K = 2048, 50


def scipy_block(m, mt, start, stop, k):
    """The naive kernel: the whole (block x n) product, then argpartition per row."""
    prod = sp.csr_matrix(m[start:stop] @ mt)
    idx = np.full((stop - start, k), -1, dtype=np.int64)
    for i in range(stop - start):
        lo, hi = prod.indptr[i], prod.indptr[i + 1]
        cols, vals = prod.indices[lo:hi], prod.data[lo:hi]
        keep = cols != start + i
        cols, vals = cols[keep], vals[keep]
        best = np.argpartition(-vals, min(k, len(vals) - 1))[:k] if len(vals) > k else slice(None)
        idx[i, : len(cols[best])] = cols[best]
    return idx


def main(n: int) -> None:
    m = synthetic_matrix(n, np.random.default_rng(0)).tocsr().astype(np.float32)
    mt = m.T.tocsr()
    t = time.perf_counter()
    idx = scipy_block(m, mt, 0, BLOCK, K)
    t_scipy = time.perf_counter() - t
    t = time.perf_counter()
    served, _ = neighbours.block_neighbours(m, mt, 0, BLOCK, K)
    t_topn = time.perf_counter() - t
    overlap = np.mean(
        [
            len(set(idx[i][idx[i] >= 0]) & set(served[i][served[i] >= 0]))
            / max(1, (idx[i] >= 0).sum())
            for i in range(200)
        ]
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"n={n} block={BLOCK} k={K}: scipy product + argpartition {t_scipy:.2f}s  "
        f"block_neighbours (sparse_dot_topn, 1 thread) {t_topn:.2f}s  "
        f"ratio {t_scipy / t_topn:.1f}x  overlap@50 {overlap:.3f}  peakRSS {rss:.2f} GiB"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
