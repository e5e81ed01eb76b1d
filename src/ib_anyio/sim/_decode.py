"""Client-to-server requests: names and named fields, decoded per negotiated version.

Facts relied on (from ``EClient`` in ibapi's ``client.py``, all releases 9.81 to 10.51):

* A 10.x client sends a request as protobuf (id + 200) once the server version reaches
  that request's threshold in ``getServerVersionForMessage``: 205 contract details, 206
  market data (``reqMktData``, ``cancelMktData``, ``reqMarketDataType``), 207 accounts,
  208 historical data, 213 ``startApi``/``reqIds``/``reqCurrentTime``/... Protobuf
  requests are parsed with ibapi's own ``ibapi.protobuf`` classes.
* Text requests start with a version field, except ``reqHistoricalData`` from 124
  (``SYNT_REALTIME_BARS``) and ``reqCurrentTimeInMillis`` (no fields at all).
* Every served version (>= 100) sends the contract of market data, contract details,
  historical data and real-time bars requests as ``conId, symbol, secType,
  lastTradeDateOrContractMonth, strike, right, multiplier, exchange, primaryExchange,
  currency, localSymbol, tradingClass``. Strike is empty when unset (ibapi 10) or
  ``0.0`` (ibapi 9.81); booleans are ``0``/``1``.

* Orders and the account (text below the protobuf thresholds 201 ``reqExecutions``, 203
  ``placeOrder``/``cancelOrder``/``reqGlobalCancel``, 204 open/completed orders, 207
  positions and account summary/updates, 210 PnL, 211 ``exerciseOptions``):

  - ``placeOrder``: the layout is learned from the installed ibapi's ``EClient`` per
    version (see :mod:`._decode_order`); no version field from 145 (``ORDER_CONTAINER``):
    the order id comes first, then the contract's ``conId``.
  - ``cancelOrder``: ``version`` (below 192), ``orderId``, ``manualOrderCancelTime``
    (from 169), three empty RFQ fields (187 to 189), ``extOperator`` and
    ``manualOrderIndicator`` (from 192, ``CME_TAGGING_FIELDS``).
  - ``reqGlobalCancel``: only ``version`` below 192; from 192 only ``extOperator``,
    ``manualOrderIndicator``.
  - ``reqExecutions``: ``version, reqId`` and the filter's ``clientId, acctCode, time,
    symbol, secType, exchange, side``, then from 200 ``lastNDays`` and a counted list of
    ``specificDates``.
  - ``exerciseOptions``: ``version, reqId``, the contract without ``primaryExchange``,
    ``exerciseAction, exerciseQuantity, account, override``, then ``manualOrderTime``
    (180), ``customerAccount`` (183), ``professionalCustomer`` (184).
  - No version field ever: ``reqCompletedOrders`` (``apiOnly``), ``reqPnL``,
    ``cancelPnL``, ``reqPnLSingle``, ``cancelPnLSingle``. A version field and nothing
    else: ``reqOpenOrders``, ``reqAllOpenOrders``, ``reqPositions``, ``cancelPositions``.
    ``version`` then the arguments in order: ``reqAutoOpenOrders``,
    ``reqAccountSummary``, ``cancelAccountSummary``, ``reqPositionsMulti``,
    ``cancelPositionsMulti``, ``reqAccountUpdatesMulti``, ``cancelAccountUpdatesMulti``.

Decoded requests are ``(name, fields)`` where ``name`` is the EClient method name
(``"reqMktData"``) and ``fields`` uses EClient's parameter names, with ``reqId`` an int
and ``contract`` a dict of Contract attribute names (``reqPnLSingle``'s ``conid`` is
``conId``; ``reqExecutions`` has ``execFilter``, a dict of ExecutionFilter attributes
whose ``specificDates`` is always a list; the order-cancel requests carry the
``OrderCancel`` attributes the version sends, ``cancelOrder`` always a
``manualOrderCancelTime``). Requests the simulator does not serve keep their raw text
fields (``{"fields": [...], "reqId": 5}``, with ``reqId`` or ``orderId`` where the
request has one, at its place for the version: :func:`text_request_id`) or, in protobuf,
the message's fields under their protobuf names (``{"reqId": 5, "contract": {...}}``).
A request that fails to decode is returned raw with ``"decodeError"``, and its id when
that can still be read.
"""

