"""Title search (movies/search.py): the pure ranking helpers, the ORM search on the database
in use (CI runs this file on SQLite and on PostgreSQL), the fuzzy index and its invalidation,
the browse page's use of it and the live-suggestions endpoint."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from movies import search
from movies.models import Movie
from movies.search import Tier, TitleIndex, normalize_query, search_titles, suggest_titles, tier
from tests.factories import MovieFactory

BROWSE = reverse("movies:browse")
SUGGEST = reverse("movies:suggest")


@pytest.fixture(autouse=True)
def _fresh_index():
    # The index is per process; a previous test's rolled-back catalog must not leak in.
    search.invalidate_index()
    yield
    search.invalidate_index()


def make(title, popularity=10.0, year=2000, votes=100):
    return MovieFactory(
        title=title,
        popularity=popularity,
        vote_count=votes,
        release_date=datetime.date(year, 6, 1),
    )


@pytest.fixture
def catalog(db):
    return {
        m.title: m
        for m in [
            make("My Stepmother Is an Alien", popularity=90, year=1988),
            make("Cowboys & Aliens", popularity=95, year=2011),
            make("Alien: Resurrection", popularity=30, year=1997),
            make("Aliens", popularity=40, year=1986),
            make("Alien", popularity=50, year=1979),
            make("Alice in Wonderland", popularity=70, year=2010),
            make("Amélie", popularity=60, year=2001),
            make("The Godfather", popularity=80, year=1972),
            make("The Godfather: Part II", popularity=75, year=1974),
            make("Goodfellas", popularity=65, year=1990),
        ]
    }


def titles(movies) -> list[str]:
    return [m.title for m in movies]


# --- Pure helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  AMÉLIE ", "amelie"),
        ("The   Godfather", "the godfather"),
        ("!!!", ""),
        (" - ; ", ""),
        ("   ", ""),
        ("___", ""),
        (None, ""),
        ("x" * 5000, "x" * search.MAX_QUERY_LENGTH),
    ],
)
def test_normalize_query_folds_caps_and_drops_punctuation_only(raw, expected):
    assert normalize_query(raw) == expected


@pytest.mark.parametrize(
    ("title", "query", "expected"),
    [
        ("alien", "alien", Tier.EXACT),
        ("the godfather", "godfather", Tier.EXACT),
        ("the godfather", "the godfather", Tier.EXACT),
        ("aliens", "alien", Tier.PREFIX),
        ("alien: resurrection", "alien", Tier.PREFIX),
        ("the godfather: part ii", "godfather", Tier.PREFIX),
        ("my stepmother is an alien", "alien", Tier.WORD),
        ("leon: the professional", "the", Tier.WORD),
        ("cowboys & aliens", "alien", Tier.WORD_START),
        ("the godfather", "father", Tier.SUBSTRING),
        ("amelie", "alien", Tier.FUZZY),
    ],
)
def test_tier_exact_then_prefix_then_word_then_substring(title, query, expected):
    assert tier(title, query) == expected


def test_fuzzy_cutoff_is_lower_for_short_queries_within_bounds():
    assert search.fuzzy_cutoff("abc") == 70.0
    assert search.fuzzy_cutoff("godfater") < search.fuzzy_cutoff("the dark knight rises")
    assert search.fuzzy_cutoff("x" * 100) == 80.0


def test_index_finds_typos_best_and_most_popular_first():
    index = TitleIndex(
        [
            (1, "the godfather: part ii", 5.0),
            (2, "the godfather", 10.0),
            (3, "goodfellas", 8.0),
            (4, "alien", 9.0),
            (5, "go", 99.0),  # fits inside "godfater" but is no typo of it
        ]
    )
    hits = index.fuzzy("godfater")
    assert [pk for pk, _, _ in hits] == [2, 1]
    assert hits[0][2] == "the godfather" and hits[0][1] >= search.fuzzy_cutoff("godfater")
    assert index.fuzzy("go") == []  # too short to mean anything
    assert index.fuzzy("zzzzzzzz") == []
    assert len(index) == 5


# --- Ranking on the database in use ---------------------------------------------------------


def test_alien_ranks_exact_then_prefix_then_word_then_substring(catalog):
    found = search_titles(Movie.objects.all(), "alien")
    assert titles(found.movies) == [
        "Alien",
        "Aliens",  # prefix, more popular than the other prefix match
        "Alien: Resurrection",
        "My Stepmother Is an Alien",  # whole word
        "Cowboys & Aliens",  # starts a word, however popular
    ]
    found = search_titles(Movie.objects.all(), "father")
    assert [(m.title, m.search_rank) for m in found.movies] == [
        ("The Godfather", Tier.SUBSTRING),
        ("The Godfather: Part II", Tier.SUBSTRING),
    ]
    assert found.did_you_mean == [] and not found.close_matches_only


def test_ties_go_to_popularity_then_votes_then_the_newer_remake(db):
    make("Psycho", popularity=10, votes=5, year=1960)
    make("Psycho", popularity=10, votes=5, year=1998)
    make("Psycho II", popularity=99, votes=5, year=1983)
    make("Psychopath", popularity=10, votes=500, year=1999)
    found = search_titles(Movie.objects.all(), "psycho").movies
    assert [(m.title, m.year) for m in found] == [
        ("Psycho", 1998),
        ("Psycho", 1960),
        ("Psycho II", 1983),
        ("Psychopath", 1999),
    ]


def test_accents_and_case_do_not_matter(catalog):
    for query in ("amelie", "AMÉLIE", "  Amél "):
        assert titles(search_titles(Movie.objects.all(), query).movies)[0] == "Amélie", query


def test_a_leading_article_does_not_hide_an_exact_match(catalog):
    make("Godfather's Daughter", popularity=99)
    ranked = titles(search_titles(Movie.objects.all(), "godfather").movies)
    assert ranked == ["The Godfather", "Godfather's Daughter", "The Godfather: Part II"]


def test_a_typo_finds_the_film_and_offers_did_you_mean(catalog):
    found = search_titles(Movie.objects.all(), "godfater")
    assert titles(found.movies)[0] == "The Godfather"
    assert "The Godfather: Part II" in titles(found.movies)
    assert found.close_matches_only
    assert titles(found.did_you_mean)[0] == "The Godfather"
    assert len(found.did_you_mean) <= search.DID_YOU_MEAN_LIMIT


def test_typo_matches_rank_after_every_direct_match(catalog):
    make("Mr Godfaterson", popularity=1)
    found = search_titles(Movie.objects.all(), "godfater")
    ranked = list(found.movies)
    assert ranked[0].title == "Mr Godfaterson" and ranked[0].search_rank < Tier.FUZZY
    assert {m.search_rank for m in ranked[1:]} == {Tier.FUZZY}
    assert not found.close_matches_only
    assert titles(found.did_you_mean)[0] == "The Godfather"


def test_a_title_typed_right_gets_no_did_you_mean(catalog):
    found = search_titles(Movie.objects.all(), "the godfather")
    assert titles(found.movies)[:2] == ["The Godfather", "The Godfather: Part II"]
    assert found.did_you_mean == []


def test_many_direct_matches_leave_typos_and_did_you_mean_out(catalog):
    found = search_titles(Movie.objects.all(), "alien")
    assert "Alice in Wonderland" not in titles(found.movies)
    assert found.did_you_mean == []


def test_other_filters_still_apply_to_typo_matches(catalog):
    only_1970s = Movie.objects.filter(year__gte=1970, year__lt=1974)
    assert titles(search_titles(only_1970s, "godfater").movies) == ["The Godfather"]


def test_nothing_searchable_leaves_the_queryset_alone(catalog):
    for query in ("", "   ", "?!", "—"):
        found = search_titles(Movie.objects.all(), query)
        assert found.query == "" and found.movies.count() == len(catalog), query


def test_suggestions_are_ranked_limited_and_need_two_characters(catalog):
    assert titles(suggest_titles("ali")) == [
        "Alice in Wonderland",  # titles starting with it, most popular first
        "Alien",
        "Aliens",
        "Alien: Resurrection",
        "Cowboys & Aliens",  # then a word starting with it
        "My Stepmother Is an Alien",
    ]
    assert suggest_titles("a") == [] and suggest_titles(" ") == []
    for n in range(12):
        make(f"Star Trek {n}")
    assert len(suggest_titles("star")) == search.SUGGEST_LIMIT
    assert titles(suggest_titles("godfater"))[0] == "The Godfather"


# --- The in-process index ------------------------------------------------------------------


def test_index_follows_added_renamed_and_deleted_movies(db, settings):
    settings.SEARCH_INDEX_CHECK_SECONDS = 3600  # only the signals may refresh it here
    godfather = make("The Godfather")
    assert search.get_index().titles == ["the godfather"]
    make("Godzilla")
    assert sorted(search.get_index().titles) == ["godzilla", "the godfather"]
    godfather.title = "The Godmother"
    godfather.save()
    assert sorted(search.get_index().titles) == ["godzilla", "the godmother"]
    godfather.delete()
    assert search.get_index().titles == ["godzilla"]


def test_index_notices_changes_made_by_another_process(db, settings):
    movie = make("The Godfather")
    settings.SEARCH_INDEX_CHECK_SECONDS = 3600
    search.get_index()
    # Another process renames it: no signal here, only the catalog's shape changes.
    later = timezone.now() + datetime.timedelta(seconds=1)
    Movie.objects.filter(pk=movie.pk).update(search_title="the godmother", updated_at=later)
    assert search.get_index().titles == ["the godfather"]  # not checked yet
    settings.SEARCH_INDEX_CHECK_SECONDS = 0
    assert search.get_index().titles == ["the godmother"]


def test_index_is_bounded_to_the_most_popular_titles(db, settings):
    settings.SEARCH_INDEX_MAX_TITLES = 2
    make("Low", popularity=1)
    make("High", popularity=9)
    make("Middle", popularity=5)
    assert sorted(search.get_index().titles) == ["high", "middle"]


def test_index_is_reused_without_queries_between_checks(db, settings, django_assert_num_queries):
    settings.SEARCH_INDEX_CHECK_SECONDS = 3600
    make("The Godfather")
    first = search.get_index()
    with django_assert_num_queries(0):
        assert search.get_index() is first


# --- The browse page ------------------------------------------------------------------------


def test_browse_ranks_a_search_by_relevance_by_default(client, catalog):
    response = client.get(BROWSE, {"q": "alien"})
    assert [m.title for m in response.context["movies"]][:2] == ["Alien", "Aliens"]
    assert response.context["filters"]["sort"] == "relevance"
    assert '<option value="relevance" selected>Best match</option>' in response.content.decode()


def test_browse_honours_an_explicit_sort_with_a_search(client, catalog):
    response = client.get(BROWSE, {"q": "alien", "sort": "title"})
    assert [m.title for m in response.context["movies"]] == [
        "Alien",
        "Alien: Resurrection",
        "Aliens",
        "Cowboys & Aliens",
        "My Stepmother Is an Alien",
    ]
    popular = client.get(BROWSE, {"q": "alien", "sort": "popularity"}).context["movies"]
    assert popular[0].title == "Cowboys & Aliens"


def test_browse_without_a_search_sorts_by_popularity(client, catalog):
    response = client.get(BROWSE)
    assert response.context["filters"]["sort"] == "popularity"
    assert response.context["movies"][0].title == "Cowboys & Aliens"


def test_browse_typo_shows_close_matches_and_did_you_mean_links(client, catalog):
    html = client.get(BROWSE, {"q": "godfater"}).content.decode()
    assert 'data-testid="did-you-mean"' in html
    assert 'Did you mean <a href="/movies/?q=The%20Godfather">The Godfather (1972)</a>' in html
    assert "No title contains “godfater”; these are the closest." in html
    assert "results for “godfater”" in html


def test_browse_without_any_match_says_so(client, catalog):
    html = client.get(BROWSE, {"q": "qwxzvbnm"}).content.decode()
    assert "0 results" in html and "No movies match these filters." in html
    assert "Did you mean" not in html


def test_browse_punctuation_only_is_no_search_with_a_notice(client, catalog):
    response = client.get(BROWSE, {"q": "?!…"})
    assert "“?!…” has no letters or digits to search for." in response.content.decode()
    assert len(response.context["movies"]) == len(catalog)
    assert response.context["filters"]["q"] == ""


def test_browse_too_long_a_query_is_refused_with_a_message(client, catalog):
    response = client.get(BROWSE, {"q": "godfather " * 30})
    assert "Search text is limited to 200 characters." in response.content.decode()
    assert len(response.context["movies"]) == len(catalog)


def test_browse_typo_search_query_count_does_not_grow(
    client, catalog, settings, django_assert_num_queries
):
    settings.SEARCH_INDEX_CHECK_SECONDS = 3600

    def count() -> int:
        client.get(BROWSE, {"q": "godfater"})  # warm-up: rebuilds the index after new movies
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(BROWSE, {"q": "godfater"}).status_code == 200
        return len(ctx.captured_queries)

    small = count()
    for n in range(40):
        make(f"The Godfathers {n}", popularity=n)
        make(f"Filler {n}")
    assert count() == small


# --- The suggestions endpoint ---------------------------------------------------------------


def test_suggest_returns_an_accessible_fragment(client, catalog):
    response = client.get(SUGGEST, {"q": "alien"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.count('role="option"') == 5 + 1  # five titles and "See all results"
    first = html.index("Alien</span>")
    assert first < html.index("Aliens</span>") < html.index("My Stepmother Is an Alien")
    assert '<span class="suggestion-year">1979</span>' in html
    assert f'href="{catalog["Alien"].get_absolute_url()}"' in html
    assert 'href="/movies/?q=alien"' in html and "See all results for “alien”" in html


def test_suggest_limits_to_eight_titles(client, db):
    for n in range(20):
        make(f"Star Trek {n}")
    html = client.get(SUGGEST, {"q": "star"}).content.decode()
    assert html.count('class="suggestion-title"') == search.SUGGEST_LIMIT


@pytest.mark.parametrize("q", ["", "a", " a ", "!!", "x" * 5000])
def test_suggest_is_empty_for_short_or_meaningless_queries(client, catalog, q):
    response = client.get(SUGGEST, {"q": q})
    assert response.status_code == 200
    assert response.content.decode().strip() == "" or "option" not in response.content.decode()


def test_suggest_is_get_and_head_only(client, db):
    assert client.head(SUGGEST, {"q": "alien"}).status_code == 200
    assert client.post(SUGGEST, {"q": "alien"}).status_code == 405


@pytest.mark.parametrize("q", ["alien", "godfater", "a"])
def test_suggest_query_count_is_fixed(client, catalog, settings, q):
    settings.SEARCH_INDEX_CHECK_SECONDS = 3600

    def count() -> int:
        client.get(SUGGEST, {"q": q})  # warm-up
        with CaptureQueriesContext(connection) as ctx:
            client.get(SUGGEST, {"q": q})
        return len(ctx.captured_queries)

    small = count()
    for n in range(40):
        make(f"Alien Nation {n}")
        make(f"The Godfathers {n}")
    assert count() == small
    assert small <= 2
