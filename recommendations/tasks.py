"""Celery tasks of the recommender, and the one place that sends builds to workers.

``queue_rebuild`` is what the admin button, the TMDB sync and anything else that wants a
rebuild calls; the task claims the queued row and builds it. With a broker the build fans
out like a TMDB sync: ``rebuild_model`` claims the row and runs ``build_stages.prepare``, then
replaces itself with a chord of ``build_neighbour_block`` tasks (one per row block, on any
worker) ending in ``finish_model_build``, so the rebuild task's result is the build's. Run
eagerly (no broker) it runs ``builds.build_model``: the same stages, in order, in process.

Tasks take ids, re-fetch and return quietly when the row is gone or no longer running; they
are acknowledged late and rejected when their worker dies, so a killed worker's block is
delivered again (a stored block is not computed twice; finish is idempotent).
"""

from __future__ import annotations

import logging
import time

from celery import chord, shared_task
from django.conf import settings
from django.db import transaction

from . import build_stages, builds
from .models import ModelVersion

logger = logging.getLogger(__name__)


def queue_rebuild(*, triggered_by: str, activate: bool = True) -> ModelVersion | None:
    """Queue a rebuild: the queued row now, the Celery message once the transaction commits
    (so a worker never looks for a row it cannot see yet). Returns the queued version, or None
    when a build is already queued or running (single-flight)."""
    version = builds.request_rebuild(triggered_by=triggered_by, activate=activate)
    if version is not None:
        transaction.on_commit(lambda: rebuild_model.delay(version.pk))
    return version


def _rebuild(task, version_id: int) -> dict | None:
    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is None:
        logger.info("rebuild_model: version %s is gone; nothing to do", version_id)
        return None
    # One conditional UPDATE decides which delivery builds: a duplicate delivery (broker
    # redelivery, a second worker) of a queued or still-leased row gets False and leaves.
    # A running row whose lease died (its worker was killed) is claimable again.
    if not version.claim():
        version.refresh_from_db(fields=["status"])
        logger.info(
            "rebuild_model: version %s is %s and not claimable; another delivery has it",
            version_id,
            version.status,
        )
        return None
    if task.request.id:
        version.celery_task_id = task.request.id
        version.save(update_fields=["celery_task_id", "updated_at"])

    def progress(done: int, total: int, message: str) -> None:
        if task.request.id and not task.request.is_eager:
            task.update_state(
                state="PROGRESS",
                meta={"version": version_id, "current": done, "total": total, "message": message},
            )

    if task.request.is_eager:
        version = builds.build_model(
            triggered_by=version.triggered_by,
            activate=version.activate_when_ready,
            progress=progress,
            version=version,
        )
        return _result(version)
    blocks = build_stages.prepare(
        version=version,
        params=builds.stored_params(version),
        hybrid_params=builds.default_hybrid_params(),
        activate=version.activate_when_ready,
        progress=progress,
    )
    header = [build_neighbour_block.si(version_id, start, stop) for start, stop in blocks]
    finish = finish_model_build.si(version_id)
    # Replaced, not just launched: the finish task inherits this task's id, so whoever waits
    # on the rebuild's result (AsyncResult(version.celery_task_id)) gets the build's outcome.
    return task.replace(chord(header, finish) if header else finish)


def _result(version: ModelVersion) -> dict:
    return {
        "version": version.pk,
        "status": version.status,
        "active": version.is_active,
        "movies": version.movie_count,
        "vocabulary": version.vocabulary_size,
    }


_BUILD_TASK_OPTIONS = {
    "bind": True,
    "soft_time_limit": settings.RECS_BUILD_SOFT_TIME_LIMIT,
    "time_limit": settings.RECS_BUILD_TIME_LIMIT,
    # Acknowledged after the build, and requeued if the worker process dies mid-build, so a
    # killed build is retried (the redelivery claims the row once its lease is gone).
    "acks_late": True,
    "reject_on_worker_lost": True,
}


@shared_task(name="recommendations.tasks.rebuild_model", **_BUILD_TASK_OPTIONS)
def rebuild_model(self, version_id: int) -> dict | None:
    """Build the queued model version ``version_id`` (queued by :func:`queue_rebuild`).

    Returns quietly when the row is gone or another delivery claimed it. Holds the version's
    lease while building; progress goes to the task state and the row (the admin shows it
    live). Errors mark the row failed and are re-raised.
    """
    return _rebuild(self, version_id)


# A block at a million movies takes well under a minute (docs/benchmarks.md); the limit is
# for a stuck one. Finish reads every block and writes the version (hundreds of MB at 1M).
BLOCK_SOFT_TIME_LIMIT = 20 * 60
BLOCK_TIME_LIMIT = BLOCK_SOFT_TIME_LIMIT + 120
FINISH_SOFT_TIME_LIMIT = 15 * 60
FINISH_TIME_LIMIT = FINISH_SOFT_TIME_LIMIT + 120
RELIABLE = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(
    name="recommendations.tasks.build_neighbour_block",
    bind=True,
    soft_time_limit=BLOCK_SOFT_TIME_LIMIT,
    time_limit=BLOCK_TIME_LIMIT,
    **RELIABLE,
)
def build_neighbour_block(self, version_id: int, start: int, stop: int) -> dict | None:
    """Content neighbours of rows ``start:stop`` of build ``version_id`` (one block of the
    chord ``rebuild_model`` launched), under the version's lease. Returns quietly when the
    version is gone or no longer running; an error fails the build (naming the block) and is
    re-raised, so the chord's finish never runs."""
    started = time.monotonic()
    stored = build_stages.run_block(version_id=version_id, start=start, stop=stop)
    seconds = round(time.monotonic() - started, 3)
    return {"version": version_id, "block": [start, stop], "stored": stored, "seconds": seconds}


@shared_task(
    name="recommendations.tasks.finish_model_build",
    bind=True,
    soft_time_limit=FINISH_SOFT_TIME_LIMIT,
    time_limit=FINISH_TIME_LIMIT,
    **RELIABLE,
)
def finish_model_build(self, version_id: int) -> dict | None:
    """After the last block: merge the blocks, write the version, mark it succeeded and (if it
    asked) active. A second delivery finds the version finished and changes nothing."""
    version = build_stages.finish(version_id=version_id)
    return _result(version) if version is not None else None


@shared_task(name="recommendations.tasks.rebuild_tfidf", **_BUILD_TASK_OPTIONS)
def rebuild_tfidf(self, version_id: int) -> dict | None:
    """The task's old name, still registered so messages queued before the rename are built.
    Same as :func:`rebuild_model`."""
    return _rebuild(self, version_id)
