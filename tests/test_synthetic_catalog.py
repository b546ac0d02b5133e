"""The benchmarks' generated catalog: deterministic, sliceable, and clustered like a real one."""

import numpy as np

from bench.synthetic_catalog import GENRES, Catalog
from recommendations import tfidf


def test_same_movie_for_the_same_index_whatever_the_slice():
    catalog = Catalog(45_000, seed=3)
    whole = {m.index: m for m in catalog.movies(19_990, 20_010)}
    again = Catalog(45_000, seed=3)
    assert [m.index for m in again.movies(20_000, 20_005)] == list(range(20_000, 20_005))
    for m in again.movies(20_000, 20_005):
        assert m == whole[m.index]
    assert next(Catalog(45_000, seed=4).movies(20_000, 20_001)) != whole[20_000]


def test_movies_have_what_a_soup_needs():
    for m in Catalog(500).movies():
        assert m.genres and set(m.genres) <= set(GENRES)
        assert 3 >= len(m.cast) >= 1 and len(m.directors) == 1
        assert 1 <= len(m.keywords) <= 12 and m.overview.endswith(".")
        assert m.popularity > 0 and 1 <= m.vote_average <= 10


def test_nearest_neighbours_share_a_topic():
    # The point of the generator: similar movies exist (a random matrix has none), so the
    # fitted cosine's top 10 mostly come from the movie's own topic.
    catalog = Catalog(3_000, seed=1)
    topic = np.array([m.topic for m in catalog.movies()])
    matrix = tfidf.fit_tfidf(list(catalog.soups())).matrix
    sims = (matrix[:100] @ matrix.T).toarray()
    sims[np.arange(100), np.arange(100)] = -1
    best = np.argsort(-sims, axis=1)[:, :10]
    same = (topic[best] == topic[:100, None]).mean()
    chance = np.mean([(topic == t).mean() for t in topic[:100]])
    assert same > 0.6 and same > 4 * chance, (same, chance)


def test_ratings_favour_the_users_topics():
    catalog = Catalog(2_000, seed=2)
    ratings = catalog.ratings(users=50, per_user=40)
    assert ratings.shape == (50, 2_000)
    assert set(np.unique(ratings.data)) <= {1.0, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0}
    assert (ratings.data >= 4.0).mean() > 0.3
