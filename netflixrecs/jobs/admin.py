"""Admin for any Job model: a live status panel polled by the change list, list columns for
status and progress, and an action that marks stuck jobs failed.

``class SyncRunAdmin(JobAdminMixin, admin.ModelAdmin)`` gets:

* the URL ``admin:<app>_<model>_status`` rendering ``admin/<app>/<model>/_status.html`` when the
  model has one (it extends ``admin/jobs/_status.html`` and fills its blocks), else the generic
  panel; ``job_status_context(request)`` adds model-specific context;
* a change list (``admin/jobs/change_list.html``, or the model's own template extending it)
  that polls the panel with htmx every two seconds;
* the action "Mark selected stuck jobs as failed" (``has_mark_failed_permission``).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.loader import select_template
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.timesince import timesince

from .models import Job


class JobAdminMixin:
    # The noun the panel uses: "No sync running.", "Build running: #3".
    job_noun = "job"
    job_list_columns = ("job_progress", "job_lease")

    def _job_info(self) -> tuple[str, str]:
        return self.opts.app_label, self.opts.model_name

    def get_urls(self):
        app_label, model_name = self._job_info()
        return [
            path(
                "status/",
                self.admin_site.admin_view(self.job_status_view),
                name=f"{app_label}_{model_name}_status",
            ),
            *super().get_urls(),
        ]

    # --- the status panel -----------------------------------------------------------------

    def job_status_context(self, request) -> dict:
        """Model-specific extras for the panel (override; the template's blocks show them)."""
        return {}

    def job_status_template(self) -> str:
        app_label, model_name = self._job_info()
        return select_template(
            [f"admin/{app_label}/{model_name}/_status.html", "admin/jobs/_status.html"]
        ).template.name

    def _job_panel_context(self, request) -> dict:
        jobs = self.model._default_manager.all()
        app_label, model_name = self._job_info()
        return {
            "job_noun": self.job_noun,
            "running": jobs.in_progress().order_by("-created_at", "-pk").first(),
            "latest": jobs.finished().order_by("-created_at", "-pk").first(),
            "job_status_url": reverse(f"admin:{app_label}_{model_name}_status"),
            "job_status_template": self.job_status_template(),
            **self.job_status_context(request),
        }

    def job_status_view(self, request):
        """The live panel; the change list polls it every two seconds."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = self._job_panel_context(request)
        return TemplateResponse(request, context["job_status_template"], context)

    def changelist_view(self, request, extra_context=None):
        if self.has_view_permission(request):
            extra_context = {**(extra_context or {}), **self._job_panel_context(request)}
        response = super().changelist_view(request, extra_context=extra_context)
        if isinstance(response, TemplateResponse) and not self.change_list_template:
            app_label, model_name = self._job_info()
            response.template_name = [
                f"admin/{app_label}/{model_name}/change_list.html",
                f"admin/{app_label}/change_list.html",
                "admin/jobs/change_list.html",
            ]
        return response

    # --- list columns ---------------------------------------------------------------------

    @admin.display(description="progress")
    def job_progress(self, job: Job) -> str:
        text = f"{job.progress_done}/{job.progress_total} ({job.percent}%)"
        if job.is_in_progress and job.progress_message:
            text += f" {job.progress_message}"
        elif job.error:
            text += f" — {job.error[:80]}"
        return text

    @admin.display(description="lease")
    def job_lease(self, job: Job) -> str:
        if not job.is_in_progress or not job.heartbeat_at:
            return ""
        return f"{job.lease_owner}, heartbeat {timesince(job.heartbeat_at, timezone.now())} ago"

    # --- the stuck-job action -------------------------------------------------------------

    def has_mark_failed_permission(self, request) -> bool:
        # The auth permission itself: job admins are usually read-only (has_change_permission
        # returns False), yet someone must be able to clear a stuck job.
        app_label, model_name = self._job_info()
        return request.user.has_perm(f"{app_label}.change_{model_name}")

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self.actions is not None and self.has_mark_failed_permission(request):
            action = self.get_action("mark_stuck_jobs_failed")
            actions.setdefault(action[1], action)
        return actions

    @admin.action(description="Mark selected stuck jobs as failed")
    def mark_stuck_jobs_failed(self, request, queryset):
        if not self.has_mark_failed_permission(request):
            raise PermissionDenied
        reason = f"Marked failed in the admin by {request.user.get_username()} (stuck)."
        marked = sum(job.mark_failed(reason) for job in queryset)
        skipped = queryset.count() - marked
        self.message_user(request, f"Marked {marked} job(s) failed.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} selected job(s) were not in progress; left alone.",
                messages.INFO,
            )
