"""Content-based recommender core: TF-IDF over a movie "soup", kept sparse end to end.

Pure numpy / scipy / scikit-learn; no Django and no database ids. Everything works on *row
indices* into the fitted matrix, so the same code serves the website (services.py maps rows to
movie ids) and the offline evaluation on MovieLens + TMDB data.

Nothing here turns the matrix or a profile into a dense array: scores are a sparse
matrix-times-sparse-vector product scattered into a 1-D array of length ``n_rows`` (a test greps
this file for the dense conversions).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

# Only the first three billed actors go into the soup (reference design); callers pass cast in
# billing order and may pass more, the rest is ignored.
TOP_CAST = 3

# Everything that is not a letter or digit is removed from a name so that one person, genre or
# keyword stays ONE token ("Science Fiction" -> "ScienceFiction", "Robert Downey Jr." ->
# "RobertDowneyJr"). Removing only spaces would let the tokenizer split "Jean-Luc" in two.
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


class TfidfError(ValueError):
    """Base class for the errors this module raises with a message meant for people."""


class InvalidParamsError(TfidfError):
    """A vectorizer parameter is out of range or of the wrong type."""


class EmptyCatalogError(TfidfError):
    """There is nothing (or nothing usable) to fit the model on."""


def squash_name(name: str) -> str:
    """A multi-word name as one token: ``"Sam Worthington"`` -> ``"SamWorthington"``."""
    return _NON_WORD.sub("", name or "")


def build_soup(
    *,
    genres: Sequence[str],
    keywords: Sequence[str],
    overview: str,
    cast: Sequence[str],
    directors: Sequence[str],
) -> str:
    """The text one movie is vectorised from.

    Genre, keyword, cast and director names are squashed into single tokens
    (:func:`squash_name`); the overview is kept as prose. ``cast`` must be in billing order:
    only the first :data:`TOP_CAST` (3) names are used.
    """
    parts: list[str] = []
    parts.extend(squash_name(g) for g in genres)
    parts.extend(squash_name(k) for k in keywords)
    if overview:
        parts.append(overview.strip())
    parts.extend(squash_name(c) for c in list(cast)[:TOP_CAST])
    parts.extend(squash_name(d) for d in directors)
    return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class TfidfParams:
    """Vectorizer parameters; the defaults are the reference design.

    ``min_vocabulary``: when ``min_df`` leaves fewer terms than this (small catalogs), the fit is
    repeated with ``min_df=1`` and the result records which one was used.
    """

    max_features: int | None = 5000
    stop_words: str | None = "english"
    ngram_range: tuple[int, int] = (1, 2)
    min_df: int | float = 2
    max_df: int | float = 0.8
    norm: str | None = "l2"
    min_vocabulary: int = 10

    def __post_init__(self) -> None:
        # Lists arrive from JSON; keep the dataclass hashable and comparable.
        if isinstance(self.ngram_range, list):
            object.__setattr__(self, "ngram_range", tuple(self.ngram_range))
        self.validate()

    def validate(self) -> None:
        """Raise :class:`InvalidParamsError` with a readable message on any bad value."""

        def is_int(v) -> bool:
            return isinstance(v, int | np.integer) and not isinstance(v, bool)

        def is_num(v) -> bool:
            return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)

        if self.max_features is not None and not (is_int(self.max_features)):
            raise InvalidParamsError("max_features must be a whole number or None.")
        if self.max_features is not None and self.max_features < 1:
            raise InvalidParamsError(f"max_features must be at least 1 (got {self.max_features}).")
        if self.stop_words not in (None, "english"):
            raise InvalidParamsError(
                f"stop_words must be 'english' or None (got {self.stop_words!r})."
            )
        ng = self.ngram_range
        if (
            not isinstance(ng, tuple)
            or len(ng) != 2
            or not all(is_int(n) for n in ng)
            or not 1 <= ng[0] <= ng[1] <= 3
        ):
            raise InvalidParamsError(
                f"ngram_range must be (low, high) with 1 <= low <= high <= 3 (got {ng!r})."
            )
        for name in ("min_df", "max_df"):
            value = getattr(self, name)
            if not is_num(value):
                raise InvalidParamsError(f"{name} must be a number (got {value!r}).")
            if is_int(value):
                if value < 1:
                    raise InvalidParamsError(
                        f"{name} as a document count must be at least 1 (got {value})."
                    )
            elif not 0.0 < float(value) <= 1.0:
                raise InvalidParamsError(
                    f"{name} as a proportion of documents must be in (0, 1] (got {value})."
                )
        if is_int(self.min_df) == is_int(self.max_df) and self.min_df > self.max_df:
            raise InvalidParamsError(
                f"min_df ({self.min_df}) must not be greater than max_df ({self.max_df})."
            )
        if self.norm not in ("l2", "l1", None):
            raise InvalidParamsError(f"norm must be 'l2', 'l1' or None (got {self.norm!r}).")
        if not is_int(self.min_vocabulary) or self.min_vocabulary < 1:
            raise InvalidParamsError("min_vocabulary must be a whole number >= 1.")

    def to_dict(self) -> dict:
        """JSON-safe form (stored on the model version)."""
        d = asdict(self)
        d["ngram_range"] = list(self.ngram_range)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> TfidfParams:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise InvalidParamsError(f"Unknown TF-IDF parameter(s): {', '.join(sorted(unknown))}.")
        return cls(**data)


@dataclass
class TfidfModel:
    """A fitted model: one L2-normalised (by default) sparse row per input soup."""

    matrix: sp.csr_matrix
    feature_names: np.ndarray
    params: TfidfParams
    min_df_used: int | float
    row_norms: np.ndarray = field(repr=False)
    vectorizer: TfidfVectorizer | None = field(default=None, repr=False)

    @property
    def n_rows(self) -> int:
        return self.matrix.shape[0]

    @property
    def vocabulary_size(self) -> int:
        return self.matrix.shape[1]

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Named plain arrays that can be saved with ``np.save`` and loaded memory-mapped:
        the matrix (``data``/``indices``/``indptr``/``shape``), its term-major copy
        (``t_`` prefix), feature names and row norms."""
        return {
            **matrix_to_arrays(self.matrix),
            **matrix_to_arrays(transpose(self.matrix), prefix="t_"),
            "feature_names": self.feature_names,
            "row_norms": self.row_norms,
        }


