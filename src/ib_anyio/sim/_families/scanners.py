"""Market scanners: ``reqScannerParameters`` and ``reqScannerSubscription``.

What TWS does and the simulator copies (wire layouts from ibapi 9.81 to 10.51's
``client.py`` and ``decoder.py``):

* ``reqScannerParameters`` is answered with one ``scannerParameters`` message: an XML
  document (``ScanParameterResponse``) listing the instrument types, the location tree,
  the scan types and the filters. Text: ``version (1), xml``; ibapi decodes it by the
  wrapper's signature, with the ``unicode-escape`` codec from 153, so the document is
  plain ASCII without backslashes.
* ``reqScannerSubscription`` streams rounds: each round is one ``scannerData`` message
  (ibapi calls ``scannerData`` per row, then ``scannerDataEnd``), the rows ranked from 0.
  Text: ``version (3), reqId, count``, then per row ``rank, conId, symbol, secType,
  lastTradeDateOrContractMonth, strike, right, exchange, currency, localSymbol,
  marketName, tradingClass, distance, benchmark, projection, legsStr``. A new round
  follows every ``tick_interval``, ranked from the market's current quotes (the
  previous close is the instrument's base price). At most 50 rows, fewer with
  ``numberOfRows``.
* The request: ``[version (4) below 143,] reqId, numberOfRows, instrument,
  locationCode, scanCode, abovePrice, belowPrice, aboveVolume, marketCapAbove,
  marketCapBelow, moodyRatingAbove, moodyRatingBelow, spRatingAbove, spRatingBelow,
  maturityDateAbove, maturityDateBelow, couponRateAbove, couponRateBelow,
  excludeConvertible, averageOptionVolumeAbove, scannerSettingPairs, stockTypeFilter``,
  then the filter options (``tag=value;`` each) from 143 (``SCANNER_GENERIC_OPTS``) and
  the subscription options from 70 (``LINKING``). Unset numbers travel as ``""``.
* Protobuf (``PROTOBUF_SCAN_DATA``, 210) both ways: ``ScannerSubscriptionRequest``,
  ``CancelScannerSubscription``, ``ScannerParametersRequest``; ``ScannerParameters``
  and ``ScannerData`` (10.45 and later decode them; 10.37.2 never negotiates 210).
* Errors, with the request's id: an unknown scan code gets 162 "Historical Market Data
  Service error message:Scanner type with code X is disabled"; an instrument/location
  pair the scanner does not know gets 162 "...:Market Scanner is not configured for one
  of the chosen locations."; an 11th subscription (TWS allows 10 at once) and a reused
  id get 322 ("Error processing request.-'bW' : cause - Only 10 simultaneous API
  scanner subscriptions are allowed." / "... Duplicate ticker ID for API scanner
  subscription"). A scan that matches nothing gets 165 "Historical Market Data Service
  query message:no items retrieved" (once, until it matches again). Cancels are never
  answered.
"""

from __future__ import annotations

import enum
import random
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from ib_anyio.sim._decode import Fields, _Text, _text_args, int_field
from ib_anyio.sim._encode import Encoder, pb, pb_message
from ib_anyio.sim._encode_order import num
from ib_anyio.sim._families import Family
from ib_anyio.sim._protocol import Version, text_message
from ib_anyio.sim._universe import UNIVERSE, Instrument

if TYPE_CHECKING:
    from ib_anyio.sim._server import _Connection

__all__ = ["FAMILY", "SCAN_CODES", "scanner_parameters_xml"]


class Out(enum.IntEnum):
    """Scanner requests (``ibapi.message.OUT``)."""

    REQ_SCANNER_SUBSCRIPTION = 22
    CANCEL_SCANNER_SUBSCRIPTION = 23
    REQ_SCANNER_PARAMETERS = 24


class In(enum.IntEnum):
    """Scanner answers (``ibapi.message.IN``)."""

    SCANNER_PARAMETERS = 19
    SCANNER_DATA = 20


_LINKING = 70
_SCANNER_GENERIC_OPTS = 143
_SCANNER_DATA_VERSION = 3

