"""The simulated TWS's order, execution, commission, PnL and account encoders.

Each message is encoded at versions on both sides of every layout change that concerns
it and decoded by the stock ibapi ``Decoder``, framed as ``_bridge`` frames it (text ids
below 201, binary ids from 201, protobuf when the id is above 200); the test asserts the
callback and every field that was set. Text expectations are this file's own statement
of what each message carries from which version (read from ibapi's decoders); protobuf
expectations are what the installed ibapi's ``decoder_utils`` reads, found in its source
(ibapi 10.37.2 reads fewer fields than 10.50, and misspells two).
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ibapi import order_condition
from ibapi.contract import ComboLeg, Contract, DeltaNeutralContract
from ibapi.decoder import Decoder
from ibapi.execution import Execution
from ibapi.order import Order, OrderComboLeg
from ibapi.order_state import OrderState
from ibapi.server_versions import MAX_CLIENT_VER
from ibapi.softdollartier import SoftDollarTier
from ibapi.tag_value import TagValue
from ibapi.wrapper import EWrapper

from ib_anyio.sim import _encode
from ib_anyio.sim._encode import PROTO_SINCE, Encoder, In
from ib_anyio.sim._encode_order import (
    UNSET_DECIMAL,
    UNSET_DOUBLE,
    UNSET_INTEGER,
    Since,
    num,
    size,
)
from ib_anyio.sim._server import max_version

try:
    from ibapi.commission_and_fees_report import CommissionAndFeesReport as Report
except ImportError:  # ibapi 9.81
    from ibapi.commission_report import CommissionReport as Report

DECIMAL_SIZES = isinstance(Order().totalQuantity, Decimal)  # ibapi 10; 9.81 has floats
CAP = min(MAX_CLIENT_VER, max_version())

# Both sides of every layout change of the messages tested here, and the ends.
ALL = (100, 101, 102, 103, 105, 106, 110, 111, 128, 129, 130, 131, 134, 135, 136, 140)
ALL += (141, 142, 144, 145, 147, 148, 150, 151, 152, 153, 157, 158, 159, 160, 161, 162)
ALL += (169, 170, 176, 177, 178, 182, 183, 184, 185, 188, 189, 192, 193, 194, 195, 197)
ALL += (198, 199, 200, 201, 203, 204, 206, 207, 209, 210, 211, 226)


def versions(*interesting: int) -> list[int]:
    """The versions this installation can negotiate, among ``interesting``."""
    return [v for v in interesting if v <= CAP]


ORDER_VERSIONS = versions(*ALL)
STATUS_VERSIONS = versions(100, 130, 131, 152, 153, 200, 201, 226)
EXEC_VERSIONS = versions(100, 102, 103, 135, 136, 157, 177, 178, 197, 198, 200, 201, 226)
COMMISSION_VERSIONS = versions(100, 157, 200, 201, 203, 204, 210, 211, 226)
BOUND_VERSIONS = versions(100, 157, 200, 201, 203, 204, 226)
ACCOUNT_VERSIONS = versions(100, 152, 153, 157, 200, 201, 206, 207, 226)
PNL_VERSIONS = versions(100, 128, 129, 134, 135, 157, 200, 201, 209, 210, 211, 226)

EXAMPLES = settings(max_examples=15, deadline=None)
FEW = settings(max_examples=6, deadline=None)


# -- decoding with the stock ibapi ---------------------------------------------------


def _recorder_class() -> type[Any]:
    def record(name: str) -> Callable[..., None]:
        def method(self: Any, *args: Any) -> None:
            self.calls.append((name, args))

        return method

    names = [n for n, _ in inspect.getmembers(EWrapper, inspect.isfunction) if n[0] != "_"]
    return type("Recorder", (EWrapper,), {name: record(name) for name in names})


Recorder = _recorder_class()
TAKES_MSG_ID = "msgId" in inspect.signature(Decoder.interpret).parameters


class Fields(list[bytes]):
    """A message's fields that count how many the decoder read."""

    read = 0

    def __iter__(self) -> Iterator[bytes]:
        for index, field in enumerate(list.__iter__(self)):
            self.read = index + 1
            yield field


def decode(data: bytes, version: int) -> list[tuple[str, tuple[Any, ...]]]:
    """Decode frames with the stock ibapi ``Decoder``; the wrapper callbacks it made
    (without the ``*ProtoBuf`` ones). A text message must be read to its last field."""
    wrapper = Recorder()
    wrapper.calls = []
    decoder = Decoder(wrapper, version)
    pos = 0
    while pos < len(data):
        end = pos + 4 + int.from_bytes(data[pos : pos + 4], "big")
        payload, pos = data[pos + 4 : end], end
        if version >= 201:
            msg_id = int.from_bytes(payload[:4], "big")
            if msg_id > 200:
                decoder.processProtoBuf(payload[4:], msg_id - 200)
                continue
            fields = Fields(payload[4:].split(b"\0")[:-1])
        else:
            head, _, body = payload.partition(b"\0")
            msg_id = int(head)
            fields = Fields(body.split(b"\0")[:-1])
        if TAKES_MSG_ID:
            decoder.interpret(fields, msg_id)
        else:
            fields = Fields([str(msg_id).encode(), *fields])
            decoder.interpret(fields)
        if decoder.msgId2handleInfo[msg_id].processMeth is not None:
            assert fields.read == len(fields), f"{len(fields) - fields.read} fields unread"
    return [call for call in wrapper.calls if not call[0].endswith("ProtoBuf")]


def is_proto(data: bytes, version: int) -> bool:
    """Whether the first frame of ``data`` is a protobuf message."""
    return version >= 201 and int.from_bytes(data[4:8], "big") > 200


def one(data: bytes, version: int, msg: In, callback: str) -> tuple[Any, ...]:
    """Decode a single message: its encoding follows ``PROTO_SINCE`` and it makes exactly
    one callback, ``callback``; return the callback's arguments."""
    assert is_proto(data, version) == (version >= PROTO_SINCE[msg])
    calls = decode(data, version)
    assert [name for name, _ in calls] == [callback], calls
    return calls[0][1]


# -- what each form carries ----------------------------------------------------------


def _assigned(function_name: str, variable: str) -> set[str]:
    """The attributes of ``variable`` that the installed ``decoder_utils`` function
    assigns: what that ibapi release reads from a protobuf message."""
    import ibapi.decoder_utils

    source = inspect.getsource(getattr(ibapi.decoder_utils, function_name))
    return set(re.findall(rf"\b{variable}\.(\w+) = ", source))


