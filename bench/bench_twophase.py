"""Benchmark of two-phase serving against the exact full-scan hybrid (no Django).

Two catalogs (``--catalog``):

* ``fitted`` (the main one): ``synthetic_catalog.Catalog(n)`` -- topics sharing keywords,
  overview words, people and genres -- turned into soups and fitted with the product's
  ``tfidf.fit_tfidf``, cached per size under ``--cache`` (``bench/fitted_catalog.py``; a 1M
  fit takes many minutes once); the site ratings are ``Catalog.ratings`` (topic-structured),
  the prior the TMDB-style damped vote average; members' histories are drawn like real ones
  (mostly films of 1-3 favourite topics, liked, plus popular films rated anyhow);
* ``uniform`` (the worst case): ``bench_recommend.synthetic_matrix`` -- uniformly random Zipf
  columns, no neighbour structure at all -- with random power-law ratings and random histories.

For users with 5, 50 and 500 ratings (some below 2.5) it times, per request, on one thread,
the request as the site makes it (a pool of ``--n`` 50 scored, re-ranked by MMR to
``--shown`` 10 with ``RECS_MMR_LAMBDA`` 0.9, the 10 explained):

* the exact hybrid (``hybrid.recommend``: every row scored),
* two-phase (``twophase.recommend``: candidates, the safe step, the same blend on them),
* the reference design (sklearn ``cosine_similarity(profile, matrix)`` + a full sort),

wall time (p50/p95/p99) and CPU time (``time.process_time``, which waiting for a busy
machine does not inflate), the steps of two-phase, recall@10 and recall@``n`` of the
two-phase pool against the exact pool for the same user, the overlap of the shown lists,
how many lists the safe step proved exact, and with ``--sizes`` a table of latency against
catalog size. Content neighbours (stored per movie at build time on the site) are computed
here by brute force for the liked rows the bench users have.

    nice -n 10 .venv/bin/python bench/bench_twophase.py --movies 1000000 --users 30 --n 50 \\
        --cache /work/scratch-serve
    nice -n 10 .venv/bin/python bench/bench_twophase.py --catalog uniform --movies 1000000
    nice -n 10 .venv/bin/python bench/bench_twophase.py --sizes 3000,100000,1000000 --users 10
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core per request, as a web worker

import argparse  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import fitted_catalog  # noqa: E402
from bench_recommend import machine, synthetic_matrix, synthetic_ratings  # noqa: E402
from synthetic_catalog import zipf_weights  # noqa: E402

from recommendations import candidates, diversity, hybrid, tfidf, twophase  # noqa: E402

RATING_COUNTS = (5, 50, 500)
SITE_MMR_LAMBDA = 0.9  # settings.RECS_MMR_LAMBDA's default
DEFAULT_CACHE = Path(os.environ.get("BENCH_CACHE", Path.home() / ".cache" / "netflixrecs-bench"))


def idf_weighted(m):
    """The synthetic rows with sklearn's smoothed IDF applied and re-normalised: what a fitted
    TfidfVectorizer does to common terms (the plain synthetic matrix has no IDF, so its most
    common columns are also its heaviest)."""
    import scipy.sparse as sp

    n = m.shape[0]
    df = np.bincount(m.indices, minlength=m.shape[1])
    idf = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)
    m = m.copy()
    m.data *= idf[m.indices]
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    m = sp.csr_matrix(sp.diags(1.0 / norms) @ m, dtype=np.float32)
    m.sort_indices()
    return m


def make_model(n: int, rng, args):
    t0 = time.perf_counter()
    fitted = None
    if args.catalog == "fitted":
        fitted = fitted_catalog.load(n, args.cache)
        m, site = fitted.matrix, fitted.ratings
        prior = hybrid.tmdb_prior(fitted.vote_count, fitted.vote_average)
    else:
        m = synthetic_matrix(n, rng, per_row=100)
        if args.idf:
            m = idf_weighted(m)
        site, prior = synthetic_ratings(n, rng), rng.random(n)
    arrays = hybrid.fit(tfidf_matrix=m, ratings=site, tmdb_popularity=prior)
    model = {
        "arrays": arrays,
        "matrix": m,
        "matrix_t": tfidf.transpose(m),
        "norms": tfidf.compute_row_norms(m),
        "neighbours": hybrid.neighbour_matrix(arrays),
        "site": site,
        "fitted": fitted,
    }
    print(
        f"{args.catalog} catalog {n:,}: nnz {m.nnz:,} ({m.nnz / n:.1f} terms/movie, "
        f"{m.shape[1]:,} terms), {site.nnz:,} site ratings, "
        f"{model['neighbours'].nnz:,} CF neighbour entries; ready in "
        f"{time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    return model


def _ensure_liked(scores: np.ndarray) -> np.ndarray:
    if not (scores >= 4.0).any():
        scores[0] = 5.0
    return scores


def uniform_users(rng, model, per_count: int):
    """Random histories: half popular on the site, half anywhere; scores 0.5-5 at random."""
    n = model["matrix"].shape[0]
    popular = np.flatnonzero(np.diff(model["site"].tocsc().indptr))
    users = []
    for k in RATING_COUNTS:
        for _ in range(per_count):
            half = min(k // 2, len(popular))
            rows = np.unique(
                np.concatenate([rng.choice(popular, half, replace=False), rng.choice(n, k - half)])
            )
            scores = rng.choice([0.5, 1.5, 2.0, 3.0, 3.5, 4.0, 4.5, 5.0], len(rows))
            users.append((k, rows, _ensure_liked(scores)))
    return users


def fitted_users(rng, model, per_count: int, own_share: float = 0.6):
    """Histories like real members': ``own_share`` of the films from 1-3 favourite topics
    (picked like ``Catalog.ratings``, big topics more often), mostly liked (3.5-5 stars), the
    rest popular films (drawn by popularity) rated 1-4 at random, so about a third of those
    are below 2.5. Exactly ``k`` distinct films each."""
    f = model["fitted"]
    n = f.matrix.shape[0]
    by_topic = np.argsort(f.topic, kind="stable")
    starts = np.searchsorted(f.topic[by_topic], np.arange(f.n_topics + 1))
    topic_p = zipf_weights(f.n_topics, 0.7)  # as Catalog draws topic sizes and favourites
    pop_p = f.popularity / f.popularity.sum()
    users = []
    for k in RATING_COUNTS:
        for _ in range(per_count):
            fav = rng.choice(f.n_topics, int(rng.integers(1, 4)), replace=False, p=topic_p)
            own = np.concatenate([by_topic[starts[t] : starts[t + 1]] for t in fav])
            own = rng.choice(own, min(len(own), round(own_share * k)), replace=False)
            pop = rng.choice(n, 2 * k, replace=False, p=pop_p)
            pop = pop[~np.isin(pop, own)][: k - own.size]
            rows = np.concatenate([own, pop])
            mine = np.isin(f.topic[rows], fav)
            scores = np.where(
                mine,
                rng.choice([3.5, 4.0, 4.5, 5.0], rows.size, p=[0.15, 0.3, 0.3, 0.25]),
                rng.choice([1.0, 2.0, 2.5, 3.0, 3.5, 4.0], rows.size),
            )
            order = np.argsort(rows)
            users.append((k, rows[order], _ensure_liked(scores[order])))
    return users


def content_neighbours_for(model, users, limits, cache: Path | None = None):
    """Brute-force content neighbours of the liked rows two-phase will read (what a build
    stores for every row), kept in ``cache`` for the same catalog and users."""
    need = []
    for _, rows, scores in users:
        liked = scores >= 4.0
        lr, ls = rows[liked], scores[liked]
        need.append(lr[np.argsort(-ls, kind="stable")[: limits.max_liked]])
    need = np.unique(np.concatenate(need))
    n = model["matrix"].shape[0]
    if cache is not None and cache.exists():
        z = np.load(cache)
        if np.array_equal(z["rows"], need) and z["idx"].shape[1] == limits.content_k:
            nbr = np.full((n, limits.content_k), -1, dtype=np.int32)
            nbr[need] = z["idx"]
            print(f"  content neighbours of {need.size:,} liked rows from {cache}", flush=True)
            return nbr
    t0 = time.perf_counter()
    nbr = candidates.brute_content_neighbours(
        model["matrix"], need, limits.content_k, row_norms=model["norms"]
    )
    print(
        f"  content neighbours (brute force) for {need.size:,} liked rows: "
        f"{time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    if cache is not None:
        np.savez(cache, rows=need, idx=nbr[need])
    return nbr


def exact(model, rows, scores, n=10, pick=None, explain_k=3):
    return hybrid.recommend(
        model["arrays"],
        tfidf_matrix=model["matrix"],
        history_rows=rows,
        history_scores=scores,
        n=n,
        tfidf_row_norms=model["norms"],
        tfidf_matrix_t=model["matrix_t"],
        neighbours=model["neighbours"],
        pick=pick,
        explain_k=explain_k,
    )


def two_phase(model, rows, scores, nbr, n=10, stats=None, pick=None, explain_k=3):
    return twophase.recommend(
        model["arrays"],
        tfidf_matrix=model["matrix"],
        history_rows=rows,
        history_scores=scores,
        n=n,
        tfidf_row_norms=model["norms"],
        tfidf_matrix_t=model["matrix_t"],
        neighbours=model["neighbours"],
        content_nbr_idx=nbr,
        stats=stats,
        pick=pick,
        explain_k=explain_k,
    )


def reference(model, rows, scores):
    from sklearn.metrics.pairwise import cosine_similarity

    liked = scores >= 4.0
    profile = tfidf.user_profile(model["matrix"], rows[liked], scores[liked])
    sims = cosine_similarity(profile, model["matrix"]).ravel()
    sims[rows] = -np.inf
    return np.argsort(-sims)[:10]


def timed(fn, *args):
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0, time.process_time() - c0


def site_pick(model, shown: int):
    """What the site does with the scored pool: the MMR re-rank to ``shown`` movies
    (``pipeline.rerank``, RECS_MMR_LAMBDA 0.9); only those are explained."""
    if not shown:
        return None

    def pick(rows, scores):
        return diversity.mmr_rerank(
            list(rows),
            list(scores),
            matrix=model["matrix"],
            n=shown,
            lam=SITE_MMR_LAMBDA,
            row_norms=model["norms"],
        )

    return pick


def pct(samples) -> str:
    ms = np.asarray(samples) * 1000
    return (
        f"p50 {np.percentile(ms, 50):7.2f}  p95 {np.percentile(ms, 95):7.2f}  "
        f"p99 {np.percentile(ms, 99):7.2f} ms (n={len(ms)})"
    )


def run_size(n: int, args, rng, *, with_reference: bool) -> dict:
    model = make_model(n, rng, args)
    make = fitted_users if args.catalog == "fitted" else uniform_users
    users = make(rng, model, args.users)
    limits = candidates.CandidateLimits()
    cache = None
    if args.catalog == "fitted":
        cache = Path(args.cache) / f"bench_nbr_{n}_{args.seed}_{args.users}_{limits.content_k}.npz"
    nbr = content_neighbours_for(model, users, limits, cache)
    two_phase(model, *users[0][1:], nbr)  # warm-up (prior head, term bounds, page cache)
    exact(model, *users[0][1:])
    res = {
        k: {
            **{key: [] for key in ("exact", "exact_cpu", "two", "two_cpu", "ref", "subset")},
            **{key: [] for key in ("added", "postings")},
            **{key: 0 for key in ("hits", "total", "hits_n", "total_n", "hits_s", "total_s")},
            "proven": 0,
            "why": {},
        }
        for k in RATING_COUNTS
    }
    with open("/proc/loadavg") as fh:
        print("  load average before timing:", fh.read().strip(), flush=True)
    pick = site_pick(model, args.shown)
    if args.separate:
        # Each method in its own pass over the users (a worker serving one kind of request):
        # interleaved, every two-phase request starts after an exact scan and a reference
        # (several GB allocated) have evicted the caches it would find warm in service.
        timings = {}
        for _ in range(args.repeat):
            for label, fn in (("two", two_phase), ("exact", exact)):
                for i, (_, rows, scores) in enumerate(users):
                    st = {}
                    extra = (nbr, args.n, st, pick) if label == "two" else (args.n, pick)
                    timings.setdefault((label, i), []).append(
                        (*timed(fn, model, rows, scores, *extra), st)
                    )
    for rep in range(args.repeat):
        for i, (k, rows, scores) in enumerate(users):
            r = res[k]
            stats = {}
            if args.separate:
                ex_site, t_ex, c_ex, _ = timings[("exact", i)][rep]
                tp_site, t_tp, c_tp, stats = timings[("two", i)][rep]
            else:
                # timed: the request as the site makes it (the pool, re-ranked, picks
                # explained), exact then two-phase for each user in turn
                ex_site, t_ex, c_ex = timed(exact, model, rows, scores, args.n, pick)
                tp_site, t_tp, c_tp = timed(
                    two_phase, model, rows, scores, nbr, args.n, stats, pick
                )
            # not timed: the pools themselves, for recall@10 and recall@n
            ex = exact(model, rows, scores, args.n, explain_k=0)
            tp = two_phase(model, rows, scores, nbr, args.n, explain_k=0)
            r["exact"].append(t_ex)
            r["exact_cpu"].append(c_ex)
            r["two"].append(t_tp)
            r["two_cpu"].append(c_tp)
            r["subset"].append(stats.get("subset", 0))
            r["added"].append(stats.get("added", 0))
            r["postings"].append(stats.get("postings", 0))
            for step, t in stats.get("ms", {}).items():
                r.setdefault("steps", {}).setdefault(step, []).append(t)
            r["hits"] += len({x.row for x in ex[:10]} & {x.row for x in tp[:10]})
            r["total"] += len(ex[:10])
            r["hits_n"] += len({x.row for x in ex} & {x.row for x in tp})
            r["total_n"] += len(ex)
            if pick is not None:
                r["hits_s"] += len({x.row for x in ex_site} & {x.row for x in tp_site})
                r["total_s"] += len(ex_site)
            r["proven"] += bool(stats.get("proven"))
            why = stats.get("reason") or "proven"
            r["why"][why] = r["why"].get(why, 0) + 1
            if with_reference and rep == 0:
                _, t_ref, _ = timed(reference, model, rows, scores)
                r["ref"].append(t_ref)
    with open("/proc/loadavg") as fh:
        print("  load average after timing:", fh.read().strip(), flush=True)
    return res


def recall_line(r, n: int) -> str:
    out = f"recall@10 {r['hits'] / r['total']:.4f}"
    if n > 10:
        out += f", recall@{n} {r['hits_n'] / r['total_n']:.4f}"
    if r["total_s"]:
        out += f", served list (MMR of the pool) overlap {r['hits_s'] / r['total_s']:.4f}"
    return out


def merged(res: dict) -> dict:
    first = res[RATING_COUNTS[0]]
    out = {key: [] for key in first if isinstance(first[key], list)}
    out.update({key: 0 for key in ("hits", "total", "hits_n", "total_n", "hits_s", "total_s")})
    out["proven"] = 0
    for r in res.values():
        for key in out:
            out[key] = out[key] + r[key]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", choices=("fitted", "uniform"), default="fitted")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="fitted catalogs")
    parser.add_argument("--movies", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="", help="comma list: latency table over sizes")
    parser.add_argument("--users", type=int, default=30, help="users per rating count")
    parser.add_argument("--repeat", type=int, default=1, help="timed rounds over the users")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--separate",
        action="store_true",
        help="time each method in its own pass (default: exact, then two-phase, per user)",
    )
    parser.add_argument("--n", type=int, default=50, help="pool scored (site: 50)")
    parser.add_argument(
        "--shown", type=int, default=10, help="MMR re-rank of the pool to this many (0: none)"
    )
    parser.add_argument(
        "--idf", action="store_true", help="uniform: IDF-weight the rows (see idf_weighted)"
    )
    args = parser.parse_args()
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print("machine:", machine(), "·", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    with open("/proc/loadavg") as fh:
        print("load average:", fh.read().strip())
    rng = np.random.default_rng(args.seed)
    if args.sizes:
        rows = []
        for size in (int(s) for s in args.sizes.split(",")):
            res = run_size(size, args, rng, with_reference=False)
            for k, r in res.items():
                rows.append((size, k, r))
        print(
            "\n| movies | ratings | exact p50 / p99 ms | exact CPU p50 ms "
            "| two-phase p50 / p99 ms | two-phase CPU p50 ms | recall@10 | proven |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for size, k, r in rows:
            e, t = np.asarray(r["exact"]) * 1000, np.asarray(r["two"]) * 1000
            print(
                f"| {size:,} | {k} | {np.percentile(e, 50):.1f} / {np.percentile(e, 99):.1f} "
                f"| {np.median(r['exact_cpu']) * 1000:.1f} "
                f"| {np.percentile(t, 50):.1f} / {np.percentile(t, 99):.1f} "
                f"| {np.median(r['two_cpu']) * 1000:.1f} "
                f"| {r['hits'] / r['total']:.3f} | {r['proven']} of {len(r['two'])} |"
            )
        return
    res = run_size(args.movies, args, rng, with_reference=True)
    for k, r in res.items():
        print(f"\n{k} ratings:")
        print(f"  exact hybrid       : {pct(r['exact'])}")
        print(f"  exact hybrid CPU   : {pct(r['exact_cpu'])}")
        print(f"  two-phase          : {pct(r['two'])}")
        print(f"  two-phase CPU      : {pct(r['two_cpu'])}")
        print(f"  reference          : {pct(r['ref'])}")
        print(f"  {recall_line(r, args.n)}")
        print(f"  proven exact by the bounds: {r['proven']} of {len(r['two'])} ({r['why']})")
        print(
            f"  rows scored p50 {np.median(r['subset']):.0f} (max {max(r['subset'])}), "
            f"added by the safe step p50 {np.median(r['added']):.0f}, "
            f"postings read p50 {np.median(r['postings']):.0f} (max {max(r['postings'])})"
        )
        print(
            "  two-phase steps, p50 / max ms: "
            + ", ".join(
                f"{step} {np.median(t):.2f} / {max(t):.2f}" for step, t in r["steps"].items()
            )
        )
    a = merged(res)
    print(f"\nall users, {args.movies:,} movies ({args.catalog}), n = {args.n}:")
    print(f"  exact hybrid       : {pct(a['exact'])}")
    print(f"  two-phase          : {pct(a['two'])}")
    print(f"  two-phase CPU      : {pct(a['two_cpu'])}")
    print(f"  reference (sklearn cosine_similarity + full sort): {pct(a['ref'])}")
    print(f"  {recall_line(a, args.n)}")
    print(f"  proven exact: {a['proven']} of {len(a['two'])}")
    print(
        f"  ratio of medians reference / two-phase: "
        f"{np.median(a['ref']) / np.median(a['two']):.1f}x; "
        f"exact / two-phase: {np.median(a['exact']) / np.median(a['two']):.1f}x"
    )


if __name__ == "__main__":
    main()
