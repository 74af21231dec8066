import asyncio

import pytest

from voice.tests.virtual_time import VirtualTimeLoop


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "virtual_time: run the asyncio test on a loop whose clock jumps to its next timer"
    )


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict:
    """pytest-asyncio's hook: `virtual_time` tests get a VirtualTimeLoop, the others asyncio's default loop."""
    if item.get_closest_marker("virtual_time"):
        return {"virtual_time": VirtualTimeLoop}
    return {"asyncio": asyncio.new_event_loop}
