"""Title search: ranked by relevance, tolerant of typos, with "did you mean" and suggestions.

A selector (it only reads). Three parts, top to bottom:

* pure helpers (no database): :func:`normalize_query`, :func:`tier` (the ranking rule in
  Python, mirrored in SQL by :func:`rank_expression`), :func:`fuzzy_cutoff` and
  :class:`TitleIndex`, the compact fuzzy index;
* the per-process cache of that index (:func:`get_index`), invalidated by the catalog's
  signals in this process and by a cheap check of the catalog's shape every few seconds
  (other processes, such as sync workers, change the catalog too);
* the ORM part: :func:`search_titles` for the browse page and :func:`suggest_titles` for the
  live suggestions under a search box.

Relevance, the same on every database: the exact folded title first (a leading "the", "a" or
"an" ignored: "godfather" is exactly "The Godfather"), then titles starting with the query,
then titles where it is a whole word, then where it starts a word, then any other substring,
then typo matches; ties go
to the more popular film, then the one with more votes, then the newer one (remakes).

Typos: when the words as typed match fewer than :data:`FEW_MATCHES` titles, near misses join
the results (after every direct match) and the best of them are offered as "did you mean".
On PostgreSQL they come from pg_trgm (``TrigramWordSimilarity``, served by the trigram GIN
index of migration 0002); elsewhere (the SQLite default) from rapidfuzz over the in-process
index, because SQLite has no similarity operator.
"""

import math
import re
import threading
import time
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from enum import IntEnum
from functools import reduce
from operator import or_

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    IntegerField,
    Max,
    Q,
    QuerySet,
    Value,
    When,
)
from rapidfuzz import fuzz, process

from .models import Movie
from .text import fold

# A title is at most 255 characters; a longer query cannot match one and only costs time.
MAX_QUERY_LENGTH = 200
MIN_SUGGEST_LENGTH = 2
SUGGEST_LIMIT = 8
# Below this many direct matches, typo matches join the results and "did you mean" shows.
FEW_MATCHES = 3
# Shorter queries have too many near neighbours for a typo match to mean anything.
FUZZY_MIN_LENGTH = 3
FUZZY_LIMIT = 30
DID_YOU_MEAN_LIMIT = 3
# A title shorter than this share of the query is not a typo of it.
MIN_LENGTH_RATIO = 0.6
# "Did you mean" offers only titles about as close as the best one.
DID_YOU_MEAN_SPREAD = 5.0
# Leading articles that do not count against an exact or prefix match.
ARTICLES = ("the ", "a ", "an ")
# How often a process checks whether another process changed the catalog (seconds), and the
# most titles one process keeps in its index (the most popular; bounds memory at ~100 bytes
# a title). Both can be set in settings.
INDEX_CHECK_SECONDS = 5.0
INDEX_MAX_TITLES = 250_000

_ALNUM = re.compile(r"\w")


class Tier(IntEnum):
    EXACT = 0
    PREFIX = 1
    WORD = 2
    WORD_START = 3  # the query starts a word: what a title being typed looks like
    SUBSTRING = 4
    FUZZY = 5


# --- Pure helpers ---------------------------------------------------------------------------


def normalize_query(text: str | None) -> str:
    """The folded query (lower case, no accents, single spaces), capped at MAX_QUERY_LENGTH;
    "" when nothing searchable is left (only whitespace or punctuation)."""
    folded = fold((text or "")[: MAX_QUERY_LENGTH * 2])[:MAX_QUERY_LENGTH].strip()
    return folded if _ALNUM.search(folded.replace("_", "")) else ""


def _exact_forms(query: str) -> list[str]:
    return [query] + [article + query for article in ARTICLES if not query.startswith(article)]


def word_regex(query: str) -> str:
    """A pattern matching ``query`` as whole words. Lookarounds rather than ``\\b`` so a query
    that starts or ends with punctuation still works; Python's ``re`` (Django's SQLite REGEXP)
    and PostgreSQL's ARE read it the same way."""
    return r"(?<!\w)" + re.escape(query) + r"(?!\w)"


def word_start_regex(query: str) -> str:
    return r"(?<!\w)" + re.escape(query)


def tier(title: str, query: str) -> Tier:
    """Where a folded ``title`` ranks for a folded ``query``: the rule SQL applies too."""
    forms = _exact_forms(query)
    if title in forms:
        return Tier.EXACT
    if title.startswith(tuple(forms)):
        return Tier.PREFIX
    if query not in title:
        return Tier.FUZZY
    if re.search(word_regex(query), title):
        return Tier.WORD
    if re.search(word_start_regex(query), title):
        return Tier.WORD_START
    return Tier.SUBSTRING


