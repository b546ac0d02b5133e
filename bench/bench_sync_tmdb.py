"""Benchmark: load the 3,000 TMDB movies through the real client from the fake TMDB.

Starts the fake TMDB (devtools/fake_tmdb.py, reading ../shared/data at run time) on a free
loopback port, then runs ``manage.py sync_tmdb`` as a subprocess into the configured database
(DATABASE_URL / REDIS_URL from the environment, so the lead can point it at Postgres):

1. the full load, ``--pages 150`` (3,000 movies) at a raised rate limit, with faults injected
   (429 + Retry-After, 500/503 bursts, one malformed movie, one movie slower than the timeout);
2. a run at the default limit (40 requests / 10 s) over ``--default-pages`` pages, measuring
   requests per 10-s window at the fake and extrapolating the time of a full default-limit load
   (``--full-default`` runs it for real: about 15 minutes).

Usage::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/netflixrecs \\
        .venv/bin/python bench/bench_sync_tmdb.py --pages 150 --default-pages 5
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devtools.fake_tmdb import FakeTMDB, default_data_path  # noqa: E402


def run_sync(fake: FakeTMDB, *, pages: int, limit: int, window: float, extra: list[str]) -> float:
    env = {
        **os.environ,
        "TMDB_API_BASE": fake.url,
        "TMDB_READ_TOKEN": fake.read_token,
        "TMDB_API_KEY": "",
        "TMDB_RATE_LIMIT": str(limit),
        "TMDB_RATE_WINDOW": str(window),
        "TMDB_READ_TIMEOUT": "2",
        "TMDB_MAX_RETRIES": "3",
        "TMDB_BACKOFF_BASE": "0.2",
        "TMDB_BACKOFF_MAX": "5",
    }
    cmd = [sys.executable, "manage.py", "sync_tmdb", "--pages", str(pages), "--no-progress"]
    cmd += extra
    print(f"$ TMDB_RATE_LIMIT={limit} TMDB_RATE_WINDOW={window:g} {' '.join(cmd[1:])}", flush=True)
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    tail = [line for line in result.stdout.splitlines() if "failed " not in line[:10]]
    print("\n".join("    " + line for line in tail[-4:]))
    if result.returncode:
        print(result.stderr[-2000:])
        raise SystemExit(f"sync_tmdb exited with {result.returncode}")
    return elapsed


def report(fake: FakeTMDB, window: float, elapsed: float) -> int:
    stats = fake.stats(window)
    windows = stats["per_window"]
    print(f"    time: {elapsed:.1f} s, requests at the fake: {stats['requests']}")
    print(f"    by status: {stats['by_status']}")
    print(
        f"    requests per {window:g}-s window: max sliding {stats['max_in_window']}, "
        f"fixed windows min/median/max {min(windows)}/{sorted(windows)[len(windows) // 2]}/"
        f"{max(windows)}"
    )
    return stats["requests"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=150, help="full load (150 = 3,000 movies)")
    parser.add_argument("--raised-limit", type=int, default=100_000)
    parser.add_argument("--default-pages", type=int, default=5, help="pages at the default limit")
    parser.add_argument("--full-default", action="store_true", help="full load at 40/10 s")
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the model afterwards")
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args()

    fake = FakeTMDB(data_path=args.data or default_data_path()).start()
    print(f"fake TMDB: {len(fake.movies)} movies at {fake.url}")
    print(f"database: {os.environ.get('DATABASE_URL', 'sqlite (var/db.sqlite3)')}")
    print(f"redis: {os.environ.get('REDIS_URL') or 'none (in-process rate limiter)'}\n")
    try:
        if not args.no_faults:
            # Each burst is shorter than the retry budget (3 retries), so only the malformed
            # and the too-slow movie may fail; both are fetched again by run 2.
            ids = [m["id"] for m in fake.popular]
            fake.add_fault("popular", "503", times=2)
            for i in range(5):
                fake.add_fault("movie", "429", times=2, retry_after=1, movie_id=ids[100 + i])
            fake.add_fault("movie", "500", times=3, movie_id=ids[200])
            fake.add_fault("movie", "503", times=3, movie_id=ids[300])
            fake.add_fault("movie", "malformed", movie_id=ids[10])
            fake.add_fault("movie", "slow", delay=10, movie_id=ids[11])
        print(f"1) full load, {args.pages} pages, raised limit, faults: {not args.no_faults}")
        extra = ["--rebuild"] if args.rebuild else []
        elapsed = run_sync(fake, pages=args.pages, limit=args.raised_limit, window=1, extra=extra)
        report(fake, 10.0, elapsed)

        fake.reset()
        pages = args.pages if args.full_default else args.default_pages
        print(f"\n2) default limit (40 / 10 s), {pages} pages (re-sync: every detail re-fetched)")
        elapsed = run_sync(fake, pages=pages, limit=40, window=10.0, extra=[])
        requests = report(fake, 10.0, elapsed)
        # Measured at the fake, first to last request (leaves out Django's start-up).
        times = sorted(r.at for r in fake.requests())
        rate = (requests - 1) / (times[-1] - times[0])
        full = (150 + 3000) / rate
        print(f"    throughput {rate:.2f} requests/s")
        print(f"    => 3,000 movies (150 pages + 3,000 details) at the default limit: {full:.0f} s")
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
