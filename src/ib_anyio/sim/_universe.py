"""The simulator's instruments and its deterministic market data.

Facts relied on:

* TWS resolves a request contract by ``conId`` when it is set, otherwise by symbol and
  security type narrowed by whatever else the request gives (currency, exchange, expiry,
  strike, right, multiplier, ...). A contract-details request may match many
  instruments (an option chain); market and historical data need exactly one, and TWS
  answers error 200 otherwise.
* Historical bar dates: daily and longer bars are ``yyyymmdd``; intraday bars with
  ``formatDate=1`` are ``yyyymmdd hh:mm:ss <time zone>`` in the instrument's zone, with
  ``formatDate=2`` epoch seconds.
* Bar sizes look like ``"5 mins"``, ``"1 hour"``, ``"1 day"``; durations like ``"1 D"``,
  ``"3600 S"``, ``"2 W"``, ``"1 M"``, ``"1 Y"``.

Everything random comes from ``random.Random`` seeded with a string built from the server
seed and what is being generated, so the same seed always gives the same numbers.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone, tzinfo
from typing import Any

import attrs

try:
    from zoneinfo import ZoneInfo
except ImportError:  # pragma: no cover - zoneinfo is stdlib from 3.9
    ZoneInfo = None  # type: ignore[assignment,misc]

ContractFields = Mapping[str, object]

_STOCK_HOURS = (9 * 60 + 30, 16 * 60)
_FUTURE_HOURS = (8 * 60 + 30, 15 * 60 + 15)
_ALL_DAY = (0, 24 * 60)


@attrs.frozen
class Instrument:
    """One tradable contract of the built-in universe, with what contract details report."""

    con_id: int
    symbol: str
    sec_type: str
    currency: str
    exchange: str
    primary_exchange: str
    local_symbol: str
    trading_class: str
    long_name: str
    base_price: float
    min_tick: float
    valid_exchanges: str
    time_zone: str = "US/Eastern"
    session: tuple[int, int] = _STOCK_HOURS
    multiplier: str = ""
    expiry: str = ""
    strike: float = 0.0
    right: str = ""
    industry: str = ""
    category: str = ""
    subcategory: str = ""
    stock_type: str = ""
    under_con_id: int = 0
    under_symbol: str = ""
    under_sec_type: str = ""
    order_types: str = "ACTIVETIM,AD,ALERT,ALLOC,LMT,MKT,MOC,MTL,STP,STPLMT,TRAIL"

    @property
    def market_name(self) -> str:
        return self.trading_class or self.symbol

    @property
    def contract_month(self) -> str:
        return self.expiry[:6]

    @property
    def size_increment(self) -> str:
        return "1000" if self.sec_type == "CASH" else "1"

    def hours(self, day: str) -> str:
        """TWS ``tradingHours``/``liquidHours`` text for one trading day ``yyyymmdd``."""
        start, end = self.session
        if (start, end) == _ALL_DAY:
            return f"{day}:0000-{day}:2359"
        return f"{day}:{start // 60:02d}{start % 60:02d}-{day}:{end // 60:02d}{end % 60:02d}"


def _stock(
    con_id: int, symbol: str, primary: str, name: str, price: float, **kw: Any
) -> Instrument:
    return Instrument(
        con_id=con_id,
        symbol=symbol,
        sec_type="STK",
        currency="USD",
        exchange="SMART",
        primary_exchange=primary,
        local_symbol=symbol,
        trading_class="NMS" if primary == "NASDAQ" else symbol,
        long_name=name,
        base_price=price,
        min_tick=0.01,
        valid_exchanges=f"SMART,AMEX,NYSE,CBOE,ARCA,ISLAND,BATS,IEX,{primary}",
        **kw,
    )


def _aapl_option(con_id: int, strike: float, right: str) -> Instrument:
    expiry = "20261218"
    return Instrument(
        con_id=con_id,
        symbol="AAPL",
        sec_type="OPT",
        currency="USD",
        exchange="SMART",
        primary_exchange="",
        local_symbol=f"AAPL  {expiry[2:]}{right}{int(strike * 1000):08d}",
        trading_class="AAPL",
        long_name="APPLE INC",
        base_price=max(1.0, (230.0 - strike) if right == "C" else (strike - 230.0)) + 8.0,
        min_tick=0.01,
        valid_exchanges="SMART,AMEX,CBOE,PHLX,PSE,ISE,BOX,BATS,NASDAQOM,MIAX,GEMINI,EDGX",
        multiplier="100",
        expiry=expiry,
        strike=strike,
        right=right,
        industry="Technology",
        category="Computers",
        subcategory="Computers",
        under_con_id=265598,
        under_symbol="AAPL",
        under_sec_type="STK",
    )


UNIVERSE: tuple[Instrument, ...] = (
    _stock(
        265598,
        "AAPL",
        "NASDAQ",
        "APPLE INC",
        230.0,
        industry="Technology",
        category="Computers",
        subcategory="Computers",
        stock_type="COMMON",
    ),
    _stock(
        272093,
        "MSFT",
        "NASDAQ",
        "MICROSOFT CORP",
        420.0,
        industry="Technology",
        category="Software",
        subcategory="Software",
        stock_type="COMMON",
    ),
    _stock(
        8314,
        "IBM",
        "NYSE",
        "INTL BUSINESS MACHINES CORP",
        210.0,
        industry="Technology",
        category="Computers",
        subcategory="Computer Services",
        stock_type="COMMON",
    ),
    _stock(756733, "SPY", "ARCA", "SPDR S&P 500 ETF TRUST", 590.0, stock_type="ETF"),
    Instrument(
        con_id=637533641,
        symbol="ES",
        sec_type="FUT",
        currency="USD",
        exchange="CME",
        primary_exchange="",
        local_symbol="ESZ6",
        trading_class="ES",
        long_name="E-mini S&P 500",
        base_price=5950.0,
        min_tick=0.25,
        valid_exchanges="CME,QBALGO",
        time_zone="US/Central",
        session=_FUTURE_HOURS,
        multiplier="50",
        expiry="20261218",
        under_con_id=11004968,
        under_symbol="ES",
        under_sec_type="IND",
    ),
    Instrument(
        con_id=12087792,
        symbol="EUR",
        sec_type="CASH",
        currency="USD",
        exchange="IDEALPRO",
        primary_exchange="",
        local_symbol="EUR.USD",
        trading_class="EUR.USD",
        long_name="European Monetary Union Euro",
        base_price=1.08,
        min_tick=0.00005,
        valid_exchanges="IDEALPRO",
        session=_ALL_DAY,
        order_types="ACTIVETIM,AD,ALERT,ALLOC,LMT,MKT,STP,STPLMT,TRAIL",
    ),
    *(
        _aapl_option(700_000_000 + i, strike, right)
        for i, (strike, right) in enumerate(
            (s, r) for s in (220.0, 230.0, 240.0) for r in ("C", "P")
        )
    ),
)


def _text(fields: ContractFields, key: str) -> str:
    value = fields.get(key)
    return value.strip() if isinstance(value, str) else ""


def _number(fields: ContractFields, key: str) -> float:
    """A numeric field; ibapi's "unset" (``UNSET_DOUBLE``, ``UNSET_INTEGER``) counts as 0."""
    value = fields.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 2**31 - 1:
        return float(value)
    return 0.0


