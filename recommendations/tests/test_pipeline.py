"""The serving pipeline: ratings -> strategy -> candidates -> explanations -> filter."""

from __future__ import annotations

import pytest

from recommendations import builds, diversity, hybrid, loading, pipeline, strategies, tfidf
from recommendations.errors import InvalidRequest, RecommenderError
from recommendations.models import ModelVersion
from recommendations.pipeline import recommend_for_user, similar_movies, validate_top_n
from recommendations.tests.catalog import make_movie, rate
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HYBRID_FILES = {f"{name}.npy" for name in hybrid.ARRAY_NAMES}
# A handful of test ratings stand in for a big site: trust what the site learned fully.
TRUSTING = hybrid.HybridParams(site_half_ratings=1, prior_site_half_ratings=1)


def build(**kwargs) -> ModelVersion:
    return builds.build_model(triggered_by="test", **kwargs)


def test_hybrid_recommendations_with_explanations(catalog, space_fan):
    build()
    result = recommend_for_user(user=space_fan, top_n=5)
    assert result.strategy.name == "hybrid"
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


@pytest.mark.parametrize("bad", [0, 51, "abc", "2.5", None, -1])
def test_top_n_is_validated(bad):
    with pytest.raises(InvalidRequest, match="top_n"):
        validate_top_n(bad)


def test_movies_added_after_the_build_are_ignored_until_the_next_one(catalog, space_fan):
    build()
    newcomer = make_movie("space", 99)
    rate(space_fan, [newcomer], "5.0")
    result = recommend_for_user(user=space_fan)
    assert result.strategy.name == "hybrid"
    assert newcomer.pk not in [i.movie.pk for i in result.items]
    assert similar_movies(movie=newcomer) == []


def test_similar_movies(catalog):
    assert similar_movies(movie=catalog["crime"][0]) == []  # no model yet
    build()
    similar = similar_movies(movie=catalog["crime"][0], n=12)
    assert [s.movie.pk for s in similar[:3]] and {s.movie.pk for s in similar[:3]} == {
        m.pk for m in catalog["crime"][1:]
    }
    assert catalog["crime"][0].pk not in [s.movie.pk for s in similar]
    assert all(s.score > 0 for s in similar)
    assert len(similar_movies(movie=catalog["crime"][0], n=2)) == 2


def test_serving_blends_in_what_co_raters_liked(co_raters, space_fan):
    build(hybrid_params=TRUSTING)
    result = recommend_for_user(user=space_fan, top_n=5)
    assert result.strategy.name == "hybrid"
    by_id = {i.movie.pk: i for i in result.items}
    crime = co_raters["crime"][3]
    # Shares no word with the space movies: only the collaborative part can put it here.
    assert crime.pk in by_id
    assert co_raters["space"][0] in by_id[crime.pk].because
    assert by_id[crime.pk].explanation.startswith("Because you liked Space Movie 0")
    rated = set(space_fan.ratings.values_list("movie_id", flat=True))
    assert not rated & set(by_id)


def test_serving_calls_hybrid_recommend_with_every_rating(catalog, space_fan, monkeypatch):
    build()
    seen = {}
    real = hybrid.recommend

    def spy(arrays, **kwargs):
        seen.update(kwargs)
        return real(arrays, **kwargs)

    monkeypatch.setattr(hybrid, "recommend", spy)
    recommend_for_user(user=space_fan, top_n=4)
    assert sorted(seen["history_scores"]) == [1.5, 1.5, 5.0, 5.0, 5.0]  # dislikes included
    # The scorer fills the re-rank's pool (RECS_MMR_LAMBDA < 1), the page gets top_n.
    assert seen["n"] == diversity.MMR_POOL
    assert seen["neighbours"] is loading.get_active_model().neighbours


def test_the_served_list_is_the_mmr_rerank_of_the_scored_pool(catalog, space_fan, settings):
    build()
    settings.RECS_MMR_LAMBDA = 1.0
    plain = recommend_for_user(user=space_fan, top_n=8)
    scores = [i.score for i in plain.items]
    assert scores == sorted(scores, reverse=True)  # lambda 1: the score order
    settings.RECS_MMR_LAMBDA = 0.3
    diverse = recommend_for_user(user=space_fan, top_n=8)
    assert diverse.items[0].movie == plain.items[0].movie  # the best pick stays first
    assert [i.movie.pk for i in diverse.items] != [i.movie.pk for i in plain.items]
    assert all(i.explanation for i in diverse.items)  # reasons survive the re-rank


