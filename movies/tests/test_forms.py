"""The rating and browse forms on their own (no request involved)."""

from decimal import Decimal

import pytest

from movies.forms import BrowseForm, MyRatingsForm, RatingForm, score_label


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0.5", "0.5"), ("4", "4.0"), ("4.0", "4.0"), ("4.50", "4.5"), (" 5 ", "5.0")],
)
def test_rating_form_accepts_half_steps(raw, expected):
    form = RatingForm({"score": raw})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["score"] == Decimal(expected)
    assert str(form.cleaned_data["score"]) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "required"),
        ("abc", "not_a_number"),
        ("nan", "not_finite"),
        ("-inf", "not_finite"),
        ("0", "out_of_range"),
        ("5.5", "out_of_range"),
        ("1.25", "invalid_score"),
    ],
)
def test_rating_form_refuses_bad_scores_with_a_reason(raw, code):
    form = RatingForm({"score": raw})
    assert not form.is_valid()
    assert form.has_error("score", code)


def test_score_labels_read_naturally():
    assert score_label(Decimal("0.5")) == "0.5 stars"
    assert score_label(Decimal("1.0")) == "1 star"
    assert score_label(Decimal("3.5")) == "3.5 stars"
    assert score_label(Decimal("5")) == "5 stars"


@pytest.mark.django_db
def test_browse_form_keeps_valid_filters_and_drops_bad_ones():
    form = BrowseForm({"q": "heat", "decade": "19x0", "sort": "rating"})
    assert form.filters() == {"q": "heat", "genre": None, "decade": None, "sort": "rating"}
    assert form.problems() == [
        "A decade is a year such as 1990. Showing results without this filter."
    ]


@pytest.mark.django_db
def test_browse_form_defaults_to_popularity():
    form = BrowseForm({})
    assert form.filters()["sort"] == "popularity"
    assert form.problems() == []
    bad = BrowseForm({"sort": "random"})
    assert bad.filters()["sort"] == "popularity"
    assert bad.problems()[0].endswith("Sorted by popularity instead.")


def test_my_ratings_form_orderings():
    assert MyRatingsForm({}).ordering()[0] == "-updated_at"
    assert MyRatingsForm({"sort": "high"}).ordering()[0] == "-score"
    assert MyRatingsForm({"sort": "bogus"}).ordering()[0] == "-updated_at"
