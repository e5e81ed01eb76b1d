"""Orders in the client, end to end against the simulated TWS, on asyncio and trio.

Assertions are on what the user receives (Trade state, events, errors) and on
what the simulator recorded.
"""

from __future__ import annotations

import inspect
from decimal import Decimal

import anyio
import pytest
from ibapi.client import EClient
from ibapi.wrapper import EWrapper

import ib_anyio
from ib_anyio import items, orders, sim
from tests.doc_examples import examples, run_example, same_lines
from tests.helpers import stock

ACCOUNT = "DU1234567"

#: ibapi 9.81's error callback has no advancedOrderRejectJson.
REJECT_JSON = "advancedOrderRejectJson" in inspect.signature(EWrapper.error).parameters

try:
    from ibapi.order_cancel import OrderCancel

    def _order_cancel() -> object:
        return OrderCancel()

except ImportError:  # ibapi 9.81: no OrderCancel; its cancels take none (leave it None)

    def _order_cancel() -> object:
        return None


def _count(server: sim.SimServer, name: str) -> int:
    return sum(1 for m in server.received if m.name == name)


# -- arguments -----------------------------------------------------------------


async def test_place_order_checks_its_arguments_before_sending(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    with pytest.raises(TypeError, match=r"^place_order\(\): contract must be Contract, not str$"):
        client.place_order("AAPL", orders.market("BUY", 1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^place_order\(\): order must be Order, not dict$"):
        client.place_order(stock(), {})  # type: ignore[arg-type]
    negative = orders.market("BUY", 1, orderId=-3)
    with pytest.raises(ValueError, match=r"^place_order\(\): order.orderId must be 0 .*not -3$"):
        client.place_order(stock(), negative)
    with pytest.raises(ValueError, match=r"^place_order\(\): order.whatIf is set; use what_if"):
        client.place_order(stock(), orders.market("BUY", 1, whatIf=True))
    with pytest.raises(TypeError, match=r"^what_if\(\): order must be Order, not NoneType$"):
        await client.what_if(stock(), None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^place_bracket\(\): give the parent order and"):
        client.place_bracket(stock(), [orders.market("BUY", 1)])
    await client.req_current_time()
    assert _count(server, "placeOrder") == 0


async def test_place_order_is_used_with_async_with(client: ib_anyio.Client) -> None:
    with pytest.raises(TypeError, match=r"^place_order\(\) is used with `async with"):
        await client.place_order(stock(), orders.market("BUY", 1))  # type: ignore[misc]


async def test_order_requests_after_the_connection_closed(server: sim.SimServer) -> None:
    async with ib_anyio.connect(server.host, server.port, client_id=4) as client:
        pass
    with pytest.raises(ib_anyio.ConnectionLost):
        client.place_order(stock(), orders.market("BUY", 1))
    with pytest.raises(ib_anyio.ConnectionLost):
        client.order_events()
    with pytest.raises(ib_anyio.ConnectionLost):
        await client.what_if(stock(), orders.market("BUY", 1))


# -- snapshots ------------------------------------------------------------------


async def test_open_order_snapshots_run_one_at_a_time(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    results: dict[str, list[object]] = {}

    async def run(name: str) -> None:
        results[name] = await getattr(client, name)()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for name in ("req_open_orders", "req_all_open_orders", "req_open_orders"):
                tg.start_soon(run, name)
    assert results == {"req_open_orders": [], "req_all_open_orders": []}
    assert _count(server, "reqOpenOrders") == 2
    assert _count(server, "reqAllOpenOrders") == 1


async def test_completed_orders_and_executions_when_there_are_none(
    client: ib_anyio.Client,
) -> None:
    with anyio.fail_after(5):
        assert await client.req_completed_orders(False) == []
        assert await client.req_executions(ib_anyio.ExecutionFilter()) == []


async def test_order_events_stream_closes(client: ib_anyio.Client) -> None:
    async with client.order_events() as events:
        assert isinstance(events, ib_anyio.ItemStream)
        assert events.req_id is None
        with pytest.raises(anyio.WouldBlock):
            events.receive_nowait()
    with pytest.raises(anyio.ClosedResourceError):
        await events.receive()


# -- order flows against the simulated broker --------------------------------------------

EVENT = (
    items.OpenOrder,
    items.OrderStatusItem,
    items.ExecDetails,
    items.CommissionAndFeesReportItem,
)


def _commission(report: object) -> float:
    """The amount of a commission report (``commission`` on ibapi 9.81)."""
    value = getattr(report, "commissionAndFees", None)
    return float(getattr(report, "commission", 0.0) if value is None else value)


async def _quote(server: sim.SimServer, **quote: float) -> None:
    """Pin AAPL's quote (deterministic fills) and let resting orders see it."""
    await server.set_quote("AAPL", **quote)


async def _until_status(trade: ib_anyio.Trade, status: str) -> list[object]:
    """Read the trade's events up to its first status ``status``."""
    seen: list[object] = []
    async for event in trade:
        seen.append(event)
        if isinstance(event, items.OrderStatusItem) and event.status == status:
            return seen
    raise AssertionError(f"the trade ended without status {status}: {seen}")


async def test_market_order_fills_with_its_execution_and_commission(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    await _quote(server, bid=99.99, ask=100.0, last=100.0, bid_size=1000, ask_size=1000)
    with anyio.fail_after(5):
        async with client.place_order(stock(), orders.market("BUY", 100)) as trade:
            events = [event async for event in trade]  # ends once done and commissioned
            await trade.done()
    assert [type(e) for e in events] == [
        items.OpenOrder,
        items.OrderStatusItem,
        items.ExecDetails,
        items.CommissionAndFeesReportItem,
        items.OpenOrder,
        items.OrderStatusItem,
    ]
    assert [e.status for e in events if isinstance(e, items.OrderStatusItem)] == [
        "Submitted",
        "Filled",
    ]
    assert (trade.status, trade.filled, trade.remaining) == ("Filled", Decimal(100), Decimal(0))
    assert trade.is_done
    assert trade.error is None
    assert trade.avg_fill_price == 100.0
    assert trade.perm_id > 0
    (fill,) = trade.fills
    assert (fill.execution.side, Decimal(str(fill.execution.shares))) == ("BOT", Decimal(100))
    assert fill.execution.price == 100.0
    assert fill.execution.orderId == trade.order_id
    assert fill.commission_report is not None
    assert fill.commission_report.execId == fill.execution.execId
    assert trade.commission == _commission(fill.commission_report) == 1.0
    assert [e.status for e in trade.log] == ["PendingSubmit", "Submitted", "Filled"]
    (placed,) = [m for m in server.received if m.name == "placeOrder"]
    assert placed.fields["orderId"] == trade.order_id
    assert client.trades() == [trade]


async def test_a_repeated_status_is_delivered_once(server: sim.SimServer) -> None:
    async with (
        sim.serve(port=0, status_repeats=3) as repeating,
        ib_anyio.connect(repeating.host, repeating.port, client_id=1) as client,
        client.order_events() as events,
    ):
        await repeating.set_quote(
            "AAPL", bid=99.99, ask=100.0, last=100.0, bid_size=1000, ask_size=1000
        )
        with anyio.fail_after(5):
            async with client.place_order(stock(), orders.market("BUY", 10)) as trade:
                statuses = [e.status async for e in trade if isinstance(e, items.OrderStatusItem)]
            # Three more identical "Filled" statuses followed; a snapshot shows
            # they were sent: the status of the next order comes after them.
            async with client.place_order(stock(), orders.market("SELL", 10)) as second:
                await second.done()
            seen = []
            async for event in events:
                if isinstance(event, items.OrderStatusItem):
                    seen.append((event.order_id, event.status))
                    if (event.order_id, event.status) == (second.order_id, "Filled"):
                        break
    assert statuses == ["Submitted", "Filled"]
    assert [e.status for e in trade.log] == ["PendingSubmit", "Submitted", "Filled"]
    assert seen == [
        (trade.order_id, "Submitted"),
        (trade.order_id, "Filled"),
        (second.order_id, "Submitted"),
        (second.order_id, "Filled"),
    ]


async def test_limit_order_rests_then_fills_after_the_quote_moves(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    await _quote(server, bid=99.0, ask=100.0, last=99.5, ask_size=1000)
    with anyio.fail_after(5):
        async with client.place_order(stock(), orders.limit("BUY", 10, 99.5)) as trade:
            await _until_status(trade, "Submitted")
            assert (trade.status, trade.filled, trade.fills) == ("Submitted", 0, ())
            assert [o for o in await client.req_open_orders() if isinstance(o, items.OpenOrder)]
            await _quote(server, bid=99.0, ask=99.5)
            await trade.done()
    assert (trade.status, trade.filled, trade.avg_fill_price) == ("Filled", 10, 99.5)
    # (TWS's repeat of the final status may arrive during the snapshot, and be in it.)
    assert [o for o in await client.req_open_orders() if isinstance(o, items.OpenOrder)] == []


async def test_partial_fills(client: ib_anyio.Client, server: sim.SimServer) -> None:
    await _quote(server, bid=99.99, ask=100.0, last=100.0, ask_size=100)
    with anyio.fail_after(5):
        async with client.place_order(stock(), orders.market("BUY", 250)) as trade:
            statuses = [
                (e.status, e.filled, e.remaining)
                async for e in trade
                if isinstance(e, items.OrderStatusItem)
            ]
    assert statuses == [
        ("Submitted", 0, 250),
        ("Submitted", 100, 150),
        ("Submitted", 200, 50),
        ("Filled", 250, 0),
    ]
    assert [(Decimal(str(f.execution.shares)), f.execution.price) for f in trade.fills] == [
        (Decimal(100), 100.0),
        (Decimal(100), 100.01),
        (Decimal(50), 100.02),
    ]
    assert trade.avg_fill_price == pytest.approx((100 * 100 + 100 * 100.01 + 50 * 100.02) / 250)
    reports = [f.commission_report for f in trade.fills]
    assert all(r is not None for r in reports)
    assert trade.commission == pytest.approx(sum(_commission(r) for r in reports))


async def test_stop_order_triggers(client: ib_anyio.Client, server: sim.SimServer) -> None:
    await _quote(server, bid=99.99, ask=100.0, last=100.0, bid_size=1000)
    with anyio.fail_after(5):
        async with client.place_order(stock(), orders.stop("SELL", 10, 95.0)) as trade:
            await _until_status(trade, "PreSubmitted")
            await _quote(server, bid=94.0, ask=94.01, last=94.0)
            await trade.done()
    assert (trade.status, trade.filled) == ("Filled", 10)
    assert trade.fills[0].execution.price == 94.0  # a market sell at the bid
    assert [e.status for e in trade.log][:2] == ["PendingSubmit", "PreSubmitted"]


async def test_cancel(client: ib_anyio.Client, server: sim.SimServer) -> None:
    await _quote(server, bid=99.0, ask=100.0, last=99.5)
    with anyio.fail_after(5):
        async with client.place_order(stock(), orders.limit("BUY", 10, 90.0)) as trade:
            await _until_status(trade, "Submitted")
            await trade.cancel()
            assert trade.status == "Cancelled"
            await trade.done()  # cancelled: no error
        (cancel,) = [m for m in server.received if m.name == "cancelOrder"]
        assert cancel.fields["orderId"] == trade.order_id
        with pytest.raises(ib_anyio.TWSError, match=r"^TWS error 161 for request \d+: Cancel "):
            await trade.cancel()  # too late
    assert trade.error is None
    # TWS's "Order Canceled" notice (202) and the refusal are in the log.
    assert [(e.status, e.error_code) for e in trade.log] == [
        ("PendingSubmit", 0),
        ("Submitted", 0),
        ("Cancelled", 0),
        ("Cancelled", 202),
        ("Cancelled", 161),
    ]


async def test_cancel_of_an_unknown_order(client: ib_anyio.Client) -> None:
    with anyio.fail_after(5):
        rejected_order = orders.market("BUY", 1, totalQuantity=0)
        async with client.place_order(stock(), rejected_order) as trade:
            with pytest.raises(ib_anyio.TWSError) as rejected:
                await trade.done()
            assert rejected.value.code == 201
            with pytest.raises(
                ib_anyio.TWSError,
                match=rf"^TWS error 10147 for request {trade.order_id}: OrderId "
                rf"{trade.order_id} that needs to be cancelled is not found.$",
            ):
                await trade.cancel()
        async with client.notices() as notices:
            client.cancel_order(999_999, _order_cancel())  # type: ignore[arg-type]
            notice = await notices.receive()
    assert (notice.req_id, notice.code) == (999_999, 10147)


async def test_modify(client: ib_anyio.Client, server: sim.SimServer) -> None:
    await _quote(server, bid=99.0, ask=100.0, last=99.5, ask_size=1000)
    with anyio.fail_after(5):
        async with client.place_order(stock(), orders.limit("BUY", 10, 95.0)) as trade:
            await _until_status(trade, "Submitted")
            await trade.modify(orders.limit("BUY", 10, 100.0))
            await trade.done()
    assert (trade.status, trade.avg_fill_price) == ("Filled", 100.0)
    assert trade.order.lmtPrice == 100.0
    placed = [m for m in server.received if m.name == "placeOrder"]
    assert [m.fields["orderId"] for m in placed] == [trade.order_id, trade.order_id]


async def test_modify_through_place_order_and_its_refusal(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    await _quote(server, bid=99.0, ask=100.0, last=99.5)
    order = orders.limit("BUY", 10, 95.0)
    with anyio.fail_after(5):
        async with client.place_order(stock(), order) as trade:
            await _until_status(trade, "Submitted")
        order.lmtPrice = 96.0  # the same Order object: its id is set, so this modifies
        async with client.place_order(stock(), order) as again:
            assert again is trade
        assert trade.order.lmtPrice == 96.0
        with pytest.raises(
            ib_anyio.TWSError, match=rf"^TWS error 103 for request {trade.order_id}: Duplicate"
        ):
            async with client.place_order(stock("MSFT"), order):
                pass  # pragma: no cover
        assert trade.status == "Submitted"  # the order goes on
        assert trade.error is None
        await trade.cancel()


@pytest.mark.parametrize(
    ("order", "code", "message"),
    [
        (orders.market("BUY", 1, totalQuantity=0), 201, r"Order rejected - reason:"),
        (orders.limit("BUY", 1, 100.001), 110, r"The price does not conform to the minimum"),
        (orders.market("BUY", 1, orderType="MOC"), 387, r"Unsupported order type for this"),
    ],
    ids=["quantity", "tick", "type"],
)
async def test_rejections_surface_from_done(
    client: ib_anyio.Client, order: ib_anyio.Order, code: int, message: str
) -> None:
    with anyio.fail_after(5):
        async with client.place_order(stock(), order) as trade:
            with pytest.raises(ib_anyio.TWSError, match=rf"^TWS error {code} .*: {message}"):
                await trade.done()
            assert trade.is_done
            assert trade.error is not None
            assert trade.error.code == code
            if code == 201 and REJECT_JSON:
                assert "rejectReason" in trade.error.advanced_order_reject_json
            with pytest.raises(ib_anyio.TWSError):
                await trade.receive()  # the stream raises it too
    assert trade.status == "PendingSubmit"  # TWS never took it


async def test_an_order_the_account_cannot_margin_is_rejected_then_inactive(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    await server.set_quote("AAPL", bid=229.99, ask=230.0, ask_size=1_000_000)
    with anyio.fail_after(5):
        async with client.place_order(stock(), orders.market("BUY", 100_000)) as trade:
            with pytest.raises(ib_anyio.TWSError, match=r"^TWS error 201 .*YOUR ORDER IS NOT"):
                await trade.done()
        await client.req_current_time()  # what TWS sent before its answer is handled
    assert trade.status == "Inactive"  # TWS sends the rejection, then the status
    assert trade.filled == 0
    assert server.account.position(265598) is None


async def test_a_duplicate_id_from_an_earlier_session_is_rejected(server: sim.SimServer) -> None:
    async with ib_anyio.connect(server.host, server.port, client_id=7) as first:
        async with first.place_order(stock(), orders.limit("BUY", 1, 50.0)) as trade:
            await _until_status(trade, "Submitted")
        order_id = trade.order_id
    reused = orders.limit("BUY", 1, 50.0, orderId=order_id)
    async with (
        ib_anyio.connect(server.host, server.port, client_id=7) as second,
        second.place_order(stock("MSFT"), reused) as clash,
    ):
        with anyio.fail_after(5), pytest.raises(ib_anyio.TWSError) as info:
            await clash.done()
    assert (info.value.code, info.value.message) == (103, "Duplicate order id")


async def test_what_if_places_nothing(client: ib_anyio.Client, server: sim.SimServer) -> None:
    order = orders.market("BUY", 100)
    with anyio.fail_after(5):
        state = await client.what_if(stock(), order)
        assert float(state.initMarginChange) > 0
        assert order.whatIf is False  # a copy was sent
        assert client.trades() == []
        assert await client.req_open_orders() == []
        with pytest.raises(ib_anyio.TWSError) as info:
            await client.what_if(stock(), orders.market("BUY", 1, totalQuantity=0))
    assert info.value.code == 201
    sent = [m.fields["order"]["whatIf"] for m in server.received if m.name == "placeOrder"]
    assert sent == [True, True]


async def test_leaving_the_block_does_not_cancel(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    await _quote(server, bid=99.0, ask=100.0, last=99.5, ask_size=1000)
    with anyio.fail_after(5):
        async with client.order_events() as events:
            async with client.place_order(stock(), orders.limit("BUY", 10, 99.0)) as trade:
                await _until_status(trade, "Submitted")
            with pytest.raises(anyio.ClosedResourceError):
                await trade.receive()
            await _quote(server, bid=98.5, ask=99.0)
            async for event in events:
                if isinstance(event, items.OrderStatusItem) and event.status == "Filled":
                    break
            await trade.done()  # the state went on updating
    assert event.order_id == trade.order_id
    assert (trade.status, trade.filled) == ("Filled", 10)
    assert "cancelOrder" not in [m.name for m in server.received]


async def test_a_manual_order_reaches_client_zero(server: sim.SimServer) -> None:
    async with ib_anyio.connect(server.host, server.port, client_id=0) as master:
        master.req_auto_open_orders(True)
        await server.wait_for(lambda m: m.name == "reqAutoOpenOrders")
        await server.set_quote("AAPL", bid=99.99, ask=100.0, last=100.0, ask_size=1000)
        with anyio.fail_after(5):
            async with master.order_events() as events:
                await server.place_manual_order(stock(), orders.market("BUY", 5))
                got = []
                async for event in events:
                    got.append(event)
                    if isinstance(event, items.CommissionAndFeesReportItem):
                        break
    opened = next(e for e in got if isinstance(e, items.OpenOrder))
    assert opened.order_id < 0  # bound by TWS
    assert opened.order.clientId == 0
    execution = next(e for e in got if isinstance(e, items.ExecDetails)).execution
    assert got[-1].commission_and_fees_report.execId == execution.execId
    assert master.trades() == []


async def test_another_clients_order_id_never_reaches_our_request(
    server: sim.SimServer,
) -> None:
    await server.set_quote("AAPL", bid=99.99, ask=100.0, last=100.0, ask_size=1000)
    async with ib_anyio.connect(server.host, server.port, client_id=0) as master:
        master.req_auto_open_orders(True)
        async with (
            master.req_mkt_data(stock("MSFT")) as ticks,
            master.order_events() as events,
            ib_anyio.connect(server.host, server.port, client_id=2) as other,
        ):
            assert ticks.req_id is not None
            clash = orders.market("BUY", 1, orderId=ticks.req_id)
            async with other.place_order(stock(), clash) as theirs:
                with anyio.fail_after(5):
                    await theirs.done()
                    async for event in events:
                        if isinstance(event, items.OrderStatusItem) and event.status == "Filled":
                            break
            assert event.order_id == ticks.req_id
            assert event.client_id == 2
            for _ in range(ticks.buffered):
                assert not isinstance(ticks.receive_nowait(), EVENT)
    assert master.trades() == []


async def test_two_order_event_streams_get_every_event(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    await _quote(server, bid=99.99, ask=100.0, last=100.0, ask_size=1000)
    with anyio.fail_after(5):
        async with client.order_events() as a, client.order_events() as b:
            async with client.place_order(stock(), orders.market("BUY", 5)) as trade:
                mine = [e async for e in trade]
            got_a = [await a.receive() for _ in mine]
            got_b = [await b.receive() for _ in mine]
    assert got_a == got_b == mine


async def test_order_events_overflow_is_an_error_never_a_silent_loss(
    server: sim.SimServer,
) -> None:
    await _quote(server, bid=99.99, ask=100.0, last=100.0, ask_size=1000)
    async with (
        ib_anyio.connect(server.host, server.port, buffer_size=2, overflow="drop_oldest") as client,
        client.order_events() as events,
    ):
        with anyio.fail_after(5):
            async with client.place_order(stock(), orders.market("BUY", 5)) as trade:
                await trade.done()
        assert [type(events.receive_nowait()) for _ in range(2)] == [
            items.OpenOrder,
            items.OrderStatusItem,
        ]
        with pytest.raises(ib_anyio.StreamOverflow):
            await events.receive()
        assert trade.status == "Filled"  # the Trade itself never drops anything
        assert len(trade.fills) == 1


async def test_bracket(client: ib_anyio.Client, server: sim.SimServer) -> None:
    await _quote(server, bid=99.99, ask=100.0, last=100.0, bid_size=1000, ask_size=1000)
    group = orders.bracket(
        orders.market("BUY", 10), orders.limit("SELL", 10, 110.0), orders.stop("SELL", 10, 90.0)
    )
    with anyio.fail_after(5):
        async with client.place_bracket(stock(), group) as (entry, take_profit, stop_loss):
            await entry.done()
            await _until_status(take_profit, "Submitted")
            await _quote(server, bid=110.0, ask=110.01, last=110.0)
            await take_profit.done()
            await stop_loss.done()
    assert (entry.status, take_profit.status, stop_loss.status) == (
        "Filled",
        "Filled",
        "Cancelled",
    )
    placed = [m.fields for m in server.received if m.name == "placeOrder"]
    assert [p["orderId"] for p in placed] == [
        entry.order_id,
        take_profit.order_id,
        stop_loss.order_id,
    ]
    assert [p["order"]["parentId"] for p in placed] == [0, entry.order_id, entry.order_id]
    assert [p["order"]["transmit"] for p in placed] == [False, False, True]


async def test_snapshots_after_a_fill(client: ib_anyio.Client, server: sim.SimServer) -> None:
    await _quote(server, bid=99.99, ask=100.0, last=100.0, ask_size=1000)
    with anyio.fail_after(5):
        async with client.place_order(stock(), orders.market("BUY", 5)) as filled:
            await filled.done()
        async with client.place_order(stock(), orders.limit("BUY", 5, 90.0)) as resting:
            await _until_status(resting, "Submitted")
        executions = await client.req_executions(ib_anyio.ExecutionFilter())
        completed = await client.req_completed_orders(False)
        mine = await client.req_open_orders()
        every = await client.req_all_open_orders()
        await resting.cancel()
    assert [e.execution.execId for e in executions] == [filled.fills[0].execution.execId]
    assert [c.order.permId for c in completed] == [filled.perm_id]
    assert [o.order_id for o in mine if isinstance(o, items.OpenOrder)] == [resting.order_id]
    assert [o.order_id for o in every if isinstance(o, items.OpenOrder)] == [resting.order_id]


async def test_global_cancel(client: ib_anyio.Client, server: sim.SimServer) -> None:
    await _quote(server, bid=99.0, ask=100.0, last=99.5)
    with anyio.fail_after(5):
        async with (
            client.place_order(stock(), orders.limit("BUY", 5, 90.0)) as a,
            client.place_order(stock(), orders.limit("BUY", 5, 91.0)) as b,
        ):
            await _until_status(a, "Submitted")
            await _until_status(b, "Submitted")
            client.req_global_cancel(_order_cancel())  # type: ignore[arg-type]
            await a.done()
            await b.done()
    assert (a.status, b.status) == ("Cancelled", "Cancelled")


async def test_a_lost_connection_ends_the_trade(server: sim.SimServer) -> None:
    await _quote(server, bid=99.0, ask=100.0, last=99.5)
    async with (
        ib_anyio.connect(server.host, server.port, client_id=5) as client,
        client.place_order(stock(), orders.limit("BUY", 5, 90.0)) as trade,
    ):
        await _until_status(trade, "Submitted")
        await server.drop_connections()
        with anyio.fail_after(5), pytest.raises(ib_anyio.ConnectionLost):
            await trade.done()
        with pytest.raises(ib_anyio.ConnectionLost):
            await trade.receive()


# -- docs/orders.md ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize(
    ("code", "expected"),
    [(code, expected) for _, code, expected in examples("orders.md")],
    ids=[f"example{index}" for index, _, _ in examples("orders.md")],
)
def test_docs_examples_run(backend: str, code: str, expected: list[str]) -> None:
    assert same_lines(run_example("orders.md", code, backend), expected)


async def test_exercise_options(client: ib_anyio.Client, server: sim.SimServer) -> None:
    query = ib_anyio.Contract()
    query.symbol, query.secType, query.currency, query.right = "AAPL", "OPT", "USD", "C"
    with anyio.fail_after(5):
        details = await client.req_contract_details(query)
        option = details[0].contract_details.contract
        async with client.place_order(option, orders.market("BUY", 1)) as trade:
            await trade.done()
        client.exercise_options(option, 1, 1, ACCOUNT, 0)
        (exercise,) = await server.wait_for(lambda m: m.name == "exerciseOptions")
        await client.req_current_time()  # a round trip: the exercise is booked
        positions = {p.contract.conId: p.position for p in await client.positions()}
    assert exercise.fields["exerciseQuantity"] == 1
    assert positions[option.conId] == 0
    assert positions[265598] == 100  # AAPL shares: one contract of 100


async def test_arguments_an_older_ibapi_lacks(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    option = ib_anyio.Contract()
    option.conId = 1  # no such contract: only what is sent matters here
    if "manualOrderTime" in inspect.signature(EClient.exerciseOptions).parameters:
        client.exercise_options(option, 1, 1, ACCOUNT, 0, "20250102 10:00:00")
        with anyio.fail_after(5):
            (sent,) = await server.wait_for(lambda m: m.name == "exerciseOptions")
        assert sent.fields["manualOrderTime"] == "20250102 10:00:00"
    else:  # ibapi 9.81: a newer argument, set, cannot be sent
        with pytest.raises(ib_anyio.UnsupportedRequest, match=r"exerciseOptions takes 6 arg"):
            client.exercise_options(option, 1, 1, ACCOUNT, 0, "20250102 10:00:00")


async def test_a_commission_report_before_its_execution_is_kept_for_it(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    # TWS sends the execution first; should a report come first, it still reaches
    # its fill. Fed to the wrapper as ibapi's decoder would call it.
    await _quote(server, bid=99.0, ask=100.0, last=99.5)
    with anyio.fail_after(5):
        async with client.place_order(stock(), orders.limit("BUY", 5, 90.0)) as trade:
            await _until_status(trade, "Submitted")
    report = _report_class()()
    report.execId = "0000beef.00000001.01.01"
    for name in ("commissionAndFees", "commission"):
        if hasattr(report, name):
            setattr(report, name, 1.25)
    execution = ib_anyio.Execution()
    execution.execId = report.execId
    execution.clientId, execution.orderId, execution.permId = 1, trade.order_id, trade.perm_id
    wrapper = client._bridge.wrapper
    getattr(wrapper, _report_callback())(report)  # on the event loop: handled at once
    wrapper.execDetails(-1, stock(), execution)
    await client.req_current_time()  # any wake-up scheduled before has run
    (fill,) = trade.fills
    assert fill.commission_report is report
    assert trade.commission == 1.25
    await trade.cancel()


def _report_class() -> type:
    try:
        from ibapi.commission_and_fees_report import CommissionAndFeesReport
    except ImportError:  # ibapi 9.81
        from ibapi.commission_report import CommissionReport

        return CommissionReport
    return CommissionAndFeesReport


def _report_callback() -> str:
    return (
        "commissionReport" if hasattr(EWrapper, "commissionReport") else ("commissionAndFeesReport")
    )
