"""Phase one of two-phase serving: the few thousand rows worth scoring for one user.

Pure numpy / scipy (no Django). Every source is bounded by a limit that does not depend on the
catalog size, so the set stays the same size at 3,000 or 1,000,000 movies:

* **collaborative**: the items the user's history reaches through the stored top-K neighbours
  (what the CF part of the blend scores at all), the ``cf_max`` (1,000) best of them by CF
  score: a 500-rating history reaches most of the ``HybridParams.max_items`` items the model
  learned neighbours for, and scoring all of them was a third of phase two's rows;
* **content neighbours**: the build-time top-K most similar movies of each liked movie
  (``content_nbr_idx``, padded with -1; skipped for versions without them);
* **profile terms**: the ``term_rows`` rows with the best partial content score over the
  profile's heaviest selective terms (:func:`term_rows`): the movies close to the profile as
  a whole, which are rarely among any one liked movie's neighbours;
* **prior head**: the top of the popularity prior (:func:`prior_head`, once per model).

Phase two (:mod:`recommendations.twophase`) scores only these rows with the full hybrid.

These sources are heuristics. :func:`bounded_rows` makes the set *safe* (MaxScore dynamic
pruning, as in text retrieval): from an upper bound of every term's contribution to the
richness-weighted cosine (:func:`term_maxima`, once per model), the profile's terms split into
"non-essential" ones, whose bounds add up to less than what a row needs to reach the current
``n``-th best score, and "essential" ones, whose postings are read in full (term-at-a-time
partial scores). A row in none of those postings cannot reach the list; a row in them is kept
only while its partial score plus the non-essential bound can.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class CandidateLimits:
    """Per-source caps; none grows with the catalog."""

    # CF items scored (the best by CF score). The CF part reaches at most the items the model
    # learned neighbours for (``HybridParams.max_items``, 5,000), whatever the catalog; a long
    # history reaches most of them, and one with a weak CF score comes up through the other
    # sources or not at all (recall@10 unchanged at 100,000 and 1,000,000 movies with 1,000;
    # docs/benchmarks.md). The safe step's bounds still count every CF item.
    cf_max: int = 1_000
    content_k: int = 50  # neighbours used per liked movie (of the stored k)
    max_liked: int = 60  # liked movies whose neighbours are read (the best-rated first)
    # The profile's terms (:func:`term_rows`): the heaviest terms whose postings are at most
    # ``term_max_postings`` long, read in full up to ``postings_budget`` entries in all; the
    # ``term_rows`` rows with the largest partial content score over them are candidates.
    term_max_postings: int = 20_000
    postings_budget: int = 200_000
    term_rows: int = 1_000
    # The longer terms count through their champion lists (:func:`champion_lists`): the
    # ``champions`` rows with the largest weight in each, for the ``common_terms`` heaviest.
    common_terms: int = 20
    champions: int = 2_000
    common_rows: int = 500  # rows with the best score over both kinds of terms
    prior_head: int = 200
    # The safe step (:func:`bounded_rows`): postings entries it may read per profile, and rows
    # it may add; past either the request keeps the heuristic set (counted as unproven).
    safe_postings_budget: int = 100_000
    safe_max_rows: int = 3_000
    safe_check_rows: int = 5_000  # rows whose exact cosine the safe step may compute
    # Unproven lists on a catalog up to this many rows are answered by the exact full scan
    # instead (0: never; a full scan at 1M movies costs ~10x the two-phase request).
    exact_fallback_rows: int = 0

    def __post_init__(self):
        for name, value in self.__dict__.items():
            if int(value) < 0:
                raise ValueError(f"{name} must not be negative.")

    @property
    def max_size(self) -> int:
        """Upper bound of the candidate set, whatever the catalog."""
        return (
            self.cf_max
            + self.content_k * self.max_liked
            + self.term_rows
            + self.common_rows
            + self.prior_head
        )

    @property
    def max_scored(self) -> int:
        """Upper bound of the rows two-phase scores besides the history and excluded rows:
        the heuristic set plus what the safe step adds for the liked and disliked profile."""
        return self.max_size + 2 * self.safe_max_rows


@dataclass
class Candidates:
    """The gathered rows (ascending, unique, excluded rows removed) and where they came from."""

    rows: np.ndarray
    by_source: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.rows)


def union_rows(*arrays) -> np.ndarray:
    """The sorted distinct rows of ``arrays`` (int64): ``np.union1d`` / ``np.unique`` by one
    sort. (numpy 2.4's ``unique`` hashes, then sorts: 4x slower on the few thousand rows a
    request gathers, several times per request.)"""
    rows = np.concatenate([np.asarray(a, dtype=np.int64).ravel() for a in arrays] or [[]])
    rows = np.sort(rows.astype(np.int64, copy=False))
    if rows.size > 1:
        rows = rows[np.concatenate(([True], rows[1:] != rows[:-1]))]
    return rows


def prior_head(prior: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` rows with the highest prior (unordered); one O(n) pass, done once per model."""
    prior = np.asarray(prior)
    k = min(int(k), prior.size)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.argpartition(prior, prior.size - k)[prior.size - k :].astype(np.int64)


