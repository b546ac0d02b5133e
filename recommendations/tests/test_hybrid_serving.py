"""The site serves the hybrid: built with every model version, read memory-mapped, explained."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from movies.models import Rating
from recommendations import artifacts, building, builds, hybrid, loading, services
from recommendations.models import ModelVersion
from recommendations.tests.catalog import make_movie, rate
from tests.factories import RatingFactory, UserFactory

pytestmark = pytest.mark.django_db

HYBRID_FILES = {f"{name}.npy" for name in hybrid.ARRAY_NAMES}
CF_FILES = {f"{name}.npy" for name in hybrid.CF_ARRAY_NAMES}
# A handful of test ratings stand in for a big site: trust what the site learned fully.
TRUSTING = hybrid.HybridParams(site_half_ratings=1, prior_site_half_ratings=1)


def build(**kwargs) -> ModelVersion:
    return builds.build_model(triggered_by="test", **kwargs)


@pytest.fixture
def co_raters(catalog):
    """Six members who all love Space Movie 0 *and* Crime Movie 3 (text-wise unrelated)."""
    for i in range(6):
        member = UserFactory(username=f"member{i}")
        rate(member, [catalog["space"][0], catalog["crime"][3]], "5.0")
        rate(member, [catalog["romance"][i % 4]], "3.0")
    return catalog


def test_build_stores_the_hybrid_arrays_with_checksums_and_stats(co_raters, space_fan):
    version = build()
    files = {p.name for p in version.artifact_dir.iterdir()}
    assert files >= HYBRID_FILES and files == set(version.checksums)
    for name in HYBRID_FILES:
        digest = artifacts.sha256_file(version.artifact_dir / name)
        assert version.checksums[name] == digest
    assert version.site_ratings == Rating.objects.count() == 18 + 5
    assert version.site_users == 7
    rated = set(Rating.objects.values_list("movie_id", flat=True))
    assert version.rated_items == len(rated)
    cf_data = np.load(version.artifact_dir / "cf_data.npy")
    assert version.cf_neighbours == len(cf_data) > 0
    assert version.hybrid_params["collab"] is True
    assert version.has_hybrid and version.has_collab
    assert int(np.load(version.artifact_dir / "n_site_ratings.npy")) == 23
    # Loaded memory-mapped, the neighbour matrix wrapped around the mapped pages.
    model = loading.get_active_model()
    assert isinstance(model.hybrid["prior"], np.memmap)
    assert np.shares_memory(model.neighbours.data, model.arrays["cf_data"])
    assert model.has_collab


def test_site_ratings_matrix_reads_values_in_chunks(catalog, space_fan, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    other = UserFactory(username="bob")
    rate(other, [catalog["crime"][0]], "2.5")
    movie_ids = np.array(sorted(m.pk for ms in catalog.values() for m in ms), dtype=np.int64)
    movie_ids = movie_ids[movie_ids != catalog["romance"][0].pk]  # "added after the build"
    monkeypatch.setattr(building, "RATINGS_CHUNK", 2)
    with CaptureQueriesContext(connection) as queries:
        site = building.site_ratings_matrix(movie_ids=movie_ids)
    assert len(queries) == 2  # a count and one streamed query, whatever the number of chunks
    assert site.matrix.shape == (2, len(movie_ids))
    assert site.ratings == 5 and site.users == 2 and site.rated_items == 5
    dense = {
        (int(r), int(movie_ids[c])): float(v)
        for r, c, v in zip(*site.matrix.nonzero(), site.matrix.data, strict=True)
    }
    assert sorted(dense.values()) == [1.5, 2.5, 5.0, 5.0, 5.0]
    assert catalog["romance"][0].pk not in {m for _, m in dense}


def test_serving_blends_in_what_co_raters_liked(co_raters, space_fan):
    build(hybrid_params=TRUSTING)
    result = services.recommend_for_user(user=space_fan, top_n=5)
    assert result.strategy == "hybrid"
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
    services.recommend_for_user(user=space_fan, top_n=4)
    assert sorted(seen["history_scores"]) == [1.5, 1.5, 5.0, 5.0, 5.0]  # dislikes included
    assert seen["n"] == 4 and seen["neighbours"] is loading.get_active_model().neighbours


def test_low_ratings_push_similar_movies_down(catalog):
    def romance_scores(romance_score: str) -> dict[int, float]:
        user = UserFactory()
        rate(user, catalog["space"][:3], "5.0")
        rate(user, catalog["romance"][:2], romance_score)
        result = services.recommend_for_user(user=user, top_n=50)
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


def test_collaborative_switch_off(co_raters, space_fan, settings):
    settings.RECS_COLLABORATIVE = False
    version = build()
    files = set(version.checksums)
    assert not files & CF_FILES and {"prior.npy", "params_json.npy"} <= files
    assert version.cf_neighbours == 0 and version.hybrid_params["collab"] is False
    assert version.site_ratings == 23  # the prior still counts what members liked
    result = services.recommend_for_user(user=space_fan, top_n=12)
    assert result.strategy == "content_based"
    assert result.items[0].movie == co_raters["space"][3]
    crime = next(i for i in result.items if i.movie == co_raters["crime"][3])
    assert crime.because == []  # no co-rating link without the collaborative part


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
    result = services.recommend_for_user(user=space_fan, top_n=5)
    assert result.strategy == "content_based" and result.model_version == version.pk
    assert result.items[0].movie == catalog["space"][3]
    assert 0 < result.items[0].score <= 1  # the TF-IDF cosine
    assert result.items[0].explanation.startswith("Because you liked Space Movie")
    client.force_login(space_fan)
    response = client.get("/recommendations/")
    assert response.status_code == 200
    assert '<code data-testid="strategy">content_based</code>' in response.content.decode()
    newcomer = UserFactory()
    cold = services.recommend_for_user(user=newcomer, top_n=3)
    assert cold.strategy == "popularity_fallback" and len(cold.items) == 3
    assert all("TMDB" in i.explanation or "rated by" in i.explanation for i in cold.items)


def test_broken_hybrid_arrays_keep_the_previous_version_serving(catalog, space_fan):
    v1 = build()
    assert services.recommend_for_user(user=space_fan).model_version == v1.pk
    v2 = build()
    (v2.artifact_dir / "prior.npy").write_bytes(b"truncated")
    result = services.recommend_for_user(user=space_fan)
    assert result.model_version == v1.pk and result.strategy == "hybrid"


def test_cold_start_user_page_says_why(client, catalog, user):
    build()
    rate(user, catalog["crime"][:1], "4.0")
    client.force_login(user)
    html = client.get("/recommendations/").content.decode()
    assert '<code data-testid="strategy">popularity_fallback</code>' in html
    assert "Until you have rated 5 movies" in html
    assert html.count('data-testid="recommendation"') == 11  # 12 movies, 1 rated


def test_no_liked_rating_gets_the_cold_start_list(catalog, user):
    build()
    rate(user, catalog["space"] + catalog["romance"][:1], "3.5")
    result = services.recommend_for_user(user=user, top_n=20)
    assert result.strategy == "popularity_fallback" and result.fallback_reason == "no_liked"
    assert len(result.items) == 7
    assert {i.movie.pk for i in result.items} == {
        m.pk for m in catalog["romance"][1:] + catalog["crime"]
    }


def test_liked_movies_newer_than_the_model_fall_back(catalog, user):
    build()
    newer = [make_movie("space", 50 + i) for i in range(5)]
    rate(user, newer, "5.0")
    result = services.recommend_for_user(user=user)
    assert result.strategy == "popularity_fallback"
    assert result.fallback_reason == "liked_not_in_model"


def test_ratings_after_the_build_count_at_the_next_one(co_raters, space_fan):
    first = build()
    RatingFactory(user=UserFactory(), movie=co_raters["crime"][0], score=Decimal("4.0"))
    second = build()
    assert second.site_ratings == first.site_ratings + 1


def test_build_command_reports_what_the_hybrid_learned(co_raters, space_fan, settings):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("build_tfidf", stdout=out, stderr=StringIO())
    version = ModelVersion.objects.get()
    text = out.getvalue()
    assert f"site ratings   23 from 7 users on {version.rated_items} movies (hybrid)" in text
    assert f"collaborative  {version.cf_neighbours} neighbour entries" in text
    settings.RECS_COLLABORATIVE = False
    out = StringIO()
    call_command("build_tfidf", stdout=out, stderr=StringIO())
    assert "off (RECS_COLLABORATIVE=false)" in out.getvalue()


def test_popular_picks_are_explained_as_popular(catalog, space_fan):
    """Whatever the blend puts on the list mostly for popularity says so, instead of
    crediting a liked movie; personal picks keep "Because you liked"."""
    builds.build_model(triggered_by="test")
    result = services.recommend_for_user(user=space_fan, top_n=20)
    assert result.items
    for item in result.items:
        assert item.explanation
    led = [i for i in result.items if i.reason.startswith("Popular and well rated")]
    personal = [i for i in result.items if i.explanation.startswith("Because you liked")]
    assert personal, [i.explanation for i in result.items]
    assert len(led) + len(personal) == len(result.items)
