"""The cache's Redis connection pool: one per process, shared by every cache object (config/redis_pool.py)."""

import threading

import redis
from django.core.cache.backends.redis import RedisCache

from config.redis_pool import SharedConnectionPool


def test_every_call_for_one_url_and_options_gets_the_same_pool():
    first = SharedConnectionPool.from_url("redis://127.0.0.1:6399/7", socket_timeout=5)
    again = SharedConnectionPool.from_url("redis://127.0.0.1:6399/7", socket_timeout=5)
    assert again is first
    assert isinstance(first, SharedConnectionPool)


def test_another_url_or_other_options_get_a_pool_of_their_own():
    base = SharedConnectionPool.from_url("redis://127.0.0.1:6399/7")
    assert SharedConnectionPool.from_url("redis://127.0.0.1:6399/8") is not base
    assert SharedConnectionPool.from_url("redis://127.0.0.1:6399/7", socket_timeout=1) is not base


class RecordingPool(SharedConnectionPool):
    """The shared pool, noting each pool it hands out."""

    handed_out: list[redis.ConnectionPool] = []

    @classmethod
    def from_url(cls, url: str, **kwargs: object) -> SharedConnectionPool:
        pool = super().from_url(url, **kwargs)
        cls.handed_out.append(pool)
        return pool


def test_cache_objects_built_in_other_threads_share_one_pool():
    # What `caches` does under ASGI: each thread (and async context) builds a RedisCache object of its own.
    # Nothing listens on the port: each `get` builds the cache's pool, then fails to connect.
    options = {"pool_class": "config.tests.test_redis_pool.RecordingPool"}
    RecordingPool.handed_out = []
    refused: list[Exception] = []

    def get_in_a_thread_of_its_own() -> None:
        cache = RedisCache("redis://127.0.0.1:1/9", {"OPTIONS": options})
        try:
            cache.get("key")
        except redis.ConnectionError as error:
            refused.append(error)

    threads = [threading.Thread(target=get_in_a_thread_of_its_own) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(refused) == 3
    assert len(RecordingPool.handed_out) == 3
    assert len({id(pool) for pool in RecordingPool.handed_out}) == 1


def test_with_redis_the_cache_names_the_shared_pool():
    from config.tests.test_settings import local_settings_values

    value = local_settings_values({"REDIS_URL": "redis://127.0.0.1:6379/3"}, "s.CACHES['default']['OPTIONS']")
    assert value == "{'pool_class': 'config.redis_pool.SharedConnectionPool'}"
