"""The production recommender: TF-IDF content + collaborative (EASE) + a popularity prior.

Pure numpy / scipy; no Django. Works on catalog *rows* (the TF-IDF matrix rows), like
``tfidf.py``, so the website (via pipeline.py) and ``manage.py evaluate`` run the same code.

Life cycle
----------
* :func:`fit` (at model build time) learns from the site's user x item ratings matrix and
  returns a dict of named numpy arrays (bounded: a top-K neighbour CSR over the rated items,
  one prior value per catalog row, and a few scalars). Store them next to the TF-IDF arrays in
  the same model version; ``np.save`` each one, load memory-mapped.
* :func:`score` / :func:`recommend` (per request) blend, for one user's rating history:

  ``w_cf * CF + w_content * (liked - dislike_weight * disliked) + w_prior * prior``

  each part scaled to max |value| = 1 so the weights mean the same for every user.

The weights depend on how much has been rated (see :func:`blend_weights`): the collaborative
part is trusted according to the number of ratings the site learned from
(``n^2 / (n^2 + site_half_ratings^2)``); the weight it does not get goes to the popularity
prior, so a new site serves content + popularity. Ratings below ``dislike_threshold`` push similar
movies down in both parts: they enter the CF sum with a negative weight (``score - neutral``)
and the content part through a "disliked" TF-IDF profile subtracted from the liked one.
A user with no usable history gets :func:`cold_start`: the prior, which mixes site rating counts
with a vote-count-damped TMDB rating -- far better than TMDB ``popularity`` (docs/evaluation.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

from recommendations import collab, tfidf


class HybridError(ValueError):
    """Bad input to the hybrid recommender, with a message meant for people."""


@dataclass(frozen=True)
class HybridParams:
    """All tunables; defaults were chosen on MovieLens users (docs/evaluation.md)."""

    collab: bool = True  # False = a site that does not learn from co-ratings (yet)
    ease_l2: float = 2000.0
    top_k: int = 200  # neighbours kept per rated item
    max_items: int = 5000  # most-rated items EASE covers (bounds build memory: m^2 floats)
    like_threshold: float = 4.0
    dislike_threshold: float = 2.5
    neutral: float = 2.5  # CF weight of a rating = score - neutral (negative pushes down)
    content_weight: float = 0.6
    dislike_weight: float = 0.3
    prior_weight: float = 1.2  # prior weight when the CF part gets no trust at all
    site_half_ratings: int = 6000  # site ratings at which CF gets half its trust
    prior_site_half_ratings: int = 1000  # site ratings at which site counts are half the prior
    tmdb_min_votes_quantile: float = 0.8  # damping of the TMDB rating (IMDB weighted rating)
    # How much a movie's content similarity is weighed by its text richness
    # (``tfidf.text_richness``): 0 = not at all, 1 = in full. A movie with no overview matches
    # every movie of its genres equally well; without this, genre-only imports float up.
    richness_strength: float = 0.1  # tuned on MovieLens users, two splits (docs/evaluation.md)

    def __post_init__(self):
        if self.ease_l2 <= 0:
            raise HybridError("ease_l2 must be positive.")
        if self.top_k < 1 or self.max_items < 1:
            raise HybridError("top_k and max_items must be at least 1.")
        for name in ("content_weight", "dislike_weight", "prior_weight"):
            if getattr(self, name) < 0:
                raise HybridError(f"{name} must not be negative.")
        if self.site_half_ratings < 1 or self.prior_site_half_ratings < 1:
            raise HybridError("the *_half_ratings parameters must be at least 1.")
        if not 0 <= self.tmdb_min_votes_quantile < 1:
            raise HybridError("tmdb_min_votes_quantile must be in [0, 1).")
        if not 0 <= self.richness_strength <= 1:
            raise HybridError("richness_strength must be in [0, 1].")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> HybridParams:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise HybridError(f"Unknown hybrid parameter(s): {', '.join(sorted(unknown))}.")
        return cls(**data)


# Names of the arrays :func:`fit` returns (the lead's storage code can iterate over these).
ARRAY_NAMES = (
    "cf_data",
    "cf_indices",
    "cf_indptr",
    "cf_shape",
    "prior",
    "n_site_ratings",
    "params_json",
)
# Arrays a build adds next to them (older versions lack them; serving falls back):
# the cold-start list's own prior (:func:`cold_start_prior`) and the rating predictor's
# baseline (:mod:`recommendations.predict`).
EXTRA_ARRAY_NAMES = ("cold_prior", "item_bias", "rating_mean")


def tmdb_prior(
    vote_count: Sequence[float], vote_average: Sequence[float], *, min_votes_quantile: float = 0.8
) -> np.ndarray:
    """IMDB-style weighted rating: ``v/(v+m) * R + m/(v+m) * C``.

    A movie's TMDB average is shrunk towards the catalog mean ``C`` until it has ``m`` votes
    (the ``min_votes_quantile`` of vote counts), so a 10/10 from three voters does not top the
    list. Returned min-max scaled to [0, 1].
    """
    v = np.nan_to_num(np.asarray(vote_count, dtype=np.float64)).clip(min=0)
    r = np.nan_to_num(np.asarray(vote_average, dtype=np.float64))
    if v.shape != r.shape:
        raise HybridError("vote_count and vote_average must have the same length.")
    if v.size == 0:
        return np.zeros(0)
    m = max(float(np.quantile(v, min_votes_quantile)), 1.0)
    c = float((r * v).sum() / v.sum()) if v.sum() > 0 else float(r.mean())
    weighted = v / (v + m) * r + m / (v + m) * c
    span = weighted.max() - weighted.min()
    return (weighted - weighted.min()) / span if span > 0 else np.zeros_like(weighted)


def _scale(v: np.ndarray) -> np.ndarray:
    """Divide by max |v| (no-op for an all-zero vector)."""
    top = float(np.abs(v).max()) if v.size else 0.0
    return v / top if top > 0 else v


def fit(
    *,
    tfidf_matrix: sp.spmatrix,
    ratings: sp.spmatrix,
    tmdb_popularity: Sequence[float],
    params: HybridParams | None = None,
) -> dict[str, np.ndarray]:
    """Learn the collaborative and prior parts. Returns named arrays (see :data:`ARRAY_NAMES`).

    ``tfidf_matrix`` only fixes the catalog size (row i = catalog row i); ``ratings`` is the
    site's user x catalog-row CSR (values = scores, 0 = unrated); ``tmdb_popularity`` is a
    per-row popularity prior from metadata (use :func:`tmdb_prior` on vote counts/averages).
    """
    params = params or HybridParams()
    n_items = tfidf_matrix.shape[0]
    if not sp.issparse(ratings) or ratings.shape[1] != n_items:
        raise HybridError(
            f"ratings must be a sparse users x {n_items} matrix (one column per catalog row)."
        )
    tmdb = np.asarray(tmdb_popularity, dtype=np.float64)
    if tmdb.shape != (n_items,):
        raise HybridError(f"tmdb_popularity must have one value per catalog row ({n_items}).")
    ratings = sp.csr_matrix(ratings, dtype=np.float64)
    ratings.eliminate_zeros()
    n_site = int(ratings.nnz)

    if params.collab and n_site:
        neighbours = collab.ease_neighbours(
            ratings, l2=params.ease_l2, top_k=params.top_k, max_items=params.max_items
        )
    else:
        neighbours = sp.csr_matrix((n_items, n_items), dtype=np.float32)

    # Prior: site "liked" counts (log-damped) mixed with the TMDB prior; the site part gains
    # weight as the site collects ratings, so a new site still ranks by metadata.
    liked = np.asarray((ratings >= params.like_threshold).sum(axis=0), dtype=np.float64).ravel()
    site = _scale(np.log1p(liked))
    trust = n_site / (n_site + params.prior_site_half_ratings)
    prior = trust * site + (1.0 - trust) * _scale(np.nan_to_num(tmdb).clip(min=0))

    arrays = {
        "cf_data": neighbours.data.astype(np.float32),
        "cf_indices": neighbours.indices.astype(np.int32),
        "cf_indptr": neighbours.indptr.astype(np.int64),
        "cf_shape": np.asarray(neighbours.shape, dtype=np.int64),
        "prior": prior.astype(np.float32),
        "n_site_ratings": np.asarray(n_site, dtype=np.int64),
        "params_json": np.asarray(json.dumps(params.to_dict(), sort_keys=True)),
    }
    return arrays


def load_params(arrays: dict[str, np.ndarray]) -> HybridParams:
    return _params_from_json(str(arrays["params_json"]))


@lru_cache(maxsize=32)
def _params_from_json(text: str) -> HybridParams:
    # (parsed once per stored version, not on every request)
    return HybridParams.from_dict(json.loads(text))


# The collaborative arrays; a model built with collaborative learning off stores none of them.
CF_ARRAY_NAMES = ("cf_data", "cf_indices", "cf_indptr", "cf_shape")


def neighbour_matrix(arrays: dict[str, np.ndarray]) -> sp.csr_matrix:
    """The stored CF neighbour matrix, wrapped around the (maybe memory-mapped) arrays.

    Empty when the arrays have no collaborative part. Serving wraps it once per loaded model
    and passes it as ``neighbours=``: wrapping unifies the index dtypes, i.e. copies indptr.
    """
    n_items = len(arrays["prior"])
    if not all(name in arrays for name in CF_ARRAY_NAMES):
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    shape = tuple(int(x) for x in arrays["cf_shape"])
    return sp.csr_matrix(
        (arrays["cf_data"], arrays["cf_indices"], arrays["cf_indptr"]), shape=shape, copy=False
    )


def blend_weights(*, n_site_ratings: int, has_collab: bool, params: HybridParams) -> dict:
    """How much each part counts, from how much the site has rated.

    CF trust is ``n^2 / (n^2 + half^2)``: it stays near zero while co-ratings are too few to
    beat content + popularity (measured: a few thousand ratings), then rises quickly.
    """
    n, half = float(n_site_ratings), float(params.site_half_ratings)
    cf = n * n / (n * n + half * half) if has_collab and n > 0 else 0.0
    return {
        "cf": cf,
        "content": params.content_weight,
        "prior": params.prior_weight * (1.0 - cf),
    }


@dataclass
class ScoreParts:
    """Per-user intermediate results, kept for explanations."""

    scores: np.ndarray
    weights: dict
    cf_scale: float = 0.0
    content_scale: float = 0.0
    cf_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cf_weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    liked_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    liked_weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    explainable_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cold_start: bool = False
    prior_weight: float = 0.0
    # What turns a liked row's dot product with a target into its share of the content part:
    # per row, richness / (|row| * |liked profile|) (see :func:`content_factor`).
    liked_norm: float = 0.0
    row_factor: np.ndarray | None = None
    # The CF part of the blended score on the rows it reaches (ascending rows).
    cf_items: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cf_part: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # The disliked part's scale: max richness-weighted cosine with the disliked profile (0 if
    # none); two-phase serving checks it is the full catalog's.
    dislike_scale: float = 0.0
    # The catalog rows ``scores`` (and ``row_factor``) are for, ascending; None = every row.
    # Every other row-valued field holds catalog rows either way.
    score_rows: np.ndarray | None = None

    def positions(self, rows) -> tuple[np.ndarray, np.ndarray]:
        """Where catalog ``rows`` are in ``scores``: ``(positions, scored)``; a position is
        meaningless where ``scored`` is False (the row was not scored)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.score_rows is None:
            return rows, np.ones(rows.size, dtype=bool)
        if self.score_rows.size == 0:
            return np.zeros(rows.size, np.int64), np.zeros(rows.size, dtype=bool)
        pos = np.minimum(np.searchsorted(self.score_rows, rows), self.score_rows.size - 1)
        return pos, self.score_rows[pos] == rows

    def cf_at(self, rows: np.ndarray) -> np.ndarray:
        """The CF part of the blended score of ``rows`` (0 where CF does not reach)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.cf_items.size == 0:
            return np.zeros(rows.size)
        pos = np.minimum(np.searchsorted(self.cf_items, rows), self.cf_items.size - 1)
        return np.where(self.cf_items[pos] == rows, self.cf_part[pos], 0.0)


THIN_TERMS = 8
THIN_FACTOR = 0.5


def content_factor(tfidf_matrix: sp.spmatrix, strength: float) -> np.ndarray:
    """Per row, how much its content similarity counts: ``1 - strength + strength * richness``.

    A pure function of the row itself (its number of terms), so a sub-catalog (two-phase
    serving) gets exactly the full catalog's factors for its rows.
    """
    n = tfidf_matrix.shape[0]
    rich = tfidf.text_richness(tfidf_matrix)
    factor = np.float32(1.0 - strength) + np.float32(strength) * rich
    # A row this thin is genres (and their bigrams) alone: an import without an overview. Its
    # few heavy terms make its cosine with any profile of those genres high, so it is halved
    # on top; rows with any real text are not touched (the evaluation catalog has none this
    # thin, hence no change there).
    factor[rich < np.float32(THIN_TERMS / tfidf.RICH_TERMS)] *= np.float32(THIN_FACTOR)
    return factor if n else np.ones(0, dtype=np.float32)


def _validate_history(rows, scores, n_items) -> tuple[np.ndarray, np.ndarray]:
    rows_a = np.asarray(rows, dtype=np.int64).ravel()
    scores_a = np.asarray(scores, dtype=np.float64).ravel()
    if rows_a.shape != scores_a.shape:
        raise HybridError("history_rows and history_scores must have the same length.")
    if rows_a.size and (rows_a.min() < 0 or rows_a.max() >= n_items):
        raise HybridError("a history row is outside the catalog.")
    if not np.all(np.isfinite(scores_a)):
        raise HybridError("history scores must be finite numbers.")
    return rows_a, scores_a


@dataclass
class UserSignals:
    """What one history says before any catalog row is scored (:func:`user_signals`): the
    blend's weights, the CF part on the rows it reaches and the TF-IDF profiles. Two-phase
    serving makes it once and scores its candidates with it (``score_parts(signals=...)``)."""

    rows: np.ndarray
    scores: np.ndarray
    params: HybridParams
    weights: dict
    cf_items: np.ndarray  # ascending catalog rows the CF part reaches
    cf_values: np.ndarray
    cf_scale: float  # max |CF| over every row (0: no CF part)
    liked: np.ndarray  # masks over the history
    disliked: np.ndarray
    liked_profile: sp.csr_matrix | None = None
    disliked_profile: sp.csr_matrix | None = None


def user_signals(
    arrays: dict[str, np.ndarray],
    *,
    tfidf_matrix: sp.spmatrix,
    history_rows: Sequence[int],
    history_scores: Sequence[float],
    n_site_ratings: int | None = None,
    params: HybridParams | None = None,
    neighbours: sp.csr_matrix | None = None,
) -> UserSignals:
    """The per-user half of :func:`score_parts` (see :class:`UserSignals`)."""
    params = params or load_params(arrays)
    n_items = tfidf_matrix.shape[0]
    rows, scores = _validate_history(history_rows, history_scores, n_items)
    n_site = int(arrays["n_site_ratings"]) if n_site_ratings is None else int(n_site_ratings)
    if neighbours is None:
        neighbours = neighbour_matrix(arrays)
    weights = blend_weights(n_site_ratings=n_site, has_collab=neighbours.nnz > 0, params=params)
    cf_items, cf_values = np.zeros(0, dtype=np.int64), np.zeros(0)
    if weights["cf"] > 0 and rows.size:
        cf_items, cf_values = collab.neighbour_scores_sparse(
            neighbours, rows, scores - params.neutral
        )
    liked = scores >= params.like_threshold
    disliked = scores < params.dislike_threshold
    if params.dislike_weight == 0:
        disliked[:] = False
    sig = UserSignals(
        rows=rows,
        scores=scores,
        params=params,
        weights=weights,
        cf_items=cf_items,
        cf_values=cf_values,
        cf_scale=float(np.abs(cf_values).max()) if cf_values.size else 0.0,
        liked=liked,
        disliked=disliked,
    )
    if liked.any():
        sig.liked_profile = tfidf.user_profile(tfidf_matrix, rows[liked], scores[liked])
    if disliked.any():
        # Worse ratings weigh more in the disliked profile (0.5 counts 2.5x as much as 2.0).
        neg_w = params.dislike_threshold + 0.5 - scores[disliked]
        sig.disliked_profile = tfidf.user_profile(tfidf_matrix, rows[disliked], neg_w)
    return sig


def score_parts(
    arrays: dict[str, np.ndarray],
    *,
    tfidf_matrix: sp.spmatrix,
    history_rows: Sequence[int] = (),
    history_scores: Sequence[float] = (),
    tfidf_row_norms: np.ndarray | None = None,
    tfidf_matrix_t: sp.spmatrix | None = None,
    n_site_ratings: int | None = None,
    params: HybridParams | None = None,
    neighbours: sp.csr_matrix | None = None,
    signals: UserSignals | None = None,
    score_rows: np.ndarray | None = None,
) -> ScoreParts:
    """:func:`score` plus what :func:`recommend` needs to explain it.

    ``tfidf_row_norms`` (stored with the model) saves an O(nnz) pass; ``tfidf_matrix_t`` (the
    term-major copy) lets ``tfidf.cosine_scores_multi`` read only the profile's postings when
    that is cheaper; ``neighbours`` is :func:`neighbour_matrix` wrapped once by the caller.
    ``signals`` (:func:`user_signals`, made by the caller) replaces the history arguments.

    ``score_rows`` (ascending catalog rows; two-phase serving) scores only those rows: the
    CF part and its scale, the profiles and every row's own content factor are the full
    scan's, but the content parts are scaled by their largest value among ``score_rows``.

    Per request this allocates one float32 score vector over the scored rows (plus the cosine
    columns it adds into it); the CF part touches only the history rows' neighbours.
    """
    params = signals.params if signals is not None else params or load_params(arrays)
    n_items = tfidf_matrix.shape[0]
    prior = np.asarray(arrays["prior"])
    if prior.shape[0] != n_items:
        raise HybridError("the hybrid arrays were built for a different catalog size.")
    sig = signals or user_signals(
        arrays,
        tfidf_matrix=tfidf_matrix,
        history_rows=history_rows,
        history_scores=history_scores,
        n_site_ratings=n_site_ratings,
        params=params,
        neighbours=neighbours,
    )
    rows, scores, weights = sig.rows, sig.scores, sig.weights
    matrix, norms = tfidf_matrix, tfidf_row_norms
    if score_rows is not None:
        score_rows = np.asarray(score_rows, dtype=np.int64)
        matrix = tfidf_matrix[score_rows]
        norms = None if norms is None else np.asarray(norms)[score_rows]
        prior = prior[score_rows]
        tfidf_matrix_t = None  # the few rows' forward product is the cheap one
    parts = ScoreParts(scores=np.zeros(0, dtype=np.float32), weights=weights, score_rows=score_rows)
    parts.cf_scale = sig.cf_scale
    if parts.cf_scale > 0:
        parts.cf_rows, parts.cf_weights = rows, scores - params.neutral

    liked, disliked = sig.liked, sig.disliked
    parts.explainable_rows = rows[liked]  # "because you liked X" names liked movies only
    profiles = [p for p in (sig.liked_profile, sig.disliked_profile) if p is not None]
    cos = tfidf.cosine_scores_multi(matrix, profiles, norms, matrix_t=tfidf_matrix_t)
    # Thin text is weak evidence: weigh every row's content similarity by its richness.
    factor = content_factor(matrix, params.richness_strength)
    for part in cos:
        part *= factor
    content_parts = []  # scaled in place, added to the total below
    if liked.any():
        liked_cos = cos[0]
        parts.content_scale = _max_abs(liked_cos)
        if parts.content_scale > 0:
            liked_cos *= np.float32(weights["content"] / parts.content_scale)
            content_parts.append(liked_cos)
            parts.liked_rows, parts.liked_weights = rows[liked], scores[liked]
            parts.liked_norm = tfidf.profile_norm(sig.liked_profile)
            norms = (
                tfidf.compute_row_norms(matrix)
                if norms is None
                else np.asarray(norms, dtype=np.float32)
            )
            parts.row_factor = np.divide(factor, norms, out=np.zeros_like(factor), where=norms > 0)
    if disliked.any():
        disliked_cos = cos[-1]
        top = _max_abs(disliked_cos)
        parts.dislike_scale = top
        if top > 0:
            disliked_cos *= np.float32(-weights["content"] * params.dislike_weight / top)
            content_parts.append(disliked_cos)

    # Nothing liked and nothing learned: rank by the prior (pushed down by dislikes).
    parts.cold_start = parts.cf_scale == 0 and parts.content_scale == 0
    prior_weight = 1.0 if parts.cold_start else weights["prior"]
    parts.prior_weight = prior_weight
    total = np.multiply(prior, np.float32(prior_weight), dtype=np.float32)
    if parts.cf_scale > 0:
        parts.cf_items = sig.cf_items
        parts.cf_part = (weights["cf"] / parts.cf_scale) * sig.cf_values
        pos, scored = parts.positions(parts.cf_items)
        total[pos[scored]] += parts.cf_part[scored]
    for part in content_parts:
        total += part
    parts.scores = total
    return parts


def _max_abs(v: np.ndarray) -> float:
    """max |v| without allocating |v| (one float per catalog row at 1M movies)."""
    if v.size == 0:
        return 0.0
    return float(max(v.max(), -v.min()))


def score(arrays: dict[str, np.ndarray], **kwargs) -> np.ndarray:
    """Blended score of every catalog row for one user's history (see :func:`score_parts`)."""
    return score_parts(arrays, **kwargs).scores


