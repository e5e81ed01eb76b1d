from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import ib_anyio
from ib_anyio import sim


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs on both backends; a missing trio fails loudly."""
    return str(request.param)


@pytest.fixture
async def server() -> AsyncIterator[sim.SimServer]:
    async with sim.serve(port=0, tick_interval=0.001) as s:
        yield s


@pytest.fixture
async def client(server: sim.SimServer) -> AsyncIterator[ib_anyio.Client]:
    async with ib_anyio.connect(server.host, server.port, client_id=1, timeout=5) as c:
        yield c