def since(version: int, table: dict[int, set[str]]) -> set[str]:
    """The union of the table's sets whose version is at most ``version``."""
    return set().union(*(names for v, names in table.items() if v <= version))


CONTRACT_BASE = {"conId", "symbol", "secType", "lastTradeDateOrContractMonth", "strike"}
CONTRACT_BASE |= {"right", "multiplier", "currency", "localSymbol", "tradingClass"}
CONTRACT_LIST_TEXT = CONTRACT_BASE | {"exchange"}  # execDetails, position, positionMulti
CONTRACT_ORDER_TEXT = CONTRACT_LIST_TEXT | {"comboLegsDescrip", "comboLegs"}
CONTRACT_ORDER_TEXT |= {"deltaNeutralContract"}
CONTRACT_PORTFOLIO_TEXT = CONTRACT_BASE | {"primaryExchange"}

# Order attributes per message and version (ibapi's orderdecoder.py / decoder.py).
ORDER_SHARED = {"action", "totalQuantity", "orderType", "lmtPrice", "auxPrice", "tif"}
ORDER_SHARED |= {"ocaGroup", "account", "openClose", "origin", "orderRef", "permId"}
ORDER_SHARED |= {"outsideRth", "hidden", "discretionaryAmt", "goodAfterTime", "faGroup"}
ORDER_SHARED |= {"faMethod", "faPercentage", "goodTillDate", "rule80A", "percentOffset"}
ORDER_SHARED |= {"settlingFirm", "shortSaleSlot", "designatedLocation", "exemptCode"}
ORDER_SHARED |= {"startingPrice", "stockRefPrice", "delta", "stockRangeLower"}
ORDER_SHARED |= {"stockRangeUpper", "displaySize", "sweepToFill", "allOrNone", "minQty"}
ORDER_SHARED |= {"ocaType", "triggerMethod", "volatility", "volatilityType"}
ORDER_SHARED |= {"deltaNeutralOrderType", "deltaNeutralAuxPrice", "deltaNeutralConId"}
ORDER_SHARED |= {"deltaNeutralShortSale", "deltaNeutralShortSaleSlot", "continuousUpdate"}
ORDER_SHARED |= {"deltaNeutralDesignatedLocation", "referencePriceType", "trailStopPrice"}
ORDER_SHARED |= {"trailingPercent", "orderComboLegs", "smartComboRoutingParams"}
ORDER_SHARED |= {"scaleInitLevelSize", "scaleSubsLevelSize", "scalePriceIncrement"}
ORDER_SHARED |= {"scalePriceAdjustValue", "scalePriceAdjustInterval", "scaleProfitOffset"}
ORDER_SHARED |= {"scaleAutoReset", "scaleInitPosition", "scaleInitFillQty", "hedgeType"}
ORDER_SHARED |= {"scaleRandomPercent", "hedgeParam", "clearingAccount", "clearingIntent"}
ORDER_SHARED |= {"notHeld", "algoStrategy", "algoParams", "solicited", "randomizeSize"}
ORDER_SHARED |= {"randomizePrice", "faProfile"}  # faProfile: ibapi 9.81's Order only
PEG_BENCH = {"referenceContractId", "isPeggedChangeAmountDecrease", "peggedChangeAmount"}
PEG_BENCH |= {"referenceChangeAmount", "referenceExchangeId"}
CONDITIONS = {"conditions", "conditionsIgnoreRth", "conditionsCancelOrder"}
PEG_BEST = {"minTradeQty", "minCompeteSize", "competeAgainstBestOffset", "midOffsetAtWhole"}
PEG_BEST |= {"midOffsetAtHalf"}

OPEN_ORDER_TEXT: dict[int, set[str]] = {
    0: ORDER_SHARED
    | {"orderId", "clientId", "auctionStrategy", "blockOrder", "parentId", "basisPoints"}
    | {"basisPointsType", "deltaNeutralSettlingFirm", "deltaNeutralClearingAccount"}
    | {"deltaNeutralClearingIntent", "deltaNeutralOpenClose", "optOutSmartRouting"}
    | {"whatIf", "eTradeOnly", "firmQuoteOnly", "nbboPriceCap"},  # the last three: 9.81
    102: CONDITIONS
    | {"adjustedOrderType", "triggerPrice", "lmtPriceOffset", "adjustedStopPrice"}
    | {"adjustedStopLimitPrice", "adjustedTrailingAmount", "adjustableTrailingUnit"},
    103: {"modelCode"},
    106: {"softDollarTier"},
    111: {"cashQty"},
    141: {"dontUseAutoPriceForHedge"},
    145: {"isOmsContainer"},
    148: {"discretionaryUpToLimitPrice"},
    151: {"usePriceMgmtAlgo"},
    158: {"duration"},
    160: {"postToAts"},
    162: {"autoCancelParent"},
    170: PEG_BEST,
    183: {"customerAccount"},
    184: {"professionalCustomer"},
    185: {"bondAccruedInterest"},
    189: {"includeOvernight"},
    193: {"extOperator", "manualOrderIndicator"},
    198: {"submitter"},
    199: {"imbalanceOnly"},
}
COMPLETED_ORDER_TEXT: dict[int, set[str]] = {
    0: ORDER_SHARED
    | {"lmtPriceOffset", "autoCancelDate", "filledQuantity", "refFuturesConId"}
    | {"autoCancelParent", "shareholder", "imbalanceOnly", "routeMarketableToBbo"}
    | {"parentPermId"},
    102: CONDITIONS,
    103: {"modelCode"},
    111: {"cashQty"},
    141: {"dontUseAutoPriceForHedge"},
    145: {"isOmsContainer"},
    170: PEG_BEST,
    183: {"customerAccount"},
    184: {"professionalCustomer"},
    198: {"submitter"},
}
STATE_COMMISSIONS = {"commissionAndFees", "minCommissionAndFees", "maxCommissionAndFees"}
STATE_COMMISSIONS |= {"commissionAndFeesCurrency"}
STATE_COMMISSIONS |= {"commission", "minCommission", "maxCommission", "commissionCurrency"}
OPEN_STATE_TEXT: dict[int, set[str]] = {
    0: {"status", "initMarginAfter", "maintMarginAfter", "equityWithLoanAfter", "warningText"}
    | STATE_COMMISSIONS,
    142: {"initMarginBefore", "maintMarginBefore", "equityWithLoanBefore"}
    | {"initMarginChange", "maintMarginChange", "equityWithLoanChange"},
    195: {"marginCurrency", "suggestedSize", "rejectReason", "orderAllocations"}
    | {
        f"{kind}{when}OutsideRTH"
        for kind in ("initMargin", "maintMargin", "equityWithLoan")
        for when in ("Before", "Change", "After")
    },
}
COMPLETED_STATE_TEXT = {"status", "completedTime", "completedStatus"}
EXECUTION_TEXT: dict[int, set[str]] = {
    0: {"orderId", "execId", "time", "acctNumber", "exchange", "side", "shares", "price"}
    | {"permId", "clientId", "liquidation", "cumQty", "avgPrice", "orderRef", "evRule"}
    | {"evMultiplier"},
    103: {"modelCode"},
    136: {"lastLiquidity"},
    178: {"pendingPriceRevision"},
    198: {"submitter"},
}


