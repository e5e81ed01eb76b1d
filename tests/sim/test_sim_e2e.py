"""End-to-end: the real ibapi EClient against the simulated TWS, at many server versions."""

from __future__ import annotations

import time
from typing import Any

import pytest
from ibapi.contract import Contract
from ibapi.execution import ExecutionFilter
from sim_client import App, Event, call, close, connect

from ib_anyio import sim
from ib_anyio.sim._server import SimServer, _handlers

NO_SECURITY = "No security definition has been found for the request"


def stock(symbol: str = "AAPL") -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, "STK", "SMART", "USD"
    return c


def option_chain() -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = "AAPL", "OPT", "SMART", "USD"
    c.lastTradeDateOrContractMonth = "202612"
    return c


async def test_handshake_sends_ids_accounts_and_notices(
    server: SimServer, app: App, server_version: int
) -> None:
    events = await app.wait(lambda ev: sum(e[0] == "error" for e in ev) >= 3)
    assert app.serverVersion() == server_version
    assert [e for e in events if e[0] != "error"][:2] == [
        ("nextValidId", 1),
        ("managedAccounts", "DU1234567"),
    ]
    assert app.of("error") == [
        ("error", -1, 2104, "Market data farm connection is OK:usfarm"),
        ("error", -1, 2106, "HMDS data farm connection is OK:ushmds"),
        ("error", -1, 2158, "Sec-def data farm connection is OK:secdefnj"),
    ]
    [hello] = await server.wait_for(lambda m: m.name == "handshake")
    assert hello.fields["serverVersion"] == server_version
    [start] = await server.wait_for(lambda m: m.name == "startApi")
    assert start.fields["clientId"] == 0
    assert start.client_id == 0
    assert server.connections == 1


async def test_req_ids_and_managed_accounts(server: SimServer, app: App) -> None:
    await call(app.reqIds, -1)
    await call(app.reqManagedAccts)
    await app.wait_for("nextValidId", count=2)
    await app.wait_for("managedAccounts", count=2)
    [req] = await server.wait_for(lambda m: m.name == "reqIds")
    assert req.fields == {"numIds": -1}
    await server.wait_for(lambda m: m.name == "reqManagedAccts")


async def test_current_time(server: SimServer, app: App, server_version: int) -> None:
    before = int(time.time())
    await call(app.reqCurrentTime)
    [(_, now)] = await app.wait_for("currentTime")
    assert before <= now <= int(time.time())
    await server.wait_for(lambda m: m.name == "reqCurrentTime")
    if server_version >= 197 and hasattr(app, "reqCurrentTimeInMillis"):
        await call(app.reqCurrentTimeInMillis)
        [(_, millis)] = await app.wait_for("currentTimeInMillis")
        assert before * 1000 <= millis <= time.time() * 1000
        await server.wait_for(lambda m: m.name == "reqCurrentTimeInMillis")


async def test_contract_details_stock(server: SimServer, app: App) -> None:
    await call(app.reqContractDetails, 7, stock())
    await app.wait_for("contractDetailsEnd", 7)
    [(_, _, details)] = app.of("contractDetails", 7)
    c = details.contract
    assert (c.conId, c.symbol, c.secType, c.currency) == (265598, "AAPL", "STK", "USD")
    assert (c.exchange, c.primaryExchange, c.localSymbol) == ("SMART", "NASDAQ", "AAPL")
    assert details.longName == "APPLE INC"
    assert details.minTick == 0.01
    assert details.timeZoneId == "US/Eastern"
    [req] = await server.wait_for(lambda m: m.name == "reqContractDetails")
    assert req.fields["reqId"] == 7
    contract = req.fields["contract"]
    assert isinstance(contract, dict)
    assert (contract["symbol"], contract["secType"], contract["exchange"]) == (
        "AAPL",
        "STK",
        "SMART",
    )


async def test_contract_details_option_chain(server: SimServer, app: App) -> None:
    await call(app.reqContractDetails, 8, option_chain())
    await app.wait_for("contractDetailsEnd", 8)
    chain = [e[2].contract for e in app.of("contractDetails", 8)]
    assert sorted((c.strike, c.right) for c in chain) == [
        (s, r) for s in (220.0, 230.0, 240.0) for r in ("C", "P")
    ]
    for c in chain:
        assert (c.symbol, c.secType, c.lastTradeDateOrContractMonth) == ("AAPL", "OPT", "20261218")
        assert float(c.multiplier) == 100
        assert c.tradingClass == "AAPL"
    by_conid = Contract()
    by_conid.conId = chain[0].conId
    await call(app.reqContractDetails, 9, by_conid)
    await app.wait_for("contractDetailsEnd", 9)
    [(_, _, one)] = app.of("contractDetails", 9)
    assert one.contract.conId == chain[0].conId
    assert one.underConId == 265598


