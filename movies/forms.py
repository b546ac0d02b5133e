"""Forms of the movie pages: the browse filters and the rating form.

Both turn raw query/POST values into clean Python values with messages a person can act on;
views never parse request data themselves.
"""

from decimal import Decimal, InvalidOperation

from django import forms
from django.core.cache import cache
from django.core.exceptions import ValidationError

from . import search
from .models import MAX_SCORE, MIN_SCORE, Genre, Movie, validate_score
from .widgets import QuickSelect

DECADES_CACHE_KEY = "movies:decades"
DECADES_CACHE_SECONDS = 300
# The genre select's options, (slug, name): every browse page renders them; dropped when a
# genre is saved or deleted (forget_genre_choices, connected in MoviesConfig.ready()).
GENRES_CACHE_KEY = "movies:genre-choices"


def forget_genre_choices(*args, **kwargs) -> None:
    cache.delete(GENRES_CACHE_KEY)


def score_label(score: Decimal) -> str:
    """``Decimal("3.5")`` -> "3.5 stars", ``Decimal("1.0")`` -> "1 star" (accessible labels)."""
    text = f"{score.normalize():f}"
    return f"{text} star" if score == 1 else f"{text} stars"


class RatingForm(forms.Form):
    """One score: a half step between 0.5 and 5.0 stars."""

    # A CharField on purpose: we want our own message for every kind of bad value
    # ("abc", "NaN", "4.25", "7") instead of DecimalField's generic ones.
    score = forms.CharField(
        error_messages={"required": "Choose a rating between 0.5 and 5 stars."},
    )

    def clean_score(self) -> Decimal:
        raw = self.cleaned_data["score"].strip()
        try:
            score = Decimal(raw)
        except InvalidOperation as exc:
            raise ValidationError(
                "“%(value)s” is not a number of stars; choose between 0.5 and 5 stars.",
                code="not_a_number",
                params={"value": raw[:20]},
            ) from exc
        if not score.is_finite():
            raise ValidationError("Choose a rating between 0.5 and 5 stars.", code="not_finite")
        if score < MIN_SCORE or score > MAX_SCORE:
            raise ValidationError(
                "A rating is between 0.5 and 5 stars; %(value)s is out of range.",
                code="out_of_range",
                params={"value": raw[:20]},
            )
        validate_score(score)  # the half-step rule, with the model's own message
        # Quantize so "4" and "4.00" are stored and shown as 4.0.
        return score.quantize(Decimal("0.1"))


SORTS = {
    # With a search, relevance (movies/search.py); without one, the most popular first.
    "relevance": ("Best match", ("-popularity", "-vote_count", "title", "pk")),
    "popularity": ("Most popular", ("-popularity", "-vote_count", "title", "pk")),
    "rating": ("Highest rated", ("-vote_average", "-vote_count", "title", "pk")),
    "year": ("Newest", ("-year", "title", "pk")),
    "title": ("Title A–Z", ("title", "year", "pk")),
}
DEFAULT_SORT = "popularity"
SEARCH_SORT = "relevance"