def order_carried(table: dict[int, set[str]], version: int, order: Order) -> set[str]:
    """What a text order message carries of ``order``: the version's set, less what
    the decoder reads only when another field says so."""
    names = since(version, table)
    if version >= 102 and order.orderType in ("PEG BENCH", "PEGBENCH"):
        names |= PEG_BENCH
    if not order.deltaNeutralOrderType:
        names -= {n for n in names if n.startswith("deltaNeutral") and n[12:] != "AuxPrice"}
        names.add("deltaNeutralOrderType")
    if not order.hedgeType:
        names.discard("hedgeParam")
    if not (order.scalePriceIncrement != UNSET_DOUBLE and order.scalePriceIncrement > 0):
        names -= {n for n in names if n.startswith("scale")} - {
            "scaleInitLevelSize",
            "scaleSubsLevelSize",
            "scalePriceIncrement",
        }
    if not order.algoStrategy:
        names.discard("algoParams")
    if not order.conditions:
        names -= {"conditionsIgnoreRth", "conditionsCancelOrder"}
    return names


# -- comparing what ibapi decoded with what was encoded --------------------------------

SIZES = {"totalQuantity", "filledQuantity", "suggestedSize", "shares", "cumQty", "position"}
SIZES |= {"positionDesired", "positionAfter", "desiredAllocQty", "allowedAllocQty"}
MARGINS = {
    f"{kind}{when}"
    for kind in ("initMargin", "maintMargin", "equityWithLoan")
    for when in ("Before", "Change", "After")
}
TAG_VALUES = {"algoParams", "smartComboRoutingParams"}


def norm(name: str, value: Any, *, text: bool) -> Any:
    """A value in a form both sides of a round trip agree on."""
    if name in SIZES:
        return Decimal(str(value))
    if name in MARGINS:
        return float(value) if value != "" else ""
    if name == "multiplier":
        return float(value) if value else ""
    if name in ("usePriceMgmtAlgo", "routeMarketableToBbo"):
        return None if value is None and not text else bool(value)
    if name in TAG_VALUES:
        pairs = [(tv.tag, tv.value) for tv in value or []]
        return pairs if text else sorted(pairs)  # protobuf carries them as a map
    if name == "softDollarTier":
        return (value.name, value.val, value.displayName)
    if name in ("conditions", "orderComboLegs", "orderAllocations", "comboLegs"):
        return [(type(item).__name__, norm_obj(item)) for item in value or []]
    if name == "deltaNeutralContract":
        return None if value is None else norm_obj(value)
    return value


def norm_obj(obj: Any, names: set[str] | None = None) -> dict[str, Any]:
    """An object's attributes (all, or ``names`` only), normalised."""
    return {k: norm(k, v, text=True) for k, v in vars(obj).items() if names is None or k in names}


def assert_carried(decoded: Any, sent: Any, carried: set[str], *, text: bool) -> None:
    """Every attribute of the class: as sent where carried, else the class default."""
    fresh = type(sent)()
    for name in vars(fresh):
        want = getattr(sent if name in carried else fresh, name)
        got = getattr(decoded, name)
        if name == "comboLegs" and not text:  # ibapi 10.37.2 misspells a leg field
            legs = _assigned("decodeComboLegs", "comboLeg")
            default = ComboLeg()
            assert [norm_obj(leg, set(vars(default))) for leg in got or []] == [
                {k: getattr(leg if k in legs else default, k) for k in vars(leg)}
                for leg in want or []
            ]
            continue
        if name == "deltaNeutralContract" and not text and want is None:
            want = _no_delta_neutral_contract()  # 10.37.2 decodes one for every contract
        assert norm(name, got, text=text) == norm(name, want, text=text), name


def _no_delta_neutral_contract() -> Any:
    """What the installed ibapi decodes from a Contract message without one."""
    import ibapi.decoder_utils

    return ibapi.decoder_utils.decodeDeltaNeutralContract(_encode.pb("Contract")())


def contract_carried(text_set: set[str], proto: bool) -> set[str]:
    """What a contract form carries: the text set, or what ``decodeContract`` reads."""
    return _assigned("decodeContract", "contract") if proto else text_set


# -- objects ---------------------------------------------------------------------------


def whole_below_101(version: int, value: Any) -> Any:
    """The size ibapi decodes at ``version``: below 101 (no fractional sizes; ibapi 9.81
    reads an int) the encoder writes the whole part, as ibapi's client sends it."""
    return type(value)(int(value)) if version < 101 and value != UNSET_DECIMAL else value


def with_whole_quantity(version: int, order: Order) -> Order:
    """``order`` as decoded at ``version``: its total quantity whole below 101."""
    expected = copy.copy(order)
    expected.totalQuantity = whole_below_101(version, order.totalQuantity)
    return expected


def dec(text: str) -> Any:
    """A size as the installed ibapi holds one (``Decimal``, or ``float`` on 9.81)."""
    return Decimal(text) if DECIMAL_SIZES else float(text)


def setattrs(obj: Any, **values: Any) -> Any:
    """Set the attributes the installed ibapi's class has (9.81 lacks the newer ones)."""
    for name, value in values.items():
        if hasattr(obj, name):
            setattr(obj, name, value)
    return obj


def leg(con_id: int, ratio: int, action: str) -> ComboLeg:
    """A combo leg with every field set."""
    return setattrs(
        ComboLeg(),
        conId=con_id,
        ratio=ratio,
        action=action,
        exchange="SMART",
        openClose=1,
        shortSaleSlot=2,
        designatedLocation="LOC",
        exemptCode=5,
    )


