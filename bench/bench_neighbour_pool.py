"""Benchmark: capped content neighbours at a million movies, sampled blocks, by budget and pool.

A whole 1M neighbour build takes many minutes per setting; this one times a few row blocks
spread evenly over the fitted catalog (``bench/fitted_catalog.py``, cached in ``--cache``) with
the product's kernel (``neighbours.block_neighbours`` on postings capped by ``posting_cap``)
for each ``--budgets`` value (``RECS_NEIGHBOUR_WORK_BUDGET``) and each ``--pools`` value
(``neighbours.CANDIDATES``: the best pool × k of the capped product re-scored exactly), and
measures recall@50 and recall@12 of ``--rows-per-block`` sampled rows of each block against a
brute-force scan of the whole catalog (the naive method, timed per row and scaled to a block
for the ratio). A stored movie counts as found when its exact score reaches the exact k-th
best (ties). Before add-reverse (the finish's symmetrisation needs every block), so the
recall here is a lower bound of a build's.

    nice -n 10 .venv/bin/python bench/bench_neighbour_pool.py --cache /work/scratch-serve \\
        --budgets 20000,40000,80000 --pools 2,4,8
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as a build worker

import argparse  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import fitted_catalog  # noqa: E402
from bench_recommend import machine  # noqa: E402

from recommendations import neighbours  # noqa: E402

K = 50


def exact_lines(m, rows: np.ndarray) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], float]:
    """Each sampled row's exact top-k and its full score vector (brute force), and seconds."""
    m_t = m.T.tocsr()
    out = {}
    started = time.perf_counter()
    for r in rows:
        scores = (m[r] @ m_t).toarray().ravel()
        scores[r] = -1.0
        top = np.argpartition(-scores, K)[:K]
        out[int(r)] = (top[np.argsort(-scores[top], kind="stable")], scores)
    return out, time.perf_counter() - started


def found(line: np.ndarray, top: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Share of the exact top-k reached by the first k of a stored line (ties count)."""
    kth = scores[top[k - 1]] - 1e-6
    got = [g for g in line[:k] if g >= 0 and scores[g] >= kth]
    return min(k, len(got)) / k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movies", type=int, default=1_000_000)
    parser.add_argument("--cache", type=Path, default=Path("/work/scratch-serve"))
    parser.add_argument("--budgets", default="20000,40000,80000")
    parser.add_argument("--pools", default="2,4,8", help="CANDIDATES values")
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--rows-per-block", type=int, default=50)
    args = parser.parse_args()
    print("$ " + shlex.join(["bench/bench_neighbour_pool.py", *sys.argv[1:]]))
    print(machine())
    fitted = fitted_catalog.load(args.movies, args.cache)
    m, m_t = neighbours.normalised(fitted.matrix)
    n, rows_per = m.shape[0], neighbours.BLOCK_ROWS
    rng = np.random.default_rng(3)
    starts = np.linspace(0, n - rows_per, args.blocks).astype(int)
    sample = {
        int(s): rng.choice(np.arange(s, s + rows_per), args.rows_per_block, replace=False)
        for s in starts
    }
    exact, exact_s = exact_lines(m, np.concatenate(list(sample.values())))
    naive_block = exact_s / len(exact) * rows_per
    print(f"exact scan: {1000 * exact_s / len(exact):.1f} ms per row = {naive_block:.1f} s a block")
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("\n| budget | posting cap | pool (× k) | s per block | naive / capped | recall@50 "
          "| recall@12 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for budget in [int(b) for b in args.budgets.split(",")]:
        cap = neighbours.posting_cap(m, budget)
        operand = neighbours.cap_postings(m_t, cap) if cap else m_t
        for pool in [int(p) for p in args.pools.split(",")]:
            neighbours.CANDIDATES = pool
            seconds, r50, r12 = [], [], []
            for s, rows in sample.items():
                started = time.perf_counter()
                idx, _ = neighbours.block_neighbours(
                    m, operand, s, s + rows_per, K, capped=cap is not None
                )
                seconds.append(time.perf_counter() - started)
                for r in rows:
                    top, scores = exact[int(r)]
                    r50.append(found(idx[r - s], top, scores, K))
                    r12.append(found(idx[r - s], top, scores, 12))
            per = float(np.mean(seconds))
            print(
                f"| {budget:,} | {cap or '-'} | {pool} | {per:.2f} | {naive_block / per:.0f}× | "
                f"{np.mean(r50):.3f} | {np.mean(r12):.3f} |",
                flush=True,
            )
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
