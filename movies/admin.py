from django.contrib import admin

from .models import Credit, Genre, Keyword, Movie, Person, Rating


class CreditInline(admin.TabularInline):
    model = Credit
    extra = 0
    autocomplete_fields = ["person"]
    ordering = ["kind", "order"]


class DecadeFilter(admin.SimpleListFilter):
    title = "decade"
    parameter_name = "decade"

    def lookups(self, request, model_admin):
        return [(str(d), f"{d}s") for d in range(1920, 2030, 10)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.in_decade(int(self.value()))
        return queryset


@admin.register(Movie)
class MovieAdmin(admin.ModelAdmin):
    list_display = ["title", "year", "tmdb_id", "movielens_id", "popularity", "vote_average"]
    list_filter = [DecadeFilter, "genres", "original_language"]
    search_fields = ["title", "original_title", "search_title", "=tmdb_id", "=imdb_id"]
    readonly_fields = ["search_title", "created_at", "updated_at"]
    autocomplete_fields = ["genres", "keywords"]
    inlines = [CreditInline]
    list_per_page = 50
    show_full_result_count = False  # a COUNT(*) per page is wasteful on a large catalog


@admin.register(Genre)
class GenreAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "tmdb_id"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Keyword)
class KeywordAdmin(admin.ModelAdmin):
    list_display = ["name", "tmdb_id"]
    search_fields = ["name"]


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["name", "tmdb_id"]
    search_fields = ["name"]


@admin.register(Credit)
class CreditAdmin(admin.ModelAdmin):
    list_display = ["movie", "person", "kind", "order"]
    list_filter = ["kind"]
    search_fields = ["movie__title", "person__name"]
    list_select_related = ["movie", "person"]
    autocomplete_fields = ["movie", "person"]


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ["user", "movie", "score", "updated_at"]
    list_filter = ["score", "updated_at"]
    search_fields = ["user__username", "movie__title"]
    list_select_related = ["user", "movie"]
    autocomplete_fields = ["movie"]
    raw_id_fields = ["user"]
    date_hierarchy = "updated_at"
