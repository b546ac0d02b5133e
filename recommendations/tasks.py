"""Celery tasks of the recommender."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from .models import ModelVersion

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    soft_time_limit=settings.RECS_BUILD_SOFT_TIME_LIMIT,
    time_limit=settings.RECS_BUILD_TIME_LIMIT,
    acks_late=True,
)
def rebuild_tfidf(self, version_id: int) -> dict | None:
    """Build the queued model version ``version_id`` (made by ``request_rebuild``).

    Returns quietly when the row is gone or no longer queued (a duplicate delivery after a
    worker restart must not start a second build). Progress goes to the task state and to the
    row, which the admin shows live. Errors mark the row failed and are re-raised.
    """
    from .services import build_model

    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is None:
        logger.info("rebuild_tfidf: version %s is gone; nothing to do", version_id)
        return None
    if version.status != ModelVersion.Status.QUEUED:
        logger.info("rebuild_tfidf: version %s is %s, not queued", version_id, version.status)
        return None
    if self.request.id:
        version.celery_task_id = self.request.id
        version.save(update_fields=["celery_task_id", "updated_at"])

    def progress(current: int, total: int, message: str) -> None:
        if self.request.id and not self.request.is_eager:
            self.update_state(
                state="PROGRESS",
                meta={
                    "version": version_id,
                    "current": current,
                    "total": total,
                    "message": message,
                },
            )

    version = build_model(
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


def queue_rebuild(*, triggered_by: str, activate: bool = True) -> ModelVersion | None:
    """Queue a rebuild on Celery (after commit); the queued version, or None when a build is
    already queued or running.

    Minimal stand-in wrapping ``services.request_rebuild`` until the recommendations split
    lands (that branch owns this module).
    """
    from .services import request_rebuild

    return request_rebuild(triggered_by=triggered_by, activate=activate)
