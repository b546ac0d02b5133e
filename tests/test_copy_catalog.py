"""The benchmarks' COPY loader of the generated catalog (PostgreSQL only)."""

import pytest
from django.db import connection

from bench.copy_catalog import TMDB_ID_BASE, copy_synthetic_catalog
from bench.synthetic_catalog import Catalog
from movies.models import Credit, Genre, Movie
from recommendations import building, builds

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's")


def test_loads_every_movie_with_its_genres_keywords_and_credits(movie):
    out = copy_synthetic_catalog(300, seed=5)
    assert out["movies"] == 300 and out["rows"] == sum(
        out[k] for k in ("movies", "genres", "keywords", "credits")
    )
    generated = list(Catalog(300, seed=5).movies())
    loaded = Movie.objects.filter(tmdb_id__gte=TMDB_ID_BASE).order_by("tmdb_id")
    assert loaded.count() == 300
    # Ids follow the movie that was already there; the sequence is past them.
    assert loaded.first().pk > movie.pk
    for m, row in zip(generated[:25], loaded[:25], strict=True):
        assert row.tmdb_id == TMDB_ID_BASE + m.index
        assert (row.title, row.overview, row.year) == (m.title, m.overview, m.year)
        assert row.search_title == row.title.lower()
        assert (row.popularity, row.vote_average, row.vote_count) == (
            m.popularity,
            m.vote_average,
            m.vote_count,
        )
        assert sorted(row.genres.values_list("name", flat=True)) == sorted(m.genres)
        assert sorted(row.keywords.values_list("name", flat=True)) == sorted(m.keywords)
        credits = row.credits.select_related("person").order_by("kind", "order")
        cast = [c.person.name for c in credits if c.kind == Credit.Kind.CAST]
        assert cast == list(dict.fromkeys(m.cast))
        assert [c.person.name for c in credits if c.kind == Credit.Kind.DIRECTOR] == m.directors
    assert Genre.objects.filter(name="Science Fiction", slug="science-fiction").exists()
    # New rows through the ORM get fresh ids (the sequence was moved).
    later = Movie.objects.create(tmdb_id=1, title="After")
    assert later.pk > loaded.last().pk
    with pytest.raises(RuntimeError, match="already"):
        copy_synthetic_catalog(300, seed=5)


def test_a_model_builds_on_the_loaded_catalog():
    copy_synthetic_catalog(400, seed=6)
    ids, soups = building.catalog_soups()
    assert len(ids) == 400 and all(soups)
    version = builds.build_model(triggered_by="test")
    assert version.is_active and version.movie_count == 400
    assert version.vocabulary_size > 100
