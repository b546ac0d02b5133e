"""manage.py evaluate: offline quality of the recommenders on a MovieLens-format ratings file.

Thin wrapper: the protocol and the metrics live in ``recommendations/evaluation.py`` (pure,
tested without a database); the strategies come from ``recommendations/strategies.py``, the
one registry the site serves from too. Reads only files, never the site's database -- unless
``--model-version ID`` or ``--record`` (the active version) is given: then the run uses that
version's TF-IDF and hybrid parameters and is saved as an ``Evaluation`` of it, shown on the
model version's admin page. See docs/evaluation.md.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from recommendations import (
    evaluation,
    evaluation_items,
    evaluation_reasons,
    hybrid,
    strategies,
    tfidf,
)
from recommendations.evaluations import (
    SiteEvaluationError,
    dataset_identity,
    evaluate_site,
    record_evaluation,
)
from recommendations.models import ModelVersion

METRICS = ("precision", "recall", "ndcg", "hit_rate", "coverage")


class Command(BaseCommand):
    help = (
        "Evaluate the recommenders offline on MovieLens ratings (temporal 80/20 split per user) "
        "and write a JSON report, a per-user CSV and a PNG chart."
    )

    def add_arguments(self, parser):
        data = Path(settings.SHARED_DATA_DIR)
        parser.add_argument(
            "--ratings", type=Path, default=data / "movielens-small" / "ratings.csv"
        )
        parser.add_argument("--links", type=Path, default=data / "movielens-small" / "links.csv")
        parser.add_argument(
            "--tmdb", type=Path, default=data / "tmdb-5000-partial" / "movie_details.jsonl"
        )
        parser.add_argument(
            "--out", type=Path, default=Path("eval-output"), help="folder for the outputs"
        )
        parser.add_argument(
            "--per-user", type=Path, default=None, help="per-user CSV (default: OUT/per_user.csv)"
        )
        parser.add_argument(
            "--strategies",
            default=",".join(strategies.evaluation_names()),
            help=f"comma-separated, from: {', '.join(strategies.evaluation_names())}",
        )
        defaults = evaluation.ProtocolParams()
        parser.add_argument("--k", type=int, default=defaults.k, help="list length (10)")
        parser.add_argument(
            "--min-ratings",
            type=int,
            default=defaults.min_ratings,
            help="users need this many catalog ratings (10)",
        )
        parser.add_argument(
            "--history-fraction",
            type=float,
            default=defaults.history_fraction,
            help="share of each user's ratings (oldest first) used as history (0.8)",
        )
        parser.add_argument(
            "--relevant-threshold",
            type=float,
            default=defaults.relevant_threshold,
            help="a test rating at least this is relevant (4.0)",
        )
        parser.add_argument("--no-chart", action="store_true", help="skip the PNG chart")
        parser.add_argument(
            "--no-item-to-item",
            action="store_true",
            help="skip the item-to-item table (More like this, hit rate@12)",
        )
        parser.add_argument(
            "--no-predictions",
            action="store_true",
            help="skip the rating-prediction table (RMSE / MAE)",
        )
        record = parser.add_mutually_exclusive_group()
        record.add_argument(
            "--model-version",
            type=int,
            default=None,
            metavar="ID",
            help="evaluate with this model version's parameters and save the result on it",
        )
        record.add_argument(
            "--record",
            action="store_true",
            help="same as --model-version with the active version",
        )
        parser.add_argument(
            "--site",
            action="store_true",
            help=(
                "evaluate the active version (or --model-version ID) on its own catalog and "
                "this site's ratings (temporal split per member) and record it; no files read"
            ),
        )

    def handle(self, *args, **opts):
        if opts["site"]:
            return self._site(opts)
        known = strategies.evaluation_names()
        names = [s.strip() for s in opts["strategies"].split(",") if s.strip()]
        unknown = [s for s in names if s not in known]
        if not names or unknown:
            raise CommandError(
                f"Unknown strategy {', '.join(unknown) or '(none given)'}; "
                f"choose from: {', '.join(known)}"
            )
        for key in ("ratings", "links", "tmdb"):
            if not Path(opts[key]).is_file():
                raise CommandError(f"--{key} file not found: {opts[key]}")
        if opts["k"] < 1 or opts["min_ratings"] < 2:
            raise CommandError("--k must be >= 1 and --min-ratings >= 2.")
        if not 0 < opts["history_fraction"] < 1:
            raise CommandError("--history-fraction must be between 0 and 1 (exclusive).")
        version = self._version(opts)
        tfidf_params = hybrid_params = None
        if version is not None:
            try:
                tfidf_params = tfidf.TfidfParams.from_dict(version.params)
                hybrid_params = (
                    hybrid.HybridParams.from_dict(version.hybrid_params)
                    if version.hybrid_params
                    else hybrid.HybridParams()  # built before the hybrid: its defaults
                )
            except (tfidf.TfidfError, hybrid.HybridError, TypeError) as exc:
                raise CommandError(f"Version {version.pk} has unusable parameters: {exc}") from exc
        protocol = evaluation.ProtocolParams(
            min_ratings=opts["min_ratings"],
            history_fraction=opts["history_fraction"],
            relevant_threshold=opts["relevant_threshold"],
            k=opts["k"],
        )

        started = time.perf_counter()
        try:
            catalog = evaluation.load_catalog(links_path=opts["links"], tmdb_path=opts["tmdb"])
            ratings = evaluation.load_ratings(ratings_path=opts["ratings"], catalog=catalog)
        except (ValueError, KeyError) as exc:
            raise CommandError(f"Could not read the input files: {exc}") from exc
        if len(catalog) == 0:
            raise CommandError("The catalog is empty: no links.csv movie has TMDB metadata.")
        splits = evaluation.split_users(ratings, protocol)
        if not splits:
            raise CommandError(
                f"No user has >= {protocol.min_ratings} catalog ratings and a relevant test item."
            )
        self.stdout.write(
            f"Catalog {len(catalog)} movies, {len(ratings.rows)} ratings on them, "
            f"{len(splits)} users evaluated."
        )
        ctx = evaluation.make_context(
            catalog, splits, k=protocol.k, tfidf_params=tfidf_params, hybrid_params=hybrid_params
        )

        results = []
        bar = tqdm(names, unit="strategy", disable=opts["verbosity"] < 1, file=self.stderr)
        for name in bar:
            bar.set_description(name)
            results.append(strategies.get(name).evaluate(ctx))
        predictions = [] if opts["no_predictions"] else evaluation.evaluate_predictions(ctx)
        items = [] if opts["no_item_to_item"] else item_to_item(ctx, protocol)
        checks = [
            evaluation_reasons.check_lists(ctx, name, **LIST_CHECKED[name])
            for name in names
            if name in LIST_CHECKED
        ]
        elapsed = time.perf_counter() - started

        out: Path = opts["out"]
        out.mkdir(parents=True, exist_ok=True)
        per_user_path = opts["per_user"] or out / "per_user.csv"
        per_user_path.parent.mkdir(parents=True, exist_ok=True)
        report = {r.strategy: {k: v for k, v in r.summary().items()} for r in results}
        if predictions:
            # Its own file: report.json (and a saved Evaluation) holds ranking metrics only.
            (out / "predictions.json").write_text(
                json.dumps({p.predictor: p.summary() for p in predictions}, indent=2) + "\n"
            )
        (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        if items:
            # Its own file too: a saved Evaluation holds the per-user ranking metrics only.
            (out / "item_to_item.json").write_text(
                json.dumps({r.ranker: r.summary() for r in items}, indent=2) + "\n"
            )
        if checks:
            (out / "list_checks.json").write_text(
                json.dumps({c.strategy: c.summary() for c in checks}, indent=2) + "\n"
            )
        meta = {
            "generated_at": timezone.now().isoformat(timespec="seconds"),
            "ratings": str(opts["ratings"]),
            "links": str(opts["links"]),
            "tmdb": str(opts["tmdb"]),
            "catalog_size": len(catalog),
            "protocol": protocol.__dict__,
            "seconds": round(elapsed, 1),
        }
        (out / "run.json").write_text(json.dumps(meta, indent=2) + "\n")
        with open(per_user_path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["user_id", "strategy", "precision", "recall", "ndcg", "hit"])
            for r in results:
                for user_id, m in r.per_user:
                    writer.writerow(
                        [user_id, r.strategy, f"{m.precision:.6f}", f"{m.recall:.6f}",
                         f"{m.ndcg:.6f}", m.hit]
                    )  # fmt: skip
        chart = None
        if not opts["no_chart"]:
            chart = out / "evaluation.png"
            write_chart(results, chart, k=protocol.k, users=len(splits))

        if version is not None:
            dataset_name, dataset_checksum = dataset_identity(opts["ratings"])
            record = record_evaluation(
                dataset_name=dataset_name,
                dataset_checksum=dataset_checksum,
                version=version,
                metrics=report,
                protocol=dict(protocol.__dict__),
                params={
                    "tfidf": ctx.tfidf_model.params.to_dict(),
                    "hybrid": ctx.hybrid_params.to_dict(),
                },
                input_files={key: str(opts[key]) for key in ("ratings", "links", "tmdb")},
                catalog_size=len(catalog),
                users=len(splits),
                seconds=round(elapsed, 1),
            )
            self.stdout.write(f"Saved as evaluation {record.pk} of model version {version.pk}.")
            self.stdout.write(f"Measured on: {record.measured_on}.")
        self.stdout.write(format_table(results, k=protocol.k))
        if predictions:
            self.stdout.write("")
            self.stdout.write(format_prediction_table(predictions))
        if items:
            self.stdout.write("")
            self.stdout.write(evaluation_items.format_item_table(items))
        if checks:
            self.stdout.write("")
            self.stdout.write(format_check_table(checks))
        self.stdout.write(f"Report: {out / 'report.json'}; per user: {per_user_path}")
        if chart:
            self.stdout.write(f"Chart: {chart}")
        self.stdout.write(self.style.SUCCESS(f"Done in {elapsed:.1f} s."))

    def _site(self, opts) -> None:
        """``--site``: the service ``evaluations.evaluate_site`` (the admin action's too)."""
        if opts["model_version"] is None:
            opts = {**opts, "record": True}
        version = self._version(opts)
        protocol = evaluation.ProtocolParams(
            min_ratings=opts["min_ratings"],
            history_fraction=opts["history_fraction"],
            relevant_threshold=opts["relevant_threshold"],
            k=opts["k"],
        )
        try:
            record = evaluate_site(version, protocol=protocol)
        except SiteEvaluationError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Saved as evaluation {record.pk} of model version {version.pk}; "
            f"measured on: {record.measured_on} ({record.users} members, "
            f"{record.catalog_size} movies)."
        )
        for name, m in record.metrics.items():
            self.stdout.write(
                f"{name:<22} NDCG@{protocol.k} {m['ndcg']:.4f}  hit {m['hit_rate']:.4f}  "
                f"coverage {m['coverage']:.4f}  ILD {m.get('ild', 0):.4f}  "
                f"novelty {m.get('novelty', 0):.4f}"
            )

    def _version(self, opts) -> ModelVersion | None:
        """The version to evaluate and record on, checked before any work is done."""
        if opts["model_version"] is not None:
            version = ModelVersion.objects.filter(pk=opts["model_version"]).first()
            if version is None:
                raise CommandError(f"Model version {opts['model_version']} does not exist.")
        elif opts["record"]:
            version = ModelVersion.objects.active().first()
            if version is None:
                raise CommandError("--record: no model version is active; build one first.")
        else:
            return None
        if version.status != ModelVersion.Status.SUCCEEDED:
            raise CommandError(f"Model version {version.pk} is {version.status}, not ready.")
        return version


