"""Market data: ``reqMktData`` with generic ticks, ``reqMarketDataType``,
``reqTickByTickData`` and the option calculations, as TWS answers them.

What TWS does and the simulator copies:

* ``reqMktData`` (streaming): first ``tickReqParams`` (minimum tick, BBO exchange,
  snapshot permissions; from server version 114), then ``marketDataType`` when the
  client asked for a type (``reqMarketDataType``), then a round of ticks at once and one
  per ``tick_interval``: tickPrice bid/ask/last with sizes (ibapi also calls tickSize for
  them), tickSize volume, tickString last timestamp. Options add ``tickOptionComputation``
  for bid, ask, last (the implied volatility of each price) and the model (10-13;
  delayed 80-83), from Black-Scholes on the underlying's mark. A future gets its EFP
  ticks (``tickEFP``, 38 and 39) once. Delayed types (3, 4) use the delayed tick types
  (66-68, 69-71, 74, 88).
* Generic ticks (``genericTickList``, comma-separated ids): 100 option volume (29, 30),
  101 option open interest (27, 28), 104 historical volatility (23), 106 implied
  volatility (24), 165 misc statistics (15-20, 21), 233 RTVolume (48, every round), 236
  shortable (46, 89), 258 fundamental ratios (47), 293/294/295 trade count, rate and
  volume rate (54-56), 411 real-time historical volatility (58), 456 dividends (59), 588
  futures open interest (86), ``mdoff`` (no price ticks) and 292 news (``tickNews`` from
  BRFG, BRFUPDN and DJ-N: one at once, then one every few rounds). Anything else, or
  generic ticks with ``snapshot``, gets TWS's error 321.
* ``snapshot=True``: one round (``tickReqParams`` first), then ``tickSnapshotEnd``.
* ``reqTickByTickData`` ("Last", "AllLast", "BidAsk", "MidPoint"): with
  ``numberOfTicks`` > 0 first that many historical ticks (at most 1000) in one
  ``historicalTicksLast``/``historicalTicksBidAsk``/``historicalTicks`` with ``done``
  set, then a tick-by-tick message whenever a market step changes what the type shows
  (with ``ignoreSize``, BidAsk ticks only when the bid or ask price moved). An unknown
  tick type gets error 10189.
* ``calculateImpliedVolatility`` / ``calculateOptionPrice``: one ``tickOptionComputation``
  of tick type 53 (``CUST_OPTION_COMPUTATION``) from Black-Scholes (rate 4%, no
  dividends). The client cancels the calculation once answered; the simulator has
  nothing left running by then. A contract that is not an option gets error 321.

The texts of error 321 for the generic tick list are TWS's (its list of legal ticks
shortened to those the simulator serves); those of 10189 for a tick-by-tick type and of
321 for a calculation on a stock are the simulator's wording, TWS's exact texts for
these cases not being known to us.

Message layouts (mirroring ``decoder.py``): tickOptionComputation has a version field
below 156 (``PRICE_BASED_VOLATILITY``) and the ``tickAttrib`` field from 156; tickGeneric
and tickEFP a version field; tickReqParams, tickNews, tickByTick and the historical tick
lists none. Protobuf thresholds, from ibapi 10.51.1's ``msgId2handleInfoProtoBuf`` and the
request groups of ``common.getServerVersionForMessage`` (ibapi 10.37.2 negotiates at most
203, 10.45.1 and later list every one of these): tickOptionComputation, tickGeneric and
tickReqParams 206 (market data), tickByTick and historical ticks 208 (historical data),
tickNews 209 (news). tickEFP has no protobuf form in any release: always text.
"""

from __future__ import annotations

import enum
import math
import random
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import anyio

from ib_anyio.sim._decode import Fields, _Text, _text_args, _text_contract, int_field
from ib_anyio.sim._decode import _proto_contract as proto_contract
from ib_anyio.sim._encode import pb, pb_message
from ib_anyio.sim._encode_order import num
from ib_anyio.sim._families import Family
from ib_anyio.sim._protocol import Version, proto_message, text_message
from ib_anyio.sim._rules import MAX_TICKERS_CODE, MAX_TICKERS_TEXT
from ib_anyio.sim._universe import UNIVERSE, Instrument, Quote

from .market_depth import BBO_EXCHANGE

if TYPE_CHECKING:
    from ib_anyio.sim._encode import Encoder
    from ib_anyio.sim._server import _Connection


class In(enum.IntEnum):
    """The server-to-client message ids of this family (``ibapi.message.IN``)."""

    TICK_OPTION_COMPUTATION = 21
    TICK_GENERIC = 45
    TICK_EFP = 47
    TICK_REQ_PARAMS = 81
    TICK_NEWS = 84
    HISTORICAL_TICKS = 96
    HISTORICAL_TICKS_BID_ASK = 97
    HISTORICAL_TICKS_LAST = 98
    TICK_BY_TICK = 99


