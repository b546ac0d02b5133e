"""movies.widgets.QuickSelect renders what Django's Select templates render."""

import pytest
from django import forms

from movies.forms import BrowseForm
from movies.widgets import QuickSelect
from tests.factories import GenreFactory, MovieFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "data",
    [{}, {"genre": "war-peace", "decade": "1990", "sort": "title"}, {"genre": "x", "q": "a"}],
)
def test_browse_selects_are_djangos_markup(data):
    GenreFactory(name='War & "Peace"', slug="war-peace")
    GenreFactory(name="Drama", slug="drama")
    MovieFactory(year=1994)
    MovieFactory(year=2003)
    form = BrowseForm(data)
    for name in ("genre", "decade", "sort"):
        bound = form[name]
        assert isinstance(bound.field.widget, QuickSelect)
        quick = bound.as_widget()
        # The genre field's own options (its queryset), not the cached copy the form sets.
        choices = bound.field.choices if name == "genre" else bound.field.widget.choices
        django = bound.as_widget(widget=forms.Select(choices=choices))
        assert quick == django
        assert quick.count("<option") >= 2
    assert 'label="' not in form["sort"].as_widget()


def test_optgroups_attributes_and_escaping_match():
    choices = [("", "None"), ("Group <1>", [("a&b", 'A "quoted"'), ("c", "C")]), ("d", "D")]
    attrs = {"id": "x", "required": True, "disabled": False, "data-x": '<"&>'}
    quick = QuickSelect(choices=choices, attrs=attrs).render("f", "a&b")
    assert quick == forms.Select(choices=choices, attrs=attrs).render("f", "a&b")
    assert "<optgroup" in quick and " selected" in quick


def test_genre_options_are_cached_and_follow_genre_edits(django_assert_num_queries):
    drama = GenreFactory(name="Drama", slug="drama")
    BrowseForm({})  # reads and caches the options
    with django_assert_num_queries(0):
        html = BrowseForm({})["genre"].as_widget()
    assert '<option value="drama">Drama</option>' in html
    drama.name = "Dramas"
    drama.save()
    GenreFactory(name="Action", slug="action")
    html = BrowseForm({})["genre"].as_widget()
    assert html.index("Action") < html.index("Dramas") and ">Drama<" not in html
