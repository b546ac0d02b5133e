"""Build-time content neighbours (recommendations/neighbours.py) against a brute force."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.neighbours import NeighbourError, block_neighbours, content_neighbours


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
