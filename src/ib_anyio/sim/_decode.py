"""Client-to-server requests: names and named fields, decoded per negotiated version.

Facts relied on (from ``EClient`` in ibapi's ``client.py``, all releases 9.81 to 10.51):

* A 10.x client sends a request as protobuf (id + 200) once the server version reaches
  that request's threshold in ``getServerVersionForMessage``: 205 contract details, 206
  market data (``reqMktData``, ``cancelMktData``, ``reqMarketDataType``), 207 accounts,
  208 historical data, 213 ``startApi``/``reqIds``/``reqCurrentTime``/... Protobuf
  requests are parsed with ibapi's own ``ibapi.protobuf`` classes.
* Text requests start with a version field, except ``reqHistoricalData`` from 124
  (``SYNT_REALTIME_BARS``) and ``reqCurrentTimeInMillis`` (no fields at all).
* Every served version (>= 100) sends the contract of market data, contract details
  and historical data requests as ``conId, symbol, secType,
  lastTradeDateOrContractMonth, strike, right, multiplier, exchange, primaryExchange,
  currency, localSymbol, tradingClass``. Strike is empty when unset (ibapi 10) or
  ``0.0`` (ibapi 9.81); booleans are ``0``/``1``.

Decoded requests are ``(name, fields)`` where ``name`` is the EClient method name
(``"reqMktData"``) and ``fields`` uses EClient's parameter names, with ``reqId`` an int
and ``contract`` a dict of Contract attribute names. Requests the simulator does not
serve keep their raw text fields (``{"fields": [...], "reqId": 5}``, with ``reqId`` or
``orderId`` where the request has one) or, in protobuf, the message's fields under
their protobuf names (``{"reqId": 5, "contract": {...}}``).
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable
from typing import Any

from ._encode import pb
from ._protocol import Version

Fields = dict[str, object]


class Out(enum.IntEnum):
    """Ids of the requests the simulator decodes (``ibapi.message.OUT``)."""

    REQ_MKT_DATA = 1
    CANCEL_MKT_DATA = 2
    REQ_OPEN_ORDERS = 5
    REQ_ACCT_DATA = 6
    REQ_EXECUTIONS = 7
    REQ_IDS = 8
    REQ_CONTRACT_DATA = 9
    REQ_ALL_OPEN_ORDERS = 16
    REQ_MANAGED_ACCTS = 17
    REQ_HISTORICAL_DATA = 20
    CANCEL_HISTORICAL_DATA = 25
    REQ_CURRENT_TIME = 49
    REQ_MARKET_DATA_TYPE = 59
    REQ_POSITIONS = 61
    START_API = 71
    REQ_COMPLETED_ORDERS = 99
    REQ_CURRENT_TIME_IN_MILLIS = 105


# EClient method names that are not the camel-cased OUT name
_NAME_OVERRIDES = {
    "REQ_CONTRACT_DATA": "reqContractDetails",
    "REQ_ACCT_DATA": "reqAccountUpdates",
    "REQ_FA": "requestFA",
    "REPLACE_FA": "replaceFA",
    "REQ_CALC_IMPLIED_VOLAT": "calculateImpliedVolatility",
    "CANCEL_CALC_IMPLIED_VOLAT": "cancelCalculateImpliedVolatility",
    "REQ_CALC_OPTION_PRICE": "calculateOptionPrice",
    "CANCEL_CALC_OPTION_PRICE": "cancelCalculateOptionPrice",
    "SET_SERVER_LOGLEVEL": "setServerLogLevel",
    "REQ_HEAD_TIMESTAMP": "reqHeadTimeStamp",
    "CANCEL_HEAD_TIMESTAMP": "cancelHeadTimeStamp",
    "REQ_PNL": "reqPnL",
    "CANCEL_PNL": "cancelPnL",
    "REQ_PNL_SINGLE": "reqPnLSingle",
    "CANCEL_PNL_SINGLE": "cancelPnLSingle",
}


def _out_names() -> dict[int, str]:
    try:
        from ibapi.message import OUT
    except ImportError:  # pragma: no cover - ibapi is a dependency
        members: dict[str, int] = {}
    else:
        # an IntEnum in ibapi 10.x, a plain class of int attributes in 9.x
        items = OUT.__members__.items() if hasattr(OUT, "__members__") else vars(OUT).items()
        members = {k: int(v) for k, v in items if k.isupper() and isinstance(v, int)}
    members.update({member.name: int(member.value) for member in Out})
    names = {}
    for const, msg_id in members.items():
        first, *rest = const.lower().split("_")
        names[msg_id] = _NAME_OVERRIDES.get(const, first + "".join(w.title() for w in rest))
    return names


_NAMES = _out_names()


def request_name(msg_id: int) -> str:
    """EClient's name for an outgoing message id, e.g. ``1`` -> ``"reqMktData"``."""
    return _NAMES.get(msg_id, f"unknown{msg_id}")


