"""Reading and writing ratings CSV files: formats, detection and score rules (no Django).

Formats read (detected from the header row, names compared without case or spaces):

* ``netflixrecs`` — our own export: ``tmdb_id,imdb_id,movielens_id,title,year,rating,
  rated_at,watchlist`` (rating in half stars 0.5–5, empty for a watchlist-only row);
* ``letterboxd`` — Letterboxd's export ``ratings.csv``: ``Date,Name,Year,Letterboxd URI,
  Rating`` (half stars 0.5–5); also Letterboxd's *import* columns (``Title,Year,Rating,
  imdbID,tmdbID,WatchedDate``), which is what our Letterboxd-compatible export writes;
* ``imdb`` — IMDb's ratings export: ``Const,Your Rating,Date Rated,Title,...,Year,...``;
  IMDb's 1–10 becomes half stars by rating ÷ 2, rounded to the nearest half star
  (7 → 3.5, 10 → 5, 1 → 0.5);
* ``movielens`` — ``movieId,rating[,timestamp]`` with an optional ``userId`` (one user only).

Problems with the whole file raise ``ImportFileError`` with a sentence for people; problems
with one row are kept on the row (``ParsedRow.error``) so the preview can list them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

HALF_STARS = [Decimal(n) / 2 for n in range(1, 11)]

NETFLIXRECS = "netflixrecs"
LETTERBOXD = "letterboxd"
IMDB = "imdb"
MOVIELENS = "movielens"
FORMAT_NAMES = {
    NETFLIXRECS: "netflixrecs CSV",
    LETTERBOXD: "Letterboxd",
    IMDB: "IMDb ratings",
    MOVIELENS: "MovieLens",
}

# Our export's columns, in order (documented on the account page and in the README).
EXPORT_COLUMNS = [
    "tmdb_id",
    "imdb_id",
    "movielens_id",
    "title",
    "year",
    "rating",
    "rated_at",
    "watchlist",
]
# Letterboxd's documented import columns (letterboxd.com/about/importing-data/).
LETTERBOXD_COLUMNS = ["tmdbID", "imdbID", "Title", "Year", "Rating", "WatchedDate"]

IMDB_ID = re.compile(r"^tt\d{5,10}$")


class ImportFileError(Exception):
    """The file as a whole cannot be read; ``str(exc)`` says why, for people."""


@dataclass
class ParsedRow:
    line: int  # line number in the file (the header is line 1)
    title: str = ""
    year: int | None = None
    tmdb_id: int | None = None
    imdb_id: str = ""
    movielens_id: int | None = None
    score: Decimal | None = None
    watchlist: bool = False
    error: str = ""  # why this row cannot be imported (bad score, no rating, no film named)

    @property
    def label(self) -> str:
        if self.title:
            return f"{self.title} ({self.year})" if self.year else self.title
        for name, value in (
            ("TMDB", self.tmdb_id),
            ("IMDb", self.imdb_id),
            ("MovieLens", self.movielens_id),
        ):
            if value:
                return f"{name} {value}"
        return f"line {self.line}"


@dataclass
class ParsedFile:
    format: str
    encoding: str  # "utf-8" or "latin-1" (the fallback)
    rows: list[ParsedRow]

    @property
    def format_name(self) -> str:
        return FORMAT_NAMES[self.format]


def decode(data: bytes, *, max_bytes: int) -> tuple[str, str]:
    """Bytes → (text, encoding). UTF-8 (with or without a byte-order mark) first; a file that
    is not valid UTF-8 is read as Latin-1 (older IMDb and spreadsheet exports), which the
    preview says. Binary files (NUL bytes) and files over ``max_bytes`` are refused."""
    if len(data) > max_bytes:
        raise ImportFileError(
            f"This file is {len(data) / 1_048_576:.1f} MB; the limit is "
            f"{max_bytes / 1_048_576:.0f} MB. Split it and import the parts one by one."
        )
    if not data.strip():
        raise ImportFileError("This file is empty.")
    if b"\x00" in data[:65536]:
        raise ImportFileError(
            "This is not a CSV file (it contains binary data). Export your ratings as CSV and "
            "upload that file."
        )
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _key(name: str) -> str:
    return re.sub(r"[\s_]+", "", (name or "").strip().lower())


def detect_format(header: Iterable[str]) -> str:
    keys = {_key(h) for h in header}
    if {"tmdbid", "rating", "watchlist"} <= keys:
        return NETFLIXRECS
    if {"const", "yourrating"} <= keys:
        return IMDB
    if {"movieid", "rating"} <= keys:
        return MOVIELENS
    if "rating" in keys and ({"name", "letterboxduri"} & keys or {"title"} & keys):
        return LETTERBOXD
    raise ImportFileError(
        "The columns of this file are not ones we know ("
        + ", ".join(h for h in header if h)[:200]
        + "). We read a Letterboxd ratings.csv (Date, Name, Year, Letterboxd URI, Rating), an "
        "IMDb ratings export (Const, Your Rating, …, Title, …, Year), a MovieLens file "
        "(movieId, rating) and our own export (tmdb_id, …, rating, watchlist)."
    )


def _int(value: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        number = int(Decimal(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number > 0 else None


def _year(value: str) -> int | None:
    year = _int((value or "")[:4])
    return year if year and 1870 <= year <= 2100 else None


def half_stars(value: str) -> Decimal:
    """A 0.5–5 half-star score (Letterboxd, MovieLens, ours); ValueError with a reason."""
    try:
        score = Decimal(value.strip())
    except InvalidOperation:
        raise ValueError(f"“{value.strip()[:20]}” is not a number of stars") from None
    if score not in HALF_STARS:
        raise ValueError(
            f"{value.strip()[:20]} is out of range: ratings are half stars from 0.5 to 5"
        )
    return score


def imdb_to_half_stars(value: str) -> Decimal:
    """IMDb's 1–10 → half stars: rating ÷ 2, rounded to the nearest half star."""
    try:
        ten = Decimal(value.strip())
    except InvalidOperation:
        raise ValueError(f"“{value.strip()[:20]}” is not an IMDb rating") from None
    if not Decimal(1) <= ten <= Decimal(10):
        raise ValueError(f"{value.strip()[:20]} is out of range: IMDb ratings go from 1 to 10")
    return ten.to_integral_value(rounding=ROUND_HALF_UP) / 2


