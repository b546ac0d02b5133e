"""Template helpers of the movie pages: posters and the half-star widget."""

import zlib
from decimal import Decimal

from django import template

from movies.forms import score_label
from movies.models import SCORE_CHOICES

register = template.Library()


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


def monogram(title: str) -> str:
    """The first letter or digit of a title, skipping a leading article ("The Matrix" → "M")."""
    words = (title or "").split()
    if len(words) > 1 and words[0].lower() in {"the", "a", "an"}:
        words = words[1:]
    for char in " ".join(words):
        if char.isalnum():
            return char.upper()
    return "▶"


@register.simple_tag
def star_choices(movie_pk) -> list[dict]:
    """The ten half-star radios, highest first (the reversed-radio CSS technique needs it)."""
    return [
        {
            "value": stars(score),
            "score": score,
            "id": f"star-{movie_pk}-{int(score * 2)}",
            "label": score_label(score),
            "half": "left" if score % 1 else "right",
        }
        for score in reversed(SCORE_CHOICES)
    ]


@register.filter
def stars(score) -> str:
    """Format a score as "3.5" (or "" when there is none)."""
    if score is None or score == "":
        return ""
    return f"{Decimal(str(score)).quantize(Decimal('0.1'))}"
