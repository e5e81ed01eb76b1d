from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import ib_anyio
from ib_anyio import sim
from ib_anyio.sim._server import max_version

#: Server versions a request family's tests run at: text, protobuf in the middle of
#: 201-226, and the highest (capped at what the installed ibapi speaks).
VERSIONS = (176, 213, max_version())


def pytest_configure(config: pytest.Config) -> None:
    """With ``IB_ANYIO_REQUEST_COVERAGE=file.json`` (the nox sessions set it), record which
    requests the simulated servers received and answered (tools/request_coverage)."""
    path = os.environ.get("IB_ANYIO_REQUEST_COVERAGE")
    if path:
        from tools.request_coverage.observe import Observer

        config.pluginmanager.register(Observer(Path(path)), "ib_anyio_request_coverage")


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


@pytest.fixture(params=VERSIONS)
async def versioned(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[ib_anyio.Client, sim.SimServer]]:
    """A client and its simulated TWS, at each of :data:`VERSIONS`."""
    async with (
        sim.serve(port=0, server_version=request.param, tick_interval=0.001) as server,
        ib_anyio.connect(server.host, server.port, client_id=1, timeout=5) as c,
    ):
        yield c, server
