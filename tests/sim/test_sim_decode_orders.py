"""Order and account requests, decoded by the simulated TWS exactly as ibapi's EClient wrote
them, at versions on both sides of every layout change, in text and protobuf."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ibapi.client import EClient
from ibapi.contract import ComboLeg, Contract, DeltaNeutralContract
from ibapi.execution import ExecutionFilter
from ibapi.order import Order, OrderComboLeg
from ibapi.order_condition import (
    ExecutionCondition,
    MarginCondition,
    PercentChangeCondition,
    PriceCondition,
    TimeCondition,
    VolumeCondition,
)
from ibapi.scanner import ScannerSubscription
from ibapi.tag_value import TagValue
from sim_client import CLIENT_MAX, VERSIONS

from ib_anyio.sim._decode import _TEXT_IDS, Fields, decode_request, text_request_id
from ib_anyio.sim._decode_order import (
    UNSET_DECIMAL,
    UNSET_DOUBLE,
    UNSET_INTEGER,
    order_from_fields,
    text_layout,
)
from ib_anyio.sim._protocol import split_message

try:  # ibapi 10.x
    from ibapi.order_cancel import OrderCancel
except ImportError:  # ibapi 9.81: cancelOrder(orderId), reqGlobalCancel()
    OrderCancel = None


def _versions(*extra: int) -> list[int]:
    """The given versions and the usual ones, where the installed ibapi speaks them."""
    return sorted(v for v in {*VERSIONS, *extra} if v <= CLIENT_MAX)


# Text placeOrder: both sides of 101 (fractional sizes), 102 (conditions), 111 (cash
# quantity), 145 (no version field), 151 (price management algo), 169/170 (manual order
# time, peg offsets), 187..190 (RFQ fields), 192 (CME tagging), 199 (imbalance only).
ORDER_VERSIONS = _versions(
    100,
    101,
    102,
    110,
    111,
    144,
    145,
    150,
    151,
    169,
    170,
    183,
    184,
    187,
    189,
    190,
    191,
    192,
    199,
    202,
    203,
    213,
)
# ibapi 10.x sends placeOrder as protobuf from 203; a client may still write text there.
PLACE_ORDER_CASES = [(v, False) for v in ORDER_VERSIONS] + [
    (v, True) for v in ORDER_VERSIONS if v >= 203
]


class _Capture:
    """EClient's connection and wrapper: keeps what it sends and any refusal."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.errors: list[tuple[Any, ...]] = []

    def sendMsg(self, msg: bytes) -> int:
        self.sent.append(msg)
        return len(msg)

    def isConnected(self) -> bool:
        return True

    def error(self, *args: Any) -> None:
        self.errors.append(args)


def _client(version: int, *, text: bool = False) -> tuple[Any, _Capture]:
    capture = _Capture()
    client = EClient(capture)
    client.conn = capture
    client.serverVersion_ = version
    client.connState = EClient.CONNECTED
    if text:  # what a client writing text at any version sends (ibapi 10.x's text path)
        client.useProtoBuf = lambda msg_id: False
    return client, capture


def _send(version: int, method: str, *args: Any, text: bool = False) -> bytes:
    """The one message the installed EClient writes for ``method(*args)`` at ``version``."""
    client, capture = _client(version, text=text)
    getattr(client, method)(*args)
    assert not capture.errors, capture.errors
    [msg] = capture.sent
    return msg


def _decode(version: int, msg: bytes) -> tuple[str, Fields]:
    assert int.from_bytes(msg[:4], "big") == len(msg) - 4
    msg_id, is_protobuf, body = split_message(msg[4:], version)
    return decode_request(msg_id, is_protobuf, body, version)


def _is_protobuf(version: int, msg: bytes) -> bool:
    return split_message(msg[4:], version)[1]


def _takes(method: str, parameter: str) -> bool:
    return parameter in inspect.signature(getattr(EClient, method)).parameters


# -- orders ----------------------------------------------------------------------------

names = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ._-", max_size=8)
tags = st.text(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8
)
prices = st.sampled_from([UNSET_DOUBLE, 0.0, 0.01, 1.5, 99.25, 4200.0, 123456.789])
quantities = st.one_of(
    st.integers(1, 10**6).map(Decimal),
    st.decimals(Decimal("0.0001"), Decimal("100000"), places=4),
)
con_ids = st.integers(0, 2**31 - 2)
exchanges = st.sampled_from(["SMART", "NYSE", "CME"])
conditions = st.one_of(
    st.builds(
        PriceCondition,
        st.sampled_from([0, 1, 2, 3, 4, 7, 8]),
        con_ids,
        exchanges,
        st.booleans(),
        prices.filter(lambda p: p != UNSET_DOUBLE),
    ),
    st.builds(TimeCondition, st.booleans(), st.sampled_from(["20261224 16:00:00 US/Eastern"])),
    st.builds(MarginCondition, st.booleans(), st.integers(1, 100)),
    st.builds(ExecutionCondition, st.sampled_from(["STK", "OPT"]), exchanges, tags),
    st.builds(VolumeCondition, con_ids, exchanges, st.booleans(), st.integers(0, 10**7)),
    st.builds(
        PercentChangeCondition, con_ids, exchanges, st.booleans(), st.sampled_from([-2.5, 0.1, 7.0])
    ),
).flatmap(lambda c: st.sampled_from([c, c.Or()]))
tag_values = st.lists(st.builds(TagValue, tags, names), max_size=3, unique_by=lambda t: t.tag)


@st.composite
def contracts(draw: st.DrawFn) -> Contract:
    c = Contract()
    c.conId = draw(con_ids)
    c.symbol = draw(st.sampled_from(["AAPL", "ES", "EUR", "SPX"]))
    c.secType = draw(st.sampled_from(["STK", "OPT", "FUT", "CASH", "BAG"]))
    c.lastTradeDateOrContractMonth = draw(st.sampled_from(["", "202612", "20261218"]))
    c.strike = draw(st.sampled_from([UNSET_DOUBLE, 5.5, 230.0]))
    c.right = draw(st.sampled_from(["", "C", "P"]))
    c.multiplier = draw(st.sampled_from(["", "50", "100"]))
    c.exchange = draw(exchanges)
    c.primaryExchange = draw(st.sampled_from(["", "NASDAQ"]))
    c.currency = draw(st.sampled_from(["USD", "EUR"]))
    c.localSymbol = draw(st.sampled_from(["", "ESZ6"]))
    c.tradingClass = draw(st.sampled_from(["", "NMS"]))
    if c.secType == "BAG":
        c.comboLegs = []
        for _ in range(draw(st.integers(0, 2))):
            leg = ComboLeg()
            leg.conId, leg.ratio = draw(con_ids), draw(st.integers(1, 5))
            leg.action, leg.exchange = draw(st.sampled_from(["BUY", "SELL"])), draw(exchanges)
            c.comboLegs.append(leg)
    if draw(st.booleans()) and c.secType != "BAG":
        c.deltaNeutralContract = DeltaNeutralContract()
        c.deltaNeutralContract.conId = draw(con_ids)
        c.deltaNeutralContract.delta = draw(st.sampled_from([0.25, -0.5]))
        c.deltaNeutralContract.price = draw(st.sampled_from([101.5, 7.0]))
    return c


@st.composite
def orders(draw: st.DrawFn, version: int, contract: Contract) -> Order:
    o = Order()
    o.action = draw(st.sampled_from(["BUY", "SELL", "SSHORT"]))
    o.orderType = draw(st.sampled_from(["MKT", "LMT", "STP", "STP LMT", "TRAIL"]))
    quantity = draw(quantities)
    o.totalQuantity = quantity if isinstance(o.totalQuantity, Decimal) else float(quantity)
    o.lmtPrice, o.auxPrice = draw(prices), draw(prices)
    o.trailStopPrice, o.trailingPercent = draw(prices), draw(prices)
    o.tif = draw(st.sampled_from(["DAY", "GTC", "IOC", "FOK", "GTD", "OPG", ""]))
    o.ocaGroup, o.ocaType = draw(st.sampled_from(["", "oca1"])), draw(st.integers(0, 3))
    o.orderRef, o.account = draw(names), draw(st.sampled_from(["", "DU1234567"]))
    o.transmit, o.outsideRth, o.whatIf = (
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.booleans()),
    )
    o.parentId = draw(st.integers(0, 2**31 - 2))
    o.goodAfterTime = draw(st.sampled_from(["", "20261224 09:30:00 US/Eastern"]))
    o.goodTillDate = draw(st.sampled_from(["", "20261231 16:00:00 US/Eastern"]))
    if draw(st.booleans()):
        o.algoStrategy = draw(st.sampled_from(["Adaptive", "Vwap"]))
        o.algoParams = draw(tag_values)
    o.conditions = draw(st.lists(conditions, max_size=3))
    o.conditionsIgnoreRth, o.conditionsCancelOrder = draw(st.booleans()), draw(st.booleans())
    o.orderMiscOptions = draw(tag_values)
    if draw(st.booleans()):
        o.hedgeType, o.hedgeParam = "D", draw(names)
    if version >= 151:  # EClient refuses it below PRICE_MGMT_ALGO
        o.usePriceMgmtAlgo = draw(st.sampled_from([None, True, False]))
    if contract.secType == "BAG":
        o.orderComboLegs = []
        for _ in contract.comboLegs:
            leg = OrderComboLeg()
            leg.price = draw(prices)
            o.orderComboLegs.append(leg)
        o.smartComboRoutingParams = draw(tag_values)
    if version < 111:
        o.cashQty = 0.0  # the default, UNSET_DOUBLE, is truthy: EClient refuses it below 111
    return o


