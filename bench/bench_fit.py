"""Benchmark: the TF-IDF fit of a build, sklearn's vectorizer vs the numpy-counted fit.

Generates ``--movies`` soups of the topic-structured synthetic catalog
(``synthetic_catalog.Catalog``, the soups ``bench/fitted_catalog.py`` fits), then fits them with
``tfidf.fit_tfidf(engine=...)`` for each ``--engines`` value, each in its own child process so
each peak RSS (``ru_maxrss`` of that child: the soups included, printed apart) is its own.
With both engines it also says whether the two matrices and feature lists are identical.

    nice -n 10 .venv/bin/python bench/bench_fit.py --movies 100000 --engines numpy,sklearn
    nice -n 10 .venv/bin/python bench/bench_fit.py --movies 1000000 --engines numpy
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from recommendations import tfidf  # noqa: E402


def soups_of(n: int, seed: int) -> list[str]:
    from synthetic_catalog import Catalog

    return list(Catalog(n, seed).soups())


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def child(n: int, seed: int, engine: str, out: str, queue) -> None:
    t0 = time.perf_counter()
    soups = soups_of(n, seed)
    gen, before = time.perf_counter() - t0, rss_gib()
    t0 = time.perf_counter()
    model = tfidf.fit_tfidf(soups, engine=engine)
    fit = time.perf_counter() - t0
    m = model.matrix
    np.savez(out, data=m.data, indices=m.indices, indptr=m.indptr, names=model.feature_names)
    queue.put((engine, gen, before, fit, rss_gib(), m.shape, m.nnz))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--movies", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--engines", default="numpy,sklearn")
    args = parser.parse_args()
    print(f"$ {' '.join(sys.argv)}")
    load = os.getloadavg()
    day = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {day}")
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    tmp = Path(tempfile.mkdtemp(prefix="bench-fit-"))
    outs = {}
    for engine in args.engines.split(","):
        outs[engine] = str(tmp / f"{engine}.npz")
        p = ctx.Process(target=child, args=(args.movies, args.seed, engine, outs[engine], queue))
        p.start()
        eng, gen, before, fit, peak, shape, nnz = queue.get()
        p.join()
        print(
            f"{eng}: {args.movies:,} soups generated in {gen:.1f} s (RSS {before:.2f} GiB with "
            f"the soups); fit {fit:.1f} s, peak RSS {peak:.2f} GiB; {shape}, nnz {nnz:,}",
            flush=True,
        )
    if len(outs) > 1:
        loaded = [np.load(o) for o in outs.values()]
        same = all(
            all(np.array_equal(a[k], loaded[0][k]) for k in ("data", "indices", "indptr", "names"))
            for a in loaded[1:]
        )
        print(f"identical matrices and features: {same}")
    for o in outs.values():
        Path(o).unlink(missing_ok=True)
    tmp.rmdir()


if __name__ == "__main__":
    main()
