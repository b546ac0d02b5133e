"""The signed-in member's own state (ratings, watchlist, hidden movies), read once per request.

A movie page shows it in five places (the rating widget, the mark buttons, the predicted
stars, "More like this" without the movies they rated or hid, and its predicted stars), and
each used to read it again. :func:`member_state` reads it in one query (a ``UNION ALL`` of the
three tables) the first time a request asks, and keeps it on the request; views and template
tags that come later share it. A request that writes (rating, marks) changes the state before
anything on the page reads it, and every request starts afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from django.db import models
from django.db.models import F, Value

from .models import HiddenMovie, Rating, WatchlistEntry

_ATTR = "_member_state"
RATING, WATCHLIST, HIDDEN = 0, 1, 2


@dataclass(frozen=True)
class MemberState:
    """``ratings``: ``(movie id, score)``, most recently changed first (``Rating``'s order);
    ``watchlist`` in the watchlist's order (newest first); ``hidden`` as a set."""

    ratings: tuple[tuple[int, Decimal], ...]
    watchlist: tuple[int, ...]
    hidden: frozenset[int]

    @cached_property
    def scores(self) -> dict[int, Decimal]:
        return dict(self.ratings)

    @cached_property
    def watchlist_ids(self) -> frozenset[int]:
        return frozenset(self.watchlist)


EMPTY = MemberState(ratings=(), watchlist=(), hidden=frozenset())


def read_member_state(user) -> MemberState:
    """``user``'s ratings, watchlist and hidden movies in one query (empty for a visitor)."""
    if not getattr(user, "is_authenticated", False):
        return EMPTY
    score = models.DecimalField(max_digits=2, decimal_places=1)
    kind = models.IntegerField()

    def rows(queryset, which: int, when: str, has_score: bool):
        return (
            queryset.filter(user=user)
            .order_by()
            .annotate(
                kind=Value(which, output_field=kind),
                value=F("score") if has_score else Value(None, output_field=score),
                at=F(when),
                row_id=F("id"),
            )
            .values_list("kind", "movie_id", "value", "at", "row_id")
        )

    union = rows(Rating.objects, RATING, "updated_at", True).union(
        rows(WatchlistEntry.objects, WATCHLIST, "created_at", False),
        rows(HiddenMovie.objects, HIDDEN, "created_at", False),
        all=True,
    )
    # The orders the separate reads had: ratings by -updated_at, marks by -created_at, -id.
    ratings, watchlist, hidden = [], [], set()
    for which, movie_id, value, _at, _id in union.order_by("kind", "-at", "-row_id"):
        if which == RATING:
            ratings.append((movie_id, value))
        elif which == WATCHLIST:
            watchlist.append(movie_id)
        else:
            hidden.add(movie_id)
    return MemberState(ratings=tuple(ratings), watchlist=tuple(watchlist), hidden=frozenset(hidden))


def member_state(request) -> MemberState:
    """The request's member state, read on first use (see the module docstring)."""
    state = getattr(request, _ATTR, None)
    if state is None:
        state = read_member_state(getattr(request, "user", None))
        setattr(request, _ATTR, state)
    return state


def forget_member_state(request) -> None:
    """After a write in the same request, the next :func:`member_state` reads again."""
    request.__dict__.pop(_ATTR, None)
