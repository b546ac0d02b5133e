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

from django.db import connection

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
    """``user``'s ratings, watchlist and hidden movies in one query (empty for a visitor).

    Plain SQL: the ORM's union of three annotated querysets cost more to compile than the
    database took to answer, on every page."""
    if not getattr(user, "is_authenticated", False):
        return EMPTY
    quote = connection.ops.quote_name
    ratings_table = quote(Rating._meta.db_table)
    watchlist_table = quote(WatchlistEntry._meta.db_table)
    hidden_table = quote(HiddenMovie._meta.db_table)
    sql = (
        f"SELECT {RATING}, movie_id, score, updated_at, id FROM {ratings_table} WHERE user_id = %s"
        f" UNION ALL SELECT {WATCHLIST}, movie_id, NULL, created_at, id FROM {watchlist_table}"
        " WHERE user_id = %s"
        f" UNION ALL SELECT {HIDDEN}, movie_id, NULL, created_at, id FROM {hidden_table}"
        " WHERE user_id = %s"
        # The orders the separate reads had: ratings by -updated_at, marks by -created_at, -id.
        " ORDER BY 1, 4 DESC, 5 DESC"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk] * 3)
        rows = cursor.fetchall()
    ratings, watchlist, hidden = [], [], set()
    for which, movie_id, value, _at, _id in rows:
        if which == RATING:
            # Decimal on PostgreSQL, a number on SQLite: the same Decimal either way.
            ratings.append((movie_id, Decimal(str(value))))
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
