"""manage.py load_demo [FILE ...]: load the embedded demo catalog (movies/demo/*.json).

Every entry is validated before anything is written, and each film goes through the one
upsert (``upsert_movie``), so running the command twice changes nothing; the summary line
says how many films were created, updated or already up to date.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from movies.errors import CatalogError
from movies.services.demo import load_demo_catalog


class Command(BaseCommand):
    help = (
        "Load the demo catalog from movies/demo/*.json (or the given files). "
        "Idempotent: a second run creates and changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "files", nargs="*", type=Path, help="catalog files (default: every movies/demo/*.json)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, files, no_progress, verbosity, **options):
        bars: list[tqdm] = []

        def progress(done: int, total: int) -> None:
            # Created on the first film, so a catalog refused by validation draws no bar.
            if not bars:
                bars.append(
                    tqdm(
                        total=total,
                        desc="demo catalog",
                        unit="movie",
                        disable=no_progress or verbosity == 0,
                        file=self.stderr._out,
                    )
                )
            bars[0].update(done - bars[0].n)

        try:
            summary = load_demo_catalog(paths=files or None, progress=progress)
        except CatalogError as exc:
            raise CommandError(f"Demo catalog not loaded, nothing changed.\n{exc}") from exc
        finally:
            for bar in bars:
                bar.close()
        style = self.style.SUCCESS if summary.changed_anything else self.style.NOTICE
        self.stdout.write(style(summary.line()))
