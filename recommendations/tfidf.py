"""Content-based recommender core: TF-IDF over a movie "soup", kept sparse end to end.

Pure numpy / scipy / scikit-learn; no Django and no database ids. Everything works on *row
indices* into the fitted matrix, so the same code serves the website (pipeline.py maps rows to
movie ids) and the offline evaluation on MovieLens + TMDB data.

The matrix is never made dense (a test greps this file for the dense conversions).
Scoring multiplies the sparse matrix by the user's profile laid out as a float32 vector over
the vocabulary (at most ``max_features`` = 5,000 floats, 20 kB: the one small dense thing here),
giving one float32 score per movie -- the only per-request array of length ``n_rows``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from . import fastfit

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


# A movie whose soup has this many distinct terms (a real overview plus keywords and people)
# counts as fully described; dataset imports with genres only have 2-4.
RICH_TERMS = 30


def text_richness(matrix: sp.csr_matrix, full_at: int = RICH_TERMS) -> np.ndarray:
    """How much text each row has, in [0, 1]: its distinct terms over ``full_at``, capped at 1.

    Content similarity is only as good as the text behind it: a movie with no overview matches
    every other movie of its genres equally well, so scorers weigh content by this (see
    DEVELOPERS.md, "thin content"). Read off the CSR row lengths; no artifact needed.
    """
    if full_at < 1:
        raise ValueError("full_at must be at least 1.")
    nnz = np.diff(sp.csr_matrix(matrix).indptr).astype(np.float32)
    return np.minimum(nnz / np.float32(full_at), np.float32(1.0))


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


def fit_tfidf(
    soups: Sequence[str], params: TfidfParams | None = None, *, engine: str = "auto"
) -> TfidfModel:
    """Fit the vectorizer on one soup per movie; row ``i`` of the matrix is ``soups[i]``.

    If ``params.min_df`` leaves an empty vocabulary or fewer than ``params.min_vocabulary``
    terms (small catalogs), the fit is repeated with ``min_df=1``; ``min_df_used`` says which.
    Raises :class:`EmptyCatalogError` when there is nothing to fit on.

    ``engine``: "numpy" counts with :mod:`recommendations.fastfit` (the same matrix and
    features as sklearn's vectorizer, in less time and memory at a million movies; no
    ``vectorizer`` object kept), "sklearn" uses ``TfidfVectorizer``; "auto" = numpy whenever
    it supports ``params`` (the product's defaults do).
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

    if engine not in ("auto", "numpy", "sklearn"):
        raise InvalidParamsError(f"engine must be auto, numpy or sklearn (got {engine!r}).")
    if engine == "numpy" or (engine == "auto" and fastfit.supports(params)):
        return _fit_numpy(soups, params)

    def attempt(min_df):
        vec = _vectorizer(params, min_df)
        try:
            matrix = vec.fit_transform(soups)
        except ValueError:
            # sklearn raises when pruning leaves no terms or min_df/max_df contradict each
            # other for this many documents; both mean "try the fallback / report it".
            return None
        return vec.get_feature_names_out(), matrix, vec

    return _fit_with(attempt, soups, params)


def _fit_numpy(soups: list[str], params: TfidfParams) -> TfidfModel:
    if not fastfit.supports(params):
        raise InvalidParamsError("The numpy fit supports stop_words english/None, n-grams <= 2.")
    counts = fastfit.count(soups, params)

    def attempt(min_df):
        selected = fastfit.select(counts, params, min_df)
        if selected is None:  # where TfidfVectorizer raises ValueError
            return None
        kept, names = selected
        return names, fastfit.transform(counts, kept, params), None

    return _fit_with(attempt, soups, params)


def _fit_with(attempt, soups: list[str], params: TfidfParams) -> TfidfModel:
    """One engine's fit with the small-catalog fallback: ``attempt(min_df)`` returns
    ``(feature names, matrix, vectorizer or None)``, or None when nothing is left."""
    min_df_used = params.min_df
    fitted = attempt(params.min_df)
    if (fitted is None or fitted[1].shape[1] < params.min_vocabulary) and params.min_df != 1:
        min_df_used = 1
        fitted = attempt(1)
    if fitted is None or fitted[1].shape[1] == 0:
        raise EmptyCatalogError(
            f"No terms left after filtering {len(soups)} movie(s) with max_df={params.max_df} "
            "and stop words; the catalog is too small or too uniform to build a model."
        )
    names, matrix, vectorizer = fitted
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    matrix.sort_indices()
    return TfidfModel(
        matrix=matrix,
        feature_names=np.asarray(names, dtype=str),
        params=params,
        min_df_used=min_df_used,
        row_norms=compute_row_norms(matrix),
        vectorizer=vectorizer,
    )


# --- Scoring ------------------------------------------------------------------------------


# Profiles of at most this many rows are summed from the rows' CSR slices (see user_profile).
FEW_PROFILE_ROWS = 16


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
    w = w / w.sum()
    matrix = sp.csr_matrix(matrix) if not isinstance(matrix, sp.csr_matrix) else matrix
    if len(rows_a) > FEW_PROFILE_ROWS:
        # The rows' entries gathered in one go and summed per term over the vocabulary (in
        # row order, as scipy's (1 x k) @ (k x terms) product sums them: the same floats, in
        # 0.14 instead of 0.36 ms for 286 rows); touches only those rows, never all n.
        indptr = matrix.indptr
        starts, lens = indptr[rows_a], indptr[rows_a + 1] - indptr[rows_a]
        at = np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()))
        vals = np.asarray(matrix.data[at], dtype=np.float64) * np.repeat(w, lens)
        sums = np.bincount(matrix.indices[at], weights=vals, minlength=matrix.shape[1])
        terms = np.flatnonzero(sums)
        profile = sp.csr_matrix(
            (sums[terms], terms.astype(np.int32), np.array([0, terms.size], dtype=np.int32)),
            shape=(1, matrix.shape[1]),
        )
        profile.has_canonical_format = True
        return profile
    # A few rows (the explanations build one profile per card from 1-3 cited movies): their
    # own CSR slices summed per term, without scipy's row-slicing and product bookkeeping
    # (0.12 vs 0.27 ms for 1-3 rows; the product wins from ~30 rows: 0.5 vs 2.7 ms at 500).
    starts, stops = matrix.indptr[rows_a], matrix.indptr[rows_a + 1]
    cols = np.concatenate([matrix.indices[a:b] for a, b in zip(starts, stops, strict=True)])
    vals = np.concatenate(
        [
            np.asarray(matrix.data[a:b], dtype=np.float64) * wi
            for a, b, wi in zip(starts, stops, w, strict=True)
        ]
    )
    terms, where = np.unique(cols, return_inverse=True)
    sums = np.bincount(where, weights=vals, minlength=terms.size)
    keep = sums != 0
    terms, sums = terms[keep], sums[keep]
    profile = sp.csr_matrix(
        (sums, terms.astype(np.int32), np.array([0, terms.size], dtype=np.int32)),
        shape=(1, matrix.shape[1]),
    )
    profile.has_canonical_format = True  # sorted, unique: np.unique's output
    return profile


