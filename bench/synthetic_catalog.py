"""A generated movie catalog with the structure real ones have, at any size (benchmarks only).

A uniformly random matrix is the worst case for anything that looks for *similar* movies: every
row is equally (dis)similar to every other, so "the 10 most similar" is noise. Real catalogs are
clustered: films of one sub-genre or franchise share keywords, overview vocabulary, cast and a
director, and a few prolific people and common words run through everything. This module draws
such a catalog from a small topic model, so the benchmarks can fit the *product's* vectorizer on
real-looking soups (``tfidf.build_soup`` + ``tfidf.fit_tfidf``) instead of guessing the matrix:

* ``n // 250`` topics (at least 8) with power-law sizes: each has 1-3 preferred genres, a pool of
  keywords, characteristic overview words, actors and directors;
* a movie has a main topic (and a second one 30% of the time); its genres come mostly from the
  topic, its 3-12 keywords 70% from the topic's pool and 30% from the global Zipf list, its
  20-60-word overview mixes English function words, global Zipf words and topic words, its top-3
  cast and director come mostly from the topic's people;
* popularity is a Pareto draw scaled by the topic's size (big topics have the hits).

Everything is pseudo-words from syllables (no text from any dataset). Deterministic for a seed.
Used by ``bench_twophase.py``, ``bench_build.py`` and ``bench_load.py`` (``--catalog synthetic``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

GENRES = (
    "Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama", "Family",
    "Fantasy", "History", "Horror", "Music", "Mystery", "Romance", "Science Fiction",
    "TV Movie", "Thriller", "War", "Western",
)  # fmt: skip
# Function words an overview is full of (all English stop words: the vectorizer drops them).
FUNCTION_WORDS = (
    "the", "a", "an", "of", "and", "to", "in", "his", "her", "their", "is", "when", "with",
    "who", "must", "on", "for", "by", "from", "as", "into", "after", "but", "he", "she", "they",
)  # fmt: skip
_SYLLABLES = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"] + ["th", "sh", "ch", "qu"]


def pseudo_words(rng: np.random.Generator, count: int, lo: int = 2, hi: int = 4) -> np.ndarray:
    """``count`` distinct pronounceable lowercase words of ``lo``-``hi`` syllables."""
    out: dict[str, None] = {}
    syl = np.array(_SYLLABLES)
    while len(out) < count:
        k = count - len(out)
        lengths = rng.integers(lo, hi + 1, size=k)
        parts = syl[rng.integers(0, len(syl), size=(k, hi))]
        for row, n in zip(parts, lengths, strict=True):
            out.setdefault("".join(row[:n]), None)
    return np.array(list(out)[:count])


def zipf_weights(n: int, exponent: float = 1.0) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** exponent
    return w / w.sum()


@dataclass
class Movie:
    """One generated movie: what the catalog stores and the soup is made of."""

    index: int
    title: str
    year: int
    genres: list[str]
    keywords: list[str]
    overview: str
    cast: list[str]
    directors: list[str]
    popularity: float
    vote_average: float
    vote_count: int
    topic: int


class Catalog:
    """The shared vocabularies and topics of one generated catalog of ``n`` movies."""

    def __init__(self, n: int, seed: int = 2026):
        if n < 1:
            raise ValueError("n must be at least 1.")
        self.n, self.seed = int(n), int(seed)
        rng = np.random.default_rng(seed)
        self.words = pseudo_words(rng, 30_000)
        self.keywords = pseudo_words(rng, 40_000, 2, 5)
        first, last = pseudo_words(rng, 3_000, 1, 3), pseudo_words(rng, 20_000, 2, 4)
        self.people = np.char.add(
            np.char.add(np.char.capitalize(first[rng.integers(0, 3_000, 200_000)]), " "),
            np.char.capitalize(last[rng.integers(0, 20_000, 200_000)]),
        )
        self.n_topics = max(8, self.n // 250)
        t = self.n_topics
        self.topic_weights = zipf_weights(t, 0.7)
        self.topic_genres = [
            rng.choice(len(GENRES), rng.integers(1, 4), replace=False) for _ in range(t)
        ]
        self.topic_keywords = rng.choice(
            len(self.keywords), (t, 30), p=zipf_weights(len(self.keywords), 0.6)
        )
        self.topic_words = rng.integers(300, len(self.words), (t, 50))
        self.topic_actors = rng.choice(
            len(self.people), (t, 40), p=zipf_weights(len(self.people), 0.5)
        )
        self.topic_directors = rng.integers(0, len(self.people), (t, 5))
        # Overview words: Zipf with a flattened head (rank + 20), so the commonest content word is
        # in about one overview in ten, as in real synopses once stop words are gone.
        self.word_p = 1.0 / (np.arange(len(self.words)) + 20.0)
        self.word_p /= self.word_p.sum()
        self.keyword_p = zipf_weights(len(self.keywords), 0.9)
        self.people_p = zipf_weights(len(self.people), 0.8)
        self._words = [str(w) for w in self.words]
        self._keyword_list = [str(w) for w in self.keywords]
        self._people = [str(p) for p in self.people]

    def movies(self, start: int = 0, stop: int | None = None) -> Iterator[Movie]:
        """Movies ``start:stop`` (the same movie for the same index, whatever the slice)."""
        stop = self.n if stop is None else min(int(stop), self.n)
        chunk = 20_000
        for lo in range(int(start) - int(start) % chunk, stop, chunk):
            for movie in self._chunk(lo, min(lo + chunk, self.n)):
                if start <= movie.index < stop:
                    yield movie

    def _chunk(self, lo: int, hi: int) -> Iterator[Movie]:
        # Every random number of the chunk is drawn up front as arrays (one generator call per
        # kind, not per movie): a per-movie rng.choice with a 30,000-weight p costs ~0.1 ms.
        rng = np.random.default_rng([self.seed, lo])
        k = hi - lo
        topics = rng.choice(self.n_topics, k, p=self.topic_weights)
        second = rng.choice(self.n_topics, k, p=self.topic_weights)
        has_second = rng.random(k) < 0.3
        n_kw, n_words = rng.integers(3, 13, k), rng.integers(20, 61, k)
        u = rng.random((k, 8))
        kw_from_topic = rng.random((k, 12)) < 0.7
        kw_rank = np.minimum(rng.zipf(1.6, (k, 12)) - 1, 29)
        global_kw = rng.choice(len(self.keywords), (k, 12), p=self.keyword_p)
        word_kind = rng.random((k, 60))
        global_words = rng.choice(len(self.words), (k, 60), p=self.word_p)
        topic_word = rng.integers(0, 50, (k, 60))
        function_word = rng.integers(0, len(FUNCTION_WORDS), (k, 60))
        people_from_topic = rng.random((k, 4))
        topic_people = rng.integers(0, 40, (k, 4))
        global_people = rng.choice(len(self.people), (k, 4), p=self.people_p)
        n_title = rng.integers(1, 4, k)
        title_words = rng.choice(len(self.words), (k, 3), p=self.word_p)
        extra_genre = rng.integers(0, len(GENRES), k)
        years = rng.integers(1930, 2025, k)
        votes = np.clip(rng.normal(6.3, 1.0, k), 1, 10)
        vote_mult = rng.integers(5, 40, k)
        pareto = rng.pareto(1.3, k) + 1
        words, keywords, people = self._words, self._keyword_list, self._people
        for i in range(k):
            t = int(topics[i])
            ts = (t, int(second[i])) if has_second[i] else (t,)
            genres = {int(g) for j, tt in enumerate(ts) for g in self.topic_genres[tt]
                      if u[i, j] < 0.8}  # fmt: skip
            if not genres or u[i, 2] < 0.2:
                genres.add(int(extra_genre[i]))
            kws = [
                keywords[self.topic_keywords[ts[j % len(ts)], kw_rank[i, j]]]
                if kw_from_topic[i, j]
                else keywords[global_kw[i, j]]
                for j in range(n_kw[i])
            ]
            overview = []
            for j in range(n_words[i]):
                r = word_kind[i, j]
                if r < 0.35:
                    overview.append(FUNCTION_WORDS[function_word[i, j]])
                elif r < 0.75:
                    overview.append(words[global_words[i, j]])
                else:
                    overview.append(words[self.topic_words[ts[j % len(ts)], topic_word[i, j]]])
            cast = [
                people[self.topic_actors[t, topic_people[i, c]]]
                if people_from_topic[i, c] < 0.6
                else people[global_people[i, c]]
                for c in range(3)
            ]
            director = (
                people[self.topic_directors[t, topic_people[i, 3] % 5]]
                if people_from_topic[i, 3] < 0.7
                else people[global_people[i, 3]]
            )
            popularity = float(pareto[i] * (1 + 50 * self.topic_weights[t]))
            yield Movie(
                index=lo + i,
                title=" ".join(words[w].capitalize() for w in title_words[i, : n_title[i]]),
                year=int(years[i]),
                genres=[GENRES[g] for g in sorted(genres)],
                keywords=list(dict.fromkeys(kws)),
                overview=" ".join(overview).capitalize() + ".",
                cast=cast,
                directors=[director],
                popularity=round(popularity, 3),
                vote_average=round(float(votes[i]), 1),
                vote_count=int(min(popularity * vote_mult[i], 30_000)),
                topic=t,
            )

    def soups(self, start: int = 0, stop: int | None = None) -> Iterator[str]:
        """The product's soup of each movie (``tfidf.build_soup``)."""
        from recommendations.tfidf import build_soup

        for m in self.movies(start, stop):
            yield build_soup(
                genres=m.genres,
                keywords=m.keywords,
                overview=m.overview,
                cast=m.cast,
                directors=m.directors,
            )

    def ratings(self, users: int = 2000, per_user: int = 60, seed: int = 7):
        """Site ratings (users x movies, CSR): each user favours 1-3 topics and the popular films,
        liking (4-5 stars) most of their topics' films and rating the rest lower."""
        import scipy.sparse as sp

        rng = np.random.default_rng([self.seed, seed])
        topic_of = np.fromiter((m.topic for m in self.movies()), dtype=np.int32, count=self.n)
        pop = np.fromiter((m.popularity for m in self.movies()), dtype=np.float64, count=self.n)
        by_topic = np.argsort(topic_of, kind="stable")
        starts = np.searchsorted(topic_of[by_topic], np.arange(self.n_topics + 1))
        pop_p = pop / pop.sum()
        rows, cols, vals = [], [], []
        for u in range(users):
            fav = rng.choice(self.n_topics, int(rng.integers(1, 4)), p=self.topic_weights)
            own = np.concatenate([by_topic[starts[t] : starts[t + 1]] for t in fav])
            k_own = min(len(own), per_user // 2)
            picked = np.unique(
                np.concatenate(
                    [
                        rng.choice(own, k_own, replace=False),
                        rng.choice(self.n, per_user - k_own, p=pop_p),
                    ]
                )
            )
            liked = np.isin(topic_of[picked], fav)
            score = np.where(
                liked,
                rng.choice([3.5, 4.0, 4.5, 5.0], len(picked), p=[0.15, 0.3, 0.3, 0.25]),
                rng.choice([1.0, 2.0, 2.5, 3.0, 3.5, 4.0], len(picked)),
            )
            rows.append(np.full(len(picked), u))
            cols.append(picked)
            vals.append(score)
        return sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(users, self.n),
        )
