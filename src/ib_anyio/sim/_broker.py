"""The simulated broker: orders, matching, executions and commissions.

Pure logic: every method takes a request and returns the :data:`Event` objects that
answer it, in the order TWS sends their messages; the server turns them into messages
and picks their recipients. The data model is ibapi's own ``Contract``, ``Order``,
``OrderState``, ``Execution`` and commission report classes (``CommissionAndFeesReport``,
``CommissionReport`` on ibapi 9.81), with ``Decimal`` quantities on ibapi 10 and floats on
9.81. Everything is deterministic given the market's seed and the clock.

Orders are identified by ``(client_id, order_id)``: ids belong to the client that placed
them. Statuses are TWS's: ``PreSubmitted`` (held with ``transmit=False``, a stop not yet
triggered, a bracket child whose parent has not filled), ``Submitted`` (working),
``Filled``, ``Cancelled`` (by TWS: IOC/FOK leftovers, OCA and bracket siblings, children
of a cancelled parent), ``ApiCancelled`` (an API cancel of an order that was still
``PreSubmitted``; an API cancel of a working order gives ``Cancelled``) and ``Inactive``
(rejected for margin after it was accepted).

Placing (``place``), in this order of checks, nothing placed on a rejection:

* An id the client already used for another instrument: error 103 "Duplicate order id";
  for a filled order: 104 "Can't modify a filled order."; for another finished order: 103.
* Action not BUY/SELL, quantity not positive (ibapi's unset quantity counts as 0), a
  limit/stop price missing or not positive: 201 "Order rejected - reason:<reason>" with
  ``{"rejectReason": "<reason>"}`` as ``reject_json``.
* Order type not one the simulator matches (``MKT``, ``LMT``, ``STP``, ``STP LMT``) or not
  in the instrument's ``order_types``: 387 "Unsupported order type for this exchange and
  security type."
* Limit or stop price off the instrument's ``min_tick``: 110 "The price does not conform
  to the minimum price variation for this contract."
* ``parentId`` naming no order of the client: 135 "Can't find order with id =<parentId>".
* A new order (not a child) that would leave the account's available funds negative
  after a complete fill at its estimated price (see *what-if*) is accepted and at once
  ``Inactive``, preceded by error 201 "YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE
  DESIRED POSITION YOUR EQUITY WITH LOAN VALUE [...] MUST EXCEED THE INITIAL MARGIN
  [...]". Modifications are not margin checked.

Re-placing an open order's id with the same instrument *modifies* it: every field may
change except the action (error 105 "Order being modified does not match original
order."); a quantity below what has filled is rejected (201); the order keeps its permId
and fills, is re-matched at once, and a stop whose type or stop price changed is
re-armed. A new order or modification answers ``OrderChanged(open_order=True)`` first.

Matching (at placement, modification, activation and :meth:`Broker.on_quote`):

* The touch offers its size at the bid/ask and again at each tick further away (a
  ladder): an order fills in executions of at most the touch size, one tick worse per
  level. Liquidity taken stays taken until the instrument's quote changes (any
  ``Market.step`` that moves it, or ``set_quote``), and is shared by all orders on that
  side. A touch size of 0 offers nothing.
* ``MKT`` takes levels until filled. ``LMT`` buys take levels priced at or below the
  limit (sells at or above) and rest with the rest. ``STP`` triggers when the mark (see
  ``_market``) is at or beyond the stop (buy: mark >= stop; sell: mark <= stop), going
  from ``PreSubmitted`` to ``Submitted``, and then matches as ``MKT``; ``STP LMT``
  likewise then matches as ``LMT`` at its limit.
* TIF: ``IOC`` fills what the first match can and cancels the rest; ``FOK`` fills
  completely at the first match or is cancelled untouched; anything else (``DAY``,
  ``GTC``...) rests. There is no session close: ``DAY`` orders never expire.
* Held orders (``transmit=False``) wait until an order with ``transmit=True`` of the same
  client links to them: its parent, its parent's other children, or an order of the same
  OCA group (or until the held order itself is re-placed with ``transmit=True``).
* Children (``parentId``) work only once their parent has filled completely. Any fill of
  a child cancels its siblings; cancelling a parent cancels its open children; a child
  placed under a cancelled parent is cancelled at once.
* OCA groups (``ocaGroup``, per client): a fill of one member cancels the others with
  ``ocaType`` 1 (and 0), and reduces their quantity by the fill with types 2 and 3 (an
  order reduced to nothing is cancelled).

Each execution gives ``Filled`` (execDetails with reqId -1, then its commission report),
then ``OrderChanged`` (``Submitted`` with the partial amounts, or ``Filled`` with
``open_order=True``). A terminal ``OrderChanged`` (Filled, Cancelled, ApiCancelled,
Inactive) is followed by ``status_repeats`` identical ones with ``open_order=False``, as
TWS repeats its final ``orderStatus``. Every cancellation is followed by error 202
"Order Canceled - reason:". Events carry snapshots: later changes do not alter them.

Executions: ``execId`` is ``"<8 hex digits>.<8 hex digit counter>.01.01"``, both parts
derived from the seed; ``time`` is ``"yyyymmdd hh:mm:ss US/Eastern"`` (the zone-suffixed
form TWS sends to current clients) from the clock; ``acctNumber`` is the account;
``exchange`` the instrument's primary exchange (or its exchange, or the first of its valid
exchanges other than SMART); ``side`` ``BOT``/``SLD``; ``cumQty``/``avgPrice`` the
order's running totals; ``orderRef`` and ``modelCode`` copied from the order;
``lastLiquidity`` 2 (removed) for fills while placing or modifying and 1 (added) for
resting orders filled by a quote change.

Commissions (IBKR fixed, per order, charged as the order fills so that each execution
carries the increase of the order's total): stocks 0.005 per share, at least 1.00, at
most 1% of the value; options 0.65 per contract; futures 0.85 per contract; forex 0.2
basis points of the value, at least 2.00. The commission report carries the PnL the
execution realized (``UNSET_DOUBLE`` when it only opened a position) and ``yield_``
``UNSET_DOUBLE``.

Cancel: an open order answers ``OrderChanged`` (terminal) and error 202; an unknown id
10147 "OrderId <id> that needs to be cancelled is not found."; a finished order 161
"Cancel attempted when order is not in a cancellable state. Order permId = <permId>".
``global_cancel`` cancels every open order of every client the same way.

What-if (``order.whatIf``): the same checks, then one ``WhatIf`` event with an
``OrderState`` (status ``PreSubmitted``) whose margin fields hold the account's initial
and maintenance margin and equity with loan before, after a complete fill at the
estimated price (MKT: the touch; LMT and STP LMT: the limit; STP: the stop), and the
change, as ``"%.2f"`` strings, and whose commission (also min and max) is the commission
of that fill. Nothing is placed and the id stays free.

Exercise (``exercise``): ``action`` 1 exercises, 2 lets lapse, ``quantity`` long
contracts of one of the universe's options (``override`` is ignored): the option
position shrinks, and an exercise trades the underlying at the strike (see
``_account``). Errors (error code, request id): not an option or a bad action, 321
"Error validating request.-'exerciseOptions' : cause - <reason>"; too few contracts,
322 "Error processing request.-'exerciseOptions' : cause - <reason>".

Executions requested with ``executions`` are the client's own, or everybody's for the
master client id, filtered by ``ExecutionFilter`` rules: ``clientId`` (0: any),
``acctCode``, ``time`` (``"yyyymmdd hh:mm:ss"`` US/Eastern, with a zone, or
``"yyyymmdd-hh:mm:ss"`` UTC: executions at or after it), ``symbol``, ``secType``,
``exchange`` (case-insensitive), ``side`` (``BUY``/``BOT``, ``SELL``/``SLD``),
``lastNDays`` and ``specificDates`` (``yyyymmdd`` in US/Eastern).
"""

