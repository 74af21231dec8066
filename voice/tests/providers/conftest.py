import pytest_asyncio

from voice.tests.providers.fake_servers import FakeServer


@pytest_asyncio.fixture
async def fake_server():
    server = await FakeServer().start()
    yield server
    await server.stop()
