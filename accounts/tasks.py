"""Celery tasks of accounts, and the one place that enqueues them.

A large ratings import (more than ``ACCOUNT_IMPORT_SYNC_ROWS`` rows to write) is applied by
``apply_rating_import``; the page polls its status. The task takes the import's id, re-fetches
it, returns quietly when it is gone or already claimed (a second delivery), and holds the
job's lease while it writes. Acknowledged late: a worker killed mid-import is redelivered, and
the import's single transaction means a redelivery starts from a clean slate.
"""

from __future__ import annotations

import logging
import uuid

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction

from accounts.models import RatingImport
from accounts.services import imports

logger = logging.getLogger(__name__)


def queue_rating_import(*, imp: RatingImport) -> bool:
    """Confirm ``imp`` for the background and start its task once the transaction commits.
    False when it was confirmed already (nothing queued twice). Raises
    ``imports.ImportNotAvailable`` like ``confirm_import``."""
    task_id = str(uuid.uuid4())
    if not imports.confirm_import(imp=imp, background=True):
        return False
    RatingImport.objects.filter(pk=imp.pk).update(celery_task_id=task_id)
    transaction.on_commit(lambda: apply_rating_import.apply_async((imp.pk,), task_id=task_id))
    return True


@shared_task(
    soft_time_limit=10 * 60, time_limit=11 * 60, acks_late=True, reject_on_worker_lost=True
)
def apply_rating_import(import_id: int) -> dict | None:
    imp = RatingImport.objects.select_related("user").filter(pk=import_id).first()
    if imp is None or not imp.claim():
        logger.info("apply_rating_import: import %s is gone or already claimed", import_id)
        return None
    try:
        with imp.lease():
            imports.apply_import(imp, on_progress=imp.report_progress)
    except SoftTimeLimitExceeded:
        imp.fail("The import took too long and was stopped; nothing was changed. Try again.")
        return None
    except Exception as exc:
        logger.exception("apply_rating_import %s failed", import_id)
        imp.fail(f"The import failed and nothing was changed ({exc.__class__.__name__}).")
        return None
    return {"import": imp.pk, "created": imp.created, "changed": imp.changed}
