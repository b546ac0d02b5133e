"""manage.py build_tfidf: build (and by default activate) a new model version (TF-IDF + hybrid)."""

from __future__ import annotations

import argparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from recommendations import building, builds, tfidf
from recommendations.errors import BuildAlreadyRunning
from recommendations.models import ModelVersion


class Command(BaseCommand):
    help = (
        "Build a new model version (TF-IDF + hybrid) from the catalog, in this process: the "
        "same service (recommendations.builds.build_model) the Celery task runs for the admin "
        "button. Defaults come from the TFIDF_* settings. A build whose process was killed "
        "stops blocking new ones once its lease is gone; to clear a stuck one by hand, see "
        "`manage.py tfidf_versions --mark-failed ID`."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--activate",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="activate the new version when it is ready (default: yes)",
        )
        parser.add_argument("--max-features", type=int, default=None)
        parser.add_argument(
            "--min-df", type=_number, default=None, help="count (2) or share (0.01)"
        )
        parser.add_argument("--max-df", type=_number, default=None, help="count or share (0.8)")
        parser.add_argument("--ngram-max", type=int, default=None, help="longest n-gram (2)")
        parser.add_argument("--no-stop-words", action="store_true", help="keep English stop words")
        parser.add_argument(
            "--prune",
            action="store_true",
            help=f"afterwards delete old inactive versions (keeps {settings.RECS_KEEP_VERSIONS})",
        )

    def handle(self, *args, **opts):
        base = building.default_params()
        try:
            params = tfidf.TfidfParams(
                max_features=opts["max_features"]
                if opts["max_features"] is not None
                else base.max_features,
                stop_words=None if opts["no_stop_words"] else base.stop_words,
                ngram_range=(
                    1,
                    opts["ngram_max"] if opts["ngram_max"] is not None else base.ngram_range[1],
                ),
                min_df=opts["min_df"] if opts["min_df"] is not None else base.min_df,
                max_df=opts["max_df"] if opts["max_df"] is not None else base.max_df,
                norm=base.norm,
            )
        except tfidf.InvalidParamsError as exc:
            raise CommandError(f"Bad vectorizer parameters: {exc}") from exc

        bar = tqdm(total=0, unit="movie", disable=opts["verbosity"] < 1, file=self.stderr)

        # The build reports several stages; name each stage's unit so the rate reads right.
        # The stage is tracked here, not read back from the bar: a disabled bar (-v 0) has none.
        units = {"Reading the catalog": "movie", "Reading ratings": "rating"}
        stage = {"name": None}

        def progress(current: int, total: int, message: str) -> None:
            if stage["name"] != message:
                stage["name"] = message
                bar.unit = units.get(message, "step")
                bar.reset(total=total)
                bar.set_description(message, refresh=False)
            bar.n = current
            bar.refresh()

        try:
            version = builds.build_model(
                triggered_by="command:build_tfidf",
                params=params,
                activate=opts["activate"],
                progress=progress,
            )
        except BuildAlreadyRunning as exc:
            raise CommandError(str(exc)) from exc
        except tfidf.TfidfError as exc:
            raise CommandError(f"Build failed: {exc}") from exc
        except Exception as exc:
            raise CommandError(f"Build failed ({type(exc).__name__}): {exc}") from exc
        finally:
            bar.close()

        self.stdout.write(
            self.style.SUCCESS(
                f"Model version {version.pk} ready{' and active' if version.is_active else ''}."
            )
        )
        min_df = version.min_df_used
        min_df_text = f"{min_df:g}"
        if min_df != float(params.min_df):
            min_df_text += f" (fell back from {params.min_df}: vocabulary too small)"
        for label, value in [
            ("movies", version.movie_count),
            ("vocabulary", version.vocabulary_size),
            ("non-zeros", version.nnz),
            ("min_df used", min_df_text),
            (
                "site ratings",
                f"{version.site_ratings} from {version.site_users} users "
                f"on {version.rated_items} movies (hybrid)",
            ),
            ("collaborative", _collab_text(version)),
            ("build seconds", f"{version.build_seconds:.2f}"),
            ("artifacts", version.artifact_dir),
        ]:
            self.stdout.write(f"  {label:<14} {value}")
        if opts["prune"]:
            pruned = ModelVersion.objects.prune()
            self.stdout.write(f"Pruned {pruned} old version(s).")


def _collab_text(version) -> str:
    if not version.hybrid_params.get("collab", True):
        return "off (RECS_COLLABORATIVE=false): content + popularity"
    if not version.cf_neighbours:
        return "nothing learned yet (fewer than two rated movies)"
    return f"{version.cf_neighbours} neighbour entries"


def _number(text: str) -> int | float:
    """``2`` -> 2 (a document count), ``0.5`` -> 0.5 (a share of documents)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
