"""Orders: the order router, :class:`Trade` and :class:`Fill`.

Every order callback of the connection reaches one :class:`OrderRouter`, which
the client installs when it connects: ``openOrder``, ``orderStatus``,
``orderBound`` and ``openOrderEnd`` (channel ``"orders"``),
``commissionAndFeesReport`` (channel ``"executions"``), ``execDetails`` of a
live execution (request id ``-1``), and TWS errors whose id is one of the
order ids this client used. The reader thread only queues them; the router
handles them on the event loop, in TWS's order, one batch per received chunk,
so every piece of order state changes on the event loop only. It hands each
event

* to the :class:`Trade` of the order it concerns: an order is ours when the
  event's client id is this connection's and its order id one we placed
  (``openOrder``'s ``order.clientId``, ``orderStatus``'s ``clientId``,
  ``execution.clientId``), or when its ``permId`` is that of one of our trades;
  a commission report carries only an execution id, which leads to the
  execution and so to the order;
* to every open :meth:`~ib_anyio.Client.order_events` stream (every order
  event of the connection, whoever placed the order);
* to the open-orders snapshot being collected, if any.

TWS repeats identical ``orderStatus`` messages; an exact repeat (every field
equal to the previous status of the same order) is dropped before any of
this. Exact repeats of an execution or a commission report are dropped too.
"""

from __future__ import annotations

import collections
import copy
import inspect
import logging
import math
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeAlias, final

import anyio
import anyio.lowlevel
import attrs
from anyio.abc import ObjectReceiveStream
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.execution import ExecutionFilter
from ibapi.order import Order

from ._bridge import Bridge, CollectRoute, Route, StreamRoute
from ._errors import ConnectionLost, RequestTimeout, TWSError
from ._generated._items import (
    CommissionAndFeesReportItem,
    CompletedOrder,
    ExecDetails,
    OpenOrder,
    OpenOrderEnd,
    OrderBound,
    OrderStatusItem,
)
from ._pacing import MessagePacer
from ._stream import ItemStream

if TYPE_CHECKING:
    from ibapi.commission_and_fees_report import CommissionAndFeesReport
    from ibapi.execution import Execution
    from ibapi.order_state import OrderState

__all__ = [
    "DONE_STATUSES",
    "ORDER_KEYS",
    "Fill",
    "OrderEvent",
    "OrderRouter",
    "Trade",
    "TradeLogEntry",
]

logger = logging.getLogger("ib_anyio")

#: An event of an order, as a :class:`Trade` and ``order_events()`` deliver it.
OrderEvent: TypeAlias = (
    OpenOrder | OrderStatusItem | OrderBound | ExecDetails | CommissionAndFeesReportItem
)

#: The statuses after which TWS does no more with an order.
DONE_STATUSES: Final = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})
_CANCELLED: Final = frozenset({"Cancelled", "ApiCancelled"})

#: The route keys the router owns: channels, and the request id of live executions.
ORDER_KEYS: Final[tuple[int | str, ...]] = ("orders", "executions", -1)

_UNSET_LIMIT = Decimal("1e30")  # ibapi's UNSET_DECIMAL is 2**127 - 1


def _decimal(value: object) -> Decimal:
    """A quantity as ``Decimal`` (ibapi 9.81 uses floats); unset or odd values give 0."""
    if isinstance(value, Decimal):
        result = value
    else:
        try:
            result = Decimal(str(value))
        except (InvalidOperation, ValueError):
            return Decimal(0)
    if not result.is_finite() or abs(result) >= _UNSET_LIMIT:
        return Decimal(0)
    return result


def _as_decimal(value: object) -> Decimal:
    """A size as ``Decimal``, whatever type the installed ibapi's decoder gave it."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _commission_of(report: Any) -> float:
    """The amount of a commission report (``commission`` on ibapi 9.81)."""
    value: Any = getattr(report, "commissionAndFees", None)
    if value is None:
        value = getattr(report, "commission", 0.0)
    amount = float(value)
    return amount if math.isfinite(amount) and abs(amount) < 1e300 else 0.0


def _now() -> datetime:
    return datetime.now(timezone.utc)


@final
@attrs.define(slots=True, eq=False)
class Fill:
    """One execution of an order, with its commission once TWS has reported it.

    Built by ib_anyio; do not instantiate it yourself.

    Attributes:
        contract: The contract, as ``execDetails`` reports it.
        execution: ibapi's ``Execution`` (``execId``, ``shares``, ``price``,
            ``side``, ``time`` as TWS formats it, ...).
        commission_report: ibapi's ``CommissionAndFeesReport``
            (``CommissionReport`` on ibapi 9.81), or ``None`` until it arrives.
        time: When the execution reached this client (UTC).
    """

    contract: Contract
    execution: Execution
    commission_report: CommissionAndFeesReport | None = None
    time: datetime = attrs.field(factory=_now)


@final
@attrs.frozen(slots=True)
class TradeLogEntry:
    """One line of :attr:`Trade.log`: a status change, or a message TWS sent about the order.

    Attributes:
        time: When it reached this client (UTC).
        status: The order's status from then on.
        message: TWS's text for an error or notice, else empty.
        error_code: TWS's code for an error or notice, else 0.
    """

    time: datetime
    status: str
    message: str = ""
    error_code: int = 0


class _Pending:
    """A ``cancel()`` or ``modify()`` waiting for TWS's answer."""

    __slots__ = ("error", "finished")

    def __init__(self) -> None:
        self.finished = False
        self.error: BaseException | None = None

    def finish(self, error: BaseException | None = None) -> None:
        if not self.finished:
            self.finished = True
            self.error = error


