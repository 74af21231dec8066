"""calls.channel_layer: a burst of live events larger than the Redis pool waits for connections, and arrives."""

import asyncio

import pytest
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from redis.exceptions import MaxConnectionsError

from calls.channel_layer import WaitingRedisChannelLayer

# The test settings' REDIS_URL: a pytest-xdist worker's own database (the flush below empties it).
pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs a Redis server (REDIS_URL), as in CI")


async def burst(layer: RedisChannelLayer, senders: int) -> list[dict]:
    """`senders` group sends at once to one group with a listener; returns what the listener got."""
    group = "test.burst"
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    try:
        results = await asyncio.gather(
            *(layer.group_send(group, {"type": "call.event", "n": n}) for n in range(senders)), return_exceptions=True
        )
        errors = [result for result in results if isinstance(result, BaseException)]
        if errors:
            raise errors[0]
        return [await asyncio.wait_for(layer.receive(channel), timeout=10) for _ in range(senders)]
    finally:
        await layer.group_discard(group, channel)
        await layer.flush()
        await layer.close_pools()


def small_pool(kind: type[RedisChannelLayer]) -> RedisChannelLayer:
    return kind(hosts=[{"address": settings.REDIS_URL, "max_connections": 2}], capacity=1000)


def test_a_burst_beyond_the_pool_waits_for_connections_and_every_event_arrives():
    received = asyncio.run(burst(small_pool(WaitingRedisChannelLayer), senders=40))
    assert sorted(message["n"] for message in received) == list(range(40))


def test_channels_redis_own_pool_fails_the_same_burst():
    """Why the layer exists: the stock pool raises instead of waiting (this fails once it no longer does)."""
    with pytest.raises(MaxConnectionsError):
        asyncio.run(burst(small_pool(RedisChannelLayer), senders=40))


def test_the_configured_layer_is_the_waiting_one(settings):
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "calls.channel_layer.WaitingRedisChannelLayer"
