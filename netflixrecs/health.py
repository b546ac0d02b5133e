"""``/health/`` for load balancers and operators (django-health-check).

Checks the database, the cache, the Celery broker when one is configured, and the
recommendation model (recommendations/health.py). Answers 200 when healthy and 500 when a check
fails; warnings (e.g. no model built yet) are reported but keep the answer 200. HTML by
default, JSON with ``?format=json`` or ``Accept: application/json``, also ``?format=text``.
"""

from __future__ import annotations

import dataclasses
import datetime

from django.conf import settings
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.exceptions import ServiceUnavailable, ServiceWarning
from health_check.views import HealthCheckView

from recommendations.health import RecommendationModel


@dataclasses.dataclass
class CeleryBroker(HealthCheck):
    """The broker accepts a connection (any kombu transport, not only Redis). Workers are not
    pinged: a web process stays useful while workers restart, so that is no reason for a load
    balancer to drop it."""

    timeout = datetime.timedelta(seconds=3)

    def run(self) -> None:
        from netflixrecs.celery import app

        try:
            with app.connection_for_write(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        except Exception as exc:  # kombu raises a transport-specific zoo of errors
            # No URL in the message: the endpoint is public.
            raise ServiceUnavailable(f"cannot reach the broker ({type(exc).__name__})") from exc


class HealthView(HealthCheckView):
    template_name = "health/index.html"

    def get_checks(self):
        yield Database()
        yield Cache()
        if settings.CELERY_BROKER_URL and not settings.CELERY_TASK_ALWAYS_EAGER:
            yield CeleryBroker()
        yield RecommendationModel()

    async def get(self, request, *args, **kwargs):
        response = await super().get(request, *args, **kwargs)
        # django-health-check fails on any error, warnings included; a warning means
        # "degraded but serving", which must not take the process out of rotation.
        if response.status_code == 500 and all(
            r.error is None or isinstance(r.error, ServiceWarning) for r in self.results
        ):
            response.status_code = 200
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["rows"] = [
            {
                "name": repr(r.check),
                "state": "ok"
                if r.error is None
                else "warning"
                if isinstance(r.error, ServiceWarning)
                else "failed",
                "message": str(r.error) if r.error else "OK",
                "ms": round(r.time_taken * 1000),
            }
            for r in self.results
        ]
        context["failed"] = any(row["state"] == "failed" for row in context["rows"])
        return context
