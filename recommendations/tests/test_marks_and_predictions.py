"""Watchlist and hidden movies in serving, the served cold-start list, and predicted stars."""

from __future__ import annotations

from decimal import Decimal

import pytest

from movies.models import HiddenMovie, WatchlistEntry
from recommendations import builds
from recommendations.pipeline import recommend_for_user, similar_movies
from recommendations.predictions import predict_ratings
from recommendations.tests.catalog import rate
from tests.factories import MovieFactory, RatingFactory, UserFactory

pytestmark = pytest.mark.django_db


def build():
    return builds.build_model(triggered_by="test")


def test_hidden_and_watchlisted_movies_are_never_recommended(catalog, space_fan):
    hidden, wanted = catalog["space"][3], catalog["crime"][0]
    HiddenMovie.objects.create(user=space_fan, movie=hidden)
    WatchlistEntry.objects.create(user=space_fan, movie=wanted)
    build()
    result = recommend_for_user(user=space_fan, top_n=50)
    ids = {i.movie.pk for i in result.items}
    assert result.is_personal and ids
    assert hidden.pk not in ids and wanted.pk not in ids
    assert result.total_ratings == 5  # marks are not ratings
    # Never "because you liked" a watchlisted or hidden movie.
    for item in result.items:
        assert {m.pk for m in item.because} <= {m.pk for m in catalog["space"][:3]}


def test_hiding_a_movie_pushes_similar_movies_down(catalog, space_fan):
    build()

    def score_of(movie):
        items = recommend_for_user(user=space_fan, top_n=50).items
        return next(i.score for i in items if i.movie.pk == movie.pk)

    crime = catalog["crime"][1]
    before = score_of(crime)
    HiddenMovie.objects.create(user=space_fan, movie=catalog["crime"][0])
    assert score_of(crime) < before


def test_watchlisted_movies_are_mild_interest(catalog, user):
    # Only dislikes and a watchlisted crime movie: other crime movies rise.
    rate(user, catalog["romance"], "1.0")
    rate(user, catalog["space"][:1], "4.0")
    build()
    before = [i.movie.pk for i in recommend_for_user(user=user, top_n=50).items]
    WatchlistEntry.objects.create(user=user, movie=catalog["crime"][0])
    after = [i.movie.pk for i in recommend_for_user(user=user, top_n=50).items]
    crime = catalog["crime"][1]
    assert after.index(crime.pk) <= before.index(crime.pk)


def test_more_like_this_leaves_out_what_the_viewer_rated_or_hid(catalog, user):
    build()
    space = catalog["space"]
    rate(user, [space[1]], "4.0")
    HiddenMovie.objects.create(user=user, movie=space[2])
    anonymous = {s.movie.pk for s in similar_movies(movie=space[0], n=11)}
    mine = {s.movie.pk for s in similar_movies(movie=space[0], n=11, user=user)}
    assert {space[1].pk, space[2].pk} <= anonymous
    assert not {space[1].pk, space[2].pk} & mine and space[3].pk in mine


def test_demo_like_catalog_cold_start_is_well_known_films_not_database_order(db, user):
    # Demo catalogs have no vote counts; the first rows are obscure old films.
    old = [MovieFactory(popularity=3, vote_average=6.0, vote_count=0) for _ in range(30)]
    known = [MovieFactory(popularity=90 - i, vote_average=8.5, vote_count=0) for i in range(5)]
    build()
    items = recommend_for_user(user=user, top_n=5).items
    assert {i.movie.pk for i in items} == {m.pk for m in known}
    assert all(i.score > 0 for i in items) and old[0].pk not in {i.movie.pk for i in items}


def test_one_members_six_ratings_do_not_take_over_the_cold_start(db, user):
    movies = [MovieFactory(popularity=100 - i, vote_average=7.5, vote_count=0) for i in range(40)]
    member = UserFactory(username="keen")
    for m in movies[-6:]:
        RatingFactory(user=member, movie=m, score=Decimal("5.0"))
    build()
    top = {i.movie.pk for i in recommend_for_user(user=user, top_n=10).items}
    assert not top & {m.pk for m in movies[-6:]}


def test_predicted_ratings_need_enough_ratings_and_skip_rated_movies(catalog, user, settings):
    build()
    rate(user, catalog["space"][:2], "5.0")
    ids = [m.pk for m in catalog["space"] + catalog["romance"]]
    assert predict_ratings(user=user, movie_ids=ids) == {}  # 2 of 5 ratings
    rate(user, catalog["space"][2:3], "5.0")
    rate(user, catalog["romance"][:2], "1.0")
    got = predict_ratings(user=user, movie_ids=ids)
    assert set(got) == {catalog["space"][3].pk, *(m.pk for m in catalog["romance"][2:])}
    assert got[catalog["space"][3].pk] > got[catalog["romance"][3].pk]
    assert all(0.5 <= v <= 5.0 for v in got.values())


def test_predicted_ratings_take_a_fixed_number_of_queries(
    catalog, space_fan, django_assert_num_queries
):
    build()
    few = [m.pk for m in catalog["crime"][:1]]
    many = [m.pk for m in catalog["crime"] + catalog["romance"][2:]]
    predict_ratings(user=space_fan, movie_ids=few)  # warm the model cache
    with django_assert_num_queries(2):  # the version check, the user's ratings
        assert len(predict_ratings(user=space_fan, movie_ids=few)) == 1
    with django_assert_num_queries(2):
        assert len(predict_ratings(user=space_fan, movie_ids=many)) == 6


def test_movie_pages_show_predicted_stars_not_tmdb_averages(client, catalog, space_fan):
    build()
    client.force_login(space_fan)
    target = catalog["space"][3]
    detail = client.get(target.get_absolute_url()).content.decode()
    assert "We think you&#x27;d rate this" in detail or "We think you'd rate this" in detail
    assert "/10" not in detail
    browse = client.get("/movies/").content.decode()
    assert 'data-testid="predicted-rating"' in browse and 'class="tmdb-score"' not in browse
    client.logout()
    assert 'data-testid="predicted-rating"' not in client.get("/movies/").content.decode()