class Out(enum.IntEnum):
    """The client-to-server request ids of this family (``ibapi.message.OUT``)."""

    REQ_MKT_DATA = 1
    CANCEL_MKT_DATA = 2
    REQ_CALC_IMPLIED_VOLAT = 54
    REQ_CALC_OPTION_PRICE = 55
    CANCEL_CALC_IMPLIED_VOLAT = 56
    CANCEL_CALC_OPTION_PRICE = 57
    REQ_MARKET_DATA_TYPE = 59
    REQ_TICK_BY_TICK_DATA = 97
    CANCEL_TICK_BY_TICK_DATA = 98


PROTO_SINCE: dict[In, int] = {
    In.TICK_OPTION_COMPUTATION: Version.PROTOBUF_MARKET_DATA,
    In.TICK_GENERIC: Version.PROTOBUF_MARKET_DATA,
    In.TICK_REQ_PARAMS: Version.PROTOBUF_MARKET_DATA,
    In.TICK_BY_TICK: Version.PROTOBUF_HISTORICAL_DATA,
    In.HISTORICAL_TICKS: Version.PROTOBUF_HISTORICAL_DATA,
    In.HISTORICAL_TICKS_BID_ASK: Version.PROTOBUF_HISTORICAL_DATA,
    In.HISTORICAL_TICKS_LAST: Version.PROTOBUF_HISTORICAL_DATA,
    In.TICK_NEWS: Version.PROTOBUF_NEWS_DATA,
}
"""Server version from which each message travels as protobuf (tickEFP never does)."""

#: From this version tickOptionComputation carries ``tickAttrib`` and no version field.
PRICE_BASED_VOLATILITY = 156

# tick types: (bid, ask, last, bid size, ask size, last size, volume, last timestamp)
LIVE_TICKS = (1, 2, 4, 0, 3, 5, 8, 45)
DELAYED_TICKS = (66, 67, 68, 69, 70, 71, 74, 88)
# tickOptionComputation: bid, ask, last, model (and delayed)
_LIVE_OPTION = (10, 11, 12, 13)
_DELAYED_OPTION = (80, 81, 82, 83)
#: ``TickTypeEnum.CUST_OPTION_COMPUTATION``: what the option calculations answer with.
CUST_OPTION_COMPUTATION = 53
_RT_VOLUME = 48

RATE = 0.04
NEWS_PROVIDERS = ("BRFG", "BRFUPDN", "DJ-N")
_NEWS_EVERY = 5  # rounds between news ticks
_NEWS_TOPICS = ("earnings beat", "guidance raised", "analyst upgrade", "new product", "buyback")
#: TWS's code for a request it rejects when validating it (bad generic ticks ...).
VALIDATION_CODE = 321
#: TWS's code for a tick-by-tick request it cannot serve.
TICK_BY_TICK_CODE = 10189
_TICK_BY_TICK_TYPES = {"Last": 1, "AllLast": 2, "BidAsk": 3, "MidPoint": 4}
_MAX_HISTORICAL_TICKS = 1000
#: The generic tick ids the simulator serves, with TWS's names for them.
GENERIC_TICKS = {
    100: "Option Volume",
    101: "Option Open Interest",
    104: "Historical Volatility",
    106: "impvolat",
    165: "Misc. Stats",
    233: "RTVolume",
    236: "inventory",
    258: "Fundamentals",
    292: "Wide_news",
    293: "TradeCount",
    294: "TradeRate",
    295: "VolumeRate",
    411: "rthistvol",
    456: "IBDividends",
    588: "Futures Open Interest",
}


# -- Black-Scholes -----------------------------------------------------------------------


def _norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def years_to_expiry(inst: Instrument, now: float | None = None) -> float:
    """Years from ``now`` to the option's expiry (16:00 New York taken as 21:00 UTC)."""
    expiry = datetime.strptime(inst.expiry, "%Y%m%d").replace(hour=21, tzinfo=timezone.utc)
    seconds = expiry.timestamp() - (time.time() if now is None else now)
    return max(seconds, 3600.0) / (365.0 * 86400.0)


