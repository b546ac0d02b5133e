"""Cards built in Python (recs.movie_card, rec_card, similar_card; movie_tags.card_poster)
make the markup of the card templates they replaced, byte for byte: the templates are kept
here as they were and both are rendered with the same context."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import engines
from django.template.loader import render_to_string

from recommendations.explain import RecommendedMovie
from tests.factories import GenreFactory, MovieFactory

pytestmark = pytest.mark.django_db

# The templates as they were before the cards were built in Python (card_templates/; their
# posters use the inclusion tag, which the movie page and lists still render).
OLD = Path(__file__).parent / "card_templates"
OLD_GRID_CARD = (OLD / "grid_card.html").read_text()
OLD_REC_CARD = (OLD / "rec_card.html").read_text()
OLD_MORE_LIKE_THIS = (OLD / "more_like_this.html").read_text()


def _tokens(html: str) -> str:
    """CSRF tokens are masked afresh on every render: compare them as one placeholder."""
    return re.sub(r'value="[A-Za-z0-9]{64}"', 'value="TOKEN"', html)


def _render(source: str, context: dict, request) -> str:
    return _tokens(engines["django"].from_string(source).render(context, request))


def _request(rf, user):
    request = rf.get("/movies/?q=star&x=<b>")
    request.user = user
    return request


@pytest.fixture
def movies(db):
    drama, comedy, war = (GenreFactory(name=n) for n in ("Drama", "Comedy", "War & Peace"))
    return [
        MovieFactory(title='Tom & "Jerry" <3', poster_path="/p.jpg", genres=[drama, comedy, war]),
        MovieFactory(title="The Matrix", release_date=None, year=None, genres=[comedy]),
        MovieFactory(title="Amélie", poster_path="", genres=[]),
    ]


def _cards(movies):
    from movies.models import Movie

    return list(Movie.objects.for_cards().filter(pk__in=[m.pk for m in movies]).order_by("pk"))


@pytest.mark.parametrize("anonymous", [False, True])
def test_grid_cards_are_the_old_templates_markup(rf, user, movies, anonymous):
    cards = _cards(movies)
    cards[0].my_score, cards[1].my_score, cards[2].my_score = Decimal("3.5"), None, None
    cards[0].on_watchlist = True
    predictions = {cards[1].pk: 4.5, cards[0].pk: 2.0}
    request = _request(rf, AnonymousUser() if anonymous else user)
    old = "{% load recs %}{% for movie in movies %}" + OLD_GRID_CARD + "{% endfor %}"
    new = "{% load recs %}{% for movie in movies %}{% movie_card movie predictions %}{% endfor %}"
    context = {"movies": cards, "predictions": predictions}
    html = _render(new, context, request)
    assert html == _render(old.replace('{% include "movies/_card.html" %}', ""), context, request)
    assert html.count('data-testid="predicted-rating"') == 1  # rated cards show no prediction


@pytest.mark.parametrize("autofocus", [False, True])
def test_rec_cards_are_the_old_templates_markup(rf, user, movies, autofocus):
    cards = _cards(movies)
    items = [
        RecommendedMovie(movie=cards[0], score=0.5, because=[cards[1]], shared=["war & peace"]),
        RecommendedMovie(movie=cards[1], score=0.4),
        RecommendedMovie(movie=cards[2], score=None),
    ]
    result = type("Result", (), {"predictions": {cards[0].pk: 3.5}})()
    request = _request(rf, user)
    for item in items:
        context = {"item": item, "result": result, "autofocus": autofocus}
        old = _render(OLD_REC_CARD, context, request)
        assert _render('{% include "recommendations/_rec_card.html" %}', context, request) == old
    first = {"item": items[0], "result": result, "autofocus": autofocus}
    html = _render('{% include "recommendations/_rec_card.html" %}', first, request)
    assert "Because you liked The Matrix · shared: war &amp; peace" in html
    assert ("data-autofocus" in html) is autofocus


def test_more_like_this_cards_are_the_old_templates_markup(rf, user, movies):
    cards = _cards(movies)
    similar = [type("S", (), {"movie": m})() for m in cards]
    context = {"movie": cards[0], "similar": similar, "predictions": {cards[2].pk: 5.0}}
    request = _request(rf, user)
    new = render_to_string("recommendations/_more_like_this.html", context, request=request)
    assert _tokens(new) == _render(OLD_MORE_LIKE_THIS, context, request)
    assert new.count("poster-card") == 3 and "</span>5.0<" in new


def test_card_genres_are_read_in_one_query_and_make_the_same_cards(
    rf, user, movies, django_assert_num_queries
):
    from movies.models import Movie

    ids = [m.pk for m in movies]
    with django_assert_num_queries(2):  # the movies, then their genre names
        light = list(Movie.objects.with_card_genres().filter(pk__in=ids).order_by("pk"))
    assert light[0].card_genres == ["Comedy", "Drama", "War & Peace"]
    assert light[2].card_genres == []
    assert not getattr(light[0], "_prefetched_objects_cache", None)
    request = _request(rf, user)
    template = "{% load recs %}{% for m in movies %}{% similar_card m %}{% endfor %}"
    assert _render(template, {"movies": light}, request) == _render(
        template, {"movies": _cards(movies)}, request
    )
    # Cloned querysets (slices, in_bulk) keep asking for the names.
    assert Movie.objects.with_card_genres().in_bulk(ids)[ids[1]].card_genres == ["Comedy"]


def test_a_grid_builds_its_csrf_input_once_and_every_form_carries_it(rf, user, movies, monkeypatch):
    from movies.templatetags import movie_tags

    made = []
    real = movie_tags.format_html

    def counting(template, *args, **kwargs):
        if "csrfmiddlewaretoken" in template:
            made.append(args)
        return real(template, *args, **kwargs)

    monkeypatch.setattr(movie_tags, "format_html", counting)
    cards = _cards(movies)
    request = _request(rf, user)
    source = "{% load recs %}{% csrf_token %}{% for m in movies %}{% movie_card m %}{% endfor %}"
    html = engines["django"].from_string(source).render({"movies": cards}, request)
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert len(tokens) == 1 + 2 * len(cards)  # the tag's, then rating + watchlist per card
    assert len(set(tokens)) == 1 and len(made) == 1
