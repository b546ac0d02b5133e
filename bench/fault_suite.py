"""Fault suite: does the site keep its promises when things break?

It drives the real site from the outside only — HTTP, ``manage.py`` commands, a Celery worker
and the database — so it keeps working while the apps are refactored, and proves (or disproves)
five claims:

1. **Concurrent users** (``concurrency``): N users (threads with ``requests.Session``, each
   logged in once through the login form with its CSRF token) rate, un-rate and read pages for
   S seconds on a small hot set of movies, so different users collide on the same movies. Each
   user's own writes go one at a time, so the order the server acknowledged them is known, and
   the expected final rating of every (user, hot movie) follows from the acknowledged responses
   (:func:`expected_final`). A few users also get a second thread that rates movies of a separate
   race set while their first thread un-rates them (checked only for "no 5xx, no duplicates").
   Checks: zero 5xx and zero transport errors; the database holds exactly the acknowledged
   ratings (none lost, none phantom, no wrong score); (user, movie) is unique.
2. **Build SIGKILLed early / in the middle / late** (``kill-build``): ``manage.py build_tfidf``
   on a catalog large enough to take seconds (demo + MovieLens small with its ratings, read from
   ``SHARED_DATA_DIR`` at run time) is SIGKILLed as soon as its version row is running, at
   half the reference build's time, and when it reports its last step ("Writing artifacts").
   Checks: the killed version row does not stay running for more than 60 s; a new build
   started right after is accepted within 60 s; the previously active model keeps serving
   (``/recommendations/`` 200, the API reports the old version); no artifact directory of the
   killed version is left in place.
3. **Two deliveries of one rebuild** (``duplicate``, broker only): one rebuild is queued the
   way the site queues it (``tasks.queue_rebuild``); the exact message it published (same
   task id, same arguments) is published twice more, to a worker with two processes.
   Checks: exactly one build ran for that version (distinct ``started_at`` values seen, long
   task runs in the worker log, ``attempts`` if the row has it), the version ends ready, no
   second version appeared.
4. **Worker killed mid-task** (``kill-worker``, broker only): a queued rebuild is running when
   the Celery worker's whole process group (parent and pool children) is SIGKILLed; a new worker
   is started. Checks: within 60 s of the restart the task is redelivered or the row is expired,
   and a rebuild then succeeds; the old model keeps serving meanwhile.
5. **Model files corrupted** (``corrupt``): while the site serves, bytes are flipped in place
   in every ``.npy`` of the active version (after ``chmod u+w``), then one file is truncated.
   Checks: no web worker died (gunicorn worker PIDs unchanged, no new "Booting worker"), every
   page answered 200; the report says what was served (API ``model_version`` / ``strategy``) and
   what a fresh process loads.

Two modes. ``--db postgres`` (default): a scratch PostgreSQL database (``--pg-db``, dropped and
re-created unless ``--reuse``), Redis db 9, gunicorn in production mode (3 workers) and a real
Celery worker (prefork, 2 processes). ``--db sqlite``: a scratch SQLite file, ``manage.py
runserver`` (threaded) and in-process tasks; scenarios 3 and 4 are skipped (no broker).
Everything binds and connects to 127.0.0.1 only; every process is started in its own process
group and killed on exit; the whole run has a hard time limit (``--timeout``).

Run from the repository root (PostgreSQL and Redis on 127.0.0.1):

    .venv/bin/python bench/fault_suite.py                          # PostgreSQL + Redis, all five
    .venv/bin/python bench/fault_suite.py --db sqlite
    .venv/bin/python bench/fault_suite.py --users 5 --seconds 10 --only 1,5 --catalog demo

Exit status: 0 when every check passed, 1 when one failed, 2 when the suite itself could not set
up (or hit its time limit).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable

# Status names before and after the build-lifecycle refactor.
RUNNING = frozenset({"building", "running"})
READY = frozenset({"ready", "succeeded"})
QUEUED = frozenset({"queued"})
IN_PROGRESS = RUNNING | QUEUED
STUCK_LIMIT = 60.0  # seconds a killed build may stay "running"; also the recovery window
SCENARIOS = {
    "1": "concurrency",
    "2": "kill-build",
    "3": "duplicate",
    "4": "kill-worker",
    "5": "corrupt",
}
MARK = "FAULTS_JSON="


# ==========================================================================================
# Pure bookkeeping (unit-tested in tests/test_fault_suite.py; no I/O, no Django)
# ==========================================================================================

ACK, REJECTED, UNKNOWN = "ack", "rejected", "unknown"


def normalize_score(value) -> str | None:
    """A score as "4.5" (None stays None): the database, the form and the suite agree."""
    if value is None:
        return None
    return f"{Decimal(str(value)).quantize(Decimal('0.1'))}"


@dataclass(frozen=True)
class Write:
    """One rate/un-rate request of one user, in the order that user sent (and got) them."""

    user: int
    movie: int
    seq: int  # per-user sequence number: a user's requests are serialized
    action: str  # "rate" | "unrate"
    score: str | None  # the score sent with "rate"
    outcome: str  # ACK | REJECTED | UNKNOWN

    @property
    def effect(self) -> str | None:
        """The rating this write leaves behind when it is applied (None = no rating)."""
        return normalize_score(self.score) if self.action == "rate" else None


def classify_write(status: int | None, location: str = "") -> str:
    """What a response says about a rate/un-rate POST.

    2xx, or a redirect that is not to the login page: acknowledged (applied). 4xx and a
    redirect to the login page: refused, not applied. 5xx or no response at all (timeout,
    connection reset): unknown — the server may or may not have applied it, maybe later.
    """
    if status is None or status >= 500:
        return UNKNOWN
    if 300 <= status < 400:
        return REJECTED if "/accounts/login" in (location or "") else ACK
    if 200 <= status < 300:
        return ACK
    return REJECTED


def expected_final(
    writes: list[Write], initial: dict[tuple[int, int], str | None] | None = None
) -> dict[tuple[int, int], frozenset]:
    """Allowed final ratings per (user, movie), from the acknowledged responses.

    A user's writes are serialized, so the last acknowledged one decides — unless a write with
    an unknown outcome exists: it may have been applied at any time (even after later ones, if
    the server was still working on it when the client gave up), so its effect is allowed too.
    Refused writes change nothing. Keys nobody acknowledged keep their initial state (or one of
    the unknown effects). The values are frozensets of normalized scores / None.
    """
    initial = initial or {}
    by_key: dict[tuple[int, int], list[Write]] = {}
    for w in writes:
        by_key.setdefault((w.user, w.movie), []).append(w)
    out: dict[tuple[int, int], frozenset] = {}
    for key, ws in by_key.items():
        ws = sorted(ws, key=lambda w: w.seq)
        acked = [w for w in ws if w.outcome == ACK]
        base = acked[-1].effect if acked else normalize_score(initial.get(key))
        allowed = {base} | {w.effect for w in ws if w.outcome == UNKNOWN}
        out[key] = frozenset(allowed)
    return out


@dataclass
class Comparison:
    checked: int = 0
    matched: int = 0
    ambiguous: int = 0  # more than one allowed state (an unknown outcome was involved)
    lost: list = field(default_factory=list)  # expected a rating, the database has none
    phantom: list = field(default_factory=list)  # expected none, the database has one
    wrong: list = field(default_factory=list)  # both rated, different score

    @property
    def ok(self) -> bool:
        return not (self.lost or self.phantom or self.wrong)


def compare_ratings(
    expected: dict[tuple[int, int], frozenset], actual: dict[tuple[int, int], str | None]
) -> Comparison:
    """Compare the allowed states with what the database holds (``actual``: key -> score)."""
    c = Comparison()
    for key, allowed in sorted(expected.items()):
        got = normalize_score(actual.get(key))
        c.checked += 1
        if len(allowed) > 1:
            c.ambiguous += 1
        if got in allowed:
            c.matched += 1
        elif got is None:
            c.lost.append((key, sorted(allowed, key=str), got))
        elif allowed == {None}:
            c.phantom.append((key, [None], got))
        else:
            c.wrong.append((key, sorted(allowed, key=str), got))
    return c


def duplicate_keys(rows) -> dict[tuple[int, int], int]:
    """(user, movie) pairs present more than once in ``rows`` of (user, movie, ...)."""
    counts = Counter((int(r[0]), int(r[1])) for r in rows)
    return {k: n for k, n in counts.items() if n > 1}


def status_bucket(status: int | None) -> str:
    return "err" if status is None else f"{status // 100}xx"


# ==========================================================================================
# Results
# ==========================================================================================


@dataclass
class Result:
    scenario: str
    tried: str
    counts: Counter = field(default_factory=Counter)
    lost: int | None = None
    duplicated: int | None = None
    stuck_max: float | None = None
    stuck_open: bool = False  # still running when the suite stopped looking
    crashed: str = "-"
    verdict: str = "PASS"
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def fail(self, why: str) -> None:
        self.verdict = "FAIL"
        self.failures.append(why)

    def check(self, ok: bool, why: str) -> bool:
        if not ok:
            self.fail(why)
        return ok

    def note(self, text: str) -> None:
        self.notes.append(text)
        log(f"    {self.scenario}: {text}")


def _dash(value) -> str:
    return "-" if value is None else str(value)


def markdown_table(results: list[Result]) -> str:
    head = (
        "scenario",
        "what was tried",
        "requests",
        "2xx",
        "3xx",
        "4xx",
        "5xx",
        "err",
        "lost / dup ratings",
        "max s stuck",
        "workers crashed",
        "verdict",
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        c = r.counts
        total = sum(c[k] for k in ("2xx", "3xx", "4xx", "5xx", "err"))
        lost_dup = (
            "-"
            if r.lost is None and r.duplicated is None
            else f"{_dash(r.lost)} / {_dash(r.duplicated)}"
        )
        stuck = (
            "-"
            if r.stuck_max is None
            else (f">{r.stuck_max:.0f}" if r.stuck_open else f"{r.stuck_max:.1f}")
        )
        lines.append(
            "| "
            + " | ".join(
                [
                    r.scenario,
                    r.tried,
                    str(total) if total else "-",
                    *(str(c[k]) if total else "-" for k in ("2xx", "3xx", "4xx", "5xx", "err")),
                    lost_dup,
                    stuck,
                    r.crashed,
                    r.verdict,
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def notes_text(results: list[Result]) -> str:
    out = []
    for r in results:
        if r.failures or r.notes:
            out.append(f"- **{r.scenario}** ({r.verdict})")
            out += [f"  - FAIL: {f}" for f in r.failures]
            out += [f"  - {n}" for n in r.notes]
    return "\n".join(out)


_T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - _T0:7.1f}s] {msg}", flush=True)


# ==========================================================================================
# Processes, database, HTTP
# ==========================================================================================


class SuiteError(Exception):
    """The suite could not set up or run (not a finding about the site)."""


class SuiteTimeout(BaseException):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` from /proc (gunicorn workers, Celery pool processes)."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(entry))
    return sorted(kids)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def loadavg() -> tuple[float, float, float]:
    with open("/proc/loadavg") as fh:
        a, b, c = fh.read().split()[:3]
    return float(a), float(b), float(c)


class DB:
    """Read-mostly raw SQL on the site's tables (``SELECT *`` so renamed columns don't break)."""

    def __init__(self, url: str | None = None, path: Path | None = None):
        self.url, self.path = url, path
        if url:
            import psycopg

            self.conn = psycopg.connect(url, autocommit=True)
        else:
            self.conn = sqlite3.connect(
                path, timeout=30, isolation_level=None, check_same_thread=False
            )
        self._lock = threading.Lock()

    def clone(self) -> DB:
        return DB(self.url, self.path)

    def rows(self, sql: str, params=()) -> list[dict]:
        if not self.url:
            sql = sql.replace("%s", "?")
        with self._lock:
            cur = self.conn.cursor()
            cur.execute(sql, params)
            if cur.description is None:
                return []
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def execute(self, sql: str, params=()) -> None:
        self.rows(sql, params)

    def versions(self) -> list[dict]:
        return self.rows("SELECT * FROM recommendations_modelversion ORDER BY id")

    def version(self, vid: int) -> dict | None:
        found = self.rows("SELECT * FROM recommendations_modelversion WHERE id = %s", (vid,))
        return found[0] if found else None

    def active_version(self) -> dict | None:
        found = [v for v in self.versions() if v.get("is_active")]
        return found[-1] if found else None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken"\s+value="([^"]+)"')


class Client:
    """One simulated user: a ``requests.Session`` used by one thread at a time."""

    def __init__(self, base: str, timeout: float = 60.0):
        import requests

        self.base = base
        self.timeout = timeout
        self.s = requests.Session()
        self.s.trust_env = False  # no proxies: loopback only
        self.username = ""

    def twin(self) -> Client:
        """A second session with the same cookies (same login; no second log-in)."""
        other = Client(self.base, self.timeout)
        for cookie in self.s.cookies:
            other.s.cookies.set_cookie(cookie)
        other.username = self.username
        return other

    def request(self, method: str, path: str, counts: Counter | None = None, **kw):
        """``(status or None, location, body)``; counts by status bucket into ``counts``."""
        kw.setdefault("timeout", self.timeout)
        kw.setdefault("allow_redirects", False)
        headers = kw.pop("headers", {})
        headers.setdefault("Referer", self.base + path)
        try:
            r = self.s.request(method, self.base + path, headers=headers, **kw)
            # Production cookies are Secure; send them back over plain-HTTP loopback anyway
            # (requests builds a fresh jar per request, so a cookie policy would not stick).
            for cookie in self.s.cookies:
                cookie.secure = False
            status, location, body = r.status_code, r.headers.get("Location", ""), r.text
        except Exception as exc:  # timeouts, resets: the outcome is unknown
            status, location, body = None, "", f"{type(exc).__name__}: {exc}"
        if counts is not None:
            counts[status_bucket(status)] += 1
            if status is not None and status >= 500:
                counts[f"status {status}"] += 1
        return status, location, body

    def get(self, path: str, counts: Counter | None = None, **kw):
        return self.request("GET", path, counts, **kw)

    def post(self, path: str, data: dict, counts: Counter | None = None):
        data = {**data, "csrfmiddlewaretoken": self.s.cookies.get("csrftoken", "")}
        return self.request("POST", path, counts, data=data)

    def login(self, username: str, password: str, counts: Counter | None = None) -> bool:
        status, _, body = self.get("/accounts/login/", counts)
        match = CSRF_INPUT.search(body or "")
        if status != 200 or not match:
            return False
        status, location, _ = self.request(
            "POST",
            "/accounts/login/",
            counts,
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": match.group(1),
            },
        )
        self.username = username
        return status == 302 and "/accounts/login" not in location and "sessionid" in self.s.cookies

    def api_version(self, counts: Counter | None = None) -> tuple[int | None, dict]:
        status, _, body = self.get("/api/recommendations?top_n=5", counts)
        try:
            data = json.loads(body)
        except (ValueError, TypeError):
            data = {}
        data["_status"] = status
        return data.get("model_version"), data


# ==========================================================================================
# The harness: scratch dirs, environment, processes
# ==========================================================================================


class Harness:
    def __init__(self, args):
        self.args = args
        self.postgres = args.db == "postgres"
        self.scratch = Path(tempfile.mkdtemp(prefix=f"faults-{args.db}-"))
        self.logs = self.scratch / "logs"
        self.logs.mkdir()
        self.model_dir = self.scratch / "models"
        self.port = args.port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.all_procs: list[subprocess.Popen] = []
        self.password = secrets.token_urlsafe(12)
        self.usernames = [f"fault_user_{i:03d}" for i in range(max(args.users, 4))]
        self.user_ids: dict[str, int] = {}
        self.clients: dict[str, Client] = {}
        self.reference_build = 0.0
        self.loads: list[tuple[float, float, float]] = [loadavg()]
        self.db: DB | None = None
        self.env = self._env()

    # --- environment ------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        drop_prefixes = ("CELERY_", "RECS_", "TFIDF_", "TMDB_", "SECURE_", "DJANGO_")
        drop = {
            "DATABASE_URL",
            "REDIS_URL",
            "MODEL_DIR",
            "DEBUG",
            "STATIC_ROOT",
            "EMAIL_URL",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "CACHE_KEY_PREFIX",
            "CONN_MAX_AGE",
            "http_proxy",
            "https_proxy",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "all_proxy",
        }
        env = {
            k: v for k, v in os.environ.items() if k not in drop and not k.startswith(drop_prefixes)
        }
        env.update(
            DJANGO_SETTINGS_MODULE="netflixrecs.settings",
            PYTHONUNBUFFERED="1",
            NO_PROXY="127.0.0.1,localhost",
            MODEL_DIR=str(self.model_dir),
            STATIC_ROOT=str(self.scratch / "static"),
            SHARED_DATA_DIR=str(Path(self.args.shared_data).resolve()),
            LOG_LEVEL="INFO",
            CACHE_KEY_PREFIX=f"faults{os.getpid()}",
        )
        if self.postgres:
            self.db_url = f"postgres://postgres@127.0.0.1:5432/{self.args.pg_db}"
            env.update(
                DJANGO_ENV="production",
                SECRET_KEY=secrets.token_urlsafe(50),
                ALLOWED_HOSTS="127.0.0.1,localhost",
                EMAIL_URL="smtp://127.0.0.1:2525",  # nothing is mailed during the suite
                SECURE_SSL_REDIRECT="false",  # plain HTTP on loopback
                SECURE_HSTS_SECONDS="0",
                DATABASE_URL=self.db_url,
                REDIS_URL=self.args.redis_url,
            )
        else:
            self.sqlite_path = self.scratch / "db.sqlite3"
            env.update(
                DJANGO_ENV="development",
                DEBUG="false",
                DATABASE_URL=f"sqlite:///{self.sqlite_path}",
            )
        return env

    # --- processes --------------------------------------------------------------------
    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        out = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()
        self.procs[name] = proc
        self.all_procs.append(proc)
        return proc

    def manage(self, *argv: str, timeout: float = 300, check: bool = True, name: str = ""):
        """Run ``manage.py argv`` to completion; returns (returncode, output)."""
        name = name or f"manage-{argv[0]}"
        proc = self.spawn(name, [PYTHON, "manage.py", *argv])
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(proc)
            raise SuiteError(
                f"manage.py {' '.join(argv)} took longer than {timeout:.0f}s"
            ) from None
        output = (self.logs / f"{name}.log").read_text(errors="replace")
        if check and proc.returncode != 0:
            raise SuiteError(
                f"manage.py {' '.join(argv)} failed ({proc.returncode}):\n" + output[-2000:]
            )
        return proc.returncode, output

    def shell(self, code: str, *, timeout: float = 120, name: str = "shell") -> dict:
        """Run Python in ``manage.py shell -c``; returns the JSON it printed after MARK."""
        _, output = self.manage("shell", "-c", code, timeout=timeout, name=name)
        for line in reversed(output.splitlines()):
            if line.startswith(MARK):
                return json.loads(line[len(MARK) :])
        raise SuiteError(f"{name}: no result printed:\n{output[-2000:]}")

    def kill(self, proc: subprocess.Popen, sig: int = signal.SIGKILL, grace: float = 8) -> None:
        """Signal ``proc``'s process group (only processes this suite started)."""
        if proc.poll() is not None and sig != signal.SIGKILL:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)

    def kill_all(self) -> None:
        for proc in reversed(self.all_procs):
            if proc.poll() is None:
                self.kill(proc, signal.SIGTERM, grace=5)
            # Whatever is left in the group (pool children, workers) goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

    def log_text(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_for_log(self, name: str, pattern: str, timeout: float, start: int = 0) -> bool:
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            if rx.search(self.log_text(name)[start:]):
                return True
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                return False
            time.sleep(0.3)
        return False

    # --- setup ------------------------------------------------------------------------
    def setup(self) -> None:
        a = self.args
        log(f"scratch: {self.scratch} (mode {a.db}, port {self.port})")
        movielens = Path(a.shared_data) / "movielens-small"
        if a.catalog == "movielens" and not (movielens / "ratings.csv").is_file():
            raise SuiteError(f"{movielens} is missing (set --shared-data or --catalog demo)")
        fresh = True
        if self.postgres:
            import psycopg
            import redis

            with psycopg.connect(
                "postgres://postgres@127.0.0.1:5432/postgres", autocommit=True
            ) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (a.pg_db,)
                ).fetchone()
                if exists and a.reuse:
                    fresh = False
                else:
                    conn.execute(f'DROP DATABASE IF EXISTS "{a.pg_db}" WITH (FORCE)')
                    conn.execute(f'CREATE DATABASE "{a.pg_db}"')
            redis.Redis.from_url(a.redis_url).flushdb()
        log("migrate")
        self.manage("migrate", "--noinput", "-v0")
        if self.postgres:
            self.manage("collectstatic", "--noinput", "-v0")
        self.db = DB(self.db_url) if self.postgres else DB(path=self.sqlite_path)
        movies = self.db.rows("SELECT count(*) AS n FROM movies_movie")[0]["n"]
        if not fresh and movies >= (9000 if a.catalog == "movielens" else 400):
            log(f"reusing {a.pg_db}: {movies} movies")
            # Versions of an earlier run point at another run's MODEL_DIR: start over.
            self.db.execute("DELETE FROM recommendations_modelversion")
        else:
            log("load_demo")
            self.manage("load_demo", "--no-progress")
            if a.catalog == "movielens":
                log("import_movielens --ratings (~9,000 movies, ~80,000 ratings; takes a while)")
                self.manage(
                    "import_movielens", str(movielens), "--ratings", "--no-progress", timeout=900
                )
        log("build_tfidf (reference build)")
        started = time.monotonic()
        self.manage("build_tfidf", "-v0", timeout=900, name="build-reference")
        wall = time.monotonic() - started
        active = self.db.active_version()
        if active is None:
            raise SuiteError("build_tfidf left no active version")
        self.reference_build = float(active.get("build_seconds") or 0) or max(wall - 3, 0.1)
        log(
            f"reference build: version {active['id']}, {self.reference_build:.1f}s "
            f"({active.get('movie_count')} movies)"
        )
        self.create_users()
        self.describe = self.shell(DESCRIBE_SNIPPET, name="describe")
        log(f"settings seen by the site: {self.describe}")
        self.start_web()
        if self.postgres:
            self.start_worker()

    def create_users(self) -> None:
        names = json.dumps(self.usernames)
        code = USERS_SNIPPET.replace("NAMES", names)
        self.env["FAULTS_PASSWORD"] = self.password
        try:
            self.user_ids = self.shell(code, name="users")
        finally:
            del self.env["FAULTS_PASSWORD"]
        log(f"{len(self.user_ids)} users created")

    def start_web(self) -> None:
        if self.postgres:
            argv = [
                PYTHON,
                "-m",
                "gunicorn",
                "netflixrecs.wsgi:application",
                "--workers",
                str(self.args.web_workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "info",
                "--timeout",
                "120",
                "--graceful-timeout",
                "5",
            ]
            name = "gunicorn"
        else:
            argv = [PYTHON, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"]
            name = "runserver"
        self.web = self.spawn(name, argv)
        self.web_name = name
        probe = Client(self.base, timeout=5)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if probe.get("/accounts/login/")[0] == 200:
                break
            if self.web.poll() is not None:
                raise SuiteError(f"{name} exited:\n{self.log_text(name)[-2000:]}")
            time.sleep(0.5)
        else:
            raise SuiteError(f"{name} did not answer within 90s")
        # Gunicorn boots its workers after it answers the first request on some: wait for all.
        if self.postgres:
            deadline = time.monotonic() + 30
            while len(self.web_workers()) < self.args.web_workers and time.monotonic() < deadline:
                time.sleep(0.3)
        log(f"{name} up at {self.base} (pid {self.web.pid}, workers {self.web_workers()})")

    def restart_web(self) -> None:
        """Fresh web processes: gunicorn reloads its workers (HUP), runserver is restarted."""
        if self.postgres:
            old = set(self.web_workers())
            os.kill(self.web.pid, signal.SIGHUP)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                now = self.web_workers()
                if len(now) >= self.args.web_workers and not old & set(now):
                    break
                time.sleep(0.3)
        else:
            self.kill(self.web, signal.SIGTERM)
            self.start_web()

    def web_workers(self) -> list[int]:
        """PIDs serving HTTP: gunicorn's workers, or the runserver process itself."""
        if self.postgres:
            return children_of(self.web.pid)
        return [self.web.pid] if self.web.poll() is None else []

    def booted_workers(self) -> list[int]:
        return [
            int(p) for p in re.findall(r"Booting worker with pid: (\d+)", self.log_text("gunicorn"))
        ]

    def start_worker(self, concurrency: int | None = None) -> subprocess.Popen:
        concurrency = concurrency or self.args.worker_concurrency
        start = len(self.log_text("celery"))
        argv = [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "netflixrecs",
            "worker",
            "-P",
            "prefork",
            "-c",
            str(concurrency),
            "--loglevel",
            "INFO",
            "-n",
            f"faults{os.getpid()}@127.0.0.1",
            "--without-gossip",
            "--without-mingle",
        ]
        self.worker = self.spawn("celery", argv)
        if not self.wait_for_log("celery", r"\bready\.", 90, start=start):
            raise SuiteError(
                "the Celery worker did not become ready:\n" + self.log_text("celery")[-2000:]
            )
        log(f"celery worker up (pid {self.worker.pid}, pool {children_of(self.worker.pid)})")
        return self.worker

    def client(self, index: int) -> Client:
        """User ``index``, logged in once (cached: a user never logs in twice)."""
        name = self.usernames[index]
        if name not in self.clients:
            c = Client(self.base, timeout=self.args.request_timeout)
            if not c.login(name, self.password):
                raise SuiteError(f"{name} could not log in")
            self.clients[name] = c
        return self.clients[name]

    def cleanup(self) -> None:
        self.kill_all()
        if self.db:
            self.db.close()
        if self.postgres and not self.args.keep and not self.args.reuse:
            with contextlib.suppress(Exception):
                import psycopg

                with psycopg.connect(
                    "postgres://postgres@127.0.0.1:5432/postgres", autocommit=True
                ) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{self.args.pg_db}" WITH (FORCE)')
        if self.args.keep:
            log(f"kept {self.scratch} (logs in {self.logs})")
        else:
            shutil.rmtree(self.scratch, ignore_errors=True)

    # --- helpers shared by scenarios --------------------------------------------------
    def clear_stuck(self, result: Result) -> None:
        """Mark builds still in progress failed by SQL so the next check starts clean."""
        stuck = [v for v in self.db.versions() if v["status"] in IN_PROGRESS]
        for v in stuck:
            self.db.execute(
                "UPDATE recommendations_modelversion SET status = 'failed', "
                "error = 'marked failed by the fault suite' WHERE id = %s",
                (v["id"],),
            )
            result.note(
                f"suite marked stuck version {v['id']} ({v['status']}) failed by SQL to continue"
            )

    def queue_rebuild(self, duplicates: int = 0, name: str = "queue") -> dict:
        code = QUEUE_SNIPPET.replace("DUPLICATES", str(duplicates))
        return self.shell(code, name=name)


# Snippets run inside the site with ``manage.py shell -c`` (the site's own code paths).
USERS_SNIPPET = """
import json, os
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
User = get_user_model()
encoded = make_password(os.environ["FAULTS_PASSWORD"])  # hashed once, shared by all
ids = {}
for name in NAMES:
    user, _ = User.objects.update_or_create(
        username=name, defaults={"password": encoded, "is_active": True})
    ids[name] = user.pk
print("FAULTS_JSON=" + json.dumps(ids))
"""

DESCRIBE_SNIPPET = """
import json
from django.conf import settings
keys = ["CELERY_TASK_ACKS_LATE", "CELERY_TASK_REJECT_ON_WORKER_LOST",
        "CELERY_BROKER_TRANSPORT_OPTIONS", "CELERY_TASK_ALWAYS_EAGER",
        "RECS_BUILD_TIME_LIMIT"]
out = {k: getattr(settings, k, None) for k in keys}
out["DATABASE"] = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
print("FAULTS_JSON=" + json.dumps(out, default=str))
"""

# Queue one rebuild the way the site does (the refactor's name first), capture the message it
# published and publish the very same message (same task id and arguments) DUPLICATES times.
QUEUE_SNIPPET = """
import json
from celery.signals import before_task_publish
sent = []
def grab(sender=None, body=None, headers=None, **kwargs):
    sent.append({"task": sender, "id": (headers or {}).get("id"), "body": body})
before_task_publish.connect(grab, weak=False)
from django.db import transaction
from recommendations import tasks
via = "tasks.queue_rebuild"
with transaction.atomic():  # queue_rebuild publishes on commit
    version = tasks.queue_rebuild(triggered_by="fault-suite", activate=True)
vid = getattr(version, "pk", version if isinstance(version, int) else None)
msgs = [m for m in sent if "rebuild" in str(m["task"])]
out = {"via": via, "version": vid, "published": len(msgs)}
if msgs:
    m = msgs[0]
    body = m["body"]
    args, kwargs = (body[0], body[1]) if isinstance(body, (list, tuple)) else (
        body.get("args", []), body.get("kwargs", {}))
    out.update(task=m["task"], task_id=m["id"], args=list(args), kwargs=dict(kwargs))
    from netflixrecs.celery import app
    for _ in range(DUPLICATES):
        app.send_task(m["task"], args=args, kwargs=kwargs, task_id=m["id"])
    out["duplicates_sent"] = DUPLICATES
print("FAULTS_JSON=" + json.dumps(out, default=str))
"""

PROBE_SNIPPET = """
import json
from recommendations.loading import get_active_model
model = get_active_model()
print("FAULTS_JSON=" + json.dumps({"version": model.version_id if model else None}))
"""


# ==========================================================================================
# Scenarios
# ==========================================================================================


def hot_movies(h: Harness, n: int) -> list[int]:
    rows = h.db.rows("SELECT id FROM movies_movie ORDER BY popularity DESC, id LIMIT %s", (n,))
    return [int(r["id"]) for r in rows]


SCORES = [f"{x / 2:.1f}" for x in range(1, 11)]


def scenario_concurrency(h: Harness) -> list[Result]:
    a = h.args
    n_users = a.users
    r = Result(
        "1 concurrency",
        f"{n_users} users x {a.seconds:.0f}s rate/un-rate/read, "
        f"{a.hot} hot movies, {min(a.racers, n_users)} racing pairs",
    )
    movies = hot_movies(h, a.hot + 4)
    hot, race = movies[: a.hot], movies[a.hot :]
    log(f"  logging in {n_users} users")
    login_counts = Counter()
    failed_logins = []
    clients: list[Client] = [None] * n_users

    def do_login(i: int) -> None:
        name = h.usernames[i]
        c = Client(h.base, timeout=a.request_timeout)
        if c.login(name, h.password, login_counts):
            h.clients[name] = clients[i] = c
        else:
            failed_logins.append(name)

    threads = [threading.Thread(target=do_login, args=(i,)) for i in range(n_users)]
    for group in range(0, len(threads), 10):  # ten at a time: logins are CPU-heavy (PBKDF2)
        for t in threads[group : group + 10]:
            t.start()
        for t in threads[group : group + 10]:
            t.join()
    if failed_logins:
        r.fail(f"{len(failed_logins)} users could not log in ({failed_logins[:3]}...)")
        return [r]
    ids = [h.user_ids[h.usernames[i]] for i in range(n_users)]
    marks = ",".join(["%s"] * len(ids))
    initial = {
        (int(x["user_id"]), int(x["movie_id"])): normalize_score(x["score"])
        for x in h.db.rows(
            f"SELECT user_id, movie_id, score FROM movies_rating WHERE user_id IN ({marks})", ids
        )
    }

    counts = Counter()
    lock = threading.Lock()
    writes: list[Write] = []
    deadline = time.monotonic() + a.seconds
    racing = set(range(min(a.racers, n_users)))
    examples_5xx: list[str] = []

    def remember(status, body, what):
        if status is None or status >= 500:
            with lock:
                if len(examples_5xx) < 5:
                    examples_5xx.append(f"{what}: {status} {(body or '')[:120]!r}")

    def writer(i: int) -> None:
        c, uid = clients[i], ids[i]
        rng = random.Random(a.seed * 1000 + i)
        seq = 0
        local: list[Write] = []
        local_counts = Counter()
        while time.monotonic() < deadline:
            x = rng.random()
            movie = rng.choice(hot)
            if x < 0.35:
                score = rng.choice(SCORES)
                st, loc, body = c.post(f"/movies/{movie}/rate/", {"score": score}, local_counts)
                seq += 1
                local.append(Write(uid, movie, seq, "rate", score, classify_write(st, loc)))
                remember(st, body, f"rate {movie}")
            elif x < 0.55:
                st, loc, body = c.post(f"/movies/{movie}/rate/delete/", {}, local_counts)
                seq += 1
                local.append(Write(uid, movie, seq, "unrate", None, classify_write(st, loc)))
                remember(st, body, f"unrate {movie}")
            elif x < 0.65 and i in racing:
                # The opposite of what this user's racer thread is doing on the race set.
                st, _, body = c.post(f"/movies/{rng.choice(race)}/rate/delete/", {}, local_counts)
                remember(st, body, "race unrate")
            elif x < 0.85:
                st, _, body = c.get("/recommendations/", local_counts)
                remember(st, body, "recommendations")
            elif x < 0.95:
                st, _, body = c.get(f"/movies/{movie}/", local_counts)
                remember(st, body, f"movie {movie}")
            else:
                st, _, body = c.get("/api/recommendations?top_n=10", local_counts)
                remember(st, body, "api")
        with lock:
            writes.extend(local)
            counts.update(local_counts)

    def racer(i: int) -> None:
        c = clients[i].twin()
        rng = random.Random(a.seed * 7919 + i)
        local_counts = Counter()
        while time.monotonic() < deadline:
            st, _, body = c.post(
                f"/movies/{rng.choice(race)}/rate/", {"score": rng.choice(SCORES)}, local_counts
            )
            remember(st, body, "race rate")
        with lock:
            counts.update(local_counts)

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(n_users)]
    threads += [threading.Thread(target=racer, args=(i,), daemon=True) for i in racing]
    log(f"  {len(threads)} threads for {a.seconds:.0f}s")
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=a.seconds + a.request_timeout + 30)
    if any(t.is_alive() for t in threads):
        r.fail("some client threads did not finish")
    r.counts = counts
    rows = h.db.rows(
        f"SELECT user_id, movie_id, score FROM movies_rating WHERE user_id IN ({marks})", ids
    )
    dups = duplicate_keys([(x["user_id"], x["movie_id"]) for x in rows])
    actual = {(int(x["user_id"]), int(x["movie_id"])): normalize_score(x["score"]) for x in rows}
    hot_set = set(hot)
    expected = expected_final(writes, initial)
    cmp = compare_ratings(expected, {k: v for k, v in actual.items() if k[1] in hot_set})
    # Keys nobody wrote keep their initial state.
    untouched = [
        k for k in actual if k[1] in hot_set and k not in expected and actual[k] != initial.get(k)
    ]
    acked = sum(w.outcome == ACK for w in writes)
    unknown = sum(w.outcome == UNKNOWN for w in writes)
    r.lost = len(cmp.lost)
    r.duplicated = len(dups)
    r.note(
        f"{len(writes)} bookkept writes ({acked} acknowledged, {unknown} unknown outcome), "
        f"{cmp.checked} (user, movie) pairs checked, {cmp.matched} match, "
        f"{cmp.ambiguous} ambiguous; {len(actual)} ratings in the database"
    )
    r.check(counts["5xx"] == 0, f"{counts['5xx']} responses were 5xx")
    r.check(counts["err"] == 0, f"{counts['err']} requests got no response")
    if examples_5xx:
        r.note("first failures: " + "; ".join(examples_5xx))
    r.check(not cmp.lost, f"{len(cmp.lost)} acknowledged ratings lost, e.g. {cmp.lost[:2]}")
    r.check(
        not cmp.phantom,
        f"{len(cmp.phantom)} ratings present after an acknowledged removal, e.g. {cmp.phantom[:2]}",
    )
    r.check(
        not cmp.wrong,
        f"{len(cmp.wrong)} ratings with another score than the last "
        f"acknowledged one, e.g. {cmp.wrong[:2]}",
    )
    r.check(not untouched, f"{len(untouched)} ratings changed that nobody wrote")
    r.check(not dups, f"{len(dups)} duplicated (user, movie) ratings")
    if counts["4xx"]:
        r.note(f"{counts['4xx']} responses were 4xx (refused writes count as not applied)")
    r.crashed = crashed_text(h, h.web_workers_at_start)
    if r.crashed != "no":
        r.fail(f"web workers died during the run: {r.crashed}")
    return [r]


