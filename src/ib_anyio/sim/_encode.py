"""Server-to-client messages, encoded the way TWS encodes them for a negotiated version.

One method per message, each version-aware. The choice between text and protobuf is made
per message, as TWS does: protobuf once the negotiated version reaches ``PROTO_SINCE``
for that message; otherwise text, with exactly the field layout ``decoder.py`` reads at
that version. Layout changes the encoders follow (all from ``decoder.py``):

* Most text messages start with a version field the decoder skips. Exceptions: error
  messages from 194 (``ERROR_TIME``), historical data from 124 (``SYNT_REALTIME_BARS``),
  orderStatus from 131 (``MARKET_CAP_PRICE``), openOrder from 145 (``ORDER_CONTAINER``),
  execDetails from 136 (``LAST_LIQUIDITY``), and messages that never had one: historical
  data update/end, current time in millis, completedOrder(s), orderBound, pnl, pnlSingle.
* Error: below 194 ``version, id, code, message[, advancedOrderRejectJson from 166]``;
  from 194 ``id, code, message, advancedOrderRejectJson, errorTimeMillis``.
* Contract details and the other reference data: see ``_families.reference``.
* Historical data (bars, schedules, head timestamps, histograms, ticks) is encoded by its
  family module, ``_families.historical``.
* tickPrice carries the size; the decoder then also calls ``tickSize`` for bid, ask and
  last (and their delayed variants).
* openOrder and completedOrder: see ``_encode_order``, which writes their text bodies.
* orderStatus: ``mktCapPrice`` from 131. execDetails: ``modelCode`` from 103,
  ``lastLiquidity`` from 136, ``pendingPriceRevision`` from 178, ``submitter`` from 198.
  pnl and pnlSingle: ``unrealizedPnL`` from 129, ``realizedPnL`` from 135.
* The account messages ibapi decodes by the wrapper's signature (account value and time,
  account summary, account update multi and the list ends) are a version field and then
  exactly one field per parameter; their values are plain ASCII in practice (from 153
  ibapi reads them with the ``unicode-escape`` codec).

Numbers follow TWS's text conventions (``_encode_order``'s :func:`num`, :func:`size`...):
unset values travel so that ibapi decodes them back as the same unset value, and below
101 the sizes ibapi 9.81 reads as ints (order quantity, filled, remaining, execution
shares, positions) are whole (:func:`size_at`).

Protobuf messages are built with the installed ibapi's own ``ibapi.protobuf`` classes,
imported on first use (ibapi 9.x has none, and never negotiates a protobuf version); the
Contract and Order inside them with ibapi's ``client_utils`` helpers where ibapi has one
(:func:`contract_proto`, :func:`order_proto`), the rest mapped once here. Protobuf fields
the encoder sets are decoded back by ibapi as the values given, unset ones included
(Order, Contract and OrderState follow ibapi's helpers and leave unset values out, which
ibapi decodes as the same defaults).

Why each ``PROTO_SINCE`` threshold (checked against ibapi 10.37.2, 10.45.1, 10.50.2 and
10.51.1; every 10.x decoder accepts protobuf for any message it lists in
``msgId2handleInfoProtoBuf``, whatever the version, so a threshold is safe for a release
when it lists the message or never negotiates that high):

* 201 (``PROTOBUF``): errors, openOrder, orderStatus, execDetails and the open order and
  execution list ends, exactly the six ibapi 10.37.2 (whose ``MAX_CLIENT_VER`` is 203)
  decodes as protobuf.
* 204 (``PROTOBUF_COMPLETED_ORDER``): completedOrder, its end, and orderBound, which
  10.37.2 can only read as text; ibapi sends the open/completed order requests as
  protobuf from the same version (``common.getServerVersionForMessage``).
* 206, 208, 213: market data, historical data (with real-time
  bars, whose requests ibapi sends as protobuf from 208 too), and the connection
  messages (next valid id, current time), the versions of their request groups.
* 207 (``PROTOBUF_ACCOUNTS_POSITIONS``): account values, portfolio, account time and end,
  managed accounts, positions, account summary, positions multi, account updates multi
  and their ends: the version from which ibapi sends every request of that group
  (``reqAccountUpdates``, ``reqPositions``, ``reqAccountSummary``...) as protobuf.
* 210 (``PROTOBUF_SCAN_DATA``): pnl and pnlSingle. ibapi 10.45-10.51 send ``reqPnL``,
  ``reqPnLSingle`` and their cancels as protobuf from 210, not 211: the PnL messages
  moved with the scanner group.
* 211 (``PROTOBUF_REST_MESSAGES_1``): commissionAndFeesReport. ibapi 10.37.2 has no
  protobuf decoder for it, so TWS sent it as text at least up to 203; no request pairs
  with it, and 211 is the first group of the remaining messages. ibapi 10.45 and later
  decode either form.
"""