def profile_norm(profile: sp.spmatrix) -> float:
    """Euclidean norm of a profile row (what :func:`cosine_scores_multi` divides by)."""
    p = sp.csr_matrix(profile)
    p.sum_duplicates()
    data = p.data.astype(np.float32).astype(np.float64)  # as the cosine's float32 block
    return float(np.sqrt(np.dot(data, data)))


def transpose(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """The term-major copy (features x rows, CSR) that :func:`cosine_scores` can use."""
    t = sp.csr_matrix(matrix.T)
    t.sort_indices()
    return t


# Postings cost about six times more per entry than the forward product (they are gathered
# into a new matrix first), so they only pay off when the profile's terms touch less than a
# sixth of the matrix: rare terms, or a catalog where no term is common (bench_recommend.py).
POSTINGS_MAX_SHARE = 1 / 6


def _dense_profiles(profiles: Sequence[sp.spmatrix], n_features: int) -> np.ndarray:
    """The (few) profiles as one dense float32 n_features x k block: k * 20 kB at 5,000 terms."""
    block = np.zeros((n_features, len(profiles)), dtype=np.float32)
    for j, profile in enumerate(profiles):
        p = sp.csr_matrix(profile)
        p.sum_duplicates()
        block[p.indices, j] = p.data
    return block


def cosine_scores_multi(
    matrix: sp.csr_matrix,
    profiles: Sequence[sp.spmatrix],
    row_norms: np.ndarray | None = None,
    *,
    matrix_t: sp.csr_matrix | None = None,
    path: str = "auto",
) -> list[np.ndarray]:
    """Cosine of every row of ``matrix`` with each profile: one float32 ``(n_rows,)`` per profile.

    ``path="forward"``: one pass over the matrix per profile, the profile laid out as a dense
    float32 vector over the vocabulary (``csr @ vector``: no copy of the matrix, no float64
    upcast; cost O(nnz) whatever the profile). ``path="postings"`` (needs ``matrix_t``, the
    term-major copy from :func:`transpose`): only the postings of the profile's own terms are
    read, which wins when those terms are rare. ``"auto"`` counts each profile's postings
    (O(its terms)) and picks.
    ``row_norms`` (stored with the model) saves an O(nnz) pass; rows with no terms score 0.
    """
    if path not in ("auto", "forward", "postings"):
        raise ValueError(f"path must be auto, forward or postings (got {path!r}).")
    n, n_features = matrix.shape
    if not profiles:
        return []
    block = _dense_profiles(profiles, n_features)
    pnorms = np.sqrt(np.einsum("ij,ij->j", block, block, dtype=np.float64))
    if path == "postings" and matrix_t is None:
        raise ValueError("the postings path needs matrix_t (tfidf.transpose(matrix)).")
    posting_counts = np.diff(matrix_t.indptr) if matrix_t is not None else None
    outs = []
    for j in range(block.shape[1]):
        terms = np.flatnonzero(block[:, j])
        use_postings = path == "postings" or (
            path == "auto"
            and posting_counts is not None
            and posting_counts[terms].sum() < POSTINGS_MAX_SHARE * matrix.nnz
        )
        if use_postings:
            postings = matrix_t[terms]  # k_terms x n, sparse: only these terms' postings
            outs.append(np.asarray(postings.T @ block[terms, j], dtype=np.float32))
        else:
            # One matrix-vector product per profile: scipy's multi-vector kernel (csr_matvecs)
            # is slower than two single ones at 1M movies (100 ms vs 2 x 40 ms). A float64
            # matrix (hand-made ones in tests) is multiplied in float64.
            vector = np.ascontiguousarray(block[:, j], dtype=matrix.dtype)
            outs.append(matrix @ vector)
    norms = compute_row_norms(matrix) if row_norms is None else np.asarray(row_norms)
    has_terms = norms > 0
    out = []
    for j, col in enumerate(outs):
        if col.dtype != np.float32:
            col = col.astype(np.float32)
        if pnorms[j] == 0:
            out.append(np.zeros(n, dtype=np.float32))
            continue
        col *= np.float32(1.0 / pnorms[j])
        np.divide(col, norms, out=col, where=has_terms)
        col[~has_terms] = 0.0
        out.append(col)
    return out


def cosine_scores(
    matrix: sp.csr_matrix,
    profile: sp.spmatrix,
    row_norms: np.ndarray | None = None,
    *,
    matrix_t: sp.csr_matrix | None = None,
    path: str = "auto",
) -> np.ndarray:
    """Cosine similarity of every row of ``matrix`` with ``profile``; float32, shape ``(n_rows,)``.

    See :func:`cosine_scores_multi` for the two paths. At 1M movies the forward product is the
    fast one for typical profiles (docs/benchmarks.md); the term-major copy ``matrix_t`` is
    used only when the profile's postings are a small share of the matrix.
    """
    return cosine_scores_multi(matrix, [profile], row_norms, matrix_t=matrix_t, path=path)[0]


# Above this many rows, top_n first finds a lower bound of the n-th best score on a strided
# sample, so the selection works on a few thousand candidates instead of the whole array.
_SAMPLE_ABOVE = 50_000


def top_n(scores: np.ndarray, exclude_rows: Iterable[int] = (), n: int = 10) -> np.ndarray:
    """Row indices of the ``n`` highest scores, best first, skipping ``exclude_rows``.

    Ties are broken by the lower row index so results are deterministic. Rows scoring
    ``-inf``/NaN are never returned. Cost: one copy of ``scores`` and a few O(n_rows) passes;
    sorting only touches the candidates at or above the n-th best score.
    """
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    s = np.array(scores, copy=True)
    if not np.issubdtype(s.dtype, np.floating):
        s = s.astype(np.float64)
    s[np.isnan(s)] = -np.inf
    if isinstance(exclude_rows, np.ndarray):  # (serving's: no Python loop over 500 rows)
        excl = exclude_rows.astype(np.int64, copy=False).ravel()
    else:
        excl = np.fromiter((int(r) for r in exclude_rows), dtype=np.int64)
    if len(excl):
        s[excl[(excl >= 0) & (excl < len(s))]] = -np.inf
    k = min(n, len(s))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    cand = None
    if len(s) > _SAMPLE_ABOVE:
        # The k-th best of any subset is a lower bound of the k-th best of all rows.
        sample = s[:: max(1, len(s) // (64 * k))]
        bound = np.partition(sample, len(sample) - k)[len(sample) - k]
        if np.isfinite(bound):
            cand = np.flatnonzero(s >= bound)  # ascending rows
    if cand is None:
        cand = np.flatnonzero(np.isfinite(s))
    if len(cand) == 0:
        return np.empty(0, dtype=np.int64)
    k = min(k, len(cand))
    vals = s[cand]
    kth = np.partition(vals, len(vals) - k)[len(vals) - k]
    # Everything above the k-th score, then the lowest rows among those tied with it.
    above = cand[vals > kth]
    tied = cand[vals == kth][: k - len(above)]
    best = np.concatenate([above, tied])
    order = np.lexsort((best, -s[best]))
    return best[order][:k]


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
    if len(liked) == 0 or len(targets) == 0:
        return np.zeros((len(targets), len(liked)), dtype=np.float64)
    matrix = sp.csr_matrix(matrix) if not isinstance(matrix, sp.csr_matrix) else matrix
    # The few targets laid out densely over the vocabulary; each liked row's entries read
    # straight from the CSR arrays and summed per (target, liked row) in float64: without
    # scipy's slicing and product, 0.08 instead of 0.36 ms for 10 targets x 3 liked rows.
    block = np.zeros((len(targets), matrix.shape[1]))
    t_cols, t_vals, t_len = _row_entries(matrix, targets)
    block[np.repeat(np.arange(len(targets)), t_len), t_cols] = t_vals
    l_cols, l_vals, l_len = _row_entries(matrix, liked)
    owner = np.repeat(np.arange(len(liked)), l_len)
    # Only the liked entries on a term some target has: the others multiply zeros (300 liked
    # rows have 6,000 entries, 10 targets 200 terms), and leaving zeros out of the sums
    # changes none of them.
    shared = np.zeros(matrix.shape[1], dtype=bool)
    shared[t_cols] = True
    hit = shared[l_cols]
    l_cols, l_vals, owner = l_cols[hit], l_vals[hit], owner[hit]
    prod = block[:, l_cols] * l_vals  # targets x the liked rows' entries
    at = (np.arange(len(targets))[:, None] * len(liked) + owner).ravel()
    out = np.bincount(at, weights=prod.ravel(), minlength=len(targets) * len(liked))
    return out.reshape(len(targets), len(liked)) * w[np.newaxis, :]


def _row_entries(matrix: sp.csr_matrix, rows: np.ndarray):
    """The CSR entries of ``rows`` end to end: ``(columns, values as float64, lengths)``."""
    indptr = matrix.indptr
    starts, lengths = indptr[rows], indptr[rows + 1] - indptr[rows]
    at = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
    return matrix.indices[at], np.asarray(matrix.data[at], dtype=np.float64), lengths


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
    terms the two have most strongly in common. Pass the same canonical CSR profile for many
    rows (see :func:`canonical_row`) and nothing is converted per row.
    """
    profile = canonical_row(profile)
    # The row's own slice of the CSR against the profile's sorted terms: a few dozen entries,
    # where a sparse elementwise product costs ~1 ms of scipy bookkeeping per card.
    lo, hi = int(matrix.indptr[target_row]), int(matrix.indptr[target_row + 1])
    cols = np.asarray(matrix.indices[lo:hi])
    p_cols, p_vals = profile.indices, profile.data
    if cols.size == 0 or p_cols.size == 0:
        return []
    pos = np.minimum(np.searchsorted(p_cols, cols), p_cols.size - 1)
    hit = p_cols[pos] == cols
    prod = np.asarray(matrix.data[lo:hi], dtype=np.float64)[hit] * p_vals[pos[hit]]
    cols = cols[hit]
    nonzero = prod != 0
    cols, prod = cols[nonzero], prod[nonzero]
    if prod.size == 0:
        return []
    order = np.lexsort((cols, -prod))[:k]
    return [str(feature_names[cols[i]]) for i in order if prod[i] > 0]


def canonical_row(profile: sp.spmatrix) -> sp.csr_matrix:
    """``profile`` as a 1-row CSR with sorted, unique terms (returned as is when it is one)."""
    if isinstance(profile, sp.csr_matrix) and profile.has_canonical_format:
        return profile
    p = sp.csr_matrix(profile, copy=True)
    p.sum_duplicates()
    return p
