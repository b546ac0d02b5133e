"""Celery application.

With no broker configured (no ``REDIS_URL`` / ``CELERY_BROKER_URL``) settings turn on
``task_always_eager`` so tasks run in-process and a newcomer needs nothing else running.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netflixrecs.settings")

app = Celery("netflixrecs")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Not an installed app (it only holds the abstract Job), so named explicitly.
app.autodiscover_tasks(["netflixrecs.jobs"])
