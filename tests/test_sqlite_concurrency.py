"""Concurrent rating writes on a file-backed SQLite database, configured as the site runs it.

The pytest database on SQLite lives in memory, where every connection shares one cache and
concurrency means nothing. Here separate processes (like gunicorn workers) each run the real
settings against one SQLite file and rate, re-rate and un-rate at the same moment. Without WAL,
IMMEDIATE transactions and a busy timeout (settings.py) a transaction that reads before it
writes fails at once with "database is locked" when another process holds the write lock.
"""

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing, suppress
from decimal import Decimal
from pathlib import Path

from django.conf import settings

WORKERS = 4
ROUNDS = 40
SCORES = ["0.5", "1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0", "4.5", "5.0"]

SETUP = r"""
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from movies.models import Movie
User = get_user_model()
for name in [f"w{n}" for n in range({workers})] + ["shared"]:
    User.objects.create_user(username=name, password=None)
for n in range(5):
    Movie.objects.create(tmdb_id=700_000 + n, title=f"Concurrent {n}")
"""

WORKER = r"""
import json, sys, time
from decimal import Decimal
from pathlib import Path
import django
django.setup()
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from movies.models import Movie, Rating
from movies.services.ratings import rate_movie, remove_rating

worker, rounds, folder = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
scores = [Decimal(s) for s in sys.argv[4].split(",")]
User = get_user_model()
me, shared = User.objects.get(username=f"w{worker}"), User.objects.get(username="shared")
movies = list(Movie.objects.order_by("pk"))
with connection.cursor() as cursor:
    journal = cursor.execute("PRAGMA journal_mode").fetchone()[0]
expected, errors, shared_writes = {}, [], []
# Everyone starts together: the test creates "go" once all workers are ready.
(folder / f"ready-{worker}").touch()
for _ in range(6000):
    if (folder / "go").exists():
        break
    time.sleep(0.01)
for i in range(rounds):
    movie = movies[i % len(movies)]
    try:
        if i % 4 == 3:
            remove_rating(user=me, movie=movie)
            expected[movie.pk] = None
        elif i % 4 == 1:
            # Read, then write, in one transaction: the pattern IMMEDIATE mode protects.
            with transaction.atomic():
                current = Rating.objects.filter(user=me, movie=movie).first()
                score = min(Decimal("5.0"), (current.score if current else Decimal("2.0")) + 1)
                rate_movie(user=me, movie=movie, score=score)
            expected[movie.pk] = str(score)
        else:
            score = scores[(i + worker) % len(scores)]
            rate_movie(user=me, movie=movie, score=score)
            expected[movie.pk] = str(score)
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    try:
        # Every worker also fights over one shared (user, movie) row.
        if (i + worker) % 3:
            rate_movie(user=shared, movie=movies[0], score=scores[worker])
            shared_writes.append(str(scores[worker]))
        else:
            remove_rating(user=shared, movie=movies[0])
    except Exception as exc:
        errors.append(f"shared row: {type(exc).__name__}: {exc}")
print(json.dumps({"journal": journal, "expected": expected, "errors": errors,
                  "shared_writes": shared_writes}))
"""


def _env(db_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_ENV"}}
    env.update(
        DATABASE_URL=f"sqlite:///{db_path}",
        DJANGO_SETTINGS_MODULE="netflixrecs.settings_test",
        CELERY_TASK_ALWAYS_EAGER="true",
        CELERY_BROKER_URL="",
    )
    return env


def _python(args, env, **kwargs):
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def test_concurrent_rating_writes_on_sqlite_file_never_lock(tmp_path):
    db_path = tmp_path / "site.sqlite3"
    env = _env(db_path)
    made = _python(["-c", SETUP.replace("{workers}", str(WORKERS))], env)
    assert made.returncode == 0, made.stderr

    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(n), str(ROUNDS), str(tmp_path), ",".join(SCORES)],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WORKERS)
    ]
    try:
        # Bounded wait (not a timing assertion): a worker that never gets ready fails here.
        ready = [tmp_path / f"ready-{n}" for n in range(WORKERS)]
        for proc in procs:
            while not all(p.exists() for p in ready) and proc.poll() is None:
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.05)
        (tmp_path / "go").touch()
        outputs = [proc.communicate(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    reports = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))

    errors = [e for r in reports for e in r["errors"]]
    assert errors == [], f"{len(errors)} failed writes, first: {errors[0]}"
    # The project's OPTIONS were in force in every worker.
    assert {r["journal"] for r in reports} == {"wal"}

    with closing(sqlite3.connect(db_path)) as db:
        rows = db.execute(
            "SELECT u.username, r.movie_id, r.score FROM movies_rating r "
            "JOIN accounts_user u ON u.id = r.user_id"
        ).fetchall()
    # SQLite hands decimals back as numbers: compare as Decimals.
    rows = [(u, m, Decimal(str(s))) for u, m, s in rows]
    stored = {(u, m): s for u, m, s in rows if u != "shared"}
    expected = {
        (f"w{n}", int(movie)): Decimal(score)
        for n, report in enumerate(reports)
        for movie, score in report["expected"].items()
        if score is not None
    }
    # Every successful write is in the database, and nothing else is.
    assert stored == expected
    shared = [s for u, _, s in rows if u == "shared"]
    assert len(shared) <= 1  # the unique constraint held
    assert set(shared) <= {Decimal(s) for r in reports for s in r["shared_writes"]}
