"""Benchmark: build-time content neighbours (``recommendations.neighbours``): exact vs capped.

For one catalog (``--catalog``) and each size: the exact blocked kernel (``content_neighbours``,
k=50), then for each ``--budgets`` value (postings visited per movie:
``RECS_NEIGHBOUR_WORK_BUDGET``)
the kernel with each term's postings capped to fit it (``posting_cap``; a budget the exact work
already fits runs exact), before and after the finish's symmetrisation (``add_reverse``):
wall time, time per 2,048-row block, the process's peak RSS, and recall@k and recall@12 of
each movie's list against the exact one on ``--sample`` rows. The naive method (one
matrix-vector scan + argpartition per row, timed on the sampled rows and scaled to the
catalog) is printed as a ratio for the exact run.

Catalogs:

* ``fitted``: ``synthetic_catalog.Catalog`` fitted with ``tfidf.fit_tfidf`` (topics sharing
  keywords; the realistic one), cached in ``--cache`` (``bench/fitted_catalog.py``);
* ``tmdb``: the 3,000 real TMDB movies of ``SHARED_DATA_DIR/tmdb-5000-partial`` (genres,
  keywords, overview; read at run time, never copied), fitted with ``tfidf.fit_tfidf``;
* ``synthetic``: ``bench_recommend.synthetic_matrix`` (random Zipf terms, no structure: the
  worst case for capping, as nothing ties a movie to its neighbours but chance).

    nice -n 10 .venv/bin/python bench/bench_neighbours.py --catalog fitted --sizes 100000 \\
        --cache /work/scratch-fitted --budgets 20000,5000,2000
    nice -n 10 .venv/bin/python bench/bench_neighbours.py --catalog tmdb --budgets 300,100
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from recommendations import neighbours, tfidf  # noqa: E402

TMDB = Path(os.environ.get("SHARED_DATA_DIR", REPO.parent / "shared" / "data"))


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def naive_per_row(matrix, rows, k) -> float:
    started = time.perf_counter()
    for r in rows:
        sims = (matrix @ matrix[int(r)].T).toarray().ravel()
        sims[int(r)] = -1
        np.argpartition(-sims, k)[:k]
    return (time.perf_counter() - started) / len(rows)


def tmdb_matrix():
    path = TMDB / "tmdb-5000-partial" / "movie_details.jsonl"
    soups = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            kw = d.get("keywords") or {}
            soups.append(
                tfidf.build_soup(
                    genres=[g["name"] for g in d.get("genres") or []],
                    keywords=[k["name"] for k in (kw.get("keywords") or [])],
                    overview=d.get("overview") or "",
                    cast=[],
                    directors=[],
                )
            )
    return tfidf.fit_tfidf(soups).matrix


def catalog(args, n, rng):
    if args.catalog == "tmdb":
        return tmdb_matrix()
    if args.catalog == "fitted":
        import fitted_catalog

        return fitted_catalog.load(n, args.cache).matrix
    from bench.bench_recommend import synthetic_matrix

    return synthetic_matrix(n, rng)


def recall(idx, exact_idx, rows, k) -> float:
    hits = []
    for r in rows:
        want = set(exact_idx[r][:k]) - {-1}
        if want:
            hits.append(len(set(idx[r][:k]) & want) / len(want))
    return float(np.mean(hits)) if hits else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", choices=("fitted", "tmdb", "synthetic"), default="fitted")
    parser.add_argument("--cache", type=Path, default=Path("/work/scratch-fitted"))
    parser.add_argument("--sizes", default="100000", help="comma list (tmdb: ignored)")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--budgets", default="20000,5000,2000", help="postings per movie")
    parser.add_argument("--sample", type=int, default=2000, help="rows for recall / naive")
    parser.add_argument("--naive-sample", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"$ {' '.join(sys.argv)}")
    load = os.getloadavg()
    day = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {day}")
    sizes = [0] if args.catalog == "tmdb" else [int(s) for s in args.sizes.split(",")]
    for size in sizes:
        m = catalog(args, size, rng)
        n = m.shape[0]
        k = neighbours.neighbour_count(n, args.k)
        blocks = -(-n // neighbours.BLOCK_ROWS)
        print(
            f"\n{args.catalog} catalog, {n:,} movies, {m.shape[1]:,} terms, "
            f"{m.nnz / n:.1f} terms/movie; exact work {neighbours.exact_work(m):,.0f} "
            "postings/movie"
        )
        print(
            "| movies | method | posting cap | wall s | s per block | peak RSS GiB | "
            f"recall@{k} | recall@12 | naive s (scaled) | naive / blocked |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        sample = rng.choice(n, size=min(args.sample, n), replace=False)
        started = time.perf_counter()
        exact = neighbours.content_neighbours(m, k)["content_nbr_idx"]
        wall = time.perf_counter() - started
        naive = naive_per_row(m, sample[: args.naive_sample], k) * n
        print(
            f"| {n:,} | exact | - | {wall:.1f} | {wall / blocks:.2f} | {peak_rss_gib():.2f} | "
            f"1.000 | 1.000 | {naive:.1f} | {naive / wall:.1f}x |",
            flush=True,
        )
        for budget in (float(b) for b in args.budgets.split(",") if b):
            cap = neighbours.posting_cap(m, budget)
            started = time.perf_counter()
            out = neighbours.content_neighbours(m, k, work_budget=budget, reverse=False)
            wall = time.perf_counter() - started
            idx, sim = out["content_nbr_idx"], out["content_nbr_sim"]
            label = f"budget {budget:,.0f}" + (" (fits: exact)" if cap is None else "")
            print(
                f"| {n:,} | {label} | {cap or '-'} | {wall:.1f} | {wall / blocks:.2f} | "
                f"{peak_rss_gib():.2f} | {recall(idx, exact, sample, k):.3f} | "
                f"{recall(idx, exact, sample, 12):.3f} | {naive:.1f} | {naive / wall:.1f}x |",
                flush=True,
            )
            if cap is None:
                continue
            started = time.perf_counter()
            neighbours.add_reverse(idx, sim)
            rev = time.perf_counter() - started
            print(
                f"| {n:,} | {label} + add reverse | {cap} | {wall + rev:.1f} "
                f"(reverse {rev:.1f}) | {(wall + rev) / blocks:.2f} | {peak_rss_gib():.2f} | "
                f"{recall(idx, exact, sample, k):.3f} | {recall(idx, exact, sample, 12):.3f} | "
                f"{naive:.1f} | {naive / (wall + rev):.1f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
