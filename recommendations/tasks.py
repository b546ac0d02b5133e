"""Celery tasks of the recommender, and the one place that sends builds to workers.

``queue_rebuild`` is what the admin button, the TMDB sync and anything else that wants a
rebuild calls; the task claims the queued row and runs ``builds.build_model`` on it.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

from . import builds
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

    version = builds.build_model(
        triggered_by=version.triggered_by,
        activate=version.activate_when_ready,
        progress=progress,
        version=version,
    )
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


@shared_task(name="recommendations.tasks.rebuild_tfidf", **_BUILD_TASK_OPTIONS)
def rebuild_tfidf(self, version_id: int) -> dict | None:
    """The task's old name, still registered so messages queued before the rename are built.
    Same as :func:`rebuild_model`."""
    return _rebuild(self, version_id)
