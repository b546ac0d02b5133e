"""Two-phase serving: gather a bounded candidate set, then score only it with the full hybrid.

Pure numpy / scipy (no Django). :func:`recommend` has the signature and the result of
``hybrid.recommend`` (same weights, same explanations, same prior share) but never scores
every catalog row: it makes the user's signals once (``hybrid.user_signals``: the CF part on
every item it reaches, the profiles), phase one gathers candidates
(:mod:`recommendations.candidates`), and phase two runs ``hybrid.score_parts`` on those rows
and the history rows (``score_rows``; the liked movies, usually the most similar rows of all,
take part in scaling the content part as in the full scan), then
``hybrid.recommend_from_parts`` for the top, the re-rank and the reasons.

Phase one is heuristic sources, then a *safe* step (:func:`candidates.bounded_rows`,
MaxScore-style): with the candidates' ``n``-th best score as the threshold, upper bounds of
the prior (the head's minimum outside the head), of the CF part (exact on the CF items) and
of the content part (per-term maxima, read once per model by :func:`cached_bounds`) rule rows
out, and the postings of the profile's essential terms bring in every row they cannot; the
same is done for the content scales (the liked and the disliked part are divided by their
largest value over *all* rows). After the final scoring the bounds are checked against the
final ``n``-th score: ``stats["proven"]`` then says the list is the full scan's. When the
step would read more than ``safe_postings_budget`` postings or keep too many rows, the request
keeps the heuristic set (``stats["reason"]`` says why), or runs the exact scan on catalogs up
to ``CandidateLimits.exact_fallback_rows``. On a clustered catalog of 100,000 movies most
short histories are proven; at 1,000,000 the essential terms' postings (genres and common
words run to 100,000 entries each) are past the budget (docs/benchmarks.md).

What can differ from the exact full scan on an unproven request: a row outside the
candidates is never recommended, and the content parts are scaled by their largest cosine
among the scored rows instead of the whole catalog's (the CF part's scale is exact: it comes
from the signals). ``manage.py evaluate`` measures the difference (``production_two_phase``
vs ``production``); ``bench/bench_twophase.py`` measures recall and counts proofs.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from . import candidates, hybrid, tfidf

SERVING_MODES = ("exact", "two_phase", "auto")
# ``auto`` serves the exact scan below this many movies: there a pass over the matrix costs
# no more than gathering and scoring candidates (bench/bench_twophase.py, fitted catalog:
# about even at 100,000 movies, two-phase 1.5-2x cheaper at 300,000; docs/benchmarks.md).
AUTO_MIN_ROWS = 200_000

# prior head per loaded prior array (memory-mapped, lives as long as its model)
_HEADS: dict[int, tuple[weakref.ref, int, np.ndarray]] = {}
# term bounds per loaded term-major copy (:func:`cached_bounds`)
_BOUNDS: dict[int, tuple[weakref.ref, float, tuple]] = {}
# champion lists of the long terms, likewise (:func:`cached_champions`)
_CHAMPIONS: dict[int, tuple[weakref.ref, tuple, candidates.Champions]] = {}


def use_two_phase(mode: str, n_rows: int, *, min_rows: int = AUTO_MIN_ROWS) -> bool:
    """Whether ``mode`` (a ``RECS_SERVING`` value) serves two-phase for ``n_rows`` movies."""
    if mode not in SERVING_MODES:
        raise ValueError(f"RECS_SERVING must be one of {', '.join(SERVING_MODES)} (got {mode!r}).")
    return mode == "two_phase" or (mode == "auto" and n_rows >= min_rows)


def cached_prior_head(prior: np.ndarray, k: int) -> np.ndarray:
    """:func:`candidates.prior_head`, computed once per prior array (i.e. per loaded model)."""
    key = id(prior)
    entry = _HEADS.get(key)
    if entry is not None and entry[0]() is prior and entry[1] == k:
        return entry[2]
    head = candidates.prior_head(prior, k)
    try:
        ref = weakref.ref(prior, lambda _r, key=key: _HEADS.pop(key, None))
    except TypeError:  # not weak-referenceable: compute every time rather than leak
        return head
    _HEADS[key] = (ref, k, head)
    return head


def cached_bounds(
    tfidf_matrix: sp.csr_matrix,
    matrix_t: sp.csr_matrix,
    row_norms: np.ndarray | None,
    strength: float,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Per model: (:func:`candidates.term_maxima`, per-row factor / norm, the largest factor).

    One O(nnz) pass over the term-major copy, cached per loaded copy like the prior head."""
    key = id(matrix_t)
    entry = _BOUNDS.get(key)
    if entry is not None and entry[0]() is matrix_t and entry[1] == strength:
        return entry[2]
    factor = hybrid.content_factor(tfidf_matrix, strength)
    norms = (
        tfidf.compute_row_norms(tfidf_matrix)
        if row_norms is None
        else np.asarray(row_norms, dtype=np.float32)
    )
    # the cosine in hybrid.score_parts divides by these very norms (rows with none score 0)
    row_factor = np.divide(factor, norms, out=np.zeros_like(factor), where=norms > 0)
    value = (
        candidates.term_maxima(matrix_t, row_factor),
        row_factor,
        float(factor.max()) if factor.size else 0.0,
    )
    try:
        ref = weakref.ref(matrix_t, lambda _r, key=key: _BOUNDS.pop(key, None))
    except TypeError:
        return value
    _BOUNDS[key] = (ref, strength, value)
    return value


