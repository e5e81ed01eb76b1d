"""Server-to-client messages, encoded the way TWS encodes them for a negotiated version.

One method per message, each version-aware. The choice between text and protobuf is made
per message, as TWS does: protobuf once the negotiated version reaches the version at
which ibapi's decoder (``msgId2handleInfoProtoBuf``) expects that message in protobuf
(``PROTO_SINCE``); otherwise text, with exactly the field layout ``decoder.py`` reads at
that version. Layout changes the encoders follow (all from ``decoder.py``):

* Most text messages start with a version field the decoder skips. Exceptions: error
  messages from 194 (``ERROR_TIME``), contract data from 164 (``SIZE_RULES``), historical
  data from 124 (``SYNT_REALTIME_BARS``), historical data update/end and current time in
  millis (never had one).
* Error: below 194 ``version, id, code, message[, advancedOrderRejectJson from 166]``;
  from 194 ``id, code, message, advancedOrderRejectJson, errorTimeMillis``.
* Contract data: ``mdSizeMultiplier`` from 110 until 164, ``sizeMinTick`` at 163 only,
  ``minSize/sizeIncrement/suggestedSizeIncrement`` from 164, ``lastTradeDate`` from 182,
  ineligibility reasons from 186, plus aggGroup (121), underlying (122), market rules
  (126), real expiration date (134) and stock type (152).
* Historical data: start/end strings lead the bar list until 195; from 196 they travel in
  their own ``historicalDataEnd`` message. Bars carry a ``hasGaps`` field below 124.
* tickPrice carries the size; the decoder then also calls ``tickSize`` for bid, ask and
  last (and their delayed variants).

Protobuf messages are built with the installed ibapi's own ``ibapi.protobuf`` classes,
imported on first use (ibapi 9.x has none, and never negotiates a protobuf version).
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Iterable
from functools import cache
from typing import Any

from ._protocol import Version, proto_message, text_message
from ._universe import Bar, Instrument


class In(enum.IntEnum):
    """Server-to-client message ids the simulator sends (``ibapi.message.IN``)."""

    TICK_PRICE = 1
    TICK_SIZE = 2
    ERR_MSG = 4
    NEXT_VALID_ID = 9
    CONTRACT_DATA = 10
    MANAGED_ACCTS = 15
    HISTORICAL_DATA = 17
    TICK_STRING = 46
    CURRENT_TIME = 49
    CONTRACT_DATA_END = 52
    OPEN_ORDER_END = 53
    ACCT_DOWNLOAD_END = 54
    EXECUTION_DATA_END = 55
    TICK_SNAPSHOT_END = 57
    MARKET_DATA_TYPE = 58
    POSITION_END = 62
    HISTORICAL_DATA_UPDATE = 90
    COMPLETED_ORDERS_END = 102
    HISTORICAL_DATA_END = 108
    CURRENT_TIME_IN_MILLIS = 109


PROTO_SINCE: dict[In, int] = {
    In.ERR_MSG: Version.PROTOBUF,
    In.OPEN_ORDER_END: Version.PROTOBUF,
    In.EXECUTION_DATA_END: Version.PROTOBUF,
    In.COMPLETED_ORDERS_END: Version.PROTOBUF_COMPLETED_ORDER,
    In.POSITION_END: Version.PROTOBUF_ACCOUNTS_POSITIONS,
    In.ACCT_DOWNLOAD_END: Version.PROTOBUF_ACCOUNTS_POSITIONS,
    In.CONTRACT_DATA: Version.PROTOBUF_CONTRACT_DATA,
    In.CONTRACT_DATA_END: Version.PROTOBUF_CONTRACT_DATA,
    In.TICK_PRICE: Version.PROTOBUF_MARKET_DATA,
    In.TICK_SIZE: Version.PROTOBUF_MARKET_DATA,
    In.TICK_STRING: Version.PROTOBUF_MARKET_DATA,
    In.TICK_SNAPSHOT_END: Version.PROTOBUF_MARKET_DATA,
    In.MARKET_DATA_TYPE: Version.PROTOBUF_MARKET_DATA,
    In.MANAGED_ACCTS: Version.PROTOBUF_ACCOUNTS_POSITIONS,
    In.HISTORICAL_DATA: Version.PROTOBUF_HISTORICAL_DATA,
    In.HISTORICAL_DATA_UPDATE: Version.PROTOBUF_HISTORICAL_DATA,
    In.HISTORICAL_DATA_END: Version.PROTOBUF_HISTORICAL_DATA,
    In.NEXT_VALID_ID: Version.PROTOBUF_REST_MESSAGES_3,
    In.CURRENT_TIME: Version.PROTOBUF_REST_MESSAGES_3,
    In.CURRENT_TIME_IN_MILLIS: Version.PROTOBUF_REST_MESSAGES_3,
}
"""Server version from which each message travels as protobuf."""


@cache
def pb(name: str) -> Any:
    """The installed ibapi's protobuf class ``ibapi.protobuf.<name>_pb2.<name>``."""
    return getattr(importlib.import_module(f"ibapi.protobuf.{name}_pb2"), name)