from __future__ import annotations

import enum
import functools
import importlib
from collections.abc import Callable
from typing import Any

from ._decode_order import (
    UNSET_INTEGER,
    decode_place_order_proto,
    decode_place_order_text,
    proto_contract,
)
from ._decode_order import order_from_fields as order_from_fields
from ._encode import pb
from ._protocol import Version

Fields = dict[str, object]


class _Since:
    """Server versions (``ibapi.server_versions``) at which request layouts change."""

    SCANNER_GENERIC_OPTS = 143
    ORDER_CONTAINER = 145
    REPLACE_FA_END = 157
    MANUAL_ORDER_TIME = 169
    MANUAL_ORDER_TIME_EXERCISE_OPTIONS = 180
    CUSTOMER_ACCOUNT = 183
    PROFESSIONAL_CUSTOMER = 184
    RFQ_FIELDS = 187
    UNDO_RFQ_FIELDS = 190
    CME_TAGGING_FIELDS = 192
    PARAMETRIZED_DAYS_OF_EXECUTIONS = 200


class Out(enum.IntEnum):
    """Ids of the requests the simulator decodes (``ibapi.message.OUT``)."""

    REQ_MKT_DATA = 1
    CANCEL_MKT_DATA = 2
    PLACE_ORDER = 3
    CANCEL_ORDER = 4
    REQ_OPEN_ORDERS = 5
    REQ_ACCT_DATA = 6
    REQ_EXECUTIONS = 7
    REQ_IDS = 8
    REQ_CONTRACT_DATA = 9
    REQ_AUTO_OPEN_ORDERS = 15
    REQ_ALL_OPEN_ORDERS = 16
    REQ_MANAGED_ACCTS = 17
    REQ_HISTORICAL_DATA = 20
    EXERCISE_OPTIONS = 21
    CANCEL_HISTORICAL_DATA = 25
    REQ_CURRENT_TIME = 49
    REQ_REAL_TIME_BARS = 50
    CANCEL_REAL_TIME_BARS = 51
    REQ_GLOBAL_CANCEL = 58
    REQ_MARKET_DATA_TYPE = 59
    REQ_POSITIONS = 61
    REQ_ACCOUNT_SUMMARY = 62
    CANCEL_ACCOUNT_SUMMARY = 63
    CANCEL_POSITIONS = 64
    START_API = 71
    REQ_POSITIONS_MULTI = 74
    CANCEL_POSITIONS_MULTI = 75
    REQ_ACCOUNT_UPDATES_MULTI = 76
    CANCEL_ACCOUNT_UPDATES_MULTI = 77
    REQ_PNL = 92
    CANCEL_PNL = 93
    REQ_PNL_SINGLE = 94
    CANCEL_PNL_SINGLE = 95
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


# Requests ibapi 10.50 no longer has (9.81 to 10.45 send them)
_RETIRED_NAMES = {52: "reqFundamentalData", 53: "cancelFundamentalData"}


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
    names = dict(_RETIRED_NAMES)
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

    def count(self) -> int:
        n = self.integer()
        if not 0 <= n <= 10_000:
            raise ValueError(f"bad item count {n}")
        return n

    def skip(self, count: int = 1) -> None:
        for _ in range(count):
            self.text()


def int_field(fields: Fields, key: str) -> int:
    """An integer field of a decoded request, 0 when it is missing or not an int."""
    value = fields.get(key, 0)
    return value if isinstance(value, int) else 0


