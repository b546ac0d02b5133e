"""factory_boy factories of the recommender's rows (builds that ran elsewhere, by hand)."""

from __future__ import annotations

import factory

from recommendations.models import ModelVersion


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A version row without artifacts: a build queued, running, failed, or one whose files
    the test writes itself. Real versions come from ``builds.build_model``."""

    class Meta:
        model = ModelVersion

    triggered_by = "test"
    status = ModelVersion.Status.QUEUED
