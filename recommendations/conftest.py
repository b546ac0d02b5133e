"""Fixtures of the recommender tests: a small themed catalog and a fresh model cache."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from recommendations import loading
from recommendations.tests.catalog import THEMES, make_movie, rate
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _fresh_model_cache(settings):
    """Each test starts with no model loaded and checks the active version on every call."""
    settings.RECS_VERSION_CHECK_SECONDS = 0
    loading.reset_cache()
    yield
    loading.reset_cache()


@pytest.fixture
def start_django():
    """``start_django(NAME=value, ...)``: ``django.setup()`` in a new interpreter with those
    environment variables, for settings that must refuse a bad value at start-up."""

    def run(**env) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", "import django; django.setup()"],
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "netflixrecs.settings", **env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


@pytest.fixture
def catalog(db):
    """Four movies in each of three themes: {theme: [movies]}."""
    return {theme: [make_movie(theme, i) for i in range(4)] for theme in THEMES}


@pytest.fixture
def space_fan(user, catalog):
    """alice: loves three space movies, dislikes two romances (5 ratings)."""
    rate(user, catalog["space"][:3], "5.0")
    rate(user, catalog["romance"][:2], "1.5")
    return user


@pytest.fixture
def co_raters(catalog):
    """Six members who all love Space Movie 0 *and* Crime Movie 3 (text-wise unrelated)."""
    for i in range(6):
        member = UserFactory(username=f"member{i}")
        rate(member, [catalog["space"][0], catalog["crime"][3]], "5.0")
        rate(member, [catalog["romance"][i % 4]], "3.0")
    return catalog


@pytest.fixture
def celery_worker_process(celery_workers):
    """One real Celery worker on Redis (see the root conftest's ``celery_workers``)."""
    procs, _, _ = celery_workers(name="recs-test")
    return procs[0]
