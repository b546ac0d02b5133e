"""The demo catalog files themselves: structure, and agreement with MovieLens.

The structure checks need neither a database nor the shared data. The MovieLens check reads
../shared/data/movielens-small at run time (skips locally without it, fails when CI=true) and
lists every disagreeing entry, so a wrong id or title is found in one run.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections import Counter

import pytest

from movies.services.demo import TMDB_GENRES, demo_files

MIN_FILMS = 200


@pytest.fixture(scope="module")
def entries() -> list[dict]:
    films = []
    for path in demo_files():
        for index, entry in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            films.append({**entry, "_where": f"{path.name} #{index + 1} {entry.get('title')!r}"})
    return films


# --- MovieLens title normalisation --------------------------------------------------------

# MovieLens moves a leading article to the end ("Godfather, The"), in several languages.
ARTICLES = [
    "the",
    "a",
    "an",
    "les",
    "la",
    "le",
    "l'",
    "il",
    "lo",
    "gli",
    "i",
    "das",
    "der",
    "die",
    "den",
    "det",
    "el",
    "los",
    "las",
    "un",
    "une",
    "o",
    "os",
]
TRAILING_ARTICLE_RE = re.compile(
    r"^(?P<rest>.+), (?P<article>" + "|".join(re.escape(a) for a in ARTICLES) + r")$",
    re.IGNORECASE,
)
YEAR_RE = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:-\d{0,4})?\)\s*$")
TRAILING_PARENS_RE = re.compile(r"^(?P<rest>.*\S)\s*\((?P<alt>[^()]*)\)$")


def fold_title(title: str) -> str:
    """Compare titles without case, accents or punctuation ("Léon" == "leon", "&" == "and")."""
    text = unicodedata.normalize("NFKD", title)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("&", " and ")
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def front_article(title: str) -> str:
    """ "Godfather, The" -> "The Godfather"; "Boot, Das" -> "Das Boot"."""
    match = TRAILING_ARTICLE_RE.match(title.strip())
    if not match:
        return title.strip()
    article = match["article"]
    joiner = "" if article.endswith("'") else " "
    return f"{article}{joiner}{match['rest']}"


def split_movielens_title(raw: str) -> tuple[set[str], int | None]:
    """All the names a MovieLens title gives a film (folded), and its year.

    "Seven (a.k.a. Se7en) (1995)" gives {"seven", "se7en"}. A title with a subtitle also
    matches its series name or its subtitle alone, because TMDB calls "Star Wars: Episode IV -
    A New Hope" simply "Star Wars" and "Laputa: Castle in the Sky" "Castle in the Sky".
    """
    match = YEAR_RE.match(raw)
    title, year = (match["title"], int(match["year"])) if match else (raw, None)
    names = []
    while (alt := TRAILING_PARENS_RE.match(title)) is not None:
        names.append(re.sub(r"^a\.k\.a\.\s*", "", alt["alt"], flags=re.IGNORECASE))
        title = alt["rest"]
    names.append(title)
    candidates = set()
    for name in names:
        name = front_article(name)
        candidates.add(fold_title(name))
        parts = re.split(r":\s+|\s+-\s+", name)
        if len(parts) > 1:
            candidates.add(fold_title(front_article(parts[0])))
            candidates.add(fold_title(front_article(parts[-1])))
    candidates.discard("")
    return candidates, year


@pytest.mark.parametrize(
    ("movielens", "ours"),
    [
        ("Godfather, The (1972)", "The Godfather"),
        ("Seven (a.k.a. Se7en) (1995)", "Se7en"),
        ("Boot, Das (Boat, The) (1981)", "Das Boot"),
        (
            "Umbrellas of Cherbourg, The (Parapluies de Cherbourg, Les) (1964)",
            "Les Parapluies de Cherbourg",
        ),  # noqa: E501
        (
            "Léon: The Professional (a.k.a. The Professional) (Léon) (1994)",
            "Leon: The Professional",
        ),
        ("Star Wars: Episode IV - A New Hope (1977)", "Star Wars"),
        ("Laputa: Castle in the Sky (Tenkû no shiro Rapyuta) (1986)", "Castle in the Sky"),
        ("8 1/2 (8½) (1963)", "8½"),
        ("Thelma & Louise (1991)", "Thelma and Louise"),
    ],
)
def test_movielens_titles_are_normalised(movielens, ours):
    candidates, _ = split_movielens_title(movielens)
    assert fold_title(ours) in candidates


def test_title_normalisation_still_tells_films_apart():
    candidates, year = split_movielens_title("Godfather: Part II, The (1974)")
    assert year == 1974
    assert fold_title("The Godfather Part II") in candidates
    assert fold_title("The Godfather Part III") not in candidates
    assert fold_title("The Godfather") not in split_movielens_title("Goodfellas (1990)")[0]


@pytest.mark.dataset
def test_every_entry_matches_movielens_links_and_titles(entries, shared_data_dir):
    movielens = shared_data_dir / "movielens-small"
    with open(movielens / "links.csv", newline="", encoding="utf-8") as fh:
        links = {int(row["movieId"]): row for row in csv.DictReader(fh)}
    with open(movielens / "movies.csv", newline="", encoding="utf-8") as fh:
        titles = {int(row["movieId"]): row["title"] for row in csv.DictReader(fh)}
    by_tmdb: dict[int, list[int]] = {}
    for movie_id, row in links.items():
        if row["tmdbId"]:
            by_tmdb.setdefault(int(row["tmdbId"]), []).append(movie_id)

    problems = []
    for entry in entries:
        where, ml_id, tmdb_id = entry["_where"], entry.get("movielens_id"), entry.get("tmdb_id")
        row = links.get(ml_id)
        if row is None:
            problems.append(f"{where}: movielens_id {ml_id} is not in links.csv")
            continue
        if by_tmdb.get(tmdb_id) != [ml_id]:
            problems.append(
                f"{where}: tmdb_id {tmdb_id} belongs to movieId(s) {by_tmdb.get(tmdb_id)} in "
                f"links.csv, not {ml_id} (links.csv says tmdbId {row['tmdbId']})"
            )
        expected_imdb = "tt" + row["imdbId"].zfill(7)
        if entry.get("imdb_id") != expected_imdb:
            problems.append(f"{where}: imdb_id {entry.get('imdb_id')} != {expected_imdb}")
        candidates, year = split_movielens_title(titles[ml_id])
        if fold_title(entry.get("title", "")) not in candidates:
            problems.append(f"{where}: title does not match movies.csv {titles[ml_id]!r}")
        if entry.get("year") != year:
            problems.append(f"{where}: year {entry.get('year')} != {year} in movies.csv")
    assert not problems, f"{len(problems)} disagreement(s) with MovieLens:\n" + "\n".join(problems)


# --- structure ----------------------------------------------------------------------------

ABBREVIATIONS = {"dr", "mr", "mrs", "ms", "st", "jr", "sr", "vs", "mt", "u.s", "e.t"}
SENTENCE_END_RE = re.compile(r"(\S+?)[.!?]+[\"')]*(?=\s+[\"'(]?[A-Z0-9]|\s*$)")


def count_sentences(text: str) -> int:
    """Sentences in an overview; "Dr. No", "U.S." and initials do not end a sentence."""
    text, count = text.strip(), 0
    for match in SENTENCE_END_RE.finditer(text):
        word = match.group(1).lstrip("\"'(").lower()
        at_end = match.end() == len(text)  # "...King Edward I." still ends a sentence
        if not at_end and (word in ABBREVIATIONS or re.fullmatch(r"[a-z]", word) or "." in word):
            continue
        count += 1
    return count


def test_sentence_counter():
    assert count_sentences("One. Two!") == 2
    assert count_sentences("A grandson of Dr. Frankenstein arrives. He builds a monster.") == 2
    assert count_sentences("Agent J. Edgar meets the U.S. Army. Then more. And more.") == 3
    assert count_sentences("He fights King Edward I.") == 1
    assert count_sentences("no full stop") == 0


def test_catalog_has_enough_films(entries):
    assert len(entries) >= MIN_FILMS, (
        f"{len(entries)} films in {[p.name for p in demo_files()]}, at least {MIN_FILMS} needed"
    )


def test_ids_are_unique(entries):
    for key in ("tmdb_id", "movielens_id", "imdb_id"):
        counts = Counter(e.get(key) for e in entries)
        dupes = [e["_where"] for e in entries if counts[e.get(key)] > 1]
        assert not dupes, f"duplicate {key}: {dupes}"


def test_every_entry_is_complete(entries):
    problems = []
    for e in entries:
        where = e["_where"]
        keywords, cast, directors = e.get("keywords", []), e.get("cast", []), e.get("directors")
        if not 5 <= len(keywords) <= 10:
            problems.append(f"{where}: {len(keywords)} keywords (5-10)")
        if any(k != k.lower() or not k.strip() for k in keywords):
            problems.append(f"{where}: keywords must be lowercase: {keywords}")
        if len(set(keywords)) != len(keywords):
            problems.append(f"{where}: duplicate keywords")
        if len(cast) != 3 or len(set(cast)) != 3:
            problems.append(f"{where}: cast must be exactly 3 different people: {cast}")
        if not directors:
            problems.append(f"{where}: no director")
        sentences = count_sentences(e.get("overview", ""))
        if not 1 <= sentences <= 2:
            problems.append(f"{where}: overview has {sentences} sentences (1-2)")
        bad = [g for g in e.get("genres", []) if g not in TMDB_GENRES]
        if bad or not e.get("genres"):
            problems.append(f"{where}: genres must be TMDB genre names, got {e.get('genres')}")
        if not isinstance(e.get("year"), int):
            problems.append(f"{where}: year missing")
        if not 1 <= e.get("popularity", 0) <= 100 or not 0 < e.get("vote_average", 0) <= 10:
            problems.append(f"{where}: popularity 1-100 and vote_average 0-10 expected")
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


def test_catalog_spans_decades_and_genres(entries):
    decades = {e["year"] // 10 * 10 for e in entries}
    genres = {g for e in entries for g in e["genres"]}
    assert len(decades) >= 6, sorted(decades)
    assert len(genres) >= 12, sorted(genres)
