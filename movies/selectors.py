"""Read-only queries that pick movies for a page (selectors pull; services push).

``movie_page`` is the movie page's catalog part (the movie and its listed facts), kept in the
cache per catalog stamp (``movies.stamp``): the same for every visitor until the catalog changes.

``onboarding_movies`` feeds the onboarding grid: well-known films, diverse across genres and
decades, that the person has neither rated nor skipped.

The order is the same for everyone (it depends on the catalog only), so "show more" can carry
a plain cursor (the position in that order where the next batch starts) and never repeats or drops
a film when the person rates or skips some in between; each person's rated and skipped films
are then left out of the batch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count

from .models import Movie, Rating, SkippedMovie
from .stamp import catalog_stamp

# How many of the best-known films are ever offered: deep enough for anyone who keeps rating,
# small enough to rank in Python on every request (a few milliseconds).
POOL_SIZE = 600
BATCH_SIZE = 24
# Within each batch, a film loses this much (on a 0..1 fame scale) per film already picked in
# the batch sharing one of its genres, and per film from the same decade. Strong enough that a
# batch of 24 spans most genres and several decades, weak enough that the famous films come
# first.
GENRE_PENALTY = 0.06
DECADE_PENALTY = 0.05
# Each pick considers only the next few best-known films, so diversity reorders but never
# digs deep into the obscure end of the pool.
LOOKAHEAD = 4 * BATCH_SIZE


@dataclass(frozen=True)
class OnboardingBatch:
    movies: list  # Movie instances, annotated for cards (genres prefetched, ``my_score``)
    next_start: int | None  # cursor for "show more", None when the pool is used up


def _percentiles(values: dict[int, float]) -> dict[int, float] | None:
    """Rank percentile (0..1, ties share the lower rank) of each movie; None when the signal
    does not tell films apart (the demo catalog has no vote counts: all zero)."""
    if len(set(values.values())) <= 1:
        return None
    ordered = sorted(values.values())
    n = len(ordered) - 1
    first_index: dict[float, int] = {}
    for i, value in enumerate(ordered):
        first_index.setdefault(value, i)
    return {pk: first_index[v] / n for pk, v in values.items()}


def fame_scores() -> dict[int, tuple[float, int | None, frozenset[int]]]:
    """``{movie_id: (fame 0..1, decade, genre ids)}`` for the best-known films.

    Fame is the mean percentile of the signals that vary on this catalog: TMDB popularity,
    TMDB vote count, and how many people here rated the film. Any one signal alone misleads:
    the demo catalog has no vote counts, a fresh site has no ratings.
    """
    rows = {
        pk: (popularity, votes, year)
        for pk, popularity, votes, year in Movie.objects.order_by(
            "-popularity", "-vote_count", "pk"
        ).values_list("pk", "popularity", "vote_count", "year")[:POOL_SIZE]
    }
    # Films many members rated are well known even when TMDB calls them unpopular.
    site_counts = dict(
        Rating.objects.values("movie")
        .annotate(n=Count("pk"))
        .order_by("-n", "movie")
        .values_list("movie", "n")[:POOL_SIZE]
    )
    missing = set(site_counts) - set(rows)
    if missing:
        rows.update(
            (pk, (popularity, votes, year))
            for pk, popularity, votes, year in Movie.objects.filter(pk__in=missing).values_list(
                "pk", "popularity", "vote_count", "year"
            )
        )
    signals = [
        _percentiles({pk: row[0] for pk, row in rows.items()}),
        _percentiles({pk: row[1] for pk, row in rows.items()}),
        _percentiles({pk: site_counts.get(pk, 0) for pk in rows}),
    ]
    signals = [s for s in signals if s is not None]
    genres: dict[int, set[int]] = {pk: set() for pk in rows}
    for movie_id, genre_id in Movie.genres.through.objects.filter(
        movie_id__in=list(rows)
    ).values_list("movie_id", "genre_id"):
        genres[movie_id].add(genre_id)
    result = {}
    for pk, (_, _, year) in rows.items():
        fame = sum(s[pk] for s in signals) / len(signals) if signals else 0.0
        decade = year - year % 10 if year else None
        result[pk] = (fame, decade, frozenset(genres[pk]))
    return result


def diversified_order(scores: dict[int, tuple[float, int | None, frozenset[int]]]) -> list[int]:
    """Movie ids, best known first, reordered batch by batch so that each batch of
    ``BATCH_SIZE`` mixes genres and decades (greedy: the best fame minus penalties for what the
    batch already has). Deterministic: ties go to the smaller id."""
    remaining = sorted(scores, key=lambda pk: (-scores[pk][0], pk))
    order: list[int] = []
    while remaining:
        genre_seen: Counter[int] = Counter()
        decade_seen: Counter[int | None] = Counter()
        for _ in range(min(BATCH_SIZE, len(remaining))):
            best_index, best_value = 0, None
            for index, pk in enumerate(remaining[:LOOKAHEAD]):
                fame, decade, genre_ids = scores[pk]
                value = (
                    fame
                    - GENRE_PENALTY * sum(genre_seen[g] for g in genre_ids)
                    - (DECADE_PENALTY * decade_seen[decade] if decade is not None else 0)
                )
                if best_value is None or value > best_value:
                    best_index, best_value = index, value
            pk = remaining.pop(best_index)
            order.append(pk)
            genre_seen.update(scores[pk][2])
            decade_seen[scores[pk][1]] += 1
    return order


def onboarding_movies(user, *, start: int = 0, limit: int = BATCH_SIZE) -> OnboardingBatch:
    """The next ``limit`` films of the onboarding order from position ``start`` that ``user``
    has neither rated nor skipped, ready for cards; a fixed number of queries."""
    order = diversified_order(fame_scores())
    excluded = set(Rating.objects.filter(user=user).values_list("movie_id", flat=True))
    excluded |= SkippedMovie.objects.movie_ids(user)
    picked: list[int] = []
    next_start = None
    for position in range(max(0, start), len(order)):
        if order[position] in excluded:
            continue
        if len(picked) == limit:
            next_start = position
            break
        picked.append(order[position])
    by_pk = Movie.objects.filter(pk__in=picked).for_cards().with_user_rating(user).in_bulk()
    return OnboardingBatch(
        movies=[by_pk[pk] for pk in picked if pk in by_pk], next_start=next_start
    )


# --- The movie page -------------------------------------------------------------------------

# How long a movie page's facts stay in the cache; an edit of the catalog changes the stamp in
# their key at once, so this only bounds the memory of pages nobody opens again.
MOVIE_PAGE_SECONDS = 3600


def movie_page(pk: int) -> dict | None:
    """The movie page's catalog part, or None when there is no such movie: ``movie`` (the row)
    and ``Movie.objects.page_facts`` (genres, keywords, cast, directors as plain values). Read
    from the cache under the catalog stamp: two cache reads instead of four queries."""
    key = f"movie-page:{catalog_stamp()}:{int(pk)}"
    page = cache.get(key)
    if page is None:
        try:
            movie = Movie.objects.get(pk=pk)
        except Movie.DoesNotExist:
            return None
        page = {"movie": movie, **Movie.objects.page_facts(movie.pk)}
        cache.set(key, page, MOVIE_PAGE_SECONDS)
    return page


# --- Cards ----------------------------------------------------------------------------------

CARD_MOVIE_SECONDS = 3600


def card_movies(movie_ids) -> dict[int, Movie]:
    """``Movie.objects.with_card_genres().in_bulk(movie_ids)``, kept in the cache per movie
    under the catalog stamp: a grid of cards ("More like this", recommendations) reads its
    rows with one cache read (plus the two queries for the ones not kept). Movies that do not
    exist are left out, as ``in_bulk`` leaves them out."""
    ids = list(dict.fromkeys(int(m) for m in movie_ids))
    if not ids:
        return {}
    stamp = catalog_stamp()
    keys = {mid: f"card-movie:{stamp}:{mid}" for mid in ids}
    found = cache.get_many(list(keys.values()))
    movies = {mid: found[key] for mid, key in keys.items() if key in found}
    missing = [mid for mid in ids if mid not in movies]
    if missing:
        fresh = Movie.objects.with_card_genres().in_bulk(missing)
        cache.set_many({keys[mid]: movie for mid, movie in fresh.items()}, CARD_MOVIE_SECONDS)
        movies.update(fresh)
    return movies
