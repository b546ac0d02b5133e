"""Benchmark: the content-neighbour fan-out of a model build over real Celery workers.

Drives the build stages directly on a synthetic staged matrix (``bench_recommend.
synthetic_matrix``: shaped like a fitted TF-IDF matrix) instead of building a Django catalog
of N movies, which would take far longer than the step measured: the version row, its staging
(``build_stages.stage_build``), the block tasks and the finish task are the real ones. For
each ``--workers`` count it starts that many separate ``celery -A netflixrecs worker -P solo``
processes (one task at a time each: honest about memory) on Redis db 14 and a scratch
PostgreSQL database (``--pg-db``, re-created), runs the chord of ``build_neighbour_block``
tasks ending in ``finish_model_build``, and prints wall time, per-block seconds, each
worker's and the parent's peak RSS (VmHWM) and the sum; then the same blocks in order
in-process (``neighbours.content_neighbours``) as the baseline, and whether the neighbours
are identical.

    nice -n 10 .venv/bin/python bench/bench_build.py --movies 20000 --workers 1,2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def vm_hwm_gib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--movies", type=int, default=20000)
    parser.add_argument("--workers", default="1,2", help="worker counts to measure")
    parser.add_argument("--block-rows", type=int, default=2048)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--pg-db", default="bench_build")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()

    model_dir = Path(tempfile.mkdtemp(prefix="bench-build-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "netflixrecs.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.pg_db}",
        "REDIS_URL": args.redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "MODEL_DIR": str(model_dir),
        "RECS_STAGE_DIR": "",
        "RECS_NEIGHBOUR_BLOCK_ROWS": str(args.block_rows),
        "RECS_CONTENT_NEIGHBOURS": str(args.k),
        "CONN_MAX_AGE": "0",
    }
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc",
         f'DROP DATABASE IF EXISTS "{args.pg_db}"', "-c", f'CREATE DATABASE "{args.pg_db}"'],
        check=True,
    )  # fmt: skip
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    os.environ.update(env)

    import django

    django.setup()
    from celery import chord

    from bench.bench_recommend import synthetic_matrix
    from netflixrecs.celery import app
    from recommendations import artifacts, build_stages, neighbours, tasks, tfidf
    from recommendations.models import ModelVersion

    print(f"$ {' '.join(sys.argv)}")
    load = os.getloadavg()
    print(
        f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    m = synthetic_matrix(args.movies, np.random.default_rng(0))
    celery = Path(python).with_name("celery")
    results = {}
    for count in (int(w) for w in args.workers.split(",")):
        version = ModelVersion.objects.begin(triggered_by="bench_build", activate_when_ready=False)
        blocks = build_stages.stage_build(
            version=version,
            arrays={**tfidf.matrix_to_arrays(m), "movie_ids": np.arange(args.movies)},
            matrix=m,
            row={"movie_count": args.movies},
            activate=False,
            started=time.time(),
        )
        procs, nodes = [], []
        for n in range(count):
            node = f"bench-build-{n}-{os.getpid()}-{time.monotonic_ns()}@localhost"
            log = open(model_dir / f"worker-{count}-{n}.log", "wb")  # noqa: SIM115
            procs.append(
                subprocess.Popen(
                    [str(celery), "-A", "netflixrecs", "worker", "-P", "solo", "-c", "1"]
                    + ["--without-heartbeat", "--without-gossip", "--without-mingle"]
                    + ["-n", node, "--loglevel", "WARNING"],
                    cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                )
            )  # fmt: skip
            nodes.append(node)
        pending, deadline = set(nodes), time.monotonic() + 60
        while pending:
            for reply in app.control.ping(destination=list(pending), timeout=1.0):
                pending -= set(reply)
            if time.monotonic() > deadline:
                raise SystemExit(f"workers {pending} did not come up")
        try:
            started = time.perf_counter()
            header = [tasks.build_neighbour_block.si(version.pk, s, e) for s, e in blocks]
            result = chord(header, tasks.finish_model_build.si(version.pk)).apply_async()
            outcome = result.get(timeout=3600)
            wall = time.perf_counter() - started
            per_block = [r.get()["seconds"] for r in result.parent.results]
            rss = [vm_hwm_gib(p.pid) for p in procs]
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=30)
        version.refresh_from_db()
        assert outcome["status"] == "succeeded", version.error
        stored = artifacts.load_arrays(version.artifact_dir, version.checksums, mmap=False)
        results[count] = stored["content_nbr_idx"], stored["content_nbr_sim"]
        parent = vm_hwm_gib(os.getpid())
        print(
            f"workers {count}: {len(blocks)} blocks of {args.block_rows} rows, "
            f"wall {wall:.1f} s, per block mean {np.mean(per_block):.2f} s "
            f"(min {min(per_block):.2f}, max {max(per_block):.2f}, sum {sum(per_block):.1f}), "
            f"peak RSS GiB workers {', '.join(f'{r:.2f}' for r in rss)}, parent {parent:.2f}, "
            f"total {sum(rss) + parent:.2f}"
        )
        version.delete_with_files()
    started = time.perf_counter()
    base = neighbours.content_neighbours(m, args.k, block_rows=args.block_rows)
    baseline = time.perf_counter() - started
    print(f"in-process, in order: {baseline:.1f} s (parent peak RSS {vm_hwm_gib(os.getpid()):.2f})")
    for count, (idx, sim) in results.items():
        same = np.array_equal(idx, base["content_nbr_idx"]) and np.array_equal(
            sim, base["content_nbr_sim"]
        )
        print(f"workers {count}: identical neighbours {same}")
    artifacts.remove_dir(model_dir)
    from django.db import connections

    connections.close_all()
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc",
         f'DROP DATABASE IF EXISTS "{args.pg_db}"'],
        check=False,
    )  # fmt: skip


if __name__ == "__main__":
    main()
