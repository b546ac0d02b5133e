"""The item-to-item protocol (recommendations/evaluation_items.py) on fixed small cases."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations import evaluation_items as ei
from recommendations.evaluation import UserSplit


def _split(user_id, history, scores, relevant):
    return UserSplit(
        user_id=user_id,
        history_rows=np.array(history, dtype=np.int64),
        history_scores=np.array(scores, dtype=np.float64),
        test_rows=np.array(relevant, dtype=np.int64),
        relevant_rows=np.array(relevant, dtype=np.int64),
    )


SPLITS = [
    _split(1, [0, 3], [5.0, 2.0], [2]),  # seed 0 only (3 is not liked)
    _split(2, [1, 0], [4.0, 4.5], [3]),  # seeds 0 and 1
]


def test_seeds_are_the_liked_history_movies():
    assert ei.seed_pairs(SPLITS) == [(0, 0), (1, 0), (1, 1)]
    assert ei.seed_pairs(SPLITS, like_threshold=4.5) == [(0, 0), (1, 0)]
    with pytest.raises(ValueError):
        ei.seed_pairs(SPLITS, like_threshold=float("nan"))


def test_pair_metrics():
    assert ei.pair_metrics([5, 2, 7], {2}, k=3) == (1, pytest.approx(1 / np.log2(3)))
    assert ei.pair_metrics([5, 7], {2}, k=3) == (0, 0.0)
    assert ei.pair_metrics([2, 5], {2, 9}, k=1) == (1, 1.0)  # only the top k counts
    with pytest.raises(ValueError):
        ei.pair_metrics([1], set(), k=3)


def test_a_ranker_is_scored_over_pairs_and_never_sees_the_history():
    seen = []

    def ranker(seed, exclude, k):
        seen.append((seed, sorted(exclude.tolist()), k))
        return [2] if seed == 0 else [3]

    result = ei.evaluate_ranker("fixed", ranker, SPLITS, ei.seed_pairs(SPLITS), k=12)
    # (user 1, seed 0): 2 is relevant; (user 2, seed 0): 2 is not; (user 2, seed 1): 3 is.
    assert result.hit_rate == pytest.approx(2 / 3)
    assert result.pairs == 3
    assert seen == [(0, [0, 3], 12), (0, [0, 1], 12), (1, [0, 1], 12)]
    with pytest.raises(ValueError):
        ei.evaluate_ranker("fixed", ranker, SPLITS, [], k=0)


def test_the_three_rankers_on_one_run():
    # Content ties 0 with 1 and 2; co-ratings tie 0 with 2 and 1 with 3.
    matrix = sp.csr_matrix(
        np.array([[1, 1, 0], [1, 0.9, 0], [1, 0.8, 0], [0, 0, 1]], dtype=np.float32)
    )
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel()).astype(np.float32)
    nb = sp.csr_matrix(
        np.array([[0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float32)
    )
    prior = np.array([0.5, 0.5, 0.5, 0.5], dtype=np.float32)
    results = ei.evaluate_item_to_item(
        splits=SPLITS, matrix=matrix, row_norms=norms, neighbours=nb, prior=prior, k=1
    )
    by_name = {r.ranker: r for r in results}
    assert list(by_name) == ["content-only", "collaborative-only", "blended"]
    assert {r.pairs for r in results} == {3}
    # Content-only top 1: seed 0 -> 1 (user 2 has rated 1: -> 2), seed 1 -> 2: never relevant.
    assert by_name["content-only"].hit_rate == 0.0
    assert by_name["collaborative-only"].hit_rate == pytest.approx(2 / 3)
    assert by_name["blended"].hit_rate == pytest.approx(2 / 3)
    table = ei.format_item_table(results, k=1)
    assert "blended" in table and "hit@1" in table
