"""The evaluation protocol and metrics on tiny hand-made data (no database, no shared data)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from recommendations import evaluation as ev


def ratings_of(rows: list[tuple[int, int, float, int]]) -> ev.Ratings:
    """(user_id, catalog_row, score, timestamp) tuples -> Ratings."""
    u, r, s, t = zip(*rows, strict=True)
    return ev.Ratings(
        user_ids=np.array(u, dtype=np.int64),
        rows=np.array(r, dtype=np.int64),
        scores=np.array(s, dtype=np.float64),
        timestamps=np.array(t, dtype=np.int64),
    )


# --- split ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "expected"), [(10, 8), (11, 8), (12, 9), (15, 12), (2, 1), (5, 4)])
def test_history_length_is_floor_of_80_percent(n, expected):
    assert ev.history_length(n, 0.8) == expected


def test_split_orders_by_time_then_row_and_keeps_last_20_percent_as_test():
    # user 7: 10 ratings; rows 0..9 with timestamps that put row 9 first; rows 3 and 2 tie.
    data = [(7, 9, 4.0, 1)] + [(7, r, 3.0, 100 + r) for r in range(8) if r not in (2, 3)]
    data += [(7, 3, 5.0, 50), (7, 2, 4.5, 50), (7, 8, 4.0, 108)]
    splits = ev.split_users(ratings_of(data))
    assert len(splits) == 1
    s = splits[0]
    # Order: 9 (t=1), then tie at t=50 broken by row: 2, 3, then 0,1,4,5,6,7,8 by time.
    assert s.history_rows.tolist() == [9, 2, 3, 0, 1, 4, 5, 6]
    assert s.test_rows.tolist() == [7, 8]
    assert s.relevant_rows.tolist() == [8]  # 7 was rated 3.0


def test_users_without_relevant_test_items_or_too_few_ratings_are_skipped():
    few = [(1, r, 5.0, r) for r in range(9)]  # 9 ratings < 10
    no_relevant = [(2, r, 5.0 if r < 8 else 3.5, r) for r in range(10)]
    good = [(3, r, 2.0 if r < 8 else 4.0, r) for r in range(10)]
    splits = ev.split_users(ratings_of(few + no_relevant + good))
    assert [s.user_id for s in splits] == [3]
    assert splits[0].relevant_rows.tolist() == [8, 9]
    assert splits[0].history_scores.tolist() == [2.0] * 8


def test_split_is_independent_of_input_order():
    rng = np.random.default_rng(0)
    data = [(u, int(r), float(rng.integers(1, 11)) / 2, int(rng.integers(0, 5))) for u in (1, 2)
            for r in rng.choice(40, 15, replace=False)]  # fmt: skip
    a = ev.split_users(ratings_of(data))
    shuffled = [data[i] for i in rng.permutation(len(data))]
    b = ev.split_users(ratings_of(shuffled))
    assert [s.user_id for s in a] == [s.user_id for s in b]
    for x, y in zip(a, b, strict=True):
        assert x.history_rows.tolist() == y.history_rows.tolist()
        assert x.relevant_rows.tolist() == y.relevant_rows.tolist()


def test_history_matrix_holds_only_history_ratings():
    data = [(1, r, 4.0 + (r % 2) / 2, r) for r in range(10)]
    splits = ev.split_users(ratings_of(data))
    m = ev.history_matrix(splits, 12)
    assert m.shape == (1, 12)
    assert sorted(m.indices.tolist()) == list(range(8))  # rows 8, 9 are test: invisible
    assert m[0, 1] == 4.5


# --- metrics ----------------------------------------------------------------------------------


def test_user_metrics_hand_computed():
    m = ev.user_metrics([1, 2, 3], relevant=[2, 5], k=3)
    assert m.precision == pytest.approx(1 / 3)
    assert m.recall == pytest.approx(1 / 2)
    dcg = 1 / math.log2(3)
    idcg = 1 + 1 / math.log2(3)
    assert m.ndcg == pytest.approx(dcg / idcg)
    assert m.hit == 1


def test_user_metrics_perfect_and_empty():
    assert ev.user_metrics([4, 5], relevant=[5, 4], k=2).ndcg == pytest.approx(1.0)
    miss = ev.user_metrics([1, 2], relevant=[3], k=2)
    assert (miss.precision, miss.recall, miss.ndcg, miss.hit) == (0, 0, 0, 0)
    with pytest.raises(ValueError):
        ev.user_metrics([1], relevant=[], k=1)


def test_short_list_still_divides_precision_by_k():
    m = ev.user_metrics([3], relevant=[3], k=10)
    assert m.precision == pytest.approx(0.1)
    assert m.ndcg == pytest.approx(1.0)  # one relevant item at rank 1 is ideal


def test_top_k_excluding_breaks_ties_by_row_and_skips_history():
    scores = np.array([0.5, 0.9, 0.5, 0.9, 0.1])
    assert ev.top_k_excluding(scores, np.array([1]), 3).tolist() == [3, 0, 2]
    assert ev.top_k_excluding(scores, np.array([0, 1, 2, 3]), 3).tolist() == [4]


def test_evaluate_lists_means_and_coverage():
    splits = [
        ev.UserSplit(1, np.array([0]), np.array([4.0]), np.array([1]), np.array([1])),
        ev.UserSplit(2, np.array([0]), np.array([4.0]), np.array([2]), np.array([2])),
    ]
    res = ev.evaluate_lists(
        strategy="x", splits=splits, recommendations=[[1, 3], [3, 4]], n_items=10, k=2
    )
    assert res.users == 2
    assert res.hit_rate == pytest.approx(0.5)
    assert res.precision == pytest.approx(0.25)
    assert res.coverage == pytest.approx(3 / 10)  # {1, 3, 4}
    assert res.summary()["strategy"] == "x"
    with pytest.raises(ValueError):
        ev.evaluate_lists(strategy="x", splits=splits, recommendations=[[1]], n_items=10, k=2)


# --- loading ----------------------------------------------------------------------------------


def test_load_catalog_keeps_links_with_tmdb_metadata(tmp_path):
    links = tmp_path / "links.csv"
    links.write_text("movieId,imdbId,tmdbId\n1,1,100\n2,2,\n3,3,300\n4,4,100\n5,5,999\n")
    tmdb = tmp_path / "d.jsonl"
    tmdb.write_text(
        json.dumps(
            {
                "id": 100,
                "title": "A",
                "genres": [{"id": 1, "name": "Science Fiction"}],
                "keywords": {"keywords": [{"id": 2, "name": "space war"}]},
                "overview": "x",
                "popularity": 3.5,
                "vote_count": 10,
                "vote_average": 7.0,
            }
        )
        + "\n\n"
        + json.dumps({"id": 300, "title": "C"})
        + "\n"
    )
    cat = ev.load_catalog(links_path=links, tmdb_path=tmdb)
    assert [it.movielens_id for it in cat.items] == [1, 3]  # 2: no tmdbId, 4: duplicate, 5: none
    assert cat.items[0].genres == ("Science Fiction",)
    assert cat.items[0].keywords == ("space war",)
    assert cat.row_by_movielens_id == {1: 0, 3: 1}

    ratings = tmp_path / "r.csv"
    ratings.write_text("userId,movieId,rating,timestamp\n1,1,4.5,10\n1,2,3.0,11\n2,3,1.0,12\n")
    r = ev.load_ratings(ratings_path=ratings, catalog=cat)
    assert r.rows.tolist() == [0, 1]  # movie 2 is not in the catalog
    assert r.scores.tolist() == [4.5, 1.0]


def test_load_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    links = tmp_path / "links.csv"
    links.write_text("movieId,tmdbId\n1,1\n")
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        ev.load_catalog(links_path=links, tmdb_path=bad)
    nolinks = tmp_path / "nolinks.csv"
    nolinks.write_text("movieId,imdbId\n1,1\n")
    good = tmp_path / "good.jsonl"
    good.write_text('{"id": 1}\n')
    with pytest.raises(ValueError, match="tmdbId"):
        ev.load_catalog(links_path=nolinks, tmdb_path=good)


def test_run_strategy_measures_the_scorer_it_is_given():
    splits = [
        ev.UserSplit(1, np.array([0]), np.array([5.0]), np.array([1, 2]), np.array([1])),
        ev.UserSplit(2, np.array([1]), np.array([5.0]), np.array([2]), np.array([2])),
    ]
    item = ev.CatalogItem(1, 1, "t", (), (), "", 0.0, 0, 0.0)
    catalog = ev.Catalog(items=[item] * 4, row_by_movielens_id={1: 0})  # only its length matters
    ctx = ev.EvalContext(catalog=catalog, splits=splits, history=ev.history_matrix(splits, 4), k=2)
    result = ev.run_strategy(ctx, "fixed", lambda c: [np.array([1, 3]), np.array([3, 2])])
    assert result.strategy == "fixed" and result.users == 2
    assert result.hit_rate == 1.0 and result.coverage == 3 / 4


def test_module_has_no_django_imports():
    text = Path(ev.__file__).read_text()
    assert not re.search(r"^\s*(from|import)\s+django", text, re.MULTILINE)
