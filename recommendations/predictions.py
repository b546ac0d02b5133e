"""Predicted stars for a page of movies: "we think you'd rate this ★ 4.0".

The math is :mod:`recommendations.predict` (pure, measured by ``manage.py evaluate``); here the
user's ratings and the served model version's baseline (``rating_mean``, ``item_bias``, stored
at build time) are put together. Only for a signed-in user with at least ``RECS_MIN_RATINGS``
ratings, only for movies they have not rated and the model knows; a model version built
before the predictor existed predicts nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings

from movies.models import Rating

from . import predict
from .loading import get_active_model
from .scoring import UserRatings

if TYPE_CHECKING:
    from .loading import LoadedModel


def can_predict(model: LoadedModel | None) -> bool:
    return model is not None and model.hybrid is not None and "item_bias" in model.hybrid


def predict_for(
    *, model: LoadedModel | None, ratings: UserRatings, movie_ids: Iterable[int]
) -> dict[int, float]:
    """Predicted stars (unrounded, 0.5..5) by movie id, from ratings already read; no query.

    Empty when the user has fewer than ``RECS_MIN_RATINGS`` ratings or the model cannot
    predict. Rated movies and movies newer than the model are left out.
    """
    if not can_predict(model) or ratings.total < settings.RECS_MIN_RATINGS:
        return {}
    rated = ratings.rated_ids
    wanted = np.array(sorted({int(m) for m in movie_ids} - rated), dtype=np.int64)
    if wanted.size == 0:
        return {}
    target_rows, found = model.rows_for(wanted)
    if target_rows.size == 0:
        return {}
    ids = np.fromiter((mid for mid, _ in ratings.ratings), dtype=np.int64)
    scores = np.fromiter((s for _, s in ratings.ratings), dtype=np.float64)
    rated_rows, rated_found = model.rows_for(ids)
    if rated_rows.size == 0:
        return {}
    arrays = model.hybrid
    values = predict.predict(
        mu=float(arrays["rating_mean"]),
        item_bias=arrays["item_bias"],
        rated_rows=rated_rows,
        rated_scores=scores[rated_found],
        target_rows=target_rows,
        similarity=predict.content_similarity(
            model.matrix, model.row_norms, target_rows, rated_rows
        ),
    )
    return {int(mid): float(v) for mid, v in zip(wanted[found], values, strict=True)}


def predict_ratings(*, user, movie_ids: Iterable[int]) -> dict[int, float]:
    """Predicted stars by movie id for ``user`` (see :func:`predict_for`).

    A fixed number of queries for a whole page of cards: none for an anonymous visitor or an
    empty page, else the model-version check (at most every ``RECS_VERSION_CHECK_SECONDS``)
    and one read of the user's ratings.
    """
    ids = [int(m) for m in movie_ids]
    if not ids or not getattr(user, "is_authenticated", False):
        return {}
    model = get_active_model()
    if not can_predict(model):
        return {}
    rows = Rating.objects.filter(user=user).values_list("movie_id", "score")
    ratings = UserRatings(
        ratings=tuple((mid, float(s)) for mid, s in rows),
        like_threshold=settings.RECS_LIKE_THRESHOLD,
    )
    return predict_for(model=model, ratings=ratings, movie_ids=ids)
