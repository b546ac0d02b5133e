"""manage.py import_movielens DIR [--ratings]: seed the catalog (and ratings) from MovieLens."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from movies.errors import CatalogError
from movies.services.movielens import import_movielens


class Command(BaseCommand):
    help = (
        "Import a MovieLens dataset directory: movies.csv + links.csv (movies matched by "
        "MovieLens/TMDB id, never by title), tags.csv as keywords, and with --ratings the "
        "ratings as dataset users movielens:<userId> (they cannot log in). Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path, help="e.g. ../shared/data/movielens-small")
        parser.add_argument(
            "--ratings",
            action="store_true",
            help="also import ratings.csv (as dataset users)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args, directory, ratings, no_progress, verbosity, **options):
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int, total: int) -> None:
            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(
                    total=total,
                    desc=stage,
                    unit="row",
                    disable=no_progress or verbosity == 0,
                    file=self.stderr._out,
                )
            bar.update(done - bar.n)

        started = time.perf_counter()
        try:
            summary = import_movielens(directory=directory, ratings=ratings, progress=progress)
        except CatalogError as exc:
            raise CommandError(f"Cannot import {directory}: {exc}") from exc
        finally:
            for bar in bars.values():
                bar.close()
        for line in summary.lines():
            self.stdout.write(line)
        for conflict in summary.conflicts[:10]:
            self.stdout.write(self.style.WARNING(f"  skipped: {conflict}"))
        self.stdout.write(
            self.style.SUCCESS(f"MovieLens import done in {time.perf_counter() - started:.1f}s")
        )
