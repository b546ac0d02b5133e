"""System checks of the catalog app (``manage.py check --deploy``)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register

# Caches that live inside one process: an entry set there is invisible to every other process.
PROCESS_LOCAL_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


@register(Tags.caches, deploy=True)
def check_shared_cache(app_configs=None, **kwargs):
    """The catalog stamp (``movies.stamp``) lives in the default cache, and the movie pages,
    cards, listings and recommendations pages are kept under it. With a cache local to each
    process, an admin's edit changes the stamp of the process that saved it only: the other
    gunicorn workers would serve the old page until their entries time out (up to an hour)."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend in PROCESS_LOCAL_CACHES:
        return [
            Warning(
                "The default cache is local to each process, so catalog edits reach only the "
                "process that made them until its cached pages time out.",
                hint="Set REDIS_URL: one cache shared by every web process and worker.",
                id="movies.W001",
            )
        ]
    return []