def item_to_item(ctx, protocol) -> list:
    """The "More like this" protocol (evaluation_items.py) with the run's TF-IDF model and the
    collaborative part and prior learnt from the histories."""
    m = ctx.tfidf_model
    arrays = hybrid.fit(
        tfidf_matrix=m.matrix,
        ratings=ctx.history,
        tmdb_popularity=evaluation.tmdb_prior_for(ctx.catalog),
        params=ctx.hybrid_params,
    )
    return evaluation_items.evaluate_item_to_item(
        splits=ctx.splits,
        matrix=m.matrix,
        row_norms=m.row_norms,
        neighbours=hybrid.neighbour_matrix(arrays),
        prior=arrays["prior"],
        like_threshold=protocol.relevant_threshold,
    )


# The strategies whose lists carry scores and reasons: the production blend's variants.
LIST_CHECKED = {
    "production": {},
    "production_two_phase": {"two_phase": True},
    "production_no_collab": {"collab": False},
}


def format_check_table(checks) -> str:
    """Tied tails (lists with more than MAX_TIED_RUN equal scores in a row) and how often the
    named "because" movie is the leave-one-out top contributor (sampled users)."""
    run = evaluation_reasons.MAX_TIED_RUN
    head = f"{'strategy':<22} {'lists':>6} {f'ties>{run}':>7} {'named':>6} {'named=top':>10}"
    lines = [head, "-" * len(head)]
    for c in checks:
        share = f"{c.named_top / c.named:.1%}" if c.named else "-"
        lines.append(f"{c.strategy:<22} {c.lists:>6} {c.tied_lists:>7} {c.named:>6} {share:>10}")
    return "\n".join(lines)