def cf_rows(items: np.ndarray, values: np.ndarray, limit: int) -> np.ndarray:
    """The ``limit`` items with the best CF score."""
    items = np.asarray(items, dtype=np.int64)
    if items.size <= limit:
        return items
    values = np.asarray(values)
    return items[np.argpartition(values, items.size - limit)[items.size - limit :]]


def content_neighbour_rows(
    nbr_idx: np.ndarray | None, liked_rows: np.ndarray, liked_scores: np.ndarray, limits
) -> np.ndarray:
    """The stored content neighbours of the (best-rated ``max_liked``) liked rows."""
    if nbr_idx is None or len(liked_rows) == 0 or limits.content_k == 0:
        return np.zeros(0, dtype=np.int64)
    liked_rows = np.asarray(liked_rows, dtype=np.int64)
    if liked_rows.size > limits.max_liked:
        order = np.argsort(-np.asarray(liked_scores), kind="stable")[: limits.max_liked]
        liked_rows = liked_rows[order]
    block = np.asarray(nbr_idx[liked_rows, : limits.content_k]).ravel()
    return block[block >= 0].astype(np.int64)


Champions = tuple[np.ndarray, np.ndarray, np.ndarray]  # per term: indptr, rows, weights


def champion_lists(
    matrix_t: sp.csr_matrix, row_factor: np.ndarray, *, min_postings: int, per_term: int
) -> Champions:
    """Per term with more than ``min_postings`` postings, its ``per_term`` rows with the
    largest ``weight * row_factor`` (a "champion list", as search engines keep for common
    words), with their plain weights; other terms get none. Once per model: one pass over
    those terms' postings."""
    indptr = np.asarray(matrix_t.indptr)
    lengths = np.diff(indptr)
    counts = np.zeros(lengths.size, dtype=np.int64)
    rows, values = [], []
    for term in np.flatnonzero(lengths > min_postings):
        a, b = int(indptr[term]), int(indptr[term + 1])
        r, v = matrix_t.indices[a:b], matrix_t.data[a:b]
        if b - a > per_term:
            top = np.argpartition(v * row_factor[r], b - a - per_term)[b - a - per_term :]
            r, v = r[top], v[top]
        rows.append(r)
        values.append(v)
        counts[term] = r.size
    out_ptr = np.concatenate([[0], np.cumsum(counts)])
    if not rows:
        return out_ptr, np.zeros(0, np.int32), np.zeros(0, np.float32)
    return out_ptr, np.concatenate(rows), np.concatenate(values).astype(np.float32)


