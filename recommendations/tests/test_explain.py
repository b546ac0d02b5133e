"""The explanation step: "Because you liked ... · shared: ...", and prior-led wording."""

from __future__ import annotations

import pytest

from movies.models import Genre, Movie
from recommendations import builds, evaluation_reasons
from recommendations.explain import (
    PRIOR_LED_SHARE,
    RecommendedMovie,
    pretty_terms,
    prior_reason,
    term_lookup,
)
from recommendations.loading import get_active_model
from recommendations.models import ModelVersion
from recommendations.pipeline import gather_ratings, recommend_for_user
from recommendations.scoring import Candidate, ModelHistory
from recommendations.tests.catalog import THEMES, rate
from tests.factories import MovieFactory


def build(**kwargs) -> ModelVersion:
    return builds.build_model(triggered_by="test", **kwargs)


@pytest.mark.django_db
def test_popular_picks_are_explained_as_popular(catalog, space_fan):
    """Whatever the blend puts on the list mostly for popularity says so, instead of
    crediting a liked movie; personal picks keep "Because you liked"."""
    build()
    result = recommend_for_user(user=space_fan, top_n=20)
    assert result.items
    for item in result.items:
        assert item.explanation
    led = [i for i in result.items if i.reason.startswith("Popular and well rated")]
    personal = [i for i in result.items if i.explanation.startswith("Because you liked")]
    assert personal, [i.explanation for i in result.items]
    assert len(led) + len(personal) == len(result.items)


def _candidate(prior_share):
    return Candidate(row=0, score=1.0, because_rows=(), prior_share=prior_share)


def test_explanation_text():
    alien, heat = Movie(title="Alien"), Movie(title="Heat")
    item = RecommendedMovie(movie=heat, score=1.0, because=[alien, heat], shared=["Crime", "a"])
    assert item.explanation == "Because you liked Alien, Heat · shared: Crime, a"
    assert RecommendedMovie(movie=heat, score=1.0, shared=["Crime"]).explanation == (
        "shared: Crime"
    )
    assert RecommendedMovie(movie=heat, score=None).explanation == ""
    assert RecommendedMovie(movie=heat, score=1.0, because=[alien], reason="R").explanation == "R"


def test_prior_led_wording():
    alien, aliens, heat = Movie(title="Alien"), Movie(title="Aliens"), Movie(title="Heat")
    liked = [alien, aliens, heat]
    assert prior_reason(_candidate(0.0), because=[], shared=[]) == "Popular and well rated"
    assert prior_reason(_candidate(PRIOR_LED_SHARE - 0.01), because=liked, shared=["x"]) == ""
    assert prior_reason(_candidate(PRIOR_LED_SHARE), because=liked, shared=["x"]) == (
        "Popular and well rated · also close to Alien, Aliens"
    )
    assert prior_reason(_candidate(0.9), because=[], shared=["x"]) == "Popular and well rated"
    # TF-IDF alone has no prior: always the usual text, even with nothing to say.
    assert prior_reason(_candidate(None), because=[], shared=[]) == ""


@pytest.mark.django_db
def test_squashed_terms_get_their_names_back(catalog):
    movie = catalog["space"][0]
    names = Movie.objects.term_names([movie.pk])
    terms = ["jamescameron", "spacetravel alien", "jamescameron", "unknown"]
    assert pretty_terms(terms, [term_lookup(names[movie.pk])]) == [
        "James Cameron",
        "space travel alien",
        "unknown",
    ]


def _space_terms():
    spec = THEMES["space"]
    return set(spec["keywords"]) | set(spec["cast"]) | {spec["director"]}


@pytest.mark.django_db
def test_people_and_keywords_are_named_before_genres(catalog, space_fan):
    """The space movies share genres *and* keywords/people: the reason names the latter."""
    build()
    result = recommend_for_user(user=space_fan, top_n=5)
    item = next(i for i in result.items if i.movie.pk == catalog["space"][3].pk)
    assert item.shared, item.explanation
    assert set(item.shared) <= _space_terms() | {t for t in item.shared if " " in t}
    assert not set(item.shared) & set(THEMES["space"]["genres"]), item.explanation
    assert item.explanation.startswith("Because you liked Space Movie")


@pytest.mark.django_db
def test_a_genre_only_pick_says_so_and_ranks_below_a_described_one(catalog, space_fan):
    bare = MovieFactory(
        title="Bare Space",
        overview="",
        genres=[Genre.objects.get(name=g) for g in THEMES["space"]["genres"]],
        keywords=[],
    )
    build()
    result = recommend_for_user(user=space_fan, top_n=12)
    by_pk = {i.movie.pk: (n, i) for n, i in enumerate(result.items)}
    assert bare.pk in by_pk, [i.movie.title for i in result.items]
    rank, item = by_pk[bare.pk]
    assert item.explanation.startswith("Same genres as Space Movie"), item.explanation
    assert set(item.shared) <= set(THEMES["space"]["genres"])
    # The described space movie the user has not rated comes first.
    assert by_pk[catalog["space"][3].pk][0] < rank