_LISTS = {
    "comboLegs",
    "orderComboLegs",
    "algoParams",
    "smartComboRoutingParams",
    "orderMiscOptions",
    "conditions",
}


def _norm(key: str, value: Any) -> Any:
    """A comparable form of an attribute value (numbers as Decimal, objects as dicts)."""
    if key in _LISTS:
        return [_norm("", item) for item in value or []]
    if isinstance(value, TagValue):
        return (value.tag, value.value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _norm(k, v) for k, v in value.items()}
    return {k: _norm(k, v) for k, v in vars(value).items()}


# What the server relies on: present in every decoded placeOrder.
KEY_ORDER_ATTRS = (
    "action",
    "totalQuantity",
    "orderType",
    "lmtPrice",
    "auxPrice",
    "tif",
    "ocaGroup",
    "ocaType",
    "account",
    "orderRef",
    "transmit",
    "parentId",
    "outsideRth",
    "whatIf",
    "goodAfterTime",
    "goodTillDate",
    "trailStopPrice",
    "trailingPercent",
    "algoStrategy",
)


def _sent(order: Order, key: str, version: int) -> Any:
    value = getattr(order, key)
    if key == "totalQuantity" and version < 101:  # EClient sends int(totalQuantity)
        return int(value)
    return value


def _check_order(
    fields: Fields, order_id: int, contract: Contract, order: Order, version: int, *, proto: bool
) -> None:
    assert fields["orderId"] == order_id
    rebuilt_contract, rebuilt = order_from_fields(fields)
    assert rebuilt.orderId == order_id
    assert isinstance(fields["order"]["totalQuantity"], Decimal)
    decoded = fields["order"]
    if not proto:  # the text layout carries all of these at every version
        assert set(KEY_ORDER_ATTRS) <= decoded.keys()
        assert ("conditions" in decoded) == (version >= 102)
    keys = {*decoded, *KEY_ORDER_ATTRS}
    if order.conditions and version >= 102:
        keys |= {"conditions", "conditionsIgnoreRth", "conditionsCancelOrder"}
    if order.algoStrategy:
        keys.add("algoParams")
    if proto:  # a map: unordered
        for name in ("algoParams", "smartComboRoutingParams", "orderMiscOptions"):
            if name in keys:
                assert sorted(_norm(name, getattr(rebuilt, name))) == sorted(
                    _norm(name, getattr(order, name))
                )
                keys.discard(name)
        if "orderComboLegs" in keys or order.orderComboLegs:
            # per-leg prices travel in the legs: present when any is set
            sent = [leg.price for leg in order.orderComboLegs or []]
            got = [leg.price for leg in rebuilt.orderComboLegs or []]
            assert got == (sent if any(p != UNSET_DOUBLE for p in sent) else [])
            keys.discard("orderComboLegs")
    for key in sorted(keys):
        assert _norm(key, getattr(rebuilt, key)) == _norm(key, _sent(order, key, version)), key
    for key in {*fields["contract"], "conId", "symbol", "secType", "exchange", "currency"}:
        assert _norm(key, getattr(rebuilt_contract, key)) == _norm(key, getattr(contract, key)), key


def _protobuf_place_order(version: int) -> bool:
    """Whether the installed EClient sends placeOrder as protobuf at ``version``."""
    client, _ = _client(version)
    return hasattr(client, "useProtoBuf") and bool(client.useProtoBuf(3))


