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
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone, tzinfo
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


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def bar_seconds(bar_size: str) -> int:
    """Seconds in a TWS bar size such as ``"5 mins"`` or ``"1 day"`` (default 1 hour)."""
    count, _, unit = bar_size.strip().lower().partition(" ")
    try:
        n = int(count)
    except ValueError:
        return 3600
    if unit.startswith("mon"):
        return n * 30 * 86400
    if unit.startswith("min"):
        return n * 60
    return n * _UNIT_SECONDS.get(unit[:1], 3600)


def duration_seconds(duration: str) -> int:
    """Seconds in a TWS duration such as ``"1 D"`` or ``"3600 S"`` (default 1 day)."""
    count, _, unit = duration.strip().upper().partition(" ")
    try:
        n = int(count)
    except ValueError:
        return 86400
    factor = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 30 * 86400, "Y": 365 * 86400}
    return n * factor.get(unit[:1], 86400)


def _zone(name: str) -> tzinfo:
    if ZoneInfo is not None:
        try:
            return ZoneInfo(name)
        except Exception:  # no tz database on this machine
            pass
    return timezone.utc


def parse_end(end_date_time: str, inst: Instrument, now: float | None = None) -> datetime:
    """Bar series end: TWS ``endDateTime`` (``yyyymmdd hh:mm:ss [zone]``, ``yyyymmdd-hh:mm:ss``
    in UTC) or, when empty or unreadable, the current time."""
    text = end_date_time.strip()
    zone = _zone(inst.time_zone)
    if "-" in text[:9]:
        text, zone = text.replace("-", " ", 1), timezone.utc
    parts = text.split(" ")
    if len(parts) >= 2:
        if len(parts) >= 3:
            zone = _zone(parts[2])
        try:
            return datetime.strptime(" ".join(parts[:2]), "%Y%m%d %H:%M:%S").replace(tzinfo=zone)
        except ValueError:
            pass
    return datetime.fromtimestamp(time.time() if now is None else now, timezone.utc)


def _in_session(inst: Instrument, local: datetime) -> bool:
    if local.weekday() >= 5:
        return False
    start, end = inst.session
    minute = local.hour * 60 + local.minute
    return start <= minute < end


def _bar_starts(
    inst: Instrument, end: datetime, step: int, count: int, rth: bool
) -> list[datetime]:
    local_end = end.astimezone(_zone(inst.time_zone))
    if step >= 86400:
        day = local_end.replace(hour=0, minute=0, second=0, microsecond=0)
        if step > 86400:
            return [day - timedelta(seconds=step * i) for i in range(count)][::-1]
        days: list[datetime] = []
        while len(days) < count:
            if day.weekday() < 5:
                days.append(day)
            day -= timedelta(days=1)
        return days[::-1]
    open_minute, close_minute = inst.session if rth else _ALL_DAY
    starts: list[datetime] = []
    t = local_end - timedelta(seconds=1)  # the last instant the series covers
    while len(starts) < count:
        day_open = t.replace(
            hour=open_minute // 60, minute=open_minute % 60, second=0, microsecond=0
        )
        t = day_open + timedelta(seconds=step * math.floor((t - day_open).total_seconds() / step))
        if not rth or _in_session(inst, t):
            starts.append(t)
            t -= timedelta(seconds=1)
            continue
        # before the open or on a weekend: continue just before the previous session close
        close = t.replace(
            hour=close_minute // 60, minute=close_minute % 60, second=0, microsecond=0
        )
        while close > t or close.weekday() >= 5:
            close -= timedelta(days=1)
        t = close - timedelta(seconds=1)
    return starts[::-1]


def format_bar_date(start: datetime, step: int, format_date: int, inst: Instrument) -> str:
    if step >= 86400:
        return start.strftime("%Y%m%d")
    if format_date == 2:
        return str(int(start.timestamp()))
    return f"{start.strftime('%Y%m%d %H:%M:%S')} {inst.time_zone}"


def historical_bars(
    inst: Instrument,
    seed: int,
    *,
    duration: str,
    bar_size: str,
    end: datetime,
    use_rth: bool,
    format_date: int,
    limit: int = 5000,
) -> tuple[list[Bar], str, str]:
    """Bars for a historical data request, plus the start and end strings of
    ``historicalDataEnd``. Prices depend only on ``seed``, instrument and bar size."""
    step = max(1, bar_seconds(bar_size))
    span = duration_seconds(duration)
    if step >= 86400:
        count = max(1, round(span / step * (5 / 7 if step == 86400 else 1)))
    else:
        start, stop = inst.session if use_rth else _ALL_DAY
        per_day = (stop - start) * 60
        days = span / 86400
        session_seconds = span if days < 1 else max(1, round(days * 5 / 7)) * per_day
        count = max(1, math.ceil(min(span, session_seconds) / step))
    count = min(count, limit)
    starts = _bar_starts(inst, end, step, count, use_rth and inst.session != _ALL_DAY)
    rng = random.Random(f"{seed}:bars:{inst.con_id}:{step}")
    tick = inst.min_tick
    sigma = 0.004 * math.sqrt(min(step, 86400) / 3600)
    price = inst.base_price
    bars = []
    for bar_start in starts:
        open_ = round_to_tick(price, tick)
        close = round_to_tick(open_ * (1 + rng.gauss(0, sigma)), tick)
        high = round_to_tick(max(open_, close) * (1 + abs(rng.gauss(0, sigma / 2))), tick)
        low = round_to_tick(min(open_, close) * (1 - abs(rng.gauss(0, sigma / 2))), tick)
        volume = int(rng.uniform(200, 5000) * math.sqrt(step))
        wap = round((high + low + close) / 3, 6)
        bar_count = max(1, volume // rng.randint(50, 150))
        bars.append(
            Bar(
                format_bar_date(bar_start, step, format_date, inst),
                open_,
                high,
                low,
                close,
                volume,
                wap,
                bar_count,
            )
        )
        price = close
    stamp = "%Y%m%d %H:%M:%S"
    zone = _zone(inst.time_zone)
    first = end - timedelta(seconds=span)
    start_text = f"{first.astimezone(zone).strftime(stamp)} {inst.time_zone}"
    end_text = f"{end.astimezone(zone).strftime(stamp)} {inst.time_zone}"
    return bars, start_text, end_text


def bar_updates(last: Bar, inst: Instrument, seed: int) -> Iterator[Bar]:
    """Endless updates of the last bar, as ``keepUpToDate`` streams them."""
    rng = random.Random(f"{seed}:update:{inst.con_id}:{last.date}")
    high, low, close, volume = last.high, last.low, last.close, last.volume
    while True:
        close = round_to_tick(close * (1 + rng.gauss(0, 0.0005)), inst.min_tick)
        high, low = max(high, close), min(low, close)
        volume += rng.randint(1, 50)
        yield attrs.evolve(
            last,
            high=high,
            low=low,
            close=close,
            volume=volume,
            wap=round((high + low + close) / 3, 6),
        )


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