async def test_historical_bars(server: SimServer, app: App) -> None:
    await call(
        app.reqHistoricalData,
        11,
        stock(),
        "20261124 16:00:00 US/Eastern",
        "1 D",
        "1 hour",
        "TRADES",
        1,
        1,
        False,
        [],
    )
    [(_, _, start, end)] = await app.wait_for("historicalDataEnd", 11)
    bars = [e[2] for e in app.of("historicalData", 11)]
    assert [b.date for b in bars] == [f"20261124 {h:02d}:30:00 US/Eastern" for h in range(9, 16)]
    for bar in bars:
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
        assert 150 < bar.close < 350
        assert int(bar.volume) > 0
        assert bar.barCount > 0
    assert (start, end) == ("20261123 16:00:00 US/Eastern", "20261124 16:00:00 US/Eastern")
    [req] = await server.wait_for(lambda m: m.name == "reqHistoricalData")
    assert req.fields["reqId"] == 11
    assert (req.fields["durationStr"], req.fields["barSizeSetting"]) == ("1 D", "1 hour")
    assert req.fields["useRTH"] is True


async def test_historical_daily_bars_epoch_format(server: SimServer, app: App) -> None:
    args: tuple[Any, ...] = (
        "20261124 16:00:00 US/Eastern",
        "1 W",
        "1 day",
        "MIDPOINT",
        1,
        2,
        False,
        [],
    )
    await call(app.reqHistoricalData, 12, stock("IBM"), *args)
    await app.wait_for("historicalDataEnd", 12)
    dates = [e[2].date for e in app.of("historicalData", 12)]
    assert dates == ["20261118", "20261119", "20261120", "20261123", "20261124"]


async def test_historical_keep_up_to_date_until_cancel(
    server: SimServer, app: App, server_version: int
) -> None:
    await call(
        app.reqHistoricalData, 13, stock("MSFT"), "", "1 D", "5 mins", "TRADES", 0, 1, True, []
    )
    await app.wait_for("historicalDataEnd", 13)
    [req] = await server.wait_for(lambda m: m.name == "reqHistoricalData")
    if server_version < 124:  # keepUpToDate travels from SYNT_REALTIME_BARS on
        assert req.fields["keepUpToDate"] is False
        return
    assert req.fields["keepUpToDate"] is True
    last = app.of("historicalData", 13)[-1][2]
    updates = await app.wait_for("historicalDataUpdate", 13, count=3)
    assert all(u[2].date == last.date for u in updates)
    await call(app.cancelHistoricalData, 13)
    [cancel] = await server.wait_for(lambda m: m.name == "cancelHistoricalData")
    assert cancel.fields == {"reqId": 13}
    await assert_quiet(server, app, "historicalDataUpdate", 13)


async def assert_quiet(server: SimServer, app: App, name: str, req_id: int) -> None:
    """After a cancel: the server runs no stream any more, and once a later request is
    answered (TCP keeps order, so all data sent before the cancel arrived first) no
    further ``name`` callbacks arrive for ``req_id``."""
    seen = len(app.of("currentTime"))
    await call(app.reqCurrentTime)
    await app.wait_for("currentTime", count=seen + 1)
    assert server._stream_count() == 0
    settled = len(app.of(name, req_id))
    await call(app.reqCurrentTime)
    await app.wait_for("currentTime", count=seen + 2)
    assert len(app.of(name, req_id)) == settled


async def test_streaming_ticks_then_cancel(server: SimServer, app: App) -> None:
    await call(app.reqMktData, 21, stock(), "", False, False, [])
    await app.wait(lambda _: len([e for e in app.of("tickPrice", 21) if e[2] == 1]) >= 3)
    prices = app.of("tickPrice", 21)
    assert {e[2] for e in prices} == {1, 2, 4}
    for e in prices:
        assert 200 < e[3] < 260
    bids = [e[3] for e in prices if e[2] == 1]
    asks = [e[3] for e in prices if e[2] == 2]
    assert all(b < a for b, a in zip(bids, asks, strict=False))
    sizes = {e[2] for e in app.of("tickSize", 21)}
    assert {0, 3, 5, 8} <= sizes  # bid/ask/last size from tickPrice, volume
    assert {e[2] for e in app.of("tickString", 21)} == {45}
    await call(app.cancelMktData, 21)
    cancels = await server.wait_for(lambda m: m.name == "cancelMktData")
    assert [m.fields["reqId"] for m in cancels] == [21]
    await assert_quiet(server, app, "tickPrice", 21)
    assert [m.fields["reqId"] for m in server.received if m.name == "cancelMktData"] == [21]
    [req] = [m for m in server.received if m.name == "reqMktData"]
    assert req.fields["reqId"] == 21
    assert req.fields["snapshot"] is False