def _num(value: float) -> str:
    """A float as TWS writes it: integral values without a fraction."""
    return str(int(value)) if value == int(value) else repr(value)


class Encoder:
    """Encodes server-to-client messages for one negotiated server version."""

    def __init__(self, version: int) -> None:
        self.version = version

    def _proto(self, msg: In) -> bool:
        return self.version >= PROTO_SINCE[msg]

    def _text(self, msg: In, fields: Iterable[object]) -> bytes:
        return text_message(msg, fields, self.version)

    def _pb(self, msg: In, name: str, **fields: Any) -> bytes:
        return proto_message(msg, pb(name)(**fields).SerializeToString())

    # -- connection and account ------------------------------------------------------

    def next_valid_id(self, order_id: int) -> bytes:
        if self._proto(In.NEXT_VALID_ID):
            return self._pb(In.NEXT_VALID_ID, "NextValidId", orderId=order_id)
        return self._text(In.NEXT_VALID_ID, (1, order_id))

    def managed_accounts(self, accounts: str) -> bytes:
        if self._proto(In.MANAGED_ACCTS):
            return self._pb(In.MANAGED_ACCTS, "ManagedAccounts", accountsList=accounts)
        return self._text(In.MANAGED_ACCTS, (1, accounts))

    def current_time(self, seconds: int) -> bytes:
        if self._proto(In.CURRENT_TIME):
            return self._pb(In.CURRENT_TIME, "CurrentTime", currentTime=seconds)
        return self._text(In.CURRENT_TIME, (1, seconds))

    def current_time_in_millis(self, millis: int) -> bytes:
        if self._proto(In.CURRENT_TIME_IN_MILLIS):
            return self._pb(
                In.CURRENT_TIME_IN_MILLIS, "CurrentTimeInMillis", currentTimeInMillis=millis
            )
        return self._text(In.CURRENT_TIME_IN_MILLIS, (millis,))

    def error(
        self, req_id: int, code: int, message: str, time_millis: int, json: str = ""
    ) -> bytes:
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

    # -- empty account: the ends of position, order, execution and account lists --------

    def position_end(self) -> bytes:
        if self._proto(In.POSITION_END):
            return self._pb(In.POSITION_END, "PositionEnd")
        return self._text(In.POSITION_END, (1,))

    def open_order_end(self) -> bytes:
        if self._proto(In.OPEN_ORDER_END):
            return self._pb(In.OPEN_ORDER_END, "OpenOrdersEnd")
        return self._text(In.OPEN_ORDER_END, (1,))

    def completed_orders_end(self) -> bytes:
        if self._proto(In.COMPLETED_ORDERS_END):
            return self._pb(In.COMPLETED_ORDERS_END, "CompletedOrdersEnd")
        return self._text(In.COMPLETED_ORDERS_END, ())

    def execution_data_end(self, req_id: int) -> bytes:
        if self._proto(In.EXECUTION_DATA_END):
            return self._pb(In.EXECUTION_DATA_END, "ExecutionDetailsEnd", reqId=req_id)
        return self._text(In.EXECUTION_DATA_END, (1, req_id))

    def account_download_end(self, account: str) -> bytes:
        if self._proto(In.ACCT_DOWNLOAD_END):
            return self._pb(In.ACCT_DOWNLOAD_END, "AccountDataEnd", accountName=account)
        return self._text(In.ACCT_DOWNLOAD_END, (1, account))

    # -- contract details ------------------------------------------------------------

    def contract_data(self, req_id: int, inst: Instrument, trading_day: str) -> bytes:
        if self._proto(In.CONTRACT_DATA):
            return self._pb(
                In.CONTRACT_DATA,
                "ContractData",
                reqId=req_id,
                contract=self._contract_proto(inst),
                contractDetails=self._details_proto(inst, trading_day),
            )
        return self._text(In.CONTRACT_DATA, self._contract_fields(req_id, inst, trading_day))

    def _contract_proto(self, inst: Instrument) -> Any:
        fields: dict[str, Any] = {
            "conId": inst.con_id,
            "symbol": inst.symbol,
            "secType": inst.sec_type,
            "exchange": inst.exchange,
            "currency": inst.currency,
            "localSymbol": inst.local_symbol,
            "tradingClass": inst.trading_class,
        }
        if inst.primary_exchange:
            fields["primaryExch"] = inst.primary_exchange
        if inst.expiry:
            fields["lastTradeDateOrContractMonth"] = inst.expiry
            fields["lastTradeDate"] = inst.expiry
        if inst.strike:
            fields["strike"] = inst.strike
        if inst.right:
            fields["right"] = inst.right
        if inst.multiplier:
            fields["multiplier"] = float(inst.multiplier)
        return pb("Contract")(**fields)

    def _details_proto(self, inst: Instrument, trading_day: str) -> Any:
        fields: dict[str, Any] = {
            "marketName": inst.market_name,
            "minTick": _num(inst.min_tick),
            "orderTypes": inst.order_types,
            "validExchanges": inst.valid_exchanges,
            "priceMagnifier": 1,
            "longName": inst.long_name,
            "timeZoneId": inst.time_zone,
            "tradingHours": inst.hours(trading_day),
            "liquidHours": inst.hours(trading_day),
            "aggGroup": 1,
            "marketRuleIds": "26",
            "minSize": "1",
            "sizeIncrement": inst.size_increment,
            "suggestedSizeIncrement": inst.size_increment,
        }
        optional = {
            "underConId": inst.under_con_id,
            "contractMonth": inst.contract_month,
            "industry": inst.industry,
            "category": inst.category,
            "subcategory": inst.subcategory,
            "underSymbol": inst.under_symbol,
            "underSecType": inst.under_sec_type,
            "realExpirationDate": inst.expiry,
            "stockType": inst.stock_type,
        }
        fields.update({key: value for key, value in optional.items() if value})
        return pb("ContractDetails")(**fields)

    def _contract_fields(self, req_id: int, inst: Instrument, trading_day: str) -> list[object]:
        v = self.version
        f: list[object] = []
        if v < Version.SIZE_RULES:
            f.append(8)
        f += [req_id, inst.symbol, inst.sec_type, inst.expiry]
        if v >= Version.LAST_TRADE_DATE:
            f.append(inst.expiry)
        f += [_num(inst.strike), inst.right, inst.exchange, inst.currency, inst.local_symbol]
        f += [inst.market_name, inst.trading_class, inst.con_id, _num(inst.min_tick)]
        if Version.MD_SIZE_MULTIPLIER <= v < Version.SIZE_RULES:
            f.append(1)
        f += [inst.multiplier, inst.order_types, inst.valid_exchanges, 1, inst.under_con_id]
        f += [inst.long_name, inst.primary_exchange]
        f += [inst.contract_month, inst.industry, inst.category, inst.subcategory]
        f += [inst.time_zone, inst.hours(trading_day), inst.hours(trading_day)]
        f += ["", 0, 0]  # evRule, evMultiplier, secIdList count
        if v >= Version.AGG_GROUP:
            f.append(1)
        if v >= Version.UNDERLYING_INFO:
            f += [inst.under_symbol, inst.under_sec_type]
        if v >= Version.MARKET_RULES:
            f.append("26")
        if v >= Version.REAL_EXPIRATION_DATE:
            f.append(inst.expiry)
        if v >= Version.STOCK_TYPE:
            f.append(inst.stock_type)
        if Version.FRACTIONAL_SIZE_SUPPORT <= v < Version.SIZE_RULES:
            f.append(inst.size_increment)
        if v >= Version.SIZE_RULES:
            f += [1, inst.size_increment, inst.size_increment]
        # fund fields (from 179) only follow for secType FUND, which the universe lacks
        if v >= Version.INELIGIBILITY_REASONS:
            f.append(0)
        return f

    def contract_data_end(self, req_id: int) -> bytes:
        if self._proto(In.CONTRACT_DATA_END):
            return self._pb(In.CONTRACT_DATA_END, "ContractDataEnd", reqId=req_id)
        return self._text(In.CONTRACT_DATA_END, (1, req_id))

    # -- historical data -------------------------------------------------------------

    def historical_data(self, req_id: int, bars: list[Bar], start: str, end: str) -> bytes:
        """The bars and the end marker: one message below 196, two from 196."""
        if self._proto(In.HISTORICAL_DATA):
            data = self._pb(
                In.HISTORICAL_DATA,
                "HistoricalData",
                reqId=req_id,
                historicalDataBars=[self._bar_proto(bar) for bar in bars],
            )
            return data + self._pb(
                In.HISTORICAL_DATA_END,
                "HistoricalDataEnd",
                reqId=req_id,
                startDateStr=start,
                endDateStr=end,
            )
        v = self.version
        f: list[object] = []
        if v < Version.SYNT_REALTIME_BARS:
            f.append(3)
        f.append(req_id)
        if v < Version.HISTORICAL_DATA_END:
            f += [start, end]
        f.append(len(bars))
        for bar in bars:
            f += [bar.date, _num(bar.open), _num(bar.high), _num(bar.low), _num(bar.close)]
            f += [bar.volume, _num(bar.wap)]
            if v < Version.SYNT_REALTIME_BARS:
                f.append("false")  # hasGaps
            f.append(bar.bar_count)
        data = self._text(In.HISTORICAL_DATA, f)
        if v < Version.HISTORICAL_DATA_END:
            return data
        return data + self._text(In.HISTORICAL_DATA_END, (req_id, start, end))

    def historical_data_update(self, req_id: int, bar: Bar) -> bytes:
        if self._proto(In.HISTORICAL_DATA_UPDATE):
            return self._pb(
                In.HISTORICAL_DATA_UPDATE,
                "HistoricalDataUpdate",
                reqId=req_id,
                historicalDataBar=self._bar_proto(bar),
            )
        return self._text(
            In.HISTORICAL_DATA_UPDATE,
            (
                req_id,
                bar.bar_count,
                bar.date,
                _num(bar.open),
                _num(bar.close),
                _num(bar.high),
                _num(bar.low),
                _num(bar.wap),
                bar.volume,
            ),
        )

    @staticmethod
    def _bar_proto(bar: Bar) -> Any:
        return pb("HistoricalDataBar")(
            date=bar.date,
            open=bar.open,
            high=bar.high,
            low=bar.low,
            close=bar.close,
            volume=str(bar.volume),
            WAP=_num(bar.wap),
            barCount=bar.bar_count,
        )

    # -- market data -----------------------------------------------------------------

    def tick_price(
        self, req_id: int, tick_type: int, price: float, size: int, mask: int = 0
    ) -> bytes:
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
        return self._text(In.TICK_PRICE, (6, req_id, tick_type, _num(price), size, mask))

    def tick_size(self, req_id: int, tick_type: int, size: int) -> bytes:
        if self._proto(In.TICK_SIZE):
            return self._pb(
                In.TICK_SIZE, "TickSize", reqId=req_id, tickType=tick_type, size=str(size)
            )
        return self._text(In.TICK_SIZE, (6, req_id, tick_type, size))

    def tick_string(self, req_id: int, tick_type: int, value: str) -> bytes:
        if self._proto(In.TICK_STRING):
            return self._pb(
                In.TICK_STRING, "TickString", reqId=req_id, tickType=tick_type, value=value
            )
        return self._text(In.TICK_STRING, (6, req_id, tick_type, value))

    def tick_snapshot_end(self, req_id: int) -> bytes:
        if self._proto(In.TICK_SNAPSHOT_END):
            return self._pb(In.TICK_SNAPSHOT_END, "TickSnapshotEnd", reqId=req_id)
        return self._text(In.TICK_SNAPSHOT_END, (1, req_id))

    def market_data_type(self, req_id: int, market_data_type: int) -> bytes:
        if self._proto(In.MARKET_DATA_TYPE):
            return self._pb(
                In.MARKET_DATA_TYPE, "MarketDataType", reqId=req_id, marketDataType=market_data_type
            )
        return self._text(In.MARKET_DATA_TYPE, (1, req_id, market_data_type))
