"""The scoring step of serving: a user's ratings placed on the model's rows, scored into
ranked candidates.

Pure numpy over the loaded model's arrays (no Django, no database): the pipeline
(:mod:`recommendations.pipeline`) gathers the ratings and loads the movies; here the served
strategies' scorers turn ``(model, history)`` into :class:`Candidate` rows, best first, with the
liked rows that explain each one. Explanations in words are :mod:`recommendations.explain`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from . import hybrid, tfidf, twophase

if TYPE_CHECKING:
    from .loading import LoadedModel

# How many liked movies the TF-IDF scorer names as "Because you liked ...".
BECAUSE_K = 3


@dataclass(frozen=True)
class UserRatings:
    """Step 1 of the pipeline: the user's ratings, ``(movie id, score)`` in database order."""

    ratings: tuple[tuple[int, float], ...]
    like_threshold: float
    # Marks that are not ratings, as the pseudo-scores the model reads them with: watchlisted
    # movies as mild interest (below the like threshold, so never "because you liked"),
    # hidden ones as a dislike. They are never counted as ratings.
    marks: tuple[tuple[int, float], ...] = ()

    @property
    def total(self) -> int:
        return len(self.ratings)

    @cached_property
    def rated_ids(self) -> frozenset[int]:
        return frozenset(movie_id for movie_id, _ in self.ratings)

    @cached_property
    def marked_ids(self) -> frozenset[int]:
        return frozenset(movie_id for movie_id, _ in self.marks)

    @cached_property
    def signals(self) -> tuple[tuple[int, float], ...]:
        """What the model learns the user's taste from: the ratings, then the marks of movies
        they have not rated (a rating says more than a mark)."""
        rated = self.rated_ids
        return self.ratings + tuple((mid, s) for mid, s in self.marks if mid not in rated)

    @cached_property
    def liked(self) -> tuple[tuple[int, float], ...]:
        """The ratings at or above the like threshold."""
        return tuple((mid, s) for mid, s in self.ratings if s >= self.like_threshold)


@dataclass
class ModelHistory:
    """The user's ratings (and marks) on the model's rows: movies newer than the model are
    left out."""

    model: LoadedModel
    rows: np.ndarray  # rows of the rated movies the model knows, in rating order
    scores: np.ndarray  # their scores (float64)
    like_threshold: float

    @classmethod
    def of(cls, model: LoadedModel, ratings: UserRatings) -> ModelHistory:
        signals = ratings.signals  # ratings and the watchlist/hidden marks
        n = len(signals)
        ids = np.fromiter((mid for mid, _ in signals), dtype=np.int64, count=n)
        scores = np.fromiter((s for _, s in signals), dtype=np.float64, count=n)
        rows, found = model.rows_for(ids)
        return cls(
            model=model, rows=rows, scores=scores[found], like_threshold=ratings.like_threshold
        )

    @cached_property
    def _liked_mask(self) -> np.ndarray:
        return self.scores >= self.like_threshold

    @property
    def liked_rows(self) -> np.ndarray:
        return self.rows[self._liked_mask]

    @property
    def liked_weights(self) -> np.ndarray:
        return self.scores[self._liked_mask]

    @property
    def has_liked(self) -> bool:
        """Whether the model knows at least one liked movie (else nothing to start from)."""
        return bool(self._liked_mask.any())

    @cached_property
    def profile(self):
        """The rating-weighted TF-IDF profile of the liked movies: the content scorer's query
        and the source of the "shared: ..." terms of every personal strategy."""
        return tfidf.user_profile(self.model.matrix, self.liked_rows, self.liked_weights)


@dataclass(frozen=True)
class Candidate:
    """One scored row, before it is explained."""

    row: int
    score: float
    because_rows: tuple[int, ...]  # liked rows that contributed most, best first
    # Share of the score that comes from the popularity prior; None when the scorer has no
    # prior (TF-IDF alone), so no "Popular and well rated" wording applies.
    prior_share: float | None
    # Share of the score from the collaborative part (0 for scorers without one).
    cf_share: float = 0.0


def blend_candidates(
    *,
    model: LoadedModel,
    history: ModelHistory,
    n: int,
    exclude_rows: Sequence[int] = (),
    two_phase: bool = False,
    pick: hybrid.Pick | None = None,
) -> list[Candidate]:
    """The hybrid blend (``hybrid.recommend``, what ``manage.py evaluate`` measures as
    ``production``), fed with *every* rating so low ones push similar movies down.

    ``two_phase``: the same blend on a bounded candidate set (:mod:`recommendations.twophase`,
    measured as ``production_two_phase``) instead of every row. ``pick``: the re-rank of the
    top ``n`` (``hybrid.recommend_from_parts``); only the picks are explained."""
    extra = {}
    if two_phase:
        extra["content_nbr_idx"] = model.arrays.get("content_nbr_idx")
    recs = (twophase.recommend if two_phase else hybrid.recommend)(
        model.hybrid,
        tfidf_matrix=model.matrix,
        history_rows=history.rows,  # every rating: low ones push similar movies down
        history_scores=history.scores,
        n=n,
        exclude_rows=exclude_rows,
        tfidf_row_norms=model.row_norms,
        tfidf_matrix_t=model.matrix_t,
        neighbours=model.neighbours,
        pick=pick,
        **extra,
    )
    return [
        Candidate(
            row=r.row,
            score=r.score,
            because_rows=tuple(r.because),
            prior_share=r.prior_share,
            cf_share=r.cf_share,
        )
        for r in recs
    ]


def tfidf_candidates(
    *, model: LoadedModel, history: ModelHistory, n: int, exclude_rows: Sequence[int] = ()
) -> list[Candidate]:
    """Cosine of every movie to the liked profile, for versions built before the hybrid.

    A movie with nothing in common with the profile (cosine 0) is not a candidate. Its
    "because" rows are the liked movies that contribute most to its score.
    """
    liked_rows, weights = history.liked_rows, history.liked_weights
    scores = tfidf.cosine_scores(
        model.matrix, history.profile, model.row_norms, matrix_t=model.matrix_t
    )
    best = tfidf.top_n(scores, exclude_rows, n)
    best = best[scores[best] > 0]  # nothing in common at all is not a recommendation
    if len(best) == 0:
        return []
    contrib = tfidf.contributions(model.matrix, liked_rows, weights, best)
    candidates = []
    for i, row in enumerate(best):
        order = np.lexsort((np.arange(len(liked_rows)), -contrib[i]))[:BECAUSE_K]
        because = tuple(int(liked_rows[j]) for j in order if contrib[i, j] > 0)
        candidates.append(
            Candidate(
                row=int(row), score=float(scores[row]), because_rows=because, prior_share=None
            )
        )
    return candidates


def content_candidates(
    *,
    model: LoadedModel,
    history: ModelHistory,
    n: int,
    exclude_rows: Sequence[int] = (),
    two_phase: bool = False,
    pick: hybrid.Pick | None = None,
) -> list[Candidate]:
    """Content + popularity without a collaborative part: the hybrid blend of a model built
    without one, or TF-IDF alone for a version built before the hybrid (always exact).
    ``pick``: as :func:`blend_candidates`."""
    if model.hybrid is not None:
        return blend_candidates(
            model=model,
            history=history,
            n=n,
            exclude_rows=exclude_rows,
            two_phase=two_phase,
            pick=pick,
        )
    found = tfidf_candidates(model=model, history=history, n=n, exclude_rows=exclude_rows)
    if pick is None or not found:
        return found
    chosen = pick(np.array([c.row for c in found]), np.array([c.score for c in found]))
    return [found[i] for i in chosen]
