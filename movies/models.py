"""Catalog and ratings.

Rules about one row live here (derived fields, poster URL, score validation); queries shared
by several pages are QuerySet methods.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, F, OuterRef, Prefetch, Q, Subquery, Value

from netflixrecs.jobs.models import Job, JobAlreadyRunning, JobQuerySet, stale_seconds

from .errors import CatalogError
from .text import fold

# Half stars from 0.5 to 5.0. Kept as Decimals so comparisons are exact on every database.
SCORE_CHOICES = [Decimal(n) / 2 for n in range(1, 11)]
MIN_SCORE, MAX_SCORE = SCORE_CHOICES[0], SCORE_CHOICES[-1]


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Genre(models.Model):
    tmdb_id = models.PositiveIntegerField(null=True, blank=True, unique=True)
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Keyword(models.Model):
    tmdb_id = models.PositiveIntegerField(null=True, blank=True, unique=True)
    name = models.CharField(max_length=255, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    # Null for people that came from the demo catalog or a dataset without TMDB ids.
    tmdb_id = models.PositiveIntegerField(null=True, blank=True, unique=True)
    name = models.CharField(max_length=255, db_index=True)
    profile_path = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return self.name


class MovieQuerySet(models.QuerySet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._card_genres = False

    def _clone(self):
        clone = super()._clone()
        clone._card_genres = self._card_genres
        return clone

    def _fetch_all(self):
        fresh = self._result_cache is None
        super()._fetch_all()
        if fresh and self._card_genres and self._result_cache:
            attach_card_genres(self._result_cache)

    def with_card_genres(self):
        """For cards built in Python (``recs.movie_card``, ``rec_card``, ``similar_card``):
        each movie fetched gets ``card_genres``, its genre names by name, read in one query of
        plain values after the movies. ``for_cards``' prefetch made a Genre instance per
        movie and genre, a third of a "More like this" section's time."""
        clone = self._chain()
        clone._card_genres = True
        return clone

    def for_cards(self):
        """What a movie card needs (title, year, poster, genres) without N+1 queries."""
        return self.prefetch_related(Prefetch("genres", queryset=Genre.objects.order_by("name")))

    def with_details(self):
        """A movie with every genre, keyword and credit as model instances, in a fixed number
        of queries (the detail page reads plain values instead: ``page_facts``)."""
        return self.prefetch_related(
            Prefetch("genres", queryset=Genre.objects.order_by("name")),
            Prefetch("keywords", queryset=Keyword.objects.order_by("name")),
            Prefetch(
                "credits",
                queryset=Credit.objects.select_related("person").order_by("kind", "order"),
            ),
        )

    def page_facts(self, movie_id: int) -> dict:
        """What the movie page lists besides the movie's own fields, as plain values in three
        queries: ``genres`` (name, slug), ``keywords`` (names), ``cast`` (the first 10 by
        billing: person name, character) and ``directors`` (names). Model instances of every
        keyword and credit cost more than the rest of the page's queries."""
        genres = list(
            Movie.genres.through.objects.filter(movie_id=movie_id)
            .order_by("genre__name")
            .values("genre__name", "genre__slug")
        )
        keywords = list(
            Movie.keywords.through.objects.filter(movie_id=movie_id)
            .order_by("keyword__name")
            .values_list("keyword__name", flat=True)
        )
        credits = Credit.objects.filter(movie_id=movie_id).order_by("kind", "order")
        cast, directors = [], []
        for kind, name, character in credits.values_list("kind", "person__name", "character"):
            if kind == Credit.Kind.DIRECTOR:
                directors.append({"name": name})
            elif kind == Credit.Kind.CAST and len(cast) < 10:
                cast.append({"person": {"name": name}, "character": character})
        return {
            "genres": [{"name": g["genre__name"], "slug": g["genre__slug"]} for g in genres],
            "keywords": [{"name": k} for k in keywords],
            "cast": cast,
            "directors": directors,
        }

    def term_names(self, movie_ids) -> dict[int, dict[str, list[str]]]:
        """Genre, keyword and person names of ``movie_ids``, by movie and kind ("genre",
        "keyword", "person"), in three queries of plain values: what explanations turn
        squashed tokens back into, without building a model instance per keyword."""
        ids = sorted({int(m) for m in movie_ids})
        out: dict[int, dict[str, list[str]]] = {
            mid: {"genre": [], "keyword": [], "person": []} for mid in ids
        }
        if not ids:
            return out
        sources = (
            ("genre", Movie.genres.through.objects.order_by("genre__name"), "genre__name"),
            ("keyword", Movie.keywords.through.objects.order_by("keyword__name"), "keyword__name"),
            ("person", Credit.objects.order_by("kind", "order"), "person__name"),
        )
        for kind, rows, name in sources:
            for mid, value in rows.filter(movie_id__in=ids).values_list("movie_id", name):
                out[mid][kind].append(value)
        return out

    def popular(self):
        return self.order_by("-popularity", "-vote_count", "title")

    def in_decade(self, decade: int):
        return self.filter(year__gte=decade, year__lt=decade + 10)

    def search(self, query: str):
        """Case- and accent-insensitive title search.

        Both sides are folded (lower case, no accents) so the same rule holds on every
        database. On PostgreSQL the substring match is served by a trigram GIN index on
        ``search_title`` and near misses ("godfater") are found by trigram word
        similarity; SQLite gets the plain substring match.
        """
        folded = fold(query)
        if not folded:
            return self
        match = Q(search_title__contains=folded)
        if self.db and settings.DATABASES[self.db]["ENGINE"].endswith("postgresql"):
            match |= Q(search_title__trigram_word_similar=folded)
        return self.filter(match)

    def with_site_stats(self):
        return self.annotate(
            site_rating_count=Count("ratings", distinct=True),
        )

    def with_user_rating(self, user):
        """Annotate ``my_score``: ``user``'s score for each movie (None if unrated/anonymous).

        A correlated subquery, so list pages show the user's own rating on every card in the
        same query that fetches the cards.
        """
        score_field = models.DecimalField(max_digits=2, decimal_places=1)
        if not getattr(user, "is_authenticated", False):
            return self.annotate(my_score=Value(None, output_field=score_field))
        mine = Rating.objects.filter(user=user, movie=OuterRef("pk")).values("score")[:1]
        return self.annotate(my_score=Subquery(mine, output_field=score_field))