def cached_champions(
    matrix_t: sp.csr_matrix, row_factor: np.ndarray, limits: candidates.CandidateLimits
) -> candidates.Champions:
    """:func:`candidates.champion_lists` of the long terms, once per loaded term-major copy
    (about 0.1 s and 2 MB at 1M movies)."""
    key = id(matrix_t)
    params = (limits.term_max_postings, limits.champions)
    entry = _CHAMPIONS.get(key)
    if entry is not None and entry[0]() is matrix_t and entry[1] == params:
        return entry[2]
    value = candidates.champion_lists(
        matrix_t, row_factor, min_postings=limits.term_max_postings, per_term=limits.champions
    )
    try:
        ref = weakref.ref(matrix_t, lambda _r, key=key: _CHAMPIONS.pop(key, None))
    except TypeError:
        return value
    _CHAMPIONS[key] = (ref, params, value)
    return value


@dataclass
class _Request:
    """What phase one works out for one validated history (catalog rows)."""

    sig: hybrid.UserSignals
    liked: tuple[np.ndarray, np.ndarray] | None = None  # profile terms, weights
    disliked: tuple[np.ndarray, np.ndarray] | None = None
    head: np.ndarray | None = None


def _terms(profile) -> tuple[np.ndarray, np.ndarray] | None:
    if profile is None:
        return None
    p = sp.csr_matrix(profile)
    p.sum_duplicates()
    # float32 as the cosine's dense profile block (tfidf._dense_profiles)
    return p.indices.astype(np.int64), p.data.astype(np.float32).astype(np.float64)


def _request(arrays, sig: hybrid.UserSignals, limits) -> _Request:
    return _Request(
        sig=sig,
        liked=_terms(sig.liked_profile),
        disliked=_terms(sig.disliked_profile),
        head=cached_prior_head(arrays["prior"], limits.prior_head),
    )


def gather(
    *,
    req: _Request,
    tfidf_matrix: sp.csr_matrix,
    tfidf_row_norms: np.ndarray | None,
    exclude_rows: np.ndarray,
    tfidf_matrix_t: sp.csr_matrix | None,
    content_nbr_idx: np.ndarray | None,
    limits: candidates.CandidateLimits,
) -> candidates.Candidates:
    """Phase one's heuristic sources for a validated history (see
    :mod:`recommendations.candidates`)."""
    sig = req.sig
    terms, weights = req.liked if req.liked is not None else (None, None)
    row_factor = champions = None
    if tfidf_matrix_t is not None and terms is not None:
        row_factor = cached_bounds(
            tfidf_matrix, tfidf_matrix_t, tfidf_row_norms, sig.params.richness_strength
        )[1]
        champions = cached_champions(tfidf_matrix_t, row_factor, limits)
    return candidates.gather(
        exclude_rows=exclude_rows,
        n_rows=tfidf_matrix.shape[0],
        row_factor=row_factor,
        champions=champions,
        cf_items=sig.cf_items if sig.cf_scale > 0 else None,
        cf_values=sig.cf_values if sig.cf_scale > 0 else None,
        liked_rows=sig.rows[sig.liked],
        liked_scores=sig.scores[sig.liked],
        content_nbr_idx=content_nbr_idx,
        matrix_t=tfidf_matrix_t,
        profile_terms=terms,
        profile_weights=weights,
        head=req.head,
        limits=limits,
    )


