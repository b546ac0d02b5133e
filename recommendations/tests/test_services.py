"""Serving services (database tests). Builds: test_builds.py; versions: test_versions.py;
loading and the model cache: test_loading.py."""

from __future__ import annotations

from decimal import Decimal

import pytest

from recommendations import builds, services, tfidf
from recommendations.models import ModelVersion
from recommendations.tests.catalog import make_movie, rate
from tests.factories import RatingFactory, UserFactory

pytestmark = pytest.mark.django_db


def build(**kwargs) -> ModelVersion:
    return builds.build_model(triggered_by="test", **kwargs)


# --- serving -------------------------------------------------------------------------------


def test_hybrid_recommendations_with_explanations(catalog, space_fan):
    build()
    result = services.recommend_for_user(user=space_fan, top_n=5)
    assert result.strategy == "hybrid"
    assert result.total_ratings == 5 and result.needed == 0
    ids = [i.movie.pk for i in result.items]
    rated = set(space_fan.ratings.values_list("movie_id", flat=True))
    assert not rated & set(ids)
    assert ids[0] == catalog["space"][3].pk  # the one space movie not rated yet
    top = result.items[0]
    assert top.score > 0
    assert 1 <= len(top.because) <= 3
    assert {m.pk for m in top.because} <= {m.pk for m in catalog["space"][:3]}
    assert top.shared and top.explanation.startswith("Because you liked ")
    assert "shared: " in top.explanation
    # Squashed tokens are turned back into the names people know.
    from recommendations.tests.catalog import THEMES

    names = {n for t in THEMES.values() for n in [*t["genres"], *t["keywords"], *t["cast"]]}
    squashed = {tfidf.squash_name(n).lower() for n in names if " " in n}
    shown = {term for i in result.items for term in i.shared}
    assert shown and not shown & squashed
    assert shown & names  # at least one real name (genre, keyword, person) is shown
    scores = [i.score for i in result.items]
    assert scores == sorted(scores, reverse=True)


def test_cold_start_uses_the_hybrid_prior_excluding_rated(catalog, user):
    # Movies other members liked before the build lead the cold-start list (the prior).
    for name in ("carol", "dave"):
        other = UserFactory(username=name)
        for m in catalog["crime"][:2]:
            RatingFactory(user=other, movie=m, score=Decimal("4.5"))
    build()
    rate(user, [catalog["crime"][0], *catalog["space"][:1]], "5.0")
    result = services.recommend_for_user(user=user, top_n=10)
    assert result.strategy == "popularity_fallback"
    assert result.fallback_reason == "few_ratings" and result.needed == 3
    ids = [i.movie.pk for i in result.items]
    assert len(ids) == 10
    assert not {catalog["crime"][0].pk, catalog["space"][0].pk} & set(ids)  # rated: excluded
    assert ids[0] == catalog["crime"][1].pk
    assert result.items[0].explanation == "Popular with members here and well rated on TMDB"
    assert result.items[0].score >= result.items[-1].score


def test_cold_start_without_a_hybrid_uses_site_popularity(catalog, user):
    """No model at all: most rated on the site, then TMDB popularity."""
    rate(user, catalog["space"][:2], "5.0")
    other = UserFactory(username="carol")
    for m in catalog["crime"][:2]:
        RatingFactory(user=other, movie=m, score=Decimal("3.0"))
    result = services.recommend_for_user(user=user, top_n=3)
    assert result.fallback_reason == "no_model"
    assert {i.movie.pk for i in result.items[:2]} == {m.pk for m in catalog["crime"][:2]}
    assert "rated by 1" in result.items[0].explanation


def test_no_liked_movies_falls_back(catalog, user):
    build()
    rate(user, catalog["space"] + catalog["romance"][:1], "3.0")
    result = services.recommend_for_user(user=user)
    assert result.strategy == "popularity_fallback" and result.fallback_reason == "no_liked"


def test_no_model_falls_back(catalog, space_fan):
    result = services.recommend_for_user(user=space_fan)
    assert result.strategy == "popularity_fallback"
    assert result.fallback_reason == "no_model" and result.model_version is None
    assert len(result.items) == 7  # 12 movies - 5 rated


@pytest.mark.parametrize("bad", [0, 51, "abc", "2.5", None, -1])
def test_top_n_is_validated(bad):
    with pytest.raises(ValueError, match="top_n"):
        services.validate_top_n(bad)


def test_movies_added_after_the_build_are_ignored_until_the_next_one(catalog, space_fan):
    build()
    newcomer = make_movie("space", 99)
    rate(space_fan, [newcomer], "5.0")
    result = services.recommend_for_user(user=space_fan)
    assert result.strategy == "hybrid"
    assert newcomer.pk not in [i.movie.pk for i in result.items]
    assert services.similar_movies(movie=newcomer) == []


def test_similar_movies(catalog):
    assert services.similar_movies(movie=catalog["crime"][0]) == []  # no model yet
    build()
    similar = services.similar_movies(movie=catalog["crime"][0], n=12)
    assert [s.movie.pk for s in similar[:3]] and {s.movie.pk for s in similar[:3]} == {
        m.pk for m in catalog["crime"][1:]
    }
    assert catalog["crime"][0].pk not in [s.movie.pk for s in similar]
    assert all(s.score > 0 for s in similar)
    assert len(services.similar_movies(movie=catalog["crime"][0], n=2)) == 2