def attach_card_genres(movies) -> None:
    """Set ``card_genres`` (genre names by name) on each of ``movies``, in one query."""
    movies = [m for m in movies if isinstance(m, Movie)]
    if not movies:
        return
    names: dict[int, list[str]] = {m.pk: [] for m in movies}
    rows = (
        Movie.genres.through.objects.filter(movie_id__in=list(names))
        .order_by("genre__name")
        .values_list("movie_id", "genre__name")
    )
    for movie_id, name in rows:
        names[movie_id].append(name)
    for movie in movies:
        movie.card_genres = names[movie.pk]


class Movie(TimeStampedModel):
    tmdb_id = models.PositiveIntegerField(unique=True)
    title = models.CharField(max_length=255)
    original_title = models.CharField(max_length=255, blank=True)
    overview = models.TextField(blank=True)
    tagline = models.CharField(max_length=500, blank=True)
    release_date = models.DateField(null=True, blank=True)
    # The year is stored on its own because datasets such as MovieLens know only the year;
    # it is filled from release_date whenever that is known (see save()).
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    runtime = models.PositiveSmallIntegerField(null=True, blank=True, help_text="minutes")
    original_language = models.CharField(max_length=16, blank=True)
    popularity = models.FloatField(default=0)
    vote_average = models.FloatField(default=0)
    vote_count = models.PositiveIntegerField(default=0)
    poster_path = models.CharField(max_length=255, blank=True)
    imdb_id = models.CharField(max_length=16, blank=True)
    movielens_id = models.PositiveIntegerField(null=True, blank=True, unique=True)
    # Folded title (lower case, no accents) maintained by save(); what search matches on.
    search_title = models.CharField(max_length=255, editable=False, default="")

    genres = models.ManyToManyField(Genre, related_name="movies", blank=True)
    keywords = models.ManyToManyField(Keyword, related_name="movies", blank=True)
    people = models.ManyToManyField(Person, through="Credit", related_name="movies", blank=True)

    objects = MovieQuerySet.as_manager()

    class Meta:
        ordering = ["-popularity", "title"]
        indexes = [
            models.Index(fields=["-popularity", "title"], name="movie_popularity_idx"),
            models.Index(fields=["-vote_average", "-vote_count"], name="movie_rating_idx"),
            models.Index(fields=["year", "title"], name="movie_year_idx"),
            models.Index(fields=["title"], name="movie_title_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(vote_average__gte=0) & Q(vote_average__lte=10),
                name="movie_vote_average_range",
            ),
            models.CheckConstraint(
                condition=Q(year__isnull=True) | (Q(year__gte=1870) & Q(year__lte=2100)),
                name="movie_year_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title

    def save(self, *args, **kwargs):
        if self.release_date:
            self.year = self.release_date.year
        self.search_title = fold(self.title)[:255]
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"title", "release_date"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "search_title", "year"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("movies:detail", args=[self.pk])

    @property
    def poster_url(self) -> str | None:
        """TMDB image URL, or None when the poster is unknown (the page draws a placeholder)."""
        if not self.poster_path:
            return None
        return f"{settings.TMDB_IMAGE_BASE}{settings.TMDB_POSTER_SIZE}{self.poster_path}"

    @property
    def decade(self) -> int | None:
        return self.year - self.year % 10 if self.year else None

    def directors(self) -> list["Person"]:
        """Directors, from prefetched credits when available (no extra query on detail pages)."""
        return [c.person for c in self.credits.all() if c.kind == Credit.Kind.DIRECTOR]

    def cast(self) -> list["Credit"]:
        return [c for c in self.credits.all() if c.kind == Credit.Kind.CAST]


class Credit(models.Model):
    class Kind(models.TextChoices):
        CAST = "cast", "Cast"
        DIRECTOR = "director", "Director"

    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="credits")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="credits")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    order = models.PositiveSmallIntegerField(default=0, help_text="billing order for cast")
    character = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["movie", "kind", "order"]
        constraints = [
            models.UniqueConstraint(fields=["movie", "person", "kind"], name="credit_unique"),
        ]
        indexes = [models.Index(fields=["movie", "kind", "order"], name="credit_movie_kind_idx")]

    def __str__(self) -> str:
        return f"{self.person} — {self.get_kind_display()} in {self.movie}"


