"""The embedded demo catalog: well-known films written up for this project.

The catalog lives in ``movies/demo/*.json`` (a JSON list of films per file). Loading it checks
every entry first and writes nothing if any entry is bad, then upserts each film through
``movies.services.catalog.upsert_movie`` (the one upsert), so running it twice changes nothing.
The demo login for ``make demo`` is created here too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from movies.errors import CatalogError
from movies.models import Credit, Genre, Keyword, Movie, Person
from movies.services.catalog import CastRef, MovieData, NamedRef, UpsertCounts, upsert_movie
from movies.services.db import analyze_tables

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"

DEMO_USERNAME = "demo"
DEFAULT_DEMO_PASSWORD = "netflixrecs-demo"

# TMDB's movie genres with their TMDB ids, so demo genres are the same rows a TMDB sync uses.
TMDB_GENRES: dict[str, int] = {
    "Action": 28,
    "Adventure": 12,
    "Animation": 16,
    "Comedy": 35,
    "Crime": 80,
    "Documentary": 99,
    "Drama": 18,
    "Family": 10751,
    "Fantasy": 14,
    "History": 36,
    "Horror": 27,
    "Music": 10402,
    "Mystery": 9648,
    "Romance": 10749,
    "Science Fiction": 878,
    "Thriller": 53,
    "War": 10752,
    "Western": 37,
}

REQUIRED_KEYS = frozenset(
    {
        "tmdb_id",
        "movielens_id",
        "imdb_id",
        "title",
        "year",
        "runtime",
        "original_language",
        "genres",
        "directors",
        "cast",
        "keywords",
        "overview",
        "popularity",
        "vote_average",
    }
)
IMDB_ID_RE = re.compile(r"^tt\d{7,8}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")

Progress = Callable[[int, int], None]


class DemoCatalogError(CatalogError, ValueError):
    """The demo catalog cannot be read or an entry is invalid; nothing was written."""


@dataclass
class DemoEntry:
    """One validated film and where it came from (for error messages)."""

    label: str
    data: MovieData


@dataclass
class DemoLoadSummary(UpsertCounts):
    files: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    @property
    def changed_anything(self) -> bool:
        return bool(self.created or self.updated)

    def line(self) -> str:
        return (
            f"Demo catalog: {self.total} movies from {len(self.files)} file(s) "
            f"({', '.join(self.files)}): {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged."
        )


def demo_files(directory: Path | None = None) -> list[Path]:
    """Every catalog file, in a stable order."""
    return sorted((directory or DEMO_DIR).glob("*.json"))


def _label(path: Path, index: int, raw) -> str:
    title = raw.get("title") if isinstance(raw, dict) else None
    tmdb_id = raw.get("tmdb_id") if isinstance(raw, dict) else None
    who = f"{title!r}" if title else "untitled"
    if tmdb_id is not None:
        who += f", tmdb_id {tmdb_id}"
    return f"{path.name} entry #{index + 1} ({who})"


def _is_int(value) -> bool:
    # bool is an int in Python; true/false in the JSON is a mistake, not an id.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_number(value) -> bool:
    return (isinstance(value, int | float)) and not isinstance(value, bool)


def _names(raw: dict, key: str, problems: list[str], *, min_items: int = 1) -> list[str]:
    if key not in raw:
        return []  # already reported as missing
    value = raw[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{key} must be a list of non-empty strings")
        return []
    names = [v.strip() for v in value]
    if len(names) < min_items:
        problems.append(f"{key} needs at least {min_items} item(s)")
    if len(set(names)) != len(names):
        problems.append(f"{key} has duplicates")
    return names


def parse_entry(raw, *, label: str) -> MovieData:
    """Validate one catalog entry and turn it into ``MovieData``.

    Raises ``DemoCatalogError`` listing every problem with the entry, named by ``label``.
    """
    if not isinstance(raw, dict):
        raise DemoCatalogError(f"{label}: must be a JSON object, got {type(raw).__name__}")
    problems: list[str] = []
    missing = sorted(REQUIRED_KEYS - raw.keys())
    unknown = sorted(raw.keys() - REQUIRED_KEYS)
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown key(s) {', '.join(unknown)}")

    def check(key: str, ok: Callable[[object], bool], message: str) -> None:
        # A missing key is reported once above, not again as a bad value.
        if key in raw and not ok(raw[key]):
            problems.append(message)

    check("tmdb_id", lambda v: _is_int(v) and v > 0, "tmdb_id must be a positive integer")
    check(
        "movielens_id",
        lambda v: v is None or (_is_int(v) and v > 0),
        "movielens_id must be a positive integer or null",
    )
    check(
        "imdb_id",
        lambda v: v is None or (isinstance(v, str) and IMDB_ID_RE.match(v)),
        "imdb_id must look like tt0068646",
    )
    check("title", _is_text, "title must be a non-empty string")
    check("year", lambda v: _is_int(v) and 1870 <= v <= 2100, "year must be 1870-2100")
    check(
        "runtime",
        lambda v: v is None or (_is_int(v) and 0 < v < 1000),
        "runtime must be a number of minutes (1-999) or null",
    )
    check(
        "original_language",
        lambda v: isinstance(v, str) and LANGUAGE_RE.match(v),
        "original_language must be an ISO 639-1 code such as 'en'",
    )
    check("overview", _is_text, "overview must be a non-empty string")
    check(
        "popularity",
        lambda v: _is_number(v) and 1 <= v <= 100,
        "popularity must be a number from 1 to 100",
    )
    check(
        "vote_average",
        lambda v: _is_number(v) and 0 <= v <= 10,
        "vote_average must be a number from 0 to 10",
    )

    genres = _names(raw, "genres", problems)
    bad_genres = [g for g in genres if g not in TMDB_GENRES]
    if bad_genres:
        problems.append(f"not TMDB genre name(s): {', '.join(bad_genres)}")
    directors = _names(raw, "directors", problems)
    cast = _names(raw, "cast", problems)
    keywords = _names(raw, "keywords", problems)

    if problems:
        raise DemoCatalogError(f"{label}: {'; '.join(problems)}")
    tmdb_id, movielens_id, imdb_id = raw["tmdb_id"], raw["movielens_id"], raw["imdb_id"]
    title, year, runtime = raw["title"], raw["year"], raw["runtime"]
    language, overview = raw["original_language"], raw["overview"]
    popularity, vote_average = raw["popularity"], raw["vote_average"]
    return MovieData(
        tmdb_id=tmdb_id,
        title=title.strip(),
        overview=overview.strip(),
        # Only the year is known; upsert_movie stores it as is and leaves release_date alone.
        year=year,
        runtime=runtime,
        original_language=language,
        popularity=float(popularity),
        vote_average=float(vote_average),
        imdb_id=imdb_id,
        movielens_id=movielens_id,
        genres=[NamedRef(name, TMDB_GENRES[name]) for name in genres],
        keywords=[NamedRef(name) for name in keywords],
        cast=[CastRef(NamedRef(name), order=i) for i, name in enumerate(cast)],
        directors=[NamedRef(name) for name in directors],
    )


def read_catalog(paths: Iterable[Path] | None = None) -> list[DemoEntry]:
    """Read and validate every entry of the catalog files; nothing touches the database.

    Also rejects a tmdb_id or movielens_id used by two entries, which would otherwise make
    the second silently overwrite the first.
    """
    paths = [Path(p) for p in (demo_files() if paths is None else paths)]
    if not paths:
        raise DemoCatalogError(f"no demo catalog files (*.json) found in {DEMO_DIR}")
    entries: list[DemoEntry] = []
    errors: list[str] = []
    for path in paths:
        try:
            raw_list = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DemoCatalogError(f"{path}: cannot read: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise DemoCatalogError(
                f"{path.name}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
            ) from exc
        if not isinstance(raw_list, list):
            raise DemoCatalogError(f"{path.name}: must be a JSON list of films")
        for index, raw in enumerate(raw_list):
            label = _label(path, index, raw)
            try:
                entries.append(DemoEntry(label=label, data=parse_entry(raw, label=label)))
            except DemoCatalogError as exc:
                errors.append(str(exc))
    seen: dict[tuple[str, int], str] = {}
    for entry in entries:
        for key in ("tmdb_id", "movielens_id"):
            value = getattr(entry.data, key)
            if value is None:
                continue
            if (key, value) in seen:
                errors.append(f"{entry.label}: {key} {value} is also used by {seen[key, value]}")
            else:
                seen[key, value] = entry.label
    if errors:
        shown = "\n  ".join(errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        noun = "entry" if len(errors) == 1 else "entries"
        raise DemoCatalogError(f"{len(errors)} invalid demo catalog {noun}:\n  {shown}{more}")
    return entries


def load_demo_catalog(
    *, paths: Iterable[Path] | None = None, progress: Progress | None = None
) -> DemoLoadSummary:
    """Validate the whole demo catalog, then upsert every film in one transaction.

    ``progress(done, total)`` is called after each film. Bad data raises
    ``DemoCatalogError`` before anything is written; a failure part-way rolls back.
    """
    paths = [Path(p) for p in (demo_files() if paths is None else paths)]
    entries = read_catalog(paths)
    summary = DemoLoadSummary(files=[p.name for p in paths])
    total = len(entries)
    with transaction.atomic():
        for done, entry in enumerate(entries, start=1):
            _, created, changed = upsert_movie(data=entry.data)
            summary.count(created=created, changed=changed)
            if progress is not None:
                progress(done, total)
    analyze_tables(Movie, Genre, Keyword, Person, Credit)
    return summary


def ensure_demo_user(
    *, username: str = DEMO_USERNAME, password: str = DEFAULT_DEMO_PASSWORD, admin: bool = False
) -> tuple[object, bool]:
    """Create the demo login, or reset its password (and re-activate it) if it exists.

    Returns ``(user, created)``. Running it again with the same password leaves one user
    whose password still works. ``admin=True`` also lets it into Django admin (local demos
    only: the command refuses it in production).
    """
    if not password:
        raise DemoCatalogError("The demo password must not be empty.")
    user_model = get_user_model()
    with transaction.atomic():
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.set_password(password)
        user.is_active = True
        if admin:
            user.is_staff = user.is_superuser = True
        user.save()
    return user, created