def _text_contract(f: _Text, *, primary_exchange: bool = True) -> Fields:
    """The contract fields most requests send; ``exerciseOptions`` has no primary exchange."""
    contract: Fields = {
        "conId": f.integer(),
        "symbol": f.text(),
        "secType": f.text(),
        "lastTradeDateOrContractMonth": f.text(),
        "strike": f.number(),
        "right": f.text(),
        "multiplier": f.text(),
        "exchange": f.text(),
    }
    if primary_exchange:
        contract["primaryExchange"] = f.text()
    contract["currency"] = f.text()
    contract["localSymbol"] = f.text()
    contract["tradingClass"] = f.text()
    return contract


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


def _text_real_time_bars(f: _Text, v: int) -> Fields:
    f.skip()  # version
    req_id = f.integer()
    contract = _text_contract(f)
    return {
        "reqId": req_id,
        "contract": contract,
        "barSize": f.integer(),
        "whatToShow": f.text(),
        "useRTH": f.flag(),
        "realTimeBarsOptions": f.text(),
    }


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


def _text_args(
    *spec: tuple[str, Callable[[_Text], object]], version_field: bool = True
) -> Callable[[_Text, int], Fields]:
    """A decoder for ``[version,] <arguments in order>`` layouts that never changed."""

    def decode(f: _Text, v: int) -> Fields:
        if version_field:
            f.skip()
        return {name: read(f) for name, read in spec}

    return decode


_INT = ("reqId", _Text.integer)


def _text_cancel_order(f: _Text, v: int) -> Fields:
    if v < _Since.CME_TAGGING_FIELDS:
        f.skip()  # version
    fields: Fields = {"orderId": f.integer(), "manualOrderCancelTime": ""}
    if v >= _Since.MANUAL_ORDER_TIME:
        fields["manualOrderCancelTime"] = f.text()
    if _Since.RFQ_FIELDS <= v < _Since.UNDO_RFQ_FIELDS:
        f.skip(3)
    if v >= _Since.CME_TAGGING_FIELDS:
        fields["extOperator"] = f.text()
        fields["manualOrderIndicator"] = f.integer()
    return fields


def _text_global_cancel(f: _Text, v: int) -> Fields:
    if v < _Since.CME_TAGGING_FIELDS:
        f.skip()  # version, and nothing else
        return {}
    return {"extOperator": f.text(), "manualOrderIndicator": f.integer()}


def _text_executions(f: _Text, v: int) -> Fields:
    f.skip()  # version
    req_id = f.integer()
    execution_filter: Fields = {
        "clientId": f.integer(),
        "acctCode": f.text(),
        "time": f.text(),
        "symbol": f.text(),
        "secType": f.text(),
        "exchange": f.text(),
        "side": f.text(),
        "lastNDays": UNSET_INTEGER,
        "specificDates": [],
    }
    if v >= _Since.PARAMETRIZED_DAYS_OF_EXECUTIONS:
        execution_filter["lastNDays"] = f.integer()
        execution_filter["specificDates"] = [f.integer() for _ in range(f.count())]
    return {"reqId": req_id, "execFilter": execution_filter}


def _text_exercise_options(f: _Text, v: int) -> Fields:
    f.skip()  # version
    req_id = f.integer()
    contract = _text_contract(f, primary_exchange=False)
    fields: Fields = {
        "reqId": req_id,
        "contract": contract,
        "exerciseAction": f.integer(),
        "exerciseQuantity": f.integer(),
        "account": f.text(),
        "override": f.integer(),
    }
    if v >= _Since.MANUAL_ORDER_TIME_EXERCISE_OPTIONS:
        fields["manualOrderTime"] = f.text()
    if v >= _Since.CUSTOMER_ACCOUNT:
        fields["customerAccount"] = f.text()
    if v >= _Since.PROFESSIONAL_CUSTOMER:
        fields["professionalCustomer"] = f.flag()
    return fields


