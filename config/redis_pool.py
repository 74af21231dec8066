"""One Redis connection pool per process for Django's cache, whatever the thread or async context.

Django's `RedisCache` builds its client, and with it a new redis-py connection pool, for each cache object,
and `django.core.cache.caches` keeps one cache object per thread and per async context: under ASGI a request
(or a consumer's `database_sync_to_async` call) starts with none and builds its own. `RedisCache.close()` does
nothing, so each pool's connection stays open, idle, until the garbage collector finds the cache object.
In the campaign soak (`bench/soak_campaign.py`, BENCHMARKS.md) web's idle connections grew with the run.
`CACHES["default"]["OPTIONS"]["pool_class"]` (Django's documented option) names `SharedConnectionPool`, whose
`from_url` hands every cache object of the process the same pool.
"""

import threading
from typing import Any

import redis


class SharedConnectionPool(redis.ConnectionPool):
    """`from_url` returns the process's one pool for a URL and its options (the first call creates it).

    redis-py's pool is thread-safe and, after a fork (Celery's prefork children), drops the parent's
    connections and opens its own, so one pool serves every thread of a process.
    """

    _pools: dict[tuple[str, str], "SharedConnectionPool"] = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> "SharedConnectionPool":
        key = (url, repr(sorted(kwargs.items())))
        with cls._lock:
            pool = cls._pools.get(key)
            if pool is None:
                pool = cls._pools[key] = super().from_url(url, **kwargs)
            return pool