async def test_snapshot(server: SimServer, app: App) -> None:
    await call(app.reqMktData, 22, stock("SPY"), "", True, False, [])
    await app.wait_for("tickSnapshotEnd", 22)
    assert {e[2] for e in app.of("tickPrice", 22)} == {1, 2, 4}
    [req] = await server.wait_for(lambda m: m.name == "reqMktData")
    assert req.fields["snapshot"] is True


async def test_delayed_market_data_type(server: SimServer, app: App) -> None:
    await call(app.reqMarketDataType, 3)
    await call(app.reqMktData, 23, stock("IBM"), "", True, False, [])
    await app.wait_for("tickSnapshotEnd", 23)
    assert app.of("marketDataType", 23) == [("marketDataType", 23, 3)]
    assert {e[2] for e in app.of("tickPrice", 23)} == {66, 67, 68}
    [req] = await server.wait_for(lambda m: m.name == "reqMarketDataType")
    assert req.fields == {"marketDataType": 3}


async def test_forex_and_future(server: SimServer, app: App) -> None:
    fx = Contract()
    fx.symbol, fx.secType, fx.exchange, fx.currency = "EUR", "CASH", "IDEALPRO", "USD"
    fut = Contract()
    fut.symbol, fut.secType, fut.exchange, fut.lastTradeDateOrContractMonth = (
        "ES",
        "FUT",
        "CME",
        "202612",
    )
    await call(app.reqContractDetails, 31, fx)
    await call(app.reqContractDetails, 32, fut)
    await app.wait_for("contractDetailsEnd", 32)
    [(_, _, fx_details)] = app.of("contractDetails", 31)
    assert fx_details.contract.localSymbol == "EUR.USD"
    [(_, _, fut_details)] = app.of("contractDetails", 32)
    assert fut_details.contract.lastTradeDateOrContractMonth == "20261218"
    assert float(fut_details.contract.multiplier) == 50
    await call(app.reqMktData, 33, fx, "", True, False, [])
    await app.wait_for("tickSnapshotEnd", 33)
    assert {e[2] for e in app.of("tickPrice", 33)} == {1, 2}
    assert all(1.0 < e[3] < 1.2 for e in app.of("tickPrice", 33))


@pytest.mark.parametrize("request_kind", ["details", "history", "market"])
async def test_unknown_symbol_is_error_200(server: SimServer, app: App, request_kind: str) -> None:
    bogus = stock("NOSUCH")
    if request_kind == "details":
        await call(app.reqContractDetails, 41, bogus)
    elif request_kind == "history":
        await call(app.reqHistoricalData, 41, bogus, "", "1 D", "1 hour", "TRADES", 1, 1, False, [])
    else:
        await call(app.reqMktData, 41, bogus, "", False, False, [])
    [error] = await app.wait_for("error", 41)
    assert error == ("error", 41, 200, NO_SECURITY)


async def test_broadcast_error(server: SimServer, app: App) -> None:
    await app.wait(lambda ev: sum(e[0] == "error" for e in ev) >= 3)
    await server.broadcast_error(2105, "HMDS data farm connection is broken:ushmds")
    [*_, notice] = await app.wait_for("error", -1, count=4)
    assert notice == ("error", -1, 2105, "HMDS data farm connection is broken:ushmds")


async def test_empty_account(server: SimServer, app: App, server_version: int) -> None:
    await call(app.reqPositions)
    await app.wait_for("positionEnd")
    await call(app.reqOpenOrders)
    await call(app.reqAllOpenOrders)
    await app.wait_for("openOrderEnd", count=2)
    await call(app.reqExecutions, 5, ExecutionFilter())
    assert await app.wait_for("execDetailsEnd", 5) == [("execDetailsEnd", 5)]
    await call(app.reqAccountUpdates, True, "DU1234567")
    assert await app.wait_for("accountDownloadEnd") == [("accountDownloadEnd", "DU1234567")]
    if server_version >= 150:  # MIN_SERVER_VER_COMPLETED_ORDERS
        await call(app.reqCompletedOrders, False)
        await app.wait_for("completedOrdersEnd")
    [updates] = await server.wait_for(lambda m: m.name == "reqAccountUpdates")
    assert updates.fields == {"subscribe": True, "acctCode": "DU1234567"}


