"""manage.py evaluate: on small generated files, and (dataset test) on ../shared/data."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

THEMES = {
    "space": ["space", "alien", "rocket", "galaxy", "astronaut"],
    "romance": ["love", "wedding", "paris", "romance", "kiss"],
    "crime": ["heist", "bank", "robbery", "detective", "mafia"],
}


@pytest.fixture
def small_dataset(tmp_path):
    """45 movies in 3 themes, 20 users who each prefer one theme (deterministic)."""
    rng = np.random.default_rng(7)
    links = ["movieId,imdbId,tmdbId"]
    details = []
    movie_theme = {}
    for i in range(45):
        theme = list(THEMES)[i % 3]
        movie_id, tmdb_id = i + 1, 1000 + i
        movie_theme[movie_id] = theme
        links.append(f"{movie_id},{i},{tmdb_id}")
        words = rng.choice(THEMES[theme], 3, replace=False).tolist()
        details.append(
            {
                "id": tmdb_id,
                "title": f"{theme} {i}",
                "overview": f"A story about {' and '.join(words)}.",
                "genres": [{"id": 1, "name": theme.title()}],
                "keywords": {"keywords": [{"id": 2, "name": words[0]}]},
                "popularity": float(rng.random() * 10),
                "vote_count": int(rng.integers(1, 500)),
                "vote_average": float(rng.integers(40, 90) / 10),
            }
        )
    links.append("999,999,")  # no TMDB id: outside the catalog
    rows = ["userId,movieId,rating,timestamp"]
    for user in range(1, 21):
        favourite = list(THEMES)[user % 3]
        movies = rng.choice(np.arange(1, 46), 15, replace=False)
        for t, movie in enumerate(movies):
            score = 4.5 if movie_theme[int(movie)] == favourite else 2.0
            rows.append(f"{user},{movie},{score},{1000 + t}")
    (tmp_path / "links.csv").write_text("\n".join(links) + "\n")
    (tmp_path / "ratings.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "details.jsonl").write_text("\n".join(json.dumps(d) for d in details) + "\n")
    return tmp_path


def run(dataset, out, **opts):
    stdout = io.StringIO()
    call_command(
        "evaluate",
        ratings=dataset / "ratings.csv",
        links=dataset / "links.csv",
        tmdb=dataset / "details.jsonl",
        out=out,
        verbosity=0,
        stdout=stdout,
        **opts,
    )
    return stdout.getvalue()


def test_evaluate_writes_report_per_user_csv_and_chart(small_dataset, tmp_path):
    out = tmp_path / "out"
    text = run(small_dataset, out, strategies="popularity,content_tfidf,production")
    assert "Catalog 45 movies" in text
    report = json.loads((out / "report.json").read_text())
    assert list(report) == ["popularity", "content_tfidf", "production"]
    for values in report.values():
        assert set(values) >= {"precision", "recall", "ndcg", "hit_rate", "coverage", "users"}
        assert 0 <= values["ndcg"] <= 1
    users = report["production"]["users"]
    assert users > 0
    # Users love one theme: learning from content/co-ratings must beat a popularity list.
    assert report["production"]["ndcg"] > report["popularity"]["ndcg"]
    with open(out / "per_user.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["user_id", "strategy", "precision", "recall", "ndcg", "hit"]
    assert len(rows) == 3 * users
    assert (out / "evaluation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "production" in text and "NDCG@10" in text


def test_evaluate_is_deterministic(small_dataset, tmp_path):
    run(small_dataset, tmp_path / "a", strategies="production,item_knn", no_chart=True)
    run(small_dataset, tmp_path / "b", strategies="production,item_knn", no_chart=True)
    assert (tmp_path / "a" / "report.json").read_text() == (
        tmp_path / "b" / "report.json"
    ).read_text()
    assert not (tmp_path / "a" / "evaluation.png").exists()


def test_protocol_options_change_the_split(small_dataset, tmp_path):
    run(small_dataset, tmp_path / "a", strategies="popularity", no_chart=True)
    run(small_dataset, tmp_path / "b", strategies="popularity", no_chart=True, history_fraction=0.5)
    a = json.loads((tmp_path / "a" / "report.json").read_text())["popularity"]
    b = json.loads((tmp_path / "b" / "report.json").read_text())["popularity"]
    assert a != b  # half the ratings as test: other relevant items, other scores
    with pytest.raises(CommandError, match="No user has >= 16 catalog ratings"):
        run(small_dataset, tmp_path / "c", strategies="popularity", min_ratings=16)


def test_bad_input_gives_clear_errors_and_writes_nothing(small_dataset, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(CommandError, match="Unknown strategy nope"):
        run(small_dataset, out, strategies="popularity,nope")
    with pytest.raises(CommandError, match="--ratings file not found"):
        call_command("evaluate", ratings=tmp_path / "missing.csv", out=out, verbosity=0)
    with pytest.raises(CommandError, match="history-fraction"):
        run(small_dataset, out, history_fraction=1.5)
    assert not out.exists()


@pytest.mark.dataset
def test_production_beats_popularity_on_movielens(shared_data_dir, tmp_path):
    """Regression guard on the real data (the exact targets live in docs/evaluation.md)."""
    out = tmp_path / "eval"
    stdout = io.StringIO()
    call_command(
        "evaluate",
        out=out,
        strategies="popularity,production,production_no_collab",
        no_chart=True,
        verbosity=0,
        stdout=stdout,
    )
    report = json.loads((out / "report.json").read_text())
    assert report["production"]["users"] == report["popularity"]["users"] > 400
    assert report["production"]["ndcg"] > report["popularity"]["ndcg"]
    assert report["production"]["hit_rate"] > report["popularity"]["hit_rate"]
    assert report["production_no_collab"]["ndcg"] > report["popularity"]["ndcg"]


def test_evaluate_prints_the_item_to_item_table(small_dataset, tmp_path):
    text = run(small_dataset, tmp_path / "a", strategies="popularity", no_chart=True)
    items = json.loads((tmp_path / "a" / "item_to_item.json").read_text())
    assert list(items) == ["content-only", "collaborative-only", "blended"]
    assert len({v["pairs"] for v in items.values()}) == 1 and items["blended"]["pairs"] > 0
    assert all(0 <= v["hit_rate"] <= 1 for v in items.values())
    assert "more like this" in text and "hit@12" in text
    run(small_dataset, tmp_path / "b", strategies="popularity", no_chart=True, no_item_to_item=True)
    assert not (tmp_path / "b" / "item_to_item.json").exists()
