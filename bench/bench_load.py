"""Load test of the whole site: locust members against gunicorn in production mode.

Sets up a PostgreSQL database (``--pg-db``, re-created unless ``--reuse``) with a catalog and
its ratings, creates ``--users`` members with seed ratings, starts gunicorn (``--web-workers``,
``DJANGO_ENV=production``, Redis cache) on a free loopback port and runs locust headless
(``bench/locustfile.py``) for ``--run-time`` seconds: signed-in members mixing the
recommendations page, movie pages, rating (htmx) and search, 0.5-1.5 s think time.

Prints, per endpoint, requests, failures and p50/p95/p99 (locust's), requests/s, the SQL
queries each page makes (Django's test client on the same database), and **server CPU per
request**: the gunicorn processes' user+system CPU seconds (``/proc/PID/stat``) over the
requests served -- a figure that holds on a noisy machine, unlike latency. Checks zero errors
and that the database holds exactly the last score each member saw saved.

Catalogs: ``tmdb`` (the 3,000 movies through the real client from the fake TMDB, then the
MovieLens ratings matched by TMDB id, as in the issue's measurement), ``demo`` (ours,
fast; CI's small run) or ``synthetic`` (``--movies`` movies of ``bench/synthetic_catalog.py``:
topic-clustered genres, keywords, overview words, cast and director, written with COPY by
``bench/copy_catalog.py``; the members' ratings are the site's).
Loopback only; bounded by ``--run-time``.

Usage::

    .venv/bin/python bench/bench_load.py                 # 50 members, 60 s, TMDB catalog
    .venv/bin/python bench/bench_load.py --reuse         # same database, skip the set-up
    .venv/bin/python bench/bench_load.py --small --check # CI: demo catalog, 10 members, 20 s
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")

from devtools.fake_tmdb import FakeTMDB, default_data_path  # noqa: E402

USERS_SNIPPET = r"""
import json, os, random
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.db import transaction
from movies.models import Movie, Rating
User = get_user_model()
n = int(os.environ["LOAD_N_USERS"])
password = os.environ["LOAD_PASSWORD"]
ids = list(Movie.objects.order_by("-popularity", "pk").values_list("pk", flat=True))
head, tail = ids[:150], ids[150:] or ids
rng = random.Random(7)
names, sessions = [], {}
Store = import_module(settings.SESSION_ENGINE).SessionStore
with transaction.atomic():
    for i in range(n):
        user, _ = User.objects.get_or_create(username=f"load_{i:03d}")
        user.set_password(password)
        user.save()
        Rating.objects.filter(user=user).delete()
        # A member with a history: 20 of the well-known films, mostly liked, some not.
        Rating.objects.bulk_create(
            Rating(user=user, movie_id=m, score=rng.choice([2.0, 3.0, 4.0, 4.5, 5.0, 5.0]))
            for m in rng.sample(head, min(20, len(head)))
        )
        names.append(user.username)
        # Signed in as django.contrib.auth.login does it, so the run measures browsing, not
        # the deliberately slow password hash of each sign-in (timed apart, below).
        store = Store()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        sessions[user.username] = store.session_key
titles = list(Movie.objects.order_by("?").values_list("title", flat=True)[:60])
words = [w for t in titles for w in t.split() if len(w) > 3][:40]
plan = {
    "users": names,
    "sessions": sessions,
    "password": password,
    "movies": rng.sample(ids, min(400, len(ids))),
    # Rated during the run: never a seed movie, so the check below can tell them apart.
    "rate_movies": rng.sample(tail, min(300, len(tail))),
    "queries": words + ["godfater", "star wars", "alien", "the", "love"],
}
print(json.dumps(plan))
"""

SYNTHETIC_SNIPPET = r"""
import json, os
from bench.copy_catalog import copy_synthetic_catalog
def log(line):
    print(line, flush=True)
print(json.dumps(copy_synthetic_catalog(int(os.environ["LOAD_N_MOVIES"]), log=log)))
"""

QUERIES_SNIPPET = r"""
import json
from django.db import connection
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import CaptureQueriesContext
from movies.models import Rating
plan = json.loads(open(__import__("os").environ["LOAD_PLAN"]).read())
user = get_user_model().objects.get(username=plan["users"][0])
client = Client(HTTP_HOST="127.0.0.1")
client.force_login(user)
movie = plan["movies"][0]
pages = {
    "recommendations": ("get", "/recommendations/", {}),
    "movie page": ("get", f"/movies/{movie}/", {}),
    "search": ("get", "/movies/", {"q": "star"}),
    "rate (htmx)": ("post", f"/movies/{plan['rate_movies'][0]}/rate/", {"score": "4"}),
}
out = {}
for name, (method, url, data) in pages.items():
    hx = "true" if method == "post" else ""
    getattr(client, method)(url, data, HTTP_HX_REQUEST=hx)
    with CaptureQueriesContext(connection) as ctx:
        response = getattr(client, method)(url, data, HTTP_HX_REQUEST=hx)
    out[name] = {"status": response.status_code, "queries": len(ctx.captured_queries)}