def _nth_score(parts, prior: np.ndarray, excl: np.ndarray, n: int) -> float:
    """The ``n``-th best score of the scored rows outside ``excl`` (-inf if fewer)."""
    pos, scored = parts.positions(excl)
    tiebreak = prior if parts.score_rows is None else prior[parts.score_rows]
    best = hybrid.top_n_tiebreak(parts.scores, tiebreak, pos[scored], n)
    return float(parts.scores[best[-1]]) if best.size == n else -np.inf


def _tol(x: float) -> float:
    # float32 scores against float64 bounds: a margin well above float32 rounding
    return 1e-5 * (1.0 + abs(x))


def _bounds(req: _Request, parts, *, threshold, prior, tfidf_matrix, matrix_t, norms, limits):
    """:func:`candidates.bounded_rows` for the liked and the disliked profile, from the
    scores and scales of the heuristic candidates (``parts``): ``(liked, disliked)``, each a
    :class:`candidates.Bound` or None when that part does not exist."""
    sig = req.sig
    maxima, row_factor, factor_max = cached_bounds(
        tfidf_matrix, matrix_t, norms, sig.params.richness_strength
    )
    head = req.head if req.head is not None else np.zeros(0, np.int64)
    # every row outside the prior's head (which is scored) has at most its smallest prior
    prior_out = float(prior[head].min()) if head.size else float(prior.max())
    common = dict(
        matrix_t=matrix_t,
        maxima=maxima,
        row_factor=row_factor,
        factor_max=factor_max,
        budget=limits.safe_postings_budget,
        max_rows=limits.safe_max_rows,
        matrix=tfidf_matrix,
        check_rows=max(limits.safe_check_rows, limits.safe_max_rows),
    )
    cf_rows = cf_part = None
    if parts.cf_scale > 0:  # hybrid.score_parts' CF part, exact on every row it reaches
        cf_rows, cf_part = parts.cf_items, parts.cf_part
    empty = (np.zeros(0, np.int64), np.zeros(0))
    has_content = req.liked is not None and parts.content_scale > 0
    terms, weights = req.liked if has_content else empty
    liked = candidates.bounded_rows(
        terms=terms,
        weights=weights,
        threshold=threshold,
        coef=sig.weights["content"] / parts.content_scale if has_content else 0.0,
        content_cap=parts.content_scale if has_content else np.inf,
        base_out=parts.prior_weight * prior_out,
        prior=prior,
        prior_weight=parts.prior_weight,
        base_rows=cf_rows,
        base_values=cf_part,
        **common,
    )
    disliked = None
    if liked.ok and req.disliked is not None and parts.dislike_scale > 0:
        # only the scale matters here (the part itself only lowers scores): every row that
        # could exceed the candidates' largest disliked cosine is scored
        disliked = candidates.bounded_rows(
            terms=req.disliked[0],
            weights=req.disliked[1],
            threshold=np.inf,
            coef=0.0,
            content_cap=parts.dislike_scale,
            base_out=0.0,
            **common,
        )
    return liked, disliked


