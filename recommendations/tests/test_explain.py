"""The explanation step: "Because you liked ... · shared: ...", and prior-led wording."""

from __future__ import annotations

import pytest

from movies.models import Movie
from recommendations import builds
from recommendations.explain import PRIOR_LED_SHARE, RecommendedMovie, pretty_terms, prior_reason
from recommendations.models import ModelVersion
from recommendations.pipeline import recommend_for_user
from recommendations.scoring import Candidate


def build(**kwargs) -> ModelVersion:
    return builds.build_model(triggered_by="test", **kwargs)


@pytest.mark.django_db
def test_popular_picks_are_explained_as_popular(catalog, space_fan):
    """Whatever the blend puts on the list mostly for popularity says so, instead of
    crediting a liked movie; personal picks keep "Because you liked"."""
    build()
    result = recommend_for_user(user=space_fan, top_n=20)
    assert result.items
    for item in result.items:
        assert item.explanation
    led = [i for i in result.items if i.reason.startswith("Popular and well rated")]
    personal = [i for i in result.items if i.explanation.startswith("Because you liked")]
    assert personal, [i.explanation for i in result.items]
    assert len(led) + len(personal) == len(result.items)


def _candidate(prior_share):
    return Candidate(row=0, score=1.0, because_rows=(), prior_share=prior_share)


def test_explanation_text():
    alien, heat = Movie(title="Alien"), Movie(title="Heat")
    item = RecommendedMovie(movie=heat, score=1.0, because=[alien, heat], shared=["Crime", "a"])
    assert item.explanation == "Because you liked Alien, Heat · shared: Crime, a"
    assert RecommendedMovie(movie=heat, score=1.0, shared=["Crime"]).explanation == (
        "shared: Crime"
    )
    assert RecommendedMovie(movie=heat, score=None).explanation == ""
    assert RecommendedMovie(movie=heat, score=1.0, because=[alien], reason="R").explanation == "R"


def test_prior_led_wording():
    alien, aliens, heat = Movie(title="Alien"), Movie(title="Aliens"), Movie(title="Heat")
    liked = [alien, aliens, heat]
    assert prior_reason(_candidate(0.0), because=[], shared=[]) == "Popular and well rated"
    assert prior_reason(_candidate(PRIOR_LED_SHARE - 0.01), because=liked, shared=["x"]) == ""
    assert prior_reason(_candidate(PRIOR_LED_SHARE), because=liked, shared=["x"]) == (
        "Popular and well rated · also close to Alien, Aliens"
    )
    assert prior_reason(_candidate(0.9), because=[], shared=["x"]) == "Popular and well rated"
    # TF-IDF alone has no prior: always the usual text, even with nothing to say.
    assert prior_reason(_candidate(None), because=[], shared=[]) == ""


@pytest.mark.django_db
def test_squashed_terms_get_their_names_back(catalog):
    movie = Movie.objects.with_details().get(pk=catalog["space"][0].pk)
    terms = ["jamescameron", "spacetravel alien", "jamescameron", "unknown"]
    assert pretty_terms(terms, [movie]) == ["James Cameron", "space travel alien", "unknown"]
