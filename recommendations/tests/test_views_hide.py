""" "Not interested" on a recommendation card: hide and bring in the next card, undo, and the
refusals. The lists come from the popularity fallback (no model) and from a built model."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from movies.models import HiddenMovie, Movie, WatchlistEntry
from recommendations import builds
from tests.factories import MovieFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def hide_url(movie) -> str:
    return reverse("recommendations:hide", args=[movie.pk])


def unhide_url(movie) -> str:
    return reverse("recommendations:unhide", args=[movie.pk])


def card_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li class="card rec-card"[^>]*id="rec-(\d+)"', html)]


def shown_on_page(client) -> list[int]:
    return card_ids(client.get(reverse("recommendations:for_you")).content.decode())


@pytest.fixture
def signed_in(client, user, catalog):
    """``user`` signed in, with more movies (32) than the page shows (25)."""
    MovieFactory.create_batch(20)
    client.force_login(user)
    return client


def all_movies():
    return list(Movie.objects.all())


def test_recommendation_cards_have_a_not_interested_form(signed_in):
    html = signed_in.get(reverse("recommendations:for_you")).content.decode()
    assert html.count('data-testid="not-interested"') == html.count('data-testid="recommendation"')
    assert html.count('name="shown"') == 25
    assert 'id="rec-undo"' in html and 'aria-live="polite"' in html


def test_hide_returns_the_next_card_not_on_the_page_with_an_undo(signed_in, user):
    shown = shown_on_page(signed_in)
    hidden = next(m for m in all_movies() if m.pk == shown[0])
    response = signed_in.post(hide_url(hidden), {"shown": shown}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    (new_id,) = card_ids(html)
    assert new_id not in shown  # a different movie, not one already on the page
    assert HiddenMovie.objects.filter(user=user, movie=hidden).exists()
    # The Undo bar, swapped out of band into the page's live region, targets the new card.
    assert 'hx-swap-oob="innerHTML:#rec-undo"' in html
    assert f'hx-post="{unhide_url(hidden)}"' in html
    assert f'hx-target="#rec-{new_id}"' in html
    assert "is hidden: we won't recommend it again." in html
    assert "data-autofocus" in html  # focus goes to Undo


def test_hide_skips_every_shown_id_and_hidden_or_watchlisted_movies(signed_in, user):
    movies = all_movies()
    shown = shown_on_page(signed_in)
    not_shown = [m for m in movies if m.pk not in shown]
    # Of the movies not on the page, all but the last are already hidden or watchlisted.
    for i, movie in enumerate(not_shown[:-1]):
        (HiddenMovie if i % 2 else WatchlistEntry).objects.create(user=user, movie=movie)
    target = movies[0] if movies[0].pk in shown else next(m for m in movies if m.pk in shown)
    html = signed_in.post(hide_url(target), {"shown": shown}, **HTMX).content.decode()
    assert card_ids(html) == [not_shown[-1].pk]


def test_hide_with_nothing_left_leaves_a_placeholder_that_undo_targets(signed_in):
    movies = all_movies()
    everything = [m.pk for m in movies]
    html = signed_in.post(hide_url(movies[0]), {"shown": everything}, **HTMX).content.decode()
    assert card_ids(html) == []
    assert f'id="rec-gone-{movies[0].pk}"' in html
    assert f'hx-target="#rec-gone-{movies[0].pk}"' in html


def test_bad_shown_values_are_ignored(signed_in, user, catalog):
    movie = catalog["space"][0]
    response = signed_in.post(
        hide_url(movie), {"shown": ["abc", "-1", "1e9", "99999999999999999999", ""]}, **HTMX
    )
    assert response.status_code == 200
    assert len(card_ids(response.content.decode())) == 1
    assert HiddenMovie.objects.filter(user=user, movie=movie).exists()


def test_undo_restores_the_movie_and_its_card(signed_in, user, catalog):
    movie = catalog["space"][0]
    signed_in.post(hide_url(movie), **HTMX)
    response = signed_in.post(unhide_url(movie), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert card_ids(html) == [movie.pk]
    assert "data-autofocus" in html  # focus back on the restored card
    assert "is back in your recommendations." in html
    assert not HiddenMovie.objects.filter(user=user, movie=movie).exists()


def test_hide_and_undo_with_a_model_keep_the_reason(client, catalog, space_fan):
    builds.build_model(triggered_by="test")
    client.force_login(space_fan)
    page = client.get(reverse("recommendations:for_you")).content.decode()
    first = catalog["space"][3]
    assert first.pk in card_ids(page)
    shown = card_ids(page)[:3]  # as if the page showed three cards
    html = client.post(hide_url(first), {"shown": shown}, **HTMX).content.decode()
    assert card_ids(html) and card_ids(html)[0] not in shown
    restored = client.post(unhide_url(first), **HTMX).content.decode()
    assert card_ids(restored) == [first.pk]
    assert "Because you liked" in restored


def test_plain_post_hides_and_redirects_to_the_recommendations(signed_in, user, catalog):
    movie = catalog["crime"][1]
    response = signed_in.post(hide_url(movie), follow=True)
    assert response.redirect_chain == [(reverse("recommendations:for_you"), 302)]
    assert "won&#x27;t be recommended to you again" in response.content.decode()
    assert HiddenMovie.objects.filter(user=user, movie=movie).exists()
    response = signed_in.post(unhide_url(movie), follow=True)
    assert "is back in your recommendations." in response.content.decode()
    assert not HiddenMovie.objects.exists()


@pytest.mark.parametrize("name", ["recommendations:hide", "recommendations:unhide"])
def test_anonymous_is_sent_to_login_and_nothing_changes(client, catalog, name):
    movie = catalog["space"][0]
    plain = client.post(reverse(name, args=[movie.pk]))
    assert plain.status_code == 302 and plain["Location"].startswith(reverse("login"))
    htmx = client.post(reverse(name, args=[movie.pk]), **HTMX)
    assert htmx.status_code == 401
    assert htmx["HX-Redirect"] == f"{reverse('login')}?next=%2Frecommendations%2F"
    assert not HiddenMovie.objects.exists()


@pytest.mark.parametrize("name", ["recommendations:hide", "recommendations:unhide"])
def test_get_is_405_and_unknown_movie_404(signed_in, catalog, name):
    assert signed_in.get(reverse(name, args=[catalog["space"][0].pk])).status_code == 405
    assert signed_in.post(reverse(name, args=[999_999]), **HTMX).status_code == 404
    assert not HiddenMovie.objects.exists()


def test_undo_cannot_touch_another_users_hidden_movie(signed_in, other_user, catalog):
    movie = catalog["space"][0]
    HiddenMovie.objects.create(user=other_user, movie=movie)
    signed_in.post(unhide_url(movie), {"user": other_user.pk}, **HTMX)
    assert HiddenMovie.objects.filter(user=other_user, movie=movie).exists()


def test_csrf_is_enforced(user, catalog):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    movie = catalog["space"][0]
    assert client.post(hide_url(movie), **HTMX).status_code == 403
    assert not HiddenMovie.objects.exists()
    client.get(reverse("recommendations:for_you"))
    token = client.cookies["csrftoken"].value
    assert client.post(hide_url(movie), HTTP_X_CSRFTOKEN=token, **HTMX).status_code == 200
    assert HiddenMovie.objects.filter(user=user, movie=movie).exists()


def test_fragments_need_nothing_the_policy_forbids(signed_in, catalog):
    from tests.test_csp import assert_csp_clean

    movie = catalog["space"][0]
    assert_csp_clean(signed_in.post(hide_url(movie), **HTMX))
    assert_csp_clean(signed_in.post(unhide_url(movie), **HTMX))


# --- End to end through the pages: the pipeline filters hidden / watchlisted movies ---------


def test_hidden_and_watchlisted_movies_never_come_back_on_the_recommendations_page(signed_in, user):
    shown = shown_on_page(signed_in)
    hidden, watched = Movie.objects.get(pk=shown[0]), Movie.objects.get(pk=shown[1])
    signed_in.post(hide_url(hidden), {"shown": shown}, **HTMX)
    signed_in.post(reverse("movies:watchlist_add", args=[watched.pk]))
    again = shown_on_page(signed_in)
    assert hidden.pk not in again and watched.pk not in again
    assert len(again) == len(shown)  # the list stays full


def test_hidden_movie_never_comes_back_in_more_like_this(client, catalog, space_fan):
    builds.build_model(triggered_by="test")
    client.force_login(space_fan)
    # space[1] and [2] are rated by the fan, so "more like this" leaves them out already.
    source, similar = catalog["space"][0], catalog["space"][3]
    page = client.get(source.get_absolute_url()).content.decode()
    assert similar.title in page.split('data-testid="more-like-this"')[1]
    client.post(reverse("movies:hide", args=[similar.pk]))
    page = client.get(source.get_absolute_url()).content.decode()
    assert similar.title not in page.split('data-testid="more-like-this"')[1]
