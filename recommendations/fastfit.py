"""A leaner TF-IDF fit: the matrix ``TfidfVectorizer`` fits, counted with numpy.

``TfidfVectorizer.fit_transform`` keeps every distinct n-gram of the catalog as a Python string
in a dict (at a million movies, tens of millions of bigrams: most of its 8 GiB and much of its
time) and sorts them all by name. Here each token is a small integer (one dict of the
distinct *words*), a bigram is a pair of them, and documents frequencies, total counts and the
per-movie counts are sorts and bincounts over integer arrays. The alphabetical order the
vectorizer ranks features in is the order of (first word, second word) by word rank, because
the space joining a bigram sorts before every token character. The kept count matrix then
goes through sklearn's own ``TfidfTransformer``, and the feature selection repeats the
vectorizer's own ``argsort`` on the same array, so the result is the same matrix, entry for
entry (``tests/test_fastfit.py`` checks it on the real TMDB soups).

Supports what the product uses: ``stop_words`` 'english' or None, ``ngram_range`` (1, 1),
(1, 2) or (2, 2), the default token pattern and lowercasing; :func:`supports` says whether a
parameter set is covered (:func:`recommendations.tfidf.fit_tfidf` falls back to sklearn when
not).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfTransformer

TOKEN = re.compile(r"(?u)\b\w\w+\b")  # sklearn's default token_pattern
# Joins a chunk's documents into one string for one regex pass; a document holding this very
# token would split wrongly, so a chunk where it is found more often than joined falls back
# to one pass per document.
SEPARATOR_TOKEN = "zqxsepzqx7316"
CHUNK = 20_000


@dataclass
class Counts:
    """Token counts of a catalog, before any df / max_features selection."""

    n_docs: int
    words: list[str]  # word id -> word
    uni_doc: np.ndarray  # (doc, word) pairs present, with their counts
    uni_word: np.ndarray
    uni_count: np.ndarray
    bi_first: np.ndarray  # bigram id -> (first word, second word)
    bi_second: np.ndarray
    bi_doc: np.ndarray  # (doc, bigram) pairs present, with their counts
    bi_id: np.ndarray
    bi_count: np.ndarray
    unigrams: bool
    bigrams: bool


def supports(params) -> bool:
    return params.stop_words in ("english", None) and tuple(params.ngram_range) in (
        (1, 1),
        (1, 2),
        (2, 2),
    )


def _tokenise(soups: Sequence[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(words, token word ids, token doc ids) for every token of every soup, in order."""
    vocab: dict[str, int] = {SEPARATOR_TOKEN: 0}
    ids_parts, doc_parts = [], []
    sep = f" {SEPARATOR_TOKEN} "
    for lo in range(0, len(soups), CHUNK):
        chunk = soups[lo : lo + CHUNK]
        tokens = TOKEN.findall(sep.join(chunk).lower())
        ids = np.fromiter((vocab.setdefault(t, len(vocab)) for t in tokens), np.int32, len(tokens))
        is_sep = ids == 0
        if int(is_sep.sum()) != len(chunk) - 1:  # a soup holds the separator: one by one
            per_doc = [
                np.fromiter(
                    (vocab.setdefault(t, len(vocab)) for t in TOKEN.findall(s.lower())), np.int32
                )
                for s in chunk
            ]
            ids = np.concatenate(per_doc) if per_doc else np.zeros(0, np.int32)
            docs = np.repeat(
                np.arange(lo, lo + len(chunk), dtype=np.int32), [len(p) for p in per_doc]
            )
        else:
            docs = (np.cumsum(is_sep) + lo).astype(np.int32)
            ids, docs = ids[~is_sep], docs[~is_sep]
        ids_parts.append(ids)
        doc_parts.append(docs)
    words = list(vocab)
    tok = np.concatenate(ids_parts) if ids_parts else np.zeros(0, np.int32)
    doc = np.concatenate(doc_parts) if doc_parts else np.zeros(0, np.int32)
    return words, tok, doc


def _pairs(doc: np.ndarray, term: np.ndarray, n_terms: int):
    """Distinct (doc, term) pairs with their counts, by doc then term."""
    key = doc.astype(np.int64) * int(n_terms) + term
    key.sort()
    if key.size == 0:
        e = np.zeros(0, np.int64)
        return e, e, e
    start = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    counts = np.diff(np.concatenate((start, [key.size])))
    uniq = key[start]
    return uniq // n_terms, uniq % n_terms, counts


