"""Pure TF-IDF core: no database, no Django."""

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations import tfidf

AVATAR = tfidf.build_soup(
    genres=["Science Fiction", "Action"],
    keywords=["space war", "alien planet"],
    overview="A paraplegic marine is dispatched to the moon Pandora.",
    cast=["Sam Worthington", "Zoe Saldana", "Sigourney Weaver", "Stephen Lang"],
    directors=["James Cameron"],
)
ALIENS = tfidf.build_soup(
    genres=["Science Fiction", "Horror"],
    keywords=["alien planet", "space marine"],
    overview="Ripley returns to the alien planet with a unit of marines.",
    cast=["Sigourney Weaver", "Michael Biehn"],
    directors=["James Cameron"],
)
TITANIC = tfidf.build_soup(
    genres=["Drama", "Romance"],
    keywords=["shipwreck", "love"],
    overview="A young aristocrat falls in love aboard the ill-fated ship.",
    cast=["Leonardo DiCaprio", "Kate Winslet"],
    directors=["James Cameron"],
)
AMELIE = tfidf.build_soup(
    genres=["Comedy", "Romance"],
    keywords=["paris", "love"],
    overview="A shy waitress in Paris decides to change the lives of those around her.",
    cast=["Audrey Tautou", "Mathieu Kassovitz"],
    directors=["Jean-Pierre Jeunet"],
)
SOUPS = [AVATAR, ALIENS, TITANIC, AMELIE]


def test_build_soup_squashes_names_and_keeps_top_three_cast():
    assert "ScienceFiction" in AVATAR
    assert "SamWorthington" in AVATAR and "SigourneyWeaver" in AVATAR
    assert "StephenLang" not in AVATAR  # fourth billed: dropped
    assert "spacewar" in AVATAR and "JamesCameron" in AVATAR
    assert "JeanPierreJeunet" in AMELIE  # hyphen removed too: one token
    assert "paraplegic marine" in AVATAR  # overview stays prose


def test_default_params_are_the_reference_design():
    p = tfidf.TfidfParams()
    assert (p.max_features, p.stop_words, p.ngram_range) == (5000, "english", (1, 2))
    assert (p.min_df, p.max_df, p.norm) == (2, 0.8, "l2")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_features": 0}, "max_features"),
        ({"max_features": 2.5}, "max_features"),
        ({"stop_words": "klingon"}, "stop_words"),
        ({"ngram_range": (2, 1)}, "ngram_range"),
        ({"ngram_range": (1, 9)}, "ngram_range"),
        ({"min_df": 0}, "min_df"),
        ({"min_df": 1.5}, "min_df"),
        ({"max_df": 0.0}, "max_df"),
        ({"max_df": "lots"}, "max_df"),
        ({"min_df": 0.9, "max_df": 0.5}, "greater than"),
        ({"norm": "l3"}, "norm"),
        ({"min_df": True}, "min_df"),
    ],
)
def test_bad_params_raise_a_clear_error(kwargs, message):
    with pytest.raises(tfidf.InvalidParamsError, match=message):
        tfidf.TfidfParams(**kwargs)


def test_params_round_trip_through_json_dict():
    p = tfidf.TfidfParams(min_df=1, ngram_range=(1, 3))
    assert tfidf.TfidfParams.from_dict(p.to_dict()) == p
    with pytest.raises(tfidf.InvalidParamsError, match="Unknown"):
        tfidf.TfidfParams.from_dict({"bogus": 1})


def test_small_catalog_falls_back_to_min_df_1_and_records_it():
    model = tfidf.fit_tfidf(SOUPS)
    assert model.min_df_used == 1
    assert model.n_rows == 4
    assert "jamescameron" in set(model.feature_names)
    assert sp.issparse(model.matrix)
    assert model.matrix.dtype == np.float32
    np.testing.assert_allclose(model.row_norms, 1.0, rtol=1e-5)


def test_large_enough_catalog_keeps_min_df_2():
    soups = [f"drama love paris story{i % 7} director{i % 5} common{i % 3}" for i in range(60)]
    model = tfidf.fit_tfidf(soups)
    assert model.min_df_used == 2
    # Terms in a single document are gone with min_df=2.
    assert model.vocabulary_size > 10