@final
class Trade(ObjectReceiveStream[OrderEvent]):
    """One order: its live state and, as an anyio receive stream, its events.

    ``async with client.place_order(contract, order) as trade:`` places the
    order and gives its ``Trade``. Its state (:attr:`status`, :attr:`filled`,
    :attr:`fills` ...) follows TWS's messages as they arrive, whether or not
    anyone iterates, also after the block has been left (leaving the block
    never cancels the order: use :meth:`cancel`). Iterated, it yields the
    order's events in TWS's order: :class:`~ib_anyio.items.OpenOrder`,
    :class:`~ib_anyio.items.OrderStatusItem`,
    :class:`~ib_anyio.items.ExecDetails` and
    :class:`~ib_anyio.items.CommissionAndFeesReportItem` (and
    :class:`~ib_anyio.items.OrderBound`); an exact repeat of the previous
    ``orderStatus`` is not delivered. Iteration ends once the order is done
    and every fill's commission has been reported; it raises
    :class:`~ib_anyio.TWSError` if TWS rejected the order, and
    :class:`~ib_anyio.ConnectionLost` if the connection dropped first, each
    after the events received before. The buffer is unbounded: an order has
    few events, and none is ever dropped.

    Built by the client; do not instantiate it yourself.
    """

    def __init__(
        self, router: OrderRouter, order_id: int, contract: Contract, order: Order
    ) -> None:
        self._router = router
        self._order_id = order_id
        self._client_id = router.client_id
        self._perm_id = 0
        self._placed_contract = contract
        self._contract = contract
        self._order = order
        self._order_state: OrderState | None = None
        self._status = "PendingSubmit"
        self._filled = Decimal(0)
        self._remaining = _decimal(order.totalQuantity)
        self._avg_fill_price = 0.0
        self._last_fill_price = 0.0
        self._fills: list[Fill] = []
        self._commission = 0.0
        self._log: list[TradeLogEntry] = [TradeLogEntry(_now(), self._status)]
        self._error: TWSError | None = None
        self._lost: BaseException | None = None
        self._acknowledged = False
        self._rejected = False
        self._buf: collections.deque[OrderEvent] | None = collections.deque()
        self._changes: list[anyio.Event] = []
        self._cancels: list[_Pending] = []
        self._modifies: list[_Pending] = []

    def __repr__(self) -> str:
        return (
            f"<Trade order_id={self._order_id} {self._order.action} "
            f"{self._order.orderType} {self._contract.symbol} status={self._status} "
            f"filled={self._filled} remaining={self._remaining}>"
        )

    # -- state ----------------------------------------------------------

    @property
    def order_id(self) -> int:
        """The order's id (this client's)."""
        return self._order_id

    @property
    def client_id(self) -> int:
        """The id of the client that placed it (this connection's)."""
        return self._client_id

    @property
    def perm_id(self) -> int:
        """TWS's permanent id of the order, 0 until TWS has sent it."""
        return self._perm_id

    @property
    def contract(self) -> Contract:
        """The contract: as TWS describes it once it has, as placed before that."""
        return self._contract

    @property
    def order(self) -> Order:
        """The order: as TWS last described it (``openOrder``), as placed before that."""
        return self._order

    @property
    def order_state(self) -> OrderState | None:
        """The ``OrderState`` of the latest ``openOrder`` (margin, commission), if any."""
        return self._order_state

    @property
    def status(self) -> str:
        """TWS's status string: ``PendingSubmit`` until TWS's first ``orderStatus``, then
        ``PreSubmitted``, ``Submitted``, ``Filled``, ``Cancelled``, ``ApiCancelled``,
        ``Inactive``, ..."""
        return self._status

    @property
    def filled(self) -> Decimal:
        """The quantity filled so far."""
        return self._filled

    @property
    def remaining(self) -> Decimal:
        """The quantity still to fill."""
        return self._remaining

    @property
    def avg_fill_price(self) -> float:
        """The average price of the fills so far (0 before any)."""
        return self._avg_fill_price

    @property
    def last_fill_price(self) -> float:
        """The price of the latest fill (0 before any)."""
        return self._last_fill_price

    @property
    def fills(self) -> tuple[Fill, ...]:
        """The executions so far, oldest first, each with its commission once reported."""
        return tuple(self._fills)

    @property
    def commission(self) -> float:
        """The sum of the commissions reported so far."""
        return self._commission

    @property
    def log(self) -> tuple[TradeLogEntry, ...]:
        """The status changes and TWS's messages about the order, oldest first."""
        return tuple(self._log)

    @property
    def error(self) -> TWSError | None:
        """The TWS error that rejected or ended the order, if any."""
        return self._error

    @property
    def is_done(self) -> bool:
        """Whether TWS does no more with the order: filled, cancelled, inactive or rejected."""
        return self._status in DONE_STATUSES or self._rejected

    # -- actions --------------------------------------------------------

    async def done(self) -> None:
        """Wait until the order is done.

        Returns when its status is ``Filled``, ``Cancelled``, ``ApiCancelled``
        or ``Inactive``.

        Raises:
            TWSError: TWS rejected the order (e.g. 201 "Order rejected", with
                ``advanced_order_reject_json``), or sent an error for it
                before it ended without being filled.
            ConnectionLost: The connection dropped before the order was done.
        """
        await self._wait(lambda: self.is_done or self._lost is not None)
        if self._error is not None and self._status != "Filled":
            raise self._error
        if not self.is_done and self._lost is not None:
            raise self._lost

    async def cancel(self) -> None:
        """Cancel the order and wait until TWS has cancelled it.

        Sends ``cancelOrder`` (also when the order looks done: TWS answers
        then). Returns once TWS reports the order ``Cancelled`` or
        ``ApiCancelled``.

        Raises:
            TWSError: TWS refused, e.g. 10147 (no such order) or 161 (not in a
                cancellable state: already filled or cancelled).
            RequestTimeout: TWS did not answer within the connection's
                ``request_timeout`` (the order's state is unknown: watch it).
            ConnectionLost: The connection dropped first (also under a reconnect
                policy: the order's state is then reconciled on reconnecting).
        """
        pending = _Pending()
        self._cancels.append(pending)
        try:
            await self._router.permit()
            self._router.send_cancel(self._order_id)
            await self._answered("cancel", pending)
        finally:
            if pending in self._cancels:
                self._cancels.remove(pending)
        if pending.error is not None:
            raise pending.error
        if not pending.finished and self._lost is not None:
            raise self._lost

    async def modify(self, order: Order) -> None:
        """Change the order: place ``order`` under this order's id, and wait for TWS's answer.

        ``order.orderId`` is set to :attr:`order_id`; the contract is the one
        placed. Returns once TWS has acknowledged the change (``openOrder``).

        Args:
            order: The new order (price, quantity, ...).

        Raises:
            TypeError: ``order`` is not an ``ibapi.order.Order``.
            TWSError: TWS refused the change; the order goes on as it was.
            RequestTimeout: TWS did not answer within the connection's
                ``request_timeout`` (whether the change took is unknown: watch
                the order).
            ConnectionLost: The connection dropped first.
        """
        if not isinstance(order, Order):
            raise TypeError(f"modify(): order must be Order, not {type(order).__name__}")
        order.orderId = self._order_id
        await self._router.permit()
        pending = self._expect_ack()
        try:
            self._router.send_place(self._order_id, self._placed_contract, order)
        except BaseException:
            self._modifies.remove(pending)
            raise
        await self._acknowledged_by_tws(pending)

    def _expect_ack(self) -> _Pending:
        """Event loop: a re-placement is about to be sent; its answer finishes the result."""
        pending = _Pending()
        self._modifies.append(pending)
        return pending

    async def _acknowledged_by_tws(self, pending: _Pending) -> None:
        """Wait for TWS's answer to a re-placement: ``openOrder``, or an error (raised)."""
        try:
            await self._answered("modify", pending)
        finally:
            if pending in self._modifies:
                self._modifies.remove(pending)
        if pending.error is not None:
            raise pending.error
        if not pending.finished and self._lost is not None:
            raise self._lost

    async def _answered(self, name: str, pending: _Pending) -> None:
        """Wait for TWS's answer to ``pending``, within the connection's ``request_timeout``."""
        timeout = self._router.request_timeout()
        with anyio.move_on_after(timeout):
            await self._wait(lambda: pending.finished or self._lost is not None)
            return
        assert timeout is not None
        raise RequestTimeout(name, self._order_id, timeout)

    async def _wait(self, condition: Callable[[], bool]) -> None:
        if condition():
            await anyio.lowlevel.checkpoint()
            return
        while not condition():
            changed = anyio.Event()
            self._changes.append(changed)
            await changed.wait()

    # -- the stream -----------------------------------------------------

    @property
    def buffered(self) -> int:
        """How many events are waiting to be received."""
        return len(self._buf) if self._buf is not None else 0

    def _stream_ended(self) -> bool:
        if self._rejected or self._lost is not None:
            return True
        return self._status in DONE_STATUSES and all(
            f.commission_report is not None for f in self._fills
        )

    def receive_nowait(self) -> OrderEvent:
        """Return the next buffered event, or raise :class:`anyio.WouldBlock`.

        Raises:
            anyio.WouldBlock: No event is buffered and the stream goes on.
            anyio.EndOfStream: The order is done and every event was received.
            anyio.ClosedResourceError: The stream was closed.
            TWSError: TWS rejected the order.
            ConnectionLost: The connection dropped.
        """
        buf = self._buf
        if buf is None:
            raise anyio.ClosedResourceError
        if buf:
            return buf.popleft()
        if self._rejected and self._error is not None:
            raise self._error
        if self._lost is not None and not self.is_done:
            raise self._lost
        if self._stream_ended():
            raise anyio.EndOfStream
        raise anyio.WouldBlock

    async def receive(self) -> OrderEvent:
        """Wait for the next event of the order (see the class docstring for how it ends).

        Like :class:`~ib_anyio.ItemStream`, it does not yield to the event loop
        for an event that is already buffered (an order has a handful); it
        raises a pending cancellation in any case.
        """
        await anyio.lowlevel.checkpoint_if_cancelled()
        while not self._receivable():
            changed = anyio.Event()
            self._changes.append(changed)
            await changed.wait()
        return self.receive_nowait()

    def _receivable(self) -> bool:
        """Whether ``receive_nowait`` would return or raise something else than WouldBlock."""
        return self._buf is None or bool(self._buf) or self._stream_ended()

    async def aclose(self) -> None:
        """Stop receiving events; the state goes on updating and the order is not cancelled."""
        self._buf = None
        self._changed()
        await anyio.lowlevel.checkpoint()

    # -- updates from the router (event loop) ---------------------------

    def _changed(self) -> None:
        changes, self._changes = self._changes, []
        for event in changes:
            event.set()

    def _deliver(self, event: OrderEvent) -> None:
        if self._buf is not None:
            self._buf.append(event)
        self._changed()

    def _reopen(self) -> None:
        if self._buf is None:
            self._buf = collections.deque()

    def _on_open_order(self, item: OpenOrder) -> None:
        self._acknowledged = True
        self._contract = item.contract
        self._order = item.order
        self._order_state = item.order_state
        if item.order.permId:
            self._perm_id = item.order.permId
        for pending in self._modifies:
            pending.finish()
        self._deliver(item)

    def _on_status(self, item: OrderStatusItem) -> None:
        self._acknowledged = True
        if item.perm_id:
            self._perm_id = item.perm_id
        previous = self._status
        self._status = item.status
        self._filled = item.filled
        self._remaining = item.remaining
        self._avg_fill_price = item.avg_fill_price
        self._last_fill_price = item.last_fill_price
        if item.status != previous:
            self._log.append(TradeLogEntry(_now(), item.status))
        if item.status in _CANCELLED:
            for pending in self._cancels:
                pending.finish()
        self._deliver(item)

    def _on_exec(self, item: ExecDetails, report: Any) -> Fill:
        fill = Fill(item.contract, item.execution, report)
        self._fills.append(fill)
        if report is not None:
            self._commission += _commission_of(report)
        self._deliver(item)
        return fill

    def _on_commission(self, fill: Fill | None, item: CommissionAndFeesReportItem) -> None:
        if fill is not None:
            if fill.commission_report is not None:
                self._commission -= _commission_of(fill.commission_report)
            fill.commission_report = item.commission_and_fees_report
            self._commission += _commission_of(item.commission_and_fees_report)
        self._deliver(item)

    def _on_bound(self, item: OrderBound) -> None:
        self._deliver(item)

    def _on_error(self, error: TWSError, informational: bool) -> None:
        self._log.append(TradeLogEntry(_now(), self._status, error.message, error.code))
        if not informational:
            pending = [*self._cancels, *self._modifies]
            for waiter in pending:
                waiter.finish(error)
            if not self._acknowledged:
                self._rejected = True  # TWS never took the order
                if self._error is None:
                    self._error = error
            elif not pending and self._error is None:
                self._error = error
        self._changed()

    def _on_lost(self, exc: BaseException) -> None:
        if self._lost is None:
            self._lost = exc
            self._changed()

    def _on_interrupted(self, exc: BaseException) -> None:
        """The connection dropped, to be re-established: what waits for an answer ends."""
        for waiter in [*self._cancels, *self._modifies]:
            waiter.finish(exc)
        self._changed()