def match(
    contract: ContractFields, universe: tuple[Instrument, ...] = UNIVERSE
) -> list[Instrument]:
    """Instruments a request contract (a decoded ``contract`` dict) designates."""
    con_id = int(_number(contract, "conId"))
    if con_id > 0:
        return [i for i in universe if i.con_id == con_id]
    symbol = _text(contract, "symbol").upper()
    sec_type = _text(contract, "secType").upper()
    currency = _text(contract, "currency").upper()
    exchange = _text(contract, "exchange").upper()
    primary = _text(contract, "primaryExchange").upper()
    expiry = _text(contract, "lastTradeDateOrContractMonth")
    right = {"CALL": "C", "PUT": "P"}.get(r := _text(contract, "right").upper(), r)
    strike = _number(contract, "strike")
    multiplier = _text(contract, "multiplier")
    local_symbol = _text(contract, "localSymbol")
    trading_class = _text(contract, "tradingClass")
    if not symbol and not local_symbol:
        return []
    found = []
    for inst in universe:
        if symbol and inst.symbol != symbol:
            continue
        if local_symbol and inst.local_symbol != local_symbol:
            continue
        if sec_type and inst.sec_type != sec_type:
            continue
        if currency and inst.currency != currency:
            continue
        if exchange and exchange not in inst.valid_exchanges.split(","):
            continue
        if primary and inst.primary_exchange and primary != inst.primary_exchange:
            continue
        if expiry and not inst.expiry.startswith(expiry):
            continue
        if right and inst.right != right:
            continue
        if strike > 0 and not math.isclose(strike, inst.strike):
            continue
        if multiplier and inst.multiplier and float(multiplier) != float(inst.multiplier):
            continue
        if trading_class and trading_class != inst.trading_class:
            continue
        found.append(inst)
    return found


