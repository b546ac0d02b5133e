"""The "More like this" blend (recommendations/similar.py), on small fixed matrices."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations import similar
from recommendations.similar import SimilarError, SimilarWeights, similar_rows


def _tfidf(rows):
    m = sp.csr_matrix(np.asarray(rows, dtype=np.float32))
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel()).astype(np.float32)
    return m, norms


# Row 0 the query; 1 a content near-duplicate; 2 co-rated with 0 but unlike it in text;
# 3 unrelated.
MATRIX, NORMS = _tfidf(
    [
        [1.0, 1.0, 0.0, 0.0],
        [1.0, 0.9, 0.0, 0.0],
        [0.1, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
)


def _neighbours(pairs, n=4):
    m = sp.lil_matrix((n, n), dtype=np.float32)
    for (i, j), w in pairs.items():
        m[i, j] = w
    return sp.csr_matrix(m)


def test_co_rating_pulls_a_co_rated_film_above_a_content_near_duplicate():
    nb = _neighbours({(0, 2): 1.0, (0, 1): 0.05})
    ungated = SimilarWeights(cf_gate=1.0)
    rows = similar_rows(0, matrix=MATRIX, row_norms=NORMS, neighbours=nb, n=3, weights=ungated)
    assert [r.row for r in rows][:2] == [2, 1]
    assert rows[0].leader == "co-rating"
    content_only = similar_rows(0, matrix=MATRIX, row_norms=NORMS, n=3)
    assert [r.row for r in content_only][:2] == [1, 2]


def test_co_rating_counts_fully_only_where_content_agrees():
    # Rows 1 and 2 equally co-rated with the query; 1 is also like it in text, 2 barely.
    nb = _neighbours({(0, 1): 1.0, (0, 2): 1.0})
    no_content = SimilarWeights(content=0.0, prior=0.0)
    rows = similar_rows(0, matrix=MATRIX, row_norms=NORMS, neighbours=nb, n=2, weights=no_content)
    assert [r.row for r in rows] == [1, 2]
    assert rows[0].score > 2 * rows[1].score  # 2's co-rating is gated down towards cf_gate
    ungated = SimilarWeights(content=0.0, prior=0.0, cf_gate=1.0)
    flat = similar_rows(0, matrix=MATRIX, row_norms=NORMS, neighbours=nb, n=2, weights=ungated)
    assert flat[0].score == flat[1].score


def test_without_a_collaborative_part_it_is_content_and_prior():
    prior = np.array([0.5, 0.1, 0.9, 1.0], dtype=np.float32)
    rows = similar_rows(0, matrix=MATRIX, row_norms=NORMS, prior=prior, neighbours=None, n=4)
    assert 3 not in [r.row for r in rows]  # the prior alone never brings a row in
    assert {r.leader for r in rows} <= {"content", "prior"}
    empty = sp.csr_matrix((4, 4), dtype=np.float32)
    same = similar_rows(0, matrix=MATRIX, row_norms=NORMS, prior=prior, neighbours=empty, n=4)
    assert [(r.row, r.score) for r in same] == [(r.row, r.score) for r in rows]


def test_a_thin_content_movie_does_not_float_up_on_a_genre_only_match():
    # Row 1 shares only the genre term with the query (as a movie with no overview does);
    # row 2 shares the genre and a little text, so its raw cosine is lower.
    m, norms = _tfidf(
        [
            [1.0, 1.0, 1.0, 1.0, 0.0],
            [1.0, 0.0, 0.0, 0.0, 0.0],
            [1.0, 0.4, 0.0, 0.0, 1.0],
        ]
    )
    richness = np.array([1.0, 0.05, 1.0], dtype=np.float32)
    raw = similar_rows(0, matrix=m, row_norms=norms, n=2)
    assert [r.row for r in raw] == [1, 2]
    weighed = similar_rows(0, matrix=m, row_norms=norms, richness=richness, n=2)
    assert [r.row for r in weighed] == [2, 1]


def test_ties_are_broken_by_the_prior_then_the_row():
    m, norms = _tfidf([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    no_prior = similar.SimilarWeights(prior=0.0)
    prior = np.array([0.0, 0.2, 0.9, 0.2], dtype=np.float32)
    rows = similar_rows(0, matrix=m, row_norms=norms, prior=prior, n=3, weights=no_prior)
    assert [r.row for r in rows] == [2, 1, 3]
    assert len({r.score for r in rows}) == 1


def test_the_prior_separates_otherwise_equal_scores():
    m, norms = _tfidf([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    prior = np.array([0.0, 0.2, 0.9, 0.5], dtype=np.float32)
    rows = similar_rows(0, matrix=m, row_norms=norms, prior=prior, n=3)
    assert [r.row for r in rows] == [2, 3, 1]
    assert len({r.score for r in rows}) == 3


def test_the_query_and_excluded_rows_are_never_returned():
    nb = _neighbours({(0, 2): 1.0, (0, 3): 0.5})
    rows = similar_rows(0, matrix=MATRIX, row_norms=NORMS, neighbours=nb, exclude_rows=[2], n=4)
    assert sorted(r.row for r in rows) == [1, 3]


def test_stored_content_neighbours_replace_the_scan():
    idx = np.array([[2, -1], [0, -1], [0, -1], [-1, -1]], dtype=np.int32)
    sim = np.array([[0.7, 0.0], [0.9, 0.0], [0.7, 0.0], [0.0, 0.0]], dtype=np.float32)
    rows = similar_rows(
        0, matrix=MATRIX, row_norms=NORMS, content_nbr_idx=idx, content_nbr_sim=sim, n=4
    )
    assert [r.row for r in rows] == [2]  # only what the stored neighbours hold


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"row": 4}, "row must be a catalog row in 0..3"),
        ({"row": -1}, "row must be a catalog row"),
        ({"row": "0"}, "row must be a catalog row"),
        ({"n": 0}, "n must be at least 1"),
        ({"prior": np.zeros(3)}, "prior must have one value per catalog row (4)"),
        ({"richness": np.zeros(5)}, "richness must have one value per catalog row"),
        ({"neighbours": sp.csr_matrix((3, 3))}, "neighbours must be 4 x 4"),
    ],
)
def test_bad_inputs_are_rejected(kwargs, message):
    args = {"row": 0, "matrix": MATRIX, "row_norms": NORMS, **kwargs}
    with pytest.raises(SimilarError) as exc:
        similar_rows(args.pop("row"), **args)
    assert message in str(exc.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cf": -1.0},
        {"prior": float("nan")},
        {"richness_floor": 1.5},
        {"pool": 0},
        {"pool": 2.5},
        {"cf_gate": 1.5},
    ],
)
def test_bad_weights_are_rejected(kwargs):
    with pytest.raises(SimilarError):
        SimilarWeights(**kwargs)


def test_never_a_wall_of_equal_scores():
    # Six rows identical to each other on every signal, then two slightly less similar ones.
    m, norms = _tfidf([[1.0, 0.0]] * 7 + [[1.0, 0.5], [1.0, 0.6]])
    rows = similar_rows(0, matrix=m, row_norms=norms, n=6)
    assert [r.row for r in rows] == [1, 2, 3, 7, 8]
    assert len({r.score for r in rows[:3]}) == 1 and rows[3].score < rows[2].score


def test_stored_neighbours_give_the_full_scans_list_when_they_cover_the_pool():
    # k=1 stored: only the best content neighbour per row; the co-rated rows outside it get
    # their exact cosine, so the blend (and its co-rating gate) match the full scan.
    nb = _neighbours({(0, 2): 1.0, (0, 1): 0.5, (0, 3): 0.4})
    scan = similar_rows(0, matrix=MATRIX, row_norms=NORMS, neighbours=nb, n=3)
    idx = np.array([[1], [0], [0], [-1]], dtype=np.int32)
    cos = (MATRIX @ MATRIX.T).toarray() / np.outer(NORMS, NORMS)
    sim = np.array([[cos[0, 1]], [cos[1, 0]], [cos[2, 0]], [0.0]], dtype=np.float32)
    stored = similar_rows(
        0,
        matrix=MATRIX,
        row_norms=NORMS,
        neighbours=nb,
        content_nbr_idx=idx,
        content_nbr_sim=sim,
        n=3,
    )
    assert [r.row for r in stored] == [r.row for r in scan]
    # float32 storage of the similarities: scores agree to a few parts in a thousand.
    np.testing.assert_allclose([r.score for r in stored], [r.score for r in scan], rtol=5e-3)


def _dense_reference(row, *, matrix, row_norms, neighbours, prior, richness, nbr_idx, nbr_sim,
                     exclude_rows, n, weights=similar.DEFAULT_WEIGHTS):  # fmt: skip
    """The blend as it was computed before it worked on its support only: every signal as a
    catalog-long vector (what the module docstring defines)."""
    n_rows = matrix.shape[0]
    content = np.zeros(n_rows)
    keep = (nbr_idx[row] >= 0) & (nbr_idx[row] < n_rows)
    content[nbr_idx[row][keep]] = nbr_sim[row][keep]
    content = content.clip(min=0.0)
    if neighbours is not None and weights.cf > 0:
        co = neighbours[row].indices
        co = co[content[co] == 0]
        if co.size:
            content[co] = similar._exact_cosine(matrix, row, co, row_norms).clip(min=0.0)
    text = weights.richness_floor + (1.0 - weights.richness_floor) * richness.astype(float)
    content *= text
    content = similar._norm_max(content)
    affinity = content.copy()
    content *= weights.content * float(text[row])
    cf = np.zeros(n_rows)
    if neighbours is not None and weights.cf > 0:
        nb = neighbours[row]
        cf[nb.indices] = nb.data
        cf = similar._norm_max(cf.clip(min=0.0)) * weights.cf
        cf *= weights.cf_gate + (1.0 - weights.cf_gate) * affinity
    skip = np.append(np.array(list(exclude_rows), dtype=np.int64), row)
    content[skip] = 0.0
    cf[skip] = 0.0
    p = np.nan_to_num(prior.astype(np.float64)).clip(min=0.0)
    cands = np.union1d(similar._best(content, weights.pool, p), similar._best(cf, weights.pool, p))
    total = content[cands] + cf[cands] + p[cands] * weights.prior
    order = similar._no_wall(np.lexsort((cands, -p[cands], -total)), total, n)
    return [(int(cands[i]), float(total[i])) for i in order]


@pytest.mark.parametrize("seed", range(6))
def test_working_on_the_support_gives_the_catalog_long_blend(seed):
    # Random catalogs with stored lines (some padding -1), co-ratings (some negative), NaN in
    # the prior, thin rows and excluded rows: the support-only computation returns exactly
    # what the catalog-long vectors give, score for score.
    rng = np.random.default_rng(seed)
    n, k = 400, 20
    matrix = sp.random(n, 60, density=0.08, format="csr", random_state=seed, dtype=np.float32)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel()).astype(np.float32)
    nbr_idx = rng.integers(-1, n, (n, k)).astype(np.int32)
    nbr_sim = rng.random((n, k)).astype(np.float32) * (rng.random((n, k)) < 0.8)
    cf = sp.random(n, n, density=0.05, format="csr", random_state=seed + 1, dtype=np.float32)
    cf.data -= 0.2
    prior = rng.random(n).astype(np.float32)
    prior[rng.integers(0, n, 5)] = np.nan
    richness = rng.random(n).astype(np.float32)
    for row in rng.integers(0, n, 8):
        exclude = [int(x) for x in rng.integers(0, n, 5)]
        for nb in (cf, None):
            got = similar_rows(
                int(row), matrix=matrix, row_norms=norms, neighbours=nb, prior=prior,
                richness=richness, content_nbr_idx=nbr_idx, content_nbr_sim=nbr_sim,
                exclude_rows=exclude, n=12,
            )  # fmt: skip
            want = _dense_reference(
                int(row), matrix=matrix, row_norms=norms, neighbours=nb, prior=prior,
                richness=richness, nbr_idx=nbr_idx, nbr_sim=nbr_sim, exclude_rows=exclude,
                n=12,
            )  # fmt: skip
            assert [(r.row, r.score) for r in got] == want