from __future__ import annotations

import functools
import json
import math
import random
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
from ibapi.contract import Contract
from ibapi.execution import Execution
from ibapi.order import Order
from ibapi.order_state import OrderState

from ._account import Account, dec, money
from ._market import Market, contract_of, multiplier_of, on_tick
from ._universe import Instrument, Quote, _zone, round_to_tick

try:
    from ibapi.commission_and_fees_report import (
        CommissionAndFeesReport as CommissionReport,
    )
except ImportError:  # ibapi 9.81
    from ibapi.commission_report import (  # type: ignore[no-redef,import-not-found,unused-ignore]
        CommissionReport,
    )

UNSET_DOUBLE = sys.float_info.max
UNSET_INTEGER = 2**31 - 1
UNSET_DECIMAL = Decimal(2**127 - 1)
ZERO = Decimal(0)
TIME_ZONE = "US/Eastern"

PRESUBMITTED = "PreSubmitted"
SUBMITTED = "Submitted"
FILLED = "Filled"
CANCELLED = "Cancelled"
API_CANCELLED = "ApiCancelled"
INACTIVE = "Inactive"
TERMINAL = frozenset((FILLED, CANCELLED, API_CANCELLED, INACTIVE))

ORDER_TYPES = frozenset(("MKT", "LMT", "STP", "STP LMT"))
_STOPS = frozenset(("STP", "STP LMT"))
_LIMITS = frozenset(("LMT", "STP LMT"))

CANCELED_TEXT = "Order Canceled - reason:"

# ibapi renamed commission fields in 10.x: use whichever this installation has
_DECIMAL_SIZES = isinstance(Execution().cumQty, Decimal)
_REPORT_COMMISSION = (
    "commissionAndFees" if hasattr(CommissionReport(), "commissionAndFees") else "commission"
)
_STATE_COMMISSION = (
    ("commissionAndFees", "minCommissionAndFees", "maxCommissionAndFees")
    if hasattr(OrderState(), "commissionAndFees")
    else ("commission", "minCommission", "maxCommission")
)
_STATE_CURRENCY = (
    "commissionAndFeesCurrency"
    if hasattr(OrderState(), "commissionAndFeesCurrency")
    else "commissionCurrency"
)


def size_out(value: Decimal) -> Any:
    """A quantity as this ibapi's classes hold it: ``Decimal`` on 10.x, float on 9.81."""
    return value if _DECIMAL_SIZES else float(value)


def size_in(value: object) -> Decimal:
    """A quantity from an ibapi object or a decoded request as ``Decimal`` (unset: 0)."""
    if value is None or isinstance(value, bool):
        return ZERO
    if isinstance(value, Decimal):
        return value if value.is_finite() and value != UNSET_DECIMAL else ZERO
    if isinstance(value, float):
        return dec(value) if math.isfinite(value) and value != UNSET_DOUBLE else ZERO
    if isinstance(value, (int, str)):
        try:
            result = Decimal(value)
        except InvalidOperation:
            return ZERO
        return result if result.is_finite() and result != UNSET_DECIMAL else ZERO
    return ZERO


