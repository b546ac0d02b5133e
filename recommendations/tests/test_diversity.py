"""Diversity metrics and the MMR re-rank on tiny hand-computed cases."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations import diversity

# Rows 0 and 1 identical, row 2 orthogonal to both, row 3 at 45 degrees to row 0 and row 2.
M = sp.csr_matrix(np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))


def test_ild_of_identical_rows_is_zero_and_of_orthogonal_rows_is_one():
    assert diversity.intra_list_diversity(M, [0, 1]) == pytest.approx(0.0)
    assert diversity.intra_list_diversity(M, [0, 2]) == pytest.approx(1.0)


def test_ild_is_the_mean_over_pairs():
    # pairs (0,1): 0, (0,2): 1, (1,2): 1 -> 2/3
    assert diversity.intra_list_diversity(M, [0, 1, 2]) == pytest.approx(2 / 3)
    # pairs (0,3): 1 - 1/sqrt2, (2,3): 1 - 1/sqrt2, (0,2): 1
    expected = (2 * (1 - 1 / math.sqrt(2)) + 1) / 3
    assert diversity.intra_list_diversity(M, [0, 2, 3]) == pytest.approx(expected)


def test_ild_of_a_single_item_is_zero():
    assert diversity.intra_list_diversity(M, [3]) == 0.0


def test_novelty_is_mean_self_information():
    info = diversity.self_information(np.array([4, 2, 1, 1]))  # shares 1/2, 1/4, 1/8, 1/8
    assert info.tolist() == pytest.approx([1.0, 2.0, 3.0, 3.0])
    assert diversity.novelty([0, 2], info) == pytest.approx(2.0)
    assert diversity.novelty([], info) == 0.0


def test_unseen_items_count_once():
    info = diversity.self_information(np.array([3, 0]))
    assert info[1] == pytest.approx(-math.log2(1 / 3))


def test_mmr_with_lambda_one_keeps_the_order():
    assert diversity.mmr_rerank([0, 1, 2], [3.0, 2.0, 1.0], matrix=M, n=3, lam=1.0) == [0, 1, 2]


def test_mmr_skips_a_duplicate_for_a_different_item():
    # rel = [1, 0.5, 0]; at lam 0.5 after row 0: row 1 -> 0.25 - 0.5 = -0.25, row 2 -> 0 - 0 = 0
    assert diversity.mmr_rerank([0, 1, 2], [3.0, 2.0, 1.0], matrix=M, n=2, lam=0.5) == [0, 2]
    # at lam 0.9: row 1 -> 0.45 - 0.1 = 0.35 beats row 2 -> 0: the order stays
    assert diversity.mmr_rerank([0, 1, 2], [3.0, 2.0, 1.0], matrix=M, n=2, lam=0.9) == [0, 1]


def test_mmr_rejects_bad_input():
    with pytest.raises(ValueError):
        diversity.mmr_rerank([0, 1], [1.0], matrix=M, n=2, lam=0.5)
    with pytest.raises(ValueError):
        diversity.mmr_rerank([0, 1], [1.0, 0.5], matrix=M, n=2, lam=1.5)


def test_the_re_rank_reads_only_its_rows_norms():
    # The site re-ranks 50 rows of a catalog of any size: widening all 1,000,000 float32 norms
    # to float64 first was an 8 MB array per request.
    import tracemalloc

    n = 1_000_000
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(n, 50, replace=False))
    dense = rng.random((50, 30)) * (rng.random((50, 30)) < 0.3)
    m = sp.csr_matrix(dense.astype(np.float32))
    # the 50 rows placed at ``rows`` of an otherwise empty catalog
    lengths = np.zeros(n, dtype=np.int64)
    lengths[rows] = np.diff(m.indptr)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    matrix = sp.csr_matrix((m.data, m.indices, indptr), shape=(n, 30))
    norms = np.ones(n, dtype=np.float32)
    norms[rows] = np.sqrt((dense**2).sum(axis=1)).astype(np.float32)
    scores = np.linspace(1, 0, 50)
    want = diversity.mmr_rerank(rows, scores, matrix=matrix, n=10, lam=0.7)
    tracemalloc.start()
    got = diversity.mmr_rerank(rows, scores, matrix=matrix, n=10, lam=0.7, row_norms=norms)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert got == want
    assert peak < 1_000_000