class _Text:
    """Cursor over the NUL-terminated text fields of one request."""

    def __init__(self, body: bytes) -> None:
        self.items = [item.decode("utf-8", "replace") for item in body.split(b"\0")[:-1]]
        self._pos = 0

    def text(self) -> str:
        if self._pos >= len(self.items):
            raise ValueError("request has fewer fields than its layout")
        self._pos += 1
        return self.items[self._pos - 1]

    def integer(self) -> int:
        text = self.text()
        return int(text) if text else 0

    def number(self) -> float:
        text = self.text()
        value = float(text) if text else 0.0
        return 0.0 if value > 1e300 else value  # UNSET_DOUBLE

    def flag(self) -> bool:
        return self.text().lower() in ("1", "true")

    def skip(self, count: int = 1) -> None:
        for _ in range(count):
            self.text()


def _text_contract(f: _Text) -> Fields:
    return {
        "conId": f.integer(),
        "symbol": f.text(),
        "secType": f.text(),
        "lastTradeDateOrContractMonth": f.text(),
        "strike": f.number(),
        "right": f.text(),
        "multiplier": f.text(),
        "exchange": f.text(),
        "primaryExchange": f.text(),
        "currency": f.text(),
        "localSymbol": f.text(),
        "tradingClass": f.text(),
    }


def _skip_combo_legs(f: _Text, contract: Fields) -> None:
    if contract["secType"] == "BAG":
        f.skip(4 * f.integer())


def _text_mkt_data(f: _Text, v: int) -> Fields:
    f.skip()  # version
    req_id = f.integer()
    contract = _text_contract(f)
    _skip_combo_legs(f, contract)
    if f.flag():  # delta-neutral contract: conId, delta, price
        f.skip(3)
    fields: Fields = {"reqId": req_id, "contract": contract}
    fields["genericTickList"] = f.text()
    fields["snapshot"] = f.flag()
    fields["regulatorySnapshot"] = f.flag() if v >= Version.REQ_SMART_COMPONENTS else False
    fields["mktDataOptions"] = f.text()
    return fields


def _text_contract_data(f: _Text, v: int) -> Fields:
    f.skip()  # version
    req_id = f.integer()
    contract = _text_contract(f)
    contract["includeExpired"] = f.flag()
    contract["secIdType"] = f.text()
    contract["secId"] = f.text()
    if v >= Version.BOND_ISSUERID:
        contract["issuerId"] = f.text()
    return {"reqId": req_id, "contract": contract}


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


def _text_start_api(f: _Text, v: int) -> Fields:
    f.skip()
    client_id = f.integer()
    options = f.text() if v >= Version.OPTIONAL_CAPABILITIES else ""
    return {"clientId": client_id, "optionalCapabilities": options}


def _text_account_updates(f: _Text, v: int) -> Fields:
    f.skip()
    return {"subscribe": f.flag(), "acctCode": f.text()}


def _text_versioned(*names: str) -> Callable[[_Text, int], Fields]:
    """A decoder for ``version, <int fields...>`` layouts."""

    def decode(f: _Text, v: int) -> Fields:
        f.skip()
        return {name: f.integer() for name in names}

    return decode


_TEXT: dict[int, Callable[[_Text, int], Fields]] = {
    Out.REQ_MKT_DATA: _text_mkt_data,
    Out.CANCEL_MKT_DATA: _text_versioned("reqId"),
    Out.REQ_IDS: _text_versioned("numIds"),
    Out.REQ_CONTRACT_DATA: _text_contract_data,
    Out.REQ_MANAGED_ACCTS: _text_versioned(),
    Out.REQ_HISTORICAL_DATA: _text_historical_data,
    Out.CANCEL_HISTORICAL_DATA: _text_versioned("reqId"),
    Out.REQ_CURRENT_TIME: _text_versioned(),
    Out.REQ_MARKET_DATA_TYPE: _text_versioned("marketDataType"),
    Out.START_API: _text_start_api,
    Out.REQ_ACCT_DATA: _text_account_updates,
    Out.REQ_CURRENT_TIME_IN_MILLIS: lambda f, v: {},
}