def matrix_to_arrays(matrix: sp.csr_matrix, prefix: str = "") -> dict[str, np.ndarray]:
    m = sp.csr_matrix(matrix)
    return {
        f"{prefix}data": m.data,
        f"{prefix}indices": m.indices,
        f"{prefix}indptr": m.indptr,
        f"{prefix}shape": np.asarray(m.shape, dtype=np.int64),
    }


def matrix_from_arrays(arrays: dict[str, np.ndarray], prefix: str = "") -> sp.csr_matrix:
    """Rebuild the CSR matrix around the given (possibly memory-mapped) arrays, without copying."""
    shape = tuple(int(x) for x in arrays[f"{prefix}shape"])
    data = arrays[f"{prefix}data"]
    indices, indptr = arrays[f"{prefix}indices"], arrays[f"{prefix}indptr"]
    if len(indptr) != shape[0] + 1 or len(data) != len(indices) or int(indptr[-1]) != len(data):
        raise ValueError("CSR arrays are inconsistent (truncated or mismatched files).")
    # Constructing via the (data, indices, indptr) tuple keeps references to memory-mapped
    # arrays instead of copying them.
    return sp.csr_matrix((data, indices, indptr), shape=shape, copy=False)


def compute_row_norms(matrix: sp.csr_matrix) -> np.ndarray:
    """Euclidean norm of every row (1.0 for L2-normalised rows, 0.0 for empty ones)."""
    sq = matrix.multiply(matrix).sum(axis=1)
    return np.sqrt(np.asarray(sq, dtype=np.float64).ravel()).astype(np.float32)


def _vectorizer(params: TfidfParams, min_df: int | float) -> TfidfVectorizer:
    return TfidfVectorizer(
        max_features=params.max_features,
        stop_words=params.stop_words,
        ngram_range=params.ngram_range,
        min_df=min_df,
        max_df=params.max_df,
        norm=params.norm,
        dtype=np.float32,
    )


