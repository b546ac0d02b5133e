"""Offline evaluation of recommenders: the protocol (catalog, per-user temporal split) and metrics.

Pure Python/numpy, no Django imports, so it is tested on tiny hand-made data without a database
and the `evaluate` management command stays a thin wrapper around it.

Protocol (the defaults are the ones documented in docs/evaluation.md):

* Catalog: the MovieLens movies (links.csv, by tmdbId) that have TMDB metadata. Catalog rows are
  numbered in links.csv order, which is also MovieLens movieId order.
* Per user: their ratings on catalog movies sorted by (timestamp, movieId) -- movieId breaks ties
  so the split never depends on file order. Users with fewer than ``min_ratings`` are dropped.
* The first ``floor(n * history_fraction)`` ratings are the history, the rest the test.
* Relevant = test items rated >= ``relevant_threshold``; users with no relevant item are skipped.
* Every strategy returns the top ``k`` catalog rows, history excluded.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recommendations import candidates, collab, diversity, hybrid, predict, tfidf, twophase

# Content neighbours per movie the two-phase strategy reads (what a build stores).
CONTENT_NEIGHBOURS_K = 50

# ---------------------------------------------------------------------------------------------
# Data loading
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogItem:
    """One catalog movie with the TMDB fields the recommenders use."""

    movielens_id: int
    tmdb_id: int
    title: str
    genres: tuple[str, ...]
    keywords: tuple[str, ...]
    overview: str
    popularity: float
    vote_count: int
    vote_average: float
    cast: tuple[str, ...] = ()
    directors: tuple[str, ...] = ()


@dataclass
class Catalog:
    items: list[CatalogItem]
    row_by_movielens_id: dict[int, int] = field(default_factory=dict)

    def __post_init__(self):
        if not self.row_by_movielens_id:
            self.row_by_movielens_id = {it.movielens_id: i for i, it in enumerate(self.items)}

    def __len__(self) -> int:
        return len(self.items)


def _names(value) -> tuple[str, ...]:
    """TMDB lists come as [{"name": ...}] or, for keywords, {"keywords": [{"name": ...}]}."""
    if isinstance(value, dict):
        value = value.get("keywords") or value.get("results") or []
    return tuple(str(v["name"]) for v in value or [] if isinstance(v, dict) and v.get("name"))


def _credits(details: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    credits = details.get("credits") or {}
    cast = sorted(credits.get("cast") or [], key=lambda c: c.get("order", 0))
    cast_names = tuple(c["name"] for c in cast if c.get("name"))
    directors = tuple(
        c["name"] for c in credits.get("crew") or [] if c.get("job") == "Director" and c.get("name")
    )
    return cast_names, directors


def load_catalog(*, links_path: Path | str, tmdb_path: Path | str) -> Catalog:
    """Catalog = links.csv rows whose tmdbId has a record in the TMDB JSONL file."""
    details: dict[int, dict] = {}
    with open(tmdb_path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{tmdb_path}:{line_no}: not valid JSON ({exc.msg})") from exc
            if "id" in record:
                details[int(record["id"])] = record

    items: list[CatalogItem] = []
    seen_tmdb: set[int] = set()
    with open(links_path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"movieId", "tmdbId"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{links_path}: missing column(s) {', '.join(sorted(missing))}")
        for row in reader:
            tmdb_raw = (row.get("tmdbId") or "").strip()
            if not tmdb_raw:
                continue
            tmdb_id = int(float(tmdb_raw))
            record = details.get(tmdb_id)
            # Two MovieLens ids pointing at one TMDB movie would be the same catalog item twice.
            if record is None or tmdb_id in seen_tmdb:
                continue
            seen_tmdb.add(tmdb_id)
            cast, directors = _credits(record)
            items.append(
                CatalogItem(
                    movielens_id=int(row["movieId"]),
                    tmdb_id=tmdb_id,
                    title=str(record.get("title") or ""),
                    genres=_names(record.get("genres")),
                    keywords=_names(record.get("keywords")),
                    overview=str(record.get("overview") or ""),
                    popularity=float(record.get("popularity") or 0.0),
                    vote_count=int(record.get("vote_count") or 0),
                    vote_average=float(record.get("vote_average") or 0.0),
                    cast=cast,
                    directors=directors,
                )
            )
    return Catalog(items=items)


@dataclass(frozen=True)
class Ratings:
    """Ratings restricted to the catalog, as parallel arrays."""

    user_ids: np.ndarray  # int64
    rows: np.ndarray  # int64 catalog rows
    scores: np.ndarray  # float64
    timestamps: np.ndarray  # int64


def load_ratings(*, ratings_path: Path | str, catalog: Catalog) -> Ratings:
    """Read a MovieLens ratings CSV, keeping only ratings of catalog movies."""
    users, rows, scores, stamps = [], [], [], []
    lookup = catalog.row_by_movielens_id
    with open(ratings_path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"userId", "movieId", "rating", "timestamp"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{ratings_path}: missing column(s) {', '.join(sorted(missing))}")
        for row in reader:
            r = lookup.get(int(row["movieId"]))
            if r is None:
                continue
            users.append(int(row["userId"]))
            rows.append(r)
            scores.append(float(row["rating"]))
            stamps.append(int(float(row["timestamp"])))
    return Ratings(
        user_ids=np.asarray(users, dtype=np.int64),
        rows=np.asarray(rows, dtype=np.int64),
        scores=np.asarray(scores, dtype=np.float64),
        timestamps=np.asarray(stamps, dtype=np.int64),
    )


# ---------------------------------------------------------------------------------------------
# Protocol
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProtocolParams:
    min_ratings: int = 10
    history_fraction: float = 0.8
    relevant_threshold: float = 4.0
    k: int = 10


@dataclass(frozen=True)
class UserSplit:
    user_id: int
    history_rows: np.ndarray
    history_scores: np.ndarray
    test_rows: np.ndarray
    relevant_rows: np.ndarray
    test_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))


def history_length(n: int, fraction: float) -> int:
    """How many of a user's n ratings form the history: floor, so the test is never empty.

    A small epsilon keeps float noise (e.g. 0.8 * 10 = 7.999...) from losing a rating.
    """
    return min(n - 1, max(1, math.floor(n * fraction + 1e-9)))


def split_users(ratings: Ratings, params: ProtocolParams = ProtocolParams()) -> list[UserSplit]:
    """Temporal per-user split; users ordered by id. Deterministic for the same input."""
    if not 0 < params.history_fraction < 1:
        raise ValueError("history_fraction must be between 0 and 1 (exclusive)")
    # Sort by user, then time, then catalog row (= movieId order) for ties.
    order = np.lexsort((ratings.rows, ratings.timestamps, ratings.user_ids))
    users = ratings.user_ids[order]
    rows = ratings.rows[order]
    scores = ratings.scores[order]
    boundaries = np.flatnonzero(np.diff(users)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(users)]))
    splits: list[UserSplit] = []
    for start, end in zip(starts, ends, strict=True):
        n = end - start
        if n < params.min_ratings:
            continue
        h = history_length(n, params.history_fraction)
        u_rows, u_scores = rows[start:end], scores[start:end]
        test_rows, test_scores = u_rows[h:], u_scores[h:]
        relevant = test_rows[test_scores >= params.relevant_threshold]
        if relevant.size == 0:
            continue
        splits.append(
            UserSplit(
                user_id=int(users[start]),
                history_rows=u_rows[:h].copy(),
                history_scores=u_scores[:h].copy(),
                test_rows=test_rows.copy(),
                relevant_rows=np.unique(relevant),
                test_scores=test_scores.copy(),
            )
        )
    return splits


def history_matrix(splits: Sequence[UserSplit], n_items: int) -> sp.csr_matrix:
    """User x item CSR matrix of history ratings only (what collaborative models may learn)."""
    indptr = np.zeros(len(splits) + 1, dtype=np.int64)
    np.cumsum([len(s.history_rows) for s in splits], out=indptr[1:])
    if splits:
        indices = np.concatenate([s.history_rows for s in splits])
        data = np.concatenate([s.history_scores for s in splits])
    else:
        indices, data = np.zeros(0, np.int64), np.zeros(0)
    matrix = sp.csr_matrix((data, indices, indptr), shape=(len(splits), n_items))
    matrix.sum_duplicates()
    return matrix


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------


def top_k_excluding(scores: np.ndarray, exclude: Iterable[int], k: int) -> np.ndarray:
    """The k highest-scoring rows, excluded rows removed; ties broken by lower row (stable)."""
    scores = np.array(scores, dtype=np.float64, copy=True)
    exclude = np.asarray(list(exclude) if not isinstance(exclude, np.ndarray) else exclude)
    if exclude.size:
        scores[exclude.astype(np.int64)] = -np.inf
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    # argpartition then a stable sort of the candidates: deterministic tie-breaking by row.
    candidates = np.argpartition(-scores, k - 1)[:k] if k < scores.size else np.arange(scores.size)
    threshold = scores[candidates].min()
    candidates = np.flatnonzero(scores >= threshold)
    ranked = candidates[np.lexsort((candidates, -scores[candidates]))]
    return ranked[:k].astype(np.int64)


@dataclass(frozen=True)
class UserMetrics:
    precision: float
    recall: float
    ndcg: float
    hit: int


def user_metrics(recommended: Sequence[int], relevant: Iterable[int], k: int) -> UserMetrics:
    """Precision@k, Recall@k, binary NDCG@k and hit for one user's ranked list."""
    relevant_set = set(int(r) for r in relevant)
    if not relevant_set:
        raise ValueError("a user with no relevant item cannot be evaluated")
    recommended = [int(r) for r in list(recommended)[:k]]
    gains = np.array([1.0 if r in relevant_set else 0.0 for r in recommended])
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float((gains * discounts[: len(gains)]).sum())
    idcg = float(discounts[: min(len(relevant_set), k)].sum())
    hits = int(gains.sum())
    return UserMetrics(
        precision=hits / k,
        recall=hits / len(relevant_set),
        ndcg=dcg / idcg,
        hit=int(hits > 0),
    )