def black_scholes(
    right: str, under: float, strike: float, years: float, vol: float
) -> tuple[float, float, float, float, float]:
    """Price, delta, gamma, vega (per 1% of volatility) and theta (per day) of a European
    option without dividends."""
    sqrt_t = math.sqrt(years)
    d1 = (math.log(under / strike) + (RATE + vol * vol / 2) * years) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    discount = math.exp(-RATE * years)
    gamma = _norm_pdf(d1) / (under * vol * sqrt_t)
    vega = under * _norm_pdf(d1) * sqrt_t / 100
    decay = -under * _norm_pdf(d1) * vol / (2 * sqrt_t)
    if right == "C":
        price = under * _norm_cdf(d1) - strike * discount * _norm_cdf(d2)
        delta = _norm_cdf(d1)
        theta = decay - RATE * strike * discount * _norm_cdf(d2)
    else:
        price = strike * discount * _norm_cdf(-d2) - under * _norm_cdf(-d1)
        delta = _norm_cdf(d1) - 1
        theta = decay + RATE * strike * discount * _norm_cdf(-d2)
    return price, delta, gamma, vega, theta / 365


def implied_vol(right: str, under: float, strike: float, years: float, price: float) -> float:
    """The volatility at which Black-Scholes gives ``price``, or -1 (TWS's "not
    computed") when no volatility between 0.1% and 500% does."""
    low, high = 0.001, 5.0
    if not black_scholes(right, under, strike, years, low)[0] <= price:
        return -1.0
    if not price <= black_scholes(right, under, strike, years, high)[0]:
        return -1.0
    for _ in range(60):
        mid = (low + high) / 2
        if black_scholes(right, under, strike, years, mid)[0] < price:
            low = mid
        else:
            high = mid
    return round((low + high) / 2, 6)


# -- encoders ------------------------------------------------------------------------------


def _proto(enc: Encoder, msg: In) -> bool:
    return enc.version >= PROTO_SINCE[msg]


def tick_option_computation(
    enc: Encoder,
    req_id: int,
    tick_type: int,
    values: tuple[float, float, float, float, float, float, float, float],
    tick_attrib: int = 1,
) -> bytes:
    """tickOptionComputation: implied volatility, delta, option price, PV dividend, gamma,
    vega, theta, underlying price (-1/-2: not computed, as TWS writes it)."""
    iv, delta, price, pv_div, gamma, vega, theta, und = values
    if _proto(enc, In.TICK_OPTION_COMPUTATION):
        return pb_message(
            In.TICK_OPTION_COMPUTATION,
            "TickOptionComputation",
            reqId=req_id,
            tickType=tick_type,
            tickAttrib=tick_attrib,
            impliedVol=iv,
            delta=delta,
            optPrice=price,
            pvDividend=pv_div,
            gamma=gamma,
            vega=vega,
            theta=theta,
            undPrice=und,
        )
    head: list[object] = (
        [req_id, tick_type, tick_attrib]
        if enc.version >= PRICE_BASED_VOLATILITY
        else [6, req_id, tick_type]
    )
    return text_message(In.TICK_OPTION_COMPUTATION, [*head, *(num(v) for v in values)], enc.version)


def tick_generic(enc: Encoder, req_id: int, tick_type: int, value: float) -> bytes:
    """tickGeneric."""
    if _proto(enc, In.TICK_GENERIC):
        return pb_message(
            In.TICK_GENERIC, "TickGeneric", reqId=req_id, tickType=tick_type, value=value
        )
    return text_message(In.TICK_GENERIC, (6, req_id, tick_type, num(value)), enc.version)


def tick_efp(
    enc: Encoder,
    req_id: int,
    tick_type: int,
    basis_points: float,
    implied_future: float,
    hold_days: int,
    future_last_trade_date: str,
) -> bytes:
    """tickEFP (text at every version: no ibapi release decodes it as protobuf)."""
    fields: tuple[object, ...] = (6, req_id, tick_type, num(basis_points), f"{basis_points:.2f}")
    fields += (num(implied_future), hold_days, future_last_trade_date, 0, 0)
    return text_message(In.TICK_EFP, fields, enc.version)


def tick_req_params(
    enc: Encoder, req_id: int, min_tick: float, bbo_exchange: str, permissions: int
) -> bytes:
    """tickReqParams: the minimum tick, BBO exchange and snapshot permissions."""
    if _proto(enc, In.TICK_REQ_PARAMS):
        return pb_message(
            In.TICK_REQ_PARAMS,
            "TickReqParams",
            reqId=req_id,
            minTick=num(min_tick),
            bboExchange=bbo_exchange,
            snapshotPermissions=permissions,
        )
    return text_message(
        In.TICK_REQ_PARAMS, (req_id, num(min_tick), bbo_exchange, permissions), enc.version
    )


def tick_news(
    enc: Encoder, req_id: int, stamp_ms: int, provider: str, article: str, headline: str
) -> bytes:
    """tickNews (extraData in TWS's ``K:...`` form)."""
    extra = "K:n/a"
    if _proto(enc, In.TICK_NEWS):
        return pb_message(
            In.TICK_NEWS,
            "TickNews",
            reqId=req_id,
            timestamp=stamp_ms,
            providerCode=provider,
            articleId=article,
            headline=headline,
            extraData=extra,
        )
    return text_message(
        In.TICK_NEWS, (req_id, stamp_ms, provider, article, headline, extra), enc.version
    )


