"""Template helpers of the movie pages: posters and the half-star widget."""

import html
import zlib
from decimal import Decimal
from functools import lru_cache

from django import template
from django.urls import get_script_prefix, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from movies.forms import score_label
from movies.models import SCORE_CHOICES

register = template.Library()


def escape_text(text) -> str:
    """``django.utils.html.escape(text)`` as a plain ``str`` (Django's is exactly
    ``SafeString(html.escape(str(text)))``), without its lazy-argument check and SafeString:
    for the values put into the cards' format strings, which are marked safe once, whole. A
    grid escaped ~500 values a page through the wrapper."""
    return html.escape(str(text))


# Cards link to several URLs each (the movie, rate, unrate, the watchlist toggle, hide): a
# grid of 25 made ~130 reverse() calls, a few ms. These URLs differ only by the movie id, so
# each name is reversed once (per script prefix) and the id put in its place.
_PK_MARKER = 918273645


@lru_cache(maxsize=64)
def _pk_url_parts(name: str, prefix: str) -> tuple[str, str]:
    head, _, tail = reverse(name, args=[_PK_MARKER]).partition(str(_PK_MARKER))
    return head, tail


def pk_url(name: str, pk) -> str:
    """``reverse(name, args=[pk])`` for a URL whose one argument is a movie id."""
    head, tail = _pk_url_parts(name, get_script_prefix())
    return f"{head}{int(pk)}{tail}"


@lru_cache(maxsize=64)
def _plain_url(name: str, prefix: str) -> str:
    return reverse(name)


def plain_url(name: str) -> str:
    """``reverse(name)`` of a URL without arguments, once per script prefix."""
    return _plain_url(name, get_script_prefix())


@register.simple_tag
def site_url(name: str, pk=None) -> str:
    """``{% url name %}`` / ``{% url name pk %}`` for this site's URLs without an argument or
    with a movie id, reversed once per name (``plain_url``, ``pk_url``): the header alone has a
    dozen links on every page, ~25 µs of ``reverse()`` each."""
    return plain_url(name) if pk is None else pk_url(name, pk)


HUE_STEPS = 36  # site.css has one .hue-N class per step (N = 0, 10, ... 350)