from __future__ import annotations

import copy
import enum
import importlib
from collections.abc import Iterable
from decimal import Decimal
from functools import cache
from typing import Any

from ibapi.contract import Contract
from ibapi.execution import Execution
from ibapi.order import Order
from ibapi.order_state import OrderState

from ._encode_order import (
    OUTSIDE_RTH_MARGINS,
    UNSET_DECIMAL,
    UNSET_DOUBLE,
    Since,
    completed_order_fields,
    num,
    open_order_fields,
    size,
    size_at,
    state_commission_currency,
    state_commissions,
)
from ._protocol import Version, proto_message, text_message
from ._universe import Bar


class In(enum.IntEnum):
    """Server-to-client message ids the simulator sends (``ibapi.message.IN``)."""

    TICK_PRICE = 1
    TICK_SIZE = 2
    ORDER_STATUS = 3
    ERR_MSG = 4
    OPEN_ORDER = 5
    ACCT_VALUE = 6
    PORTFOLIO_VALUE = 7
    ACCT_UPDATE_TIME = 8
    NEXT_VALID_ID = 9
    EXECUTION_DATA = 11
    MANAGED_ACCTS = 15
    TICK_STRING = 46
    CURRENT_TIME = 49
    OPEN_ORDER_END = 53
    ACCT_DOWNLOAD_END = 54
    EXECUTION_DATA_END = 55
    TICK_SNAPSHOT_END = 57
    MARKET_DATA_TYPE = 58
    COMMISSION_AND_FEES_REPORT = 59
    POSITION_DATA = 61
    POSITION_END = 62
    ACCOUNT_SUMMARY = 63
    ACCOUNT_SUMMARY_END = 64
    POSITION_MULTI = 71
    POSITION_MULTI_END = 72
    ACCOUNT_UPDATE_MULTI = 73
    ACCOUNT_UPDATE_MULTI_END = 74
    REAL_TIME_BARS = 50
    PNL = 94
    PNL_SINGLE = 95
    ORDER_BOUND = 100
    COMPLETED_ORDER = 101
    COMPLETED_ORDERS_END = 102
    CURRENT_TIME_IN_MILLIS = 109


PROTO_SINCE: dict[In, int] = {
    In.ERR_MSG: Version.PROTOBUF,
    In.OPEN_ORDER: Version.PROTOBUF,
    In.ORDER_STATUS: Version.PROTOBUF,
    In.EXECUTION_DATA: Version.PROTOBUF,
    In.OPEN_ORDER_END: Version.PROTOBUF,
    In.EXECUTION_DATA_END: Version.PROTOBUF,
    In.COMPLETED_ORDER: Version.PROTOBUF_COMPLETED_ORDER,
    In.COMPLETED_ORDERS_END: Version.PROTOBUF_COMPLETED_ORDER,
    In.ORDER_BOUND: Version.PROTOBUF_COMPLETED_ORDER,
    In.ACCT_VALUE: Version.PROTOBUF_ACCOUNTS_POSITIONS,
    In.PORTFOLIO_VALUE: Version.PROTOBUF_ACCOUNTS_POSITIONS,
    In.ACCT_UPDATE_TIME: Version.PROTOBUF_ACCOUNTS_POSITIONS,
    In.ACCT_DOWNLOAD_END: Version.PROTOBUF_ACCOUNTS_POSITIONS,
    In.MANAGED_ACCTS: Version.PROTOBUF_ACCOUNTS_POSITIONS,
    In.POSITION_DATA: Version.PROTOBUF_ACCOUNTS_POSITIONS,
    In.POSITION_END: Version.PROTOBUF_ACCOUNTS_POSITIONS,
    In.ACCOUNT_SUMMARY: Version.PROTOBUF_ACCOUNTS_POSITIONS,
    In.ACCOUNT_SUMMARY_END: Version.PROTOBUF_ACCOUNTS_POSITIONS,
    In.POSITION_MULTI: Version.PROTOBUF_ACCOUNTS_POSITIONS,
    In.POSITION_MULTI_END: Version.PROTOBUF_ACCOUNTS_POSITIONS,
    In.ACCOUNT_UPDATE_MULTI: Version.PROTOBUF_ACCOUNTS_POSITIONS,
    In.ACCOUNT_UPDATE_MULTI_END: Version.PROTOBUF_ACCOUNTS_POSITIONS,
    In.PNL: Version.PROTOBUF_SCAN_DATA,
    In.PNL_SINGLE: Version.PROTOBUF_SCAN_DATA,
    In.COMMISSION_AND_FEES_REPORT: Version.PROTOBUF_REST_MESSAGES_1,
    In.TICK_PRICE: Version.PROTOBUF_MARKET_DATA,
    In.TICK_SIZE: Version.PROTOBUF_MARKET_DATA,
    In.TICK_STRING: Version.PROTOBUF_MARKET_DATA,
    In.TICK_SNAPSHOT_END: Version.PROTOBUF_MARKET_DATA,
    In.MARKET_DATA_TYPE: Version.PROTOBUF_MARKET_DATA,
    In.REAL_TIME_BARS: Version.PROTOBUF_HISTORICAL_DATA,
    In.NEXT_VALID_ID: Version.PROTOBUF_REST_MESSAGES_3,
    In.CURRENT_TIME: Version.PROTOBUF_REST_MESSAGES_3,
    In.CURRENT_TIME_IN_MILLIS: Version.PROTOBUF_REST_MESSAGES_3,
}
"""Server version from which each message travels as protobuf (see the module docstring)."""