def full_contract() -> Contract:
    """A combo contract with every field any form carries."""
    dn = setattrs(DeltaNeutralContract(), conId=756733, delta=0.35, price=451.25)
    return setattrs(
        Contract(),
        conId=28812380,
        symbol="SPY",
        secType="BAG",
        lastTradeDateOrContractMonth="20260320",
        lastTradeDate="20260320",
        strike=450.5,
        right="C",
        multiplier="100",
        exchange="SMART",
        primaryExchange="ARCA",
        currency="USD",
        localSymbol="SPY   260320C00450500",
        tradingClass="SPY",
        comboLegsDescrip="28812381|1,28812382|-1",
        comboLegs=[leg(28812381, 1, "BUY"), leg(28812382, 2, "SELL")],
        deltaNeutralContract=dn,
        issuerId="e123",
        description="SPY combo",
    )


def full_conditions() -> list[Any]:
    """One condition of every kind, mixed conjunctions."""
    oc = order_condition
    return [
        oc.PriceCondition(2, 265598, "SMART", True, 150.5),
        oc.TimeCondition(False, "20260105 10:00:00 US/Eastern").Or(),
        oc.MarginCondition(True, 30),
        oc.VolumeCondition(265598, "SMART", False, 1000000),
        oc.PercentChangeCondition(265598, "SMART", True, 2.5),
        oc.ExecutionCondition("STK", "SMART", "AAPL"),
    ]


def full_order(order_type: str = "PEG BENCH") -> Order:
    """An order with every attribute some form carries set to a non-default value."""
    order = Order()
    setattrs(
        order,
        orderId=71,
        clientId=7,
        permId=123456789,
        action="SELL",
        totalQuantity=dec("12.5"),
        orderType=order_type,
        lmtPrice=101.25,
        auxPrice=0.5,
        tif="GTC",
        ocaGroup="oca1",
        ocaType=2,
        orderRef="ref-1",
        parentId=70,
        blockOrder=True,
        sweepToFill=True,
        displaySize=100,
        triggerMethod=2,
        outsideRth=True,
        hidden=True,
        goodAfterTime="20260105 09:30:00 US/Eastern",
        goodTillDate="20260110 16:00:00 US/Eastern",
        rule80A="I",
        allOrNone=True,
        minQty=10,
        percentOffset=0.01,
        trailStopPrice=99.5,
        trailingPercent=1.5,
        faGroup="grp",
        faMethod="EqualQuantity",
        faPercentage="50",
        faProfile="profile",
        designatedLocation="loc",
        openClose="C",
        origin=1,
        shortSaleSlot=2,
        exemptCode=3,
        discretionaryAmt=0.25,
        eTradeOnly=False,
        firmQuoteOnly=False,
        nbboPriceCap=1.5,
        optOutSmartRouting=True,
        auctionStrategy=2,
        startingPrice=10.5,
        stockRefPrice=11.5,
        delta=0.3,
        stockRangeLower=9.5,
        stockRangeUpper=12.5,
        randomizePrice=True,
        randomizeSize=True,
        volatility=0.25,
        volatilityType=2,
        deltaNeutralOrderType="LMT",
        deltaNeutralAuxPrice=1.25,
        deltaNeutralConId=4444,
        deltaNeutralSettlingFirm="dnfirm",
        deltaNeutralClearingAccount="dnacct",
        deltaNeutralClearingIntent="IB",
        deltaNeutralOpenClose="O",
        deltaNeutralShortSale=True,
        deltaNeutralShortSaleSlot=1,
        deltaNeutralDesignatedLocation="dnloc",
        continuousUpdate=True,
        referencePriceType=1,
        basisPoints=2.5,
        basisPointsType=1,
        scaleInitLevelSize=100,
        scaleSubsLevelSize=50,
        scalePriceIncrement=0.05,
        scalePriceAdjustValue=0.01,
        scalePriceAdjustInterval=60,
        scaleProfitOffset=0.2,
        scaleAutoReset=True,
        scaleInitPosition=5,
        scaleInitFillQty=6,
        scaleRandomPercent=True,
        hedgeType="B",
        hedgeParam="beta=1.2",
        account="DU1234567",
        settlingFirm="firm",
        clearingAccount="clracct",
        clearingIntent="Away",
        algoStrategy="Vwap",
        algoParams=[TagValue("maxPctVol", "0.1"), TagValue("noTakeLiq", "1")],
        smartComboRoutingParams=[TagValue("NonGuaranteed", "1")],
        whatIf=True,
        notHeld=True,
        solicited=True,
        modelCode="model",
        orderComboLegs=[setattrs(OrderComboLeg(), price=p) for p in (1.5, 2.75)],
        referenceContractId=265598,
        peggedChangeAmount=0.5,
        isPeggedChangeAmountDecrease=True,
        referenceChangeAmount=0.25,
        referenceExchangeId="NASDAQ",
        adjustedOrderType="STP",
        triggerPrice=95.5,
        adjustedStopPrice=94.5,
        adjustedStopLimitPrice=94.0,
        adjustedTrailingAmount=1.25,
        adjustableTrailingUnit=1,
        lmtPriceOffset=0.15,
        conditions=full_conditions(),
        conditionsCancelOrder=True,
        conditionsIgnoreRth=True,
        extOperator="op",
        softDollarTier=SoftDollarTier("tier", "v1", "Tier One"),
        cashQty=5000.5,
        dontUseAutoPriceForHedge=True,
        isOmsContainer=True,
        discretionaryUpToLimitPrice=True,
        autoCancelDate="20260201",
        filledQuantity=dec("2.5"),
        refFuturesConId=555,
        autoCancelParent=True,
        shareholder="holder",
        imbalanceOnly=True,
        routeMarketableToBbo=True,
        parentPermId=987654321,
        usePriceMgmtAlgo=True,
        duration=3600,
        postToAts=1,
        minTradeQty=3,
        minCompeteSize=4,
        competeAgainstBestOffset=0.02,
        midOffsetAtWhole=0.03,
        midOffsetAtHalf=0.04,
        customerAccount="cust",
        professionalCustomer=True,
        bondAccruedInterest="1.25",
        includeOvernight=True,
        manualOrderIndicator=1,
        submitter="trader1",
    )
    return order


