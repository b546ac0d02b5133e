"""Upserting movies with their genres, keywords and credits.

Every way a movie enters the catalog (demo catalog, TMDB sync, MovieLens import) goes through
``upsert_movie`` so the rules live in one place: one row per ``tmdb_id``, related rows reused
by name or TMDB id, credits replaced as a whole, and running it twice changes nothing.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.text import slugify

from movies.models import Credit, Genre, Keyword, Movie, Person


@dataclass(frozen=True)
class NamedRef:
    """A genre, keyword or person: a name, and TMDB's id when the source knows it."""

    name: str
    tmdb_id: int | None = None


@dataclass(frozen=True)
class CastRef:
    person: NamedRef
    order: int = 0
    character: str = ""


@dataclass
class MovieData:
    """A source-neutral description of one movie. ``None`` means "the source does not say"
    and leaves the stored value alone; lists given as ``None`` leave the relation alone."""

    tmdb_id: int
    title: str
    original_title: str | None = None
    overview: str | None = None
    tagline: str | None = None
    release_date: datetime.date | None = None
    year: int | None = None
    runtime: int | None = None
    original_language: str | None = None
    popularity: float | None = None
    vote_average: float | None = None
    vote_count: int | None = None
    poster_path: str | None = None
    imdb_id: str | None = None
    movielens_id: int | None = None
    genres: list[NamedRef] | None = None
    keywords: list[NamedRef] | None = None
    cast: list[CastRef] | None = None
    directors: list[NamedRef] | None = None
    extra: dict = field(default_factory=dict)


SCALAR_FIELDS = (
    "title",
    "original_title",
    "overview",
    "tagline",
    "release_date",
    "year",
    "runtime",
    "original_language",
    "popularity",
    "vote_average",
    "vote_count",
    "poster_path",
    "imdb_id",
    "movielens_id",
)


def _get_named(model, ref: NamedRef, **defaults):
    """Find a genre/keyword by TMDB id first, then by name; create it if neither matches."""
    if ref.tmdb_id is not None:
        obj = model.objects.filter(tmdb_id=ref.tmdb_id).first()
        if obj:
            return obj
    obj = model.objects.filter(name=ref.name).first()
    if obj:
        if ref.tmdb_id is not None and obj.tmdb_id is None:
            obj.tmdb_id = ref.tmdb_id
            obj.save(update_fields=["tmdb_id"])
        return obj
    return model.objects.create(name=ref.name, tmdb_id=ref.tmdb_id, **defaults)


def get_genre(ref: NamedRef) -> Genre:
    return _get_named(Genre, ref, slug=_unique_genre_slug(ref.name))


def _unique_genre_slug(name: str) -> str:
    base = slugify(name) or "genre"
    slug, n = base, 2
    while Genre.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def get_keyword(ref: NamedRef) -> Keyword:
    return _get_named(Keyword, ref)


def get_person(ref: NamedRef) -> Person:
    """People share names, so a name alone matches only a person without a TMDB id."""
    if ref.tmdb_id is not None:
        person, _ = Person.objects.get_or_create(tmdb_id=ref.tmdb_id, defaults={"name": ref.name})
        if person.name != ref.name:
            person.name = ref.name
            person.save(update_fields=["name"])
        return person
    person = Person.objects.filter(name=ref.name, tmdb_id__isnull=True).first()
    return person or Person.objects.create(name=ref.name)


def _set_if_changed(manager, wanted: list) -> bool:
    current = {obj.pk for obj in manager.all()}
    if current == {obj.pk for obj in wanted}:
        return False
    manager.set(wanted)
    return True


def _replace_credits(movie: Movie, data: MovieData) -> bool:
    wanted: list[tuple[int, str, int, str]] = []
    if data.cast is not None:
        for c in data.cast:
            wanted.append((get_person(c.person).pk, Credit.Kind.CAST, c.order, c.character))
    if data.directors is not None:
        for i, d in enumerate(data.directors):
            wanted.append((get_person(d).pk, Credit.Kind.DIRECTOR, i, ""))
    kinds = set()
    if data.cast is not None:
        kinds.add(Credit.Kind.CAST)
    if data.directors is not None:
        kinds.add(Credit.Kind.DIRECTOR)
    existing = movie.credits.filter(kind__in=kinds)
    current = sorted(existing.values_list("person_id", "kind", "order", "character"))
    # A person credited twice in one role (bad source data) is kept once.
    seen, deduped = set(), []
    for row in wanted:
        if (row[0], row[1]) not in seen:
            seen.add((row[0], row[1]))
            deduped.append(row)
    if current == sorted(deduped):
        return False
    existing.delete()
    Credit.objects.bulk_create(
        Credit(movie=movie, person_id=p, kind=k, order=o, character=ch) for p, k, o, ch in deduped
    )
    return True


@transaction.atomic
def upsert_movie(*, data: MovieData) -> tuple[Movie, bool, bool]:
    """Create or update the movie with ``data.tmdb_id``.

    Returns ``(movie, created, changed)``; ``changed`` is False when the stored row and its
    relations already matched, so an idempotent re-run can be reported as such.
    """
    movie = Movie.objects.select_for_update().filter(tmdb_id=data.tmdb_id).first()
    created = movie is None
    if created:
        movie = Movie(tmdb_id=data.tmdb_id)
    changed_fields = []
    for name in SCALAR_FIELDS:
        value = getattr(data, name)
        if value is None:
            continue
        if isinstance(value, str):
            value = value.strip()
        if getattr(movie, name) != value:
            setattr(movie, name, value)
            changed_fields.append(name)
    if created or changed_fields:
        movie.save()
    changed = created or bool(changed_fields)
    if data.genres is not None:
        changed |= _set_if_changed(movie.genres, [get_genre(g) for g in data.genres])
    if data.keywords is not None:
        changed |= _set_if_changed(movie.keywords, [get_keyword(k) for k in data.keywords])
    if data.cast is not None or data.directors is not None:
        changed |= _replace_credits(movie, data)
    return movie, created, changed
