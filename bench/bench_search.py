"""Benchmark: the fuzzy title index of movies/search.py against a naive loop.

Run from the repository root (no database query is made):

    .venv/bin/python bench/bench_search.py                  # 10k and 100k synthetic titles
    .venv/bin/python bench/bench_search.py --sizes 10000    # quicker

Synthetic titles are 1 to 6 words drawn from a Zipf-like vocabulary (real titles reuse
words: "the", "love", "night" ...), plus a few real ones so each query has a right answer.
"Index" is ``TitleIndex.fuzzy`` (rapidfuzz ``process.extract`` with WRatio, a score cutoff
and a limit, over pre-folded titles, in C); "naive" is a Python loop calling ``fuzz.WRatio``
on every title and sorting, what one would write without the index; "difflib" is the
standard library's ``SequenceMatcher.ratio`` loop (10k only: it is far slower). Each query
is timed several times; the median is reported.
"""

from __future__ import annotations

import argparse
import difflib
import os
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

from rapidfuzz import fuzz

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netflixrecs.settings")
import django  # noqa: E402

django.setup()  # movies.search imports the models; the index part runs no query

from movies.search import TitleIndex, fuzzy_cutoff  # noqa: E402

QUERIES = ["godfater", "aleen", "star wrs", "the dark nite", "amelie", "pulp fictoin"]
REAL = ["the godfather", "alien", "star wars", "the dark knight", "amelie", "pulp fiction"]


def synthetic_titles(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(30_000)]
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    titles = [
        " ".join(rng.choices(vocab, weights=weights, k=rng.randint(1, 6)))
        for _ in range(n - len(REAL))
    ]
    return titles + REAL


def timed(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def naive(query: str, titles: list[str], limit: int = 30):
    cutoff = fuzzy_cutoff(query)
    scored = [(fuzz.WRatio(query, t), i) for i, t in enumerate(titles)]
    return sorted((s for s in scored if s[0] >= cutoff), reverse=True)[:limit]


def with_difflib(query: str, titles: list[str], limit: int = 30):
    scored = [(difflib.SequenceMatcher(None, query, t).ratio(), i) for i, t in enumerate(titles)]
    return sorted(scored, reverse=True)[:limit]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"load average: {Path('/proc/loadavg').read_text().strip()}  cores: {os.cpu_count()}")
    for n in args.sizes:
        titles = synthetic_titles(n)
        rows = [(i, t, float(n - i)) for i, t in enumerate(titles)]
        tracemalloc.start()
        start = time.perf_counter()
        index = TitleIndex(rows)
        build = time.perf_counter() - start
        memory = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        print(f"\n{n:,} titles: index build {build * 1000:.0f} ms, {memory / n:.0f} bytes/title")
        print(f"{'query':<16}{'index ms':>10}{'naive ms':>10}{'ratio':>8}  best hit")
        ratios = []
        for query in QUERIES:
            t_index = timed(lambda q=query, ix=index: ix.fuzzy(q), args.repeat)
            t_naive = timed(lambda q=query, ts=titles: naive(q, ts), max(1, args.repeat // 2))
            hits = index.fuzzy(query)
            best = hits[0][2] if hits else "-"
            ratios.append(t_naive / t_index)
            print(
                f"{query:<16}{t_index * 1000:>10.1f}{t_naive * 1000:>10.1f}"
                f"{t_naive / t_index:>7.1f}x  {best}"
            )
        print(f"median speed-up over the naive loop: {statistics.median(ratios):.1f}x")
        if n <= 10_000:
            t_difflib = timed(lambda ts=titles: with_difflib("godfater", ts), 1)
            print(f"difflib SequenceMatcher loop, 'godfater': {t_difflib * 1000:.0f} ms")


if __name__ == "__main__":
    main()
