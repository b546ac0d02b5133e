"""Django's Redis cache backend, keeping one ``redis.Redis`` client per connection pool.

``django.core.cache.backends.redis.RedisCacheClient.get_client`` builds a new ``redis.Redis``
for every cache operation; redis-py's constructor sets up ~170 response callbacks each time,
about a third of the CPU of a ``cache.get`` (0.06 of 0.16 ms measured, docs/benchmarks.md).
Every page makes several (session, user, page parts). A ``redis.Redis`` is only a front to its
connection pool and safe to share between threads, so this client keeps the one it built for
each pool. Everything else, pools and serialization included, is Django's.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}  # connection pool index -> the redis.Redis in front of that pool

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(
                connection_pool=self._get_connection_pool(write)
            )
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
