"""TWS's connectivity notices with their meaning (1100 pauses market data, 1101 forgets
it, 1102 resumes it), outages, and the broker carrying on while a client is away: as the
stock ibapi EClient sees them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from ibapi.execution import ExecutionFilter
from sim_client import (
    CLIENT_MAX,
    WAIT,
    App,
    call,
    cancel_args,
    close,
    connect,
    order,
    place,
    stock,
)

from ib_anyio.sim._server import SimServer

MARKET_DATA = ("tickPrice", "tickSize", "tickString", "historicalDataUpdate", "realtimeBar")


@pytest.fixture(params=sorted({v for v in (176, 201, 208, CLIENT_MAX) if v <= CLIENT_MAX}))
def server_version(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def notice_at(app: App, code: int) -> int:
    """Index in ``app.events`` of the first notice ``code`` (id -1)."""
    return next(i for i, e in enumerate(app.events) if e[:3] == ("error", -1, code))


def market_data_after(app: App, index: int, req_id: int | None = None) -> list[Any]:
    return [
        e for e in app.events[index:] if e[0] in MARKET_DATA and (req_id is None or e[1] == req_id)
    ]


async def subscribe_all(app: App) -> None:
    """Market data (1), keep-up-to-date bars (2) and real-time bars (3) of AAPL; returns
    once each has delivered."""
    await call(app.reqMktData, 1, stock(), "", False, False, [])
    await call(app.reqHistoricalData, 2, stock(), "", "1 D", "1 hour", "TRADES", 1, 1, True, [])
    await call(app.reqRealTimeBars, 3, stock(), 5, "MIDPOINT", False, [])
    for name, req_id in (("tickPrice", 1), ("historicalDataUpdate", 2), ("realtimeBar", 3)):
        await app.wait_for(name, req_id)


async def round_trip(server: SimServer, app: App, oid: int = 100) -> None:
    """Move AAPL (open tick streams would hear of it at once) and rest, then fill, an
    order: everything sent before the fill has arrived once it has."""
    await server.set_quote("AAPL", bid=229.9, ask=230.0, ask_size=500)
    await place(app, oid, stock(), order("BUY", 1, "LMT", 229.0))
    await app.wait(lambda _: any(e[2] == "Submitted" for e in app.of("orderStatus", oid)))
    await server.set_quote("AAPL", bid=228.8, ask=228.9)
    await app.wait(lambda _: any(e[2] == "Filled" for e in app.of("orderStatus", oid)))


async def test_1100_pauses_market_data_and_1102_resumes_it(server: SimServer, app: App) -> None:
    await subscribe_all(app)
    await server.faults.connectivity_lost()
    await app.wait(lambda _: any(e[2] == 1100 for e in app.of("error", -1)))
    lost = notice_at(app, 1100)
    await round_trip(server, app)  # orders keep flowing; market data does not
    assert market_data_after(app, lost) == []
    assert server._stream_count() == 3  # paused, not forgotten
    await server.faults.connectivity_restored(data_lost=False)
    await app.wait(lambda _: any(e[2] == 1102 for e in app.of("error", -1)))
    back = notice_at(app, 1102)
    for name, req_id in (("tickPrice", 1), ("historicalDataUpdate", 2), ("realtimeBar", 3)):
        await app.wait(
            lambda _, n=name, r=req_id: any(e[0] == n for e in market_data_after(app, back, r))
        )
    assert server._stream_count() == 3


async def test_1101_forgets_market_data_subscriptions(server: SimServer, app: App) -> None:
    await subscribe_all(app)
    await server.faults.connectivity_lost(restored="data_lost")
    assert server._stream_count() == 0
    await app.wait(lambda _: any(e[2] == 1101 for e in app.of("error", -1)))
    lost = notice_at(app, 1100)
    assert notice_at(app, 1101) > lost
    await round_trip(server, app)
    assert market_data_after(app, lost) == []
    await call(app.reqMktData, 11, stock(), "", False, False, [])  # re-sent with a new id
    await app.wait(lambda _: bool(market_data_after(app, lost, 11)))
    assert server._stream_count() == 1
    assert market_data_after(app, lost, 1) == []


async def test_connectivity_lost_for_one_client_only(server: SimServer, app: App) -> None:
    other = await connect(server, client_id=7)
    try:
        await other.wait_for("nextValidId")
        await call(app.reqMktData, 1, stock(), "", False, False, [])
        await call(other.reqMktData, 1, stock(), "", False, False, [])
        await app.wait_for("tickPrice", 1)
        await other.wait_for("tickPrice", 1)
        await server.faults.connectivity_lost(client_id=7)
        await other.wait(lambda _: any(e[2] == 1100 for e in other.of("error", -1)))
        lost = notice_at(other, 1100)
        mark = len(app.events)
        await server.set_quote("AAPL", bid=229.5, ask=229.6)
        await app.wait(lambda _: any(e[3] == 229.6 for e in app.of("tickPrice", 1)))
        await round_trip(server, other)
        assert market_data_after(other, lost) == []
        assert market_data_after(app, mark, 1)
        assert app.of("error", -1) == [e for e in app.of("error", -1) if e[2] != 1100]
    finally:
        await close(other)


async def test_outage_drops_refuses_and_restore_accepts(server: SimServer, app: App) -> None:
    with anyio.fail_after(WAIT):
        await server.faults.outage()
    assert server.connections == 0
    await app.wait_for("connectionClosed")
    with anyio.fail_after(WAIT):
        stream = await anyio.connect_tcp(server.host, server.port)
        async with stream:
            with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError, OSError)):
                await stream.receive()
        await server.wait_for(lambda m: m.name == "refused")
    server.faults.restore()
    again = await connect(server, client_id=3)
    try:
        await again.wait_for("nextValidId")
    finally:
        await close(again)


async def test_outage_of_one_client_id(server: SimServer, app: App) -> None:
    other = await connect(server, client_id=5)
    await other.wait_for("nextValidId")
    with anyio.fail_after(WAIT):
        await server.faults.outage(client_id=5)
    await other.wait_for("connectionClosed")
    await close(other)
    assert server.connections == 1  # client 0 is untouched
    # A new connection of client 5 gets its handshake answered, then is closed at startApi.
    refused = App()
    await anyio.to_thread.run_sync(refused.connect, server.host, server.port, 5)
    with anyio.fail_after(WAIT):
        [record] = await server.wait_for(lambda m: m.name == "refused")
        await server.wait_for(lambda m: m.name == "disconnect" and m.conn == record.conn)
    await call(refused.disconnect)
    assert record.client_id == 5
    [handshake] = [m for m in server.received if m.name == "handshake" and m.conn == record.conn]
    assert handshake.fields["serverVersion"] == server.server_version
    assert [m.name for m in server.received if m.conn == record.conn][-3:] == [
        "startApi",
        "refused",
        "disconnect",
    ]
    fine = await connect(server, client_id=6)
    await fine.wait_for("nextValidId")
    await close(fine)
    server.faults.restore()
    back = await connect(server, client_id=5)
    await back.wait_for("nextValidId")
    await close(back)


def has_status(app: App, order_id: int, status: str) -> bool:
    return any(e[2] == status for e in app.of("orderStatus", order_id))


@pytest.fixture
async def trader(server: SimServer) -> AsyncIterator[App]:
    client = await connect(server, client_id=5)
    try:
        await client.wait_for("nextValidId")
        yield client
    finally:
        await close(client)


async def test_orders_work_on_while_their_client_is_away(server: SimServer, trader: App) -> None:
    await server.set_quote("AAPL", bid=229.9, ask=230.0, ask_size=500)
    first = trader.of("nextValidId")[0][1]
    fills, rests, cancels = first, first + 1, first + 2
    await place(trader, fills, stock(), order("BUY", 10, "LMT", 229.0))
    await place(trader, rests, stock(), order("BUY", 5, "LMT", 200.0))
    await place(trader, cancels, stock(), order("BUY", 3, "LMT", 201.0))
    for oid in (fills, rests, cancels):
        await trader.wait(lambda _, o=oid: has_status(trader, o, "Submitted"))
    await call(trader.cancelOrder, *cancel_args(cancels))
    await trader.wait(lambda _: has_status(trader, cancels, "Cancelled"))
    perm = {e[1]: e[3].permId for e in trader.of("openOrder")}
    await server.faults.drop(client_id=5)
    await trader.wait_for("connectionClosed")
    await close(trader)

    await server.set_quote("AAPL", bid=228.8, ask=228.9)  # no connection of client 5 is open
    assert server.broker.orders[(5, fills)].status == "Filled"

    back = await connect(server, client_id=5)
    try:
        [(_, next_id)] = await back.wait_for("nextValidId")
        assert next_id > cancels
        await call(back.reqOpenOrders)
        await back.wait_for("openOrderEnd")
        assert {e[1] for e in back.of("openOrder")} == {rests}
        await call(back.reqExecutions, 9, ExecutionFilter())
        await back.wait_for("execDetailsEnd", 9)
        [(_, _, contract, execution)] = back.of("execDetails", 9)
        assert (contract.symbol, execution.orderId, execution.price) == ("AAPL", fills, 228.9)
        exec_id = execution.execId
        await back.wait(lambda _: any(e[1].execId == exec_id for e in back.of("commission")))
        await call(back.reqCompletedOrders, True)
        await back.wait_for("completedOrdersEnd")
        done = {e[2].permId: e[3].status for e in back.of("completedOrder")}
        assert done == {perm[fills]: "Filled", perm[cancels]: "Cancelled"}
    finally:
        await close(back)
