"""The scoring step on a tiny TF-IDF model (pure: no database, no Django)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from recommendations import scoring, tfidf
from recommendations.loading import LoadedModel
from recommendations.scoring import ModelHistory, UserRatings

SOUPS = [
    "space alien rocket",
    "space alien galaxy",
    "space rocket galaxy",
    "love paris wedding",
    "love paris kiss",
    "heist bank mafia",
]
IDS = np.array([10, 20, 30, 40, 50, 60], dtype=np.int64)


def tiny_model() -> LoadedModel:
    fitted = tfidf.fit_tfidf(SOUPS, tfidf.TfidfParams(min_df=1, stop_words=None))
    return LoadedModel(
        version_id=1,
        matrix=fitted.matrix,
        movie_ids=IDS,
        feature_names=fitted.feature_names,
        row_norms=tfidf.compute_row_norms(fitted.matrix),
        arrays={},
        matrix_t=tfidf.transpose(fitted.matrix),
    )


def test_history_keeps_the_movies_the_model_knows_in_rating_order():
    ratings = UserRatings(ratings=((20, 5.0), (999, 5.0), (40, 1.5), (10, 4.0)), like_threshold=4)
    assert ratings.total == 4 and ratings.rated_ids == {10, 20, 40, 999}
    assert ratings.liked == ((20, 5.0), (999, 5.0), (10, 4.0))
    history = ModelHistory.of(tiny_model(), ratings)
    assert history.rows.tolist() == [1, 3, 0] and history.scores.tolist() == [5.0, 1.5, 4.0]
    assert history.liked_rows.tolist() == [1, 0] and history.liked_weights.tolist() == [5.0, 4.0]
    assert history.has_liked
    only_new = ModelHistory.of(tiny_model(), UserRatings(ratings=((999, 5.0),), like_threshold=4))
    assert not only_new.has_liked


def test_tfidf_candidates_rank_explain_and_skip_excluded_rows():
    model = tiny_model()
    history = ModelHistory.of(model, UserRatings(ratings=((10, 5.0), (20, 4.0)), like_threshold=4))
    found = scoring.tfidf_candidates(model=model, history=history, n=10, exclude_rows=[0, 1])
    assert found[0].row == 2  # the other space movie
    assert {c.row for c in found} == {2}  # nothing else shares a term with the space movies
    assert found[0].prior_share is None and set(found[0].because_rows) <= {0, 1}
    assert found[0].because_rows  # the liked movies it shares terms with
    skipped = scoring.tfidf_candidates(model=model, history=history, n=10, exclude_rows=[0, 1, 2])
    assert skipped == []


def test_content_candidates_use_tfidf_alone_without_hybrid_arrays(monkeypatch):
    model = tiny_model()
    history = ModelHistory.of(model, UserRatings(ratings=((10, 5.0),), like_threshold=4))
    calls = []
    monkeypatch.setattr(scoring, "blend_candidates", lambda **kw: calls.append("blend") or [])
    assert scoring.content_candidates(model=model, history=history, n=3, exclude_rows=[0])
    assert calls == []
    model.hybrid = {"prior": np.zeros(len(IDS))}
    assert scoring.content_candidates(model=model, history=history, n=3) == []
    assert calls == ["blend"]


def test_content_candidates_apply_the_pick_to_the_tfidf_list():
    model = tiny_model()
    history = ModelHistory.of(model, UserRatings(ratings=((10, 5.0),), like_threshold=4))
    full = scoring.content_candidates(model=model, history=history, n=3, exclude_rows=[0])
    assert len(full) == 2
    seen = []

    def pick(rows, scores):
        seen.append((list(rows), list(scores)))
        return [1]

    picked = scoring.content_candidates(
        model=model, history=history, n=3, exclude_rows=[0], pick=pick
    )
    assert picked == [full[1]]
    assert seen == [([c.row for c in full], [c.score for c in full])]


def test_module_has_no_django_imports():
    text = Path(scoring.__file__).read_text()
    assert not re.search(r"^\s*(from|import)\s+django", text, re.MULTILINE)
