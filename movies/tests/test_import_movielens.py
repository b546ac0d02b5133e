"""manage.py import_movielens: title/genre parsing, id matching, tags, ratings, idempotency,
bad input. Small invented CSVs, plus a run over a slice of the shared MovieLens data."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from movies.models import Genre, Movie, Rating
from movies.services.movielens import map_genres, parse_title
from tests.factories import MovieFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Godfather, The (1972)", ("The Godfather", 1972, None)),
        ("Postman, The (Postino, Il) (1994)", ("The Postman", 1994, "Il Postino")),
        ("Misérables, Les (1995)", ("Les Misérables", 1995, None)),
        (
            "Star Maker, The (Uomo delle stelle, L') (1995)",
            ("The Star Maker", 1995, "L'Uomo delle stelle"),
        ),  # noqa: E501
        ("Seven (a.k.a. Se7en) (1995)", ("Seven", 1995, None)),
        ("Toy Story (1995)", ("Toy Story", 1995, None)),
        ("Hyena Road", ("Hyena Road", None, None)),
        ("Stranger Things (2016-)", ("Stranger Things", 2016, None)),
        ("Room with a View, A (1985)", ("A Room with a View", 1985, None)),
    ],
)
def test_parse_title(raw, expected):
    assert parse_title(raw) == expected


def test_map_genres_to_tmdb_names():
    refs = map_genres("Sci-Fi|Children|IMAX|Musical|Film-Noir|Drama|Sci-Fi")
    assert [(r.name, r.tmdb_id) for r in refs] == [
        ("Science Fiction", 878),
        ("Family", 10751),
        ("Music", 10402),
        ("Film Noir", None),
        ("Drama", 18),
    ]
    assert map_genres("(no genres listed)") == []


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def ml_dir(tmp_path):
    """An invented MovieLens-shaped dataset."""
    write_csv(
        tmp_path / "movies.csv",
        ["movieId", "title", "genres"],
        [
            [1, "Lighthouse Keeper, The (1999)", "Drama|Sci-Fi"],
            [2, "Paper Boats (2004)", "Children|Comedy|IMAX"],
            [3, "Unlinked Film (2010)", "Drama"],
            [4, "Known Already (2001)", "Comedy"],
        ],
    )
    write_csv(
        tmp_path / "links.csv",
        ["movieId", "imdbId", "tmdbId"],
        [[1, "0000101", "70001"], [2, "0000102", "70002"], [3, "0000103", ""], [4, "", "70004"]],
    )
    write_csv(
        tmp_path / "tags.csv",
        ["userId", "movieId", "tag", "timestamp"],
        [[7, 1, "Slow  Burn", 1], [8, 1, "slow burn", 2], [7, 4, "cult", 3]],
    )
    write_csv(
        tmp_path / "ratings.csv",
        ["userId", "movieId", "rating", "timestamp"],
        [
            [7, 1, "4.5", 1],
            [7, 2, "3.0", 2],
            [8, 1, "5.0", 3],
            [8, 3, "4.0", 4],  # movie 3 has no tmdbId: skipped
            [8, 4, "2.7", 5],  # not a half step: skipped
        ],
    )
    return tmp_path


def run_import(*args) -> str:
    out = io.StringIO()
    call_command("import_movielens", *map(str, args), "--no-progress", stdout=out)
    return out.getvalue()


def test_import_movies_tags_and_ratings(ml_dir):
    existing = MovieFactory(tmdb_id=70004, title="Known Already, TMDB title", imdb_id="tt0999999")
    out = run_import(ml_dir, "--ratings")
    assert "2 created, 1 updated, 0 unchanged, 1 skipped (no tmdbId)" in out

    keeper = Movie.objects.get(tmdb_id=70001)
    assert (keeper.title, keeper.year, keeper.movielens_id) == ("The Lighthouse Keeper", 1999, 1)
    assert keeper.imdb_id == "tt0000101"
    assert sorted(keeper.genres.values_list("name", "tmdb_id")) == [
        ("Drama", 18),
        ("Science Fiction", 878),
    ]
    assert list(keeper.keywords.values_list("name", flat=True)) == ["slow burn"]
    boats = Movie.objects.get(tmdb_id=70002)
    assert sorted(boats.genres.values_list("name", flat=True)) == ["Comedy", "Family"]
    assert not Movie.objects.filter(movielens_id=3).exists()

    existing.refresh_from_db()  # TMDB's data kept; ids and tags added
    assert existing.title == "Known Already, TMDB title" and existing.movielens_id == 4
    assert existing.imdb_id == "tt0999999"
    assert list(existing.keywords.values_list("name", flat=True)) == ["cult"]

    users = get_user_model().objects.filter(username__startswith="ml_").order_by("username")
    assert [u.username for u in users] == ["ml_7", "ml_8"]
    assert not any(u.has_usable_password() for u in users)
    assert sorted(Rating.objects.values_list("user__username", "movie__movielens_id", "score")) == [
        ("ml_7", 1, Decimal("4.5")),
        ("ml_7", 2, Decimal("3.0")),
        ("ml_8", 1, Decimal("5.0")),
    ]
    assert "3 created, 0 updated, 0 unchanged, 2 skipped; 2 users created" in out


def test_import_twice_changes_nothing(ml_dir):
    run_import(ml_dir, "--ratings")
    before = (Movie.objects.count(), Genre.objects.count(), Rating.objects.count())
    stamps = list(Rating.objects.order_by("pk").values_list("updated_at", flat=True))
    out = run_import(ml_dir, "--ratings")
    assert "0 created, 0 updated, 3 unchanged" in out
    assert "Ratings: 0 created, 0 updated, 3 unchanged, 2 skipped; 0 users created" in out
    assert (Movie.objects.count(), Genre.objects.count(), Rating.objects.count()) == before
    assert list(Rating.objects.order_by("pk").values_list("updated_at", flat=True)) == stamps


def test_changed_rating_is_updated(ml_dir):
    run_import(ml_dir, "--ratings")
    rows = (ml_dir / "ratings.csv").read_text().replace("7,1,4.5,1", "7,1,2.0,1")
    (ml_dir / "ratings.csv").write_text(rows)
    out = run_import(ml_dir, "--ratings")
    assert "Ratings: 0 created, 1 updated, 2 unchanged" in out
    assert Rating.objects.get(user__username="ml_7", movie__movielens_id=1).score == Decimal("2.0")


def test_matching_is_by_id_not_title(ml_dir):
    # Same title, different ids: a different movie, not a match.
    MovieFactory(tmdb_id=12345, title="The Lighthouse Keeper")
    run_import(ml_dir)
    assert Movie.objects.filter(title="The Lighthouse Keeper").count() == 2
    assert Movie.objects.get(movielens_id=1).tmdb_id == 70001


def test_id_conflict_is_skipped_and_reported(ml_dir):
    MovieFactory(tmdb_id=70002, movielens_id=999)  # tmdb 70002 belongs to another movieId
    out = run_import(ml_dir)
    assert "1 id conflicts" in out and "tmdb 70002: already linked to movieId 999" in out
    assert Movie.objects.get(tmdb_id=70002).movielens_id == 999


def test_ratings_are_optional(ml_dir):
    run_import(ml_dir)
    assert not Rating.objects.exists()
    assert not get_user_model().objects.filter(username__startswith="ml_").exists()


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda d: (d / "links.csv").unlink(), "links.csv is missing"),
        (lambda d: (d / "movies.csv").write_text("id,name\n1,x\n"), "lacks the column"),
        (
            lambda d: (d / "links.csv").write_text("movieId,imdbId,tmdbId\nabc,1,2\n"),
            "not a whole number",
        ),
    ],
)
def test_bad_input_is_a_clear_error_and_changes_nothing(ml_dir, breakage, message):
    breakage(ml_dir)
    with pytest.raises(CommandError, match=message):
        run_import(ml_dir, "--ratings")
    assert not Movie.objects.exists()


def test_ratings_file_required_with_ratings_flag(ml_dir):
    (ml_dir / "ratings.csv").unlink()
    with pytest.raises(CommandError, match="ratings.csv is missing"):
        run_import(ml_dir, "--ratings")
    assert not Movie.objects.exists()


def test_not_a_directory(tmp_path):
    with pytest.raises(CommandError, match="is not a directory"):
        run_import(tmp_path / "nope")


@pytest.mark.dataset
def test_import_a_slice_of_the_shared_movielens_data(shared_data_dir, tmp_path):
    """The first 400 movies of the real files, with their links, tags and ratings (a slice
    written to tmp_path at run time, never into the repository)."""
    src = shared_data_dir / "movielens-small"

    def read(name):
        with open(src / name, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    movies = read("movies.csv")[:400]
    ids = {m["movieId"] for m in movies}
    links = [r for r in read("links.csv") if r["movieId"] in ids]
    tags = [r for r in read("tags.csv") if r["movieId"] in ids]
    ratings = [r for r in read("ratings.csv") if r["movieId"] in ids]
    for name, rows in [
        ("movies.csv", movies),
        ("links.csv", links),
        ("tags.csv", tags),
        ("ratings.csv", ratings),
    ]:
        write_csv(tmp_path / name, list(rows[0]), [list(r.values()) for r in rows])

    linked = {r["movieId"] for r in links if r["tmdbId"].strip()}
    run_import(tmp_path, "--ratings")
    assert Movie.objects.count() == len(linked)
    assert set(Movie.objects.values_list("movielens_id", flat=True)) == {int(i) for i in linked}
    assert Rating.objects.count() == sum(1 for r in ratings if r["movieId"] in linked)
    assert get_user_model().objects.filter(username__startswith="ml_").count() == len(
        {r["userId"] for r in ratings if r["movieId"] in linked}
    )
    godfather_like = Movie.objects.filter(title__endswith=", The")
    assert not godfather_like.exists()  # every "X, The" was turned into "The X"
    out = run_import(tmp_path, "--ratings")
    assert f"0 created, 0 updated, {len(linked)} unchanged" in out