def fuzzy_cutoff(query: str) -> float:
    """The lowest WRatio that counts as a typo of ``query``: one slip in a short word costs
    more of the score than in a long one ("aleen" ~ "alien" scores 80, "godfater" ~ "the
    godfather" 79), so short queries need a little less: 70 to 80."""
    return max(70.0, min(80.0, 85.0 - 60.0 / max(len(query), 1)))


class TitleIndex:
    """Folded titles, ids and popularity in flat arrays: about 100 bytes a title, searched in
    C by rapidfuzz (``process.extract`` with a score cutoff and a limit). No Django here."""

    def __init__(self, rows):
        """``rows``: (id, folded title, popularity). Kept sorted by title length, so a query
        skips in one slice the titles too short to be a typo of it (WRatio scores "go" 90
        against "godfater": a short title fits inside any query)."""
        ordered = sorted(rows, key=lambda row: len(row[1]))
        self.titles: list[str] = [title for _, title, _ in ordered]
        self.ids = array("q", (pk for pk, _, _ in ordered))
        self.popularity = array("d", (popularity or 0.0 for _, _, popularity in ordered))
        self.lengths = array("l", (len(title) for title in self.titles))

    def __len__(self) -> int:
        return len(self.titles)

    def fuzzy(self, query: str, *, limit: int = FUZZY_LIMIT) -> list[tuple[int, float, str]]:
        """Up to ``limit`` (id, score, folded title) close to ``query``, best first; among
        equal scores (rounded to a point) the more popular title first."""
        if len(query) < FUZZY_MIN_LENGTH or not self.titles:
            return []
        start = bisect_left(self.lengths, math.ceil(len(query) * MIN_LENGTH_RATIO))
        hits = process.extract(
            query,
            self.titles[start:],
            scorer=fuzz.WRatio,
            processor=None,  # both sides are folded already
            score_cutoff=fuzzy_cutoff(query),
            # Extra room so popularity can break ties among equally close titles.
            limit=limit * 3,
        )
        hits.sort(key=lambda hit: (-round(hit[1]), -self.popularity[start + hit[2]], hit[2]))
        return [(self.ids[start + i], round(score, 1), title) for title, score, i in hits[:limit]]


# --- The per-process index ------------------------------------------------------------------


@dataclass
class _Cache:
    index: TitleIndex | None = None
    key: tuple | None = None
    checked_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


_cache = _Cache()


def _catalog_key() -> tuple:
    # Any save stamps updated_at and any delete lowers the count: one cheap aggregate.
    shape = Movie.objects.aggregate(changed=Max("updated_at"), count=Count("id"))
    return shape["changed"], shape["count"]


def get_index() -> TitleIndex:
    """This process's title index, rebuilt when the catalog changed (checked at most every
    INDEX_CHECK_SECONDS; a change in this process drops it at once, see invalidate_index)."""
    check_every = getattr(settings, "SEARCH_INDEX_CHECK_SECONDS", INDEX_CHECK_SECONDS)
    with _cache.lock:
        now = time.monotonic()
        if _cache.index is not None and now - _cache.checked_at < check_every:
            return _cache.index
        key = _catalog_key()
        if _cache.index is None or key != _cache.key:
            most = getattr(settings, "SEARCH_INDEX_MAX_TITLES", INDEX_MAX_TITLES)
            rows = Movie.objects.order_by("-popularity", "-vote_count", "pk").values_list(
                "pk", "search_title", "popularity"
            )[:most]
            _cache.index = TitleIndex(rows.iterator(chunk_size=5000))
            _cache.key = key
        _cache.checked_at = now
        return _cache.index


def invalidate_index(**kwargs) -> None:
    """Signal receiver (post_save / post_delete of Movie, catalog_changed): drop the index so
    the next search rebuilds it."""
    with _cache.lock:
        _cache.index = None
        _cache.key = None


# --- The ORM part ---------------------------------------------------------------------------


def _is_postgres(queryset: QuerySet) -> bool:
    return settings.DATABASES[queryset.db]["ENGINE"].endswith("postgresql")


def rank_expression(query: str) -> Case:
    """The Tier of each row, in SQL (see :func:`tier`)."""
    forms = _exact_forms(query)
    return Case(
        When(search_title__in=forms, then=Value(Tier.EXACT)),
        When(reduce(or_, (Q(search_title__startswith=f) for f in forms)), then=Value(Tier.PREFIX)),
        When(search_title__regex=word_regex(query), then=Value(Tier.WORD)),
        When(search_title__regex=word_start_regex(query), then=Value(Tier.WORD_START)),
        When(search_title__contains=query, then=Value(Tier.SUBSTRING)),
        default=Value(Tier.FUZZY),
        output_field=IntegerField(),
    )


RELEVANCE_ORDER = (
    "search_rank",
    "-search_fuzz",
    "-popularity",
    "-vote_count",
    F("year").desc(nulls_last=True),
    "title",
    "pk",
)


