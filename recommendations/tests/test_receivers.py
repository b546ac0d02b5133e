"""The recommender's answer to movies.signals.catalog_changed (recommendations.receivers)."""

import pytest

from movies.models import SyncRun
from movies.signals import catalog_changed
from recommendations.models import ModelVersion
from recommendations.receivers import rebuild_on_catalog_change

pytestmark = pytest.mark.django_db


def test_catalog_changed_queues_one_activating_rebuild(catalog):
    # Other apps listen too (the catalog's search index): pick the recommender's answer.
    responses = dict(catalog_changed.send(sender=SyncRun, run=None, triggered_by="tmdb-sync #9"))
    assert rebuild_on_catalog_change in responses
    version = responses[rebuild_on_catalog_change]
    assert version == ModelVersion.objects.get()
    assert version.status == ModelVersion.Status.QUEUED and version.activate_when_ready
    assert version.triggered_by == "tmdb-sync #9"
    # A second change while that build is queued queues nothing.
    again = dict(catalog_changed.send(sender=SyncRun, run=None, triggered_by="tmdb-sync #10"))[
        rebuild_on_catalog_change
    ]
    assert again is None and ModelVersion.objects.count() == 1
