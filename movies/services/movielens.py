"""Importing a MovieLens dataset directory (movies.csv, links.csv, tags.csv, ratings.csv).

Movies are matched by id only: ``movielens_id`` first, then ``tmdb_id`` from links.csv
(``Movie.tmdb_id`` is required, so rows without a tmdbId are skipped and counted). New movies
get MovieLens' title, year and genres (mapped to TMDB's names); a movie already in the catalog
(from TMDB or the demo catalog) keeps its richer data and only gains its MovieLens/IMDb ids and
the tags as keywords. Ratings (optional) are written in bulk for dataset users: accounts with
``dataset="movielens"`` and ``dataset_user_id=<userId>``, found by that pair and never by
username (a person who signed up as "ml_1" is somebody else), with unusable passwords. Their
usernames ("movielens:<userId>") contain a colon, which Django's username validator refuses,
so no sign-up can ever take one. Running the import twice changes nothing.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from movies.errors import CatalogError
from movies.models import SCORE_CHOICES, Credit, Genre, Keyword, Movie, Person, Rating
from movies.services.catalog import MovieData, NamedRef, UpsertCounts, upsert_movie
from movies.services.db import analyze_tables

# progress(stage, done, total)
ProgressFn = Callable[[str, int, int], None]

# MovieLens genre -> (TMDB genre name, TMDB genre id). Genres TMDB has under another name are
# mapped so both sources share one Genre row; None drops a "genre" that is not one.
GENRE_MAP: dict[str, tuple[str, int | None] | None] = {
    "Action": ("Action", 28),
    "Adventure": ("Adventure", 12),
    "Animation": ("Animation", 16),
    "Children": ("Family", 10751),
    "Comedy": ("Comedy", 35),
    "Crime": ("Crime", 80),
    "Documentary": ("Documentary", 99),
    "Drama": ("Drama", 18),
    "Fantasy": ("Fantasy", 14),
    "Film-Noir": ("Film Noir", None),  # no TMDB equivalent; kept, it is a real genre
    "Horror": ("Horror", 27),
    "Musical": ("Music", 10402),
    "Mystery": ("Mystery", 9648),
    "Romance": ("Romance", 10749),
    "Sci-Fi": ("Science Fiction", 878),
    "Thriller": ("Thriller", 53),
    "War": ("War", 10752),
    "Western": ("Western", 37),
    "IMAX": None,  # a projection format, not a genre
    "(no genres listed)": None,
}

# "Godfather, The (1972)", "Postman, The (Postino, Il) (1994)", "Misérables, Les (1995)"
_YEAR_RE = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[-–]\d{0,4})?\)\s*$")
_ARTICLES = (
    "The|A|An|Les|La|Le|L'|Il|I|Lo|Gli|Das|Der|Die|Den|Det|El|Los|Las|Un|Une|Una|Ein|Eine|De|Het"
)
_ARTICLE_RE = re.compile(rf"^(?P<rest>.+), (?P<article>{_ARTICLES})$")
_ALT_RE = re.compile(r"^(?P<main>.+?)\s+\((?P<alt>[^()]+)\)$")

REQUIRED_COLUMNS = {
    "movies.csv": {"movieId", "title", "genres"},
    "links.csv": {"movieId", "imdbId", "tmdbId"},
    "tags.csv": {"userId", "movieId", "tag"},
    "ratings.csv": {"userId", "movieId", "rating"},
}
BATCH = 500
DATASET = "movielens"  # User.dataset of the accounts this import creates


class MovieLensError(CatalogError):
    """The directory is not a usable MovieLens dataset (nothing was changed)."""


def _move_article(title: str) -> str:
    match = _ARTICLE_RE.match(title)
    if not match:
        return title
    article = match["article"]
    sep = "" if article.endswith("'") else " "
    return f"{article}{sep}{match['rest']}"


def parse_title(raw: str) -> tuple[str, int | None, str | None]:
    """MovieLens title -> (display title, year, alternative title).

    "Godfather, The (1972)" -> ("The Godfather", 1972, None);
    "Postman, The (Postino, Il) (1994)" -> ("The Postman", 1994, "Il Postino").
    """
    text = raw.strip()
    year = None
    match = _YEAR_RE.match(text)
    if match:
        text, year = match["title"].strip(), int(match["year"])
        if not 1870 <= year <= 2100:
            year = None
    alt = None
    alt_match = _ALT_RE.match(text)
    if alt_match and not alt_match["alt"].lower().startswith(("a.k.a.", "aka ")):
        text, alt = alt_match["main"].strip(), _move_article(alt_match["alt"].strip())
    elif alt_match:
        text = alt_match["main"].strip()
    return _move_article(text)[:255] or raw.strip()[:255], year, alt and alt[:255]


def map_genres(raw: str) -> list[NamedRef]:
    refs, seen = [], set()
    for name in (g.strip() for g in raw.split("|")):
        if not name:
            continue
        mapped = GENRE_MAP.get(name, (name, None))
        if mapped and mapped[0] not in seen:
            seen.add(mapped[0])
            refs.append(NamedRef(*mapped))
    return refs


def normalise_tag(tag: str) -> str:
    """Tags become keywords the way TMDB writes them: lower case, single spaces."""
    return " ".join(tag.split()).lower()[:255]


@dataclass
class ImportSummary(UpsertCounts):
    movies_read: int = 0
    skipped_no_tmdb: int = 0
    conflicts: list[str] = field(default_factory=list)
    tags_read: int = 0
    users_created: int = 0
    ratings_created: int = 0
    ratings_updated: int = 0
    ratings_unchanged: int = 0
    ratings_skipped: int = 0

    def lines(self) -> list[str]:
        out = [
            f"Movies: {self.movies_read} read, {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.skipped_no_tmdb} skipped (no tmdbId), "
            f"{len(self.conflicts)} id conflicts",
            f"Tags: {self.tags_read} read",
        ]
        if (
            self.users_created
            or self.ratings_created
            or self.ratings_updated
            or (self.ratings_unchanged or self.ratings_skipped)
        ):
            out.append(
                f"Ratings: {self.ratings_created} created, {self.ratings_updated} updated, "
                f"{self.ratings_unchanged} unchanged, {self.ratings_skipped} skipped; "
                f"{self.users_created} users created"
            )
        return out


def _read_csv(directory: Path, name: str, *, required: bool = True) -> list[dict] | None:
    path = directory / name
    if not path.is_file():
        if required:
            raise MovieLensError(f"{path} is missing")
        return None
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = REQUIRED_COLUMNS[name] - set(reader.fieldnames or [])
        if missing:
            raise MovieLensError(f"{path} lacks the column(s) {', '.join(sorted(missing))}")
        return list(reader)


def _int(value: str, what: str, line: int) -> int:
    try:
        return int(value.strip())
    except (AttributeError, ValueError):
        raise MovieLensError(f"{what} line {line}: {value!r} is not a whole number") from None


def import_movielens(
    *, directory: Path, ratings: bool = False, progress: ProgressFn | None = None
) -> ImportSummary:
    """Import the dataset in ``directory``. Raises ``MovieLensError`` before writing anything
    when a file is missing or malformed."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MovieLensError(f"{directory} is not a directory")
    movie_rows = _read_csv(directory, "movies.csv")
    link_rows = _read_csv(directory, "links.csv")
    tag_rows = _read_csv(directory, "tags.csv", required=False) or []
    rating_rows = _read_csv(directory, "ratings.csv") if ratings else []

    links: dict[int, tuple[int | None, str]] = {}
    for i, row in enumerate(link_rows, start=2):
        ml_id = _int(row["movieId"], "links.csv", i)
        tmdb = (row["tmdbId"] or "").strip()
        imdb = (row["imdbId"] or "").strip()
        links[ml_id] = (
            _int(tmdb, "links.csv", i) if tmdb else None,
            f"tt{int(imdb):07d}" if imdb.isdigit() else "",
        )
    tags: dict[int, list[str]] = defaultdict(list)
    for i, row in enumerate(tag_rows, start=2):
        tag = normalise_tag(row["tag"] or "")
        if tag:
            tags[_int(row["movieId"], "tags.csv", i)].append(tag)

    summary = ImportSummary(tags_read=len(tag_rows))
    # Parsed before any write, so a malformed ratings.csv changes nothing.
    parsed_ratings = _parse_ratings(rating_rows, summary) if ratings else {}
    _import_movies(movie_rows, links, tags, summary, progress)
    if ratings:
        _import_ratings(parsed_ratings, summary, progress)
    analyze_tables(
        Movie, Genre, Keyword, Person, Credit, *([Rating, get_user_model()] if ratings else [])
    )
    return summary


