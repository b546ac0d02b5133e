"""recommendations.fastfit: the numpy-counted TF-IDF fit equals sklearn's TfidfVectorizer fit."""

import json
from pathlib import Path

import numpy as np
import pytest

from recommendations import fastfit, tfidf
from recommendations.tfidf import EmptyCatalogError, TfidfParams


def _tmdb_soups(shared_data_dir: Path) -> list[str]:
    path = shared_data_dir / "tmdb-5000-partial" / "movie_details.jsonl"
    soups = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            soups.append(
                tfidf.build_soup(
                    genres=[g["name"] for g in d.get("genres") or []],
                    keywords=[k["name"] for k in (d.get("keywords") or {}).get("keywords") or []],
                    overview=d.get("overview") or "",
                    cast=[],
                    directors=[],
                )
            )
    return soups


@pytest.fixture(scope="module")
def tmdb_soups(shared_data_dir):
    # Skips without the shared data, fails in CI (conftest.shared_data_dir), like the other
    # dataset tests.
    return _tmdb_soups(shared_data_dir)


def _same(soups, params):
    ref = tfidf.fit_tfidf(soups, params, engine="sklearn")
    got = tfidf.fit_tfidf(soups, params, engine="numpy")
    assert got.feature_names.tolist() == ref.feature_names.tolist()
    assert got.min_df_used == ref.min_df_used
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(got.matrix, name), getattr(ref.matrix, name))
    assert got.matrix.dtype == ref.matrix.dtype == np.float32
    return got


@pytest.mark.parametrize(
    "params",
    [
        TfidfParams(),
        TfidfParams(ngram_range=(1, 1)),
        TfidfParams(ngram_range=(2, 2), min_df=1),
        TfidfParams(stop_words=None, max_features=2000),
        TfidfParams(min_df=0.002, max_df=300, max_features=None),
        TfidfParams(norm="l1", max_df=1.0),
    ],
    ids=["defaults", "unigrams", "bigrams", "no-stop-words", "df-as-counts", "l1"],
)
def test_same_matrix_as_the_vectorizer_on_the_real_tmdb_soups(tmdb_soups, params):
    got = _same(tmdb_soups, params)
    assert got.matrix.shape[0] == 3000 and got.matrix.shape[1] > 100


def test_small_catalog_falls_back_to_min_df_1_the_same_way():
    soups = ["Drama love story", "Comedy dog chase", "Horror night house", "Drama war hero"]
    got = _same(soups, TfidfParams())
    assert got.min_df_used == 1


def test_a_soup_holding_the_separator_token_is_counted_alone():
    soups = [
        f"Drama {fastfit.SEPARATOR_TOKEN} love story",
        "Drama love story war",
        f"{fastfit.SEPARATOR_TOKEN} war hero",
    ] * 3
    got = _same(soups, TfidfParams(min_df=1))
    assert fastfit.SEPARATOR_TOKEN in got.feature_names.tolist()


def test_empty_and_stop_word_soups_fail_like_the_vectorizer():
    _same(["", "the dog", "", "dog house", "house"], TfidfParams(min_df=1))
    for engine in ("numpy", "sklearn"):
        with pytest.raises(EmptyCatalogError):
            tfidf.fit_tfidf(["the and of", "it is the"], TfidfParams(), engine=engine)


def test_the_product_defaults_use_the_numpy_fit():
    model = tfidf.fit_tfidf(["drama love", "drama war", "comedy love"] * 4)
    assert model.vectorizer is None  # only the sklearn fit keeps a vectorizer
    assert fastfit.supports(TfidfParams())
    assert not fastfit.supports(TfidfParams(ngram_range=(1, 3)))
