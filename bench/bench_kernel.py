"""Kernel comparison for one content-neighbour block.

scipy product + argpartition (``recommendations.neighbours.block_neighbours``) against
``sparse_dot_topn.sp_matmul_topn`` on one 2,048-row block, k = 50, of
``bench_recommend.synthetic_matrix(n)``. ``sparse_dot_topn`` is not a dependency yet, so it must
be importable some other way, e.g. ``PYTHONPATH=/tmp/i12sdt python bench/bench_kernel.py 10000``.
"""

import resource
import sys
import time

sys.path[:0] = ["bench", "."]

import numpy as np  # noqa: E402
from bench_recommend import synthetic_matrix  # noqa: E402
from sparse_dot_topn import sp_matmul_topn  # noqa: E402

from recommendations import neighbours  # noqa: E402

BLOCK, K = 2048, 50


def main(n: int) -> None:
    m = synthetic_matrix(n, np.random.default_rng(0)).tocsr().astype(np.float32)
    mt = m.T.tocsr()
    t = time.perf_counter()
    idx, _ = neighbours.block_neighbours(m, mt, 0, BLOCK, K)
    t_scipy = time.perf_counter() - t
    t = time.perf_counter()
    # k + 1: the product includes the row itself, which block_neighbours excludes.
    c = sp_matmul_topn(m[:BLOCK], mt, top_n=K + 1, sort=True, n_threads=1)
    t_topn = time.perf_counter() - t
    overlap = np.mean(
        [
            len(set(idx[i][idx[i] >= 0]) & (set(c[i].indices) - {i})) / max(1, (idx[i] >= 0).sum())
            for i in range(200)
        ]
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"n={n} block={BLOCK} k={K}: scipy block_neighbours {t_scipy:.2f}s  "
        f"sparse_dot_topn(1 thread) {t_topn:.2f}s  overlap@50 {overlap:.3f}  peakRSS {rss:.2f} GiB"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