@dataclass(frozen=True)
class Recommendation:
    row: int
    score: float
    because: tuple[int, ...]  # history rows that contributed most (liked ones), best first
    # Share of the score that comes from the prior (popular, well rated), not from the user's
    # own ratings: lets the site say so instead of crediting a liked movie for it.
    prior_share: float = 0.0
    # Share of the score from the collaborative part: a pick with little of it rests on its
    # content match alone (the site says "same genres" when that match is genres only).
    cf_share: float = 0.0


def _percentile(values: np.ndarray) -> np.ndarray:
    """Rank of every value in [0, 1] (ties share their mean rank; all equal: 0.5).

    Ranks rather than values: TMDB popularity is heavy-tailed, the demo's editorial one is
    0..100, site counts are tiny on a new site; ranks make them mean the same.
    """
    n = values.size
    if n == 0:
        return np.zeros(0)
    if n == 1:
        return np.full(1, 0.5)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(n, dtype=np.float64)
    # Mean rank of ties, so equal values score equally whatever their row.
    uniq, inverse = np.unique(values, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks, minlength=uniq.size)
    counts = np.bincount(inverse, minlength=uniq.size)
    return (sums / counts)[inverse] / (n - 1)


def metadata_stars(
    vote_count: Sequence[float], vote_average: Sequence[float], *, min_votes_quantile: float = 0.8
) -> tuple[np.ndarray, float]:
    """The metadata average (TMDB or editorial, out of 10) mapped to our 5-star scale:
    ``(stars per row, catalog mean)``.

    With vote counts (a TMDB catalog) each average is shrunk towards the catalog mean until it
    has the ``min_votes_quantile`` of the counts (IMDB weighted rating); without any (the demo
    catalog is editorial) the averages are taken as they are. Unknown averages (0) get the
    catalog mean.
    """
    v = np.nan_to_num(np.asarray(vote_count, dtype=np.float64)).clip(min=0)
    r = np.nan_to_num(np.asarray(vote_average, dtype=np.float64)).clip(0, 10) / 2.0
    if v.shape != r.shape:
        raise HybridError("vote_count and vote_average must have the same length.")
    known = r > 0
    if not known.any():
        return np.full(r.shape, 3.5), 3.5
    counted = known & (v > 0)
    if counted.any():
        c = float((r[counted] * v[counted]).sum() / v[counted].sum())
        m = max(float(np.quantile(v[counted], min_votes_quantile)), 1.0)
        stars = np.where(counted, v / (v + m) * r + m / (v + m) * c, c)
    else:
        c = float(r[known].mean())
        stars = np.where(known, r, c)
    return stars, c