def _price(value: object) -> float | None:
    """A set, finite price, or ``None`` for ibapi's unset double and other non-prices."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    number = float(value)
    if not math.isfinite(number) or number == UNSET_DOUBLE:
        return None
    return number


def exec_time(epoch: float) -> str:
    """An execution time as TWS writes it: ``"yyyymmdd hh:mm:ss US/Eastern"``."""
    return _exec_time(math.floor(epoch))


@functools.lru_cache(maxsize=16)
def _exec_time(second: int) -> str:
    zone = _zone(TIME_ZONE)
    name = "UTC" if zone is timezone.utc else TIME_ZONE
    return f"{datetime.fromtimestamp(second, zone):%Y%m%d %H:%M:%S} {name}"


def _copy_order(order: Order) -> Order:
    """A shallow copy of an ibapi ``Order`` (faster than ``copy.copy``)."""
    new: Order = Order.__new__(Order)
    new.__dict__.update(order.__dict__)
    return new


def commission(inst: Instrument, qty: Decimal, value: Decimal) -> Decimal:
    """IBKR's fixed commission for an order of ``qty`` worth ``value`` (0 for nothing)."""
    if qty <= 0:
        return ZERO
    if inst.sec_type == "OPT":
        return Decimal("0.65") * qty
    if inst.sec_type == "FUT":
        return Decimal("0.85") * qty
    if inst.sec_type == "CASH":
        return max(Decimal("0.00002") * value, Decimal("2.00"))
    return min(max(Decimal("0.005") * qty, Decimal("1.00")), Decimal("0.01") * value)


def venue(inst: Instrument) -> str:
    """The exchange executions of the instrument report."""
    if inst.primary_exchange:
        return inst.primary_exchange
    if inst.exchange != "SMART":
        return inst.exchange
    return next((x for x in inst.valid_exchanges.split(",") if x and x != "SMART"), "SMART")


# -- data ----------------------------------------------------------------------------


@attrs.frozen
class SimFill:
    """One execution.

    Attributes:
        inst: The instrument traded.
        contract: The ``Contract`` execDetails reports (exchange: the execution's venue).
        execution: The ibapi ``Execution``.
        commission_report: Its ``CommissionAndFeesReport`` (``CommissionReport`` on 9.81).
        time: When it happened (epoch seconds from the broker's clock).
    """

    inst: Instrument
    contract: Contract
    execution: Execution
    commission_report: CommissionReport
    time: float

    @property
    def exec_id(self) -> str:
        return str(self.execution.execId)

    @property
    def commission(self) -> float:
        """The commission charged (the report's ``commissionAndFees``/``commission``)."""
        return float(getattr(self.commission_report, _REPORT_COMMISSION))

    @property
    def realized_pnl(self) -> float | None:
        """The PnL this execution realized, ``None`` when it only opened a position."""
        value = float(self.commission_report.realizedPNL)
        return None if value == UNSET_DOUBLE else value


@attrs.define(eq=False, slots=False)
class SimOrder:
    """An order the broker holds (open or finished).

    Attributes:
        client_id: The API client that placed it (0: TWS itself or client 0).
        order_id: Its id, unique per client.
        perm_id: TWS's permanent id.
        inst: The instrument.
        contract: The ``Contract`` open orders report.
        order: The ibapi ``Order`` as last placed, with ``orderId``, ``clientId``,
            ``permId``, ``account``, ``totalQuantity`` and ``filledQuantity`` filled in.
        status: TWS's status string.
        filled: Quantity filled so far.
        remaining: Quantity still to fill.
        avg_fill_price: Average price of the fills (0 before any).
        last_fill_price: Price of the latest fill (0 before any).
        why_held: ``orderStatus``'s whyHeld (always empty here).
        mkt_cap_price: ``orderStatus``'s mktCapPrice (always 0 here).
        parent_id: The parent's order id (0: none).
        fills: Its executions, oldest first.
        manual: Placed "by hand" in TWS (:meth:`Broker.place_manual`).
        held: Placed with ``transmit=False`` and not transmitted yet.
        triggered: False while a stop order waits for its trigger.
    """

    client_id: int
    order_id: int
    perm_id: int
    inst: Instrument
    contract: Contract
    order: Order
    status: str = PRESUBMITTED
    filled: Decimal = ZERO
    remaining: Decimal = ZERO
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    why_held: str = ""
    mkt_cap_price: float = 0.0
    parent_id: int = 0
    fills: list[SimFill] = attrs.Factory(list)
    manual: bool = False
    held: bool = False
    triggered: bool = True
    tried: bool = False
    completed_time: str = ""
    fill_value: Decimal = ZERO

    @property
    def key(self) -> tuple[int, int]:
        return (self.client_id, self.order_id)

    @property
    def action(self) -> str:
        return str(self.order.action).upper()

    @property
    def buy(self) -> bool:
        return self.action == "BUY"

    @property
    def order_type(self) -> str:
        return normalize_type(str(self.order.orderType))

    @property
    def tif(self) -> str:
        return str(self.order.tif).upper()

    @property
    def quantity(self) -> Decimal:
        return self.filled + self.remaining

    @property
    def done(self) -> bool:
        """Whether the order is finished (Filled, Cancelled, ApiCancelled, Inactive)."""
        return self.status in TERMINAL

    @property
    def commission(self) -> float:
        """Total commission of its fills."""
        return sum(f.commission for f in self.fills)

    def state(self) -> OrderState:
        """The ``OrderState`` its ``openOrder`` (and ``completedOrder``) carries: the
        status, the commission once it has fills, the completion time and status once
        finished."""
        state = OrderState()
        state.status = self.status
        if self.fills:
            total = self.commission
            for name in _STATE_COMMISSION:
                setattr(state, name, total)
            setattr(state, _STATE_CURRENCY, self.inst.currency)
        if self.done:
            state.completedTime = self.completed_time
            state.completedStatus = self.status
        return state

    def snapshot(self) -> SimOrder:
        """A copy that later changes of this order leave alone."""
        snap = object.__new__(SimOrder)
        snap.__dict__.update(self.__dict__)
        snap.order = _copy_order(self.order)
        snap.fills = list(self.fills)
        return snap