_TEXT: dict[int, Callable[[_Text, int], Fields]] = {
    Out.REQ_MKT_DATA: _text_mkt_data,
    Out.CANCEL_MKT_DATA: _text_versioned("reqId"),
    Out.REQ_IDS: _text_versioned("numIds"),
    Out.REQ_MANAGED_ACCTS: _text_versioned(),
    Out.REQ_HISTORICAL_DATA: _text_historical_data,
    Out.CANCEL_HISTORICAL_DATA: _text_versioned("reqId"),
    Out.REQ_REAL_TIME_BARS: _text_real_time_bars,
    Out.CANCEL_REAL_TIME_BARS: _text_versioned("reqId"),
    Out.REQ_CURRENT_TIME: _text_versioned(),
    Out.REQ_MARKET_DATA_TYPE: _text_versioned("marketDataType"),
    Out.START_API: _text_start_api,
    Out.REQ_ACCT_DATA: _text_account_updates,
    Out.REQ_CURRENT_TIME_IN_MILLIS: lambda f, v: {},
    # orders
    Out.PLACE_ORDER: lambda f, v: decode_place_order_text(f.items, v),
    Out.CANCEL_ORDER: _text_cancel_order,
    Out.REQ_GLOBAL_CANCEL: _text_global_cancel,
    Out.REQ_OPEN_ORDERS: _text_args(),
    Out.REQ_ALL_OPEN_ORDERS: _text_args(),
    Out.REQ_AUTO_OPEN_ORDERS: _text_args(("bAutoBind", _Text.flag)),
    Out.REQ_COMPLETED_ORDERS: _text_args(("apiOnly", _Text.flag), version_field=False),
    Out.REQ_EXECUTIONS: _text_executions,
    Out.EXERCISE_OPTIONS: _text_exercise_options,
    # the account
    Out.REQ_POSITIONS: _text_args(),
    Out.CANCEL_POSITIONS: _text_args(),
    Out.REQ_ACCOUNT_SUMMARY: _text_args(_INT, ("groupName", _Text.text), ("tags", _Text.text)),
    Out.CANCEL_ACCOUNT_SUMMARY: _text_args(_INT),
    Out.REQ_POSITIONS_MULTI: _text_args(_INT, ("account", _Text.text), ("modelCode", _Text.text)),
    Out.CANCEL_POSITIONS_MULTI: _text_args(_INT),
    Out.REQ_ACCOUNT_UPDATES_MULTI: _text_args(
        _INT, ("account", _Text.text), ("modelCode", _Text.text), ("ledgerAndNLV", _Text.flag)
    ),
    Out.CANCEL_ACCOUNT_UPDATES_MULTI: _text_args(_INT),
    Out.REQ_PNL: _text_args(
        _INT, ("account", _Text.text), ("modelCode", _Text.text), version_field=False
    ),
    Out.CANCEL_PNL: _text_args(_INT, version_field=False),
    Out.REQ_PNL_SINGLE: _text_args(
        _INT,
        ("account", _Text.text),
        ("modelCode", _Text.text),
        ("conId", _Text.integer),
        version_field=False,
    ),
    Out.CANCEL_PNL_SINGLE: _text_args(_INT, version_field=False),
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
    """``TagValue`` options as EClient writes them in text (``tag=value;`` each), from a
    protobuf map (what ibapi's ``fillTagValueList`` fills) or repeated key/value pairs."""
    if hasattr(items, "items"):
        return "".join(f"{key}={value};" for key, value in items.items())
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


def _order_cancel(p: Any) -> Fields:
    return {
        "manualOrderCancelTime": p.manualOrderCancelTime,
        "extOperator": p.extOperator,
        "manualOrderIndicator": (
            p.manualOrderIndicator if p.HasField("manualOrderIndicator") else UNSET_INTEGER
        ),
    }


def _proto_executions(p: Any) -> Fields:
    f = p.executionFilter
    return {
        "reqId": p.reqId,
        "execFilter": {
            "clientId": f.clientId,
            "acctCode": f.acctCode,
            "time": f.time,
            "symbol": f.symbol,
            "secType": f.secType,
            "exchange": f.exchange,
            "side": f.side,
            "lastNDays": f.lastNDays if f.HasField("lastNDays") else UNSET_INTEGER,
            "specificDates": list(f.specificDates),
        },
    }


def _proto_exercise_options(p: Any) -> Fields:
    contract, _ = proto_contract(p.contract)
    return {
        "reqId": p.orderId,  # the protobuf calls the request id orderId
        "contract": contract,
        "exerciseAction": p.exerciseAction,
        "exerciseQuantity": p.exerciseQuantity,
        "account": p.account,
        "override": int(p.override),
        "manualOrderTime": p.manualOrderTime,
        "customerAccount": p.customerAccount,
        "professionalCustomer": p.professionalCustomer,
    }


def _proto_args(**names: str) -> Callable[[Any], Fields]:
    """A converter taking each field ``key`` from the protobuf field ``names[key]``."""
    return lambda p: {key: getattr(p, name) for key, name in names.items()}


_PROTO: dict[int, tuple[str, Callable[[Any], Fields]]] = {
    Out.REQ_MKT_DATA: ("MarketDataRequest", _proto_mkt_data),
    Out.CANCEL_MKT_DATA: ("CancelMarketData", lambda p: {"reqId": p.reqId}),
    Out.REQ_IDS: ("IdsRequest", lambda p: {"numIds": p.numIds}),
    Out.REQ_MANAGED_ACCTS: ("ManagedAccountsRequest", lambda p: {}),
    Out.REQ_HISTORICAL_DATA: ("HistoricalDataRequest", _proto_historical_data),
    Out.CANCEL_HISTORICAL_DATA: ("CancelHistoricalData", lambda p: {"reqId": p.reqId}),
    Out.REQ_REAL_TIME_BARS: (
        "RealTimeBarsRequest",
        lambda p: {
            "reqId": p.reqId,
            "contract": _proto_contract(p.contract),
            "barSize": p.barSize,
            "whatToShow": p.whatToShow,
            "useRTH": p.useRTH,
            "realTimeBarsOptions": _tag_values(p.realTimeBarsOptions),
        },
    ),
    Out.CANCEL_REAL_TIME_BARS: ("CancelRealTimeBars", lambda p: {"reqId": p.reqId}),
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
    # orders
    Out.PLACE_ORDER: ("PlaceOrderRequest", decode_place_order_proto),
    Out.CANCEL_ORDER: (
        "CancelOrderRequest",
        lambda p: {"orderId": p.orderId, **_order_cancel(p.orderCancel)},
    ),
    Out.REQ_GLOBAL_CANCEL: ("GlobalCancelRequest", lambda p: _order_cancel(p.orderCancel)),
    Out.REQ_OPEN_ORDERS: ("OpenOrdersRequest", lambda p: {}),
    Out.REQ_ALL_OPEN_ORDERS: ("AllOpenOrdersRequest", lambda p: {}),
    Out.REQ_AUTO_OPEN_ORDERS: ("AutoOpenOrdersRequest", _proto_args(bAutoBind="autoBind")),
    Out.REQ_COMPLETED_ORDERS: ("CompletedOrdersRequest", _proto_args(apiOnly="apiOnly")),
    Out.REQ_EXECUTIONS: ("ExecutionRequest", _proto_executions),
    Out.EXERCISE_OPTIONS: ("ExerciseOptionsRequest", _proto_exercise_options),
    # the account
    Out.REQ_POSITIONS: ("PositionsRequest", lambda p: {}),
    Out.CANCEL_POSITIONS: ("CancelPositions", lambda p: {}),
    Out.REQ_ACCOUNT_SUMMARY: (
        "AccountSummaryRequest",
        _proto_args(reqId="reqId", groupName="group", tags="tags"),
    ),
    Out.CANCEL_ACCOUNT_SUMMARY: ("CancelAccountSummary", _proto_args(reqId="reqId")),
    Out.REQ_POSITIONS_MULTI: (
        "PositionsMultiRequest",
        _proto_args(reqId="reqId", account="account", modelCode="modelCode"),
    ),
    Out.CANCEL_POSITIONS_MULTI: ("CancelPositionsMulti", _proto_args(reqId="reqId")),
    Out.REQ_ACCOUNT_UPDATES_MULTI: (
        "AccountUpdatesMultiRequest",
        _proto_args(
            reqId="reqId", account="account", modelCode="modelCode", ledgerAndNLV="ledgerAndNLV"
        ),
    ),
    Out.CANCEL_ACCOUNT_UPDATES_MULTI: ("CancelAccountUpdatesMulti", _proto_args(reqId="reqId")),
    Out.REQ_PNL: (
        "PnLRequest",
        _proto_args(reqId="reqId", account="account", modelCode="modelCode"),
    ),
    Out.CANCEL_PNL: ("CancelPnL", _proto_args(reqId="reqId")),
    Out.REQ_PNL_SINGLE: (
        "PnLSingleRequest",
        _proto_args(reqId="reqId", account="account", modelCode="modelCode", conId="conId"),
    ),
    Out.CANCEL_PNL_SINGLE: ("CancelPnLSingle", _proto_args(reqId="reqId")),
}


# Where the id of a text request sits, counting a leading version field, read from
# EClient's code (ibapi 9.81 to 10.51) and checked against it at every version in the
# tests. Protobuf: the ibapi.protobuf class EClient sends (unserved requests are
# recorded under the protobuf field names).
_TEXT_IDS: dict[int, tuple[str, int]] = {
    **dict.fromkeys((1, 2, 7, 9, 10, 11, 20, 21, 22, 23, 25, 50, 51), ("reqId", 1)),
    **dict.fromkeys((52, 53, 54, 55, 56, 57, 62, 63, 67, 68, 69, 70), ("reqId", 1)),
    **dict.fromkeys((74, 75, 76, 77), ("reqId", 1)),
    **dict.fromkeys((78, 79, 81, 83, 84, 86, 87, 88, 89, 90, 92, 93), ("reqId", 0)),
    **dict.fromkeys((94, 95, 96, 97, 98, 100, 101, 102, 103, 104), ("reqId", 0)),
    3: ("orderId", 1),
    4: ("orderId", 1),
    19: ("reqId", 3),  # replaceFA: version, faData, cxml, reqId
}
# Requests whose leading version field went away at a server version (their id moves
# up one field), and requests that carry an id only from a version on.
_VERSION_FIELD_DROPPED = {
    Out.PLACE_ORDER: _Since.ORDER_CONTAINER,
    Out.CANCEL_ORDER: _Since.CME_TAGGING_FIELDS,
    Out.REQ_HISTORICAL_DATA: Version.SYNT_REALTIME_BARS,
    22: _Since.SCANNER_GENERIC_OPTS,  # reqScannerSubscription
}
_ID_SINCE = {19: _Since.REPLACE_FA_END}


def text_request_id(msg_id: int, version: int) -> tuple[str, int] | None:
    """Where the id of a text request sits at ``version``: its name (``"reqId"`` or
    ``"orderId"``) and the index of its field after the message id; ``None`` when the
    request carries no id."""
    if msg_id not in _TEXT_IDS or version < _ID_SINCE.get(msg_id, 0):
        return None
    key, index = _TEXT_IDS[msg_id]
    if version >= _VERSION_FIELD_DROPPED.get(msg_id, 1 << 31):
        index -= 1
    return key, index


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
    52: "FundamentalsDataRequest",  # ibapi 10.45 (10.50 dropped the request)
    53: "CancelFundamentalsData",
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
    106: "CancelContractData",
    107: "CancelHistoricalTicks",
    108: "ConfigRequest",
    109: "UpdateConfigRequest",
}