@dataclass(frozen=True)
class ColdStartParams:
    """The cold-start list's tunables."""

    popularity_weight: float = 0.7  # the rest is quality (damped average, 5-star scale)
    site_prior_weight: float = 10.0  # pseudo-ratings at the metadata average per movie
    site_half_ratings: int = 1000  # site ratings at which site counts are half the popularity
    min_votes_quantile: float = 0.8


def cold_start_prior(
    *,
    popularity: Sequence[float],
    vote_count: Sequence[float],
    vote_average: Sequence[float],
    ratings: sp.spmatrix,
    params: ColdStartParams | None = None,
) -> np.ndarray:
    """Per catalog row, how good a pick the movie is for someone we know nothing about.

    ``popularity_weight * popularity + (1 - popularity_weight) * quality``, both in [0, 1]:

    * popularity: the rank of the metadata popularity (TMDB's, or the demo's editorial one),
      moving towards the rank of the site's rating counts as the site collects ratings
      (``n / (n + site_half_ratings)``);
    * quality: the site's mean rating shrunk towards the metadata average in stars with
      ``site_prior_weight`` pseudo-ratings (Bayesian average), so one member's six 5-star
      ratings nudge six movies up a little instead of taking over everyone's first list.

    Strictly positive for all but the weakest movie, whatever the catalog carries.
    """
    params = params or ColdStartParams()
    pop = np.nan_to_num(np.asarray(popularity, dtype=np.float64))
    stars, _mean = metadata_stars(
        vote_count, vote_average, min_votes_quantile=params.min_votes_quantile
    )
    if pop.shape != stars.shape:
        raise HybridError("popularity, vote_count and vote_average must have the same length.")
    ratings = sp.csc_matrix(ratings, dtype=np.float64)
    if ratings.shape[1] != pop.size:
        raise HybridError(f"ratings must have one column per catalog row ({pop.size}).")
    counts = np.diff(ratings.indptr).astype(np.float64)
    sums = np.asarray(ratings.sum(axis=0), dtype=np.float64).ravel()
    k = params.site_prior_weight
    quality = (sums + k * stars) / (counts + k)
    n_site = float(counts.sum())
    trust = n_site / (n_site + params.site_half_ratings)
    popular = (1.0 - trust) * _percentile(pop) + trust * _percentile(counts)
    # On the star scale itself, not min-max: where every other movie has the same average,
    # min-max would turn one member's small nudge into the whole quality range.
    good = (quality - 0.5) / 4.5
    w = params.popularity_weight
    return w * popular + (1.0 - w) * good


