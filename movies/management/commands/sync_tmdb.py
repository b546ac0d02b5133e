"""manage.py sync_tmdb --pages N [--rebuild]: load popular movies from TMDB.

Runs in this process (no Celery) as one SyncRun with one chunk, shown in the admin like the
Celery syncs; refused while another sync is queued or running."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from movies.errors import CatalogError
from movies.models import SyncRun
from movies.services import sync_runs


class Command(BaseCommand):
    help = (
        "Fetch N pages of TMDB's popular movies (20 a page) with keywords and credits and "
        "upsert them; --rebuild then queues a recommendation model rebuild. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--pages",
            type=int,
            default=None,
            help=f"pages of popular movies (default TMDB_SYNC_PAGES={settings.TMDB_SYNC_PAGES})",
        )
        parser.add_argument("--start-page", type=int, default=1, help="first page (default 1)")
        parser.add_argument(
            "--rebuild", action="store_true", help="rebuild the recommendation model afterwards"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, pages, start_page, rebuild, no_progress, verbosity, **options):
        pages = settings.TMDB_SYNC_PAGES if pages is None else pages
        if pages < 1:
            raise CommandError("--pages must be at least 1.")
        if not 1 <= start_page <= 500:
            raise CommandError("--start-page must be between 1 and 500 (TMDB's last page).")
        if not (settings.TMDB_READ_TOKEN or settings.TMDB_API_KEY):
            raise CommandError(
                "TMDB is not configured: set TMDB_READ_TOKEN (v4 read token) or TMDB_API_KEY."
            )

        # The run is recorded like the Celery ones, so the admin shows command syncs too.
        try:
            run = sync_runs.begin_sync_run(
                triggered_by="manage.py sync_tmdb",
                pages=pages,
                start_page=start_page,
                rebuild=rebuild,
            )
        except CatalogError as exc:
            raise CommandError(str(exc)) from exc
        bar = tqdm(
            total=pages * 20,
            unit="movie",
            desc="TMDB sync",
            disable=no_progress or verbosity == 0,
            file=self.stderr._out,
        )

        def progress(done: int, total: int, message: str) -> None:
            bar.total = total
            bar.update(done - bar.n)
            bar.set_postfix_str(message, refresh=False)

        try:
            summary = sync_runs.run_chunk(
                run=run, start_page=start_page, pages=pages, on_progress=progress
            )
        except KeyboardInterrupt:
            run.fail("interrupted; run the command again to finish (it is idempotent)")
            sync_runs.finish_sync(run_id=run.pk)
            raise CommandError(f"TMDB sync stopped: {run.error}") from None
        finally:
            bar.close()

        self.stdout.write(f"Pages fetched: {summary.pages} of {pages}")
        self.stdout.write(f"Movies: {summary}")
        for what, message in summary.failures[:20]:
            self.stdout.write(self.style.WARNING(f"  failed {what}: {message}"))
        if summary.failed > 20:
            self.stdout.write(f"  ... and {summary.failed - 20} more (see the sync run in admin)")

        run = sync_runs.finish_sync(run_id=run.pk)
        if run.status == SyncRun.Status.FAILED:
            raise CommandError(f"TMDB sync stopped: {run.error}")
        if rebuild:
            self.stdout.write(run.message.split("; ", 1)[-1])
        self.stdout.write(self.style.SUCCESS(f"TMDB sync #{run.pk} done: {summary}"))
