from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from movies.models import Rating
from movies.services.ratings import rate_movie, remove_rating


@pytest.mark.django_db
def test_rate_change_and_remove(user, movie):
    rating, created = rate_movie(user=user, movie=movie, score=Decimal("3.5"))
    assert created and rating.score == Decimal("3.5")
    rating, created = rate_movie(user=user, movie=movie, score=Decimal("4.5"))
    assert not created and Rating.objects.get().score == Decimal("4.5")
    assert remove_rating(user=user, movie=movie) is True
    assert remove_rating(user=user, movie=movie) is False
    assert not Rating.objects.exists()


@pytest.mark.django_db
def test_bad_score_changes_nothing(user, movie):
    rate_movie(user=user, movie=movie, score=Decimal("2.0"))
    with pytest.raises(ValidationError):
        rate_movie(user=user, movie=movie, score=Decimal("2.2"))
    assert Rating.objects.get().score == Decimal("2.0")
