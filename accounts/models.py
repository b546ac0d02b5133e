"""The site's user model.

A custom user from day one (Django's advice): onboarding state, preferences and imports hang
off it. Accounts created by dataset imports (``import_movielens --ratings``) are marked with
``dataset`` and have no usable password, so they can never log in nor collide with a person's
account, whatever their username.
"""

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q


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
