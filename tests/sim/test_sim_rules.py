"""TWS's rules as the simulated TWS enforces them, seen by the stock ibapi EClient."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from ibapi.contract import Contract
from sim_client import CLIENT_MAX, App, call, close, connect

from ib_anyio import sim
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
    # Not sim_client.connect: the server may close the socket before EClient.connect
    # returns, and then the client is rightly no longer connected.
    second = App()
    await anyio.to_thread.run_sync(second.connect, server.host, server.port, 0)
    second.thread = threading.Thread(target=second.run, daemon=True)
    second.thread.start()
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


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def stock(symbol: str = "AAPL") -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, "STK", "SMART", "USD"
    return c


@asynccontextmanager
async def served(server_version: int, **rules: Any) -> AsyncIterator[tuple[SimServer, App]]:
    async with sim.serve(port=0, server_version=server_version, **rules) as srv:
        app = await connect(srv)
        try:
            await app.wait_for("nextValidId")
            yield srv, app
        finally:
            await close(app)
        assert srv._failures == []


def errors(app: App, code: int) -> list[tuple[Any, ...]]:
    return [e for e in app.of("error") if e[2] == code]


async def test_message_rate_past_the_limit_gets_100_and_a_disconnect(server_version: int) -> None:
    clock = FakeClock()
    async with served(server_version, max_msg_rate=5, clock=clock) as (server, app):
        clock.now += 1.0  # startApi's second is over
        for _ in range(5):
            await call(app.reqCurrentTime)
        await app.wait_for("currentTime", count=5)
        assert errors(app, 100) == []
        await call(app.reqCurrentTime)
        events = await app.wait(lambda ev: ("connectionClosed",) in ev)
        assert (
            "error",
            -1,
            100,
            "Max rate of messages per second has been exceeded:max=5 rec=6 (1)",
        ) in events
        await server.wait_for(lambda m: m.name == "disconnect")
        assert server.connections == 0


async def test_message_rate_within_the_limit_each_second(server_version: int) -> None:
    clock = FakeClock()
    async with served(server_version, max_msg_rate=5, clock=clock) as (server, app):
        for second in range(3):
            clock.now += 1.0
            for _ in range(5):
                await call(app.reqCurrentTime)
            # The server reads the clock as it reads each message: let it read them all.
            await server.wait_for(lambda m: m.name == "reqCurrentTime", 5 * (second + 1))
        await app.wait_for("currentTime", count=15)
        assert errors(app, 100) == []


async def test_message_rate_is_off_by_default(server: SimServer, app: App) -> None:
    for _ in range(60):
        await call(app.reqCurrentTime)
    await app.wait_for("currentTime", count=60)
    assert errors(app, 100) == []


async def test_tickers_past_the_limit_get_101_with_the_request_id(server_version: int) -> None:
    async with served(server_version, max_tickers=3) as (server, app):
        for req_id in (1, 2, 3, 4):
            await call(app.reqMktData, req_id, stock(), "", False, False, [])
        [error] = await app.wait_for("error", 4)
        assert error == ("error", 4, 101, "Max number of tickers has been reached")
        await app.wait_for("tickPrice", 3)
        # A snapshot needs no line; a cancelled stream frees one.
        await call(app.reqMktData, 5, stock(), "", True, False, [])
        await app.wait_for("tickSnapshotEnd", 5)
        await call(app.cancelMktData, 1)
        await server.wait_for(lambda m: m.name == "cancelMktData")
        await call(app.reqMktData, 6, stock(), "", False, False, [])
        await app.wait_for("tickPrice", 6)
        assert [e[1] for e in errors(app, 101)] == [4]


async def test_tickers_default_limit_is_100(server: SimServer, app: App) -> None:
    assert server.rules.max_tickers == 100
    for req_id in range(1, 102):
        await call(app.reqMktData, req_id, stock(), "", False, False, [])
    [error] = await app.wait_for("error", 101)
    assert error[2] == 101
    assert [e[1] for e in errors(app, 101)] == [101]


def hist(app: App, req_id: int, duration: str = "60 S", what: str = "TRADES") -> Any:
    return call(
        app.reqHistoricalData, req_id, stock(), "", duration, "30 secs", what, 0, 1, False, []
    )


PACING_TEXT = (
    "Historical Market Data Service error message:Historical data request pacing violation"
)


def paced(app: App) -> list[int]:
    return [e[1] for e in errors(app, 162)]


async def test_hist_identical_request_within_15_s(server_version: int) -> None:
    clock = FakeClock()
    async with served(server_version, hist_pacing=True, clock=clock) as (_, app):
        await hist(app, 1)
        await app.wait_for("historicalDataEnd", 1)
        clock.now += 14.9
        await hist(app, 2)
        [error] = await app.wait_for("error", 2)
        assert error == ("error", 2, 162, PACING_TEXT)
        clock.now += 0.2
        await hist(app, 3)
        await app.wait_for("historicalDataEnd", 3)
        assert paced(app) == [2]


async def test_hist_more_than_6_for_one_contract_within_2_s(server_version: int) -> None:
    clock = FakeClock()
    async with served(server_version, hist_pacing=True, clock=clock) as (_, app):
        for req_id in range(1, 7):
            await hist(app, req_id, f"{60 + req_id} S")
        await app.wait_for("historicalDataEnd", 6)
        await hist(app, 7, "70 S")
        await app.wait_for("error", 7)
        await hist(app, 8, "70 S", what="MIDPOINT")  # another tick type is fine
        await app.wait_for("historicalDataEnd", 8)
        clock.now += 2.0
        await hist(app, 9, "71 S")
        await app.wait_for("historicalDataEnd", 9)
        assert paced(app) == [7]


async def test_hist_more_than_60_small_bar_requests_in_10_minutes(server_version: int) -> None:
    clock = FakeClock()
    async with served(server_version, hist_pacing=True, clock=clock) as (_, app):
        for req_id in range(1, 61):
            clock.now += 0.5
            await hist(app, req_id, f"{60 + req_id} S")
            await app.wait_for("historicalDataEnd", req_id)
        clock.now += 0.5
        await hist(app, 61, "200 S")
        await app.wait_for("error", 61)
        clock.now = 1000.0 + 600.0 + 0.5  # the first request is 10 minutes old
        await hist(app, 62, "201 S")
        await app.wait_for("historicalDataEnd", 62)
        assert paced(app) == [61]


async def test_hist_pacing_is_off_by_default(server: SimServer, app: App) -> None:
    for req_id in (1, 2, 3):
        await hist(app, req_id)
    await app.wait_for("historicalDataEnd")
    for req_id in (1, 2, 3):
        await app.wait_for("historicalDataEnd", req_id)
    assert paced(app) == []