def diversify(
    rows: Sequence[int],
    scores: Sequence[float],
    *,
    genres: Sequence[str | None],
    decades: Sequence[int | None],
    n: int,
    genre_penalty: float = 0.85,
    decade_penalty: float = 0.9,
) -> list[int]:
    """Greedy re-rank of candidates (best first) into ``n`` picks across genres and decades.

    Each pick takes the best ``score * genre_penalty**g * decade_penalty**d``, where ``g`` and
    ``d`` count the picks so far with the same primary genre and decade: a light touch that
    keeps the best movies first but stops ten dramas of the 1990s from filling the list.
    Returns positions into ``rows``.
    """
    if not len(rows) == len(scores) == len(genres) == len(decades):
        raise HybridError("rows, scores, genres and decades must have the same length.")
    base = np.asarray(scores, dtype=np.float64)
    left = list(range(len(rows)))
    genre_seen: dict = {}
    decade_seen: dict = {}
    picked: list[int] = []
    while left and len(picked) < n:
        best, best_value = None, -np.inf
        for i in left:
            value = base[i]
            factor = genre_penalty ** genre_seen.get(genres[i], 0) * decade_penalty ** (
                decade_seen.get(decades[i], 0)
            )
            value = value * factor if value > 0 else value / max(factor, 1e-9)
            if value > best_value:  # ties: the earlier (better) candidate
                best, best_value = i, value
        picked.append(best)
        left.remove(best)
        if genres[best] is not None:
            genre_seen[genres[best]] = genre_seen.get(genres[best], 0) + 1
        if decades[best] is not None:
            decade_seen[decades[best]] = decade_seen.get(decades[best], 0) + 1
    return picked