def full_state() -> OrderState:
    """A what-if, completed state with every field set."""
    state = OrderState()
    setattrs(
        state,
        status="PreSubmitted",
        initMarginBefore="1000.5",
        maintMarginBefore="900.25",
        equityWithLoanBefore="100000",
        initMarginChange="250.75",
        maintMarginChange="200.5",
        equityWithLoanChange="-12.25",
        initMarginAfter="1251.25",
        maintMarginAfter="1100.75",
        equityWithLoanAfter="99987.75",
        commissionAndFees=1.25,
        minCommissionAndFees=1.0,
        maxCommissionAndFees=2.5,
        commissionAndFeesCurrency="USD",
        commission=1.25,
        minCommission=1.0,
        maxCommission=2.5,
        commissionCurrency="USD",
        marginCurrency="USD",
        suggestedSize=dec("10"),
        rejectReason="none",
        warningText="careful",
        completedTime="20260105 10:00:01 US/Eastern",
        completedStatus="Filled Size: 12.5",
    )
    for i, name in enumerate(sorted(MARGINS)):
        setattrs(state, **{f"{name}OutsideRTH": 100.5 + i})
    if hasattr(state, "orderAllocations"):
        from ibapi.order_state import OrderAllocation

        state.orderAllocations = [
            setattrs(
                OrderAllocation(),
                account="DU1234567",
                position=dec("1"),
                positionDesired=dec("13.5"),
                positionAfter=dec("13.5"),
                desiredAllocQty=dec("12.5"),
                allowedAllocQty=dec("12.5"),
                isMonetary=True,
            )
        ]
    return state


# -- hypothesis strategies -----------------------------------------------------------

printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="\\")
words = st.text(printable, max_size=16)  # plain ASCII, as TWS's names and values are
prices = st.decimals(Decimal("0.01"), Decimal("99999"), places=2).map(float)
money = st.decimals(Decimal("-1e9"), Decimal("1e9"), places=2).map(float)
quantities = st.decimals(Decimal("0.0001"), Decimal("1000000"), places=4).map(
    lambda d: d if DECIMAL_SIZES else float(d)
)
whole_quantities = st.integers(-1_000_000, 1_000_000).map(lambda n: dec(str(n)))
ids = st.integers(1, 2**31 - 2)


@st.composite
def contracts(draw: st.DrawFn) -> Contract:
    """Stocks, options, futures and currency pairs as the universe has them."""
    kind = draw(st.sampled_from(["STK", "OPT", "FUT", "CASH"]))
    c = Contract()
    c.conId = draw(ids)
    c.secType = kind
    c.currency = "USD"
    c.exchange = {"CASH": "IDEALPRO", "FUT": "CME"}.get(kind, "SMART")
    c.symbol = {"CASH": "EUR", "FUT": "ES", "OPT": "AAPL"}.get(
        kind, draw(st.sampled_from(["AAPL", "MSFT", "SPY"]))
    )
    c.localSymbol = draw(words)
    c.tradingClass = draw(words)
    if kind == "STK":
        c.primaryExchange = draw(st.sampled_from(["NASDAQ", "NYSE", "ARCA"]))
    if kind in ("OPT", "FUT"):
        c.lastTradeDateOrContractMonth = draw(st.sampled_from(["20260320", "202606"]))
        c.multiplier = "100" if kind == "OPT" else "50"
    if kind == "OPT":
        c.strike = draw(prices)
        c.right = draw(st.sampled_from(["C", "P"]))
    return c


@st.composite
def orders(draw: st.DrawFn) -> Order:
    """Realistic orders: the common types, time in force, fractional quantities,
    brackets, OCA groups, what-if, an algo with parameters, a price condition."""
    o = Order()
    o.orderId = draw(ids)
    o.clientId = draw(st.integers(0, 32))
    o.permId = draw(ids)
    o.action = draw(st.sampled_from(["BUY", "SELL"]))
    o.totalQuantity = draw(quantities)
    o.orderType = draw(st.sampled_from(["MKT", "LMT", "STP", "STP LMT", "TRAIL"]))
    if o.orderType in ("LMT", "STP LMT"):
        o.lmtPrice = draw(prices)
    if o.orderType in ("STP", "STP LMT"):
        o.auxPrice = draw(prices)
    if o.orderType == "TRAIL":
        if draw(st.booleans()):
            o.auxPrice = draw(prices)
        else:
            o.trailingPercent = draw(st.sampled_from([0.5, 1.0, 2.5]))
        o.trailStopPrice = draw(st.none() | prices) or o.trailStopPrice
    o.tif = draw(st.sampled_from(["DAY", "GTC", "IOC", "FOK", "OPG", "GTD"]))
    if o.tif == "GTD":
        o.goodTillDate = "20260110 16:00:00 US/Eastern"
    if draw(st.booleans()):
        o.ocaGroup = draw(words)
        o.ocaType = draw(st.integers(1, 3))
    o.orderRef = draw(words)
    o.account = draw(st.sampled_from(["", "DU1234567"]))
    o.parentId = draw(st.sampled_from([0, 0, o.orderId - 1]))
    o.transmit = draw(st.booleans())
    o.outsideRth = draw(st.booleans())
    o.whatIf = draw(st.booleans())
    if DECIMAL_SIZES and draw(st.booleans()):
        o.filledQuantity = draw(quantities)
    o.parentPermId = draw(st.sampled_from([0, o.permId + 1]))
    algo = draw(st.sampled_from(["", "Adaptive", "Vwap"]))
    if algo:
        o.algoStrategy = algo
        o.algoParams = (
            [TagValue("adaptivePriority", draw(st.sampled_from(["Patient", "Normal"])))]
            if algo == "Adaptive"
            else [TagValue("maxPctVol", "0.1"), TagValue("startTime", "09:30:00 US/Eastern")]
        )
    if draw(st.booleans()):
        price = draw(prices)
        o.conditions = [order_condition.PriceCondition(2, draw(ids), "SMART", True, price)]
        o.conditionsCancelOrder = draw(st.booleans())
    return o


