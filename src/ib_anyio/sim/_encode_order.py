"""The text bodies of openOrder and completedOrder, and TWS's text values for numbers.

The bodies mirror ibapi's ``OrderDecoder`` (``orderdecoder.py``): one writer per decoder
method, same name without the ``decode`` prefix, called in the order in which
``Decoder.processOpenOrder`` and ``Decoder.processCompletedOrder`` call the readers. The
two messages share every writer the protocol shares; where they differ (which fields,
from which version) the difference lives only in the two sequences
:func:`open_order_fields` and :func:`completed_order_fields`. Their protobuf forms, and
every other message, are built in ``_encode``.

Versions (``ibapi.server_versions``; :class:`Since` holds the ones used here):

* openOrder carries a message version below 145 (``ORDER_CONTAINER``). The simulator
  writes 34, the last one, so every ``self.version >= n`` branch of ``OrderDecoder``
  (n from 20 to 34) is taken; from 145 on the decoder uses the server version, so the
  layout is the same. completedOrder (sent from 150) has no version field and is decoded
  with ``UNSET_INTEGER`` as its version: again every branch is taken.
* Everything else is gated by the server version, as in ibapi 10.50's decoder, which is
  a superset of every earlier one: peg-to-benchmark, conditions and adjusted-order fields
  from 102, model code 103, soft dollar tier 106, cash quantity 111, hedge auto price
  141, what-if margins before/change 142, OMS container 145, discretionary up to limit
  148, price management algo 151, duration 158, post to ATS 160, auto-cancel parent in
  openOrder 162, peg best/mid offsets 170, the deprecated FA profile until 176, customer
  account 183, professional customer 184, bond accrued interest 185, include overnight
  189, CME tagging 193, full order preview (margin currency, outside-RTH margins,
  suggested size, reject reason, allocations) 195, submitter 198, imbalance-only in
  openOrder 199. ibapi 9.81 (versions up to 157) reads the same layout: its decoder lacks
  only the later fields and still reads ``faProfile`` (deprecated at 177) and the three
  deprecated fields ``eTradeOnly``, ``firmQuoteOnly``, ``nbboPriceCap``, written from its
  ``Order`` when present and as their defaults otherwise.

Values, as ``ibapi.utils.decode`` reads them back:

* booleans as ``0``/``1``; sizes (``Decimal`` on ibapi 10, ``float`` on 9.81) in plain
  notation, integral ones without a fraction, ``UNSET_DECIMAL`` as ``""``; below 101
  the sizes ibapi 9.81 then reads as ints are whole (:func:`size_at`);
* doubles and ints the decoder reads with ``SHOW_UNSET``: ``UNSET_DOUBLE`` and
  ``UNSET_INTEGER`` as ``""``;
* doubles read without it: ``UNSET_DOUBLE`` as Java prints ``Double.MAX_VALUE``
  (``1.7976931348623157E308``, TWS being Java), which reads back as ``UNSET_DOUBLE``;
  infinity as ``Infinity``; ints read without it as plain numbers (``UNSET_INTEGER`` is
  2147483647 and reads back as itself);
* the tri-state booleans ``usePriceMgmtAlgo`` and ``routeMarketableToBbo`` (``None``
  when unset) travel as ``0``: the text protocol has no third state.
"""

from __future__ import annotations

import math
import sys
from decimal import Decimal
from typing import Any

from ibapi.contract import Contract
from ibapi.order import Order
from ibapi.order_state import OrderState