@dataclass
class TitleSearch:
    """What a search found: ``movies`` (annotated ``search_rank``, ``search_fuzz``; ordered by
    relevance unless asked not to), ``did_you_mean`` (Movies, best first) and
    ``close_matches_only`` (no title contains the query as typed; all results are typo
    matches)."""

    query: str
    movies: QuerySet
    did_you_mean: list = field(default_factory=list)
    close_matches_only: bool = False


def search_titles(
    queryset: QuerySet,
    raw_query: str,
    *,
    by_relevance: bool = True,
    did_you_mean: bool = True,
    typos_below: int = FEW_MATCHES,
) -> TitleSearch:
    """Filter ``queryset`` (Movies) to titles matching ``raw_query``, ranked by relevance.

    Typo matches join when fewer than ``typos_below`` titles match directly. Queries: one to
    count direct matches (at most FEW_MATCHES rows), plus, when they are few,
    one for "did you mean" (and on SQLite the index, when it is stale). The movies themselves
    are left to the caller's query.
    """
    query = normalize_query(raw_query)
    if not query:
        return TitleSearch(query="", movies=queryset)
    direct = Q(search_title__contains=query)
    direct_titles = list(
        queryset.filter(direct).values_list("search_title", flat=True)[:FEW_MATCHES]
    )
    found = len(direct_titles)
    match, fuzz_score, suggestions = direct, Value(0.0), []
    if found < typos_below and len(query) >= FUZZY_MIN_LENGTH:
        # A title that is or starts with the query was typed right: nothing to correct.
        did_you_mean = did_you_mean and all(tier(t, query) > Tier.PREFIX for t in direct_titles)
        if _is_postgres(queryset):
            match, fuzz_score, suggestions = _postgres_typos(query, direct, did_you_mean)
        else:
            match, fuzz_score, suggestions = _index_typos(query, direct, did_you_mean)
    movies = queryset.filter(match).annotate(
        search_rank=rank_expression(query), search_fuzz=fuzz_score
    )
    if by_relevance:
        movies = movies.order_by(*RELEVANCE_ORDER)
    return TitleSearch(
        query=query,
        movies=movies,
        did_you_mean=suggestions,
        close_matches_only=found == 0,
    )


def _postgres_typos(query: str, direct: Q, did_you_mean: bool):
    from django.contrib.postgres.search import TrigramWordSimilarity

    similar = Q(search_title__trigram_word_similar=query)  # the GIN index serves this
    similarity = TrigramWordSimilarity(query, "search_title")
    # Direct matches score 0 so they keep their popularity order within a tier.
    fuzz_score = Case(When(direct, then=Value(0.0)), default=similarity, output_field=FloatField())
    suggestions = []
    if did_you_mean:
        suggestions = list(
            Movie.objects.filter(similar)
            .exclude(direct)
            .annotate(similarity=similarity)
            .order_by("-similarity", "-popularity", "-vote_count", "pk")
            .only("pk", "title", "year")[:DID_YOU_MEAN_LIMIT]
        )
    return direct | similar, fuzz_score, suggestions


def _index_typos(query: str, direct: Q, did_you_mean: bool):
    hits = get_index().fuzzy(query)
    if not hits:
        return direct, Value(0.0), []
    ids = [pk for pk, _, _ in hits]
    fuzz_score = Case(
        *(When(pk=pk, then=Value(score)) for pk, score, _ in hits),
        default=Value(0.0),
        output_field=FloatField(),
    )
    # Rows found both ways are direct matches; their score must not reorder their tier.
    fuzz_score = Case(When(direct, then=Value(0.0)), default=fuzz_score, output_field=FloatField())
    suggestions = []
    if did_you_mean:
        # Only titles that do not contain the query as typed: those are the corrections.
        typos = [(pk, score) for pk, score, title in hits if query not in title]
        best = typos[0][1] if typos else 0.0
        picked = [pk for pk, score in typos if score >= best - DID_YOU_MEAN_SPREAD]
        picked = picked[:DID_YOU_MEAN_LIMIT]
        if picked:
            by_pk = Movie.objects.only("pk", "title", "year").in_bulk(picked)
            suggestions = [by_pk[pk] for pk in picked if pk in by_pk]
    return direct | Q(pk__in=ids), fuzz_score, suggestions


def suggest_titles(raw_query: str, *, limit: int = SUGGEST_LIMIT) -> list:
    """Up to ``limit`` Movies (pk, title, year) for the live suggestions, best first; [] for
    queries shorter than MIN_SUGGEST_LENGTH. Two queries (plus the index when stale)."""
    if len(normalize_query(raw_query)) < MIN_SUGGEST_LENGTH:
        return []
    # Typos only when nothing matches as typed: while typing, a word is often half done.
    found = search_titles(Movie.objects.all(), raw_query, did_you_mean=False, typos_below=1)
    return list(found.movies.only("pk", "title", "year")[:limit])
