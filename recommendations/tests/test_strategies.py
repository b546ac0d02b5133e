"""The one registry of strategies: what the site serves and what ``manage.py evaluate`` runs."""

from __future__ import annotations

import json
from types import MappingProxyType

import numpy as np
import pytest

from recommendations import builds, pipeline, strategies
from recommendations.strategies import REGISTRY, Strategy
from recommendations.tests.test_evaluation_command import run, small_dataset  # noqa: F401
from tests.factories import UserFactory

# The table of docs/evaluation.md, in its order.
EVALUATED = (
    "popularity",
    "tmdb_popularity",
    "content_tfidf",
    "item_knn",
    "ease_tfidf",
    "cold_start",
    "production_no_collab",
    "production",
    "production_two_phase",
    "production_mmr",
    "production_mmr_strong",
)
API = "/api/recommendations"


def test_served_and_evaluation_only_strategies():
    assert [s.name for s in strategies.served()] == [
        "hybrid",
        "content_based",
        "popularity_fallback",
    ]
    assert strategies.evaluation_names() == EVALUATED
    assert set(REGISTRY) == {s.name for s in strategies.served()} | set(EVALUATED)
    assert strategies.HYBRID is REGISTRY["hybrid"] and strategies.get("production").evaluation_only


def test_every_strategy_speaks_to_people():
    for strategy in REGISTRY.values():
        assert strategy.label and strategy.description.endswith("."), strategy.name
        assert callable(strategy.scorer) and str(strategy) == strategy.name


def test_served_strategies_name_the_evaluation_that_measures_their_code():
    measured = {s.name: s.evaluated_as for s in strategies.served()}
    assert measured == {
        "hybrid": "production",
        "content_based": "production_no_collab",
        "popularity_fallback": "cold_start",
    }
    for name in measured.values():
        assert strategies.get(name).evaluation_only


def test_unknown_and_served_strategies_cannot_be_evaluated():
    with pytest.raises(KeyError, match="unknown strategy 'nope'"):
        strategies.get("nope")
    with pytest.raises(ValueError, match="evaluate 'production'"):
        strategies.HYBRID.evaluate(ctx=None)


def test_the_admin_reads_the_evaluation_order_from_the_registry():
    from recommendations import admin

    assert admin.STRATEGY_ORDER == EVALUATED


@pytest.mark.django_db
@pytest.mark.parametrize("situation", ["hybrid", "content_based", "popularity_fallback"])
def test_every_strategy_the_api_returns_is_registered_and_served(
    client, catalog, space_fan, settings, situation
):
    settings.RECS_COLLABORATIVE = situation != "content_based"
    builds.build_model(triggered_by="test")
    user = space_fan if situation != "popularity_fallback" else UserFactory(username="newcomer")
    client.force_login(user)
    body = client.get(API, {"top_n": "3"}).json()
    assert body["strategy"] == situation
    assert REGISTRY[body["strategy"]].served
    assert pipeline.recommend_for_user(user=user).strategy is REGISTRY[situation]


def test_evaluate_runs_the_registry_strategies_by_default(small_dataset, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    text = run(small_dataset, out, no_chart=True)
    report = json.loads((out / "report.json").read_text())
    assert tuple(report) == EVALUATED
    assert all(name in text for name in EVALUATED)


def test_evaluate_takes_its_strategies_from_the_registry(small_dataset, tmp_path, monkeypatch):  # noqa: F811
    seen = []

    def first_rows(ctx):
        seen.append(len(ctx.splits))
        return [np.arange(ctx.k) for _ in ctx.splits]

    extra = Strategy(
        name="first_rows",
        label="The first rows",
        description="The catalog's first k rows for everyone.",
        served=False,
        scorer=first_rows,
    )
    monkeypatch.setattr(strategies, "REGISTRY", MappingProxyType({**REGISTRY, "first_rows": extra}))
    out = tmp_path / "out"
    run(small_dataset, out, strategies="popularity,first_rows", no_chart=True)
    report = json.loads((out / "report.json").read_text())
    assert list(report) == ["popularity", "first_rows"] and seen
    assert report["first_rows"]["users"] == report["popularity"]["users"] == seen[0]
    monkeypatch.undo()
    with pytest.raises(Exception, match="Unknown strategy first_rows"):
        run(small_dataset, tmp_path / "b", strategies="first_rows", no_chart=True)
