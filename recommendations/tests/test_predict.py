"""The rating predictor's math (no database): baseline, neighbourhood correction, rounding."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations import predict, tfidf


def test_fit_baseline_damps_item_biases_towards_the_metadata_offset():
    # Item 0: rated 5.0 by four users; item 1: once, 1.0; item 2: never, metadata +0.5.
    ratings = sp.csr_matrix(
        np.array([[5.0, 1.0, 0.0], [5.0, 0.0, 0.0], [5.0, 0.0, 0.0], [5.0, 0.0, 0.0]])
    )
    params = predict.PredictParams(item_damping=5.0, mean_prior_weight=0.0)
    mu, bias = predict.fit_baseline(
        ratings, metadata_offset=np.array([0.0, 0.0, 0.5]), params=params
    )
    assert mu == pytest.approx(21.0 / 5)
    assert bias[0] == pytest.approx(4 * (5.0 - mu) / (4 + 5))
    # One 1.0 moves the item less than the four 5.0s moved item 0: damping.
    assert abs(bias[1]) < abs(1.0 - mu)
    assert bias[2] == pytest.approx(0.5)  # nobody rated it: the metadata offset


def test_site_mean_is_shrunk_towards_the_default_with_few_ratings():
    mu, _ = predict.fit_baseline(sp.csr_matrix(np.array([[5.0]])))
    assert 3.5 < mu < 3.7
    mu_empty, bias = predict.fit_baseline(sp.csr_matrix((0, 2)))
    assert mu_empty == 3.5 and list(bias) == [0.0, 0.0]


def test_a_generous_user_gets_higher_predictions_than_a_harsh_one():
    bias = np.zeros(4)
    common = dict(mu=3.5, item_bias=bias, rated_rows=[0, 1, 2], target_rows=[3])
    generous = predict.predict(**common, rated_scores=[5.0, 5.0, 4.5])
    harsh = predict.predict(**common, rated_scores=[1.0, 1.5, 2.0])
    assert generous[0] > 3.5 > harsh[0]


def test_the_neighbourhood_pulls_towards_ratings_of_similar_movies():
    model = tfidf.fit_tfidf(
        ["space rocket alien", "space rocket moon", "romance paris love", "romance love bride"],
        tfidf.TfidfParams(min_df=1, max_df=1.0),
    )
    sims = predict.content_similarity(model.matrix, model.row_norms, [1, 3], [0, 2])
    assert sp.issparse(sims) and sims.shape == (2, 2)
    assert sims[0, 0] > 0 and sims[0, 1] == 0  # space is like space, not like romance
    kwargs = dict(
        mu=3.0,
        item_bias=np.zeros(4),
        rated_rows=[0, 2],
        rated_scores=[5.0, 1.0],
        target_rows=[1, 3],
    )
    base = predict.predict(**kwargs)
    near = predict.predict(**kwargs, similarity=sims)
    assert base[0] == pytest.approx(base[1])  # the baseline alone cannot tell them apart
    assert near[0] > base[0] and near[1] < base[1]  # loved space, disliked romance


def test_predictions_stay_on_the_scale_and_round_to_half_stars():
    out = predict.predict(
        mu=4.8, item_bias=np.array([2.0, -9.0]), rated_rows=[], rated_scores=[], target_rows=[0, 1]
    )
    assert list(out) == [5.0, 0.5]
    assert [predict.half_stars(v) for v in (3.74, 3.75, 0.1, 7.0, 4.24)] == [
        3.5,
        4.0,
        0.5,
        5.0,
        4.0,
    ]


def test_errors_are_rmse_and_mae():
    rmse, mae = predict.errors(np.array([3.0, 5.0]), np.array([4.0, 4.0]))
    assert rmse == pytest.approx(1.0) and mae == pytest.approx(1.0)
    assert predict.errors(np.zeros(0), np.zeros(0)) == (0.0, 0.0)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        predict.predict(
            mu=3, item_bias=np.zeros(2), rated_rows=[0], rated_scores=[], target_rows=[1]
        )
    with pytest.raises(ValueError):
        predict.fit_baseline(sp.csr_matrix((1, 3)), metadata_offset=np.zeros(2))
