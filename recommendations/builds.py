"""Model builds: one service for every way a build starts.

``build_model`` turns the catalog and the site's ratings (:mod:`recommendations.building`) into
a new :class:`ModelVersion` with its artifacts; ``manage.py build_tfidf`` calls it directly, the
Celery task (:mod:`recommendations.tasks`, which owns enqueueing) calls it with the row it
claimed, and the admin's rebuild button goes through the task. ``request_rebuild`` only creates
the queued row: nothing here knows about Celery.

A build holds the version's lease (:meth:`Job.lease`) from start to finish, so a build whose
process is killed stops blocking new builds as soon as its lease is gone, not after a timeout.
The work itself is in :mod:`recommendations.build_stages` (prepare, the content-neighbour
blocks, finish): ``build_model`` runs the stages in order here; the task fans the blocks out
over the Celery workers when a broker is configured.
"""

from __future__ import annotations

import logging

from . import build_stages, hybrid, tfidf
from .building import ProgressFn, default_hybrid_params, default_params
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
        params = stored_params(version, params)
    with build_stages.leased(version):
        return _build(
            version,
            params=params,
            hybrid_params=hybrid_params,
            activate=activate,
            progress=progress,
        )


def stored_params(
    version: ModelVersion, params: tfidf.TfidfParams | None = None
) -> tfidf.TfidfParams:
    """``params``, else the claimed ``version``'s stored vectorizer parameters (the settings'
    when it has none), recorded on the row with its error cleared (a retry starts clean)."""
    if params is None:
        params = tfidf.TfidfParams.from_dict(version.params) if version.params else default_params()
    version.params = params.to_dict()
    version.error = ""
    version.save(update_fields=["params", "error", "updated_at"])
    return params


def _build(
    version: ModelVersion,
    params: tfidf.TfidfParams,
    hybrid_params: hybrid.HybridParams,
    *,
    activate: bool,
    progress: ProgressFn | None,
) -> ModelVersion:
    # The stages the Celery fan-out runs on many workers, here in order (build_stages).
    blocks = build_stages.prepare(
        version=version,
        params=params,
        hybrid_params=hybrid_params,
        activate=activate,
        progress=progress,
    )
    for start, stop in blocks:
        build_stages.run_block(version_id=version.pk, start=start, stop=stop, progress=progress)
    built = build_stages.finish(version_id=version.pk, progress=progress)
    if built is None or built.status != ModelVersion.Status.SUCCEEDED:
        # Marked failed (admin, stale expiry) while it ran: the stages stopped quietly.
        raise VersionError(f"Version {version.pk} was stopped while building.")
    return built


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
