"""The recommendations page, the JSON API and "More like this"."""

import pytest
from django.urls import reverse

from recommendations import builds
from recommendations.models import ModelVersion
from recommendations.tests.catalog import rate

pytestmark = pytest.mark.django_db

API = "/api/recommendations"


def build():
    return builds.build_model(triggered_by="test")


def test_page_requires_login(client):
    response = client.get(reverse("recommendations:for_you"))
    assert response.status_code == 302 and "/login" in response["Location"]


def test_page_shows_hybrid_recommendations_with_reasons(client, catalog, space_fan):
    version = build()
    client.force_login(space_fan)
    response = client.get("/recommendations/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Recommended for you" in html
    assert 'data-strategy="hybrid"' in html
    # Developer details stay off the page: no strategy name, version or raw score.
    assert f"model version {version.pk}" not in html and "Strategy:" not in html
    assert "score " not in html.split('data-testid="recommendations"')[1]
    assert 'data-testid="total-ratings">5<' in html
    assert catalog["space"][3].title in html
    assert "Because you liked Space Movie" in html and "shared: " in html
    assert (
        catalog["space"][0].title
        not in html.split('data-testid="recommendations"')[1].split("Because")[0]
    )  # rated movies are not recommended


def test_page_without_a_model_says_so_and_falls_back(client, catalog, user):
    client.force_login(user)
    html = client.get("/recommendations/").content.decode()
    assert "No recommendation model has been built yet" in html
    assert 'data-strategy="popularity_fallback"' in html
    assert 'data-testid="needed-ratings">5<' in html
    assert html.count('data-testid="recommendation"') == 12


def test_page_with_corrupt_model_is_not_a_500(client, catalog, space_fan):
    version = build()
    (version.artifact_dir / "indptr.npy").write_bytes(b"garbage")
    client.force_login(space_fan)
    response = client.get("/recommendations/")
    assert response.status_code == 200
    assert 'data-strategy="popularity_fallback"' in response.content.decode()


def test_api_requires_login(client):
    response = client.get(API)
    assert response.status_code == 401
    assert "Sign in" in response.json()["error"]


@pytest.mark.parametrize("bad", ["0", "51", "ten", "2.5", ""])
def test_api_rejects_bad_top_n(client, user, bad):
    client.force_login(user)
    response = client.get(API, {"top_n": bad})
    assert response.status_code == 400
    assert "top_n" in response.json()["error"]


def test_api_503_without_an_active_model(client, catalog, user):
    client.force_login(user)
    response = client.get(API)
    assert response.status_code == 503
    assert "No recommendation model is active" in response.json()["error"]


def test_api_returns_recommendations(client, catalog, space_fan):
    version = build()
    client.force_login(space_fan)
    response = client.get(API, {"top_n": "3"})
    assert response.status_code == 200
    body = response.json()
    assert body["strategy"] == "hybrid"
    assert body["total_ratings"] == 5 and body["model_version"] == version.pk
    assert 1 <= len(body["recommendations"]) <= 3
    first = body["recommendations"][0]
    assert set(first) == {
        "tmdb_id",
        "title",
        "year",
        "poster_url",
        "overview",
        "vote_average",
        "score",
        "because",
        "predicted_rating",
    }
    target = catalog["space"][3]
    assert first["tmdb_id"] == target.tmdb_id and first["title"] == target.title
    assert first["year"] == target.year and first["score"] > 0
    assert first["because"].startswith("Because you liked Space Movie")
    # Half stars the user would give it (they loved the space movies).
    assert first["predicted_rating"] * 2 == int(first["predicted_rating"] * 2)
    assert 3.5 <= first["predicted_rating"] <= 5.0


def test_api_cold_start_user_gets_fallback(client, catalog, user):
    build()
    client.force_login(user)
    body = client.get(API, {"top_n": "4"}).json()
    assert body["strategy"] == "popularity_fallback"
    assert body["total_ratings"] == 0 and len(body["recommendations"]) == 4


def test_api_is_get_only(client, user):
    client.force_login(user)
    assert client.post(API).status_code == 405


def test_more_like_this_on_the_movie_page(client, catalog):
    build()
    movie = catalog["romance"][0]
    html = client.get(movie.get_absolute_url()).content.decode()
    section = html.split('data-testid="more-like-this"')[1]
    for other in catalog["romance"][1:]:
        assert other.title in section
    assert catalog["crime"][0].title not in section


def test_more_like_this_without_a_model(client, catalog):
    response = client.get(catalog["romance"][0].get_absolute_url())
    assert response.status_code == 200
    assert "No similar movies to show yet." in response.content.decode()
    assert not ModelVersion.objects.exists()


def test_cold_start_user_page_says_why(client, catalog, user):
    build()
    rate(user, catalog["crime"][:1], "4.0")
    client.force_login(user)
    html = client.get("/recommendations/").content.decode()
    assert 'data-strategy="popularity_fallback"' in html
    assert "Until you have rated 5 movies" in html
    assert html.count('data-testid="recommendation"') == 11  # 12 movies, 1 rated


def test_page_explains_the_strategy_it_serves(client, catalog, space_fan):
    build()
    client.force_login(space_fan)
    html = client.get("/recommendations/").content.decode()
    assert (
        '<p data-testid="strategy-explained">Picked from movies like the ones you liked and from '
        "what members who rate like you enjoyed; movies like the ones you rated below 2.5 are "
        "pushed down. The stars are the rating we think you would give each one.</p>"
    ) in html
    assert 'data-testid="fallback-reason"' not in html
    assert html.count('data-testid="predicted-rating"') == html.count(
        'data-testid="recommendation"'
    )


def test_page_without_a_collaborative_part_says_content_based(client, catalog, space_fan, settings):
    settings.RECS_COLLABORATIVE = False
    build()
    client.force_login(space_fan)
    html = client.get("/recommendations/").content.decode()
    assert 'data-strategy="content_based"' in html
    assert (
        '<p data-testid="strategy-explained">Picked from movies like the ones you liked (genres, '
        "keywords, cast, director) and well-liked movies; movies like the ones you rated below "
        "2.5 are pushed down. The stars are the rating we think you would give each one.</p>"
    ) in html
    body = client.get(API, {"top_n": "3"}).json()
    assert body["strategy"] == "content_based"


def test_page_says_when_nothing_liked_yet(client, catalog, user):
    build()
    rate(user, catalog["space"] + catalog["romance"][:1], "3.0")
    client.force_login(user)
    html = client.get("/recommendations/").content.decode()
    assert "None of your ratings is 4.0 stars or more yet; rate a movie you liked" in html
    assert 'data-testid="strategy-explained"' not in html
    assert "Popular and well rated" in html and "score 0" not in html


def test_page_body_is_reused_until_the_members_ratings_or_the_model_change(
    client, catalog, space_fan, monkeypatch
):
    from recommendations import views

    build()
    calls = []
    real = views.recommend_for_user
    monkeypatch.setattr(views, "recommend_for_user", lambda **kw: calls.append(1) or real(**kw))
    client.force_login(space_fan)
    first = client.get("/recommendations/").content.decode()
    again = client.get("/recommendations/").content.decode()
    assert len(calls) == 1 and again.count('data-testid="recommendation"') == first.count(
        'data-testid="recommendation"'
    )
    # A new rating: computed afresh, and the rated movie leaves the list.
    picked = catalog["space"][3]
    assert picked.title in first
    rate(space_fan, [picked], "5")
    after = client.get("/recommendations/").content.decode()
    assert len(calls) == 2
    assert picked.title not in after.split('data-testid="recommendations"')[1].split("Because")[0]
    # A new model version: computed afresh.
    build()
    client.get("/recommendations/")
    assert len(calls) == 3
    # Another member never gets this member's page.
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_user("someone-else", password="x"))
    client.get("/recommendations/")
    assert len(calls) == 4


