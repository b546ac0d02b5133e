"""Versions of the recommendation model (TF-IDF + hybrid), and their offline evaluations.

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
    # What the hybrid learned from (null on versions built before it existed).
    hybrid_params = models.JSONField(default=dict, blank=True)
    site_ratings = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="site ratings the hybrid learned from"
    )
    site_users = models.PositiveIntegerField(null=True, blank=True, help_text="users who rated")
    rated_items = models.PositiveIntegerField(
        null=True, blank=True, help_text="catalog movies with at least one rating"
    )
    cf_neighbours = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="collaborative neighbour entries stored (0 = none)"
    )
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
    def has_hybrid(self) -> bool:
        """Built with the hybrid (prior and, unless switched off, collaborative arrays)."""
        return "prior.npy" in self.checksums

    @property
    def has_collab(self) -> bool:
        return "cf_data.npy" in self.checksums and bool(self.cf_neighbours)

    @property
    def in_progress(self) -> bool:
        return self.status in IN_PROGRESS

    @property
    def progress_percent(self) -> int:
        if not self.progress_total:
            return 0
        return min(100, round(100 * self.progress_current / self.progress_total))


class EvaluationQuerySet(models.QuerySet):
    def latest_first(self):
        return self.order_by("-created_at", "-id")


class Evaluation(models.Model):
    """One ``manage.py evaluate --model-version ID`` (or ``--record``) run for a version.

    ``metrics`` is the report: ``{strategy: {precision, recall, ndcg, hit_rate, coverage,
    users}}``; ``production`` is what the site serves.
    """

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="evaluations"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    protocol = models.JSONField(default=dict, help_text="split and list parameters")
    params = models.JSONField(default=dict, help_text="TF-IDF and hybrid parameters used")
    metrics = models.JSONField(default=dict, help_text="per-strategy metrics")
    input_files = models.JSONField(default=dict, help_text="ratings, links and TMDB files")
    catalog_size = models.PositiveIntegerField(default=0)
    users = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)

    objects = EvaluationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"Evaluation {self.pk} of version {self.model_version_id}"

    def metric(self, name: str, strategy: str = "production") -> float | None:
        value = (self.metrics.get(strategy) or {}).get(name)
        return float(value) if value is not None else None

    @property
    def production_ndcg(self) -> float | None:
        return self.metric("ndcg")

    @property
    def production_hit_rate(self) -> float | None:
        return self.metric("hit_rate")