async def test_unserved_request_is_recorded(server: SimServer, app: App) -> None:
    await call(app.cancelMktDepth, 77, False)
    [req] = await server.wait_for(lambda m: m.name == "cancelMktDepth")
    assert req.fields["reqId"] == 77
    assert "decodeError" not in req.fields
    await call(app.reqCurrentTime)  # the connection still works
    await app.wait_for("currentTime")


async def test_unsupported_request_is_answered_with_its_id(
    server: SimServer, app: App, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a request with no handler (reqMktDepth's is taken away for the test)
    monkeypatch.delitem(_handlers(), 10)
    await call(app.reqMktDepth, 78, stock(), 5, False, [])
    [error] = await app.wait_for("error", 78)
    assert error == ("error", 78, 10999, "reqMktDepth is not supported by the simulated TWS")
    assert "reqMktDepth is not supported" in caplog.text


async def test_undecodable_request_is_answered_with_its_id(
    server: SimServer, app: App, server_version: int, caplog: pytest.LogCaptureFixture
) -> None:
    # reqContractDetails (id 9) cut short after its request id: no contract follows.
    msg_id = (9).to_bytes(4, "big") if server_version >= 201 else b"9\x00"
    body = msg_id + b"8\x0079\x00"
    await call(app.conn.sendMsg, len(body).to_bytes(4, "big") + body)
    [error] = await app.wait_for("error", 79)
    assert error == ("error", 79, 320, "Error reading reqContractDetails request")
    [bad] = await server.wait_for(lambda m: m.name == "reqContractDetails")
    assert "decodeError" in bad.fields
    assert "could not decode reqContractDetails" in caplog.text
    await call(app.reqCurrentTime)  # the connection still works
    await app.wait_for("currentTime")


async def test_drop_connections_ends_the_client(server: SimServer) -> None:
    client = await connect(server, client_id=5)
    try:
        await client.wait_for("nextValidId")
        await call(client.reqMktData, 1, stock(), "", False, False, [])
        await client.wait_for("tickPrice", 1)
        assert server.connections == 1
        await server.drop_connections()
        assert server.connections == 0
        await client.wait_for("connectionClosed")
    finally:
        await close(client)
    # the server keeps serving
    again = await connect(server, client_id=6)
    try:
        await again.wait_for("nextValidId")
        assert server.connections == 1
    finally:
        await close(again)


async def test_many_clients(server: SimServer) -> None:
    clients = [await connect(server, client_id=i) for i in range(3)]
    try:
        for c in clients:
            await call(c.reqMktData, 1, stock("MSFT"), "", False, False, [])
        for c in clients:
            await c.wait_for("tickPrice", 1, count=3)
        assert server.connections == 3
        starts = await server.wait_for(lambda m: m.name == "startApi", count=3)
        assert {m.client_id for m in starts} == {0, 1, 2}
        assert len({m.conn for m in starts}) == 3
    finally:
        for c in clients[1:]:
            await close(c)
    await server.wait_for(lambda m: m.name == "startApi")
    # the remaining client still streams
    seen = len(clients[0].of("tickPrice", 1))
    await clients[0].wait_for("tickPrice", 1, count=seen + 3)
    await close(clients[0])


async def run_session(seed: int, server_version: int) -> tuple[list[str], list[Event]]:
    async with sim.serve(server_version=server_version, seed=seed, tick_interval=0.001) as srv:
        app = await connect(srv)
        try:
            await call(
                app.reqHistoricalData,
                1,
                stock(),
                "20261124 16:00:00 US/Eastern",
                "2 D",
                "30 mins",
                "TRADES",
                1,
                1,
                False,
                [],
            )
            await app.wait_for("historicalDataEnd", 1)
            await call(app.reqMktData, 2, stock(), "", False, False, [])
            await app.wait_for("tickPrice", 2, count=12)
            await call(app.cancelMktData, 2)
            bars = [str(e[2]) for e in app.of("historicalData", 1)]
            ticks = [e[1:] for e in app.of("tickPrice", 2)[:12]]
        finally:
            await close(app)
    return bars, ticks


async def test_same_seed_same_data(server_version: int) -> None:
    first = await run_session(7, server_version)
    assert first == await run_session(7, server_version)
    other = await run_session(8, server_version)
    assert other[0] != first[0]
    assert other[1] != first[1]


async def test_burst(server_version: int) -> None:
    async with sim.serve(server_version=server_version, burst=5000, tick_interval=60) as srv:
        app = await connect(srv)
        try:
            await call(app.reqMktData, 3, stock(), "", False, False, [])
            ticks = await app.wait_for("tickPrice", 3, count=5000)
            assert [e[2] for e in ticks[:4]] == [1, 2, 1, 2]
            assert len(app.of("tickSize", 3)) >= 5000
        finally:
            await close(app)
        assert srv._failures == []
