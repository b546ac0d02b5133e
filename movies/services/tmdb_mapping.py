"""TMDB's movie JSON → ``MovieData`` (pure: no database, no network).

Keys TMDB did not send stay ``None`` so ``upsert_movie`` leaves the stored value alone.
"""

from __future__ import annotations

import datetime

from django.conf import settings

from movies.services.catalog import CastRef, MovieData, NamedRef


def _text(value, limit: int) -> str:
    return (value or "").strip()[:limit]


def _date(value) -> datetime.date | None:
    if not value:
        return None
    try:
        date = datetime.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
    # Out-of-range years would violate the movie_year_range check; treat them as unknown.
    return date if 1870 <= date.year <= 2100 else None


def movie_data_from_tmdb(details: dict, *, top_cast: int | None = None) -> MovieData:
    """Map TMDB's movie details (with appended keywords and credits) to ``MovieData``.

    Keys TMDB did not send stay ``None`` so the stored value is left alone; cast is the first
    ``top_cast`` by billing order; directors are crew members with job "Director".
    """
    if top_cast is None:
        top_cast = settings.TMDB_TOP_CAST
    tmdb_id = details.get("id")
    title = _text(details.get("title"), 255)
    if not isinstance(tmdb_id, int) or tmdb_id <= 0 or not title:
        raise ValueError("TMDB details without an id or a title")

    data = MovieData(tmdb_id=tmdb_id, title=title)
    if "original_title" in details:
        data.original_title = _text(details["original_title"], 255)
    if "overview" in details:
        data.overview = (details["overview"] or "").strip()
    if "tagline" in details:
        data.tagline = _text(details["tagline"], 500)
    if "original_language" in details:
        data.original_language = _text(details["original_language"], 16)
    if "release_date" in details:
        data.release_date = _date(details["release_date"])
        data.year = data.release_date.year if data.release_date else None
    if details.get("runtime"):
        data.runtime = min(int(details["runtime"]), 32767)
    if details.get("popularity") is not None:
        data.popularity = float(details["popularity"])
    if details.get("vote_average") is not None:
        data.vote_average = min(10.0, max(0.0, float(details["vote_average"])))
    if details.get("vote_count") is not None:
        data.vote_count = max(0, int(details["vote_count"]))
    if "poster_path" in details:
        data.poster_path = _text(details["poster_path"], 255)
    if details.get("imdb_id"):
        data.imdb_id = _text(details["imdb_id"], 16)
    if "genres" in details:
        data.genres = [
            NamedRef(_text(g["name"], 100), g.get("id"))
            for g in details["genres"] or []
            if g.get("name")
        ]
    keywords = details.get("keywords")
    if isinstance(keywords, dict):
        # /movie/{id} nests them under "keywords"; some list endpoints use "results".
        items = keywords.get("keywords", keywords.get("results")) or []
        data.keywords = [
            NamedRef(_text(k["name"], 255), k.get("id")) for k in items if k.get("name")
        ]
    credits = details.get("credits")
    if isinstance(credits, dict):
        cast = sorted(
            (c for c in credits.get("cast") or [] if c.get("name")),
            key=lambda c: c.get("order", 10_000),
        )
        data.cast = [
            CastRef(
                person=NamedRef(_text(c["name"], 255), c.get("id")),
                order=int(c.get("order") or 0),
                character=_text(c.get("character"), 255),
            )
            for c in cast[:top_cast]
        ]
        directors, seen = [], set()
        for member in credits.get("crew") or []:
            key = member.get("id") or member.get("name")
            if member.get("job") == "Director" and member.get("name") and key not in seen:
                seen.add(key)
                directors.append(NamedRef(_text(member["name"], 255), member.get("id")))
        data.directors = directors
    return data
