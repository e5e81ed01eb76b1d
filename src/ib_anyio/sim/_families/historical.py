"""Historical data: bars, keep-up-to-date bars, trading schedules, head timestamps,
histograms and historical ticks.

Requests (``ibapi.message.OUT``) and what the simulated TWS answers, in TWS's order:

* ``reqHistoricalData`` (20): the bars (``historicalData``) and the end marker (inside
  the bar message below 196, its own ``historicalDataEnd`` from 196). With
  ``keepUpToDate``, ``historicalDataUpdate`` for the last bar every ``tick_interval``
  until ``cancelHistoricalData`` (25). ``whatToShow="SCHEDULE"`` (from 165,
  ``HISTORICAL_SCHEDULE``) is answered by one ``historicalSchedule`` instead: the
  sessions of the trading days in the duration, in the instrument's zone.
* ``reqHeadTimeStamp`` (87): one ``headTimestamp``, ``yyyymmdd-hh:mm:ss`` in UTC
  (``formatDate=1``) or epoch seconds (2). ``cancelHeadTimeStamp`` (90) is recorded only.
* ``reqHistogramData`` (88): one ``histogramData`` (price levels ascending, sizes
  whole). ``cancelHistogramData`` (89) is recorded only.
* ``reqHistoricalTicks`` (96): one message with every tick and ``done`` set:
  ``historicalTicksLast`` (98) for TRADES, ``historicalTicksBidAsk`` (97) for BID_ASK,
  ``historicalTicks`` (96) for MIDPOINT; at most 1000 ticks, forward from
  ``startDateTime`` or back from ``endDateTime``. ``cancelHistoricalTicks`` (107,
  protobuf only, from 215) is recorded only.

Wire layouts (ibapi ``client.py``/``decoder.py``, 9.81 to 10.51): none of these
requests has a version field from 124 (``reqHistoricalData`` had one below);
``reqHeadTimeStamp`` is ``reqId, contract, includeExpired, useRTH, whatToShow,
formatDate``; ``reqHistogramData`` ``reqId, contract, includeExpired, useRTH,
timePeriod``; ``reqHistoricalTicks`` ``reqId, contract, includeExpired, startDateTime,
endDateTime, numberOfTicks, whatToShow, useRth, ignoreSize, miscOptions``. ibapi 10.x
sends all of them as protobuf from 208 (``PROTOBUF_HISTORICAL_DATA``,
``common.getServerVersionForMessage``), and every answer of the family travels as
protobuf from 208 too: ibapi 10.45.1 and 10.51.1 list them all in
``msgId2handleInfoProtoBuf``, 10.37.2 never negotiates above 203. The answers have no
version field, except ``historicalData`` below 124. ibapi 9.81 reads histogram and
tick sizes as ints: the simulator's are whole.

What TWS checks, and what it answers (error 321 for a malformed request, 162 from its
historical data farm). Texts marked *TWS* are TWS's own words as users have reported
them; the rest are the simulator's, in TWS's style, where no report was found:

* bar size not one of TWS's (``1 secs`` ... ``1 month``; ``1 sec`` is refused): 321
  *TWS* "Error validating request.-'bK' : cause - Historical data bar size setting is
  invalid. Legal ones are: ...".
* ``whatToShow`` unknown: 321 "Error validating request.-'bS' : cause - What to show
  field is missing or incorrect." (``SCHEDULE`` is unknown below 165).
* ``formatDate`` other than 1 or 2: 321 *TWS* "Error validating request.-'bT' : cause
  - Date formatting selection of N rejected".
* duration not ``<integer> <S|D|W|M|Y>``: 321 "... cause - Historical data query
  duration is invalid" (simulator).
* ``keepUpToDate`` with an end date: 321 "... cause - End date not supported with live
  updates" (simulator).
* bars too small for the duration (TWS's step-size table: up to 1800 S any size; 3600
  S from 5 secs; 14400 S from 10 secs; 28800 S from 30 secs; 1 D from 1 min; 2 D from
  2 mins; 1 W from 3 mins; 1 M from 30 mins; longer from 1 day): 162 *TWS* "Historical
  Market Data Service error message:Time length exceed max."
* data the instrument does not have (TRADES of a forex pair, quotes of an index,
  volatility of a future...): 162 *TWS* "Historical Market Data Service error
  message:HMDS query returned no data: <localSymbol>@<exchange> <Type>".
* ``ADJUSTED_LAST`` with an end date: 162 "Historical Market Data Service error
  message:End date not supported with adjusted last" (simulator).
* historical ticks other than TRADES, BID_ASK, MIDPOINT, or without exactly one of start
  and end: 321 (simulator wording).
* histogram ``timePeriod`` not ``<integer> <days|weeks|months|years>``: 321
  (simulator wording).
* a contract the universe does not resolve to one instrument: 200 (the server's).
* an instrument in ``server.faults.unsubscribed``: 162 *TWS* "Historical Market Data
  Service error message:No market data permissions for <exchange> <secType>".

Bars: ``historicalData`` dates are ``yyyymmdd`` for daily and longer bars; intraday
``yyyymmdd hh:mm:ss <zone>`` in the instrument's zone (``formatDate=1``) or epoch
seconds (2). TRADES (and ADJUSTED_LAST, AGGTRADES) bars carry volume, WAP and trade
count; quote bars (MIDPOINT, BID, ASK, BID_ASK) and level bars (volatilities, fee and
rebate rates, yields) carry -1 for all three, as TWS sends them. BID_ASK bars are TWS's
"time-average bid, max ask, min bid, time-average ask". Everything is seeded by the
server seed, the instrument and what is asked.
"""

from __future__ import annotations

import enum
import math
import random
import re
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from ib_anyio.sim._decode import (
    Fields,
    _proto_contract,
    _tag_values,
    _Text,
    _text_args,
    _text_contract,
    _text_versioned,
    int_field,
)
from ib_anyio.sim._encode import pb, pb_message
from ib_anyio.sim._encode_order import num
from ib_anyio.sim._families import Family
from ib_anyio.sim._protocol import Version, text_message
from ib_anyio.sim._rules import HIST_PACING_CODE, HIST_PACING_TEXT
from ib_anyio.sim._universe import _ALL_DAY, Bar, Instrument, _in_session, _zone, round_to_tick

if TYPE_CHECKING:
    from ib_anyio.sim._encode import Encoder
    from ib_anyio.sim._server import _Connection

__all__ = ["FAMILY"]