def _import_movies(movie_rows, links, tags, summary: ImportSummary, progress) -> None:
    by_ml = dict(
        Movie.objects.filter(movielens_id__isnull=False).values_list("movielens_id", "tmdb_id")
    )
    by_tmdb = dict(Movie.objects.values_list("tmdb_id", "movielens_id"))
    # What linked movies already hold, so a re-run skips them without a query per movie.
    imdb = dict(Movie.objects.filter(movielens_id__isnull=False).values_list("tmdb_id", "imdb_id"))
    keywords: dict[int, set[str]] = defaultdict(set)
    for tmdb_id, name in Movie.keywords.through.objects.filter(
        movie__movielens_id__isnull=False
    ).values_list("movie__tmdb_id", "keyword__name"):
        keywords[tmdb_id].add(name)
    known = {"ml": by_ml, "tmdb": by_tmdb, "imdb": imdb, "keywords": keywords}
    total = len(movie_rows)
    for start in range(0, total, BATCH):
        # One transaction per batch: fast on SQLite (no sync per row) and an interrupted
        # import keeps whole batches; re-running it finishes the rest.
        with transaction.atomic():
            for i, row in enumerate(movie_rows[start : start + BATCH], start=start + 2):
                _import_movie(row, i, links, tags, known, summary)
        if progress:
            progress("movies", min(start + BATCH, total), total)