def term_rows(
    matrix_t: sp.csr_matrix | None,
    terms: np.ndarray,
    weights: np.ndarray,
    limits: CandidateLimits,
    row_factor: np.ndarray | None = None,
    champions: Champions | None = None,
) -> np.ndarray:
    """The ``term_rows`` rows with the largest content score over the profile's heaviest
    terms (term-at-a-time, as a search engine ranks documents).

    A movie close to a whole profile shares many of its terms; taking the heaviest rows of one
    term at a time found only the shortest rows. Selective terms are read by profile weight,
    in full, up to ``postings_budget`` entries. A term longer than ``term_max_postings`` (a
    genre, a common word) would cost more than it tells apart; the ``common_terms`` heaviest
    of those count through their ``champions`` (:func:`champion_lists`): a long profile spread
    over many movies puts most of its weight on such terms, and its closest movies are short
    ones made of them. Returned: the ``term_rows`` best over the selective terms and the
    ``common_rows`` best over both. ``row_factor`` (richness / row norm, as the blend's
    cosine) weighs the rows at the end.
    """
    k = limits.term_rows
    if matrix_t is None or len(terms) == 0 or k + limits.common_rows == 0:
        return np.zeros(0, dtype=np.int64)
    terms = np.asarray(terms, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float64)
    lengths = np.diff(matrix_t.indptr)[terms]
    ok = (lengths <= limits.term_max_postings) & (lengths > 0)
    order = np.flatnonzero(ok)[np.argsort(-weights[ok], kind="stable")]
    chosen = order[np.cumsum(lengths[order]) <= limits.postings_budget]
    common = np.flatnonzero(lengths > limits.term_max_postings)
    if champions is None or limits.common_terms == 0:
        common = common[:0]
    if chosen.size == 0 and common.size == 0:
        return np.zeros(0, dtype=np.int64)
    if chosen.size:
        # scipy's product of the terms' postings scatters into one dense float32 vector over
        # the catalog: measured at 1M movies, 0.8 ms for 200,000 entries, where a bincount
        # plus finding its non-zero rows took 13 ms (nonzero() mispredicts on every row)
        acc = matrix_t[terms[chosen]].T @ weights[chosen].astype(np.float32)
    else:
        acc = np.zeros(matrix_t.shape[1], dtype=np.float32)
    found, pool = _best(acc, k, row_factor) if chosen.size else (np.zeros(0, np.int64),) * 2
    if common.size and limits.common_rows:
        # The selective terms' best stay; the best once the long terms count join them. A
        # row the champions do not reach keeps its value, so it can only be among those if it
        # was in the selective pool: only the pool and the reached rows are ranked again.
        ptr, c_rows, c_values = champions
        reached = []
        for i in common[np.argsort(-weights[common], kind="stable")][: limits.common_terms]:
            a, b = ptr[terms[i]], ptr[terms[i] + 1]
            acc[c_rows[a:b]] += np.float32(weights[i]) * c_values[a:b]  # (rows unique per term)
            reached.append(c_rows[a:b])
        rows = np.concatenate([pool, *reached])
        values = acc[rows]
        # (a row reached through several terms is listed once per term: 4x the rows wanted
        # are kept before the duplicates go, which sorts a few thousand instead of all)
        m = 4 * limits.common_rows
        if rows.size > m:
            keep = np.argpartition(values, rows.size - m)[rows.size - m :]
            rows, values = rows[keep], values[keep]
        rows, first = np.unique(rows, return_index=True)
        best = _top_weighed(rows, values[first], limits.common_rows, row_factor)
        found = np.union1d(found, best)
    return found


