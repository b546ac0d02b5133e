"""The life of a ``SyncRun``: create it, plan its chunks, run a chunk, finish it.

A Celery sync (``movies.tasks``) is one row, one task per chunk of pages (any number of
workers share them) and a final step; the ``sync_tmdb`` command runs the same steps in
process with one chunk. Each chunk holds the run's lease while it works, so a killed worker
frees the run within a minute (``netflixrecs.jobs``). When a run that asked for a rebuild
succeeds, ``movies.signals.catalog_changed`` is sent; the catalog does not know who listens.

Services never enqueue tasks: ``movies.tasks.queue_sync`` creates the row here and enqueues.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import F

from movies.errors import CatalogError
from movies.models import SyncRun
from movies.services.tmdb_sync import (
    MAX_RECORDED_FAILURES,
    SyncStopped,
    SyncSummary,
    sync_movies,
    sync_popular,
)
from movies.signals import catalog_changed

logger = logging.getLogger(__name__)

# on_progress(done, total, message) of one chunk (the command's progress bar).
ChunkProgressFn = Callable[[int, int, str], None]


def _fields(
    *, triggered_by: str, pages: int, start_page: int, tmdb_ids: list[int] | None, rebuild: bool
) -> dict:
    if not tmdb_ids and pages < 1:
        raise ValueError("a sync needs at least one page or one movie id")
    return {
        "triggered_by": triggered_by[:150],
        "pages": pages if not tmdb_ids else 0,
        "start_page": start_page,
        "tmdb_ids": list(tmdb_ids or []),
        "rebuild": rebuild,
    }


def create_sync_run(
    *,
    triggered_by: str,
    pages: int = 0,
    start_page: int = 1,
    tmdb_ids: list[int] | None = None,
    rebuild: bool = False,
    celery_task_id: str = "",
) -> SyncRun:
    """A QUEUED run for a worker to claim. Raises ``SyncAlreadyRunning`` (a CatalogError)
    while another sync is queued or running, ValueError when there is nothing to sync."""
    fields = _fields(
        triggered_by=triggered_by,
        pages=pages,
        start_page=start_page,
        tmdb_ids=tmdb_ids,
        rebuild=rebuild,
    )
    return SyncRun.objects.enqueue(**fields, celery_task_id=celery_task_id, message="Queued")


def begin_sync_run(
    *, triggered_by: str, pages: int, start_page: int = 1, rebuild: bool = False
) -> SyncRun:
    """A run already RUNNING in this process, in one chunk (the ``sync_tmdb`` command)."""
    fields = _fields(
        triggered_by=triggered_by,
        pages=pages,
        start_page=start_page,
        tmdb_ids=None,
        rebuild=rebuild,
    )
    return SyncRun.objects.begin(
        **fields, chunks_total=1, progress_total=pages * 20, message="Syncing in 1 chunk"
    )


def plan_chunks(run: SyncRun, chunk_pages: int | None = None) -> list[dict]:
    """The work of a run split into task-sized chunks (kwargs for ``run_chunk``)."""
    chunk_pages = max(1, chunk_pages or settings.TMDB_SYNC_CHUNK_PAGES)
    if run.tmdb_ids:
        size = chunk_pages * 20
        return [{"tmdb_ids": run.tmdb_ids[i : i + size]} for i in range(0, len(run.tmdb_ids), size)]
    last = run.start_page + run.pages
    return [
        {"start_page": p, "pages": min(chunk_pages, last - p)}
        for p in range(run.start_page, last, chunk_pages)
    ]


def start_run(*, run: SyncRun, chunks: int) -> None:
    """Record the plan of a claimed run."""
    run.chunks_total = chunks
    run.progress_total = len(run.tmdb_ids) if run.tmdb_ids else run.pages * 20
    run.message = f"Syncing in {chunks} chunk(s)"
    run.save(update_fields=["chunks_total", "progress_total", "message", "updated_at"])


def run_chunk(
    *,
    run: SyncRun,
    start_page: int = 1,
    pages: int = 0,
    tmdb_ids: list[int] | None = None,
    on_progress: ChunkProgressFn | None = None,
) -> SyncSummary:
    """One chunk of ``run``, under the run's lease. Counts go into the row with F() so chunks
    can run in parallel; a 401 (or TMDB not configured) fails the run, and the other chunks
    stop at their next page. Anything else ends this chunk only: its counts so far are kept
    and the other chunks (and the final step) still run."""
    summary = SyncSummary()

    def progress(done: int, total: int, message: str) -> None:
        run.report_progress(done, total, message)
        if on_progress:
            on_progress(done, total, message)

    def should_stop() -> bool:
        # Failed by another chunk, marked failed in the admin, or expired as stale.
        return SyncRun.objects.filter(pk=run.pk).exclude(status=SyncRun.Status.RUNNING).exists()

    try:
        with run.lease():
            try:
                if tmdb_ids:
                    sync_movies(
                        tmdb_ids=tmdb_ids,
                        progress=progress,
                        should_stop=should_stop,
                        summary=summary,
                    )
                else:
                    sync_popular(
                        pages=pages,
                        start_page=start_page,
                        progress=progress,
                        should_stop=should_stop,
                        summary=summary,
                    )
            finally:
                run.flush_progress()
    except SyncStopped as exc:
        if not exc.cancelled:
            run.fail(str(exc))
    except CatalogError as exc:  # e.g. TMDB not configured at all
        summary.fail("chunk", str(exc))
        run.fail(str(exc))
    except Exception as exc:
        what = (
            f"movies {tmdb_ids[0]}…" if tmdb_ids else f"pages {start_page}-{start_page + pages - 1}"
        )
        summary.fail(what, f"chunk stopped: {type(exc).__name__}: {exc}")
        logger.exception("TMDB sync run %s: chunk %s stopped", run.pk, what)
    finally:
        # Also on KeyboardInterrupt or a time limit: what was stored is counted.
        record_chunk(run_id=run.pk, summary=summary)
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
    """After the last chunk: close the run and, if it asked for a rebuild and did not fail,
    send ``catalog_changed``. A second call (a redelivered task) changes nothing."""
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
    if run.status == SyncRun.Status.FAILED:
        run.message = f"Stopped: {run.error} — {summary}"
        run.save(update_fields=["message", "updated_at"])
        return run
    if run.status != SyncRun.Status.RUNNING:
        return run
    message = f"Done: {summary}"
    model_version_id = None
    if run.rebuild:
        outcome, model_version_id = _ask_for_rebuild(run)
        message += f"; {outcome}"
    # The planned total was pages x 20; TMDB may have had fewer. Done is done.
    run.succeed(
        message=message, progress_total=run.progress_done, model_version_id=model_version_id
    )
    return run


def _ask_for_rebuild(run: SyncRun) -> tuple[str, int | None]:
    """Send ``catalog_changed``; returns what happened (for the run's message) and the id of
    the job a receiver queued."""
    responses = catalog_changed.send_robust(
        sender=SyncRun, run=run, triggered_by=f"tmdb-sync #{run.pk}"
    )
    if not responses:
        return "nothing rebuilds on catalog changes", None
    for receiver, response in responses:
        if isinstance(response, Exception):
            # Without a broker the build runs right here; its failure is the model's problem
            # (recorded on its version), not the sync's.
            logger.error(
                "TMDB sync run %s: %s failed",
                run.pk,
                receiver,
                exc_info=(type(response), response, response.__traceback__),
            )
            return f"model rebuild failed: {response}", None
        if getattr(response, "pk", None) is not None:
            return f"model rebuild queued (version {response.pk})", response.pk
    return "a model build is already running, not starting another", None