@attrs.frozen(slots=True)
class _OrderMessage:
    """A TWS error or notice for one of our order ids, queued with the order events."""

    error: TWSError
    informational: bool


class _WhatIf:
    __slots__ = ("error", "event", "state")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.state: OrderState | None = None
        self.error: BaseException | None = None


def _cancel_order_call() -> Callable[[EClient, int], None]:
    """``cancelOrder`` as the installed ibapi takes it."""
    params = list(inspect.signature(EClient.cancelOrder).parameters)[2:]
    if not params:  # ibapi 9.81: cancelOrder(orderId)

        def call(eclient: EClient, order_id: int) -> None:
            cancel: Any = eclient.cancelOrder  # typed after the installed release
            cancel(order_id)

    elif params[0] == "orderCancel":
        from ibapi.order_cancel import OrderCancel

        def call(eclient: EClient, order_id: int) -> None:
            eclient.cancelOrder(order_id, OrderCancel())

    else:  # cancelOrder(orderId, manualCancelOrderTime)

        def call(eclient: EClient, order_id: int) -> None:
            cancel: Any = eclient.cancelOrder  # typed after the installed release
            cancel(order_id, "")

    return call


_CANCEL_ORDER = _cancel_order_call()


class OrderRouter(Route):
    """The one route for every order callback of a connection (see the module docstring).

    ``push``, ``end`` and ``push_error`` run on the reader thread and only
    queue; the queue is handled on the event loop (``_wake``), once per
    received chunk.
    """

    def __init__(
        self,
        bridge: Bridge,
        *,
        next_order_id: Callable[[], int],
        buffer_size: int,
        pacer: MessagePacer | None = None,
        request_timeout: Callable[[], float | None] = lambda: None,
    ) -> None:
        super().__init__(bridge, "orders")
        #: The connection's ``request_timeout`` now (it may be changed at any time).
        self.request_timeout = request_timeout
        self._pacer = pacer if pacer is not None else MessagePacer(None)
        self._next_order_id = next_order_id
        self._buffer_size = buffer_size
        self._queue: collections.deque[object] = collections.deque()
        self._scheduled = False
        #: The order ids this client used; TWS errors with one of these ids come here.
        self.order_ids: set[int] = set()
        self._trades: dict[int, Trade] = {}
        self._by_perm: dict[int, Trade] = {}
        self._fills: dict[str, tuple[Trade | None, Fill | None]] = {}
        self._reports: dict[str, tuple[Any, ...]] = {}
        self._early_reports: dict[str, CommissionAndFeesReportItem] = {}
        self._statuses: dict[Hashable, tuple[Any, ...]] = {}
        self._streams: tuple[StreamRoute, ...] = ()
        self._snapshot: CollectRoute | None = None
        self._what_ifs: dict[int, _WhatIf] = {}
        self._what_if_ids: set[int] = set()

    @property
    def client_id(self) -> int:
        client_id: int = self._bridge.eclient.clientId
        return client_id

    def trades(self) -> list[Trade]:
        return list(self._trades.values())

    # -- reader thread --------------------------------------------------

    def push(self, item: object) -> None:
        self._queue.append(item)
        if not self._scheduled:
            self._scheduled = True
            self._bridge._schedule_wake(self)

    end = push

    def push_error(self, error: TWSError, informational: bool) -> None:
        """Queue a TWS error for one of our order ids (any thread)."""
        self.push(_OrderMessage(error, informational))

    # -- event loop -----------------------------------------------------

    def _wake(self) -> None:
        self._scheduled = False
        queue = self._queue
        while queue:
            item = queue.popleft()
            try:
                self._dispatch(item)
            except Exception:  # a bug of ours must not stop the other events
                logger.exception("ib_anyio: failed to route an order event %r", item)

    def fail(self, exc: BaseException) -> None:
        if self.finished:
            return
        self._wake()  # what arrived before the end still counts
        self.finished = True
        self.error = exc
        for trade in self._trades.values():
            trade._on_lost(exc)
        for stream in self._streams:
            stream.fail(exc)
        self._end_requests(exc)

    def interrupt(self, exc: ConnectionLost) -> None:
        """Event loop: the connection dropped, to be re-established (a reconnect
        policy): the snapshot, what-ifs and cancel/modify answers in flight end
        with ``exc``; Trades and ``order_events()`` carry on."""
        self._wake()
        self._end_requests(exc)
        for trade in self._trades.values():
            trade._on_interrupted(exc)

    def _end_requests(self, exc: BaseException) -> None:
        """End the open-orders snapshot and the what-ifs waiting for an answer."""
        if self._snapshot is not None:
            self._snapshot.fail(exc)
        for what_if in self._what_ifs.values():
            if what_if.error is None and what_if.state is None:
                what_if.error = exc
                what_if.event.set()

    async def reconcile(self, client: Any) -> None:
        """After a reconnect: learn what the orders did during the outage.

        Asks for the open orders (their ``openOrder`` and ``orderStatus`` update
        the Trades as usual) and this client's executions, which are handled as
        live ones: each reaches its Trade and ``order_events()`` once, by
        ``execId``. A Trade that was working and is neither open nor finished
        by then ended during the outage: its final status comes from TWS's
        completed orders. What cannot be learnt is logged, never guessed.
        """
        working = [t for t in self._trades.values() if not t.is_done]
        try:
            open_now = await client.req_open_orders()
            flt = ExecutionFilter()
            flt.clientId = self.client_id
            executions = await client.req_executions(flt)
        except ConnectionLost:
            logger.info("ib_anyio: dropped again while reconciling orders; again on reconnecting")
            raise
        except (RequestTimeout, TWSError) as exc:
            logger.warning("ib_anyio: could not reconcile orders after reconnecting: %s", exc)
            return
        for item in executions:
            if isinstance(item, ExecDetails):
                self._dispatch(item)
        still_open = {(i.order.clientId, i.order_id) for i in open_now if isinstance(i, OpenOrder)}
        ended = [
            t for t in working if not t.is_done and (t.client_id, t.order_id) not in still_open
        ]
        if ended:
            await self._reconcile_ended(client, ended)

    async def _reconcile_ended(self, client: Any, ended: list[Trade]) -> None:
        """Final statuses of orders that ended during an outage, from completed orders."""
        try:
            completed = await client.req_completed_orders(True)
        except (RequestTimeout, TWSError, NotImplementedError) as exc:
            logger.warning(
                "ib_anyio: orders %s ended during the outage; their final status is unknown (%s)",
                [t.order_id for t in ended],
                exc,
            )
            return
        final = {
            i.order.permId: i.order_state.status
            for i in completed
            if isinstance(i, CompletedOrder) and i.order.permId
        }
        for trade in ended:
            status = final.get(trade.perm_id)
            if status is None:
                logger.warning(
                    "ib_anyio: order %s is neither open nor completed at TWS; its status stays %r",
                    trade.order_id,
                    trade.status,
                )
                continue
            filled = sum((_decimal(f.execution.shares) for f in trade.fills), Decimal(0))
            total = _decimal(trade.order.totalQuantity)
            value = sum(
                (
                    _decimal(f.execution.shares) * Decimal(str(f.execution.price))
                    for f in trade.fills
                ),
                Decimal(0),
            )
            avg = float(value / filled) if filled else 0.0
            last = trade.fills[-1].execution.price if trade.fills else 0.0
            self._dispatch(
                OrderStatusItem(
                    trade.order_id,
                    status,
                    filled,
                    max(total - filled, Decimal(0)),
                    avg,
                    trade.perm_id,
                    trade.order.parentId,
                    last,
                    trade.client_id,
                    "",
                    0.0,
                )
            )

    def _dispatch(self, item: object) -> None:
        if isinstance(item, OrderStatusItem):
            self._on_status(item)
        elif isinstance(item, OpenOrder):
            self._on_open_order(item)
        elif isinstance(item, ExecDetails):
            self._on_exec(item)
        elif isinstance(item, CommissionAndFeesReportItem):
            self._on_commission(item)
        elif isinstance(item, OrderBound):
            self._collect(item)
            trade = self._by_perm.get(item.perm_id)
            if trade is not None:
                trade._on_bound(item)
            self._fan_out(item)
        elif isinstance(item, OpenOrderEnd):
            if self._snapshot is not None:
                self._snapshot.end(item)
        elif isinstance(item, _OrderMessage):
            self._on_error(item.error, item.informational)

    def _trade_of(self, client_id: int, order_id: int, perm_id: int) -> Trade | None:
        if client_id == self.client_id:
            trade = self._trades.get(order_id)
            if trade is not None:
                return trade
        return self._by_perm.get(perm_id) if perm_id else None

    def _remember_perm(self, trade: Trade | None, perm_id: int) -> None:
        if trade is not None and perm_id:
            self._by_perm[perm_id] = trade

    def _collect(self, item: object) -> None:
        if self._snapshot is not None:
            self._snapshot.push(item)

    def _fan_out(self, item: object) -> None:
        for stream in self._streams:
            stream.push(item)

    def _on_open_order(self, item: OpenOrder) -> None:
        order = item.order
        if item.order_id in self._what_if_ids and order.clientId in (self.client_id, 0):
            what_if = self._what_ifs.get(item.order_id)
            if what_if is not None and what_if.state is None and what_if.error is None:
                what_if.state = item.order_state
                what_if.event.set()
            return  # a what-if answer: nothing was placed
        self._collect(item)
        trade = self._trade_of(order.clientId, item.order_id, order.permId)
        self._remember_perm(trade, order.permId)
        if trade is not None:
            trade._on_open_order(item)
        self._fan_out(item)

    def _on_status(self, item: OrderStatusItem) -> None:
        if not isinstance(item.filled, Decimal):  # ibapi 10.37.2's protobuf path: str
            item.filled = _as_decimal(item.filled)
            item.remaining = _as_decimal(item.remaining)
        self._collect(item)
        key = (item.client_id, item.order_id, item.perm_id)
        signature = (
            item.status,
            item.filled,
            item.remaining,
            item.avg_fill_price,
            item.parent_id,
            item.last_fill_price,
            item.why_held,
            item.mkt_cap_price,
        )
        if self._statuses.get(key) == signature:
            return  # TWS repeats itself: an exact repeat is no news
        self._statuses[key] = signature
        trade = self._trade_of(item.client_id, item.order_id, item.perm_id)
        self._remember_perm(trade, item.perm_id)
        if trade is not None:
            trade._on_status(item)
        self._fan_out(item)

    def _on_exec(self, item: ExecDetails) -> None:
        execution = item.execution
        exec_id = execution.execId
        if exec_id in self._fills:
            return  # the same execution again
        trade = self._trade_of(execution.clientId, execution.orderId, execution.permId)
        self._remember_perm(trade, execution.permId)
        early = self._early_reports.pop(exec_id, None)
        fill = trade._on_exec(item, None) if trade is not None else None
        self._fills[exec_id] = (trade, fill)
        self._fan_out(item)
        if early is not None:  # its report came first (a reconciliation): now, after it
            if trade is not None:
                trade._on_commission(fill, early)
            self._fan_out(early)

    def _on_commission(self, item: CommissionAndFeesReportItem) -> None:
        report = item.commission_and_fees_report
        exec_id = report.execId
        signature = tuple(sorted(vars(report).items()))
        if self._reports.get(exec_id) == signature:
            return  # the same report again
        self._reports[exec_id] = signature
        owner = self._fills.get(exec_id)
        if owner is None:
            # Before its execution (live, TWS sends the execution first; a
            # reconciliation's executions are handled once all are in): keep it
            # for the fill, and deliver it after the execution.
            self._early_reports[exec_id] = item
            return
        trade, fill = owner
        if trade is not None:
            trade._on_commission(fill, item)
        self._fan_out(item)

    def _on_error(self, error: TWSError, informational: bool) -> None:
        order_id = error.req_id
        what_if = self._what_ifs.get(order_id)
        if what_if is not None:
            if not informational and what_if.state is None and what_if.error is None:
                what_if.error = error
                what_if.event.set()
            return
        trade = self._trades.get(order_id)
        if trade is not None:
            trade._on_error(error, informational)

    # -- requests (event loop) ------------------------------------------

    def _check_connected(self) -> None:
        if not self._bridge.connected:
            raise self._bridge.lost or ConnectionLost("not connected to TWS")

    async def permit(self) -> None:
        """Wait for a permit to send one message (see :mod:`ib_anyio._pacing`)."""
        await self._pacer.acquire()
        self._check_connected()

    def send_place(self, order_id: int, contract: Contract, order: Order) -> None:
        self._check_connected()
        self.order_ids.add(order_id)
        self._pacer.sent()
        self._bridge.eclient.placeOrder(order_id, contract, order)

    def send_cancel(self, order_id: int) -> None:
        self._check_connected()
        self.order_ids.add(order_id)
        self._pacer.sent()
        _CANCEL_ORDER(self._bridge.eclient, order_id)

    def place(self, contract: Contract, order: Order) -> tuple[Trade, _Pending | None]:
        """Place an order; its Trade.

        For the ``order.orderId`` of a known Trade, re-place (modify) it:
        also return what TWS's answer will finish.
        """
        self._check_connected()
        order_id = order.orderId or self._next_order_id()
        order.orderId = order_id
        trade = self._trades.get(order_id)
        pending = None
        if trade is None:
            trade = Trade(self, order_id, contract, order)
            self._trades[order_id] = trade
        else:
            trade._reopen()
            pending = trade._expect_ack()
        self.send_place(order_id, contract, order)
        return trade, pending

    async def what_if(self, contract: Contract, order: Order) -> OrderState:
        self._check_connected()
        order_id = self._next_order_id()
        query = copy.copy(order)
        query.orderId = order_id
        query.whatIf = True
        waiter = _WhatIf()
        self._what_ifs[order_id] = waiter
        self._what_if_ids.add(order_id)
        try:
            self.send_place(order_id, contract, query)
            await waiter.event.wait()
        finally:
            del self._what_ifs[order_id]
        if waiter.error is not None:
            raise waiter.error
        assert waiter.state is not None
        return waiter.state

    async def snapshot(self, send: Callable[[], None]) -> list[object]:
        """Collect one open-orders snapshot: what arrives until ``openOrderEnd``.

        The caller serialises snapshots (one at a time per connection).
        """
        self._check_connected()
        route = CollectRoute(self._bridge, "orders", single=False)
        self._snapshot = route
        try:
            send()
            while not route.finished:
                await route.wait()
        finally:
            self._snapshot = None
        if route.error is not None:
            raise route.error
        return route.items

    def open_events(self) -> ItemStream[OrderEvent]:
        """A new ``order_events()`` stream (bounded; overflow ends it with StreamOverflow)."""
        self._check_connected()
        route = StreamRoute(
            self._bridge, "order_events", maxlen=self._buffer_size, overflow="error"
        )
        self._streams = (*self._streams, route)

        def close() -> None:
            self._streams = tuple(s for s in self._streams if s is not route)

        return ItemStream(route, close)


