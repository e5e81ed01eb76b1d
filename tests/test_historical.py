"""Historical data end to end, through ``ib_anyio.connect`` and the simulated TWS.

Bars for every ``what_to_show`` and bar size, TWS's errors for invalid requests,
``keep_up_to_date`` streaming, trading schedules, head timestamps, histograms and
historical ticks, at a text version (176), a protobuf one (213) and the highest.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import anyio
import pytest
from ibapi.client import EClient

import ib_anyio
from ib_anyio import items, sim
from ib_anyio.sim._server import max_version
from tests.doc_examples import examples, run_example, same_lines
from tests.helpers import stock

MAX = max_version()
END = "20261124 16:00:00 US/Eastern"  # a Tuesday, at the close


@pytest.fixture(params=sorted({176, 213, MAX}), ids=lambda v: f"v{v}")
async def server(request: pytest.FixtureRequest) -> AsyncIterator[sim.SimServer]:
    async with sim.serve(port=0, server_version=request.param, tick_interval=0.001) as s:
        yield s


@pytest.fixture
async def client(server: sim.SimServer) -> AsyncIterator[ib_anyio.Client]:
    # The simulator does not pace (hist_pacing=False): neither need the requests here.
    async with ib_anyio.connect(
        server.host, server.port, client_id=1, timeout=5, historical_pacing=False
    ) as c:
        yield c


def forex() -> ib_anyio.Contract:
    contract = ib_anyio.Contract()
    contract.symbol, contract.secType = "EUR", "CASH"
    contract.exchange, contract.currency = "IDEALPRO", "USD"
    return contract


def _bars(answer: list[Any]) -> list[Any]:
    """The bars of an awaited answer (it ended with ``historicalDataEnd``)."""
    assert all(isinstance(a, items.HistoricalData) for a in answer)
    return [a.bar for a in answer]


async def _requests(server: sim.SimServer, name: str) -> list[sim.Received]:
    return [m for m in server.received if m.name == name]


# -- bars ------------------------------------------------------------------------------


async def test_trade_and_quote_bars(client: ib_anyio.Client, server: sim.SimServer) -> None:
    got = {}
    for what in ("TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK"):
        got[what] = _bars(await client.req_historical_data(stock(), END, "2 D", "1 hour", what))
    hours = [f"{h:02d}:30:00" for h in range(9, 16)]
    expected_dates = [f"{day} {h} US/Eastern" for day in ("20261123", "20261124") for h in hours]
    for what, bars in got.items():
        assert [b.date for b in bars] == expected_dates, what
        for b in bars:
            assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high, what
            assert 150 < b.close < 350
    for b in got["TRADES"]:
        assert int(b.volume) > 0
        assert b.barCount > 0
        wap = getattr(b, "wap", getattr(b, "average", None))  # ibapi 9.81: average
        assert b.low <= wap <= b.high
    for what in ("MIDPOINT", "BID", "ASK", "BID_ASK"):  # quotes carry no volume, WAP, count
        wap = {int(getattr(b, "wap", getattr(b, "average", 0))) for b in got[what]}
        assert {(int(b.volume), b.barCount) for b in got[what]} == {(-1, -1)}
        assert wap == {-1}
    for bid, mid, ask, both in zip(
        got["BID"], got["MIDPOINT"], got["ASK"], got["BID_ASK"], strict=True
    ):
        assert bid.close < mid.close < ask.close
        assert (both.open, both.low) == (bid.open, bid.low)  # average bid, min bid
        assert (both.high, both.close) == (ask.high, ask.close)  # max ask, average ask
    answer = await client.req_historical_data(stock(), "", "2 D", "1 hour", "ADJUSTED_LAST")
    adjusted = _bars(answer)
    assert len(adjusted) == 14  # up to now: TWS adjusts only the latest data
    assert all(int(b.volume) > 0 for b in adjusted)
    sent = await _requests(server, "reqHistoricalData")
    assert [m.fields["whatToShow"] for m in sent] == [*got, "ADJUSTED_LAST"]
    assert {(m.fields["durationStr"], m.fields["barSizeSetting"]) for m in sent} == {
        ("2 D", "1 hour")
    }


@pytest.mark.parametrize(
    ("what", "low", "high"),
    [
        ("HISTORICAL_VOLATILITY", 0.05, 0.6),
        ("OPTION_IMPLIED_VOLATILITY", 0.05, 0.6),
        ("FEE_RATE", 0.05, 1.0),
        ("REBATE_RATE", 2.0, 6.0),
    ],
)
async def test_level_bars(client: ib_anyio.Client, what: str, low: float, high: float) -> None:
    bars = _bars(await client.req_historical_data(stock("IBM"), END, "1 M", "1 day", what))
    assert len(bars) == 21  # weekdays of 30 days
    assert all(re.fullmatch(r"2026\d{4}", b.date) for b in bars)
    for b in bars:
        assert low < b.low <= b.close <= b.high < high or low < b.low <= b.high < high
        assert (int(b.volume), b.barCount) == (-1, -1)


async def test_every_bar_size(client: ib_anyio.Client) -> None:
    """Each of TWS's bar sizes, over a duration TWS allows for it, epoch dates."""
    cases = {
        "1 secs": ("60 S", 1),
        "5 secs": ("120 S", 5),
        "10 secs": ("600 S", 10),
        "15 secs": ("1800 S", 15),
        "30 secs": ("3600 S", 30),
        "1 min": ("1800 S", 60),
        "2 mins": ("3600 S", 120),
        "3 mins": ("14400 S", 180),
        "5 mins": ("14400 S", 300),
        "10 mins": ("28800 S", 600),
        "15 mins": ("1 D", 900),
        "20 mins": ("1 D", 1200),
        "30 mins": ("2 D", 1800),
        "1 hour": ("2 D", 3600),
        "2 hours": ("1 W", 7200),
        "3 hours": ("1 W", 10800),
        "4 hours": ("1 W", 14400),
        "8 hours": ("1 M", 28800),
    }
    for size, (duration, step) in cases.items():
        answer = await client.req_historical_data(
            forex(), END, duration, size, "MIDPOINT", use_rth=False, format_date=2
        )
        stamps = [int(b.date) for b in _bars(answer)]
        assert len(stamps) > 1, size
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        assert all(gap >= step and gap % step == 0 for gap in gaps), size
        assert stamps[-1] < datetime(2026, 11, 24, 21, tzinfo=timezone.utc).timestamp()
    days = _bars(await client.req_historical_data(stock(), END, "1 W", "1 day", "TRADES"))
    assert [b.date for b in days] == ["20261118", "20261119", "20261120", "20261123", "20261124"]
    weeks = _bars(await client.req_historical_data(stock(), END, "1 M", "1 week", "TRADES"))
    assert [b.date for b in weeks] == ["20261026", "20261102", "20261109", "20261116", "20261123"]
    months = _bars(await client.req_historical_data(stock(), END, "1 Y", "1 month", "TRADES"))
    assert [b.date for b in months][-3:] == ["20260901", "20261001", "20261101"]
    assert len(months) == 13
    for size in ("1W", "1M"):  # the names TWS's error gives
        assert await client.req_historical_data(stock(), END, "1 Y", size, "TRADES"), size