def _last_pb(stamp: int, price: float, size: int, exchange: str) -> object:
    return pb("HistoricalTickLast")(
        time=stamp,
        tickAttribLast=pb("TickAttribLast")(pastLimit=False, unreported=False),
        price=price,
        size=str(size),
        exchange=exchange,
        specialConditions="",
    )


def _bid_ask_pb(stamp: int, q: Quote) -> object:
    return pb("HistoricalTickBidAsk")(
        time=stamp,
        tickAttribBidAsk=pb("TickAttribBidAsk")(bidPastLow=False, askPastHigh=False),
        priceBid=q.bid,
        priceAsk=q.ask,
        sizeBid=str(q.bid_size),
        sizeAsk=str(q.ask_size),
    )


def _mid(q: Quote) -> float:
    return round((q.bid + q.ask) / 2, 10)


def tick_by_tick(
    enc: Encoder, req_id: int, kind: int, stamp: int, q: Quote, exchange: str
) -> bytes:
    """One tickByTick message of ``kind`` (1 Last, 2 AllLast, 3 BidAsk, 4 MidPoint)."""
    if _proto(enc, In.TICK_BY_TICK):
        extra: dict[str, object] = {}
        if kind in (1, 2):
            extra["historicalTickLast"] = _last_pb(stamp, q.last, q.last_size, exchange)
        elif kind == 3:
            extra["historicalTickBidAsk"] = _bid_ask_pb(stamp, q)
        else:
            extra["historicalTickMidPoint"] = pb("HistoricalTick")(
                time=stamp, price=_mid(q), size="0"
            )
        message = pb("TickByTickData")(reqId=req_id, tickType=kind, **extra)
        return proto_message(In.TICK_BY_TICK, message.SerializeToString())
    fields: list[object] = [req_id, kind, stamp]
    if kind in (1, 2):
        fields += [num(q.last), q.last_size, 0, exchange, ""]
    elif kind == 3:
        fields += [num(q.bid), num(q.ask), q.bid_size, q.ask_size, 0]
    else:
        fields += [num(_mid(q))]
    return text_message(In.TICK_BY_TICK, fields, enc.version)


def historical_ticks(
    enc: Encoder, req_id: int, kind: int, ticks: list[tuple[int, Quote]], exchange: str
) -> bytes:
    """The historical ticks a tick-by-tick request with ``numberOfTicks`` starts with:
    historicalTicksLast (Last, AllLast), historicalTicksBidAsk or historicalTicks
    (MidPoint), all in one message with ``done`` set."""
    if kind in (1, 2):
        msg, name, field = In.HISTORICAL_TICKS_LAST, "HistoricalTicksLast", "historicalTicksLast"
    elif kind == 3:
        msg, name, field = (
            In.HISTORICAL_TICKS_BID_ASK,
            "HistoricalTicksBidAsk",
            "historicalTicksBidAsk",
        )
    else:
        msg, name, field = In.HISTORICAL_TICKS, "HistoricalTicks", "historicalTicks"
    if _proto(enc, msg):
        if kind in (1, 2):
            items = [_last_pb(t, q.last, q.last_size, exchange) for t, q in ticks]
        elif kind == 3:
            items = [_bid_ask_pb(t, q) for t, q in ticks]
        else:
            items = [pb("HistoricalTick")(time=t, price=_mid(q), size="0") for t, q in ticks]
        message = pb(name)(reqId=req_id, isDone=True, **{field: items})
        return proto_message(msg, message.SerializeToString())
    fields: list[object] = [req_id, len(ticks)]
    for t, q in ticks:
        if kind in (1, 2):
            fields += [t, 0, num(q.last), q.last_size, exchange, ""]
        elif kind == 3:
            fields += [t, 0, num(q.bid), num(q.ask), q.bid_size, q.ask_size]
        else:
            fields += [t, "", num(_mid(q)), 0]
    fields.append(True)
    return text_message(msg, fields, enc.version)


# -- what the market says -----------------------------------------------------------------


def _underlying(inst: Instrument) -> Instrument | None:
    return next((i for i in UNIVERSE if i.con_id == inst.under_con_id), None)