MAX_ROWS = 50
MAX_SUBSCRIPTIONS = 10
HMDS_ERROR = 162
HMDS_QUERY = 165
PROCESSING_ERROR = 322
NO_ITEMS = "Historical Market Data Service query message:no items retrieved"
LOCATION_TEXT = (
    "Historical Market Data Service error message:"
    "Market Scanner is not configured for one of the chosen locations."
)
TOO_MANY_TEXT = (
    "Error processing request.-'bW' : cause - "
    f"Only {MAX_SUBSCRIPTIONS} simultaneous API scanner subscriptions are allowed."
)
DUPLICATE_TEXT = (
    "Error processing request.-'bW' : cause - Duplicate ticker ID for API scanner subscription"
)


def unknown_scan_text(code: str) -> str:
    return f"Historical Market Data Service error message:Scanner type with code {code} is disabled"


# -- what the scanner knows -----------------------------------------------------------


@attrs.frozen
class _Location:
    code: str
    name: str
    instrument: str
    exchanges: frozenset[str]  # primary exchanges (stocks) or exchanges (futures)
    children: tuple[_Location, ...] = ()


_STK_LOCATIONS = _Location(
    "STK.US",
    "US Stocks",
    "STK",
    frozenset({"NASDAQ", "NYSE", "ARCA", "AMEX", "PINK"}),
    (
        _Location(
            "STK.US.MAJOR",
            "Listed/NASDAQ",
            "STK",
            frozenset({"NASDAQ", "NYSE", "ARCA", "AMEX"}),
            (
                _Location("STK.NYSE", "NYSE", "STK", frozenset({"NYSE"})),
                _Location("STK.NASDAQ", "NASDAQ", "STK", frozenset({"NASDAQ"})),
                _Location("STK.ARCA", "NYSE Arca", "STK", frozenset({"ARCA"})),
                _Location("STK.AMEX", "NYSE American", "STK", frozenset({"AMEX"})),
            ),
        ),
        _Location("STK.US.MINOR", "US OTC", "STK", frozenset({"PINK"})),
    ),
)
_FUT_LOCATIONS = _Location(
    "FUT.US",
    "US Futures",
    "FUT.US",
    frozenset({"CME", "CBOT", "NYMEX"}),
    (
        _Location("FUT.CME", "CME", "FUT.US", frozenset({"CME"})),
        _Location("FUT.CBOT", "CBOT", "FUT.US", frozenset({"CBOT"})),
    ),
)
_INSTRUMENTS = (("US Stocks", "STK", "STK"), ("US Futures", "FUT.US", "FUT"))


def _walk(location: _Location) -> list[_Location]:
    return [location, *(sub for child in location.children for sub in _walk(child))]


_LOCATIONS = {loc.code: loc for root in (_STK_LOCATIONS, _FUT_LOCATIONS) for loc in _walk(root)}
_SEC_TYPES = {code: sec_type for _, code, sec_type in _INSTRUMENTS}


@attrs.frozen
class _Row:
    """What a scan ranks: one instrument and its numbers now."""

    inst: Instrument
    price: float
    change: float  # percent since the previous close
    volume: int
    hotness: float  # volume against the instrument's average


#: Scan codes: display name, whether it suits futures, and the sort key (descending).
SCAN_CODES: dict[str, tuple[str, bool, Callable[[_Row], float]]] = {
    "TOP_PERC_GAIN": ("Top % Gainers", True, lambda r: r.change),
    "TOP_PERC_LOSE": ("Top % Losers", True, lambda r: -r.change),
    "MOST_ACTIVE": ("Most Active", True, lambda r: r.volume),
    "HOT_BY_VOLUME": ("Hot Contracts by Volume", True, lambda r: r.hotness),
    "HOT_BY_PRICE": ("Hot Contracts by Price", False, lambda r: abs(r.change)),
}

#: Market capitalisations in millions of USD (funds and futures have none).
_MARKET_CAPS = {"AAPL": 3_450_000.0, "MSFT": 3_120_000.0, "IBM": 195_000.0}