def _protobuf_primary_exchange_works() -> bool:
    """ibapi 10.37.2's createContractProto sets ``primaryExchange``, a field its Contract
    proto does not have (``primaryExch``): it cannot send such an order as protobuf."""
    try:
        from ibapi.client_utils import createContractProto
    except ImportError:  # ibapi 9.81
        return True
    contract = Contract()
    contract.primaryExchange = "NASDAQ"
    try:
        createContractProto(contract, None)
    except AttributeError:
        return False
    return True


@pytest.mark.parametrize(("version", "text"), PLACE_ORDER_CASES)
@settings(max_examples=25, deadline=None)
@given(data=st.data(), order_id=st.integers(0, 2**31 - 2))
def test_place_order(version: int, text: bool, data: st.DataObject, order_id: int) -> None:
    """Text at every version (forced where 10.x would send protobuf), protobuf from 203."""
    contract = data.draw(contracts())
    order = data.draw(orders(version, contract))
    proto = not text and _protobuf_place_order(version)
    if proto and not _protobuf_primary_exchange_works():
        contract.primaryExchange = ""
    msg = _send(version, "placeOrder", order_id, contract, order, text=text)
    assert _is_protobuf(version, msg) == proto
    assert proto == (not text and version >= 203)
    name, fields = _decode(version, msg)
    assert name == "placeOrder"
    assert "decodeError" not in fields, fields
    _check_order(fields, order_id, contract, order, version, proto=proto)


@pytest.mark.parametrize("version", _versions(202, 203))
def test_place_order_transmit_false(version: int) -> None:
    """ibapi's createOrderProto omits false booleans: absent means False, not Order()'s True."""
    order = _order(version)
    order.transmit = False
    fields = _decode(version, _send(version, "placeOrder", 7, _contract(), order))[1]
    assert fields["order"]["transmit"] is False
    assert order_from_fields(fields)[1].transmit is False


def _layout_names(version: int) -> tuple[str, ...]:
    return text_layout(version).names


@pytest.mark.parametrize("version", _versions(144, 145, 157))
def test_place_order_layout_starts_with_the_order_id_from_145(version: int) -> None:
    """Below 145 a version field leads; from 145 the order id, then the contract's conId."""
    if version < 145:
        assert _layout_names(version)[:3] == ("-", "orderId", "contract.conId")
    else:
        assert _layout_names(version)[:2] == ("orderId", "contract.conId")


@pytest.mark.parametrize("version", [v for v in _versions(157, 169, 170, 200) if v >= 157])
@pytest.mark.parametrize(
    ("order_type", "exchange", "compete", "expected"),
    [
        ("PEG BEST", "SMART", 0.02, {"minCompeteSize": 3, "competeAgainstBestOffset": 0.02}),
        ("PEG BEST", "IBKRATS", float("inf"), {"minTradeQty": 5, "midOffsetAtWhole": 0.01}),
        ("PEG MID", "SMART", UNSET_DOUBLE, {"midOffsetAtWhole": 0.01, "midOffsetAtHalf": 0.005}),
        ("PEG BENCH", "SMART", UNSET_DOUBLE, {"referenceContractId": 8314}),
    ],
)
def test_place_order_peg_sections(
    version: int, order_type: str, exchange: str, compete: float, expected: dict[str, Any]
) -> None:
    contract = Contract()
    contract.symbol, contract.secType, contract.exchange = "IBM", "STK", exchange
    order = _order(version)
    order.orderType = order_type
    if version >= 170:  # PEGBEST_PEGMID_OFFSETS: EClient refuses these below
        order.minTradeQty, order.minCompeteSize, order.competeAgainstBestOffset = 5, 3, compete
        order.midOffsetAtWhole, order.midOffsetAtHalf = 0.01, 0.005
    order.referenceContractId, order.peggedChangeAmount = 8314, 0.5
    order.scalePriceIncrement, order.scalePriceAdjustValue = 0.05, 0.01  # the scale section
    order.deltaNeutralOrderType, order.deltaNeutralConId = "LMT", 12  # the delta-neutral one
    fields = _decode(version, _send(version, "placeOrder", 3, contract, order, text=True))[1]
    assert "decodeError" not in fields, fields
    assert ("<pegOffsets>" in text_layout(version).names) == (version >= 170)
    if version >= 170 or order_type == "PEG BENCH":
        assert {k: fields["order"][k] for k in expected} == expected
    assert fields["order"]["scalePriceAdjustValue"] == 0.01
    assert fields["order"]["deltaNeutralConId"] == 12
    _check_order(fields, 3, contract, order, version, proto=False)


