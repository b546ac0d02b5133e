""" "More like this": item-to-item similarity that blends co-rating, content and a prior.

Pure numeric (no Django). For one query row the three signals are

* **co-rating**: the stored collaborative neighbours of the row (``hybrid.neighbour_matrix``;
  negative weights dropped), when the site has ratings;
* **content**: TF-IDF cosine, from the stored content neighbours (``content_nbr_idx`` /
  ``content_nbr_sim``) when the version has them, else a full scan. Weighed by how much text
  the candidate has (:func:`tfidf.text_richness`): a movie with no overview matches every movie
  of its genres equally well and must not float up on that alone. The whole content part is
  weighed by the query's own richness too, so a thin query leans on co-ratings;
* **prior**: the model's popularity prior (``hybrid`` array ``prior``, in [0, 1]), against
  obscure near-duplicates and as the tie-breaker.

Each of co-rating and content is divided by its maximum for this query, so the weights of
:class:`SimilarWeights` compare like with like. Only rows with some co-rating or content
similarity are candidates: the prior alone never brings in an unrelated blockbuster.
The defaults were chosen by the item-to-item protocol (:mod:`recommendations.evaluation_items`,
docs/evaluation.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from . import tfidf

LEADERS = ("co-rating", "content", "prior")


class SimilarError(ValueError):
    """Inputs that do not fit together (a programming or artifact error, not user input)."""


@dataclass(frozen=True)
class SimilarWeights:
    cf: float = 1.0
    content: float = 1.0
    prior: float = 0.5
    # Content weight of a row with no text at all (1.0 = text richness is ignored).
    richness_floor: float = 0.2
    # Candidates: this many best rows by co-rating plus this many by content. The prior only
    # reorders them, so a popular film must be related to the query to be shown at all.
    pool: int = 50
    # Co-rating weight of a row that shares no content with the query (1.0 = no gate): on a
    # site's ratings, co-rating alone favours whatever everyone has seen (Alien -> Schindler's
    # List), so it counts fully only for rows that are also like the query in content.
    cf_gate: float = 0.3

    def __post_init__(self):
        for name in ("cf", "content", "prior"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise SimilarError(f"weight {name} must be a finite number >= 0 (got {value}).")
        if not 0.0 <= self.richness_floor <= 1.0:
            raise SimilarError("richness_floor must be between 0 and 1.")
        if not 0.0 <= self.cf_gate <= 1.0:
            raise SimilarError("cf_gate must be between 0 and 1.")
        if int(self.pool) != self.pool or self.pool < 1:
            raise SimilarError(f"pool must be a whole number >= 1 (got {self.pool}).")


DEFAULT_WEIGHTS = SimilarWeights()


@dataclass(frozen=True)
class SimilarRow:
    row: int
    score: float
    leader: str  # which signal gave most of the score: one of LEADERS


def _best(v: np.ndarray, k: int, prior: np.ndarray) -> np.ndarray:
    """Positions of the ``k`` highest positive values of ``v``; ties go to the higher prior,
    then the lower position (positions follow the rows' order, so: the lower row), so the
    pool does not depend on the sort's whims."""
    pos = np.flatnonzero(v > 0)
    if pos.size <= k:
        return pos
    return pos[np.lexsort((pos, -prior[pos], -v[pos]))[:k]]


def _norm_max(v: np.ndarray) -> np.ndarray:
    top = float(v.max()) if v.size else 0.0
    return v / top if top > 0 else v


def _content_support(
    row: int,
    *,
    n: int,
    matrix: sp.csr_matrix,
    row_norms: np.ndarray | None,
    matrix_t: sp.csr_matrix | None,
    content_nbr_idx: np.ndarray | None,
    content_nbr_sim: np.ndarray | None,
    co_rated: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``(support, content)``: the rows that can score at all (ascending) and the cosine of
    ``row`` with each of them (float64, clipped at 0).

    With stored neighbours the support is the stored line plus the co-rated rows, so every
    later step costs O(support), not O(catalog) (at a million movies the catalog-long vectors
    cost ~20 ms a page); a co-rated row outside the stored line gets its exact cosine.
    Without them it is every row (the full scan)."""
    if content_nbr_idx is not None and content_nbr_sim is not None:
        if content_nbr_idx.shape != content_nbr_sim.shape or content_nbr_idx.shape[0] != n:
            raise SimilarError("content_nbr_idx and content_nbr_sim must both be (n_rows, k).")
        idx = np.asarray(content_nbr_idx[row], dtype=np.int64)
        sim = np.asarray(content_nbr_sim[row], dtype=np.float64)
        keep = (idx >= 0) & (idx < n)
        idx, sim = idx[keep], sim[keep]
        support = np.union1d(idx, co_rated)
        content = np.zeros(support.size, dtype=np.float64)
        content[np.searchsorted(support, idx)] = sim
        content = content.clip(min=0.0)
        if co_rated.size:
            # The stored line holds only the top k by content; the co-rated rows outside it
            # get their exact cosine (a few hundred rows, O(their terms)), so the co-rating
            # gate sees the same affinity as with a full scan.
            at = np.searchsorted(support, co_rated)
            at = at[content[at] == 0]
            if at.size:
                content[at] = _exact_cosine(matrix, row, support[at], row_norms).clip(min=0.0)
        return support, content
    scores = tfidf.cosine_scores(matrix, matrix[row], row_norms, matrix_t=matrix_t)
    return np.arange(n), scores.astype(np.float64).clip(min=0.0)


def _exact_cosine(matrix, row: int, rows: np.ndarray, row_norms) -> np.ndarray:
    """Cosine of ``row`` with each of ``rows`` (sparse, no scan)."""
    prod = sp.coo_matrix(matrix[rows] @ matrix[row].T)
    dots = np.zeros(len(rows), dtype=np.float64)
    np.add.at(dots, prod.row, prod.data)
    if row_norms is None:
        sq = np.asarray(matrix[rows].multiply(matrix[rows]).sum(axis=1)).ravel()
        norms, own = np.sqrt(sq), float(np.sqrt(matrix[row].multiply(matrix[row]).sum()))
    else:
        # (the rows picked first: converting every row norm was 8 MB per call at 1M movies)
        norms = np.asarray(row_norms)[rows].astype(np.float64)
        own = float(row_norms[row])
    denom = norms * own
    return np.divide(dots, denom, out=np.zeros_like(dots), where=denom > 0)


# At most this many rows with the same score (to SCORE_DECIMALS) follow each other: rows
# equal on every signal are interchangeable (typically genre-only matches with no ratings),
# and a wall of them says nothing.
MAX_EQUAL = 3
SCORE_DECIMALS = 4


def _no_wall(order: np.ndarray, total: np.ndarray, n: int) -> list[int]:
    """The first ``n`` of ``order`` with at most :data:`MAX_EQUAL` equal scores in a row."""
    out: list[int] = []
    run_score, run = None, 0
    for i in order:
        score = round(float(total[i]), SCORE_DECIMALS)
        run = run + 1 if score == run_score else 1
        run_score = score
        if run > MAX_EQUAL:
            continue  # the rest of this tie: the list goes on with the next lower score
        out.append(int(i))
        if len(out) == n:
            break
    return out


def similar_rows(
    row: int,
    *,
    matrix: sp.csr_matrix,
    row_norms: np.ndarray | None = None,
    matrix_t: sp.csr_matrix | None = None,
    neighbours: sp.csr_matrix | None = None,
    prior: np.ndarray | None = None,
    richness: np.ndarray | None = None,
    content_nbr_idx: np.ndarray | None = None,
    content_nbr_sim: np.ndarray | None = None,
    exclude_rows: Iterable[int] = (),
    n: int = 12,
    weights: SimilarWeights = DEFAULT_WEIGHTS,
) -> list[SimilarRow]:
    """The ``n`` rows most like ``row`` by the blend (see the module docstring), best first.

    Ties are broken by the prior, then by the lower row; of rows with the very same score at
    most :data:`MAX_EQUAL` are kept. ``row`` itself and ``exclude_rows``
    are never returned. Without ``neighbours`` (or with an empty row) the blend is content +
    prior; without ``prior`` there is no prior term; without ``richness`` every row counts
    as text-rich.
    """
    n_rows = matrix.shape[0]
    if not isinstance(row, int | np.integer) or not 0 <= int(row) < n_rows:
        raise SimilarError(f"row must be a catalog row in 0..{n_rows - 1} (got {row!r}).")
    if int(n) < 1:
        raise SimilarError(f"n must be at least 1 (got {n}).")
    row = int(row)
    for name, arr in (("row_norms", row_norms), ("prior", prior), ("richness", richness)):
        if arr is not None and np.shape(arr) != (n_rows,):
            raise SimilarError(f"{name} must have one value per catalog row ({n_rows}).")
    if neighbours is not None and neighbours.shape != (n_rows, n_rows):
        raise SimilarError(f"neighbours must be {n_rows} x {n_rows}.")

    nb = neighbours[row] if neighbours is not None and weights.cf > 0 else None
    co_rated = np.asarray(nb.indices, dtype=np.int64) if nb is not None else np.zeros(0, int)
    # Every vector below is over ``support`` (ascending rows): the rows with some content or
    # co-rating signal; the others score 0 on both and can never be candidates.
    support, content = _content_support(
        row,
        n=n_rows,
        matrix=matrix,
        row_norms=row_norms,
        matrix_t=matrix_t,
        content_nbr_idx=content_nbr_idx,
        content_nbr_sim=content_nbr_sim,
        co_rated=co_rated,
    )
    query_text = 1.0
    if richness is not None:
        floor = weights.richness_floor
        content *= floor + (1.0 - floor) * np.asarray(richness)[support].astype(np.float64)
        query_text = floor + (1.0 - floor) * float(richness[row])
    content = _norm_max(content)
    affinity = content.copy()  # in [0, 1], before the weights: the co-rating gate
    content *= weights.content * query_text

    cf = np.zeros(support.size, dtype=np.float64)
    if nb is not None:
        cf[np.searchsorted(support, co_rated)] = np.asarray(nb.data, dtype=np.float64)
        cf = _norm_max(cf.clip(min=0.0)) * weights.cf
        cf *= weights.cf_gate + (1.0 - weights.cf_gate) * affinity

    skip = np.fromiter((int(r) for r in exclude_rows), dtype=np.int64)
    dropped = np.isin(support, np.append(skip, row))
    content[dropped] = 0.0
    cf[dropped] = 0.0
    p = (
        np.zeros(support.size, dtype=np.float64)
        if prior is None
        else np.nan_to_num(np.asarray(prior)[support].astype(np.float64)).clip(min=0.0)
    )
    candidates = np.union1d(_best(content, weights.pool, p), _best(cf, weights.pool, p))
    if candidates.size == 0:
        return []
    prior_part = p[candidates] * weights.prior
    total = content[candidates] + cf[candidates] + prior_part
    order = _no_wall(np.lexsort((candidates, -p[candidates], -total)), total, int(n))
    parts = np.stack([cf[candidates], content[candidates], prior_part], axis=1)
    return [
        SimilarRow(
            row=int(support[candidates[i]]),
            score=float(total[i]),
            leader=LEADERS[int(np.argmax(parts[i]))],
        )
        for i in order
    ]