# Message versions of the text messages that carry one (what TWS writes; ibapi skips
# them or, for the account and position lists, reads the newest layout from them).
_ORDER_STATUS_VERSION = 6
_EXECUTION_VERSION = 10
_PORTFOLIO_VERSION = 8
_POSITION_VERSION = 3
_ACCT_VALUE_VERSION = 2
_REAL_TIME_BAR_VERSION = 3


@cache
def pb(name: str) -> Any:
    """The installed ibapi's protobuf class ``ibapi.protobuf.<name>_pb2.<name>``."""
    return getattr(importlib.import_module(f"ibapi.protobuf.{name}_pb2"), name)


def pb_message(msg_id: int, name: str, **fields: Any) -> bytes:
    """A framed protobuf message: ibapi's class ``name`` built from ``fields``, sent
    as message ``msg_id``."""
    return proto_message(msg_id, pb(name)(**fields).SerializeToString())


@cache
def _client_utils() -> Any:
    """ibapi's ``client_utils`` (from 10.37), imported on first protobuf use."""
    return importlib.import_module("ibapi.client_utils")


def contract_proto(contract: Contract, order: Order | None = None) -> Any:
    """A Contract message made by ibapi's ``createContractProto`` (with the combo leg
    prices of ``order``), plus the last trade date it leaves out.

    ibapi 10.37.2's helper assigns the primary exchange to a field its Contract message
    lacks, so the primary exchange is set here instead, on every release.
    """
    primary = contract.primaryExchange
    if primary:
        contract = copy.copy(contract)
        contract.primaryExchange = ""
    # ibapi 10.37.2's helper reads the order's combo legs even without an order
    proto = _client_utils().createContractProto(contract, Order() if order is None else order)
    if primary:
        proto.primaryExch = primary
    last_trade_date = getattr(contract, "lastTradeDate", "")
    if last_trade_date and "lastTradeDate" in proto.DESCRIPTOR.fields_by_name:
        proto.lastTradeDate = last_trade_date
    return proto


_TWS_ONLY_ORDER_FIELDS = ("autoCancelDate", "shareholder", "refFuturesConId", "parentPermId")


def order_proto(order: Order, order_id: int) -> Any:
    """An Order message made by ibapi's ``createOrderProto``, plus what only TWS sends
    (order id, filled quantity, auto-cancel date, shareholder, futures conId, parent
    perm id) and the client id, which ibapi 10.37.2's helper drops."""
    proto = _client_utils().createOrderProto(order)
    proto.clientId = order.clientId
    if order_id:
        proto.orderId = order_id
    if order.filledQuantity != UNSET_DECIMAL:
        proto.filledQuantity = size(order.filledQuantity)
    for name in _TWS_ONLY_ORDER_FIELDS:
        if getattr(order, name):
            setattr(proto, name, getattr(order, name))
    return proto


_STATE_MARGINS = (
    "initMarginBefore",
    "maintMarginBefore",
    "equityWithLoanBefore",
    "initMarginChange",
    "maintMarginChange",
    "equityWithLoanChange",
    "initMarginAfter",
    "maintMarginAfter",
    "equityWithLoanAfter",
)
"""OrderState's margins: strings in ``OrderState``, doubles in its protobuf message."""

_STATE_STRINGS = (
    "status",
    "marginCurrency",
    "rejectReason",
    "warningText",
    "completedTime",
    "completedStatus",
)
_STATE_COMMISSIONS = ("commissionAndFees", "minCommissionAndFees", "maxCommissionAndFees")


