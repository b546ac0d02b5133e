"""What the recommender does when the catalog says it changed (``movies.signals``).

Connected in ``RecommendationsConfig.ready()``; the catalog never imports this app.
"""

from __future__ import annotations

from .models import ModelVersion
from .tasks import queue_rebuild


def rebuild_on_catalog_change(sender, *, triggered_by: str, **kwargs) -> ModelVersion | None:
    """``catalog_changed`` → queue a rebuild that activates when ready. Returns the queued
    version (the sync records its id), or None when a build is already in progress."""
    return queue_rebuild(triggered_by=triggered_by, activate=True)