async def test_format_date_and_rth(client: ib_anyio.Client) -> None:
    text = _bars(await client.req_historical_data(stock(), END, "1 D", "1 hour", "TRADES"))
    epoch = _bars(await client.req_historical_data(stock(), END, "1 D", "1 hour", "TRADES", 1, 2))
    assert text[0].date == "20261124 09:30:00 US/Eastern"
    opening = datetime(2026, 11, 24, 14, 30, tzinfo=timezone.utc)
    assert int(epoch[0].date) == int(opening.timestamp())
    assert [(b.open, b.close) for b in text] == [(b.open, b.close) for b in epoch]
    every_hour = _bars(
        await client.req_historical_data(stock(), END, "1 D", "1 hour", "TRADES", use_rth=0)
    )
    assert len(text) == 7
    assert len(every_hour) == 24
    assert every_hour[0].date == "20261123 16:00:00 US/Eastern"


# -- TWS's errors -----------------------------------------------------------------------

_BAR_SIZE = (
    "Error validating request.-'bK' : cause - Historical data bar size setting is invalid. "
    "Legal ones are: 1 secs, 5 secs, 10 secs, 15 secs, 30 secs, 1 min, 2 mins, 3 mins, "
    "5 mins, 10 mins, 15 mins, 20 mins, 30 mins, 1 hour, 2 hours, 3 hours, 4 hours, 8 hours, "
    "1 day, 1W, 1M"
)
_HMDS = "Historical Market Data Service error message:"


