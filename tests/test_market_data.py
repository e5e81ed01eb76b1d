"""Market data end to end: ``req_mkt_data`` with generic ticks, option greeks, news ticks
and snapshots, ``req_market_data_type``, ``req_tick_by_tick_data`` and the option
calculations, against the simulated TWS at a text version (176), a protobuf version in
the middle (213) and the highest one."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import anyio
import pytest

import ib_anyio
from ib_anyio import items, sim
from ib_anyio.sim import _server
from ib_anyio.sim._families import market_data
from ib_anyio.sim._universe import UNIVERSE
from tests.doc_examples import examples, run_example, same_lines
from tests.helpers import stock

WAIT = 5
MAX = _server.max_version()


@pytest.fixture(params=[176, 213, MAX], ids=["text", "protobuf-213", "protobuf-max"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[sim.SimServer]:
    async with sim.serve(port=0, server_version=request.param, tick_interval=0.001) as s:
        yield s


def option(strike: float = 230.0, right: str = "C") -> ib_anyio.Contract:
    contract = ib_anyio.Contract()
    contract.symbol = "AAPL"
    contract.secType = "OPT"
    contract.exchange = "SMART"
    contract.currency = "USD"
    contract.lastTradeDateOrContractMonth = "20261218"
    contract.strike = strike
    contract.right = right
    contract.multiplier = "100"
    return contract


def future() -> ib_anyio.Contract:
    contract = ib_anyio.Contract()
    contract.symbol = "ES"
    contract.secType = "FUT"
    contract.exchange = "CME"
    contract.currency = "USD"
    contract.lastTradeDateOrContractMonth = "202612"
    return contract


async def _until(stream: ib_anyio.ItemStream[object], done: object) -> list[object]:
    """Items of ``stream`` until ``done(items)`` holds."""
    got: list[object] = []
    with anyio.fail_after(WAIT):
        while not done(got):  # type: ignore[operator]
            got.append(await stream.receive())
    return got


def _types(got: list[object], kind: type) -> set[int]:
    return {item.tick_type for item in got if isinstance(item, kind)}  # type: ignore[attr-defined]


def _bids(got: list[object]) -> list[object]:
    return [i for i in got if isinstance(i, items.TickPrice) and i.tick_type == 1]


def _cancels(server: sim.SimServer, name: str) -> list[object]:
    return [m.fields.get("reqId") for m in server.received if m.name == name]


async def _cancelled(server: sim.SimServer, name: str, req_id: int | None) -> None:
    """Exactly one ``name`` was sent, for ``req_id``."""
    with anyio.fail_after(WAIT):
        await server.wait_for(lambda m: m.name == name)
    assert _cancels(server, name) == [req_id]


# -- reqMktData ----------------------------------------------------------------------------

_GENERIC = "100,101,104,106,165,233,236,258,293,294,295,411,456"


async def test_generic_ticks(server: sim.SimServer, client: ib_anyio.Client) -> None:
    async with client.req_mkt_data(stock(), _GENERIC) as ticks:
        got = await _until(ticks, lambda got: 48 in _types(got, items.TickString))
        req_id = ticks.req_id
    params = got[0]
    assert isinstance(params, items.TickReqParams)  # TWS sends it first
    assert (params.min_tick, params.bbo_exchange, params.snapshot_permissions) == (
        0.01,
        "9c0001",
        3,
    )
    assert _types(got, items.TickGeneric) == {23, 24, 46, 54, 55, 56, 58}
    assert {27, 28, 29, 30, 21, 89} <= _types(got, items.TickSize)
    assert {15, 16, 17, 18, 19, 20, 1, 2, 4} <= _types(got, items.TickPrice)
    assert {45, 47, 48, 59} <= _types(got, items.TickString)
    shortable = next(i for i in got if isinstance(i, items.TickGeneric) and i.tick_type == 46)
    assert shortable.value == 3.0
    rt_volume = next(i for i in got if isinstance(i, items.TickString) and i.tick_type == 48)
    price, size, _, volume, _, single = rt_volume.value.split(";")
    assert float(price) > 0
    assert int(size) > 0
    assert int(volume) > 0
    assert single == "false"
    await _cancelled(server, "cancelMktData", req_id)
    (sent,) = [m for m in server.received if m.name == "reqMktData"]
    assert sent.fields["genericTickList"] == _GENERIC


async def test_option_greeks(server: sim.SimServer, client: ib_anyio.Client) -> None:
    async with client.req_mkt_data(option(230.0, "C")) as ticks:
        got = await _until(ticks, lambda got: len(_types(got, items.TickOptionComputation)) == 4)
    computations = {i.tick_type: i for i in got if isinstance(i, items.TickOptionComputation)}
    assert set(computations) == {10, 11, 12, 13}
    aapl = server.market.mark(next(i for i in UNIVERSE if i.symbol == "AAPL"))
    model = computations[13]
    assert model.tick_attrib == 0  # the model: return-based
    assert 0.2 < model.implied_vol < 0.4
    assert 0.3 < model.delta < 0.9
    assert model.gamma > 0
    assert model.vega > 0
    assert model.theta < 0
    assert model.opt_price > 0
    assert model.pv_dividend == 0.0
    assert model.und_price == pytest.approx(aapl)
    for bid_ask_last in (computations[10], computations[11], computations[12]):
        assert bid_ask_last.tick_attrib == 1  # price-based
        assert bid_ask_last.und_price == pytest.approx(aapl)
    assert ib_anyio.tick_name(13) == "MODEL_OPTION"


async def test_put_delta_is_negative(client: ib_anyio.Client) -> None:
    async with client.req_mkt_data(option(240.0, "P")) as ticks:
        got = await _until(ticks, lambda got: 13 in _types(got, items.TickOptionComputation))
    (model,) = [i for i in got if isinstance(i, items.TickOptionComputation) and i.tick_type == 13]
    assert -1 < model.delta < 0


async def test_news_ticks_without_market_data(
    server: sim.SimServer, client: ib_anyio.Client
) -> None:
    async with client.req_mkt_data(stock(), "mdoff,292") as ticks:
        got = await _until(ticks, lambda got: sum(isinstance(i, items.TickNews) for i in got) == 3)
        req_id = ticks.req_id
    assert isinstance(got[0], items.TickReqParams)
    news = list(got[1:])
    assert all(isinstance(i, items.TickNews) for i in news)  # mdoff: no price ticks
    providers = [n.provider_code for n in news]  # type: ignore[attr-defined]
    assert providers == ["BRFG", "BRFUPDN", "DJ-N"]
    for n in news:
        assert isinstance(n, items.TickNews)
        assert n.headline.startswith("AAPL: ")
        assert n.article_id.startswith(f"{n.provider_code}$")
        assert n.time_stamp > 1_600_000_000_000  # milliseconds
        assert n.extra_data
    await _cancelled(server, "cancelMktData", req_id)


async def test_snapshot_ends_with_tick_snapshot_end(
    server: sim.SimServer, client: ib_anyio.Client
) -> None:
    with anyio.fail_after(WAIT):
        got = await client.req_mkt_data(stock("MSFT"), snapshot=True)
    assert isinstance(got[0], items.TickReqParams)
    assert {1, 2, 4} <= _types(got, items.TickPrice)
    assert {0, 3, 5, 8} <= _types(got, items.TickSize)
    assert 45 in _types(got, items.TickString)
    assert not [m for m in server.received if m.name == "cancelMktData"]


async def test_future_has_efp_ticks(client: ib_anyio.Client) -> None:
    async with client.req_mkt_data(future(), "588") as ticks:
        got = await _until(ticks, lambda got: len(_types(got, items.TickEFP)) == 2)
    efp = {i.tick_type: i for i in got if isinstance(i, items.TickEFP)}
    assert set(efp) == {38, 39}
    bid = efp[38]
    assert bid.hold_days > 0
    assert bid.future_last_trade_date == "20261218"
    assert bid.formatted_basis_points == f"{bid.basis_points:.2f}"
    assert 86 in _types(got, items.TickSize)  # futures open interest


_INVALID = r"^TWS error 321 for request \d+: Error validating request\.-'bW' : cause - "


async def test_unknown_generic_tick(server: sim.SimServer, client: ib_anyio.Client) -> None:
    message = (
        _INVALID + r"Incorrect generic tick list of 999\.  Legal ones for \(STK\) are: "
        r"100\(Option Volume\),.*$"
    )
    async with client.req_mkt_data(stock(), "100,999") as ticks:
        with anyio.fail_after(WAIT), pytest.raises(ib_anyio.TWSError, match=message):
            await ticks.receive()
    assert not [m for m in server.received if m.name == "cancelMktData"]  # TWS ended it


async def test_snapshot_with_generic_ticks(server: sim.SimServer, client: ib_anyio.Client) -> None:
    message = _INVALID + r"Snapshot market data subscription is not applicable to generic ticks$"
    with anyio.fail_after(WAIT), pytest.raises(ib_anyio.TWSError, match=message):
        await client.req_mkt_data(stock(), "233", snapshot=True)
    assert not [m for m in server.received if m.name == "cancelMktData"]


async def test_unknown_contract(server: sim.SimServer, client: ib_anyio.Client) -> None:
    message = (
        r"^TWS error 200 for request \d+: No security definition has been found for the request$"
    )
    async with client.req_mkt_data(stock("NOPE")) as ticks:
        with anyio.fail_after(WAIT), pytest.raises(ib_anyio.TWSError, match=message):
            await ticks.receive()
    assert not [m for m in server.received if m.name == "cancelMktData"]


# -- reqMarketDataType ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data_type", "prices", "options"),
    [
        (1, {1, 2, 4}, {10, 11, 12, 13}),
        (2, {1, 2, 4}, {10, 11, 12, 13}),
        (3, {66, 67, 68}, {80, 81, 82, 83}),
        (4, {66, 67, 68}, {80, 81, 82, 83}),
    ],
    ids=["live", "frozen", "delayed", "delayed-frozen"],
)
async def test_market_data_type(
    server: sim.SimServer,
    client: ib_anyio.Client,
    data_type: int,
    prices: set[int],
    options: set[int],
) -> None:
    client.req_market_data_type(data_type)
    async with client.req_mkt_data(option()) as ticks:
        got = await _until(ticks, lambda got: _types(got, items.TickOptionComputation) >= options)
    assert isinstance(got[0], items.TickReqParams)
    assert got[1] == items.MarketDataType(data_type)
    assert _types(got, items.TickPrice) == prices
    assert _types(got, items.TickOptionComputation) == options
    (sent,) = [m for m in server.received if m.name == "reqMarketDataType"]
    assert sent.fields["marketDataType"] == data_type
    if data_type >= 3:
        assert ib_anyio.tick_name(min(prices)) == "DELAYED_BID"


# -- tick-by-tick ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tick_type", "history", "live"),
    [
        ("Last", items.HistoricalTicksLast, items.TickByTickAllLast),
        ("AllLast", items.HistoricalTicksLast, items.TickByTickAllLast),
        ("BidAsk", items.HistoricalTicksBidAsk, items.TickByTickBidAsk),
        ("MidPoint", items.HistoricalTicks, items.TickByTickMidPoint),
    ],
)
async def test_tick_by_tick(
    server: sim.SimServer, client: ib_anyio.Client, tick_type: str, history: type, live: type
) -> None:
    async with client.req_tick_by_tick_data(stock(), tick_type, number_of_ticks=5) as ticks:
        got = await _until(ticks, lambda got: len(got) == 4)
        req_id = ticks.req_id
    first, *rest = got
    assert isinstance(first, history)
    assert first.done
    assert len(first.ticks) == 5
    times = [t.time for t in first.ticks]  # type: ignore[attr-defined]
    assert times == sorted(times)
    assert all(isinstance(item, live) for item in rest)
    tick = rest[0]
    if isinstance(tick, items.TickByTickAllLast):
        assert tick.tick_type == (1 if tick_type == "Last" else 2)
        assert tick.price > 0
        assert tick.size > 0
        assert tick.exchange == "NASDAQ"
    elif isinstance(tick, items.TickByTickBidAsk):
        assert 0 < tick.bid_price < tick.ask_price
        assert tick.bid_size > 0
    else:
        assert isinstance(tick, items.TickByTickMidPoint)
        assert tick.mid_point > 0
    await _cancelled(server, "cancelTickByTickData", req_id)
    (sent,) = [m for m in server.received if m.name == "reqTickByTickData"]
    assert (sent.fields["tickType"], sent.fields["numberOfTicks"]) == (tick_type, 5)


async def test_tick_by_tick_without_history(client: ib_anyio.Client) -> None:
    async with client.req_tick_by_tick_data(stock("IBM"), "BidAsk") as ticks:
        got = await _until(ticks, lambda got: len(got) == 2)
    assert all(isinstance(i, items.TickByTickBidAsk) for i in got)


async def _steps(client: ib_anyio.Client) -> None:
    """Let the simulator's market step a few times (another line's rounds show it)."""
    async with client.req_mkt_data(stock("MSFT")) as clock:
        await _until(clock, lambda got: len(_bids(got)) == 5)


@pytest.mark.parametrize("ignore_size", [False, True])
async def test_tick_by_tick_ignore_size(
    server: sim.SimServer, client: ib_anyio.Client, ignore_size: bool
) -> None:
    await server.set_quote("IBM", bid=209.5, ask=209.6, bid_size=10, ask_size=10)  # pinned
    async with client.req_tick_by_tick_data(stock("IBM"), "BidAsk", ignore_size=ignore_size) as t:
        got = await _until(t, lambda got: len(got) == 1)
        await _steps(client)  # an unchanged quote does not tick
        await server.set_quote("IBM", bid_size=20)  # the size only
        await _steps(client)
        await server.set_quote("IBM", bid=209.4)
        got += await _until(t, lambda got: len(got) == 1)
    quotes = [(i.bid_price, i.bid_size) for i in got if isinstance(i, items.TickByTickBidAsk)]
    second = (209.4, 20) if ignore_size else (209.5, 20)
    assert quotes == [(209.5, 10), second]


async def test_tick_by_tick_unknown_type(server: sim.SimServer, client: ib_anyio.Client) -> None:
    message = (
        r"^TWS error 10189 for request \d+: Failed to request tick-by-tick data:"
        r"Trades ticks are not supported for AAPL$"
    )
    async with client.req_tick_by_tick_data(stock(), "Trades") as ticks:
        with anyio.fail_after(WAIT), pytest.raises(ib_anyio.TWSError, match=message):
            await ticks.receive()
    assert not [m for m in server.received if m.name == "cancelTickByTickData"]


# -- option calculations ---------------------------------------------------------------------


def _model_price(strike: float, right: str, under: float, vol: float) -> float:
    inst = next(
        i for i in UNIVERSE if i.sec_type == "OPT" and (i.strike, i.right) == (strike, right)
    )
    years = market_data.years_to_expiry(inst)
    return market_data.black_scholes(right, under, strike, years, vol)[0]


async def test_calculate_implied_volatility(server: sim.SimServer, client: ib_anyio.Client) -> None:
    price = round(_model_price(230.0, "C", 232.0, 0.3), 4)
    with anyio.fail_after(WAIT):
        result = await client.calculate_implied_volatility(option(), price, 232.0)
    assert result.tick_type == market_data.CUST_OPTION_COMPUTATION == 53
    assert ib_anyio.tick_name(result.tick_type) == "CUST_OPTION_COMPUTATION"
    assert result.implied_vol == pytest.approx(0.3, abs=1e-3)
    assert result.opt_price == pytest.approx(price)
    assert result.und_price == 232.0
    assert 0.5 < result.delta < 0.7
    (sent,) = [m for m in server.received if m.name == "calculateImpliedVolatility"]
    assert (sent.fields["optionPrice"], sent.fields["underPrice"]) == (price, 232.0)
    await _cancelled(server, "cancelCalculateImpliedVolatility", sent.fields["reqId"])


async def test_calculate_option_price(server: sim.SimServer, client: ib_anyio.Client) -> None:
    with anyio.fail_after(WAIT):
        result = await client.calculate_option_price(option(220.0, "P"), 0.25, 225.0)
    assert result.tick_type == 53
    assert result.implied_vol == 0.25
    assert result.opt_price == pytest.approx(_model_price(220.0, "P", 225.0, 0.25), abs=1e-5)
    assert -0.5 < result.delta < 0
    assert result.gamma > 0
    assert result.vega > 0
    assert result.und_price == 225.0
    (sent,) = [m for m in server.received if m.name == "calculateOptionPrice"]
    assert (sent.fields["volatility"], sent.fields["underPrice"]) == (0.25, 225.0)
    await _cancelled(server, "cancelCalculateOptionPrice", sent.fields["reqId"])


async def test_implied_volatility_of_an_impossible_price(client: ib_anyio.Client) -> None:
    # Below the intrinsic value: no volatility gives it; TWS says "not computed".
    with anyio.fail_after(WAIT):
        result = await client.calculate_implied_volatility(option(220.0, "C"), 1.0, 240.0)
    assert result.implied_vol is None
    assert result.delta is None
    assert result.gamma is None
    assert result.opt_price == 1.0
    assert result.und_price == 240.0


async def test_calculation_on_a_stock_is_an_error(
    server: sim.SimServer, client: ib_anyio.Client
) -> None:
    message = (
        r"^TWS error 321 for request \d+: Error validating request\.-'bW' : cause - "
        r"Invalid contract: option calculations need an option$"
    )
    with anyio.fail_after(WAIT), pytest.raises(ib_anyio.TWSError, match=message):
        await client.calculate_option_price(stock(), 0.25, 225.0)
    assert not [m for m in server.received if m.name == "cancelCalculateOptionPrice"]


# -- tick names ------------------------------------------------------------------------------


def test_tick_name() -> None:
    assert ib_anyio.tick_name(1) == "BID"
    assert ib_anyio.tick_name(66) == "DELAYED_BID"
    assert ib_anyio.tick_name(250) == "UNKNOWN_250"
    assert ib_anyio.tick_name(-3) == "UNKNOWN_-3"


async def test_unknown_tick_type_is_named_unknown(
    server: sim.SimServer, client: ib_anyio.Client
) -> None:
    server.ignore("reqMktData")  # only the injected tick comes
    async with client.req_mkt_data(stock()) as ticks:
        (request,) = await server.wait_for(lambda m: m.name == "reqMktData")
        await server.faults.send_tick(request.fields["reqId"], kind="generic", tick_type=250)
        with anyio.fail_after(WAIT):
            item = await ticks.receive()
    assert isinstance(item, items.TickGeneric)
    assert (item.tick_type, ib_anyio.tick_name(item.tick_type)) == (250, "UNKNOWN_250")


# -- Black-Scholes and docs-------------------------------------------------------------------------


def test_black_scholes_put_call_parity() -> None:
    call = market_data.black_scholes("C", 230.0, 220.0, 0.5, 0.3)[0]
    put = market_data.black_scholes("P", 230.0, 220.0, 0.5, 0.3)[0]
    assert call - put == pytest.approx(230.0 - 220.0 * math.exp(-market_data.RATE * 0.5))
    assert market_data.implied_vol("C", 230.0, 220.0, 0.5, call) == pytest.approx(0.3, abs=1e-5)
    assert market_data.implied_vol("C", 230.0, 220.0, 0.5, 1.0) == -1.0  # below intrinsic


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize(
    ("code", "expected"),
    [(code, expected) for _, code, expected in examples("market_data.md")],
    ids=[f"example{index}" for index, _, _ in examples("market_data.md")],
)
def test_market_data_doc_examples(backend: str, code: str, expected: list[str]) -> None:
    assert expected  # every example says what it prints
    assert same_lines(run_example("market_data.md", code, backend), expected)