def _proto_contract(p: Any) -> Fields:
    return {
        "conId": p.conId,
        "symbol": p.symbol,
        "secType": p.secType,
        "lastTradeDateOrContractMonth": p.lastTradeDateOrContractMonth,
        "strike": p.strike,
        "right": p.right,
        "multiplier": f"{p.multiplier:g}" if p.multiplier else "",
        "exchange": p.exchange,
        "primaryExchange": p.primaryExch,
        "currency": p.currency,
        "localSymbol": p.localSymbol,
        "tradingClass": p.tradingClass,
        "includeExpired": p.includeExpired,
        "secIdType": p.secIdType,
        "secId": p.secId,
        "issuerId": p.issuerId,
    }


def _tag_values(items: Any) -> str:
    return "".join(f"{item.key}={item.value};" for item in items)


def _proto_mkt_data(p: Any) -> Fields:
    return {
        "reqId": p.reqId,
        "contract": _proto_contract(p.contract),
        "genericTickList": p.genericTickList,
        "snapshot": p.snapshot,
        "regulatorySnapshot": p.regulatorySnapshot,
        "mktDataOptions": _tag_values(p.marketDataOptions),
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


_PROTO: dict[int, tuple[str, Callable[[Any], Fields]]] = {
    Out.REQ_MKT_DATA: ("MarketDataRequest", _proto_mkt_data),
    Out.CANCEL_MKT_DATA: ("CancelMarketData", lambda p: {"reqId": p.reqId}),
    Out.REQ_IDS: ("IdsRequest", lambda p: {"numIds": p.numIds}),
    Out.REQ_CONTRACT_DATA: (
        "ContractDataRequest",
        lambda p: {"reqId": p.reqId, "contract": _proto_contract(p.contract)},
    ),
    Out.REQ_MANAGED_ACCTS: ("ManagedAccountsRequest", lambda p: {}),
    Out.REQ_HISTORICAL_DATA: ("HistoricalDataRequest", _proto_historical_data),
    Out.CANCEL_HISTORICAL_DATA: ("CancelHistoricalData", lambda p: {"reqId": p.reqId}),
    Out.REQ_CURRENT_TIME: ("CurrentTimeRequest", lambda p: {}),
    Out.REQ_MARKET_DATA_TYPE: (
        "MarketDataTypeRequest",
        lambda p: {"marketDataType": p.marketDataType},
    ),
    Out.START_API: (
        "StartApiRequest",
        lambda p: {"clientId": p.clientId, "optionalCapabilities": p.optionalCapabilities},
    ),
    Out.REQ_CURRENT_TIME_IN_MILLIS: ("CurrentTimeInMillisRequest", lambda p: {}),
    Out.REQ_ACCT_DATA: (
        "AccountDataRequest",
        lambda p: {"subscribe": p.subscribe, "acctCode": p.acctCode},
    ),
}


# Requests the simulator records without serving them. Text: where the request's id
# sits (after the version field, or first when the request never had one), read from
# EClient's code. Protobuf: the ibapi.protobuf class EClient sends (its fields are
# recorded under the protobuf names).
_TEXT_IDS: dict[int, tuple[str, int]] = {
    **dict.fromkeys((7, 10, 11, 21, 22, 23, 50, 51, 54, 55, 56, 57), ("reqId", 1)),
    **dict.fromkeys((62, 63, 67, 68, 69, 70, 74, 75, 76, 77), ("reqId", 1)),
    **dict.fromkeys((78, 79, 81, 83, 84, 86, 87, 88, 89, 90, 92, 93), ("reqId", 0)),
    **dict.fromkeys((94, 95, 96, 97, 98, 100, 101, 102, 103, 104), ("reqId", 0)),
    3: ("orderId", 1),
    4: ("orderId", 1),
}
_PROTO_CLASSES: dict[int, str] = {
    3: "PlaceOrderRequest",
    4: "CancelOrderRequest",
    5: "OpenOrdersRequest",
    6: "AccountDataRequest",
    7: "ExecutionRequest",
    10: "MarketDepthRequest",
    11: "CancelMarketDepth",
    12: "NewsBulletinsRequest",
    13: "CancelNewsBulletins",
    14: "SetServerLogLevelRequest",
    15: "AutoOpenOrdersRequest",
    16: "AllOpenOrdersRequest",
    18: "FARequest",
    19: "FAReplace",
    21: "ExerciseOptionsRequest",
    22: "ScannerSubscriptionRequest",
    23: "CancelScannerSubscription",
    24: "ScannerParametersRequest",
    50: "RealTimeBarsRequest",
    51: "CancelRealTimeBars",
    54: "CalculateImpliedVolatilityRequest",
    55: "CalculateOptionPriceRequest",
    56: "CancelCalculateImpliedVolatility",
    57: "CancelCalculateOptionPrice",
    58: "GlobalCancelRequest",
    61: "PositionsRequest",
    62: "AccountSummaryRequest",
    63: "CancelAccountSummary",
    64: "CancelPositions",
    65: "VerifyRequest",
    66: "VerifyMessageRequest",
    67: "QueryDisplayGroupsRequest",
    68: "SubscribeToGroupEventsRequest",
    69: "UpdateDisplayGroupRequest",
    70: "UnsubscribeFromGroupEventsRequest",
    74: "PositionsMultiRequest",
    75: "CancelPositionsMulti",
    76: "AccountUpdatesMultiRequest",
    77: "CancelAccountUpdatesMulti",
    78: "SecDefOptParamsRequest",
    79: "SoftDollarTiersRequest",
    80: "FamilyCodesRequest",
    81: "MatchingSymbolsRequest",
    82: "MarketDepthExchangesRequest",
    83: "SmartComponentsRequest",
    84: "NewsArticleRequest",
    85: "NewsProvidersRequest",
    86: "HistoricalNewsRequest",
    87: "HeadTimestampRequest",
    88: "HistogramDataRequest",
    89: "CancelHistogramData",
    90: "CancelHeadTimestamp",
    91: "MarketRuleRequest",
    92: "PnLRequest",
    93: "CancelPnL",
    94: "PnLSingleRequest",
    95: "CancelPnLSingle",
    96: "HistoricalTicksRequest",
    97: "TickByTickRequest",
    98: "CancelTickByTick",
    99: "CompletedOrdersRequest",
    100: "WshMetaDataRequest",
    101: "CancelWshMetaData",
    102: "WshEventDataRequest",
    103: "CancelWshEventData",
    104: "UserInfoRequest",
    108: "ConfigRequest",
    109: "UpdateConfigRequest",
}


def _unserved(msg_id: int, is_protobuf: bool, body: bytes) -> Fields:
    if is_protobuf:
        class_name = _PROTO_CLASSES.get(msg_id)
        if class_name is None:
            return {"protobuf": body}
        # imported by name: protobuf ships no type stubs (and ibapi 9.x no protobuf)
        json_format: Any = importlib.import_module("google.protobuf.json_format")
        message = pb(class_name).FromString(body)
        return dict(json_format.MessageToDict(message, preserving_proto_field_name=True))
    items = _Text(body).items
    fields: Fields = {"fields": items}
    if msg_id in _TEXT_IDS:
        key, index = _TEXT_IDS[msg_id]
        fields[key] = int(items[index])
    return fields


def decode_request(msg_id: int, is_protobuf: bool, body: bytes, version: int) -> tuple[str, Fields]:
    """Name and fields of one client message. Never raises for malformed input: what cannot
    be decoded is returned raw, with ``"decodeError"`` saying why."""
    name = request_name(msg_id)
    try:
        if is_protobuf and msg_id in _PROTO:
            class_name, convert = _PROTO[msg_id]
            return name, convert(pb(class_name).FromString(body))
        if not is_protobuf and msg_id in _TEXT:
            return name, _TEXT[msg_id](_Text(body), version)
        return name, _unserved(msg_id, is_protobuf, body)
    except Exception as exc:  # malformed or unexpected input must not break the server
        raw: object = body if is_protobuf else _Text(body).items
        return name, {"protobuf" if is_protobuf else "fields": raw, "decodeError": repr(exc)}