def option_values(
    inst: Instrument, under: float, *, price: float | None = None, vol: float | None = None
) -> tuple[float, float, float, float, float, float, float, float]:
    """tickOptionComputation values for ``inst`` with the underlying at ``under``: from
    an option ``price`` (its implied volatility) or a volatility ``vol``."""
    years = years_to_expiry(inst)
    if vol is None:
        assert price is not None
        vol = implied_vol(inst.right, under, inst.strike, years, price)
        if vol <= 0:
            return (-1.0, -2.0, price, 0.0, -2.0, -2.0, -2.0, under)
    value, delta, gamma, vega, theta = black_scholes(inst.right, under, inst.strike, years, vol)
    shown = value if price is None else price
    return (
        vol,
        round(delta, 6),
        round(shown, 6),
        0.0,
        round(gamma, 6),
        round(vega, 6),
        round(theta, 6),
        under,
    )


def _smile(inst: Instrument, under: float) -> float:
    """The volatility the model prices an option at: a smile around the money."""
    moneyness = math.log(inst.strike / under)
    return round(0.25 + 0.8 * moneyness * moneyness, 4)


class _Lines:
    """What one market-data line sends besides the quote: parsed generic ticks."""

    def __init__(self, generic: set[int], mdoff: bool) -> None:
        self.generic = generic
        self.mdoff = mdoff
        self.rounds = 0


def parse_generic(text: str) -> tuple[set[int], bool, list[str]]:
    """The generic tick ids of ``genericTickList``, ``mdoff``, and what is not valid."""
    ids: set[int] = set()
    bad: list[str] = []
    mdoff = False
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part.lower() == "mdoff":
            mdoff = True
        elif part.isdigit() and int(part) in GENERIC_TICKS:
            ids.add(int(part))
        else:
            bad.append(part)
    return ids, mdoff, bad


def _legal() -> str:
    return ",".join(f"{k}({v})" for k, v in GENERIC_TICKS.items())


def _validation_error(cause: str) -> str:
    return f"Error validating request.-'bW' : cause - {cause}"


def tick_round(conn: _Connection, req_id: int, inst: Instrument, q: Quote) -> bytes:
    """One round of ticks for a quote: bid, ask (and last, volume, time) with sizes, and
    an option's computations."""
    enc = conn.encoder
    delayed = conn.market_data_type in (3, 4)
    bid, ask, last, _, _, _, volume, stamp = DELAYED_TICKS if delayed else LIVE_TICKS
    data = enc.tick_price(req_id, bid, q.bid, q.bid_size) + enc.tick_price(
        req_id, ask, q.ask, q.ask_size
    )
    if inst.sec_type != "CASH":  # forex quotes have no trades
        data += enc.tick_price(req_id, last, q.last, q.last_size)
        data += enc.tick_size(req_id, volume, q.volume)
        data += enc.tick_string(req_id, stamp, str(int(time.time())))
    if inst.sec_type == "OPT":
        data += _option_ticks(conn, req_id, inst, q, delayed)
    return data


def _option_ticks(
    conn: _Connection, req_id: int, inst: Instrument, q: Quote, delayed: bool
) -> bytes:
    under_inst = _underlying(inst)
    if under_inst is None:
        return b""
    under = conn.server.market.mark(under_inst)
    types = _DELAYED_OPTION if delayed else _LIVE_OPTION
    enc = conn.encoder
    data = b""
    for tick_type, price in zip(types[:3], (q.bid, q.ask, q.last), strict=True):
        data += tick_option_computation(
            enc, req_id, tick_type, option_values(inst, under, price=price)
        )
    model = option_values(inst, under, vol=_smile(inst, under))
    return data + tick_option_computation(enc, req_id, types[3], model, tick_attrib=0)


def _generic_once(
    conn: _Connection, req_id: int, inst: Instrument, q: Quote, ids: set[int]
) -> bytes:
    """The generic ticks TWS sends once (statistics that change slowly)."""
    enc = conn.encoder
    rng = random.Random(f"{conn.server.seed}:generic:{inst.con_id}")
    data = b""
    vol = round(0.18 + rng.random() * 0.2, 6)
    if 100 in ids:
        data += enc.tick_size(req_id, 29, rng.randint(1_000, 90_000))
        data += enc.tick_size(req_id, 30, rng.randint(1_000, 90_000))
    if 101 in ids:
        data += enc.tick_size(req_id, 27, rng.randint(10_000, 900_000))
        data += enc.tick_size(req_id, 28, rng.randint(10_000, 900_000))
    if 104 in ids:
        data += tick_generic(enc, req_id, 23, vol)
    if 106 in ids:
        data += tick_generic(enc, req_id, 24, round(vol * 1.1, 6))
    if 165 in ids:
        base = inst.base_price
        for tick_type, factor in (
            (15, 0.85),
            (16, 1.12),
            (17, 0.78),
            (18, 1.2),
            (19, 0.7),
            (20, 1.3),
        ):
            data += enc.tick_price(req_id, tick_type, round(base * factor, 2), 0)
        data += enc.tick_size(req_id, 21, rng.randint(1_000_000, 9_000_000))
    if 236 in ids:
        data += tick_generic(enc, req_id, 46, 3.0)  # > 2.5: shares available to short
        data += enc.tick_size(req_id, 89, rng.randint(1_000_000, 50_000_000))
    if 258 in ids:
        ratios = f"PEEXCLXOR={rng.uniform(10, 40):.3f};MKTCAP={rng.uniform(1e5, 3e6):.1f};"
        data += enc.tick_string(req_id, 47, ratios)
    for generic, tick_type, value in ((293, 54, 1234.0), (294, 55, 8.5), (295, 56, 2100.0)):
        if generic in ids:
            data += tick_generic(enc, req_id, tick_type, value)
    if 411 in ids:
        data += tick_generic(enc, req_id, 58, round(vol * 0.95, 6))
    if 456 in ids:
        data += enc.tick_string(req_id, 59, "0.96,1.00,20270212,0.25")
    if 588 in ids and inst.sec_type == "FUT":
        data += enc.tick_size(req_id, 86, rng.randint(1_000_000, 2_500_000))
    if inst.sec_type == "FUT":
        data += _efp(conn, req_id, inst, q)
    return data


