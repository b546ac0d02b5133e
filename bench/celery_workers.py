"""Real Celery workers for the build benchmarks: separate ``-P solo`` processes, one task at a
time each (honest about memory per process), started and waited for until each answers a ping."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def start_solo_workers(
    app, count: int, *, env: dict, log_dir: Path, prefix: str, timeout: float = 90
) -> list[subprocess.Popen]:
    """Start ``count`` ``celery -A netflixrecs worker -P solo`` processes with ``env`` (their
    output in ``log_dir/worker-<count>-<n>.log``) and return once every one answers ``app``'s
    ping; SystemExit if one has not within ``timeout`` seconds (the started ones are killed)."""
    celery = Path(sys.executable).with_name("celery")
    procs, nodes = [], []
    for n in range(count):
        node = f"{prefix}-{n}-{os.getpid()}-{time.monotonic_ns()}@localhost"
        log = open(Path(log_dir) / f"worker-{count}-{n}.log", "wb")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [str(celery), "-A", "netflixrecs", "worker", "-P", "solo", "-c", "1",
                 "--without-heartbeat", "--without-gossip", "--without-mingle",
                 "-n", node, "--loglevel", "WARNING"],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        )  # fmt: skip
        nodes.append(node)
    pending, deadline = set(nodes), time.monotonic() + timeout
    while pending:
        for reply in app.control.ping(destination=list(pending), timeout=1.0):
            pending -= set(reply)
        if pending and time.monotonic() > deadline:
            for p in procs:
                p.kill()
            raise SystemExit(f"workers {pending} did not come up")
    return procs
