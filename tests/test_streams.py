"""Subscriptions end to end: items, exactly-once cancel, errors, overflow policies."""

from __future__ import annotations

from decimal import Decimal

import anyio
import anyio.lowlevel
import pytest

import ib_anyio
from ib_anyio import items, sim
from tests.helpers import stock


async def _cancels(server: sim.SimServer, name: str, count: int = 1) -> list[sim.Received]:
    with anyio.fail_after(5):
        return await server.wait_for(lambda m: m.name == name, count=count)


async def test_market_data_ticks(client: ib_anyio.Client) -> None:
    received: list[object] = []
    async with client.req_mkt_data(stock()) as ticks:
        assert isinstance(ticks, ib_anyio.ItemStream)
        assert isinstance(ticks.req_id, int)
        async for tick in ticks:
            received.append(tick)
            if len(received) == 20:
                break
    prices = [t for t in received if isinstance(t, items.TickPrice)]
    sizes = [t for t in received if isinstance(t, items.TickSize)]
    assert prices
    assert sizes
    # Decimal on every ibapi release (9.81 passes ints; the compat layer converts).
    assert all(isinstance(s.size, Decimal) for s in sizes)
    assert all(p.price > 0 for p in prices)
    assert {p.tick_type for p in prices} <= set(range(0, 100))


@pytest.mark.parametrize("how", ["normally", "by exception", "by cancellation"])
async def test_leaving_the_block_cancels_exactly_once(
    client: ib_anyio.Client, server: sim.SimServer, how: str
) -> None:
    with anyio.CancelScope() as scope:
        try:
            async with client.req_mkt_data(stock()) as ticks:
                req_id = ticks.req_id
                await ticks.receive()
                if how == "by exception":
                    raise KeyError("boom")
                if how == "by cancellation":
                    scope.cancel()
                    await anyio.sleep_forever()
        except KeyError:
            assert how == "by exception"
    cancels = await _cancels(server, "cancelMktData")
    await client.req_current_time()  # a round trip: a second cancel would have arrived by now
    cancels = [m for m in server.received if m.name == "cancelMktData"]
    assert [m.fields["reqId"] for m in cancels] == [req_id]


async def test_request_ids_are_never_reused(client: ib_anyio.Client, server: sim.SimServer) -> None:
    ids = []
    for _ in range(3):
        async with client.req_mkt_data(stock()) as ticks:
            ids.append(ticks.req_id)
            await ticks.receive()
    assert len(set(ids)) == 3


async def test_stream_error_raises_from_iteration(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    async with client.req_mkt_data(stock("NOSUCH")) as ticks:
        with anyio.fail_after(5), pytest.raises(ib_anyio.TWSError) as info:
            await ticks.receive()
    assert info.value.code == 200
    assert info.value.req_id == ticks.req_id
    await client.req_current_time()
    # TWS ended it: no cancel is sent for a request TWS rejected.
    assert "cancelMktData" not in [m.name for m in server.received]


async def test_other_streams_survive_an_error(client: ib_anyio.Client) -> None:
    async with (
        client.req_mkt_data(stock("MSFT")) as good,
        client.req_mkt_data(stock("NOSUCH")) as bad,
    ):
        with anyio.fail_after(5), pytest.raises(ib_anyio.TWSError):
            await bad.receive()
        with anyio.fail_after(5):
            assert await good.receive() is not None


async def test_stream_after_close_is_closed(client: ib_anyio.Client) -> None:
    async with client.req_mkt_data(stock()) as ticks:
        await ticks.aclose()
        with pytest.raises(anyio.ClosedResourceError):
            await ticks.receive()


async def test_historical_data_keep_up_to_date_streams(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    seen: list[object] = []
    async with client.req_historical_data(
        stock(),
        end_date_time="",
        duration_str="1 D",
        bar_size_setting="1 hour",
        what_to_show="TRADES",
        use_rth=True,
        keep_up_to_date=True,
    ) as bars:
        async for item in bars:
            seen.append(item)
            if isinstance(item, items.HistoricalDataUpdate):
                break
    kinds = [type(x) for x in seen]
    assert items.HistoricalData in kinds
    assert items.HistoricalDataEnd in kinds
    assert kinds.index(items.HistoricalDataEnd) < kinds.index(items.HistoricalDataUpdate)
    await _cancels(server, "cancelHistoricalData")


async def test_overflow_error_policy(server: sim.SimServer) -> None:
    async with (
        sim.serve(port=0, burst=5000) as burst,
        ib_anyio.connect(burst.host, burst.port, buffer_size=100, overflow="error") as client,
        client.req_mkt_data(stock()) as ticks,
    ):
        await burst.wait_for(lambda m: m.name == "reqMktData")
        # Let the reader run ahead of us: do not consume until it has overflowed.
        with anyio.fail_after(10):
            while ticks.dropped == 0:
                await anyio.lowlevel.checkpoint()  # checkpoint only; no timing is asserted
        got = [ticks.receive_nowait() for _ in range(100)]
        assert len(got) == 100  # everything buffered before the overflow is delivered
        with pytest.raises(
            ib_anyio.StreamOverflow, match=r"overflowed: the consumer fell 100 items behind$"
        ):
            await ticks.receive()
        assert ticks.dropped >= 1


async def test_overflow_drop_oldest_policy(server: sim.SimServer) -> None:
    async with (
        sim.serve(port=0, burst=5000) as burst,
        ib_anyio.connect(burst.host, burst.port, buffer_size=100, overflow="drop_oldest") as client,
        client.req_mkt_data(stock()) as ticks,
    ):
        with anyio.fail_after(10):
            while ticks.dropped == 0:
                await anyio.lowlevel.checkpoint()
        assert ticks.buffered == 100
        assert await ticks.receive() is not None  # still streaming, no error


async def test_notices_stream(client: ib_anyio.Client, server: sim.SimServer) -> None:
    async with client.notices() as notices:
        await server.broadcast_error(2105, "HMDS data farm connection is broken:ushmds")
        with anyio.fail_after(5):
            notice = await notices.receive()
    assert notice == ib_anyio.Notice(
        -1, 2105, "HMDS data farm connection is broken:ushmds", notice.time
    )


async def test_a_stalled_stream_does_not_stall_another() -> None:
    # 30,000 tickPrice messages per subscription, each also a tickSize: 60,000 items.
    async with (
        sim.serve(port=0, burst=30_000) as burst,
        ib_anyio.connect(
            burst.host, burst.port, buffer_size=50_000, overflow="drop_oldest"
        ) as client,
        client.req_mkt_data(stock("AAPL")) as stalled,
        client.req_mkt_data(stock("MSFT")) as flowing,
    ):
        got = 0
        with anyio.fail_after(20):
            while got < 60_000:
                await flowing.receive()
                got += 1
        # AAPL's burst came first on the wire: all of it has been through the reader.
        assert stalled.buffered == 50_000  # never read: capped, the rest counted
        assert stalled.dropped >= 10_000
        assert flowing.dropped == 0
