"""Template tags the movie pages use to show recommendations and predicted stars.

Movie templates use them by name (``{% load recs %}``); the catalog app never imports the
recommender.
"""

import logging

from django import template
from django.conf import settings
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from movies.member import member_state
from movies.templatetags.marks import card_watchlist_button
from movies.templatetags.movie_tags import (
    card_poster,
    compact_rating_widget,
    csrf_input,
    escape_text,
    pk_url,
    plain_url,
)
from recommendations.loading import get_active_model
from recommendations.pipeline import ratings_from_state, similar_movies
from recommendations.predict import half_stars
from recommendations.predictions import predict_for, predict_ratings

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
        if request is not None and getattr(user, "is_authenticated", False):
            # The member's ratings as the rest of the page read them (one read per request).
            raw = predict_for(
                model=get_active_model(),
                ratings=ratings_from_state(member_state(request)),
                movie_ids=_movie_ids(movies),
            )
        else:
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


@register.simple_tag(takes_context=True)
def movie_page_recs(context, movie, user=None, n: int = 12):
    """``{% movie_page_recs movie user as recs %}``, once per movie page: ``recs.similar``
    ("More like this", see :func:`more_like_this`) and ``recs.predictions``, the viewer's
    predicted stars (unrounded) for the page's movie and those ``n`` in one prediction call
    (the page made two). A failure of either part never breaks the page: it is logged and that
    part left empty."""
    request = context.get("request")
    signed_in = request is not None and getattr(user, "is_authenticated", False)
    state = member_state(request) if signed_in else None
    try:
        if state is not None:
            # Rated and hidden movies are left out, and the stars predicted, from the state
            # the page read once (movies.member).
            similar = similar_movies(movie=movie, n=n, seen=state.scores.keys() | state.hidden)
        else:
            similar = similar_movies(movie=movie, n=n, user=user)
    except Exception:
        logger.exception("More like this failed for movie %s", movie.pk)
        similar = []
    ids = [movie.pk, *(s.movie.pk for s in similar)]
    try:
        if state is not None:
            predictions = predict_for(
                model=get_active_model(), ratings=ratings_from_state(state), movie_ids=ids
            )
        else:
            predictions = predict_ratings(user=user, movie_ids=ids)
    except Exception:
        logger.exception("Predicting ratings failed")
        predictions = {}
    return {"similar": similar, "predictions": predictions}


@register.inclusion_tag("recommendations/_more_like_this.html", takes_context=True)
def more_like_this(context, movie, user=None, n: int = 12, recs=None):
    """ "More like this": the ``n`` movies closest to ``movie`` by TF-IDF cosine, without the
    ones the viewer rated or hid, with their predicted stars; ``recs``: what
    :func:`movie_page_recs` found already on this page.

    A failure here must never break the movie page, so it is logged and the section is left
    empty.
    """
    if recs is None:
        recs = movie_page_recs(context, movie, user, n)
    return {
        "movie": movie,
        "similar": recs["similar"],
        "user": user,
        "predictions": recs["predictions"],
    }


@register.inclusion_tag("recommendations/_rating_goal.html")
def rating_goal(rated_count: int):
    """How many more ratings personal recommendations need (the home page's prompt)."""
    return {"needed_more": max(0, settings.RECS_MIN_RATINGS - rated_count)}


# --- Cards built in Python ------------------------------------------------------------------
# Grids render a card per movie (12 to 25 a page); through the template engine each cost
# ~0.9 ms (includes, {% url %}, filters, node by node). These tags make the same markup as
# the card templates they replaced, as format strings (tests compare them with the templates'
# output, byte for byte). Every value is escaped here or is our own markup.

_PREDICTED_COMPACT = (
    '<span class="predicted-score" data-testid="predicted-rating" title="We think you\'d rate'
    ' this {v} stars"><span aria-hidden="true">★ </span>{v}<span class="visually-hidden">'
    " stars: we think you'd rate it this</span></span>"
)


def _predicted_compact(predictions, movie) -> str:
    """``_predicted_stars.html`` with ``compact``: the half-star prediction, or nothing (and
    the newline that ends the template file, which its include always printed)."""
    value = prediction_for(predictions, movie)
    return (_PREDICTED_COMPACT.format(v=f"{value:.1f}") if value else "") + "\n"