def _has_pb(class_name: str) -> bool:
    try:
        pb(class_name)
    except (ImportError, AttributeError):
        return False
    return True


def _readable_id(msg_id: int, is_protobuf: bool, body: bytes, version: int) -> Fields:
    """``{"reqId": n}`` or ``{"orderId": n}`` when the request's id can be read, else ``{}``."""
    try:
        if is_protobuf:
            proto = _tables()[1]
            class_name = proto[msg_id][0] if msg_id in proto else _PROTO_CLASSES[msg_id]
            message = pb(class_name).FromString(body)
            for key in ("reqId", "orderId"):
                if key in message.DESCRIPTOR.fields_by_name and message.HasField(key):
                    is_order = msg_id in (Out.PLACE_ORDER, Out.CANCEL_ORDER)
                    return {"orderId" if is_order else "reqId": int(getattr(message, key))}
            return {}
        where = text_request_id(msg_id, version)
        if where is not None:
            key, index = where
            return {key: int(_Text(body).items[index])}
    except Exception:  # unreadable: no id then
        pass
    return {}


def _leading_id(body: bytes) -> Fields:
    """The id of a protobuf request whose class the installed ibapi lacks: every ibapi
    request message that has an id carries it as field 1, a varint (tag byte 0x08)."""
    if not body or body[0] != 0x08:
        return {}
    value = shift = 0
    for byte in body[1:11]:
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return {"reqId": value if value < 2**63 else value - 2**64}
        shift += 7
    return {}


