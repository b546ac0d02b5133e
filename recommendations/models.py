"""Versions of the content-based model.

Each build is one ``ModelVersion`` row; its artifacts live in ``MODEL_DIR/<id>/``. The database
enforces the two rules the rest of the code relies on: at most one active version, and at most
one build queued or running (single-flight).
"""

from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q

IN_PROGRESS = ("queued", "building")


class ModelVersionQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)

    def in_progress(self):
        return self.filter(status__in=IN_PROGRESS)

    def ready(self):
        return self.filter(status=ModelVersion.Status.READY)


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=32, default="tfidf", editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    is_active = models.BooleanField(default=False)
    # What the build should do when it succeeds (the queued row carries it to the task).
    activate_when_ready = models.BooleanField(default=True)
    triggered_by = models.CharField(max_length=150, help_text="command, admin:<user>, task, ...")
    params = models.JSONField(default=dict, blank=True)

    movie_count = models.PositiveIntegerField(null=True, blank=True)
    vocabulary_size = models.PositiveIntegerField(null=True, blank=True)
    nnz = models.PositiveBigIntegerField(null=True, blank=True)
    min_df_used = models.FloatField(null=True, blank=True)
    build_seconds = models.FloatField(null=True, blank=True)
    # {file name: sha256 hex}; verified whenever a process loads the artifacts.
    checksums = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    progress_current = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    progress_message = models.CharField(max_length=255, blank=True)
    celery_task_id = models.CharField(max_length=255, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=Q(is_active=True),
                name="modelversion_one_active",
                violation_error_message="Only one model version can be active.",
            ),
            # Single-flight: a second build cannot even be queued while one is in progress.
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(status__in=IN_PROGRESS),
                name="modelversion_one_in_progress",
                violation_error_message="A build is already queued or running.",
            ),
            models.CheckConstraint(
                condition=Q(is_active=False) | Q(status="ready"),
                name="modelversion_active_is_ready",
            ),
        ]

    def __str__(self) -> str:
        return f"TF-IDF v{self.pk} ({self.status}{', active' if self.is_active else ''})"

    @property
    def artifact_dir(self) -> Path:
        return Path(settings.MODEL_DIR) / str(self.pk)

    @property
    def in_progress(self) -> bool:
        return self.status in IN_PROGRESS

    @property
    def progress_percent(self) -> int:
        if not self.progress_total:
            return 0
        return min(100, round(100 * self.progress_current / self.progress_total))
