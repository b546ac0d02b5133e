"""Template tags the movie pages use to show recommendations and predicted stars.

Movie templates use them by name (``{% load recs %}``); the catalog app never imports the
recommender.
"""

import logging

from django import template
from django.conf import settings

from recommendations.pipeline import similar_movies
from recommendations.predict import half_stars
from recommendations.predictions import predict_ratings

register = template.Library()
logger = logging.getLogger(__name__)


def _movie_ids(movies) -> list[int]:
    """Ids of a movie, a list or page of movies, or of recommendation items (``.movie``)."""
    if movies is None or movies == "":
        return []
    if hasattr(movies, "pk"):
        return [movies.pk]
    ids = []
    for obj in movies:
        movie = getattr(obj, "movie", obj)
        if getattr(movie, "pk", None) is not None:
            ids.append(movie.pk)
    return ids


@register.simple_tag(takes_context=True)
def predicted_ratings(context, movies):
    """``{% predicted_ratings movies as predictions %}``: once per page, the signed-in user's
    predicted stars (half stars) by movie id, for ``movies`` (a movie, a list or page of
    movies, or recommendation items). Empty for visitors and users with too few ratings; a
    failure never breaks the page. Show one with ``recommendations/_predicted_stars.html``."""
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    try:
        raw = predict_ratings(user=user, movie_ids=_movie_ids(movies))
    except Exception:
        logger.exception("Predicting ratings failed")
        raw = {}
    return {mid: half_stars(v) for mid, v in raw.items()}


@register.filter
def prediction_for(predictions, movie):
    """``predictions|prediction_for:movie``: the half-star prediction, or None."""
    if not predictions or movie is None:
        return None
    value = predictions.get(getattr(movie, "pk", movie))
    return half_stars(value) if value is not None else None


@register.inclusion_tag("recommendations/_more_like_this.html", takes_context=True)
def more_like_this(context, movie, user=None, n: int = 12):
    """ "More like this": the ``n`` movies closest to ``movie`` by TF-IDF cosine, without the
    ones the viewer rated or hid, with their predicted stars.

    A failure here must never break the movie page, so it is logged and the section is left
    empty.
    """
    try:
        similar = similar_movies(movie=movie, n=n, user=user)
        predictions = predict_ratings(user=user, movie_ids=[s.movie.pk for s in similar])
    except Exception:
        logger.exception("More like this failed for movie %s", movie.pk)
        similar, predictions = [], {}
    return {"movie": movie, "similar": similar, "user": user, "predictions": predictions}


@register.inclusion_tag("recommendations/_rating_goal.html")
def rating_goal(rated_count: int):
    """How many more ratings personal recommendations need (the home page's prompt)."""
    return {"needed_more": max(0, settings.RECS_MIN_RATINGS - rated_count)}
