"""Checks of the production blend's lists beyond accuracy: tied tails and true reasons.

Pure numpy (no Django); ``manage.py evaluate`` prints them for the hybrid strategies:

* **tied runs**: lists whose top ``k`` has more than :data:`MAX_TIED_RUN` consecutive movies
  with the same score (a tail the ranking cannot order: genre-only imports);
* **named = top contributor**: how often the first "Because you liked X" of a pick is the liked
  movie with the largest share of that pick's score (CF and content, recomputed from the
  blend's definition by :func:`contributions`), over a sample of users.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from . import evaluation, hybrid, twophase

MAX_TIED_RUN = 3
# Users whose lists get the reason check (one re-score per pick).
REASON_SAMPLE = 100


def longest_tied_run(scores) -> int:
    """The longest run of consecutive equal scores (0 for an empty list)."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        return 0
    best = run = 1
    for a, b in zip(s[:-1], s[1:], strict=True):
        run = run + 1 if a == b else 1
        best = max(best, run)
    return best


def contributions(
    arrays, *, tfidf_matrix, rows: np.ndarray, scores: np.ndarray, target: int
) -> tuple[np.ndarray, float]:
    """Each history row's part of ``target``'s blended score, recomputed from the blend's
    definition (not from ``hybrid.explain``): ``(per history row, the rest)``.

    The rest is the prior and the disliked-profile part; the two add up to the score (the
    tests check it), so "top contributor" means the largest additive share of the score, with
    the blend's scales as they are for this user. (Leaving a movie out would also re-scale
    the other parts to max 1, crediting the wrong movie for the rescaling.)
    """
    params = hybrid.load_params(arrays)
    parts = hybrid.score_parts(
        arrays, tfidf_matrix=tfidf_matrix, history_rows=rows, history_scores=scores
    )
    out = np.zeros(rows.size)
    if parts.cf_scale > 0:
        nbr = hybrid.neighbour_matrix(arrays)
        s_col = np.asarray(nbr[rows][:, [target]].todense()).ravel()
        out += parts.weights["cf"] / parts.cf_scale * (scores - params.neutral) * s_col
    liked = scores >= params.like_threshold
    if parts.content_scale > 0:
        w = scores[liked] / scores[liked].sum()
        x = tfidf_matrix[rows[liked]].toarray().astype(np.float64)
        t = tfidf_matrix[target].toarray().ravel().astype(np.float64)
        p = w @ x
        factor = float(hybrid.content_factor(tfidf_matrix, params.richness_strength)[target])
        denom = np.linalg.norm(p) * np.linalg.norm(t)
        if denom > 0:
            share = w * (x @ t) / denom * factor
            out[liked] += parts.weights["content"] / parts.content_scale * share
    rest = float(parts.scores[target]) - float(out.sum())
    return out, rest


def top_contributor(
    arrays, *, tfidf_matrix, rows: np.ndarray, scores: np.ndarray, target: int, like: float
) -> int | None:
    """The liked history row with the largest positive share of ``target``'s score."""
    contrib, _ = contributions(
        arrays, tfidf_matrix=tfidf_matrix, rows=rows, scores=scores, target=target
    )
    contrib = np.where(scores >= like, contrib, -np.inf)
    best = int(np.argmax(contrib))
    return int(rows[best]) if contrib[best] > 0 else None


@dataclass(frozen=True)
class ListChecks:
    strategy: str
    lists: int
    tied_lists: int  # lists with a run of more than MAX_TIED_RUN equal scores
    named: int  # picks with a "because" checked (sampled users)
    named_top: int  # of which the first named movie is the leave-one-out top contributor

    def summary(self) -> dict:
        share = round(self.named_top / self.named, 4) if self.named else None
        return {
            "lists": self.lists,
            "tied_lists": self.tied_lists,
            "named": self.named,
            "named_is_top": share,
        }


def check_lists(
    ctx: evaluation.EvalContext,
    name: str,
    *,
    collab: bool = True,
    two_phase: bool = False,
    sample: int = REASON_SAMPLE,
) -> ListChecks:
    """The tied-run count over every user's list and the reason check over ``sample`` users,
    for the production blend (``collab=False``: without its collaborative part)."""
    params = ctx.hybrid_params if collab else replace(ctx.hybrid_params, collab=False)
    m = ctx.tfidf_model
    arrays, extra = evaluation.fit_blend(ctx, params, two_phase=two_phase)
    recommend = twophase.recommend if two_phase else hybrid.recommend
    tied = named = named_top = 0
    for u, s in enumerate(ctx.splits):
        recs = recommend(
            arrays,
            tfidf_matrix=m.matrix,
            tfidf_row_norms=m.row_norms,
            history_rows=s.history_rows,
            history_scores=s.history_scores,
            n=ctx.k,
            explain_k=1 if u < sample else 0,
            **extra,
        )
        tied += longest_tied_run([r.score for r in recs]) > MAX_TIED_RUN
        if u >= sample:
            continue
        for r in recs:
            if not r.because:
                continue
            named += 1
            top = top_contributor(
                arrays,
                tfidf_matrix=m.matrix,
                rows=s.history_rows,
                scores=s.history_scores,
                target=r.row,
                like=params.like_threshold,
            )
            named_top += top == r.because[0]
    return ListChecks(name, len(ctx.splits), int(tied), named, int(named_top))