@st.composite
def states(draw: st.DrawFn, what_if: bool) -> OrderState:
    """Order states; what-if ones carry margins and commissions."""
    s = OrderState()
    s.status = draw(st.sampled_from(["PreSubmitted", "Submitted", "Filled", "Cancelled"]))
    if what_if:
        for name in sorted(MARGINS):
            setattr(s, name, str(draw(money)))
        low, high = sorted(draw(st.lists(prices, min_size=3, max_size=3)))[::2]
        setattrs(s, commissionAndFees=(low + high) / 2, minCommissionAndFees=low)
        setattrs(s, maxCommissionAndFees=high, commissionAndFeesCurrency="USD")
        setattrs(s, commission=(low + high) / 2, minCommission=low, maxCommission=high)
        setattrs(s, commissionCurrency="USD", marginCurrency="USD")
        setattrs(s, initMarginAfterOutsideRTH=draw(money), suggestedSize=dec("100"))
    s.warningText = draw(words)
    s.completedTime = draw(st.sampled_from(["", "20260105 10:00:01 US/Eastern"]))
    s.completedStatus = draw(st.sampled_from(["", "Filled Size: 100"]))
    return s


# -- the checks ----------------------------------------------------------------------


def check_open_order(version: int, contract: Contract, order: Order, state: OrderState) -> None:
    data = Encoder(version).open_order(order.orderId, contract, order, state)
    order_id, got_contract, got_order, got_state = one(data, version, In.OPEN_ORDER, "openOrder")
    proto = is_proto(data, version)
    assert order_id == order.orderId
    assert_carried(
        got_contract, contract, contract_carried(CONTRACT_ORDER_TEXT, proto), text=not proto
    )
    if proto:
        carried = _assigned("decodeOrder", "order")
        state_carried = _assigned("decodeOrderState", "orderState")
    else:
        carried = order_carried(OPEN_ORDER_TEXT, version, order)
        state_carried = since(version, OPEN_STATE_TEXT)
    assert_carried(got_order, with_whole_quantity(version, order), carried, text=not proto)
    assert_carried(got_state, state, state_carried, text=not proto)


def check_completed_order(
    version: int, contract: Contract, order: Order, state: OrderState
) -> None:
    data = Encoder(version).completed_order(contract, order, state)
    got_contract, got_order, got_state = one(data, version, In.COMPLETED_ORDER, "completedOrder")
    proto = is_proto(data, version)
    assert_carried(
        got_contract, contract, contract_carried(CONTRACT_ORDER_TEXT, proto), text=not proto
    )
    if proto:
        carried = _assigned("decodeOrder", "order")
        state_carried = _assigned("decodeOrderState", "orderState")
    else:
        carried = order_carried(COMPLETED_ORDER_TEXT, version, order)
        state_carried = COMPLETED_STATE_TEXT
    assert_carried(got_order, with_whole_quantity(version, order), carried, text=not proto)
    assert_carried(got_state, state, state_carried, text=not proto)


@pytest.mark.parametrize("version", ORDER_VERSIONS)
def test_open_order_every_field(version: int) -> None:
    check_open_order(version, full_contract(), full_order(), full_state())
    check_open_order(version, full_contract(), full_order("LMT"), full_state())


@pytest.mark.parametrize("version", ORDER_VERSIONS)
def test_completed_order_every_field(version: int) -> None:
    check_completed_order(version, full_contract(), full_order(), full_state())
    check_completed_order(version, full_contract(), full_order("LMT"), full_state())


@st.composite
def full_orders(draw: st.DrawFn) -> Order:
    """:func:`full_order` with every boolean drawn, so that two swapped flags show."""
    order = full_order(draw(st.sampled_from(["PEG BENCH", "LMT"])))
    for name, value in vars(order).items():
        if isinstance(value, bool):
            setattr(order, name, draw(st.booleans()))
    return order


@pytest.mark.parametrize("version", ORDER_VERSIONS)
@FEW
@given(order=full_orders())
def test_every_field_any_flags(version: int, order: Order) -> None:
    check_open_order(version, full_contract(), order, full_state())
    check_completed_order(version, full_contract(), order, full_state())


@pytest.mark.parametrize("version", ORDER_VERSIONS)
def test_default_order_round_trips(version: int) -> None:
    """A fresh Order, Contract and OrderState: every unset value stays unset."""
    check_open_order(version, Contract(), Order(), OrderState())
    check_completed_order(version, Contract(), Order(), OrderState())


@pytest.mark.parametrize("version", ORDER_VERSIONS)
@EXAMPLES
@given(data=st.data())
def test_open_order(version: int, data: st.DataObject) -> None:
    order = data.draw(orders())
    check_open_order(version, data.draw(contracts()), order, data.draw(states(order.whatIf)))


@pytest.mark.parametrize("version", ORDER_VERSIONS)
@EXAMPLES
@given(contract=contracts(), order=orders(), state=states(False))
def test_completed_order(version: int, contract: Contract, order: Order, state: OrderState) -> None:
    check_completed_order(version, contract, order, state)


# -- order status, order bound -------------------------------------------------------


@pytest.mark.parametrize("version", STATUS_VERSIONS)
@EXAMPLES
@given(
    order_id=ids,
    status=st.sampled_from(["PreSubmitted", "Submitted", "Filled", "Cancelled", "Inactive"]),
    filled=quantities,
    remaining=quantities,
    avg=prices,
    perm_id=ids,
    parent_id=st.integers(0, 1000),
    last=prices,
    client_id=st.integers(0, 32),
    why_held=st.sampled_from(["", "locate", "child,trigger"]),
    cap=st.sampled_from([0.0, 101.5, UNSET_DOUBLE]),
)
def test_order_status(
    version: int,
    order_id: int,
    status: str,
    filled: Any,
    remaining: Any,
    avg: float,
    perm_id: int,
    parent_id: int,
    last: float,
    client_id: int,
    why_held: str,
    cap: float,
) -> None:
    args = (order_id, status, filled, remaining, avg, perm_id, parent_id, last, client_id)
    data = Encoder(version).order_status(*args, why_held, cap)
    got = one(data, version, In.ORDER_STATUS, "orderStatus")
    want_cap = cap if version >= 131 else None
    assert got[:2] == (order_id, status)
    sizes = (whole_below_101(version, filled), whole_below_101(version, remaining))
    assert (Decimal(str(got[2])), Decimal(str(got[3]))) == tuple(Decimal(str(q)) for q in sizes)
    assert got[4:] == (avg, perm_id, parent_id, last, client_id, why_held, want_cap)


@pytest.mark.parametrize("version", BOUND_VERSIONS)
@FEW
@given(perm_id=ids, client_id=st.integers(-1, 32), order_id=st.integers(-1, 2**31 - 2))
def test_order_bound(version: int, perm_id: int, client_id: int, order_id: int) -> None:
    data = Encoder(version).order_bound(perm_id, client_id, order_id)
    assert one(data, version, In.ORDER_BOUND, "orderBound") == (perm_id, client_id, order_id)


