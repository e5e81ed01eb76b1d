"""End-to-end: the stock ibapi EClient trading against the simulated broker, at text and
protobuf server versions: orders, fills, cancels, rejections, the account and PnL."""

from __future__ import annotations

import pytest
from ibapi.execution import ExecutionFilter
from sim_client import (
    App,
    call,
    cancel_args,
    close,
    commission,
    connect,
    filled,
    order,
    place,
    stock,
)

from ib_anyio import sim
from ib_anyio.sim._server import SimServer


async def test_market_order_fills_with_execution_and_commission(
    server: SimServer, app: App
) -> None:
    await server.set_quote("AAPL", bid=229.9, ask=230.0, bid_size=500, ask_size=500)
    await place(app, 7, stock(), order("BUY", 100))
    await app.wait(lambda _: bool(filled(app, 7)) and bool(app.of("commission")))
    status = filled(app, 7)[0]
    assert status[3:6] == (100.0, 0.0, 230.0)  # filled, remaining, average price
    [open_order, *_] = app.of("openOrder", 7)
    assert (open_order[2].symbol, open_order[3].action, open_order[3].orderType) == (
        "AAPL",
        "BUY",
        "MKT",
    )
    [(_, req_id, contract, execution)] = app.of("execDetails")
    assert (req_id, contract.conId, execution.orderId) == (-1, 265598, 7)
    assert (execution.side, float(execution.shares), execution.price) == ("BOT", 100.0, 230.0)
    [(_, report)] = app.of("commission")
    assert report.execId == execution.execId
    assert commission(report) == 1.0  # 100 shares at 0.005, at least 1.00
    [placed] = await server.wait_for(lambda m: m.name == "placeOrder")
    assert placed.fields["orderId"] == 7
    assert server.account.position(265598) is not None


async def test_limit_order_rests_then_fills_when_the_price_crosses(
    server: SimServer, app: App
) -> None:
    await server.set_quote("AAPL", bid=229.9, ask=230.0, ask_size=500)
    await place(app, 8, stock(), order("BUY", 10, "LMT", 229.5))
    await app.wait(lambda _: any(e[2] == "Submitted" for e in app.of("orderStatus", 8)))
    assert app.of("execDetails") == []
    await server.set_quote("AAPL", bid=229.3, ask=229.4)
    await app.wait(lambda _: any(e[2] == "Filled" for e in app.of("orderStatus", 8)))
    [(_, _, _, execution)] = app.of("execDetails")
    assert execution.price == 229.4  # the ask, better than the limit


async def test_cancel_and_cancel_of_an_unknown_id(server: SimServer, app: App) -> None:
    await server.set_quote("AAPL", bid=229.9, ask=230.0)
    await place(app, 9, stock(), order("BUY", 10, "LMT", 200.0))
    await app.wait(lambda _: any(e[2] == "Submitted" for e in app.of("orderStatus", 9)))
    await call(app.cancelOrder, *cancel_args(9))
    await app.wait_for("error", 9)
    await app.wait(lambda _: any(e[2] == "Cancelled" for e in app.of("orderStatus", 9)))
    assert [e[2] for e in app.of("error", 9)] == [202]
    await call(app.cancelOrder, *cancel_args(99))
    [error] = await app.wait_for("error", 99)
    assert error[2:] == (10147, "OrderId 99 that needs to be cancelled is not found.")


async def test_rejection_has_the_order_id(server: SimServer, app: App) -> None:
    await place(app, 11, stock(), order("BUY", 10, "LMT", 230.001))
    [error] = await app.wait_for("error", 11)
    assert error[2] == 110
    assert app.of("openOrder", 11) == []


