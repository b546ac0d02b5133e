"""The explanation step of serving: scored candidates become movies with a reason in words.

"Because you liked X, Y · shared: Science Fiction, James Cameron" names the liked movies that
contributed most and the profile terms a movie shares with them, squashed tokens turned back
into the names people know. A movie that is on the list mostly for its popularity prior says
"Popular and well rated" instead of crediting a liked movie for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from movies.models import Movie

from . import reasons, tfidf
from .scoring import Candidate, ModelHistory

if TYPE_CHECKING:
    from .loading import LoadedModel

# A recommendation whose score is mostly the popularity prior is explained as such.
PRIOR_LED_SHARE = 0.6
# "shared: ..." names at most this many terms, people and keywords first.
SHARED_TERMS = 3
# Terms read off the similarity before the informative ones are picked (reasons.pick_terms).
SHARED_POOL = 20
# A pick with less than this share of its score from co-ratings rests on its content match;
# when that match is genres only, the reason says "Same genres as X".
GENRE_ONLY_CF_SHARE = 0.25
POPULAR_AND_WELL_RATED = "Popular and well rated"


@dataclass
class RecommendedMovie:
    """One movie the site recommends to a user, with what to say about it."""

    movie: Movie
    score: float | None
    because: list[Movie] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)
    reason: str = ""  # when set, the whole explanation (fallback lists, prior-led picks)
    # The pick rests on genres alone (nothing else shared, little from co-ratings).
    genres_only: bool = False

    @property
    def explanation(self) -> str:
        if self.reason:
            return self.reason
        parts = []
        if self.genres_only and self.because:
            liked = ", ".join(m.title for m in self.because)
            return f"Same genres as {liked}" + (
                ": " + ", ".join(self.shared) if self.shared else ""
            )
        if self.because:
            parts.append("Because you liked " + ", ".join(m.title for m in self.because))
        if self.shared:
            parts.append("shared: " + ", ".join(self.shared))
        return " · ".join(parts)


def pretty_terms(terms: list[str], movies: list[Movie]) -> list[str]:
    """Map squashed tokens ("jamescameron") back to the names people know ("James Cameron")."""
    names: dict[str, str] = {}
    for m in movies:
        for obj in [*m.genres.all(), *m.keywords.all(), *(c.person for c in m.credits.all())]:
            names.setdefault(tfidf.squash_name(obj.name).lower(), obj.name)
    out: list[str] = []
    for term in terms:
        pretty = " ".join(names.get(tok, tok) for tok in term.split())
        if pretty not in out:
            out.append(pretty)
    return out


def term_kinds(movies: list[Movie]) -> dict[str, str]:
    """Squashed token -> person / keyword / genre, from the movies' own details (any other
    token of the soup is an overview word)."""
    kinds: dict[str, str] = {}
    for m in movies:
        for objs, kind in (
            ([c.person for c in m.credits.all()], reasons.PERSON),
            (m.keywords.all(), reasons.KEYWORD),
            (m.genres.all(), reasons.GENRE),
        ):
            for obj in objs:
                kinds.setdefault(tfidf.squash_name(obj.name).lower(), kind)
    return kinds


def document_frequencies(model: LoadedModel, terms: list[str]) -> dict[str, int]:
    """In how many catalog movies each term occurs (the postings' lengths)."""
    if not terms:
        return {}
    index = {str(name): j for j, name in enumerate(model.feature_names) if str(name) in terms}
    cols = np.array([index[t] for t in terms if t in index], dtype=np.int64)
    if model.matrix_t is not None:
        counts = np.diff(model.matrix_t.indptr)[cols]
    else:  # versions without the term-major copy: count the columns
        counts = np.asarray((model.matrix[:, cols] != 0).sum(axis=0)).ravel()
    return {t: int(c) for t, c in zip([t for t in terms if t in index], counts, strict=True)}


def shared_terms(
    *, model: LoadedModel, profile, row: int, movies: list[Movie]
) -> tuple[list[str], bool]:
    """The informative terms row ``row`` shares with ``profile``, as people write them, and
    whether they are genres only (see :func:`reasons.pick_terms`)."""
    terms = tfidf.shared_terms(model.matrix, profile, int(row), model.feature_names, k=SHARED_POOL)
    picked, genres_only = reasons.pick_terms(
        terms,
        term_kinds(movies),
        document_frequencies(model, terms),
        n_rows=model.matrix.shape[0],
        k=SHARED_TERMS,
    )
    return pretty_terms(picked, movies), genres_only


def cited_profile(model: LoadedModel, history: ModelHistory, because_rows) -> object:
    """The profile of the cited liked movies, so "shared" terms are shared with them; the
    whole liked profile when nothing is cited."""
    if not because_rows:
        return history.profile
    return tfidf.user_profile(model.matrix, list(because_rows), np.ones(len(because_rows)))


def prior_reason(candidate: Candidate, *, because: list, shared: list[str]) -> str:
    """Say what mostly put a movie on the list: the user's own movies, or its popularity.

    A movie that is there mostly on the prior (popular and well rated) is not credited to a
    liked movie alone; an empty string lets :attr:`RecommendedMovie.explanation` build the
    usual "Because you liked X · shared: ..." text. Scorers without a prior (TF-IDF alone)
    always get the usual text.
    """
    if candidate.prior_share is None:
        return ""
    if not because and not shared:
        return POPULAR_AND_WELL_RATED
    if candidate.prior_share < PRIOR_LED_SHARE:
        return ""
    liked = ", ".join(m.title for m in because[:2])
    return POPULAR_AND_WELL_RATED + (f" · also close to {liked}" if liked else "")


def explain(
    *, model: LoadedModel, history: ModelHistory, candidates: list[Candidate]
) -> list[RecommendedMovie]:
    """The candidates as movies with explanations, in order, loaded in a fixed number of
    queries. A movie deleted since the build cannot be shown and is left out."""
    rec_ids = [int(model.movie_ids[c.row]) for c in candidates]
    because_ids = {int(model.movie_ids[b]) for c in candidates for b in c.because_rows}
    movies = Movie.objects.with_details().in_bulk(rec_ids + sorted(because_ids))
    items: list[RecommendedMovie] = []
    for candidate, movie_id in zip(candidates, rec_ids, strict=True):
        movie = movies.get(movie_id)
        if movie is None:  # deleted since the build
            continue
        because = [
            movies[liked_id]
            for liked_id in (int(model.movie_ids[b]) for b in candidate.because_rows)
            if liked_id in movies
        ]
        shared, genres_only = shared_terms(
            model=model,
            profile=cited_profile(model, history, candidate.because_rows),
            row=candidate.row,
            movies=[movie, *because],
        )
        items.append(
            RecommendedMovie(
                movie=movie,
                score=round(candidate.score, 4),
                because=because,
                shared=shared,
                genres_only=genres_only and candidate.cf_share < GENRE_ONLY_CF_SHARE,
                reason=prior_reason(candidate, because=because, shared=shared),
            )
        )
    return items
