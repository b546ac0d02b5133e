"""Health check "recommendation model" for /health/ (django-health-check).

Kept tiny on purpose: it only asks the serving layer which model this process serves, so it is
easy to re-point if that layer moves.
"""

from __future__ import annotations

import dataclasses

from asgiref.sync import sync_to_async
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable, ServiceWarning

from .loading import get_active_model
from .models import ModelVersion


@dataclasses.dataclass
class RecommendationModel(HealthCheck):
    """Healthy when a model version is active and this process has it loaded.

    * no active version (a fresh site): a warning, not a failure: pages work and recommend by
      popularity, and a load balancer must not take every web process out for it;
    * this process serves an older version (the active one does not load here, or not yet):
      a warning, recommendations still work;
    * an active version and nothing loaded here (its files are missing or broken on this
      machine): unavailable, this process cannot serve recommendations.
    """

    async def run(self) -> None:
        # thread_sensitive: the request's own thread and database connection.
        await sync_to_async(self._check, thread_sensitive=True)()

    @staticmethod
    def _check() -> None:
        active_id = ModelVersion.objects.active().values_list("pk", flat=True).first()
        if active_id is None:
            raise ServiceWarning("no model version is active yet (popularity fallback)")
        model = get_active_model()
        if model is None:
            raise ServiceUnavailable(f"active model version {active_id} does not load here")
        if model.version_id != active_id:
            raise ServiceWarning(
                f"serving version {model.version_id}; active version {active_id} is not loaded"
            )
