"""Fixtures for the simulated TWS tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sim_client import VERSIONS, App, close, connect

from ib_anyio import sim
from ib_anyio.sim._server import SimServer


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=VERSIONS, ids=lambda v: f"v{v}")
def server_version(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
async def server(server_version: int) -> AsyncIterator[SimServer]:
    async with sim.serve(port=0, server_version=server_version, tick_interval=0.01) as srv:
        yield srv
        assert srv._failures == []


@pytest.fixture
async def app(server: SimServer) -> AsyncIterator[App]:
    client = await connect(server)
    try:
        await client.wait_for("nextValidId")
        yield client
    finally:
        await close(client)