def fit_tfidf(soups: Sequence[str], params: TfidfParams | None = None) -> TfidfModel:
    """Fit the vectorizer on one soup per movie; row ``i`` of the matrix is ``soups[i]``.

    If ``params.min_df`` leaves an empty vocabulary or fewer than ``params.min_vocabulary``
    terms (small catalogs), the fit is repeated with ``min_df=1``; ``min_df_used`` says which.
    Raises :class:`EmptyCatalogError` when there is nothing to fit on.
    """
    params = params or TfidfParams()
    params.validate()
    soups = list(soups)
    if not soups:
        raise EmptyCatalogError("The catalog is empty: there are no movies to build a model from.")
    if not any(s and s.strip() for s in soups):
        raise EmptyCatalogError(
            "No movie has any text (genres, keywords, overview, cast or directors) to learn from."
        )

    def attempt(min_df):
        vec = _vectorizer(params, min_df)
        try:
            return vec, vec.fit_transform(soups)
        except ValueError:
            # sklearn raises when pruning leaves no terms or min_df/max_df contradict each
            # other for this many documents; both mean "try the fallback / report it".
            return vec, None

    min_df_used = params.min_df
    vec, matrix = attempt(params.min_df)
    if (matrix is None or matrix.shape[1] < params.min_vocabulary) and params.min_df != 1:
        min_df_used = 1
        vec, matrix = attempt(1)
    if matrix is None or matrix.shape[1] == 0:
        raise EmptyCatalogError(
            f"No terms left after filtering {len(soups)} movie(s) with max_df={params.max_df} "
            "and stop words; the catalog is too small or too uniform to build a model."
        )
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    matrix.sort_indices()
    return TfidfModel(
        matrix=matrix,
        feature_names=np.asarray(vec.get_feature_names_out(), dtype=str),
        params=params,
        min_df_used=min_df_used,
        row_norms=compute_row_norms(matrix),
        vectorizer=vec,
    )


# --- Scoring ------------------------------------------------------------------------------


def _sparse_col_to_1d(col: sp.spmatrix, length: int) -> np.ndarray:
    """Scatter a sparse (length x 1) product into a 1-D float array of that length."""
    coo = col.tocoo()
    coo.sum_duplicates()
    out = np.zeros(length, dtype=np.float64)
    out[coo.row] = coo.data
    return out


