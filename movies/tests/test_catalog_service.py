import datetime

import pytest

from movies.models import Credit, Genre, Movie, Person
from movies.services.catalog import CastRef, MovieData, NamedRef, upsert_movie


def _data(**overrides):
    base = dict(
        tmdb_id=603,
        title="The Matrix",
        release_date=datetime.date(1999, 3, 30),
        overview="A hacker learns the world is a simulation.",
        genres=[NamedRef("Action", 28), NamedRef("Science Fiction", 878)],
        keywords=[NamedRef("simulated reality"), NamedRef("hacker")],
        cast=[CastRef(NamedRef("Keanu Reeves", 6384), 0), CastRef(NamedRef("Carrie-Anne Moss"), 1)],
        directors=[NamedRef("Lana Wachowski"), NamedRef("Lilly Wachowski")],
    )
    base.update(overrides)
    return MovieData(**base)


@pytest.mark.django_db
def test_upsert_creates_then_is_idempotent():
    movie, created, changed = upsert_movie(data=_data())
    assert created and changed
    assert movie.year == 1999
    assert sorted(movie.genres.values_list("name", flat=True)) == ["Action", "Science Fiction"]
    assert [p.name for p in movie.directors()] == ["Lana Wachowski", "Lilly Wachowski"]
    counts = (
        Movie.objects.count(),
        Genre.objects.count(),
        Person.objects.count(),
        Credit.objects.count(),
    )

    movie2, created2, changed2 = upsert_movie(data=_data())
    assert movie2.pk == movie.pk
    assert not created2 and not changed2
    assert counts == (
        Movie.objects.count(),
        Genre.objects.count(),
        Person.objects.count(),
        Credit.objects.count(),
    )


@pytest.mark.django_db
def test_upsert_updates_changed_fields_and_replaces_credits():
    upsert_movie(data=_data())
    movie, created, changed = upsert_movie(
        data=_data(title="Matrix", cast=[CastRef(NamedRef("Laurence Fishburne"), 0)])
    )
    assert not created and changed
    assert movie.title == "Matrix" and movie.search_title == "matrix"
    assert [c.person.name for c in movie.cast()] == ["Laurence Fishburne"]
    # Directors were given again, unchanged, and stay.
    assert movie.credits.filter(kind=Credit.Kind.DIRECTOR).count() == 2


@pytest.mark.django_db
def test_none_leaves_stored_values_alone():
    upsert_movie(data=_data(runtime=136))
    movie, _, changed = upsert_movie(data=MovieData(tmdb_id=603, title="The Matrix"))
    assert not changed
    assert movie.runtime == 136 and movie.genres.count() == 2
