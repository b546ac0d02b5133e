"""Two-phase serving: the hybrid on a candidate sub-catalog, the RECS_SERVING setting."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from recommendations import builds, candidates, hybrid, pipeline, tfidf, twophase
from recommendations.tests.test_candidates import random_matrix


@pytest.fixture(scope="module")
def small_model():
    rng = np.random.default_rng(3)
    n = 800
    m = random_matrix(n, seed=3)
    cols = rng.choice(n, size=3000, p=(w := 1 / np.arange(1, n + 1)) / w.sum())
    site = sp.csr_matrix(
        (rng.integers(1, 11, 3000) / 2.0, (np.repeat(np.arange(100), 30), cols)), shape=(100, n)
    )
    site.sum_duplicates()
    site.data = np.clip(site.data, 0.5, 5.0)
    params = hybrid.HybridParams(site_half_ratings=10, prior_site_half_ratings=10)
    arrays = hybrid.fit(tfidf_matrix=m, ratings=site, tmdb_popularity=rng.random(n), params=params)
    return {
        "arrays": arrays,
        "tfidf_matrix": m,
        "tfidf_matrix_t": tfidf.transpose(m),
        "tfidf_row_norms": tfidf.compute_row_norms(m),
        "neighbours": hybrid.neighbour_matrix(arrays),
    }


def history(seed: int, k: int, n: int = 800):
    rng = np.random.default_rng(seed)
    return rng.choice(n, k, replace=False), rng.choice([1.0, 2.0, 3.5, 4.0, 4.5, 5.0], k)


def call(fn, model, rows, scores, **kwargs):
    arrays = model["arrays"]
    rest = {k: v for k, v in model.items() if k != "arrays"}
    return fn(arrays, history_rows=rows, history_scores=scores, n=10, **rest, **kwargs)


@pytest.mark.parametrize("k", [5, 50, 300])
def test_equals_exact_when_the_candidates_cover_everything(small_model, k):
    rows, scores = history(k, k)
    exact = call(hybrid.recommend, small_model, rows, scores, exclude_rows=[0, 1])
    two = call(
        twophase.recommend,
        small_model,
        rows,
        scores,
        exclude_rows=[0, 1],
        candidate_rows=np.arange(800),
    )
    assert [r.row for r in two] == [r.row for r in exact]
    assert [r.because for r in two] == [r.because for r in exact]  # the same explanations
    np.testing.assert_allclose([r.score for r in two], [r.score for r in exact], atol=1e-5)
    np.testing.assert_allclose(
        [r.prior_share for r in two], [r.prior_share for r in exact], atol=1e-5
    )


def test_gathered_candidates_find_the_exact_top_list(small_model):
    hits = total = 0
    for seed in range(12):
        rows, scores = history(seed, [5, 50, 300][seed % 3])
        nbr = candidates.brute_content_neighbours(small_model["tfidf_matrix"], rows, 20)
        exact = call(hybrid.recommend, small_model, rows, scores)
        two = call(twophase.recommend, small_model, rows, scores, content_nbr_idx=nbr)
        assert not set(rows.tolist()) & {r.row for r in two}
        hits += len({r.row for r in exact} & {r.row for r in two})
        total += len(exact)
    assert hits / total >= 0.95


def test_the_subset_is_scored_not_the_catalog(small_model, monkeypatch):
    rows, scores = history(1, 20)
    seen = []
    real = hybrid.score_parts

    def spy(arrays, **kwargs):
        scored = kwargs.get("score_rows")
        seen.append(kwargs["tfidf_matrix"].shape[0] if scored is None else len(scored))
        return real(arrays, **kwargs)

    monkeypatch.setattr(hybrid, "score_parts", spy)
    limits = candidates.CandidateLimits(
        cf_max=10, content_k=0, max_liked=0, term_rows=10, prior_head=5, safe_max_rows=50
    )
    call(twophase.recommend, small_model, rows, scores, limits=limits)
    assert seen and max(seen) <= limits.max_scored + len(rows) < 800


def test_auto_picks_exact_for_small_catalogs():
    assert not twophase.use_two_phase("auto", 3_000)
    assert not twophase.use_two_phase("auto", 100_000)  # about even there (docs/benchmarks.md)
    assert twophase.use_two_phase("auto", twophase.AUTO_MIN_ROWS)
    assert twophase.use_two_phase("two_phase", 10)
    assert not twophase.use_two_phase("exact", 10_000_000)
    with pytest.raises(ValueError, match="RECS_SERVING must be one of"):
        twophase.use_two_phase("fast", 10)


def test_a_bad_setting_is_a_clear_configuration_error(start_django):
    proc = start_django(RECS_SERVING="fastest")
    assert proc.returncode != 0
    assert "ImproperlyConfigured" in proc.stderr
    assert "RECS_SERVING must be exact, two_phase or auto (got 'fastest')" in proc.stderr


@pytest.mark.django_db
def test_a_bad_override_is_refused_at_serving_time(catalog, space_fan):
    builds.build_model(triggered_by="test")
    with override_settings(RECS_SERVING="quick"), pytest.raises(ImproperlyConfigured):
        pipeline.recommend_for_user(user=space_fan)


@pytest.mark.django_db
def test_pipeline_serves_the_same_list_two_phase(catalog, space_fan, co_raters, monkeypatch):
    builds.build_model(triggered_by="test")
    with override_settings(RECS_SERVING="exact"):
        exact = pipeline.recommend_for_user(user=space_fan, top_n=8)
    used = []
    real = twophase.recommend
    monkeypatch.setattr(twophase, "recommend", lambda *a, **kw: used.append(1) or real(*a, **kw))
    with override_settings(RECS_SERVING="two_phase"):
        two = pipeline.recommend_for_user(user=space_fan, top_n=8)
    assert used  # the two-phase path ran
    assert two.strategy == exact.strategy
    assert [i.movie.pk for i in two.items] == [i.movie.pk for i in exact.items]
    assert [i.explanation for i in two.items] == [i.explanation for i in exact.items]
    assert two.predictions == exact.predictions


@pytest.mark.parametrize("n_liked", [1, 2])
def test_the_safe_step_proves_the_exact_list_for_few_ratings(small_model, n_liked):
    # Heuristic sources cut to almost nothing: the exact list must come from the bounds.
    limits = candidates.CandidateLimits(
        cf_max=5, content_k=0, term_rows=0, common_rows=0, prior_head=20
    )
    proven = 0
    for seed in range(25):
        rng = np.random.default_rng(100 + seed)
        rows = rng.choice(800, 5, replace=False)
        scores = np.array([5.0, 4.5, 2.0, 1.0, 3.0])
        scores[n_liked:2] = 3.5  # 1 or 2 liked, two below 2.5
        stats = {}
        exact = call(hybrid.recommend, small_model, rows, scores)
        two = call(twophase.recommend, small_model, rows, scores, limits=limits, stats=stats)
        if stats["proven"]:
            proven += 1
            assert [r.row for r in two] == [r.row for r in exact]
            np.testing.assert_allclose([r.score for r in two], [r.score for r in exact], atol=1e-5)
    assert proven >= 20


def test_without_the_bounds_the_cut_sources_miss(small_model):
    # The same cut sources with the safe step starved: the list is no longer the exact one,
    # so the test above is not passing by the heuristic alone.
    limits = candidates.CandidateLimits(
        cf_max=5,
        content_k=0,
        term_rows=0,
        common_rows=0,
        prior_head=20,
        safe_postings_budget=0,
    )
    misses = 0
    for seed in range(25):
        rng = np.random.default_rng(100 + seed)
        rows = rng.choice(800, 5, replace=False)
        scores = np.array([5.0, 4.5, 2.0, 1.0, 3.0])
        stats = {}
        exact = call(hybrid.recommend, small_model, rows, scores)
        two = call(twophase.recommend, small_model, rows, scores, limits=limits, stats=stats)
        assert not stats["proven"]
        misses += [r.row for r in two] != [r.row for r in exact]
    assert misses >= 10