class Since:
    """Server versions (``ibapi.server_versions.MIN_SERVER_VER_*``) at which the layouts of
    orders, executions, PnL and account messages change. Copied, so that the simulator
    does not depend on which ibapi release is installed."""

    FRACTIONAL_POSITIONS = 101
    PEGGED_TO_BENCHMARK = 102
    MODELS_SUPPORT = 103
    SOFT_DOLLAR_TIER = 106
    CASH_QTY = 111
    UNREALIZED_PNL = 129
    MARKET_CAP_PRICE = 131
    REALIZED_PNL = 135
    LAST_LIQUIDITY = 136
    AUTO_PRICE_FOR_HEDGE = 141
    WHAT_IF_EXT_FIELDS = 142
    ORDER_CONTAINER = 145
    D_PEG_ORDERS = 148
    PRICE_MGMT_ALGO = 151
    DURATION = 158
    POST_TO_ATS = 160
    AUTO_CANCEL_PARENT = 162
    PEGBEST_PEGMID_OFFSETS = 170
    FA_PROFILE_DESUPPORT = 177
    PENDING_PRICE_REVISION = 178
    CUSTOMER_ACCOUNT = 183
    PROFESSIONAL_CUSTOMER = 184
    BOND_ACCRUED_INTEREST = 185
    INCLUDE_OVERNIGHT = 189
    CME_TAGGING_FIELDS_IN_OPEN_ORDER = 193
    FULL_ORDER_PREVIEW_FIELDS = 195
    SUBMITTER = 198
    IMBALANCE_ONLY = 199


UNSET_INTEGER = 2**31 - 1
UNSET_DOUBLE = sys.float_info.max
UNSET_DECIMAL = Decimal(2**127 - 1)
"""ibapi's unset values (``ibapi.const`` on ibapi 10, ``ibapi.common`` on 9.81, which has
no ``Decimal`` sizes and no ``UNSET_DECIMAL``)."""

OPEN_ORDER_VERSION = 34
"""The openOrder message version written below server version 145: the last one."""

JAVA_MAX_DOUBLE = "1.7976931348623157E308"
"""``UNSET_DOUBLE`` as TWS (Java) prints ``Double.MAX_VALUE``."""


# -- text values -----------------------------------------------------------------------


def num(value: float) -> str:
    """A double as TWS writes it where the decoder reads it without ``SHOW_UNSET``.

    Integral values (below 2**53) have no fraction, ``UNSET_DOUBLE`` is Java's
    ``Double.MAX_VALUE`` and infinity is ``Infinity``: each reads back as the same float.
    """
    if value == UNSET_DOUBLE:
        return JAVA_MAX_DOUBLE
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if math.isfinite(value) and value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def num_or_empty(value: float) -> str:
    """A double the decoder reads with ``SHOW_UNSET``: ``UNSET_DOUBLE`` as ``""``."""
    return "" if value == UNSET_DOUBLE else num(value)


def int_or_empty(value: int) -> str:
    """An int the decoder reads with ``SHOW_UNSET``: ``UNSET_INTEGER`` as ``""``."""
    return "" if value == UNSET_INTEGER else str(value)


def size(value: Decimal | float) -> str:
    """A size or quantity: plain notation, integral values without a fraction, and
    ``UNSET_DECIMAL`` as ``""`` (which ibapi reads back as ``UNSET_DECIMAL``)."""
    if isinstance(value, Decimal):
        if value == UNSET_DECIMAL:
            return ""
        if value == value.to_integral_value():
            return str(int(value))
        return format(value, "f")
    return num(value)


def size_at(version: int, value: Decimal | float) -> str:
    """A size that ibapi 9.81 reads as an int below 101 (``FRACTIONAL_POSITIONS``): an
    order's total quantity, an order status's filled and remaining, an execution's
    shares, a position. Below 101 it is whole, as ibapi's own client sends it there
    (``int(totalQuantity)``); from 101 it is :func:`size`."""
    if version < Since.FRACTIONAL_POSITIONS and value != UNSET_DECIMAL:
        return str(int(value))
    return size(value)


def _flag(value: bool | None) -> bool:
    """A tri-state boolean (``None`` when unset) as the text protocol's two states."""
    return bool(value)


# -- text bodies -----------------------------------------------------------------------


