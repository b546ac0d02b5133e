"""The site's user model.

A custom user from day one (Django's advice): onboarding state, preferences and imports hang
off it. Accounts created by dataset imports (``import_movielens --ratings``) are marked with
``dataset`` and have no usable password, so they can never log in nor collide with a person's
account, whatever their username.
"""

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils import timezone

from netflixrecs.jobs.models import Job, JobQuerySet, JobStatus


class UserQuerySet(models.QuerySet):
    def people(self):
        """Accounts of real people (not imported dataset users)."""
        return self.filter(dataset="")

    def from_dataset(self, dataset: str):
        return self.filter(dataset=dataset)


class Manager(UserManager.from_queryset(UserQuerySet)):
    pass


class User(AbstractUser):
    # "" for people who signed up; e.g. "movielens" for users imported with a dataset's
    # ratings. Imported users are keyed by (dataset, dataset_user_id), never by username.
    dataset = models.CharField(max_length=32, blank=True, default="", db_index=True)
    dataset_user_id = models.PositiveBigIntegerField(null=True, blank=True)

    objects = Manager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "dataset_user_id"],
                condition=~Q(dataset=""),
                name="user_unique_dataset_id",
            ),
            models.CheckConstraint(
                condition=Q(dataset="", dataset_user_id__isnull=True)
                | (~Q(dataset="") & Q(dataset_user_id__isnull=False)),
                name="user_dataset_id_pairs",
            ),
        ]

    @property
    def is_dataset_user(self) -> bool:
        return bool(self.dataset)


class RatingImport(Job):
    """One ratings import: the parsed and matched upload waiting for confirmation (status
    ``preview``), then its application (queued → running → succeeded / failed).

    The upload is parsed and matched once, at preview time; ``plan`` holds what confirming
    writes (movie ids and half-star scores), ``report`` what the preview shows. A preview is
    not in progress (the job base's single-flight and stale expiry ignore it), expires after
    ``ACCOUNT_IMPORT_PREVIEW_HOURS`` and is confirmed by one conditional UPDATE, so confirming
    twice does nothing the second time. One import per person applies at a time (single-flight
    key ``user:<id>``).
    """

    PREVIEW = "preview"
    STATUS_CHOICES = [(PREVIEW, "Preview"), *JobStatus.choices]

    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=PREVIEW)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rating_imports"
    )
    filename = models.CharField(max_length=255, blank=True)
    file_format = models.CharField(max_length=16)
    encoding = models.CharField(max_length=16, default="utf-8")
    rows_total = models.PositiveIntegerField(default=0, help_text="data rows in the file")
    # [[movie_id, "4.5" or null, watchlist (bool)], ...]: what confirming writes.
    plan = models.JSONField(default=list, blank=True)
    # What the preview shows: counts and the first rows of each kind (see services.imports).
    report = models.JSONField(default=dict, blank=True)
    expires_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    watchlisted = models.PositiveIntegerField(default=0)

    objects = JobQuerySet.as_manager()

    class Meta(Job.Meta):
        ordering = ["-created_at"]
        verbose_name = "ratings import"
        indexes = [models.Index(fields=["user", "-created_at"], name="ratingimport_user_recent")]

    def __str__(self) -> str:
        return f"Ratings import #{self.pk} by {self.user_id} ({self.status})"

    @property
    def is_preview(self) -> bool:
        return self.status == self.PREVIEW

    @property
    def is_expired(self) -> bool:
        return self.is_preview and self.expires_at <= timezone.now()
