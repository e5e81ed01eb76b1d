"""Orders, the account and the connection's own requests at a text server version (176)
and at a protobuf one in the middle (213), and reqCurrentTimeInMillis at 200 (it needs
197; text ends at 200), end to end through ``ib_anyio.connect``.

The order and account modules run at the highest version; this one checks that the same
requests travel, and their answers reach the user, as text too (on ibapi 9.81 both
versions are capped at 157: text). Assertions are on what the user receives and on what
the simulator recorded.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import anyio
import pytest
from ibapi.client import EClient

import ib_anyio
from ib_anyio import items, orders, sim
from tests.helpers import stock

ACCOUNT = "DU1234567"
AAPL = 265598

try:
    from ibapi.order_cancel import OrderCancel

    def _order_cancel() -> Any:
        return OrderCancel()

except ImportError:  # ibapi 9.81: no OrderCancel; its cancels take none

    def _order_cancel() -> Any:
        return None


@pytest.fixture(params=[176, 213])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[sim.SimServer]:
    async with sim.serve(port=0, server_version=request.param, tick_interval=0.001) as s:
        yield s


def _named(name: str) -> Callable[[sim.Received], bool]:
    return lambda m: m.name == name


def _sent(server: sim.SimServer, name: str) -> list[dict[str, Any]]:
    return [dict(m.fields) for m in server.received if m.name == name]


async def _until_status(trade: ib_anyio.Trade, status: str) -> None:
    async for event in trade:
        if isinstance(event, items.OrderStatusItem) and event.status == status:
            return
    raise AssertionError(f"the trade ended without status {status}")


async def _until_end(stream: ib_anyio.ItemStream[Any], end: type) -> list[Any]:
    found: list[Any] = []
    async for item in stream:
        if isinstance(item, end):
            return found
        found.append(item)
    raise AssertionError("the stream ended before its end item")


async def test_version_is_the_one_asked_for(server: sim.SimServer) -> None:
    async with ib_anyio.connect(server.host, server.port, client_id=1) as client:
        await client.req_current_time()
    (handshake,) = _sent(server, "handshake")
    assert handshake["serverVersion"] == server.server_version <= 213


async def test_orders(client: ib_anyio.Client, server: sim.SimServer) -> None:
    await server.set_quote("AAPL", bid=99.99, ask=100.0, last=100.0, ask_size=1000)
    with anyio.fail_after(5):
        async with client.place_order(stock(), orders.market("BUY", 100)) as filled:
            await filled.done()
        async with client.place_order(stock(), orders.limit("BUY", 5, 90.0)) as resting:
            await _until_status(resting, "Submitted")
        mine = await client.req_open_orders()
        every = await client.req_all_open_orders()
        completed = await client.req_completed_orders(False)
        aapl, msft = ib_anyio.ExecutionFilter(), ib_anyio.ExecutionFilter()
        aapl.symbol, msft.symbol = "AAPL", "MSFT"
        executions = await client.req_executions(aapl)
        assert await client.req_executions(msft) == []
        state = await client.what_if(stock(), orders.market("BUY", 10))
        await resting.cancel()
        async with (
            client.place_order(stock(), orders.limit("BUY", 5, 91.0)) as a,
            client.place_order(stock("MSFT"), orders.limit("BUY", 5, 92.0)) as b,
        ):
            await _until_status(a, "Submitted")
            await _until_status(b, "Submitted")
            client.req_global_cancel(_order_cancel())
            await a.done()
            await b.done()
    assert (filled.status, filled.filled, filled.avg_fill_price) == ("Filled", Decimal(100), 100.0)
    (fill,) = filled.fills
    assert fill.commission_report is not None
    assert [o.order_id for o in mine if isinstance(o, items.OpenOrder)] == [resting.order_id]
    assert [o.order_id for o in every if isinstance(o, items.OpenOrder)] == [resting.order_id]
    assert [c.order.permId for c in completed] == [filled.perm_id]
    assert [e.execution.execId for e in executions] == [fill.execution.execId]
    assert float(state.initMarginChange) > 0
    assert (resting.status, a.status, b.status) == ("Cancelled",) * 3
    assert [f["orderId"] for f in _sent(server, "cancelOrder")] == [resting.order_id]
    assert len(_sent(server, "reqGlobalCancel")) == 1
    assert [f["execFilter"]["symbol"] for f in _sent(server, "reqExecutions")] == ["AAPL", "MSFT"]
    placed = _sent(server, "placeOrder")
    assert [f["order"]["whatIf"] for f in placed] == [False, False, True, False, False]
    assert [f["order"]["orderType"] for f in placed] == ["MKT", "LMT", "MKT", "LMT", "LMT"]


async def test_a_manual_order_reaches_client_zero(server: sim.SimServer) -> None:
    await server.set_quote("AAPL", bid=99.99, ask=100.0, last=100.0, ask_size=1000)
    async with (
        ib_anyio.connect(server.host, server.port, client_id=0) as master,
        master.order_events() as events,
    ):
        master.req_auto_open_orders(True)
        with anyio.fail_after(5):
            await server.wait_for(_named("reqAutoOpenOrders"))
            await server.place_manual_order(stock(), orders.market("BUY", 5))
            opened = await events.receive()
    assert isinstance(opened, items.OpenOrder)
    assert opened.order_id < 0  # bound by TWS
    assert (opened.order.clientId, opened.contract.symbol) == (0, "AAPL")
    assert _sent(server, "reqAutoOpenOrders") == [{"bAutoBind": True}]


async def test_exercise_options(client: ib_anyio.Client, server: sim.SimServer) -> None:
    query = ib_anyio.Contract()
    query.symbol, query.secType, query.currency, query.right = "AAPL", "OPT", "USD", "C"
    with anyio.fail_after(5):
        option = (await client.req_contract_details(query))[0].contract_details.contract
        async with client.place_order(option, orders.market("BUY", 1)) as trade:
            await trade.done()
        client.exercise_options(option, 1, 1, ACCOUNT, 0)
        (exercise,) = await server.wait_for(_named("exerciseOptions"))
        await client.req_current_time()  # a round trip: the exercise is booked
        positions = {p.contract.conId: p.position for p in await client.positions()}
    assert (exercise.fields["exerciseAction"], exercise.fields["exerciseQuantity"]) == (1, 1)
    assert positions[option.conId] == 0
    assert positions[AAPL] == 100  # one contract of 100 shares


# Each account subscription after a fill of 100 AAPL: the method and its arguments, the
# item ending its snapshot (None: the first item is the answer), a check of the items,
# and the request the simulator must record once the block is left.
SUBSCRIPTIONS: list[
    tuple[str, tuple[object, ...], type | None, Callable[[list[Any]], bool], str]
] = [
    (
        "req_positions",
        (),
        items.PositionEnd,
        lambda got: [(p.contract.conId, p.position) for p in got] == [(AAPL, 100)],
        "cancelPositions",
    ),
    (
        "req_account_updates",
        (ACCOUNT,),
        items.AccountDownloadEnd,
        lambda got: (
            [(p.contract.conId, p.position) for p in got if isinstance(p, items.UpdatePortfolio)]
            == [(AAPL, Decimal(100))]
            and any(
                isinstance(v, items.UpdateAccountValue) and v.key == "NetLiquidation" for v in got
            )
        ),
        "reqAccountUpdates",
    ),
    (
        "req_account_summary",
        ("All", "NetLiquidation,TotalCashValue"),
        items.AccountSummaryEnd,
        lambda got: (
            {(s.account, s.tag) for s in got}
            == {(ACCOUNT, "NetLiquidation"), (ACCOUNT, "TotalCashValue")}
        ),
        "cancelAccountSummary",
    ),
    (
        "req_positions_multi",
        (ACCOUNT, ""),
        items.PositionMultiEnd,
        lambda got: [(p.account, p.contract.conId, p.pos) for p in got] == [(ACCOUNT, AAPL, 100)],
        "cancelPositionsMulti",
    ),
    (
        "req_account_updates_multi",
        (ACCOUNT, ""),
        items.AccountUpdateMultiEnd,
        lambda got: any(u.key == "NetLiquidation" and u.account == ACCOUNT for u in got),
        "cancelAccountUpdatesMulti",
    ),
    ("req_pnl", (ACCOUNT,), None, lambda got: isinstance(got[0], items.Pnl), "cancelPnL"),
    (
        "req_pnl_single",
        (ACCOUNT, "", AAPL),
        None,
        lambda got: isinstance(got[0], items.PnlSingle) and got[0].pos == 100,
        "cancelPnLSingle",
    ),
]


async def test_account_subscriptions(client: ib_anyio.Client, server: sim.SimServer) -> None:
    await server.set_quote("AAPL", bid=99.99, ask=100.0, last=100.0, ask_size=1000)
    with anyio.fail_after(5):
        async with client.place_order(stock(), orders.market("BUY", 100)) as trade:
            await trade.done()
        for method, args, end, check, cancel in SUBSCRIPTIONS:
            async with getattr(client, method)(*args) as stream:
                got = [await stream.receive()] if end is None else await _until_end(stream, end)
            assert check(got), (method, got)
            # leaving the block cancels: reqAccountUpdates is its own cancel (subscribe False)
            await server.wait_for(_named(cancel), count=1 + (cancel == "reqAccountUpdates"))
    assert _sent(server, "reqAccountUpdates") == [
        {"subscribe": True, "acctCode": ACCOUNT},
        {"subscribe": False, "acctCode": ACCOUNT},
    ]
    for _, _, _, _, cancel in SUBSCRIPTIONS:
        assert len(_sent(server, cancel)) == (2 if cancel == "reqAccountUpdates" else 1)


async def test_connection_and_reference_requests(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    with anyio.fail_after(5):
        next_id = await client.req_ids()
        now = await client.req_current_time()
        accounts = await client.req_managed_accts()
        (details,) = await client.req_contract_details(stock())
        await server.set_quote("AAPL", bid=99.99, ask=100.0, last=100.0)
        async with client.req_mkt_data(stock()) as ticks:
            req_id = ticks.req_id
            price = 0.0
            async for tick in ticks:
                if isinstance(tick, items.TickPrice) and tick.price > 0:
                    price = tick.price
                    break
        await server.wait_for(_named("cancelMktData"))
    assert next_id.order_id >= 1
    assert now.time > 1_600_000_000
    assert accounts.accounts_list.split(",")[0] == ACCOUNT
    assert details.contract_details.contract.conId == AAPL
    assert price in (99.99, 100.0)
    assert [f["reqId"] for f in _sent(server, "reqMktData")] == [req_id]
    assert [f["reqId"] for f in _sent(server, "cancelMktData")] == [req_id]
    assert [len(_sent(server, n)) for n in ("reqIds", "reqCurrentTime", "reqManagedAccts")] == [
        1,
        1,
        1,
    ]


async def test_current_time_in_millis_as_text(anyio_backend: str) -> None:
    # From server version 197 (MIN_SERVER_VER_CURRENT_TIME_IN_MILLIS), text up to 200.
    async with (
        sim.serve(port=0, server_version=200, tick_interval=0.001) as server,
        ib_anyio.connect(server.host, server.port, client_id=1) as client,
    ):
        if not hasattr(EClient, "reqCurrentTimeInMillis"):  # ibapi 9.81
            with pytest.raises(ib_anyio.UnsupportedRequest):
                await client.req_current_time_in_millis()
            return
        before = int(time.time() * 1000)
        with anyio.fail_after(5):
            now = await client.req_current_time_in_millis()
    assert before <= now.time_in_millis <= int(time.time() * 1000)
    assert _sent(server, "handshake")[0]["serverVersion"] == 200
    assert _sent(server, "reqCurrentTimeInMillis") == [{}]
