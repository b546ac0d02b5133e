"""Admin for model versions: rebuild button, activate (rollback) and delete actions, the job
base's live build panel and "mark stuck builds failed" action, whether the active version
loads, and the latest offline evaluation of each version."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Prefetch
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import path, reverse

from netflixrecs.admin_tools import SafeActionsMixin
from netflixrecs.jobs.admin import JobAdminMixin

from . import strategies, tasks
from .errors import VersionError
from .models import Evaluation, ModelVersion

METRIC_COLUMNS = ("precision", "recall", "ndcg", "hit_rate", "coverage", "users")
# The order of `manage.py evaluate`'s strategies, for the evaluation table.
STRATEGY_ORDER = strategies.evaluation_names()


def _latest_evaluation(version: ModelVersion) -> Evaluation | None:
    # Uses the prefetched, newest-first list when there is one (no query per row).
    evaluations = list(version.evaluations.all())
    return evaluations[0] if evaluations else None


class EvaluationInline(admin.TabularInline):
    """Every evaluation of the version, newest first (read-only: made by ``evaluate``)."""

    model = Evaluation
    extra = 0
    can_delete = False
    fields = [
        "created_at",
        "measured_on",
        "production_ndcg",
        "production_hit_rate",
        "users",
        "seconds",
    ]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]
    verbose_name_plural = "Evaluations (manage.py evaluate --model-version ID / --record)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(SafeActionsMixin, JobAdminMixin, admin.ModelAdmin):
    # The panel and the change list come from the job base (admin/jobs/*.html); this model's
    # templates extend them with the rebuild button and the active version.
    job_noun = "build"
    list_display = [
        "id",
        "status",
        "is_active",
        "movie_count",
        "vocabulary_size",
        "nnz",
        "min_df_used",
        "hybrid_display",
        "latest_evaluation_display",
        "build_seconds",
        "triggered_by",
        "created_at",
        "job_progress",
        "job_lease",
        "load_display",
    ]
    list_filter = ["status", "is_active"]
    actions = ["activate_selected", "delete_selected_versions"]
    readonly_fields = [f.name for f in ModelVersion._meta.fields] + ["latest_evaluation_table"]
    inlines = [EvaluationInline]

    def get_queryset(self, request):
        newest_first = Evaluation.objects.latest_first()
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("evaluations", queryset=newest_first))
        )

    @admin.display(description="hybrid (site ratings / users / neighbours)")
    def hybrid_display(self, obj: ModelVersion) -> str:
        if obj.site_ratings is None:
            return "TF-IDF only"
        collab = f"{obj.cf_neighbours:,} neighbours" if obj.cf_neighbours else "no collaborative"
        return f"{obj.site_ratings:,} ratings / {obj.site_users:,} users / {collab}"

    @admin.display(description="latest evaluation (production)")
    def latest_evaluation_display(self, obj: ModelVersion) -> str:
        evaluation = _latest_evaluation(obj)
        if evaluation is None:
            return "—"
        ndcg, hit = evaluation.production_ndcg, evaluation.production_hit_rate
        if ndcg is None:
            return f"#{evaluation.pk}: no production strategy"
        return f"NDCG@10 {ndcg:.4f} · hit rate {hit:.4f} · measured on: {evaluation.measured_on}"

    @admin.display(description="latest evaluation, all strategies")
    def latest_evaluation_table(self, obj: ModelVersion) -> str:
        evaluation = _latest_evaluation(obj)
        metrics = evaluation.metrics if evaluation else {}
        # jsonb (Postgres) does not keep key order: show strategies in the command's order.
        order = {name: i for i, name in enumerate(STRATEGY_ORDER)}
        rows = [
            (strategy, strategy == "production", [metrics[strategy].get(c) for c in METRIC_COLUMNS])
            for strategy in sorted(metrics, key=lambda name: (order.get(name, len(order)), name))
        ]
        return render_to_string(
            "admin/recommendations/modelversion/_evaluation.html",
            {"evaluation": evaluation, "version": obj, "columns": METRIC_COLUMNS, "rows": rows},
        )

    def has_add_permission(self, request):
        return False  # versions are made by builds only

    def has_delete_permission(self, request, obj=None):
        # Deleting goes through the action, which refuses the active version.
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="loads?")
    def load_display(self, obj: ModelVersion) -> str:
        if not obj.load_error:
            return ""
        return f"cannot be loaded ({obj.load_error_at:%Y-%m-%d %H:%M}): {obj.load_error[:120]}"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "rebuild/",
                self.admin_site.admin_view(self.rebuild_view),
                name="{}_{}_rebuild".format(*info),
            ),
            *super().get_urls(),
        ]

    def _changelist_url(self) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")

    def rebuild_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            messages.error(request, "You are not allowed to rebuild the model.")
            return HttpResponseRedirect(self._changelist_url())
        version = tasks.queue_rebuild(triggered_by=f"admin:{request.user.get_username()}")
        if version is None:
            messages.warning(request, "A build is already running; not starting another one.")
        else:
            messages.success(request, f"Rebuild queued as version {version.pk}.")
        return HttpResponseRedirect(self._changelist_url())

    def job_status_context(self, request) -> dict:
        # The active version; its load_error says (in the words of the web process that could
        # not load it) which version that process serves instead.
        return {"active": ModelVersion.objects.active().first()}

    @admin.action(description="Activate the selected version (rollback)")
    def activate_selected(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        try:
            version = queryset.get().activate()
        except VersionError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Version {version.pk} is now active.", messages.SUCCESS)

    @admin.action(description="Delete the selected versions and their files")
    def delete_selected_versions(self, request, queryset):
        deleted, refused = 0, []
        for version in queryset:
            try:
                version.delete_with_files()
                deleted += 1
            except VersionError as exc:
                refused.append(str(exc))
        if deleted:
            self.message_user(request, f"Deleted {deleted} version(s).", messages.SUCCESS)
        for reason in refused:
            self.message_user(request, f"Not deleted: {reason}", messages.ERROR)