def _efp(conn: _Connection, req_id: int, inst: Instrument, q: Quote) -> bytes:
    """EFP computations of a future (bid 38, ask 39): basis to the implied future."""
    days = max(1, int(years_to_expiry(inst) * 365))
    expiry = inst.expiry
    data = b""
    for tick_type, price in ((38, q.bid), (39, q.ask)):
        basis = round((price - inst.base_price) / inst.base_price * 10_000, 2)
        data += tick_efp(conn.encoder, req_id, tick_type, basis, price, days, expiry)
    return data


def news_tick(conn: _Connection, req_id: int, inst: Instrument, n: int) -> bytes:
    """The ``n``-th news tick of a line: providers in turn, deterministic headlines."""
    rng = random.Random(f"{conn.server.seed}:news:{inst.con_id}:{n}")
    provider = NEWS_PROVIDERS[n % len(NEWS_PROVIDERS)]
    topic = rng.choice(
        ("earnings beat", "guidance raised", "analyst upgrade", "new product", "buyback")
    )
    headline = f"{inst.symbol}: {inst.long_name.title()} {topic}"
    article = f"{provider}${rng.randrange(16**8):08x}"
    return tick_news(conn.encoder, req_id, int(time.time() * 1000), provider, article, headline)


# -- handlers ------------------------------------------------------------------------------


async def req_market_data_type(conn: _Connection, fields: Fields) -> None:
    conn.market_data_type = int_field(fields, "marketDataType")