@dataclass(frozen=True)
class StrategyResult:
    strategy: str
    precision: float
    recall: float
    ndcg: float
    hit_rate: float
    coverage: float
    users: int
    per_user: list[tuple[int, UserMetrics]] = field(repr=False, default_factory=list)
    # Mean intra-list diversity (1 - TF-IDF cosine) and novelty (bits); see diversity.py.
    ild: float | None = None
    novelty: float | None = None

    def summary(self) -> dict:
        extra = {}
        if self.ild is not None:
            extra = {"ild": round(self.ild, 6), "novelty": round(self.novelty or 0.0, 6)}
        return extra | {
            "strategy": self.strategy,
            "precision": round(self.precision, 6),
            "recall": round(self.recall, 6),
            "ndcg": round(self.ndcg, 6),
            "hit_rate": round(self.hit_rate, 6),
            "coverage": round(self.coverage, 6),
            "users": self.users,
        }


def evaluate_lists(
    *,
    strategy: str,
    splits: Sequence[UserSplit],
    recommendations: Sequence[Sequence[int]],
    n_items: int,
    k: int,
) -> StrategyResult:
    """Aggregate per-user metrics (mean over users) and catalog coverage of the union of lists."""
    if len(splits) != len(recommendations):
        raise ValueError("one recommendation list per evaluated user is required")
    per_user = [
        (s.user_id, user_metrics(recs, s.relevant_rows, k))
        for s, recs in zip(splits, recommendations, strict=True)
    ]
    recommended = set()
    for recs in recommendations:
        recommended.update(int(r) for r in list(recs)[:k])
    n = len(per_user)

    def mean(attr: str) -> float:
        return float(np.mean([getattr(m, attr) for _, m in per_user])) if n else 0.0

    return StrategyResult(
        strategy=strategy,
        precision=mean("precision"),
        recall=mean("recall"),
        ndcg=mean("ndcg"),
        hit_rate=mean("hit"),
        coverage=len(recommended) / n_items if n_items else 0.0,
        users=n,
        per_user=per_user,
    )


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------
# Every strategy maps a context to one ranked list of k catalog rows per user. They call the
# serving code (tfidf.py, hybrid.py) or a baseline model from collab.py; nothing here is a
# re-implementation of what the site runs. recommendations/strategies.py names them.


