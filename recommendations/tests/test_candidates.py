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
        limits=candidates.CandidateLimits(cf_max=1, term_rows=5),
    )
    rows = set(got.rows.tolist())
    # CF: the best one, not the rest.
    assert 200 in rows and set(got.by_source["collaborative"]) == {200}
    assert {100, 101} <= rows and -1 not in rows
    assert {300, 301} <= rows
    by_terms = set(got.by_source["profile_terms"].tolist())
    assert len(by_terms) == 5 and by_terms <= set(mt[m[7].indices].indices.tolist())
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
        cf_max=50, content_k=5, max_liked=10, term_rows=20, common_rows=15, prior_head=30
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
    assert len(got) <= limits.max_size == 50 + 5 * 10 + 20 + 15 + 30
    assert len(got.by_source["collaborative"]) == 50
    assert len(got.by_source["profile_terms"]) == 20


def test_term_rows_are_the_best_partial_scores_over_the_selective_terms():
    m = random_matrix(3000, seed=4, features=60, per_row=6)
    mt = tfidf.transpose(m)
    lengths = np.diff(mt.indptr)
    rng = np.random.default_rng(4)
    factor = (0.5 + 0.5 * rng.random(3000)).astype(np.float32)
    terms = np.arange(60)
    weights = rng.random(60) + 0.01
    limits = candidates.CandidateLimits(
        term_rows=40,
        term_max_postings=int(np.median(lengths)),
        postings_budget=4 * int(lengths.max()),
    )
    got = candidates.term_rows(mt, terms, weights, limits, row_factor=factor)
    # brute force: the heaviest terms no longer than the cap, while they fit the budget
    ok = np.flatnonzero(lengths <= limits.term_max_postings)
    ok = ok[np.argsort(-weights[ok], kind="stable")]
    read = ok[np.cumsum(lengths[ok]) <= limits.postings_budget]
    assert 0 < read.size < ok.size  # the cap and the budget both left terms out
    dense = np.zeros(60)
    dense[read] = weights[read]
    partial = m @ dense
    # the 80 best by the partial cosine, of which the 40 best once weighed by the factor
    assert got.size == 40
    pool = np.argsort(-partial, kind="stable")[:80]
    assert set(got.tolist()) <= set(pool.tolist())
    weighed = partial[pool] * factor[pool]
    assert (partial[got] * factor[got]).min() >= np.sort(weighed)[-40] - 1e-5
    plain = candidates.term_rows(mt, terms, weights, limits)
    assert np.sort(partial[plain]).min() >= np.sort(partial)[-40] - 1e-5


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


def _content(m, rows_factor, terms, weights):
    """Every row's richness-weighted cosine with a unit-normalised profile, by brute force."""
    dense = np.zeros(m.shape[1])
    unit = weights / np.linalg.norm(weights)
    dense[terms] = unit
    return (m @ dense) * rows_factor


def test_term_maxima_are_the_largest_weighted_postings():
    m = random_matrix(400, seed=5)
    factor = np.random.default_rng(5).random(400).astype(np.float32)
    got = candidates.term_maxima(tfidf.transpose(m), factor)
    want = np.asarray(m.multiply(factor[:, None]).max(axis=0).todense()).ravel()
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("seed", range(8))
def test_the_non_essential_bound_covers_every_row(seed):
    rng = np.random.default_rng(seed)
    m = random_matrix(600, seed=seed)
    factor = (0.5 + 0.5 * rng.random(600)).astype(np.float32)
    maxima = candidates.term_maxima(tfidf.transpose(m), factor)
    profile = tfidf.user_profile(m, rng.choice(600, 2, replace=False), [5.0, 4.0])
    terms, weights = profile.indices, profile.data.astype(np.float64)
    unit = weights / np.linalg.norm(weights)
    for need in (0.05, 0.2, 0.5):
        ess, rest = candidates.non_essential_split(unit, maxima[terms], float(factor.max()), need)
        assert rest < need
        others = np.setdiff1d(np.arange(terms.size), ess)
        # the true contribution of the left-out terms, row by row, never exceeds the bound
        if others.size:
            part = _content(m, factor, terms[others], weights[others]) * (
                np.linalg.norm(weights[others]) / np.linalg.norm(weights)
            )
            assert part.max() <= rest + 1e-6


def test_a_spare_budget_reads_more_terms_and_lowers_the_rest():
    rng = np.random.default_rng(11)
    m = random_matrix(600, seed=11)
    mt = tfidf.transpose(m)
    maxima = candidates.term_maxima(mt, np.ones(600, dtype=np.float32))
    profile = tfidf.user_profile(m, rng.choice(600, 3, replace=False), [5.0, 4.0, 4.5])
    unit = profile.data / np.linalg.norm(profile.data)
    lengths = np.diff(mt.indptr)[profile.indices]
    ess, rest = candidates.non_essential_split(unit, maxima[profile.indices], 1.0, 0.3)
    minimal = int(lengths[ess].sum())
    more, lower = candidates.non_essential_split(
        unit, maxima[profile.indices], 1.0, 0.3, lengths, minimal + 40
    )
    assert set(ess) < set(more) and lower < rest
    assert minimal < int(lengths[more].sum()) <= minimal + 40
    # with no spare entries the split is the minimal one
    same, _ = candidates.non_essential_split(
        unit, maxima[profile.indices], 1.0, 0.3, lengths, minimal
    )
    assert sorted(same) == sorted(ess)


