"""manage.py tfidf_versions: list model versions, activate one (rollback), prune old ones, mark
a stuck build failed."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from recommendations.errors import VersionError
from recommendations.models import ModelVersion


class Command(BaseCommand):
    help = (
        "List model versions; --activate ID to roll back or forward; --prune KEEP to delete "
        "failed versions and all but the newest KEEP inactive ready ones; --mark-failed ID to "
        "mark a stuck queued/running build failed (same as the admin action 'Mark selected "
        "stuck jobs as failed'), so a new build can start."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--activate", type=int, metavar="ID", help="make version ID active")
        group.add_argument(
            "--prune",
            type=int,
            metavar="KEEP",
            help="delete failed versions and all but the newest KEEP inactive ready ones",
        )
        group.add_argument(
            "--mark-failed",
            type=int,
            metavar="ID",
            help="mark the stuck (queued or running) build ID failed",
        )

    def handle(self, *args, activate=None, prune=None, mark_failed=None, **opts):
        if activate is not None:
            version = self._version(activate)
            try:
                version.activate()
            except VersionError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(self.style.SUCCESS(f"Version {activate} is now active."))
        elif prune is not None:
            if prune < 0:
                raise CommandError("--prune needs a number of versions to keep (0 or more).")
            deleted = ModelVersion.objects.prune(keep=prune)
            self.stdout.write(self.style.SUCCESS(f"Pruned {deleted} version(s)."))
        elif mark_failed is not None:
            version = self._version(mark_failed)
            if not version.mark_failed("Marked failed by manage.py tfidf_versions (stuck)."):
                raise CommandError(
                    f"Version {mark_failed} is {version.status}, not queued or running; left alone."
                )
            self.stdout.write(self.style.SUCCESS(f"Version {mark_failed} marked failed."))
        for v in ModelVersion.objects.order_by("-id"):
            self.stdout.write(
                f"{'*' if v.is_active else ' '} {v.pk:>5}  {v.status:<9} "
                f"{v.movie_count or '-':>8} movies  vocab {v.vocabulary_size or '-':>6}  "
                f"{v.created_at:%Y-%m-%d %H:%M}  {v.triggered_by}"
                + (f"  [{v.error[:60]}]" if v.error else "")
                + (f"  [cannot be loaded: {v.load_error[:60]}]" if v.load_error else "")
            )

    def _version(self, pk: int) -> ModelVersion:
        version = ModelVersion.objects.filter(pk=pk).first()
        if version is None:
            raise CommandError(f"There is no model version {pk}.")
        return version