@dataclass
class EvalContext:
    """Everything the strategies share, built once per run (models learn from histories only)."""

    catalog: Catalog
    splits: list[UserSplit]
    history: sp.csr_matrix
    k: int
    tfidf_model: tfidf.TfidfModel | None = None
    cache: dict = field(default_factory=dict)
    # The production blend's parameters (a model version's, when evaluating one).
    hybrid_params: hybrid.HybridParams = field(default_factory=hybrid.HybridParams)

    @property
    def n_items(self) -> int:
        return len(self.catalog)


def build_soups(catalog: Catalog) -> list[str]:
    return [
        tfidf.build_soup(
            genres=it.genres,
            keywords=it.keywords,
            overview=it.overview,
            cast=it.cast,
            directors=it.directors,
        )
        for it in catalog.items
    ]


def make_context(
    catalog: Catalog,
    splits: list[UserSplit],
    k: int = 10,
    *,
    tfidf_params: tfidf.TfidfParams | None = None,
    hybrid_params: hybrid.HybridParams | None = None,
) -> EvalContext:
    """Shared state of a run. Without parameters: the defaults (the site's design); with a
    model version's parameters, the TF-IDF model and the production blend use those."""
    return EvalContext(
        catalog=catalog,
        splits=splits,
        history=history_matrix(splits, len(catalog)),
        k=k,
        tfidf_model=tfidf.fit_tfidf(build_soups(catalog), tfidf_params),
        hybrid_params=hybrid_params or hybrid.HybridParams(),
    )