def order_state_proto(state: OrderState) -> Any:
    """An OrderState message (ibapi has no helper: a client never sends one). Unset
    values are left out, as ibapi's helpers do; ibapi decodes them as the defaults."""
    fields: dict[str, Any] = {
        name: getattr(state, name) for name in _STATE_STRINGS if getattr(state, name)
    }
    if currency := state_commission_currency(state):
        fields["commissionAndFeesCurrency"] = currency
    fields.update(
        {name: float(getattr(state, name)) for name in _STATE_MARGINS if getattr(state, name)}
    )
    doubles = [
        *zip(_STATE_COMMISSIONS, state_commissions(state), strict=True),
        *((name, getattr(state, name)) for name in OUTSIDE_RTH_MARGINS),
    ]
    fields.update({name: value for name, value in doubles if value != UNSET_DOUBLE})
    if state.suggestedSize != UNSET_DECIMAL:
        fields["suggestedSize"] = size(state.suggestedSize)
    allocation = pb("OrderAllocation")
    fields["orderAllocations"] = [
        allocation(
            account=a.account,
            position=size(a.position),
            positionDesired=size(a.positionDesired),
            positionAfter=size(a.positionAfter),
            desiredAllocQty=size(a.desiredAllocQty),
            allowedAllocQty=size(a.allowedAllocQty),
            isMonetary=a.isMonetary,
        )
        for a in state.orderAllocations or []
    ]
    return pb("OrderState")(**fields)


def execution_proto(execution: Execution) -> Any:
    """An Execution message (ibapi has no helper), every field set."""
    e = execution
    fields: dict[str, Any] = {
        "orderId": e.orderId,
        "execId": e.execId,
        "time": e.time,
        "acctNumber": e.acctNumber,
        "exchange": e.exchange,
        "side": e.side,
        "price": e.price,
        "permId": e.permId,
        "clientId": e.clientId,
        "isLiquidation": bool(e.liquidation),
        "avgPrice": e.avgPrice,
        "orderRef": e.orderRef,
        "evRule": e.evRule,
        "evMultiplier": e.evMultiplier,
        "modelCode": e.modelCode,
        "lastLiquidity": e.lastLiquidity,
        "isPriceRevisionPending": e.pendingPriceRevision,
        "submitter": e.submitter,
        "optExerciseOrLapseType": e.optExerciseOrLapseType.value[0],
    }
    for name in ("shares", "cumQty"):
        if getattr(e, name) != UNSET_DECIMAL:
            fields[name] = size(getattr(e, name))
    return pb("Execution")(**fields)


def _contract_text(contract: Contract) -> list[object]:
    """conId to tradingClass as execDetails, position and positionMulti write them
    (updatePortfolio has its own: primary exchange instead of exchange)."""
    c = contract
    fields: list[object] = [c.conId, c.symbol, c.secType, c.lastTradeDateOrContractMonth]
    fields += [num(c.strike), c.right, c.multiplier, c.exchange, c.currency]
    return [*fields, c.localSymbol, c.tradingClass]