def cold_start(
    arrays: dict[str, np.ndarray], *, n: int = 10, exclude_rows: Sequence[int] = ()
) -> list[Recommendation]:
    """The fallback for users with no history: best cold-start prior first (the blend's
    prior for versions built before the cold-start prior was stored)."""
    prior = np.asarray(arrays["cold_prior"] if "cold_prior" in arrays else arrays["prior"])
    best = tfidf.top_n(prior, exclude_rows, n)
    return [Recommendation(row=int(r), score=float(prior[r]), because=()) for r in best]


def explain(
    arrays: dict[str, np.ndarray],
    parts: ScoreParts,
    *,
    tfidf_matrix: sp.spmatrix,
    target_rows: Sequence[int],
    k: int = 3,
    neighbours: sp.csr_matrix | None = None,
) -> list[tuple[int, ...]]:
    """For every target row, the (at most k) history rows that pushed it up most.

    A history row's contribution is its CF term plus its share of the content term, on the
    same scale as the blended score; only liked rows (>= like_threshold) that contributed
    positively are named, since the site says "because you liked X". ``target_rows`` are
    catalog rows that ``parts`` scored.
    """
    targets = np.asarray(target_rows, dtype=np.int64)
    # one line per liked history row (ascending), one column per target
    hist = np.unique(parts.explainable_rows)
    if hist.size == 0 or targets.size == 0:
        return [() for _ in targets]
    table = np.zeros((hist.size, targets.size))

    def add(rows, values):  # values: targets x rows; rows not liked are not named
        pos = np.minimum(np.searchsorted(hist, rows), hist.size - 1)
        named = hist[pos] == rows
        np.add.at(table, pos[named], values[:, named].T)

    if parts.cf_scale > 0 and parts.cf_rows.size:
        if neighbours is None:
            neighbours = neighbour_matrix(arrays)
        cf = collab.neighbour_contributions(neighbours, parts.cf_rows, parts.cf_weights, targets)
        add(parts.cf_rows, parts.weights["cf"] * cf / parts.cf_scale)
    if parts.content_scale > 0 and parts.liked_rows.size:
        w = parts.liked_weights / parts.liked_weights.sum()
        c = tfidf.contributions(tfidf_matrix, parts.liked_rows, w, targets)
        # Each liked row's share of the target's (richness-weighted) cosine, on the scale of
        # the blended score like the CF terms: without the norms the content shares were
        # several times too small next to CF, and a CF neighbour was named for a sequel.
        per_target = parts.row_factor[parts.positions(targets)[0]] / max(parts.liked_norm, 1e-12)
        add(
            parts.liked_rows,
            parts.weights["content"] * c * per_target[:, None] / parts.content_scale,
        )
    # Largest first; equal shares by row (a stable sort of the ascending rows).
    order = np.argsort(-table.T, axis=1, kind="stable")[:, :k]
    best = np.take_along_axis(table.T, order, axis=1)
    return [
        tuple(int(hist[i]) for i, v in zip(o, b, strict=True) if v > 0)
        for o, b in zip(order, best, strict=True)
    ]


