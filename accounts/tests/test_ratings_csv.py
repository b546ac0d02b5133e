"""accounts.ratings_csv: format detection, score rules and refused files (no database)."""

from decimal import Decimal

import pytest

from accounts import ratings_csv as rc
from accounts.ratings_csv import ImportFileError


def parse(text: str, max_rows: int = 100):
    return rc.parse(text, max_rows=max_rows)


@pytest.mark.parametrize(
    ("ten", "stars"), [("7", "3.5"), ("10", "5"), ("1", "0.5"), ("8", "4"), ("6.6", "3.5")]
)
def test_imdb_scale_becomes_half_stars(ten, stars):
    assert rc.imdb_to_half_stars(ten) == Decimal(stars)


@pytest.mark.parametrize("bad", ["0", "11", "-3", "ten"])
def test_imdb_scores_out_of_range_are_refused(bad):
    with pytest.raises(ValueError):
        rc.imdb_to_half_stars(bad)


@pytest.mark.parametrize("bad", ["0", "5.5", "3.7", "x", "10"])
def test_half_star_scores_out_of_range_are_refused(bad):
    with pytest.raises(ValueError):
        rc.half_stars(bad)


def test_letterboxd_export():
    f = parse(
        "Date,Name,Year,Letterboxd URI,Rating\n"
        "2024-01-02,Amélie,2001,https://boxd.it/abc,4.5\n"
        "2024-01-03,Heat,1995,https://boxd.it/def,6\n"
    )
    assert f.format == rc.LETTERBOXD
    first, second = f.rows
    assert (first.title, first.year, first.score, first.error) == (
        "Amélie",
        2001,
        Decimal("4.5"),
        "",
    )
    assert "out of range" in second.error


def test_imdb_export_with_latin1_and_bom_free_header():
    f = parse(
        "Const,Your Rating,Date Rated,Title,URL,Title Type,IMDb Rating,Runtime (mins),Year\n"
        "tt0133093,7,2020-01-01,The Matrix,https://x,movie,8.7,136,1999\n"
        "tt0000001,10,2020-01-01,Other,https://x,movie,8.7,136,1999\n"
    )
    assert f.format == rc.IMDB
    assert [(r.imdb_id, r.score) for r in f.rows] == [
        ("tt0133093", Decimal("3.5")),
        ("tt0000001", Decimal("5")),
    ]


def test_movielens_file_with_one_user():
    f = parse("userId,movieId,rating,timestamp\n7,2571,4.0,964982703\n7,1,0.5,964982703\n")
    assert f.format == rc.MOVIELENS
    assert [(r.movielens_id, r.score) for r in f.rows] == [
        (2571, Decimal("4")),
        (1, Decimal("0.5")),
    ]


def test_movielens_file_of_several_users_is_refused():
    with pytest.raises(ImportFileError, match="2 users"):
        parse("userId,movieId,rating\n1,1,4\n2,1,4\n")


def test_our_format_with_watchlist_rows():
    f = parse(
        "tmdb_id,imdb_id,movielens_id,title,year,rating,rated_at,watchlist\n"
        "603,tt0133093,2571,The Matrix,1999,4.5,2024-01-01T00:00:00Z,\n"
        "238,,,The Godfather,1972,,,1\n"
    )
    assert f.format == rc.NETFLIXRECS
    assert (f.rows[0].tmdb_id, f.rows[0].score, f.rows[0].watchlist) == (603, Decimal("4.5"), False)
    assert (f.rows[1].score, f.rows[1].watchlist, f.rows[1].error) == (None, True, "")


def test_wrong_columns_are_refused_with_what_we_read():
    with pytest.raises(ImportFileError, match="columns of this file"):
        parse("foo,bar\n1,2\n")


def test_too_many_rows_are_refused():
    with pytest.raises(ImportFileError, match="more than 2"):
        parse("movieId,rating\n1,4\n2,4\n3,4\n", max_rows=2)


def test_header_only_is_refused():
    with pytest.raises(ImportFileError, match="no ratings"):
        parse("movieId,rating\n")


def test_decode_refuses_binary_empty_and_huge_and_falls_back_to_latin1():
    with pytest.raises(ImportFileError, match="not a CSV"):
        rc.decode(b"PK\x03\x04\x00\x00binary", max_bytes=1000)
    with pytest.raises(ImportFileError, match="empty"):
        rc.decode(b"  \n", max_bytes=1000)
    with pytest.raises(ImportFileError, match="limit"):
        rc.decode(b"x" * 2000, max_bytes=1000)
    assert rc.decode("\ufeffName,Rating\n".encode(), max_bytes=1000) == ("Name,Rating\n", "utf-8")
    assert rc.decode("Amélie".encode("latin-1"), max_bytes=1000) == ("Amélie", "latin-1")


def test_rows_without_a_rating_or_a_film_are_kept_with_the_reason():
    f = parse("Date,Name,Year,Letterboxd URI,Rating\n2024-01-01,Heat,1995,u,\n2024-01-01,,,,4\n")
    assert [r.error for r in f.rows] == [
        "no rating on this row",
        "no film named on this row (no id and no title)",
    ]


def test_semicolon_files_are_read():
    f = parse("movieId;rating\n1;4.5\n")
    assert f.rows[0].score == Decimal("4.5")