def _import_movie(row, line, links, tags, known: dict, summary: ImportSummary) -> None:
    by_ml, by_tmdb = known["ml"], known["tmdb"]
    summary.movies_read += 1
    ml_id = _int(row["movieId"], "movies.csv", line)
    tmdb_id, imdb_id = links.get(ml_id, (None, ""))
    if tmdb_id is None:
        summary.skipped_no_tmdb += 1
        return
    known_tmdb = by_ml.get(ml_id)
    if known_tmdb is not None and known_tmdb != tmdb_id:
        summary.conflicts.append(
            f"movieId {ml_id}: already linked to tmdb {known_tmdb}, links.csv says {tmdb_id}"
        )
        return
    exists = tmdb_id in by_tmdb
    if exists and by_tmdb[tmdb_id] not in (None, ml_id):
        summary.conflicts.append(
            f"tmdb {tmdb_id}: already linked to movieId {by_tmdb[tmdb_id]}, not {ml_id}"
        )
        return
    movie_tags = list(dict.fromkeys(tags.get(ml_id, [])))
    if (
        exists
        and by_tmdb[tmdb_id] == ml_id
        and (known["imdb"].get(tmdb_id) or not imdb_id)
        and set(movie_tags) <= known["keywords"].get(tmdb_id, set())
    ):
        summary.unchanged += 1  # already imported: nothing MovieLens could add
        return
    if exists:
        # Keep what TMDB (or the demo catalog) said; add the ids and the tags.
        movie = Movie.objects.only("title", "imdb_id").get(tmdb_id=tmdb_id)
        keywords = None
        if movie_tags:
            current = list(movie.keywords.values_list("name", "tmdb_id"))
            names = {n for n, _ in current}
            keywords = [NamedRef(n, t) for n, t in current] + [
                NamedRef(t) for t in movie_tags if t not in names
            ]
        data = MovieData(
            tmdb_id=tmdb_id,
            title=movie.title,
            movielens_id=ml_id,
            imdb_id=(movie.imdb_id or imdb_id) or None,
            keywords=keywords,
        )
    else:
        title, year, alt = parse_title(row["title"])
        data = MovieData(
            tmdb_id=tmdb_id,
            title=title,
            original_title=alt or title,
            year=year,
            movielens_id=ml_id,
            imdb_id=imdb_id or None,
            genres=map_genres(row["genres"] or ""),
            keywords=[NamedRef(t) for t in movie_tags],
        )
    _, created, changed = upsert_movie(data=data)
    by_ml[ml_id], by_tmdb[tmdb_id] = tmdb_id, ml_id
    summary.count(created=created, changed=changed)


