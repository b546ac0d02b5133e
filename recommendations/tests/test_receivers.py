"""The recommender's answer to movies.signals.catalog_changed (recommendations.receivers)."""

import pytest

from movies.models import SyncRun
from movies.signals import catalog_changed
from recommendations.models import ModelVersion
from recommendations.receivers import rebuild_on_catalog_change

pytestmark = pytest.mark.django_db


def test_catalog_changed_queues_one_activating_rebuild(catalog):
    [(receiver, version)] = catalog_changed.send(
        sender=SyncRun, run=None, triggered_by="tmdb-sync #9"
    )
    assert receiver is rebuild_on_catalog_change
    assert version == ModelVersion.objects.get()
    assert version.status == ModelVersion.Status.QUEUED and version.activate_when_ready
    assert version.triggered_by == "tmdb-sync #9"
    # A second change while that build is queued queues nothing.
    [(_, again)] = catalog_changed.send(sender=SyncRun, run=None, triggered_by="tmdb-sync #10")
    assert again is None and ModelVersion.objects.count() == 1
