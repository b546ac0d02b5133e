"""manage.py sync_tmdb --pages N [--rebuild]: load popular movies from TMDB."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from movies.models import SyncRun
from movies.services import tmdb_sync
from movies.tmdb import TMDBError


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
        run = SyncRun.objects.create(
            triggered_by="manage.py sync_tmdb",
            pages=pages,
            start_page=start_page,
            rebuild=rebuild,
            status=SyncRun.Status.RUNNING,
            started_at=timezone.now(),
            chunks_total=1,
            progress_total=pages * 20,
        )
        bar = tqdm(
            total=pages * 20,
            unit="movie",
            desc="TMDB sync",
            disable=no_progress or verbosity == 0,
            file=self.stderr._out,
        )

        def progress(done: int, total: int, message: str) -> None:
            # The admin shows command runs too; one tiny UPDATE per movie is cheap next to
            # the TMDB call it reports.
            SyncRun.objects.filter(pk=run.pk).update(progress_done=done, progress_total=total)
            bar.total = total
            bar.update(done - bar.n)
            bar.set_postfix_str(message, refresh=False)

        summary = tmdb_sync.SyncSummary()
        error = None
        try:
            tmdb_sync.sync_popular(
                pages=pages, start_page=start_page, progress=progress, summary=summary
            )
        except tmdb_sync.SyncStopped as exc:
            error = str(exc)
        except TMDBError as exc:
            error = str(exc)
        except KeyboardInterrupt:
            error = "interrupted; run the command again to finish (it is idempotent)"
        finally:
            bar.close()
            if error:
                SyncRun.objects.filter(pk=run.pk).update(
                    status=SyncRun.Status.FAILED, message=error, finished_at=timezone.now()
                )
            tmdb_sync.record_chunk(run_id=run.pk, summary=summary)

        self.stdout.write(f"Pages fetched: {summary.pages} of {pages}")
        self.stdout.write(f"Movies: {summary}")
        for what, message in summary.failures[:20]:
            self.stdout.write(self.style.WARNING(f"  failed {what}: {message}"))
        if summary.failed > 20:
            self.stdout.write(f"  ... and {summary.failed - 20} more (see the sync run in admin)")
        if error:
            raise CommandError(f"TMDB sync stopped: {error}")

        run = tmdb_sync.finish_sync(run_id=run.pk)
        if rebuild:
            self.stdout.write(run.message.split("; ", 1)[-1])
        self.stdout.write(self.style.SUCCESS(f"TMDB sync #{run.pk} done: {summary}"))
