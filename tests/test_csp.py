"""Content-Security-Policy: enforced in production, report-only in development, and pages
that need nothing the policy forbids (no inline script, style="" or on*= handler)."""

import re

import pytest
from django.urls import reverse

from movies.models import SyncRun
from tests.factories import MovieFactory, RatingFactory
from tests.test_settings import PROD, _run_python

EXPECTED = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data: https://image.tmdb.org",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def directives(header: str) -> dict[str, str]:
    parts = (p.strip().split(" ", 1) for p in header.split(";") if p.strip())
    return {name: value for name, value in parts}


def test_production_enforces_the_policy():
    code = (
        "import django\ndjango.setup()\n"
        "from django.test import Client\n"
        "r = Client().get('/no-such-page/', secure=True, HTTP_HOST='netflixrecs.example')\n"
        "print(r.status_code)\n"
        "print(r.headers.get('Content-Security-Policy'))\n"
        "print(r.headers.get('Content-Security-Policy-Report-Only'))\n"
    )
    result = _run_python(code, **PROD)
    assert result.returncode == 0, result.stderr
    status, enforced, report_only = result.stdout.strip().splitlines()[-3:]
    assert status == "404"
    assert directives(enforced) == EXPECTED
    assert report_only == "None"


def test_production_allows_the_configured_poster_host():
    code = (
        "import django\ndjango.setup()\nfrom django.conf import settings\n"
        "print(settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src'])\n"
    )
    result = _run_python(code, **PROD, TMDB_IMAGE_BASE="https://posters.example.org:8443/t/p/")
    assert result.returncode == 0, result.stderr
    assert "'https://posters.example.org:8443'" in result.stdout


def test_development_reports_the_same_policy_without_enforcing_it(client, db):
    response = client.get(reverse("login"))
    assert "Content-Security-Policy" not in response.headers
    assert directives(response.headers["Content-Security-Policy-Report-Only"]) == EXPECTED


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)


def assert_csp_clean(response):
    assert response.status_code in (200, 429), response.status_code
    html = response.content.decode()
    assert INLINE_SCRIPT.findall(html) == []
    assert INLINE_STYLE.findall(html) == []
    assert HANDLER.findall(html) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/movies/",
        "detail",
        "/movies/my-ratings/",
        "/recommendations/",
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password_reset/",
        "/accounts/",
        "/accounts/import/",
        "/health/",
    ],
)
def test_pages_need_nothing_the_policy_forbids(client, user, url):
    movie = MovieFactory(poster_path="/p.jpg")
    RatingFactory(user=user, movie=movie)
    if url == "detail":
        url = reverse("movies:detail", args=[movie.pk])
    if url not in ("/accounts/login/", "/accounts/signup/", "/accounts/password_reset/"):
        client.force_login(user)
    assert_csp_clean(client.get(url))


@pytest.mark.django_db
def test_lockout_page_needs_nothing_the_policy_forbids(client, user):
    for _ in range(6):
        response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert response.status_code == 429
    assert_csp_clean(response)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    [
        "admin:index",
        "admin:movies_movie_changelist",
        "admin:movies_syncrun_changelist",
        "admin:recommendations_modelversion_changelist",
    ],
)
def test_admin_pages_need_nothing_the_policy_forbids(admin_client, name):
    SyncRun.objects.create(triggered_by="test", status=SyncRun.Status.RUNNING)
    assert_csp_clean(admin_client.get(reverse(name)))
