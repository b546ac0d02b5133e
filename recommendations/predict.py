"""Rating prediction: "we think you'd rate this ★ 4.0". Pure numpy / scipy, no Django.

A baseline predictor with a neighbourhood correction, the classic recipe (Koren 2008):

``r̂(u, i) = μ + b_u + b_i + Σ_j s_ij^p (r_uj - b̂_uj) / (Σ_j s_ij^p + λ_n)``

* ``μ``: the site's mean rating, shrunk towards 3.5 while the site has few ratings;
* ``b_i`` (learned at build time, stored in the model version): the item's mean offset on the
  site, damped with ``item_damping`` pseudo-ratings that sit at its *metadata* offset (the
  TMDB or editorial average mapped to 5 stars, minus the catalog's mean), so a movie nobody
  here rated yet still gets a sensible value, and one rating cannot swing it;
* ``b_u`` (per request): the user's mean offset from ``μ + b_i`` over their ratings, damped
  with ``user_damping`` pseudo-ratings at zero;
* the correction: the user's residuals on the movies most like the target (TF-IDF cosine
  ``s_ij`` raised to ``similarity_power``, so close neighbours count most), shrunk by
  ``neighbour_damping``.

Clipped to 0.5..5; :func:`half_stars` rounds for display. ``manage.py evaluate`` measures RMSE
and MAE against the user's and the item's mean (docs/evaluation.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

MIN_STARS, MAX_STARS = 0.5, 5.0


@dataclass(frozen=True)
class PredictParams:
    default_mean: float = 3.5  # μ on a site with no ratings
    mean_prior_weight: float = 20.0  # pseudo-ratings at default_mean
    item_damping: float = 5.0
    metadata_scale: float = 1.0  # how far the metadata offset moves b_i (stars per star)
    user_damping: float = 5.0
    neighbour_damping: float = 0.3
    similarity_power: float = 1.0
    neighbour_weight: float = 1.0


def fit_baseline(
    ratings: sp.spmatrix,
    *,
    metadata_offset: Sequence[float] | None = None,
    params: PredictParams | None = None,
) -> tuple[float, np.ndarray]:
    """``(μ, b_i per catalog row)`` from a users x rows CSR of scores (0 = unrated).

    ``metadata_offset`` (stars, per row; 0 where unknown) is where ``b_i`` sits without site
    ratings, e.g. ``hybrid.metadata_stars`` minus its catalog mean.
    """
    params = params or PredictParams()
    ratings = sp.csc_matrix(ratings, dtype=np.float64)
    ratings.eliminate_zeros()
    n_items = ratings.shape[1]
    total, n = float(ratings.data.sum()), int(ratings.nnz)
    k = params.mean_prior_weight
    mu = (total + k * params.default_mean) / (n + k)
    prior = (
        np.zeros(n_items)
        if metadata_offset is None
        else np.nan_to_num(np.asarray(metadata_offset, dtype=np.float64)) * params.metadata_scale
    )
    if prior.shape != (n_items,):
        raise ValueError(f"metadata_offset must have one value per catalog row ({n_items}).")
    counts = np.diff(ratings.indptr).astype(np.float64)
    sums = np.asarray(ratings.sum(axis=0), dtype=np.float64).ravel() - counts * mu
    lam = params.item_damping
    item_bias = (sums + lam * prior) / (counts + lam)
    return float(mu), item_bias


def content_similarity(
    matrix: sp.spmatrix, row_norms: np.ndarray, targets: np.ndarray, rated: np.ndarray
) -> sp.csr_matrix:
    """Cosine between every target row and every rated row: a sparse (targets x rated) CSR
    (a page of cards times a user's ratings; zero where nothing is shared)."""
    targets = np.asarray(targets, dtype=np.int64)
    rated = np.asarray(rated, dtype=np.int64)
    if targets.size == 0 or rated.size == 0:
        return sp.csr_matrix((targets.size, rated.size))
    dots = sp.csr_matrix(matrix[targets] @ matrix[rated].T, dtype=np.float64)
    norms = np.asarray(row_norms, dtype=np.float64)
    inv_t = np.divide(1.0, norms[targets], out=np.zeros(targets.size), where=norms[targets] > 0)
    inv_r = np.divide(1.0, norms[rated], out=np.zeros(rated.size), where=norms[rated] > 0)
    sims = sp.diags(inv_t) @ dots @ sp.diags(inv_r)
    sims = sp.csr_matrix(sims)
    np.clip(sims.data, 0.0, 1.0, out=sims.data)
    sims.eliminate_zeros()
    return sims


def user_bias(
    scores: np.ndarray, rated_base: np.ndarray, *, params: PredictParams | None = None
) -> float:
    """``b_u``: the user's damped mean offset from their movies' baselines."""
    params = params or PredictParams()
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        return 0.0
    return float((scores - rated_base).sum() / (scores.size + params.user_damping))


def predict(
    *,
    mu: float,
    item_bias: np.ndarray,
    rated_rows: Sequence[int],
    rated_scores: Sequence[float],
    target_rows: Sequence[int],
    similarity: np.ndarray | None = None,
    params: PredictParams | None = None,
) -> np.ndarray:
    """Predicted stars (unrounded, 0.5..5) for ``target_rows``.

    ``similarity`` is (targets x rated), sparse or dense, e.g. :func:`content_similarity`;
    None = baseline only.
    """
    params = params or PredictParams()
    rated_rows = np.asarray(rated_rows, dtype=np.int64)
    scores = np.asarray(rated_scores, dtype=np.float64)
    targets = np.asarray(target_rows, dtype=np.int64)
    if rated_rows.shape != scores.shape:
        raise ValueError("rated_rows and rated_scores must have the same length.")
    item_bias = np.asarray(item_bias)
    rated_base = mu + item_bias[rated_rows].astype(np.float64)
    b_u = user_bias(scores, rated_base, params=params)
    pred = mu + b_u + item_bias[targets].astype(np.float64)
    if similarity is not None and rated_rows.size and targets.size:
        if similarity.shape != (targets.size, rated_rows.size):
            raise ValueError("similarity must be (targets x rated).")
        if sp.issparse(similarity):
            weights = sp.csr_matrix(similarity, dtype=np.float64).power(params.similarity_power)
        else:
            weights = np.asarray(similarity, dtype=np.float64) ** params.similarity_power
        residual = scores - rated_base - b_u
        pull = np.asarray(weights @ residual, dtype=np.float64).ravel()
        mass = np.asarray(weights.sum(axis=1), dtype=np.float64).ravel()
        pred = pred + params.neighbour_weight * pull / (mass + params.neighbour_damping)
    return np.clip(pred, MIN_STARS, MAX_STARS)


def half_stars(value: float) -> float:
    """Rounded to our half-star scale (0.5..5.0), halves rounded up (3.75 -> 4.0)."""
    return float(min(MAX_STARS, max(MIN_STARS, np.floor(value * 2 + 0.5) / 2)))


def errors(predicted: np.ndarray, actual: np.ndarray) -> tuple[float, float]:
    """``(RMSE, MAE)``."""
    diff = np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
    if diff.size == 0:
        return 0.0, 0.0
    return float(np.sqrt((diff**2).mean())), float(np.abs(diff).mean())