#: Filters: (code, display name, category, kind) ``kind`` being "above"/"below" bounds
#: of a value, or "choice" (stock type).
_FILTERS = (
    ("PRICE", "Price", "PriceVolume", "priceAbove", "priceBelow"),
    ("VOLUME", "Volume", "PriceVolume", "volumeAbove", ""),
    ("CHANGEPERC", "Change (%)", "PriceVolume", "changePercAbove", "changePercBelow"),
    (
        "MKTCAP",
        "Market Cap (USD, millions)",
        "Fundamentals",
        "marketCapAbove1e6",
        "marketCapBelow1e6",
    ),
)
_STOCK_TYPES = {
    "ALL": frozenset({"COMMON", "ETF", "ADR", "REIT"}),
    "CORP": frozenset({"COMMON"}),
    "ETF": frozenset({"ETF"}),
    "ADR": frozenset({"ADR"}),
    "REIT": frozenset({"REIT"}),
}


# -- the scanner parameters document --------------------------------------------------


def _element(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    child = ET.SubElement(parent, tag, attrib)
    if text is not None:
        child.text = text
    return child


def _location_tree(parent: ET.Element, locations: tuple[_Location, ...]) -> None:
    tree = _element(parent, "LocationTree", varName="locationTree")
    for loc in locations:
        node = _element(tree, "Location")
        _element(node, "displayName", loc.name)
        _element(node, "locationCode", loc.code)
        _element(node, "instruments", loc.instrument)
        _element(node, "routeExchange", "SMART" if loc.instrument == "STK" else "")
        _element(node, "delayedOnly", "false")
        _element(node, "access", "true")
        if loc.children:
            _location_tree(node, loc.children)


def scanner_parameters_xml() -> str:
    """The ``ScanParameterResponse`` document: what :func:`_scan` accepts, described the
    way TWS describes its scanners (ASCII, a few kilobytes)."""
    root = ET.Element("ScanParameterResponse")
    instruments = _element(root, "InstrumentList", varName="fullInstrumentList")
    filter_codes = ",".join(f[0] for f in _FILTERS)
    for name, code, sec_type in _INSTRUMENTS:
        inst = _element(instruments, "Instrument")
        _element(inst, "name", name)
        _element(inst, "type", code)
        _element(inst, "secType", sec_type)
        _element(inst, "filters", filter_codes if sec_type == "STK" else "PRICE,VOLUME,CHANGEPERC")
        _element(inst, "group", "STK.GLOBAL" if sec_type == "STK" else "FUT.GLOBAL")
        _element(inst, "shortName", "US" if sec_type == "STK" else "US Futures")
    _location_tree(root, (_STK_LOCATIONS, _FUT_LOCATIONS))
    scan_types = _element(root, "ScanTypeList", varName="scanTypeList")
    for code, (name, futures, _) in SCAN_CODES.items():
        scan = _element(scan_types, "ScanType")
        _element(scan, "displayName", name)
        _element(scan, "scanCode", code)
        _element(scan, "instruments", "STK,FUT.US" if futures else "STK")
        _element(scan, "absoluteColumns", "false")
        _element(scan, "supportsSorting", "true")
        _element(scan, "respSizeLimit", str(MAX_ROWS))
        _element(scan, "snapshotSizeLimit", str(MAX_ROWS))
        _element(scan, "searchDefault", "false")
        _element(scan, "access", "unrestricted")
    filters = _element(root, "FilterList", varName="filterList")
    for filter_id, name, category, above, below in _FILTERS:
        node = _element(filters, "RangeFilter")
        _element(node, "id", filter_id)
        _element(node, "category", category)
        _element(node, "histogram", "false")
        _element(node, "access", "unrestricted")
        for code, side in ((above, "Above"), (below, "Below")):
            if not code:
                continue
            field = _element(node, "AbstractField", type="DoubleField")
            _element(field, "code", code)
            _element(field, "displayName", f"{name} {side}")
            _element(field, "abbrev", f"{name} {side.lower()}")
            _element(field, "dontAllowNegative", "false" if filter_id == "CHANGEPERC" else "true")
            _element(field, "varName", code)
    stock_types = _element(filters, "SimpleFilter")
    _element(stock_types, "id", "STKTYPE")
    _element(stock_types, "category", "Instrument")
    field = _element(stock_types, "AbstractField", type="ComboField")
    _element(field, "code", "stockTypeFilter")
    _element(field, "displayName", "Stock Type")
    values = _element(field, "ComboValues")
    for value in _STOCK_TYPES:
        _element(_element(values, "ComboValue"), "code", value)
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


# -- the scan --------------------------------------------------------------------------


def _parse_options(text: str) -> dict[str, str]:
    """``tag=value;`` pairs (EClient's text for a TagValue list) as a dict."""
    options = {}
    for pair in text.split(";"):
        tag, sep, value = pair.partition("=")
        if sep and tag:
            options[tag] = value
    return options


def _float(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(str(value))
    except ValueError:
        return None


@attrs.frozen
class _Scan:
    """A validated subscription: which instruments, filtered how, ranked how."""

    instruments: tuple[Instrument, ...]
    key: Callable[[_Row], float]
    rows: int
    bounds: dict[str, float]
    stock_types: frozenset[str]

    def rank(self, conn: _Connection) -> list[Instrument]:
        """The instruments that pass the filters now, best first."""
        market = conn.server.market
        seed = conn.server.seed
        rows = []
        for inst in self.instruments:
            q = market.quote(inst)
            price = q.last or (q.bid + q.ask) / 2
            change = (price / inst.base_price - 1) * 100
            average = random.Random(f"{seed}:scanner:volume:{inst.con_id}").randint(40_000, 120_000)
            rows.append(_Row(inst, price, change, q.volume, q.volume / average))
        passing = [r for r in rows if self._passes(r)]
        passing.sort(key=lambda r: (-self.key(r), r.inst.symbol))
        return [r.inst for r in passing[: self.rows]]

    def _passes(self, row: _Row) -> bool:
        b = self.bounds
        cap = _MARKET_CAPS.get(row.inst.symbol)
        checks = (
            ("priceAbove", row.price, 1),
            ("priceBelow", row.price, -1),
            ("volumeAbove", row.volume, 1),
            ("changePercAbove", row.change, 1),
            ("changePercBelow", row.change, -1),
            ("marketCapAbove1e6", cap, 1),
            ("marketCapBelow1e6", cap, -1),
        )
        for name, value, sign in checks:
            if name not in b:
                continue
            if value is None or (value - b[name]) * sign <= 0:
                return False
        stock_type = row.inst.stock_type
        return row.inst.sec_type != "STK" or stock_type in self.stock_types


def _scan(fields: Fields) -> _Scan | tuple[int, str]:
    """The scan a subscription asks for, or TWS's error (code, text)."""
    sub = fields.get("subscription")
    sub = sub if isinstance(sub, dict) else {}
    instrument = str(sub.get("instrument", ""))
    location = _LOCATIONS.get(str(sub.get("locationCode", "")))
    if location is None or location.instrument != instrument:
        return HMDS_ERROR, LOCATION_TEXT
    scan_code = str(sub.get("scanCode", ""))
    entry = SCAN_CODES.get(scan_code)
    if entry is None or (instrument != "STK" and not entry[1]):
        return HMDS_ERROR, unknown_scan_text(scan_code)
    sec_type = _SEC_TYPES[instrument]
    instruments = tuple(
        inst
        for inst in UNIVERSE
        if inst.sec_type == sec_type
        and (inst.primary_exchange if sec_type == "STK" else inst.exchange) in location.exchanges
    )
    # the subscription's own fields, then the filter options (which win)
    bounds: dict[str, float] = {}
    for name, key in (
        ("abovePrice", "priceAbove"),
        ("belowPrice", "priceBelow"),
        ("aboveVolume", "volumeAbove"),
    ):
        value = _float(sub.get(name))
        if value is not None:
            bounds[key] = value
    for name, key in (
        ("marketCapAbove", "marketCapAbove1e6"),
        ("marketCapBelow", "marketCapBelow1e6"),
    ):
        value = _float(sub.get(name))
        if value is not None:
            bounds[key] = value / 1e6  # the subscription gives USD, the filter millions
    options = fields.get("scannerSubscriptionFilterOptions")
    for tag, text in (options if isinstance(options, dict) else {}).items():
        value = _float(text)
        if value is not None:
            bounds[str(tag)] = value
    stock_type = str(sub.get("stockTypeFilter") or "ALL").upper()
    rows = int_field(sub, "numberOfRows")
    return _Scan(
        instruments,
        entry[2],
        MAX_ROWS if rows <= 0 else min(rows, MAX_ROWS),
        bounds,
        _STOCK_TYPES.get(stock_type, _STOCK_TYPES["ALL"]),
    )


# -- encoding --------------------------------------------------------------------------


def _text(enc: Encoder, msg: int, fields: Iterable[object]) -> bytes:
    """A framed text message for the encoder's version."""
    return text_message(msg, fields, enc.version)


def scanner_parameters(enc: Encoder, xml: str) -> bytes:
    """scannerParameters: the XML document."""
    if enc.version >= Version.PROTOBUF_SCAN_DATA:
        return pb_message(In.SCANNER_PARAMETERS, "ScannerParameters", xml=xml)
    return _text(enc, In.SCANNER_PARAMETERS, (1, xml))


def _contract_proto(inst: Instrument) -> Any:
    fields: dict[str, Any] = {
        "conId": inst.con_id,
        "symbol": inst.symbol,
        "secType": inst.sec_type,
        "exchange": inst.exchange,
        "currency": inst.currency,
        "localSymbol": inst.local_symbol,
        "tradingClass": inst.trading_class,
    }
    if inst.expiry:
        fields["lastTradeDateOrContractMonth"] = inst.expiry
    if inst.strike:
        fields["strike"] = inst.strike
    if inst.right:
        fields["right"] = inst.right
    return pb("Contract")(**fields)


def scanner_data(enc: Encoder, req_id: int, ranked: list[Instrument]) -> bytes:
    """One round: scannerData with every row (ibapi then calls scannerDataEnd)."""
    if enc.version >= Version.PROTOBUF_SCAN_DATA:
        element = pb("ScannerDataElement")
        return pb_message(
            In.SCANNER_DATA,
            "ScannerData",
            reqId=req_id,
            scannerDataElement=[
                element(rank=rank, contract=_contract_proto(inst), marketName=inst.market_name)
                for rank, inst in enumerate(ranked)
            ],
        )
    f: list[object] = [_SCANNER_DATA_VERSION, req_id, len(ranked)]
    for rank, inst in enumerate(ranked):
        f += [rank, inst.con_id, inst.symbol, inst.sec_type, inst.expiry, num(inst.strike)]
        f += [inst.right, inst.exchange, inst.currency, inst.local_symbol, inst.market_name]
        f += [inst.trading_class, "", "", "", ""]  # distance, benchmark, projection, legs
    return _text(enc, In.SCANNER_DATA, f)


# -- decoding --------------------------------------------------------------------------


def _optional_number(f: _Text) -> float | None:
    text = f.text()
    value = _float(text)
    return None if value is None or value > 1e300 or value >= 2**31 - 1 else value


def _text_subscription(f: _Text, v: int) -> Fields:
    if v < _SCANNER_GENERIC_OPTS:
        f.skip()  # version
    req_id = f.integer()
    rows = f.text()
    sub: Fields = {"numberOfRows": int(rows) if rows else -1}
    for name in ("instrument", "locationCode", "scanCode"):
        sub[name] = f.text()
    for name in ("abovePrice", "belowPrice", "aboveVolume", "marketCapAbove", "marketCapBelow"):
        sub[name] = _optional_number(f)
    for name in ("moodyRatingAbove", "moodyRatingBelow", "spRatingAbove", "spRatingBelow"):
        sub[name] = f.text()
    sub["maturityDateAbove"] = f.text()
    sub["maturityDateBelow"] = f.text()
    sub["couponRateAbove"] = _optional_number(f)
    sub["couponRateBelow"] = _optional_number(f)
    sub["excludeConvertible"] = f.flag()
    sub["averageOptionVolumeAbove"] = _optional_number(f)
    sub["scannerSettingPairs"] = f.text()
    sub["stockTypeFilter"] = f.text()
    fields: Fields = {"reqId": req_id, "subscription": sub}
    filters = f.text() if v >= _SCANNER_GENERIC_OPTS else ""
    options = f.text() if v >= _LINKING else ""
    fields["scannerSubscriptionFilterOptions"] = _parse_options(filters)
    fields["scannerSubscriptionOptions"] = _parse_options(options)
    return fields


def _proto_subscription(p: Any) -> Fields:
    s = p.scannerSubscription

    def optional(name: str) -> object:
        return getattr(s, name) if s.HasField(name) else None

    sub: Fields = {
        "numberOfRows": s.numberOfRows if s.HasField("numberOfRows") else -1,
        "instrument": s.instrument,
        "locationCode": s.locationCode,
        "scanCode": s.scanCode,
    }
    for name in ("abovePrice", "belowPrice", "aboveVolume", "marketCapAbove", "marketCapBelow"):
        sub[name] = optional(name)
    for name in ("moodyRatingAbove", "moodyRatingBelow", "spRatingAbove", "spRatingBelow"):
        sub[name] = getattr(s, name)
    sub["maturityDateAbove"] = s.maturityDateAbove
    sub["maturityDateBelow"] = s.maturityDateBelow
    sub["couponRateAbove"] = optional("couponRateAbove")
    sub["couponRateBelow"] = optional("couponRateBelow")
    sub["excludeConvertible"] = s.excludeConvertible
    sub["averageOptionVolumeAbove"] = optional("averageOptionVolumeAbove")
    sub["scannerSettingPairs"] = s.scannerSettingPairs
    sub["stockTypeFilter"] = s.stockTypeFilter
    return {
        "reqId": p.reqId,
        "subscription": sub,
        "scannerSubscriptionFilterOptions": dict(s.scannerSubscriptionFilterOptions),
        "scannerSubscriptionOptions": dict(s.scannerSubscriptionOptions),
    }


# -- handlers --------------------------------------------------------------------------

_KIND = "scanner"


async def req_scanner_parameters(conn: _Connection, fields: Fields) -> None:
    await conn.send(scanner_parameters(conn.encoder, scanner_parameters_xml()))


async def req_scanner_subscription(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    if (_KIND, req_id) in conn.streams:
        await conn.send(conn._error(req_id, PROCESSING_ERROR, DUPLICATE_TEXT))
        return
    scan = _scan(fields)
    if isinstance(scan, tuple):
        await conn.send(conn._error(req_id, *scan))
        return
    running = sum(
        1 for other in conn.server._conns.values() for kind, _ in other.streams if kind == _KIND
    )
    if running >= MAX_SUBSCRIPTIONS:
        await conn.send(conn._error(req_id, PROCESSING_ERROR, TOO_MANY_TEXT))
        return
    conn._start(_KIND, req_id, lambda: _stream(conn, req_id, scan))


async def _stream(conn: _Connection, req_id: int, scan: _Scan) -> None:
    """A round every ``tick_interval``; an empty scan is reported once (165)."""
    said_empty = False
    while True:
        ranked = scan.rank(conn)
        if ranked:
            await conn.send(scanner_data(conn.encoder, req_id, ranked))
            said_empty = False
        elif not said_empty:
            await conn.send(conn._error(req_id, HMDS_QUERY, NO_ITEMS))
            said_empty = True
        await anyio.sleep(conn.server.tick_interval)


async def cancel_scanner_subscription(conn: _Connection, fields: Fields) -> None:
    conn._cancel(_KIND, int_field(fields, "reqId"))


FAMILY = Family(
    "scanners",
    text={
        Out.REQ_SCANNER_SUBSCRIPTION: _text_subscription,
        Out.CANCEL_SCANNER_SUBSCRIPTION: _text_args(("reqId", _Text.integer)),
        Out.REQ_SCANNER_PARAMETERS: _text_args(),
    },
    proto={
        Out.REQ_SCANNER_SUBSCRIPTION: ("ScannerSubscriptionRequest", _proto_subscription),
        Out.CANCEL_SCANNER_SUBSCRIPTION: (
            "CancelScannerSubscription",
            lambda p: {"reqId": p.reqId},
        ),
        Out.REQ_SCANNER_PARAMETERS: ("ScannerParametersRequest", lambda p: {}),
    },
    handlers={
        Out.REQ_SCANNER_SUBSCRIPTION: req_scanner_subscription,
        Out.CANCEL_SCANNER_SUBSCRIPTION: cancel_scanner_subscription,
        Out.REQ_SCANNER_PARAMETERS: req_scanner_parameters,
    },
)
