"""A small themed catalog for the recommender tests (three themes, shared names per theme)."""

from __future__ import annotations

from decimal import Decimal

from movies.models import Credit, Person
from tests.factories import (
    CreditFactory,
    GenreFactory,
    KeywordFactory,
    MovieFactory,
    PersonFactory,
    RatingFactory,
)

THEMES = {
    "space": {
        "genres": ["Science Fiction", "Adventure"],
        "keywords": ["space travel", "alien", "spaceship"],
        "director": "James Cameron",
        "cast": ["Sigourney Weaver", "Sam Worthington", "Michael Biehn"],
        "words": "astronauts travel through space to an alien planet aboard a spaceship",
    },
    "romance": {
        "genres": ["Romance", "Comedy"],
        "keywords": ["paris", "love", "wedding"],
        "director": "Nora Ephron",
        "cast": ["Meg Ryan", "Tom Hanks", "Billy Crystal"],
        "words": "two strangers fall in love in paris before a wedding",
    },
    "crime": {
        "genres": ["Crime", "Drama"],
        "keywords": ["mafia", "new york", "heist"],
        "director": "Martin Scorsese",
        "cast": ["Robert De Niro", "Joe Pesci", "Ray Liotta"],
        "words": "a mafia crew plans a heist in new york while the police close in",
    },
}


def make_movie(theme: str, i: int, **kwargs):
    spec = THEMES[theme]
    movie = MovieFactory(
        title=f"{theme.title()} Movie {i}",
        overview=f"{spec['words']} (part {i})",
        genres=[GenreFactory(name=g) for g in spec["genres"]],
        keywords=[KeywordFactory(name=k) for k in spec["keywords"]],
        **kwargs,
    )
    for order, name in enumerate(spec["cast"]):
        person = _person(name)
        CreditFactory(movie=movie, person=person, kind=Credit.Kind.CAST, order=order)
    CreditFactory(movie=movie, person=_person(spec["director"]), kind=Credit.Kind.DIRECTOR)
    return movie


def _person(name: str):
    return Person.objects.filter(name=name).first() or PersonFactory(name=name)


def rate(user, movies, score="4.5"):
    for m in movies:
        RatingFactory(user=user, movie=m, score=Decimal(score))
