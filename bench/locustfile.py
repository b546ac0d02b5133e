"""Locust users for ``bench/bench_load.py``: signed-in members browsing, rating and searching.

Not run on its own in normal use: ``bench_load.py`` starts the site, writes the members'
sessions and the movie ids to a JSON file named by ``LOAD_PLAN`` and runs ``locust
--headless`` on this file. Each simulated member opens its account page once, then mixes the
recommendations page, movie pages, rating (htmx, as the star widget does) and search, with a
0.5-1.5 s think time. Every successful rating is remembered, so the runner can check that the
database holds exactly the last score each member saw saved (``LOAD_RESULTS``).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import secrets
import threading

from locust import HttpUser, between, events, task

PLAN = json.loads(open(os.environ["LOAD_PLAN"]).read())  # noqa: SIM115 (read once at import)
_names = itertools.cycle(PLAN["users"])
_lock = threading.Lock()
# (username, movie id) -> the score of the last rating response that said "Saved."
SAVED: dict[tuple[str, int], str] = {}
SCORES = [f"{s / 2:g}" for s in range(1, 11)]


class Member(HttpUser):
    wait_time = between(0.5, 1.5)

    def on_start(self):
        with _lock:
            self.username = next(_names)
        # The runner signed each member in (a session in the database, as a log-in makes):
        # the run measures browsing, not the deliberately slow password hash of a sign-in.
        self.client.cookies.set("sessionid", PLAN["sessions"][self.username])
        # Django accepts its unmasked 32-character secret as the token, in cookie and header.
        self.csrf = secrets.token_hex(16)
        self.client.cookies.set("csrftoken", self.csrf)
        response = self.client.get("/accounts/", name="account page", allow_redirects=False)
        if response.status_code != 200:
            raise RuntimeError(f"{self.username} is not signed in ({response.status_code})")
        self.rng = random.Random(self.username)

    @task(3)
    def recommendations(self):
        self.client.get("/recommendations/", name="recommendations")

    @task(3)
    def movie_page(self):
        movie = self.rng.choice(PLAN["movies"])
        self.client.get(f"/movies/{movie}/", name="movie page")

    @task(2)
    def rate(self):
        movie = self.rng.choice(PLAN["rate_movies"])
        score = self.rng.choice(SCORES)
        with self.client.post(
            f"/movies/{movie}/rate/",
            {"score": score},
            headers={"HX-Request": "true", "X-CSRFToken": self.csrf},
            name="rate (htmx)",
            catch_response=True,
        ) as response:
            if response.status_code == 200 and "Saved." in response.text:
                with _lock:
                    SAVED[(self.username, movie)] = score
                response.success()
            else:
                response.failure(f"rating not saved ({response.status_code})")

    @task(2)
    def search(self):
        self.client.get("/movies/", params={"q": self.rng.choice(PLAN["queries"])}, name="search")


@events.quitting.add_listener
def _write_results(environment, **kwargs):
    rows = [{"user": u, "movie": m, "score": s} for (u, m), s in sorted(SAVED.items())]
    with open(os.environ["LOAD_RESULTS"], "w") as out:
        json.dump(rows, out)
