"""Calls-per-second pacing: a token bucket per campaign, shared by every worker when Redis is configured.

With `REDIS_URL` the bucket lives in Redis and is updated by one Lua script (atomic, timed by the Redis
server's clock, so every worker on every host draws from the same tokens). Without Redis — the demo —
an in-process bucket is used; the demo runs the dispatcher in a single process (the `dialer` queue of
the Procfile), so that bucket is the only one.
"""

import functools
import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis
from django.conf import settings

# Refill by elapsed time, cap at burst, grant up to `want` whole tokens. Returns the grant.
_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate, burst, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local granted = math.min(want, math.floor(tokens))
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - granted), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
return granted
"""
_GIVE_BACK = """
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or '0')
redis.call('HSET', KEYS[1], 'tokens', tostring(math.min(tonumber(ARGV[2]), tokens + tonumber(ARGV[1]))))
return 1
"""


class TokenBucket(Protocol):
    def take(self, key: str, *, rate: float, burst: float, want: int) -> int:
        """Grant up to `want` tokens (calls that may start now)."""

    def give_back(self, key: str, *, burst: float, count: int) -> None:
        """Return tokens granted but not used (targets the gate turned away)."""


class RedisTokenBucket:
    def __init__(self, client: redis.Redis) -> None:
        self._take = client.register_script(_TAKE)
        self._give_back = client.register_script(_GIVE_BACK)

    def take(self, key: str, *, rate: float, burst: float, want: int) -> int:
        if want <= 0:
            return 0
        return int(self._take(keys=[key], args=[rate, burst, want]))

    def give_back(self, key: str, *, burst: float, count: int) -> None:
        if count > 0:
            self._give_back(keys=[key], args=[count, burst])


class InProcessTokenBucket:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, key: str, *, rate: float, burst: float, want: int) -> int:
        if want <= 0:
            return 0
        with self._lock:
            now = self._clock()
            tokens, at = self._state.get(key, (burst, now))
            tokens = min(burst, tokens + max(0.0, now - at) * rate)
            granted = min(want, int(tokens))
            self._state[key] = (tokens - granted, now)
            return granted

    def give_back(self, key: str, *, burst: float, count: int) -> None:
        if count <= 0:
            return
        with self._lock:
            tokens, at = self._state.get(key, (0.0, self._clock()))
            self._state[key] = (min(burst, tokens + count), at)


@functools.cache
def _in_process_bucket() -> InProcessTokenBucket:
    return InProcessTokenBucket()


@functools.cache
def _redis_bucket(url: str) -> RedisTokenBucket:
    return RedisTokenBucket(redis.Redis.from_url(url))


def token_bucket() -> TokenBucket:
    return _redis_bucket(settings.REDIS_URL) if settings.REDIS_URL else _in_process_bucket()


def campaign_bucket_key(campaign_id: int) -> str:
    return f"callwright:cps:campaign:{campaign_id}"
