"""Build-time content neighbours (recommendations/neighbours.py) against a brute force."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.neighbours import (
    NeighbourError,
    add_reverse,
    block_neighbours,
    cap_postings,
    content_neighbours,
    exact_work,
    normalised,
    posting_cap,
)


def _random(n=60, f=40, density=0.1, seed=0):
    rng = np.random.default_rng(seed)
    m = sp.random(n, f, density=density, random_state=rng, dtype=np.float32, format="csr")
    m.data = np.round(m.data * 4) / 4 + 0.25  # coarse values: ties happen
    return m


def _brute(m, k):
    dense = m.toarray().astype(np.float64)
    norms = np.linalg.norm(dense, axis=1)
    unit = dense / np.where(norms > 0, norms, 1)[:, None]
    cos = unit @ unit.T
    n = len(cos)
    idx = np.full((n, k), -1)
    sim = np.zeros((n, k))
    for r in range(n):
        cand = [(round(-cos[r, c], 5), c) for c in range(n) if c != r and cos[r, c] > 1e-9]
        best = sorted(cand)[:k]
        idx[r, : len(best)] = [c for _, c in best]
        sim[r, : len(best)] = [-s for s, _ in best]
    return idx, sim


@pytest.mark.parametrize("block_rows", [1, 7, 1000])
def test_blocks_match_the_brute_force_whatever_the_block_size(block_rows):
    m = _random()
    out = content_neighbours(m, 5, block_rows=block_rows)
    idx, sim = _brute(m, 5)
    got_idx, got_sim = out["content_nbr_idx"], out["content_nbr_sim"]
    assert got_idx.dtype == np.int32 and got_sim.dtype == np.float32
    np.testing.assert_allclose(got_sim, sim, atol=1e-5)
    assert ((got_idx >= 0) == (idx >= 0)).all()
    # Under exact ties either neighbour is right: the chosen ones must have the true top-k
    # similarities, and be best first.
    dense = m.toarray().astype(np.float64)
    unit = dense / np.maximum(np.linalg.norm(dense, axis=1), 1e-30)[:, None]
    for r in range(len(idx)):
        chosen = got_idx[r][got_idx[r] >= 0]
        np.testing.assert_allclose(unit[chosen] @ unit[r], sim[r][: chosen.size], atol=1e-5)
        assert (np.diff(got_sim[r][: chosen.size]) <= 1e-7).all()
    assert (got_idx != np.arange(len(idx))[:, None]).all()


def test_self_is_never_a_neighbour_and_empty_rows_are_padded():
    m = sp.csr_matrix(np.array([[1, 0], [1, 0], [0, 0], [0, 1]], dtype=np.float32))
    out = content_neighbours(m, 3)
    idx, sim = out["content_nbr_idx"], out["content_nbr_sim"]
    assert idx.shape == (4, 3)
    assert idx[0].tolist() == [1, -1, -1] and idx[1].tolist() == [0, -1, -1]
    assert idx[2].tolist() == [-1, -1, -1] and sim[2].tolist() == [0, 0, 0]
    assert all(r not in idx[r] for r in range(4))


def test_k_larger_than_the_catalog_is_cut_to_the_other_rows():
    m = _random(n=4, f=3, density=1.0)
    out = content_neighbours(m, 50)
    assert out["content_nbr_idx"].shape == (4, 3)


def test_pruning_common_terms_drops_matches_on_them_only():
    # Term 0 is in every row; term 1 links rows 0 and 1 only.
    m = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1], [1, 0, 0]], dtype=np.float32))
    full = content_neighbours(m, 3)["content_nbr_idx"]
    pruned = content_neighbours(m, 3, max_term_rows=3)["content_nbr_idx"]
    assert set(full[3][full[3] >= 0]) == {0, 1, 2}
    assert pruned[3].tolist() == [-1, -1, -1]
    assert pruned[0].tolist() == [1, -1, -1]


@pytest.mark.parametrize(
    "call",
    [
        lambda m: content_neighbours(np.zeros((2, 2)), 3),
        lambda m: content_neighbours(m, 3, block_rows=0),
        lambda m: content_neighbours(m, 3, max_term_rows=0),
        lambda m: block_neighbours(m, m.T.tocsr(), 3, 99, 2),
        lambda m: block_neighbours(m, m.T.tocsr(), 0, 2, 0),
    ],
)
def test_bad_input_is_refused(call):
    with pytest.raises(NeighbourError):
        call(_random(n=10, f=5))


# --- the capped kernel (work budget) and the finish's add-reverse ------------------------------


def _work(df, cap):
    return float((df * np.minimum(df, cap)).sum())


def test_posting_cap_is_none_while_the_exact_work_fits_and_the_largest_fitting_cap_above():
    m = _random(n=200, f=30, density=0.3, seed=3)
    exact = exact_work(m)
    assert posting_cap(m, exact) is None and posting_cap(m, None) is None
    budget = exact / 4
    cap = posting_cap(m, budget)
    df = np.diff(m.tocsc().indptr).astype(float)
    assert _work(df, cap) <= budget * 200 < _work(df, cap + 1)


def test_capping_keeps_each_terms_highest_weight_rows():
    m = sp.csr_matrix(
        np.array([[0.1, 1], [0.9, 0], [0.5, 1], [0.9, 1], [0.7, 0]], dtype=np.float32)
    )
    capped = cap_postings(sp.csr_matrix(m.T), 2)
    # Term 0: 0.9 (rows 1 and 3: equal, both kept); term 1 has 3 rows, the lowest first.
    assert capped[0].indices.tolist() == [1, 3]
    assert capped[1].indices.tolist() == [0, 2]
    assert np.diff(capped.indptr).tolist() == [2, 2]


def test_capped_similarities_are_exact_cosines_best_first():
    m = _random(n=80, f=12, density=0.4, seed=5)
    k = 6
    out = content_neighbours(m, k, work_budget=exact_work(m) / 5)
    dense = m.toarray().astype(np.float64)
    unit = dense / np.maximum(np.linalg.norm(dense, axis=1), 1e-30)[:, None]
    idx, sim = out["content_nbr_idx"], out["content_nbr_sim"]
    assert (idx >= 0).sum() > 0
    for r in range(80):
        chosen = idx[r][idx[r] >= 0]
        np.testing.assert_allclose(unit[chosen] @ unit[r], sim[r][: chosen.size], atol=1e-5)
        assert (np.diff(sim[r][: chosen.size]) <= 1e-7).all() and r not in chosen


def test_a_budget_the_exact_work_fits_changes_nothing():
    m = _random(n=60, f=20, density=0.2, seed=2)
    exact = content_neighbours(m, 5)
    budgeted = content_neighbours(m, 5, work_budget=exact_work(m))
    np.testing.assert_array_equal(exact["content_nbr_idx"], budgeted["content_nbr_idx"])
    np.testing.assert_array_equal(exact["content_nbr_sim"], budgeted["content_nbr_sim"])


def _hub():
    """Term 0 in rows 0..3, weighing most in row 3 (its only term); row 4 shares nothing."""
    return sp.csr_matrix(
        np.array([[0.6, 1, 0], [0.5, 0, 1], [0.4, 1, 1], [1, 0, 0], [0, 0, 0]], dtype=np.float32)
    )


def test_with_one_posting_per_term_the_hub_is_found_from_one_side_only():
    m, mt = normalised(_hub(), cap=1)
    idx, _ = block_neighbours(m, mt, 0, 5, 3, capped=True)
    assert 3 in idx[0] and 3 in idx[1] and 3 in idx[2]
    assert idx[3].tolist() == [-1, -1, -1]  # row 3 meets only itself through term 0


def test_add_reverse_offers_each_row_the_rows_that_list_it():
    m, mt = normalised(_hub(), cap=1)
    idx, sim = block_neighbours(m, mt, 0, 5, 3, capped=True)
    add_reverse(idx, sim)
    dense = _hub().toarray().astype(np.float64)
    unit = dense / np.maximum(np.linalg.norm(dense, axis=1), 1e-30)[:, None]
    # Row 3's exact neighbours, best first: 0 (0.51), 1 (0.45), 2 (0.27).
    assert idx[3].tolist() == [0, 1, 2]
    np.testing.assert_allclose(sim[3], unit[[0, 1, 2]] @ unit[3], atol=1e-6)
    assert idx[4].tolist() == [-1, -1, -1] and sim[4].tolist() == [0, 0, 0]


def test_add_reverse_keeps_the_k_best_once_each_ties_by_lower_row():
    idx = np.array([[1, 2], [0, -1], [0, -1], [0, 1]], dtype=np.int32)
    sim = np.array([[0.9, 0.5], [0.9, 0], [0.5, 0], [0.5, 0.5]], dtype=np.float32)
    add_reverse(idx, sim, chunk_rows=2)
    # Row 0: its own 1 (0.9) and 2 (0.5), offered 1 again, 2 again and 3 (0.5): 2 beats 3 on
    # the tie. Row 1 is offered 3; row 2 is listed by row 0 only, already its neighbour.
    assert idx.tolist() == [[1, 2], [0, 3], [0, -1], [0, 1]]
    np.testing.assert_allclose(sim, [[0.9, 0.5], [0.9, 0.5], [0.5, 0], [0.5, 0.5]])


def test_symmetrising_a_capped_run_raises_recall_against_exact():
    m = _random(n=300, f=40, density=0.15, seed=9)
    k = 10
    exact = content_neighbours(m, k)["content_nbr_idx"]
    budget = exact_work(m) / 8
    one_side = content_neighbours(m, k, work_budget=budget, reverse=False)["content_nbr_idx"]
    both = content_neighbours(m, k, work_budget=budget)["content_nbr_idx"]

    def recall(idx):
        return np.mean([len(set(idx[r]) & set(exact[r]) - {-1}) / k for r in range(300)])

    assert recall(both) > recall(one_side)
    assert recall(both) <= 1.0


def test_a_budget_below_one_is_refused():
    with pytest.raises(NeighbourError):
        posting_cap(_random(), 0.5)
    with pytest.raises(NeighbourError):
        cap_postings(sp.csr_matrix(_random().T), 0)