class Out(enum.IntEnum):
    """The family's requests (``ibapi.message.OUT``)."""

    REQ_HISTORICAL_DATA = 20
    CANCEL_HISTORICAL_DATA = 25
    REQ_HEAD_TIMESTAMP = 87
    REQ_HISTOGRAM_DATA = 88
    CANCEL_HISTOGRAM_DATA = 89
    CANCEL_HEAD_TIMESTAMP = 90
    REQ_HISTORICAL_TICKS = 96
    CANCEL_HISTORICAL_TICKS = 107


class In(enum.IntEnum):
    """The family's answers (``ibapi.message.IN``)."""

    HISTORICAL_DATA = 17
    HEAD_TIMESTAMP = 88
    HISTOGRAM_DATA = 89
    HISTORICAL_DATA_UPDATE = 90
    HISTORICAL_TICKS = 96
    HISTORICAL_TICKS_BID_ASK = 97
    HISTORICAL_TICKS_LAST = 98
    HISTORICAL_SCHEDULE = 106
    HISTORICAL_DATA_END = 108


#: Every answer of the family travels as protobuf from here (see the module docstring).
PROTO_SINCE = Version.PROTOBUF_HISTORICAL_DATA
#: ``whatToShow="SCHEDULE"`` exists from here (``MIN_SERVER_VER_HISTORICAL_SCHEDULE``).
SCHEDULE_SINCE = 165
_HISTORICAL_DATA_VERSION = 3  # the text message's version field below 124

# -- TWS's checks ----------------------------------------------------------------------

VALIDATION_CODE = 321
HMDS_CODE = HIST_PACING_CODE  # 162: the historical data farm's errors
_HMDS = "Historical Market Data Service error message:"
_VALIDATING = "Error validating request.-'{}' : cause - {}"

#: TWS's bar sizes, in seconds (a month counts 30 days).
BAR_SIZES: dict[str, int] = {
    "1 secs": 1,
    "5 secs": 5,
    "10 secs": 10,
    "15 secs": 15,
    "30 secs": 30,
    "1 min": 60,
    "2 mins": 120,
    "3 mins": 180,
    "5 mins": 300,
    "10 mins": 600,
    "15 mins": 900,
    "20 mins": 1200,
    "30 mins": 1800,
    "1 hour": 3600,
    "2 hours": 7200,
    "3 hours": 10800,
    "4 hours": 14400,
    "8 hours": 28800,
    "1 day": 86400,
    "1 week": 7 * 86400,
    "1 month": 30 * 86400,
}
_BAR_ALIASES = {"1W": "1 week", "1M": "1 month"}
BAR_SIZE_TEXT = _VALIDATING.format(
    "bK",
    "Historical data bar size setting is invalid. Legal ones are: 1 secs, 5 secs, "
    "10 secs, 15 secs, 30 secs, 1 min, 2 mins, 3 mins, 5 mins, 10 mins, 15 mins, 20 mins, "
    "30 mins, 1 hour, 2 hours, 3 hours, 4 hours, 8 hours, 1 day, 1W, 1M",
)
WHAT_TO_SHOW_TEXT = _VALIDATING.format("bS", "What to show field is missing or incorrect.")
DURATION_TEXT = _VALIDATING.format("bX", "Historical data query duration is invalid")
LIVE_END_TEXT = _VALIDATING.format("bX", "End date not supported with live updates")
TIME_LENGTH_TEXT = _HMDS + "Time length exceed max."
ADJUSTED_END_TEXT = _HMDS + "End date not supported with adjusted last"
TICKS_WHAT_TEXT = _VALIDATING.format(
    "cB", "Historical ticks are only available for TRADES, BID_ASK and MIDPOINT"
)
TICKS_TIME_TEXT = _VALIDATING.format(
    "cA", "Exactly one of start time and end time has to be specified"
)
TIME_PERIOD_TEXT = _VALIDATING.format("cC", "Histogram time period is invalid")


def format_date_text(value: int) -> str:
    """TWS's 321 text for a ``formatDate`` it does not know."""
    return _VALIDATING.format("bT", f"Date formatting selection of {value} rejected")


def permissions_text(inst: Instrument) -> str:
    """TWS's 162 text for an instrument the account has no market data subscription for."""
    exchange = inst.primary_exchange or inst.exchange
    return f"{_HMDS}No market data permissions for {exchange} {inst.sec_type}"


def no_data_text(inst: Instrument, what: str) -> str:
    """TWS's 162 text for data the instrument does not have."""
    kind = what.replace("_", " ").title().replace(" ", "_")
    return f"{_HMDS}HMDS query returned no data: {inst.local_symbol}@{inst.exchange} {kind}"


_QUOTES = ("MIDPOINT", "BID", "ASK", "BID_ASK")
_VOLATILITY = ("HISTORICAL_VOLATILITY", "OPTION_IMPLIED_VOLATILITY")
_YIELDS = ("YIELD_BID", "YIELD_ASK", "YIELD_BID_ASK", "YIELD_LAST")
#: Every ``whatToShow`` TWS accepts for bars.
WHAT_TO_SHOW = frozenset(
    {
        "TRADES",
        *_QUOTES,
        "ADJUSTED_LAST",
        *_VOLATILITY,
        "REBATE_RATE",
        "FEE_RATE",
        *_YIELDS,
        "AGGTRADES",
        "SCHEDULE",
    }
)
#: What each security type has (``SCHEDULE`` every one); others get "no data".
_AVAILABLE: dict[str, frozenset[str]] = {
    "STK": frozenset(
        {"TRADES", *_QUOTES, "ADJUSTED_LAST", *_VOLATILITY, "FEE_RATE", "REBATE_RATE"}
    ),
    "FUT": frozenset({"TRADES", *_QUOTES}),
    "CONTFUT": frozenset({"TRADES", *_QUOTES}),
    "OPT": frozenset({"TRADES", *_QUOTES}),
    "FOP": frozenset({"TRADES", *_QUOTES}),
    "CASH": frozenset(_QUOTES),
    "IND": frozenset({"TRADES", *_VOLATILITY}),
    "BOND": frozenset({*_QUOTES, *_YIELDS}),
    "CRYPTO": frozenset({"AGGTRADES", *_QUOTES}),
}
_DEFAULT_AVAILABLE = frozenset({"TRADES", *_QUOTES})
#: Historical ticks: ``whatToShow`` -> the answering message.
TICK_KINDS = {
    "TRADES": In.HISTORICAL_TICKS_LAST,
    "BID_ASK": In.HISTORICAL_TICKS_BID_ASK,
    "MIDPOINT": In.HISTORICAL_TICKS,
}
MAX_TICKS = 1000