@pytest.mark.parametrize(
    ("contract", "args", "kwargs", "code", "message"),
    [
        pytest.param(stock(), ("", "1 D", "1 sec", "TRADES"), {}, 321, _BAR_SIZE, id="bar-size"),
        pytest.param(
            stock(),
            ("", "1 D", "1 hour", "TRADEZ"),
            {},
            321,
            "Error validating request.-'bS' : cause - What to show field is missing or incorrect.",
            id="what-to-show",
        ),
        pytest.param(
            stock(),
            ("", "1 D", "1 hour", "TRADES"),
            {"format_date": 3},
            321,
            "Error validating request.-'bT' : cause - Date formatting selection of 3 rejected",
            id="format-date",
        ),
        pytest.param(
            stock(),
            ("", "1 X", "1 hour", "TRADES"),
            {},
            321,
            "Error validating request.-'bX' : cause - Historical data query duration is invalid",
            id="duration",
        ),
        pytest.param(
            stock(),
            ("", "1 D", "1 secs", "TRADES"),
            {},
            162,
            _HMDS + "Time length exceed max.",
            id="step-1-secs-1-D",
        ),
        pytest.param(
            stock(),
            ("", "1 Y", "1 hour", "TRADES"),
            {},
            162,
            _HMDS + "Time length exceed max.",
            id="step-1-hour-1-Y",
        ),
        pytest.param(
            forex(),
            ("", "1 D", "1 hour", "TRADES"),
            {},
            162,
            _HMDS + "HMDS query returned no data: EUR.USD@IDEALPRO Trades",
            id="forex-trades",
        ),
        pytest.param(
            stock(),
            (END, "1 D", "1 hour", "ADJUSTED_LAST"),
            {},
            162,
            _HMDS + "End date not supported with adjusted last",
            id="adjusted-last-end",
        ),
        pytest.param(
            stock("NOPE"),
            ("", "1 D", "1 hour", "TRADES"),
            {},
            200,
            "No security definition has been found for the request",
            id="unknown-contract",
        ),
    ],
)
async def test_invalid_bars_get_tws_errors(
    client: ib_anyio.Client,
    server: sim.SimServer,
    contract: ib_anyio.Contract,
    args: tuple[str, ...],
    kwargs: dict[str, Any],
    code: int,
    message: str,
) -> None:
    with pytest.raises(ib_anyio.TWSError) as caught:
        await client.req_historical_data(contract, *args, **kwargs)
    assert (caught.value.code, caught.value.message) == (code, message)
    [sent] = await _requests(server, "reqHistoricalData")
    assert caught.value.req_id == sent.fields["reqId"]


async def test_no_market_data_permissions(client: ib_anyio.Client, server: sim.SimServer) -> None:
    server.faults.unsubscribed.add("IBM")
    text = _HMDS + "No market data permissions for NYSE STK"
    with pytest.raises(ib_anyio.TWSError) as bars:
        await client.req_historical_data(stock("IBM"), END, "1 D", "1 hour", "TRADES")
    with pytest.raises(ib_anyio.TWSError) as head:
        await client.req_head_time_stamp(stock("IBM"), "TRADES")
    with pytest.raises(ib_anyio.TWSError) as ticks:
        await client.req_historical_ticks(stock("IBM"), "", END, 10, "MIDPOINT")
    for caught in (bars, head, ticks):
        assert (caught.value.code, caught.value.message) == (162, text)
    sent = [m for m in server.received if m.name.startswith("req") and "reqId" in m.fields]
    assert [e.value.req_id for e in (bars, head, ticks)] == [m.fields["reqId"] for m in sent]
    assert await client.req_historical_data(stock("MSFT"), END, "1 D", "1 hour", "TRADES")


async def test_keep_up_to_date_needs_no_end(client: ib_anyio.Client) -> None:
    with pytest.raises(ib_anyio.TWSError, match=r"End date not supported with live updates$"):
        async with client.req_historical_data(
            stock(), END, "1 D", "5 mins", "TRADES", keep_up_to_date=True
        ) as stream:
            await anext(stream)


# -- keep_up_to_date ----------------------------------------------------------------------


