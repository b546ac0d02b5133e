"""Benchmark: hybrid.recommend vs the TF-IDF-only path, and how stored sizes grow with catalog.

Run from the repository root (no database needed):

    .venv/bin/python bench/bench_hybrid.py                 # MovieLens catalog + 10k/100k synthetic
    .venv/bin/python bench/bench_hybrid.py --sizes 10000   # quicker

Part 1 uses the evaluation catalog (../shared/data, as `manage.py evaluate`): the same TF-IDF
model serves both paths, the hybrid is fitted on the users' histories, and every evaluated
user's history is one request. Part 2 builds synthetic catalogs (random sparse TF-IDF-like rows,
power-law popularity ratings) to show that the stored arrays stay bounded: the neighbour CSR is
at most ``max_items * top_k`` entries whatever the catalog size, the rest is one float per movie.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommendations import evaluation, hybrid, tfidf  # noqa: E402


def tfidf_only(model: tfidf.TfidfModel, rows, scores, n=10, matrix_t=None):
    """What pipeline.recommend_for_user does for a user: profile, cosine, top-n, reasons."""
    liked = scores >= 4.0
    if not liked.any():
        return []
    profile = tfidf.user_profile(model.matrix, rows[liked], scores[liked])
    s = tfidf.cosine_scores(model.matrix, profile, model.row_norms, matrix_t=matrix_t)
    best = tfidf.top_n(s, rows, n)
    tfidf.contributions(model.matrix, rows[liked], scores[liked], best)
    return best


def hybrid_path(arrays, model, rows, scores, n=10, matrix_t=None, neighbours=None):
    """hybrid.recommend as the site calls it (neighbour CSR wrapped once, like loading.py)."""
    return hybrid.recommend(
        arrays,
        tfidf_matrix=model.matrix,
        tfidf_row_norms=model.row_norms,
        tfidf_matrix_t=matrix_t,
        history_rows=rows,
        history_scores=scores,
        n=n,
        explain_k=3,
        neighbours=neighbours,
    )


def timed(fn, requests, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        for args in requests:
            t = time.perf_counter()
            fn(*args)
            out.append((time.perf_counter() - t) * 1000)
    return out


def describe(ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"median {statistics.median(ms):6.2f} ms  p95 {p95:6.2f} ms  max {ms[-1]:6.2f} ms"


def nbytes(arrays: dict) -> int:
    return sum(np.asarray(v).nbytes for v in arrays.values())


def movielens_part(data: Path, repeat: int) -> None:
    catalog = evaluation.load_catalog(
        links_path=data / "movielens-small" / "links.csv",
        tmdb_path=data / "tmdb-5000-partial" / "movie_details.jsonl",
    )
    ratings = evaluation.load_ratings(
        ratings_path=data / "movielens-small" / "ratings.csv", catalog=catalog
    )
    splits = evaluation.split_users(ratings)
    ctx = evaluation.make_context(catalog, splits)
    model = ctx.tfidf_model
    t = time.perf_counter()
    arrays = hybrid.fit(
        tfidf_matrix=model.matrix,
        ratings=ctx.history,
        tmdb_popularity=evaluation.tmdb_prior_for(catalog),
    )
    fit_s = time.perf_counter() - t
    requests = [(s.history_rows, s.history_scores) for s in splits]
    lengths = [len(r) for r, _ in requests]
    print(
        f"MovieLens catalog: {len(catalog)} movies, {len(splits)} users "
        f"(history {min(lengths)}-{max(lengths)} ratings, median {int(np.median(lengths))})"
    )
    print(f"  hybrid.fit: {fit_s:.2f} s; stored hybrid arrays {nbytes(arrays) / 1e6:.2f} MB")
    mt = tfidf.transpose(model.matrix)
    nb = hybrid.neighbour_matrix(arrays)
    paths = {
        "TF-IDF only (auto path)": lambda r, s: tfidf_only(model, r, s, matrix_t=mt),
        "hybrid (served: auto path)": lambda r, s: hybrid_path(
            arrays, model, r, s, matrix_t=mt, neighbours=nb
        ),
        "hybrid (forward only)": lambda r, s: hybrid_path(arrays, model, r, s, neighbours=nb),
    }
    for label, fn in paths.items():
        ms = timed(fn, requests, repeat)
        print(f"  {label:<31} per request: {describe(ms)}  ({len(ms)} requests)")


def synthetic(n_items: int, n_users: int, rng) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """TF-IDF-like rows (30 terms of 5,000, L2-normalised) and power-law ratings."""
    terms = 30
    indices = rng.integers(0, 5000, size=n_items * terms)
    data = rng.random(n_items * terms).astype(np.float32)
    m = sp.csr_matrix(
        (data, indices, np.arange(0, n_items * terms + 1, terms)), shape=(n_items, 5000)
    )
    m.sum_duplicates()
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    m = sp.csr_matrix(sp.diags(1 / norms) @ m, dtype=np.float32)
    weights = 1.0 / np.arange(1, n_items + 1) ** 0.9  # a few movies get most ratings
    weights /= weights.sum()
    per_user = 60
    cols = np.concatenate(
        [rng.choice(n_items, per_user, replace=False, p=weights) for _ in range(n_users)]
    )
    rows = np.repeat(np.arange(n_users), per_user)
    scores = rng.integers(1, 11, size=len(cols)) / 2.0
    return m, sp.csr_matrix((scores, (rows, cols)), shape=(n_users, n_items))


def synthetic_part(sizes: list[int], n_users: int, repeat: int) -> None:
    rng = np.random.default_rng(0)
    print(f"Synthetic catalogs ({n_users} users x 60 ratings, HybridParams defaults):")
    print(
        f"  {'items':>9} {'rated':>7} {'fit s':>7} {'cf nnz':>9} {'hybrid MB':>10} "
        f"{'tfidf MB':>9}   median ms: TF-IDF  hybrid/auto  hybrid/forward"
    )
    for n in sizes:
        matrix, ratings = synthetic(n, n_users, rng)
        model = tfidf.TfidfModel(
            matrix=matrix,
            feature_names=np.array([]),
            params=tfidf.TfidfParams(),
            min_df_used=2,
            row_norms=tfidf.compute_row_norms(matrix),
        )
        t = time.perf_counter()
        arrays = hybrid.fit(tfidf_matrix=matrix, ratings=ratings, tmdb_popularity=rng.random(n))
        fit_s = time.perf_counter() - t
        requests = []
        for u in range(0, min(n_users, 100)):
            row = ratings[u]
            requests.append((row.indices.astype(np.int64), row.data))
        mt = tfidf.transpose(matrix)
        nb = hybrid.neighbour_matrix(arrays)
        c = timed(lambda r, s, m=model, t=mt: tfidf_only(m, r, s, matrix_t=t), requests, repeat)
        hp = timed(
            lambda r, s, a=arrays, m=model, t=mt, b=nb: hybrid_path(
                a, m, r, s, matrix_t=t, neighbours=b
            ),
            requests,
            repeat,
        )
        hd = timed(
            lambda r, s, a=arrays, m=model, b=nb: hybrid_path(a, m, r, s, neighbours=b),
            requests,
            repeat,
        )
        tfidf_mb = sum(v.nbytes for v in tfidf.matrix_to_arrays(matrix).values()) / 1e6
        print(
            f"  {n:>9} {int((ratings.getnnz(axis=0) > 0).sum()):>7} {fit_s:>7.2f} "
            f"{len(arrays['cf_data']):>9} {nbytes(arrays) / 1e6:>10.2f} {tfidf_mb:>9.1f}   "
            f"{statistics.median(c):6.2f} {statistics.median(hp):9.2f} "
            f"{statistics.median(hd):9.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("SHARED_DATA_DIR", ROOT.parent / "shared" / "data")),
    )
    parser.add_argument("--sizes", default="10000,100000", help="synthetic catalog sizes")
    parser.add_argument("--users", type=int, default=2000, help="synthetic users")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the requests")
    args = parser.parse_args()
    if (args.data / "movielens-small" / "ratings.csv").is_file():
        movielens_part(args.data, args.repeat)
    else:
        print(f"(no shared data at {args.data}: MovieLens part skipped)")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if sizes:
        synthetic_part(sizes, args.users, args.repeat)


if __name__ == "__main__":
    main()
