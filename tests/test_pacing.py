"""Message pacing end to end: a burst stays inside TWS's limit, and only because of the pacer.

The simulator enforces TWS's rule (``serve(max_msg_rate=50)``: the 51st message in
any one second gets error 100 and the connection is closed). Its rules read the
clock once per message received, so a recording clock gives the arrival time of
every message, from which the test takes the busiest one-second window.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.lowlevel
import pytest

import ib_anyio
from ib_anyio import sim
from ib_anyio._pacing import HistoricalPacer
from tests.helpers import stock

#: Messages in the burst: 480 ``reqCurrentTime`` and 10 market-data opens with
#: their cancels, 500 in all. Paced (45 per 1.1 s) that takes about 11 s;
#: unpaced, it is ten times what TWS allows in a second.
REQUESTS = 480
STREAMS = 10
MESSAGES = REQUESTS + 2 * STREAMS


class RecordingClock:
    """``time.monotonic``, remembering every reading (one per message the simulator reads)."""

    def __init__(self) -> None:
        self.readings: list[float] = []

    def __call__(self) -> float:
        now = time.monotonic()
        self.readings.append(now)
        return now

    def busiest_second(self) -> int:
        """The most readings in any one-second window (as the simulator counts)."""
        best = start = 0
        for end, now in enumerate(self.readings):
            while self.readings[start] <= now - 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best


@asynccontextmanager
async def paced_server(clock: RecordingClock) -> AsyncIterator[sim.SimServer]:
    async with sim.serve(port=0, tick_interval=0.001, max_msg_rate=50, clock=clock) as server:
        yield server


async def _burst(client: ib_anyio.Client) -> tuple[int, int]:
    """Send the burst from concurrent tasks; how many answers arrived, how many tasks lost."""
    answered = lost = 0

    async def one_shot() -> None:
        nonlocal answered, lost
        try:
            await client.req_current_time()
        except ib_anyio.ConnectionLost:
            lost += 1
        else:
            answered += 1

    async def open_close() -> None:
        nonlocal answered, lost
        try:
            async with client.req_mkt_data(stock()):
                answered += 1
        except ib_anyio.ConnectionLost:
            lost += 1

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for i in range(REQUESTS):
                tg.start_soon(one_shot)
                if i % (REQUESTS // STREAMS) == 0:
                    tg.start_soon(open_close)
    return answered, lost


async def test_a_burst_stays_within_the_message_rate() -> None:
    clock = RecordingClock()
    async with (
        paced_server(clock) as server,
        ib_anyio.connect(server.host, server.port, client_id=1, timeout=5) as client,
    ):
        assert client._pacer.max_rate == 45
        before = len(clock.readings)
        answered, lost = await _burst(client)
        assert (answered, lost) == (REQUESTS + STREAMS, 0)
        await client.req_current_time()  # the last cancels have been read too
        assert client.is_connected
        assert server.connections == 1
        assert not [m for m in server.received if m.name == "disconnect"]
        assert len(clock.readings) - before == MESSAGES + 1
        assert clock.busiest_second() <= 50
        # Paced, not merely lucky: the burst was spread over more than ten seconds.
        assert clock.readings[-1] - clock.readings[before] > 10.0


async def test_the_writer_keeps_the_rate_on_the_wire_too() -> None:
    """Messages that skip the wait (fire-and-forget sends) still go out paced."""
    clock = RecordingClock()
    async with (
        paced_server(clock) as server,
        ib_anyio.connect(server.host, server.port, client_id=1, timeout=5) as client,
    ):
        before = len(clock.readings)
        for _ in range(120):
            client.req_market_data_type(1)  # sent at once, counted, never waited for
        with anyio.fail_after(30):
            await client.req_current_time()  # behind the 120 in the writer's queue
        assert client.is_connected
        assert len([m for m in server.received if m.name == "reqMarketDataType"]) == 120
        assert len(clock.readings) - before == 121
        assert clock.busiest_second() <= 50


async def test_without_the_pacer_the_burst_gets_error_100() -> None:
    """The same burst with pacing off: TWS's rule fires (so the test above can fail)."""
    clock = RecordingClock()
    async with (
        paced_server(clock) as server,
        ib_anyio.connect(
            server.host, server.port, client_id=1, timeout=5, max_msg_rate=None
        ) as client,
        client.notices() as notices,
    ):
        answered, lost = await _burst(client)
        assert lost > 0
        assert answered < REQUESTS + STREAMS
        assert not client.is_connected
        assert 100 in _codes(notices)


def _codes(notices: ib_anyio.ItemStream[ib_anyio.Notice]) -> list[int]:
    """The codes of the notices buffered in a stream the connection's end has ended."""
    codes = []
    with contextlib.suppress(ib_anyio.ConnectionLost):
        while True:
            codes.append(notices.receive_nowait().code)
    return codes


@pytest.mark.parametrize("rate", [0, 51, -1, 2.5, True, "45"])
async def test_max_msg_rate_is_checked(rate: object) -> None:
    with pytest.raises(ValueError, match=r"^max_msg_rate must be an int from 1 to 50 \(or None\)"):
        async with ib_anyio.connect("127.0.0.1", 1, max_msg_rate=rate):  # type: ignore[arg-type]
            pass  # pragma: no cover


async def test_max_msg_rate_is_configurable(server: sim.SimServer) -> None:
    async with ib_anyio.connect(server.host, server.port, client_id=2, max_msg_rate=50) as c:
        assert c._pacer.max_rate == 50
        await c.req_current_time()