class _Placement:
    """What ``place_order()`` and ``place_bracket()`` return: used with ``async with``."""

    __slots__ = ("_before", "_name", "_start", "_trades")

    def __init__(
        self,
        name: str,
        start: Callable[[], Sequence[tuple[Trade, _Pending | None]]],
        before: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._before = before  # awaited before placing: the permits to send (pacing)
        self._name = name
        self._start = start
        self._trades: list[Trade] | None = None

    async def _enter(self) -> list[Trade]:
        if self._trades is not None:
            raise RuntimeError(f"{self._name}(): this order was already placed")
        if self._before is not None:
            await self._before()
        await anyio.lowlevel.checkpoint_if_cancelled()
        placed = self._start()
        self._trades = [trade for trade, _ in placed]
        try:
            for trade, pending in placed:
                if pending is not None:  # a modification: wait for TWS's answer
                    await trade._acknowledged_by_tws(pending)
        except BaseException:
            with anyio.CancelScope(shield=True):
                for trade in self._trades:
                    await trade.aclose()
            raise
        return self._trades

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._trades is not None:
            with anyio.CancelScope(shield=True):
                for trade in self._trades:
                    await trade.aclose()

    def __await__(self) -> Any:
        raise TypeError(
            f"{self._name}() is used with `async with client.{self._name}(...) as ...:`, "
            "not `await`"
        )


@final
class OrderPlacement(_Placement):
    """``async with client.place_order(contract, order) as trade:``; built by the client.

    Entering the block places the order and gives its :class:`Trade` (for the
    id of an order this connection placed, it modifies that order and waits
    for TWS's answer, raising :class:`~ib_anyio.TWSError` on a refusal);
    leaving it stops the Trade's event stream, never the order.
    """

    __slots__ = ()

    async def __aenter__(self) -> Trade:
        (trade,) = await self._enter()
        return trade


@final
class BracketPlacement(_Placement):
    """``async with client.place_bracket(contract, orders) as trades:``; built by the client.

    Entering the block places the parent and its children and gives their
    :class:`Trade` objects, in the same order; leaving it stops their event
    streams, never the orders.
    """

    __slots__ = ()

    async def __aenter__(self) -> tuple[Trade, ...]:
        return tuple(await self._enter())


def check_order_args(name: str, contract: object, order: object) -> None:
    """``TypeError``/``ValueError`` for what can be told before sending."""
    if not isinstance(contract, Contract):
        raise TypeError(f"{name}(): contract must be Contract, not {type(contract).__name__}")
    if not isinstance(order, Order):
        raise TypeError(f"{name}(): order must be Order, not {type(order).__name__}")
    if not isinstance(order.orderId, int) or order.orderId < 0:
        raise ValueError(
            f"{name}(): order.orderId must be 0 (a new order) or the id of an order to "
            f"modify, not {order.orderId!r}"
        )
    if order.whatIf:
        raise ValueError(f"{name}(): order.whatIf is set; use what_if() to ask without placing")


def place_all(
    router: OrderRouter, contract: Contract, orders: Iterable[Order]
) -> list[tuple[Trade, _Pending | None]]:
    """Place orders one after the other (a bracket: parent first)."""
    return [router.place(contract, order) for order in orders]
