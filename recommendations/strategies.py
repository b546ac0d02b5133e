"""Every recommendation strategy, in one registry the site and ``manage.py evaluate`` share.

A :class:`Strategy` has a ``name`` (what the API returns in ``strategy`` and what the
evaluation table and ``report.json`` print), a people-facing ``label`` and ``description``,
whether the site serves it, and its ``scorer``:

* served personal strategies (``hybrid``, ``content_based``) score candidates:
  ``scorer(*, model, history, n, exclude_rows, two_phase, pick) -> list[scoring.Candidate]``
  (``pick``: the diversity re-rank of the top ``n``, see ``pipeline.rerank``);
* the served fallback (``popularity_fallback``) returns its finished list:
  ``scorer(*, model, exclude_ids, n) -> list[explain.RecommendedMovie]``;
* evaluation-only strategies rank catalog rows offline:
  ``scorer(ctx: evaluation.EvalContext) -> list[np.ndarray]`` (one list per user).

``evaluated_as`` names the evaluation strategy that measures a served one's code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from . import evaluation, fallbacks, scoring


@dataclass(frozen=True)
class Strategy:
    name: str
    label: str
    description: str
    served: bool
    scorer: Callable
    evaluated_as: str = ""

    def __str__(self) -> str:
        return self.name

    @property
    def evaluation_only(self) -> bool:
        return not self.served

    def evaluate(self, ctx: evaluation.EvalContext) -> evaluation.StrategyResult:
        """Run an evaluation-only strategy on a prepared evaluation context."""
        if self.served:
            raise ValueError(
                f"{self.name!r} is served, not evaluated; "
                f"evaluate {self.evaluated_as!r} (the same code) instead"
            )
        return evaluation.run_strategy(ctx, self.name, self.scorer)


HYBRID = Strategy(
    name="hybrid",
    label="Hybrid: content, collaborative and popularity",
    description=(
        "Picked from movies like the ones you liked and from what members who rate like you "
        "enjoyed; movies like the ones you rated below 2.5 are pushed down."
    ),
    served=True,
    scorer=scoring.blend_candidates,
    evaluated_as="production",
)
CONTENT_BASED = Strategy(
    name="content_based",
    label="Content-based: genres, keywords, cast, director and popularity",
    description=(
        "Picked from movies like the ones you liked (genres, keywords, cast, director) and "
        "well-liked movies; movies like the ones you rated below 2.5 are pushed down."
    ),
    served=True,
    scorer=scoring.content_candidates,
    evaluated_as="production_no_collab",
)
POPULARITY_FALLBACK = Strategy(
    name="popularity_fallback",
    label="Popular picks (not personal yet)",
    description=(
        "Movies popular with members here and well rated on TMDB (without a model: the most "
        "rated and most popular movies) that you have not rated."
    ),
    served=True,
    scorer=fallbacks.fallback_movies,
    evaluated_as="cold_start",
)

_EVALUATION_ONLY = (
    Strategy(
        name="popularity",
        label="Most rated on the site",
        description="Movies ranked by their number of (history) ratings on the site.",
        served=False,
        scorer=evaluation.strategy_popularity,
    ),
    Strategy(
        name="tmdb_popularity",
        label="TMDB popularity",
        description="TMDB's popularity field: what a site without ratings could show.",
        served=False,
        scorer=evaluation.strategy_tmdb_popularity,
    ),
    Strategy(
        name="content_tfidf",
        label="TF-IDF content (reference design)",
        description=(
            "Cosine to the rating-weighted mean of the liked movies' TF-IDF rows; site "
            "popularity for users with nothing liked."
        ),
        served=False,
        scorer=evaluation.strategy_content_tfidf,
    ),
    Strategy(
        name="item_knn",
        label="Item-item collaborative filtering",
        description="Sum of binary co-rating cosine similarities to every rated movie.",
        served=False,
        scorer=evaluation.strategy_item_knn,
    ),
    Strategy(
        name="ease_tfidf",
        label="EASE plus TF-IDF content",
        description="EASE (l2=500, rating values) + 0.1 x TF-IDF cosine, each scaled to max 1.",
        served=False,
        scorer=evaluation.strategy_ease_tfidf,
    ),
    Strategy(
        name="cold_start",
        label="The site's fallback list",
        description="The hybrid's popularity prior, the same list for every user.",
        served=False,
        scorer=evaluation.strategy_cold_start,
    ),
    Strategy(
        name="production_no_collab",
        label="The site's blend without collaborative filtering",
        description="The production blend on a site that learns nothing from co-ratings.",
        served=False,
        scorer=evaluation.strategy_production_no_collab,
    ),
    Strategy(
        name="production",
        label="What the site serves",
        description="hybrid.py with the site's (or a model version's) parameters.",
        served=False,
        scorer=evaluation.strategy_production,
    ),
    Strategy(
        name="production_two_phase",
        label="What the site serves, two-phase",
        description=(
            "The production blend scored on a bounded candidate set (collaborative and content "
            "neighbours, the best movies over the profile's terms, the prior's head): "
            "RECS_SERVING=two_phase."
        ),
        served=False,
        scorer=evaluation.strategy_production_two_phase,
    ),
    Strategy(
        name="production_mmr",
        label="What the site serves, MMR re-rank (lambda 0.9)",
        description="The production top 50 re-ranked by maximal marginal relevance.",
        served=False,
        scorer=evaluation.strategy_production_mmr,
    ),
    Strategy(
        name="production_mmr_strong",
        label="What the site serves, MMR re-rank (lambda 0.7)",
        description="The production top 50 re-ranked by MMR, a stronger diversity weight.",
        served=False,
        scorer=evaluation.strategy_production_mmr_strong,
    ),
)

REGISTRY: Mapping[str, Strategy] = MappingProxyType(
    {s.name: s for s in (HYBRID, CONTENT_BASED, POPULARITY_FALLBACK, *_EVALUATION_ONLY)}
)


def get(name: str) -> Strategy:
    """The strategy called ``name``; ``KeyError`` naming the known ones otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown strategy {name!r}; known: {', '.join(REGISTRY)}") from None


def served() -> tuple[Strategy, ...]:
    """What the site can serve (and the API can return as ``strategy``)."""
    return tuple(s for s in REGISTRY.values() if s.served)


def evaluation_strategies() -> tuple[Strategy, ...]:
    """What ``manage.py evaluate`` runs, in the order of its table."""
    return tuple(s for s in REGISTRY.values() if s.evaluation_only)


def evaluation_names() -> tuple[str, ...]:
    return tuple(s.name for s in evaluation_strategies())
