"""Saved offline evaluations of model versions (``manage.py evaluate --model-version/--record``).

The evaluation itself is :mod:`recommendations.evaluation` (pure) with the strategies of
:mod:`recommendations.strategies`; this module stores a run's report on the version it measured,
where the admin shows it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import numpy as np

from movies.models import Rating

from . import building, evaluation, hybrid, loading, strategies, tfidf
from .artifacts import ArtifactError
from .errors import RecommenderError
from .models import Evaluation, ModelVersion

logger = logging.getLogger(__name__)

# The admin column shows this strategy's NDCG / hit rate (what the site serves).
PRODUCTION = "production"


def record_evaluation(
    *,
    version: ModelVersion,
    metrics: dict,
    protocol: dict,
    params: dict,
    input_files: dict,
    catalog_size: int,
    users: int,
    seconds: float,
    source: str = Evaluation.Source.DATASET,
    dataset_name: str = "",
    dataset_checksum: str = "",
) -> Evaluation:
    """Save one offline evaluation of ``version``, with what it was measured on."""
    if PRODUCTION not in metrics:
        # The admin column shows production NDCG / hit rate; say so rather than store a gap.
        logger.info("Evaluation of version %s has no production strategy", version.pk)
    return Evaluation.objects.create(
        model_version=version,
        metrics=metrics,
        protocol=protocol,
        params=params,
        input_files=input_files,
        catalog_size=catalog_size,
        users=users,
        seconds=seconds,
        source=source,
        dataset_name=dataset_name,
        dataset_checksum=dataset_checksum,
    )


def dataset_identity(ratings_path: Path) -> tuple[str, str]:
    """(name, sha256) of a ratings file: "MovieLens <folder>" and the file's checksum."""
    digest = hashlib.sha256()
    with open(ratings_path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return f"MovieLens {Path(ratings_path).resolve().parent.name}", digest.hexdigest()


# What a site evaluation measures: the served blend and the baselines it must beat.
SITE_STRATEGIES = ("popularity", "content_tfidf", "production", "production_mmr")


class SiteEvaluationError(RecommenderError):
    """The site evaluation cannot run (too few ratings, unusable version); nothing recorded."""


def site_ratings(movie_ids: np.ndarray) -> evaluation.Ratings:
    """Every site rating on ``movie_ids`` as evaluation ratings; time = the rating's last edit
    (the rating a member holds now was given then)."""
    index = {int(m): i for i, m in enumerate(movie_ids)}
    users, rows, scores, stamps = [], [], [], []
    query = Rating.objects.order_by().values_list("user_id", "movie_id", "score", "updated_at")
    for user_id, movie_id, score, updated in query.iterator(chunk_size=5000):
        row = index.get(movie_id)
        if row is None:
            continue
        users.append(user_id)
        rows.append(row)
        scores.append(float(score))
        stamps.append(int(updated.timestamp() * 1_000_000))
    return evaluation.Ratings(
        user_ids=np.asarray(users, dtype=np.int64),
        rows=np.asarray(rows, dtype=np.int64),
        scores=np.asarray(scores, dtype=np.float64),
        timestamps=np.asarray(stamps, dtype=np.int64),
    )


def evaluate_site(
    version: ModelVersion,
    *,
    protocol: evaluation.ProtocolParams | None = None,
    names: tuple[str, ...] = SITE_STRATEGIES,
) -> Evaluation:
    """Evaluate ``version`` on its own catalog and this site's ratings, and record it.

    The same protocol and metrics as ``manage.py evaluate`` (temporal split per member: each
    member's latest ratings are held out), the version's TF-IDF and hybrid parameters, the
    catalog = the movies the version was built on that are still in the database. Raises
    :class:`SiteEvaluationError` (nothing recorded) when too few members qualify.
    """
    protocol = protocol or evaluation.ProtocolParams()
    if version.status != ModelVersion.Status.SUCCEEDED:
        raise SiteEvaluationError(f"Model version {version.pk} is {version.status}, not ready.")
    try:
        tfidf_params = tfidf.TfidfParams.from_dict(version.params)
        hybrid_params = (
            hybrid.HybridParams.from_dict(version.hybrid_params)
            if version.hybrid_params
            else hybrid.HybridParams()
        )
        version_ids = loading.load_version(version).movie_ids
    except (tfidf.TfidfError, hybrid.HybridError, TypeError, ArtifactError) as exc:
        raise SiteEvaluationError(f"Version {version.pk} cannot be evaluated: {exc}") from exc
    started = time.perf_counter()
    ids, soups = building.catalog_soups()
    keep = np.isin(ids, version_ids)
    ids, soups = ids[keep], [s for s, k in zip(soups, keep, strict=True) if k]
    meta = building.catalog_metadata(movie_ids=ids)
    catalog = evaluation.Catalog(
        [
            evaluation.CatalogItem(
                movielens_id=int(pk), tmdb_id=0, title="", genres=(), keywords=(), overview="",
                popularity=float(meta.popularity[i]), vote_count=int(meta.vote_count[i]),
                vote_average=float(meta.vote_average[i]),
            )
            for i, pk in enumerate(ids)
        ]
    )  # fmt: skip
    ratings = site_ratings(ids)
    splits = evaluation.split_users(ratings, protocol)
    if not splits:
        raise SiteEvaluationError(
            f"Too few ratings to evaluate version {version.pk} on this site: no member has "
            f">= {protocol.min_ratings} ratings on its catalog with a liked (>= "
            f"{protocol.relevant_threshold}) one among the latest; {len(ratings.rows)} ratings "
            "in all. Nothing was recorded."
        )
    ctx = evaluation.EvalContext(
        catalog=catalog,
        splits=splits,
        history=evaluation.history_matrix(splits, len(catalog)),
        k=protocol.k,
        tfidf_model=tfidf.fit_tfidf(soups, tfidf_params),
        hybrid_params=hybrid_params,
    )
    results = [strategies.get(name).evaluate(ctx) for name in names]
    return record_evaluation(
        version=version,
        metrics={r.strategy: r.summary() for r in results},
        protocol=dict(protocol.__dict__),
        params={"tfidf": ctx.tfidf_model.params.to_dict(), "hybrid": hybrid_params.to_dict()},
        input_files={},
        catalog_size=len(catalog),
        users=len(splits),
        seconds=round(time.perf_counter() - started, 1),
        source=Evaluation.Source.SITE,
        dataset_name="site",
    )
