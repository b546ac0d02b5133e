"""Evaluations tied to what they measured: a dataset run says so; a site run measures the
version on its own catalog and this site's ratings (evaluations.evaluate_site)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from recommendations import builds, evaluation
from recommendations.evaluations import SiteEvaluationError, evaluate_site, record_evaluation
from recommendations.models import Evaluation
from recommendations.tests.catalog import rate
from recommendations.tests.factories import ModelVersionFactory
from recommendations.tests.test_evaluation_command import run, small_dataset  # noqa: F401
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SMALL = evaluation.ProtocolParams(min_ratings=5)


def _members(catalog, n=4):
    """Members who rate eight movies, their latest two (space) liked."""
    movies = catalog["romance"] + catalog["crime"][:2] + catalog["space"][:2]
    for i in range(n):
        member = UserFactory(username=f"m{i}")
        rate(member, movies[:6], "2.5")
        rate(member, movies[6:], "5.0")  # created last: held out


def test_site_evaluation_measures_the_version_on_the_site(catalog):
    _members(catalog)
    version = builds.build_model(triggered_by="test")
    record = evaluate_site(version, protocol=SMALL)
    assert record.source == Evaluation.Source.SITE and record.model_version == version
    assert record.measured_on == f"this site's ratings, version {version.pk}"
    assert record.catalog_size == version.movie_count == 12
    assert record.users == 4 and record.input_files == {}
    assert set(record.metrics) == {"popularity", "content_tfidf", "production", "production_mmr"}
    production = record.metrics["production"]
    assert production["users"] == 4 and {"ild", "novelty", "ndcg"} <= set(production)
    # The held-out movies are the latest two of each member: the only relevant ones.
    assert 0 <= production["hit_rate"] <= 1


def test_too_few_site_ratings_says_so_and_records_nothing(catalog):
    rate(UserFactory(username="solo"), catalog["space"][:3], "5.0")
    version = builds.build_model(triggered_by="test")
    with pytest.raises(SiteEvaluationError, match="Too few ratings .* Nothing was recorded"):
        evaluate_site(version, protocol=SMALL)
    with pytest.raises(CommandError, match="Too few ratings"):
        call_command("evaluate", "--site", "--model-version", str(version.pk))
    assert not Evaluation.objects.exists()


def test_site_evaluation_refuses_a_version_that_is_not_ready(db):
    version = ModelVersionFactory(status="failed")
    with pytest.raises(SiteEvaluationError, match="not ready"):
        evaluate_site(version)
    assert not Evaluation.objects.exists()


def test_evaluate_site_option_records_on_the_active_version(catalog, capsys):
    _members(catalog)
    version = builds.build_model(triggered_by="test")
    call_command("evaluate", "--site", "--min-ratings", "5")
    record = Evaluation.objects.get()
    assert record.model_version == version and record.source == "site"


def test_a_dataset_run_records_the_dataset_it_measured(catalog, small_dataset, tmp_path):  # noqa: F811
    version = builds.build_model(triggered_by="test")
    text = run(
        small_dataset, tmp_path / "o", strategies="production", no_chart=True,
        model_version=version.pk,
    )  # fmt: skip
    record = Evaluation.objects.get()
    assert record.source == Evaluation.Source.DATASET
    assert record.dataset_name.startswith("MovieLens ") and len(record.dataset_checksum) == 64
    assert record.measured_on == f"{record.dataset_name} (dataset)"
    assert f"Measured on: {record.measured_on}." in text


def test_admin_says_what_each_evaluation_measured(client, catalog):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    version = builds.build_model(triggered_by="test")
    common = {
        "metrics": {"production": {"ndcg": 0.15, "hit_rate": 0.5}},
        "protocol": {},
        "params": {},
        "input_files": {},
        "catalog_size": 1,
        "users": 1,
        "seconds": 0,
    }
    record_evaluation(version=version, dataset_name="MovieLens ml-latest-small", **common)
    page = client.get(reverse("admin:recommendations_modelversion_changelist")).text
    assert "measured on: MovieLens ml-latest-small (dataset)" in page
    record_evaluation(version=version, source="site", dataset_name="site", **common)
    page = client.get(reverse("admin:recommendations_modelversion_changelist")).text
    assert f"measured on: this site&#x27;s ratings, version {version.pk}" in page
    detail = client.get(reverse("admin:recommendations_modelversion_change", args=[version.pk]))
    assert "MovieLens ml-latest-small (dataset)" in detail.text