class _Body:
    """Accumulates the fields of one order body. Each method writes what the
    ``OrderDecoder`` method of the same name reads; a run of one-field readers is one
    method named after the run (``main_fields``, ``perm_id_to_good_after_time``...),
    and the one-field readers only one of the two messages calls are written inline in
    its sequence."""

    def __init__(
        self, version: int, contract: Contract, order: Order, state: OrderState, *, open_: bool
    ) -> None:
        self.v = version
        self.contract = contract
        self.order = order
        self.state = state
        self.open = open_  # OrderDecoder's readOpenOrderAttribs
        self.fields: list[object] = []

    def put(self, *values: object) -> None:
        """Append fields as they are (``text_message`` writes booleans as 0/1)."""
        self.fields.extend(values)

    def contract_fields(self) -> None:
        """conId to tradingClass; openOrder versions below 32 never occur."""
        c = self.contract
        self.put(c.conId, c.symbol, c.secType, c.lastTradeDateOrContractMonth)
        self.put(num(c.strike), c.right, c.multiplier, c.exchange, c.currency)
        self.put(c.localSymbol, c.tradingClass)

    def main_fields(self) -> None:
        """action, totalQuantity, orderType, lmtPrice, auxPrice, tif, ocaGroup, account,
        openClose, origin, orderRef: the run both messages start with."""
        o = self.order
        self.put(o.action, size_at(self.v, o.totalQuantity), o.orderType)
        self.put(num_or_empty(o.lmtPrice), num_or_empty(o.auxPrice))
        self.put(o.tif, o.ocaGroup, o.account, o.openClose, o.origin, o.orderRef)

    def perm_id_to_good_after_time(self) -> None:
        """permId, outsideRth, hidden, discretionaryAmt, goodAfterTime."""
        o = self.order
        self.put(o.permId, o.outsideRth, o.hidden, num(o.discretionaryAmt), o.goodAfterTime)

    def fa_params(self) -> None:
        """faGroup, faMethod, faPercentage, and the deprecated faProfile below 177."""
        o = self.order
        self.put(o.faGroup, o.faMethod, o.faPercentage)
        if self.v < Since.FA_PROFILE_DESUPPORT:
            self.put(getattr(o, "faProfile", ""))

    def model_code(self) -> None:
        """modelCode from 103."""
        if self.v >= Since.MODELS_SUPPORT:
            self.put(self.order.modelCode)

    def good_till_date_to_settling_firm(self) -> None:
        """goodTillDate, rule80A, percentOffset, settlingFirm."""
        o = self.order
        self.put(o.goodTillDate, o.rule80A, num_or_empty(o.percentOffset), o.settlingFirm)

    def short_sale_params(self) -> None:
        """shortSaleSlot, designatedLocation, exemptCode (message version >= 23)."""
        o = self.order
        self.put(o.shortSaleSlot, o.designatedLocation, o.exemptCode)

    def box_order_params(self) -> None:
        """startingPrice, stockRefPrice, delta."""
        o = self.order
        self.put(num_or_empty(o.startingPrice), num_or_empty(o.stockRefPrice))
        self.put(num_or_empty(o.delta))

    def peg_to_stk_or_vol_order_params(self) -> None:
        """stockRangeLower, stockRangeUpper."""
        o = self.order
        self.put(num_or_empty(o.stockRangeLower), num_or_empty(o.stockRangeUpper))

    def display_size(self) -> None:
        """displaySize (ibapi 9.81 reads "" as 0, its default)."""
        self.put(int_or_empty(self.order.displaySize))

    def min_qty_and_oca_type(self) -> None:
        """minQty, ocaType."""
        self.put(int_or_empty(self.order.minQty), self.order.ocaType)

    def deprecated_flags(self) -> None:
        """eTradeOnly, firmQuoteOnly, nbboPriceCap: read (9.81) or skipped (10.x)."""
        o = self.order
        self.put(getattr(o, "eTradeOnly", False), getattr(o, "firmQuoteOnly", False))
        self.put(num_or_empty(getattr(o, "nbboPriceCap", UNSET_DOUBLE)))

    def vol_order_params(self) -> None:
        """Volatility orders; the delta-neutral leg only when it has an order type."""
        o = self.order
        self.put(num_or_empty(o.volatility), o.volatilityType, o.deltaNeutralOrderType)
        self.put(num_or_empty(o.deltaNeutralAuxPrice))
        if o.deltaNeutralOrderType:
            self.put(o.deltaNeutralConId)
            if self.open:
                self.put(o.deltaNeutralSettlingFirm, o.deltaNeutralClearingAccount)
                self.put(o.deltaNeutralClearingIntent, o.deltaNeutralOpenClose)
            self.put(o.deltaNeutralShortSale, o.deltaNeutralShortSaleSlot)
            self.put(o.deltaNeutralDesignatedLocation)
        self.put(o.continuousUpdate, o.referencePriceType)

    def trail_params(self) -> None:
        """trailStopPrice, trailingPercent."""
        o = self.order
        self.put(num_or_empty(o.trailStopPrice), num_or_empty(o.trailingPercent))

    def basis_points(self) -> None:
        """basisPoints, basisPointsType."""
        o = self.order
        self.put(num_or_empty(o.basisPoints), int_or_empty(o.basisPointsType))

    def combo_legs(self) -> None:
        """comboLegsDescrip, the contract's legs, then the order's per-leg prices."""
        c, o = self.contract, self.order
        self.put(c.comboLegsDescrip)
        legs = c.comboLegs or []
        self.put(len(legs))
        for leg in legs:
            self.put(leg.conId, leg.ratio, leg.action, leg.exchange, leg.openClose)
            self.put(leg.shortSaleSlot, leg.designatedLocation, leg.exemptCode)
        prices = o.orderComboLegs or []
        self.put(len(prices))
        for leg in prices:
            self.put(num_or_empty(leg.price))

    def smart_combo_routing_params(self) -> None:
        """Count, then tag/value pairs."""
        self._tag_values(self.order.smartComboRoutingParams)

    def _tag_values(self, tag_values: list[Any] | None) -> None:
        tag_values = tag_values or []
        self.put(len(tag_values))
        for tag_value in tag_values:
            self.put(tag_value.tag, tag_value.value)

    def scale_order_params(self) -> None:
        """Scale orders; the rest only when the price increment is set and positive,
        the test the decoder applies to the value it has just read."""
        o = self.order
        self.put(int_or_empty(o.scaleInitLevelSize), int_or_empty(o.scaleSubsLevelSize))
        self.put(num_or_empty(o.scalePriceIncrement))
        if o.scalePriceIncrement != UNSET_DOUBLE and o.scalePriceIncrement > 0.0:
            self.put(num_or_empty(o.scalePriceAdjustValue))
            self.put(int_or_empty(o.scalePriceAdjustInterval))
            self.put(num_or_empty(o.scaleProfitOffset), o.scaleAutoReset)
            self.put(int_or_empty(o.scaleInitPosition), int_or_empty(o.scaleInitFillQty))
            self.put(o.scaleRandomPercent)

    def hedge_params(self) -> None:
        """hedgeType, and hedgeParam when there is a type."""
        self.put(self.order.hedgeType)
        if self.order.hedgeType:
            self.put(self.order.hedgeParam)

    def clearing_params(self) -> None:
        """clearingAccount, clearingIntent."""
        self.put(self.order.clearingAccount, self.order.clearingIntent)

    def delta_neutral(self) -> None:
        """Whether the contract has a delta-neutral contract, then conId, delta, price."""
        dn = self.contract.deltaNeutralContract
        self.put(dn is not None)
        if dn is not None:
            self.put(dn.conId, num(dn.delta), num(dn.price))

    def algo_params(self) -> None:
        """algoStrategy, and its parameters when there is a strategy."""
        self.put(self.order.algoStrategy)
        if self.order.algoStrategy:
            self._tag_values(self.order.algoParams)

    def what_if_info_and_commission_and_fees(self) -> None:
        """whatIf, the status, margins, commissions and (from 195) the full preview."""
        s = self.state
        self.put(self.order.whatIf, s.status)
        if self.v >= Since.WHAT_IF_EXT_FIELDS:
            self.put(s.initMarginBefore, s.maintMarginBefore, s.equityWithLoanBefore)
            self.put(s.initMarginChange, s.maintMarginChange, s.equityWithLoanChange)
        self.put(s.initMarginAfter, s.maintMarginAfter, s.equityWithLoanAfter)
        self.put(*(num_or_empty(value) for value in state_commissions(s)))
        self.put(state_commission_currency(s))
        if self.v >= Since.FULL_ORDER_PREVIEW_FIELDS:
            self.put(s.marginCurrency)
            for name in OUTSIDE_RTH_MARGINS:
                self.put(num_or_empty(getattr(s, name)))
            self.put(size(s.suggestedSize), s.rejectReason)
            allocations = s.orderAllocations or []
            self.put(len(allocations))
            for a in allocations:
                self.put(a.account, size(a.position), size(a.positionDesired))
                self.put(size(a.positionAfter), size(a.desiredAllocQty))
                self.put(size(a.allowedAllocQty), a.isMonetary)
        self.put(s.warningText)

    def vol_randomize_flags(self) -> None:
        """randomizeSize, randomizePrice."""
        self.put(self.order.randomizeSize, self.order.randomizePrice)

    def peg_to_bench_params(self) -> None:
        """From 102, for PEG BENCH orders only."""
        o = self.order
        if self.v >= Since.PEGGED_TO_BENCHMARK and o.orderType in ("PEG BENCH", "PEGBENCH"):
            self.put(o.referenceContractId, o.isPeggedChangeAmountDecrease)
            self.put(num(o.peggedChangeAmount), num(o.referenceChangeAmount))
            self.put(o.referenceExchangeId)

    def conditions(self) -> None:
        """From 102: the count, each condition as ibapi's own ``make_fields`` writes it
        (the decoder's ``condition.decode`` reads exactly that), then the two flags."""
        if self.v < Since.PEGGED_TO_BENCHMARK:
            return
        conditions = self.order.conditions or []
        self.put(len(conditions))
        for condition in conditions:
            self.put(condition.type())
            self.put(*(field[:-1] for field in condition.make_fields()))
        if conditions:
            self.put(self.order.conditionsIgnoreRth, self.order.conditionsCancelOrder)

    def adjusted_order_params(self) -> None:
        """From 102: the adjusted (attached stop) order, around the stop price and limit
        offset that completedOrder writes on their own."""
        if self.v < Since.PEGGED_TO_BENCHMARK:
            return
        o = self.order
        self.put(o.adjustedOrderType, num(o.triggerPrice))
        self.stop_price_and_lmt_price_offset()
        self.put(num(o.adjustedStopPrice), num(o.adjustedStopLimitPrice))
        self.put(num(o.adjustedTrailingAmount), o.adjustableTrailingUnit)

    def stop_price_and_lmt_price_offset(self) -> None:
        """trailStopPrice (again) and lmtPriceOffset, read without SHOW_UNSET."""
        self.put(num(self.order.trailStopPrice), num(self.order.lmtPriceOffset))

    def soft_dollar_tier(self) -> None:
        """From 106: name, value, display name."""
        if self.v >= Since.SOFT_DOLLAR_TIER:
            tier = self.order.softDollarTier
            self.put(tier.name, tier.val, tier.displayName)

    def cash_qty(self) -> None:
        """From 111."""
        if self.v >= Since.CASH_QTY:
            self.put(num(self.order.cashQty))

    def dont_use_auto_price_for_hedge(self) -> None:
        """From 141."""
        if self.v >= Since.AUTO_PRICE_FOR_HEDGE:
            self.put(self.order.dontUseAutoPriceForHedge)

    def is_oms_containers(self) -> None:
        """From 145."""
        if self.v >= Since.ORDER_CONTAINER:
            self.put(self.order.isOmsContainer)

    def discretionary_up_to_limit_price(self) -> None:
        """From 148."""
        if self.v >= Since.D_PEG_ORDERS:
            self.put(self.order.discretionaryUpToLimitPrice)

    def use_price_mgmt_algo(self) -> None:
        """From 151."""
        if self.v >= Since.PRICE_MGMT_ALGO:
            self.put(_flag(self.order.usePriceMgmtAlgo))

    def duration(self) -> None:
        """From 158."""
        if self.v >= Since.DURATION:
            self.put(int_or_empty(self.order.duration))

    def post_to_ats(self) -> None:
        """From 160."""
        if self.v >= Since.POST_TO_ATS:
            self.put(int_or_empty(self.order.postToAts))

    def auto_cancel_parent(self, since: int) -> None:
        """From ``since``: 162 in openOrder, always in completedOrder."""
        if self.v >= since:
            self.put(self.order.autoCancelParent)

    def peg_best_peg_mid_order_attributes(self) -> None:
        """From 170: minTradeQty, minCompeteSize and the three offsets."""
        if self.v >= Since.PEGBEST_PEGMID_OFFSETS:
            o = self.order
            self.put(int_or_empty(o.minTradeQty), int_or_empty(o.minCompeteSize))
            self.put(num_or_empty(o.competeAgainstBestOffset))
            self.put(num_or_empty(o.midOffsetAtWhole), num_or_empty(o.midOffsetAtHalf))

    def customer_account(self) -> None:
        """From 183."""
        if self.v >= Since.CUSTOMER_ACCOUNT:
            self.put(self.order.customerAccount)

    def professional_customer(self) -> None:
        """From 184."""
        if self.v >= Since.PROFESSIONAL_CUSTOMER:
            self.put(self.order.professionalCustomer)

    def bond_accrued_interest(self) -> None:
        """From 185."""
        if self.v >= Since.BOND_ACCRUED_INTEREST:
            self.put(self.order.bondAccruedInterest)

    def include_overnight(self) -> None:
        """From 189."""
        if self.v >= Since.INCLUDE_OVERNIGHT:
            self.put(self.order.includeOvernight)

    def cme_tagging_fields(self) -> None:
        """From 193: extOperator, manualOrderIndicator."""
        if self.v >= Since.CME_TAGGING_FIELDS_IN_OPEN_ORDER:
            self.put(self.order.extOperator, int_or_empty(self.order.manualOrderIndicator))

    def submitter(self) -> None:
        """From 198."""
        if self.v >= Since.SUBMITTER:
            self.put(self.order.submitter)

    def imbalance_only(self, since: int) -> None:
        """From ``since``: 199 in openOrder, always in completedOrder."""
        if self.v >= since:
            self.put(self.order.imbalanceOnly)