def test_low_ratings_push_similar_movies_down(catalog):
    def romance_scores(romance_score: str) -> dict[int, float]:
        user = UserFactory()
        rate(user, catalog["space"][:3], "5.0")
        rate(user, catalog["romance"][:2], romance_score)
        result = recommend_for_user(user=user, top_n=50)
        return {i.movie.pk: i.score for i in result.items}

    build()
    disliked = romance_scores("1.0")
    neutral = romance_scores("3.0")
    for movie in catalog["romance"][2:]:
        assert disliked[movie.pk] < neutral[movie.pk]
    # ...below every crime movie, which the user said nothing about.
    assert max(disliked[m.pk] for m in catalog["romance"][2:]) < min(
        disliked[m.pk] for m in catalog["crime"]
    )


def _strip_hybrid(version: ModelVersion) -> None:
    """Make ``version`` look like one built before the hybrid existed."""
    for name in HYBRID_FILES & set(version.checksums):
        (version.artifact_dir / name).unlink()
        del version.checksums[name]
    version.hybrid_params = {}
    version.site_ratings = version.site_users = version.rated_items = version.cf_neighbours = None
    version.save()
    loading.reset_cache()


def test_version_without_hybrid_arrays_still_serves_content_based(client, catalog, space_fan):
    version = build()
    _strip_hybrid(version)
    result = recommend_for_user(user=space_fan, top_n=5)
    assert result.strategy.name == "content_based" and result.model_version == version.pk
    assert result.items[0].movie == catalog["space"][3]
    assert 0 < result.items[0].score <= 1  # the TF-IDF cosine
    assert result.items[0].explanation.startswith("Because you liked Space Movie")
    client.force_login(space_fan)
    response = client.get("/recommendations/")
    assert response.status_code == 200
    assert 'data-strategy="content_based"' in response.content.decode()
    newcomer = UserFactory()
    cold = recommend_for_user(user=newcomer, top_n=3)
    assert cold.strategy.name == "popularity_fallback" and len(cold.items) == 3
    assert all("TMDB" in i.explanation or "rated by" in i.explanation for i in cold.items)


def test_a_personal_result_names_its_registered_strategy(catalog, space_fan):
    build()
    result = recommend_for_user(user=space_fan, top_n=5)
    assert result.strategy is strategies.HYBRID
    assert result.is_personal and result.fallback is None
    assert result.liked_ratings == 3


@pytest.mark.parametrize("situation", ["hybrid", "content_based", "popularity_fallback"])
def test_excluded_movies_are_never_recommended_and_the_list_stays_full(
    catalog, space_fan, monkeypatch, settings, situation
):
    """The filter step: whatever joins the excluded set (hidden, watchlisted) is skipped while
    ranking, so the list keeps its length."""
    if situation == "content_based":
        settings.RECS_COLLABORATIVE = False
    if situation != "popularity_fallback":
        build()
    before = recommend_for_user(user=space_fan, top_n=5)
    assert before.strategy.name == situation
    top = before.items[0].movie.pk
    rated = pipeline.excluded_movie_ids

    monkeypatch.setattr(pipeline, "excluded_movie_ids", lambda ratings: rated(ratings) | {top})
    after = recommend_for_user(user=space_fan, top_n=5)
    assert after.strategy.name == situation
    ids = [i.movie.pk for i in after.items]
    assert top not in ids and len(ids) == len(before.items) == 5
    assert not set(space_fan.ratings.values_list("movie_id", flat=True)) & set(ids)


def test_excluded_movie_ids_are_the_rated_ones(catalog, space_fan):
    ratings = pipeline.gather_ratings(space_fan)
    assert pipeline.excluded_movie_ids(ratings) == set(
        space_fan.ratings.values_list("movie_id", flat=True)
    )
    assert ratings.total == 5 and len(ratings.liked) == 3


def test_top_n_errors_are_recommender_errors_with_the_same_messages():
    with pytest.raises(RecommenderError) as exc:
        validate_top_n("ten")
    assert isinstance(exc.value, InvalidRequest)
    assert str(exc.value) == "top_n must be a whole number from 1 to 50."
    with pytest.raises(InvalidRequest) as exc:
        validate_top_n(51)
    assert str(exc.value) == "top_n must be between 1 and 50 (got 51)."
    assert [validate_top_n(v) for v in (1, "50", " 7 ")] == [1, 50, 7]


def test_similar_movies_accepts_the_viewer_without_changing_the_list(catalog, space_fan):
    build()
    movie = catalog["crime"][0]
    anonymous = [(s.movie.pk, s.score) for s in similar_movies(movie=movie)]
    signed_in = [(s.movie.pk, s.score) for s in similar_movies(movie=movie, user=space_fan)]
    assert anonymous and signed_in == anonymous
