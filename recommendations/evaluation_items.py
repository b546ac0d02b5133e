"""The item-to-item protocol: offline quality of "More like this".

Pure numeric (no Django). On the same temporal split as :mod:`recommendations.evaluation`:
for every evaluated user and every movie they liked in their history (the *seed*), the
similar-movies list of the seed (``k`` = 12, the page's length, the user's history left out,
as the page leaves out what a viewer rated) is a *hit* when it holds a movie the user liked
in their test period. Reported per ranker: hit rate and binary NDCG@k over all
(user, seed) pairs, and how many pairs there were.

Rankers: ``content-only`` (TF-IDF cosine, what "More like this" was), ``collaborative-only``
(the stored co-rating neighbours) and ``blended`` (:func:`similar.similar_rows`, what it is).
The collaborative parts are learnt from the histories only (``hybrid.fit``), as in
:mod:`recommendations.evaluation`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from . import similar, tfidf

K = 12
# seed row, rows to leave out, k -> ranked rows
Ranker = Callable[[int, np.ndarray, int], Sequence[int]]


@dataclass(frozen=True)
class ItemResult:
    ranker: str
    hit_rate: float
    ndcg: float
    pairs: int

    def summary(self) -> dict:
        return {"hit_rate": self.hit_rate, "ndcg": self.ndcg, "pairs": self.pairs}


def seed_pairs(splits, like_threshold: float = 4.0) -> list[tuple[int, int]]:
    """``(split index, seed row)`` for every liked history movie of every split."""
    if not np.isfinite(like_threshold):
        raise ValueError("like_threshold must be a finite number.")
    out = []
    for i, s in enumerate(splits):
        liked = np.unique(
            np.asarray(s.history_rows)[np.asarray(s.history_scores) >= like_threshold]
        )
        out.extend((i, int(r)) for r in liked)
    return out


def pair_metrics(ranked: Sequence[int], relevant: set[int], k: int) -> tuple[int, float]:
    """(hit, binary NDCG@k) of one list against a non-empty set of relevant rows."""
    if not relevant:
        raise ValueError("a pair with no relevant row cannot be evaluated")
    gains = np.array([1.0 if int(r) in relevant else 0.0 for r in list(ranked)[:k]])
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float((gains * discounts[: len(gains)]).sum())
    idcg = float(discounts[: min(len(relevant), k)].sum())
    return int(gains.sum() > 0), dcg / idcg


def evaluate_ranker(
    name: str, ranker: Ranker, splits, pairs: Sequence[tuple[int, int]], k: int = K
) -> ItemResult:
    if k < 1:
        raise ValueError("k must be at least 1.")
    relevant = [set(int(r) for r in s.relevant_rows) for s in splits]
    hits, ndcgs = [], []
    for i, seed in pairs:
        ranked = ranker(seed, np.asarray(splits[i].history_rows), k)
        hit, ndcg = pair_metrics(ranked, relevant[i], k)
        hits.append(hit)
        ndcgs.append(ndcg)
    return ItemResult(
        ranker=name,
        hit_rate=float(np.mean(hits)) if hits else 0.0,
        ndcg=float(np.mean(ndcgs)) if ndcgs else 0.0,
        pairs=len(pairs),
    )


def content_ranker(matrix: sp.csr_matrix, row_norms: np.ndarray) -> Ranker:
    """TF-IDF cosine only, as "More like this" ranked before the blend (ties: lower row)."""
    cache: dict[int, np.ndarray] = {}

    def rank(seed: int, exclude: np.ndarray, k: int) -> np.ndarray:
        if seed not in cache:
            cache[seed] = tfidf.cosine_scores(matrix, matrix[seed], row_norms)
        scores = cache[seed]
        best = tfidf.top_n(scores, [seed, *exclude.tolist()], k)
        return best[scores[best] > 0]

    return rank


def collab_ranker(neighbours: sp.csr_matrix) -> Ranker:
    """The stored co-rating neighbours only (positive weights; ties: lower row)."""
    n = neighbours.shape[0]

    def rank(seed: int, exclude: np.ndarray, k: int) -> np.ndarray:
        nb = neighbours[seed]
        scores = np.zeros(n, dtype=np.float64)
        scores[nb.indices] = nb.data
        best = tfidf.top_n(scores, [seed, *exclude.tolist()], k)
        return best[scores[best] > 0]

    return rank


def blended_ranker(
    *,
    matrix: sp.csr_matrix,
    row_norms: np.ndarray,
    neighbours: sp.csr_matrix | None,
    prior: np.ndarray | None,
    richness: np.ndarray | None,
    weights: similar.SimilarWeights = similar.DEFAULT_WEIGHTS,
) -> Ranker:
    def rank(seed: int, exclude: np.ndarray, k: int) -> list[int]:
        rows = similar.similar_rows(
            seed,
            matrix=matrix,
            row_norms=row_norms,
            neighbours=neighbours,
            prior=prior,
            richness=richness,
            exclude_rows=exclude.tolist(),
            n=k,
            weights=weights,
        )
        return [r.row for r in rows]

    return rank


def evaluate_item_to_item(
    *,
    splits,
    matrix: sp.csr_matrix,
    row_norms: np.ndarray,
    neighbours: sp.csr_matrix,
    prior: np.ndarray,
    like_threshold: float = 4.0,
    k: int = K,
    weights: similar.SimilarWeights = similar.DEFAULT_WEIGHTS,
) -> list[ItemResult]:
    """The three rankers on the same (user, seed) pairs: content-only, collaborative-only,
    blended."""
    pairs = seed_pairs(splits, like_threshold)
    richness = tfidf.text_richness(matrix)
    rankers = {
        "content-only": content_ranker(matrix, row_norms),
        "collaborative-only": collab_ranker(neighbours),
        "blended": blended_ranker(
            matrix=matrix,
            row_norms=row_norms,
            neighbours=neighbours,
            prior=prior,
            richness=richness,
            weights=weights,
        ),
    }
    return [evaluate_ranker(name, r, splits, pairs, k) for name, r in rankers.items()]


def format_item_table(results: Sequence[ItemResult], *, k: int = K) -> str:
    head = f"{'more like this':<22} {'hit@' + str(k):>8} {'NDCG@' + str(k):>9} {'pairs':>8}"
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(f"{r.ranker:<22} {r.hit_rate:>8.4f} {r.ndcg:>9.4f} {r.pairs:>8}")
    return "\n".join(lines)
