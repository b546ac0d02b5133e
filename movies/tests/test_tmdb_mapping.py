"""TMDB JSON → MovieData (movies.services.tmdb_mapping)."""

from __future__ import annotations

import datetime

import pytest

from movies.conftest import CREDITS, tmdb_movie
from movies.services.tmdb_mapping import movie_data_from_tmdb

pytestmark = pytest.mark.django_db


def test_parse_cast_by_order_and_directors_by_job(settings):
    settings.TMDB_TOP_CAST = 3
    details = tmdb_movie(7, "Parsed", 5.0, credits=CREDITS, poster_path=None)
    data = movie_data_from_tmdb(details)
    assert [(c.person.name, c.order, c.character) for c in data.cast] == [
        ("Alice First", 0, "Captain"),
        ("Bob Second", 1, "Pilot"),
        ("Carol Third", 2, "Ship's cat"),
    ]
    assert [(d.name, d.tmdb_id) for d in data.directors] == [
        ("Erin Director", 9100),
        ("Frank Codirector", 9101),
    ]
    assert data.release_date == datetime.date(2001, 2, 3) and data.year == 2001
    assert [(g.name, g.tmdb_id) for g in data.genres] == [("Drama", 18)]
    assert [k.name for k in data.keywords] == ["theme 7"]
    assert data.poster_path == ""  # TMDB said "no poster"


def test_parse_leaves_unsent_fields_alone():
    data = movie_data_from_tmdb({"id": 8, "title": "Sparse"})
    assert data.poster_path is None and data.cast is None and data.genres is None
    assert data.keywords is None and data.release_date is None


@pytest.mark.parametrize("details", [{"title": "No id"}, {"id": 9, "title": ""}, {"id": "9"}])
def test_parse_rejects_movies_without_id_or_title(details):
    with pytest.raises(ValueError, match="id or a title"):
        movie_data_from_tmdb(details)
