"""The explanation step of serving: scored candidates become movies with a reason in words.

"Because you liked X, Y · shared: Science Fiction, James Cameron" names the liked movies that
contributed most and the profile terms a movie shares with them, squashed tokens turned back
into the names people know. A movie that is on the list mostly for its popularity prior says
"Popular and well rated" instead of crediting a liked movie for it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from movies.models import Movie
from movies.selectors import card_movies
from movies.stamp import catalog_stamp

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


# One cited movie's names, squashed as the soup squashes them: token -> (kind, name).
TermLookup = dict[str, tuple[str, str]]


def term_lookup(movie_names: dict[str, list[str]]) -> TermLookup:
    """A movie's names (``Movie.objects.term_names``) by squashed token. A token that is a
    person, a keyword and a genre at once keeps all three meanings apart: the kind goes by
    person > keyword > genre, the name people read by genre > keyword > person."""
    kinds: dict[str, str] = {}
    names: dict[str, str] = {}
    for key, kind in (("person", reasons.PERSON), ("keyword", reasons.KEYWORD)):
        for name in movie_names[key]:
            kinds.setdefault(tfidf.squash_name(name).lower(), kind)
    for name in movie_names["genre"]:
        kinds.setdefault(tfidf.squash_name(name).lower(), reasons.GENRE)
    for key in ("genre", "keyword", "person"):
        for name in movie_names[key]:
            names.setdefault(tfidf.squash_name(name).lower(), name)
    return {tok: (kind, names[tok]) for tok, kind in kinds.items()}


# Cited movies' lookups, kept in the process: the same liked movies are cited on page after
# page, and reading their genres, keywords and credits was a third of an uncached
# recommendations page. Kept for one loaded model and one catalog stamp (movies.stamp changes
# on every save or delete of a movie, genre, keyword, person or credit, so an edit in any
# process empties them in every process at its next explanation), at most
# TERM_LOOKUP_SECONDS, and bounded in size.
TERM_LOOKUP_SECONDS = 600.0
TERM_LOOKUP_MAX = 20_000
# The same holds for each card's "shared: ..." terms, a function of the model, the card's row,
# the liked rows it cites and those movies' names alone: members re-rank after every rating and
# most cards come back citing the same movies, so the terms are kept beside the names, by
# (row, cited rows), and a rating costs the re-rank, not a new explanation of every card.
SHARED_KEPT_MAX = 50_000
_term_lookups: dict = {"model": None, "stamp": None, "until": 0.0, "by_movie": {}, "shared": {}}


def forget_term_lookups(*args, **kwargs) -> None:
    """Empty the kept lookups and shared terms (tests start from nothing kept)."""
    _term_lookups.update(model=None, stamp=None, until=0.0, by_movie={}, shared={})


def _kept(model: LoadedModel) -> dict:
    """What is kept for ``model``: emptied for another model or catalog stamp, after
    TERM_LOOKUP_SECONDS and when it grew past its bounds."""
    now = time.monotonic()
    stamp = catalog_stamp()
    kept = _term_lookups
    if (
        kept["model"] is not model
        or kept["stamp"] != stamp
        or now > kept["until"]
        or len(kept["by_movie"]) > TERM_LOOKUP_MAX
        or len(kept["shared"]) > SHARED_KEPT_MAX
    ):
        kept.update(
            model=model, stamp=stamp, until=now + TERM_LOOKUP_SECONDS, by_movie={}, shared={}
        )
    return kept


def term_lookups(model: LoadedModel, movie_ids) -> dict[int, TermLookup]:
    """:func:`term_lookup` of each of ``movie_ids``, read from the database only for the
    movies not kept already (one ``term_names`` call)."""
    by_movie = _kept(model)["by_movie"]
    missing = [m for m in movie_ids if m not in by_movie]
    if missing:
        names = Movie.objects.term_names(missing)
        for mid in missing:
            by_movie[mid] = term_lookup(names[mid])
    return {m: by_movie[m] for m in movie_ids}


def pretty_terms(terms: list[str], lookups: list[TermLookup]) -> list[str]:
    """Map squashed tokens ("jamescameron") back to the names people know ("James Cameron"),
    from the cited movies' lookups (the first movie that knows a token names it)."""
    out: list[str] = []
    for term in terms:
        pretty = " ".join(_first(lookups, tok, 1, tok) for tok in term.split())
        if pretty not in out:
            out.append(pretty)
    return out


def term_kinds(terms: list[str], lookups: list[TermLookup]) -> dict[str, str]:
    """Squashed token -> person / keyword / genre for the tokens of ``terms``, from the cited
    movies' own details (any other token of the soup is an overview word)."""
    kinds: dict[str, str] = {}
    for term in terms:
        for tok in term.split():
            kind = _first(lookups, tok, 0, None)
            if kind is not None:
                kinds[tok] = kind
    return kinds