# Smallest bar (seconds) per duration (seconds), from TWS's step-size table.
_STEP_LIMITS = (
    (1800, 1),
    (3600, 5),
    (14400, 10),
    (28800, 30),
    (86400, 60),
    (2 * 86400, 120),
    (7 * 86400, 180),
    (31 * 86400, 1800),
)
_DURATION = re.compile(r"^(\d+) ([SDWMY])$")
_DURATION_UNITS = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 30 * 86400, "Y": 365 * 86400}
_PERIOD = re.compile(r"^(\d+) (day|week|month|year)s?$", re.IGNORECASE)
_PERIOD_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}


def bar_size_seconds(bar_size: str) -> int | None:
    """Seconds of one of TWS's bar sizes, ``None`` for anything else."""
    text = bar_size.strip()
    return BAR_SIZES.get(_BAR_ALIASES.get(text, text.lower()))


def duration_seconds(duration: str) -> int | None:
    """Seconds of a TWS duration (``"3600 S"``, ``"2 D"``, ``"1 Y"``), ``None`` if malformed."""
    found = _DURATION.match(duration.strip().upper())
    if found is None or int(found[1]) <= 0:
        return None
    return int(found[1]) * _DURATION_UNITS[found[2]]


def trading_days(duration: str) -> float:
    """Trading days in a duration: ``N D`` is N of them, a week 5, a month 21, a year
    252 (as TWS counts them); seconds count as a fraction of a day."""
    found = _DURATION.match(duration.strip().upper())
    if found is None:
        return 1.0
    n, unit = int(found[1]), found[2]
    return n * {"S": 1 / 86400, "D": 1, "W": 5, "M": 21, "Y": 252}[unit]


def min_bar_seconds(duration: int) -> int:
    """The smallest bar TWS serves for a duration of ``duration`` seconds."""
    for longest, smallest in _STEP_LIMITS:
        if duration <= longest:
            return smallest
    return 86400


def available(inst: Instrument, what: str) -> bool:
    """Whether TWS has ``what`` for the instrument."""
    return what == "SCHEDULE" or what in _AVAILABLE.get(inst.sec_type, _DEFAULT_AVAILABLE)


def bars_error(version: int, fields: Fields) -> tuple[int, str] | None:
    """The 321 TWS answers a malformed ``reqHistoricalData`` with, if any."""
    if bar_size_seconds(str(fields.get("barSizeSetting", ""))) is None:
        return VALIDATION_CODE, BAR_SIZE_TEXT
    what = str(fields.get("whatToShow", "")).upper()
    if what not in WHAT_TO_SHOW or (what == "SCHEDULE" and version < SCHEDULE_SINCE):
        return VALIDATION_CODE, WHAT_TO_SHOW_TEXT
    format_date = int_field(fields, "formatDate")
    if format_date not in (1, 2):
        return VALIDATION_CODE, format_date_text(format_date)
    if duration_seconds(str(fields.get("durationStr", ""))) is None:
        return VALIDATION_CODE, DURATION_TEXT
    if fields.get("keepUpToDate") and str(fields.get("endDateTime", "")).strip():
        return VALIDATION_CODE, LIVE_END_TEXT
    return None


def farm_error(inst: Instrument, fields: Fields) -> tuple[int, str] | None:
    """The 162 TWS's historical data farm answers a well-formed request with, if any."""
    what = str(fields.get("whatToShow", "")).upper()
    step = bar_size_seconds(str(fields.get("barSizeSetting", ""))) or 1
    span = duration_seconds(str(fields.get("durationStr", ""))) or 1
    if what != "SCHEDULE" and step < min_bar_seconds(span):
        return HMDS_CODE, TIME_LENGTH_TEXT
    if not available(inst, what):
        return HMDS_CODE, no_data_text(inst, what)
    if what == "ADJUSTED_LAST" and str(fields.get("endDateTime", "")).strip():
        return HMDS_CODE, ADJUSTED_END_TEXT
    return None


# -- times -----------------------------------------------------------------------------


def parse_time(text: str, inst: Instrument) -> datetime | None:
    """A TWS date-time (``yyyymmdd hh:mm:ss [zone]`` in the zone given or the
    instrument's, ``yyyymmdd-hh:mm:ss`` in UTC, or ``yyyymmdd``), ``None`` if empty or
    unreadable."""
    text = text.strip()
    if not text:
        return None
    zone = _zone(inst.time_zone)
    if "-" in text[:9]:
        text, zone = text.replace("-", " ", 1), timezone.utc
    parts = text.split(" ")
    if len(parts) >= 3:
        zone = _zone(parts[2])
    stamp, pattern = " ".join(parts[:2]), "%Y%m%d %H:%M:%S"
    if len(parts) == 1:
        pattern = "%Y%m%d"
    try:
        return datetime.strptime(stamp, pattern).replace(tzinfo=zone)
    except ValueError:
        return None


def parse_end(text: str, inst: Instrument, now: float | None = None) -> datetime:
    """A request's end: its ``endDateTime``, or the current time when empty."""
    found = parse_time(text, inst)
    if found is not None:
        return found
    return datetime.fromtimestamp(time.time() if now is None else now, timezone.utc)


def _stamp(moment: datetime, inst: Instrument) -> str:
    """``yyyymmdd hh:mm:ss <zone>`` in the instrument's zone."""
    zone = _zone(inst.time_zone)
    return f"{moment.astimezone(zone).strftime('%Y%m%d %H:%M:%S')} {inst.time_zone}"


def _session(inst: Instrument, rth: bool) -> tuple[int, int]:
    return inst.session if rth else _ALL_DAY


