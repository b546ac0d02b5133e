"""manage.py tfidf_versions: list model versions, activate one (rollback), prune old ones."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from recommendations import services
from recommendations.models import ModelVersion


class Command(BaseCommand):
    help = "List TF-IDF model versions; --activate ID to roll back or forward; --prune KEEP."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--activate", type=int, metavar="ID", help="make version ID active")
        group.add_argument(
            "--prune",
            type=int,
            metavar="KEEP",
            help="delete failed versions and all but the newest KEEP inactive ready ones",
        )

    def handle(self, *args, activate=None, prune=None, **opts):
        if activate is not None:
            version = ModelVersion.objects.filter(pk=activate).first()
            if version is None:
                raise CommandError(f"There is no model version {activate}.")
            try:
                services.activate_version(version=version)
            except services.VersionError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(self.style.SUCCESS(f"Version {activate} is now active."))
        elif prune is not None:
            if prune < 0:
                raise CommandError("--prune needs a number of versions to keep (0 or more).")
            deleted = services.prune_versions(keep=prune)
            self.stdout.write(self.style.SUCCESS(f"Pruned {deleted} version(s)."))
        for v in ModelVersion.objects.order_by("-id"):
            self.stdout.write(
                f"{'*' if v.is_active else ' '} {v.pk:>5}  {v.status:<8} "
                f"{v.movie_count or '-':>8} movies  vocab {v.vocabulary_size or '-':>6}  "
                f"{v.created_at:%Y-%m-%d %H:%M}  {v.triggered_by}"
                + (f"  [{v.error[:60]}]" if v.error else "")
            )
