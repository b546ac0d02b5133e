"""Phase one of two-phase serving: bounded candidate sources."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations import candidates, tfidf


def random_matrix(n: int, seed: int = 0, features: int = 300, per_row: int = 12):
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, features, size=n * per_row)
    rows = np.repeat(np.arange(n), per_row)
    m = sp.csr_matrix(
        (rng.random(n * per_row).astype(np.float32) + 0.05, (rows, cols)),
        shape=(n, features),
        dtype=np.float32,
    )
    m.sum_duplicates()
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    m = sp.csr_matrix(sp.diags(1.0 / norms) @ m, dtype=np.float32)
    m.sort_indices()
    return m


def test_each_source_contributes_its_rows():
    m = random_matrix(500)
    mt = tfidf.transpose(m)
    nbr = np.full((500, 3), -1, dtype=np.int32)
    nbr[7] = [100, 101, -1]
    got = candidates.gather(
        exclude_rows=[7],
        n_rows=500,
        cf_items=np.array([200, 201, 202]),
        cf_values=np.array([0.5, 0.1, -2.0]),
        liked_rows=np.array([7]),
        liked_scores=np.array([5.0]),
        content_nbr_idx=nbr,
        matrix_t=mt,
        profile_terms=m[7].indices,
        profile_weights=m[7].data,
        head=np.array([300, 301]),
        limits=candidates.CandidateLimits(cf_max=1, per_term=5),
    )
    rows = set(got.rows.tolist())
    # CF: the best one and the one with the largest |value| (the CF scale), not the rest.
    assert {200, 202} <= rows and set(got.by_source["collaborative"]) == {200, 202}
    assert {100, 101} <= rows and -1 not in rows
    assert {300, 301} <= rows
    postings = set(got.by_source["postings"].tolist())
    assert postings and postings <= set(mt[m[7].indices].indices.tolist())
    assert 7 not in rows  # the liked (rated) row itself is excluded


def test_rated_rows_are_excluded_from_every_source():
    m = random_matrix(300)
    got = candidates.gather(
        exclude_rows=[1, 2, 3],
        n_rows=300,
        cf_items=np.array([1, 2, 9]),
        cf_values=np.array([1.0, 2.0, 0.5]),
        head=np.array([3, 10]),
        matrix_t=tfidf.transpose(m),
        profile_terms=m[1].indices,
        profile_weights=m[1].data,
    )
    assert not {1, 2, 3} & set(got.rows.tolist())
    assert {9, 10} <= set(got.rows.tolist())


@pytest.mark.parametrize("n", [2_000, 40_000])
def test_size_is_bounded_whatever_the_catalog(n):
    m = random_matrix(n, seed=n)
    mt = tfidf.transpose(m)
    limits = candidates.CandidateLimits(
        cf_max=50, content_k=5, max_liked=10, max_terms=10, per_term=20, prior_head=30
    )
    rng = np.random.default_rng(1)
    liked = rng.choice(n, 40, replace=False)
    profile = tfidf.user_profile(m, liked, np.full(40, 5.0))
    items = rng.choice(n, 1500, replace=False)
    got = candidates.gather(
        exclude_rows=liked,
        n_rows=n,
        cf_items=items,
        cf_values=rng.standard_normal(1500),
        liked_rows=liked,
        liked_scores=np.full(40, 5.0),
        content_nbr_idx=rng.integers(0, n, size=(n, 8)).astype(np.int32),
        matrix_t=mt,
        profile_terms=profile.indices,
        profile_weights=profile.data,
        head=candidates.prior_head(rng.random(n), limits.prior_head),
        limits=limits,
    )
    assert len(got) <= limits.max_size == 50 + 1 + 5 * 10 + 10 * 20 + 30
    assert len(got.by_source["collaborative"]) == 51
    assert len(got.by_source["postings"]) > 0


def test_prior_head_is_the_top_of_the_prior():
    prior = np.array([0.1, 0.9, 0.3, 0.8, 0.2])
    assert set(candidates.prior_head(prior, 2).tolist()) == {1, 3}
    assert len(candidates.prior_head(prior, 10)) == 5


def test_brute_content_neighbours_are_the_most_similar_rows():
    m = random_matrix(200)
    nbr = candidates.brute_content_neighbours(m, [5], 4)
    sims = (m @ m[5].T).toarray().ravel()
    sims[5] = -1
    assert nbr[5].tolist() == np.argsort(-sims, kind="stable")[:4].tolist()
    assert (nbr[6] == -1).all()  # only the asked rows are filled


def test_limits_must_not_be_negative():
    with pytest.raises(ValueError, match="cf_max"):
        candidates.CandidateLimits(cf_max=-1)
