"""Collaborative item models on tiny matrices (pure numpy/scipy, no database)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations import collab


@pytest.fixture
def ratings() -> sp.csr_matrix:
    rng = np.random.default_rng(42)
    dense = rng.integers(0, 11, size=(30, 8)) / 2.0
    dense[rng.random(dense.shape) < 0.5] = 0.0
    dense[:, 7] = 0.0  # an item nobody rated
    return sp.csr_matrix(dense)


def test_ease_equals_per_item_ridge_regression_on_the_other_items(ratings):
    """EASE's closed form = regress every item on all the others with an L2 penalty."""
    l2 = 3.0
    n = collab.ease_neighbours(ratings, l2=l2, top_k=None).toarray()
    x = ratings.toarray()
    rated = [j for j in range(x.shape[1]) if x[:, j].any()]
    for j in rated:
        others = [i for i in rated if i != j]
        a = x[:, others]
        b = np.linalg.solve(a.T @ a + l2 * np.eye(len(others)), a.T @ x[:, j])
        # Row = source item, column = target: column j holds the weights predicting item j.
        np.testing.assert_allclose(n[others, j], b, rtol=1e-4, atol=1e-6)
    assert np.all(np.diag(n) == 0)
    assert not n[7].any() and not n[:, 7].any()  # unrated item takes no part


def test_ease_top_k_bounds_every_row(ratings):
    n = collab.ease_neighbours(ratings, l2=3.0, top_k=2)
    assert np.diff(n.indptr).max() <= 2
    full = collab.ease_neighbours(ratings, l2=3.0, top_k=None).toarray()
    for j in range(n.shape[0]):
        kept = n[j].toarray().ravel()
        if kept.any():  # the kept entries are the two largest in magnitude
            assert np.abs(kept).sum() == pytest.approx(np.sort(np.abs(full[j]))[-2:].sum(), 1e-5)


def test_ease_max_items_keeps_the_most_rated(ratings):
    counts = np.diff(ratings.tocsc().indptr)
    n = collab.ease_neighbours(ratings, l2=3.0, top_k=None, max_items=3)
    covered = set(n.nonzero()[0]) | set(n.nonzero()[1])
    expected = set(np.lexsort((np.arange(8), -counts))[:3].tolist())
    assert covered == expected


