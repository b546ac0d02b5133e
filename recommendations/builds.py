"""Model builds: one service for every way a build starts.

``build_model`` turns the catalog and the site's ratings (:mod:`recommendations.building`) into
a new :class:`ModelVersion` with its artifacts; ``manage.py build_tfidf`` calls it directly, the
Celery task (:mod:`recommendations.tasks`, which owns enqueueing) calls it with the row it
claimed, and the admin's rebuild button goes through the task. ``request_rebuild`` only creates
the queued row: nothing here knows about Celery.

A build holds the version's lease (:meth:`Job.lease`) from start to finish, so a build whose
process is killed stops blocking new builds as soon as its lease is gone, not after a timeout.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import transaction

from . import hybrid, neighbours, tfidf
from .artifacts import remove_dir, save_arrays
from .building import (
    STEPS,
    ProgressFn,
    catalog_soups,
    default_hybrid_params,
    default_params,
    fit_hybrid,
)
from .errors import BuildAlreadyRunning, VersionError
from .models import ModelVersion

logger = logging.getLogger(__name__)


def build_model(
    *,
    triggered_by: str,
    params: tfidf.TfidfParams | None = None,
    activate: bool = True,
    progress: ProgressFn | None = None,
    version: ModelVersion | None = None,
    hybrid_params: hybrid.HybridParams | None = None,
) -> ModelVersion:
    """Build a new model version (TF-IDF + hybrid) from the catalog; optionally activate it.

    ``version`` is a row the caller already claimed (the task: queued by
    :func:`request_rebuild`, then ``claim()``-ed); its stored parameters are used unless
    ``params`` is given. Without it a new running row is created, refusing with
    :class:`BuildAlreadyRunning` if a build is in progress. On any error the row is marked
    failed, no artifact directory is left behind, the previously active version stays active,
    and the error is re-raised.

    The same build fits the hybrid (``hybrid_params`` defaulting to the settings) on the site's
    ratings and stores its arrays in the same version directory.
    """
    hybrid_params = hybrid_params or default_hybrid_params()
    if version is None:
        params = params or default_params()
        # Validated before any row exists: bad parameters change nothing.
        params.validate()
        version = ModelVersion.objects.begin(
            triggered_by=triggered_by[:150],
            params=params.to_dict(),
            activate_when_ready=activate,
        )
    else:
        if version.status != ModelVersion.Status.RUNNING:
            raise VersionError(f"Version {version.pk} is {version.status}; claim it first.")
        if params is None:
            params = (
                tfidf.TfidfParams.from_dict(version.params) if version.params else default_params()
            )
        version.params = params.to_dict()
        version.error = ""
        version.save(update_fields=["params", "error", "updated_at"])
    with version.lease():
        return _build(
            version,
            params=params,
            hybrid_params=hybrid_params,
            activate=activate,
            progress=progress,
        )


def _build(
    version: ModelVersion,
    params: tfidf.TfidfParams,
    hybrid_params: hybrid.HybridParams,
    *,
    activate: bool,
    progress: ProgressFn | None,
) -> ModelVersion:
    def report(done: int, total: int, message: str) -> None:
        version.report_progress(done, total, message)
        if progress:
            progress(done, total, message)

    started = time.monotonic()
    try:
        params.validate()
        movie_ids, soups = catalog_soups(progress=report)
        report(0, STEPS, "Fitting TF-IDF")
        model = tfidf.fit_tfidf(soups, params)
        content_nbrs = (
            neighbours.content_neighbours(
                model.matrix, settings.RECS_CONTENT_NEIGHBOURS, progress=report
            )
            if settings.RECS_CONTENT_NEIGHBOURS > 0 and model.n_rows > 1
            else {}
        )
        hybrid_arrays, stats = fit_hybrid(
            model=model, movie_ids=movie_ids, params=hybrid_params, progress=report
        )
        report(2, STEPS, "Writing artifacts")
        arrays = {**model.to_arrays(), "movie_ids": movie_ids, **hybrid_arrays, **content_nbrs}
        checksums = save_arrays(version.artifact_dir, arrays)
        # Succeeded and active in one transaction: nobody sees a ready build that is about to
        # become active, and a failure while activating leaves the previous one active.
        with transaction.atomic():
            version.succeed(
                checksums=checksums,
                movie_count=model.n_rows,
                vocabulary_size=model.vocabulary_size,
                nnz=model.nnz,
                min_df_used=float(model.min_df_used),
                build_seconds=round(time.monotonic() - started, 3),
                progress_done=STEPS,
                progress_total=STEPS,
                progress_message="Done",
                **stats,
            )
            if activate:
                version.activate()
    except BaseException as exc:
        # BaseException too: a Celery soft time limit or Ctrl-C must still mark the row.
        remove_dir(version.artifact_dir)
        version.flush_progress()  # the step it failed in, for the admin
        version.fail(f"{type(exc).__name__}: {exc}"[:5000])
        ModelVersion.objects.filter(pk=version.pk).update(
            is_active=False, build_seconds=round(time.monotonic() - started, 3)
        )
        logger.warning("Model build %s failed: %s", version.pk, version.error)
        raise
    if progress:
        progress(STEPS, STEPS, "Done")
    version.refresh_from_db()
    return version


def request_rebuild(*, triggered_by: str, activate: bool = True) -> ModelVersion | None:
    """Create the queued version row of a rebuild (for the task to claim). Returns it, or None
    when a build is already queued or running (single-flight, enforced by the database).

    Only the row: ``recommendations.tasks.queue_rebuild`` sends it to a worker.
    """
    try:
        return ModelVersion.objects.enqueue(
            triggered_by=triggered_by[:150],
            params=default_params().to_dict(),
            activate_when_ready=activate,
            progress_message="Queued",
        )
    except BuildAlreadyRunning:
        return None