def test_empty_catalog_and_empty_text_are_clear_errors():
    with pytest.raises(tfidf.EmptyCatalogError, match="empty"):
        tfidf.fit_tfidf([])
    with pytest.raises(tfidf.EmptyCatalogError, match="text"):
        tfidf.fit_tfidf(["", "  "])
    # One movie: every term is in 100% of documents > max_df=0.8 -> nothing left.
    with pytest.raises(tfidf.EmptyCatalogError, match="No terms left"):
        tfidf.fit_tfidf([AVATAR])


def test_profile_is_sparse_weighted_mean():
    m = tfidf.fit_tfidf(SOUPS).matrix
    profile = tfidf.user_profile(m, [0, 1], [5.0, 4.0])
    assert sp.issparse(profile) and profile.shape == (1, m.shape[1])
    expected = (m[0] * 5.0 + m[1] * 4.0) / 9.0
    assert abs(profile - expected).max() < 1e-6
    with pytest.raises(ValueError):
        tfidf.user_profile(m, [], [])
    with pytest.raises(ValueError):
        tfidf.user_profile(m, [0], [0.0])
    with pytest.raises(ValueError):
        tfidf.user_profile(m, [99], [4.0])


def test_cosine_scores_match_sklearn_and_rank_sensibly():
    from sklearn.metrics.pairwise import cosine_similarity

    model = tfidf.fit_tfidf(SOUPS)
    profile = tfidf.user_profile(model.matrix, [0], [5.0])
    scores = tfidf.cosine_scores(model.matrix, profile, model.row_norms)
    assert scores.shape == (4,)
    reference = cosine_similarity(model.matrix, profile).ravel()  # sparse in, small out
    np.testing.assert_allclose(scores, reference, rtol=1e-5, atol=1e-6)
    # Without stored norms, and through the term-major fast path: the same result.
    np.testing.assert_allclose(tfidf.cosine_scores(model.matrix, profile), scores, rtol=1e-6)
    fast = tfidf.cosine_scores(
        model.matrix, profile, model.row_norms, matrix_t=tfidf.transpose(model.matrix)
    )
    np.testing.assert_allclose(fast, scores, rtol=1e-5, atol=1e-7)
    ranked = tfidf.top_n(scores, exclude_rows=[0], n=3)
    assert ranked[0] == 1  # Aliens is the closest to Avatar
    assert 0 not in ranked
    assert scores[3] < scores[1]


def test_cosine_with_unnormalised_rows():
    params = tfidf.TfidfParams(norm=None)
    model = tfidf.fit_tfidf(SOUPS, params)
    profile = model.matrix[1]
    scores = tfidf.cosine_scores(model.matrix, profile, model.row_norms)
    assert scores[1] == pytest.approx(1.0, rel=1e-5)
    assert scores.max() <= 1.0 + 1e-6


def test_top_n_excludes_and_breaks_ties_by_row():
    scores = np.array([0.5, 0.9, 0.9, 0.1, np.nan])
    assert list(tfidf.top_n(scores, [], 3)) == [1, 2, 0]
    assert list(tfidf.top_n(scores, [1], 2)) == [2, 0]
    assert list(tfidf.top_n(scores, [], 10)) == [1, 2, 0, 3]  # NaN never returned
    assert len(tfidf.top_n(scores, [], 0)) == 0


def test_explanations_name_the_liked_movies_and_shared_terms():
    model = tfidf.fit_tfidf(SOUPS)
    liked, weights = [0, 3], [5.0, 4.0]  # Avatar, Amelie
    # Target Aliens: Avatar contributed, Amelie shares nothing with it.
    top = tfidf.top_contributors(model.matrix, liked, weights, target_row=1)
    assert [row for row, _ in top] == [0]
    contrib = tfidf.contributions(model.matrix, liked, weights, [1, 2])
    assert contrib.shape == (2, 2)
    assert contrib[1, 0] > 0 and contrib[1, 1] > 0  # Titanic: Cameron and love/romance
    profile = tfidf.user_profile(model.matrix, [0], [5.0])
    terms = tfidf.shared_terms(model.matrix, profile, 1, model.feature_names, k=3)
    assert len(terms) == 3
    assert "jamescameron" in " ".join(
        tfidf.shared_terms(model.matrix, profile, 1, model.feature_names, k=10)
    )
    assert tfidf.shared_terms(model.matrix, profile, 3, model.feature_names) == []