def validate_score(value) -> None:
    """A score is a half step between 0.5 and 5.0."""
    try:
        score = Decimal(str(value))
    except ArithmeticError as exc:
        raise ValidationError("Enter a number of stars.", code="invalid") from exc
    if score not in SCORE_CHOICES:
        raise ValidationError(
            "A rating is a half step between 0.5 and 5.0 stars (e.g. 3.5).",
            code="invalid_score",
        )


class RatingQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(user=user)

    def liked(self, threshold: float = 4.0):
        return self.filter(score__gte=threshold)


class Rating(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings"
    )
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="ratings")
    score = models.DecimalField(max_digits=2, decimal_places=1, validators=[validate_score])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RatingQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "movie"], name="rating_one_per_user_movie"),
            # The form validates too; the database has the last word.
            models.CheckConstraint(condition=Q(score__in=SCORE_CHOICES), name="rating_half_steps"),
        ]
        indexes = [
            models.Index(fields=["user", "-updated_at"], name="rating_user_recent_idx"),
            models.Index(fields=["movie", "score"], name="rating_movie_score_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} rated {self.movie}: {self.score}"

    @property
    def stars(self) -> float:
        return float(self.score)


class UserMovieQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(user=user)

    def movie_ids(self, user) -> set[int]:
        return set(self.filter(user=user).values_list("movie_id", flat=True))


class UserMovieMark(models.Model):
    """A person's mark on a movie that is not a rating (watchlist, not interested): one row per
    (user, movie) and kind, added and removed as a whole."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = UserMovieQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "movie"], name="%(class)s_one_per_user_movie")
        ]
        indexes = [models.Index(fields=["user", "-created_at"], name="%(class)s_user_recent")]


class WatchlistEntry(UserMovieMark):
    """ "Want to watch": never recommended again, counts as mild interest for the recommender,
    and leaves the watchlist when the movie is rated."""

    class Meta(UserMovieMark.Meta):
        verbose_name_plural = "watchlist entries"
        default_related_name = "watchlist_entries"

    def __str__(self) -> str:
        return f"{self.user} wants to watch {self.movie}"


class HiddenMovie(UserMovieMark):
    """ "Not interested": never recommended (nor in "More like this") again, and a negative
    signal for the recommender, until the person unhides it."""

    class Meta(UserMovieMark.Meta):
        default_related_name = "hidden_movies"

    def __str__(self) -> str:
        return f"{self.user} is not interested in {self.movie}"


class SkippedMovie(UserMovieMark):
    """ "Haven't seen it" on the onboarding grid: the film is not offered there again. Not a
    taste signal (not having seen a film says nothing about liking it)."""

    class Meta(UserMovieMark.Meta):
        default_related_name = "skipped_movies"

    def __str__(self) -> str:
        return f"{self.user} has not seen {self.movie}"


class SyncAlreadyRunning(JobAlreadyRunning, CatalogError):
    """A TMDB sync is already queued or running (callers catch CatalogError)."""


class SyncRunQuerySet(JobQuerySet):
    pass


class SyncRun(Job):
    """One TMDB sync (command, Celery fan-out, admin or beat): progress while it runs, the
    summary when it ends. Chunk tasks add their counts with F() updates, so several workers
    can report into the same row; each chunk holds the run's lease while it works."""

    already_running_error = SyncAlreadyRunning

    pages = models.PositiveIntegerField(default=0, help_text="popular pages to fetch")
    start_page = models.PositiveIntegerField(default=1)
    # Refresh of chosen movies (admin action, /movie/changes) instead of popular pages.
    tmdb_ids = models.JSONField(default=list, blank=True)
    rebuild = models.BooleanField(default=False, help_text="ask for a model rebuild afterwards")
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=list, blank=True, help_text="first failures (id, error)")
    # The summary for people ("Done: 40 fetched, ..."); ``error`` says why a run failed.
    message = models.TextField(blank=True)
    # The model version a rebuild request queued, as a plain id: the catalog knows nothing
    # of the recommender (it only sends movies.signals.catalog_changed).
    model_version_id = models.PositiveIntegerField(null=True, blank=True)

    objects = SyncRunQuerySet.as_manager()

    class Meta(Job.Meta):
        ordering = ["-created_at"]
        verbose_name = "TMDB sync run"

    def __str__(self) -> str:
        return f"TMDB sync #{self.pk} ({self.status})"

    @classmethod
    def lease_grace_seconds(cls) -> float:
        # A fan-out run has no lease between its chunks (queued behind each other); give the
        # next chunk the time a silent run gets without PostgreSQL before calling it dead.
        return max(super().lease_grace_seconds(), stale_seconds())

    def progress_fields(self, done: int, total: int, message: str) -> dict:
        """Chunks run in parallel: each adds what it did since its last write; the total is
        the run's plan (set when the run starts)."""
        step = done - getattr(self, "_progress_reported", 0)
        self._progress_reported = done
        return {
            "progress_done": F("progress_done") + max(0, step),
            "progress_message": message[:255],
        }
