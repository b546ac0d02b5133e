"""Template tags the movie pages use to show recommendations."""

import logging

from django import template
from django.conf import settings

from recommendations.pipeline import similar_movies

register = template.Library()
logger = logging.getLogger(__name__)


@register.inclusion_tag("recommendations/_more_like_this.html")
def more_like_this(movie, user=None, n: int = 12):
    """ "More like this": the ``n`` movies closest to ``movie`` by TF-IDF cosine.

    A failure here must never break the movie page, so it is logged and the section is left
    empty.
    """
    try:
        similar = similar_movies(movie=movie, n=n, user=user)
    except Exception:
        logger.exception("More like this failed for movie %s", movie.pk)
        similar = []
    return {"movie": movie, "similar": similar, "user": user}


@register.inclusion_tag("recommendations/_rating_goal.html")
def rating_goal(rated_count: int):
    """How many more ratings personal recommendations need (the home page's prompt)."""
    return {"needed_more": max(0, settings.RECS_MIN_RATINGS - rated_count)}
