import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from movies.models import Movie, Rating, validate_score
from tests.factories import MovieFactory, RatingFactory


@pytest.mark.django_db
def test_save_derives_year_and_folded_title():
    m = MovieFactory(title="Léon: The Professional", release_date=datetime.date(1994, 9, 14))
    m.refresh_from_db()
    assert m.year == 1994
    assert m.search_title == "leon: the professional"


@pytest.mark.django_db
def test_search_is_case_and_accent_insensitive():
    MovieFactory(title="Amélie")
    MovieFactory(title="Heat")
    assert [m.title for m in Movie.objects.search("AMELIE")] == ["Amélie"]
    assert [m.title for m in Movie.objects.search("amél")] == ["Amélie"]


@pytest.mark.parametrize("value", ["0.5", "3.5", "5", 4.0])
def test_validate_score_accepts_half_steps(value):
    validate_score(value)


@pytest.mark.parametrize("value", ["0", "5.5", "3.3", "-1", "abc", "NaN", "Infinity"])
def test_validate_score_rejects_other_values(value):
    with pytest.raises(ValidationError):
        validate_score(value)


@pytest.mark.django_db
@pytest.mark.parametrize("score", ["3.3", "0.0", "5.5"])
def test_database_refuses_bad_scores(score):
    with pytest.raises(IntegrityError), transaction.atomic():
        RatingFactory(score=Decimal(score))
    assert Rating.objects.count() == 0


@pytest.mark.django_db
def test_one_rating_per_user_and_movie(user, movie):
    RatingFactory(user=user, movie=movie)
    with pytest.raises(IntegrityError), transaction.atomic():
        RatingFactory(user=user, movie=movie, score=Decimal("2.0"))
    assert Rating.objects.get().score == Decimal("4.0")


@pytest.mark.django_db
def test_poster_url_only_when_known(settings):
    settings.TMDB_IMAGE_BASE = "https://img.example/t/p/"
    assert MovieFactory(poster_path="").poster_url is None
    assert MovieFactory(poster_path="/abc.jpg").poster_url == "https://img.example/t/p/w342/abc.jpg"


@pytest.mark.django_db
def test_term_names_reads_each_movies_names_by_kind(django_assert_num_queries):
    from tests.factories import CreditFactory, GenreFactory, KeywordFactory, PersonFactory

    drama, crime = GenreFactory(name="Drama"), GenreFactory(name="Crime")
    heist = MovieFactory(genres=[drama, crime], keywords=[KeywordFactory(name="heist")])
    CreditFactory(movie=heist, person=PersonFactory(name="Robert De Niro"), order=1)
    CreditFactory(movie=heist, person=PersonFactory(name="Al Pacino"), order=0)
    bare = MovieFactory()
    with django_assert_num_queries(3):
        names = Movie.objects.term_names([heist.pk, bare.pk, heist.pk])
    assert names == {
        heist.pk: {
            "genre": ["Crime", "Drama"],
            "keyword": ["heist"],
            "person": ["Al Pacino", "Robert De Niro"],
        },
        bare.pk: {"genre": [], "keyword": [], "person": []},
    }
    with django_assert_num_queries(0):
        assert Movie.objects.term_names([]) == {}


@pytest.mark.django_db
def test_page_facts_are_the_pages_lists_as_values(django_assert_num_queries):
    from tests.factories import CreditFactory, GenreFactory, KeywordFactory, MovieFactory

    movie = MovieFactory(
        genres=[GenreFactory(name="War", slug="war"), GenreFactory(name="Drama", slug="drama")]
    )
    movie.keywords.add(KeywordFactory(name="zebra"), KeywordFactory(name="apple"))
    for order in (12, 3, 0, 5, 1, 2, 4, 6, 7, 8, 9, 10, 11):
        CreditFactory(movie=movie, kind="cast", order=order, character=f"role {order}")
    CreditFactory(movie=movie, kind="director", person__name="Second", order=1)
    CreditFactory(movie=movie, kind="director", person__name="First", order=0)
    MovieFactory().keywords.add(KeywordFactory(name="other movie's"))
    with django_assert_num_queries(3):
        facts = Movie.objects.page_facts(movie.pk)
    assert facts["genres"] == [{"name": "Drama", "slug": "drama"}, {"name": "War", "slug": "war"}]
    assert facts["keywords"] == [{"name": "apple"}, {"name": "zebra"}]
    assert [c["character"] for c in facts["cast"]] == [f"role {n}" for n in range(10)]
    assert all(c["person"]["name"] for c in facts["cast"])
    assert facts["directors"] == [{"name": "First"}, {"name": "Second"}]
