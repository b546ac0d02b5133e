"""Which shared terms a reason names: people and keywords first, genres last, no filler."""

from __future__ import annotations

from recommendations import reasons

KINDS = {
    "jamescameron": reasons.PERSON,
    "spacetravel": reasons.KEYWORD,
    "sciencefiction": reasons.GENRE,
    "horror": reasons.GENRE,
}


def test_a_person_or_keyword_beats_a_genre_with_a_larger_contribution():
    terms, genres_only = reasons.pick_terms(
        ["sciencefiction", "horror", "spacetravel", "jamescameron"], KINDS, {}, n_rows=1000
    )
    assert terms[:2] == ["spacetravel", "jamescameron"]
    assert "sciencefiction" not in terms and not genres_only


def test_genres_are_named_only_when_nothing_else_is_shared_and_then_flagged():
    terms, genres_only = reasons.pick_terms(["sciencefiction", "horror"], KINDS, {}, n_rows=1000)
    assert terms == ["sciencefiction", "horror"] and genres_only


def test_overview_filler_and_common_words_are_never_named():
    df = {"key": 1, "john": 1, "return help": 1, "finds": 1, "galaxy": 50, "wormhole": 3}
    terms, genres_only = reasons.pick_terms(list(df), KINDS, df, n_rows=1000)
    # "galaxy" is in 5% of the movies: not informative; "wormhole" is rare and not filler.
    assert terms == ["wormhole"] and not genres_only


def test_nothing_informative_names_nothing():
    assert reasons.pick_terms(["key", "john"], KINDS, {}, n_rows=1000) == ([], False)


def test_a_bigram_of_words_already_named_is_dropped():
    terms, _ = reasons.pick_terms(
        ["sciencefiction", "horror", "horror sciencefiction"], KINDS, {}, n_rows=1000
    )
    assert terms == ["sciencefiction", "horror"]


def test_a_bigram_takes_the_kind_of_its_least_informative_word():
    assert reasons.term_kind("jamescameron sciencefiction", KINDS) == reasons.GENRE
    assert reasons.term_kind("jamescameron spacetravel", KINDS) == reasons.PERSON
    assert reasons.term_kind("wormhole", KINDS) == reasons.WORD
