"""Rating and un-rating through the pages: plain form POSTs, htmx, and every kind of bad input."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from movies.models import Rating
from tests.factories import MovieFactory, RatingFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def rate_url(movie) -> str:
    return reverse("movies:rate", args=[movie.pk])


def unrate_url(movie) -> str:
    return reverse("movies:unrate", args=[movie.pk])


def stored(user, movie):
    rating = Rating.objects.filter(user=user, movie=movie).first()
    return rating and rating.score


# --- Plain form POST (no JavaScript) ------------------------------------------------------


def test_plain_post_creates_rating_and_redirects_back_with_message(auth_client, user, movie):
    response = auth_client.post(rate_url(movie), {"score": "3.5"}, follow=True)
    assert response.redirect_chain == [(movie.get_absolute_url(), 302)]
    assert stored(user, movie) == Decimal("3.5")
    html = response.content.decode()
    assert "Rated Amélie: 3.5 stars." in html
    assert 'Your rating: <strong data-testid="your-rating">3.5</strong>' in html


def test_plain_post_changes_existing_rating(auth_client, user, movie):
    RatingFactory(user=user, movie=movie, score=Decimal("2.0"))
    response = auth_client.post(rate_url(movie), {"score": "4.5"}, follow=True)
    assert stored(user, movie) == Decimal("4.5")
    assert Rating.objects.count() == 1
    assert "Changed your rating of Amélie: 4.5 stars." in response.content.decode()


def test_whole_numbers_are_stored_as_half_steps(auth_client, user, movie):
    auth_client.post(rate_url(movie), {"score": "4"})
    assert stored(user, movie) == Decimal("4.0")


def test_plain_post_follows_a_safe_next_url(auth_client, movie):
    response = auth_client.post(rate_url(movie), {"score": "5.0", "next": "/movies/?q=am"})
    assert response.status_code == 302
    assert response["Location"] == "/movies/?q=am"


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x", "javascript:x"])
def test_plain_post_ignores_an_unsafe_next_url(auth_client, movie, next_url):
    response = auth_client.post(rate_url(movie), {"score": "5.0", "next": next_url})
    assert response["Location"] == movie.get_absolute_url()


def test_plain_post_removes_rating(auth_client, user, movie):
    RatingFactory(user=user, movie=movie)
    response = auth_client.post(unrate_url(movie), follow=True)
    assert response.redirect_chain == [(movie.get_absolute_url(), 302)]
    assert stored(user, movie) is None
    assert "Removed your rating of Amélie." in response.content.decode()


def test_removing_a_rating_that_does_not_exist_changes_nothing(auth_client, user, movie):
    response = auth_client.post(unrate_url(movie), follow=True)
    assert response.status_code == 200
    assert "You had not rated Amélie; nothing to remove." in response.content.decode()
    assert Rating.objects.count() == 0


# --- htmx: the widget is swapped in place -------------------------------------------------


def test_htmx_post_returns_only_the_widget(auth_client, user, movie):
    response = auth_client.post(rate_url(movie), {"score": "3.5"}, **HTMX)
    assert response.status_code == 200
    assert [t.name for t in response.templates] == ["movies/_rating_widget.html"]
    html = response.content.decode()
    assert "<html" not in html
    assert 'Your rating: <strong data-testid="your-rating">3.5</strong>' in html
    assert f'value="3.5" id="star-{movie.pk}-7" checked' in html
    assert 'role="status">Saved.<' in html
    assert stored(user, movie) == Decimal("3.5")


def test_htmx_change_then_remove(auth_client, user, movie):
    auth_client.post(rate_url(movie), {"score": "3.5"}, **HTMX)
    changed = auth_client.post(rate_url(movie), {"score": "1.5"}, **HTMX)
    assert 'data-testid="your-rating">1.5<' in changed.content.decode()
    assert stored(user, movie) == Decimal("1.5")
    removed = auth_client.post(unrate_url(movie), **HTMX)
    assert removed.status_code == 200
    html = removed.content.decode()
    assert "Not rated yet" in html and "Rating removed." in html
    assert "Remove rating" not in html
    assert stored(user, movie) is None


def test_htmx_widget_keeps_the_page_it_came_from_as_next(auth_client, movie):
    response = auth_client.post(
        rate_url(movie), {"score": "3.0", "next": "/movies/my-ratings/"}, **HTMX
    )
    assert response.content.decode().count('name="next" value="/movies/my-ratings/"') == 2


# --- Bad input ----------------------------------------------------------------------------

BAD_SCORES = [
    ("6", "out of range"),
    ("5.5", "out of range"),
    ("0", "out of range"),
    ("-1", "out of range"),
    ("0.4", "out of range"),
    ("1e1", "out of range"),
    ("3.25", "half step"),
    ("2.7", "half step"),
    ("abc", "is not a number of stars"),
    ("3,5", "is not a number of stars"),
    ("NaN", "Choose a rating between 0.5 and 5 stars."),
    ("Infinity", "Choose a rating between 0.5 and 5 stars."),
    ("", "Choose a rating between 0.5 and 5 stars."),
]


@pytest.mark.parametrize(("score", "message"), BAD_SCORES)
def test_plain_post_bad_score_is_refused_with_a_message(auth_client, user, movie, score, message):
    RatingFactory(user=user, movie=movie, score=Decimal("2.0"))
    response = auth_client.post(rate_url(movie), {"score": score})
    assert response.status_code == 400
    assert message in response.content.decode()
    # The full page comes back, with the rating the user still has.
    assert 'data-testid="your-rating">2.0<' in response.content.decode()
    assert stored(user, movie) == Decimal("2.0")


def test_refused_plain_post_keeps_a_next_that_is_not_the_rate_url(auth_client, user, movie):
    response = auth_client.post(rate_url(movie), {"score": "9", "next": "/movies/my-ratings/"})
    html = response.content.decode()
    assert 'name="next" value="/movies/my-ratings/"' in html
    assert f'name="next" value="{rate_url(movie)}"' not in html
    no_next = auth_client.post(rate_url(movie), {"score": "9"}).content.decode()
    assert f'name="next" value="{movie.get_absolute_url()}"' in no_next
    # Submitting the re-rendered form again lands on a page, not on the POST-only URL.
    again = auth_client.post(rate_url(movie), {"score": "4.0", "next": movie.get_absolute_url()})
    assert again["Location"] == movie.get_absolute_url()


@pytest.mark.parametrize(("score", "message"), BAD_SCORES)
def test_htmx_bad_score_is_refused_in_the_widget(auth_client, user, movie, score, message):
    response = auth_client.post(rate_url(movie), {"score": score}, **HTMX)
    assert response.status_code == 400
    assert [t.name for t in response.templates] == ["movies/_rating_widget.html"]
    assert message in response.content.decode()
    assert Rating.objects.count() == 0


def test_missing_score_is_refused(auth_client, user, movie):
    response = auth_client.post(rate_url(movie), {})
    assert response.status_code == 400
    assert "Choose a rating between 0.5 and 5 stars." in response.content.decode()
    assert Rating.objects.count() == 0


@pytest.mark.parametrize("url_name", ["movies:rate", "movies:unrate"])
def test_missing_movie_is_404_and_nothing_stored(auth_client, url_name):
    response = auth_client.post(reverse(url_name, args=[987654]), {"score": "3.0"})
    assert response.status_code == 404
    assert Rating.objects.count() == 0


def test_anonymous_plain_post_redirects_to_login(client, movie):
    response = client.post(rate_url(movie), {"score": "3.0"})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={movie.get_absolute_url()}"
    assert Rating.objects.count() == 0


def test_anonymous_htmx_post_is_401_with_client_redirect(client, movie):
    response = client.post(rate_url(movie), {"score": "3.0"}, **HTMX)
    assert response.status_code == 401
    assert response["HX-Redirect"] == f"{reverse('login')}?next={movie.get_absolute_url()}"
    assert Rating.objects.count() == 0


def test_anonymous_cannot_remove_anything(client, other_user, movie):
    RatingFactory(user=other_user, movie=movie, score=Decimal("4.0"))
    assert client.post(unrate_url(movie)).status_code == 302
    assert stored(other_user, movie) == Decimal("4.0")


@pytest.mark.parametrize("url_name", ["movies:rate", "movies:unrate"])
def test_get_on_rating_urls_is_405(auth_client, movie, url_name):
    response = auth_client.get(reverse(url_name, args=[movie.pk]), {"score": "3.0"})
    assert response.status_code == 405
    assert Rating.objects.count() == 0


def test_csrf_is_enforced(user, movie):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    refused = client.post(rate_url(movie), {"score": "3.0"})
    assert refused.status_code == 403
    assert Rating.objects.count() == 0
    # With the token from the page it goes through: the check above is the CSRF check.
    client.get(movie.get_absolute_url())
    token = client.cookies["csrftoken"].value
    accepted = client.post(rate_url(movie), {"score": "3.0", "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    assert stored(user, movie) == Decimal("3.0")


def test_csrf_header_used_by_htmx_is_accepted(user, movie):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(movie.get_absolute_url())
    token = client.cookies["csrftoken"].value
    response = client.post(rate_url(movie), {"score": "4.0"}, HTTP_X_CSRFTOKEN=token, **HTMX)
    assert response.status_code == 200
    assert stored(user, movie) == Decimal("4.0")


def test_no_user_can_change_or_remove_another_users_rating(auth_client, user, other_user, movie):
    RatingFactory(user=other_user, movie=movie, score=Decimal("1.0"))
    # Extra fields naming the other user are ignored: ratings are keyed on request.user.
    auth_client.post(
        rate_url(movie), {"score": "5.0", "user": other_user.pk, "user_id": other_user.pk}
    )
    assert stored(other_user, movie) == Decimal("1.0")
    assert stored(user, movie) == Decimal("5.0")
    auth_client.post(unrate_url(movie), {"user": other_user.pk})
    assert stored(other_user, movie) == Decimal("1.0")
    assert stored(user, movie) is None


def test_rating_one_movie_leaves_other_movies_alone(auth_client, user, movie):
    other_movie = MovieFactory()
    RatingFactory(user=user, movie=other_movie, score=Decimal("2.5"))
    auth_client.post(rate_url(movie), {"score": "4.5"})
    auth_client.post(unrate_url(movie))
    assert stored(user, other_movie) == Decimal("2.5")