# The probe's rating is not one the check below should find.
Rating.objects.filter(user=user, movie_id=plan["rate_movies"][0]).delete()
print(json.dumps(out))
"""

RATINGS_SNIPPET = r"""
import json, os
from movies.models import Rating
plan = json.loads(open(os.environ["LOAD_PLAN"]).read())
rows = Rating.objects.filter(
    user__username__in=plan["users"], movie_id__in=plan["rate_movies"]
).values_list("user__username", "movie_id", "score")
print(json.dumps([[u, m, f"{float(s):g}"] for u, m, s in rows]))
"""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` so far (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_of(pid: int) -> dict[str, int]:
    """Rss / Pss (and its anonymous, file-backed and shared-memory parts) of ``pid`` in KiB,
    from ``/proc/PID/smaps_rollup``: Pss divides every shared page by the processes mapping
    it, so a model memory-mapped by N workers counts once in their sum. The served copy of a
    model is staged in tmpfs (``RECS_STAGE_DIR``), so its pages are Pss_Shmem."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        if name in ("Rss", "Pss", "Pss_Anon", "Pss_File", "Pss_Shmem"):
            out[name] = int(value.split()[0])
    return out


def dir_kib(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) // 1024


def children_of(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry))
    return sorted(kids)


class Site:
    """The database, the environment and the gunicorn process of one run."""

    def __init__(self, args):
        self.args = args
        self.scratch = Path(tempfile.mkdtemp(prefix="load-"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.db_url = f"postgres://postgres@127.0.0.1:5432/{args.pg_db}"
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("TMDB_", "RECS_"))}
        self.env = {
            **keep,
            "DJANGO_SETTINGS_MODULE": "netflixrecs.settings",
            "DJANGO_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "EMAIL_URL": "smtp://127.0.0.1:2525",  # nothing is mailed during the run
            "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
            "SECURE_HSTS_SECONDS": "0",
            "SECURE_COOKIES": "false",  # the cookies must travel over plain HTTP here
            "DATABASE_URL": self.db_url,
            "REDIS_URL": args.redis_url,
            "CACHE_KEY_PREFIX": f"load{os.getpid()}",
            "CELERY_TASK_ALWAYS_EAGER": "true",  # rebuilds are not part of this test
            "MODEL_DIR": str(Path(args.model_dir or self.scratch / "models").resolve()),
            "STATIC_ROOT": str(self.scratch / "static"),
            "LOG_LEVEL": "WARNING",
            "AXES_ENABLED": "false",  # 50 sign-ins from one address is the test, not an attack
            "NO_PROXY": "127.0.0.1,localhost",
        }
        self.plan_path = self.scratch / "plan.json"
        self.results_path = self.scratch / "saved.json"
        self.env["LOAD_PLAN"] = str(self.plan_path)
        self.env["LOAD_RESULTS"] = str(self.results_path)
        self.cpu_dir = self.scratch / "cpu"
        self.cpu_dir.mkdir()
        self.env["LOAD_CPU_DIR"] = str(self.cpu_dir)
        self.web: subprocess.Popen | None = None

    def manage(self, *argv: str, extra_env: dict | None = None, timeout: float = 1800) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *argv],
            cwd=REPO,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode:
            raise SystemExit(f"manage.py {' '.join(argv)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def shell(self, code: str, **extra_env) -> object:
        out = self.manage("shell", "-c", code, extra_env=extra_env)
        return json.loads(out.strip().splitlines()[-1])

    def has_catalog(self) -> bool:
        probe = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", self.args.pg_db, "-tAc",
             "SELECT count(*) FROM movies_movie"],
            capture_output=True, text=True,
        )  # fmt: skip
        return probe.returncode == 0 and int(probe.stdout.strip() or 0) > 0

    def set_up(self) -> None:
        if self.args.reuse and self.has_catalog() and self.args.model_dir:
            log(f"reusing database {self.args.pg_db} and models in {self.args.model_dir}")
            self.manage("migrate", "-v0")
        else:
            db = self.args.pg_db
            subprocess.run(
                ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc",
                 f'DROP DATABASE IF EXISTS "{db}"', "-c", f'CREATE DATABASE "{db}"'],
                check=True,
            )  # fmt: skip
            self.manage("migrate", "-v0")
            if self.args.catalog == "demo":
                self.manage("load_demo")
            elif self.args.catalog == "synthetic":
                log(f"creating {self.args.movies:,} synthetic movies (COPY)")
                loaded = self.shell(SYNTHETIC_SNIPPET, LOAD_N_MOVIES=str(self.args.movies))
                log(
                    f"{loaded['movies']:,} movies, {loaded['rows']:,} rows in "
                    f"{loaded['seconds']:.0f} s: {loaded['rows_per_s']:,} rows/s"
                )
            else:
                self.load_tmdb_catalog()
            started = time.perf_counter()
            self.manage("build_tfidf", "-v0")
            log(f"model built in {time.perf_counter() - started:.0f} s")
        self.manage("collectstatic", "--noinput", "-v0")
        plan = self.shell(
            USERS_SNIPPET, LOAD_N_USERS=str(self.args.users), LOAD_PASSWORD=secrets.token_hex(8)
        )
        self.plan_path.write_text(json.dumps(plan))
        log(f"{len(plan['users'])} members with 20 seed ratings each")

    def active_version(self) -> int:
        probe = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", self.args.pg_db, "-tAc",
             "SELECT id FROM recommendations_modelversion WHERE is_active"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return int(probe.stdout.strip())

    def load_tmdb_catalog(self) -> None:
        fake = FakeTMDB(data_path=default_data_path()).start()
        try:
            log(f"syncing 3,000 movies from the fake TMDB at {fake.url}")
            self.manage(
                "sync_tmdb", "--pages", "150", "--no-progress",
                extra_env={"TMDB_API_BASE": fake.url, "TMDB_READ_TOKEN": fake.read_token,
                           "TMDB_API_KEY": "", "TMDB_RATE_LIMIT": "100000",
                           "TMDB_RATE_WINDOW": "1"},
            )  # fmt: skip
        finally:
            fake.stop()
        data = REPO.parent / "shared" / "data" / "movielens-small"
        log("importing the MovieLens ratings (matched by TMDB id)")
        self.manage("import_movielens", str(data), "--ratings", "--no-progress")

    def start_web(self) -> list[int]:
        out = open(self.scratch / "gunicorn.log", "ab")  # noqa: SIM115 (closed with the process)
        self.web = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "netflixrecs.wsgi:application",
             "--workers", str(self.args.web_workers), "--bind", f"127.0.0.1:{self.port}",
             "--timeout", "60", "--log-level", "warning",
             "--config", str(REPO / "bench" / "gunicorn_cpu.py")],
            cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        out.close()
        import urllib.request

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base + "/accounts/login/", timeout=5)
                break
            except OSError:
                if self.web.poll() is not None:
                    raise SystemExit((self.scratch / "gunicorn.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        while len(children_of(self.web.pid)) < self.args.web_workers:
            time.sleep(0.2)
        workers = children_of(self.web.pid)
        # Warm every worker (the model is loaded on first use), outside the measured window.
        for _ in range(4 * len(workers)):
            urllib.request.urlopen(self.base + "/recommendations/", timeout=30)
        log(f"gunicorn at {self.base}, workers {workers}")
        return workers

    def endpoint_cpu(self) -> dict[str, list[float]]:
        """Requests and CPU seconds per endpoint so far, from the workers' hook files."""
        totals: dict[str, list[float]] = {}
        for path in self.cpu_dir.glob("*.json"):  # one per worker
            for name, (count, cpu) in json.loads(path.read_text()).items():
                entry = totals.setdefault(name, [0, 0.0])
                entry[0] += count
                entry[1] += cpu
        return totals

    def stop_web(self) -> None:
        if self.web and self.web.poll() is None:
            os.killpg(self.web.pid, signal.SIGTERM)
            self.web.wait(timeout=30)


def run_locust(site: Site, prefix: Path) -> subprocess.CompletedProcess:
    args = site.args
    cmd = [
        PYTHON, "-m", "locust", "-f", str(REPO / "bench" / "locustfile.py"), "--headless",
        "--host", site.base, "--users", str(args.users),
        "--spawn-rate", str(args.spawn_rate or args.users),
        "--run-time", f"{args.run_time}s", "--csv", str(prefix), "--only-summary",
        "--stop-timeout", "5", "--loglevel", "WARNING",
    ]  # fmt: skip
    log("$ " + " ".join(Path(c).name if c == PYTHON else c for c in cmd))
    return subprocess.run(cmd, cwd=REPO, env=site.env, capture_output=True, text=True)


def read_stats(prefix: Path) -> list[dict]:
    with open(f"{prefix}_stats.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", choices=["tmdb", "demo", "synthetic"], default="tmdb")
    parser.add_argument("--movies", type=int, default=100_000, help="--catalog synthetic size")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--run-time", type=int, default=60, help="seconds of load")
    parser.add_argument(
        "--spawn-rate",
        type=float,
        default=0,
        help="members started per second (default: all at once, a burst of --users requests)",
    )
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--pg-db", default="netflixrecs_load")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--model-dir", default="", help="keep models here (needed by --reuse)")
    parser.add_argument("--reuse", action="store_true", help="keep the database if it has movies")
    parser.add_argument("--small", action="store_true", help="CI: demo catalog, 10 members, 20 s")
    parser.add_argument("--check", action="store_true", help="exit 1 on errors or lost ratings")
    args = parser.parse_args()
    if args.small:
        args.catalog, args.users, args.run_time = "demo", 10, 20
    if not 1 <= args.users <= 200 or not 5 <= args.run_time <= 600:
        parser.error("--users must be 1..200 and --run-time 5..600 (a bounded test)")

    site = Site(args)
    site.set_up()
    queries = site.shell(QUERIES_SNIPPET)
    workers = site.start_web()
    try:
        before = {pid: cpu_seconds(pid) for pid in [site.web.pid, *workers]}
        (site.cpu_dir / "started").touch()
        load_before = loadavg()
        started = time.perf_counter()
        result = run_locust(site, site.scratch / "locust")
        wall = time.perf_counter() - started
        load_after = loadavg()
        after = {pid: cpu_seconds(pid) for pid in before}
        now_workers = children_of(site.web.pid)
        memory = {pid: memory_of(pid) for pid in [site.web.pid, *now_workers]}
    finally:
        site.stop_web()
    by_endpoint = site.endpoint_cpu()  # written by the workers as they exit
    stats = read_stats(site.scratch / "locust")
    total = next(row for row in stats if row["Name"] == "Aggregated")
    requests = int(total["Request Count"])
    failures = int(total["Failure Count"])
    cpu = sum(after[p] - before[p] for p in before)

    saved = json.loads(site.results_path.read_text()) if site.results_path.exists() else []
    in_db = {(u, m): s for u, m, s in site.shell(RATINGS_SNIPPET)}
    expected = {(r["user"], r["movie"]): r["score"] for r in saved}
    lost = {k: v for k, v in expected.items() if in_db.get(k) != v}
    extra = set(in_db) - set(expected)

    print(f"\n## Load test: {args.users} members, {args.run_time} s, catalog {args.catalog}")
    print(f"command: .venv/bin/python bench/bench_load.py {' '.join(sys.argv[1:])}")
    print(f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"load average before {load_before}, after {load_after}")  # fmt: skip
    replaced = sorted(set(now_workers) - set(workers)) or "none"
    print(f"gunicorn {args.web_workers} workers (production, PostgreSQL + Redis); "
          f"workers replaced during the run: {replaced}\n")  # fmt: skip
    print("| endpoint | requests | failures | p50 ms | p95 ms | p99 ms | queries/page "
          "| server CPU ms/request |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for row in stats:
        q = queries.get(row["Name"], {}).get("queries", "")
        count, seconds = by_endpoint.get(row["Name"], (0, 0.0))
        per = f"{1000 * seconds / count:.1f}" if count else ""
        print(f"| {row['Name']} | {row['Request Count']} | {row['Failure Count']} | "
              f"{row['50%']} | {row['95%']} | {row['99%']} | {q} | {per} |")  # fmt: skip
    print(f"\nrequests/s served: {requests / wall:.1f} ({requests} in {wall:.1f} s)")
    print(f"server CPU: {cpu:.2f} s over {requests} requests = "
          f"{1000 * cpu / max(requests, 1):.1f} ms per request")  # fmt: skip
    # The served version's folder (MODEL_DIR/<id>), not the newest one: a --reuse run may find
    # later versions built aside that were never activated.
    active = site.active_version()
    served = Path(site.env["MODEL_DIR"]) / str(active)
    print(f"\nmemory after the run (KiB, /proc/PID/smaps_rollup; active model {active} on disk: "
          f"{dir_kib(served) if served.is_dir() else 'missing'} KiB):")  # fmt: skip
    print("| process | Rss | Pss | Pss anon | Pss file | Pss shmem (the model) |")
    print("|---|---|---|---|---|---|")
    for pid, mem in memory.items():
        role = "master" if pid == site.web.pid else "worker"
        print(f"| {role} {pid} | {mem.get('Rss', 0)} | {mem.get('Pss', 0)} | "
              f"{mem.get('Pss_Anon', 0)} | {mem.get('Pss_File', 0)} | "
              f"{mem.get('Pss_Shmem', 0)} |")  # fmt: skip
    print(f"ratings: {len(expected)} saved responses (last per member and movie), "
          f"{len(in_db)} in the database, {len(lost)} differ, {len(extra)} unexpected")  # fmt: skip
    if result.returncode not in (0, 1):
        print(result.stderr[-3000:])
    ok = failures == 0 and not lost and not extra and result.returncode in (0, 1) and requests
    print("RESULT:", "ok" if ok else "FAILED")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    raise SystemExit(main())