def test_arrays_round_trip():
    model = tfidf.fit_tfidf(SOUPS)
    rebuilt = tfidf.matrix_from_arrays(model.to_arrays())
    assert (rebuilt != model.matrix).nnz == 0
    rebuilt_t = tfidf.matrix_from_arrays(model.to_arrays(), prefix="t_")
    assert (rebuilt_t != model.matrix.T).nnz == 0
    broken = dict(model.to_arrays())
    broken["indices"] = broken["indices"][:-1]
    with pytest.raises(ValueError, match="inconsistent"):
        tfidf.matrix_from_arrays(broken)


def test_no_dense_conversion_in_the_recommender_code():
    """The matrix and profiles stay sparse: no .toarray()/.todense() anywhere in the path.

    Every module of the app, so new ones are covered too; only the offline baselines of
    ``manage.py evaluate`` (collab.py, evaluation.py) may densify.
    """
    root = Path(tfidf.__file__).parent
    # evaluate only; diversity.py densifies at most a 50 x 50 list-pair matrix (served MMR)
    offline = {"collab.py", "evaluation.py", "evaluation_reasons.py", "diversity.py"}
    names = sorted(p.name for p in root.glob("*.py") if p.name not in offline)
    assert {
        "tfidf.py",
        "hybrid.py",
        "loading.py",
        "artifacts.py",
        "building.py",
        "pipeline.py",
        "scoring.py",
        "explain.py",
        "fallbacks.py",
        "strategies.py",
    } <= set(names)
    offenders = []
    for name in names:
        text = (root / name).read_text()
        for lineno, line in enumerate(text.splitlines(), 1):
            if re.search(r"\.(toarray|todense)\s*\(", line) or ".A1" in line:
                offenders.append(f"{name}:{lineno}: {line.strip()}")
    assert offenders == []


def test_module_has_no_django_imports():
    text = Path(tfidf.__file__).read_text()
    assert not re.search(r"^\s*(from|import)\s+django", text, re.MULTILINE)


def test_forward_and_postings_paths_agree_and_are_checked():
    model = tfidf.fit_tfidf(SOUPS)
    profiles = [
        tfidf.user_profile(model.matrix, [0], [5.0]),
        tfidf.user_profile(model.matrix, [1, 3], [4.0, 5.0]),
    ]
    mt = tfidf.transpose(model.matrix)
    forward = tfidf.cosine_scores_multi(model.matrix, profiles, model.row_norms, path="forward")
    postings = tfidf.cosine_scores_multi(
        model.matrix, profiles, model.row_norms, matrix_t=mt, path="postings"
    )
    for f, p in zip(forward, postings, strict=True):
        assert f.dtype == np.float32 and f.shape == (len(SOUPS),)
        np.testing.assert_allclose(f, p, rtol=1e-5, atol=1e-7)
    assert forward[0][0] == pytest.approx(1.0, rel=1e-5)  # a movie vs its own profile
    with pytest.raises(ValueError, match="needs matrix_t"):
        tfidf.cosine_scores_multi(model.matrix, profiles, path="postings")
    with pytest.raises(ValueError, match="path must be"):
        tfidf.cosine_scores(model.matrix, profiles[0], path="dense")


def test_top_n_on_a_large_array_matches_a_full_sort():
    rng = np.random.default_rng(3)
    scores = rng.random(200_000).astype(np.float32)
    scores[rng.choice(200_000, 50, replace=False)] = 0.999  # ties at the top
    scores[::1000] = np.nan
    exclude = rng.choice(200_000, 300, replace=False)
    got = tfidf.top_n(scores, exclude, 25)
    assert list(tfidf.top_n(scores, exclude.tolist(), 25)) == list(got)  # array or list
    s = np.where(np.isnan(scores), -np.inf, scores.astype(np.float64))
    s[exclude] = -np.inf
    expected = np.lexsort((np.arange(len(s)), -s))[:25]
    assert list(got) == list(expected)
    # Fewer finite scores than asked for: only those come back.
    few = np.full(100_000, -np.inf)
    few[[5, 7]] = [1.0, 2.0]
    assert list(tfidf.top_n(few, [], 10)) == [7, 5]


