"""Issue 10 part 9, what can be checked on the server: the widget's contrast and markup,
links out to TMDB and IMDb, the account links in the header."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import MovieFactory

pytestmark = pytest.mark.django_db

CSS = (Path(settings.BASE_DIR) / "static" / "css" / "site.css").read_text()


def css_var(name: str) -> str:
    match = re.search(rf"--{name}:\s*(#[0-9a-fA-F]{{6}})\s*;", CSS)
    assert match, name
    return match.group(1)


def luminance(hex_colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula_matches_known_values():
    assert contrast("#ffffff", "#000000") == pytest.approx(21)
    assert contrast("#4a4a56", "#18181d") == pytest.approx(2.03, abs=0.01)  # the old colour


@pytest.mark.parametrize("background", ["bg", "bg-raised", "bg-input"])
def test_unlit_stars_have_3_to_1_contrast_on_every_background_they_sit_on(background):
    # WCAG 1.4.11: UI components need 3:1 against adjacent colours.
    assert contrast(css_var("star-off"), css_var(background)) >= 3.0
    star_rule = re.search(r"\.star-row label\.half \{[^}]*\}", CSS).group(0)
    assert "color: var(--star-off);" in star_rule


def test_movie_page_links_to_tmdb_and_imdb(client):
    movie = MovieFactory(tmdb_id=603, imdb_id="tt0133093")
    html = client.get(movie.get_absolute_url()).content.decode()
    assert 'href="https://www.themoviedb.org/movie/603"' in html
    assert 'href="https://www.imdb.com/title/tt0133093/"' in html
    assert 'rel="external noopener noreferrer"' in html


def test_movie_page_without_imdb_id_has_no_imdb_link(client):
    movie = MovieFactory(tmdb_id=604, imdb_id="")
    html = client.get(movie.get_absolute_url()).content.decode()
    assert 'href="https://www.themoviedb.org/movie/604"' in html
    assert "imdb.com" not in html


def test_star_widget_names_the_group_and_says_how_the_keyboard_saves(auth_client, movie):
    html = auth_client.get(movie.get_absolute_url()).content.decode()
    assert f"Rate {movie.title} (arrow keys choose, Enter saves)" in html
    # htmx posts on the widget's own commit event, not on every change of the radios.
    assert 'hx-trigger="rating-commit, submit"' in html
    assert 'hx-trigger="change' not in html


def test_header_links_account_and_password_change_for_members(auth_client):
    html = auth_client.get(reverse("home")).content.decode()
    header = html.split("</header>")[0]
    assert f'href="{reverse("account")}"' in header
    assert f'href="{reverse("password_change")}"' in header
    assert 'data-testid="username"' in header


def test_header_has_no_account_links_for_visitors(client):
    header = client.get(reverse("home")).content.decode().split("</header>")[0]
    assert reverse("password_change") not in header
    assert f'href="{reverse("login")}"' in header


def test_account_page_needs_login(client):
    response = client.get(reverse("account"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_account_page_shows_the_member(auth_client, user):
    response = auth_client.get(reverse("account"))
    assert response.status_code == 200
    assert user.username in response.content.decode()
    assert reverse("account") == "/accounts/"
