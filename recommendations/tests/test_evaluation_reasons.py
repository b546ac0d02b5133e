"""The list checks of ``manage.py evaluate``: tied runs and true reasons."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations import evaluation, evaluation_reasons, hybrid, tfidf


def test_longest_tied_run():
    assert evaluation_reasons.longest_tied_run([]) == 0
    assert evaluation_reasons.longest_tied_run([0.9, 0.8, 0.7]) == 1
    assert evaluation_reasons.longest_tied_run([0.9, 0.6, 0.6, 0.6, 0.6, 0.5]) == 4


def _ctx():
    soups = [
        "space rocket alien galaxy",
        "space alien invasion galaxy",
        "space rocket astronaut moon",
        "romance wedding love paris",
        "romance love letter paris",
        "heist bank robbery crew",
        "heist casino robbery vegas",
        "drama",
        "drama",
        "drama",
        "drama",
        "drama",
    ]
    items = [
        evaluation.CatalogItem(
            movielens_id=i, tmdb_id=i, title=f"m{i}", genres=(), keywords=(), overview=s,
            popularity=1.0, vote_count=0, vote_average=0.0,
        )
        for i, s in enumerate(soups)
    ]  # fmt: skip
    catalog = evaluation.Catalog(items)
    splits = [
        evaluation.UserSplit(
            user_id=u,
            history_rows=np.array([0, 3, 7]),
            history_scores=np.array([5.0, 4.5, 4.0]),
            test_rows=np.array([1]),
            relevant_rows=np.array([1]),
            test_scores=np.array([5.0]),
        )
        for u in range(3)
    ]
    return evaluation.EvalContext(
        catalog=catalog,
        splits=splits,
        history=evaluation.history_matrix(splits, len(catalog)),
        k=8,
        tfidf_model=tfidf.fit_tfidf(soups, tfidf.TfidfParams(min_df=1, max_df=1.0)),
        hybrid_params=hybrid.HybridParams(richness_strength=0.0),
    )


def test_check_lists_counts_tied_tails_and_checks_the_named_reason():
    ctx = _ctx()
    checks = evaluation_reasons.check_lists(ctx, "production", collab=False)
    # The four "drama" rows left tie (same text, same prior): every list has a run of 4.
    assert checks.lists == 3 and checks.tied_lists == 3
    assert checks.named > 0 and checks.named_top == checks.named
    assert checks.summary()["named_is_top"] == 1.0


def test_top_contributor_is_the_liked_row_whose_removal_costs_most():
    ctx = _ctx()
    m = ctx.tfidf_model
    arrays = hybrid.fit(
        tfidf_matrix=m.matrix,
        ratings=sp.csr_matrix((1, 12)),
        tmdb_popularity=np.ones(12),
        params=hybrid.HybridParams(collab=False),
    )
    top = evaluation_reasons.top_contributor(
        arrays,
        tfidf_matrix=m.matrix,
        rows=np.array([0, 3]),
        scores=np.array([5.0, 5.0]),
        target=4,
        like=4.0,
    )
    assert top == 3  # the romance the user liked, not the space movie


def test_contributions_add_up_to_the_score():
    """The history rows' shares are the score's own parts: what they leave is exactly the
    prior, or less when a disliked profile pushes the movie down."""
    ctx = _ctx()
    m = ctx.tfidf_model
    site = sp.csr_matrix(np.array([[5.0, 4.5, 0, 4.0, 0, 0, 0, 0, 0, 0, 0, 0]] * 6))
    arrays = hybrid.fit(
        tfidf_matrix=m.matrix,
        ratings=site,
        tmdb_popularity=np.linspace(0.1, 1.0, 12),
        params=hybrid.HybridParams(site_half_ratings=1, prior_site_half_ratings=1),
    )
    for rows, scores, disliked in [
        (np.array([0, 3]), np.array([5.0, 4.0]), False),
        (np.array([0, 3, 5]), np.array([5.0, 4.0, 1.5]), True),
    ]:
        parts = hybrid.score_parts(
            arrays, tfidf_matrix=m.matrix, history_rows=rows, history_scores=scores
        )
        prior = np.asarray(arrays["prior"]) * parts.prior_weight
        for target in (1, 2, 4):
            contrib, rest = evaluation_reasons.contributions(
                arrays, tfidf_matrix=m.matrix, rows=rows, scores=scores, target=target
            )
            assert contrib.sum() > 0
            if disliked:  # the disliked profile only pushes down
                assert rest <= prior[target] + 1e-6
            else:  # what the history rows do not explain is exactly the prior
                assert rest == pytest.approx(float(prior[target]), abs=1e-5)