def _fixed_ranking(ctx: EvalContext, scores: np.ndarray) -> list[np.ndarray]:
    return [top_k_excluding(scores, s.history_rows, ctx.k) for s in ctx.splits]


def strategy_popularity(ctx: EvalContext) -> list[np.ndarray]:
    """Most-rated on the site (number of history ratings per movie)."""
    counts = np.diff(sp.csc_matrix(ctx.history).indptr).astype(np.float64)
    return _fixed_ranking(ctx, counts)


def strategy_tmdb_popularity(ctx: EvalContext) -> list[np.ndarray]:
    """TMDB's `popularity` field (what a site without ratings could show)."""
    return _fixed_ranking(ctx, np.array([it.popularity for it in ctx.catalog.items]))


def strategy_content_tfidf(ctx: EvalContext, like_threshold: float = 4.0) -> list[np.ndarray]:
    """The reference content design: cosine to the rating-weighted mean of liked rows.

    Users with nothing liked in their history get the site's popularity fallback (most rated),
    as ``pipeline.recommend_for_user`` does.
    """
    m = ctx.tfidf_model
    fallback = np.diff(sp.csc_matrix(ctx.history).indptr).astype(np.float64)
    out = []
    for s in ctx.splits:
        liked = s.history_scores >= like_threshold
        if liked.any():
            profile = tfidf.user_profile(m.matrix, s.history_rows[liked], s.history_scores[liked])
            scores = tfidf.cosine_scores(m.matrix, profile, m.row_norms)
        else:
            scores = fallback
        out.append(tfidf.top_n(scores, s.history_rows, ctx.k))
    return out


def strategy_item_knn(ctx: EvalContext) -> list[np.ndarray]:
    """Item-item CF: sum of binary co-rating cosine similarities to every history movie."""
    neighbours = collab.cosine_neighbours(ctx.history, top_k=None, binary=True)
    out = []
    for s in ctx.splits:
        scores = collab.neighbour_scores(neighbours, s.history_rows, np.ones(len(s.history_rows)))
        out.append(top_k_excluding(scores, s.history_rows, ctx.k))
    return out


def strategy_ease_tfidf(
    ctx: EvalContext, l2: float = 500.0, content_weight: float = 0.1
) -> list[np.ndarray]:
    """EASE (l2=500, all items, rating values) + 0.1 x TF-IDF cosine, each scaled to max 1."""
    neighbours = collab.ease_neighbours(ctx.history, l2=l2, top_k=None, max_items=ctx.n_items)
    m = ctx.tfidf_model
    out = []
    for s in ctx.splits:
        e = collab.neighbour_scores(neighbours, s.history_rows, s.history_scores)
        scores = e / (np.abs(e).max() or 1.0)
        liked = s.history_scores >= 4.0
        if liked.any():
            profile = tfidf.user_profile(m.matrix, s.history_rows[liked], s.history_scores[liked])
            scores = scores + content_weight * tfidf.cosine_scores(m.matrix, profile, m.row_norms)
        out.append(top_k_excluding(scores, s.history_rows, ctx.k))
    return out


def fit_blend(ctx: EvalContext, params, *, two_phase: bool = False) -> tuple[dict, dict]:
    """The blend fitted on the histories, and the extra arguments of its ``recommend``: for
    two-phase, what a version stores at build time (content neighbours, brute force here and
    only for the rows some history likes; the term-major copy)."""
    m = ctx.tfidf_model
    arrays = hybrid.fit(
        tfidf_matrix=m.matrix,
        ratings=ctx.history,
        tmdb_popularity=tmdb_prior_for(ctx.catalog),
        params=params,
    )
    extra = {}
    if two_phase:
        liked = np.unique(
            np.concatenate(
                [s.history_rows[s.history_scores >= params.like_threshold] for s in ctx.splits]
                or [np.zeros(0, dtype=np.int64)]
            )
        )
        extra = {
            "tfidf_matrix_t": tfidf.transpose(m.matrix),
            "neighbours": hybrid.neighbour_matrix(arrays),
            "content_nbr_idx": candidates.brute_content_neighbours(
                m.matrix, liked, CONTENT_NEIGHBOURS_K, row_norms=m.row_norms
            ),
        }
    return arrays, extra


