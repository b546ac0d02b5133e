"""A person's marks on movies that are not ratings: the watchlist and "not interested".

Every call is idempotent (asking for the state a mark is already in changes nothing and says
so) and atomic (a mark and the opposite mark it replaces change together or not at all).
The two marks exclude each other: wanting to watch a movie and not being interested in it
cannot both hold, so setting one clears the other.

Adds use ``get_or_create`` inside a transaction: two concurrent adds of the same mark both
succeed, the loser of the INSERT race finds the winner's row (``get_or_create`` retries the
read after an ``IntegrityError`` in its own savepoint), and only the winner reports a change.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from movies.models import HiddenMovie, Movie, WatchlistEntry


@dataclass(frozen=True)
class MarkChange:
    """What a call did. ``changed``: the asked-for mark was added (or removed); False when it
    was already so. ``left_watchlist`` / ``unhidden``: the opposite mark was cleared with it."""

    changed: bool
    left_watchlist: bool = False
    unhidden: bool = False


def add_to_watchlist(*, user, movie: Movie) -> MarkChange:
    """Put ``movie`` on ``user``'s watchlist (and take it out of "not interested")."""
    with transaction.atomic():
        _, created = WatchlistEntry.objects.get_or_create(user=user, movie=movie)
        unhidden, _ = HiddenMovie.objects.filter(user=user, movie=movie).delete()
    return MarkChange(changed=created, unhidden=bool(unhidden))


def remove_from_watchlist(*, user, movie: Movie) -> MarkChange:
    deleted, _ = WatchlistEntry.objects.filter(user=user, movie=movie).delete()
    return MarkChange(changed=bool(deleted))


def hide_movie(*, user, movie: Movie) -> MarkChange:
    """Mark ``movie`` "not interested" for ``user`` (and take it off the watchlist)."""
    with transaction.atomic():
        _, created = HiddenMovie.objects.get_or_create(user=user, movie=movie)
        left, _ = WatchlistEntry.objects.filter(user=user, movie=movie).delete()
    return MarkChange(changed=created, left_watchlist=bool(left))


def unhide_movie(*, user, movie: Movie) -> MarkChange:
    deleted, _ = HiddenMovie.objects.filter(user=user, movie=movie).delete()
    return MarkChange(changed=bool(deleted))
