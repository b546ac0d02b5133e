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


@dataclass
class UpsertCounts:
    """What a batch of :func:`upsert_movie` calls did; the import summaries extend it."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def count(self, *, created: bool, changed: bool) -> None:
        if created:
            self.created += 1
        elif changed:
            self.updated += 1
        else:
            self.unchanged += 1


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


def _resolve_named(model, refs: list[NamedRef]) -> list:
    """Genres/keywords for ``refs``, in order, in a fixed number of queries.

    A row is matched by TMDB id first, then by (unique) name; a name-only row learns its TMDB
    id when a source finally tells it; anything unmatched is created.
    """
    refs = list({ref.name: ref for ref in refs}.values())  # one row per name, order kept
    ids = [r.tmdb_id for r in refs if r.tmdb_id is not None]
    by_id = {o.tmdb_id: o for o in model.objects.filter(tmdb_id__in=ids)} if ids else {}
    by_name = {o.name: o for o in model.objects.filter(name__in=[r.name for r in refs])}
    result = []
    for ref in refs:
        obj = by_id.get(ref.tmdb_id) or by_name.get(ref.name)
        if obj is None:
            extra = {"slug": _unique_genre_slug(ref.name)} if model is Genre else {}
            obj = model.objects.create(name=ref.name, tmdb_id=ref.tmdb_id, **extra)
        elif ref.tmdb_id is not None and obj.tmdb_id is None and ref.tmdb_id not in by_id:
            obj.tmdb_id = ref.tmdb_id
            obj.save(update_fields=["tmdb_id"])
        result.append(obj)
    return result


def _unique_genre_slug(name: str) -> str:
    base = slugify(name) or "genre"
    slug, n = base, 2
    while Genre.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _resolve_people(refs: list[NamedRef]) -> dict[NamedRef, Person]:
    """People share names, so a name alone matches only a person without a TMDB id."""
    ids = {r.tmdb_id for r in refs if r.tmdb_id is not None}
    names = {r.name for r in refs if r.tmdb_id is None}
    by_id = {p.tmdb_id: p for p in Person.objects.filter(tmdb_id__in=ids)} if ids else {}
    by_name = {}
    if names:
        for p in Person.objects.filter(name__in=names, tmdb_id__isnull=True).order_by("pk"):
            by_name.setdefault(p.name, p)
    result = {}
    for ref in refs:
        if ref.tmdb_id is not None:
            person = by_id.get(ref.tmdb_id)
            if person is None:
                person = by_id[ref.tmdb_id] = Person.objects.create(
                    tmdb_id=ref.tmdb_id, name=ref.name
                )
            elif person.name != ref.name:
                person.name = ref.name
                person.save(update_fields=["name"])
        else:
            person = by_name.get(ref.name)
            if person is None:
                person = by_name[ref.name] = Person.objects.create(name=ref.name)
        result[ref] = person
    return result


def _set_if_changed(manager, wanted: list) -> bool:
    current = set(manager.values_list("pk", flat=True))
    if current == {obj.pk for obj in wanted}:
        return False
    manager.set(wanted)
    return True


def _replace_credits(movie: Movie, data: MovieData) -> bool:
    cast = data.cast or []
    directors = data.directors or []
    people = _resolve_people([c.person for c in cast] + list(directors))
    wanted: list[tuple[int, str, int, str]] = []
    seen = set()
    rows = [(people[c.person].pk, Credit.Kind.CAST, c.order, c.character) for c in cast]
    rows += [(people[d].pk, Credit.Kind.DIRECTOR, i, "") for i, d in enumerate(directors)]
    for row in rows:
        # A person credited twice in one role (bad source data) is kept once.
        if (row[0], row[1]) not in seen:
            seen.add((row[0], row[1]))
            wanted.append(row)
    kinds = [
        k
        for k, given in ((Credit.Kind.CAST, data.cast), (Credit.Kind.DIRECTOR, data.directors))
        if given is not None
    ]
    existing = movie.credits.filter(kind__in=kinds)
    current = sorted(existing.values_list("person_id", "kind", "order", "character"))
    if current == sorted(wanted):
        return False
    existing.delete()
    Credit.objects.bulk_create(
        Credit(movie=movie, person_id=p, kind=k, order=o, character=ch) for p, k, o, ch in wanted
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
        changed |= _set_if_changed(movie.genres, _resolve_named(Genre, data.genres))
    if data.keywords is not None:
        changed |= _set_if_changed(movie.keywords, _resolve_named(Keyword, data.keywords))
    if data.cast is not None or data.directors is not None:
        changed |= _replace_credits(movie, data)
    return movie, created, changed