def _parse_ratings(rating_rows, summary: ImportSummary) -> dict[tuple[int, int], Decimal]:
    valid_scores = set(SCORE_CHOICES)
    parsed: dict[tuple[int, int], Decimal] = {}
    for i, row in enumerate(rating_rows, start=2):
        user_id = _int(row["userId"], "ratings.csv", i)
        if user_id < 0:
            raise MovieLensError(f"ratings.csv line {i}: userId {user_id} is negative")
        ml_id = _int(row["movieId"], "ratings.csv", i)
        try:
            score = Decimal(row["rating"].strip())
        except (InvalidOperation, AttributeError):
            score = None
        if score not in valid_scores:
            summary.ratings_skipped += 1
            continue
        parsed[(user_id, ml_id)] = score  # a repeated pair: the last row wins
    return parsed


def dataset_username(dataset_user_id: int, taken: set[str]) -> str:
    """A username for an imported user that no person can have: the colon is refused by
    Django's username validator (sign-up and admin forms); ``taken`` is checked anyway, for
    accounts written around the validator."""
    name, n = f"{DATASET}:{dataset_user_id}", 2
    while name in taken:
        name, n = f"{DATASET}:{dataset_user_id}:{n}", n + 1
    return name


def _import_ratings(parsed: dict[tuple[int, int], Decimal], summary: ImportSummary, progress):
    User = get_user_model()
    movie_pk = dict(
        Movie.objects.filter(movielens_id__isnull=False).values_list("movielens_id", "pk")
    )
    wanted_ids = {u for u, _ in parsed}
    with transaction.atomic():
        dataset_users = User.objects.from_dataset(DATASET)
        user_pk = dict(dataset_users.values_list("dataset_user_id", "pk"))
        missing = sorted(wanted_ids - user_pk.keys())
        taken = set(
            User.objects.filter(username__startswith=f"{DATASET}:").values_list(
                "username", flat=True
            )
        )
        new_users = []
        for dataset_user_id in missing:
            name = dataset_username(dataset_user_id, taken)
            taken.add(name)
            new_users.append(
                # make_password(None) is an unusable password; accounts.backends refuses
                # dataset users anyway, whatever password they are ever given.
                User(
                    username=name,
                    password=make_password(None),
                    dataset=DATASET,
                    dataset_user_id=dataset_user_id,
                )
            )
        User.objects.bulk_create(new_users, batch_size=1000)
        summary.users_created = len(new_users)
        if new_users:
            user_pk = dict(dataset_users.values_list("dataset_user_id", "pk"))
        # Every rating of this dataset's users (a join, not an IN list that SQLite would
        # refuse for a large dataset); people's ratings are never read nor touched.
        current = {
            (u, m): (pk, s)
            for pk, u, m, s in Rating.objects.filter(user__dataset=DATASET).values_list(
                "pk", "user_id", "movie_id", "score"
            )
        }
        to_create, to_update = [], []
        now = timezone.now()
        total, done = len(parsed), 0
        for (user_id, ml_id), score in parsed.items():
            done += 1
            movie_id = movie_pk.get(ml_id)
            if movie_id is None:  # the movie was skipped (no tmdbId) or not imported
                summary.ratings_skipped += 1
                continue
            key = (user_pk[user_id], movie_id)
            if key not in current:
                to_create.append(Rating(user_id=key[0], movie_id=movie_id, score=score))
            elif current[key][1] != score:
                to_update.append(Rating(pk=current[key][0], score=score, updated_at=now))
            else:
                summary.ratings_unchanged += 1
            if progress and done % 10_000 == 0:
                progress("ratings", done, total)
        Rating.objects.bulk_create(to_create, batch_size=2000)
        Rating.objects.bulk_update(to_update, ["score", "updated_at"], batch_size=1000)
        summary.ratings_created, summary.ratings_updated = len(to_create), len(to_update)
        if progress:
            progress("ratings", total, total)
