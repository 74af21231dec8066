"""The Redis channel layer, with a connection pool that waits for a free connection instead of failing."""

from channels_redis.core import RedisChannelLayer
from redis.asyncio import BlockingConnectionPool

# redis-py's default pool size; a burst beyond it waits up to POOL_TIMEOUT_S for a connection to come back.
POOL_MAX_CONNECTIONS = 100
POOL_TIMEOUT_S = 5.0


class WaitingRedisChannelLayer(RedisChannelLayer):
    """channels_redis' layer on redis-py's `BlockingConnectionPool`.

    channels_redis builds a plain asyncio `ConnectionPool`, which raises `MaxConnectionsError` the moment
    all of its 100 connections are in use. Each live call publishes its events through the layer, so a
    burst — 150 calls starting within a second on a busy event loop — made group adds and sends fail, and
    with them the calls (the server closed their media streams with 1011). This pool waits instead, up to
    `POOL_TIMEOUT_S`. A host given as a URL may set `max_connections` and `timeout` itself; hosts given
    otherwise (sentinels) keep channels_redis' own pool.
    """

    def create_pool(self, index: int):  # type: ignore[no-untyped-def]
        host = dict(self.hosts[index])
        if "address" not in host:
            return super().create_pool(index)
        address = host.pop("address")
        host.setdefault("max_connections", POOL_MAX_CONNECTIONS)
        host.setdefault("timeout", POOL_TIMEOUT_S)
        return BlockingConnectionPool.from_url(address, **host)
