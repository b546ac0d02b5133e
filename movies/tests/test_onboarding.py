"""The onboarding grid: its selector (well-known, diverse, nothing rated or skipped), the page,
the "haven't seen it" action and the progress toward personal recommendations."""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from movies.models import SkippedMovie
from movies.selectors import BATCH_SIZE, onboarding_movies
from tests.factories import GenreFactory, MovieFactory, RatingFactory, UserFactory

pytestmark = pytest.mark.django_db

START = reverse("movies:onboarding")
HTMX = {"HTTP_HX_REQUEST": "true"}


def titles(movies) -> list[str]:
    return [m.title for m in movies]


@pytest.fixture
def one_genre_catalog(db):
    """40 popular 1990s dramas, then 8 less popular films of other genres and decades: a
    plain popularity order would fill the first batch with dramas."""
    drama = GenreFactory(name="Drama")
    dramas = [
        MovieFactory(title=f"Drama {i}", popularity=100 - i, genres=[drama], release_date=None)
        for i in range(40)
    ]
    for m in dramas:
        m.year = 1995
        m.save()
    others = []
    for i, (genre, year) in enumerate(
        [
            ("Comedy", 1955),
            ("Horror", 1978),
            ("Western", 1962),
            ("Animation", 2010),
            ("Documentary", 2004),
            ("Romance", 1942),
            ("Science Fiction", 1984),
            ("Thriller", 2019),
        ]
    ):
        movie = MovieFactory(
            title=f"{genre} film", popularity=50 - i, genres=[GenreFactory(name=genre)]
        )
        movie.release_date = None
        movie.year = year
        movie.save()
        others.append(movie)
    return dramas, others


# --- The selector -------------------------------------------------------------------------


def test_first_batch_mixes_genres_and_decades_but_starts_with_the_best_known(
    user, one_genre_catalog
):
    dramas, others = one_genre_catalog
    batch = onboarding_movies(user)
    assert len(batch.movies) == BATCH_SIZE
    shown = titles(batch.movies)
    assert shown[0] == "Drama 0", "the best-known film comes first"
    # Popularity alone would show 24 dramas; every other genre makes the first batch.
    assert set(titles(others)) <= set(shown)
    assert len({m.decade for m in batch.movies}) >= 6
    # Diversity reorders; it does not bury the famous films.
    assert {"Drama 0", "Drama 1", "Drama 2"} <= set(shown)


def test_excludes_what_the_user_rated_or_skipped_but_not_other_peoples_marks(
    user, other_user, one_genre_catalog
):
    dramas, others = one_genre_catalog
    RatingFactory(user=user, movie=dramas[0], score=Decimal("4.0"))
    SkippedMovie.objects.create(user=user, movie=dramas[1])
    SkippedMovie.objects.create(user=other_user, movie=dramas[2])
    RatingFactory(user=other_user, movie=dramas[3])
    shown = titles(onboarding_movies(user, limit=100).movies)
    assert "Drama 0" not in shown and "Drama 1" not in shown
    assert "Drama 2" in shown and "Drama 3" in shown
    assert len(shown) == len(dramas) + len(others) - 2


def test_show_more_cursor_neither_repeats_nor_drops_films_when_some_are_rated_meanwhile(
    user, one_genre_catalog
):
    first = onboarding_movies(user)
    # The person rates and skips some of the first batch before asking for more.
    RatingFactory(user=user, movie=first.movies[0])
    SkippedMovie.objects.create(user=user, movie=first.movies[5])
    second = onboarding_movies(user, start=first.next_start)
    seen = titles(first.movies) + titles(second.movies)
    assert len(seen) == len(set(seen)) == 48
    assert second.next_start is None


def test_without_popularity_site_ratings_and_vote_counts_decide(user):
    # Flat popularity (every film the same): vote counts and members' ratings tell them apart.
    obscure = MovieFactory(title="Obscure", popularity=10, vote_count=0)
    voted = MovieFactory(title="Voted", popularity=10, vote_count=5000)
    loved = MovieFactory(title="Loved here", popularity=10, vote_count=0)
    for _ in range(4):
        RatingFactory(movie=loved)
    shown = titles(onboarding_movies(user).movies)
    assert shown.index("Obscure") == 2
    assert {obscure.title, voted.title, loved.title} == set(shown)


def test_empty_catalog_gives_an_empty_batch(user):
    batch = onboarding_movies(user)
    assert batch.movies == [] and batch.next_start is None


# --- The page -----------------------------------------------------------------------------