OUTSIDE_RTH_MARGINS = (
    "initMarginBeforeOutsideRTH",
    "maintMarginBeforeOutsideRTH",
    "equityWithLoanBeforeOutsideRTH",
    "initMarginChangeOutsideRTH",
    "maintMarginChangeOutsideRTH",
    "equityWithLoanChangeOutsideRTH",
    "initMarginAfterOutsideRTH",
    "maintMarginAfterOutsideRTH",
    "equityWithLoanAfterOutsideRTH",
)
"""The OrderState doubles of the full order preview (from 195), in wire order."""

_ALWAYS = 0


def state_commissions(state: OrderState) -> tuple[float, float, float]:
    """The what-if commission, minimum and maximum, whichever names the release uses
    (``commissionAndFees`` on ibapi 10, ``commission`` on 9.81)."""
    if hasattr(state, "commissionAndFees"):
        return state.commissionAndFees, state.minCommissionAndFees, state.maxCommissionAndFees
    old = ("commission", "minCommission", "maxCommission")  # ibapi 9.81
    return getattr(state, old[0]), getattr(state, old[1]), getattr(state, old[2])


def state_commission_currency(state: OrderState) -> str:
    """The what-if commission currency, whichever name the release uses."""
    for name in ("commissionAndFeesCurrency", "commissionCurrency"):  # ibapi 10, 9.81
        if hasattr(state, name):
            return str(getattr(state, name))
    return ""