def test_cosine_matches_column_cosine_of_binary_matrix(ratings):
    b = (ratings.toarray() > 0).astype(float)
    norms = np.linalg.norm(b, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.nan_to_num((b.T @ b) / np.outer(norms, norms))
    np.fill_diagonal(expected, 0)
    got = collab.cosine_neighbours(ratings).toarray()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    topped = collab.cosine_neighbours(ratings, top_k=3)
    assert np.diff(topped.indptr).max() <= 3


def test_models_never_change_the_callers_matrix(ratings):
    before = ratings.toarray().copy()
    collab.cosine_neighbours(ratings, binary=True)
    collab.ease_neighbours(ratings)
    np.testing.assert_array_equal(ratings.toarray(), before)


def test_neighbour_scores_and_contributions_match_dense_maths(ratings):
    n = collab.ease_neighbours(ratings, l2=3.0, top_k=None)
    rows, w = [0, 3], [1.5, -2.0]
    expected = 1.5 * n.toarray()[0] - 2.0 * n.toarray()[3]
    np.testing.assert_allclose(collab.neighbour_scores(n, rows, w), expected, rtol=1e-6)
    c = collab.neighbour_contributions(n, rows, w, [5, 6])
    assert c.shape == (2, 2)
    np.testing.assert_allclose(c.sum(axis=1), expected[[5, 6]], rtol=1e-6)
    assert collab.neighbour_scores(n, [], []).tolist() == [0.0] * 8
    # The sparse form serving uses: the same scores, for the items that have one.
    items, values = collab.neighbour_scores_sparse(n, rows, w)
    dense = np.zeros(8)
    dense[items] = values
    np.testing.assert_allclose(dense, expected, rtol=1e-6)
    assert set(items) == set(np.flatnonzero(n[[0, 3]].getnnz(axis=0)))
    assert [len(a) for a in collab.neighbour_scores_sparse(n, [], [])] == [0, 0]
    with pytest.raises(collab.CollabError, match="same length"):
        collab.neighbour_scores_sparse(n, [0, 1], [1.0])


def test_bad_input_is_refused(ratings):
    with pytest.raises(collab.CollabError, match="l2"):
        collab.ease_neighbours(ratings, l2=0)
    with pytest.raises(collab.CollabError, match="sparse"):
        collab.ease_neighbours(ratings.toarray())
    with pytest.raises(collab.CollabError, match="same length"):
        collab.neighbour_scores(collab.cosine_neighbours(ratings), [0, 1], [1.0])


def test_tiny_site_gives_empty_model():
    one = sp.csr_matrix(np.array([[4.0, 0, 0]]))
    assert collab.ease_neighbours(one).nnz == 0


def test_contributions_for_unsorted_and_repeated_targets(ratings):
    n = collab.ease_neighbours(ratings, l2=3.0, top_k=3)  # sparse lists: some entries absent
    rows, w, targets = [3, 0, 5], [1.0, -0.5, 2.0], [6, 1, 6, 0, 7]
    dense = n.toarray()
    expected = np.array([[w[j] * dense[r, t] for j, r in enumerate(rows)] for t in targets])
    np.testing.assert_allclose(collab.neighbour_contributions(n, rows, w, targets), expected)
    assert (expected == 0).any() and (expected != 0).any()


def _random_neighbours(seed: int, n: int = 300, items: int = 40, k: int = 12) -> sp.csr_matrix:
    """Neighbour lists among a few ``items`` of a larger catalog, as the stored model has."""
    rng = np.random.default_rng(seed)
    among = np.sort(rng.choice(n, items, replace=False))
    rows = np.repeat(among, k)
    cols = np.concatenate([rng.choice(among, k, replace=False) for _ in among])
    vals = rng.normal(size=rows.size).astype(np.float32)
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_serving_index_gives_the_very_floats_of_the_slice(seed):
    n = _random_neighbours(seed)
    rng = np.random.default_rng(seed)
    # history rows in and out of the model, one repeated, in no order
    rows = np.concatenate([rng.choice(300, 60, replace=False), [7, 7]])
    w = rng.normal(size=rows.size)
    block = n[rows]  # what serving summed before the index: the same entries, same order
    ref_items, inverse = np.unique(block.indices, return_inverse=True)
    ref = np.bincount(inverse, weights=block.data * np.repeat(w, np.diff(block.indptr)))
    items, values = collab.neighbour_scores_sparse(n, rows, w)
    np.testing.assert_array_equal(items, ref_items)
    np.testing.assert_array_equal(values, ref)  # bit for bit: the exact path's scores stay
    targets = np.concatenate([items[:7], [299, 0], items[:2]])  # some unreached, repeated
    dense = n.toarray()
    expected = np.array(
        [[wj * dense[r, t] for r, wj in zip(rows, w, strict=True)] for t in targets]
    )
    got = collab.neighbour_contributions(n, rows, w, targets)
    np.testing.assert_array_equal(got, expected)
    assert (got != 0).any()


def test_an_item_whose_terms_cancel_is_still_reached():
    n = sp.csr_matrix(np.array([[0, 0, 1.0], [0, 0, 1.0], [0, 0, 0]], dtype=np.float32))
    items, values = collab.neighbour_scores_sparse(n, [0, 1], [1.0, -1.0])
    assert items.tolist() == [2] and values.tolist() == [0.0]


def test_the_index_is_made_once_per_matrix(monkeypatch):
    n, other = _random_neighbours(0), _random_neighbours(1)
    built = []
    real = collab.build_neighbour_index
    monkeypatch.setattr(collab, "build_neighbour_index", lambda m: built.append(m) or real(m))
    for _ in range(3):
        collab.neighbour_scores_sparse(n, [0, 1], [1.0, 2.0])
        collab.neighbour_contributions(n, [0, 1], [1.0, 2.0], [3])
    collab.neighbour_scores_sparse(other, [0], [1.0])
    assert [m is n for m in built] == [True, False]
    empty = sp.csr_matrix((5, 5), dtype=np.float32)
    assert [len(a) for a in collab.neighbour_scores_sparse(empty, [1], [1.0])] == [0, 0]
    assert collab.neighbour_contributions(empty, [1], [1.0], [2]).tolist() == [[0.0]]
