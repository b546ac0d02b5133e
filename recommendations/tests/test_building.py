"""building: the catalog and the site's ratings as matrices (no version rows, no files)."""

from __future__ import annotations

import numpy as np
import pytest

from movies.models import Movie
from recommendations import building, hybrid, tfidf
from recommendations.models import ModelVersion
from recommendations.tests.catalog import make_movie, rate
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_default_params_come_from_settings(settings):
    settings.TFIDF_MAX_FEATURES, settings.TFIDF_NGRAM_MAX = 123, 1
    settings.TFIDF_MIN_DF, settings.TFIDF_MAX_DF = 1, 0.5
    params = building.default_params()
    assert (params.max_features, params.ngram_range) == (123, (1, 1))
    assert (params.min_df, params.max_df) == (1, 0.5)
    settings.RECS_COLLABORATIVE, settings.RECS_LIKE_THRESHOLD = False, 3.5
    hybrid_params = building.default_hybrid_params()
    assert hybrid_params.collab is False and hybrid_params.like_threshold == 3.5


def test_catalog_soups_in_a_fixed_number_of_queries(catalog, django_assert_num_queries):
    seen = []
    with django_assert_num_queries(5):  # count, then movies, genres, keywords, credits
        ids, soups = building.catalog_soups(progress=lambda d, t, m: seen.append((d, t, m)))
    assert list(ids) == sorted(Movie.objects.values_list("pk", flat=True))
    assert ids.dtype == np.int64 and len(soups) == 12
    space = catalog["space"][0]
    soup = soups[list(ids).index(space.pk)]
    assert "ScienceFiction" in soup and "JamesCameron" in soup and "SigourneyWeaver" in soup
    assert seen[-1] == (12, 12, "Reading the catalog")


def test_catalog_soups_read_in_chunks_give_the_same_soups(catalog, django_assert_num_queries):
    whole = building.catalog_soups()
    seen = []
    # 12 movies in chunks of 5: the count, then 4 queries for each of 3 chunks.
    with django_assert_num_queries(1 + 3 * 4):
        ids, soups = building.catalog_soups(
            chunk=5, progress=lambda d, t, m: seen.append((d, t, m))
        )
    assert list(ids) == list(whole[0]) and soups == whole[1]
    assert [d for d, _, _ in seen] == [5, 10, 12] and {t for _, t, _ in seen} == {12}
    # A chunk boundary at the catalog's end: no extra, empty chunk is reported.
    ids, soups = building.catalog_soups(chunk=6)
    assert soups == whole[1]


def test_catalog_soups_of_an_empty_catalog(db):
    ids, soups = building.catalog_soups()
    assert ids.dtype == np.int64 and len(ids) == 0 and soups == []


def test_site_ratings_matrix_of_no_ratings(catalog):
    ids = np.array(sorted(Movie.objects.values_list("pk", flat=True)), dtype=np.int64)
    site = building.site_ratings_matrix(movie_ids=ids)
    assert site.matrix.shape == (0, 12) and site.ratings == site.users == site.rated_items == 0


def test_tmdb_prior_follows_model_row_order(db):
    quiet = make_movie("space", 0)
    loved = make_movie("crime", 0)
    panned = make_movie("romance", 0)
    Movie.objects.filter(pk=quiet.pk).update(vote_count=3, vote_average=9.0)
    Movie.objects.filter(pk=loved.pk).update(vote_count=5000, vote_average=8.0)
    Movie.objects.filter(pk=panned.pk).update(vote_count=5000, vote_average=5.0)
    ids = np.array(sorted([quiet.pk, loved.pk, panned.pk]), dtype=np.int64)
    prior = building.catalog_tmdb_prior(movie_ids=ids, params=hybrid.HybridParams())
    assert prior.shape == (3,)
    at = {pk: prior[list(ids).index(pk)] for pk in ids}
    # Vote-count damped: thousands of 8.0 votes beat three 9.0 ones, which sit near the mean.
    assert at[loved.pk] > at[quiet.pk] > at[panned.pk]


def test_fit_hybrid_returns_arrays_and_stats(catalog):
    member = UserFactory(username="member")
    rate(member, [catalog["space"][0], catalog["crime"][3]], "5.0")
    ids, soups = building.catalog_soups()
    model = tfidf.fit_tfidf(soups, building.default_params())
    arrays, stats = building.fit_hybrid(model=model, movie_ids=ids, params=hybrid.HybridParams())
    assert set(hybrid.ARRAY_NAMES) <= set(arrays)
    assert stats["site_ratings"] == 2 and stats["site_users"] == 1 and stats["rated_items"] == 2
    assert stats["cf_neighbours"] == len(arrays["cf_data"])
    off, stats_off = building.fit_hybrid(
        model=model, movie_ids=ids, params=hybrid.HybridParams(collab=False)
    )
    assert not set(hybrid.CF_ARRAY_NAMES) & set(off) and stats_off["cf_neighbours"] == 0
    assert not ModelVersion.objects.exists()  # building writes no rows