# -- events ----------------------------------------------------------------------------


@attrs.frozen
class OrderChanged:
    """Send ``orderStatus`` for the order, preceded by ``openOrder`` when ``open_order``
    (a new, modified, (re)activated or finished order)."""

    order: SimOrder
    open_order: bool


@attrs.frozen
class Filled:
    """Send ``execDetails`` (reqId -1) for the fill, then its commission report."""

    order: SimOrder
    fill: SimFill


@attrs.frozen
class OrderError:
    """Send ``error`` with the order id (or request id) as its id."""

    client_id: int
    order_id: int
    code: int
    message: str
    reject_json: str = ""


@attrs.frozen
class WhatIf:
    """Send ``openOrder`` with the what-if ``OrderState``; nothing was placed."""

    client_id: int
    order_id: int
    contract: Contract
    order: Order
    state: OrderState


@attrs.frozen
class Exercised:
    """An option exercise (or lapse) was booked: positions and cash changed."""

    client_id: int
    req_id: int
    inst: Instrument
    action: int
    quantity: int


Event = OrderChanged | Filled | OrderError | WhatIf | Exercised


def normalize_type(order_type: str) -> str:
    """An order type in TWS's spelling: upper case, single spaces, ``STPLMT`` as
    ``STP LMT``."""
    text = " ".join(order_type.upper().split())
    return "STP LMT" if text == "STPLMT" else text


def _reject(client_id: int, order_id: int, reason: str) -> OrderError:
    return OrderError(
        client_id,
        order_id,
        201,
        f"Order rejected - reason:{reason}",
        json.dumps({"rejectReason": reason}, separators=(",", ":")),
    )


def _field(flt: object, name: str) -> object:
    if isinstance(flt, Mapping):
        return flt.get(name)
    return getattr(flt, name, None)


def _filter_text(fill: SimFill, name: str) -> str:
    """The value an ``ExecutionFilter`` text field is compared with."""
    if name == "acctCode":
        return str(fill.execution.acctNumber)
    if name == "exchange":
        return str(fill.execution.exchange)
    return str(getattr(fill.contract, name))


def parse_filter_time(text: str) -> float | None:
    """An ``ExecutionFilter.time`` as epoch seconds (``None`` when empty or unreadable)."""
    text = text.strip()
    if not text:
        return None
    zone = _zone(TIME_ZONE)
    if len(text) > 8 and text[8] == "-":
        text, zone = text[:8] + " " + text[9:], timezone.utc
    parts = text.split()
    if len(parts) >= 3:
        zone = _zone(parts[2])
    try:
        when = datetime.strptime(" ".join(parts[:2]), "%Y%m%d %H:%M:%S")
    except ValueError:
        return None
    return when.replace(tzinfo=zone).timestamp()


# -- the broker ------------------------------------------------------------------------