def test_layouts_are_learned_at_every_version() -> None:
    for version in range(100, CLIENT_MAX + 1):
        names = text_layout(version).names
        assert names.count("orderId") == 1
        assert "order.totalQuantity" in names


def _framed(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


@pytest.mark.parametrize("version", _versions(144, 145, 203))
def test_undecodable_place_order_keeps_its_order_id(version: int) -> None:
    msg = _send(version, "placeOrder", 42, _contract(), _order(version))
    _, is_protobuf, body = split_message(msg[4:], version)
    head = msg[4 : len(msg) - len(body)]
    if is_protobuf:  # an order condition of a type that does not exist
        from ib_anyio.sim._encode import pb

        request = pb("PlaceOrderRequest").FromString(body)
        request.order.conditions.add().type = 99
        broken = [(request.SerializeToString(), "unknown order condition type 99")]
    else:  # one field short, one field too many
        short = body[: body.rindex(b"\0", 0, len(body) - 1) + 1]
        broken = [(short, "fewer fields"), (body + b"x\0", "1 fields more")]
    for payload, error in broken:
        name, fields = _decode(version, _framed(head + payload))
        assert (name, fields["orderId"]) == ("placeOrder", 42)
        assert error in str(fields["decodeError"])


# -- cancels, order lists, executions --------------------------------------------------


def _order_cancel(version: int, time: str = "", ext: str = "", indicator: int = 0) -> list[Any]:
    if OrderCancel is None:
        return []
    cancel = OrderCancel()
    cancel.manualOrderCancelTime = time if version >= 169 else ""
    if version >= 192:
        cancel.extOperator, cancel.manualOrderIndicator = ext, indicator
    return [cancel]


@pytest.mark.parametrize("version", _versions(168, 169, 187, 189, 190, 191, 192, 202, 203))
@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 2), st.sampled_from(["", "20261224 10:00:00"]), names)
def test_cancel_order(version: int, order_id: int, time: str, ext: str) -> None:
    args = _order_cancel(version, time, ext, 1)
    name, fields = _decode(version, _send(version, "cancelOrder", order_id, *args))
    assert name == "cancelOrder"
    expected: Fields = {"orderId": order_id, "manualOrderCancelTime": ""}
    if args:
        expected["manualOrderCancelTime"] = args[0].manualOrderCancelTime
        if version >= 192:
            expected["extOperator"], expected["manualOrderIndicator"] = ext, 1
    assert {k: fields[k] for k in expected} == expected
    assert set(fields) <= {*expected, "extOperator", "manualOrderIndicator"}


@pytest.mark.parametrize("version", _versions(191, 192, 203))
def test_global_cancel(version: int) -> None:
    args = _order_cancel(version, ext="ops", indicator=0)
    name, fields = _decode(version, _send(version, "reqGlobalCancel", *args))
    assert name == "reqGlobalCancel"
    if not args or version < 192:
        assert fields == {}
    else:
        assert (fields["extOperator"], fields["manualOrderIndicator"]) == ("ops", 0)


@pytest.mark.parametrize("version", _versions(150, 203, 204))
@pytest.mark.parametrize("flag", [True, False])
def test_order_lists(version: int, flag: bool) -> None:
    assert _decode(version, _send(version, "reqOpenOrders")) == ("reqOpenOrders", {})
    assert _decode(version, _send(version, "reqAllOpenOrders")) == ("reqAllOpenOrders", {})
    assert _decode(version, _send(version, "reqAutoOpenOrders", flag)) == (
        "reqAutoOpenOrders",
        {"bAutoBind": flag},
    )
    if version >= 150:  # COMPLETED_ORDERS
        assert _decode(version, _send(version, "reqCompletedOrders", flag)) == (
            "reqCompletedOrders",
            {"apiOnly": flag},
        )


