"""Exports of a person's ratings and watchlist as CSV, streamed row by row.

Two formats (documented on the account page and in the README):

* ``netflixrecs`` — ``tmdb_id,imdb_id,movielens_id,title,year,rating,rated_at,watchlist``:
  one row per rated movie (rating 0.5–5 in half stars, rated_at in ISO 8601 UTC,
  watchlist empty) and one per watchlisted movie (rating empty, watchlist ``1``);
* ``letterboxd`` — Letterboxd's import columns ``tmdbID,imdbID,Title,Year,Rating,WatchedDate``
  (Rating in half stars 0.5–5, WatchedDate = the day you rated it, YYYY-MM-DD): ratings only.

Rows are read with ``iterator()`` in chunks, so an export of 50,000 ratings never sits in
memory whole.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

from accounts.ratings_csv import EXPORT_COLUMNS, LETTERBOXD_COLUMNS, csv_lines
from movies.models import Rating, WatchlistEntry

CHUNK = 2000
MOVIE_FIELDS = ["movie__tmdb_id", "movie__imdb_id", "movie__movielens_id", "movie__title"]


def _ratings(user):
    return (
        Rating.objects.filter(user=user)
        .order_by("movie__title", "movie_id")
        .values_list(*MOVIE_FIELDS, "movie__year", "score", "updated_at")
    )


def netflixrecs_lines(user) -> Iterator[str]:
    def rows():
        for tmdb, imdb, ml, title, year, score, rated in _ratings(user).iterator(CHUNK):
            rated = rated.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            yield [tmdb, imdb, ml or "", title, year or "", f"{score:.1f}", rated, ""]
        watch = (
            WatchlistEntry.objects.filter(user=user)
            .order_by("movie__title", "movie_id")
            .values_list(*MOVIE_FIELDS, "movie__year")
        )
        for tmdb, imdb, ml, title, year in watch.iterator(CHUNK):
            yield [tmdb, imdb, ml or "", title, year or "", "", "", "1"]

    return csv_lines(EXPORT_COLUMNS, rows())


def letterboxd_lines(user) -> Iterator[str]:
    def rows():
        for tmdb, imdb, _ml, title, year, score, rated in _ratings(user).iterator(CHUNK):
            day = rated.astimezone(datetime.UTC).date().isoformat()
            yield [tmdb, imdb, title, year or "", f"{score:.1f}", day]

    return csv_lines(LETTERBOXD_COLUMNS, rows())
