"""The watchlist / "not interested" state of a movie for the signed-in viewer.

Cards are rendered by many pages (home, browse, recommendations, "More like this"), from
querysets the marks know nothing about. Rather than annotating each of them, the first card
of a request loads the viewer's marked movie ids once (one query per kind, per request,
however many cards follow) and the rest read the cached sets. A view that already knows the
state sets ``movie.on_watchlist`` / ``movie.is_hidden`` and no query runs at all.
"""

from dataclasses import dataclass

from django import template

from movies.models import HiddenMovie, WatchlistEntry

register = template.Library()

_KINDS = {"watchlist": WatchlistEntry, "hidden": HiddenMovie}
_CACHE_ATTR = "_movie_marks_cache"


@dataclass(frozen=True)
class MarkState:
    watchlisted: bool
    hidden: bool


def _marked_ids(request, kind: str) -> set[int]:
    cache = getattr(request, _CACHE_ATTR, None)
    if cache is None:
        cache = {}
        setattr(request, _CACHE_ATTR, cache)
    if kind not in cache:
        cache[kind] = _KINDS[kind].objects.movie_ids(request.user)
    return cache[kind]


@register.simple_tag(takes_context=True)
def mark_state(context, movie, which: str = "watchlist") -> MarkState:
    """``which`` is "watchlist", "hide" or "both": only the marks shown are looked up."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if not getattr(user, "is_authenticated", False):
        return MarkState(watchlisted=False, hidden=False)

    def state(kind: str, attr: str, wanted: bool) -> bool:
        if not wanted:
            return False
        known = getattr(movie, attr, None)
        if known is not None:
            return bool(known)
        return movie.pk in _marked_ids(request, kind)

    return MarkState(
        watchlisted=state("watchlist", "on_watchlist", which in ("watchlist", "both")),
        hidden=state("hidden", "is_hidden", which in ("hide", "both")),
    )
