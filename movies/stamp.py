"""The catalog stamp: a short value in the shared cache that changes whenever the catalog does.

Caches of what the catalog shows (the movie page's facts, the cards' rows, the
recommendations page body) put the stamp in their keys, so an edit shows on the next request
in every process instead of when the entry times out. It changes on every save or delete of a
movie, genre, keyword, person or credit, on changes of a movie's genres or keywords, and on
``catalog_changed`` (a sync or an import, whose bulk writes send no per-row signals); the
receivers are connected in ``MoviesConfig.ready()``. Inside a transaction it changes at once
and again on commit, so nothing read before the commit can be kept under the new stamp.
A lost stamp (cache flush) is replaced by a new one: every such entry is missed once.
"""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db import transaction

STAMP_KEY = "movies:catalog-stamp"


def _new_stamp() -> str:
    return uuid.uuid4().hex[:12]


def catalog_stamp() -> str:
    """The current stamp (one cache read)."""
    stamp = cache.get(STAMP_KEY)
    if stamp is None:
        stamp = _new_stamp()
        if not cache.add(STAMP_KEY, stamp, None):  # another process set one first
            stamp = cache.get(STAMP_KEY) or stamp
    return stamp


def _bump() -> None:
    cache.set(STAMP_KEY, _new_stamp(), None)


def touch_catalog(*args, **kwargs) -> None:
    """A new stamp (a signal receiver: the catalog changed); in a transaction, again on commit."""
    _bump()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(_bump)
