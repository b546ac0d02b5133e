"""manage.py evaluate --model-version / --record: saved on the version, shown in the admin."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError
from django.urls import reverse

from recommendations import builds, hybrid
from recommendations.evaluations import record_evaluation
from recommendations.models import Evaluation, ModelVersion
from recommendations.tests.test_evaluation_command import run, small_dataset  # noqa: F401
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

STRATEGIES = "popularity,content_tfidf,production"


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_model_version_option_records_an_evaluation(catalog, small_dataset, tmp_path):  # noqa: F811
    version = builds.build_model(triggered_by="test")
    out = tmp_path / "out"
    text = run(small_dataset, out, strategies=STRATEGIES, no_chart=True, model_version=version.pk)
    evaluation = Evaluation.objects.get()
    assert f"Saved as evaluation {evaluation.pk} of model version {version.pk}." in text
    assert evaluation.model_version == version
    # The same numbers as the files written by the run.
    assert evaluation.metrics == json.loads((out / "report.json").read_text())
    assert set(evaluation.metrics) == {"popularity", "content_tfidf", "production"}
    assert evaluation.production_ndcg == evaluation.metrics["production"]["ndcg"] > 0
    assert evaluation.users == evaluation.metrics["production"]["users"] > 0
    assert evaluation.catalog_size == 45 and evaluation.seconds >= 0
    assert evaluation.protocol["k"] == 10 and evaluation.protocol["history_fraction"] == 0.8
    assert evaluation.input_files["ratings"].endswith("ratings.csv")
    # The version's own parameters were used.
    assert evaluation.params["tfidf"]["max_features"] == version.params["max_features"]
    assert evaluation.params["hybrid"] == version.hybrid_params


def test_record_uses_the_active_version_and_its_parameters(catalog, small_dataset, tmp_path):  # noqa: F811
    builds.build_model(triggered_by="test")
    off = builds.build_model(
        triggered_by="test",
        hybrid_params=hybrid.HybridParams(collab=False),
    )
    run(small_dataset, tmp_path / "a", strategies=STRATEGIES, no_chart=True, record=True)
    evaluation = Evaluation.objects.get()
    assert evaluation.model_version == off
    assert evaluation.params["hybrid"]["collab"] is False


def test_record_refuses_without_a_usable_version(db, small_dataset, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    with pytest.raises(CommandError, match="no model version is active"):
        run(small_dataset, out, strategies="popularity", record=True)
    with pytest.raises(CommandError, match="Model version 999 does not exist"):
        run(small_dataset, out, strategies="popularity", model_version=999)
    failed = ModelVersion.objects.create(triggered_by="x", status="failed")
    with pytest.raises(CommandError, match="is failed, not ready"):
        run(small_dataset, out, strategies="popularity", model_version=failed.pk)
    assert not out.exists() and not Evaluation.objects.exists()


def test_admin_shows_the_latest_evaluation_of_each_version(
    admin_client, catalog, django_assert_max_num_queries
):
    v1 = builds.build_model(triggered_by="test")
    v2 = builds.build_model(triggered_by="test")
    metrics = {
        "popularity": {"precision": 0.05, "recall": 0.08, "ndcg": 0.079, "hit_rate": 0.33,
                       "coverage": 0.04, "users": 497},
        "production": {"precision": 0.09, "recall": 0.16, "ndcg": 0.1522, "hit_rate": 0.5252,
                       "coverage": 0.16, "users": 497},
    }  # fmt: skip
    common = {
        "protocol": {"k": 10},
        "params": {},
        "input_files": {"ratings": "r.csv"},
        "catalog_size": 2483,
        "users": 497,
        "seconds": 8.0,
    }
    old = {**metrics, "production": {**metrics["production"], "ndcg": 0.1111}}
    record_evaluation(version=v1, metrics=old, **common)
    record_evaluation(version=v1, metrics=metrics, **common)  # the latest one
    html = admin_client.get(reverse("admin:recommendations_modelversion_changelist")).text
    assert "NDCG@10 0.1522 · hit rate 0.5252" in html and "0.1111" not in html
    assert html.count("NDCG@10 ") == 1  # v2 has none yet
    assert f"{v2.site_ratings:,} ratings / {v2.site_users:,} users" in html
    # One query for all the versions' evaluations, not one per row.
    record_evaluation(version=v2, metrics=metrics, **common)
    with django_assert_max_num_queries(12):
        admin_client.get(reverse("admin:recommendations_modelversion_changelist"))

    page = admin_client.get(reverse("admin:recommendations_modelversion_change", args=[v1.pk]))
    assert page.status_code == 200
    detail = page.text
    assert 'data-testid="latest-evaluation"' in detail
    assert "<td>production</td>" in detail and "0.1522" in detail and "0.0790" in detail
    # Rows in the evaluation's strategy order, whatever order the database keeps JSON keys in.
    assert detail.index("<td>popularity</td>") < detail.index("<td>production</td>")
    assert detail.count("0.1111") == 1  # the older run is listed in the inline only
    empty = admin_client.get(reverse("admin:recommendations_modelversion_change", args=[v2.pk]))
    assert "latest-evaluation" in empty.text