def _unserved(msg_id: int, is_protobuf: bool, body: bytes, version: int) -> Fields:
    if is_protobuf:
        class_name = _PROTO_CLASSES.get(msg_id)
        if class_name is None or not _has_pb(class_name):
            return {"protobuf": body, **_leading_id(body)}
        # imported by name: protobuf ships no type stubs (and ibapi 9.x no protobuf)
        json_format: Any = importlib.import_module("google.protobuf.json_format")
        message = pb(class_name).FromString(body)
        return dict(json_format.MessageToDict(message, preserving_proto_field_name=True))
    return {"fields": _Text(body).items, **_readable_id(msg_id, False, body, version)}


@functools.cache
def _tables() -> tuple[
    dict[int, Callable[[_Text, int], Fields]], dict[int, tuple[str, Callable[[Any], Fields]]]
]:
    """The text and protobuf request decoders: this module's and every family's."""
    from ._families import families

    text, proto = dict(_TEXT), dict(_PROTO)
    for family in families():
        text.update(family.text)
        proto.update(family.proto)
    return text, proto


def decode_request(msg_id: int, is_protobuf: bool, body: bytes, version: int) -> tuple[str, Fields]:
    """Name and fields of one client message.

    Never raises for malformed input: what cannot be decoded is returned raw (``"fields"``
    or ``"protobuf"``), with ``"decodeError"`` saying why and the request's ``reqId`` or
    ``orderId`` when it can still be read.
    """
    name = request_name(msg_id)
    text, proto = _tables()
    try:
        if is_protobuf and msg_id in proto:
            class_name, convert = proto[msg_id]
            return name, convert(pb(class_name).FromString(body))
        if not is_protobuf and msg_id in text:
            return name, text[msg_id](_Text(body), version)
        return name, _unserved(msg_id, is_protobuf, body, version)
    except Exception as exc:  # malformed or unexpected input must not break the server
        raw: object = body if is_protobuf else _Text(body).items
        fields: Fields = {"protobuf" if is_protobuf else "fields": raw, "decodeError": repr(exc)}
        fields.update(_readable_id(msg_id, is_protobuf, body, version))
        return name, fields
