"""Benchmark: the content-neighbour fan-out of a model build over real Celery workers.

Drives the build stages directly on a staged matrix (``--catalog``: ``synthetic`` =
``bench_recommend.synthetic_matrix``, random Zipf terms shaped like a fitted TF-IDF matrix;
``fitted`` = the fitted synthetic catalog cached in ``--cache`` by ``bench/fitted_catalog.py``,
topic-structured) instead of building a Django catalog
of N movies, which would take far longer than the step measured: the version row, its staging
(``build_stages.stage_build``), the block tasks and the finish task are the real ones. For
each ``--workers`` count it starts that many separate ``celery -A netflixrecs worker -P solo``
processes (one task at a time each: honest about memory) on Redis db 14 and a scratch
PostgreSQL database (``--pg-db``, re-created), runs the chord of ``build_neighbour_block``
tasks ending in ``finish_model_build``, and prints wall time, per-block seconds, each
worker's and the parent's peak RSS (VmHWM) and the sum; then the same blocks in order
in-process (``neighbours.content_neighbours``) as the baseline, and whether the neighbours
are identical. ``--work-budget`` is ``RECS_NEIGHBOUR_WORK_BUDGET`` for the build (0 = exact).

At a million movies a full run per worker count is long: ``--blocks N`` runs only N blocks
spread evenly over the catalog (a group of block tasks, no finish: the version is left
failed-free and deleted), prints their per-block seconds and extrapolates the whole build
(labelled as such); ``--no-baseline`` skips the in-process run.

    nice -n 10 .venv/bin/python bench/bench_build.py --movies 20000 --workers 1,2
    nice -n 10 .venv/bin/python bench/bench_build.py --catalog fitted --cache /work/scratch-fitted \
        --movies 1000000 --workers 1,2 --no-baseline
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


def recall_line(matrix, idx, sample: int) -> str:
    """Recall@k and @12 of the stored lists of ``sample`` random rows against a brute-force
    scan of every movie (the exact neighbours, ties by lower row)."""
    from recommendations import neighbours

    m, _ = neighbours.normalised(matrix)
    rng = np.random.default_rng(1)
    rows = rng.choice(m.shape[0], size=min(sample, m.shape[0]), replace=False)
    k = idx.shape[1]
    at_k, at_12 = [], []
    for r in rows:
        sims = (m @ m[int(r)].T).toarray().ravel()
        sims[int(r)] = 0
        top = np.flatnonzero(sims > 0)
        top = top[np.lexsort((top, -sims[top]))][:k]
        if top.size:
            at_k.append(len(set(top.tolist()) & set(idx[r].tolist())) / top.size)
            t12 = set(top[:12].tolist())
            at_12.append(len(t12 & set(idx[r][:12].tolist())) / len(t12))
    return (
        f"recall vs brute force on {rows.size} sampled rows: recall@{k} {np.mean(at_k):.3f}, "
        f"recall@12 {np.mean(at_12):.3f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--movies", type=int, default=20000)
    parser.add_argument("--workers", default="1,2", help="worker counts to measure")
    parser.add_argument("--block-rows", type=int, default=2048)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--pg-db", default="bench_build")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--catalog", choices=("synthetic", "fitted"), default="synthetic")
    parser.add_argument("--cache", type=Path, default=Path("/work/scratch-fitted"))
    parser.add_argument(
        "--work-budget", type=int, default=None, help="RECS_NEIGHBOUR_WORK_BUDGET (default: its)"
    )
    parser.add_argument("--blocks", type=int, default=0, help="run only this many blocks")
    parser.add_argument("--no-baseline", action="store_true", help="skip the in-process run")
    parser.add_argument(
        "--recall-sample", type=int, default=0, help="rows checked against a brute-force scan"
    )
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
    if args.work_budget is not None:
        env["RECS_NEIGHBOUR_WORK_BUDGET"] = str(args.work_budget)
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
    from celery import chord, group
    from django.conf import settings

    from bench.bench_recommend import synthetic_matrix
    from bench.celery_workers import start_solo_workers
    from netflixrecs.celery import app
    from recommendations import artifacts, build_stages, neighbours, tasks, tfidf
    from recommendations.models import ModelVersion

    print(f"$ {' '.join(sys.argv)}")
    load = os.getloadavg()
    print(
        f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    t0 = time.perf_counter()
    if args.catalog == "fitted":
        sys.path.insert(0, str(REPO / "bench"))
        import fitted_catalog

        m = fitted_catalog.load(args.movies, args.cache).matrix
    else:
        m = synthetic_matrix(args.movies, np.random.default_rng(0))
    budget = settings.RECS_NEIGHBOUR_WORK_BUDGET
    cap = neighbours.posting_cap(m, budget or None)
    print(
        f"{args.catalog} matrix {m.shape}, nnz {m.nnz:,} in {time.perf_counter() - t0:.1f} s; "
        f"exact work {neighbours.exact_work(m):,.0f} postings/movie, budget {budget:,} "
        f"-> {'exact' if cap is None else f'postings capped at {cap}'}",
        flush=True,
    )
    results = {}
    for count in (int(w) for w in args.workers.split(",")):
        version = ModelVersion.objects.begin(triggered_by="bench_build", activate_when_ready=False)
        t0 = time.perf_counter()
        blocks = build_stages.stage_build(
            version=version,
            arrays={**tfidf.matrix_to_arrays(m), "movie_ids": np.arange(args.movies)},
            matrix=m,
            row={"movie_count": args.movies},
            activate=False,
            started=time.time(),
        )
        staged = time.perf_counter() - t0
        run = blocks
        if args.blocks:
            picks = np.linspace(0, len(blocks) - 1, min(args.blocks, len(blocks))).round()
            run = [blocks[int(i)] for i in np.unique(picks)]
        procs = start_solo_workers(
            app, count, env=env, log_dir=model_dir, prefix="bench-build", timeout=60
        )
        try:
            started = time.perf_counter()
            header = [tasks.build_neighbour_block.si(version.pk, s, e) for s, e in run]
            if args.blocks:
                result = group(header).apply_async()
                block_results = result.get(timeout=3 * 3600)
                outcome = None
            else:
                result = chord(header, tasks.finish_model_build.si(version.pk)).apply_async()
                outcome = result.get(timeout=3 * 3600)
                block_results = [r.get() for r in result.parent.results]
            wall = time.perf_counter() - started
            per_block = [r["seconds"] for r in block_results]
            rss = [vm_hwm_gib(p.pid) for p in procs]
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=30)
        version.refresh_from_db()
        parent = vm_hwm_gib(os.getpid())
        memory = (
            f"peak RSS GiB workers {', '.join(f'{r:.2f}' for r in rss)}, parent {parent:.2f}, "
            f"total {sum(rss) + parent:.2f}"
        )
        stats = (
            f"per block mean {np.mean(per_block):.2f} s (min {min(per_block):.2f}, "
            f"max {max(per_block):.2f}, sum {sum(per_block):.1f})"
        )
        if args.blocks:
            whole = np.mean(per_block) * len(blocks)
            print(
                f"workers {count}: SUBSET {len(run)} of {len(blocks)} blocks of "
                f"{args.block_rows} rows (staging {staged:.1f} s), wall {wall:.1f} s, {stats}, "
                f"{memory}; EXTRAPOLATED all {len(blocks)} blocks: {whole:.0f} block-s = "
                + ", ".join(f"{whole / w / 60:.1f} min on {w}" for w in (1, 2, 4, 8))
                + " workers (blocks only: no finish)",
                flush=True,
            )
            version.fail("bench_build subset run")
            version.delete_with_files()
            continue
        assert outcome["status"] == "succeeded", version.error
        stored = artifacts.load_arrays(version.artifact_dir, version.checksums, mmap=False)
        results[count] = stored["content_nbr_idx"], stored["content_nbr_sim"]
        if args.recall_sample:
            print(recall_line(m, stored["content_nbr_idx"], args.recall_sample), flush=True)
        print(
            f"workers {count}: {len(blocks)} blocks of {args.block_rows} rows, staging "
            f"{staged:.1f} s, chord wall {wall:.1f} s (blocks + finish), {stats}, {memory}; "
            "from the per-block mean: "
            + ", ".join(
                f"{np.mean(per_block) * len(blocks) / w / 60:.1f} min on {w}" for w in (4, 8)
            )
            + " workers (blocks only)",
            flush=True,
        )
        version.delete_with_files()
    all_same = True
    if args.no_baseline or not results:
        results = {}
    else:
        started = time.perf_counter()
        base = neighbours.content_neighbours(
            m, args.k, block_rows=args.block_rows, work_budget=budget or None
        )
        baseline = time.perf_counter() - started
        print(
            f"in-process, in order: {baseline:.1f} s "
            f"(parent peak RSS {vm_hwm_gib(os.getpid()):.2f})"
        )
    for count, (idx, sim) in results.items():
        same = np.array_equal(idx, base["content_nbr_idx"]) and np.array_equal(
            sim, base["content_nbr_sim"]
        )
        all_same = all_same and same
        print(f"workers {count}: identical neighbours {same}")
    artifacts.remove_dir(model_dir)
    from django.db import connections

    connections.close_all()
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc",
         f'DROP DATABASE IF EXISTS "{args.pg_db}"'],
        check=False,
    )  # fmt: skip
    # CI runs a small fan-out (.ci/run): a build that differs from the in-order one fails it.
    print("RESULT:", "ok" if all_same else "FAILED: the fanned-out neighbours differ")
    return 0 if all_same else 1


if __name__ == "__main__":
    raise SystemExit(main())