def open_order_fields(
    version: int, order_id: int, contract: Contract, order: Order, state: OrderState
) -> list[object]:
    """The fields of an openOrder message, in ``Decoder.processOpenOrder``'s order."""
    b = _Body(version, contract, order, state, open_=True)
    if version < Since.ORDER_CONTAINER:
        b.put(OPEN_ORDER_VERSION)
    b.put(order_id)
    b.contract_fields()
    b.main_fields()
    b.put(order.clientId)
    b.perm_id_to_good_after_time()
    b.put("")  # sharesAllocation, deprecated
    b.fa_params()
    b.model_code()
    b.good_till_date_to_settling_firm()
    b.short_sale_params()
    b.put(order.auctionStrategy)
    b.box_order_params()
    b.peg_to_stk_or_vol_order_params()
    b.display_size()
    b.put(order.blockOrder, order.sweepToFill, order.allOrNone)
    b.min_qty_and_oca_type()
    b.deprecated_flags()
    b.put(order.parentId, order.triggerMethod)
    b.vol_order_params()
    b.trail_params()
    b.basis_points()
    b.combo_legs()
    b.smart_combo_routing_params()
    b.scale_order_params()
    b.hedge_params()
    b.put(order.optOutSmartRouting)
    b.clearing_params()
    b.put(order.notHeld)
    b.delta_neutral()
    b.algo_params()
    b.put(order.solicited)
    b.what_if_info_and_commission_and_fees()
    b.vol_randomize_flags()
    b.peg_to_bench_params()
    b.conditions()
    b.adjusted_order_params()
    b.soft_dollar_tier()
    b.cash_qty()
    b.dont_use_auto_price_for_hedge()
    b.is_oms_containers()
    b.discretionary_up_to_limit_price()
    b.use_price_mgmt_algo()
    b.duration()
    b.post_to_ats()
    b.auto_cancel_parent(Since.AUTO_CANCEL_PARENT)
    b.peg_best_peg_mid_order_attributes()
    b.customer_account()
    b.professional_customer()
    b.bond_accrued_interest()
    b.include_overnight()
    b.cme_tagging_fields()
    b.submitter()
    b.imbalance_only(Since.IMBALANCE_ONLY)
    return b.fields