@pytest.mark.parametrize("version", _versions(199, 200, 201))
@settings(max_examples=20, deadline=None)
@given(
    st.integers(0, 2**31 - 2),
    st.integers(0, 99),
    st.sampled_from(["", "DU1234567"]),
    st.sampled_from(["", "20261224 10:00:00"]),
    st.sampled_from(["", "AAPL"]),
    st.sampled_from(["", "STK"]),
    st.sampled_from(["", "SMART"]),
    st.sampled_from(["", "BUY", "SELL"]),
    st.sampled_from([UNSET_INTEGER, 0, 7]),
    st.lists(st.integers(20250101, 20261231), max_size=3),
)
def test_req_executions(
    version: int,
    req_id: int,
    client_id: int,
    account: str,
    time: str,
    symbol: str,
    sec_type: str,
    exchange: str,
    side: str,
    last_n_days: int,
    dates: list[int],
) -> None:
    flt = ExecutionFilter()
    flt.clientId, flt.acctCode, flt.time, flt.symbol = client_id, account, time, symbol
    flt.secType, flt.exchange, flt.side = sec_type, exchange, side
    new_filter = hasattr(flt, "lastNDays")  # ibapi 10.x
    if new_filter and version >= 200:
        flt.lastNDays, flt.specificDates = last_n_days, dates
    name, fields = _decode(version, _send(version, "reqExecutions", req_id, flt))
    assert name == "reqExecutions"
    assert fields == {
        "reqId": req_id,
        "execFilter": {
            "clientId": client_id,
            "acctCode": account,
            "time": time,
            "symbol": symbol,
            "secType": sec_type,
            "exchange": exchange,
            "side": side,
            "lastNDays": flt.lastNDays if new_filter else UNSET_INTEGER,
            "specificDates": list(flt.specificDates or []) if new_filter else [],
        },
    }


@pytest.mark.parametrize("version", _versions(179, 180, 182, 183, 184, 210, 211))
@pytest.mark.parametrize("override", [0, 1])
def test_exercise_options(version: int, override: int) -> None:
    contract = Contract()
    contract.conId, contract.symbol, contract.secType = 123, "SPY", "OPT"
    contract.lastTradeDateOrContractMonth, contract.strike, contract.right = "20261218", 500.0, "C"
    contract.multiplier, contract.exchange, contract.currency = "100", "SMART", "USD"
    contract.localSymbol, contract.tradingClass = "SPY   261218C00500000", "SPY"
    args: list[Any] = [9, contract, 1, 3, "DU1234567", override]
    extra = {}
    if _takes("exerciseOptions", "manualOrderTime"):
        args += [
            "20261218 15:00:00" if version >= 180 else "",
            "C1" if version >= 183 else "",
            version >= 184,
        ]
        extra = {
            "manualOrderTime": args[6],
            "customerAccount": args[7],
            "professionalCustomer": args[8],
        }
    name, fields = _decode(version, _send(version, "exerciseOptions", *args))
    assert name == "exerciseOptions"
    expected = {
        "reqId": 9,
        "exerciseAction": 1,
        "exerciseQuantity": 3,
        "account": "DU1234567",
        "override": override,
    }
    for key, since in (
        ("manualOrderTime", 180),
        ("customerAccount", 183),
        ("professionalCustomer", 184),
    ):
        if key in extra and version >= since:
            expected[key] = extra[key]
    assert {k: fields[k] for k in expected} == expected
    decoded_contract = fields["contract"]
    assert isinstance(decoded_contract, dict)
    for key in (
        "conId",
        "symbol",
        "secType",
        "lastTradeDateOrContractMonth",
        "strike",
        "right",
        "multiplier",
        "exchange",
        "currency",
        "localSymbol",
        "tradingClass",
    ):
        assert decoded_contract[key] == getattr(contract, key), key


# -- the account -----------------------------------------------------------------------

ACCOUNT_VERSIONS = [v for v in _versions(103, 127, 206, 207, 209, 210) if v >= 103]


