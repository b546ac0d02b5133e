"""Benchmark of the content-based recommender: build time and per-request latency.

Two parts (both print; nothing here is asserted, tests never time):

1. ``synthetic`` (no Django): N synthetic movies (default 100,000, up to 1,000,000) turned into
   soups and fitted with the real ``fit_tfidf`` (or, with ``--direct``, a random sparse TF-IDF
   matrix of the same shape), then per-request latency (p50/p95) of the real sparse serving
   path (profile, cosine over all rows, top 10, explanations). The naive approach (dense
   ``.toarray()`` matrix + sklearn ``cosine_similarity``, plus the classic N x N similarity
   matrix build) runs on a size where it fits in memory (``--naive-movies``, default 10,000),
   next to the sparse path on the same size, and the ratio is printed.
2. ``django``: the full build service (``build_model``) and ``recommend_for_user`` on a scratch
   SQLite database loaded with the demo catalog and with the 3,000-movie TMDB data read at run
   time from ``SHARED_DATA_DIR/tmdb-5000-partial/movie_details.jsonl`` (never copied).

The synthetic part also times the request the site serves since the hybrid landed
(``hybrid.recommend`` + shared terms, on hybrid arrays fitted to synthetic power-law ratings);
``--no-hybrid`` skips it.

Run from the repository root:

    .venv/bin/python bench/bench_recommend.py                      # both parts, 100k movies
    .venv/bin/python bench/bench_recommend.py synthetic --movies 1000000 --direct
    .venv/bin/python bench/bench_recommend.py django
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommendations import hybrid, tfidf  # noqa: E402  (pure modules: no Django needed)


def percentiles(samples_s: list[float]) -> str:
    ms = np.asarray(samples_s) * 1000
    return (
        f"p50 {np.percentile(ms, 50):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms, "
        f"max {ms.max():.2f} ms (n={len(ms)})"
    )


def machine() -> str:
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kib = int(fh.readline().split()[1])
            mem = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except OSError:
        pass
    return f"{platform.machine()}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}"


# --- synthetic -----------------------------------------------------------------------------


def synthetic_soups(n: int, rng: np.random.Generator, words_per_movie: int = 60) -> list[str]:
    """Soups with a Zipf-like word distribution, names as squashed tokens, like real ones."""
    vocab = np.array([f"w{i:05d}" for i in range(30_000)])
    names = np.array([f"Person{i:06d}" for i in range(50_000)])
    genres = np.array(
        ["Action", "Drama", "Comedy", "ScienceFiction", "Romance", "Thriller", "Horror", "Crime"]
    )
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 1.05
    weights /= weights.sum()
    words = rng.choice(len(vocab), size=(n, words_per_movie), p=weights)
    people = rng.integers(0, len(names), size=(n, 4))
    gen = rng.integers(0, len(genres), size=(n, 2))
    return [" ".join([*genres[gen[i]], *vocab[words[i]], *names[people[i]]]) for i in range(n)]


def synthetic_matrix(n: int, rng: np.random.Generator, features=5000, per_row=45):
    """A random CSR matrix shaped like a fitted one (Zipf columns, L2-normalised rows)."""
    weights = 1.0 / np.arange(1, features + 1) ** 0.9
    weights /= weights.sum()
    cols = rng.choice(features, size=n * per_row, p=weights).astype(np.int32)
    rows = np.repeat(np.arange(n, dtype=np.int64), per_row)
    data = rng.random(n * per_row, dtype=np.float32) + 0.05
    m = sp.csr_matrix((data, (rows, cols)), shape=(n, features), dtype=np.float32)
    m.sum_duplicates()
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    m = sp.csr_matrix(sp.diags(1.0 / norms) @ m, dtype=np.float32)
    m.sort_indices()
    return m


def sparse_request(matrix, norms, names, liked, weights, n=10, matrix_t=None):
    """Everything one recommendation request does with the model."""
    profile = tfidf.user_profile(matrix, liked, weights)
    scores = tfidf.cosine_scores(matrix, profile, norms, matrix_t=matrix_t)
    best = tfidf.top_n(scores, liked, n)
    tfidf.contributions(matrix, liked, weights, best)
    for row in best:
        tfidf.shared_terms(matrix, profile, int(row), names, k=10)
    return best


def synthetic_ratings(n_items: int, rng, users=2000, per_user=60) -> sp.csr_matrix:
    """Power-law site ratings (a few movies get most of them), scores 0.5-5.0."""
    weights = 1.0 / np.arange(1, n_items + 1) ** 0.9
    weights /= weights.sum()
    cols = rng.choice(n_items, size=users * per_user, p=weights)
    rows = np.repeat(np.arange(users), per_user)
    m = sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(users, n_items))
    m.sum_duplicates()  # a user rating a movie twice counts once
    m.data = rng.integers(1, 11, size=m.nnz) / 2.0
    return m


def hybrid_users(rng, n_rows: int, count: int, ratings: sp.csr_matrix):
    """Histories like the site's: 5-30 liked movies (half of them popular ones) + 2 disliked."""
    popular = np.flatnonzero(np.diff(ratings.tocsc().indptr))
    for _ in range(count):
        k = int(rng.integers(5, 31))
        liked = np.unique(
            np.concatenate(
                [rng.choice(popular, k // 2, replace=False), rng.choice(n_rows, k - k // 2)]
            )
        )
        disliked = np.setdiff1d(rng.choice(n_rows, 2), liked)
        rows = np.concatenate([liked, disliked])
        scores = np.concatenate([rng.choice([4.0, 4.5, 5.0], len(liked)), [1.5] * len(disliked)])
        yield rows, scores


def served_request(arrays, matrix, norms, names, rows, scores, matrix_t, neighbours, n=10):
    """What pipeline.recommend_for_user does with a hybrid model (minus the database)."""
    extra = {}
    if "neighbours" in inspect.signature(hybrid.recommend).parameters:
        extra["neighbours"] = neighbours  # wrapped once at load; older code had no such option
    recs = hybrid.recommend(
        arrays,
        tfidf_matrix=matrix,
        history_rows=rows,
        history_scores=scores,
        n=n,
        tfidf_row_norms=norms,
        tfidf_matrix_t=matrix_t,
        **extra,
    )
    liked = scores >= 4.0
    profile = tfidf.user_profile(matrix, rows[liked], scores[liked])
    for rec in recs:
        tfidf.shared_terms(matrix, profile, rec.row, names, k=10)
    return recs


def naive_request(dense, liked, weights, n=10):
    from sklearn.metrics.pairwise import cosine_similarity

    profile = (dense[liked] * weights[:, None]).sum(axis=0, keepdims=True) / weights.sum()
    scores = cosine_similarity(dense, profile).ravel()
    scores[liked] = -np.inf
    return np.argsort(-scores)[:n]


def random_users(rng, n_rows: int, count: int):
    for _ in range(count):
        k = int(rng.integers(5, 31))
        liked = rng.choice(n_rows, size=k, replace=False)
        yield liked, rng.choice([4.0, 4.5, 5.0], size=k)


def time_requests(fn, users) -> list[float]:
    samples = []
    for liked, weights in users:
        t0 = time.perf_counter()
        fn(liked, weights)
        samples.append(time.perf_counter() - t0)
    return samples


def run_synthetic(args) -> dict:
    from sklearn.metrics.pairwise import cosine_similarity

    rng = np.random.default_rng(args.seed)
    out: dict = {"movies": args.movies}
    print(f"\n== synthetic: {args.movies:,} movies ({'direct matrix' if args.direct else 'soups'})")
    t0 = time.perf_counter()
    if args.direct:
        matrix = synthetic_matrix(args.movies, rng)
        names = np.array([f"t{i}" for i in range(matrix.shape[1])])
        norms = tfidf.compute_row_norms(matrix)
        out["build_what"] = "random CSR matrix (no fit)"
    else:
        soups = synthetic_soups(args.movies, rng)
        t_soups = time.perf_counter() - t0
        t0 = time.perf_counter()
        model = tfidf.fit_tfidf(soups, tfidf.TfidfParams())
        matrix, names, norms = model.matrix, model.feature_names, model.row_norms
        out["build_what"] = f"fit_tfidf with reference params (soups made in {t_soups:.1f} s)"
        out["min_df_used"] = model.min_df_used
        del soups
    matrix_t = tfidf.transpose(matrix)  # stored with every version: the fast cosine path
    out["build_s"] = time.perf_counter() - t0
    out["vocabulary"], out["nnz"] = matrix.shape[1], int(matrix.nnz)
    mb = (matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes) / 1e6
    print(
        f"build: {out['build_s']:.2f} s ({out['build_what']}); vocabulary {matrix.shape[1]:,}, "
        f"nnz {matrix.nnz:,}, CSR size {mb:.1f} MB"
    )
    out["csr_mb"] = mb

    users = list(random_users(rng, matrix.shape[0], args.requests))
    sparse_request(matrix, norms, names, *users[0], matrix_t=matrix_t)  # warm-up
    samples = time_requests(
        lambda liked, w: sparse_request(matrix, norms, names, liked, w, matrix_t=matrix_t), users
    )
    out["sparse_full"] = samples
    print(f"sparse request on {matrix.shape[0]:,} movies: {percentiles(samples)}")
    plain = time_requests(lambda liked, w: sparse_request(matrix, norms, names, liked, w), users)
    print(f"  same without the term-major copy: {percentiles(plain)}")

    if not args.no_hybrid:
        t0 = time.perf_counter()
        site = synthetic_ratings(matrix.shape[0], rng)
        arrays = hybrid.fit(
            tfidf_matrix=matrix, ratings=site, tmdb_popularity=rng.random(matrix.shape[0])
        )
        # As stored and loaded by the site: 32-bit floats, neighbours wrapped once.
        neighbours = hybrid.neighbour_matrix(arrays)
        print(
            f"hybrid.fit on {site.nnz:,} synthetic site ratings: {time.perf_counter() - t0:.1f} s "
            f"({len(arrays['cf_data']):,} neighbour entries)"
        )
        h_users = list(hybrid_users(rng, matrix.shape[0], args.requests, site))
        served_request(arrays, matrix, norms, names, *h_users[0], matrix_t, neighbours)
        served = time_requests(
            lambda r, s_: served_request(arrays, matrix, norms, names, r, s_, matrix_t, neighbours),
            h_users,
        )
        out["served"] = served
        print(f"served request (hybrid.recommend + shared terms): {percentiles(served)}")

    # Naive vs sparse on a size where the dense matrix fits.
    n = min(args.naive_movies, matrix.shape[0])
    small = matrix[:n]
    small_norms = norms[:n]
    small_t = tfidf.transpose(small)
    t0 = time.perf_counter()
    dense = small.toarray().astype(np.float64)  # the naive way: densify the whole matrix
    t_dense = time.perf_counter() - t0
    t0 = time.perf_counter()
    full_sim = cosine_similarity(dense)  # the classic N x N similarity "model"
    t_full = time.perf_counter() - t0
    full_gb = full_sim.nbytes / 1e9
    del full_sim
    print(
        f"naive build on {n:,} movies: toarray {t_dense:.2f} s ({dense.nbytes / 1e9:.2f} GB), "
        f"N x N cosine_similarity {t_full:.2f} s ({full_gb:.2f} GB)"
    )
    small_users = list(random_users(rng, n, min(args.requests, 100)))
    naive = time_requests(lambda liked, w: naive_request(dense, liked, w), small_users)
    sparse_small = time_requests(
        lambda liked, w: sparse_request(small, small_norms, names, liked, w, matrix_t=small_t),
        small_users,
    )
    ratio = np.median(naive) / np.median(sparse_small)
    print(f"naive dense request on {n:,} movies: {percentiles(naive)}")
    print(f"sparse request on {n:,} movies:      {percentiles(sparse_small)}")
    print(f"ratio (median naive / median sparse) on {n:,} movies: {ratio:.1f}x")
    out.update(
        naive_movies=n,
        naive_dense_s=t_dense,
        naive_full_sim_s=t_full,
        naive_full_sim_gb=full_gb,
        naive=naive,
        sparse_small=sparse_small,
        ratio=ratio,
    )
    return out


# --- django --------------------------------------------------------------------------------


def run_django(args) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="bench-recs-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
    os.environ["MODEL_DIR"] = str(scratch / "models")
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netflixrecs.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from decimal import Decimal

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from movies.models import Movie, Rating
    from movies.services.catalog import upsert_movie
    from recommendations import builds
    from recommendations.pipeline import recommend_for_user

    call_command("migrate", verbosity=0)
    print(f"\n== django (scratch SQLite in {scratch})")

    def time_requests(users) -> tuple[list[float], set[str]]:
        """One warm-up call per user (loads the model), then one timed call."""
        samples, strategies = [], set()
        for user in users:
            recommend_for_user(user=user)
            t0 = time.perf_counter()
            result = recommend_for_user(user=user, top_n=10)
            samples.append(time.perf_counter() - t0)
            strategies.add(str(result.strategy))  # the strategy's name
        return samples, strategies

    def print_examples(user) -> None:
        for item in recommend_for_user(user=user, top_n=3).items:
            print(f"    {item.movie.title}: {item.score} · {item.explanation}")

    def build_and_report(label: str) -> None:
        version = builds.build_model(triggered_by="bench")
        print(
            f"{label}: {version.movie_count:,} movies, vocabulary {version.vocabulary_size:,}, "
            f"nnz {version.nnz:,}, min_df used {version.min_df_used:g}, "
            f"build_model {version.build_seconds:.2f} s"
        )
        user_model = get_user_model()
        rng = np.random.default_rng(args.seed)
        ids = np.array(Movie.objects.values_list("pk", flat=True))
        users = []
        for u in range(args.django_users):
            user, _ = user_model.objects.get_or_create(username=f"bench-{label}-{u}")
            Rating.objects.filter(user=user).delete()
            picks = rng.choice(ids, size=min(len(ids), int(rng.integers(5, 21))), replace=False)
            Rating.objects.bulk_create(
                Rating(user=user, movie_id=int(m), score=Decimal(str(rng.choice([3.5, 4, 4.5, 5]))))
                for m in picks
            )
            users.append(user)
        samples, strategies = time_requests(users)
        print(
            f"{label}: recommend_for_user (DB queries included): {percentiles(samples)}; "
            f"strategies {sorted(strategies)}"
        )
        print_examples(users[-1])

        # Rebuilt now that the bench users have rated: the hybrid learns from their ratings
        # (a collaborative part once two movies are co-rated) and serves "hybrid".
        version = builds.build_model(triggered_by="bench")
        print(
            f"{label}: rebuilt with {version.site_ratings:,} site ratings from "
            f"{version.site_users} users ({version.cf_neighbours:,} neighbour entries), "
            f"build_model {version.build_seconds:.2f} s"
        )
        samples, strategies = time_requests(users)
        print(
            f"{label}: recommend_for_user after the rebuild: {percentiles(samples)}; "
            f"strategies {sorted(strategies)}"
        )
        print_examples(users[-1])

    t0 = time.perf_counter()
    try:
        call_command("load_demo", verbosity=0, no_progress=True)
    except Exception as exc:  # the demo loader belongs to another app; report, go on
        print(f"demo catalog: not loaded ({exc})")
    else:
        print(f"demo catalog loaded in {time.perf_counter() - t0:.1f} s")
        build_and_report("demo catalog")

    path = Path(settings.SHARED_DATA_DIR) / "tmdb-5000-partial" / "movie_details.jsonl"
    if not path.is_file():
        print(f"TMDB data not found at {path}; skipping the 3,000-movie run")
        return
    from movies.services.tmdb_mapping import movie_data_from_tmdb

    Movie.objects.all().delete()
    t0 = time.perf_counter()
    loaded = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            upsert_movie(data=movie_data_from_tmdb(json.loads(line)))
            loaded += 1
    print(f"TMDB data: {loaded:,} movies upserted in {time.perf_counter() - t0:.1f} s")
    build_and_report("TMDB 3,000")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", choices=["all", "synthetic", "django"], default="all")
    parser.add_argument("--movies", type=int, default=100_000, help="synthetic catalog size")
    parser.add_argument("--direct", action="store_true", help="random matrix instead of a fit")
    parser.add_argument("--naive-movies", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--django-users", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-hybrid", action="store_true", help="skip the served (hybrid) part")
    args = parser.parse_args()
    if not 1 <= args.movies <= 1_000_000:
        parser.error("--movies must be between 1 and 1,000,000")
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print("machine:", machine(), "·", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    if args.part in ("all", "synthetic"):
        run_synthetic(args)
    if args.part in ("all", "django"):
        run_django(args)


if __name__ == "__main__":
    main()
