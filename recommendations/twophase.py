"""Two-phase serving: gather a bounded candidate set, then score only it with the full hybrid.

Pure numpy / scipy (no Django). :func:`recommend` has the signature and the result of
``hybrid.recommend`` (same weights, same explanations, same prior share) but never touches
every catalog row: phase one is :mod:`recommendations.candidates`; phase two runs
``hybrid.recommend`` itself on the sub-catalog made of the candidates and the user's history
rows (the history is in it so the profiles are the same and the liked movies, usually the most
similar rows of all, take part in scaling the content part as in the full scan).

What can differ from the exact full scan: a row outside the candidates is never recommended,
and the content parts are scaled by their largest cosine among the sub-catalog's rows instead
of the whole catalog's (the CF part's scale is exact: its extreme item is always a candidate).
``manage.py evaluate`` measures the difference (``production_two_phase`` vs ``production``).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from . import candidates, collab, hybrid, tfidf

SERVING_MODES = ("exact", "two_phase", "auto")
# ``auto`` serves the exact scan below this many movies: there a pass over the matrix costs
# less than gathering and slicing (bench/bench_twophase.py measures the crossover).
AUTO_MIN_ROWS = 50_000

# prior head per loaded prior array (memory-mapped, lives as long as its model)
_HEADS: dict[int, tuple[weakref.ref, int, np.ndarray]] = {}


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


def _sub_neighbours(
    neighbours: sp.csr_matrix, rows: np.ndarray, subset: np.ndarray, n_sub: int
) -> sp.csr_matrix:
    """The history rows' neighbour lists restricted to ``subset``, in sub-catalog positions.

    Only the history rows are ever read from it (CF sums and explanations). A model with
    collaborative data keeps ``nnz > 0`` (an explicit zero if nothing is left) so the blend
    weights come out as in the full scan.
    """
    block = neighbours[rows]
    pos = np.searchsorted(subset, block.indices)
    pos_c = np.minimum(pos, len(subset) - 1)
    keep = subset[pos_c] == block.indices
    owner = np.repeat(np.searchsorted(subset, rows), np.diff(block.indptr))
    r, c, d = owner[keep], pos_c[keep], block.data[keep]
    if r.size == 0 and neighbours.nnz > 0 and rows.size:
        r, c, d = np.searchsorted(subset, rows[:1]), np.zeros(1, np.int64), np.zeros(1)
    # (coo -> csr keeps an explicit zero as a stored entry)
    return sp.csr_matrix(
        (np.asarray(d, np.float32), (r, c)), shape=(n_sub, n_sub), dtype=np.float32
    )


def gather(
    arrays: dict[str, np.ndarray],
    *,
    tfidf_matrix: sp.csr_matrix,
    rows: np.ndarray,
    scores: np.ndarray,
    exclude_rows: np.ndarray,
    tfidf_matrix_t: sp.csr_matrix | None,
    neighbours: sp.csr_matrix,
    content_nbr_idx: np.ndarray | None,
    limits: candidates.CandidateLimits,
) -> candidates.Candidates:
    """Phase one for a validated history (see :mod:`recommendations.candidates`)."""
    params = hybrid.load_params(arrays)
    cf_items = cf_values = None
    if neighbours.nnz > 0 and rows.size:
        cf_items, cf_values = collab.neighbour_scores_sparse(
            neighbours, rows, scores - params.neutral
        )
    liked = scores >= params.like_threshold
    terms = weights = None
    if liked.any():
        profile = tfidf.user_profile(tfidf_matrix, rows[liked], scores[liked])
        profile.sum_duplicates()
        terms, weights = profile.indices, profile.data
    return candidates.gather(
        exclude_rows=exclude_rows,
        n_rows=tfidf_matrix.shape[0],
        cf_items=cf_items,
        cf_values=cf_values,
        liked_rows=rows[liked],
        liked_scores=scores[liked],
        content_nbr_idx=content_nbr_idx,
        matrix_t=tfidf_matrix_t,
        profile_terms=terms,
        profile_weights=weights,
        head=cached_prior_head(arrays["prior"], limits.prior_head),
        limits=limits,
    )


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
) -> list[hybrid.Recommendation]:
    """``hybrid.recommend`` over the candidates only (see the module docstring).

    ``candidate_rows`` replaces phase one (tests: all rows gives the exact full scan).
    """
    n_items = tfidf_matrix.shape[0]
    rows, scores = hybrid._validate_history(history_rows, history_scores, n_items)
    if neighbours is None:
        neighbours = hybrid.neighbour_matrix(arrays)
    if rows.size == 0:  # cold start: the prior list, already a cheap pass
        return hybrid.recommend(
            arrays,
            tfidf_matrix=tfidf_matrix,
            history_rows=rows,
            history_scores=scores,
            n=n,
            exclude_rows=exclude_rows,
            neighbours=neighbours,
        )
    excl = np.unique(np.concatenate([rows, np.asarray(list(exclude_rows), dtype=np.int64)]))
    if candidate_rows is None:
        cand = gather(
            arrays,
            tfidf_matrix=tfidf_matrix,
            rows=rows,
            scores=scores,
            exclude_rows=excl,
            tfidf_matrix_t=tfidf_matrix_t,
            neighbours=neighbours,
            content_nbr_idx=content_nbr_idx,
            limits=limits or candidates.CandidateLimits(),
        ).rows
    else:
        cand = np.asarray(candidate_rows, dtype=np.int64)
    subset = np.unique(np.concatenate([cand, rows]))
    norms = (
        tfidf.compute_row_norms(tfidf_matrix[subset])
        if tfidf_row_norms is None
        else np.asarray(tfidf_row_norms)[subset]
    )
    sub_arrays = {
        name: arrays[name] for name in ("prior", "n_site_ratings", "params_json") if name in arrays
    }
    sub_arrays["prior"] = np.asarray(arrays["prior"])[subset]
    recs = hybrid.recommend(
        sub_arrays,
        tfidf_matrix=tfidf_matrix[subset],
        history_rows=np.searchsorted(subset, rows),
        history_scores=scores,
        n=n,
        exclude_rows=np.searchsorted(subset, excl[np.isin(excl, subset)]),
        tfidf_row_norms=norms,
        n_site_ratings=int(arrays["n_site_ratings"]),
        explain_k=explain_k,
        neighbours=_sub_neighbours(neighbours, rows, subset, len(subset)),
    )
    return [
        hybrid.Recommendation(
            row=int(subset[r.row]),
            score=r.score,
            because=tuple(int(subset[b]) for b in r.because),
            prior_share=r.prior_share,
            cf_share=r.cf_share,
        )
        for r in recs
    ]