def _hybrid_lists(
    ctx: EvalContext, params, *, two_phase: bool = False, scores_out: list | None = None
) -> list[np.ndarray]:
    m = ctx.tfidf_model
    arrays, extra = fit_blend(ctx, params, two_phase=two_phase)
    recommend = twophase.recommend if two_phase else hybrid.recommend
    out = []
    for s in ctx.splits:
        recs = recommend(
            arrays,
            tfidf_matrix=m.matrix,
            tfidf_row_norms=m.row_norms,
            history_rows=s.history_rows,
            history_scores=s.history_scores,
            n=ctx.k,
            explain_k=0,  # explanations do not change the ranking; skip their cost here
            **extra,
        )
        out.append(np.array([r.row for r in recs], dtype=np.int64))
        if scores_out is not None:
            scores_out.append(np.array([r.score for r in recs], dtype=np.float64))
    return out


def tmdb_prior_for(catalog: Catalog) -> np.ndarray:
    """The hybrid's metadata prior for every catalog row (vote-count-damped TMDB rating)."""
    items = catalog.items
    return hybrid.tmdb_prior([it.vote_count for it in items], [it.vote_average for it in items])


def strategy_production(ctx: EvalContext) -> list[np.ndarray]:
    """What the site serves: hybrid.py with the context's parameters (defaults, or a version's)."""
    return _hybrid_lists(ctx, ctx.hybrid_params)


def strategy_production_two_phase(ctx: EvalContext) -> list[np.ndarray]:
    """What the site serves with ``RECS_SERVING=two_phase``: the production blend scored on a
    bounded candidate set only (recommendations/twophase.py)."""
    return _hybrid_lists(ctx, ctx.hybrid_params, two_phase=True)


def strategy_production_no_collab(ctx: EvalContext) -> list[np.ndarray]:
    """The production blend on a site that learns nothing from co-ratings (content + prior)."""
    return _hybrid_lists(ctx, replace(ctx.hybrid_params, collab=False))


def strategy_cold_start(ctx: EvalContext) -> list[np.ndarray]:
    """The production fallback for users with no history: the cold-start prior (popularity
    and a damped average; the site's genre/decade re-rank needs the database and is left out),
    the same list for all."""
    arrays = {"cold_prior": cold_start_prior_for(ctx)}
    return [
        np.array([r.row for r in hybrid.cold_start(arrays, n=ctx.k, exclude_rows=s.history_rows)])
        for s in ctx.splits
    ]


def cold_start_prior_for(ctx: EvalContext) -> np.ndarray:
    """The site's cold-start prior on the evaluation catalog (site = the histories)."""
    items = ctx.catalog.items
    return hybrid.cold_start_prior(
        popularity=[it.popularity for it in items],
        vote_count=[it.vote_count for it in items],
        vote_average=[it.vote_average for it in items],
        ratings=ctx.history,
    )


def run_strategy(ctx: EvalContext, name: str, scorer) -> StrategyResult:
    """Metrics of one strategy: ``scorer(ctx)`` ranks every user's list, reported as ``name``.

    The strategies themselves are named in ``recommendations.strategies`` (the one registry of
    the site and ``manage.py evaluate``); this module only knows how to measure them.
    """
    lists = scorer(ctx)
    result = evaluate_lists(
        strategy=name,
        splits=ctx.splits,
        recommendations=lists,
        n_items=ctx.n_items,
        k=ctx.k,
    )
    return with_diversity(ctx, result, lists)


def with_diversity(ctx: EvalContext, result: StrategyResult, lists) -> StrategyResult:
    """``result`` with the mean ILD and novelty of ``lists`` (novelty from the histories)."""
    m = ctx.tfidf_model
    if m is None or not lists:
        return result
    info = diversity.self_information(np.diff(sp.csc_matrix(ctx.history).indptr))
    top = [list(recs)[: ctx.k] for recs in lists]
    ild = np.mean([diversity.intra_list_diversity(m.matrix, r, m.row_norms) for r in top])
    nov = np.mean([diversity.novelty(r, info) for r in top])
    return replace(result, ild=float(ild), novelty=float(nov))


