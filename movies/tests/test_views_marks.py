"""The watchlist and "not interested" through the pages: toggles (plain POST and htmx), the
buttons on cards and the movie page, the two list pages, and every kind of bad request."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from movies.models import HiddenMovie, WatchlistEntry
from movies.stamp import STAMP_KEY
from tests.factories import GenreFactory, MovieFactory, RatingFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
TOGGLES = ["movies:watchlist_add", "movies:watchlist_remove", "movies:hide", "movies:unhide"]


def url(name, movie) -> str:
    return reverse(name, args=[movie.pk])


def watchlisted(user, movie) -> bool:
    return WatchlistEntry.objects.filter(user=user, movie=movie).exists()


def hidden(user, movie) -> bool:
    return HiddenMovie.objects.filter(user=user, movie=movie).exists()


# --- Toggles without JavaScript ---------------------------------------------------------------


def test_plain_add_redirects_back_to_a_safe_next_with_a_message(auth_client, user, movie):
    response = auth_client.post(
        url("movies:watchlist_add", movie), {"next": "/movies/?q=am&page=2"}, follow=True
    )
    assert response.redirect_chain == [("/movies/?q=am&page=2", 302)]
    assert watchlisted(user, movie)
    assert "Added Amélie to your watchlist." in response.content.decode()


def test_plain_add_twice_changes_nothing_and_says_so(auth_client, user, movie):
    auth_client.post(url("movies:watchlist_add", movie))
    response = auth_client.post(url("movies:watchlist_add", movie), follow=True)
    assert WatchlistEntry.objects.filter(user=user).count() == 1
    assert "Amélie is already on your watchlist." in response.content.decode()


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x", "javascript:x"])
def test_unsafe_next_falls_back_to_the_movie(auth_client, movie, next_url):
    response = auth_client.post(url("movies:hide", movie), {"next": next_url})
    assert response.status_code == 302
    assert response["Location"] == movie.get_absolute_url()


def test_plain_hide_and_unhide_from_the_movie_page(auth_client, user, movie):
    WatchlistEntry.objects.create(user=user, movie=movie)
    response = auth_client.post(url("movies:hide", movie), follow=True)
    html = response.content.decode()
    assert "Amélie won&#x27;t be recommended to you again. It is off your watchlist too." in html
    assert hidden(user, movie) and not watchlisted(user, movie)
    assert "Hidden from your recommendations" in html  # the movie page shows the new state
    response = auth_client.post(url("movies:unhide", movie), follow=True)
    assert not hidden(user, movie)
    assert "Amélie can be recommended to you again." in response.content.decode()


def test_remove_what_is_not_there_says_so(auth_client, movie):
    response = auth_client.post(url("movies:watchlist_remove", movie), follow=True)
    assert "was not on your watchlist; nothing to remove." in response.content.decode()


# --- Toggles with htmx -------------------------------------------------------------------------


def test_htmx_add_returns_only_the_buttons_in_their_new_state(auth_client, user, movie):
    response = auth_client.post(
        url("movies:watchlist_add", movie), {"next": "/movies/", "buttons": "watchlist"}, **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="mark-buttons"') == 1 and "<html" not in html
    assert "On your watchlist ✓" in html
    assert 'name="next" value="/movies/"' in html  # the no-JS fallback keeps the page
    assert "data-autofocus" in html  # focus stays on the toggled button
    assert "Added Amélie to your watchlist." in html  # announced in the status region
    assert "Not interested" not in html  # a card shows the watchlist button only
    assert watchlisted(user, movie)


def test_htmx_hide_from_the_movie_page_renders_both_buttons(auth_client, user, movie):
    WatchlistEntry.objects.create(user=user, movie=movie)
    html = auth_client.post(url("movies:hide", movie), {"buttons": "both"}, **HTMX).content
    html = html.decode()
    assert "+ Add to watchlist" in html and "Show it again" in html
    assert hidden(user, movie) and not watchlisted(user, movie)


def test_unknown_buttons_value_falls_back_to_the_watchlist_button(auth_client, movie):
    html = auth_client.post(
        url("movies:watchlist_add", movie), {"buttons": "<script>"}, **HTMX
    ).content.decode()
    assert "On your watchlist ✓" in html and "<script>" not in html


# --- Refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TOGGLES)
def test_anonymous_plain_post_redirects_to_login_and_changes_nothing(client, movie, name):
    response = client.post(url(name, movie), {"next": "/movies/?q=am&page=2"})
    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('login')}?next=/movies/%3Fq%3Dam")
    assert not WatchlistEntry.objects.exists() and not HiddenMovie.objects.exists()


@pytest.mark.parametrize("name", TOGGLES)
def test_anonymous_htmx_post_is_401_with_client_redirect(client, movie, name):
    response = client.post(url(name, movie), **HTMX)
    assert response.status_code == 401
    assert response["HX-Redirect"] == f"{reverse('login')}?next=%2Fmovies%2F{movie.pk}%2F"
    assert not WatchlistEntry.objects.exists() and not HiddenMovie.objects.exists()


@pytest.mark.parametrize("name", TOGGLES)
def test_get_on_toggle_urls_is_405(auth_client, movie, name):
    assert auth_client.get(url(name, movie)).status_code == 405
    assert not WatchlistEntry.objects.exists() and not HiddenMovie.objects.exists()


@pytest.mark.parametrize("name", TOGGLES)
def test_unknown_movie_is_404(auth_client, name):
    assert auth_client.post(reverse(name, args=[999_999])).status_code == 404


@pytest.mark.parametrize("name", ["movies:watchlist", "movies:not_interested"])
def test_list_pages_require_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and "/login" in response["Location"]


@pytest.mark.parametrize("name", ["movies:watchlist", "movies:not_interested"])
def test_post_on_list_pages_is_405(auth_client, name):
    assert auth_client.post(reverse(name)).status_code == 405


def test_csrf_is_enforced(user, movie):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(url("movies:watchlist_add", movie)).status_code == 403
    assert not watchlisted(user, movie)
    client.get(movie.get_absolute_url())
    token = client.cookies["csrftoken"].value
    response = client.post(url("movies:watchlist_add", movie), HTTP_X_CSRFTOKEN=token, **HTMX)
    assert response.status_code == 200
    assert watchlisted(user, movie)


def test_no_user_can_change_or_see_another_users_marks(auth_client, user, other_user, movie):
    WatchlistEntry.objects.create(user=other_user, movie=movie)
    HiddenMovie.objects.create(user=other_user, movie=MovieFactory(title="Their Hidden One"))
    # Fields naming the other user are ignored: marks are keyed on request.user.
    auth_client.post(url("movies:watchlist_remove", movie), {"user": other_user.pk})
    assert watchlisted(other_user, movie)
    watch = auth_client.get(reverse("movies:watchlist"))  # (after the "nothing to remove" message)
    assert watch.context["entries"] == []
    assert 'data-testid="watchlist-empty"' in watch.content.decode()
    hidden_page = auth_client.get(reverse("movies:not_interested")).content.decode()
    assert "Their Hidden One" not in hidden_page and 'data-testid="hidden-empty"' in hidden_page


# --- Buttons on cards and the movie page -------------------------------------------------------


def test_cards_show_the_viewers_watchlist_state(auth_client, user, other_user):
    mine, theirs = MovieFactory(title="Mine"), MovieFactory(title="Theirs")
    WatchlistEntry.objects.create(user=user, movie=mine)
    WatchlistEntry.objects.create(user=other_user, movie=theirs)
    html = auth_client.get(reverse("movies:browse")).content.decode()
    cards = {c.split("</a>")[0].split(">")[-1]: c for c in html.split('<li class="card">')[1:]}
    assert "On your watchlist ✓" in cards["Mine"]
    assert "+ Add to watchlist" in cards["Theirs"]


def test_anonymous_cards_offer_the_button_that_leads_to_login(client, movie):
    html = client.get(reverse("movies:browse")).content.decode()
    assert "+ Add to watchlist" in html


def test_movie_page_shows_both_marks(auth_client, user, movie):
    HiddenMovie.objects.create(user=user, movie=movie)
    html = auth_client.get(movie.get_absolute_url()).content.decode()
    assert "+ Add to watchlist" in html and "Show it again" in html


# --- The list pages ----------------------------------------------------------------------------


def test_watchlist_page_lists_sorts_and_rates(auth_client, user):
    drama = GenreFactory(name="Drama")
    a = MovieFactory(title="Alpha", popularity=1.0, genres=[drama])
    b = MovieFactory(title="Bravo", popularity=50.0)
    c = MovieFactory(title="Charlie", popularity=9.0)
    for movie in (b, c, a):  # added in this order: a is the newest
        WatchlistEntry.objects.create(user=user, movie=movie)
    RatingFactory(user=user, movie=c, score=Decimal("3.5"))  # re-watch: rated and listed

    def titles(sort):
        response = auth_client.get(reverse("movies:watchlist"), {"sort": sort})
        return [e.movie.title for e in response.context["entries"]]

    assert titles("") == ["Alpha", "Charlie", "Bravo"]
    assert titles("title") == ["Alpha", "Bravo", "Charlie"]
    assert titles("popularity") == ["Bravo", "Charlie", "Alpha"]
    html = auth_client.get(reverse("movies:watchlist")).content.decode()
    assert "3 movies to watch" in html and "Drama" in html
    assert 'data-testid="your-rating">3.5<' in html  # the row's own rating widget


def test_watchlist_page_reports_a_bad_sort_and_a_bad_page(auth_client, user, movie):
    WatchlistEntry.objects.create(user=user, movie=movie)
    html = auth_client.get(
        reverse("movies:watchlist"), {"sort": "evil", "page": "x"}
    ).content.decode()
    assert "Unknown sort order “evil”; showing newest first." in html
    assert "is not a page number; showing page 1." in html
    assert "Amélie" in html


def test_not_interested_page_lists_and_unhides(auth_client, user, movie):
    HiddenMovie.objects.create(user=user, movie=movie)
    html = auth_client.get(reverse("movies:not_interested")).content.decode()
    assert "1 hidden movie" in html and "Amélie" in html and "Show it again" in html
    response = auth_client.post(
        url("movies:unhide", movie), {"buttons": "hide", "next": "/movies/not-interested/"}, **HTMX
    )
    assert "Not interested" in response.content.decode()  # hide again from the same row
    assert not hidden(user, movie)


def test_list_pages_paginate(auth_client, user):
    for movie in MovieFactory.create_batch(30):
        WatchlistEntry.objects.create(user=user, movie=movie)
    response = auth_client.get(reverse("movies:watchlist"), {"page": "2"})
    assert len(response.context["entries"]) == 6
    assert "Page 2 of 2" in response.content.decode()


def test_header_links_the_watchlist(auth_client):
    html = auth_client.get(reverse("movies:watchlist")).content.decode()
    url = reverse("movies:watchlist")
    assert f'<a class="nav-wide" href="{url}" aria-current="page">Watchlist</a>' in html


# --- Query counts ------------------------------------------------------------------------------


def _count(client, path, params=None) -> int:
    client.get(path, params or {})  # warm per-process caches
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path, params or {}).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    ("name", "model"),
    [("movies:watchlist", WatchlistEntry), ("movies:not_interested", HiddenMovie)],
)
@pytest.mark.parametrize("sort", ["added", "popularity"])
def test_list_page_query_count_does_not_grow(
    auth_client, user, name, model, sort, django_assert_num_queries
):
    genres = [GenreFactory(name="Drama"), GenreFactory(name="Comedy")]

    def add(n):
        for movie in MovieFactory.create_batch(n, genres=genres, poster_path="/p.jpg"):
            model.objects.create(user=user, movie=movie)
            RatingFactory(user=user, movie=movie, score=Decimal("4.0"))

    add(2)
    small = _count(auth_client, reverse(name), {"sort": sort})
    add(40)
    with django_assert_num_queries(small):
        response = auth_client.get(reverse(name), {"sort": sort})
    assert len(response.context["entries"]) == 24
    assert small <= 7


def test_card_pages_add_one_query_for_the_watchlist_whatever_the_cards(
    auth_client, user, django_assert_num_queries
):
    for movie in MovieFactory.create_batch(3):
        WatchlistEntry.objects.create(user=user, movie=movie)
    _count(auth_client, reverse("movies:browse"))
    # The listing is kept under the catalog stamp and the new movies change the stamp: measure
    # the small catalog's listing afresh too.
    cache.delete(STAMP_KEY)
    with CaptureQueriesContext(connection) as ctx:
        auth_client.get(reverse("movies:browse"))
    small = len(ctx.captured_queries)
    for movie in MovieFactory.create_batch(40):
        WatchlistEntry.objects.create(user=user, movie=movie)
    with django_assert_num_queries(small):
        auth_client.get(reverse("movies:browse"))


# --- Content-Security-Policy --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["movies:watchlist", "movies:not_interested"])
def test_list_pages_and_toggles_need_nothing_the_policy_forbids(auth_client, user, movie, name):
    from tests.test_csp import assert_csp_clean

    WatchlistEntry.objects.create(user=user, movie=MovieFactory(poster_path="/p.jpg"))
    HiddenMovie.objects.create(user=user, movie=MovieFactory(poster_path="/p.jpg"))
    assert_csp_clean(auth_client.get(reverse(name)))
    assert_csp_clean(
        auth_client.post(url("movies:watchlist_add", movie), {"buttons": "both"}, **HTMX)
    )
