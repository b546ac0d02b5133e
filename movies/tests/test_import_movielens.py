"""manage.py import_movielens: title/genre parsing, id matching, tags, ratings, idempotency,
bad input. Small invented CSVs, plus a run over a slice of the shared MovieLens data."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from movies.models import Genre, Movie, Rating
from movies.services.movielens import map_genres, parse_title
from tests.factories import MovieFactory, RatingFactory, UserFactory

pytestmark = pytest.mark.django_db


def movielens_users():
    return get_user_model().objects.from_dataset("movielens")


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

    users = movielens_users().order_by("dataset_user_id")
    assert [u.dataset_user_id for u in users] == [7, 8]
    assert [u.username for u in users] == ["movielens:7", "movielens:8"]
    assert not any(u.has_usable_password() for u in users)
    assert sorted(
        Rating.objects.values_list("user__dataset_user_id", "movie__movielens_id", "score")
    ) == [
        (7, 1, Decimal("4.5")),
        (7, 2, Decimal("3.0")),
        (8, 1, Decimal("5.0")),
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
    rating = Rating.objects.get(
        user__dataset="movielens", user__dataset_user_id=7, movie__movielens_id=1
    )
    assert rating.score == Decimal("2.0")


def test_a_person_named_like_a_dataset_user_is_left_alone(ml_dir, client, password, login_request):
    """A person who signed up as "ml_7" (the old import's naming) or even "movielens:7" (only
    possible around the username validator) keeps their account and their own ratings."""
    movie = MovieFactory(tmdb_id=70001, title="Their favourite")
    person = UserFactory(username="ml_7")
    around_validator = UserFactory(username="movielens:8")
    RatingFactory(user=person, movie=movie, score=Decimal("1.0"))
    before = (person.password, around_validator.password)

    out = run_import(ml_dir, "--ratings")

    assert "2 users created" in out
    person.refresh_from_db()
    around_validator.refresh_from_db()
    assert (person.password, around_validator.password) == before
    assert person.dataset == "" and around_validator.dataset == ""
    assert list(person.ratings.values_list("score", flat=True)) == [Decimal("1.0")]
    assert not around_validator.ratings.exists()
    imported = {u.dataset_user_id: u.username for u in movielens_users()}
    assert imported == {7: "movielens:7", 8: "movielens:8:2"}
    assert get_user_model().objects.people().count() == 2
    # The person still logs in with their own password.
    assert client.login(request=login_request, username="ml_7", password=password)


def test_dataset_users_are_found_by_id_not_username(ml_dir):
    run_import(ml_dir, "--ratings")
    # Renaming an imported user (an admin tidying up) must not create a second one.
    movielens_users().filter(dataset_user_id=7).update(username="renamed")
    out = run_import(ml_dir, "--ratings")
    assert "0 users created" in out
    assert movielens_users().count() == 2
    assert Rating.objects.filter(user__username="renamed").count() == 2


def test_dataset_users_cannot_log_in(ml_dir, client):
    run_import(ml_dir, "--ratings")
    imported = movielens_users().get(dataset_user_id=7)
    response = client.post(reverse("login"), {"username": imported.username, "password": ""})
    assert response.status_code == 200 and not response.wsgi_request.user.is_authenticated
    # Even with a password set by an admin, the backend refuses a dataset account.
    imported.set_password("an-admin-chose-this")
    imported.save()
    response = client.post(
        reverse("login"), {"username": imported.username, "password": "an-admin-chose-this"}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "Please enter a correct username and password" in response.content.decode()


def test_negative_user_id_is_a_clear_error_and_changes_nothing(ml_dir):
    with open(ml_dir / "ratings.csv", "a", encoding="utf-8") as fh:
        fh.write("-3,1,4.0,9\n")
    with pytest.raises(CommandError, match="userId -3 is negative"):
        run_import(ml_dir, "--ratings")
    assert not Movie.objects.exists() and not get_user_model().objects.exists()


def test_import_analyzes_the_tables_it_filled_on_postgresql(ml_dir):
    with CaptureQueriesContext(connection) as queries:
        run_import(ml_dir, "--ratings")
    analyzed = {q["sql"] for q in queries if q["sql"].upper().startswith("ANALYZE")}
    if connection.vendor == "postgresql":
        assert analyzed == {
            f'ANALYZE "{t}"'
            for t in [
                "movies_movie",
                "movies_movie_genres",
                "movies_movie_keywords",
                "movies_genre",
                "movies_keyword",
                "movies_person",
                "movies_credit",
                "movies_rating",
                "accounts_user",
                "accounts_user_groups",
                "accounts_user_user_permissions",
            ]
        }
    else:
        assert analyzed == set()


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
    assert not get_user_model().objects.exists()


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
    assert movielens_users().count() == len(
        {r["userId"] for r in ratings if r["movieId"] in linked}
    )
    godfather_like = Movie.objects.filter(title__endswith=", The")
    assert not godfather_like.exists()  # every "X, The" was turned into "The X"
    out = run_import(tmp_path, "--ratings")
    assert f"0 created, 0 updated, {len(linked)} unchanged" in out