@pytest.mark.parametrize("version", ACCOUNT_VERSIONS)
@settings(max_examples=20, deadline=None)
@given(
    st.integers(0, 2**31 - 2),
    st.sampled_from(["", "DU1234567", "All"]),
    st.sampled_from(["", "Model1"]),
    st.booleans(),
    con_ids,
)
def test_account_requests(
    version: int, req_id: int, account: str, model: str, flag: bool, con_id: int
) -> None:
    def check(method: str, *args: Any, expected: Fields) -> None:
        assert _decode(version, _send(version, method, *args)) == (method, expected)

    check("reqPositions", expected={})
    check("cancelPositions", expected={})
    check(
        "reqAccountSummary",
        req_id,
        account,
        "NetLiquidation,$LEDGER",
        expected={"reqId": req_id, "groupName": account, "tags": "NetLiquidation,$LEDGER"},
    )
    check("cancelAccountSummary", req_id, expected={"reqId": req_id})
    multi = {"reqId": req_id, "account": account, "modelCode": model}
    check("reqPositionsMulti", req_id, account, model, expected=multi)
    check("cancelPositionsMulti", req_id, expected={"reqId": req_id})
    check(
        "reqAccountUpdatesMulti",
        req_id,
        account,
        model,
        flag,
        expected={**multi, "ledgerAndNLV": flag},
    )
    check("cancelAccountUpdatesMulti", req_id, expected={"reqId": req_id})
    if version >= 127:  # PNL
        check("reqPnL", req_id, account, model, expected=multi)
        check("cancelPnL", req_id, expected={"reqId": req_id})
        check("reqPnLSingle", req_id, account, model, con_id, expected={**multi, "conId": con_id})
        check("cancelPnLSingle", req_id, expected={"reqId": req_id})


# -- where the id of every text request sits -------------------------------------------


def _contract() -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = "AAPL", "STK", "SMART", "USD"
    return c


def _order(version: int) -> Order:
    o = Order()
    o.action, o.orderType, o.totalQuantity = "BUY", "MKT", 1
    if version < 111:
        o.cashQty = 0.0
    return o


def _wsh() -> Any:
    from ibapi.common import WshEventData

    return WshEventData()


# msg id -> (EClient method, arguments after the id)
ID_REQUESTS: dict[int, tuple[str, Callable[[int], list[Any]]]] = {
    1: ("reqMktData", lambda v: [_contract(), "", False, False, []]),
    2: ("cancelMktData", lambda v: []),
    3: ("placeOrder", lambda v: [_contract(), _order(v)]),
    4: ("cancelOrder", lambda v: _order_cancel(v)),
    7: ("reqExecutions", lambda v: [ExecutionFilter()]),
    9: ("reqContractDetails", lambda v: [_contract()]),
    10: ("reqMktDepth", lambda v: [_contract(), 5, False, []]),
    11: ("cancelMktDepth", lambda v: [False]),
    19: ("replaceFA", lambda v: [1, "<xml/>"]),
    20: (
        "reqHistoricalData",
        lambda v: [_contract(), "", "1 D", "1 hour", "TRADES", 1, 1, False, []],
    ),
    21: (
        "exerciseOptions",
        lambda v: (
            [_contract(), 1, 1, "", 0]
            + (["", "", False] if _takes("exerciseOptions", "manualOrderTime") else [])
        ),
    ),
    22: ("reqScannerSubscription", lambda v: [ScannerSubscription(), [], []]),
    23: ("cancelScannerSubscription", lambda v: []),
    25: ("cancelHistoricalData", lambda v: []),
    50: ("reqRealTimeBars", lambda v: [_contract(), 5, "TRADES", False, []]),
    51: ("cancelRealTimeBars", lambda v: []),
    52: ("reqFundamentalData", lambda v: [_contract(), "ReportSnapshot", []]),
    53: ("cancelFundamentalData", lambda v: []),
    54: ("calculateImpliedVolatility", lambda v: [_contract(), 1.0, 100.0, []]),
    55: ("calculateOptionPrice", lambda v: [_contract(), 0.2, 100.0, []]),
    56: ("cancelCalculateImpliedVolatility", lambda v: []),
    57: ("cancelCalculateOptionPrice", lambda v: []),
    62: ("reqAccountSummary", lambda v: ["All", "NetLiquidation"]),
    63: ("cancelAccountSummary", lambda v: []),
    67: ("queryDisplayGroups", lambda v: []),
    68: ("subscribeToGroupEvents", lambda v: [1]),
    69: ("updateDisplayGroup", lambda v: ["8314@SMART"]),
    70: ("unsubscribeFromGroupEvents", lambda v: []),
    74: ("reqPositionsMulti", lambda v: ["DU1", ""]),
    75: ("cancelPositionsMulti", lambda v: []),
    76: ("reqAccountUpdatesMulti", lambda v: ["DU1", "", True]),
    77: ("cancelAccountUpdatesMulti", lambda v: []),
    78: ("reqSecDefOptParams", lambda v: ["IBM", "", "STK", 8314]),
    79: ("reqSoftDollarTiers", lambda v: []),
    81: ("reqMatchingSymbols", lambda v: ["IB"]),
    83: ("reqSmartComponents", lambda v: ["a6"]),
    84: ("reqNewsArticle", lambda v: ["BZ", "BZ$1", []]),
    86: ("reqHistoricalNews", lambda v: [8314, "BZ", "", "", 10, []]),
    87: ("reqHeadTimeStamp", lambda v: [_contract(), "TRADES", 1, 1]),
    88: ("reqHistogramData", lambda v: [_contract(), False, "3 days"]),
    89: ("cancelHistogramData", lambda v: []),
    90: ("cancelHeadTimeStamp", lambda v: []),
    92: ("reqPnL", lambda v: ["DU1", ""]),
    93: ("cancelPnL", lambda v: []),
    94: ("reqPnLSingle", lambda v: ["DU1", "", 8314]),
    95: ("cancelPnLSingle", lambda v: []),
    96: (
        "reqHistoricalTicks",
        lambda v: [_contract(), "20260101 00:00:00", "", 100, "TRADES", 1, False, []],
    ),
    97: ("reqTickByTickData", lambda v: [_contract(), "Last", 0, False]),
    98: ("cancelTickByTickData", lambda v: []),
    100: ("reqWshMetaData", lambda v: []),
    101: ("cancelWshMetaData", lambda v: []),
    102: ("reqWshEventData", lambda v: [_wsh()]),
    103: ("cancelWshEventData", lambda v: []),
    104: ("reqUserInfo", lambda v: []),
}


