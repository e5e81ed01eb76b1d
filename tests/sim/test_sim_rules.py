"""TWS's rules as the simulated TWS enforces them, seen by the stock ibapi EClient."""

from __future__ import annotations

import pytest
from sim_client import CLIENT_MAX, App, call, close, connect

from ib_anyio.sim._server import CLIENT_ID_IN_USE_TEXT, SimServer


@pytest.fixture(params=sorted({100, CLIENT_MAX}), ids=lambda v: f"v{v}")
def server_version(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def test_client_id_in_use_text_is_tws_text() -> None:
    assert CLIENT_ID_IN_USE_TEXT == (
        "Unable to connect as the client id is already in use. Retry with a unique client id."
    )


async def test_a_client_id_already_connected_gets_326_and_is_closed(
    server: SimServer, app: App
) -> None:
    second = await connect(server, client_id=0)
    try:
        events = await second.wait(lambda ev: ("connectionClosed",) in ev)
        assert ("error", -1, 326, CLIENT_ID_IN_USE_TEXT) in events
        assert second.of("nextValidId") == []
        await server.wait_for(lambda m: m.conn == 2 and m.name == "disconnect")
        # The first connection is untouched.
        assert server.connections == 1
        await call(app.reqCurrentTime)
        await app.wait_for("currentTime")
        assert all(e[2] != 326 for e in app.of("error"))
    finally:
        await close(second)


async def test_another_client_id_connects(server: SimServer, app: App) -> None:
    second = await connect(server, client_id=1)
    try:
        await second.wait_for("nextValidId")
        assert all(e[2] != 326 for e in second.of("error"))
        assert server.connections == 2
    finally:
        await close(second)


async def test_a_client_id_is_free_again_once_its_connection_is_gone(
    server: SimServer, app: App
) -> None:
    await close(app)
    await server.wait_for(lambda m: m.conn == 1 and m.name == "disconnect")
    again = await connect(server, client_id=0)
    try:
        await again.wait_for("nextValidId")
        assert all(e[2] != 326 for e in again.of("error"))
    finally:
        await close(again)