@pytest.mark.parametrize("seed", range(8))
def test_bounded_rows_keep_every_row_that_can_reach_the_threshold(seed):
    rng = np.random.default_rng(seed)
    n = 700
    m = random_matrix(n, seed=seed)
    mt = tfidf.transpose(m)
    factor = (0.6 + 0.4 * rng.random(n)).astype(np.float32)
    maxima = candidates.term_maxima(mt, factor)
    profile = tfidf.user_profile(m, rng.choice(n, 2, replace=False), [5.0, 4.5])
    terms, weights = profile.indices, profile.data.astype(np.float64)
    content = _content(m, factor, terms, weights)
    prior = rng.random(n)
    head = candidates.prior_head(prior, 20)
    cf_rows = np.sort(rng.choice(n, 40, replace=False))
    cf_part = rng.random(40) * 0.5
    coef = 0.6 / content.max()
    true = 0.1 * prior + coef * content
    true[cf_rows] += cf_part
    threshold = float(np.sort(true)[-10])
    got = candidates.bounded_rows(
        matrix_t=mt,
        maxima=maxima,
        row_factor=factor,
        factor_max=float(factor.max()),
        terms=terms,
        weights=weights,
        threshold=threshold,
        coef=coef,
        content_cap=float(content.max()),
        base_out=0.1 * prior[head].min(),
        prior=prior,
        prior_weight=0.1,
        base_rows=cf_rows,
        base_values=cf_part,
        budget=10**9,
        max_rows=n,
        matrix=m,
        check_rows=n,
    )
    assert got.ok
    scored = np.union1d(got.rows, head)  # the caller scores the head anyway
    outside = np.setdiff1d(np.arange(n), scored)
    assert set(np.flatnonzero(true >= threshold)) <= set(scored.tolist())
    assert true[outside].max() <= got.outside + 1e-9
    assert content[outside].max() <= got.content + 1e-9
    assert got.rows.size < n // 4  # and it does prune


def test_bounded_rows_give_up_past_the_budget():
    m = random_matrix(300, seed=2)
    mt = tfidf.transpose(m)
    factor = np.ones(300, dtype=np.float32)
    profile = tfidf.user_profile(m, [0], [5.0])
    got = candidates.bounded_rows(
        matrix_t=mt,
        maxima=candidates.term_maxima(mt, factor),
        row_factor=factor,
        factor_max=1.0,
        terms=profile.indices,
        weights=profile.data,
        threshold=0.9,
        coef=1.0,
        content_cap=1.0,
        base_out=0.0,
        budget=1,
        max_rows=300,
    )
    assert not got.ok and got.reason == "postings budget"


def test_champion_lists_keep_the_heaviest_weighted_rows_of_long_terms():
    m = random_matrix(2000, seed=6, features=40, per_row=8)
    mt = tfidf.transpose(m)
    factor = (0.5 + 0.5 * np.random.default_rng(6).random(2000)).astype(np.float32)
    lengths = np.diff(mt.indptr)
    cut = int(np.median(lengths))
    ptr, rows, values = candidates.champion_lists(mt, factor, min_postings=cut, per_term=30)
    for term in range(40):
        got = rows[ptr[term] : ptr[term + 1]]
        if lengths[term] <= cut:
            assert got.size == 0
            continue
        col = m[:, term].toarray().ravel()
        assert got.size == 30
        np.testing.assert_allclose(values[ptr[term] : ptr[term + 1]], col[got], rtol=1e-6)
        weighed = col * factor
        assert weighed[got].min() >= np.sort(weighed[col > 0])[-30] - 1e-7


def test_long_terms_count_through_their_champions():
    m = random_matrix(3000, seed=8, features=30, per_row=6)
    mt = tfidf.transpose(m)
    lengths = np.diff(mt.indptr)
    factor = np.ones(3000, dtype=np.float32)
    long_terms = np.argsort(-lengths)[:10]
    cut = int(lengths[long_terms].min()) - 1
    champions = candidates.champion_lists(mt, factor, min_postings=cut, per_term=3000)
    limits = candidates.CandidateLimits(
        term_rows=0, common_rows=25, term_max_postings=cut, common_terms=10
    )
    weights = np.zeros(30)
    weights[long_terms] = 1.0 + np.arange(10)
    got = candidates.term_rows(mt, np.arange(30), weights, limits, factor, champions)
    # full champion lists: the 25 best rows over the long terms, as brute force has them
    partial = m @ weights
    assert got.size == 25
    assert partial[got].min() >= np.sort(partial)[-25] - 1e-5
    without = candidates.term_rows(mt, np.arange(30), weights, limits, factor, None)
    assert without.size == 0  # nothing selective to read, no champions: nothing found


def test_union_rows_is_numpys_union():
    rng = np.random.default_rng(5)
    parts = [rng.integers(0, 500, size) for size in (0, 1, 300, 40)]
    np.testing.assert_array_equal(candidates.union_rows(*parts), np.unique(np.concatenate(parts)))
    assert candidates.union_rows(np.array([3, 3, 1])).tolist() == [1, 3]
    assert candidates.union_rows().dtype == np.int64 and candidates.union_rows(()).size == 0