@pytest.mark.django_db
def test_the_cited_movie_is_the_top_contributor_under_cf_too(user, co_raters):
    """Crime Movie 3 is co-rated with Space Movie 0 by six members: whichever signal carries a
    pick, the first "because" is the liked movie with the largest share of its score."""
    catalog = co_raters
    rate(user, [catalog["space"][0], catalog["crime"][0]], "5.0")
    rate(user, catalog["romance"][:3], "2.0")
    build()
    result = recommend_for_user(user=user, top_n=8)
    model = get_active_model()
    history = ModelHistory.of(model, gather_ratings(user))
    checked = 0
    for item in result.items:
        if not item.because or item.reason:
            continue
        top = evaluation_reasons.top_contributor(
            model.hybrid,
            tfidf_matrix=model.matrix,
            rows=history.rows,
            scores=history.scores,
            target=model.row_for(item.movie.pk),
            like=4.0,
        )
        assert item.because[0].pk == int(model.movie_ids[top]), item.explanation
        checked += 1
    assert checked >= 3


@pytest.mark.django_db
def test_cited_movies_names_are_read_once_and_forgotten_on_edits(
    catalog, django_assert_num_queries
):
    """explain.term_lookups keeps the names per loaded model: a page citing the same movies
    reads nothing; a new movie is read alone; renaming a keyword (or loading another model)
    empties what is kept, so the new name shows."""
    from movies.models import Keyword
    from recommendations.explain import forget_term_lookups, term_lookups

    forget_term_lookups()
    model, other_model = object(), object()
    first, second = catalog["space"][0], catalog["space"][1]
    with django_assert_num_queries(3):  # genres, keywords, credits
        lookups = term_lookups(model, [first.pk])
    with django_assert_num_queries(0):
        assert term_lookups(model, [first.pk]) == lookups
    with django_assert_num_queries(3):
        assert set(term_lookups(model, [first.pk, second.pk])) == {first.pk, second.pk}
    keyword = first.keywords.order_by("name").first()
    keyword.name = "Renamed Keyword"
    keyword.save()
    renamed = term_lookups(model, [first.pk])[first.pk]
    assert renamed["renamedkeyword"] == ("keyword", "Renamed Keyword")
    with django_assert_num_queries(3):
        term_lookups(other_model, [first.pk])
    assert Keyword.objects.filter(name="Renamed Keyword").exists()


@pytest.mark.django_db
def test_cards_and_cited_movies_are_read_together_from_the_kept_rows(
    catalog, space_fan, settings, django_assert_max_num_queries
):
    """The recommended movies and the liked movies they cite come from the cards' rows
    (``selectors.card_movies``) in one read: none of them is a prefetched model graph, and
    once kept, explaining the same list reads no movie rows."""
    settings.RECS_VERSION_CHECK_SECONDS = 3600  # no version check between the two lists
    build()
    items = [i for i in recommend_for_user(user=space_fan, top_n=5).items if i.because]
    assert items
    for item in items:
        assert item.movie.card_genres is not None
        for cited in item.because:
            assert cited.title and not getattr(cited, "_prefetched_objects_cache", None)
        assert item.explanation.startswith(("Because you liked ", "Same genres as "))
    with django_assert_max_num_queries(1):  # the member's state; movies and names are kept
        again = recommend_for_user(user=space_fan, top_n=5)
    assert [i.explanation for i in again.items if i.because] == [i.explanation for i in items]


@pytest.mark.django_db
def test_shared_terms_are_kept_per_row_and_cited_rows_until_the_catalog_changes(
    catalog, space_fan, monkeypatch
):
    """A re-rank after a rating explains the cards it showed before without working their
    shared terms out again, with the same words; a catalog edit in any process (a new stamp)
    empties what is kept. Cards citing no liked movie use the member's own profile: not kept."""
    from django.core.cache import cache

    from movies.stamp import STAMP_KEY
    from recommendations import explain

    build()
    explain.forget_term_lookups()
    calls = []
    real = explain.shared_terms
    monkeypatch.setattr(explain, "shared_terms", lambda **kw: calls.append(kw["row"]) or real(**kw))
    first = recommend_for_user(user=space_fan, top_n=20)
    cited = [i for i in first.items if i.because]
    assert cited and len(calls) == len(first.items)
    calls.clear()
    again = recommend_for_user(user=space_fan, top_n=20)
    assert [i.explanation for i in again.items] == [i.explanation for i in first.items]
    assert len(calls) == len(first.items) - len(cited)  # only the cards citing nothing
    calls.clear()
    cache.set(STAMP_KEY, "edited-elsewhere", None)  # another process's edit: no signal here
    recommend_for_user(user=space_fan, top_n=20)
    assert len(calls) == len(first.items)
