"""Where a page's server time goes: cProfile over repeated requests through Django's test client.

Runs against the database in ``DATABASE_URL`` as a member (``--user``, default the first
``load_*`` member that ``bench/bench_load.py`` created), in-process (no HTTP, no gunicorn), so
the figures are the view + middleware + template cost alone. For each page: mean wall time per
request, SQL queries per request, and the functions with the most cumulative time.

Usage (after a ``bench_load.py`` run, with its environment)::

    DJANGO_ENV=production SECRET_KEY=x ALLOWED_HOSTS=127.0.0.1 SECURE_SSL_REDIRECT=false \\
      EMAIL_URL=smtp://127.0.0.1:2525 REDIS_URL=redis://127.0.0.1:6379/13 \\
      DATABASE_URL=postgres://postgres@127.0.0.1:5432/netflixrecs_load MODEL_DIR=/work/loadmodels \\
      .venv/bin/python bench/profile_pages.py --repeat 30

``--plain``: CPU per request without the profiler (for before/after on the same database:
run it from both checkouts); ``--cpu``: profile CPU time instead of wall time (waiting for
PostgreSQL and Redis left out, as in the load test's figure; the profiler's own cost grows);
``--callers PATTERN``: who calls the matching functions.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netflixrecs.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--user", default="")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--cpu", action="store_true", help="profile CPU time, not wall time")
    parser.add_argument("--plain", action="store_true", help="CPU per request, no profiler")
    parser.add_argument("--callers", default="", help="also print the callers of these functions")
    parser.add_argument(
        "--pages", default="recommendations,recs_uncached,movie,search,rate,account,watchlist"
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from movies.models import Movie, Rating

    users = get_user_model().objects.order_by("username")
    user = (
        users.get(username=args.user)
        if args.user
        else users.filter(username__startswith="load_").first()
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    movies = list(
        Movie.objects.order_by("-popularity").values_list("pk", flat=True)[200 : 200 + args.repeat]
    )
    pages = {
        "recommendations": lambda i: client.get("/recommendations/"),
        # The page body is cached per member state and CSRF secret: a fresh secret per request
        # misses the cache, as a view after a rating does.
        "recs_uncached": lambda i: (
            client.cookies.pop(settings.CSRF_COOKIE_NAME, None),
            client.get("/recommendations/"),
        )[1],
        "movie": lambda i: client.get(f"/movies/{movies[i % len(movies)]}/"),
        "search": lambda i: client.get(
            "/movies/", {"q": ["star", "alien", "godfater", "love"][i % 4]}
        ),
        "rate": lambda i: client.post(
            f"/movies/{movies[i % len(movies)]}/rate/", {"score": "4"}, HTTP_HX_REQUEST="true"
        ),
        "account": lambda i: client.get("/accounts/"),
        # A page that does next to nothing itself: the fixed cost of every page (middleware,
        # session, user, the base template).
        "watchlist": lambda i: client.get("/movies/watchlist/"),
    }
    rated_before = set(Rating.objects.filter(user=user).values_list("movie_id", flat=True))
    try:
        for name in args.pages.split(","):
            fetch = pages[name]
            fetch(0)  # warm: model load, template cache
            with CaptureQueriesContext(connection) as ctx:
                status = fetch(1).status_code
            if args.plain:
                # No profiler: CPU per request (the median of 5 rounds), for before/after.
                rounds = []
                for r in range(5):
                    cpu_started = time.process_time()
                    for i in range(args.repeat):
                        fetch(r * args.repeat + i)
                    rounds.append((time.process_time() - cpu_started) / args.repeat * 1000)
                rounds.sort()
                print(f"{name}: {rounds[2]:.2f} ms CPU per request (median of 5 rounds of "
                      f"{args.repeat}: {rounds[0]:.2f}-{rounds[-1]:.2f}), "
                      f"status {status}")  # fmt: skip
                continue
            # --cpu: the process's CPU time, not wall time: waiting for PostgreSQL or Redis
            # is left out, as it is from the load test's server CPU per request.
            profiler = cProfile.Profile(time.process_time) if args.cpu else cProfile.Profile()
            started, cpu_started = time.perf_counter(), time.process_time()
            profiler.enable()
            for i in range(args.repeat):
                fetch(i)
            profiler.disable()
            per = (time.perf_counter() - started) / args.repeat * 1000
            cpu = (time.process_time() - cpu_started) / args.repeat * 1000
            print(f"\n### {name}: {per:.1f} ms per request ({cpu:.1f} ms CPU), in-process, "
                  f"profiled, {len(ctx.captured_queries)} queries, status {status}")  # fmt: skip
            out = io.StringIO()
            order = os.environ.get("PROFILE_SORT", "cumulative")  # or tottime
            stats = pstats.Stats(profiler, stream=out).sort_stats(order)
            stats.print_stats(args.top)
            if args.callers:  # who calls the functions matching this pattern
                stats.print_callers(args.callers)
            print("\n".join(out.getvalue().splitlines()[6:]))
    finally:
        Rating.objects.filter(user=user).exclude(movie_id__in=rated_before).delete()


if __name__ == "__main__":
    main()
