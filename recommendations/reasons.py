"""Which shared terms a "Because you liked X · shared: ..." reason names (pure, no Django).

A term is worth naming when it says something about the two movies: a person or a keyword
before an overview word, an overview word only when it is rare in the catalog and not filler,
and genres only when nothing else is shared (then the reason says the pick rests on genres).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

PERSON, KEYWORD, WORD, GENRE = "person", "keyword", "word", "genre"
# Lower ranks are named first.
_RANK = {PERSON: 0, KEYWORD: 0, WORD: 1, GENRE: 2}
# An overview word in more than this share of the catalog's movies is not informative.
MAX_WORD_DF_SHARE = 0.01
# Overview filler our TF-IDF stop words (scikit-learn's English list) let through: verbs of
# plot summaries, common first names, vague nouns. Seen on the site as "shared" reasons.
_STOP_TEXT = (
    "key john return help finds find found finding help helps helped life lives living world "
    "man men woman women young old new year years time day days night way things thing make "
    "makes made take takes taking set sets begins begin story stories tale tells tell film "
    "movie discovers discover soon becomes become comes come goes going gets get got turn "
    "turns tries try trying must will decides decide home family friend friends love help "
    "james david michael peter paul mark tom jack joe mike bob frank george harry henry sam "
    "max ben nick charlie mary sarah anna jane kate lisa help back away along group people "
    "lead leads named called known begins starts start left right end ends ending save saves "
    "saving way past future town city place small big little good bad best "
)
OVERVIEW_STOP_WORDS = frozenset(_STOP_TEXT.split())


def term_kind(term: str, kinds: Mapping[str, str]) -> str:
    """The kind of a (possibly two-word) term: a bigram takes its least informative token's."""
    toks = term.split()
    return max((kinds.get(t, WORD) for t in toks), key=_RANK.__getitem__)


def informative(term: str, kind: str, *, df: int, n_rows: int) -> bool:
    """Whether a term may be named at all: overview words must be rare and not filler."""
    if any(t in OVERVIEW_STOP_WORDS for t in term.split()):
        return False
    if kind == WORD:
        return df <= max(1, MAX_WORD_DF_SHARE * n_rows)
    return True


def pick_terms(
    terms: Sequence[str],
    kinds: Mapping[str, str],
    df: Mapping[str, int],
    *,
    n_rows: int,
    k: int = 3,
) -> tuple[list[str], bool]:
    """``(terms to name, genres_only)`` from ``terms`` (best contribution first).

    People and keywords first, then rare overview words, single words before bigrams; genres
    only when nothing else is left, and then ``genres_only`` is True.
    """
    kept = []
    for i, term in enumerate(terms):
        kind = term_kind(term, kinds)
        if informative(term, kind, df=int(df.get(term, 0)), n_rows=n_rows):
            kept.append((_RANK[kind], " " in term, i, term, kind))
    kept.sort()
    others = _without_repeats([t for *_, t, kind in kept if kind != GENRE])
    if others:
        return others[:k], False
    genres = _without_repeats([t for *_, t, kind in kept if kind == GENRE])
    return genres[:k], bool(genres)


def _without_repeats(terms: list[str]) -> list[str]:
    """Drop a bigram whose words are all named already ("Action", "Science Fiction", then
    "Action Science Fiction" says nothing new)."""
    named: set[str] = set()
    out = []
    for term in terms:
        toks = term.split()
        if len(toks) > 1 and all(t in named for t in toks):
            continue
        out.append(term)
        named.update(toks)
    return out
