"""Celery tasks for TMDB syncs.

A sync fans out: ``sync_tmdb_pages`` splits the run into chunks of pages, one
``sync_tmdb_chunk`` task per chunk (a chord, so any number of workers share the work while
the Redis token bucket keeps them together under TMDB's limit), then ``finish_tmdb_sync``
closes the run and queues the model rebuild. Tasks take ids, re-fetch and return quietly when
the row is gone; the work itself is in ``movies.services.tmdb_sync``.
"""

from __future__ import annotations

import datetime
import logging

from celery import chord, shared_task
from django.utils import timezone

from movies.models import SyncRun
from movies.services import tmdb_sync

logger = logging.getLogger(__name__)

# A chunk is a few pages (TMDB_SYNC_CHUNK_PAGES x 20 movies); even with many workers sharing
# the rate limit it finishes in minutes. The soft limit lets it record what it did.
CHUNK_SOFT_TIME_LIMIT = 30 * 60
CHUNK_TIME_LIMIT = CHUNK_SOFT_TIME_LIMIT + 120


@shared_task(soft_time_limit=60, time_limit=90)
def sync_tmdb_pages(run_id: int) -> dict | None:
    """Start run ``run_id``: plan its chunks and launch them as a chord ending in
    ``finish_tmdb_sync``."""
    run = SyncRun.objects.filter(pk=run_id).first()
    if run is None or run.status != SyncRun.Status.QUEUED:
        logger.info("sync_tmdb_pages: run %s is gone or not queued; nothing to do", run_id)
        return None
    chunks = tmdb_sync.plan_chunks(run)
    tmdb_sync.begin_run(run=run, chunks=len(chunks))
    header = [sync_tmdb_chunk.s(run_id, **chunk) for chunk in chunks]
    chord(header)(finish_tmdb_sync.si(run_id))
    return {"run": run_id, "chunks": len(chunks)}


@shared_task(bind=True, soft_time_limit=CHUNK_SOFT_TIME_LIMIT, time_limit=CHUNK_TIME_LIMIT)
def sync_tmdb_chunk(
    self, run_id: int, start_page: int = 1, pages: int = 0, tmdb_ids: list[int] | None = None
) -> dict | None:
    """Sync one chunk (pages, or movie ids) of run ``run_id``; progress in the task state."""
    if not SyncRun.objects.filter(pk=run_id).exists():
        return None

    def on_progress(done: int, total: int) -> None:
        if self.request.id and not self.request.is_eager:
            self.update_state(
                state="PROGRESS",
                meta={"run": run_id, "start_page": start_page, "done": done, "total": total},
            )

    summary = tmdb_sync.run_sync_chunk(
        run_id=run_id,
        start_page=start_page,
        pages=pages,
        tmdb_ids=tmdb_ids,
        on_progress=on_progress,
    )
    return summary.as_dict()


@shared_task(soft_time_limit=60, time_limit=90)
def finish_tmdb_sync(run_id: int) -> dict | None:
    """Close run ``run_id`` after its last chunk and queue the rebuild if it asked for one."""
    run = tmdb_sync.finish_sync(run_id=run_id)
    if run is None:
        return None
    return {"run": run.pk, "status": run.status, "model_version": run.model_version_id}


@shared_task(soft_time_limit=5 * 60, time_limit=6 * 60)
def refresh_changed_movies() -> dict:
    """Celery beat (``TMDB_REFRESH_EVERY_HOURS``): re-sync catalog movies TMDB changed since the
    last finished run (at most TMDB's 14 days), then rebuild the model."""
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
    run = tmdb_sync.create_sync_run(triggered_by="beat", tmdb_ids=ids, rebuild=True)
    return {"changed": len(ids), "run": run.pk if run else None}
