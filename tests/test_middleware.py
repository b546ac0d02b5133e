"""RejectNulMiddleware: a NUL byte anywhere in a request is a 400 before any view runs."""

import pytest
from django.urls import reverse

from movies.models import Rating

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/movies/?q=%00",
        "/movies/?q=ab%00cd&genre=drama",
        "/movies/?%00=1",
        "/movies/%00/",
        "/admin/login/?next=/%00",
        "/static/css/%00.css",
    ],
)
def test_nul_in_path_or_query_string_is_a_400(client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "NUL character" in response.content.decode()


def test_nul_in_a_posted_form_field_is_a_400_and_changes_nothing(auth_client, movie):
    response = auth_client.post(
        reverse("movies:rate", args=[movie.pk]), {"score": "4.0", "next": "/\x00"}
    )
    assert response.status_code == 400
    assert not Rating.objects.exists()


def test_nul_in_the_login_form_is_a_400(client, user, password):
    response = client.post(reverse("login"), {"username": "ali\x00ce", "password": password})
    assert response.status_code == 400


def test_nul_in_a_cookie_is_a_400(client):
    client.cookies["sessionid"] = "abcdefgh\x00ijkl"
    assert client.get("/").status_code == 400


def test_clean_requests_pass_through(auth_client, movie):
    assert auth_client.get("/movies/?q=am%C3%A9lie").status_code == 200
    response = auth_client.post(reverse("movies:rate", args=[movie.pk]), {"score": "4.0"})
    assert response.status_code == 302
    assert Rating.objects.get().score == 4


def test_a_non_form_body_is_left_for_the_view(auth_client, movie):
    """JSON bodies are not parsed here, so a view could still read request.body."""
    response = auth_client.post(
        reverse("movies:rate", args=[movie.pk]),
        data='{"score": "\x00"}',
        content_type="application/json",
    )
    assert b"NUL character" not in response.content