# ``pick(rows, scores) -> positions``: which of the top rows to keep, in order.
Pick = Callable[[np.ndarray, np.ndarray], Sequence[int]]


def top_n_tiebreak(
    scores: np.ndarray, tiebreak: np.ndarray, exclude_rows: Sequence[int], n: int
) -> np.ndarray:
    """:func:`tfidf.top_n`, but rows with equal scores ordered by ``tiebreak`` (higher first),
    then by row; also decides which of the rows tied at the n-th score make the list."""
    best = tfidf.top_n(scores, exclude_rows, n)
    if best.size == 0:
        return best
    tiebreak = np.asarray(tiebreak)
    kth = scores[best[-1]]
    above = best[scores[best] > kth]
    tied = np.flatnonzero(scores == kth)
    excl = np.asarray(exclude_rows, dtype=np.int64)
    tied = tied[~np.isin(tied, excl)]
    tied = tied[np.lexsort((tied, -tiebreak[tied]))][: best.size - above.size]
    out = np.concatenate([above, tied])
    return out[np.lexsort((out, -tiebreak[out], -scores[out]))]


def recommend(
    arrays: dict[str, np.ndarray],
    *,
    tfidf_matrix: sp.spmatrix,
    history_rows: Sequence[int],
    history_scores: Sequence[float],
    n: int = 10,
    exclude_rows: Sequence[int] = (),
    tfidf_row_norms: np.ndarray | None = None,
    tfidf_matrix_t: sp.spmatrix | None = None,
    n_site_ratings: int | None = None,
    explain_k: int = 3,
    neighbours: sp.csr_matrix | None = None,
    pick: Pick | None = None,
) -> list[Recommendation]:
    """Top ``n`` rows for one user, history (and ``exclude_rows``) excluded, with reasons.

    The same function serves the site (``pipeline.recommend_for_user``) and the evaluation's
    ``production`` strategy. ``neighbours``: see :func:`score_parts`; ``pick``: see
    :func:`recommend_from_parts`.
    """
    rows = np.asarray(history_rows, dtype=np.int64).ravel()
    if rows.size == 0:
        recs = cold_start(arrays, n=n, exclude_rows=list(exclude_rows))
        if pick is None:
            return recs
        chosen = pick(np.array([r.row for r in recs]), np.array([r.score for r in recs]))
        return [recs[i] for i in chosen]
    parts = score_parts(
        arrays,
        tfidf_matrix=tfidf_matrix,
        history_rows=rows,
        history_scores=history_scores,
        tfidf_row_norms=tfidf_row_norms,
        tfidf_matrix_t=tfidf_matrix_t,
        n_site_ratings=n_site_ratings,
        neighbours=neighbours,
    )
    return recommend_from_parts(
        arrays,
        parts,
        tfidf_matrix=tfidf_matrix,
        history_rows=rows,
        n=n,
        exclude_rows=exclude_rows,
        explain_k=explain_k,
        neighbours=neighbours,
        pick=pick,
    )


