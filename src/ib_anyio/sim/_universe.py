"""The simulator's instruments and its deterministic market data.

Facts relied on:

* TWS resolves a request contract by ``conId`` when it is set, otherwise by symbol and
  security type narrowed by whatever else the request gives (currency, exchange, expiry,
  strike, right, multiplier, ...). A contract-details request may match many
  instruments (an option chain); market and historical data need exactly one, and TWS
  answers error 200 otherwise.
* Contract details carry ``marketRuleIds``: one market rule id per valid exchange, in
  the order of ``validExchanges``; ``reqMarketRule`` gives a rule's price increments
  (from each ``lowEdge`` price up, prices move by ``increment``). The rule ids and
  increments here are the simulator's own (:data:`MARKET_RULES`).
* A bond's details travel as ``bondContractDetails``: CUSIP, coupon, maturity (in the
  ``lastTradeDateOrContractMonth`` position), issue date, ratings, bond and coupon type,
  description. TWS finds a bond by conId, by ``secIdType``/``secId`` (CUSIP, ISIN) or by
  its CUSIP given as the symbol.
* Option chains: ``reqSecDefOptParams`` answers one message per exchange the options
  trade on, each with the expirations and the union of the strikes (an expiry may lack
  some of them: far expiries list fewer strikes), then the End.
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
class BondTerms:
    """What ``bondContractDetails`` tells of a bond beyond the common contract fields."""

    cusip: str
    coupon: float
    maturity: str
    issue_date: str
    ratings: str
    bond_type: str
    coupon_type: str
    desc_append: str
    callable: bool = False
    putable: bool = False
    convertible: bool = False
    next_option_date: str = ""
    next_option_type: str = ""
    next_option_partial: bool = False
    notes: str = ""


#: Market rules by id: ``(lowEdge, increment)`` pairs, lowest edge first. The ids are
#: the simulator's; the increments are those of the markets they stand for.
MARKET_RULES: Mapping[int, tuple[tuple[float, float], ...]] = {
    26: ((0.0, 0.01),),  # US stocks and ETFs
    32: ((0.0, 0.01), (3.0, 0.05)),  # US options in the penny program
    67: ((0.0, 0.25),),  # E-mini S&P 500 futures
    109: ((0.0, 0.01),),  # indices
    239: ((0.0, 0.00005),),  # IDEALPRO forex majors
    1192: ((0.0, 0.001),),  # US Treasuries (percent of par)
}


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
    market_rule: int = 26
    sec_ids: tuple[tuple[str, str], ...] = ()
    bond: BondTerms | None = None

    @property
    def market_rule_ids(self) -> str:
        """``marketRuleIds``: the instrument's rule id once per valid exchange."""
        return ",".join([str(self.market_rule)] * len(self.valid_exchanges.split(",")))

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


#: AAPL option expiries (monthly, third Fridays) and their strikes: the December 2026
#: expiry lists every 10 dollars around the money, the 2027 ones a wider range.
AAPL_EXPIRIES: tuple[tuple[str, tuple[float, ...]], ...] = (
    ("20261218", (220.0, 230.0, 240.0)),
    ("20270115", (210.0, 220.0, 230.0, 240.0, 250.0)),
    ("20270219", (210.0, 220.0, 230.0, 240.0, 250.0)),
    ("20270319", (210.0, 220.0, 230.0, 240.0, 250.0)),
)
_OPTION_EXCHANGES = "SMART,AMEX,CBOE,PHLX,PSE,ISE,BOX,BATS,NASDAQOM,MIAX,GEMINI,EDGX"


def _aapl_option(con_id: int, strike: float, right: str, expiry: str = "20261218") -> Instrument:
    # time value grows with the months to expiry (0 for December 2026)
    months = (int(expiry[:4]) - 2026) * 12 + int(expiry[4:6]) - 12
    intrinsic = (230.0 - strike) if right == "C" else (strike - 230.0)
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
        base_price=max(1.0, intrinsic) + 8.0 + 2.0 * months,
        min_tick=0.01,
        valid_exchanges=_OPTION_EXCHANGES,
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
        market_rule=32,
    )