def title_hue(title: str) -> int:
    """A stable colour (HSL hue) per title, so placeholders differ but never flicker.

    In steps of 10 degrees: the page sets it with a class (``hue-N``), not a style="" attribute,
    which the Content-Security-Policy would ignore."""
    return zlib.crc32((title or "").encode("utf-8")) % HUE_STEPS * (360 // HUE_STEPS)


@register.inclusion_tag("movies/_poster.html")
def poster(movie, size: str = "card"):
    """A poster that is never a broken image.

    The generated placeholder (title on a colour derived from it) is always drawn; the TMDB
    image, when known, sits on top and is removed if it fails to load (offline machine,
    missing file; static/js/site.js), uncovering the placeholder.
    """
    return {
        "movie": movie,
        "url": movie.poster_url,
        "hue": title_hue(movie.title),
        "size": size,
        "monogram": monogram(movie.title),
    }


# The card-size poster (``_poster.html`` with size "card") as one string: grids draw one per
# card, and the inclusion tag's template render cost more than the rest of the card shell.
_CARD_POSTER = (
    "\n\n"
    '<div class="poster poster-card hue-{hue}">\n'
    '  <div class="poster-placeholder" aria-hidden="true">\n'
    '    <span class="poster-monogram">{monogram}</span>\n'
    "  </div>\n"
    "  {img}\n"
    "</div>\n"
)


def card_poster(movie) -> str:
    """``{% poster movie %}`` (size "card"), the same markup built without the template."""
    url = movie.poster_url
    img = format_html('<img src="{}" alt="" loading="lazy" decoding="async">', url) if url else ""
    return mark_safe(  # escaped above
        _CARD_POSTER.format(
            hue=title_hue(movie.title), monogram=escape_text(monogram(movie.title)), img=img
        )
    )


def monogram(title: str) -> str:
    """The first letter or digit of a title, skipping a leading article ("The Matrix" → "M")."""
    words = (title or "").split()
    if len(words) > 1 and words[0].lower() in {"the", "a", "an"}:
        words = words[1:]
    for char in " ".join(words):
        if char.isalnum():
            return char.upper()
    return "▶"


# The ten radios of the star widget as one format string per score: every card on a page
# carries a widget, and building them here instead of in a template loop cut the
# recommendations page's render time (bench/profile_pages.py, docs/benchmarks.md).
def _star_label(score: Decimal) -> str:
    """One radio's markup, with ``{pk}`` and ``{checked}`` left to fill per card."""
    n, half, label = int(score * 2), "left" if score % 1 else "right", score_label(score)
    return (
        f'<label for="star-{{pk}}-{n}" class="half {half}" title="{label}"><input type="radio" '
        f'name="score" value="{score.quantize(Decimal("0.1"))}" id="star-{{pk}}-{n}"{{checked}} '
        f'required><span class="visually-hidden">{label}</span></label>'
    )


_STAR_LABELS = [(score, _star_label(score)) for score in reversed(SCORE_CHOICES)]


@register.simple_tag
def star_row(movie_pk, score=None):
    """The widget's ten half-star radios (highest first), ``score``'s one checked; the same
    markup a template loop would make, built without the template engine (highest first:
    the reversed-radio CSS technique needs it)."""
    pk = int(movie_pk)
    current = Decimal(str(score)) if score not in (None, "") else None
    return mark_safe(  # only ints and our own constant labels go in
        "".join(
            label.format(pk=pk, checked=" checked" if value == current else "")
            for value, label in _STAR_LABELS
        )
    )


@register.filter
def stars(score) -> str:
    """Format a score as "3.5" (or "" when there is none)."""
    if score is None or score == "":
        return ""
    return f"{Decimal(str(score)).quantize(Decimal('0.1'))}"


# The compact rating widget of every card (``_rating_widget.html`` with ``compact``), built as
# one string: a grid of 24 cards spent 9 ms rendering it node by node. Same markup as the
# template's full widget, which the movie page still renders from the template.
_COMPACT_WIDGET = """<div class="rating-widget compact" id="rating-widget-{pk}"{rated}>
  <form method="post" action="{rate_url}" class="rating-form" data-testid="card-rating-form"
        hx-post="{rate_url}" hx-trigger="rating-commit, submit" hx-target="closest .rating-widget" hx-swap="outerHTML">
    {csrf}
    <input type="hidden" name="next" value="{next}">
    <input type="hidden" name="widget" value="compact">
    <fieldset class="stars">
      <legend class="visually-hidden">Rate {title} (arrow keys choose, Enter saves)</legend>
      <span class="star-row">
      {stars}
      </span>
    </fieldset>
    <button type="submit" class="button small save-rating">Save</button>
  </form>
  <div class="rating-status-row">
  <p class="your-rating-line">
    {yours}
    <span class="widget-status" role="status">{status}</span>
  </p>
  {unrate}
  </div>
  {errors}
</div>"""  # noqa: E501 (markup kept on the template's lines)
_COMPACT_UNRATE = """<form method="post" action="{unrate_url}" class="unrate-form"
        hx-post="{unrate_url}" hx-target="closest .rating-widget" hx-swap="outerHTML">
    {csrf}
    <input type="hidden" name="next" value="{next}">
    <input type="hidden" name="widget" value="compact">
    <button type="submit" class="linkish danger">Remove<span class="visually-hidden"> your rating of {title}</span></button>
  </form>"""  # noqa: E501 (markup kept on the template's lines)


def csrf_input(context) -> str:
    """What ``{% csrf_token %}`` renders, for the card widgets built in Python. Made once per
    render: every form of a page carries the same token (the context's ``csrf_token`` is
    evaluated once), and a grid has two or three forms per card."""
    memo = getattr(context, "render_context", None)
    if memo is not None and _CSRF_INPUT in memo:
        return memo[_CSRF_INPUT]
    token = context.get("csrf_token")
    if not token or str(token) == "NOTPROVIDED":
        html = ""
    else:
        html = format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', token)
    if memo is not None:
        memo[_CSRF_INPUT] = html
    return html


_CSRF_INPUT = "movie_tags.csrf_input"


@register.simple_tag(takes_context=True)
def compact_rating_widget(context, movie, score=None, next_url="", status_text="", form=None):
    """The card's compact rating widget for a signed-in member (nothing for a visitor):
    ``score`` checked, saved and refused POSTs go back to ``next_url``. Cards call it directly;
    ``_rating_widget.html`` with ``compact`` (the htmx swap) renders it too."""
    user = context.get("user")
    if not getattr(user, "is_authenticated", False):
        return ""
    pk = int(movie.pk)
    csrf = csrf_input(context)
    title = escape_text(movie.title)
    request = context.get("request")
    back = escape_text(next_url or (request.get_full_path() if request is not None else ""))
    if score is not None and score != "":
        yours = format_html(
            '<span class="visually-hidden">Your rating: </span>'
            '<strong data-testid="card-your-rating">★ {}</strong>',
            stars(score),
        )
        unrate = _COMPACT_UNRATE.format(
            unrate_url=escape_text(pk_url("movies:unrate", pk)),
            csrf=csrf,
            next=back,
            title=title,
        )
    else:
        yours = (
            '<span class="visually-hidden" data-testid="card-your-rating" data-empty="true">'
            "Not rated</span>"
        )
        unrate = ""
    errors = ""
    if form and getattr(form, "errors", None):
        items = "".join(format_html("<li>{}</li>", e) for e in form["score"].errors)
        errors = f'<ul class="errorlist" role="alert">{items}</ul>'
    return mark_safe(  # every value above is escaped or our own markup
        _COMPACT_WIDGET.format(
            pk=pk,
            rated=" data-rated" if score is not None and score != "" else "",
            rate_url=escape_text(pk_url("movies:rate", pk)),
            csrf=csrf,
            next=back,
            title=title,
            stars=star_row(pk, score),
            yours=yours,
            status=escape_text(status_text or ""),
            unrate=unrate,
            errors=errors,
        )
    )