def _truthy(value: str) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "y", "x"}


def parse(text: str, *, encoding: str = "utf-8", max_rows: int) -> ParsedFile:
    """Parse CSV ``text`` into rows of one detected format (see the module docstring)."""
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader, None)
        if not header:
            raise ImportFileError("This file is empty.")
        fmt = detect_format(header)
        index = {_key(h): i for i, h in enumerate(header)}
        rows: list[ParsedRow] = []
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) >= max_rows:
                raise ImportFileError(
                    f"This file has more than {max_rows:,} rows; the limit is {max_rows:,}. "
                    "Split it and import the parts one by one."
                )
            get = _getter(record, index)
            rows.append(_ROW_PARSERS[fmt](get, reader.line_num))
    except csv.Error as exc:
        raise ImportFileError(f"This file is not valid CSV ({exc}).") from None
    if not rows:
        raise ImportFileError("This file has a header but no ratings.")
    if fmt == MOVIELENS and "userid" in index:
        users = {r.strip() for r in _column(text, dialect, index["userid"]) if r.strip()}
        if len(users) > 1:
            raise ImportFileError(
                f"This MovieLens file holds the ratings of {len(users):,} users; import one "
                "person's ratings (one userId) at a time."
            )
    return ParsedFile(format=fmt, encoding=encoding, rows=rows)


def _column(text: str, dialect, i: int) -> Iterator[str]:
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    next(reader, None)
    for record in reader:
        if len(record) > i:
            yield record[i]


def _getter(record: list[str], index: dict[str, int]):
    def get(*names: str) -> str:
        for name in names:
            i = index.get(name)
            if i is not None and i < len(record):
                return record[i].strip()
        return ""

    return get


def _score(row: ParsedRow, raw: str, convert) -> None:
    if not raw:
        if not row.watchlist:
            row.error = "no rating on this row"
        return
    try:
        row.score = convert(raw)
    except ValueError as exc:
        row.error = str(exc)


def _netflixrecs(get, line: int) -> ParsedRow:
    row = ParsedRow(
        line=line,
        title=get("title"),
        year=_year(get("year")),
        tmdb_id=_int(get("tmdbid")),
        imdb_id=_imdb(get("imdbid")),
        movielens_id=_int(get("movielensid")),
        watchlist=_truthy(get("watchlist")),
    )
    _score(row, get("rating"), half_stars)
    return _named(row)


def _letterboxd(get, line: int) -> ParsedRow:
    row = ParsedRow(
        line=line,
        title=get("name", "title"),
        year=_year(get("year")),
        tmdb_id=_int(get("tmdbid")),
        imdb_id=_imdb(get("imdbid")),
    )
    raw = get("rating")
    if not raw and get("rating10"):
        _score(row, get("rating10"), imdb_to_half_stars)
    else:
        _score(row, raw, half_stars)
    return _named(row)


def _imdb(value: str) -> str:
    value = (value or "").strip().lower()
    return value if IMDB_ID.match(value) else ""


def _imdb_row(get, line: int) -> ParsedRow:
    row = ParsedRow(
        line=line,
        title=get("title", "originaltitle"),
        year=_year(get("year", "releasedate")),
        imdb_id=_imdb(get("const")),
    )
    _score(row, get("yourrating"), imdb_to_half_stars)
    return _named(row)


def _movielens(get, line: int) -> ParsedRow:
    row = ParsedRow(line=line, movielens_id=_int(get("movieid")), title=get("title"))
    _score(row, get("rating"), half_stars)
    return _named(row)


def _named(row: ParsedRow) -> ParsedRow:
    if not (row.error or row.title or row.tmdb_id or row.imdb_id or row.movielens_id):
        row.error = "no film named on this row (no id and no title)"
    return row


_ROW_PARSERS = {
    NETFLIXRECS: _netflixrecs,
    LETTERBOXD: _letterboxd,
    IMDB: _imdb_row,
    MOVIELENS: _movielens,
}


class Echo:
    """A file-like object whose write returns the line: csv.writer → StreamingHttpResponse."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    """Yield CSV lines (header first), one at a time, for a streamed download."""
    writer = csv.writer(Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)
