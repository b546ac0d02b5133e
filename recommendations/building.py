"""Catalog and ratings into matrices: what one model build learns from.

Pure reads of the database into numpy/scipy (no model-version rows, no files): the TF-IDF soups
of the catalog, the site's ratings as a CSR, the TMDB prior, and the hybrid fitted on them.
:mod:`recommendations.builds` runs these in order and stores the result as a version.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.db.models import FloatField
from django.db.models.functions import Cast

from movies.models import Credit, Movie, Rating

from . import hybrid, predict, tfidf

ProgressFn = Callable[[int, int, str], None]

# The catalog is read in chunks of this many movies (by primary key) for the soups.
CATALOG_CHUNK = 50_000
# Ratings are read from the database in chunks of this many rows (values only, no objects).
RATINGS_CHUNK = 50_000
# Progress steps of a build after reading the catalog: TF-IDF, hybrid, writing artifacts.
STEPS = 3


def default_params() -> tfidf.TfidfParams:
    """The vectorizer parameters from settings (TFIDF_*)."""
    return tfidf.TfidfParams(
        max_features=settings.TFIDF_MAX_FEATURES,
        stop_words=settings.TFIDF_STOP_WORDS,
        ngram_range=(1, settings.TFIDF_NGRAM_MAX),
        min_df=settings.TFIDF_MIN_DF,
        max_df=settings.TFIDF_MAX_DF,
    )


# --- Catalog -> soups ---------------------------------------------------------------------


def catalog_soups(
    *, progress: ProgressFn | None = None, chunk: int | None = None
) -> tuple[np.ndarray, list[str]]:
    """``(movie_ids ascending, soups)`` for the whole catalog.

    Read in chunks of ``chunk`` movies (``CATALOG_CHUNK``) by primary key: per chunk one query
    each for the movies, their genres, keywords and credits (names joined in the database,
    plain values, no model instances), turned into soups before the next chunk is read. Only
    the soups outlive a chunk, so memory is the soups plus one chunk's rows, not every
    genre, keyword and credit row of the catalog at once (13 million rows at a million
    movies).
    """
    chunk = chunk or CATALOG_CHUNK
    total = Movie.objects.count()
    ids: list[int] = []
    soups: list[str] = []
    after = None
    while True:
        movies = Movie.objects.order_by("pk")
        if after is not None:
            movies = movies.filter(pk__gt=after)
        rows = list(movies.values_list("pk", "overview")[:chunk])
        if not rows:
            break
        lo, hi = rows[0][0], rows[-1][0]
        after = hi
        genres = _names_by_movie(Movie.genres.through, "genre__name", lo, hi)
        keywords = _names_by_movie(Movie.keywords.through, "keyword__name", lo, hi)
        cast: dict[int, list[str]] = defaultdict(list)
        directors: dict[int, list[str]] = defaultdict(list)
        for movie_id, kind, name in (
            Credit.objects.filter(movie_id__gte=lo, movie_id__lte=hi)
            .order_by("movie_id", "kind", "order")
            .values_list("movie_id", "kind", "person__name")
        ):
            (cast if kind == Credit.Kind.CAST else directors)[movie_id].append(name)
        for pk, overview in rows:
            ids.append(pk)
            soups.append(
                tfidf.build_soup(
                    genres=genres.get(pk, ()),
                    keywords=keywords.get(pk, ()),
                    overview=overview or "",
                    cast=cast.get(pk, ()),  # billing order; build_soup keeps the top 3
                    directors=directors.get(pk, ()),
                )
            )
        if progress:
            progress(len(ids), max(total, len(ids)), "Reading the catalog")
        if len(rows) < chunk:
            break
    if progress and not ids:
        progress(0, 0, "Reading the catalog")
    return np.array(ids, dtype=np.int64), soups


def _names_by_movie(through, name: str, lo: int, hi: int) -> dict[int, list[str]]:
    """The ``name`` of each row of the m2m table ``through`` for movies ``lo..hi``, by
    movie, in name order."""
    out: dict[int, list[str]] = defaultdict(list)
    for movie_id, value in (
        through.objects.filter(movie_id__gte=lo, movie_id__lte=hi)
        .order_by("movie_id", name)
        .values_list("movie_id", name)
    ):
        out[movie_id].append(value)
    return out


def default_hybrid_params() -> hybrid.HybridParams:
    """The hybrid's parameters from settings (RECS_COLLABORATIVE, RECS_LIKE_THRESHOLD)."""
    return hybrid.HybridParams(
        collab=settings.RECS_COLLABORATIVE, like_threshold=settings.RECS_LIKE_THRESHOLD
    )


@dataclass(frozen=True)
class SiteRatings:
    """The site's ratings as a users x model-rows CSR, and what it holds."""

    matrix: sp.csr_matrix
    users: int
    rated_items: int

    @property
    def ratings(self) -> int:
        return int(self.matrix.nnz)