def recommend(
    arrays: dict[str, np.ndarray],
    *,
    tfidf_matrix: sp.csr_matrix,
    history_rows: Sequence[int],
    history_scores: Sequence[float],
    n: int = 10,
    exclude_rows: Sequence[int] = (),
    tfidf_row_norms: np.ndarray | None = None,
    tfidf_matrix_t: sp.csr_matrix | None = None,
    neighbours: sp.csr_matrix | None = None,
    content_nbr_idx: np.ndarray | None = None,
    explain_k: int = 3,
    limits: candidates.CandidateLimits | None = None,
    candidate_rows: np.ndarray | None = None,
    stats: dict | None = None,
    pick: hybrid.Pick | None = None,
) -> list[hybrid.Recommendation]:
    """``hybrid.recommend`` over the candidates only (see the module docstring).

    ``candidate_rows`` replaces phase one, the safe step included (tests: all rows gives the
    exact full scan). ``stats`` (a dict, for the benchmark and tests) receives ``proven``
    (the list is the exact one, by the bounds), ``reason`` when not, ``subset`` (rows
    scored), ``added`` (rows the safe step added), ``postings`` (entries it read) and
    ``fallback`` (``"exact"`` when the full scan answered). ``pick``: see
    ``hybrid.recommend_from_parts``.
    """
    stats = {} if stats is None else stats
    limits = limits or candidates.CandidateLimits()
    ms = stats.setdefault("ms", {})  # wall time per step, for the benchmark's breakdown
    clock = [time.perf_counter()]

    def lap(step: str) -> None:
        now = time.perf_counter()
        ms[step] = ms.get(step, 0.0) + (now - clock[0]) * 1000
        clock[0] = now

    n_items = tfidf_matrix.shape[0]
    rows, scores = hybrid._validate_history(history_rows, history_scores, n_items)
    if neighbours is None:
        neighbours = hybrid.neighbour_matrix(arrays)
    if rows.size == 0:  # cold start: the prior list, already a cheap pass
        stats.update(proven=True, reason="cold start", subset=0, added=0, postings=0)
        return hybrid.recommend(
            arrays,
            tfidf_matrix=tfidf_matrix,
            history_rows=rows,
            history_scores=scores,
            n=n,
            exclude_rows=exclude_rows,
            neighbours=neighbours,
            pick=pick,
        )
    excl = candidates.union_rows(rows, np.asarray(list(exclude_rows), dtype=np.int64))
    sig = hybrid.user_signals(
        arrays,
        tfidf_matrix=tfidf_matrix,
        history_rows=rows,
        history_scores=scores,
        neighbours=neighbours,
    )
    lap("signals")
    req = None
    if candidate_rows is None:
        req = _request(arrays, sig, limits)
        cand = gather(
            req=req,
            tfidf_matrix=tfidf_matrix,
            tfidf_row_norms=tfidf_row_norms,
            exclude_rows=(),  # scored all the same, below
            tfidf_matrix_t=tfidf_matrix_t,
            content_nbr_idx=content_nbr_idx,
            limits=limits,
        ).rows
    else:
        cand = np.asarray(candidate_rows, dtype=np.int64)

    def score(rows_to_score):
        return hybrid.score_parts(
            arrays,
            tfidf_matrix=tfidf_matrix,
            tfidf_row_norms=tfidf_row_norms,
            neighbours=neighbours,
            signals=sig,
            score_rows=rows_to_score,
        )

    # Excluded rows are scored too (and then left out of the list): the content scales are
    # maxima over every row, excluded or not, as in the full scan.
    subset = candidates.union_rows(cand, excl)
    lap("gather")
    parts = score(subset)
    lap("score")
    stats.update(proven=False, reason="", subset=int(subset.size), added=0, postings=0)
    if req is not None:
        prior = np.asarray(arrays["prior"])
        threshold = _nth_score(parts, prior, excl, n)
        if tfidf_matrix_t is None:
            bounds, stats["reason"] = (None, None), "no term-major copy"
        elif not np.isfinite(threshold):
            bounds, stats["reason"] = (None, None), "fewer candidates than n"
        else:
            bounds = _bounds(
                req,
                parts,
                threshold=threshold,
                prior=prior,
                tfidf_matrix=tfidf_matrix,
                matrix_t=tfidf_matrix_t,
                norms=tfidf_row_norms,
                limits=limits,
            )
        liked_b, disliked_b = bounds
        found = [b for b in bounds if b is not None]
        stats["postings"] = sum(b.postings for b in found)
        extra = [b.rows for b in found if b.ok]
        if extra:
            more = candidates.union_rows(*extra)
            pos = np.minimum(np.searchsorted(subset, more), max(subset.size - 1, 0))
            new = more[subset[pos] != more] if subset.size else more
            if new.size:
                subset = candidates.union_rows(subset, new)
                parts = score(subset)
                stats.update(subset=int(subset.size), added=int(new.size))
        if liked_b is not None and not stats["reason"]:
            if not all(b.ok for b in found):
                stats["reason"] = ", ".join(b.reason for b in found if not b.ok)
            else:
                final = _nth_score(parts, prior, excl, n)
                checks = {
                    "score bound": liked_b.outside < final - _tol(final),
                    "content scale": liked_b.content <= parts.content_scale + 1e-7
                    or parts.content_scale == 0,
                    "dislike scale": disliked_b is None
                    or disliked_b.content <= parts.dislike_scale + 1e-7,
                }
                failed = [name for name, passed in checks.items() if not passed]
                stats["proven"] = not failed
                stats["reason"] = ", ".join(failed)
        lap("safe step")
        if not stats["proven"] and n_items <= limits.exact_fallback_rows:
            stats["fallback"] = "exact"
            return hybrid.recommend(
                arrays,
                tfidf_matrix=tfidf_matrix,
                history_rows=rows,
                history_scores=scores,
                n=n,
                exclude_rows=exclude_rows,
                tfidf_row_norms=tfidf_row_norms,
                tfidf_matrix_t=tfidf_matrix_t,
                explain_k=explain_k,
                neighbours=neighbours,
                pick=pick,
            )
    recs = hybrid.recommend_from_parts(
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
    lap("top and reasons")
    return recs