async def test_positions_account_and_pnl_after_a_fill(
    server: SimServer, app: App, server_version: int
) -> None:
    await server.set_quote("AAPL", bid=229.9, ask=230.0, last=230.0, ask_size=500)
    await place(app, 12, stock(), order("BUY", 10))
    await app.wait(lambda _: any(e[2] == "Filled" for e in app.of("orderStatus", 12)))
    await call(app.reqPositions)
    await app.wait_for("positionEnd")
    [(_, account, contract, qty, _)] = app.of("position")
    assert (account, contract.conId, qty) == ("DU1234567", 265598, 10.0)
    await call(app.reqAccountUpdates, True, "DU1234567")
    await app.wait_for("accountDownloadEnd")
    values = {e[1]: e[2] for e in app.of("updateAccountValue")}
    assert {"NetLiquidation", "TotalCashValue", "BuyingPower"} <= set(values)
    [portfolio] = app.of("updatePortfolio")
    assert (portfolio[1].conId, portfolio[2]) == (265598, 10.0)
    await call(app.reqAccountSummary, 21, "All", "NetLiquidation,TotalCashValue")
    await app.wait_for("accountSummaryEnd", 21)
    assert {e[3] for e in app.of("accountSummary", 21)} == {"NetLiquidation", "TotalCashValue"}
    await call(app.reqExecutions, 22, ExecutionFilter())
    await app.wait_for("execDetailsEnd", 22)
    assert [e[3].orderId for e in app.of("execDetails", 22)] == [12]
    if server_version >= 127:  # MIN_SERVER_VER_PNL (realized PnL from 135)
        await call(app.reqPnL, 23, "DU1234567", "")
        await app.wait_for("pnl", 23)
        await call(app.reqPnLSingle, 24, "DU1234567", "", 265598)
        [single] = await app.wait_for("pnlSingle", 24)
        assert single[2] == 10.0


async def test_manual_order_reaches_client_zero(server: SimServer, app: App) -> None:
    # `app` is client 0; binding makes TWS send it the orders typed into TWS.
    await call(app.reqAutoOpenOrders, True)
    await server.wait_for(lambda m: m.name == "reqAutoOpenOrders")
    await server.set_quote("MSFT", bid=419.9, ask=420.0, ask_size=500)
    manual = await server.place_manual_order(stock("MSFT"), order("BUY", 5))
    assert manual.order_id < 0
    await app.wait(lambda _: any(e[2] == "Filled" for e in app.of("orderStatus", manual.order_id)))
    [(_, _, contract, execution)] = app.of("execDetails")
    assert (contract.symbol, execution.clientId) == ("MSFT", 0)


async def test_other_clients_orders_stay_private(server: SimServer, app: App) -> None:
    # `app` is client 0, bound: it sees every client's orders as they are placed.
    await call(app.reqAutoOpenOrders, True)
    await server.wait_for(lambda m: m.name == "reqAutoOpenOrders")
    first, second = await connect(server, client_id=1), await connect(server, client_id=2)
    try:
        await first.wait_for("nextValidId")
        await second.wait_for("nextValidId")
        await server.set_quote("AAPL", bid=229.9, ask=230.0)
        await place(first, 5, stock(), order("BUY", 1, "LMT", 200.0))
        await first.wait(lambda _: bool(first.of("orderStatus", 5)))
        await call(second.reqOpenOrders)
        await call(second.reqAllOpenOrders)
        await second.wait_for("openOrderEnd", count=2)
        # reqOpenOrders: own orders only (none); reqAllOpenOrders: everybody's.
        assert [e[1] for e in second.of("openOrder")] == [5]
        status = (await app.wait_for("orderStatus", 5))[0]
        assert status[9] == 1  # orderStatus's clientId: the placing client
    finally:
        await close(first)
        await close(second)


@pytest.mark.parametrize("repeats", [0, 2])
async def test_final_status_repeats_are_configurable(server_version: int, repeats: int) -> None:
    async with sim.serve(server_version=server_version, status_repeats=repeats) as server:
        app = await connect(server)
        try:
            await app.wait_for("nextValidId")
            await server.set_quote("AAPL", bid=229.9, ask=230.0, ask_size=500)
            await place(app, 3, stock(), order("BUY", 1))
            await app.wait(lambda _: len(filled(app, 3)) == repeats + 1)
            await call(app.reqCurrentTime)  # anything after the repeats has arrived by now
            await app.wait_for("currentTime")
            assert len(filled(app, 3)) == repeats + 1
        finally:
            await close(app)


async def test_set_quote_reaches_open_streams_at_once(server: SimServer, app: App) -> None:
    await call(app.reqMktData, 4, stock(), "", False, False, [])
    await app.wait_for("tickPrice", 4)
    await server.set_quote("AAPL", bid=111.11, ask=111.12)
    await app.wait(lambda _: ("tickPrice", 4, 1, 111.11) in app.of("tickPrice", 4))
    await call(app.cancelMktData, 4)
