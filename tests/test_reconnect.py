"""Surviving a dropped connection: ``connect(reconnect=Reconnect(...))``, end to end.

Every stream stays open across the drop and delivers again after a :class:`Gap`,
under a new request id; one-shots in flight raise ``ConnectionLost``; orders are
reconciled (a fill during the outage is delivered once); ``connection_events()``
tells what happened. Without a policy, everything ends (see test_streams.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

import ib_anyio
from ib_anyio import items, orders, sim
from ib_anyio._pacing import HistoricalPacer
from tests.helpers import stock
from tests.test_pacing import FakeClock

WAIT = 5  # seconds: a bound on what should take milliseconds
FAST = ib_anyio.Reconnect(initial_delay=0.01, max_delay=0.05)


@pytest.fixture
async def rclient(server: sim.SimServer) -> AsyncIterator[ib_anyio.Client]:
    """A client that reconnects."""
    async with ib_anyio.connect(
        server.host, server.port, client_id=1, timeout=5, reconnect=FAST
    ) as c:
        yield c


async def _next(stream: Any, kind: type) -> Any:
    """The next item of ``kind`` (skipping others)."""
    with anyio.fail_after(WAIT):
        async for item in stream:
            if isinstance(item, kind):
                return item
    raise AssertionError(f"the stream ended before a {kind.__name__}")


async def _drain(stream: Any, into: list[object]) -> None:
    """Append every item of ``stream`` to ``into``, as they come (kept if it raises)."""
    with anyio.fail_after(WAIT):
        async for item in stream:
            into.append(item)  # noqa: PERF401 - what came before an error must be kept


def _sent(server: sim.SimServer, name: str) -> list[dict[str, Any]]:
    return [m.fields for m in server.received if m.name == name]


async def test_streams_resume_after_a_drop_with_a_gap_and_new_ids(
    rclient: ib_anyio.Client, server: sim.SimServer
) -> None:
    async with (
        rclient.connection_events() as events,
        rclient.req_mkt_data(stock("AAPL")) as ticks,
        rclient.req_positions() as positions,
    ):
        old_id = ticks.req_id
        assert old_id is not None
        await _next(ticks, items.TickPrice)
        await _next(positions, items.PositionEnd)
        await server.faults.drop()
        assert isinstance(await _next(events, ib_anyio.Disconnected), ib_anyio.Disconnected)
        reconnected = await _next(events, ib_anyio.Reconnected)
        assert reconnected.resubscribed == 2
        gap = await _next(ticks, ib_anyio.Gap)
        assert gap == ib_anyio.Gap("reconnect", old_id, ticks.req_id)
        assert ticks.req_id is not None
        assert ticks.req_id > old_id
        await _next(ticks, items.TickPrice)  # data again, on the same stream
        assert await _next(positions, ib_anyio.Gap) == ib_anyio.Gap("reconnect", None, None)
        await _next(positions, items.PositionEnd)
        assert [f["reqId"] for f in _sent(server, "reqMktData")] == [old_id, ticks.req_id]
        assert len(_sent(server, "reqPositions")) == 2
        assert rclient.is_connected
    # Leaving the blocks cancels the new subscription, once.
    await rclient.req_current_time()
    assert [f["reqId"] for f in _sent(server, "cancelMktData")] == [ticks.req_id]


async def test_one_shot_in_flight_raises_connection_lost_and_the_client_recovers(
    rclient: ib_anyio.Client, server: sim.SimServer
) -> None:
    server.ignore("reqHeadTimeStamp")
    async with anyio.create_task_group() as tg:

        async def drop_once_sent() -> None:
            await server.wait_for(lambda m: m.name == "reqHeadTimeStamp")
            await server.faults.drop()

        tg.start_soon(drop_once_sent)
        with anyio.fail_after(WAIT), pytest.raises(ib_anyio.ConnectionLost):
            await rclient.req_head_time_stamp(stock(), "TRADES", True, 1)
    with anyio.fail_after(WAIT):
        await rclient.wait_connected()
        assert (await rclient.req_current_time()).time > 0
    assert type(rclient._bridge.lost) is not ib_anyio.ReconnectFailed


async def test_requests_while_reconnecting_raise_connection_lost(
    rclient: ib_anyio.Client, server: sim.SimServer
) -> None:
    async with rclient.connection_events() as events:
        server.faults.refuse_api = True
        await server.faults.drop()
        await _next(events, ib_anyio.Reconnecting)
        failed = await _next(events, ib_anyio.Reconnecting)  # the first attempt was refused
        assert isinstance(failed.error, ib_anyio.ConnectionRejected)
        assert not rclient.is_connected
        with pytest.raises(ib_anyio.ConnectionLost):
            await rclient.req_current_time()
        with pytest.raises(ib_anyio.ConnectionLost):
            async with rclient.req_mkt_data(stock()):
                pass  # pragma: no cover
        server.faults.refuse_api = False
        with anyio.fail_after(WAIT):
            await rclient.wait_connected()
        assert (await rclient.req_current_time()).time > 0


async def test_the_policy_gives_up_after_max_attempts(server: sim.SimServer) -> None:
    policy = ib_anyio.Reconnect(initial_delay=0.01, max_delay=0.01, max_attempts=2)
    async with ib_anyio.connect(server.host, server.port, client_id=1, reconnect=policy) as c:
        async with c.req_mkt_data(stock()) as ticks, c.connection_events() as events:
            await _next(ticks, items.TickPrice)
            server.faults.refuse_api = True
            await server.faults.drop()
            with anyio.fail_after(WAIT), pytest.raises(ib_anyio.ReconnectFailed):
                async for _ in ticks:
                    pass
            seen: list[object] = []
            with pytest.raises(ib_anyio.ReconnectFailed):
                await _drain(events, seen)
            attempts = [e.attempt for e in seen if isinstance(e, ib_anyio.Reconnecting)]
            assert attempts == [1, 2]
        with pytest.raises(ib_anyio.ReconnectFailed):
            await c.wait_connected()
        with pytest.raises(ib_anyio.ReconnectFailed):
            await c.req_current_time()


async def test_without_a_policy_a_drop_ends_everything(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    async with client.connection_events() as events, client.req_mkt_data(stock()) as ticks:
        await _next(ticks, items.TickPrice)
        await server.faults.drop()
        assert isinstance(await _next(events, ib_anyio.Disconnected), ib_anyio.Disconnected)
        with anyio.fail_after(WAIT), pytest.raises(ib_anyio.ConnectionLost):
            async for _ in ticks:
                pass
    with pytest.raises(ib_anyio.ConnectionLost):
        await client.wait_connected()
    assert _sent(server, "reqMktData") == _sent(server, "reqMktData")[:1]


async def test_a_fill_during_the_outage_is_delivered_once(
    rclient: ib_anyio.Client, server: sim.SimServer
) -> None:
    await server.set_quote("AAPL", bid=100.0, ask=100.1, last=100.05)
    async with (
        rclient.order_events() as events,
        rclient.place_order(stock(), orders.limit("BUY", 10, 99.0)) as trade,
    ):
        with anyio.fail_after(WAIT):
            while trade.status != "Submitted":
                await trade.receive()
        server.faults.refuse_api = True
        await server.faults.drop()
        await server.set_quote("AAPL", bid=98.9, ask=98.95, last=98.95)  # fills, nobody sees
        assert server.broker.orders[(1, trade.order_id)].status == "Filled"
        server.faults.refuse_api = False
        with anyio.fail_after(WAIT):
            await trade.done()
        assert trade.status == "Filled"
        assert trade.filled == 10
        assert len(trade.fills) == 1
        assert trade.fills[0].commission_report is not None
        execs = []
        with anyio.fail_after(WAIT):
            async for event in events:
                if isinstance(event, items.ExecDetails):
                    execs.append(event.execution.execId)
                if isinstance(event, items.CommissionAndFeesReportItem):
                    break
        while events.buffered:
            event = events.receive_nowait()
            if isinstance(event, items.ExecDetails):
                execs.append(event.execution.execId)
        assert execs == [trade.fills[0].execution.execId]


async def test_an_order_cancelled_during_the_outage_ends_cancelled(
    rclient: ib_anyio.Client, server: sim.SimServer
) -> None:
    await server.set_quote("AAPL", bid=100.0, ask=100.1, last=100.05)
    async with rclient.place_order(stock(), orders.limit("BUY", 10, 90.0)) as trade:
        with anyio.fail_after(WAIT):
            while trade.status != "Submitted":
                await trade.receive()
        server.faults.refuse_api = True
        await server.faults.drop()
        server.broker.cancel(1, trade.order_id)  # as TWS's operator would
        server.faults.refuse_api = False
        with anyio.fail_after(WAIT):
            await trade.done()
        assert trade.status == "Cancelled"
        assert trade.fills == ()


async def test_connection_events_report_tws_notices(
    rclient: ib_anyio.Client, server: sim.SimServer
) -> None:
    async with rclient.connection_events() as events:
        await server.broadcast_error(2105, "HMDS data farm connection is broken:euhmds")
        await server.faults.connectivity_lost(restored="data_maintained")
        assert await _next(events, ib_anyio.FarmStatus) == ib_anyio.FarmStatus(
            2105, "HMDS data farm connection is broken:euhmds", "euhmds", False
        )
        lost = await _next(events, ib_anyio.TWSConnectivity)
        assert (lost.code, lost.lost, lost.data_lost) == (1100, True, False)
        assert (await _next(events, ib_anyio.TWSConnectivity)).code == 1102


async def test_data_lost_resends_market_data_only(
    rclient: ib_anyio.Client, server: sim.SimServer
) -> None:
    async with rclient.req_mkt_data(stock()) as ticks, rclient.req_positions() as positions:
        await _next(positions, items.PositionEnd)
        old_id = ticks.req_id
        await _next(ticks, items.TickPrice)
        await server.faults.connectivity_lost(restored="data_lost")
        gap = await _next(ticks, ib_anyio.Gap)
        assert gap == ib_anyio.Gap("data_lost", old_id, ticks.req_id)
        await _next(ticks, items.TickPrice)
        assert [f["reqId"] for f in _sent(server, "reqMktData")] == [old_id, ticks.req_id]
        assert len(_sent(server, "reqPositions")) == 1  # not market data: kept
        assert positions.buffered == 0


async def test_data_maintained_resends_nothing(
    rclient: ib_anyio.Client, server: sim.SimServer
) -> None:
    async with rclient.req_mkt_data(stock()) as ticks, rclient.connection_events() as events:
        old_id = ticks.req_id
        await server.faults.connectivity_lost(restored="data_maintained")
        assert (await _next(events, ib_anyio.TWSConnectivity)).code == 1100
        assert (await _next(events, ib_anyio.TWSConnectivity)).code == 1102
        await _next(ticks, items.TickPrice)
        assert (await rclient.req_current_time()).time > 0
        assert ticks.req_id == old_id
        assert [f["reqId"] for f in _sent(server, "reqMktData")] == [old_id]


async def test_exceptions_from_the_block_are_not_wrapped(server: sim.SimServer) -> None:
    with pytest.raises(KeyError):
        async with ib_anyio.connect(server.host, server.port, reconnect=FAST):
            raise KeyError("mine")


def test_policy_arguments_are_checked() -> None:
    for bad in (
        {"initial_delay": -1},
        {"initial_delay": 5, "max_delay": 1},
        {"multiplier": 0.5},
        {"jitter": 2},
        {"max_attempts": 0},
    ):
        with pytest.raises(ValueError, match="Reconnect"):
            ib_anyio.Reconnect(**bad)
    policy = ib_anyio.Reconnect(initial_delay=1, max_delay=4, jitter=0)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 4]


async def test_reconnect_must_be_a_policy(server: sim.SimServer) -> None:
    with pytest.raises(TypeError, match="Reconnect"):
        async with ib_anyio.connect(server.host, server.port, reconnect=True):  # type: ignore[arg-type]
            pass  # pragma: no cover


async def test_trade_cancel_times_out(client: ib_anyio.Client, server: sim.SimServer) -> None:
    await server.set_quote("AAPL", bid=100.0, ask=100.1, last=100.05)
    async with client.place_order(stock(), orders.limit("BUY", 1, 90.0)) as trade:
        with anyio.fail_after(WAIT):
            while trade.status != "Submitted":
                await trade.receive()
        server.ignore("cancelOrder")
        client.request_timeout = 0.05
        with anyio.fail_after(WAIT), pytest.raises(ib_anyio.RequestTimeout, match="cancel"):
            await trade.cancel()


async def test_a_resent_historical_stream_waits_for_the_pacing_rules() -> None:
    clock = FakeClock()
    async with (
        sim.serve(port=0, tick_interval=0.001, hist_pacing=True, clock=clock) as server,
        ib_anyio.connect(server.host, server.port, client_id=1, reconnect=FAST) as client,
    ):
        client._hist = HistoricalPacer(clock=clock, sleep=clock.sleep)
        async with client.req_historical_data(
            stock(), "", "60 S", "30 secs", "TRADES", keep_up_to_date=True
        ) as bars:
            await _next(bars, items.HistoricalDataEnd)
            start = clock.now
            await server.faults.connectivity_lost(restored="data_lost")
            await _next(bars, ib_anyio.Gap)
            await _next(bars, items.HistoricalDataEnd)  # not TWS's 162: the same request
            assert clock.now - start >= 15  # waited out the "identical within 15 s" rule
            assert client._hist.open == 1
        assert len(_sent(server, "reqHistoricalData")) == 2
