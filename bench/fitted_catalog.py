"""A generated catalog (``synthetic_catalog.Catalog``) fitted with the product's vectorizer, cached.

Fitting a million soups with ``tfidf.fit_tfidf`` takes many minutes, so the benchmarks fit a
size once and keep the result as one ``.npz`` per (size, seed) in a cache directory: the
fitted TF-IDF matrix (CSR arrays), the metadata the prior is made of (popularity, vote count,
vote average), each movie's main topic (to draw members' histories like real ones) and the
site ratings ``Catalog.ratings`` draws (for the collaborative part).

    .venv/bin/python bench/fitted_catalog.py --movies 1000000 --cache /work/scratch-serve

prints how long the generation and the fit took and the matrix's shape; the benchmarks call
:func:`load` (which fits on a cache miss).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synthetic_catalog import Catalog  # noqa: E402

from recommendations import tfidf  # noqa: E402


@dataclass
class Fitted:
    matrix: sp.csr_matrix  # the fitted TF-IDF matrix (float32, rows L2-normalised)
    popularity: np.ndarray
    vote_count: np.ndarray
    vote_average: np.ndarray
    topic: np.ndarray  # main topic of each movie
    ratings: sp.csr_matrix  # site ratings (users x movies)
    n_topics: int


def path_for(cache: Path, n: int, seed: int) -> Path:
    return Path(cache) / f"fitted_catalog_{n}_{seed}.npz"


def fit(n: int, seed: int = 2026, *, log=print) -> Fitted:
    """Generate ``n`` movies, fit their soups with ``tfidf.fit_tfidf`` (the product's defaults)."""
    cat = Catalog(n, seed)
    t0 = time.perf_counter()
    soups, pop, votes, avg, topic = [], np.empty(n), np.empty(n), np.empty(n), np.empty(n, np.int32)
    for m in cat.movies():
        soups.append(
            tfidf.build_soup(
                genres=m.genres,
                keywords=m.keywords,
                overview=m.overview,
                cast=m.cast,
                directors=m.directors,
            )
        )
        i = m.index
        pop[i], votes[i], avg[i], topic[i] = m.popularity, m.vote_count, m.vote_average, m.topic
    log(f"  generated {n:,} movies in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    model = tfidf.fit_tfidf(soups)
    del soups
    log(
        f"  fit_tfidf: {time.perf_counter() - t0:.1f} s, {model.matrix.shape}, "
        f"{model.matrix.nnz / n:.1f} terms/movie, min_df used {model.min_df_used}, "
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GiB"
    )
    t0 = time.perf_counter()
    ratings = sp.csr_matrix(cat.ratings())
    log(f"  site ratings: {ratings.nnz:,} in {time.perf_counter() - t0:.1f} s")
    return Fitted(model.matrix, pop, votes, avg, topic, ratings, cat.n_topics)


def save(f: Fitted, path: Path) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        data=f.matrix.data,
        indices=f.matrix.indices,
        indptr=f.matrix.indptr,
        shape=np.asarray(f.matrix.shape),
        popularity=f.popularity,
        vote_count=f.vote_count,
        vote_average=f.vote_average,
        topic=f.topic,
        r_data=f.ratings.data,
        r_indices=f.ratings.indices,
        r_indptr=f.ratings.indptr,
        r_shape=np.asarray(f.ratings.shape),
        n_topics=np.asarray(f.n_topics),
    )
    tmp.rename(path)  # written aside, then renamed: a killed fit leaves no half file


def load(n: int, cache: Path, seed: int = 2026, *, log=print) -> Fitted:
    """The fitted catalog of size ``n`` from ``cache``, fitting (and saving) it on a miss."""
    path = path_for(cache, n, seed)
    if not path.exists():
        log(f"  no cached fit at {path}: fitting {n:,} movies (slow at 1M)")
        Path(cache).mkdir(parents=True, exist_ok=True)
        save(fit(n, seed, log=log), path)
    z = np.load(path)
    matrix = sp.csr_matrix(
        (z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]), copy=False
    )
    ratings = sp.csr_matrix(
        (z["r_data"], z["r_indices"], z["r_indptr"]), shape=tuple(z["r_shape"]), copy=False
    )
    return Fitted(
        matrix,
        z["popularity"],
        z["vote_count"],
        z["vote_average"],
        z["topic"],
        ratings,
        int(z["n_topics"]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movies", type=int, required=True)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--cache", type=Path, required=True)
    args = parser.parse_args()
    t0 = time.perf_counter()
    f = load(args.movies, args.cache, args.seed)
    print(
        f"{args.movies:,} movies: {f.matrix.shape}, nnz {f.matrix.nnz:,}, "
        f"{f.ratings.nnz:,} site ratings, {f.n_topics} topics; {time.perf_counter() - t0:.1f} s"
    )


if __name__ == "__main__":
    main()
