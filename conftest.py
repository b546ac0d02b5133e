"""Project-wide pytest fixtures.

Dataset tests read ../shared/data at run time (it is never copied into the repo). On a
developer machine without it they skip; with CI=true they fail, so CI can never go green by
silently skipping them.
"""

import datetime
import os
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import TEST_PASSWORD, MovieFactory, UserFactory

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_or_skip(reason: str):
    """Skip locally, fail in CI: nothing that CI is meant to exercise may skip silently."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required, not skipped)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    path = Path(settings.SHARED_DATA_DIR)
    if not (path / "movielens-small" / "links.csv").is_file():
        require_or_skip(f"shared dataset not found at {path}")
    return path


@pytest.fixture(autouse=True)
def _isolated_model_dir(settings, tmp_path):
    """Every test writes model artifacts to its own folder, never to var/models."""
    settings.MODEL_DIR = tmp_path / "models"


@pytest.fixture(autouse=True)
def _celery_eager(request, settings):
    """Tasks run in-process in tests, except the ones that exercise a real worker."""
    if request.node.get_closest_marker("celery_worker") is None:
        from netflixrecs.celery import app

        app.conf.task_always_eager = True
        yield
        app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER
    else:
        yield


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def other_user(db):
    return UserFactory(username="bob")


@pytest.fixture
def password():
    return TEST_PASSWORD


@pytest.fixture
def auth_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def movie(db):
    return MovieFactory(title="Amélie", release_date=datetime.date(2001, 4, 25))
