"""The watchlist / "not interested" state of a movie for the signed-in viewer.

Cards are rendered by many pages (home, browse, recommendations, "More like this"), from
querysets the marks know nothing about. Rather than annotating each of them, the first card
of a request reads the viewer's state once (``movies.member.member_state``: ratings and both
kinds of marks in one query, shared with the rest of the page) and the rest read it from the
request. A view that already knows the state sets ``movie.on_watchlist`` / ``movie.is_hidden``
and no query runs at all.
"""

from dataclasses import dataclass

from django import template
from django.utils.safestring import mark_safe

from movies.member import member_state
from movies.templatetags.movie_tags import csrf_input, escape_text, pk_url

register = template.Library()


@dataclass(frozen=True)
class MarkState:
    watchlisted: bool
    hidden: bool


def _marked_ids(request, kind: str) -> frozenset[int]:
    state = member_state(request)
    return state.watchlist_ids if kind == "watchlist" else state.hidden


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


_WATCHLIST_BUTTONS = """<div class="mark-buttons" data-testid="mark-buttons" data-movie="{pk}">
  {form}
  <span class="visually-hidden" role="status" aria-live="polite"></span>
</div>"""
_WATCHLIST_FORM = """<form method="post" action="{url}" class="inline"
        hx-post="{url}" hx-target="closest .mark-buttons" hx-swap="outerHTML">
    {csrf}<input type="hidden" name="next" value="{next}"><input type="hidden" name="buttons" value="watchlist">
    <button type="submit" class="{css}" data-testid="watchlist-toggle" title="{tip}">{label}<span class="visually-hidden">{hint}{title}</span></button>
  </form>"""  # noqa: E501 (markup kept on the template's lines)


@register.simple_tag(takes_context=True)
def card_watchlist_button(context, movie, next_url=""):
    """A card's watchlist toggle: the markup of ``_mark_buttons.html`` with
    ``mark_buttons="watchlist"``, built as one string because grids render it for every card
    (a visitor gets it too; the view sends them to log in). The htmx swap after a click
    renders the template itself."""
    request = context.get("request")
    state = mark_state(context, movie, "watchlist")
    csrf = csrf_input(context)
    on = state.watchlisted
    form = _WATCHLIST_FORM.format(
        url=escape_text(
            pk_url("movies:watchlist_remove" if on else "movies:watchlist_add", movie.pk)
        ),
        csrf=csrf,
        next=escape_text(next_url or (request.get_full_path() if request is not None else "")),
        css="mark-button on" if on else "mark-button",
        tip="Remove from your watchlist" if on else "Save it for later",
        label="On your watchlist ✓" if on else "+ Add to watchlist",
        hint=": remove " if on else ": ",
        title=escape_text(movie.title),
    )
    return mark_safe(_WATCHLIST_BUTTONS.format(pk=int(movie.pk), form=form))  # all escaped
