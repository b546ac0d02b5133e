"""The production hybrid recommender on a tiny hand-made catalog (no database)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations import evaluation_reasons, hybrid, tfidf

SOUPS = [
    "space rocket alien galaxy",  # 0
    "space alien invasion galaxy",  # 1
    "space rocket astronaut moon",  # 2
    "romance wedding love paris",  # 3
    "romance love letter paris",  # 4
    "romance wedding bride love",  # 5
    "heist bank robbery crew",  # 6
    "heist casino robbery vegas",  # 7
]


@pytest.fixture(scope="module")
def model():
    return tfidf.fit_tfidf(SOUPS, tfidf.TfidfParams(min_df=1, max_df=1.0))


@pytest.fixture(scope="module")
def site_ratings():
    """12 users: everyone who likes 0 also likes 6 (a co-rating content cannot see)."""
    rows = []
    for u in range(12):
        r = np.zeros(8)
        r[0], r[6] = 5.0, 4.5
        if u % 3 == 0:
            r[3] = 2.0
        if u % 2 == 0:
            r[4] = 4.0
        rows.append(r)
    return sp.csr_matrix(np.array(rows))


TMDB = np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.7, 0.4, 0.5])


def arrays_for(model, ratings, **params):
    # 34 ratings make a "big" site here: trust the site as a real one with many ratings would.
    params = {"site_half_ratings": 1, "prior_site_half_ratings": 1, **params}
    return hybrid.fit(
        tfidf_matrix=model.matrix,
        ratings=ratings,
        tmdb_popularity=TMDB,
        params=hybrid.HybridParams(**params),
    )


def test_fit_returns_the_named_bounded_arrays(model, site_ratings):
    arrays = arrays_for(model, site_ratings, top_k=2)
    assert set(arrays) == set(hybrid.ARRAY_NAMES)
    n = hybrid.neighbour_matrix(arrays)
    rated = np.unique(site_ratings.nonzero()[1]).size
    assert n.shape == (8, 8)
    assert n.nnz <= rated * 2  # top_k per rated item
    assert int(arrays["n_site_ratings"]) == site_ratings.nnz
    assert hybrid.load_params(arrays).top_k == 2
    assert arrays["prior"].shape == (8,)


def test_collaborative_signal_recommends_co_rated_movie(model, site_ratings):
    arrays = arrays_for(model, site_ratings)
    recs = hybrid.recommend(
        arrays, tfidf_matrix=model.matrix, history_rows=[0], history_scores=[5.0], n=3
    )
    assert recs[0].row == 6  # nothing in common with 0's text, but always co-rated with it
    assert 0 not in [r.row for r in recs]
    assert recs[0].because == (0,)
    # Without collaborative learning (and no prior) only the text neighbours score.
    off = arrays_for(model, site_ratings, collab=False, prior_weight=0.0)
    recs_off = hybrid.recommend(
        off, tfidf_matrix=model.matrix, history_rows=[0], history_scores=[5.0], n=2
    )
    assert {r.row for r in recs_off} == {1, 2}


def test_disliked_movies_push_similar_ones_down(model, site_ratings):
    arrays = arrays_for(model, site_ratings, collab=False)
    kw = {"tfidf_matrix": model.matrix}
    base = hybrid.score(arrays, history_rows=[0], history_scores=[5.0], **kw)
    with_dislike = hybrid.score(arrays, history_rows=[0, 3], history_scores=[5.0, 1.0], **kw)
    # 4 and 5 share words with the disliked 3; the heist movies share nothing with it.
    assert with_dislike[4] < base[4] and with_dislike[5] < base[5]
    assert with_dislike[7] == pytest.approx(base[7])


def test_a_small_site_leans_on_content_and_tmdb(model, site_ratings):
    small = hybrid.fit(tfidf_matrix=model.matrix, ratings=site_ratings, tmdb_popularity=TMDB)
    recs = hybrid.cold_start(small, n=3)
    assert [r.row for r in recs] == [3, 4, 5]  # 34 ratings barely move the TMDB prior


def test_blend_weights_follow_how_much_the_site_has_rated():
    p = hybrid.HybridParams(site_half_ratings=100, prior_weight=1.0)
    w0 = hybrid.blend_weights(n_site_ratings=0, has_collab=True, params=p)
    w100 = hybrid.blend_weights(n_site_ratings=100, has_collab=True, params=p)
    w_big = hybrid.blend_weights(n_site_ratings=100_000, has_collab=True, params=p)
    off = hybrid.blend_weights(n_site_ratings=100_000, has_collab=False, params=p)
    assert w0["cf"] == 0 and w0["prior"] == pytest.approx(1.0)
    assert w100["cf"] == pytest.approx(0.5) and w100["prior"] == pytest.approx(0.5)
    assert w_big["cf"] > 0.99 and w_big["prior"] < 0.01
    assert off["cf"] == 0 and off["prior"] == pytest.approx(1.0)
    # Defaults: a site with 1,000 ratings barely uses CF (too few co-ratings to beat content +
    # popularity, docs/evaluation.md); one with 30,000 mostly does.
    d = hybrid.HybridParams()
    assert hybrid.blend_weights(n_site_ratings=1000, has_collab=True, params=d)["cf"] < 0.05
    assert hybrid.blend_weights(n_site_ratings=30_000, has_collab=True, params=d)["cf"] > 0.9


def test_cold_start_uses_prior_and_new_site_prior_is_tmdb(model, site_ratings):
    empty = sp.csr_matrix((3, 8))
    new_site = arrays_for(model, empty)
    assert int(new_site["n_site_ratings"]) == 0
    recs = hybrid.recommend(new_site, tfidf_matrix=model.matrix, history_rows=[], history_scores=[])
    assert [r.row for r in recs[:3]] == [3, 4, 5]  # TMDB order
    assert all(r.because == () for r in recs)
    busy = arrays_for(model, site_ratings)
    recs = hybrid.cold_start(busy, n=2, exclude_rows=[0])
    assert [r.row for r in recs] == [6, 4]  # most liked on the site, 0 excluded


def test_recommend_excludes_history_and_extra_rows(model, site_ratings):
    arrays = arrays_for(model, site_ratings)
    recs = hybrid.recommend(
        arrays,
        tfidf_matrix=model.matrix,
        history_rows=[0, 1],
        history_scores=[5.0, 4.0],
        exclude_rows=[6],
        n=10,
    )
    rows = [r.row for r in recs]
    assert len(rows) == 5 and not {0, 1, 6} & set(rows)
    assert all(set(r.because) <= {0, 1} for r in recs)
    assert [r.score for r in recs] == sorted([r.score for r in recs], reverse=True)


def test_stored_and_reloaded_arrays_score_the_same(model, site_ratings, tmp_path):
    arrays = arrays_for(model, site_ratings)
    for name, value in arrays.items():
        np.save(tmp_path / f"{name}.npy", value)
    loaded = {n: np.load(tmp_path / f"{n}.npy", mmap_mode="r") for n in hybrid.ARRAY_NAMES}
    kw = {"tfidf_matrix": model.matrix, "history_rows": [2, 5], "history_scores": [4.5, 2.0]}
    np.testing.assert_allclose(hybrid.score(loaded, **kw), hybrid.score(arrays, **kw))


def test_tmdb_prior_damps_few_votes():
    prior = hybrid.tmdb_prior([3, 5000, 4000, 10], [10.0, 8.0, 6.0, 2.0])
    assert prior.argmax() == 1  # 8.0 from 5000 votes beats 10.0 from 3
    assert prior.min() == 0.0 and prior.max() == 1.0


def test_bad_input_is_refused(model, site_ratings):
    with pytest.raises(hybrid.HybridError, match="one column per catalog row"):
        hybrid.fit(tfidf_matrix=model.matrix, ratings=site_ratings[:, :5], tmdb_popularity=TMDB)
    with pytest.raises(hybrid.HybridError, match="one value per catalog row"):
        hybrid.fit(tfidf_matrix=model.matrix, ratings=site_ratings, tmdb_popularity=TMDB[:3])
    arrays = arrays_for(model, site_ratings)
    with pytest.raises(hybrid.HybridError, match="outside the catalog"):
        hybrid.score(arrays, tfidf_matrix=model.matrix, history_rows=[99], history_scores=[4])
    with pytest.raises(hybrid.HybridError, match="same length"):
        hybrid.score(arrays, tfidf_matrix=model.matrix, history_rows=[1], history_scores=[])
    with pytest.raises(hybrid.HybridError, match="Unknown"):
        hybrid.HybridParams.from_dict({"nope": 1})
    with pytest.raises(hybrid.HybridError):
        hybrid.HybridParams(ease_l2=0)


def test_explanations_name_only_liked_movies(model, site_ratings):
    arrays = arrays_for(model, site_ratings)
    kw = {"tfidf_matrix": model.matrix, "n": 4}
    # Row 2 (rated 3.0) shares words with row 1 and adds to it, but is not "liked".
    recs = hybrid.recommend(arrays, history_rows=[0, 2], history_scores=[5.0, 3.0], **kw)
    assert recs and all(set(r.because) <= {0} for r in recs)
    assert any(r.because == (0,) for r in recs)
    liked_both = hybrid.recommend(arrays, history_rows=[0, 2], history_scores=[5.0, 4.5], **kw)
    assert any(2 in r.because for r in liked_both)


def test_term_major_fast_path_gives_the_same_scores(model, site_ratings):
    arrays = arrays_for(model, site_ratings)
    kw = {"tfidf_matrix": model.matrix, "history_rows": [0, 3, 6], "history_scores": [5, 1, 4]}
    np.testing.assert_allclose(
        hybrid.score(arrays, tfidf_matrix_t=tfidf.transpose(model.matrix), **kw),
        hybrid.score(arrays, **kw),
        rtol=1e-6,
        atol=1e-9,
    )


def test_prior_share_tells_popular_picks_from_personal_ones(model, site_ratings):
    """A space fan: space movies are there on content, the romance ones on the prior."""
    arrays = arrays_for(model, site_ratings, collab=False)
    recs = hybrid.recommend(
        arrays, tfidf_matrix=model.matrix, history_rows=[0], history_scores=[5.0], n=7
    )
    share = {r.row: r.prior_share for r in recs}
    assert all(0.0 <= s <= 1.0 for s in share.values())
    # Row 3 shares no word with row 0 and has the highest TMDB figure: all prior.
    assert share[3] == pytest.approx(1.0)
    # Row 1 shares three words with row 0: mostly content.
    assert share[1] < 0.5


def test_the_named_movie_is_the_top_contributor_through_cf_and_content(model, site_ratings):
    """ "Because you liked X" names the liked movie with the largest share of the pick's
    score, the content shares on the same scale as the CF ones (they were several times too
    small, so a CF neighbour was named where content carried the pick)."""
    arrays = arrays_for(model, site_ratings)
    checked = 0
    for rows, scores in [
        ([0, 1, 5], [5.0, 5.0, 4.0]),
        ([0, 2, 5], [5.0, 4.0, 4.0]),
        ([0, 3], [5, 5]),
    ]:
        rows, scores = np.array(rows), np.array(scores)
        recs = hybrid.recommend(
            arrays, tfidf_matrix=model.matrix, history_rows=rows, history_scores=scores, n=5
        )
        for r in recs:
            if not r.because:
                continue
            top = evaluation_reasons.top_contributor(
                arrays,
                tfidf_matrix=model.matrix,
                rows=rows,
                scores=scores,
                target=r.row,
                like=4.0,
            )
            assert r.because[0] == top, (rows, r)
            checked += 1
    assert checked >= 6


def test_richness_pushes_a_genre_only_movie_below_a_described_one(monkeypatch):
    soups = [
        "scifi space rocket alien galaxy wormhole crew",  # 0: liked
        "scifi robot planet mars desert",  # 1: described, shares only the genre
        "scifi",  # 2: genre only: all its (one-word) text is the genre, a higher cosine
        "romance love paris",
    ]
    m = tfidf.fit_tfidf(soups, tfidf.TfidfParams(min_df=1, max_df=1.0))
    ratings = sp.csr_matrix((1, 4))

    def ranked(strength):
        arrays = hybrid.fit(
            tfidf_matrix=m.matrix,
            ratings=ratings,
            tmdb_popularity=np.array([0.5, 0.5, 0.5, 0.1]),  # 1 and 2: the same prior
            params=hybrid.HybridParams(collab=False, richness_strength=strength),
        )
        recs = hybrid.recommend(
            arrays, tfidf_matrix=m.matrix, history_rows=[0], history_scores=[5.0], n=2
        )
        return [r.row for r in recs]

    assert ranked(1.0) == [1, 2]
    monkeypatch.setattr(hybrid, "THIN_FACTOR", 1.0)
    assert ranked(0.0) == [2, 1]  # the problem without either: the genre-only row wins


def test_only_rows_as_thin_as_genres_alone_are_halved_at_strength_zero():
    rows = np.zeros((2, 40), dtype=np.float32)
    rows[0, : hybrid.THIN_TERMS] = 1.0  # just enough text
    rows[1, :3] = 1.0  # three genres
    m = sp.csr_matrix(rows)
    assert hybrid.content_factor(m, 0.0).tolist() == [1.0, hybrid.THIN_FACTOR]
    rich = tfidf.text_richness(m)
    np.testing.assert_allclose(
        hybrid.content_factor(m, 0.1), [0.9 + 0.1 * rich[0], (0.9 + 0.1 * rich[1]) * 0.5]
    )


def test_equal_scores_are_ordered_by_the_prior_not_the_row():
    scores = np.array([0.5, 0.6, 0.6, 0.6, 0.6, 0.2], dtype=np.float32)
    prior = np.array([0.9, 0.1, 0.2, 0.9, 0.4, 0.0])
    assert hybrid.top_n_tiebreak(scores, prior, [], 3).tolist() == [3, 4, 2]
    assert hybrid.top_n_tiebreak(scores, prior, [3], 5).tolist() == [4, 2, 1, 0, 5]
    assert hybrid.top_n_tiebreak(scores, prior, [], 0).tolist() == []


def test_richness_strength_is_checked():
    with pytest.raises(hybrid.HybridError, match="richness_strength"):
        hybrid.HybridParams(richness_strength=1.5)


def test_equal_shares_name_the_lower_row_first():
    # Rows 0 and 1 are the same movie twice: every target owes them the same share.
    m = tfidf.fit_tfidf(
        ["space rocket alien", "space rocket alien", "space rocket moon", "love paris"],
        tfidf.TfidfParams(min_df=1, max_df=1.0),
    ).matrix
    arrays = hybrid.fit(tfidf_matrix=m, ratings=sp.csr_matrix((1, 4)), tmdb_popularity=np.ones(4))
    for history in ([0, 1], [1, 0]):
        recs = hybrid.recommend(
            arrays, tfidf_matrix=m, history_rows=history, history_scores=[5.0, 5.0], n=1
        )
        assert recs[0].row == 2 and recs[0].because == (0, 1)


def test_scoring_some_rows_gives_their_full_scan_scores(model, site_ratings):
    arrays = arrays_for(model, site_ratings)
    kw = {"tfidf_matrix": model.matrix, "history_rows": [0, 3, 6], "history_scores": [5, 1, 4]}
    full = hybrid.score_parts(arrays, **kw)
    # Rows 0 and 3 hold the liked and the disliked content scale; the largest CF item is left
    # out: the CF scale still comes from every row CF reaches.
    some = np.array([0, 2, 3, 5])
    top_cf = full.cf_items[np.abs(full.cf_part).argmax()]
    assert top_cf not in some
    part = hybrid.score_parts(arrays, score_rows=some, **kw)
    assert part.scores.shape == (4,) and part.cf_scale == full.cf_scale
    np.testing.assert_allclose(part.scores, full.scores[some], rtol=1e-6)
    assert np.isclose(part.content_scale, full.content_scale)
    assert np.isclose(part.dislike_scale, full.dislike_scale)
    # Without the rows holding the scales, the content parts are scaled by what is scored.
    other = hybrid.score_parts(arrays, score_rows=np.array([2, 5, 7]), **kw)
    assert other.content_scale < full.content_scale
    assert not np.allclose(other.scores, full.scores[[2, 5, 7]])


def test_a_pick_keeps_some_of_the_top_rows_and_explains_only_those(
    model, site_ratings, monkeypatch
):
    arrays = arrays_for(model, site_ratings)
    kw = {"tfidf_matrix": model.matrix, "history_rows": [0, 3], "history_scores": [5.0, 1.0]}
    full = hybrid.recommend(arrays, n=5, **kw)
    seen = []
    real = hybrid.explain

    def spy(*args, **kwargs):
        seen.append(list(kwargs["target_rows"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(hybrid, "explain", spy)
    picked = hybrid.recommend(arrays, n=5, pick=lambda rows, scores: [3, 0], **kw)
    assert picked == [full[3], full[0]]  # the same scores, shares and reasons
    assert any(r.because for r in picked)
    assert seen == [[full[3].row, full[0].row]]  # only the picks were explained
