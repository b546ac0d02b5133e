"""movies.stamp: the catalog stamp changes with every catalog edit, and the movie page's
facts cached under it follow."""

import pytest
from django.db import transaction

from movies.selectors import movie_page
from movies.signals import catalog_changed
from movies.stamp import catalog_stamp
from tests.factories import (
    CreditFactory,
    GenreFactory,
    KeywordFactory,
    MovieFactory,
    PersonFactory,
    RatingFactory,
)

pytestmark = pytest.mark.django_db


def test_the_stamp_is_stable_until_the_catalog_changes():
    movie = MovieFactory()
    stamp = catalog_stamp()
    assert catalog_stamp() == stamp
    RatingFactory(movie=movie)  # a rating is not the catalog
    assert catalog_stamp() == stamp


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m.save(),
        lambda m: m.delete(),
        lambda m: m.genres.add(GenreFactory()),
        lambda m: m.keywords.add(KeywordFactory()),
        lambda m: GenreFactory(),
        lambda m: KeywordFactory(),
        lambda m: PersonFactory(),
        lambda m: CreditFactory(movie=m),
        lambda m: catalog_changed.send(sender=None, triggered_by="test", run=None),
    ],
    ids=["movie", "delete", "genres", "keywords", "genre", "keyword", "person", "credit", "sync"],
)
def test_every_catalog_edit_changes_the_stamp(edit):
    movie = MovieFactory()
    before = catalog_stamp()
    edit(movie)
    assert catalog_stamp() != before


def test_in_a_transaction_the_stamp_changes_again_on_commit(django_capture_on_commit_callbacks):
    movie = MovieFactory()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        movie.save()
        during = catalog_stamp()
    assert catalog_stamp() != during


def test_movie_page_is_cached_under_the_stamp(django_assert_num_queries):
    movie = MovieFactory(title="First title", genres=[GenreFactory(name="War", slug="war")])
    page = movie_page(movie.pk)
    assert page["movie"] == movie and page["genres"] == [{"name": "War", "slug": "war"}]
    with django_assert_num_queries(0):
        again = movie_page(movie.pk)
    assert again["movie"].title == "First title" and again["genres"] == page["genres"]
    movie.title = "Second title"
    movie.save()
    assert movie_page(movie.pk)["movie"].title == "Second title"
    assert movie_page(movie.pk + 1000) is None


def test_the_movie_page_shows_an_edit_at_once(client):
    movie = MovieFactory(title="Before the edit")
    assert "Before the edit" in client.get(f"/movies/{movie.pk}/").content.decode()
    movie.title = "After the edit"
    movie.save()
    assert "After the edit" in client.get(f"/movies/{movie.pk}/").content.decode()
    assert client.get(f"/movies/{movie.pk + 1000}/").status_code == 404


def test_card_movies_are_kept_under_the_stamp(django_assert_num_queries):
    from movies.selectors import card_movies

    war = GenreFactory(name="War", slug="war")
    first, second = MovieFactory(title="One", genres=[war]), MovieFactory(title="Two")
    with django_assert_num_queries(2):  # the movies, their genre names
        movies = card_movies([first.pk, second.pk, first.pk + second.pk + 1000])
    assert set(movies) == {first.pk, second.pk}
    assert movies[first.pk].card_genres == ["War"] and movies[second.pk].card_genres == []
    with django_assert_num_queries(0):
        again = card_movies([second.pk, first.pk])
    assert again[first.pk].title == "One" and again[first.pk].card_genres == ["War"]
    second.genres.add(war)
    with django_assert_num_queries(2):
        assert card_movies([second.pk])[second.pk].card_genres == ["War"]


def test_a_kept_browse_listing_shows_each_member_their_own_scores(client):
    """The listing (ids, count, "did you mean") is the same for everyone and kept under the
    stamp; the scores on its cards are each member's own, and an edit shows at once."""
    from decimal import Decimal

    from tests.factories import UserFactory

    movies = [MovieFactory(title=f"Godfather Part {n}", popularity=10 - n) for n in range(3)]
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    RatingFactory(user=alice, movie=movies[0], score=Decimal("4.5"))
    params = {"q": "godfater"}  # a typo: "did you mean" and close matches
    client.force_login(alice)
    first = client.get("/movies/", params)
    client.force_login(bob)
    second = client.get("/movies/", params)  # the kept listing
    assert [m.pk for m in second.context["movies"]] == [m.pk for m in first.context["movies"]]
    assert second.context["page_obj"].paginator.count == first.context["page_obj"].paginator.count
    assert [m.title for m in second.context["search"].did_you_mean] == [
        m.title for m in first.context["search"].did_you_mean
    ]
    scores = {m.pk: m.my_score for m in first.context["movies"]}
    assert scores[movies[0].pk] == Decimal("4.5")
    assert all(m.my_score is None for m in second.context["movies"])
    movies[1].title = "Godfather Renamed"
    movies[1].save()
    assert "Godfather Renamed" in client.get("/movies/", params).content.decode()


def test_a_request_reads_the_stamp_once_and_sees_its_own_edits(django_assert_num_queries):
    from django.core.cache import cache

    from movies.stamp import STAMP_KEY, begin_request, end_request

    # The receivers of request_started / request_finished (sending those signals here would
    # also run Django's close_old_connections on the test's connection).
    first = catalog_stamp()
    begin_request()
    try:
        assert catalog_stamp() == first
        cache.set(STAMP_KEY, "changed-elsewhere", None)  # mid-request: this request keeps its own
        assert catalog_stamp() == first
        movie = MovieFactory()  # an edit made by this request: a new stamp at once
        assert catalog_stamp() not in (first, "changed-elsewhere")
        assert movie_page(movie.pk)["movie"] == movie
    finally:
        end_request()
    cache.set(STAMP_KEY, "changed-after", None)
    assert catalog_stamp() == "changed-after"  # outside a request: read every time
