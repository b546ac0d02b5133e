"""Load ``bench/synthetic_catalog.py``'s generated movies into PostgreSQL with COPY (benchmarks).

A million movies through the ORM (``bulk_create`` of movies, then of their genre, keyword and
credit rows) takes the better part of an hour; COPY through Django's own connection
(psycopg 3's ``cursor.copy``) streams the same rows in minutes. Every movie gets what the
product reads: title (and its folded ``search_title``), overview, release date and year,
runtime, popularity, vote average and count, its genres, keywords, top-3 cast and director
(``Credit`` rows, billing order kept). Movie ids are given explicitly (after the largest one
present) and the id sequences are moved past them. No model signals are sent (as with
``bulk_create``). PostgreSQL only.

    from bench.copy_catalog import copy_synthetic_catalog
    copy_synthetic_catalog(1_000_000)      # -> {"movies": ..., "rows": ..., "seconds": ...}
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable

from django.db import connection, transaction
from django.utils.text import slugify

from bench.synthetic_catalog import GENRES, Catalog
from movies.models import Credit, Genre, Keyword, Movie, Person
from movies.text import fold

# tmdb_id of generated movie i (the old ORM loader's numbering, far above TMDB's real ids).
TMDB_ID_BASE = 5_000_000
BATCH = 20_000


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _copy(cursor, model, columns: list[str], rows) -> int:
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    count = 0
    with cursor.copy(f"COPY {_table(model)} ({cols}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _names_to_ids(model, names: set[str]) -> dict[str, int]:
    return dict(model.objects.filter(name__in=names).values_list("name", "id"))


def _ensure_named(cursor, model, names: list[str], extra: dict) -> dict[str, int]:
    """Every name in ``names`` as a row of ``model`` (COPY of the missing ones): name -> id."""
    wanted = set(names)
    have = dict(model.objects.filter(name__in=wanted).values_list("name", "id"))
    missing = sorted(wanted - set(have))
    cols = ["name", *extra]
    _copy(cursor, model, cols, ([n, *extra.values()] for n in missing))
    have.update(_names_to_ids(model, set(missing)))
    return have


def _move_sequence(cursor, model) -> None:
    table = model._meta.db_table
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "
        f"(SELECT coalesce(max(id), 1) FROM {_table(model)}))",
        [table],
    )


def copy_synthetic_catalog(
    n: int,
    *,
    seed: int = 2026,
    batch: int = BATCH,
    log: Callable[[str], None] | None = None,
) -> dict:
    """COPY movies ``0:n`` of ``Catalog(n, seed)`` (with their genres, keywords and credits)
    into the database; returns counts and seconds. Refuses a catalog already holding them."""
    if connection.vendor != "postgresql":
        raise RuntimeError("copy_synthetic_catalog needs PostgreSQL (COPY)")
    if Movie.objects.filter(tmdb_id__gte=TMDB_ID_BASE, tmdb_id__lt=TMDB_ID_BASE + n).exists():
        raise RuntimeError("the generated movies are already in this catalog")
    started = time.perf_counter()
    catalog = Catalog(n, seed=seed)
    now = datetime.datetime.now(datetime.UTC)
    rows = {"movies": 0, "genres": 0, "keywords": 0, "credits": 0}
    with transaction.atomic(), connection.cursor() as cursor:
        genre_ids = {}
        for name in GENRES:
            genre, _ = Genre.objects.get_or_create(name=name, defaults={"slug": slugify(name)})
            genre_ids[name] = genre.pk
        keyword_ids = _ensure_named(cursor, Keyword, catalog._keyword_list, {})
        person_ids = _ensure_named(cursor, Person, catalog._people, {"profile_path": ""})
        _move_sequence(cursor, Keyword)
        _move_sequence(cursor, Person)
        first_id = (Movie.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        movie_cols = [
            "id", "tmdb_id", "title", "original_title", "overview", "tagline", "release_date",
            "year", "runtime", "original_language", "popularity", "vote_average", "vote_count",
            "poster_path", "imdb_id", "movielens_id", "search_title", "created_at", "updated_at",
        ]  # fmt: skip
        G, K = Movie.genres.through, Movie.keywords.through
        for lo in range(0, n, batch):
            movies = list(catalog.movies(lo, min(n, lo + batch)))
            ids = [first_id + m.index for m in movies]
            rows["movies"] += _copy(
                cursor,
                Movie,
                movie_cols,
                (
                    (pk, TMDB_ID_BASE + m.index, m.title, "", m.overview, "",
                     datetime.date(m.year, 1 + m.index % 12, 1), m.year, 80 + m.index % 81, "en",
                     m.popularity, m.vote_average, m.vote_count, "", "", None,
                     fold(m.title)[:255], now, now)
                    for pk, m in zip(ids, movies, strict=True)
                ),
            )  # fmt: skip
            rows["genres"] += _copy(
                cursor,
                G,
                ["movie_id", "genre_id"],
                ((pk, genre_ids[g]) for pk, m in zip(ids, movies, strict=True) for g in m.genres),
            )
            rows["keywords"] += _copy(
                cursor,
                K,
                ["movie_id", "keyword_id"],
                ((pk, keyword_ids[k]) for pk, m in zip(ids, movies, strict=True)
                 for k in m.keywords),
            )  # fmt: skip
            rows["credits"] += _copy(
                cursor,
                Credit,
                ["movie_id", "person_id", "kind", "order", "character"],
                _credits(ids, movies, person_ids),
            )
            if log:
                done = lo + len(movies)
                seconds = time.perf_counter() - started
                log(f"{done:,} movies, {sum(rows.values()):,} rows in {seconds:.0f} s")
        _move_sequence(cursor, Movie)
    for model in (Movie, G, K, Credit, Person, Keyword):
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {_table(model)}")
    seconds = time.perf_counter() - started
    total = sum(rows.values())
    return {**rows, "rows": total, "seconds": round(seconds, 1), "rows_per_s": int(total / seconds)}


def _credits(ids, movies, person_ids):
    for pk, m in zip(ids, movies, strict=True):
        # A topic's actor can be drawn twice for one movie: one credit per (movie, person, kind).
        for order, name in enumerate(dict.fromkeys(m.cast)):
            yield (pk, person_ids[name], Credit.Kind.CAST.value, order, "")
        for name in dict.fromkeys(m.directors):
            yield (pk, person_ids[name], Credit.Kind.DIRECTOR.value, 0, "")
