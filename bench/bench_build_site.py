"""Benchmark: a whole model build of the site's own catalog, through Django, stage by stage.

Unlike ``bench_build.py`` (the neighbour fan-out on a staged matrix) this builds what
``manage.py build_tfidf`` and the admin's rebuild button build: the catalog read from the
database (``--pg-db``, e.g. one loaded by ``bench/copy_catalog.py``), the TF-IDF fit, the
hybrid, the content-neighbour blocks and the finish, into ``--model-dir``.

``--workers 0`` runs ``manage.py build_tfidf`` (every stage in order in one process, what a
build without a broker does); ``--workers N`` starts N ``celery -A netflixrecs worker -P solo``
processes on ``--redis-url`` and queues the rebuild task (``tasks.queue_rebuild``): one worker
claims it and runs prepare, then the chord of block tasks spreads over all of them and one
runs the finish. The bench polls the version row every ``--poll`` seconds and prints when
each stage (the row's progress message) started and how long it took, and every process's
peak RSS (``VmHWM``), their sum, and the largest sum of their resident memory at one poll
(what the machine had to hold at once). Run it under ``nice -n 10``; the workers inherit it.

    nice -n 10 .venv/bin/python bench/bench_build_site.py --pg-db m1_load --workers 2 \\
        --model-dir /work/scratch-m1 --redis-url redis://127.0.0.1:6379/8
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def status_kib(pid: int, field: str = "VmHWM") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def stage_name(message: str) -> str:
    """``Content neighbours: block 3 of 489`` -> ``Content neighbours``."""
    return re.split(r":| \d", message, maxsplit=1)[0].strip() or "(queued)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-db", required=True)
    parser.add_argument("--workers", type=int, default=0, help="0: manage.py build_tfidf")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--poll", type=float, default=0.5)
    parser.add_argument("--no-activate", action="store_true")
    args = parser.parse_args()

    args.model_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RECS_")},
        "DJANGO_SETTINGS_MODULE": "netflixrecs.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.pg_db}",
        "REDIS_URL": args.redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "MODEL_DIR": str(args.model_dir.resolve()),
        "CONN_MAX_AGE": "0",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.db import transaction

    from bench.celery_workers import start_solo_workers
    from netflixrecs.celery import app
    from recommendations import tasks
    from recommendations.models import ModelVersion

    print(f"$ {' '.join(sys.argv)}")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    now = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    print(f"{os.cpu_count()} cores, load average {load}, {now}")
    procs: dict[str, subprocess.Popen] = {}
    python = sys.executable
    logs = args.model_dir / "bench-logs"
    logs.mkdir(exist_ok=True)
    try:
        if args.workers:
            workers = start_solo_workers(
                app, args.workers, env=env, log_dir=logs, prefix="m1-build"
            )
            procs.update({f"worker {n}": p for n, p in enumerate(workers)})
            before = set(ModelVersion.objects.values_list("pk", flat=True))
            started = time.perf_counter()
            with transaction.atomic():
                version = tasks.queue_rebuild(
                    triggered_by="bench_build_site", activate=not args.no_activate
                )
            if version is None:
                raise SystemExit("a build is already queued or running")
        else:
            before = set(ModelVersion.objects.values_list("pk", flat=True))
            started = time.perf_counter()
            cmd = [python, "manage.py", "build_tfidf", "-v0"]
            if args.no_activate:
                cmd.append("--no-activate")
            out = open(logs / "build_tfidf.log", "wb")  # noqa: SIM115
            procs["build_tfidf"] = subprocess.Popen(
                cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
            )
            version = None
        stages: list[tuple[str, float]] = []
        peak: dict[str, int] = {}
        together = 0
        status = "queued"
        while True:
            for name, p in procs.items():
                peak[name] = max(peak.get(name, 0), status_kib(p.pid))
            # The build processes' resident memory at the same instant (their peaks need not
            # coincide: the prepare worker's fit and the finish worker's merge are minutes apart).
            together = max(together, sum(status_kib(p.pid, "VmRSS") for p in procs.values()))
            if version is None:
                version = ModelVersion.objects.exclude(pk__in=before).order_by("pk").first()
            if version is not None:
                row = (
                    ModelVersion.objects.filter(pk=version.pk)
                    .values("status", "progress_message")
                    .first()
                )
                status = row["status"]
                stage = stage_name(row["progress_message"] or "")
                if not stages or stages[-1][0] != stage:
                    stages.append((stage, time.perf_counter() - started))
                    print(f"  {stages[-1][1]:8.1f} s  {stage}", flush=True)
                if status in ("succeeded", "failed"):
                    break
            if "build_tfidf" in procs and procs["build_tfidf"].poll() is not None:
                time.sleep(args.poll)
                if version is None or ModelVersion.objects.get(pk=version.pk).status not in (
                    "succeeded",
                    "failed",
                ):
                    raise SystemExit("build_tfidf exited without finishing its version")
            time.sleep(args.poll)
        wall = time.perf_counter() - started
        if "build_tfidf" in procs:
            procs["build_tfidf"].wait()
        for name, p in procs.items():
            peak[name] = max(peak.get(name, 0), status_kib(p.pid))
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
    version.refresh_from_db()
    peak["bench (parent)"] = status_kib(os.getpid())
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\nversion {version.pk}: {version.status} {version.error[:300]}; "
        f"{version.movie_count:,} movies, vocabulary {version.vocabulary_size:,}, "
        f"nnz {version.nnz:,}, build_seconds {version.build_seconds}, "
        f"blocks {version.blocks_done}/{version.blocks_total}"
    )
    print(f"wall {wall:.1f} s ({wall / 60:.1f} min); load average after {load}\n")
    print("| stage | started at s | seconds |")
    print("|---|---|---|")
    ends = [t for _, t in stages[1:]] + [wall]
    for (name, t), end in zip(stages, ends, strict=True):
        print(f"| {name} | {t:.1f} | {end - t:.1f} |")
    print("\n| process | peak RSS (VmHWM) GiB |")
    print("|---|---|")
    for name, kib in peak.items():
        print(f"| {name} | {kib / 1024**2:.2f} |")
    build_procs = [k for k in peak if k != "bench (parent)"]
    print(
        f"| sum of the build processes' peaks | {sum(peak[k] for k in build_procs) / 1024**2:.2f} |"
    )
    print(f"| build processes at once (largest sum of VmRSS, polled) | {together / 1024**2:.2f} |")
    return 0 if version.status == "succeeded" else 1


if __name__ == "__main__":
    raise SystemExit(main())