async def test_keep_up_to_date_streams_until_left(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    with anyio.fail_after(5):
        async with client.req_historical_data(
            stock("MSFT"), "", "3600 S", "5 mins", "MIDPOINT", use_rth=0, keep_up_to_date=True
        ) as stream:
            bars: list[Any] = []
            async for item in stream:
                if isinstance(item, items.HistoricalDataEnd):
                    break
                bars.append(item.bar)
            updates = []
            async for item in stream:
                assert isinstance(item, items.HistoricalDataUpdate)
                updates.append(item.bar)
                if len(updates) == 3:
                    break
        [cancel] = await server.wait_for(lambda m: m.name == "cancelHistoricalData")
    assert len(bars) == 12
    assert {u.date for u in updates} == {bars[-1].date}  # the last bar, updated
    assert {int(u.volume) for u in updates} == {-1}
    [sent] = await _requests(server, "reqHistoricalData")
    assert sent.fields["keepUpToDate"] is True
    assert cancel.fields == {"reqId": sent.fields["reqId"]}
    assert len(await _requests(server, "cancelHistoricalData")) == 1


# -- schedules ----------------------------------------------------------------------------


async def test_schedule(client: ib_anyio.Client, server: sim.SimServer) -> None:
    if client.server_version < 165:  # TWS knows SCHEDULE from HISTORICAL_SCHEDULE on
        with pytest.raises(ib_anyio.TWSError, match=r"What to show field is missing"):
            await client.req_historical_data(stock(), END, "1 W", "1 day", "SCHEDULE")
        return
    with anyio.fail_after(5):
        [schedule] = await client.req_historical_data(stock(), END, "1 W", "1 day", "SCHEDULE")
    assert isinstance(schedule, items.HistoricalSchedule)
    assert schedule.time_zone == "US/Eastern"
    days = ["20261118", "20261119", "20261120", "20261123", "20261124"]
    assert [s.refDate for s in schedule.sessions] == days
    assert [(s.startDateTime, s.endDateTime) for s in schedule.sessions] == [
        (f"{d}-09:30:00", f"{d}-16:00:00") for d in days
    ]
    assert (schedule.start_date_time, schedule.end_date_time) == (
        "20261118-09:30:00",
        "20261124-16:00:00",
    )
    [sent] = await _requests(server, "reqHistoricalData")
    assert sent.fields["whatToShow"] == "SCHEDULE"


# -- head timestamp, histogram ----------------------------------------------------------


async def test_head_timestamp(client: ib_anyio.Client, server: sim.SimServer) -> None:
    first = await client.req_head_time_stamp(stock(), "TRADES")
    epoch = await client.req_head_time_stamp(stock(), "TRADES", format_date=2)
    quotes = await client.req_head_time_stamp(stock(), "MIDPOINT", use_rth=0)
    assert re.fullmatch(r"(19[89]\d|200[0-4])\d{4}-1[34]:30:00", first.head_timestamp)
    parsed = datetime.strptime(first.head_timestamp, "%Y%m%d-%H:%M:%S")
    assert int(epoch.head_timestamp) == int(parsed.replace(tzinfo=timezone.utc).timestamp())
    assert quotes.head_timestamp >= "20040123"
    sent = await _requests(server, "reqHeadTimeStamp")
    assert [(m.fields["whatToShow"], m.fields["formatDate"]) for m in sent] == [
        ("TRADES", 1),
        ("TRADES", 2),
        ("MIDPOINT", 1),
    ]
    assert [m.fields["useRTH"] for m in sent] == [True, True, False]
    with pytest.raises(ib_anyio.TWSError) as caught:
        await client.req_head_time_stamp(forex(), "TRADES")
    assert caught.value.code == 162
    assert caught.value.message == _HMDS + "HMDS query returned no data: EUR.USD@IDEALPRO Trades"


async def test_histogram(client: ib_anyio.Client, server: sim.SimServer) -> None:
    answer = await client.req_histogram_data(stock(), True, "1 week")
    assert isinstance(answer, items.HistogramDataItem)
    prices = [p.price for p in answer.items]
    sizes = [getattr(p, "size", getattr(p, "count", None)) for p in answer.items]
    assert len(prices) >= 8
    assert prices == sorted(prices)
    assert 200 < prices[0] < prices[-1] < 260
    assert all(Decimal(s) > 0 and Decimal(s) == int(Decimal(s)) for s in sizes)  # type: ignore[arg-type]
    [sent] = await _requests(server, "reqHistogramData")
    assert (sent.fields["timePeriod"], sent.fields["useRTH"]) == ("1 week", True)
    with pytest.raises(ib_anyio.TWSError) as caught:
        await client.req_histogram_data(stock(), True, "1 fortnight")
    assert caught.value.code == 321


async def test_cancelled_one_shots_send_their_cancels(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    server.ignore("reqHeadTimeStamp", "reqHistogramData")
    head = lambda: client.req_head_time_stamp(stock(), "TRADES")  # noqa: E731
    histogram = lambda: client.req_histogram_data(stock(), True, "3 days")  # noqa: E731
    for name, cancel, call in (
        ("reqHeadTimeStamp", "cancelHeadTimeStamp", head),
        ("reqHistogramData", "cancelHistogramData", histogram),
    ):
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                [sent] = await server.wait_for(lambda m, name=name: m.name == name)
                tg.cancel_scope.cancel()
            [cancelled] = await server.wait_for(lambda m, cancel=cancel: m.name == cancel)
        assert cancelled.fields == {"reqId": sent.fields["reqId"]}
        assert len(await _requests(server, cancel)) == 1


async def test_cancelled_historical_ticks(client: ib_anyio.Client, server: sim.SimServer) -> None:
    """``cancelHistoricalTicks`` exists from ibapi 10.45 and server version 215 (protobuf
    only); before, leaving the request early sends nothing."""
    server.ignore("reqHistoricalTicks")
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: client.req_historical_ticks(stock(), "", END, 10, "TRADES"))
            [sent] = await server.wait_for(lambda m: m.name == "reqHistoricalTicks")
            tg.cancel_scope.cancel()
        await client.req_current_time()  # a barrier: TWS reads requests in order
    cancels = await _requests(server, "cancelHistoricalTicks")
    if hasattr(EClient, "cancelHistoricalTicks") and client.server_version >= 215:
        assert [m.fields for m in cancels] == [{"reqId": sent.fields["reqId"]}]
    else:
        assert cancels == []


# -- historical ticks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("what", "kind"),
    [
        ("TRADES", "HistoricalTicksLast"),
        ("BID_ASK", "HistoricalTicksBidAsk"),
        ("MIDPOINT", "HistoricalTicks"),
    ],
)
async def test_historical_ticks(
    client: ib_anyio.Client, server: sim.SimServer, what: str, kind: str
) -> None:
    close = datetime(2026, 11, 24, 21, tzinfo=timezone.utc).timestamp()
    back = await client.req_historical_ticks(stock(), "", END, 100, what, use_rth=1)
    forward = await client.req_historical_ticks(
        stock(), "20261124 09:30:00 US/Eastern", "", 2000, what, use_rth=1
    )
    for answer in (back, forward):
        [message] = answer  # one message with every tick, done set
        assert type(message).__name__ == kind
        assert message.done is True
    back_ticks, forward_ticks = back[0].ticks, forward[0].ticks
    assert len(back_ticks) == 100
    assert len(forward_ticks) == 1000  # at most 1000 a request
    open_ = datetime(2026, 11, 24, 14, 30, tzinfo=timezone.utc).timestamp()
    assert [t.time for t in back_ticks] == sorted(t.time for t in back_ticks)
    assert open_ <= back_ticks[0].time <= back_ticks[-1].time <= close
    assert open_ <= forward_ticks[0].time <= forward_ticks[-1].time < close
    first = back_ticks[0]
    if what == "TRADES":
        assert 150 < first.price < 350
        assert int(first.size) > 0
        assert first.exchange in {"NASDAQ", "ARCA", "NYSE", "BATS", "IEX", "EDGX", "FINRA"}
    elif what == "BID_ASK":
        assert first.priceBid < first.priceAsk
        assert int(first.sizeBid) > 0
    else:
        assert 150 < first.price < 350
    sent = await _requests(server, "reqHistoricalTicks")
    assert [(m.fields["numberOfTicks"], m.fields["whatToShow"]) for m in sent] == [
        (100, what),
        (2000, what),
    ]
    assert [m.fields["useRth"] for m in sent] == [True, True]


async def test_historical_ticks_errors(client: ib_anyio.Client) -> None:
    with pytest.raises(ib_anyio.TWSError, match=r"Exactly one of start time and end time") as e:
        await client.req_historical_ticks(stock(), END, END, 10, "TRADES")
    assert e.value.code == 321
    with pytest.raises(ib_anyio.TWSError, match=r"TRADES, BID_ASK and MIDPOINT") as e:
        await client.req_historical_ticks(stock(), "", END, 10, "ASK")
    assert e.value.code == 321
    with pytest.raises(ib_anyio.TWSError, match=r"no data: EUR\.USD@IDEALPRO Trades$") as e:
        await client.req_historical_ticks(forex(), "", END, 10, "TRADES")
    assert e.value.code == 162


# -- the docs page ------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize(
    ("code", "expected"),
    [(code, expected) for _, code, expected in examples("historical.md")],
    ids=[f"example{index}" for index, _, _ in examples("historical.md")],
)
def test_historical_doc_examples(backend: str, code: str, expected: list[str]) -> None:
    assert expected  # every example says what it prints
    assert same_lines(run_example("historical.md", code, backend), expected)
