"""The cold-start list's prior and its genre/decade re-rank (no database).

Three catalogs: the demo (editorial popularity and averages, no vote counts), a TMDB catalog
(vote counts), and a site where one member rated six movies.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations import hybrid


def no_ratings(n: int) -> sp.csr_matrix:
    return sp.csr_matrix((0, n))


def top(prior, k):
    return [r.row for r in hybrid.cold_start({"cold_prior": prior.astype(np.float32)}, n=k)]


def test_demo_catalog_without_vote_counts_ranks_by_popularity_and_average():
    # Rows 0-2 old and obscure (database order puts them first), 3-5 well known and loved.
    popularity = [5, 8, 3, 95, 90, 80]
    average = [6.0, 6.5, 6.0, 8.7, 8.5, 8.2]
    prior = hybrid.cold_start_prior(
        popularity=popularity, vote_count=[0] * 6, vote_average=average, ratings=no_ratings(6)
    )
    assert top(prior, 3) == [3, 4, 5]
    assert (prior > 0).sum() >= 5  # never a list of zeros (the weakest movie may be 0)


def test_tmdb_catalog_damps_averages_of_few_votes():
    # Row 0: 10/10 from 3 voters; row 1: 8.4 from 20,000; same popularity.
    prior = hybrid.cold_start_prior(
        popularity=[50, 50, 10],
        vote_count=[3, 20000, 5000],
        vote_average=[10.0, 8.4, 6.0],
        ratings=no_ratings(3),
    )
    assert prior[1] > prior[0] > prior[2]


def test_one_member_with_six_ratings_does_not_take_over():
    n = 30
    rng = np.random.default_rng(1)
    popularity = np.linspace(100, 1, n)  # row 0 most popular
    average = np.full(n, 7.0)
    # One member rated the six least popular movies 5 stars.
    member = np.zeros((1, n))
    member[0, -6:] = 5.0
    prior = hybrid.cold_start_prior(
        popularity=popularity,
        vote_count=np.zeros(n),
        vote_average=average + rng.normal(0, 0.01, n),
        ratings=sp.csr_matrix(member),
    )
    first_ten = top(prior, 10)
    assert not set(first_ten) & set(range(n - 6, n))
    # Their ratings still count a little: each of them beats its unrated twin position.
    alone = hybrid.cold_start_prior(
        popularity=popularity, vote_count=np.zeros(n), vote_average=average, ratings=no_ratings(n)
    )
    assert (prior[-6:] > alone[-6:]).all()


def test_many_members_make_site_ratings_count():
    ratings = sp.csr_matrix(np.tile([0.0, 0.0, 0.0, 5.0], (3000, 1)))
    prior = hybrid.cold_start_prior(
        popularity=[100, 90, 80, 1], vote_count=[0] * 4, vote_average=[7.0] * 4, ratings=ratings
    )
    assert int(np.argmax(prior)) == 3


def test_a_catalog_without_any_numbers_scores_evenly_not_zero():
    prior = hybrid.cold_start_prior(
        popularity=[0, 0, 0], vote_count=[0, 0, 0], vote_average=[0, 0, 0], ratings=no_ratings(3)
    )
    assert np.allclose(prior, prior[0]) and prior[0] > 0


def test_diversify_mixes_genres_and_decades():
    rows = list(range(6))
    scores = [1.0, 0.99, 0.98, 0.97, 0.9, 0.89]
    genres = ["Drama", "Drama", "Drama", "Drama", "Comedy", "Horror"]
    decades = [1990, 1990, 1990, 1990, 1970, 2000]
    order = hybrid.diversify(rows, scores, genres=genres, decades=decades, n=4)
    assert order[0] == 0  # the best stays first
    assert {4, 5} <= set(order)  # a comedy and a horror film make the first four
    assert len(order) == len(set(order)) == 4


def test_diversify_keeps_order_when_all_differ_and_refuses_bad_input():
    order = hybrid.diversify(
        [7, 8, 9], [0.9, 0.8, 0.7], genres=["a", "b", None], decades=[1, 2, None], n=5
    )
    assert order == [0, 1, 2]
    with pytest.raises(hybrid.HybridError):
        hybrid.diversify([1], [0.5, 0.4], genres=["a"], decades=[1], n=1)