# -- historical-data pacing ---------------------------------------------------------------


class FakeClock:
    """A monotonic clock only the test moves: the simulator's rules and the pacer share it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        """The pacer's wait: moves the clock instead of waiting."""
        self.now += seconds
        await anyio.lowlevel.checkpoint()


#: Per rule: the requests that break it when sent at once, and the least time
#: (on the fake clock) the pacer must make them take.
RULES = {
    "identical": 15.0,  # the same request twice
    "same_contract": 2.0,  # 7 for one contract, exchange and whatToShow
    "small_bars": 600.0 - 30.0,  # 61 requests for 30-second bars, half a second apart
}


async def _historical(client: ib_anyio.Client, clock: FakeClock, rule: str) -> int:
    """Send the requests that break ``rule`` unless paced; how many were sent."""

    async def one(symbol: str, duration: str) -> None:
        bars = await client.req_historical_data(stock(symbol), "", duration, "30 secs", "TRADES")
        assert bars

    with anyio.fail_after(30):
        if rule == "identical":
            for _ in range(2):
                await one("AAPL", "60 S")
            return 2
        if rule == "same_contract":
            for i in range(7):
                await one("AAPL", f"{60 + i} S")
            return 7
        for i in range(61):
            await one(("AAPL", "MSFT", "IBM")[i % 3], f"{60 + i} S")
            clock.now += 0.5
        return 61


@pytest.mark.parametrize("rule", sorted(RULES))
async def test_historical_requests_wait_for_the_pacing_rules(rule: str) -> None:
    clock = FakeClock()
    async with (
        sim.serve(port=0, tick_interval=0.001, hist_pacing=True, clock=clock) as server,
        ib_anyio.connect(server.host, server.port, client_id=1, timeout=5) as client,
    ):
        client._hist = HistoricalPacer(clock=clock, sleep=clock.sleep)
        start = clock.now
        sent = await _historical(client, clock, rule)  # no TWSError 162
        assert len([m for m in server.received if m.name == "reqHistoricalData"]) == sent
        assert clock.now - start >= RULES[rule]


@pytest.mark.parametrize("rule", sorted(RULES))
async def test_without_historical_pacing_tws_answers_162(rule: str) -> None:
    clock = FakeClock()
    async with (
        sim.serve(port=0, tick_interval=0.001, hist_pacing=True, clock=clock) as server,
        ib_anyio.connect(
            server.host, server.port, client_id=1, timeout=5, historical_pacing=False
        ) as client,
    ):
        with pytest.raises(ib_anyio.TWSError) as info:
            await _historical(client, clock, rule)
        assert info.value.code == 162
        # Refused was the last request, the one breaking ``rule``: 2nd, 7th, 61st.
        last = {"identical": 2, "same_contract": 7, "small_bars": 61}[rule]
        assert len([m for m in server.received if m.name == "reqHistoricalData"]) == last


async def test_a_burst_of_100_historical_requests_stays_within_the_rules() -> None:
    clock = FakeClock()
    async with (
        sim.serve(port=0, tick_interval=0.001, hist_pacing=True, clock=clock) as server,
        ib_anyio.connect(server.host, server.port, client_id=1, timeout=5) as client,
    ):
        client._hist = HistoricalPacer(clock=clock, sleep=clock.sleep)
        start = clock.now
        answered = 0

        async def one(i: int) -> None:
            nonlocal answered
            symbol = ("AAPL", "MSFT", "IBM", "SPY")[i % 4]
            bars = await client.req_historical_data(
                stock(symbol), "", f"{60 + i} S", "30 secs", "TRADES"
            )
            assert bars  # a TWSError 162 would fail the task group
            answered += 1

        # One after the other, as fast as the pacer lets them go: on the fake
        # clock, concurrent waits would move time under each other's feet.
        with anyio.fail_after(30):
            for i in range(100):
                await one(i)
        assert answered == 100
        # 60 of 30-second bars per 10 minutes: the 100 took at least 10 minutes.
        assert clock.now - start >= 600
        assert len([m for m in server.received if m.name == "reqHistoricalData"]) == 100
        assert client._hist.open == 0


async def test_at_most_50_historical_requests_are_open_at_once(server: sim.SimServer) -> None:
    server.ignore("reqHistoricalData")  # none is answered: each stays open
    async with ib_anyio.connect(server.host, server.port, client_id=1, timeout=5) as client:
        hist = client._hist
        assert hist is not None
        hist.max_open = 5  # TWS's 50, scaled down: the rule is the same

        async def one(i: int) -> None:
            await client.req_historical_data(stock(), "", f"{60 + i} S", "1 day", "TRADES")

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                for i in range(6):
                    tg.start_soon(one, i)
                await server.wait_for(lambda m: m.name == "reqHistoricalData", 5)
                await client.req_current_time()  # the 6th would have been read by now
                assert hist.open == 5
                sent = [m for m in server.received if m.name == "reqHistoricalData"]
                assert len(sent) == 5
                tg.cancel_scope.cancel()  # each sends its cancel and frees its place
        await client.req_current_time()
        assert hist.open == 0
        cancels = [m for m in server.received if m.name == "cancelHistoricalData"]
        assert sorted(m.fields["reqId"] for m in cancels) == sorted(m.fields["reqId"] for m in sent)