# MMR trade-off measured by `evaluate` (production_mmr*); 1.0 would be production itself.
MMR_LAMBDA = 0.9


def mmr_lists(
    ctx: EvalContext, *, lam: float = MMR_LAMBDA, two_phase: bool = False
) -> list[np.ndarray]:
    """The production blend's top ``diversity.MMR_POOL`` re-ranked by MMR into ``k``."""
    m = ctx.tfidf_model
    scores: list[np.ndarray] = []
    pooled = _hybrid_lists(
        replace(ctx, k=max(ctx.k, diversity.MMR_POOL)),
        ctx.hybrid_params,
        two_phase=two_phase,
        scores_out=scores,
    )
    out = []
    for rows, row_scores in zip(pooled, scores, strict=True):
        picks = diversity.mmr_rerank(
            rows, row_scores, matrix=m.matrix, n=ctx.k, lam=lam, row_norms=m.row_norms
        )
        out.append(np.asarray(rows, dtype=np.int64)[picks])
    return out


def strategy_production_mmr(ctx: EvalContext) -> list[np.ndarray]:
    """The production list re-ranked by MMR over its top 50 (diversity.mmr_rerank)."""
    return mmr_lists(ctx)


def strategy_production_mmr_strong(ctx: EvalContext) -> list[np.ndarray]:
    """As production_mmr with lambda 0.7: what a stronger re-rank would cost."""
    return mmr_lists(ctx, lam=0.7)


# ---------------------------------------------------------------------------------------------
# Rating prediction (RMSE / MAE on the held-out test ratings)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PredictionResult:
    predictor: str
    rmse: float
    mae: float
    ratings: int

    def summary(self) -> dict:
        return {"rmse": round(self.rmse, 6), "mae": round(self.mae, 6), "ratings": self.ratings}


def metadata_offset_for(catalog: Catalog) -> np.ndarray:
    """Per row, the metadata average in stars minus the catalog mean (the prior of b_i)."""
    items = catalog.items
    stars, mean = hybrid.metadata_stars(
        [it.vote_count for it in items], [it.vote_average for it in items]
    )
    return stars - mean


def evaluate_predictions(
    ctx: EvalContext, params: predict.PredictParams | None = None
) -> list[PredictionResult]:
    """RMSE and MAE of every test rating of every evaluated user, for

    * ``user_mean``: the user's mean history rating;
    * ``item_mean``: the movie's mean history rating on the site (the global mean if unrated);
    * ``baseline``: ``μ + b_u + b_i`` of :mod:`recommendations.predict`;
    * ``predicted``: the baseline plus the neighbourhood correction -- what the site shows.
    """
    params = params or predict.PredictParams()
    history = sp.csc_matrix(ctx.history)
    counts = np.diff(history.indptr)
    sums = np.asarray(history.sum(axis=0)).ravel()
    global_mean = float(history.data.mean()) if history.nnz else 3.5
    item_mean = np.where(counts > 0, sums / np.maximum(counts, 1), global_mean)
    mu, item_bias = predict.fit_baseline(
        ctx.history, metadata_offset=metadata_offset_for(ctx.catalog), params=params
    )
    m = ctx.tfidf_model
    preds: dict[str, list[np.ndarray]] = {
        "user_mean": [],
        "item_mean": [],
        "baseline": [],
        "predicted": [],
    }
    actual = []
    for s in ctx.splits:
        if s.test_scores.size == 0:
            continue
        actual.append(s.test_scores)
        preds["user_mean"].append(np.full(s.test_rows.size, s.history_scores.mean()))
        preds["item_mean"].append(item_mean[s.test_rows])
        kwargs = dict(
            mu=mu,
            item_bias=item_bias,
            rated_rows=s.history_rows,
            rated_scores=s.history_scores,
            target_rows=s.test_rows,
            params=params,
        )
        preds["baseline"].append(predict.predict(**kwargs))
        sims = predict.content_similarity(m.matrix, m.row_norms, s.test_rows, s.history_rows)
        preds["predicted"].append(predict.predict(**kwargs, similarity=sims))
    truth = np.concatenate(actual) if actual else np.zeros(0)
    out = []
    for name, parts in preds.items():
        values = np.concatenate(parts) if parts else np.zeros(0)
        rmse, mae = predict.errors(values, truth)
        out.append(PredictionResult(predictor=name, rmse=rmse, mae=mae, ratings=int(truth.size)))
    return out
