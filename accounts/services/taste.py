""" "Your taste at a glance": what a person's ratings say, aggregated in the database.

``taste_summary`` runs a fixed number of queries whatever the number of ratings (counts,
histogram, genres, decades, directors, actors), so the account page stays cheap for someone
with 5,000 ratings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Avg, Count, F
from django.db.models.functions import Mod

from movies.models import SCORE_CHOICES, Credit, Genre, Rating, WatchlistEntry

TOP_GENRES = 8
TOP_PEOPLE = 6


@dataclass(frozen=True)
class Group:
    name: str
    count: int
    average: float  # mean score in stars


@dataclass
class Taste:
    ratings: int = 0
    average: float | None = None
    watchlist: int = 0
    histogram: list[tuple[Decimal, int]] = field(default_factory=list)  # every half star
    genres: list[Group] = field(default_factory=list)
    decades: list[Group] = field(default_factory=list)
    directors: list[Group] = field(default_factory=list)
    actors: list[Group] = field(default_factory=list)


def _groups(rows, name_key: str) -> list[Group]:
    return [Group(str(r[name_key]), r["n"], round(float(r["avg"]), 2)) for r in rows]


def _people(user, kind: str, minimum: int) -> list[Group]:
    """People whose films ``user`` rates highest, among those with ``minimum`` films rated."""
    rows = (
        Credit.objects.filter(kind=kind, movie__ratings__user=user)
        .values("person_id", "person__name")
        .annotate(n=Count("movie__ratings"), avg=Avg("movie__ratings__score"))
        .filter(n__gte=minimum)
        .order_by("-avg", "-n", "person__name")[:TOP_PEOPLE]
    )
    return _groups(rows, "person__name")


def taste_summary(user) -> Taste:
    mine = Rating.objects.filter(user=user)
    totals = mine.aggregate(n=Count("id"), avg=Avg("score"))
    taste = Taste(
        ratings=totals["n"],
        average=round(float(totals["avg"]), 2) if totals["avg"] is not None else None,
        watchlist=WatchlistEntry.objects.filter(user=user).count(),
    )
    if not taste.ratings:
        taste.histogram = [(score, 0) for score in SCORE_CHOICES]
        return taste
    counts = {
        Decimal(str(r["score"])): r["n"]
        for r in mine.order_by().values("score").annotate(n=Count("id"))
    }
    taste.histogram = [(score, counts.get(score, 0)) for score in SCORE_CHOICES]
    genres = (
        Genre.objects.filter(movies__ratings__user=user)
        .values("name")
        .annotate(n=Count("movies__ratings"), avg=Avg("movies__ratings__score"))
        .order_by("-n", "-avg", "name")[:TOP_GENRES]
    )
    taste.genres = _groups(genres, "name")
    decades = (
        mine.filter(movie__year__isnull=False)
        .annotate(decade=F("movie__year") - Mod(F("movie__year"), 10))
        .order_by()
        .values("decade")
        .annotate(n=Count("id"), avg=Avg("score"))
        .order_by("decade")
    )
    taste.decades = [
        Group(f"{int(r['decade'])}s", r["n"], round(float(r["avg"]), 2)) for r in decades
    ]
    minimum = settings.ACCOUNT_TASTE_MIN_PEOPLE_RATINGS
    taste.directors = _people(user, Credit.Kind.DIRECTOR, minimum)
    taste.actors = _people(user, Credit.Kind.CAST, minimum)
    return taste
