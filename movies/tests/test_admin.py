"""The movie admin refuses bad input with a message, never a 500."""

import datetime

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from movies.models import Rating, SyncRun
from tests.factories import MovieFactory, RatingFactory

pytestmark = pytest.mark.django_db

MOVIES = reverse("admin:movies_movie_changelist")


@pytest.fixture
def catalog():
    return [
        MovieFactory(title="Nineties", release_date=datetime.date(1994, 5, 1)),
        MovieFactory(title="Noughties", release_date=datetime.date(2003, 5, 1)),
    ]


def shown(response) -> set[str]:
    return {m.title for m in response.context["cl"].result_list}


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_decade_filter_filters_by_a_valid_decade(admin_client, catalog):
    response = admin_client.get(MOVIES, {"decade": "1990"})
    assert response.status_code == 200
    assert shown(response) == {"Nineties"}


@pytest.mark.parametrize("value", ["abc", "1995", "-1", "1e3", "９９"])
def test_invalid_decade_shows_the_unfiltered_list_with_a_warning(admin_client, catalog, value):
    response = admin_client.get(MOVIES, {"decade": value})
    assert response.status_code == 200
    assert shown(response) == {"Nineties", "Noughties"}
    assert any("not a valid decade filter" in t for t in texts(response))


@pytest.mark.parametrize(
    "query", ["original_language=e%00n", "genres__id__exact=%00", "decade=19%0090", "q=%00"]
)
def test_nul_in_a_list_filter_is_a_400(admin_client, catalog, query):
    response = admin_client.get(f"{MOVIES}?{query}")
    assert response.status_code == 400
    assert b"NUL" in response.content


@pytest.mark.parametrize("selected", ["abc", "1.5", "", "99999999999999999999999"])
def test_non_numeric_selected_action_is_refused_with_a_message(admin_client, catalog, selected):
    response = admin_client.post(
        MOVIES,
        {"action": "sync_selected_from_tmdb", "index": "0", "_selected_action": [selected]},
        follow=True,
    )
    # Django's answer to a failed action: back to the list, with the reason as a message.
    assert response.redirect_chain == [(MOVIES, 302)]
    assert response.status_code == 200
    assert any("is not a valid selection" in t for t in texts(response))
    assert not SyncRun.objects.exists()


def test_bad_selection_among_good_ones_deletes_nothing(admin_client):
    ratings = RatingFactory.create_batch(2)
    response = admin_client.post(
        reverse("admin:movies_rating_changelist"),
        {
            "action": "delete_selected",
            "index": "0",
            "_selected_action": [str(ratings[0].pk), "x"],
        },
        follow=True,
    )
    assert response.status_code == 200
    assert any("“x” is not a valid selection" in t for t in texts(response))
    assert Rating.objects.count() == 2


def test_valid_selection_still_runs_the_action(admin_client, catalog):
    response = admin_client.post(
        MOVIES,
        {
            "action": "sync_selected_from_tmdb",
            "index": "0",
            "_selected_action": [str(catalog[0].pk)],
        },
    )
    assert response.status_code == 302
    assert SyncRun.objects.get().tmdb_ids == [catalog[0].tmdb_id]


@pytest.mark.parametrize(
    ("changelist", "query"),
    [
        (MOVIES, {"genres__id__exact": "abc"}),
        (reverse("admin:movies_rating_changelist"), {"score__exact": "abc"}),
        (reverse("admin:movies_rating_changelist"), {"updated_at__year": "abc"}),
        (reverse("admin:recommendations_modelversion_changelist"), {"is_active__exact": "abc"}),
    ],
)
def test_bad_values_in_django_field_filters_are_never_a_500(admin_client, changelist, query):
    """Django's own filters ignore a bad value or answer with their ?e=1 page
    (IncorrectLookupParameters); the test client would raise on a 500."""
    response = admin_client.get(changelist, query)
    if response.status_code == 302:
        assert response["Location"].endswith("?e=1")
        response = admin_client.get(response["Location"])
    assert response.status_code == 200