def _card_meta(movie, *, lead_dot: bool) -> str:
    """Year and the first two genres (``card_genres``, else prefetched by ``for_cards``).
    ``lead_dot``: the grid card's " · " before every genre; the linked cards put one only
    between parts."""
    names = getattr(movie, "card_genres", None)  # Movie.objects.with_card_genres()
    if names is None:
        names = [g.name for g in movie.genres.all()]
    genres = [escape_text(name) for name in names[:2]]
    parts = [str(movie.year)] if movie.year else []
    if lead_dot:
        return "".join(parts) + "".join(f" · {name}" for name in genres)
    return " · ".join(parts + genres)


_GRID_CARD = """
<li class="card">
  {poster}
  <div class="card-body">
    <a class="card-title" href="{url}">{title}</a>
    <span class="card-meta">{meta}</span>
  </div>
  
  {widget}
  {watchlist}
  {predicted}
</li>
"""  # noqa: W293 (the blank line with two spaces is where the template had a comment)


@register.simple_tag(takes_context=True)
def movie_card(context, movie, predictions=None):
    """A grid card (home, browse): poster, title, year and genres, the compact rating widget
    (``movie.my_score`` checked), the watchlist toggle and, unrated, the predicted stars."""
    request = context.get("request")
    back = request.get_full_path() if request is not None else ""
    score = getattr(movie, "my_score", "")
    return mark_safe(
        _GRID_CARD.format(
            poster=card_poster(movie),
            url=escape_text(pk_url("movies:detail", movie.pk)),
            title=escape_text(movie.title),
            meta=_card_meta(movie, lead_dot=True),
            widget=compact_rating_widget(context, movie, score, back),
            watchlist=card_watchlist_button(context, movie, back),
            predicted=_predicted_compact(predictions, movie) if score is None else "",
        )
    )


_REC_CARD = """

<li class="card rec-card" data-testid="recommendation" id="rec-{pk}" data-movie="{pk}">
  <a class="card-link" href="{url}">
    {poster}
    <span class="card-body">
      <span class="card-title">{title}</span>
      <span class="card-meta">{meta}</span>
      {because}
    </span>
  </a>
  {predicted}
  {widget}
  
  
  <input type="hidden" name="shown" value="{pk}" data-rec-shown>
  <div class="card-actions">
    {watchlist}
    <form method="post" action="{hide_url}" class="inline rec-hide"
          hx-post="{hide_url}" hx-target="closest .rec-card" hx-swap="outerHTML" hx-include="[data-rec-shown]">
      {csrf}
      <button type="submit" class="mark-button subtle" data-testid="not-interested" title="Never recommend it to me"{autofocus}>✕ Not interested<span class="visually-hidden">: {title}</span></button>
    </form>
  </div>
</li>
"""  # noqa: E501, W293 (markup kept on the template's lines)


@register.simple_tag(takes_context=True)
def rec_card(context, item, predictions=None, autofocus=False):
    """One recommendation card (the "For you" list, and the card "Not interested" and Undo
    bring in): the link with poster, title, year, genres and the reason, the predicted stars,
    the compact rating widget, the watchlist toggle and "Not interested"."""
    movie = item.movie
    for_you = plain_url("recommendations:for_you")
    explanation = item.explanation
    return mark_safe(
        _REC_CARD.format(
            pk=int(movie.pk),
            url=escape_text(pk_url("movies:detail", movie.pk)),
            poster=card_poster(movie),
            title=escape_text(movie.title),
            meta=_card_meta(movie, lead_dot=False),
            because=(
                format_html(
                    '<span class="card-meta because" data-testid="because">{}</span>', explanation
                )
                if explanation
                else ""
            ),
            predicted=_predicted_compact(predictions, movie),
            widget=compact_rating_widget(context, movie, None, for_you),
            watchlist=card_watchlist_button(context, movie, for_you),
            hide_url=escape_text(pk_url("recommendations:hide", movie.pk)),
            csrf=csrf_input(context),
            autofocus=" data-autofocus" if autofocus else "",
        )
    )


_SIMILAR_CARD = """
    <li class="card">
      <a class="card-link" href="{url}">
        {poster}
        <span class="card-body">
          <span class="card-title">{title}</span>
          <span class="card-meta">{meta}</span>
        </span>
      </a>
      {predicted}
    </li>
    """


@register.simple_tag
def similar_card(movie, predictions=None):
    """A "More like this" card: the link with poster, title, year and genres, and the
    predicted stars."""
    return mark_safe(
        _SIMILAR_CARD.format(
            url=escape_text(pk_url("movies:detail", movie.pk)),
            poster=card_poster(movie),
            title=escape_text(movie.title),
            meta=_card_meta(movie, lead_dot=False),
            predicted=_predicted_compact(predictions, movie),
        )
    )