# -- executions and commissions ------------------------------------------------------


@st.composite
def executions(draw: st.DrawFn) -> Execution:
    """Executions as the broker makes them, optional fields sometimes set."""
    e = Execution()
    e.orderId = draw(ids)
    e.clientId = draw(st.integers(0, 32))
    e.permId = draw(ids)
    e.execId = f"0000e0d5.{draw(st.integers(0, 99999)):05d}.01.01"
    e.time = "20260105 10:00:01 US/Eastern"
    e.acctNumber = "DU1234567"
    e.exchange = draw(st.sampled_from(["ISLAND", "NYSE", "IDEALPRO"]))
    e.side = draw(st.sampled_from(["BOT", "SLD"]))
    e.shares = draw(quantities)
    e.price = draw(prices)
    e.liquidation = draw(st.sampled_from([0, 1]))
    e.cumQty = draw(quantities)
    e.avgPrice = draw(prices)
    e.orderRef = draw(words)
    e.evRule = draw(st.sampled_from(["", "aussieBond:YearsToExpiration=3"]))
    e.evMultiplier = draw(st.sampled_from([0.0, 1.5]))
    e.modelCode = draw(st.sampled_from(["", "model"]))
    e.lastLiquidity = draw(st.integers(0, 3))
    setattrs(e, pendingPriceRevision=draw(st.booleans()), submitter=draw(words))
    if hasattr(e, "optExerciseOrLapseType"):
        from ibapi.execution import OptionExerciseType

        e.optExerciseOrLapseType = draw(st.sampled_from(list(OptionExerciseType)))
    return e


@pytest.mark.parametrize("version", EXEC_VERSIONS)
@EXAMPLES
@given(req_id=st.integers(-1, 10_000), contract=contracts(), execution=executions())
def test_exec_details(version: int, req_id: int, contract: Contract, execution: Execution) -> None:
    data = Encoder(version).exec_details(req_id, contract, execution)
    got_req, got_contract, got_execution = one(data, version, In.EXECUTION_DATA, "execDetails")
    proto = is_proto(data, version)
    assert got_req == req_id
    carried = contract_carried(CONTRACT_LIST_TEXT, proto)
    assert_carried(got_contract, contract, carried, text=not proto)
    carried = _assigned("decodeExecution", "execution") if proto else since(version, EXECUTION_TEXT)
    execution.shares = whole_below_101(version, execution.shares)
    assert_carried(got_execution, execution, carried, text=not proto)


@pytest.mark.parametrize("version", COMMISSION_VERSIONS)
@EXAMPLES
@given(
    exec_id=words,
    amount=st.decimals(Decimal("0"), Decimal("1000"), places=4).map(float),
    currency=st.sampled_from(["USD", "EUR"]),
    realized=st.sampled_from([UNSET_DOUBLE, 0.0]) | money,
    bond_yield=st.sampled_from([UNSET_DOUBLE, 0.0, 4.25]),
    redemption=st.sampled_from([0, 20301231]),
)
def test_commission_report(
    version: int,
    exec_id: str,
    amount: float,
    currency: str,
    realized: float,
    bond_yield: float,
    redemption: int,
) -> None:
    report = Report()
    amount_name = "commissionAndFees" if hasattr(report, "commissionAndFees") else "commission"
    setattr(report, amount_name, amount)
    report.execId, report.currency, report.realizedPNL = exec_id, currency, realized
    report.yield_, report.yieldRedemptionDate = bond_yield, redemption
    data = Encoder(version).commission_report(report)
    callback = (
        "commissionAndFeesReport" if amount_name == "commissionAndFees" else "commissionReport"
    )
    (got,) = one(data, version, In.COMMISSION_AND_FEES_REPORT, callback)
    assert vars(got) == vars(report)


# -- positions and the account -------------------------------------------------------


@pytest.mark.parametrize("version", ACCOUNT_VERSIONS)
@EXAMPLES
@given(contract=contracts(), position=whole_quantities | quantities, avg_cost=money)
def test_position(version: int, contract: Contract, position: Any, avg_cost: float) -> None:
    enc = Encoder(version)
    data = enc.position("DU1234567", contract, position, avg_cost)
    account, got_contract, got_position, got_cost = one(data, version, In.POSITION_DATA, "position")
    proto = is_proto(data, version)
    assert (account, got_cost) == ("DU1234567", avg_cost)
    assert Decimal(str(got_position)) == Decimal(str(whole_below_101(version, position)))
    carried = contract_carried(CONTRACT_LIST_TEXT, proto)
    assert_carried(got_contract, contract, carried, text=not proto)
    assert one(enc.position_end(), version, In.POSITION_END, "positionEnd") == ()


@pytest.mark.parametrize("version", ACCOUNT_VERSIONS)
@EXAMPLES
@given(
    contract=contracts(),
    position=whole_quantities | quantities,
    values=st.lists(money, min_size=5, max_size=5),
)
def test_portfolio_value(
    version: int, contract: Contract, position: Any, values: list[float]
) -> None:
    data = Encoder(version).portfolio_value(contract, position, *values, "DU1234567")
    got = one(data, version, In.PORTFOLIO_VALUE, "updatePortfolio")
    proto = is_proto(data, version)
    assert Decimal(str(got[1])) == Decimal(str(whole_below_101(version, position)))
    assert list(got[2:]) == [*values, "DU1234567"]
    assert_carried(
        got[0], contract, contract_carried(CONTRACT_PORTFOLIO_TEXT, proto), text=not proto
    )


@pytest.mark.parametrize("version", ACCOUNT_VERSIONS)
@EXAMPLES
@given(key=words, value=words, currency=st.sampled_from(["", "USD", "BASE"]), req_id=ids)
def test_account_values(version: int, key: str, value: str, currency: str, req_id: int) -> None:
    enc = Encoder(version)
    acct = "DU1234567"
    got = one(
        enc.account_value(key, value, currency, acct), version, In.ACCT_VALUE, "updateAccountValue"
    )
    assert got == (key, value, currency, acct)
    got = one(enc.account_update_time("16:05"), version, In.ACCT_UPDATE_TIME, "updateAccountTime")
    assert got == ("16:05",)
    got = one(enc.account_download_end(acct), version, In.ACCT_DOWNLOAD_END, "accountDownloadEnd")
    assert got == (acct,)
    data = enc.account_summary(req_id, acct, key, value, currency)
    got = one(data, version, In.ACCOUNT_SUMMARY, "accountSummary")
    assert got == (req_id, acct, key, value, currency)
    end = one(enc.account_summary_end(req_id), version, In.ACCOUNT_SUMMARY_END, "accountSummaryEnd")
    assert end == (req_id,)
    data = enc.account_update_multi(req_id, acct, "model", key, value, currency)
    got = one(data, version, In.ACCOUNT_UPDATE_MULTI, "accountUpdateMulti")
    assert got == (req_id, acct, "model", key, value, currency)
    data = enc.account_update_multi_end(req_id)
    assert one(data, version, In.ACCOUNT_UPDATE_MULTI_END, "accountUpdateMultiEnd") == (req_id,)