def user_profile(
    matrix: sp.csr_matrix, rows: Sequence[int], weights: Sequence[float]
) -> sp.csr_matrix:
    """Weighted mean of ``matrix[rows]`` as a 1 x n_features sparse row.

    ``weights`` are typically the user's ratings of the liked movies (>= 4.0).
    """
    rows_a = np.asarray(rows, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    if rows_a.ndim != 1 or len(rows_a) == 0:
        raise ValueError("A profile needs at least one row.")
    if w.shape != rows_a.shape:
        raise ValueError("rows and weights must have the same length.")
    if np.any(w <= 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be positive numbers.")
    n = matrix.shape[0]
    if rows_a.min() < 0 or rows_a.max() >= n:
        raise ValueError("a row index is outside the matrix.")
    # (1 x k) weights times the k selected rows: touches only the liked rows, never all n.
    weights_row = sp.csr_matrix((w / w.sum())[np.newaxis, :])
    return sp.csr_matrix(weights_row @ matrix[rows_a])


def transpose(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """The term-major copy (features x rows, CSR) that :func:`cosine_scores` can use."""
    t = sp.csr_matrix(matrix.T)
    t.sort_indices()
    return t


def cosine_scores(
    matrix: sp.csr_matrix,
    profile: sp.spmatrix,
    row_norms: np.ndarray | None = None,
    *,
    matrix_t: sp.csr_matrix | None = None,
) -> np.ndarray:
    """Cosine similarity of every row of ``matrix`` with ``profile``; shape ``(n_rows,)``.

    ``row_norms`` (from :func:`compute_row_norms`, stored with the model) saves an O(nnz) pass;
    rows with no terms score 0. ``matrix_t`` (from :func:`transpose`, also stored with the
    model) is the fast path: only the postings of the profile's own terms are read, as a sparse
    (rows x profile terms) matrix times the profile's non-zero values, instead of a sparse x
    sparse product over the whole matrix (about 3x faster at 100k movies, see
    docs/benchmarks.md).
    """
    profile = sp.csr_matrix(profile)
    n = matrix.shape[0]
    pnorm = float(np.sqrt(profile.multiply(profile).sum()))
    if pnorm == 0.0:
        return np.zeros(n, dtype=np.float64)
    if matrix_t is not None:
        profile.sum_duplicates()
        postings = matrix_t[profile.indices]  # k x n, sparse
        dots = np.asarray(postings.T @ profile.data.astype(np.float64), dtype=np.float64)
    else:
        dots = _sparse_col_to_1d(matrix @ profile.T, n)
    norms = compute_row_norms(matrix) if row_norms is None else np.asarray(row_norms)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(norms > 0, dots / (norms * pnorm), 0.0)
    return scores


def top_n(scores: np.ndarray, exclude_rows: Iterable[int] = (), n: int = 10) -> np.ndarray:
    """Row indices of the ``n`` highest scores, best first, skipping ``exclude_rows``.

    Ties are broken by the lower row index so results are deterministic. Rows scoring
    ``-inf``/NaN are never returned.
    """
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    s = np.array(scores, dtype=np.float64, copy=True)
    s[np.isnan(s)] = -np.inf
    excl = np.fromiter((int(r) for r in exclude_rows), dtype=np.int64)
    if len(excl):
        s[excl[(excl >= 0) & (excl < len(s))]] = -np.inf
    k = min(n, len(s))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    cand = np.argpartition(-s, k - 1)[:k] if k < len(s) else np.arange(len(s))
    # Sort candidates by score desc, then row asc; include rows tied with the k-th score
    # that argpartition may have dropped, so ties resolve by row index.
    kth = s[cand].min()
    if np.isfinite(kth):
        cand = np.flatnonzero(s >= kth)
    order = np.lexsort((cand, -s[cand]))
    best = cand[order][:k]
    return best[np.isfinite(s[best])]


# --- Explanations -------------------------------------------------------------------------


def contributions(
    matrix: sp.csr_matrix,
    liked_rows: Sequence[int],
    weights: Sequence[float],
    target_rows: Sequence[int],
) -> np.ndarray:
    """How much each liked row adds to each target's profile dot product.

    Returns an array of shape ``(len(target_rows), len(liked_rows))``: entry ``[t, l]`` is
    ``weight[l] * <row liked[l], row target[t]>`` (small: targets x liked movies).
    """
    liked = np.asarray(liked_rows, dtype=np.int64)
    targets = np.asarray(target_rows, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    out = np.zeros((len(targets), len(liked)), dtype=np.float64)
    if len(liked) == 0 or len(targets) == 0:
        return out
    prod = (matrix[targets] @ matrix[liked].T).tocoo()
    np.add.at(out, (prod.row, prod.col), prod.data)
    return out * w[np.newaxis, :]


def top_contributors(
    matrix: sp.csr_matrix,
    liked_rows: Sequence[int],
    weights: Sequence[float],
    target_row: int,
    k: int = 3,
) -> list[tuple[int, float]]:
    """The (at most ``k``) liked rows that contributed most to ``target_row``'s score.

    Returns ``[(liked_row, contribution), ...]`` best first; rows that share nothing with the
    target are left out.
    """
    c = contributions(matrix, liked_rows, weights, [target_row])[0]
    order = np.lexsort((np.arange(len(c)), -c))[:k]
    return [(int(liked_rows[i]), float(c[i])) for i in order if c[i] > 0]


def shared_terms(
    matrix: sp.csr_matrix,
    profile: sp.spmatrix,
    target_row: int,
    feature_names: np.ndarray,
    k: int = 3,
) -> list[str]:
    """The ``k`` terms contributing most to the similarity of ``target_row`` and ``profile``.

    The contribution of a term is the product of its weights in both vectors, so these are the
    terms the two have most strongly in common.
    """
    prod = sp.csr_matrix(matrix[target_row]).multiply(sp.csr_matrix(profile)).tocoo()
    if prod.nnz == 0:
        return []
    order = np.lexsort((prod.col, -prod.data))[:k]
    return [str(feature_names[prod.col[i]]) for i in order if prod.data[i] > 0]
