"""Saved offline evaluations of model versions (``manage.py evaluate --model-version/--record``).

The evaluation itself is :mod:`recommendations.evaluation` (pure) with the strategies of
:mod:`recommendations.strategies`; this module stores a run's report on the version it measured,
where the admin shows it.
"""

from __future__ import annotations

import logging

from .models import Evaluation, ModelVersion

logger = logging.getLogger(__name__)

# The admin column shows this strategy's NDCG / hit rate (what the site serves).
PRODUCTION = "production"


def record_evaluation(
    *,
    version: ModelVersion,
    metrics: dict,
    protocol: dict,
    params: dict,
    input_files: dict,
    catalog_size: int,
    users: int,
    seconds: float,
) -> Evaluation:
    """Save one offline evaluation of ``version``."""
    if PRODUCTION not in metrics:
        # The admin column shows production NDCG / hit rate; say so rather than store a gap.
        logger.info("Evaluation of version %s has no production strategy", version.pk)
    return Evaluation.objects.create(
        model_version=version,
        metrics=metrics,
        protocol=protocol,
        params=params,
        input_files=input_files,
        catalog_size=catalog_size,
        users=users,
        seconds=seconds,
    )
