"""gunicorn config for ``bench/bench_load.py``: server CPU per endpoint, inside the real run.

Each sync worker handles one request at a time, so the worker's process CPU time
(``time.process_time``) around a request is that request's CPU. Totals per endpoint are written
as JSON to ``LOAD_CPU_DIR/<pid>.json`` every 25 requests and when the worker exits; the runner
adds them up. Requests count only once ``LOAD_CPU_DIR/started`` exists (the runner creates it
after the warm-up, right before the load starts). Loopback benchmark only: never part of the
site's own configuration.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

_totals: dict[str, list[float]] = {}
_served = 0
_RATE = re.compile(r"^/movies/\d+/rate/$")
_MOVIE = re.compile(r"^/movies/\d+/$")


def endpoint(method: str, path: str, query: str) -> str:
    """The locustfile's names for the paths it requests."""
    if path == "/recommendations/":
        return "recommendations"
    if method == "POST" and _RATE.match(path):
        return "rate (htmx)"
    if _MOVIE.match(path):
        return "movie page"
    if path == "/movies/" and "q=" in query:
        return "search"
    if path.startswith("/accounts/"):
        return "account page"
    return "other"


def _write() -> None:
    out = Path(os.environ["LOAD_CPU_DIR"]) / f"{os.getpid()}.json"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(_totals))
    os.replace(tmp, out)


def pre_request(worker, req):
    req.cpu_started = time.process_time()


def post_request(worker, req, environ, resp):
    global _served
    if not (Path(os.environ["LOAD_CPU_DIR"]) / "started").exists():
        return
    name = endpoint(req.method, req.path, req.query or "")
    entry = _totals.setdefault(name, [0, 0.0])
    entry[0] += 1
    entry[1] += time.process_time() - req.cpu_started
    _served += 1
    if _served % 25 == 0:
        _write()


def worker_exit(server, worker):
    _write()
