"""The card widgets built in Python (movies/templatetags/movie_tags.py, marks.py): the star
radios, the compact rating widget and the watchlist toggle."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import engines
from django.template.loader import render_to_string
from django.utils.html import escape

from movies.forms import RatingForm
from movies.templatetags.movie_tags import star_row
from tests.factories import MovieFactory


def test_star_row_has_ten_radios_highest_first_with_labels():
    html = star_row(7)
    values = re.findall(r'value="([0-9.]+)"', html)
    assert values == ["5.0", "4.5", "4.0", "3.5", "3.0", "2.5", "2.0", "1.5", "1.0", "0.5"]
    assert 'for="star-7-10" class="half right" title="5 stars"' in html
    assert 'id="star-7-1" required><span class="visually-hidden">0.5 stars</span>' in html
    assert 'title="1 star"' in html
    assert "checked" not in html


def test_star_row_checks_only_the_current_score_whatever_its_type():
    for score in (Decimal("3.5"), 3.5, "3.5"):
        html = star_row(7, score)
        assert html.count(" checked") == 1
        assert 'value="3.5" id="star-7-7" checked required' in html
    assert " checked" not in star_row(7, "")


# --- Cards' widgets built in Python ---------------------------------------------------------


def _request(rf, user, path="/movies/?q=star&x=<b>"):
    request = rf.get(path)
    request.user = user
    return request


def _squash(html: str) -> str:
    html = re.sub(r'value="[A-Za-z0-9]{64}"', 'value="TOKEN"', html)  # masked per render
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", html)).strip()


@pytest.mark.django_db
def test_compact_widget_escapes_and_shows_the_members_state(rf, user):
    movie = MovieFactory(title='Tom & "Jerry" <3')
    request = _request(rf, user)
    html = render_to_string(
        "movies/_rating_widget.html",
        {"movie": movie, "compact": True, "score": None, "next": "/x/?a=1&b=2"},
        request=request,
    )
    assert 'data-testid="card-rating-form"' in html and "data-rated" not in html
    assert f'action="/movies/{movie.pk}/rate/"' in html and 'name="csrfmiddlewaretoken"' in html
    assert 'value="/x/?a=1&amp;b=2"' in html
    assert "Rate Tom &amp; &quot;Jerry&quot; &lt;3 (arrow keys" in html
    assert 'data-empty="true">Not rated</span>' in html and "unrate-form" not in html
    assert html.count('type="radio"') == 10 and " checked" not in html

    bad = RatingForm(data={"score": "9"})
    assert not bad.is_valid()
    html = render_to_string(
        "movies/_rating_widget.html",
        {"movie": movie, "compact": True, "score": "3.5", "status_text": "Saved <now>",
         "rating_form": bad},
        request=request,
    )  # fmt: skip
    assert "data-rated" in html and 'value="3.5" id="star-' in html and html.count(" checked") == 1
    assert '<strong data-testid="card-your-rating">★ 3.5</strong>' in html
    assert f'action="/movies/{movie.pk}/rate/delete/"' in html
    assert "your rating of Tom &amp; &quot;Jerry&quot; &lt;3" in html
    assert 'role="status">Saved &lt;now&gt;</span>' in html
    assert '<ul class="errorlist" role="alert"><li>' in html
    # Without a "next" the widget returns to the page it is on.
    assert f'value="{escape(request.get_full_path())}"' in html and "%3Cb%3E" in html


@pytest.mark.django_db
def test_compact_widget_is_nothing_for_a_visitor(rf):
    movie = MovieFactory()
    html = render_to_string(
        "movies/_grid.html", {"movies": [movie]}, request=_request(rf, AnonymousUser())
    )
    assert "card-rating-form" not in html and movie.title in html


@pytest.mark.django_db
@pytest.mark.parametrize("on_watchlist", [True, False])
@pytest.mark.parametrize("anonymous", [True, False])
def test_card_watchlist_button_is_the_templates_markup(rf, user, on_watchlist, anonymous):
    """Cards build the toggle in Python; the htmx swap renders _mark_buttons.html: the two
    must stay the same markup."""
    movie = MovieFactory(title='Tom & "Jerry" <3')
    movie.on_watchlist = on_watchlist
    request = _request(rf, AnonymousUser() if anonymous else user)
    template = render_to_string(
        "movies/_mark_buttons.html",
        {"movie": movie, "mark_buttons": "watchlist", "next": "/a/?b=1&c=2"},
        request=request,
    )
    python = engines["django"].from_string(
        '{% load marks %}{% card_watchlist_button movie "/a/?b=1&c=2" %}'
    )
    assert _squash(python.render({"movie": movie}, request)) == _squash(template)
    # A visitor has no watchlist: the button always offers to add (the view asks to log in).
    assert ("On your watchlist" in template) is (on_watchlist and not anonymous)


@pytest.mark.parametrize(
    "name",
    ["movies:detail", "movies:rate", "movies:unrate", "movies:watchlist_add",
     "movies:watchlist_remove", "recommendations:hide"],
)  # fmt: skip
def test_pk_url_is_reverse_for_every_card_url_and_prefix(name):
    from django.urls import reverse, set_script_prefix

    from movies.templatetags.movie_tags import pk_url, plain_url

    try:
        for prefix in ("/", "/site/"):
            set_script_prefix(prefix)
            for pk in (1, 42, 918273):
                assert pk_url(name, pk) == reverse(name, args=[pk])
            assert plain_url("recommendations:for_you") == reverse("recommendations:for_you")
        assert pk_url(name, 7).startswith("/site/")
    finally:
        set_script_prefix("/")


@pytest.mark.parametrize(
    ("name", "pk"),
    [("home", None), ("movies:browse", None), ("logout", None), ("movies:rate", 7)],
)
def test_site_url_is_the_url_tags_answer(name, pk):
    from django.template import Context, Template

    from movies.templatetags.movie_tags import site_url

    expected = Template("{% url name %}" if pk is None else "{% url name pk %}").render(
        Context({"name": name, "pk": pk})
    )
    assert site_url(name, pk) == expected


@pytest.mark.parametrize("text", ['<a href="x">&\'', "plain", 42, "Amélie & co"])
def test_escape_text_is_djangos_escape_as_a_plain_string(text):
    from movies.templatetags.movie_tags import escape_text

    assert escape_text(text) == str(escape(text)) and type(escape_text(text)) is str