def test_onboarding_requires_login(client):
    response = client.get(START)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_onboarding_page_shows_tiles_with_stars_skip_and_progress(auth_client, user, settings):
    settings.RECS_MIN_RATINGS = 5
    rated = MovieFactory(title="Already rated")
    RatingFactory(user=user, movie=rated)
    MovieFactory.create_batch(3)
    html = auth_client.get(START).content.decode()
    assert html.count('data-testid="onboarding-tile"') == 3
    assert "Already rated" not in html
    assert html.count('data-testid="card-rating-form"') == 3
    assert html.count('data-testid="skip"') == 3
    assert "1 of 5 ratings — 4 more for personal picks" in html
    assert 'aria-live="polite"' in html
    assert 'data-testid="reward"' not in html
    # No-JS fallbacks: the forms post back to the grid.
    assert html.count(f'name="next" value="{START}"') == 6


def test_reward_once_the_threshold_is_reached(auth_client, user, settings):
    settings.RECS_MIN_RATINGS = 2
    RatingFactory.create_batch(2, user=user)
    html = auth_client.get(reverse("movies:onboarding_progress")).content.decode()
    assert "2 ratings — enough for personal picks" in html
    assert "Your personal recommendations are ready →" in html
    assert f'href="{reverse("recommendations:for_you")}"' in html
    assert 'max="2" value="2"' in html


def test_progress_fragment_counts_only_my_ratings(auth_client, user, other_user, settings):
    settings.RECS_MIN_RATINGS = 5
    RatingFactory.create_batch(3, user=user)
    RatingFactory.create_batch(4, user=other_user)
    html = auth_client.get(reverse("movies:onboarding_progress")).content.decode()
    assert "3 of 5 ratings — 2 more for personal picks" in html
    assert "<html" not in html


def test_show_more_with_htmx_returns_tiles_and_the_next_link_out_of_band(auth_client):
    MovieFactory.create_batch(BATCH_SIZE + 30)
    html = auth_client.get(START).content.decode()
    more = re.search(r'href="/movies/start/\?start=(\d+)"', html)
    assert more
    fragment = auth_client.get(START, {"start": more.group(1)}, **HTMX).content.decode()
    assert fragment.count('data-testid="onboarding-tile"') == BATCH_SIZE
    assert 'id="onboarding-more" class="onboarding-more" hx-swap-oob="true"' in fragment
    assert "<html" not in fragment
    last = auth_client.get(START, {"start": BATCH_SIZE * 2}, **HTMX).content.decode()
    assert last.count('data-testid="onboarding-tile"') == 6
    assert 'data-testid="show-more"' not in last


@pytest.mark.parametrize(
    ("start", "notice"),
    [("abc", "“abc” is not a position in the list"), ("-3", "cannot be negative")],
)
def test_bad_start_is_a_notice_and_the_first_films(auth_client, start, notice):
    MovieFactory(title="First film", popularity=99)
    response = auth_client.get(START, {"start": start})
    assert response.status_code == 200
    html = response.content.decode()
    assert notice in html
    assert "First film" in html


def test_onboarding_page_query_count_does_not_grow(
    auth_client, user, settings, django_assert_num_queries
):
    genres = [GenreFactory(name="Drama"), GenreFactory(name="Comedy")]
    MovieFactory.create_batch(5, genres=genres)
    RatingFactory(user=user, movie=MovieFactory(genres=genres))
    auth_client.get(START)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        auth_client.get(START)
    MovieFactory.create_batch(80, genres=genres)
    for movie in MovieFactory.create_batch(10, genres=genres):
        SkippedMovie.objects.create(user=user, movie=movie)
        RatingFactory(movie=movie)
    with django_assert_num_queries(len(small.captured_queries)):
        response = auth_client.get(START)
    assert len(response.context["movies"]) == BATCH_SIZE
    assert len(small.captured_queries) <= 12


# --- "Haven't seen it" --------------------------------------------------------------------


def test_skip_is_idempotent_and_redirects_back_without_js(auth_client, user, movie):
    url = reverse("movies:skip", args=[movie.pk])
    for _ in range(2):
        response = auth_client.post(url, {"next": START})
        assert response.status_code == 302
        assert response["Location"] == START
    assert SkippedMovie.objects.filter(user=user, movie=movie).count() == 1
    html = auth_client.get(START).content.decode()
    assert 'data-testid="onboarding-tile"' not in html
    assert f"Skipped {movie.title}; it will not be offered again." in html
    assert f"You had already skipped {movie.title}." in html


