"""Benchmark: build-time content neighbours (``recommendations.neighbours``) on synthetic catalogs.

For each size: the blocked sparse-product kernel (``content_neighbours``, k=50) with and without
pruning of common terms (``--prune``: terms in more than that share of rows are left out of the
product), wall time, time per 2,048-row block, the process's peak RSS, recall@50 of the pruned
run against the exact one on sampled rows, and the naive method (one matrix-vector scan +
argpartition per row, timed on ``--sample`` rows and scaled to the catalog) as a ratio.

    nice -n 10 .venv/bin/python bench/bench_neighbours.py --sizes 10000,30000,100000
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_recommend import synthetic_matrix  # noqa: E402
from recommendations import neighbours  # noqa: E402


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def naive_per_row(matrix, rows, k) -> float:
    started = time.perf_counter()
    for r in rows:
        sims = (matrix @ matrix[int(r)].T).toarray().ravel()
        sims[int(r)] = -1
        np.argpartition(-sims, k)[:k]
    return (time.perf_counter() - started) / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,30000")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--prune", type=float, default=0.02, help="share of rows (0 = off)")
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--exact-up-to", type=int, default=30000, help="unpruned run only below")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"$ {' '.join(sys.argv)}")
    load, day = os.getloadavg()[0], time.strftime("%Y-%m-%d")
    print(f"{os.cpu_count()} cores, load average {load:.2f}, {day}")
    print("| movies | method | wall s | s per block | peak RSS GiB | recall@k vs exact "
          "| naive s (scaled) | naive / blocked |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        m = synthetic_matrix(n, rng)
        sample = rng.choice(n, size=min(args.sample, n), replace=False)
        naive = naive_per_row(m, sample, args.k) * n
        runs = []
        if n <= args.exact_up_to:
            runs.append(("exact", None))
        if args.prune > 0:
            runs.append((f"pruned >{args.prune:g} of rows", max(1, int(args.prune * n))))
        exact_idx = None
        for name, cap in runs:
            started = time.perf_counter()
            out = neighbours.content_neighbours(m, args.k, max_term_rows=cap)
            wall = time.perf_counter() - started
            blocks = -(-n // neighbours.BLOCK_ROWS)
            recall = "1.000 (is exact)" if cap is None else "n/a"
            if cap is None:
                exact_idx = out["content_nbr_idx"]
            elif exact_idx is not None:
                hits = [
                    len(set(out["content_nbr_idx"][r]) & set(exact_idx[r]) - {-1})
                    / max(1, int((exact_idx[r] >= 0).sum()))
                    for r in sample
                ]
                recall = f"{np.mean(hits):.3f}"
            print(f"| {n:,} | {name} | {wall:.1f} | {wall / blocks:.2f} | {peak_rss_gib():.2f} | "
                  f"{recall} | {naive:.1f} | {naive / wall:.1f}x |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
