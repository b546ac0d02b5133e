"""Celery tasks shared by every job model."""

from __future__ import annotations

from celery import shared_task

from .models import job_models


@shared_task(soft_time_limit=50, time_limit=60, ignore_result=True)
def expire_stale_jobs() -> dict[str, int]:
    """Celery beat (JOB_EXPIRE_EVERY_SECONDS): mark failed every job whose process died or that
    no worker picked up in time, so the next run of that kind can start. Returns
    ``{model label: jobs expired}``."""
    return {model._meta.label: model.jobs().expire_stale() for model in job_models()}