class Broker:
    """Orders of every client against one market and one account.

    Args:
        market: The market orders match against.
        account: The account fills are booked to.
        status_repeats: How many extra times a terminal ``orderStatus`` is repeated.
        clock: Source of the current time (epoch seconds).
        master_client_id: The client id that sees every client's executions (TWS's
            "Master API client ID"); ``None``: no such client.

    Attributes:
        orders: Every order by ``(client_id, order_id)``, open and finished, in placement
            order.
        fills: Every execution, oldest first.
    """

    def __init__(
        self,
        market: Market,
        account: Account,
        *,
        status_repeats: int = 1,
        clock: Callable[[], float] = time.time,
        master_client_id: int | None = None,
    ) -> None:
        self.market = market
        self.account = account
        self.status_repeats = status_repeats
        self.clock = clock
        self.master_client_id = master_client_id
        self.orders: dict[tuple[int, int], SimOrder] = {}
        self.fills: list[SimFill] = []
        rng = random.Random(f"{market.seed}:broker")
        self._next_perm = rng.randrange(1_000_000_000, 1_900_000_000)
        self._exec_prefix = rng.getrandbits(32)
        self._next_exec = rng.randrange(0x1000_0000, 0x7000_0000)
        self._next_manual = -1
        self._open: dict[tuple[int, int], SimOrder] = {}
        self._completed: list[SimOrder] = []
        self._used: dict[tuple[int, bool], tuple[int, Decimal]] = {}
        self._taker = True

    # -- queries ---------------------------------------------------------------------

    def order(self, client_id: int, order_id: int) -> SimOrder | None:
        """The order with this id, open or finished."""
        return self.orders.get((client_id, order_id))

    def open_orders(self, client_id: int | None = None) -> list[SimOrder]:
        """Open orders of one client (``None``: of every client), in placement order."""
        return [o for o in self._open.values() if client_id is None or o.client_id == client_id]

    def completed_orders(self) -> list[SimOrder]:
        """Finished orders, in the order they finished."""
        return list(self._completed)

    def executions(self, client_id: int, flt: object = None) -> list[SimFill]:
        """Executions ``reqExecutions`` returns to ``client_id`` for an ``ExecutionFilter``.

        Args:
            client_id: The requesting client.
            flt: The filter as a mapping of ibapi's attribute names (a decoded request) or
                an ``ExecutionFilter``; ``None``: no filter.
        """
        found = [
            f
            for f in self.fills
            if client_id == self.master_client_id or f.execution.clientId == client_id
        ]
        if flt is None:
            return found
        want_client = _field(flt, "clientId")
        if isinstance(want_client, int) and want_client:
            found = [f for f in found if f.execution.clientId == want_client]
        for name in ("acctCode", "symbol", "secType", "exchange"):
            value = _field(flt, name)
            if isinstance(value, str) and value.strip():
                want = value.strip().upper()
                found = [f for f in found if _filter_text(f, name).upper() == want]
        side = _field(flt, "side")
        if isinstance(side, str) and side.strip():
            want = {"BUY": "BOT", "SELL": "SLD"}.get(side.strip().upper(), side.strip().upper())
            found = [f for f in found if f.execution.side == want]
        since = parse_filter_time(str(_field(flt, "time") or ""))
        if since is not None:
            found = [f for f in found if f.time >= since]
        days = _field(flt, "lastNDays")
        if isinstance(days, int) and 0 < days < UNSET_INTEGER:
            cutoff = self.clock() - days * 86400
            found = [f for f in found if f.time >= cutoff]
        dates = _field(flt, "specificDates")
        if isinstance(dates, Iterable) and not isinstance(dates, str):
            wanted = {str(d).strip() for d in dates}
            if wanted:
                zone = _zone(TIME_ZONE)
                found = [
                    f for f in found if f"{datetime.fromtimestamp(f.time, zone):%Y%m%d}" in wanted
                ]
        return found

    # -- requests --------------------------------------------------------------------

    def place(
        self, client_id: int, order_id: int, inst: Instrument, order: Order, *, manual: bool = False
    ) -> list[Event]:
        """Place (or modify, or what-if) an order.

        Args:
            client_id: The placing client.
            order_id: The order id (``placeOrder``'s id).
            inst: The instrument the order's contract designates.
            order: The order as received; the broker keeps a copy.
            manual: The order was typed into TWS by hand.

        Returns:
            The events answering it (see the module docstring).
        """
        self._taker = True
        existing = self.orders.get((client_id, order_id))
        if existing is not None and not order.whatIf:
            if existing.inst.con_id != inst.con_id:
                return [OrderError(client_id, order_id, 103, "Duplicate order id")]
            if existing.status == FILLED:
                return [OrderError(client_id, order_id, 104, "Can't modify a filled order.")]
            if existing.done:
                return [OrderError(client_id, order_id, 103, "Duplicate order id")]
        problem = self._check(client_id, order_id, inst, order)
        if problem is not None:
            return [problem]
        if order.whatIf:
            return [self._what_if(client_id, order_id, inst, order)]
        if existing is not None:
            return self._modify(existing, order)
        return self._new(client_id, order_id, inst, order, manual)

    def place_manual(self, inst: Instrument, order: Order) -> tuple[SimOrder | None, list[Event]]:
        """Place an order as a person typing it into TWS: client 0, order ids -1, -2...

        Returns:
            The order (``None`` when rejected) and the events answering it.
        """
        order_id = self._next_manual
        self._next_manual -= 1
        events = self.place(0, order_id, inst, order, manual=True)
        return self.orders.get((0, order_id)), events

    def cancel(self, client_id: int, order_id: int) -> list[Event]:
        """Cancel an order at a client's request (``cancelOrder``)."""
        self._taker = True
        o = self.orders.get((client_id, order_id))
        if o is None:
            return [
                OrderError(
                    client_id,
                    order_id,
                    10147,
                    f"OrderId {order_id} that needs to be cancelled is not found.",
                )
            ]
        if o.done:
            return [
                OrderError(
                    client_id,
                    order_id,
                    161,
                    "Cancel attempted when order is not in a cancellable state. "
                    f"Order permId = {o.perm_id}",
                )
            ]
        return self._api_cancel(o)

    def global_cancel(self) -> list[Event]:
        """Cancel every open order of every client (``reqGlobalCancel``)."""
        self._taker = True
        events: list[Event] = []
        for o in list(self._open.values()):
            if not o.done:
                events += self._api_cancel(o)
        return events

    def on_quote(self, inst: Instrument) -> list[Event]:
        """Re-match the instrument's open orders after its quote moved."""
        self._taker = False
        try:
            return self._run([o for o in self._open.values() if o.inst.con_id == inst.con_id])
        finally:
            self._taker = True

    def exercise(
        self,
        client_id: int,
        inst: Instrument,
        action: int,
        quantity: int,
        account: str,
        override: int,
        *,
        req_id: int = -1,
    ) -> list[Event]:
        """Exercise (action 1) or let lapse (action 2) long option contracts.

        Args:
            client_id: The requesting client.
            inst: The option.
            action: 1 exercise, 2 lapse.
            quantity: Number of contracts.
            account: The account (empty: the simulated one).
            override: ``exerciseOptions``' override flag (ignored).
            req_id: The request id errors carry.

        Returns:
            ``[Exercised]``, or ``[OrderError]`` with code 321 or 322.
        """
        del override

        def invalid(reason: str) -> list[Event]:
            text = f"Error validating request.-'exerciseOptions' : cause - {reason}"
            return [OrderError(client_id, req_id, 321, text)]

        if inst.sec_type != "OPT":
            return invalid(f"{inst.local_symbol} is not an option")
        if action not in (1, 2):
            return invalid(f"unknown exercise action {action}")
        if account and account != self.account.name:
            return invalid(f"unknown account {account}")
        underlying = self.market.instrument(inst.under_con_id)
        if underlying is None:
            return invalid(f"no underlying for {inst.local_symbol}")
        try:
            self.account.exercise(inst, underlying, Decimal(quantity), lapse=action == 2)
        except ValueError as exc:
            text = f"Error processing request.-'exerciseOptions' : cause - {exc}"
            return [OrderError(client_id, req_id, 322, text)]
        return [Exercised(client_id, req_id, inst, action, quantity)]

    # -- placing ---------------------------------------------------------------------

    def _check(
        self, client_id: int, order_id: int, inst: Instrument, order: Order
    ) -> OrderError | None:
        action = str(order.action).upper()
        if action not in ("BUY", "SELL"):
            return _reject(client_id, order_id, f"Invalid action {order.action!r}")
        if size_in(order.totalQuantity) <= 0:
            return _reject(client_id, order_id, "The order quantity must be positive")
        order_type = normalize_type(str(order.orderType))
        allowed = {t.strip().replace(" ", "") for t in inst.order_types.split(",")}
        if order_type not in ORDER_TYPES or order_type.replace(" ", "") not in allowed:
            return OrderError(
                client_id,
                order_id,
                387,
                "Unsupported order type for this exchange and security type.",
            )
        prices = []
        if order_type in _LIMITS:
            prices.append(("limit", order.lmtPrice))
        if order_type in _STOPS:
            prices.append(("stop", order.auxPrice))
        for name, raw in prices:
            price = _price(raw)
            if price is None or price <= 0:
                return _reject(client_id, order_id, f"The {name} price is missing or not positive")
            if not on_tick(price, inst.min_tick):
                return OrderError(
                    client_id,
                    order_id,
                    110,
                    "The price does not conform to the minimum price variation for this contract.",
                )
        parent_id = int(order.parentId or 0)
        if parent_id and (client_id, parent_id) not in self.orders:
            return OrderError(client_id, order_id, 135, f"Can't find order with id ={parent_id}")
        return None

    def _stamp(self, o: SimOrder, order: Order, qty: Decimal) -> Order:
        """A copy of ``order`` with the ids and quantities TWS fills in."""
        mine = _copy_order(order)
        mine.orderId = o.order_id
        mine.clientId = o.client_id
        mine.permId = o.perm_id
        mine.action = str(order.action).upper()
        mine.orderType = normalize_type(str(order.orderType))
        mine.totalQuantity = size_out(qty)
        mine.filledQuantity = size_out(o.filled)
        mine.parentId = o.parent_id
        if not mine.account:
            mine.account = self.account.name
        parent = self.orders.get((o.client_id, o.parent_id)) if o.parent_id else None
        if parent is not None:
            mine.parentPermId = parent.perm_id
        return mine

    def _new(
        self, client_id: int, order_id: int, inst: Instrument, order: Order, manual: bool
    ) -> list[Event]:
        qty = size_in(order.totalQuantity)
        o = SimOrder(
            client_id=client_id,
            order_id=order_id,
            perm_id=self._next_perm,
            inst=inst,
            contract=contract_of(inst),
            order=order,
            remaining=qty,
            parent_id=int(order.parentId or 0),
            manual=manual,
            held=not order.transmit,
        )
        self._next_perm += 1
        o.order = self._stamp(o, order, qty)
        o.triggered = o.order_type not in _STOPS
        self.orders[o.key] = o
        self._open[o.key] = o
        margin_problem = None if o.parent_id else self._margin_problem(o)
        if margin_problem is not None:
            # TWS sends the rejection first, then the order's Inactive status.
            return [_reject(client_id, order_id, margin_problem), *self._finish(o, INACTIVE)]
        o.status = self._status(o)
        events: list[Event] = [OrderChanged(o.snapshot(), True)]
        parent = self._parent(o)
        if parent is not None and parent.done and parent.status != FILLED:
            return events + self._cancel(o, CANCELLED)
        queue = [o]
        if order.transmit:
            transmitted, more = self._transmit(o)
            events += more
            queue = transmitted + queue
        return events + self._run(queue)

    def _modify(self, o: SimOrder, order: Order) -> list[Event]:
        qty = size_in(order.totalQuantity)
        if str(order.action).upper() != o.action:
            return [
                OrderError(
                    o.client_id,
                    o.order_id,
                    105,
                    "Order being modified does not match original order.",
                )
            ]
        if qty < o.filled:
            return [
                _reject(
                    o.client_id,
                    o.order_id,
                    f"The order quantity {qty} is below the filled quantity {o.filled}",
                )
            ]
        old_type, old_stop = o.order_type, _price(o.order.auxPrice)
        o.order = self._stamp(o, order, qty)
        o.remaining = qty - o.filled
        if o.order_type not in _STOPS:
            o.triggered = True
        elif o.order_type != old_type or _price(o.order.auxPrice) != old_stop:
            o.triggered = False
        o.tried = False
        if not o.remaining:
            children: deque[SimOrder] = deque()
            finished = self._finish(o, FILLED) + self._after_parent_filled(o, children)
            return finished + self._run(children)
        was_held = o.held
        if order.transmit:
            o.held = False
        o.status = self._status(o)
        events: list[Event] = [OrderChanged(o.snapshot(), True)]
        queue = [o]
        if was_held and order.transmit:
            transmitted, more = self._transmit(o)
            events += more
            queue = transmitted + queue
        return events + self._run(queue)

    def _margin_problem(self, o: SimOrder) -> str | None:
        price = self._estimate(o.inst, o.buy, o.order)
        signed = o.remaining if o.buy else -o.remaining
        cost = commission(o.inst, o.remaining, o.remaining * price * multiplier_of(o.inst))
        after = self.account.totals(self.market, [(o.inst, signed, price, cost)])
        if after.available_funds >= 0:
            return None
        if after.init_margin <= self.account.totals(self.market).init_margin:
            return None  # the order does not add to the margin
        return (
            "YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION YOUR EQUITY "
            f"WITH LOAN VALUE [{money(after.equity_with_loan)} {self.account.currency}] MUST "
            f"EXCEED THE INITIAL MARGIN [{money(after.init_margin)} {self.account.currency}]"
        )

    def _estimate(self, inst: Instrument, buy: bool, order: Order) -> Decimal:
        order_type = normalize_type(str(order.orderType))
        if order_type in _LIMITS:
            return dec(_price(order.lmtPrice) or 0.0)
        if order_type in _STOPS:
            return dec(_price(order.auxPrice) or 0.0)
        q = self.market.quote(inst)
        return dec(q.ask if buy else q.bid)

    def _what_if(self, client_id: int, order_id: int, inst: Instrument, order: Order) -> WhatIf:
        qty = size_in(order.totalQuantity)
        buy = str(order.action).upper() == "BUY"
        price = self._estimate(inst, buy, order)
        fee = commission(inst, qty, qty * price * multiplier_of(inst))
        before = self.account.totals(self.market)
        after = self.account.totals(self.market, [(inst, qty if buy else -qty, price, fee)])
        state = OrderState()
        state.status = PRESUBMITTED
        for name, b, a in (
            ("initMargin", before.init_margin, after.init_margin),
            ("maintMargin", before.maint_margin, after.maint_margin),
            ("equityWithLoan", before.equity_with_loan, after.equity_with_loan),
        ):
            setattr(state, f"{name}Before", money(b))
            setattr(state, f"{name}Change", money(a - b))
            setattr(state, f"{name}After", money(a))
        for name in _STATE_COMMISSION:
            setattr(state, name, float(fee))
        setattr(state, _STATE_CURRENCY, inst.currency)
        if hasattr(state, "marginCurrency"):
            state.marginCurrency = self.account.currency
        mine = _copy_order(order)
        mine.orderId = order_id
        mine.clientId = client_id
        mine.totalQuantity = size_out(qty)
        if not mine.account:
            mine.account = self.account.name
        return WhatIf(client_id, order_id, contract_of(inst), mine, state)

    # -- order state -----------------------------------------------------------------

    def _parent(self, o: SimOrder) -> SimOrder | None:
        return self.orders.get((o.client_id, o.parent_id)) if o.parent_id else None

    def _children(self, o: SimOrder) -> list[SimOrder]:
        return [
            c
            for c in self._open.values()
            if c.client_id == o.client_id and c.parent_id == o.order_id and c is not o
        ]

    def _active(self, o: SimOrder) -> bool:
        """Working: not finished, transmitted, and its parent (if any) filled."""
        if o.done or o.held or o.remaining <= 0:
            return False
        parent = self._parent(o)
        return parent is None or parent.status == FILLED

    def _status(self, o: SimOrder) -> str:
        return SUBMITTED if self._active(o) and o.triggered else PRESUBMITTED

    def _terminal(self, o: SimOrder) -> list[Event]:
        snap = o.snapshot()
        events: list[Event] = [OrderChanged(snap, True)]
        events += [OrderChanged(snap, False) for _ in range(self.status_repeats)]
        return events

    def _finish(self, o: SimOrder, status: str) -> list[Event]:
        o.status = status
        o.completed_time = exec_time(self.clock())
        self._open.pop(o.key, None)
        self._completed.append(o)
        return self._terminal(o)

    def _cancel(self, o: SimOrder, status: str) -> list[Event]:
        """Cancel an open order (and its open children) with ``status``."""
        if o.done:
            return []
        events = self._finish(o, status)
        events.append(OrderError(o.client_id, o.order_id, 202, CANCELED_TEXT))
        for child in self._children(o):
            events += self._cancel(child, CANCELLED)
        return events

    def _api_cancel(self, o: SimOrder) -> list[Event]:
        return self._cancel(o, API_CANCELLED if o.status == PRESUBMITTED else CANCELLED)

    def _transmit(self, o: SimOrder) -> tuple[list[SimOrder], list[Event]]:
        """Transmit the held orders linked to ``o``; return them and their events."""
        linked: list[SimOrder] = []
        parent = self._parent(o)
        if parent is not None:
            linked += [parent, *self._children(parent)]
        group = str(o.order.ocaGroup or "")
        if group:
            linked += [
                x
                for x in self._open.values()
                if x.client_id == o.client_id and str(x.order.ocaGroup or "") == group
            ]
        transmitted: list[SimOrder] = []
        events: list[Event] = []
        for x in linked:
            if x is o or not x.held or x.done or x in transmitted:
                continue
            x.held = False
            x.order.transmit = True
            transmitted.append(x)
            status = self._status(x)
            if status != x.status:
                x.status = status
                events.append(OrderChanged(x.snapshot(), True))
        return transmitted, events

    # -- matching --------------------------------------------------------------------

    def _run(self, orders: Iterable[SimOrder]) -> list[Event]:
        events: list[Event] = []
        pending = deque(orders)
        while pending:
            events += self._match(pending.popleft(), pending)
        return events

    def _match(self, o: SimOrder, pending: deque[SimOrder]) -> list[Event]:
        if not self._active(o):
            return []
        events: list[Event] = []
        if not o.triggered:
            mark = self.market.mark(o.inst)
            stop = _price(o.order.auxPrice) or 0.0
            if not (mark >= stop if o.buy else mark <= stop):
                return events
            o.triggered = True
            o.status = SUBMITTED
            events.append(OrderChanged(o.snapshot(), False))
        limit = _price(o.order.lmtPrice) if o.order_type in _LIMITS else None
        plan = self._plan(o, limit)
        first = not o.tried
        o.tried = True
        if first and o.tif == "FOK" and sum((q for q, _ in plan), ZERO) < o.remaining:
            return events + self._cancel(o, CANCELLED)
        for qty, price in plan:
            events += self._fill(o, qty, price, pending)
        if first and o.tif == "IOC" and not o.done:
            events += self._cancel(o, CANCELLED)
        return events

    def _plan(self, o: SimOrder, limit: float | None) -> list[tuple[Decimal, float]]:
        """The executions the order can have now: ``(quantity, price)`` per ladder level."""
        inst = o.inst
        q: Quote = self.market.quote(inst)
        version = self.market.version(inst)
        used_version, consumed = self._used.get((inst.con_id, o.buy), (version, ZERO))
        if used_version != version:
            consumed = ZERO
        size = Decimal(q.ask_size if o.buy else q.bid_size)
        touch = q.ask if o.buy else q.bid
        tick = inst.min_tick
        plan: list[tuple[Decimal, float]] = []
        left = o.remaining
        if size <= 0:
            return plan
        while left > 0:
            level = int(consumed // size)
            offset = level * tick
            price = round_to_tick(touch + offset if o.buy else touch - offset, tick)
            if price <= 0:
                break
            if limit is not None and (
                price - limit > tick * 1e-6 if o.buy else limit - price > tick * 1e-6
            ):
                break
            take = min(left, (level + 1) * size - consumed)
            plan.append((take, price))
            consumed += take
            left -= take
        return plan

    def _fill(
        self, o: SimOrder, qty: Decimal, price: float, pending: deque[SimOrder]
    ) -> list[Event]:
        inst = o.inst
        version = self.market.version(inst)
        used_version, consumed = self._used.get((inst.con_id, o.buy), (version, ZERO))
        self._used[(inst.con_id, o.buy)] = (
            version,
            (consumed if used_version == version else ZERO) + qty,
        )
        mult = multiplier_of(inst)
        value = qty * dec(price) * mult
        fee = commission(inst, o.filled + qty, o.fill_value + value) - commission(
            inst, o.filled, o.fill_value
        )
        realized = self.account.apply_fill(inst, o.action, qty, price, fee)
        now = self.clock()
        o.filled += qty
        o.remaining -= qty
        o.fill_value += value
        o.avg_fill_price = float(o.fill_value / (o.filled * mult))
        o.last_fill_price = price
        o.order.filledQuantity = size_out(o.filled)

        ex = Execution()
        ex.execId = f"{self._exec_prefix:08x}.{self._next_exec:08x}.01.01"
        self._next_exec += 1
        ex.time = exec_time(now)
        ex.acctNumber = str(o.order.account or self.account.name)
        ex.exchange = venue(inst)
        ex.side = "BOT" if o.buy else "SLD"
        ex.shares = size_out(qty)
        ex.price = price
        ex.permId = o.perm_id
        ex.clientId = o.client_id
        ex.orderId = o.order_id
        ex.liquidation = 0
        ex.cumQty = size_out(o.filled)
        ex.avgPrice = o.avg_fill_price
        ex.orderRef = o.order.orderRef
        ex.modelCode = o.order.modelCode
        ex.lastLiquidity = 2 if self._taker else 1
        report = CommissionReport()
        report.execId = ex.execId
        setattr(report, _REPORT_COMMISSION, float(fee))
        report.currency = inst.currency
        report.realizedPNL = UNSET_DOUBLE if realized is None else float(realized)
        report.yield_ = UNSET_DOUBLE
        report.yieldRedemptionDate = 0
        contract = contract_of(inst)
        contract.exchange = ex.exchange
        fill = SimFill(inst, contract, ex, report, now)
        o.fills.append(fill)
        self.fills.append(fill)

        events: list[Event] = []
        if o.remaining > 0:
            o.status = SUBMITTED
            snap = o.snapshot()
            events += [Filled(snap, fill), OrderChanged(snap, False)]
        else:
            events.append(Filled(o.snapshot(), fill))
            events += self._finish(o, FILLED)
        parent = self._parent(o)
        if parent is not None:  # bracket: a child's fill cancels its siblings
            for sibling in self._children(parent):
                if sibling is not o:
                    events += self._cancel(sibling, CANCELLED)
        events += self._oca(o, qty)
        if o.status == FILLED:
            events += self._after_parent_filled(o, pending)
        return events

    def _oca(self, o: SimOrder, qty: Decimal) -> list[Event]:
        group = str(o.order.ocaGroup or "")
        if not group:
            return []
        events: list[Event] = []
        for other in list(self._open.values()):
            if other is o or other.client_id != o.client_id or other.done:
                continue
            if str(other.order.ocaGroup or "") != group:
                continue
            if int(other.order.ocaType or 0) in (2, 3):
                other.remaining -= qty
                if other.remaining <= 0:
                    other.remaining = ZERO
                    events += self._cancel(other, CANCELLED)
                else:
                    other.order.totalQuantity = size_out(other.quantity)
                    events.append(OrderChanged(other.snapshot(), True))
            else:
                events += self._cancel(other, CANCELLED)
        return events

    def _after_parent_filled(self, o: SimOrder, pending: deque[SimOrder]) -> list[Event]:
        """Activate the children of a filled order and queue them for matching."""
        events: list[Event] = []
        for child in self._children(o):
            status = self._status(child)
            if status != child.status:
                child.status = status
                events.append(OrderChanged(child.snapshot(), True))
            pending.append(child)
        return events
