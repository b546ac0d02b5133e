"""The catalog stamp: a short value in the shared cache that changes whenever the catalog does.

Caches of what the catalog shows (the movie page's facts, the cards' rows, the
recommendations page body) put the stamp in their keys, so an edit shows on the next request
in every process instead of when the entry times out. It changes on every save or delete of a
movie, genre, keyword, person or credit, on changes of a movie's genres or keywords, and on
``catalog_changed`` (a sync or an import, whose bulk writes send no per-row signals); the
receivers are connected in ``MoviesConfig.ready()``. Inside a transaction it changes at once
and again on commit, so nothing read before the commit can be kept under the new stamp.
A lost stamp (cache flush) is replaced by a new one: every such entry is missed once.

Within one web request the stamp is read once (a page asks for it in several places: its
facts, its cards, its listing); the memo lives from ``request_started`` to
``request_finished`` of this thread, and a change made during the request replaces it.
Outside requests (Celery tasks, commands) every call reads the cache.
"""

from __future__ import annotations

import threading
import uuid

from django.core.cache import cache
from django.db import transaction

STAMP_KEY = "movies:catalog-stamp"


def _new_stamp() -> str:
    return uuid.uuid4().hex[:12]


_request = threading.local()  # .active: inside a request; .stamp: the stamp it read


def begin_request(**kwargs) -> None:
    """``request_started``: this thread's request reads the stamp afresh, once."""
    _request.active, _request.stamp = True, None


def end_request(**kwargs) -> None:
    """``request_finished``: no memo outside a request."""
    _request.active, _request.stamp = False, None


def catalog_stamp() -> str:
    """The current stamp (one cache read; once per request in a web request)."""
    active = getattr(_request, "active", False)
    if active and _request.stamp is not None:
        return _request.stamp
    stamp = cache.get(STAMP_KEY)
    if stamp is None:
        stamp = _new_stamp()
        if not cache.add(STAMP_KEY, stamp, None):  # another process set one first
            stamp = cache.get(STAMP_KEY) or stamp
    if active:
        _request.stamp = stamp
    return stamp


def _bump() -> None:
    stamp = _new_stamp()
    cache.set(STAMP_KEY, stamp, None)
    if getattr(_request, "active", False):
        _request.stamp = stamp


def touch_catalog(*args, **kwargs) -> None:
    """A new stamp (a signal receiver: the catalog changed); in a transaction, again on commit."""
    _bump()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(_bump)
