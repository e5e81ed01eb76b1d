"""Real-time bars (``reqRealTimeBars``): the stock ibapi EClient at every interesting
version, TWS's 420 when a client breaks the pacing rules, and ib_anyio's stream."""

from __future__ import annotations

import anyio
import pytest
from ibapi.contract import Contract
from sim_client import WAIT, App, call, close, connect, stock

import ib_anyio
from ib_anyio import sim
from ib_anyio.sim._rules import RT_BAR_SIZE_TEXT, RT_PACING_TEXT
from ib_anyio.sim._server import SimServer, max_version
from ib_anyio.sim._universe import Quote, real_time_bar


async def test_midpoint_bars_every_five_seconds_until_cancelled(
    server: SimServer, app: App
) -> None:
    await call(app.reqRealTimeBars, 4, stock(), 5, "MIDPOINT", False, [])
    bars = await app.wait_for("realtimeBar", 4, count=3)
    times = [b[2] for b in bars]
    assert times[0] % 5 == 0
    assert [t - times[0] for t in times[:3]] == [0, 5, 10]
    for _, _, _, open_, high, low, close_, volume, wap, count in bars:
        assert low <= min(open_, close_) <= max(open_, close_) <= high
        assert (volume, wap, count) == (-1.0, -1.0, -1)
    [request] = await server.wait_for(lambda m: m.name == "reqRealTimeBars")
    assert request.fields["reqId"] == 4
    assert (request.fields["barSize"], request.fields["whatToShow"]) == (5, "MIDPOINT")
    assert request.fields["contract"]["symbol"] == "AAPL"  # type: ignore[index]
    await call(app.cancelRealTimeBars, 4)
    await server.wait_for(lambda m: m.name == "cancelRealTimeBars" and m.fields["reqId"] == 4)
    await call(app.reqCurrentTime)  # answered after the cancel was handled
    await app.wait_for("currentTime")
    assert server._stream_count() == 0


async def test_bars_follow_a_pinned_quote(server: SimServer, app: App) -> None:
    await server.set_quote("AAPL", bid=229.9, ask=230.0, last=229.95)
    await call(app.reqRealTimeBars, 5, stock(), 5, "BID", True, [])
    await call(app.reqRealTimeBars, 6, stock(), 5, "TRADES", True, [])
    [bid] = (await app.wait_for("realtimeBar", 5))[:1]
    [trades] = (await app.wait_for("realtimeBar", 6))[:1]
    assert bid[3:] == (229.9, 229.9, 229.9, 229.9, -1.0, -1.0, -1)
    # nothing traded while the quote was pinned: no volume, no trades
    assert trades[3:] == (229.95, 229.95, 229.95, 229.95, 0.0, 229.95, 0)


def test_trades_bar_from_the_quotes() -> None:
    seen = [
        Quote(10.0, 10.2, 10.1, 1, 1, 5, 1000),
        Quote(10.1, 10.3, 10.3, 1, 1, 10, 1010),
        Quote(9.9, 10.1, 10.0, 1, 1, 30, 1040),
    ]
    bar = real_time_bar(1_700_000_000, seen, "TRADES")
    assert (bar.date, bar.open, bar.high, bar.low, bar.close) == (
        "1700000000",
        10.1,
        10.3,
        10.0,
        10.0,
    )
    assert (bar.volume, bar.wap, bar.bar_count) == (40, 10.075, 2)
    mid = real_time_bar(0, seen, "MIDPOINT")
    assert (mid.open, mid.high, mid.low, mid.close, mid.volume) == (10.1, 10.2, 10.0, 10.0, -1)


@pytest.mark.parametrize(("bar_size", "what"), [(10, "MIDPOINT"), (5, "BID_ASK")])
async def test_other_bar_sizes_and_kinds_get_420(
    server: SimServer, app: App, bar_size: int, what: str
) -> None:
    await call(app.reqRealTimeBars, 8, stock(), bar_size, what, False, [])
    [error] = await app.wait_for("error", 8)
    assert error[2:] == (420, RT_BAR_SIZE_TEXT)
    assert server._stream_count() == 0


async def test_unknown_contract_gets_200(server: SimServer, app: App) -> None:
    await call(app.reqRealTimeBars, 9, stock("NOPE"), 5, "TRADES", False, [])
    [error] = await app.wait_for("error", 9)
    assert error[2] == 200


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_pacing_violation_gets_420_with_the_request_id(server_version: int) -> None:
    clock = Clock()
    async with sim.serve(
        server_version=server_version, tick_interval=0.01, hist_pacing=True, clock=clock
    ) as server:
        app = await connect(server)
        try:
            await app.wait_for("nextValidId")
            await call(app.reqRealTimeBars, 1, stock(), 5, "TRADES", False, [])
            await call(app.reqRealTimeBars, 2, stock(), 5, "TRADES", False, [])  # identical
            [error] = await app.wait_for("error", 2)
            assert error[2:] == (420, RT_PACING_TEXT)
            await app.wait_for("realtimeBar", 1)
            assert app.of("error", 1) == []
            clock.now += 16  # identical requests are fine 15 s apart
            await call(app.reqRealTimeBars, 3, stock(), 5, "TRADES", False, [])
            await app.wait_for("realtimeBar", 3)
            assert app.of("error", 3) == []
            # another whatToShow is another request
            await call(app.reqRealTimeBars, 4, stock(), 5, "MIDPOINT", False, [])
            await app.wait_for("realtimeBar", 4)
        finally:
            await close(app)


async def test_no_pacing_unless_asked(server: SimServer, app: App) -> None:
    for req_id in (1, 2):
        await call(app.reqRealTimeBars, req_id, stock(), 5, "TRADES", False, [])
    await app.wait_for("realtimeBar", 2)
    assert app.of("error", 2) == []


def aapl() -> Contract:
    return stock()


@pytest.mark.parametrize("version", [176, max_version()])
async def test_ib_anyio_stream_and_one_cancel(version: int) -> None:
    async with (
        sim.serve(server_version=version, tick_interval=0.01) as server,
        ib_anyio.connect(server.host, server.port, client_id=1, timeout=5) as client,
    ):
        assert client.server_version == min(version, max_version())  # ibapi 9.81: 157
        with anyio.fail_after(WAIT):
            async with client.req_real_time_bars(aapl(), 5, "MIDPOINT", False) as stream:
                bars = []
                async for bar in stream:
                    bars.append(bar)
                    if len(bars) == 3:
                        break
            assert [b.time - bars[0].time for b in bars] == [0, 5, 10]
            assert all(b.low <= b.open_ <= b.high and b.count == -1 for b in bars)
            [request] = await server.wait_for(lambda m: m.name == "reqRealTimeBars")
            [cancel] = await server.wait_for(lambda m: m.name == "cancelRealTimeBars")
            assert cancel.fields["reqId"] == request.fields["reqId"]
            await client.req_current_time()  # the cancel, if sent twice, came before this
        cancels = [m for m in server.received if m.name == "cancelRealTimeBars"]
        assert len(cancels) == 1
        assert server._stream_count() == 0