def count(soups: Sequence[str], params) -> Counts:
    words, tok, doc = _tokenise(list(soups))
    if params.stop_words == "english":
        stop = np.fromiter((w in ENGLISH_STOP_WORDS for w in words), bool, len(words))
        keep = ~stop[tok]
        tok, doc = tok[keep], doc[keep]
    n_words = len(words)
    lo, hi = params.ngram_range
    uni = _pairs(doc, tok, n_words) if lo == 1 else (np.zeros(0, np.int64),) * 3
    if hi >= 2 and tok.size > 1:
        same = doc[1:] == doc[:-1]  # bigrams never cross documents
        first, second, bdoc = tok[:-1][same], tok[1:][same], doc[:-1][same]
        bkey, binv = np.unique(first.astype(np.int64) * n_words + second, return_inverse=True)
        bi = _pairs(bdoc, binv.ravel(), max(1, bkey.size))
        bi_first, bi_second = bkey // n_words, bkey % n_words
    else:
        e = np.zeros(0, np.int64)
        bi, bi_first, bi_second = (e, e, e), e, e
    return Counts(
        len(soups), words, *uni, bi_first, bi_second, *bi, unigrams=lo == 1, bigrams=hi >= 2
    )


def _doc_count(value, n_docs: int):
    return value if isinstance(value, int | np.integer) else value * n_docs


def select(c: Counts, params, min_df) -> tuple[np.ndarray, list[str]] | None:
    """The kept features in column order as (kind-tagged ids, names), or None where
    ``TfidfVectorizer`` raises (no terms left, max_df below min_df, empty vocabulary)."""
    n_words = len(c.words)
    n_bi = c.bi_first.size
    # Feature f < n_words: the word f (only if unigrams are counted); else bigram f - n_words.
    df = np.concatenate(
        (
            np.bincount(c.uni_word, minlength=n_words),
            np.bincount(c.bi_id, minlength=n_bi),
        )
    )
    tf = np.concatenate(
        (
            np.bincount(c.uni_word, weights=c.uni_count, minlength=n_words),
            np.bincount(c.bi_id, weights=c.bi_count, minlength=n_bi),
        )
    )
    present = df > 0  # words seen only as stop words or only in bigrams are no features
    if not present.any():
        return None
    word_rank = np.empty(n_words, np.int64)
    word_rank[np.argsort(np.asarray(c.words, dtype=object), kind="stable")] = np.arange(n_words)
    first = np.concatenate((word_rank, word_rank[c.bi_first]))
    second = np.concatenate((np.full(n_words, -1), word_rank[c.bi_second]))
    feats = np.flatnonzero(present)
    feats = feats[np.lexsort((second[feats], first[feats]))]  # alphabetical, as sklearn
    dfs, tfs = df[feats], tf[feats].astype(np.float32)  # float32: the vectorizer's sums
    high = _doc_count(params.max_df, c.n_docs)
    low = _doc_count(min_df, c.n_docs)
    if high < low:
        return None
    mask = (dfs <= high) & (dfs >= low)
    limit = params.max_features
    if limit is not None and mask.sum() > limit:
        mask_inds = (-tfs[mask]).argsort()[:limit]  # the vectorizer's own call, same input
        new_mask = np.zeros(len(dfs), dtype=bool)
        new_mask[np.where(mask)[0][mask_inds]] = True
        mask = new_mask
    kept = feats[mask]
    if kept.size == 0:
        return None
    names = [
        c.words[f]
        if f < n_words
        else f"{c.words[c.bi_first[f - n_words]]} {c.words[c.bi_second[f - n_words]]}"
        for f in kept.tolist()
    ]
    return kept, names


def transform(c: Counts, kept: np.ndarray, params) -> sp.csr_matrix:
    n_words = len(c.words)
    column = np.full(n_words + c.bi_first.size, -1, np.int64)
    column[kept] = np.arange(kept.size)
    uc, bc = column[c.uni_word], column[c.bi_id + n_words]
    rows = np.concatenate((c.uni_doc[uc >= 0], c.bi_doc[bc >= 0]))
    cols = np.concatenate((uc[uc >= 0], bc[bc >= 0]))
    vals = np.concatenate((c.uni_count[uc >= 0], c.bi_count[bc >= 0])).astype(np.float32)
    counts = sp.csr_matrix((vals, (rows, cols)), shape=(c.n_docs, kept.size), dtype=np.float32)
    counts.sum_duplicates()
    counts.sort_indices()
    transformer = TfidfTransformer(norm=params.norm, use_idf=True, smooth_idf=True)
    return transformer.fit_transform(counts)
