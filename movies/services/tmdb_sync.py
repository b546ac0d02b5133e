"""Syncing the catalog from TMDB: the sync loop.

``sync_popular`` fetches N pages of popular movies and upserts each one (details with keywords
and credits) through ``upsert_movie``; ``sync_movies`` refreshes given ids (admin action,
``/movie/changes``). A movie that fails permanently is recorded and skipped; only a 401 stops a
run, because then every further call would fail the same way.

The ``SyncRun`` around a sync (chunks, progress, the end and its signal) is
``movies.services.sync_runs``; the JSON mapping is ``movies.services.tmdb_mapping``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from django.db import DatabaseError
from django.utils import timezone

from movies.errors import CatalogError
from movies.models import Movie
from movies.services.catalog import UpsertCounts, upsert_movie
from movies.services.tmdb_mapping import movie_data_from_tmdb
from movies.tmdb import TMDBAuthError, TMDBClient, TMDBError

# progress(done, total, message); total grows when TMDB reports how many results exist.
ProgressFn = Callable[[int, int, str], None]
MAX_RECORDED_FAILURES = 200


class SyncStopped(CatalogError):
    """The run cannot go on (bad credentials, or it was cancelled); partial results stay."""

    def __init__(self, message: str, summary: SyncSummary, *, cancelled: bool = False):
        super().__init__(message)
        self.summary = summary
        self.cancelled = cancelled  # stopped on request, not because of an error


@dataclass
class SyncSummary(UpsertCounts):
    pages: int = 0
    fetched: int = 0
    failed: int = 0
    failures: list[tuple[int | str, str]] = field(default_factory=list)

    def fail(self, what: int | str, error: str) -> None:
        self.failed += 1
        if len(self.failures) < MAX_RECORDED_FAILURES:
            self.failures.append((what, error))

    def merge(self, other: SyncSummary) -> None:
        for name in ("pages", "fetched", "created", "updated", "unchanged", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        room = MAX_RECORDED_FAILURES - len(self.failures)
        self.failures.extend(other.failures[: max(0, room)])

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SyncSummary:
        return cls(**{**data, "failures": [tuple(f) for f in data.get("failures", [])]})

    def __str__(self) -> str:
        return (
            f"{self.fetched} fetched, {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.failed} failed"
        )


# --- the sync itself -----------------------------------------------------------------------


def _sync_one(client: TMDBClient, tmdb_id: int, summary: SyncSummary) -> None:
    """Fetch and upsert one movie; anything but a 401 is recorded as this movie's failure."""
    try:
        details = client.movie_details(tmdb_id)
        summary.fetched += 1
        data = movie_data_from_tmdb(details)
        _, created, changed = upsert_movie(data=data)
    except TMDBAuthError:
        raise
    except TMDBError as exc:
        summary.fail(tmdb_id, str(exc))
        return
    except (ValueError, TypeError, KeyError, DatabaseError) as exc:
        # Bad data for this one movie (or a row the database refuses): skip it, keep going.
        summary.fail(tmdb_id, f"could not store movie {tmdb_id}: {exc}")
        return
    summary.count(created=created, changed=changed)


def sync_popular(
    *,
    pages: int,
    start_page: int = 1,
    client: TMDBClient | None = None,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    summary: SyncSummary | None = None,
) -> SyncSummary:
    """Fetch ``pages`` pages of popular movies from ``start_page`` and upsert every movie.

    Idempotent (``upsert_movie``), so a run killed half-way is simply run again. Raises
    ``SyncStopped`` on a 401 or when ``should_stop()`` turns true, with the partial summary.
    Counts go into ``summary`` as they happen, so a caller that passes one keeps them even if
    the run is interrupted by anything else (a task time limit).
    """
    if pages < 1 or start_page < 1:
        raise ValueError("pages and start_page must be at least 1")
    own_client = client is None
    client = client or TMDBClient()
    summary = summary if summary is not None else SyncSummary()
    seen: set[int] = set()  # popularity shifts during a sync: a movie can appear on two pages
    total, done = pages * 20, 0
    try:
        for page in range(start_page, start_page + pages):
            if should_stop and should_stop():
                raise SyncStopped("the sync was cancelled", summary, cancelled=True)
            try:
                listing = client.popular_movies(page=page)
            except TMDBAuthError as exc:
                raise SyncStopped(str(exc), summary) from exc
            except TMDBError as exc:
                summary.fail(f"page {page}", str(exc))
                done += 20
                if progress:
                    progress(done, total, f"page {page} failed")
                continue
            summary.pages += 1
            if page == start_page:
                # Fewer pages than asked for when TMDB has fewer (max 500).
                last = min(start_page + pages - 1, int(listing.get("total_pages") or page))
                total = max(0, last - start_page + 1) * 20
            ids = [r["id"] for r in listing.get("results") or [] if isinstance(r.get("id"), int)]
            total += len(ids) - 20  # a short last page
            for tmdb_id in ids:
                if tmdb_id in seen:
                    done += 1
                    continue
                seen.add(tmdb_id)
                try:
                    _sync_one(client, tmdb_id, summary)
                except TMDBAuthError as exc:
                    raise SyncStopped(str(exc), summary) from exc
                done += 1
                if progress:
                    progress(done, total, f"page {page}")
            if page >= int(listing.get("total_pages") or page):
                break
    finally:
        if own_client:
            client.close()
    return summary


def sync_movies(
    *,
    tmdb_ids: Iterable[int],
    client: TMDBClient | None = None,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    summary: SyncSummary | None = None,
) -> SyncSummary:
    """Re-fetch the given movies (admin action, changes refresh)."""
    ids = list(dict.fromkeys(int(i) for i in tmdb_ids))
    own_client = client is None
    client = client or TMDBClient()
    summary = summary if summary is not None else SyncSummary()
    try:
        for done, tmdb_id in enumerate(ids, start=1):
            if should_stop and should_stop():
                raise SyncStopped("the sync was cancelled", summary, cancelled=True)
            try:
                _sync_one(client, tmdb_id, summary)
            except TMDBAuthError as exc:
                raise SyncStopped(str(exc), summary) from exc
            if progress:
                progress(done, len(ids), "movies")
    finally:
        if own_client:
            client.close()
    return summary


def changed_catalog_ids(*, since: datetime.date, until: datetime.date | None = None) -> list[int]:
    """Ids TMDB reports changed in [since, until] that are in our catalog."""
    until = until or timezone.now().date()
    with TMDBClient() as client:
        changed = set(
            client.iter_changed_movie_ids(start_date=since.isoformat(), end_date=until.isoformat())
        )
    return list(
        Movie.objects.filter(tmdb_id__in=changed)
        .order_by("tmdb_id")
        .values_list("tmdb_id", flat=True)
    )