class BrowseForm(forms.Form):
    """GET filters of the browse page. Invalid fields are reported and then ignored."""

    q = forms.CharField(
        label="Title",
        required=False,
        max_length=search.MAX_QUERY_LENGTH,
        error_messages={"max_length": "Search text is limited to %(limit_value)d characters."},
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Search titles…", "autocomplete": "off"}
        ),
    )
    genre = forms.ModelChoiceField(
        queryset=Genre.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="All genres",
        error_messages={"invalid_choice": "There is no genre “%(value)s”."},
        widget=QuickSelect,
    )
    decade = forms.IntegerField(
        required=False,
        widget=QuickSelect,
        error_messages={"invalid": "A decade is a year such as 1990."},
    )
    sort = forms.ChoiceField(
        required=False,
        widget=QuickSelect,
        choices=[(key, label) for key, (label, _) in SORTS.items()],
        error_messages={
            "invalid_choice": "Unknown sort order “%(value)s” (use " + ", ".join(SORTS) + ")."
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # What the last apply() searched for (movies.search.TitleSearch), or None.
        self.search = None
        if self.is_bound and not self.data.get("sort"):
            # Show the order actually used: relevance for a search, popularity otherwise.
            self.data = self.data.copy()
            self.data["sort"] = SEARCH_SORT if self.data.get("q", "").strip() else DEFAULT_SORT
        self.fields["decade"].widget.choices = [("", "All decades")] + [
            (d, f"{d}s") for d in self.available_decades()
        ]
        # The same options the field's queryset gives, without reading the genres each time
        # (validation still looks the chosen slug up).
        self.fields["genre"].widget.choices = [("", "All genres"), *self.genre_choices()]

    @staticmethod
    def genre_choices() -> list[tuple[str, str]]:
        """``(slug, name)`` of every genre by name, cached (see GENRES_CACHE_KEY)."""
        choices = cache.get(GENRES_CACHE_KEY)
        if choices is None:
            choices = list(Genre.objects.order_by("name").values_list("slug", "name"))
            cache.set(GENRES_CACHE_KEY, choices, DECADES_CACHE_SECONDS)
        return choices

    @staticmethod
    def available_decades() -> list[int]:
        """The catalog's decades, newest first; cached a few minutes (every browse page asks,
        and a decade appearing a little late after an import harms nobody)."""
        decades = cache.get(DECADES_CACHE_KEY)
        if decades is None:
            # order_by(): the model's default ordering would make DISTINCT run over every row.
            years = (
                Movie.objects.filter(year__isnull=False)
                .order_by()
                .values_list("year", flat=True)
                .distinct()
            )
            decades = sorted({y - y % 10 for y in years}, reverse=True)
            cache.set(DECADES_CACHE_KEY, decades, DECADES_CACHE_SECONDS)
        return decades

    def clean_decade(self) -> int | None:
        decade = self.cleaned_data["decade"]
        if decade is None:
            return None
        if not 1870 <= decade <= 2100 or decade % 10:
            raise ValidationError(
                "A decade is the first year of ten, between 1870 and 2100 (e.g. 1990).",
                code="invalid_decade",
            )
        return decade

    def clean_q(self) -> str:
        raw = self.cleaned_data["q"]
        if raw and not search.normalize_query(raw):
            raise ValidationError(
                "“%(value)s” has no letters or digits to search for.",
                code="nothing_to_search",
                params={"value": raw[:40]},
            )
        return raw

    def clean_sort(self) -> str:
        return self.cleaned_data["sort"] or self._default_sort()

    def _default_sort(self) -> str:
        return SEARCH_SORT if self.cleaned_data.get("q") else DEFAULT_SORT

    def filters(self) -> dict:
        """The valid filters; a field with an error falls back to its default."""
        self.is_valid()
        data = {"q": "", "genre": None, "decade": None, "sort": self._default_sort()}
        data.update({k: v for k, v in self.cleaned_data.items() if v not in (None, "")})
        return data

    def problems(self) -> list[str]:
        """One sentence per ignored field, for the notice above the results."""
        self.is_valid()
        fallback = {"sort": f"Sorted by {self._default_sort()} instead."}
        return [
            f"{' '.join(errors)} {fallback.get(name, 'Showing results without this filter.')}"
            for name, errors in self.errors.items()
        ]

    def apply(self, queryset):
        """The filtered, ordered movies; a search also sets ``self.search`` (did you mean)."""
        f = self.filters()
        if f["genre"]:
            queryset = queryset.filter(genres=f["genre"])
        if f["decade"] is not None:
            queryset = queryset.in_decade(f["decade"])
        if f["q"]:
            by_relevance = f["sort"] == SEARCH_SORT
            self.search = search.search_titles(queryset, f["q"], by_relevance=by_relevance)
            if by_relevance:
                return self.search.movies
            queryset = self.search.movies
        return queryset.order_by(*SORTS[f["sort"]][1])


RATING_SORTS = {
    "recent": ("Recently rated", ("-updated_at", "-pk")),
    "high": ("Score: high to low", ("-score", "-updated_at", "-pk")),
    "low": ("Score: low to high", ("score", "-updated_at", "-pk")),
    "title": ("Title A–Z", ("movie__title", "pk")),
    "year": ("Year", ("-movie__year", "movie__title", "pk")),
}


class MyRatingsForm(forms.Form):
    sort = forms.ChoiceField(
        required=False,
        choices=[(key, label) for key, (label, _) in RATING_SORTS.items()],
        error_messages={
            "invalid_choice": "Unknown sort order “%(value)s”; showing your latest ratings."
        },
    )

    def ordering(self) -> tuple[str, ...]:
        key = self.cleaned_data.get("sort") if self.is_valid() else None
        return RATING_SORTS[key or "recent"][1]


# --- Watchlist and "not interested" lists ---------------------------------------------------

MARK_SORTS = {
    "added": ("Date added", ("-created_at", "-pk")),
    "title": ("Title A–Z", ("movie__title", "movie__year", "pk")),
    "year": ("Year: newest first", ("-movie__year", "movie__title", "pk")),
    "popularity": ("Most popular", ("-movie__popularity", "-movie__vote_count", "pk")),
}


class MarksForm(forms.Form):
    """Sort order of the watchlist and "not interested" pages; a bad value is reported and the
    default order used."""

    sort = forms.ChoiceField(
        required=False,
        choices=[(key, label) for key, (label, _) in MARK_SORTS.items()],
        error_messages={"invalid_choice": "Unknown sort order “%(value)s”; showing newest first."},
    )

    def ordering(self) -> tuple[str, ...]:
        key = self.cleaned_data.get("sort") if self.is_valid() else None
        return MARK_SORTS[key or "added"][1]


MARK_BUTTONS = ("watchlist", "hide", "both")


class MarkButtonsForm(forms.Form):
    """Which toggles the htmx response re-renders (the card shows the watchlist one, the movie
    page both, the "not interested" page the hide one). Anything else: the watchlist one."""

    buttons = forms.ChoiceField(required=False, choices=[(b, b) for b in MARK_BUTTONS])

    def which(self) -> str:
        return (self.cleaned_data.get("buttons") if self.is_valid() else None) or "watchlist"
