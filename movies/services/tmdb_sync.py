"""Syncing the catalog from TMDB.

``sync_popular`` fetches N pages of popular movies and upserts each one (details with keywords
and credits) through ``upsert_movie``; ``sync_movies`` refreshes given ids (admin action,
``/movie/changes``). A movie that fails permanently is recorded and skipped; only a 401 stops a
run, because then every further call would fail the same way.

``start_sync`` / ``run_sync_chunk`` / ``finish_sync`` are the steps of the Celery fan-out
(``movies.tasks``): one ``SyncRun`` row, one task per chunk of pages, then the rebuild.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from movies.models import SyncRun
from movies.services.catalog import CastRef, MovieData, NamedRef, UpsertCounts, upsert_movie
from movies.tmdb import TMDBAuthError, TMDBClient, TMDBError

logger = logging.getLogger(__name__)

# progress(done, total, message); total grows when TMDB reports how many results exist.
ProgressFn = Callable[[int, int, str], None]
MAX_RECORDED_FAILURES = 200
# A run that has not moved for this long is presumed dead (its worker was killed) and no
# longer blocks a new one.
STALE_AFTER = timedelta(hours=2)


class SyncStopped(Exception):
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


# --- TMDB JSON -> MovieData (pure) -----------------------------------------------------------


def _text(value, limit: int) -> str:
    return (value or "").strip()[:limit]


def _date(value) -> datetime.date | None:
    if not value:
        return None
    try:
        date = datetime.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
    # Out-of-range years would violate the movie_year_range check; treat them as unknown.
    return date if 1870 <= date.year <= 2100 else None


def movie_data_from_tmdb(details: dict, *, top_cast: int | None = None) -> MovieData:
    """Map TMDB's movie details (with appended keywords and credits) to ``MovieData``.

    Keys TMDB did not send stay ``None`` so the stored value is left alone; cast is the first
    ``top_cast`` by billing order; directors are crew members with job "Director".
    """
    if top_cast is None:
        top_cast = settings.TMDB_TOP_CAST
    tmdb_id = details.get("id")
    title = _text(details.get("title"), 255)
    if not isinstance(tmdb_id, int) or tmdb_id <= 0 or not title:
        raise ValueError("TMDB details without an id or a title")

    data = MovieData(tmdb_id=tmdb_id, title=title)
    if "original_title" in details:
        data.original_title = _text(details["original_title"], 255)
    if "overview" in details:
        data.overview = (details["overview"] or "").strip()
    if "tagline" in details:
        data.tagline = _text(details["tagline"], 500)
    if "original_language" in details:
        data.original_language = _text(details["original_language"], 16)
    if "release_date" in details:
        data.release_date = _date(details["release_date"])
        data.year = data.release_date.year if data.release_date else None
    if details.get("runtime"):
        data.runtime = min(int(details["runtime"]), 32767)
    if details.get("popularity") is not None:
        data.popularity = float(details["popularity"])
    if details.get("vote_average") is not None:
        data.vote_average = min(10.0, max(0.0, float(details["vote_average"])))
    if details.get("vote_count") is not None:
        data.vote_count = max(0, int(details["vote_count"]))
    if "poster_path" in details:
        data.poster_path = _text(details["poster_path"], 255)
    if details.get("imdb_id"):
        data.imdb_id = _text(details["imdb_id"], 16)
    if "genres" in details:
        data.genres = [
            NamedRef(_text(g["name"], 100), g.get("id"))
            for g in details["genres"] or []
            if g.get("name")
        ]
    keywords = details.get("keywords")
    if isinstance(keywords, dict):
        # /movie/{id} nests them under "keywords"; some list endpoints use "results".
        items = keywords.get("keywords", keywords.get("results")) or []
        data.keywords = [
            NamedRef(_text(k["name"], 255), k.get("id")) for k in items if k.get("name")
        ]
    credits = details.get("credits")
    if isinstance(credits, dict):
        cast = sorted(
            (c for c in credits.get("cast") or [] if c.get("name")),
            key=lambda c: c.get("order", 10_000),
        )
        data.cast = [
            CastRef(
                person=NamedRef(_text(c["name"], 255), c.get("id")),
                order=int(c.get("order") or 0),
                character=_text(c.get("character"), 255),
            )
            for c in cast[:top_cast]
        ]
        directors, seen = [], set()
        for member in credits.get("crew") or []:
            key = member.get("id") or member.get("name")
            if member.get("job") == "Director" and member.get("name") and key not in seen:
                seen.add(key)
                directors.append(NamedRef(_text(member["name"], 255), member.get("id")))
        data.directors = directors
    return data


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
    from movies.models import Movie

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


# --- Celery fan-out steps (called by movies.tasks) -------------------------------------------


def create_sync_run(
    *,
    triggered_by: str,
    pages: int = 0,
    start_page: int = 1,
    tmdb_ids: list[int] | None = None,
    rebuild: bool = False,
) -> SyncRun | None:
    """Queue a sync on Celery. Returns None when another sync is still queued or running."""
    from movies.tasks import sync_tmdb_pages

    if not tmdb_ids and pages < 1:
        raise ValueError("a sync needs at least one page or one movie id")
    cutoff = timezone.now() - STALE_AFTER
    with transaction.atomic():
        stale = SyncRun.objects.active().filter(created_at__lt=cutoff, started_at__isnull=True)
        stale.update(
            status=SyncRun.Status.FAILED, message="never started", finished_at=timezone.now()
        )
        if SyncRun.objects.active().filter(created_at__gte=cutoff).exists():
            return None
        run = SyncRun.objects.create(
            triggered_by=triggered_by[:150],
            pages=pages if not tmdb_ids else 0,
            start_page=start_page,
            tmdb_ids=list(tmdb_ids or []),
            rebuild=rebuild,
            message="Queued",
        )
    transaction.on_commit(lambda: sync_tmdb_pages.delay(run.pk))
    return run


def plan_chunks(run: SyncRun, chunk_pages: int | None = None) -> list[dict]:
    """The work of a run split into task-sized chunks (kwargs for ``run_sync_chunk``)."""
    chunk_pages = max(1, chunk_pages or settings.TMDB_SYNC_CHUNK_PAGES)
    if run.tmdb_ids:
        size = chunk_pages * 20
        return [{"tmdb_ids": run.tmdb_ids[i : i + size]} for i in range(0, len(run.tmdb_ids), size)]
    last = run.start_page + run.pages
    return [
        {"start_page": p, "pages": min(chunk_pages, last - p)}
        for p in range(run.start_page, last, chunk_pages)
    ]


def begin_run(*, run: SyncRun, chunks: int) -> None:
    run.status = SyncRun.Status.RUNNING
    run.started_at = timezone.now()
    run.chunks_total = chunks
    run.progress_total = len(run.tmdb_ids) if run.tmdb_ids else run.pages * 20
    run.message = f"Syncing in {chunks} chunk(s)"
    run.save(update_fields=["status", "started_at", "chunks_total", "progress_total", "message"])


def run_sync_chunk(
    *,
    run_id: int,
    start_page: int = 1,
    pages: int = 0,
    tmdb_ids: list[int] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> SyncSummary:
    """One chunk of a run. Counts go into the run row with F() so chunks can run in parallel;
    a 401 marks the run failed so the other chunks stop at their next page."""
    summary = SyncSummary()
    reported = 0

    def progress(done: int, total: int, _message: str) -> None:
        nonlocal reported
        step = done - reported
        if step > 0:
            SyncRun.objects.filter(pk=run_id).update(progress_done=F("progress_done") + step)
            reported = done
        if on_progress:
            on_progress(done, total)

    def should_stop() -> bool:
        return SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.FAILED).exists()

    try:
        if tmdb_ids:
            sync_movies(
                tmdb_ids=tmdb_ids, progress=progress, should_stop=should_stop, summary=summary
            )
        else:
            sync_popular(
                pages=pages,
                start_page=start_page,
                progress=progress,
                should_stop=should_stop,
                summary=summary,
            )
    except SyncStopped as exc:
        if not exc.cancelled:
            SyncRun.objects.filter(pk=run_id).update(
                status=SyncRun.Status.FAILED, message=str(exc), finished_at=timezone.now()
            )
    except TMDBError as exc:  # e.g. TMDB not configured at all
        summary.fail("chunk", str(exc))
        SyncRun.objects.filter(pk=run_id).update(
            status=SyncRun.Status.FAILED, message=str(exc), finished_at=timezone.now()
        )
    except Exception as exc:
        # A time limit or an unexpected error ends this chunk only: its counts so far are
        # kept and the other chunks (and the chord's final step) still run.
        what = (
            f"movies {tmdb_ids[0]}…" if tmdb_ids else f"pages {start_page}-{start_page + pages - 1}"
        )
        summary.fail(what, f"chunk stopped: {type(exc).__name__}: {exc}")
        logger.exception("TMDB sync run %s: chunk %s stopped", run_id, what)
    record_chunk(run_id=run_id, summary=summary)
    return summary


def record_chunk(*, run_id: int, summary: SyncSummary) -> None:
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            return
        room = MAX_RECORDED_FAILURES - len(run.failures)
        failures = run.failures + [list(f) for f in summary.failures[: max(0, room)]]
        SyncRun.objects.filter(pk=run_id).update(
            chunks_done=F("chunks_done") + 1,
            fetched=F("fetched") + summary.fetched,
            created=F("created") + summary.created,
            updated=F("updated") + summary.updated,
            unchanged=F("unchanged") + summary.unchanged,
            failed=F("failed") + summary.failed,
            failures=failures,
        )


def finish_sync(*, run_id: int) -> SyncRun | None:
    """After the last chunk: close the run and, if asked and it did not fail, rebuild."""
    run = SyncRun.objects.filter(pk=run_id).first()
    if run is None:
        return None
    summary = SyncSummary(
        fetched=run.fetched,
        created=run.created,
        updated=run.updated,
        unchanged=run.unchanged,
        failed=run.failed,
    )
    fields = ["status", "message", "finished_at", "progress_total"]
    run.finished_at = timezone.now()
    if run.status == SyncRun.Status.FAILED:
        run.message = f"Stopped: {run.message} — {summary}"
    else:
        run.status = SyncRun.Status.SUCCEEDED
        run.message = f"Done: {summary}"
        # The planned total was pages x 20; TMDB may have had fewer. Done is done.
        run.progress_total = run.progress_done
        if run.rebuild:
            run.message += f"; {_rebuild(run)}"
            fields.append("model_version_id")
    run.save(update_fields=fields)
    return run


def _rebuild(run: SyncRun) -> str:
    """Queue the rebuild for ``run``; returns what happened, for the run's message."""
    try:
        version = request_model_rebuild(triggered_by=f"tmdb-sync #{run.pk}")
    except Exception as exc:
        # Without a broker the build runs right here; its failure is the model's problem
        # (recorded on its version), not the sync's.
        logger.exception("TMDB sync run %s: the model rebuild failed", run.pk)
        return f"model rebuild failed: {exc}"
    if version is None:
        return "a model build is already running, not starting another"
    run.model_version_id = version.pk
    return f"model rebuild queued (version {version.pk})"


def request_model_rebuild(*, triggered_by: str):
    """The recommendations app's single-flight rebuild (imported late: it imports movies)."""
    from recommendations.services import request_rebuild

    return request_rebuild(triggered_by=triggered_by, activate=True)