def _bar_starts(
    inst: Instrument, end: datetime, step: int, count: int, rth: bool
) -> list[datetime]:
    local_end = end.astimezone(_zone(inst.time_zone))
    if step >= 86400:
        day = local_end.replace(hour=0, minute=0, second=0, microsecond=0)
        if step >= BAR_SIZES["1 month"]:  # calendar months, dated on their first day
            months = [(day.year * 12 + day.month - 1 - i) for i in range(count)][::-1]
            return [day.replace(year=m // 12, month=m % 12 + 1, day=1) for m in months]
        if step > 86400:  # weeks, dated on their Monday
            monday = day - timedelta(days=day.weekday())
            return [monday - timedelta(weeks=i) for i in range(count)][::-1]
        days: list[datetime] = []
        while len(days) < count:
            if day.weekday() < 5:
                days.append(day)
            day -= timedelta(days=1)
        return days[::-1]
    open_minute, close_minute = _session(inst, rth)
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
    """A bar's date as TWS writes it (see the module docstring)."""
    if step >= 86400:
        return start.strftime("%Y%m%d")
    if format_date == 2:
        return str(int(start.timestamp()))
    return f"{start.strftime('%Y%m%d %H:%M:%S')} {inst.time_zone}"


# -- bars ------------------------------------------------------------------------------

#: Where the level series (volatilities, rates, yields) start, and how much they move.
_LEVELS = {
    "HISTORICAL_VOLATILITY": (0.22, 0.04),
    "OPTION_IMPLIED_VOLATILITY": (0.27, 0.03),
    "FEE_RATE": (0.25, 0.02),
    "REBATE_RATE": (4.1, 0.02),
    "YIELD_BID": (4.35, 0.01),
    "YIELD_ASK": (4.31, 0.01),
    "YIELD_BID_ASK": (4.33, 0.01),
    "YIELD_LAST": (4.33, 0.01),
}


def historical_bars(
    inst: Instrument,
    seed: int,
    *,
    duration: str,
    bar_size: str,
    end: datetime,
    use_rth: bool,
    format_date: int,
    what: str = "TRADES",
    limit: int = 5000,
) -> tuple[list[Bar], str, str]:
    """Bars for a historical data request, plus the start and end strings of
    ``historicalDataEnd``. Prices depend only on ``seed``, instrument, bar size and
    ``what``; the request must have passed :func:`bars_error`."""
    step = bar_size_seconds(bar_size) or 3600
    span = duration_seconds(duration) or 86400
    days = trading_days(duration)
    if step == 86400:
        count = max(1, round(days))
    elif step > 86400:
        count = max(1, math.ceil(span / step))
    else:
        start, stop = _session(inst, use_rth)
        per_day = (stop - start) * 60
        if span < 86400:
            count = max(1, math.ceil(min(span, per_day) / step))
        else:  # whole sessions, the last bar of each maybe shorter
            count = max(1, round(days)) * math.ceil(per_day / step)
    count = min(count, limit)
    starts = _bar_starts(inst, end, step, count, use_rth and inst.session != _ALL_DAY)
    dates = [format_bar_date(s, step, format_date, inst) for s in starts]
    if what in _LEVELS:
        bars = _level_bars(dates, seed, inst, step, what)
    else:
        bars = _price_bars(dates, seed, inst, step, what)
    first = end - timedelta(seconds=span)
    return bars, _stamp(first, inst), _stamp(end, inst)


def _price_bars(dates: list[str], seed: int, inst: Instrument, step: int, what: str) -> list[Bar]:
    """Trade bars, or quote bars of the same price path (no volume, WAP, count)."""
    rng = random.Random(f"{seed}:bars:{inst.con_id}:{step}")
    tick = inst.min_tick
    sigma = 0.004 * math.sqrt(min(step, 86400) / 3600)
    price = inst.base_price
    trades = what in ("TRADES", "ADJUSTED_LAST", "AGGTRADES")
    half = tick if inst.sec_type != "CASH" else 2 * tick  # half the typical spread
    bars = []
    for date in dates:
        open_ = round_to_tick(price, tick)
        close = round_to_tick(open_ * (1 + rng.gauss(0, sigma)), tick)
        high = round_to_tick(max(open_, close) * (1 + abs(rng.gauss(0, sigma / 2))), tick)
        low = round_to_tick(min(open_, close) * (1 - abs(rng.gauss(0, sigma / 2))), tick)
        volume = int(rng.uniform(200, 5000) * math.sqrt(step))
        wap = round((high + low + close) / 3, 6)
        bar_count = max(1, volume // rng.randint(50, 150))
        price = close
        if trades:
            bars.append(Bar(date, open_, high, low, close, volume, wap, bar_count))
            continue
        shift = {"BID": -half, "ASK": half}.get(what, 0.0)
        o, h, lo, c = (round_to_tick(p + shift, tick) for p in (open_, high, low, close))
        if what == "BID_ASK":  # time-average bid, max ask, min bid, time-average ask
            o, h = round_to_tick(open_ - half, tick), round_to_tick(high + half, tick)
            lo, c = round_to_tick(low - half, tick), round_to_tick(close + half, tick)
        bars.append(Bar(date, o, h, lo, c, -1, -1.0, -1))
    return bars


def _level_bars(dates: list[str], seed: int, inst: Instrument, step: int, what: str) -> list[Bar]:
    """Bars of a level (a volatility, a rate, a yield): no volume, WAP or count."""
    rng = random.Random(f"{seed}:levels:{inst.con_id}:{step}:{what}")
    level, move = _LEVELS[what]
    sigma = move * math.sqrt(min(step, 86400) / 86400)
    bars = []
    for date in dates:
        close = max(0.0001, level * (1 + rng.gauss(0, sigma)))
        high = max(level, close) * (1 + abs(rng.gauss(0, sigma / 2)))
        low = min(level, close) * (1 - abs(rng.gauss(0, sigma / 2)))
        o, h, lo, c = (round(x, 6) for x in (level, high, low, close))
        bars.append(Bar(date, o, h, lo, c, -1, -1.0, -1))
        level = close
    return bars


def bar_updates(last: Bar, inst: Instrument, seed: int) -> Iterator[Bar]:
    """Endless updates of the last bar, as ``keepUpToDate`` streams them (quote and
    level bars keep volume, WAP and count at -1)."""
    rng = random.Random(f"{seed}:update:{inst.con_id}:{last.date}")
    high, low, close, volume = last.high, last.low, last.close, last.volume
    trades = last.volume >= 0
    while True:
        close = round_to_tick(close * (1 + rng.gauss(0, 0.0005)), inst.min_tick)
        high, low = max(high, close), min(low, close)
        if trades:
            volume += rng.randint(1, 50)
        yield attrs.evolve(
            last,
            high=high,
            low=low,
            close=close,
            volume=volume,
            wap=round((high + low + close) / 3, 6) if trades else -1.0,
        )


@attrs.frozen
class Session:
    """One trading session of a schedule: start and end ``yyyymmdd-hh:mm:ss`` in the
    instrument's zone, and the trading day it belongs to (``yyyymmdd``)."""

    start: str
    end: str
    ref_date: str


def schedule(inst: Instrument, end: datetime, duration: str) -> list[Session]:
    """The sessions of the weekdays within ``duration`` before ``end`` (at least one)."""
    span = duration_seconds(duration) or 86400
    zone = _zone(inst.time_zone)
    local_end = end.astimezone(zone)
    first = (local_end - timedelta(seconds=span)).date()
    open_minute, close_minute = inst.session
    sessions: list[Session] = []
    day = local_end.date()
    while day > first or not sessions:
        if day.weekday() < 5:
            start = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(
                minutes=open_minute
            )
            stop = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(
                minutes=close_minute
            )
            if start < local_end or (not sessions and day < local_end.date()):
                stamp = "%Y%m%d-%H:%M:%S"
                sessions.append(
                    Session(start.strftime(stamp), stop.strftime(stamp), day.strftime("%Y%m%d"))
                )
        day -= timedelta(days=1)
    return sessions[::-1]


# -- head timestamp, histogram, ticks ----------------------------------------------------


def head_timestamp(inst: Instrument, what: str, seed: int) -> datetime:
    """The earliest data TWS has for the instrument and ``what`` (deterministic)."""
    rng = random.Random(f"{seed}:head:{inst.con_id}")
    zone = _zone(inst.time_zone)
    if inst.expiry:  # futures and options trade for a while before expiring
        expiry = datetime.strptime(inst.expiry, "%Y%m%d").replace(tzinfo=zone)
        first = expiry - timedelta(days=730 if inst.sec_type == "FUT" else 420)
    elif inst.sec_type == "CASH":
        first = datetime(2005, 3, 1, tzinfo=zone)
    else:
        first = datetime(1980 + rng.randrange(25), 1 + rng.randrange(12), 1, tzinfo=zone)
        if what != "TRADES":  # quotes and the rest are kept from 2004 on
            first = max(first, datetime(2004, 1, 23, tzinfo=zone))
    while first.weekday() >= 5:
        first += timedelta(days=1)
    start = 0 if inst.session == _ALL_DAY else inst.session[0]
    return first + timedelta(minutes=start)


def format_head_timestamp(moment: datetime, format_date: int) -> str:
    """``yyyymmdd-hh:mm:ss`` in UTC, or epoch seconds with ``formatDate=2``."""
    if format_date == 2:
        return str(int(moment.timestamp()))
    return moment.astimezone(timezone.utc).strftime("%Y%m%d-%H:%M:%S")


def period_days(period: str) -> int | None:
    """Days in a histogram ``timePeriod`` (``"3 days"``, ``"1 week"``), ``None`` if bad."""
    found = _PERIOD.match(period.strip())
    if found is None or int(found[1]) <= 0:
        return None
    return int(found[1]) * _PERIOD_DAYS[found[2].lower()]


def histogram(inst: Instrument, seed: int, days: int, use_rth: bool) -> list[tuple[float, int]]:
    """Volume traded per price level over ``days`` days, lowest price first."""
    rng = random.Random(f"{seed}:histogram:{inst.con_id}:{days}:{int(use_rth)}")
    tick = inst.min_tick
    center = inst.base_price
    width = center * 0.006 * math.sqrt(min(days, 365))
    levels = max(8, min(60, int(width / tick) + 1))
    step = max(tick, round_to_tick(2 * width / levels, tick))
    low = round_to_tick(center - step * (levels // 2), tick)
    scale = (5 if use_rth else 6) * 10_000 * days
    out = []
    for i in range(levels):
        price = round_to_tick(low + i * step, tick)
        bell = math.exp(-(((i - levels / 2) / (levels / 4)) ** 2))
        out.append((price, max(1, int(scale * bell * rng.uniform(0.6, 1.4) / levels))))
    return out


@attrs.frozen
class Tick:
    """One historical tick: time (epoch seconds), the attribute mask, prices and sizes
    (``price``/``size`` for trades and midpoints, ``price``/``price2``,
    ``size``/``size2`` for bid/ask), the exchange and special conditions of a trade."""

    time: int
    mask: int
    price: float
    size: int
    price2: float = 0.0
    size2: int = 0
    exchange: str = ""
    conditions: str = ""


_VENUES = ("NASDAQ", "ARCA", "NYSE", "BATS", "IEX", "EDGX", "FINRA")


def _tick_times(
    inst: Instrument, rng: random.Random, anchor: datetime, forward: bool, count: int, rth: bool
) -> list[int]:
    """``count`` tick times from ``anchor`` on (or back), in session when ``rth``."""
    session = rth and inst.session != _ALL_DAY
    zone = _zone(inst.time_zone)
    t = int(anchor.timestamp())
    times: list[int] = []
    guard = 0
    while len(times) < count and guard < 100 * count + 10_000:
        guard += 1
        local = datetime.fromtimestamp(t, zone)
        if (not session and local.weekday() < 5) or (session and _in_session(inst, local)):
            times.append(t)
            t += rng.randint(0, 4) if forward else -rng.randint(0, 4)
            continue
        # outside the session: jump to the next open (or the previous close)
        open_minute, close_minute = inst.session if session else _ALL_DAY
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if forward:
            target = day + timedelta(minutes=open_minute)
            if target <= local:
                target += timedelta(days=1)
            while target.weekday() >= 5:
                target += timedelta(days=1)
        else:
            target = day + timedelta(minutes=close_minute) - timedelta(seconds=1)
            if target >= local:
                target -= timedelta(days=1)
            while target.weekday() >= 5:
                target -= timedelta(days=1)
        t = int(target.timestamp())
    return sorted(times)


def historical_ticks(
    inst: Instrument,
    seed: int,
    what: str,
    *,
    start: datetime | None,
    end: datetime | None,
    count: int,
    use_rth: bool,
    ignore_size: bool,
) -> list[Tick]:
    """Up to ``count`` ticks (at most 1000) forward from ``start`` or back to ``end``."""
    anchor = start if start is not None else end
    assert anchor is not None
    rng = random.Random(f"{seed}:hticks:{inst.con_id}:{what}:{int(anchor.timestamp())}")
    count = max(1, min(count, MAX_TICKS))
    times = _tick_times(inst, rng, anchor, start is not None, count, use_rth)
    tick = inst.min_tick
    lot = 100_000 if inst.sec_type == "CASH" else 1
    mid = inst.base_price * (1 + rng.gauss(0, 0.01))
    out = []
    for t in times:
        mid *= 1 + rng.gauss(0, 0.0002)
        spread = tick * rng.randint(1, 3)
        bid = round_to_tick(mid - spread / 2, tick)
        ask = round_to_tick(max(bid + tick, mid + spread / 2), tick)
        if what == "TRADES":
            size = rng.choice((1, 5, 10, 25, 50, 100, 100, 200, 300, 500))
            venue = rng.choice(_VENUES) if inst.sec_type == "STK" else inst.exchange
            if venue == "SMART":
                venue = inst.primary_exchange or inst.exchange
            odd = "I" if size < 100 and inst.sec_type == "STK" else ""
            out.append(Tick(t, 0, rng.choice((bid, ask)), size, exchange=venue, conditions=odd))
        elif what == "BID_ASK":
            sizes = (0, 0) if ignore_size else (rng.randint(1, 30) * lot, rng.randint(1, 30) * lot)
            out.append(Tick(t, 0, bid, sizes[0], ask, sizes[1]))
        else:
            out.append(Tick(t, 0, round_to_tick((bid + ask) / 2, tick / 2), 0))
    return out


# -- encoding ----------------------------------------------------------------------------


def _proto(enc: Encoder) -> bool:
    return enc.version >= PROTO_SINCE


def _text(enc: Encoder, msg: In, fields: Sequence[object]) -> bytes:
    return text_message(msg, fields, enc.version)


def _bar_proto(bar: Bar) -> Any:
    return pb("HistoricalDataBar")(
        date=bar.date,
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=str(bar.volume),
        WAP=num(bar.wap),
        barCount=bar.bar_count,
    )


def encode_historical_data(
    enc: Encoder, req_id: int, bars: list[Bar], start: str, end: str
) -> bytes:
    """The bars and the end marker: one message below 196, two from 196."""
    if _proto(enc):
        data = pb_message(
            In.HISTORICAL_DATA,
            "HistoricalData",
            reqId=req_id,
            historicalDataBars=[_bar_proto(bar) for bar in bars],
        )
        return data + pb_message(
            In.HISTORICAL_DATA_END,
            "HistoricalDataEnd",
            reqId=req_id,
            startDateStr=start,
            endDateStr=end,
        )
    v = enc.version
    f: list[object] = []
    if v < Version.SYNT_REALTIME_BARS:
        f.append(_HISTORICAL_DATA_VERSION)
    f.append(req_id)
    if v < Version.HISTORICAL_DATA_END:
        f += [start, end]
    f.append(len(bars))
    for bar in bars:
        f += [bar.date, num(bar.open), num(bar.high), num(bar.low), num(bar.close)]
        f += [bar.volume, num(bar.wap)]
        if v < Version.SYNT_REALTIME_BARS:
            f.append("false")  # hasGaps
        f.append(bar.bar_count)
    data = _text(enc, In.HISTORICAL_DATA, f)
    if v < Version.HISTORICAL_DATA_END:
        return data
    return data + _text(enc, In.HISTORICAL_DATA_END, (req_id, start, end))


def encode_historical_data_update(enc: Encoder, req_id: int, bar: Bar) -> bytes:
    """historicalDataUpdate: the latest bar of a keep-up-to-date request."""
    if _proto(enc):
        return pb_message(
            In.HISTORICAL_DATA_UPDATE,
            "HistoricalDataUpdate",
            reqId=req_id,
            historicalDataBar=_bar_proto(bar),
        )
    b = bar
    fields = (req_id, b.bar_count, b.date, num(b.open), num(b.close), num(b.high), num(b.low))
    return _text(enc, In.HISTORICAL_DATA_UPDATE, (*fields, num(b.wap), b.volume))


def encode_schedule(enc: Encoder, req_id: int, sessions: list[Session], time_zone: str) -> bytes:
    """historicalSchedule: the schedule's first start, last end, zone and sessions."""
    start, end = sessions[0].start, sessions[-1].end
    if _proto(enc):
        session = pb("HistoricalSession")
        return pb_message(
            In.HISTORICAL_SCHEDULE,
            "HistoricalSchedule",
            reqId=req_id,
            startDateTime=start,
            endDateTime=end,
            timeZone=time_zone,
            historicalSessions=[
                session(startDateTime=s.start, endDateTime=s.end, refDate=s.ref_date)
                for s in sessions
            ],
        )
    f: list[object] = [req_id, start, end, time_zone, len(sessions)]
    for s in sessions:
        f += [s.start, s.end, s.ref_date]
    return _text(enc, In.HISTORICAL_SCHEDULE, f)


def encode_head_timestamp(enc: Encoder, req_id: int, stamp: str) -> bytes:
    """headTimestamp."""
    if _proto(enc):
        return pb_message(In.HEAD_TIMESTAMP, "HeadTimestamp", reqId=req_id, headTimestamp=stamp)
    return _text(enc, In.HEAD_TIMESTAMP, (req_id, stamp))


def encode_histogram(enc: Encoder, req_id: int, items: list[tuple[float, int]]) -> bytes:
    """histogramData: price levels with their sizes."""
    if _proto(enc):
        entry = pb("HistogramDataEntry")
        return pb_message(
            In.HISTOGRAM_DATA,
            "HistogramData",
            reqId=req_id,
            histogramDataEntries=[entry(price=p, size=str(s)) for p, s in items],
        )
    f: list[object] = [req_id, len(items)]
    for price, size in items:
        f += [num(price), size]
    return _text(enc, In.HISTOGRAM_DATA, f)


def encode_ticks(enc: Encoder, req_id: int, kind: In, ticks: list[Tick], done: bool) -> bytes:
    """historicalTicks, historicalTicksBidAsk or historicalTicksLast (``kind``)."""
    if _proto(enc):
        if kind == In.HISTORICAL_TICKS_LAST:
            attrib = pb("TickAttribLast")
            items = [
                pb("HistoricalTickLast")(
                    time=t.time,
                    tickAttribLast=attrib(pastLimit=bool(t.mask & 1), unreported=bool(t.mask & 2)),
                    price=t.price,
                    size=str(t.size),
                    exchange=t.exchange,
                    specialConditions=t.conditions,
                )
                for t in ticks
            ]
            return pb_message(
                kind, "HistoricalTicksLast", reqId=req_id, historicalTicksLast=items, isDone=done
            )
        if kind == In.HISTORICAL_TICKS_BID_ASK:
            attrib = pb("TickAttribBidAsk")
            items = [
                pb("HistoricalTickBidAsk")(
                    time=t.time,
                    tickAttribBidAsk=attrib(
                        askPastHigh=bool(t.mask & 1), bidPastLow=bool(t.mask & 2)
                    ),
                    priceBid=t.price,
                    priceAsk=t.price2,
                    sizeBid=str(t.size),
                    sizeAsk=str(t.size2),
                )
                for t in ticks
            ]
            return pb_message(
                kind,
                "HistoricalTicksBidAsk",
                reqId=req_id,
                historicalTicksBidAsk=items,
                isDone=done,
            )
        items = [pb("HistoricalTick")(time=t.time, price=t.price, size=str(t.size)) for t in ticks]
        return pb_message(kind, "HistoricalTicks", reqId=req_id, historicalTicks=items, isDone=done)
    f: list[object] = [req_id, len(ticks)]
    for t in ticks:
        if kind == In.HISTORICAL_TICKS_LAST:
            f += [t.time, t.mask, num(t.price), t.size, t.exchange, t.conditions]
        elif kind == In.HISTORICAL_TICKS_BID_ASK:
            f += [t.time, t.mask, num(t.price), num(t.price2), t.size, t.size2]
        else:
            f += [t.time, 0, num(t.price), t.size]  # the 0 is a field ibapi skips
    f.append(int(done))
    return _text(enc, kind, f)


# -- handlers ----------------------------------------------------------------------------


async def _resolve(conn: _Connection, req_id: int, fields: Fields) -> Instrument | None:
    """The request's one instrument, or ``None`` once error 200 (no such instrument) or
    162 (no market data permissions, ``Faults.unsubscribed``) is sent."""
    inst = conn._one(req_id, fields.get("contract"))
    if isinstance(inst, bytes):
        await conn.send(inst)
        return None
    if inst.symbol in conn.server.faults.unsubscribed:
        await conn.send(conn._error(req_id, HMDS_CODE, permissions_text(inst)))
        return None
    return inst


async def _refuse(conn: _Connection, req_id: int, error: tuple[int, str] | None) -> bool:
    """Send ``error`` (if any) with the request's id; whether one was sent."""
    if error is None:
        return False
    await conn.send(conn._error(req_id, *error))
    return True


async def req_historical_data(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    if conn.hist_pacing.violation(fields):
        await conn.send(conn._error(req_id, HIST_PACING_CODE, HIST_PACING_TEXT))
        return
    if await _refuse(conn, req_id, bars_error(conn.version, fields)):
        return
    inst = await _resolve(conn, req_id, fields)
    if inst is None or await _refuse(conn, req_id, farm_error(inst, fields)):
        return
    what = str(fields.get("whatToShow", "")).upper()
    duration = str(fields.get("durationStr", ""))
    end = parse_end(str(fields.get("endDateTime", "")), inst)
    if what == "SCHEDULE":
        sessions = schedule(inst, end, duration)
        await conn.send(encode_schedule(conn.encoder, req_id, sessions, inst.time_zone))
        return
    bars, start_text, end_text = historical_bars(
        inst,
        conn.server.seed,
        duration=duration,
        bar_size=str(fields.get("barSizeSetting", "")),
        end=end,
        use_rth=bool(fields.get("useRTH")),
        format_date=int_field(fields, "formatDate"),
        what=what,
    )
    await conn.send(encode_historical_data(conn.encoder, req_id, bars, start_text, end_text))
    if fields.get("keepUpToDate") and bars:
        updates = bar_updates(bars[-1], inst, conn.server.seed)
        conn._start("bars", req_id, lambda: _stream_bars(conn, req_id, updates))


async def _stream_bars(conn: _Connection, req_id: int, updates: Iterator[Bar]) -> None:
    for bar in updates:
        await anyio.sleep(conn.server.tick_interval)
        await conn.send_market_data(encode_historical_data_update(conn.encoder, req_id, bar))


async def cancel_historical_data(conn: _Connection, fields: Fields) -> None:
    conn._cancel("bars", int_field(fields, "reqId"))


async def req_head_time_stamp(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    what = str(fields.get("whatToShow", "")).upper()
    if what not in WHAT_TO_SHOW or what == "SCHEDULE":
        await conn.send(conn._error(req_id, VALIDATION_CODE, WHAT_TO_SHOW_TEXT))
        return
    format_date = int_field(fields, "formatDate")
    if format_date not in (1, 2):
        await conn.send(conn._error(req_id, VALIDATION_CODE, format_date_text(format_date)))
        return
    inst = await _resolve(conn, req_id, fields)
    if inst is None:
        return
    if not available(inst, what):
        await conn.send(conn._error(req_id, HMDS_CODE, no_data_text(inst, what)))
        return
    stamp = format_head_timestamp(head_timestamp(inst, what, conn.server.seed), format_date)
    await conn.send(encode_head_timestamp(conn.encoder, req_id, stamp))


async def req_histogram_data(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    days = period_days(str(fields.get("timePeriod", "")))
    if days is None:
        await conn.send(conn._error(req_id, VALIDATION_CODE, TIME_PERIOD_TEXT))
        return
    inst = await _resolve(conn, req_id, fields)
    if inst is None:
        return
    if not available(inst, "TRADES"):
        await conn.send(conn._error(req_id, HMDS_CODE, no_data_text(inst, "TRADES")))
        return
    items = histogram(inst, conn.server.seed, days, bool(fields.get("useRTH")))
    await conn.send(encode_histogram(conn.encoder, req_id, items))


async def req_historical_ticks(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    what = str(fields.get("whatToShow", "")).upper()
    kind = TICK_KINDS.get(what)
    if kind is None:
        await conn.send(conn._error(req_id, VALIDATION_CODE, TICKS_WHAT_TEXT))
        return
    inst = await _resolve(conn, req_id, fields)
    if inst is None:
        return
    start = parse_time(str(fields.get("startDateTime", "")), inst)
    end = parse_time(str(fields.get("endDateTime", "")), inst)
    if (start is None) == (end is None):
        await conn.send(conn._error(req_id, VALIDATION_CODE, TICKS_TIME_TEXT))
        return
    if what == "TRADES" and not available(inst, "TRADES"):
        await conn.send(conn._error(req_id, HMDS_CODE, no_data_text(inst, "TRADES")))
        return
    ticks = historical_ticks(
        inst,
        conn.server.seed,
        what,
        start=start,
        end=end,
        count=int_field(fields, "numberOfTicks"),
        use_rth=bool(fields.get("useRth")),
        ignore_size=bool(fields.get("ignoreSize")),
    )
    await conn.send(encode_ticks(conn.encoder, req_id, kind, ticks, True))


async def _recorded_only(conn: _Connection, fields: Fields) -> None:
    """A cancel of a request TWS has already answered in full: nothing to do."""


# -- decoding ----------------------------------------------------------------------------


def _skip_combo_legs(f: _Text, contract: Fields) -> None:
    if contract["secType"] == "BAG":
        f.skip(4 * f.integer())


def _text_historical_data(f: _Text, v: int) -> Fields:
    if v < Version.SYNT_REALTIME_BARS:
        f.skip()  # version
    req_id = f.integer()
    contract = _text_contract(f)
    contract["includeExpired"] = f.flag()
    fields: Fields = {"reqId": req_id, "contract": contract}
    fields["endDateTime"] = f.text()
    fields["barSizeSetting"] = f.text()
    fields["durationStr"] = f.text()
    fields["useRTH"] = f.flag()
    fields["whatToShow"] = f.text()
    fields["formatDate"] = f.integer()
    _skip_combo_legs(f, contract)
    fields["keepUpToDate"] = f.flag() if v >= Version.SYNT_REALTIME_BARS else False
    fields["chartOptions"] = f.text()
    return fields


def _id_and_contract(f: _Text) -> tuple[int, Fields]:
    """The request id, then the contract with its ``includeExpired`` flag (as the
    head timestamp, histogram and historical ticks requests begin)."""
    req_id = f.integer()
    contract = _text_contract(f)
    contract["includeExpired"] = f.flag()
    return req_id, contract


def _text_head_timestamp(f: _Text, v: int) -> Fields:
    req_id, contract = _id_and_contract(f)
    return {
        "reqId": req_id,
        "contract": contract,
        "useRTH": f.flag(),
        "whatToShow": f.text(),
        "formatDate": f.integer(),
    }


def _text_histogram(f: _Text, v: int) -> Fields:
    req_id, contract = _id_and_contract(f)
    return {"reqId": req_id, "contract": contract, "useRTH": f.flag(), "timePeriod": f.text()}


def _text_historical_ticks(f: _Text, v: int) -> Fields:
    req_id, contract = _id_and_contract(f)
    return {
        "reqId": req_id,
        "contract": contract,
        "startDateTime": f.text(),
        "endDateTime": f.text(),
        "numberOfTicks": f.integer(),
        "whatToShow": f.text(),
        "useRth": f.flag(),
        "ignoreSize": f.flag(),
        "miscOptions": f.text(),
    }


def _proto_historical_data(p: Any) -> Fields:
    return {
        "reqId": p.reqId,
        "contract": _proto_contract(p.contract),
        "endDateTime": p.endDateTime,
        "barSizeSetting": p.barSizeSetting,
        "durationStr": p.duration,
        "useRTH": p.useRTH,
        "whatToShow": p.whatToShow,
        "formatDate": p.formatDate,
        "keepUpToDate": p.keepUpToDate,
        "chartOptions": _tag_values(p.chartOptions),
    }


def _proto_head_timestamp(p: Any) -> Fields:
    return {
        "reqId": p.reqId,
        "contract": _proto_contract(p.contract),
        "useRTH": p.useRTH,
        "whatToShow": p.whatToShow,
        "formatDate": p.formatDate,
    }


def _proto_histogram(p: Any) -> Fields:
    contract = _proto_contract(p.contract)
    return {"reqId": p.reqId, "contract": contract, "useRTH": p.useRTH, "timePeriod": p.timePeriod}


def _proto_historical_ticks(p: Any) -> Fields:
    return {
        "reqId": p.reqId,
        "contract": _proto_contract(p.contract),
        "startDateTime": p.startDateTime,
        "endDateTime": p.endDateTime,
        "numberOfTicks": p.numberOfTicks,
        "whatToShow": p.whatToShow,
        "useRth": p.useRTH,
        "ignoreSize": p.ignoreSize,
        "miscOptions": _tag_values(p.miscOptions),
    }


def _req_id(p: Any) -> Fields:
    return {"reqId": p.reqId}


_ID = ("reqId", _Text.integer)

FAMILY = Family(
    name="historical data",
    text={
        Out.REQ_HISTORICAL_DATA: _text_historical_data,
        Out.CANCEL_HISTORICAL_DATA: _text_versioned("reqId"),
        Out.REQ_HEAD_TIMESTAMP: _text_head_timestamp,
        Out.CANCEL_HEAD_TIMESTAMP: _text_args(_ID, version_field=False),
        Out.REQ_HISTOGRAM_DATA: _text_histogram,
        Out.CANCEL_HISTOGRAM_DATA: _text_args(_ID, version_field=False),
        Out.REQ_HISTORICAL_TICKS: _text_historical_ticks,
    },
    proto={
        Out.REQ_HISTORICAL_DATA: ("HistoricalDataRequest", _proto_historical_data),
        Out.CANCEL_HISTORICAL_DATA: ("CancelHistoricalData", _req_id),
        Out.REQ_HEAD_TIMESTAMP: ("HeadTimestampRequest", _proto_head_timestamp),
        Out.CANCEL_HEAD_TIMESTAMP: ("CancelHeadTimestamp", _req_id),
        Out.REQ_HISTOGRAM_DATA: ("HistogramDataRequest", _proto_histogram),
        Out.CANCEL_HISTOGRAM_DATA: ("CancelHistogramData", _req_id),
        Out.REQ_HISTORICAL_TICKS: ("HistoricalTicksRequest", _proto_historical_ticks),
        Out.CANCEL_HISTORICAL_TICKS: ("CancelHistoricalTicks", _req_id),
    },
    handlers={
        Out.REQ_HISTORICAL_DATA: req_historical_data,
        Out.CANCEL_HISTORICAL_DATA: cancel_historical_data,
        Out.REQ_HEAD_TIMESTAMP: req_head_time_stamp,
        Out.CANCEL_HEAD_TIMESTAMP: _recorded_only,
        Out.REQ_HISTOGRAM_DATA: req_histogram_data,
        Out.CANCEL_HISTOGRAM_DATA: _recorded_only,
        Out.REQ_HISTORICAL_TICKS: req_historical_ticks,
        Out.CANCEL_HISTORICAL_TICKS: _recorded_only,
    },
)
