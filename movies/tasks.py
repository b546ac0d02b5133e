"""Celery tasks for TMDB syncs, and the one place that enqueues them (``queue_sync``).

A sync fans out: ``sync_tmdb_pages`` claims the run and splits it into chunks of pages, one
``sync_tmdb_chunk`` task per chunk (a chord, so any number of workers share the work while
the Redis token bucket keeps them together under TMDB's limit), then ``finish_tmdb_sync``
closes the run (and asks for the model rebuild through ``movies.signals.catalog_changed``).
Tasks take ids, re-fetch and return quietly when the row is gone; the work itself is in
``movies.services.sync_runs``.

The sync tasks are acknowledged late and rejected when their worker dies, so a killed worker's
task is delivered again; the redelivery finds the run claimed (the planner), or re-runs an
idempotent chunk. The broker's visibility timeout (settings) exceeds every hard time limit.
"""

from __future__ import annotations

import datetime
import logging
import uuid

from celery import chord, shared_task
from django.db import transaction
from django.utils import timezone

from movies.models import SyncRun
from movies.services import sync_runs, tmdb_sync

logger = logging.getLogger(__name__)

# A chunk is a few pages (TMDB_SYNC_CHUNK_PAGES x 20 movies); even with many workers sharing
# the rate limit it finishes in minutes. The soft limit lets it record what it did.
CHUNK_SOFT_TIME_LIMIT = 30 * 60
CHUNK_TIME_LIMIT = CHUNK_SOFT_TIME_LIMIT + 120
RELIABLE = {"acks_late": True, "reject_on_worker_lost": True}


def queue_sync(
    *,
    triggered_by: str,
    pages: int = 0,
    start_page: int = 1,
    tmdb_ids: list[int] | None = None,
    rebuild: bool = False,
) -> SyncRun:
    """Create a queued run and start it on Celery once the transaction commits.

    Raises ``SyncAlreadyRunning`` (a CatalogError) while another sync is queued or running,
    ValueError when there is nothing to sync.
    """
    task_id = str(uuid.uuid4())
    run = sync_runs.create_sync_run(
        triggered_by=triggered_by,
        pages=pages,
        start_page=start_page,
        tmdb_ids=tmdb_ids,
        rebuild=rebuild,
        celery_task_id=task_id,
    )
    transaction.on_commit(lambda: sync_tmdb_pages.apply_async((run.pk,), task_id=task_id))
    return run


@shared_task(soft_time_limit=60, time_limit=90, **RELIABLE)
def sync_tmdb_pages(run_id: int) -> dict | None:
    """Claim run ``run_id``, plan its chunks and launch them as a chord ending in
    ``finish_tmdb_sync``. A second delivery finds the run claimed and does nothing."""
    run = SyncRun.objects.filter(pk=run_id).first()
    if run is None or not run.claim():
        logger.info("sync_tmdb_pages: run %s is gone or already claimed; nothing to do", run_id)
        return None
    chunks = sync_runs.plan_chunks(run)
    sync_runs.start_run(run=run, chunks=len(chunks))
    header = [sync_tmdb_chunk.s(run_id, **chunk) for chunk in chunks]
    chord(header)(finish_tmdb_sync.si(run_id))
    return {"run": run_id, "chunks": len(chunks)}


@shared_task(
    bind=True, soft_time_limit=CHUNK_SOFT_TIME_LIMIT, time_limit=CHUNK_TIME_LIMIT, **RELIABLE
)
def sync_tmdb_chunk(
    self, run_id: int, start_page: int = 1, pages: int = 0, tmdb_ids: list[int] | None = None
) -> dict | None:
    """Sync one chunk (pages, or movie ids) of run ``run_id`` under the run's lease; progress
    goes to the row and to the task state."""
    run = SyncRun.objects.filter(pk=run_id).first()
    if run is None:
        return None

    def on_progress(done: int, total: int, _message: str) -> None:
        if self.request.id and not self.request.is_eager:
            self.update_state(
                state="PROGRESS",
                meta={"run": run_id, "start_page": start_page, "done": done, "total": total},
            )

    summary = sync_runs.run_chunk(
        run=run, start_page=start_page, pages=pages, tmdb_ids=tmdb_ids, on_progress=on_progress
    )
    return summary.as_dict()


@shared_task(soft_time_limit=60, time_limit=90, **RELIABLE)
def finish_tmdb_sync(run_id: int) -> dict | None:
    """Close run ``run_id`` after its last chunk; a run that asked for it sends the rebuild
    request (``catalog_changed``)."""
    run = sync_runs.finish_sync(run_id=run_id)
    if run is None:
        return None
    return {"run": run.pk, "status": run.status, "model_version": run.model_version_id}


@shared_task(soft_time_limit=5 * 60, time_limit=6 * 60)
def refresh_changed_movies() -> dict:
    """Celery beat (``TMDB_REFRESH_EVERY_HOURS``): re-sync catalog movies TMDB changed since the
    last finished run (at most TMDB's 14 days), then ask for a model rebuild. Skipped (not
    failed) while another sync is in progress."""
    last = (
        SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED, finished_at__isnull=False)
        .order_by("-finished_at")
        .first()
    )
    today = timezone.now().date()
    since = max(last.finished_at.date(), today - datetime.timedelta(days=14)) if last else today
    ids = tmdb_sync.changed_catalog_ids(since=since, until=today)
    if not ids:
        return {"changed": 0}
    try:
        run = queue_sync(triggered_by="beat", tmdb_ids=ids, rebuild=True)
    except SyncRun.already_running_error as exc:
        logger.info("refresh_changed_movies: %s", exc)
        return {"changed": len(ids), "run": None}
    return {"changed": len(ids), "run": run.pk}