class Encoder:
    """Encodes server-to-client messages for one negotiated server version.

    Every method returns one or more complete frames, ready to send.
    """

    def __init__(self, version: int) -> None:
        self.version = version

    def _proto(self, msg: In) -> bool:
        """Whether ``msg`` travels as protobuf at this version."""
        return self.version >= PROTO_SINCE[msg]

    def _text(self, msg: In, fields: Iterable[object]) -> bytes:
        """A framed text message."""
        return text_message(msg, fields, self.version)

    def _pb(self, msg: In, name: str, **fields: Any) -> bytes:
        """A framed protobuf message of class ``name`` built from ``fields``."""
        return pb_message(msg, name, **fields)

    # -- connection and account ------------------------------------------------------

    def next_valid_id(self, order_id: int) -> bytes:
        """nextValidId: the next order id the client may use."""
        if self._proto(In.NEXT_VALID_ID):
            return self._pb(In.NEXT_VALID_ID, "NextValidId", orderId=order_id)
        return self._text(In.NEXT_VALID_ID, (1, order_id))

    def managed_accounts(self, accounts: str) -> bytes:
        """managedAccounts: the comma-separated account list."""
        if self._proto(In.MANAGED_ACCTS):
            return self._pb(In.MANAGED_ACCTS, "ManagedAccounts", accountsList=accounts)
        return self._text(In.MANAGED_ACCTS, (1, accounts))

    def current_time(self, seconds: int) -> bytes:
        """currentTime in seconds since the epoch."""
        if self._proto(In.CURRENT_TIME):
            return self._pb(In.CURRENT_TIME, "CurrentTime", currentTime=seconds)
        return self._text(In.CURRENT_TIME, (1, seconds))

    def current_time_in_millis(self, millis: int) -> bytes:
        """currentTimeInMillis."""
        if self._proto(In.CURRENT_TIME_IN_MILLIS):
            return self._pb(
                In.CURRENT_TIME_IN_MILLIS, "CurrentTimeInMillis", currentTimeInMillis=millis
            )
        return self._text(In.CURRENT_TIME_IN_MILLIS, (millis,))

    def error(
        self, req_id: int, code: int, message: str, time_millis: int, json: str = ""
    ) -> bytes:
        """An error or notice for ``req_id`` (-1 for none), with the advanced order
        reject JSON where the version carries it."""
        if self._proto(In.ERR_MSG):
            return self._pb(
                In.ERR_MSG,
                "ErrorMessage",
                id=req_id,
                errorTime=time_millis,
                errorCode=code,
                errorMsg=message,
                advancedOrderRejectJson=json,
            )
        if self.version >= Version.ERROR_TIME:
            return self._text(In.ERR_MSG, (req_id, code, message, json, time_millis))
        fields: list[object] = [2, req_id, code, message]
        if self.version >= Version.ADVANCED_ORDER_REJECT:
            fields.append(json)
        return self._text(In.ERR_MSG, fields)

    # -- orders ----------------------------------------------------------------------

    def open_order(
        self, order_id: int, contract: Contract, order: Order, state: OrderState
    ) -> bytes:
        """openOrder: the order as TWS holds it, with its state (what-if margins and
        commissions when ``order.whatIf``)."""
        if self._proto(In.OPEN_ORDER):
            return self._pb(
                In.OPEN_ORDER,
                "OpenOrder",
                orderId=order_id,
                contract=contract_proto(contract, order),
                order=order_proto(order, order_id),
                orderState=order_state_proto(state),
            )
        return self._text(
            In.OPEN_ORDER, open_order_fields(self.version, order_id, contract, order, state)
        )

    def open_order_end(self) -> bytes:
        """openOrderEnd: the end of an open order list."""
        if self._proto(In.OPEN_ORDER_END):
            return self._pb(In.OPEN_ORDER_END, "OpenOrdersEnd")
        return self._text(In.OPEN_ORDER_END, (1,))

    def order_status(
        self,
        order_id: int,
        status: str,
        filled: Decimal | float,
        remaining: Decimal | float,
        avg_fill_price: float,
        perm_id: int,
        parent_id: int,
        last_fill_price: float,
        client_id: int,
        why_held: str,
        mkt_cap_price: float,
    ) -> bytes:
        """orderStatus (``mkt_cap_price`` travels from version 131)."""
        if self._proto(In.ORDER_STATUS):
            fields: dict[str, Any] = {
                "orderId": order_id,
                "status": status,
                "avgFillPrice": avg_fill_price,
                "permId": perm_id,
                "parentId": parent_id,
                "lastFillPrice": last_fill_price,
                "clientId": client_id,
                "whyHeld": why_held,
                "mktCapPrice": mkt_cap_price,
            }
            if filled != UNSET_DECIMAL:
                fields["filled"] = size(filled)
            if remaining != UNSET_DECIMAL:
                fields["remaining"] = size(remaining)
            return self._pb(In.ORDER_STATUS, "OrderStatus", **fields)
        text: list[object] = []
        if self.version < Since.MARKET_CAP_PRICE:
            text.append(_ORDER_STATUS_VERSION)
        text += [order_id, status, size_at(self.version, filled), size_at(self.version, remaining)]
        text.append(num(avg_fill_price))
        text += [perm_id, parent_id, num(last_fill_price), client_id, why_held]
        if self.version >= Since.MARKET_CAP_PRICE:
            text.append(num(mkt_cap_price))
        return self._text(In.ORDER_STATUS, text)

    def completed_order(self, contract: Contract, order: Order, state: OrderState) -> bytes:
        """completedOrder: a filled or cancelled order (``state.completedTime`` and
        ``completedStatus`` say when and how)."""
        if self._proto(In.COMPLETED_ORDER):
            return self._pb(
                In.COMPLETED_ORDER,
                "CompletedOrder",
                contract=contract_proto(contract, order),
                order=order_proto(order, order.orderId),
                orderState=order_state_proto(state),
            )
        return self._text(
            In.COMPLETED_ORDER, completed_order_fields(self.version, contract, order, state)
        )

    def completed_orders_end(self) -> bytes:
        """completedOrdersEnd: the end of the completed order list."""
        if self._proto(In.COMPLETED_ORDERS_END):
            return self._pb(In.COMPLETED_ORDERS_END, "CompletedOrdersEnd")
        return self._text(In.COMPLETED_ORDERS_END, ())

    def order_bound(self, perm_id: int, client_id: int, order_id: int) -> bytes:
        """orderBound: a TWS order (``reqOpenOrders`` with auto-bind) now has this API
        client and order id."""
        if self._proto(In.ORDER_BOUND):
            return self._pb(
                In.ORDER_BOUND, "OrderBound", permId=perm_id, clientId=client_id, orderId=order_id
            )
        return self._text(In.ORDER_BOUND, (perm_id, client_id, order_id))

    def exec_details(self, req_id: int, contract: Contract, execution: Execution) -> bytes:
        """execDetails: one execution (``req_id`` -1 for a live fill, the request's id in
        an execution list)."""
        if self._proto(In.EXECUTION_DATA):
            return self._pb(
                In.EXECUTION_DATA,
                "ExecutionDetails",
                reqId=req_id,
                contract=contract_proto(contract),
                execution=execution_proto(execution),
            )
        v, e = self.version, execution
        text: list[object] = []
        if v < Since.LAST_LIQUIDITY:
            text.append(_EXECUTION_VERSION)
        text += [req_id, e.orderId, *_contract_text(contract)]
        text += [e.execId, e.time, e.acctNumber, e.exchange, e.side, size_at(v, e.shares)]
        text += [num(e.price), e.permId, e.clientId, e.liquidation, size(e.cumQty)]
        text += [num(e.avgPrice), e.orderRef, e.evRule, num(e.evMultiplier)]
        if v >= Since.MODELS_SUPPORT:
            text.append(e.modelCode)
        if v >= Since.LAST_LIQUIDITY:
            text.append(e.lastLiquidity)
        if v >= Since.PENDING_PRICE_REVISION:
            text.append(e.pendingPriceRevision)
        if v >= Since.SUBMITTER:
            text.append(e.submitter)
        return self._text(In.EXECUTION_DATA, text)

    def execution_data_end(self, req_id: int) -> bytes:
        """execDetailsEnd: the end of the execution list for ``req_id``."""
        if self._proto(In.EXECUTION_DATA_END):
            return self._pb(In.EXECUTION_DATA_END, "ExecutionDetailsEnd", reqId=req_id)
        return self._text(In.EXECUTION_DATA_END, (1, req_id))

    def commission_report(self, report: Any) -> bytes:
        """commissionAndFeesReport (``commissionReport`` on ibapi 9.81): the commission
        of one execution, matched to it by ``execId``.

        Args:
            report: an ``ibapi`` ``CommissionAndFeesReport`` (``CommissionReport`` on
                9.81, whose amount is ``commission``).
        """
        amount = getattr(report, "commissionAndFees", None)
        if amount is None:
            amount = report.commission
        if self._proto(In.COMMISSION_AND_FEES_REPORT):
            return self._pb(
                In.COMMISSION_AND_FEES_REPORT,
                "CommissionAndFeesReport",
                execId=report.execId,
                commissionAndFees=amount,
                currency=report.currency,
                realizedPNL=report.realizedPNL,
                bondYield=report.yield_,
                yieldRedemptionDate=str(report.yieldRedemptionDate),
            )
        text = [1, report.execId, num(amount), report.currency, num(report.realizedPNL)]
        text += [num(report.yield_), report.yieldRedemptionDate]
        return self._text(In.COMMISSION_AND_FEES_REPORT, text)

    # -- positions and account -------------------------------------------------------

    def position(
        self, account: str, contract: Contract, position: Decimal | float, avg_cost: float
    ) -> bytes:
        """position: one position of ``account`` (``reqPositions``)."""
        if self._proto(In.POSITION_DATA):
            return self._pb(
                In.POSITION_DATA,
                "Position",
                account=account,
                contract=contract_proto(contract),
                position=size(position),
                avgCost=avg_cost,
            )
        text = [_POSITION_VERSION, account, *_contract_text(contract)]
        text.append(size_at(self.version, position))
        return self._text(In.POSITION_DATA, [*text, num(avg_cost)])

    def position_end(self) -> bytes:
        """positionEnd: the end of the initial position list."""
        if self._proto(In.POSITION_END):
            return self._pb(In.POSITION_END, "PositionEnd")
        return self._text(In.POSITION_END, (1,))

    def position_multi(
        self,
        req_id: int,
        account: str,
        model_code: str,
        contract: Contract,
        pos: Decimal | float,
        avg_cost: float,
    ) -> bytes:
        """positionMulti: one position of an account/model subscription."""
        if self._proto(In.POSITION_MULTI):
            return self._pb(
                In.POSITION_MULTI,
                "PositionMulti",
                reqId=req_id,
                account=account,
                contract=contract_proto(contract),
                position=size(pos),
                avgCost=avg_cost,
                modelCode=model_code,
            )
        text = [1, req_id, account, *_contract_text(contract), size(pos), num(avg_cost)]
        return self._text(In.POSITION_MULTI, [*text, model_code])

    def position_multi_end(self, req_id: int) -> bytes:
        """positionMultiEnd for ``req_id``."""
        if self._proto(In.POSITION_MULTI_END):
            return self._pb(In.POSITION_MULTI_END, "PositionMultiEnd", reqId=req_id)
        return self._text(In.POSITION_MULTI_END, (1, req_id))

    def account_value(self, key: str, value: str, currency: str, account: str) -> bytes:
        """updateAccountValue: one account value (``reqAccountUpdates``)."""
        if self._proto(In.ACCT_VALUE):
            return self._pb(
                In.ACCT_VALUE,
                "AccountValue",
                key=key,
                value=value,
                currency=currency,
                accountName=account,
            )
        return self._text(In.ACCT_VALUE, (_ACCT_VALUE_VERSION, key, value, currency, account))

    def portfolio_value(
        self,
        contract: Contract,
        position: Decimal | float,
        market_price: float,
        market_value: float,
        average_cost: float,
        unrealized_pnl: float,
        realized_pnl: float,
        account: str,
    ) -> bytes:
        """updatePortfolio: one position with its market value and PnL. The text form
        carries the primary exchange, not the exchange."""
        if self._proto(In.PORTFOLIO_VALUE):
            return self._pb(
                In.PORTFOLIO_VALUE,
                "PortfolioValue",
                contract=contract_proto(contract),
                position=size(position),
                marketPrice=market_price,
                marketValue=market_value,
                averageCost=average_cost,
                unrealizedPNL=unrealized_pnl,
                realizedPNL=realized_pnl,
                accountName=account,
            )
        c = contract
        text = [_PORTFOLIO_VERSION, c.conId, c.symbol, c.secType, c.lastTradeDateOrContractMonth]
        text += [num(c.strike), c.right, c.multiplier, c.primaryExchange, c.currency]
        text += [c.localSymbol, c.tradingClass, size_at(self.version, position)]
        text.append(num(market_price))
        text += [num(market_value), num(average_cost), num(unrealized_pnl), num(realized_pnl)]
        return self._text(In.PORTFOLIO_VALUE, [*text, account])

    def account_update_time(self, time_stamp: str) -> bytes:
        """updateAccountTime: when the account values were last updated (``HH:MM``)."""
        if self._proto(In.ACCT_UPDATE_TIME):
            return self._pb(In.ACCT_UPDATE_TIME, "AccountUpdateTime", timeStamp=time_stamp)
        return self._text(In.ACCT_UPDATE_TIME, (1, time_stamp))

    def account_download_end(self, account: str) -> bytes:
        """accountDownloadEnd: the first full set of ``account``'s values has been sent."""
        if self._proto(In.ACCT_DOWNLOAD_END):
            return self._pb(In.ACCT_DOWNLOAD_END, "AccountDataEnd", accountName=account)
        return self._text(In.ACCT_DOWNLOAD_END, (1, account))

    def account_summary(
        self, req_id: int, account: str, tag: str, value: str, currency: str
    ) -> bytes:
        """accountSummary: one tag's value for one account."""
        if self._proto(In.ACCOUNT_SUMMARY):
            return self._pb(
                In.ACCOUNT_SUMMARY,
                "AccountSummary",
                reqId=req_id,
                account=account,
                tag=tag,
                value=value,
                currency=currency,
            )
        return self._text(In.ACCOUNT_SUMMARY, (1, req_id, account, tag, value, currency))

    def account_summary_end(self, req_id: int) -> bytes:
        """accountSummaryEnd for ``req_id``."""
        if self._proto(In.ACCOUNT_SUMMARY_END):
            return self._pb(In.ACCOUNT_SUMMARY_END, "AccountSummaryEnd", reqId=req_id)
        return self._text(In.ACCOUNT_SUMMARY_END, (1, req_id))

    def account_update_multi(
        self, req_id: int, account: str, model_code: str, key: str, value: str, currency: str
    ) -> bytes:
        """accountUpdateMulti: one account value of an account/model subscription."""
        if self._proto(In.ACCOUNT_UPDATE_MULTI):
            return self._pb(
                In.ACCOUNT_UPDATE_MULTI,
                "AccountUpdateMulti",
                reqId=req_id,
                account=account,
                modelCode=model_code,
                key=key,
                value=value,
                currency=currency,
            )
        text = (1, req_id, account, model_code, key, value, currency)
        return self._text(In.ACCOUNT_UPDATE_MULTI, text)

    def account_update_multi_end(self, req_id: int) -> bytes:
        """accountUpdateMultiEnd for ``req_id``."""
        if self._proto(In.ACCOUNT_UPDATE_MULTI_END):
            return self._pb(In.ACCOUNT_UPDATE_MULTI_END, "AccountUpdateMultiEnd", reqId=req_id)
        return self._text(In.ACCOUNT_UPDATE_MULTI_END, (1, req_id))

    def pnl(
        self, req_id: int, daily_pnl: float, unrealized_pnl: float, realized_pnl: float
    ) -> bytes:
        """pnl: the account's daily, unrealized (from 129) and realized (from 135) PnL."""
        if self._proto(In.PNL):
            return self._pb(
                In.PNL,
                "PnL",
                reqId=req_id,
                dailyPnL=daily_pnl,
                unrealizedPnL=unrealized_pnl,
                realizedPnL=realized_pnl,
            )
        text: list[object] = [req_id, num(daily_pnl)]
        text += self._unrealized_realized(unrealized_pnl, realized_pnl)
        return self._text(In.PNL, text)

    def pnl_single(
        self,
        req_id: int,
        pos: Decimal | float,
        daily_pnl: float,
        unrealized_pnl: float,
        realized_pnl: float,
        value: float,
    ) -> bytes:
        """pnlSingle: one position's size, PnL and market value. ibapi 9.81 reads the
        size as an int: fractional sizes need ibapi 10."""
        if self._proto(In.PNL_SINGLE):
            return self._pb(
                In.PNL_SINGLE,
                "PnLSingle",
                reqId=req_id,
                position=size(pos),
                dailyPnL=daily_pnl,
                unrealizedPnL=unrealized_pnl,
                realizedPnL=realized_pnl,
                value=value,
            )
        text: list[object] = [req_id, size(pos), num(daily_pnl)]
        text += self._unrealized_realized(unrealized_pnl, realized_pnl)
        return self._text(In.PNL_SINGLE, [*text, num(value)])

    def _unrealized_realized(self, unrealized_pnl: float, realized_pnl: float) -> list[object]:
        """The PnL fields the version carries after the daily PnL."""
        fields: list[object] = []
        if self.version >= Since.UNREALIZED_PNL:
            fields.append(num(unrealized_pnl))
        if self.version >= Since.REALIZED_PNL:
            fields.append(num(realized_pnl))
        return fields

    # -- real-time bars (historical data: sim._families.historical) ---------------------

    def real_time_bar(self, req_id: int, bar: Bar) -> bytes:
        """realtimeBar: one 5-second bar (``bar.date`` holds its start, epoch seconds).

        Text: ``version (3), reqId, time, open, high, low, close, volume, WAP, count``
        (ibapi 9.81 reads the volume as an int: it is whole); protobuf
        ``RealTimeBarTick`` with the volume and WAP as strings.
        """
        if self._proto(In.REAL_TIME_BARS):
            return self._pb(
                In.REAL_TIME_BARS,
                "RealTimeBarTick",
                reqId=req_id,
                time=int(bar.date),
                open=bar.open,
                high=bar.high,
                low=bar.low,
                close=bar.close,
                volume=str(bar.volume),
                WAP=num(bar.wap),
                count=bar.bar_count,
            )
        return self._text(
            In.REAL_TIME_BARS,
            (
                _REAL_TIME_BAR_VERSION,
                req_id,
                int(bar.date),
                num(bar.open),
                num(bar.high),
                num(bar.low),
                num(bar.close),
                bar.volume,
                num(bar.wap),
                bar.bar_count,
            ),
        )

    # -- market data -----------------------------------------------------------------

    def tick_price(
        self, req_id: int, tick_type: int, price: float, size: int, mask: int = 0
    ) -> bytes:
        """tickPrice with its size (ibapi also calls ``tickSize`` for bid, ask, last)."""
        if self._proto(In.TICK_PRICE):
            return self._pb(
                In.TICK_PRICE,
                "TickPrice",
                reqId=req_id,
                tickType=tick_type,
                price=price,
                size=str(size),
                attrMask=mask,
            )
        return self._text(In.TICK_PRICE, (6, req_id, tick_type, num(price), size, mask))

    def tick_size(self, req_id: int, tick_type: int, size: int) -> bytes:
        """tickSize."""
        if self._proto(In.TICK_SIZE):
            return self._pb(
                In.TICK_SIZE, "TickSize", reqId=req_id, tickType=tick_type, size=str(size)
            )
        return self._text(In.TICK_SIZE, (6, req_id, tick_type, size))

    def tick_string(self, req_id: int, tick_type: int, value: str) -> bytes:
        """tickString."""
        if self._proto(In.TICK_STRING):
            return self._pb(
                In.TICK_STRING, "TickString", reqId=req_id, tickType=tick_type, value=value
            )
        return self._text(In.TICK_STRING, (6, req_id, tick_type, value))

    def tick_snapshot_end(self, req_id: int) -> bytes:
        """tickSnapshotEnd: a snapshot request is complete."""
        if self._proto(In.TICK_SNAPSHOT_END):
            return self._pb(In.TICK_SNAPSHOT_END, "TickSnapshotEnd", reqId=req_id)
        return self._text(In.TICK_SNAPSHOT_END, (1, req_id))

    def market_data_type(self, req_id: int, market_data_type: int) -> bytes:
        """marketDataType: live (1), frozen (2), delayed (3) or delayed frozen (4)."""
        if self._proto(In.MARKET_DATA_TYPE):
            return self._pb(
                In.MARKET_DATA_TYPE, "MarketDataType", reqId=req_id, marketDataType=market_data_type
            )
        return self._text(In.MARKET_DATA_TYPE, (1, req_id, market_data_type))
