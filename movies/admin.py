from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse

from netflixrecs.admin_tools import SafeActionsMixin, ValidatedListFilter
from netflixrecs.jobs.admin import JobAdminMixin

from .errors import CatalogError
from .models import (
    Credit,
    Genre,
    HiddenMovie,
    Keyword,
    Movie,
    Person,
    Rating,
    SkippedMovie,
    SyncRun,
    WatchlistEntry,
)
from .tasks import queue_sync

SYNC_BUSY = "A TMDB sync is already queued or running (see below); not starting another."


class CreditInline(admin.TabularInline):
    model = Credit
    extra = 0
    autocomplete_fields = ["person"]
    ordering = ["kind", "order"]


class DecadeFilter(ValidatedListFilter):
    title = "decade"
    parameter_name = "decade"

    def lookups(self, request, model_admin):
        return [(str(d), f"{d}s") for d in range(1920, 2030, 10)]

    def filter(self, queryset, value):
        return queryset.in_decade(int(value))


@admin.register(Movie)
class MovieAdmin(SafeActionsMixin, admin.ModelAdmin):
    list_display = ["title", "year", "tmdb_id", "movielens_id", "popularity", "vote_average"]
    list_filter = [DecadeFilter, "genres", "original_language"]
    search_fields = ["title", "original_title", "search_title", "=tmdb_id", "=imdb_id"]
    readonly_fields = ["search_title", "created_at", "updated_at"]
    autocomplete_fields = ["genres", "keywords"]
    inlines = [CreditInline]
    list_per_page = 50
    show_full_result_count = False  # a COUNT(*) per page is wasteful on a large catalog
    actions = ["sync_selected_from_tmdb"]

    @admin.action(description="Sync from TMDB and rebuild the model", permissions=["change"])
    def sync_selected_from_tmdb(self, request, queryset):
        ids = list(queryset.order_by("tmdb_id").values_list("tmdb_id", flat=True))
        _queue_sync(request, tmdb_ids=ids)
        return HttpResponseRedirect(reverse("admin:movies_syncrun_changelist"))


@admin.register(Genre)
class GenreAdmin(SafeActionsMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "tmdb_id"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Keyword)
class KeywordAdmin(SafeActionsMixin, admin.ModelAdmin):
    list_display = ["name", "tmdb_id"]
    search_fields = ["name"]


@admin.register(Person)
class PersonAdmin(SafeActionsMixin, admin.ModelAdmin):
    list_display = ["name", "tmdb_id"]
    search_fields = ["name"]


@admin.register(Credit)
class CreditAdmin(SafeActionsMixin, admin.ModelAdmin):
    list_display = ["movie", "person", "kind", "order"]
    list_filter = ["kind"]
    search_fields = ["movie__title", "person__name"]
    list_select_related = ["movie", "person"]
    autocomplete_fields = ["movie", "person"]


@admin.register(Rating)
class RatingAdmin(SafeActionsMixin, admin.ModelAdmin):
    list_display = ["user", "movie", "score", "updated_at"]
    list_filter = ["score", "updated_at"]
    search_fields = ["user__username", "movie__title"]
    list_select_related = ["user", "movie"]
    autocomplete_fields = ["movie"]
    raw_id_fields = ["user"]
    date_hierarchy = "updated_at"


def _queue_sync(request, *, pages: int = 0, tmdb_ids: list[int] | None = None) -> None:
    try:
        run = queue_sync(
            triggered_by=f"admin: {request.user.get_username()}",
            pages=pages,
            tmdb_ids=tmdb_ids,
            rebuild=True,
        )
    except SyncRun.already_running_error:
        messages.warning(request, SYNC_BUSY)
        return
    except (CatalogError, ValueError) as exc:
        messages.error(request, str(exc))
        return
    what = f"{len(tmdb_ids)} selected movie(s)" if tmdb_ids else f"{pages} page(s)"
    messages.success(
        request, f"TMDB sync #{run.pk} of {what} queued; the model is rebuilt when it ends."
    )


@admin.register(SyncRun)
class SyncRunAdmin(SafeActionsMixin, JobAdminMixin, admin.ModelAdmin):
    """Syncs with live progress; the button above the list starts "Sync from TMDB and rebuild
    the model" on Celery (fan-out over workers, then the rebuild request)."""

    job_noun = "sync"
    list_display = [
        "id",
        "status",
        "triggered_by",
        "pages",
        "job_progress",
        "fetched",
        "created",
        "updated",
        "failed",
        "model_version_id",
        "created_at",
        "finished_at",
        "job_lease",
    ]
    list_filter = ["status"]
    readonly_fields = [f.name for f in SyncRun._meta.fields]

    def has_add_permission(self, request):
        return False  # runs are started by the button, the command or Celery beat

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        sync = path("sync/", self.admin_site.admin_view(self.sync_view), name="movies_syncrun_sync")
        return [sync, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "default_pages": settings.TMDB_SYNC_PAGES}
        return super().changelist_view(request, extra_context)

    def sync_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request) or not request.user.has_perm("movies.add_movie"):
            messages.error(request, "You may not start a TMDB sync.")
        else:
            try:
                pages = int(request.POST.get("pages") or settings.TMDB_SYNC_PAGES)
            except ValueError:
                pages = 0
            if not 1 <= pages <= 500:
                messages.error(request, "Pages must be a whole number from 1 to 500.")
            else:
                _queue_sync(request, pages=pages)
        return HttpResponseRedirect(reverse("admin:movies_syncrun_changelist"))


@admin.register(WatchlistEntry, HiddenMovie, SkippedMovie)
class UserMovieMarkAdmin(SafeActionsMixin, admin.ModelAdmin):
    list_display = ["user", "movie", "created_at"]
    list_select_related = ["user", "movie"]
    search_fields = ["user__username", "movie__title"]
    autocomplete_fields = ["movie"]
    raw_id_fields = ["user"]