def _installed_request_ids() -> set[int]:
    from ibapi.message import OUT

    items = OUT.__members__.items() if hasattr(OUT, "__members__") else vars(OUT).items()
    return {int(v) for k, v in items if k.isupper() and isinstance(v, int)}


def test_every_text_id_entry_is_checked() -> None:
    assert set(_TEXT_IDS) == set(ID_REQUESTS)


@pytest.mark.parametrize("msg_id", sorted(ID_REQUESTS))
def test_text_request_id_at_every_version(msg_id: int) -> None:
    method, args = ID_REQUESTS[msg_id]
    if not hasattr(EClient, method):  # retired (reqFundamentalData) or not yet in this ibapi
        assert msg_id in (52, 53) or msg_id not in _installed_request_ids()
        return
    req_id = 765_432
    sent_at = []
    for version in range(100, CLIENT_MAX + 1):
        client, capture = _client(version, text=True)
        getattr(client, method)(req_id, *args(version))
        if not capture.sent:
            continue  # EClient refuses the request below its version
        [msg] = capture.sent
        got_id, is_protobuf, body = split_message(msg[4:], version)
        assert (got_id, is_protobuf) == (msg_id, False)
        items = body.split(b"\0")[:-1]
        where = text_request_id(msg_id, version)
        if where is None:
            assert str(req_id).encode() not in items, version
            continue
        key, index = where
        assert key == ("orderId" if msg_id in (3, 4) else "reqId")
        assert items[index] == str(req_id).encode(), (version, items)
        sent_at.append(version)
        # cut short after the id: still readable, whether the request is decoded or not
        short = b"".join(item + b"\0" for item in items[: index + 1])
        assert decode_request(msg_id, False, short, version)[1][key] == req_id
    assert sent_at, f"{method} was never sent"


def test_unset_values_decode_to_ibapi_unset_markers() -> None:
    version = max(v for v in ORDER_VERSIONS if v < 203)
    contract, order = _contract(), _order(version)
    order.totalQuantity = UNSET_DECIMAL if isinstance(order.totalQuantity, Decimal) else 1
    fields = _decode(version, _send(version, "placeOrder", 1, contract, order))[1]
    decoded = fields["order"]
    assert decoded["lmtPrice"] == UNSET_DOUBLE
    assert decoded["minQty"] == UNSET_INTEGER
    if isinstance(order.totalQuantity, Decimal):
        assert decoded["totalQuantity"] == UNSET_DECIMAL
    rebuilt = order_from_fields(fields)[1]
    assert (rebuilt.lmtPrice, rebuilt.auxPrice, rebuilt.minQty) == (
        order.lmtPrice,
        order.auxPrice,
        order.minQty,
    )
