"""The client-side rate limit: the bucket's arithmetic, the default limit measured at the fake
TMDB, and the Redis bucket shared by two processes."""

from __future__ import annotations

import bisect
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from movies.tmdb import LocalTokenBucket, TMDBClient, bucket_params, get_rate_limiter

REPO = Path(__file__).resolve().parents[2]


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max((bisect.bisect_left(times, t + window) - i for i, t in enumerate(times)), default=0)


@pytest.mark.parametrize(("limit", "window"), [(40, 10), (10, 1), (2, 1), (1000, 60)])
def test_bucket_never_admits_more_than_the_limit_in_a_window(limit, window):
    capacity, rate = bucket_params(limit, window)
    assert capacity >= 1 and rate > 0
    # One request of headroom for network jitter, when the limit is big enough to spare one.
    assert capacity + rate * window <= (limit - 1 if limit > 2 else limit)


def test_bucket_rejects_nonsense_settings():
    with pytest.raises(ValueError, match="TMDB_RATE_LIMIT"):
        bucket_params(0, 10)
    with pytest.raises(ValueError, match="TMDB_RATE_WINDOW"):
        bucket_params(40, 0)


def test_local_bucket_schedules_a_burst_within_the_limit():
    bucket = LocalTokenBucket(limit=40, window=10)
    # 200 callers at once: each gets a slot (now + wait); no sleeping in this test.
    slots = [bucket.reserve() for _ in range(200)]
    assert slots[:4] == [0.0] * 4  # the burst allowance goes out at once
    assert slots == sorted(slots)  # served in arrival order
    assert max_in_window(slots, 10) <= 39
    # ...and the bucket is not needlessly slow: 196 queued callers at 3.5/s.
    assert slots[-1] == pytest.approx(196 / 3.5, rel=0.01)


def test_default_limit_holds_at_the_fake(fake_tmdb, settings):
    """45 requests at the default 40 per 10 s (about 12 s): an unlimited client would send
    all of them in well under a second."""
    settings.TMDB_RATE_LIMIT, settings.TMDB_RATE_WINDOW = 40, 10.0
    client = TMDBClient()
    assert isinstance(client.limiter, LocalTokenBucket)
    for i in range(45):
        client.movie_details(100 + i)
    assert fake_tmdb.status_counts() == {200: 45}
    assert fake_tmdb.max_in_window(10.0) <= 40


def test_limiter_is_shared_within_a_process(settings):
    settings.REDIS_URL = ""
    assert get_rate_limiter() is get_rate_limiter()


WORKER = textwrap.dedent(
    """
    import sys
    from movies.tmdb import RedisTokenBucket, RetryPolicy, TMDBClient
    url, key, base, token, first = sys.argv[1:6]
    client = TMDBClient(
        base_url=base, read_token=token, api_key="", connect_timeout=2, read_timeout=2,
        retry=RetryPolicy(max_retries=0, backoff_base=0.01, backoff_max=0.1),
        limiter=RedisTokenBucket(url=url, key=key, limit=10, window=1.0),
    )
    for i in range(12):
        client.movie_details(int(first) + i)
    """
)


def test_redis_bucket_is_shared_by_two_processes(fake_tmdb):
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        pytest.skip("needs Redis (REDIS_URL); runs in the Postgres+Redis CI pass")
    key = f"test:tmdb:bucket:{uuid.uuid4().hex}"
    args = [redis_url, key, fake_tmdb.url, fake_tmdb.read_token]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, *args, str(first)],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for first in (100, 120)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    # 24 requests from two processes with no shared memory, each alone allowed 10/s:
    # together they stayed within 10 in any second because the bucket lives in Redis.
    assert fake_tmdb.status_counts() == {200: 24}
    assert fake_tmdb.max_in_window(1.0) <= 10


def test_redis_down_falls_back_to_an_in_process_limit():
    from movies.tmdb import RedisTokenBucket

    # Port 9 (discard): nothing listens, the connection is refused at once.
    bucket = RedisTokenBucket(url="redis://127.0.0.1:9/0", key="k", limit=40, window=10)
    waits = [bucket.reserve() for _ in range(6)]
    assert waits[:4] == [0.0] * 4 and 0 < waits[4] < waits[5]  # still limited
