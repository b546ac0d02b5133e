"""Versions of the recommendation model (TF-IDF + hybrid), and their offline evaluations.

Each build is one ``ModelVersion`` row; its artifacts live in ``MODEL_DIR/<id>/``, written once
and read-only from then on. The database enforces the two rules the rest of the code relies on:
at most one active version, and at most one build queued or running (single-flight).
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from netflixrecs.jobs.models import Job, JobQuerySet, JobStatus, stale_seconds

from .artifacts import remove_dir, remove_stale_tmp_dirs, staging_dir
from .errors import BuildAlreadyRunning, VersionError
from .signals import version_activated


class ModelVersionQuerySet(JobQuerySet):
    def active(self):
        return self.filter(is_active=True)

    def ready(self):
        """Built successfully: the versions that can be served or activated."""
        return self.filter(status=JobStatus.SUCCEEDED)

    def newest_first(self):
        return self.order_by("-created_at", "-id")

    def prune(self, *, keep: int | None = None) -> int:
        """Delete all but the newest ``keep`` ready inactive versions, every failed version and
        leftover temporary build directories. The active version and running builds are never
        touched. Returns the number of versions deleted."""
        keep = settings.RECS_KEEP_VERSIONS if keep is None else keep
        if keep < 0:
            raise ValueError("keep must be >= 0")
        ready = self.ready().filter(is_active=False).newest_first()
        doomed = list(ready[keep:]) + list(self.filter(status=JobStatus.FAILED))
        for version in doomed:
            version.delete_with_files()
        # A temporary directory younger than the build time limit may belong to a running build.
        # A fanned-out build may run longer than one task's limit: its staging is kept.
        building = {staging_dir(v.artifact_dir).name for v in self.in_progress()}
        remove_stale_tmp_dirs(
            Path(settings.MODEL_DIR),
            older_than=time.time() - settings.RECS_BUILD_TIME_LIMIT,
            keep=building,
        )
        return len(doomed)


class ModelVersion(Job):
    """One build of the model, and (once it succeeded) the version it produced.

    The job part (status queued → running → succeeded/failed, progress, lease, single-flight)
    comes from :class:`netflixrecs.jobs.models.Job`; "ready" means succeeded.
    """

    already_running_error = BuildAlreadyRunning

    is_active = models.BooleanField(default=False)
    # What the build should do when it succeeds (the queued row carries it to the task).
    activate_when_ready = models.BooleanField(default=True)
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
    # The content-neighbour step in row blocks (recommendations/build_stages.py): planned by
    # the build, counted as block tasks finish (on any number of workers).
    blocks_total = models.PositiveIntegerField(default=0, help_text="content-neighbour blocks")
    blocks_done = models.PositiveIntegerField(default=0)
    # Written by a web process that could not load this version's files (with what it serves
    # instead); cleared by the next process that loads them. Shown in the admin.
    load_error = models.TextField(blank=True)
    load_error_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta(Job.Meta):
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"
        constraints = [
            *Job.Meta.constraints,
            models.UniqueConstraint(
                fields=["is_active"],
                condition=Q(is_active=True),
                name="modelversion_one_active",
                violation_error_message="Only one model version can be active.",
            ),
            models.CheckConstraint(
                condition=Q(is_active=False) | Q(status=JobStatus.SUCCEEDED),
                name="modelversion_active_is_ready",
            ),
        ]

    def __str__(self) -> str:
        return f"Model v{self.pk} ({self.status}{', active' if self.is_active else ''})"

    @classmethod
    def lease_grace_seconds(cls) -> float:
        # A fanned-out build holds no lease between its tasks (the planner has ended, the
        # first block task is on its way); give it the grace a silent job gets without
        # PostgreSQL before calling it dead, as SyncRun does.
        return max(super().lease_grace_seconds(), stale_seconds())

    @classmethod
    def already_running_message(cls, running: ModelVersion | None) -> str:
        which = f" (version {running.pk}, {running.status})" if running else ""
        return f"A build is already running{which}; not starting another one."

    @property
    def artifact_dir(self) -> Path:
        return Path(settings.MODEL_DIR) / str(self.pk)

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.SUCCEEDED

    @property
    def has_hybrid(self) -> bool:
        """Built with the hybrid (prior and, unless switched off, collaborative arrays)."""
        return "prior.npy" in self.checksums

    @property
    def has_collab(self) -> bool:
        return "cf_data.npy" in self.checksums and bool(self.cf_neighbours)

    def activate(self) -> ModelVersion:
        """Make this version the active one (also the rollback path). Only ready versions
        whose files are on disk; the previously active one is deactivated in the same
        transaction, so there is never a moment with two (or, on failure, none)."""
        with transaction.atomic():
            locked = type(self).objects.select_for_update().get(pk=self.pk)
            if not locked.is_ready:
                raise VersionError(f"Version {locked.pk} is {locked.status}; only ready versions.")
            if not locked.artifact_dir.is_dir():
                raise VersionError(f"Version {locked.pk} has no artifact files on disk.")
            type(self).objects.active().exclude(pk=locked.pk).update(is_active=False)
            locked.is_active = True
            locked.activated_at = timezone.now()
            locked.save(update_fields=["is_active", "activated_at", "updated_at"])
            # This process picks the new version up at once (loading.py listens); the others
            # within RECS_VERSION_CHECK_SECONDS.
            transaction.on_commit(lambda: version_activated.send(sender=type(self), version=self))
        self.is_active, self.activated_at = True, locked.activated_at
        return self

    def delete_with_files(self) -> None:
        """Delete this version and its files. The active one and a build in progress cannot be
        deleted (the first is being served, the second is writing)."""
        if self.is_active:
            raise VersionError(f"Version {self.pk} is active; activate another one first.")
        if self.is_in_progress:
            raise VersionError(f"Version {self.pk} is still {self.status}.")
        path = self.artifact_dir
        self.delete()
        remove_dir(path)
        remove_dir(staging_dir(path))  # left by a fanned-out build that was killed


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

    class Source(models.TextChoices):
        # A ratings file (MovieLens): the version's parameters, not its catalog or members.
        DATASET = "dataset", "dataset"
        # The version's own catalog and this site's ratings (temporal split per member).
        SITE = "site", "this site's ratings"

    source = models.CharField(max_length=16, choices=Source.choices, default=Source.DATASET)
    dataset_name = models.CharField(max_length=200, blank=True, default="")
    dataset_checksum = models.CharField(
        max_length=64, blank=True, default="", help_text="sha256 of the ratings file"
    )

    objects = EvaluationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"Evaluation {self.pk} of version {self.model_version_id}"

    @property
    def measured_on(self) -> str:
        """What the figures measured, as the admin says it."""
        if self.source == self.Source.SITE:
            return f"this site's ratings, version {self.model_version_id}"
        return f"{self.dataset_name or 'a ratings file'} (dataset)"

    def metric(self, name: str, strategy: str = "production") -> float | None:
        value = (self.metrics.get(strategy) or {}).get(name)
        return float(value) if value is not None else None

    @property
    def production_ndcg(self) -> float | None:
        return self.metric("ndcg")

    @property
    def production_hit_rate(self) -> float | None:
        return self.metric("hit_rate")
