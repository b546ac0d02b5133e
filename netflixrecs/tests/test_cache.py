"""netflixrecs.cache: Django's Redis cache with one redis.Redis client per connection pool."""

import os

import pytest
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

from netflixrecs.cache import RedisCache

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL (a real Redis)")


def _cache(**params):
    return RedisCache(REDIS_URL, {"KEY_PREFIX": "test-netflixrecs-cache", **params})


def test_is_djangos_backend_and_reuses_one_client_per_pool():
    cache = _cache()
    assert isinstance(cache, DjangoRedisCache)
    client = cache._cache
    assert client.get_client("a") is client.get_client("b")
    assert client.get_client("a", write=True) is client.get_client(None, write=True)
    # Django's own client builds a new one on every call: what this backend saves.
    django_client = DjangoRedisCache(REDIS_URL, {})._cache
    assert django_client.get_client("a") is not django_client.get_client("a")


def test_operations_work_as_djangos():
    cache = _cache()
    try:
        cache.set("k", {"a": [1, 2]}, 30)
        assert cache.get("k") == {"a": [1, 2]}
        assert cache.add("k", "other") is False
        cache.set_many({"x": 1, "y": "two"}, 30)
        assert cache.get_many(["x", "y", "missing"]) == {"x": 1, "y": "two"}
        assert cache.incr("x") == 2
        cache.delete_many(["x", "y"])
        assert cache.get("x") is None
    finally:
        cache.delete_many(["k", "x", "y"])