def test_skip_with_htmx_answers_an_empty_tile(auth_client, user, movie):
    response = auth_client.post(reverse("movies:skip", args=[movie.pk]), **HTMX)
    assert response.status_code == 200
    assert response.content == b""
    assert SkippedMovie.objects.filter(user=user, movie=movie).exists()


def test_skip_ignores_an_offsite_next(auth_client, movie):
    response = auth_client.post(
        reverse("movies:skip", args=[movie.pk]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == START


def test_skip_unknown_movie_is_404_and_changes_nothing(auth_client):
    response = auth_client.post(reverse("movies:skip", args=[999_999]))
    assert response.status_code == 404
    assert not SkippedMovie.objects.exists()


def test_skip_refuses_get(auth_client, movie):
    assert auth_client.get(reverse("movies:skip", args=[movie.pk])).status_code == 405
    assert not SkippedMovie.objects.exists()


@pytest.mark.parametrize("htmx", [False, True])
def test_skip_anonymous_goes_to_login_and_changes_nothing(client, movie, htmx):
    response = client.post(reverse("movies:skip", args=[movie.pk]), **(HTMX if htmx else {}))
    if htmx:
        assert response.status_code == 401
        assert response["HX-Redirect"].startswith(reverse("login"))
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert not SkippedMovie.objects.exists()


def test_skip_needs_the_csrf_token(user, movie):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(reverse("movies:skip", args=[movie.pk]))
    assert response.status_code == 403
    assert not SkippedMovie.objects.exists()


def test_skip_marks_only_my_own_list(auth_client, user, movie):
    someone = UserFactory(username="someone")
    auth_client.post(reverse("movies:skip", args=[movie.pk]), {"user": someone.pk})
    assert list(SkippedMovie.objects.values_list("user__username", flat=True)) == [user.username]


# --- Rating from the grid and from cards --------------------------------------------------


def test_rating_in_place_tells_the_page_and_keeps_the_compact_widget(auth_client, movie):
    response = auth_client.post(
        reverse("movies:rate", args=[movie.pk]),
        {"score": "4.5", "widget": "compact", "next": START},
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "movie-rated"
    html = response.content.decode()
    assert "rating-widget compact" in html
    assert 'data-testid="card-your-rating">★ 4.5<' in html
    assert 'name="widget" value="compact"' in html
    removed = auth_client.post(
        reverse("movies:unrate", args=[movie.pk]), {"widget": "compact"}, **HTMX
    )
    assert removed["HX-Trigger"] == "movie-rated"
    assert "rating-widget compact" in removed.content.decode()


def test_refused_rating_does_not_tell_the_page(auth_client, movie):
    response = auth_client.post(
        reverse("movies:rate", args=[movie.pk]), {"score": "7", "widget": "compact"}, **HTMX
    )
    assert response.status_code == 400
    assert "HX-Trigger" not in response


def test_browse_and_home_cards_carry_the_rating_widget_with_my_score(auth_client, user):
    mine = MovieFactory(title="Mine")
    MovieFactory(title="Not mine")
    RatingFactory(user=user, movie=mine, score=Decimal("3.5"))
    for url in (reverse("movies:browse"), reverse("home")):
        html = auth_client.get(url).content.decode()
        assert html.count('data-testid="card-rating-form"') == 2
        assert 'data-testid="card-your-rating">★ 3.5<' in html
        assert f'id="star-{mine.pk}-7" checked' in html


def test_anonymous_cards_have_no_rating_widget(client, movie):
    html = client.get(reverse("movies:browse")).content.decode()
    assert "card-rating-form" not in html
    assert "Log in</a> or" not in html


# --- Pointers to onboarding ---------------------------------------------------------------


def test_home_points_to_onboarding_until_the_threshold(auth_client, user, settings):
    settings.RECS_MIN_RATINGS = 2
    RatingFactory(user=user)
    assert 'data-testid="onboarding-link"' in auth_client.get(reverse("home")).content.decode()
    RatingFactory(user=user)
    html = auth_client.get(reverse("home")).content.decode()
    assert 'data-testid="onboarding-link"' not in html
    assert "Rate more films" in html


def test_recommendations_page_points_to_onboarding_when_ratings_are_missing(
    auth_client, user, settings
):
    settings.RECS_MIN_RATINGS = 3
    MovieFactory.create_batch(3)
    html = auth_client.get(reverse("recommendations:for_you")).content.decode()
    assert 'data-testid="onboarding-link"' in html
    assert f'href="{START}"' in html