def _aapl_options() -> Iterator[Instrument]:
    """The chain: conIds from 700000000 in expiry, strike, right order (the December
    2026 ones first, as the simulator always had them)."""
    con_ids = itertools.count(700_000_000)
    for expiry, strikes in AAPL_EXPIRIES:
        for strike in strikes:
            for right in ("C", "P"):
                yield _aapl_option(next(con_ids), strike, right, expiry)


def _es_future(con_id: int, local_symbol: str, expiry: str, price: float) -> Instrument:
    return Instrument(
        con_id=con_id,
        symbol="ES",
        sec_type="FUT",
        currency="USD",
        exchange="CME",
        primary_exchange="",
        local_symbol=local_symbol,
        trading_class="ES",
        long_name="E-mini S&P 500",
        base_price=price,
        min_tick=0.25,
        valid_exchanges="CME,QBALGO",
        time_zone="US/Central",
        session=_FUTURE_HOURS,
        multiplier="50",
        expiry=expiry,
        under_con_id=11004968,
        under_symbol="ES",
        under_sec_type="IND",
        market_rule=67,
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
        sec_ids=(("ISIN", "US0378331005"),),
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
        sec_ids=(("ISIN", "US5949181045"),),
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
        sec_ids=(("ISIN", "US4592001014"),),
    ),
    _stock(
        756733,
        "SPY",
        "ARCA",
        "SPDR S&P 500 ETF TRUST",
        590.0,
        stock_type="ETF",
        sec_ids=(("ISIN", "US78462F1030"),),
    ),
    # the quarterly E-mini S&P 500 futures, front month first
    _es_future(637533641, "ESZ6", "20261218", 5950.0),
    _es_future(649180695, "ESH7", "20270319", 5985.0),
    _es_future(661047823, "ESM7", "20270618", 6020.0),
    _es_future(673277364, "ESU7", "20270917", 6055.0),
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
        market_rule=239,
    ),
    *_aapl_options(),
    Instrument(
        con_id=416904,
        symbol="SPX",
        sec_type="IND",
        currency="USD",
        exchange="CBOE",
        primary_exchange="",
        local_symbol="SPX",
        trading_class="SPX",
        long_name="S&P 500 Stock Index",
        base_price=5900.0,
        min_tick=0.01,
        valid_exchanges="CBOE",
        time_zone="US/Central",
        session=(8 * 60 + 30, 15 * 60),
        order_types="",
        market_rule=109,
    ),
    Instrument(
        con_id=687421535,
        symbol="US-T",
        sec_type="BOND",
        currency="USD",
        exchange="SMART",
        primary_exchange="",
        local_symbol="91282CJZ5",
        trading_class="US-T",
        long_name="United States Treasury",
        base_price=96.5,
        min_tick=0.001,
        valid_exchanges="SMART",
        session=(8 * 60, 17 * 60),
        order_types="ACTIVETIM,AD,ALERT,ALLOC,LMT,MKT,STP,STPLMT",
        market_rule=1192,
        sec_ids=(("CUSIP", "91282CJZ5"), ("ISIN", "US91282CJZ59")),
        bond=BondTerms(
            cusip="91282CJZ5",
            coupon=4.0,
            maturity="20340215",
            issue_date="20240215",
            ratings="AA+",
            bond_type="US T-NOTE",
            coupon_type="FIXED",
            desc_append="T 4 02/15/34",
        ),
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
    sec_id = _text(contract, "secId").upper()
    sec_id_type = _text(contract, "secIdType").upper()
    if not symbol and not local_symbol and not sec_id:
        return []
    found = []
    for inst in universe:
        ids = dict(inst.sec_ids)
        if sec_id and ids.get(sec_id_type) != sec_id:
            continue
        # a bond may be named by its CUSIP in the symbol field
        if symbol and inst.symbol != symbol and not (inst.bond and symbol == inst.bond.cusip):
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