def test_a_catalog_edit_shows_on_the_next_view_of_a_cached_page(client, catalog, space_fan):
    """The page body's key holds the catalog stamp (movies.stamp): an edit of a recommended
    movie shows at once, not when the cached body times out."""
    build()
    client.force_login(space_fan)
    first = client.get("/recommendations/").content.decode()
    picked = catalog["space"][3]
    assert picked.title in first
    picked.title = "A Title Edited Just Now"
    picked.save()
    after = client.get("/recommendations/").content.decode()
    assert "A Title Edited Just Now" in after


def test_the_movie_page_predicts_its_movie_and_more_like_this_in_one_call(
    client, catalog, space_fan, monkeypatch
):
    """One prediction call for the page's movie and its "More like this" cards; the page's
    movie gets the stars its own call gives."""
    from recommendations.predictions import predict_for
    from recommendations.templatetags import recs

    build()
    movie = catalog["romance"][3]  # not rated; space_fan rated romances 0 and 1
    calls = []
    monkeypatch.setattr(
        recs, "predict_for", lambda **kw: calls.append(list(kw["movie_ids"])) or predict_for(**kw)
    )
    client.force_login(space_fan)
    html = client.get(movie.get_absolute_url()).content.decode()
    assert len(calls) == 1 and calls[0][0] == movie.pk and len(calls[0]) > 1
    own = predict_for(**{**_prediction_args(space_fan), "movie_ids": [movie.pk]})
    shown = html.split('data-testid="predicted-rating"')[1]
    assert f"{recs.half_stars(own[movie.pk]):.1f}" in shown


def _prediction_args(user) -> dict:
    from recommendations.loading import get_active_model
    from recommendations.pipeline import gather_ratings

    return {"model": get_active_model(), "ratings": gather_ratings(user)}