async def cancel_mkt_data(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    conn.ticks.pop(req_id, None)
    conn._cancel("ticks", req_id)


async def req_mkt_data(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    inst = conn._one(req_id, fields.get("contract"))
    if isinstance(inst, bytes):
        await conn.send(inst)
        return
    snapshot = bool(fields.get("snapshot") or fields.get("regulatorySnapshot"))
    ids, mdoff, bad = parse_generic(str(fields.get("genericTickList") or ""))
    if bad:
        cause = (
            f"Incorrect generic tick list of {','.join(bad)}.  "
            f"Legal ones for ({inst.sec_type}) are: {_legal()}"
        )
        await conn.send(conn._error(req_id, VALIDATION_CODE, _validation_error(cause)))
        return
    if snapshot and (ids or mdoff):
        cause = "Snapshot market data subscription is not applicable to generic ticks"
        await conn.send(conn._error(req_id, VALIDATION_CODE, _validation_error(cause)))
        return
    limit = conn.server.rules.max_tickers
    if not snapshot and limit is not None and req_id not in conn.ticks and len(conn.ticks) >= limit:
        await conn.send(conn._error(req_id, MAX_TICKERS_CODE, MAX_TICKERS_TEXT))
        return
    enc = conn.encoder
    head = b""
    if conn.version >= Version.REQ_SMART_COMPONENTS:
        bbo = BBO_EXCHANGE if inst.sec_type == "STK" else ""
        head += tick_req_params(enc, req_id, inst.min_tick, bbo, 3)
    if conn.market_data_type:
        head += enc.market_data_type(req_id, conn.market_data_type)
    market = conn.server.market
    if snapshot:
        round_ = tick_round(conn, req_id, inst, market.quote(inst))
        await conn.send(head + round_ + enc.tick_snapshot_end(req_id))
        return
    if head:
        await conn.send(head)
    if not mdoff:
        conn.ticks[req_id] = inst
    lines = _Lines(ids, mdoff)
    conn._start("ticks", req_id, lambda: _stream_ticks(conn, req_id, inst, lines))


def _rt_volume(q: Quote) -> str:
    """RTVolume: last price;last size;time (ms);volume;VWAP;single-market-maker flag."""
    stamp = int(time.time() * 1000)
    return f"{num(q.last)};{q.last_size};{stamp};{q.volume};{num(q.last)};false"


async def _stream_ticks(conn: _Connection, req_id: int, inst: Instrument, lines: _Lines) -> None:
    """The market's current quote first (with the once-only generic ticks), then a step
    of its walk every interval; resting orders are matched after each move."""
    if conn.server.burst > 0 and not lines.mdoff:
        await conn._burst(req_id, inst)
    quote = conn.server.market.quote(inst)
    data = b"" if lines.mdoff else _generic_once(conn, req_id, inst, quote, lines.generic)
    while True:
        if not lines.mdoff:
            data += tick_round(conn, req_id, inst, quote)
            if 233 in lines.generic:
                data += conn.encoder.tick_string(req_id, _RT_VOLUME, _rt_volume(quote))
        if 292 in lines.generic and lines.rounds % _NEWS_EVERY == 0:
            data += news_tick(conn, req_id, inst, lines.rounds // _NEWS_EVERY)
        lines.rounds += 1
        if data:
            await conn.send_market_data(data)
        data = b""
        await anyio.sleep(conn.server.tick_interval)
        await conn.market_data_open()
        quote = await conn.desk.step(inst)


async def req_tick_by_tick_data(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    inst = conn._one(req_id, fields.get("contract"))
    if isinstance(inst, bytes):
        await conn.send(inst)
        return
    name = str(fields.get("tickType", ""))
    kind = _TICK_BY_TICK_TYPES.get(name)
    if kind is None or (kind in (1, 2) and inst.sec_type == "CASH"):
        text = (
            f"Failed to request tick-by-tick data:{name} ticks are not supported "
            f"for {inst.local_symbol}"
        )
        await conn.send(conn._error(req_id, TICK_BY_TICK_CODE, text))
        return
    count = min(int_field(fields, "numberOfTicks"), _MAX_HISTORICAL_TICKS)
    exchange = inst.primary_exchange or inst.exchange
    if count > 0:
        rng = random.Random(f"{conn.server.seed}:tbt:{inst.con_id}")
        now = int(time.time())
        quote = conn.server.market.quote(inst)
        ticks = []
        for i in range(count):
            drift = inst.min_tick * rng.randint(-3, 3)
            past = Quote(
                round(quote.bid + drift, 10),
                round(quote.ask + drift, 10),
                round(quote.last + drift, 10),
                quote.bid_size,
                quote.ask_size,
                rng.randint(1, 20),
                quote.volume,
            )
            ticks.append((now - (count - i), past))
        await conn.send(historical_ticks(conn.encoder, req_id, kind, ticks, exchange))
    ignore_size = bool(fields.get("ignoreSize")) and kind == 3
    conn._start(
        "tbt", req_id, lambda: _stream_tick_by_tick(conn, req_id, inst, kind, exchange, ignore_size)
    )


def _tick_key(kind: int, q: Quote, ignore_size: bool) -> tuple[float, ...]:
    """What must change for a tick-by-tick stream of ``kind`` to tick again."""
    if kind in (1, 2):
        return (q.last, q.last_size, q.volume)  # a trade
    if kind == 3:
        return (q.bid, q.ask) if ignore_size else (q.bid, q.ask, q.bid_size, q.ask_size)
    return (_mid(q),)


async def _stream_tick_by_tick(
    conn: _Connection, req_id: int, inst: Instrument, kind: int, exchange: str, ignore_size: bool
) -> None:
    """The current tick, then one whenever the market step changes what ``kind`` shows
    (a trade, the bid/ask, the midpoint); with ``ignore_size``, BidAsk only when a price
    moved. A pinned quote (``set_quote``) ticks once."""
    quote = conn.server.market.quote(inst)
    sent: tuple[float, ...] | None = None
    while True:
        key = _tick_key(kind, quote, ignore_size)
        if key != sent:
            message = tick_by_tick(conn.encoder, req_id, kind, int(time.time()), quote, exchange)
            await conn.send_market_data(message)
            sent = key
        await anyio.sleep(conn.server.tick_interval)
        await conn.market_data_open()
        quote = await conn.desk.step(inst)


async def cancel_tick_by_tick_data(conn: _Connection, fields: Fields) -> None:
    conn._cancel("tbt", int_field(fields, "reqId"))


def _float(fields: Fields, key: str) -> float:
    value = fields.get(key)
    return float(value) if isinstance(value, int | float) else 0.0


async def _calculate(conn: _Connection, fields: Fields, *, implied: bool) -> None:
    req_id = int_field(fields, "reqId")
    inst = conn._one(req_id, fields.get("contract"))
    if isinstance(inst, bytes):
        await conn.send(inst)
        return
    under = _float(fields, "underPrice")
    given = _float(fields, "optionPrice" if implied else "volatility")
    if inst.sec_type != "OPT" or under <= 0 or given <= 0:
        what = "option price" if implied else "volatility"
        cause = (
            "Invalid contract: option calculations need an option"
            if inst.sec_type != "OPT"
            else f"Invalid {what} or underlying price"
        )
        await conn.send(conn._error(req_id, VALIDATION_CODE, _validation_error(cause)))
        return
    values = option_values(inst, under, **({"price": given} if implied else {"vol": given}))
    data = tick_option_computation(conn.encoder, req_id, CUST_OPTION_COMPUTATION, values)
    await conn.send(data)


async def calculate_implied_volatility(conn: _Connection, fields: Fields) -> None:
    await _calculate(conn, fields, implied=True)


async def calculate_option_price(conn: _Connection, fields: Fields) -> None:
    await _calculate(conn, fields, implied=False)


async def _cancel_nothing(conn: _Connection, fields: Fields) -> None:
    """The calculation answered already; TWS keeps nothing running for it."""


# -- request decoders ----------------------------------------------------------------------


def _text_tick_by_tick(f: _Text, v: int) -> Fields:
    req_id = f.integer()
    contract = _text_contract(f)
    fields: Fields = {"reqId": req_id, "contract": contract, "tickType": f.text()}
    fields["numberOfTicks"] = f.integer()
    fields["ignoreSize"] = f.flag()
    return fields


def _text_calc(value: str) -> Callable[[_Text, int], Fields]:
    def decode(f: _Text, v: int) -> Fields:
        f.skip()  # version
        req_id = f.integer()
        contract = _text_contract(f)
        fields: Fields = {"reqId": req_id, "contract": contract}
        fields[value] = f.number()
        fields["underPrice"] = f.number()
        return fields

    return decode


_INT = ("reqId", _Text.integer)

FAMILY = Family(
    name="market data",
    text={
        Out.REQ_TICK_BY_TICK_DATA: _text_tick_by_tick,
        Out.CANCEL_TICK_BY_TICK_DATA: _text_args(_INT, version_field=False),
        Out.REQ_CALC_IMPLIED_VOLAT: _text_calc("optionPrice"),
        Out.REQ_CALC_OPTION_PRICE: _text_calc("volatility"),
        Out.CANCEL_CALC_IMPLIED_VOLAT: _text_args(_INT),
        Out.CANCEL_CALC_OPTION_PRICE: _text_args(_INT),
    },
    proto={
        Out.REQ_TICK_BY_TICK_DATA: (
            "TickByTickRequest",
            lambda p: {
                "reqId": p.reqId,
                "contract": proto_contract(p.contract),
                "tickType": p.tickType,
                "numberOfTicks": p.numberOfTicks,
                "ignoreSize": p.ignoreSize,
            },
        ),
        Out.CANCEL_TICK_BY_TICK_DATA: ("CancelTickByTick", lambda p: {"reqId": p.reqId}),
        Out.REQ_CALC_IMPLIED_VOLAT: (
            "CalculateImpliedVolatilityRequest",
            lambda p: {
                "reqId": p.reqId,
                "contract": proto_contract(p.contract),
                "optionPrice": p.optionPrice,
                "underPrice": p.underPrice,
            },
        ),
        Out.REQ_CALC_OPTION_PRICE: (
            "CalculateOptionPriceRequest",
            lambda p: {
                "reqId": p.reqId,
                "contract": proto_contract(p.contract),
                "volatility": p.volatility,
                "underPrice": p.underPrice,
            },
        ),
        Out.CANCEL_CALC_IMPLIED_VOLAT: (
            "CancelCalculateImpliedVolatility",
            lambda p: {"reqId": p.reqId},
        ),
        Out.CANCEL_CALC_OPTION_PRICE: ("CancelCalculateOptionPrice", lambda p: {"reqId": p.reqId}),
    },
    handlers={
        Out.REQ_MKT_DATA: req_mkt_data,
        Out.CANCEL_MKT_DATA: cancel_mkt_data,
        Out.REQ_MARKET_DATA_TYPE: req_market_data_type,
        Out.REQ_TICK_BY_TICK_DATA: req_tick_by_tick_data,
        Out.CANCEL_TICK_BY_TICK_DATA: cancel_tick_by_tick_data,
        Out.REQ_CALC_IMPLIED_VOLAT: calculate_implied_volatility,
        Out.REQ_CALC_OPTION_PRICE: calculate_option_price,
        Out.CANCEL_CALC_IMPLIED_VOLAT: _cancel_nothing,
        Out.CANCEL_CALC_OPTION_PRICE: _cancel_nothing,
    },
)