@pytest.mark.parametrize("version", ACCOUNT_VERSIONS)
@EXAMPLES
@given(req_id=ids, contract=contracts(), pos=whole_quantities | quantities, cost=money)
def test_position_multi(
    version: int, req_id: int, contract: Contract, pos: Any, cost: float
) -> None:
    enc = Encoder(version)
    data = enc.position_multi(req_id, "DU1234567", "model", contract, pos, cost)
    got = one(data, version, In.POSITION_MULTI, "positionMulti")
    proto = is_proto(data, version)
    assert got[:3] == (req_id, "DU1234567", "model")
    assert (Decimal(str(got[4])), got[5]) == (Decimal(str(pos)), cost)
    assert_carried(got[3], contract, contract_carried(CONTRACT_LIST_TEXT, proto), text=not proto)
    end = one(enc.position_multi_end(req_id), version, In.POSITION_MULTI_END, "positionMultiEnd")
    assert end == (req_id,)


# -- PnL -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", PNL_VERSIONS)
@EXAMPLES
@given(req_id=ids, pnls=st.lists(money | st.just(UNSET_DOUBLE), min_size=3, max_size=3))
def test_pnl(version: int, req_id: int, pnls: list[float]) -> None:
    daily, unrealized, realized = pnls
    enc = Encoder(version)
    got = one(enc.pnl(req_id, daily, unrealized, realized), version, In.PNL, "pnl")
    assert got == (
        req_id,
        daily,
        unrealized if version >= 129 else None,
        realized if version >= 135 else None,
    )


@pytest.mark.parametrize("version", PNL_VERSIONS)
@EXAMPLES
@given(
    req_id=ids,
    pos=whole_quantities | (quantities if DECIMAL_SIZES else whole_quantities),
    pnls=st.lists(money | st.just(UNSET_DOUBLE), min_size=4, max_size=4),
)
def test_pnl_single(version: int, req_id: int, pos: Any, pnls: list[float]) -> None:
    """ibapi 9.81 reads the position as an int: only whole ones are drawn for it."""
    daily, unrealized, realized, value = pnls
    data = Encoder(version).pnl_single(req_id, pos, daily, unrealized, realized, value)
    got = one(data, version, In.PNL_SINGLE, "pnlSingle")
    assert got[0] == req_id
    assert Decimal(str(got[1])) == Decimal(str(pos))
    assert got[2:] == (
        daily,
        unrealized if version >= 129 else None,
        realized if version >= 135 else None,
        value,
    )


# -- versions and thresholds ---------------------------------------------------------


def test_since_matches_ibapi() -> None:
    """Every layout version named here has ibapi's value, where ibapi names it."""
    import ibapi.server_versions as sv

    for name, value in vars(Since).items():
        if name.isupper() and hasattr(sv, f"MIN_SERVER_VER_{name}"):
            assert getattr(sv, f"MIN_SERVER_VER_{name}") == value, name


def test_protobuf_thresholds_are_safe_for_this_ibapi() -> None:
    """A message travels as protobuf only at versions where this ibapi decodes it so."""
    handled = getattr(Decoder, "msgId2handleInfoProtoBuf", {})
    for msg, threshold in PROTO_SINCE.items():
        if threshold <= CAP:
            assert msg in handled, msg
    assert PROTO_SINCE[In.PNL] == PROTO_SINCE[In.PNL_SINGLE] == 210
    assert PROTO_SINCE[In.COMMISSION_AND_FEES_REPORT] == 211
    assert PROTO_SINCE[In.COMPLETED_ORDER] == PROTO_SINCE[In.ORDER_BOUND] == 204


def test_request_groups_match_ibapi() -> None:
    """Each account and order-list threshold is the version from which the installed
    ibapi sends the matching request as protobuf (``getServerVersionForMessage`` from
    10.50, ``PROTOBUF_MSG_IDS`` before); where this release never sends that request
    as protobuf, it never negotiates the threshold either."""
    import ibapi.common
    from ibapi.message import OUT

    group = getattr(ibapi.common, "getServerVersionForMessage", None)
    if group is None:
        group = getattr(ibapi.common, "PROTOBUF_MSG_IDS", {}).get  # none on 9.81
    pairs = {
        In.COMPLETED_ORDER: OUT.REQ_COMPLETED_ORDERS,
        In.POSITION_DATA: OUT.REQ_POSITIONS,
        In.ACCT_VALUE: OUT.REQ_ACCT_DATA,
        In.ACCOUNT_SUMMARY: OUT.REQ_ACCOUNT_SUMMARY,
        In.POSITION_MULTI: OUT.REQ_POSITIONS_MULTI,
        In.ACCOUNT_UPDATE_MULTI: OUT.REQ_ACCOUNT_UPDATES_MULTI,
        In.PNL: OUT.REQ_PNL,
        In.PNL_SINGLE: OUT.REQ_PNL_SINGLE,
    }
    for msg, request in pairs.items():
        threshold = group(request)
        if threshold is None or threshold == float("inf"):
            assert PROTO_SINCE[msg] > CAP, msg
        else:
            assert PROTO_SINCE[msg] == threshold, msg


def test_text_values() -> None:
    """Unset and special numbers read back as themselves."""
    assert num(UNSET_DOUBLE) == "1.7976931348623157E308"
    assert float(num(UNSET_DOUBLE)) == UNSET_DOUBLE
    assert num(float("inf")) == "Infinity"
    assert num(150.0) == "150"
    assert num(0.1) == "0.1"
    assert size(UNSET_DECIMAL) == ""
    assert size(Decimal("1E+2")) == "100"
    assert size(Decimal("0.00010")) == "0.00010"
    assert str(UNSET_INTEGER) == "2147483647"
    assert _encode.UNSET_DOUBLE == UNSET_DOUBLE
