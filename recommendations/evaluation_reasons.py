"""Checks of the production blend's lists beyond accuracy: tied tails and true reasons.

Pure numpy (no Django); ``manage.py evaluate`` prints them for the hybrid strategies:

* **tied runs**: lists whose top ``k`` has more than :data:`MAX_TIED_RUN` consecutive movies
  with the same score (a tail the ranking cannot order: genre-only imports);
* **named = top contributor**: how often the first "Because you liked X" of a pick is the liked
  movie whose removal from the history lowers that pick's score most (leave-one-out, through
  every signal of the blend), over a sample of users.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from . import candidates, evaluation, hybrid, tfidf, twophase

MAX_TIED_RUN = 3
# Users whose lists get the leave-one-out check (one re-score per liked movie each).
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


def top_contributor(
    arrays, *, tfidf_matrix, rows: np.ndarray, scores: np.ndarray, target: int, like: float
) -> int | None:
    """The liked history row whose removal lowers ``target``'s blended score most."""
    base = hybrid.score(
        arrays, tfidf_matrix=tfidf_matrix, history_rows=rows, history_scores=scores
    )[target]
    best, best_drop = None, 0.0
    for i in np.flatnonzero(scores >= like):
        keep = np.arange(rows.size) != i
        s = hybrid.score(
            arrays, tfidf_matrix=tfidf_matrix, history_rows=rows[keep], history_scores=scores[keep]
        )[target]
        drop = float(base - s)
        if drop > best_drop:
            best, best_drop = int(rows[i]), drop
    return best


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
    arrays = hybrid.fit(
        tfidf_matrix=m.matrix,
        ratings=ctx.history,
        tmdb_popularity=evaluation.tmdb_prior_for(ctx.catalog),
        params=params,
    )
    extra = {}
    if two_phase:
        liked = np.unique(
            np.concatenate(
                [s.history_rows[s.history_scores >= params.like_threshold] for s in ctx.splits]
            )
        )
        extra = {
            "tfidf_matrix_t": tfidf.transpose(m.matrix),
            "content_nbr_idx": candidates.brute_content_neighbours(
                m.matrix, liked, evaluation.CONTENT_NEIGHBOURS_K, row_norms=m.row_norms
            ),
        }
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