def recommend_from_parts(
    arrays: dict[str, np.ndarray],
    parts: ScoreParts,
    *,
    tfidf_matrix: sp.spmatrix,
    history_rows: Sequence[int],
    n: int = 10,
    exclude_rows: Sequence[int] = (),
    explain_k: int = 3,
    neighbours: sp.csr_matrix | None = None,
    pick: Pick | None = None,
) -> list[Recommendation]:
    """The second half of :func:`recommend`: the top ``n`` of computed :func:`score_parts`,
    with reasons (two-phase serving scores first, checks its bounds, then calls this).

    ``pick(rows, scores)`` (the site's diversity re-rank of its pool of 50) returns the
    positions, in order, of the top rows to keep: only those are explained and returned.
    """
    rows = np.asarray(history_rows, dtype=np.int64).ravel()
    exclude = np.concatenate([rows, np.asarray(list(exclude_rows), dtype=np.int64)])
    prior = np.asarray(arrays["prior"])
    tiebreak = prior
    if parts.score_rows is not None:  # positions in the scored rows
        tiebreak = prior[parts.score_rows]
        pos, scored = parts.positions(exclude)
        exclude = pos[scored]
    # Equal scores (genre-only imports with no site ratings) are ordered by the prior.
    at = top_n_tiebreak(parts.scores, tiebreak, exclude, n)
    best = at if parts.score_rows is None else parts.score_rows[at]
    if pick is not None:
        chosen = np.asarray(list(pick(best, parts.scores[at].astype(np.float64))), np.int64)
        at, best = at[chosen], best[chosen]
    reasons = (
        explain(
            arrays,
            parts,
            tfidf_matrix=tfidf_matrix,
            target_rows=best,
            k=explain_k,
            neighbours=neighbours,
        )
        if explain_k > 0 and not parts.cold_start
        else [() for _ in best]
    )
    cf = parts.cf_at(best)
    recs = []
    for i, r in enumerate(best):
        score = float(parts.scores[at[i]])
        from_prior = float(prior[r]) * parts.prior_weight
        share = min(1.0, max(0.0, from_prior / score)) if score > 0 else 0.0
        cf_share = min(1.0, max(0.0, float(cf[i]) / score)) if score > 0 else 0.0
        recs.append(
            Recommendation(
                row=int(r), score=score, because=reasons[i], prior_share=share, cf_share=cf_share
            )
        )
    return recs