def round_to_tick(price: float, tick: float) -> float:
    """``price`` on the instrument's price grid, without float noise."""
    decimals = max(0, -math.floor(math.log10(tick)) + 1)
    return round(round(price / tick) * tick, decimals)


# -- historical bars -------------------------------------------------------------------


@attrs.frozen
class Bar:
    """One OHLC bar; ``date`` is already formatted the way TWS sends it."""

    date: str
    open: float
    high: float
    low: float
    close: float
    volume: int
    wap: float
    bar_count: int


def _zone(name: str) -> tzinfo:
    if ZoneInfo is not None:
        try:
            return ZoneInfo(name)
        except Exception:  # no tz database on this machine
            pass
    return timezone.utc


def _in_session(inst: Instrument, local: datetime) -> bool:
    if local.weekday() >= 5:
        return False
    start, end = inst.session
    minute = local.hour * 60 + local.minute
    return start <= minute < end


# -- streaming quotes ------------------------------------------------------------------


@attrs.frozen
class Quote:
    """One round of top-of-book market data."""

    bid: float
    ask: float
    last: float
    bid_size: int
    ask_size: int
    last_size: int
    volume: int


def quotes(inst: Instrument, seed: int) -> Iterator[Quote]:
    """Endless deterministic quotes around the instrument's base price."""
    rng = random.Random(f"{seed}:ticks:{inst.con_id}")
    tick = inst.min_tick
    mid = inst.base_price
    volume = rng.randint(10_000, 100_000)
    lot = 100_000 if inst.sec_type == "CASH" else 1
    while True:
        mid = mid * (1 + rng.gauss(0, 0.0003))
        spread = tick * rng.randint(1, 3)
        bid = round_to_tick(mid - spread / 2, tick)
        ask = round_to_tick(max(bid + tick, mid + spread / 2), tick)
        last = rng.choice((bid, ask))
        last_size = rng.randint(1, 20) * lot
        volume += last_size
        yield Quote(
            bid, ask, last, rng.randint(1, 50) * lot, rng.randint(1, 50) * lot, last_size, volume
        )


def real_time_bar(start: int, seen: Sequence[Quote], what: str) -> Bar:
    """The 5-second bar starting at ``start`` (epoch seconds, kept in ``date``) over the
    quotes ``seen`` in it, oldest first, for ``whatToShow`` ``what``.

    TRADES bars follow the last price, with the volume traded (the growth of the day's
    volume), its average price and the number of trades (quotes whose volume grew after
    the first); MIDPOINT, BID and ASK bars follow that price and carry -1 for volume,
    WAP and count, as TWS sends them.
    """
    if what == "TRADES":
        prices = [q.last for q in seen]
    elif what == "BID":
        prices = [q.bid for q in seen]
    elif what == "ASK":
        prices = [q.ask for q in seen]
    else:
        prices = [(q.bid + q.ask) / 2 for q in seen]
    bar = Bar(str(start), prices[0], max(prices), min(prices), prices[-1], -1, -1.0, -1)
    if what != "TRADES":
        return bar
    trades = [(b.last, b.volume - a.volume) for a, b in itertools.pairwise(seen)]
    trades = [(price, size) for price, size in trades if size > 0]
    volume = sum(size for _, size in trades)
    wap = sum(p * s for p, s in trades) / volume if volume else prices[-1]
    return attrs.evolve(bar, volume=volume, wap=round(wap, 6), bar_count=len(trades))
