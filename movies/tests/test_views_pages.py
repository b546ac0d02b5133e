"""The server-rendered pages: home, browse, detail, my ratings, the base layout, posters."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import (
    CreditFactory,
    GenreFactory,
    KeywordFactory,
    MovieFactory,
    PersonFactory,
    RatingFactory,
)

pytestmark = pytest.mark.django_db

BROWSE = reverse("movies:browse")


def titles(response) -> list[str]:
    """Movie titles in the order the page shows them."""
    return [m.title for m in response.context["movies"]]


# --- Base layout --------------------------------------------------------------------------


def test_layout_loads_htmx_from_our_static_files_and_nothing_from_elsewhere(client):
    html = client.get(reverse("home")).content.decode()
    assert '<script src="/static/js/htmx.min.js"' in html
    external = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?:)?//', html)
    assert external == []
    assert 'hx-headers=\'{"X-CSRFToken": "' in html


def test_htmx_file_is_shipped_with_its_licence(settings):
    static = settings.BASE_DIR / "static" / "js"
    head = (static / "htmx.min.js").read_text()[:400]
    assert "htmx.org 2." in head and "Zero-Clause BSD" in head
    assert "Zero-Clause BSD" in (static / "htmx.LICENSE.txt").read_text()


def test_nav_for_anonymous_user(client):
    html = client.get(reverse("home")).content.decode()
    for url in (BROWSE, reverse("recommendations:for_you"), reverse("movies:my_ratings")):
        assert f'href="{url}"' in html
    assert f'href="{reverse("login")}"' in html and f'href="{reverse("signup")}"' in html
    assert "Log out" not in html


def test_nav_for_signed_in_user_has_username_and_post_logout(auth_client, user):
    html = auth_client.get(reverse("home")).content.decode()
    assert 'data-testid="username">alice<' in html
    assert f'method="post" action="{reverse("logout")}"' in html
    assert f'href="{reverse("login")}"' not in html


# --- Home ---------------------------------------------------------------------------------


def test_home_lists_popular_movies_first(client):
    MovieFactory(title="Less popular", popularity=5)
    MovieFactory(title="Most popular", popularity=50)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert titles(response) == ["Most popular", "Less popular"]
    assert "Sign up to rate movies" in response.content.decode()
    assert 'data-testid="rate-prompt"' not in response.content.decode()


def test_home_prompts_signed_in_user_to_rate_more(auth_client, user, settings):
    settings.RECS_MIN_RATINGS = 5
    RatingFactory.create_batch(2, user=user)
    RatingFactory(score=Decimal("3.0"))  # someone else's rating does not count
    html = auth_client.get(reverse("home")).content.decode()
    assert "You have rated <strong>2</strong> movies." in html
    assert "Rate <strong>3</strong> more to get personal recommendations." in html
    assert f'href="{reverse("recommendations:for_you")}"' in html


def test_home_says_enough_when_user_reached_the_threshold(auth_client, user, settings):
    settings.RECS_MIN_RATINGS = 1
    RatingFactory(user=user)
    html = auth_client.get(reverse("home")).content.decode()
    assert "You have rated <strong>1</strong> movie." in html
    assert "That is enough for personal recommendations" in html


# --- Browse -------------------------------------------------------------------------------


def test_browse_search_is_case_and_accent_insensitive(client, movie):
    MovieFactory(title="The Godfather")
    for q in ("amelie", "AMÉLIE", "  Amél "):
        response = client.get(BROWSE, {"q": q})
        assert titles(response) == ["Amélie"], q
        assert "1 result for" in response.content.decode()


def test_browse_shows_result_count_and_empty_state(client):
    MovieFactory.create_batch(3)
    assert "3 results" in client.get(BROWSE).content.decode()
    html = client.get(BROWSE, {"q": "nothing like this"}).content.decode()
    assert "0 results" in html and "No movies match these filters." in html


def test_browse_filters_by_genre_and_decade(client):
    drama, comedy = GenreFactory(name="Drama"), GenreFactory(name="Comedy")
    MovieFactory(title="Old drama", release_date=datetime.date(1994, 1, 1), genres=[drama])
    MovieFactory(title="New drama", release_date=datetime.date(2004, 1, 1), genres=[drama])
    MovieFactory(title="Old comedy", release_date=datetime.date(1999, 1, 1), genres=[comedy])
    assert set(titles(client.get(BROWSE, {"genre": "drama"}))) == {"Old drama", "New drama"}
    assert set(titles(client.get(BROWSE, {"decade": "1990"}))) == {"Old drama", "Old comedy"}
    both = client.get(BROWSE, {"decade": "1990", "genre": "drama"})
    assert titles(both) == ["Old drama"]
    html = both.content.decode()
    assert '<option value="1990" selected>1990s</option>' in html
    assert '<option value="drama" selected>Drama</option>' in html


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("popularity", ["B", "C", "A"]),
        ("rating", ["C", "A", "B"]),
        ("year", ["A", "C", "B"]),
        ("title", ["A", "B", "C"]),
    ],
)
def test_browse_sorts(client, sort, expected):
    MovieFactory(title="A", popularity=1, vote_average=8, release_date=datetime.date(2010, 1, 1))
    MovieFactory(title="B", popularity=3, vote_average=6, release_date=datetime.date(1980, 1, 1))
    MovieFactory(title="C", popularity=2, vote_average=9, release_date=datetime.date(1990, 1, 1))
    assert titles(client.get(BROWSE, {"sort": sort})) == expected


def test_browse_paginates_24_per_page_and_keeps_filters_in_links(client):
    genre = GenreFactory(name="Drama")
    MovieFactory.create_batch(30, genres=[genre])
    MovieFactory.create_batch(5)  # not in the genre
    first = client.get(BROWSE, {"genre": "drama", "sort": "title"})
    assert len(first.context["movies"]) == 24
    assert "30 results" in first.content.decode()
    assert "Page 1 of 2" in first.content.decode()
    assert 'href="?genre=drama&amp;sort=title&amp;page=2"' in first.content.decode()
    second = client.get(BROWSE, {"genre": "drama", "sort": "title", "page": "2"})
    assert len(second.context["movies"]) == 6
    assert not set(titles(first)) & set(titles(second))
    assert 'href="?genre=drama&amp;sort=title&amp;page=1"' in second.content.decode()


@pytest.mark.parametrize(
    ("params", "notice"),
    [
        ({"sort": "best"}, "Unknown sort order “best”"),
        ({"decade": "abc"}, "A decade is a year such as 1990."),
        ({"decade": "1995"}, "A decade is the first year of ten"),
        ({"decade": "99999999999999999999"}, "A decade is the first year of ten"),
        ({"genre": "no-such-genre"}, "There is no genre “no-such-genre”."),
        ({"q": "x" * 201}, "Search text is limited to 200 characters."),
        ({"page": "abc"}, "Page “abc” is not a page number; showing page 1."),
        ({"page": "99999"}, "There is no page 99999; showing the last page (1)."),
        ({"page": "-1"}, "There is no page -1; showing the last page (1)."),
    ],
)
def test_browse_bad_filters_give_a_notice_and_sane_defaults(client, params, notice):
    MovieFactory(title="Low", popularity=1)
    MovieFactory(title="High", popularity=9)
    response = client.get(BROWSE, params)
    assert response.status_code == 200
    assert notice in response.content.decode()
    # The bad filter is dropped: everything is listed, most popular first.
    assert titles(response) == ["High", "Low"]


def test_browse_shows_the_signed_in_users_own_rating_on_cards(auth_client, user, other_user):
    mine, theirs, none = MovieFactory(), MovieFactory(), MovieFactory()
    RatingFactory(user=user, movie=mine, score=Decimal("4.5"))
    RatingFactory(user=other_user, movie=theirs, score=Decimal("2.0"))
    response = auth_client.get(BROWSE)
    scores = {m.pk: m.my_score for m in response.context["movies"]}
    assert scores == {mine.pk: Decimal("4.5"), theirs.pk: None, none.pk: None}
    html = response.content.decode()
    assert "★ 4.5" in html and "★ 2.0" not in html


# --- Posters ------------------------------------------------------------------------------


def test_poster_with_known_path_uses_tmdb_url_and_falls_back_to_placeholder(client, settings):
    settings.TMDB_IMAGE_BASE = "https://image.tmdb.org/t/p/"
    settings.TMDB_POSTER_SIZE = "w342"
    MovieFactory(title="Has poster", poster_path="/abc123.jpg")
    html = client.get(BROWSE).content.decode()
    assert 'src="https://image.tmdb.org/t/p/w342/abc123.jpg"' in html
    # A failed image is removed by static/js/site.js (no inline handler: the CSP forbids it).
    assert "onerror" not in html
    assert '<script src="/static/js/site.js"></script>' in html
    # The placeholder is always underneath, so a failed image uncovers it; the card prints
    # the title once, beside it (the placeholder shows a monogram).
    assert '<span class="poster-monogram">H</span>' in html
    assert html.count(">Has poster<") == 1


def test_poster_without_path_is_a_placeholder_never_an_img(client, settings):
    MovieFactory(title="No poster", poster_path="")
    html = client.get(BROWSE).content.decode()
    assert "<img" not in html
    assert '<span class="poster-monogram">N</span>' in html
    assert html.count(">No poster<") == 1
    hue = re.search(r'class="poster poster-card hue-(\d+)"', html)
    assert hue and 0 <= int(hue.group(1)) < 360
    # Every hue the template can use has its class in site.css.
    css = (settings.BASE_DIR / "static" / "css" / "site.css").read_text()
    assert all(f".hue-{h} {{" in css for h in range(0, 360, 10))


def test_placeholder_colour_is_stable_and_differs_between_titles():
    from movies.templatetags.movie_tags import title_hue

    assert title_hue("Amélie") == title_hue("Amélie")
    assert all(title_hue(f"Film {n}") % 10 == 0 for n in range(50))  # one class per step
    assert len({title_hue(t) for t in ("Alien", "Heat", "Up", "Jaws", "Fargo")}) > 1


# --- Detail -------------------------------------------------------------------------------


def test_detail_shows_everything_about_the_movie(client):
    movie = MovieFactory(
        title="Amélie",
        release_date=datetime.date(2001, 4, 25),
        runtime=122,
        tagline="She'll change your life.",
        overview="A shy waitress decides to change the lives of those around her.",
        vote_average=7.9,
        vote_count=9000,
        genres=[GenreFactory(name="Romance"), GenreFactory(name="Comedy")],
        keywords=[KeywordFactory(name="paris"), KeywordFactory(name="waitress")],
    )
    CreditFactory(movie=movie, person=PersonFactory(name="Jean-Pierre Jeunet"), kind="director")
    CreditFactory(movie=movie, person=PersonFactory(name="Mathieu Kassovitz"), order=1)
    CreditFactory(movie=movie, person=PersonFactory(name="Audrey Tautou"), order=0)
    response = client.get(movie.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Amélie",
        "(2001)",
        "122 min",
        "She&#x27;ll change your life.",
        "A shy waitress decides",
        "Comedy",
        "Romance",
        "paris",
        "waitress",
        "Jean-Pierre Jeunet",
    ):
        assert text in html, text
    assert "/10" not in html  # no TMDB ten-point average beside our five stars
    # Top billed first.
    assert html.index("Audrey Tautou") < html.index("Mathieu Kassovitz")
    # The cast only (the director is not in it), top billed first.
    assert [c["person"]["name"] for c in response.context["cast"]] == [
        "Audrey Tautou",
        "Mathieu Kassovitz",
    ]
    assert "recommendations/_more_like_this.html" in [t.name for t in response.templates]


def test_detail_of_missing_movie_is_404(client):
    assert client.get(reverse("movies:detail", args=[999999])).status_code == 404


def test_detail_widget_for_anonymous_user_invites_to_log_in(client, movie):
    html = client.get(movie.get_absolute_url()).content.decode()
    assert 'data-testid="rating-form"' not in html
    assert "to rate this movie" in html


def test_detail_star_widget_has_ten_labelled_half_stars(auth_client, user, movie):
    RatingFactory(user=user, movie=movie, score=Decimal("3.5"))
    html = auth_client.get(movie.get_absolute_url()).content.decode()
    assert 'data-testid="rating-form"' in html
    radios = re.findall(r'<input type="radio" name="score" value="([\d.]+)"', html)
    # Highest first: the reversed-radio CSS technique depends on it.
    assert radios == ["5.0", "4.5", "4.0", "3.5", "3.0", "2.5", "2.0", "1.5", "1.0", "0.5"]
    for label in ("0.5 stars", "1 star", "3.5 stars", "5 stars"):
        assert f'<span class="visually-hidden">{label}</span>' in html
    assert re.search(r'value="3\.5" id="[\w-]+" checked', html)
    assert len(re.findall(r" checked", html)) == 1
    assert 'Your rating: <strong data-testid="your-rating">3.5</strong>' in html
    assert "Save rating" in html and "Remove rating" in html


def test_detail_unrated_movie_has_no_remove_button(auth_client, movie):
    html = auth_client.get(movie.get_absolute_url()).content.decode()
    assert "Not rated yet" in html
    assert "Remove rating" not in html
    assert " checked" not in html


# --- My ratings ---------------------------------------------------------------------------

MY = reverse("movies:my_ratings")


def test_my_ratings_requires_login(client):
    response = client.get(MY)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={MY}"


def test_my_ratings_lists_only_my_ratings(auth_client, user, other_user):
    RatingFactory(user=user, movie=MovieFactory(title="Mine"))
    RatingFactory(user=other_user, movie=MovieFactory(title="Theirs"))
    response = auth_client.get(MY)
    assert [r.movie.title for r in response.context["ratings"]] == ["Mine"]
    assert "1 rated movie" in response.content.decode()
    assert 'data-testid="rating-form"' in response.content.decode()


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("recent", ["C", "B", "A"]),
        ("high", ["B", "C", "A"]),
        ("low", ["A", "C", "B"]),
        ("title", ["A", "B", "C"]),
        ("year", ["C", "A", "B"]),
    ],
)
def test_my_ratings_sorts(auth_client, user, sort, expected):
    for title, score, year in (("A", "1.0", 1990), ("B", "5.0", 1980), ("C", "3.0", 2000)):
        movie = MovieFactory(title=title, release_date=datetime.date(year, 1, 1))
        RatingFactory(user=user, movie=movie, score=Decimal(score))
    response = auth_client.get(MY, {"sort": sort})
    assert [r.movie.title for r in response.context["ratings"]] == expected


def test_my_ratings_paginates_and_reports_bad_input(auth_client, user):
    for movie in MovieFactory.create_batch(26):
        RatingFactory(user=user, movie=movie)
    assert len(auth_client.get(MY).context["ratings"]) == 24
    second = auth_client.get(MY, {"page": "2", "sort": "title"})
    assert len(second.context["ratings"]) == 2
    bad = auth_client.get(MY, {"sort": "nope", "page": "zzz"})
    assert bad.status_code == 200
    html = bad.content.decode()
    assert "Unknown sort order “nope”; showing your latest ratings." in html
    assert "Page “zzz” is not a page number; showing page 1." in html


# --- HEAD (curl -I, health checks) --------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "signed_in"),
    [
        ("/", False),
        ("/", True),
        (BROWSE, False),
        ("movies:detail", True),
        (reverse("movies:my_ratings"), True),
        (reverse("recommendations:for_you"), True),
        (reverse("recommendations:api"), True),  # 503 without a model: HEAD must agree
        (reverse("login"), False),
        (reverse("signup"), False),
    ],
)
def test_head_is_answered_like_get_without_a_body(client, user, movie, url, signed_in):
    if signed_in:
        client.force_login(user)
    if url == "movies:detail":
        url = reverse("movies:detail", args=[movie.pk])
    get = client.get(url)
    head = client.head(url)
    assert get.status_code in (200, 503)
    assert head.status_code == get.status_code, f"HEAD {url} answered {head.status_code}"
    assert head["Content-Type"] == get["Content-Type"]
    assert head.content == b""


def test_post_only_endpoints_still_refuse_head(auth_client, movie):
    assert auth_client.head(reverse("movies:rate", args=[movie.pk])).status_code == 405
