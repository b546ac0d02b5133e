"""The popularity fallback: why it is served (reasons with messages) and its lists."""

from __future__ import annotations

from decimal import Decimal

import pytest

from recommendations import builds
from recommendations.fallbacks import FallbackReason
from recommendations.models import ModelVersion
from recommendations.pipeline import recommend_for_user
from recommendations.tests.catalog import make_movie, rate
from tests.factories import RatingFactory, UserFactory

pytestmark = pytest.mark.django_db


def build(**kwargs) -> ModelVersion:
    return builds.build_model(triggered_by="test", **kwargs)


def test_cold_start_uses_the_cold_start_prior_excluding_rated(catalog, user):
    # Two members' ratings nudge their movies up but do not take over (damped prior).
    for name in ("carol", "dave"):
        other = UserFactory(username=name)
        for m in catalog["crime"][:2]:
            RatingFactory(user=other, movie=m, score=Decimal("4.5"))
    build()
    rate(user, [catalog["crime"][0], *catalog["space"][:1]], "5.0")
    result = recommend_for_user(user=user, top_n=10)
    assert result.strategy.name == "popularity_fallback"
    assert result.fallback is FallbackReason.FEW_RATINGS and result.needed == 3
    ids = [i.movie.pk for i in result.items]
    assert len(ids) == 10
    assert not {catalog["crime"][0].pk, catalog["space"][0].pk} & set(ids)  # rated: excluded
    assert catalog["crime"][1].pk in ids
    assert result.items[0].explanation.startswith("Popular and well rated · ")
    assert all(item.score > 0 for item in result.items)
    assert result.items[0].score >= result.items[-1].score


def test_cold_start_without_a_hybrid_uses_site_popularity(catalog, user):
    """No model at all: most rated on the site, then TMDB popularity."""
    rate(user, catalog["space"][:2], "5.0")
    other = UserFactory(username="carol")
    for m in catalog["crime"][:2]:
        RatingFactory(user=other, movie=m, score=Decimal("3.0"))
    result = recommend_for_user(user=user, top_n=3)
    assert result.fallback is FallbackReason.NO_MODEL
    assert {i.movie.pk for i in result.items[:2]} == {m.pk for m in catalog["crime"][:2]}
    assert "rated by 1" in result.items[0].explanation


def test_no_liked_movies_falls_back(catalog, user):
    build()
    rate(user, catalog["space"] + catalog["romance"][:1], "3.0")
    result = recommend_for_user(user=user)
    assert (
        result.strategy.name == "popularity_fallback" and result.fallback is FallbackReason.NO_LIKED
    )


def test_no_model_falls_back(catalog, space_fan):
    result = recommend_for_user(user=space_fan)
    assert result.strategy.name == "popularity_fallback"
    assert result.fallback is FallbackReason.NO_MODEL and result.model_version is None
    assert len(result.items) == 7  # 12 movies - 5 rated


def test_no_liked_rating_gets_the_cold_start_list(catalog, user):
    build()
    rate(user, catalog["space"] + catalog["romance"][:1], "3.5")
    result = recommend_for_user(user=user, top_n=20)
    assert (
        result.strategy.name == "popularity_fallback" and result.fallback is FallbackReason.NO_LIKED
    )
    assert len(result.items) == 7
    assert {i.movie.pk for i in result.items} == {
        m.pk for m in catalog["romance"][1:] + catalog["crime"]
    }


def test_liked_movies_newer_than_the_model_fall_back(catalog, user):
    build()
    newer = [make_movie("space", 50 + i) for i in range(5)]
    rate(user, newer, "5.0")
    result = recommend_for_user(user=user)
    assert result.strategy.name == "popularity_fallback"
    assert result.fallback is FallbackReason.LIKED_NOT_IN_MODEL


def test_every_reason_carries_a_message_for_people():
    for reason in FallbackReason:
        assert reason.message.endswith(".") and len(reason.message) > 40
    # The values are the identifiers logs and older code know.
    assert [r.value for r in FallbackReason] == [
        "no_model",
        "few_ratings",
        "no_liked",
        "liked_not_in_model",
        "nothing_similar",
    ]


def test_reason_messages_read_the_settings(settings):
    settings.RECS_MIN_RATINGS = 7
    settings.RECS_LIKE_THRESHOLD = 3.5
    assert FallbackReason.FEW_RATINGS.message.startswith("Until you have rated 7 movies, here are")
    assert FallbackReason.NO_LIKED.message.startswith("None of your ratings is 3.5 stars or more")
    assert FallbackReason.NO_MODEL.message == (
        "No recommendation model has been built yet, so these are simply the most popular "
        "movies you have not rated."
    )
    similar = (
        "We could not find movies similar to the ones you liked yet; here are popular movies "
        "you have not rated."
    )
    assert FallbackReason.LIKED_NOT_IN_MODEL.message == similar
    assert FallbackReason.NOTHING_SIMILAR.message == similar


def test_a_fallback_result_is_not_personal_and_says_why(catalog, user):
    result = recommend_for_user(user=user, top_n=3)
    assert not result.is_personal
    assert result.fallback is FallbackReason.NO_MODEL and result.needed == 5
