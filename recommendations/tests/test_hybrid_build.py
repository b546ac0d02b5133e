"""Every model version is built with the hybrid (its arrays, stats and switch).

How the site serves it: test_pipeline.py, test_fallbacks.py, test_explain.py, test_model_cache.py.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from movies.models import Rating
from recommendations import artifacts, building, builds, hybrid, loading
from recommendations.models import ModelVersion
from recommendations.pipeline import recommend_for_user
from recommendations.tests.catalog import rate
from tests.factories import RatingFactory, UserFactory

pytestmark = pytest.mark.django_db

HYBRID_FILES = {f"{name}.npy" for name in hybrid.ARRAY_NAMES}
CF_FILES = {f"{name}.npy" for name in hybrid.CF_ARRAY_NAMES}


def build(**kwargs) -> ModelVersion:
    return builds.build_model(triggered_by="test", **kwargs)


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


def test_collaborative_switch_off(co_raters, space_fan, settings):
    settings.RECS_COLLABORATIVE = False
    version = build()
    files = set(version.checksums)
    assert not files & CF_FILES and {"prior.npy", "params_json.npy"} <= files
    assert version.cf_neighbours == 0 and version.hybrid_params["collab"] is False
    assert version.site_ratings == 23  # the prior still counts what members liked
    result = recommend_for_user(user=space_fan, top_n=12)
    assert result.strategy.name == "content_based"
    assert result.items[0].movie == co_raters["space"][3]
    crime = next(i for i in result.items if i.movie == co_raters["crime"][3])
    assert crime.because == []  # no co-rating link without the collaborative part


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