def completed_order_fields(
    version: int, contract: Contract, order: Order, state: OrderState
) -> list[object]:
    """The fields of a completedOrder message, in ``Decoder.processCompletedOrder``'s
    order: no order id, client id or parent id, no what-if block, and the completion
    fields (filled quantity, parent perm id, completed time and status) at the end."""
    b = _Body(version, contract, order, state, open_=False)
    b.contract_fields()
    b.main_fields()
    b.perm_id_to_good_after_time()
    b.fa_params()
    b.model_code()
    b.good_till_date_to_settling_firm()
    b.short_sale_params()
    b.box_order_params()
    b.peg_to_stk_or_vol_order_params()
    b.display_size()
    b.put(order.sweepToFill, order.allOrNone)
    b.min_qty_and_oca_type()
    b.put(order.triggerMethod)
    b.vol_order_params()
    b.trail_params()
    b.combo_legs()
    b.smart_combo_routing_params()
    b.scale_order_params()
    b.hedge_params()
    b.clearing_params()
    b.put(order.notHeld)
    b.delta_neutral()
    b.algo_params()
    b.put(order.solicited, state.status)
    b.vol_randomize_flags()
    b.peg_to_bench_params()
    b.conditions()
    b.stop_price_and_lmt_price_offset()
    b.cash_qty()
    b.dont_use_auto_price_for_hedge()
    b.is_oms_containers()
    b.put(order.autoCancelDate, size(order.filledQuantity), order.refFuturesConId)
    b.auto_cancel_parent(_ALWAYS)
    b.put(order.shareholder)
    b.imbalance_only(_ALWAYS)
    b.put(_flag(order.routeMarketableToBbo), order.parentPermId)
    b.put(state.completedTime, state.completedStatus)
    b.peg_best_peg_mid_order_attributes()
    b.customer_account()
    b.professional_customer()
    b.submitter()
    return b.fields