def test_text_richness_is_row_length_over_the_full_mark_capped_at_one():
    m = sp.csr_matrix(np.array([[1, 1, 1, 1], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=np.float32))
    assert tfidf.text_richness(m, full_at=2).tolist() == [1.0, 0.5, 0.0]
    with pytest.raises(ValueError):
        tfidf.text_richness(m, full_at=0)


@pytest.mark.parametrize("seed", range(5))
def test_shared_terms_matches_the_elementwise_product(seed):
    """The row-slice lookup names the same terms, in the same order, as the plain sparse
    elementwise product it replaced (ties by lower column), whatever the profile's form."""
    rng = np.random.default_rng(seed)
    matrix = sp.random(40, 60, density=0.15, format="csr", random_state=seed, dtype=np.float64)
    names = np.array([f"t{j}" for j in range(60)])
    profile = sp.random(1, 60, density=0.3, random_state=seed + 100, format="coo")
    profile.data = np.round(profile.data * 4) / 4 - 0.25 * rng.integers(0, 2, profile.nnz)
    for row in range(40):
        prod = sp.csr_matrix(matrix[row]).multiply(sp.csr_matrix(profile)).tocoo()
        order = np.lexsort((prod.col, -prod.data))[:5]
        expected = [str(names[prod.col[i]]) for i in order if prod.data[i] > 0]
        assert tfidf.shared_terms(matrix, profile, row, names, k=5) == expected
        assert tfidf.shared_terms(matrix, tfidf.canonical_row(profile), row, names, k=5) == (
            expected
        )


@pytest.mark.parametrize("k", [1, 3, tfidf.FEW_PROFILE_ROWS, tfidf.FEW_PROFILE_ROWS + 1, 60])
def test_user_profile_is_the_weighted_mean_on_both_paths(k):
    """Few rows are summed from their CSR slices, many by a sparse product: the same profile."""
    rng = np.random.default_rng(k)
    matrix = sp.random(80, 50, density=0.1, format="csr", random_state=k, dtype=np.float64)
    rows = rng.choice(80, k, replace=False)
    weights = rng.uniform(4.0, 5.0, k)
    expected = (weights / weights.sum()) @ matrix.toarray()[rows]
    profile = tfidf.user_profile(matrix, rows, weights)
    assert profile.shape == (1, 50)
    np.testing.assert_allclose(profile.toarray().ravel(), expected, atol=1e-12)


def test_contributions_are_the_weighted_dot_products():
    rng = np.random.default_rng(3)
    dense = rng.random((30, 12)) * (rng.random((30, 12)) < 0.3)
    dense[7] = 0  # a row with no terms at all
    m = sp.csr_matrix(dense.astype(np.float32))
    liked, weights, targets = [4, 7, 0, 9], np.array([5.0, 4.5, 4.0, 5.0]), [3, 29, 3, 0]
    got = tfidf.contributions(m, liked, weights, targets)
    d = m.toarray().astype(np.float64)
    want = (d[targets] @ d[liked].T) * weights
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert (want[:, 1] == 0).all() and (want != 0).sum() > 8


def test_contributions_are_the_very_floats_of_the_full_product():
    # Entries on terms no target has are left out of the sums: the sums must not move at all
    # (explanations are compared exactly between the exact and the two-phase path).
    rng = np.random.default_rng(4)
    dense = rng.random((200, 400)) * (rng.random((200, 400)) < 0.05)
    m = sp.csr_matrix(dense.astype(np.float32))
    liked, targets = rng.choice(200, 60, replace=False), rng.choice(200, 10, replace=False)
    weights = rng.choice([4.0, 4.5, 5.0], 60)
    got = tfidf.contributions(m, liked, weights, targets)
    block = np.zeros((10, 400))
    for i, t in enumerate(targets):
        block[i, m[t].indices] = m[t].data
    rows = m[liked]
    owner = np.repeat(np.arange(60), np.diff(rows.indptr))
    prod = block[:, rows.indices] * rows.data.astype(np.float64)
    at = (np.arange(10)[:, None] * 60 + owner).ravel()
    full = np.bincount(at, weights=prod.ravel(), minlength=600).reshape(10, 60) * weights
    np.testing.assert_array_equal(got, full)
    assert (full != 0).sum() > 20
