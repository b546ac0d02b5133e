"""Template tags the movie pages use to show recommendations."""

import logging

from django import template

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