def format_table(results, *, k: int) -> str:
    head = f"{'strategy':<22} {'P@' + str(k):>8} {'R@' + str(k):>8} {'NDCG@' + str(k):>9} "
    head += f"{'hit@' + str(k):>8} {'coverage':>9} {'users':>6}"
    head += f" {'ILD':>7} {'novelty':>8}"
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.strategy:<22} {r.precision:>8.4f} {r.recall:>8.4f} {r.ndcg:>9.4f} "
            f"{r.hit_rate:>8.4f} {r.coverage:>9.4f} {r.users:>6}" + _diversity_cells(r)
        )
    return "\n".join(lines)


def _diversity_cells(r) -> str:
    """ILD (mean 1 - TF-IDF cosine within a list) and novelty (bits), or blanks."""
    if getattr(r, "ild", None) is None:
        return f" {'-':>7} {'-':>8}"
    return f" {r.ild:>7.4f} {r.novelty:>8.4f}"


def format_prediction_table(results) -> str:
    """The rating predictor against the user's and the item's mean, on the test ratings."""
    head = f"{'predictor':<22} {'RMSE':>8} {'MAE':>8} {'ratings':>8}"
    lines = [head, "-" * len(head)]
    for p in results:
        lines.append(f"{p.predictor:<22} {p.rmse:>8.4f} {p.mae:>8.4f} {p.ratings:>8}")
    return "\n".join(lines)


def write_chart(results, path: Path, *, k: int, users: int) -> None:
    """Grouped bars: one group per metric, one bar per strategy."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers/CI
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(10, 4.8), dpi=110)
    width = 0.8 / max(1, len(results))
    x = np.arange(len(METRICS))
    for i, r in enumerate(results):
        values = [getattr(r, m) for m in METRICS]
        ax.bar(x + i * width - 0.4 + width / 2, values, width, label=r.strategy)
    ax.set_xticks(x, [f"{m}@{k}" if m != "coverage" else m for m in METRICS])
    ax.set_ylabel("score")
    ax.set_title(f"Offline evaluation ({users} MovieLens users, temporal 80/20 split)")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