def crashed_text(h: Harness, before: list[int]) -> str:
    now = h.web_workers()
    gone = [p for p in before if p not in now]
    if h.postgres:
        new = [p for p in h.booted_workers() if p not in h.booted_at_start]
        if gone or new:
            return f"yes ({len(gone)} gone, {len(new)} respawned)"
    elif gone:
        return "yes (runserver died)"
    return "no"


def wait_new_running(
    h: Harness, known: set[int], proc: subprocess.Popen | None, timeout: float
) -> dict | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for v in h.db.versions():
            if v["id"] not in known and v["status"] in RUNNING:
                return v
        if proc is not None and proc.poll() is not None:
            return None
        time.sleep(0.05)
    return None


class RowWatch(threading.Thread):
    """Polls one version row (own connection): when it stopped running, started_at values."""

    def __init__(self, h: Harness, vid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.db, self.vid, self.interval = h.db.clone(), vid, interval
        self.stop_flag = threading.Event()
        self.left_running_at: float | None = None
        self.last: dict = {}
        self.started_values: set = set()
        self.statuses: list[str] = []

    def run(self) -> None:
        try:
            while not self.stop_flag.is_set():
                row = self.db.version(self.vid) or {"status": "gone"}
                self.last = row
                if not self.statuses or self.statuses[-1] != row["status"]:
                    self.statuses.append(row["status"])
                if row.get("started_at"):
                    self.started_values.add(str(row["started_at"]))
                if row["status"] not in IN_PROGRESS and self.left_running_at is None:
                    self.left_running_at = time.monotonic()
                self.stop_flag.wait(self.interval)
        finally:
            self.db.close()

    def stop(self) -> None:
        self.stop_flag.set()
        self.join(timeout=5)


def scenario_kill_build(h: Harness) -> list[Result]:
    results = []
    observer = h.client(0)
    d = h.reference_build
    moments = (
        ("early", "as soon as its row is running"),
        ("middle", 'at "Fitting" (TF-IDF or the hybrid), mid-build'),
        ("late", 'at "Writing artifacts"'),
    )
    for label, when in moments:
        r = Result(f"2 kill-build {label}", f"SIGKILL build_tfidf {when}, then rebuild")
        results.append(r)
        h.clear_stuck(r)
        before = h.db.active_version()
        before_id = before["id"] if before else None
        known = {v["id"] for v in h.db.versions()}
        proc = h.spawn(f"build-kill-{label}", [PYTHON, "manage.py", "build_tfidf", "-v0"])
        row = wait_new_running(h, known, proc, timeout=120)
        if row is None:
            r.verdict = "INCONCLUSIVE"
            r.note(
                f"no running version appeared (build_tfidf exit {proc.poll()}): "
                + h.log_text(f"build-kill-{label}")[-300:]
            )
            h.kill(proc)
            continue
        vid = row["id"]
        seen_at = time.monotonic()
        message = row.get("progress_message", "")
        # "middle" and "late" wait for a step of the build by its progress message (a time
        # fraction of a reference build misfires on a machine whose load changes), at most
        # twice the reference build.
        step = {"middle": "fitting", "late": "writing"}.get(label)
        limit = 2 * d + 5 if step else 0.0
        while time.monotonic() - seen_at < limit and proc.poll() is None:
            v = h.db.version(vid) or {}
            message = v.get("progress_message", message)
            if step and step in str(message).lower():
                break
            time.sleep(0.01)
        if proc.poll() is not None:
            r.verdict = "INCONCLUSIVE"
            r.note(f"the build finished (exit {proc.returncode}) before the kill: too fast")
            continue
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        t_kill = time.monotonic()
        at_kill = h.db.version(vid) or {}
        r.note(
            f"killed version {vid} after {t_kill - seen_at:.1f}s at "
            f'"{at_kill.get("progress_message", message)}" ({at_kill.get("status")})'
        )
        if at_kill.get("status") in READY:
            r.verdict = "INCONCLUSIVE"
            r.note("the build had already finished when it was killed: too fast to test")
            continue
        watch = RowWatch(h, vid)
        watch.start()
        # The previously active model keeps serving.
        st, _, _ = observer.get("/recommendations/", r.counts)
        served, data = observer.api_version(r.counts)
        r.check(st == 200, f"/recommendations/ answered {st} right after the kill")
        r.check(
            served == before_id,
            f"the API served model {served} (status {data.get('_status')}), "
            f"expected the previously active {before_id}",
        )
        active_now = h.db.active_version()
        r.check(
            (active_now or {}).get("id") == before_id,
            f"active version changed to {(active_now or {}).get('id')} by a killed build",
        )
        # No half-written artifact directory in place.
        in_place = h.model_dir / str(vid)
        killed_row = h.db.version(vid) or {}
        if in_place.exists() and killed_row.get("status") not in READY:
            r.fail(
                f"{in_place} exists for a version that is {killed_row.get('status')}: "
                f"{sorted(p.name for p in in_place.iterdir())[:5]}"
            )
        tmp = (
            [p.name for p in h.model_dir.iterdir() if p.name.startswith(".")]
            if h.model_dir.is_dir()
            else []
        )
        if tmp:
            r.note(f"hidden temporary entries left in MODEL_DIR: {tmp}")
        # A new build started right after is accepted within 60 s.
        accepted_after = None
        attempt = 0
        while time.monotonic() - t_kill < STUCK_LIMIT and accepted_after is None:
            attempt += 1
            t_try = time.monotonic()
            known = {v["id"] for v in h.db.versions()}
            retry = h.spawn(
                f"build-after-{label}-{attempt}", [PYTHON, "manage.py", "build_tfidf", "-v0"]
            )
            new = wait_new_running(h, known, retry, timeout=90)
            if new is not None:
                accepted_after = t_try - t_kill
                try:
                    retry.wait(timeout=max(3 * d, 60) + 60)
                except subprocess.TimeoutExpired:
                    h.kill(retry)
                    r.fail(f"the rebuild after the kill (version {new['id']}) did not finish")
                final = h.db.version(new["id"]) or {}
                r.check(
                    final.get("status") in READY,
                    f"the rebuild after the kill ended {final.get('status')}: "
                    f"{str(final.get('error'))[:200]}",
                )
                break
            retry.wait()
            out = h.log_text(f"build-after-{label}-{attempt}").strip().splitlines()
            if attempt == 1:
                r.note(f"rebuild refused (exit {retry.returncode}): {out[-1][:160] if out else ''}")
            time.sleep(max(0.0, 8 - (time.monotonic() - t_try)))
        if accepted_after is None:
            r.fail(
                f"no new build accepted within {STUCK_LIMIT:.0f}s of the kill ({attempt} attempts)"
            )
        else:
            r.note(f"new build accepted {accepted_after:.1f}s after the kill")
        # How long the killed row stayed running.
        while watch.left_running_at is None and time.monotonic() - t_kill < STUCK_LIMIT + 5:
            time.sleep(0.2)
        watch.stop()
        if watch.left_running_at is None:
            r.stuck_max, r.stuck_open = time.monotonic() - t_kill, True
            r.fail(
                f"version {vid} still {watch.last.get('status')} {r.stuck_max:.0f}s after the kill"
            )
            h.clear_stuck(r)
        else:
            stuck = r.stuck_max = watch.left_running_at - t_kill
            r.note(
                f"version {vid} left 'running' {stuck:.1f}s after the kill "
                f"(now {watch.last.get('status')}: {str(watch.last.get('error'))[:120]})"
            )
            r.check(stuck <= STUCK_LIMIT, f"version {vid} stayed running {stuck:.0f}s")
        st, _, _ = observer.get("/recommendations/", r.counts)
        r.check(st == 200, f"/recommendations/ answered {st} after the recovery")
        r.crashed = crashed_text(h, h.web_workers_at_start)
        if r.crashed != "no":
            r.fail(f"web workers died: {r.crashed}")
    return results


TASK_LINE = (
    r"Task (?P<name>\S+)\[{id}\] (?P<what>received|succeeded in (?P<secs>[\d.]+)s|"
    r"raised|retry|rejected|ignored|discarded)"
)


def task_events(h: Harness, task_id: str, start: int = 0) -> list[tuple[str, float | None]]:
    rx = re.compile(TASK_LINE.format(id=re.escape(task_id)))
    out = []
    for m in rx.finditer(h.log_text("celery")[start:]):
        what = m.group("what").split()[0]
        out.append((what, float(m.group("secs")) if m.group("secs") else None))
    return out


def wait_version_done(h: Harness, vid: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    row = {}
    while time.monotonic() < deadline:
        row = h.db.version(vid) or {"status": "gone"}
        if row["status"] not in IN_PROGRESS:
            return row
        time.sleep(0.2)
    return row


def scenario_duplicate(h: Harness) -> list[Result]:
    dups = 2
    r = Result(
        "3 duplicate",
        f"queue 1 rebuild, publish the same message {dups} more times "
        f"({h.args.worker_concurrency} worker processes)",
    )
    h.clear_stuck(r)
    known = {v["id"] for v in h.db.versions()}
    log_start = len(h.log_text("celery"))
    sent = h.queue_rebuild(duplicates=dups, name="queue-duplicate")
    r.note(
        f"queued via {sent.get('via')}: version {sent.get('version')}, task "
        f"{sent.get('task')}[{sent.get('task_id')}] args {sent.get('args')} "
        f"kwargs {sent.get('kwargs')}, {sent.get('duplicates_sent', 0)} duplicates sent"
    )
    vid = sent.get("version")
    if not vid or not sent.get("task_id"):
        r.fail(f"the rebuild was not queued: {sent}")
        return [r]
    watch = RowWatch(h, vid, interval=0.05)
    watch.start()
    final = wait_version_done(h, vid, timeout=max(4 * h.reference_build, 60) + 60)
    # Let the other deliveries finish too.
    deadline = time.monotonic() + max(2 * h.reference_build, 30) + 30
    while time.monotonic() < deadline:
        done = [e for e in task_events(h, sent["task_id"], log_start) if e[0] != "received"]
        if len(done) >= dups + 1:
            break
        time.sleep(0.5)
    time.sleep(1)
    watch.stop()
    final = h.db.version(vid) or {"status": "gone"}
    events = task_events(h, sent["task_id"], log_start)
    received = sum(e[0] == "received" for e in events)
    finished = [e for e in events if e[0] != "received"]
    build_s = float(final.get("build_seconds") or h.reference_build or 1)
    long_runs = [e for e in finished if e[1] is not None and e[1] >= 0.5 * build_s]
    raised = [e for e in finished if e[0] == "raised"]
    builds = max(len(watch.started_values), len(long_runs), int(final.get("attempts") or 0))
    new_versions = [v["id"] for v in h.db.versions() if v["id"] not in known]
    r.note(
        f"worker: {received} deliveries received, outcomes "
        f"{[(w, s) for w, s in finished]}; row statuses seen {watch.statuses}; "
        f"{len(watch.started_values)} distinct started_at; final {final.get('status')}"
        + (f", attempts {final.get('attempts')}" if "attempts" in final else "")
    )
    r.check(received == dups + 1, f"the worker received {received} of {dups + 1} deliveries")
    r.check(builds == 1, f"{builds} builds ran for version {vid} (expected exactly 1)")
    r.check(
        final.get("status") in READY,
        f"version {vid} ended {final.get('status')}: {str(final.get('error'))[:200]}",
    )
    r.check(new_versions == [vid], f"versions created: {new_versions} (expected [{vid}])")
    if raised:
        r.note(f"{len(raised)} deliveries raised (see the worker log)")
    r.stuck_max = None
    r.crashed = crashed_text(h, h.web_workers_at_start)
    return [r]


def scenario_kill_worker(h: Harness) -> list[Result]:
    d = h.reference_build
    r = Result("4 kill-worker", "SIGKILL the Celery worker (parent + pool) mid-build, restart it")
    h.clear_stuck(r)
    observer = h.client(1)
    before = (h.db.active_version() or {}).get("id")
    opts = h.describe
    r.note(
        f"settings: acks_late={opts.get('CELERY_TASK_ACKS_LATE')}, reject_on_worker_lost="
        f"{opts.get('CELERY_TASK_REJECT_ON_WORKER_LOST')}, broker transport options="
        f"{opts.get('CELERY_BROKER_TRANSPORT_OPTIONS')}"
    )
    sent = h.queue_rebuild(duplicates=0, name="queue-kill-worker")
    vid = sent.get("version")
    if not vid:
        r.fail(f"the rebuild was not queued: {sent}")
        return [r]
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        row = h.db.version(vid) or {}
        if row.get("status") in RUNNING:
            break
        time.sleep(0.05)
    else:
        r.fail(f"version {vid} never started running ({row.get('status')})")
        return [r]
    started = time.monotonic()
    while time.monotonic() - started < 0.4 * d:
        time.sleep(0.05)
    pool = children_of(h.worker.pid)
    row = h.db.version(vid) or {}
    if row.get("status") not in RUNNING:
        r.verdict = "INCONCLUSIVE"
        r.note(f"version {vid} was {row.get('status')} before the kill: too fast")
        return [r]
    h.kill(h.worker, signal.SIGKILL)
    r.note(
        f"killed worker {h.worker.pid} and pool {pool} {time.monotonic() - started:.1f}s "
        f'into version {vid} at "{row.get("progress_message")}"'
    )
    watch = RowWatch(h, vid)
    watch.start()
    h.start_worker()
    t_restart = time.monotonic()
    st, _, _ = observer.get("/recommendations/", r.counts)
    served, _ = observer.api_version(r.counts)
    r.check(st == 200, f"/recommendations/ answered {st} with the worker down")
    r.check(served == before, f"the API served model {served}, expected {before}")
    recovered_at = None
    how = ""
    later: int | None = None
    next_try = t_restart
    budget = STUCK_LIMIT + max(2 * d, 30) + 15  # start within 60 s, plus the build itself
    while time.monotonic() - t_restart < budget and recovered_at is None:
        row = h.db.version(vid) or {}
        if row.get("status") in READY:
            recovered_at, how = time.monotonic() - t_restart, f"version {vid} was redelivered"
            break
        if later is not None:
            lrow = h.db.version(later) or {}
            if lrow.get("status") in READY:
                recovered_at = time.monotonic() - t_restart
                how = f"version {vid} {row.get('status')}, later rebuild {later} succeeded"
                break
            if lrow.get("status") not in IN_PROGRESS:
                later = None  # failed: try again
        if (
            later is None
            and row.get("status") not in IN_PROGRESS
            and time.monotonic() >= next_try
            and time.monotonic() - t_restart < STUCK_LIMIT
        ):
            again = h.queue_rebuild(duplicates=0, name="queue-after-restart")
            later = again.get("version")
            next_try = time.monotonic() + 10
        elif (
            later is None
            and row.get("status") in IN_PROGRESS
            and time.monotonic() >= next_try
            and time.monotonic() - t_restart < STUCK_LIMIT
        ):
            # Does the site accept a new rebuild while the killed one is in progress?
            again = h.queue_rebuild(duplicates=0, name="queue-after-restart")
            later = again.get("version")
            if later is None:
                next_try = time.monotonic() + 15
        time.sleep(0.5)
    watch.stop()
    left = watch.left_running_at
    r.stuck_max = (left - t_restart) if left else time.monotonic() - t_restart
    r.stuck_open = left is None
    r.note(
        f"killed version {vid}: statuses seen {watch.statuses}; "
        f"{str(watch.last.get('error'))[:160]}"
    )
    task_id = sent.get("task_id") or ""
    redelivered = sum(e[0] == "received" for e in task_events(h, task_id)) if task_id else 0
    r.note(f"task {task_id} received {redelivered} time(s) in total by the workers")
    if recovered_at is not None:
        r.note(f"recovered {recovered_at:.1f}s after the restart: {how}")
        r.check(recovered_at <= STUCK_LIMIT + max(2 * d, 30) + 15, "recovery took too long")
    else:
        r.fail(
            f"no successful rebuild within {budget:.0f}s of the restart (version {vid} "
            f"{watch.last.get('status')}); Redis redelivers unacked messages only after "
            f"the visibility timeout"
        )
        h.clear_stuck(r)
    if left is None:
        r.fail(f"version {vid} still {watch.last.get('status')} {budget:.0f}s after the restart")
    r.crashed = crashed_text(h, h.web_workers_at_start)
    return [r]


def flip_bytes(path: Path, count: int = 32, seed: int = 0) -> int:
    """XOR ``count`` bytes past the .npy header in place; returns how many were flipped."""
    size = path.stat().st_size
    if size <= 130:
        return 0
    path.chmod(path.stat().st_mode | 0o200)
    rng = random.Random(seed)
    with open(path, "r+b") as fh:
        for _ in range(count):
            pos = rng.randrange(128, size)
            fh.seek(pos)
            b = fh.read(1)
            fh.seek(pos)
            fh.write(bytes([b[0] ^ 0xFF]))
    return count


def serve_for(
    h: Harness,
    clients: list[Client],
    seconds: float,
    counts: Counter,
    movies: list[int],
    failures: list[str],
) -> None:
    deadline = time.monotonic() + seconds

    def run(c: Client, seed: int) -> None:
        rng = random.Random(seed)
        local = Counter()
        while time.monotonic() < deadline:
            x = rng.random()
            path = "/recommendations/" if x < 0.6 else f"/movies/{rng.choice(movies)}/"
            st, _, body = c.get(path, local)
            if st != 200 and len(failures) < 5:
                failures.append(f"{path}: {st} {(body or '')[:100]!r}")
        counts.update(local)

    threads = [
        threading.Thread(target=run, args=(c, i), daemon=True) for i, c in enumerate(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + h.args.request_timeout + 10)


def scenario_corrupt(h: Harness) -> list[Result]:
    a = h.args
    readers = [h.client(i) for i in range(min(4, len(h.usernames)))]
    movies = hot_movies(h, 30)
    # Give the readers enough ratings for personal recommendations (the model is exercised).
    for j, c in enumerate(readers):
        for m in movies[j * 2 : j * 2 + 6]:
            c.post(f"/movies/{m}/rate/", {"score": "5.0"})
    active = h.db.active_version()
    if active is None:
        r = Result("5 corrupt", "corrupt the active model's files")
        r.fail("no active version to corrupt")
        return [r]
    vid = active["id"]
    vdir = h.model_dir / str(vid)
    pristine = h.scratch / f"pristine-{vid}"
    shutil.copytree(vdir, pristine)
    files = sorted(vdir.glob("*.npy"))
    results = []
    for step, what in (
        ("a", "flip bytes in every .npy"),
        ("b", "truncate the largest .npy to 256 bytes"),
    ):
        r = Result(
            f"5{step} corrupt",
            f"{what} of active version {vid} while serving {a.corrupt_seconds:.0f}s",
        )
        results.append(r)
        if step == "b":
            # Start again from intact files, loaded afresh by every web worker.
            for p in files:
                p.chmod(p.stat().st_mode | 0o200)
                shutil.copyfile(pristine / p.name, p)
            h.restart_web()
            r.note(f"restored version {vid} and reloaded the web server first")
        serve_for(h, readers, 4, Counter(), movies, [])  # every worker loads and maps it
        served, _ = readers[0].api_version()
        before_pids = h.web_workers()
        booted_before = h.booted_workers() if h.postgres else []
        signals_before = len(re.findall(r"was sent \w+", h.log_text(h.web_name)))
        log_start = len(h.log_text(h.web_name))
        r.note(f"before: API serves model {served}; web workers {before_pids}")
        if step == "a":
            flipped = sum(flip_bytes(p, seed=i) for i, p in enumerate(files))
            r.note(f"flipped {flipped} bytes in {len(files)} files of {vdir}")
        else:
            biggest = max(files, key=lambda p: p.stat().st_size)
            size = biggest.stat().st_size
            os.truncate(biggest, 256)  # the .npy header survives, the data is gone
            r.note(f"truncated {biggest.name} from {size} to 256 bytes")
        failures: list[str] = []
        serve_for(h, readers, a.corrupt_seconds, r.counts, movies, failures)
        # What was served afterwards (not counted: the API answers 503 by design when no
        # model is loaded, while the pages fall back to popularity).
        served, data = readers[0].api_version()
        r.note(
            f"after: API status {data.get('_status')}, model_version {served}, "
            f"strategy {data.get('strategy')}"
        )
        try:
            probe = h.shell(PROBE_SNIPPET, name=f"probe-{step}")
            fresh = probe.get("version")
            r.note(
                "a fresh process serves "
                + (f"version {fresh}" if fresh else "no model (popularity fallback)")
            )
        except SuiteError as exc:
            r.note(f"a fresh process could not even load the site: {str(exc)[:200]}")
        now = h.web_workers()
        gone = [p for p in before_pids if p not in now]
        respawned = [p for p in h.booted_workers() if p not in booted_before] if h.postgres else []
        signals = re.findall(r"Worker \(pid:(\d+)\) was sent (\w+)", h.log_text(h.web_name))
        signals = signals[signals_before:]
        r.crashed = "no"
        if gone or respawned:
            r.crashed = f"yes ({len(gone)} gone, {len(respawned)} respawned)"
            r.fail(
                f"web workers died: {gone} gone, {respawned} booted since"
                + (f"; gunicorn: {sorted(set(sig for _, sig in signals))}" if signals else "")
            )
        non200 = sum(v for k, v in r.counts.items() if k in ("3xx", "4xx", "5xx", "err"))
        r.check(non200 == 0, f"{non200} page requests did not answer 200; first: {failures[:2]}")
        web_log = h.log_text(h.web_name)[log_start:]
        errors = re.findall(r"Cannot load model version[^\n]{0,160}", web_log)
        if errors:
            r.note(f"web log: {errors[-1]}")
        if not h.postgres and h.web.poll() is not None:
            r.note("runserver died; restarting it")
            h.restart_web()
    return results


SCENARIO_FUNCS = {
    "1": scenario_concurrency,
    "2": scenario_kill_build,
    "3": scenario_duplicate,
    "4": scenario_kill_worker,
    "5": scenario_corrupt,
}


# ==========================================================================================
# Main
# ==========================================================================================


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    p.add_argument("--users", type=int, default=50, help="simulated users in scenario 1 (50)")
    p.add_argument("--seconds", type=float, default=60, help="length of scenario 1 (60)")
    p.add_argument("--only", default="", help="comma-separated scenarios: 1-5 or names")
    p.add_argument("--keep", action="store_true", help="keep the scratch dir, logs and database")
    p.add_argument("--port", type=int, default=0, help="web port on 127.0.0.1 (free one)")
    p.add_argument("--timeout", type=float, default=1800, help="hard limit of the run (s)")
    p.add_argument(
        "--catalog",
        choices=["movielens", "demo"],
        default="movielens",
        help="demo + MovieLens small with ratings (builds take seconds), or demo only",
    )
    p.add_argument(
        "--reuse",
        action="store_true",
        help="PostgreSQL: reuse --pg-db's catalog from an earlier --keep/--reuse run",
    )
    p.add_argument("--pg-db", default="faults", help="scratch PostgreSQL database (faults)")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    p.add_argument("--shared-data", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--web-workers", type=int, default=3)
    p.add_argument("--worker-concurrency", type=int, default=2)
    p.add_argument("--hot", type=int, default=12, help="hot movies in scenario 1")
    p.add_argument("--racers", type=int, default=10, help="users with a racing second thread")
    p.add_argument("--corrupt-seconds", type=float, default=15)
    p.add_argument("--request-timeout", type=float, default=60)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--report", default="", help="also write the table (markdown) to this file")
    args = p.parse_args(argv)
    names = {v: k for k, v in SCENARIOS.items()}
    chosen = [names.get(s.strip(), s.strip()) for s in args.only.split(",") if s.strip()]
    bad = [s for s in chosen if s not in SCENARIOS]
    if bad:
        p.error(f"unknown scenario(s) {bad}; use 1-5 or {', '.join(SCENARIOS.values())}")
    args.scenarios = sorted(set(chosen)) or list(SCENARIOS)
    if args.users < 1 or args.seconds <= 0:
        p.error("--users and --seconds must be positive")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    h = Harness(args)
    results: list[Result] = []
    status = 0

    def on_alarm(signum, frame):
        raise SuiteTimeout(f"hard time limit of {args.timeout:.0f}s reached")

    def on_term(signum, frame):
        raise SystemExit(128 + signum)

    def watchdog():  # if the main thread is stuck in C code past the limit: kill and leave
        time.sleep(args.timeout + 60)
        h.kill_all()
        os._exit(2)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(int(args.timeout))
    threading.Thread(target=watchdog, daemon=True).start()

    def sample_load():
        while True:
            time.sleep(10)
            h.loads.append(loadavg())

    threading.Thread(target=sample_load, daemon=True).start()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    try:
        h.setup()
        h.web_workers_at_start = h.web_workers()
        h.booted_at_start = h.booted_workers() if h.postgres else []
        for key in args.scenarios:
            name = SCENARIOS[key]
            if key in ("3", "4") and not h.postgres:
                results.append(
                    Result(
                        f"{key} {name}",
                        "skipped",
                        verdict="SKIP",
                        notes=["no broker in SQLite mode: tasks run in-process"],
                    )
                )
                continue
            log(f"scenario {key} {name}")
            try:
                results.extend(SCENARIO_FUNCS[key](h))
            except SuiteError as exc:
                r = Result(f"{key} {name}", "could not run")
                r.fail(f"suite error: {exc}")
                results.append(r)
            for r in results:
                if r.scenario.startswith(key):
                    log(f"  -> {r.scenario}: {r.verdict} {'; '.join(r.failures)[:300]}")
    except (SuiteError, SuiteTimeout) as exc:
        log(f"SUITE ERROR: {exc}")
        status = 2
    except KeyboardInterrupt:
        log("interrupted")
        status = 2
    finally:
        signal.alarm(0)
        h.cleanup()
    loads = [x[0] for x in h.loads]
    table = markdown_table(results)
    notes = notes_text(results)
    header = (
        f"Fault suite, {args.db} mode, started {started}; {os.cpu_count()} cores; "
        f"load average (1 min) during the run: min {min(loads):.2f}, "
        f"max {max(loads):.2f}, mean {sum(loads) / len(loads):.2f} "
        f"({len(loads)} samples); users {args.users}, seconds {args.seconds:.0f}, "
        f"catalog {args.catalog}, reference build {h.reference_build:.1f}s"
    )
    print("\n" + header + "\n\n" + table + "\n\n" + notes + "\n", flush=True)
    if args.report:
        Path(args.report).write_text(header + "\n\n" + table + "\n\n" + notes + "\n")
    if status == 0 and any(r.verdict == "FAIL" for r in results):
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