def _first(lookups: list[TermLookup], token: str, part: int, default):
    for lookup in lookups:
        found = lookup.get(token)
        if found is not None:
            return found[part]
    return default


def document_frequencies(model: LoadedModel, terms: list[str]) -> dict[str, int]:
    """In how many catalog movies each term occurs (the postings' lengths)."""
    if not terms:
        return {}
    index = model.feature_index
    cols = np.array([index[t] for t in terms if t in index], dtype=np.int64)
    if model.matrix_t is not None:
        counts = np.diff(model.matrix_t.indptr)[cols]
    else:  # versions without the term-major copy: count the columns
        counts = np.asarray((model.matrix[:, cols] != 0).sum(axis=0)).ravel()
    return {t: int(c) for t, c in zip([t for t in terms if t in index], counts, strict=True)}


def shared_terms(
    *, model: LoadedModel, profile, row: int, lookups: list[TermLookup]
) -> tuple[list[str], bool]:
    """The informative terms row ``row`` shares with ``profile``, as people write them, and
    whether they are genres only (see :func:`reasons.pick_terms`). ``lookups``: the cited
    movies' :func:`term_lookup`, the recommended movie first."""
    terms = tfidf.shared_terms(model.matrix, profile, int(row), model.feature_names, k=SHARED_POOL)
    picked, genres_only = reasons.pick_terms(
        terms,
        term_kinds(terms, lookups),
        document_frequencies(model, terms),
        n_rows=model.matrix.shape[0],
        k=SHARED_TERMS,
    )
    return pretty_terms(picked, lookups), genres_only


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


def _shared_key(candidate: Candidate) -> tuple | None:
    """What a card's shared terms depend on besides the model and the names: its row and the
    liked rows it cites. None when it cites none: its terms come from the member's whole
    profile (:func:`cited_profile`), which is theirs alone, and are not kept."""
    if not candidate.because_rows:
        return None
    return (int(candidate.row), tuple(int(b) for b in candidate.because_rows))


def explain(
    *, model: LoadedModel, history: ModelHistory, candidates: list[Candidate]
) -> list[RecommendedMovie]:
    """The candidates as movies with explanations, in order, loaded in a fixed number of
    queries. A movie deleted since the build cannot be shown and is left out."""
    rec_ids = [int(model.movie_ids[c.row]) for c in candidates]
    because_ids = {int(model.movie_ids[b]) for c in candidates for b in c.because_rows}
    # Cards show title, year, poster and genres (the rows kept per catalog stamp); the reasons
    # need only names, read as plain values (model instances of every keyword and credit cost
    # ~70% of an uncached page).
    # The liked movies a card cites are only named: their kept rows too, in the same read.
    movies = card_movies(rec_ids + sorted(because_ids))
    cited_movies = {m: movies[m] for m in because_ids if m in movies}
    # Shared terms kept from earlier pages (see SHARED_KEPT_MAX); the names only for the rest.
    kept = _kept(model)
    kept_shared = kept["shared"]
    fresh = [
        (c, m)
        for c, m in zip(candidates, rec_ids, strict=True)
        if _shared_key(c) not in kept_shared
    ]
    lookups = term_lookups(
        model,
        [m for _, m in fresh]
        + sorted({int(model.movie_ids[b]) for c, _ in fresh for b in c.because_rows}),
    )
    # Many cards cite the same liked movies: one profile per cited set.
    profiles: dict[tuple[int, ...], object] = {}
    items: list[RecommendedMovie] = []
    for candidate, movie_id in zip(candidates, rec_ids, strict=True):
        movie = movies.get(movie_id)
        if movie is None:  # deleted since the build
            continue
        because = [
            cited_movies[liked_id]
            for liked_id in (int(model.movie_ids[b]) for b in candidate.because_rows)
            if liked_id in cited_movies
        ]
        cited = tuple(int(b) for b in candidate.because_rows)
        key = _shared_key(candidate)
        parts = kept_shared.get(key) if key is not None else None
        if parts is None:
            if cited not in profiles:
                profiles[cited] = tfidf.canonical_row(cited_profile(model, history, cited))
            parts = shared_terms(
                model=model,
                profile=profiles[cited],
                row=candidate.row,
                lookups=[lookups[m.pk] for m in (movie, *because)],
            )
            if key is not None:
                kept_shared[key] = (tuple(parts[0]), parts[1])
        shared, genres_only = list(parts[0]), parts[1]
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
