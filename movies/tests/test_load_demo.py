"""Loading the demo catalog (manage.py load_demo) and the demo login (manage.py demo_user)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from movies.models import Credit, Genre, Keyword, Movie, Person
from movies.services.demo import (
    DEFAULT_DEMO_PASSWORD,
    DemoCatalogError,
    load_demo_catalog,
    read_catalog,
)


def _counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count() for model in (Movie, Genre, Keyword, Person, Credit)
    }


def _load(*args) -> str:
    out = StringIO()
    call_command("load_demo", "--no-progress", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _entry(**overrides) -> dict:
    """An invented film in the catalog format (not part of the shipped catalog)."""
    entry = {
        "tmdb_id": 990001,
        "movielens_id": 990001,
        "imdb_id": "tt9900001",
        "title": "The Invented Film",
        "year": 1961,
        "runtime": 101,
        "original_language": "en",
        "genres": ["Drama", "Science Fiction"],
        "directors": ["Ada Director"],
        "cast": ["Bea Lead", "Cy Second", "Di Third"],
        "keywords": ["robot", "lighthouse", "storm", "island", "friendship"],
        "overview": "A keeper finds a robot on the rocks. They weather the storm together.",
        "popularity": 12,
        "vote_average": 6.4,
    }
    entry.update(overrides)
    return entry


def _write(path, entries) -> str:
    path.write_text(json.dumps(entries), encoding="utf-8")
    return str(path)


@pytest.mark.django_db
def test_load_demo_twice_changes_nothing():
    expected = len(read_catalog())

    first = _load()
    assert Movie.objects.count() == expected
    assert f"{expected} created, 0 updated, 0 unchanged" in first
    counts = _counts()
    assert counts["Credit"] >= 4 * expected  # three cast and at least one director each

    second = _load()
    assert _counts() == counts
    assert f"0 created, 0 updated, {expected} unchanged" in second

    godfather = Movie.objects.with_details().get(tmdb_id=238)
    assert (godfather.title, godfather.year, godfather.movielens_id) == ("The Godfather", 1972, 858)
    assert godfather.imdb_id == "tt0068646" and godfather.runtime == 175
    assert [p.name for p in godfather.directors()] == ["Francis Ford Coppola"]
    assert [c.person.name for c in godfather.cast()] == ["Marlon Brando", "Al Pacino", "James Caan"]
    assert {g.name for g in godfather.genres.all()} == {"Drama", "Crime"}
    assert Genre.objects.get(name="Science Fiction").tmdb_id == 878
    assert 5 <= godfather.keywords.count() <= 10 and godfather.overview


@pytest.mark.django_db
def test_changed_entry_is_reported_as_updated(tmp_path):
    path = tmp_path / "films.json"
    _load(_write(path, [_entry()]))
    out = _load(
        _write(path, [_entry(overview="A new synopsis.", cast=["Bea Lead", "Di Third", "Ed New"])])
    )
    assert "0 created, 1 updated, 0 unchanged" in out
    movie = Movie.objects.with_details().get(tmdb_id=990001)
    assert movie.overview == "A new synopsis."
    assert [c.person.name for c in movie.cast()] == ["Bea Lead", "Di Third", "Ed New"]
    assert "0 created, 0 updated, 1 unchanged" in _load(str(path))


@pytest.mark.django_db
def test_bad_entry_is_named_and_nothing_is_written(tmp_path):
    path = _write(
        tmp_path / "films.json",
        [
            _entry(),
            _entry(tmdb_id=990002, movielens_id=990002, title="Broken", genres=["Sci-Fi"]),
            _entry(tmdb_id=990003, movielens_id=990003, title="Also Broken", year="1960"),
        ],
    )
    with pytest.raises(CommandError) as excinfo:
        _load(path)
    message = str(excinfo.value)
    assert "nothing changed" in message
    assert "films.json entry #2 ('Broken', tmdb_id 990002)" in message
    assert "not TMDB genre name(s): Sci-Fi" in message
    assert "entry #3 ('Also Broken'" in message and "year must be 1870-2100" in message
    assert _counts() == {"Movie": 0, "Genre": 0, "Keyword": 0, "Person": 0, "Credit": 0}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"tmdb_id": True}, "tmdb_id must be a positive integer"),
        ({"imdb_id": "68646"}, "imdb_id must look like"),
        ({"cast": []}, "cast needs at least 1"),
        ({"keywords": ["storm", "storm"]}, "keywords has duplicates"),
        ({"vote_average": 11}, "vote_average must be a number from 0 to 10"),
        ({"synopsis": "typo"}, "unknown key(s) synopsis"),
    ],
)
def test_each_kind_of_bad_data_is_refused(tmp_path, change, expected):
    path = tmp_path / "films.json"
    _write(path, [_entry(**change)])
    with pytest.raises(DemoCatalogError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_demo_catalog(paths=[path])
    assert not Movie.objects.exists()


@pytest.mark.django_db
def test_missing_key_and_duplicate_ids_are_refused(tmp_path):
    entry = _entry()
    del entry["overview"]
    with pytest.raises(DemoCatalogError, match="missing overview"):
        load_demo_catalog(paths=[_write(tmp_path / "a.json", [entry])])

    first = _write(tmp_path / "one.json", [_entry()])
    second = _write(tmp_path / "two.json", [_entry(movielens_id=990009, title="Twin")])
    with pytest.raises(DemoCatalogError, match=r"two\.json entry #1 .*tmdb_id 990001 is also used"):
        load_demo_catalog(paths=[first, second])
    assert not Movie.objects.exists()


@pytest.mark.django_db
def test_invalid_json_gives_file_and_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"tmdb_id": 1,\n  oops\n]', encoding="utf-8")
    with pytest.raises(CommandError, match=r"broken\.json: not valid JSON \(line 3"):
        _load(str(path))


@pytest.mark.django_db
def test_progress_is_reported_per_film(tmp_path):
    path = _write(tmp_path / "f.json", [_entry(), _entry(tmdb_id=990002, movielens_id=None)])
    calls = []
    summary = load_demo_catalog(
        paths=[path], progress=lambda done, total: calls.append((done, total))
    )
    assert calls == [(1, 2), (2, 2)]
    assert (summary.created, summary.updated, summary.unchanged) == (2, 0, 0)


@pytest.mark.django_db
def test_demo_user_twice_keeps_one_user_whose_password_works(login_request):
    out = StringIO()
    call_command("demo_user", stdout=out, stderr=StringIO())
    call_command("demo_user", stdout=out, stderr=StringIO())
    assert out.getvalue().count(f"Demo login: demo / {DEFAULT_DEMO_PASSWORD}") == 2
    assert get_user_model().objects.filter(username="demo").count() == 1
    assert authenticate(login_request, username="demo", password=DEFAULT_DEMO_PASSWORD) is not None


@pytest.mark.django_db
def test_demo_user_resets_the_password(client, login_request):
    call_command("demo_user", stdout=StringIO(), stderr=StringIO())
    out = StringIO()
    call_command("demo_user", "--password", "another-secret-9", stdout=out, stderr=StringIO())
    assert "Demo login: demo / another-secret-9" in out.getvalue()
    assert authenticate(login_request, username="demo", password=DEFAULT_DEMO_PASSWORD) is None
    assert client.login(request=login_request, username="demo", password="another-secret-9")
    with pytest.raises(CommandError, match="must not be empty"):
        call_command("demo_user", "--password", " ", stdout=StringIO(), stderr=StringIO())
    assert get_user_model().objects.filter(username="demo").count() == 1


@pytest.mark.django_db
def test_demo_user_admin_flag_opens_django_admin(client, login_request):
    call_command("demo_user", stdout=StringIO(), stderr=StringIO())
    client.login(request=login_request, username="demo", password="netflixrecs-demo")
    assert client.get("/admin/").status_code == 302  # a plain demo user is not staff

    out = StringIO()
    call_command("demo_user", "--admin", stdout=out, stderr=StringIO())
    assert "superuser" in out.getvalue()
    client.login(request=login_request, username="demo", password="netflixrecs-demo")
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_demo_user_admin_flag_refused_in_production(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="refused in production"):
        call_command("demo_user", "--admin", stdout=StringIO(), stderr=StringIO())
    assert not get_user_model().objects.filter(username="demo").exists()


@pytest.mark.django_db
def test_load_demo_analyzes_the_catalog_tables_on_postgresql():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        _load()
    analyzed = {q["sql"] for q in queries if q["sql"].upper().startswith("ANALYZE")}
    if connection.vendor == "postgresql":
        assert {'ANALYZE "movies_movie"', 'ANALYZE "movies_movie_genres"'} <= analyzed
        assert {'ANALYZE "movies_credit"', 'ANALYZE "movies_keyword"'} <= analyzed
    else:
        assert analyzed == set()