def site_ratings_matrix(
    *, movie_ids: np.ndarray, progress: ProgressFn | None = None
) -> SiteRatings:
    """Every site rating as a (users x len(movie_ids)) CSR of scores; column i = movie_ids[i].

    Reads plain values in chunks (score cast to a float by the database: no model instances,
    no Decimal objects) into numpy arrays, so millions of ratings cost seconds and ~16 bytes
    each. Ratings of movies that are not in ``movie_ids`` (added after the catalog was read)
    are left out.
    """
    total = Rating.objects.count()
    query = (
        Rating.objects.order_by()
        .annotate(value=Cast("score", FloatField()))
        .values_list("user_id", "movie_id", "value")
        .iterator(chunk_size=RATINGS_CHUNK)
    )
    users, movies, scores = [], [], []
    done = 0
    while chunk := list(islice(query, RATINGS_CHUNK)):
        block = np.array(chunk, dtype=np.float64)  # ids are far below 2**53: exact
        users.append(block[:, 0].astype(np.int64))
        movies.append(block[:, 1].astype(np.int64))
        scores.append(block[:, 2].astype(np.float32))
        done += len(chunk)
        if progress:
            progress(done, max(total, done), "Reading ratings")
    n_items = len(movie_ids)
    if not done or n_items == 0:
        return SiteRatings(sp.csr_matrix((0, n_items), dtype=np.float32), 0, 0)
    user_ids, movie_col, values = (np.concatenate(a) for a in (users, movies, scores))
    pos = np.minimum(np.searchsorted(movie_ids, movie_col), n_items - 1)
    keep = movie_ids[pos] == movie_col
    user_index, user_rows = np.unique(user_ids[keep], return_inverse=True)
    matrix = sp.csr_matrix((values[keep], (user_rows, pos[keep])), shape=(len(user_index), n_items))
    matrix.sum_duplicates()  # (user, movie) is unique in the database; a no-op, kept for safety
    rated_items = int(np.count_nonzero(np.diff(matrix.tocsc().indptr)))
    return SiteRatings(matrix, users=len(user_index), rated_items=rated_items)


@dataclass(frozen=True)
class CatalogMetadata:
    """The movies' metadata numbers in model-row order (0 for a movie read after the ids)."""

    popularity: np.ndarray
    vote_count: np.ndarray
    vote_average: np.ndarray


def catalog_metadata(*, movie_ids: np.ndarray) -> CatalogMetadata:
    """Popularity, vote counts and averages of the catalog, in one query."""
    out = np.zeros((3, len(movie_ids)))
    rows = Movie.objects.order_by("pk").values_list(
        "pk", "popularity", "vote_count", "vote_average"
    )
    values = np.array(list(rows), dtype=np.float64).reshape(-1, 4)
    if len(values) and len(movie_ids):
        pos = np.minimum(np.searchsorted(movie_ids, values[:, 0]), len(movie_ids) - 1)
        found = movie_ids[pos] == values[:, 0]
        out[:, pos[found]] = values[found, 1:].T
    return CatalogMetadata(popularity=out[0], vote_count=out[1], vote_average=out[2])


def catalog_tmdb_prior(
    *, movie_ids: np.ndarray, params: hybrid.HybridParams, meta: CatalogMetadata | None = None
) -> np.ndarray:
    """``hybrid.tmdb_prior`` of the movies' TMDB vote counts and averages, in model-row order."""
    meta = meta or catalog_metadata(movie_ids=movie_ids)
    return hybrid.tmdb_prior(
        meta.vote_count, meta.vote_average, min_votes_quantile=params.tmdb_min_votes_quantile
    )


def serving_extras(*, meta: CatalogMetadata, ratings: sp.csr_matrix) -> dict[str, np.ndarray]:
    """What serving needs beside the blend: the cold-start list's prior and the rating
    predictor's baseline (``μ``, damped item biases); see ``hybrid.EXTRA_ARRAY_NAMES``."""
    stars, mean = hybrid.metadata_stars(meta.vote_count, meta.vote_average)
    mu, item_bias = predict.fit_baseline(ratings, metadata_offset=stars - mean)
    return {
        "cold_prior": hybrid.cold_start_prior(
            popularity=meta.popularity,
            vote_count=meta.vote_count,
            vote_average=meta.vote_average,
            ratings=ratings,
        ).astype(np.float32),
        "item_bias": item_bias.astype(np.float32),
        "rating_mean": np.asarray(mu, dtype=np.float64),
    }


def fit_hybrid(
    *,
    model: tfidf.TfidfModel,
    movie_ids: np.ndarray,
    params: hybrid.HybridParams,
    progress: ProgressFn | None = None,
) -> tuple[dict[str, np.ndarray], dict]:
    """Fit the hybrid on the site's ratings: ``(arrays to store, stats for the version row)``.

    With ``params.collab`` off no collaborative array is returned (the prior still uses the
    site's rating counts), so serving uses content + popularity.
    """
    site = site_ratings_matrix(movie_ids=movie_ids, progress=progress)
    if progress:
        progress(1, STEPS, "Fitting the hybrid")
    meta = catalog_metadata(movie_ids=movie_ids)
    arrays = hybrid.fit(
        tfidf_matrix=model.matrix,
        ratings=site.matrix,
        tmdb_popularity=catalog_tmdb_prior(movie_ids=movie_ids, params=params, meta=meta),
        params=params,
    )
    arrays.update(serving_extras(meta=meta, ratings=site.matrix))
    if not params.collab:
        for name in hybrid.CF_ARRAY_NAMES:
            arrays.pop(name)
    stats = {
        "hybrid_params": params.to_dict(),
        "site_ratings": site.ratings,
        "site_users": site.users,
        "rated_items": site.rated_items,
        "cf_neighbours": len(arrays.get("cf_data", ())),
    }
    return arrays, stats