def _best(acc: np.ndarray, k: int, row_factor: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best rows of ``acc`` (a partial cosine over the catalog) weighed by
    ``row_factor``, and the pool of the 2k best plain values they were picked from.

    Rows at or above the 2k-th best of any slice of the vector include the 2k best of all; a
    leading slice of 1/32 reads far less than a strided one.
    """
    if k == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    top = min(2 * k, acc.size)
    sample = acc[: max(acc.size // 32, 64 * top)]
    sample = sample[sample > 0]  # (selecting among thousands of equal zeros cost 2 ms)
    bound = np.partition(sample, sample.size - top)[sample.size - top] if sample.size > top else 0
    cand = np.flatnonzero(acc >= bound) if bound > 0 else np.flatnonzero(acc)
    if cand.size > top:
        cand = cand[np.argpartition(acc[cand], cand.size - top)[cand.size - top :]]
    return _top_weighed(cand, acc[cand], k, row_factor), cand.astype(np.int64)


def _top_weighed(rows, values, k: int, row_factor: np.ndarray | None) -> np.ndarray:
    """Of ``rows``, the 2k with the best ``values``, then the k best of those weighed by
    ``row_factor`` (only thin rows' factor is far from 1; weighing every row of the catalog
    was one more pass over the vector)."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size > 2 * k:
        keep = np.argpartition(values, rows.size - 2 * k)[rows.size - 2 * k :]
        rows, values = rows[keep], values[keep]
    if rows.size > k:
        if row_factor is not None:
            values = values * np.asarray(row_factor)[rows]
        rows = rows[np.argpartition(values, rows.size - k)[rows.size - k :]]
    return rows


def gather(
    *,
    exclude_rows: Sequence[int] | np.ndarray,
    n_rows: int,
    cf_items: np.ndarray | None = None,
    cf_values: np.ndarray | None = None,
    liked_rows: np.ndarray | None = None,
    liked_scores: np.ndarray | None = None,
    content_nbr_idx: np.ndarray | None = None,
    matrix_t: sp.csr_matrix | None = None,
    profile_terms: np.ndarray | None = None,
    profile_weights: np.ndarray | None = None,
    head: np.ndarray | None = None,
    limits: CandidateLimits | None = None,
    row_factor: np.ndarray | None = None,
    champions: Champions | None = None,
) -> Candidates:
    """Union of the four sources (see the module docstring) minus ``exclude_rows``."""
    limits = limits or CandidateLimits()
    empty = np.zeros(0, dtype=np.int64)
    liked = empty if liked_rows is None else np.asarray(liked_rows, dtype=np.int64)
    sources = {
        "collaborative": (
            cf_rows(cf_items, cf_values, limits.cf_max) if cf_items is not None else empty
        ),
        "content_neighbours": content_neighbour_rows(
            content_nbr_idx,
            liked,
            np.ones(len(liked)) if liked_scores is None else liked_scores,
            limits,
        ),
        "profile_terms": (
            term_rows(matrix_t, profile_terms, profile_weights, limits, row_factor, champions)
            if profile_terms is not None
            else empty
        ),
        "prior_head": empty if head is None else np.asarray(head, dtype=np.int64),
    }
    rows = union_rows(*sources.values())
    rows = rows[(rows >= 0) & (rows < n_rows)]
    excl = union_rows(exclude_rows)
    if excl.size and rows.size:
        pos = np.minimum(np.searchsorted(excl, rows), excl.size - 1)
        rows = rows[excl[pos] != rows]
    return Candidates(rows=rows, by_source=sources)


def term_maxima(matrix_t: sp.csr_matrix, row_factor: np.ndarray) -> np.ndarray:
    """Per term, the largest ``row_factor[r] * matrix[r, t]`` over its postings (0 for an
    empty term): the most one term can add to a row's richness-weighted cosine per unit of
    normalised profile weight, with ``row_factor = richness factor / row norm``. One O(nnz)
    pass; serving caches it per model (``twophase.cached_bounds``)."""
    indptr = np.asarray(matrix_t.indptr)
    out = np.zeros(matrix_t.shape[0], dtype=np.float64)
    if matrix_t.nnz == 0:
        return out
    factor = np.asarray(row_factor, dtype=np.float32)
    weighted = np.asarray(matrix_t.data, dtype=np.float32) * factor[matrix_t.indices]
    filled = np.flatnonzero(np.diff(indptr) > 0)
    out[filled] = np.maximum.reduceat(weighted, indptr[filled])
    return out


@dataclass
class Bound:
    """What :func:`bounded_rows` proved (or could not, ``ok`` False).

    Every row outside ``rows`` and outside the rows the caller scores anyway has a score
    below ``outside`` and a richness-weighted cosine below ``content`` (both upper bounds).
    """

    ok: bool
    rows: np.ndarray
    outside: float = np.inf
    content: float = np.inf
    postings: int = 0  # postings entries read
    essential: int = 0  # terms whose postings were read
    reason: str = ""


def non_essential_split(
    weights: np.ndarray,
    maxima: np.ndarray,
    factor_max: float,
    need: float,
    lengths: np.ndarray | None = None,
    budget: int = 0,
) -> tuple[np.ndarray, float]:
    """Which profile terms must be read so that the others cannot lift a row to ``need``.

    Terms in ascending order of their bound ``weight * max``; the longest prefix whose bound
    stays below ``need`` is left out. The prefix's bound is the smaller of the sum of its
    terms' bounds and Cauchy-Schwarz (``factor_max * |weights on the prefix|``, the cosine of
    the prefix alone can be no more). ``weights`` are normalised (unit norm). Returns the
    positions of the essential terms and the bound of the rest.

    With the terms' postings ``lengths``, more terms (the next largest bounds) are read while
    all of them fit in ``budget`` entries: the rest's bound then sits well below ``need``, so
    far fewer rows of the read postings can still reach it and need checking.
    """
    weights = np.asarray(weights, dtype=np.float64)
    u = weights * np.asarray(maxima, dtype=np.float64)
    order = np.argsort(u, kind="stable")
    bound = np.minimum(np.cumsum(u[order]), factor_max * np.sqrt(np.cumsum(weights[order] ** 2)))
    bound = np.concatenate([[0.0], bound])
    if not need > 0:
        return order, 0.0  # nothing can be left out
    j = int(np.searchsorted(bound, need, side="left")) - 1  # bound[j] < need
    if lengths is not None and j > 0:
        ls = np.asarray(lengths)[order]
        spare = budget - int(ls[j:].sum())
        j -= int(np.count_nonzero(np.cumsum(ls[:j][::-1]) <= spare))
    return order[j:], float(bound[j])


def bounded_rows(
    *,
    matrix_t: sp.csr_matrix,
    maxima: np.ndarray,
    row_factor: np.ndarray,
    factor_max: float,
    terms: np.ndarray,
    weights: np.ndarray,
    threshold: float,
    coef: float,
    content_cap: float,
    base_out: float,
    prior: np.ndarray | None = None,
    prior_weight: float = 0.0,
    base_rows: np.ndarray | None = None,
    base_values: np.ndarray | None = None,
    budget: int,
    max_rows: int,
    matrix: sp.csr_matrix | None = None,
    check_rows: int = 0,
) -> Bound:
    """The rows that could still score ``>= threshold``, with a proof for all others.

    A row's score is at most ``base(r) + coef * c(r)`` with ``c(r)`` its richness-weighted
    cosine with the profile (``terms``, ``weights``; ``row_factor`` = factor / row norm).
    ``base(r)`` is the non-content part's upper bound: ``prior_weight * prior[r]`` plus
    ``base_values`` on ``base_rows`` (the CF items' CF part); the caller vouches that every
    row it does not score anyway and that is neither read here nor a CF item has at most
    ``base_out`` (the prior's head is scored: the weight times the head's minimum). Rows that
    could push the content scale past ``content_cap`` are kept too, so that scale stays exact.

    Reads the essential terms' postings in full (:func:`non_essential_split`); the at most
    ``check_rows`` rows whose bound reaches the threshold then get their exact cosine from
    ``matrix`` (row-major) when given. Gives up (``ok`` False) past ``budget`` entries,
    ``check_rows`` rows to check or ``max_rows`` rows kept.
    """
    terms = np.asarray(terms, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float64)
    norm = float(np.sqrt(np.dot(weights, weights)))
    unit = weights / norm if norm > 0 else weights
    tol = 1e-5 * (1.0 + abs(threshold)) if np.isfinite(threshold) else 0.0
    need = min((threshold - tol - base_out) / coef, content_cap) if coef > 0 else content_cap
    if terms.size:
        lengths = np.diff(matrix_t.indptr)[terms]
        ess, rest = non_essential_split(unit, maxima[terms], factor_max, need, lengths, budget)
    else:
        ess, rest = np.zeros(0, dtype=np.int64), 0.0
    indptr = matrix_t.indptr
    ess_terms = terms[ess]
    lengths = indptr[ess_terms + 1] - indptr[ess_terms]
    read = int(lengths.sum())
    if read > budget:
        return Bound(
            False,
            np.zeros(0, np.int64),
            postings=read,
            essential=ess.size,
            reason="postings budget",
        )
    extra = np.zeros(0, np.int64) if base_rows is None else np.asarray(base_rows, np.int64)
    prior_max = 0.0 if prior is None else prior_weight * float(np.max(prior))
    cap = content_cap * (1 - 1e-6)
    # Rows whose partial content stays below ``level`` are ruled out without being listed:
    # their score stays under ``threshold - 2 * tol`` even with the largest prior, and their
    # content under ``cap``. (The partial is summed in float32: 1e-4 covers its rounding.)
    level_score = (threshold - 2 * tol - prior_max) / coef - rest if coef > 0 else np.inf
    if not np.isfinite(threshold):
        level_score = np.inf
    level = min(level_score, cap - rest) - 1e-4
    partial = None
    if ess.size:
        if level <= 0:  # every row could still reach it
            empty = np.zeros(0, np.int64)
            return Bound(False, empty, postings=read, essential=ess.size, reason="rows")
        # scipy's product of the postings into one dense float32 vector over the catalog (as
        # term_rows), then only the rows at the level are listed
        partial = matrix_t[ess_terms].T @ unit[ess].astype(np.float32)
        partial *= row_factor
        above = partial >= level
        if np.count_nonzero(above) > check_rows:  # (counted first: listing is the slow part)
            return Bound(False, extra[:0], postings=read, essential=ess.size, reason="rows")
        cand = union_rows(np.flatnonzero(above), extra)
    else:
        cand = union_rows(extra)
    content = np.full(cand.size, rest)
    if partial is not None:
        content += partial[cand]
    content = np.minimum(content, factor_max)
    ub = (
        np.zeros(cand.size)
        if prior is None
        else prior_weight * np.asarray(prior)[cand].astype(np.float64)  # (not all rows: 8 MB)
    )
    if extra.size:  # (CF items are unique)
        ub[np.searchsorted(cand, extra)] += np.asarray(base_values, dtype=np.float64)
    ub += coef * content
    keep = (ub >= threshold - tol) | (content >= content_cap * (1 - 1e-6))
    if int(keep.sum()) > check_rows:
        return Bound(False, cand[:0], postings=read, essential=ess.size, reason="rows")
    if matrix is not None and keep.any():
        # The rows the bounds cannot rule out get their exact content (document-at-a-time, as
        # MaxScore does): only those that really reach the list or the scale are kept.
        at = np.flatnonzero(keep)
        dense = np.zeros(matrix.shape[1], dtype=np.float64)
        dense[terms] = unit
        exact = np.asarray(matrix[cand[at]] @ dense).ravel() * np.asarray(row_factor)[cand[at]]
        ub[at] += coef * (exact - content[at])
        content[at] = exact
        keep = (ub >= threshold - tol) | (content >= content_cap * (1 - 1e-6))
    out_rows = cand[keep]
    if out_rows.size > max_rows:
        return Bound(False, out_rows[:0], postings=read, essential=ess.size, reason="rows")
    others_ub = ub[~keep]
    others_c = content[~keep]
    outside = max(
        base_out + coef * min(rest, factor_max),
        float(others_ub.max()) if others_ub.size else -np.inf,
        threshold - 2 * tol if partial is not None and np.isfinite(level_score) else -np.inf,
    )
    c_bound = max(
        min(rest, factor_max),
        float(others_c.max()) if others_c.size else 0.0,
        cap if partial is not None else 0.0,
    )
    return Bound(
        True, out_rows, outside=outside, content=c_bound, postings=read, essential=int(ess.size)
    )


def brute_content_neighbours(
    matrix: sp.csr_matrix, rows: Sequence[int], k: int, *, row_norms: np.ndarray | None = None
) -> np.ndarray:
    """Exact top-``k`` cosine neighbours of ``rows`` (self excluded, similarity > 0), as a
    -1-padded int32 array with one line per catalog row (only ``rows`` filled).

    For tests, the benchmark and the offline evaluation, where the model has no stored content
    neighbours: one matrix-vector product per row (O(nnz) each), so only for a few rows.
    """
    rows = np.unique(np.asarray(rows, dtype=np.int64))
    n, n_features = matrix.shape
    out = np.full((n, k), -1, dtype=np.int32)
    norms = (
        np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        if row_norms is None
        else np.asarray(row_norms, dtype=np.float64)
    )
    safe = np.where(norms > 0, norms, 1.0)
    for row in rows:
        vec = np.zeros(n_features, dtype=matrix.dtype)
        r = matrix[int(row)]
        vec[r.indices] = r.data
        sims = (matrix @ vec) / safe
        sims[int(row)] = -np.inf
        kk = min(k, n - 1)
        if kk <= 0 or norms[row] == 0:
            continue
        top = np.argpartition(-sims, kk - 1)[:kk]
        top = top[sims[top] > 0]
        top = top[np.lexsort((top, -sims[top]))]
        out[row, : top.size] = top
    return out
