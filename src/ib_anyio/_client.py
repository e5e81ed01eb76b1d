"""The hand-written half of the client: request ids, routes, argument checks.

Generated request methods (``_generated/_client.py``) are one line each and
call one of the entry points here: :meth:`ClientBase._one_shot`,
:meth:`ClientBase._subscribe`, :meth:`ClientBase._maybe_stream`,
:meth:`ClientBase._send`.

Hand-written here: orders (``place_order``, ``place_bracket``, ``what_if``,
``order_events``, ``trades``; the machinery is in :mod:`ib_anyio._orders`),
the account snapshots (``positions``, ``account_values``, ``portfolio``,
``account_summary``) and ``notices``. The account-wide subscriptions are
shared by every open block (:mod:`ib_anyio._fanout`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, final

import anyio
import attrs
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.order import Order

from ._bridge import Bridge, CollectRoute, OverflowPolicy, Route, StreamRoute, WrapperBase
from ._errors import ConnectionLost, RequestTimeout, TWSError, UnsupportedRequest
from ._fanout import SharedRoute, _contract_key
from ._generated._items import (
    AccountDownloadEnd,
    AccountSummary,
    AccountSummaryEnd,
    Position,
    PositionEnd,
    UpdateAccountValue,
    UpdatePortfolio,
)
from ._orders import (
    ORDER_KEYS,
    BracketPlacement,
    OrderEvent,
    OrderPlacement,
    OrderRouter,
    Trade,
    check_order_args,
    place_all,
)
from ._pacing import DEFAULT_MAX_MSG_RATE, HistoricalPacer, MessagePacer, small_bars
from ._reconnect import (
    MARKET_DATA_REQUESTS,
    ConnectionEvent,
    Disconnected,
    Gap,
    Reconnect,
    Supervisor,
    connection_event,
)
from ._spec import REQ_ID, Arg, Call, Const, Proto, RequestSpec, _ReqId
from ._stream import ItemStream, Subscription

if TYPE_CHECKING:
    from ibapi.order_state import OrderState

__all__ = ["ClientBase", "Notice", "ibapi_version", "is_informational"]

logger = logging.getLogger("ib_anyio")

T = TypeVar("T")

#: Error codes TWS uses for notices and warnings rather than failures: they
#: are logged and delivered on :meth:`ClientBase.notices`, never raised. 165
#: ("Historical Market Data Service query message:...", e.g. a scanner that
#: matches nothing yet) leaves its request running: TWS still expects a cancel.
INFORMATIONAL_CODES = frozenset({165, 202, 399, 1100, 1101, 1102, 1300, 10167, 10197})


def is_informational(code: int) -> bool:
    """Whether TWS error ``code`` is a notice or warning rather than a failure."""
    return code in INFORMATIONAL_CODES or 2100 <= code < 2200


def ibapi_version() -> str:
    """The version of the installed ibapi distribution (any of its three names)."""
    installed = {d.metadata["Name"].lower() for d in metadata.distributions()}
    for dist in ("ibapi-stable", "ibapi-latest", "ibapi"):
        if dist in installed:
            return metadata.version(dist)
    return "unknown"


@final
@attrs.define(slots=True)
class Notice:
    """An informational message or warning from TWS (or an error nobody awaits).

    Attributes:
        req_id: The request it concerns, ``-1`` for the connection.
        code: TWS's code, e.g. 2104 "Market data farm connection is OK".
        message: TWS's text.
        time: When TWS sent it, epoch milliseconds (0 when ibapi 9.x gives none).
        advanced_order_reject_json: Extra detail for order rejections.
    """

    req_id: int
    code: int
    message: str
    time: int = 0
    advanced_order_reject_json: str = ""


_NOTICES = RequestSpec(name="notices", call=Call("notices"), key="notices", mode="stream")
_CONNECTION_EVENTS = RequestSpec(
    name="connection_events",
    call=Call("connection_events"),
    key="connection_events",
    mode="stream",
)
#: Channels of this client alone: nothing is sent to TWS for them.
_LOCAL: Final = frozenset({"notices", "connection_events"})

#: Account-wide subscriptions: one TWS subscription per request and arguments,
#: shared by every open ``async with`` block (see :mod:`ib_anyio._fanout`).
SHARED_REQUESTS: Final = frozenset(
    {
        "connection_events",
        "notices",
        "req_account_summary",
        "req_account_updates",
        "req_account_updates_multi",
        "req_pnl",
        "req_pnl_single",
        "req_positions",
        "req_positions_multi",
    }
)

#: The channel of the open-orders snapshots; the order router owns it.
_ORDERS = "orders"

#: ``AccountSummaryTags.AllTags`` of ibapi, spelled out (the class moved between releases).
ALL_ACCOUNT_TAGS: Final = (
    "AccountType,NetLiquidation,TotalCashValue,SettledCash,AccruedCash,BuyingPower,"
    "EquityWithLoanValue,PreviousDayEquityWithLoanValue,GrossPositionValue,ReqTEquity,"
    "ReqTMargin,SMA,InitMarginReq,MaintMarginReq,AvailableFunds,ExcessLiquidity,Cushion,"
    "FullInitMarginReq,FullMaintMarginReq,FullAvailableFunds,FullExcessLiquidity,"
    "LookAheadNextChange,LookAheadInitMarginReq,LookAheadMaintMarginReq,"
    "LookAheadAvailableFunds,LookAheadExcessLiquidity,HighestSeverity,DayTradesRemaining,"
    "Leverage"
)


class ClientBase:
    """A connection to TWS or IB Gateway; get one from :func:`ib_anyio.connect`.

    Every ``EClient`` request is a method (generated); this base holds what
    they share.
    """

    def __init__(
        self,
        bridge: Bridge,
        *,
        buffer_size: int,
        overflow: OverflowPolicy,
        request_timeout: float | None = None,
        max_msg_rate: int | None = DEFAULT_MAX_MSG_RATE,
        historical_pacing: bool = True,
    ) -> None:
        self._bridge = bridge
        self._pacer = MessagePacer(max_msg_rate)
        #: TWS's historical-data pacing (``None``: off, for tests).
        self._hist: HistoricalPacer | None = HistoricalPacer() if historical_pacing else None
        self._request_timeout = request_timeout
        wrapper: WrapperBase = bridge.wrapper
        self._routes = wrapper._routes
        wrapper._on_error = self._on_error
        self._next_id = 1  # set from TWS's nextValidId once connected
        #: The request ``_call`` is sending, and the thread sending it.
        self._calling: tuple[int | str, int] | None = None
        self._buffer_size = buffer_size
        self._overflow: OverflowPolicy = overflow
        self._locks: dict[str, anyio.Lock] = {}
        self._shared: dict[tuple[str, tuple[Any, ...]], SharedRoute] = {}
        # Every order callback goes to the router, from the first message on.
        self._orders = OrderRouter(
            bridge,
            next_order_id=self.next_order_id,
            buffer_size=buffer_size,
            pacer=self._pacer,
            request_timeout=lambda: self._request_timeout,
        )
        for key in ORDER_KEYS:
            self._routes[key] = self._orders
        #: The accounts this login may trade, as TWS announced them on connect.
        self.managed_accounts: tuple[str, ...] = ()
        #: The open subscriptions TWS serves (re-sent after a reconnect): route -> request.
        self._live: dict[Route, tuple[RequestSpec, tuple[Any, ...]]] = {}
        #: Member streams read by one-shot snapshots: they end on a drop.
        self._oneshots: set[StreamRoute] = set()
        self._supervisor: Supervisor | None = None
        self._up = anyio.Event()  # set while connected (replaced on a drop)
        self._up.set()

    # -- public ---------------------------------------------------------

    @property
    def server_version(self) -> int:
        """The protocol version negotiated with TWS."""
        return self._bridge.server_version

    @property
    def connection_time(self) -> str:
        """TWS's clock when the connection was made, as TWS formats it."""
        return self._bridge.connection_time

    @property
    def is_connected(self) -> bool:
        """Whether the connection is still up."""
        return self._bridge.connected

    @property
    def request_timeout(self) -> float | None:
        """Seconds a one-shot request waits for its answer before :class:`~ib_anyio.RequestTimeout`.

        Set by :func:`~ib_anyio.connect` (default 120); ``None`` waits as long
        as it takes. Assign to change it for the requests sent from then on.
        It counts from when the request is sent and bounds every request you
        ``await``, including :meth:`positions`, :meth:`account_values`,
        :meth:`portfolio`, :meth:`account_summary` and :meth:`what_if`;
        streams are not affected.

        Raises:
            ValueError: On assigning a number that is not positive.
        """
        return self._request_timeout

    @request_timeout.setter
    def request_timeout(self, value: float | None) -> None:
        if value is not None and not value > 0:
            raise ValueError(f"request_timeout must be positive or None, not {value!r}")
        self._request_timeout = value

    def next_order_id(self) -> int:
        """Reserve and return a fresh id, valid for orders and requests alike.

        Ids only grow, and never fall below TWS's latest ``nextValidId``.
        """
        req_id = max(self._next_id, self._bridge.wrapper.next_valid_id or 0)
        self._next_id = req_id + 1
        return req_id

    def notices(self) -> Subscription[Notice]:
        """Stream TWS's notices and warnings (codes like 2104, 2106, 10167).

        They are logged to the ``ib_anyio`` logger in any case; this stream
        also delivers the ones that arrive while it is open, together with
        errors for requests nobody is waiting for any more. Any number of
        blocks may be open at once; each gets every notice from the moment it
        opens.

        Returns:
            A subscription to open with ``async with``, yielding :class:`Notice`.
        """
        return self._subscribe(_NOTICES, ())

    def connection_events(self) -> Subscription[ConnectionEvent]:
        """Stream the connection's changes of state.

        :class:`~ib_anyio.Disconnected`, :class:`~ib_anyio.Reconnecting` and
        :class:`~ib_anyio.Reconnected` (under a reconnect policy), and TWS's own
        notices as typed events: :class:`~ib_anyio.TWSConnectivity` (1100,
        1101, 1102, 1300, 2110) and :class:`~ib_anyio.FarmStatus` (2103 to
        2108, 2119, 2157, 2158). Any number of blocks may be open at once; each
        gets every event from the moment it opens. It may be opened while
        reconnecting.

        Returns:
            A subscription to open with ``async with``.
        """
        return self._subscribe(_CONNECTION_EVENTS, ())

    async def wait_connected(self) -> None:
        """Return once the client is connected (at once if it is).

        Under a reconnect policy: once the connection is back, every open
        subscription has been re-sent and the orders have been reconciled.

        Raises:
            ConnectionLost: The connection is closed for good (no policy, or
                :class:`~ib_anyio.ReconnectFailed`).
        """
        await self._up.wait()
        self._check_connected()

    # -- orders -----------------------------------------------------------

    def place_order(self, contract: Contract, order: Order) -> OrderPlacement:
        """Place an order, and follow it: ``async with client.place_order(c, o) as trade:``.

        Entering the block sends ``placeOrder`` and gives the order's
        :class:`~ib_anyio.Trade`: its live state and a stream of its events.
        Leaving the block stops the stream, never the order: the Trade goes on
        updating (:meth:`trades` lists it) and the order's events also reach
        :meth:`order_events`.

        With ``order.orderId`` 0 the order gets a fresh id from
        :meth:`next_order_id`, and ``order.orderId`` is set to it; a non-zero
        ``order.orderId`` re-places (modifies) that order. For an order this
        connection placed, entering the block gives its existing Trade once TWS
        has acknowledged the change, as :meth:`Trade.modify` does.

        Args:
            contract: What to trade.
            order: How (see :mod:`ib_anyio.orders` for builders).

        Returns:
            An async context manager giving the :class:`~ib_anyio.Trade`.

        Raises:
            TypeError: ``contract`` or ``order`` is not an ibapi ``Contract`` / ``Order``.
            ValueError: ``order.orderId`` is negative, or ``order.whatIf`` is set
                (use :meth:`what_if`).
            TWSError: On entering, for a modification TWS refused (e.g. 103
                "Duplicate order id" for another contract).
            ConnectionLost: The connection to TWS is closed.
        """
        check_order_args("place_order", contract, order)
        self._check_connected()
        return OrderPlacement(
            "place_order", lambda: [self._orders.place(contract, order)], self._paced(1)
        )

    def place_bracket(self, contract: Contract, orders: Sequence[Order]) -> BracketPlacement:
        """Place a parent order and its attached children (a bracket), transmitted together.

        ``async with client.place_bracket(contract, orders.bracket(...)) as (parent, tp, sl):``.
        The first order is the parent; it gets its id as :meth:`place_order`
        gives one, every other order gets that id as ``parentId``, and only the
        last one is transmitted (``transmit`` is set accordingly), so TWS
        activates the group once it has all of it.

        Args:
            contract: What to trade.
            orders: The parent, then its children (see :func:`ib_anyio.orders.bracket`).

        Returns:
            An async context manager giving a tuple of :class:`~ib_anyio.Trade`, in
            the order of ``orders``.

        Raises:
            TypeError: An argument has the wrong type.
            ValueError: Fewer than two orders, or a child already has an id.
            ConnectionLost: The connection to TWS is closed.
        """
        group = list(orders)
        if len(group) < 2:
            raise ValueError("place_bracket(): give the parent order and at least one child")
        for order in group:
            check_order_args("place_bracket", contract, order)
        if any(child.orderId for child in group[1:]):
            raise ValueError("place_bracket(): the children must be new orders (orderId 0)")
        self._check_connected()

        def start() -> list[tuple[Trade, Any]]:
            parent, *children = group
            parent.transmit = False
            trades = place_all(self._orders, contract, [parent])
            for i, child in enumerate(children):
                child.parentId = parent.orderId
                child.transmit = i == len(children) - 1
            return trades + place_all(self._orders, contract, children)

        return BracketPlacement("place_bracket", start, self._paced(len(group)))

    async def what_if(self, contract: Contract, order: Order) -> OrderState:
        """Ask TWS what an order would do to the account, without placing it.

        Sends a copy of ``order`` with ``whatIf`` set and a fresh id, and
        waits for TWS's ``openOrder`` answer.

        Args:
            contract: What to trade.
            order: How; it is not changed.

        Returns:
            TWS's ``OrderState``: margin before, change and after
            (``initMarginChange`` ...), and commission (``commissionAndFees``,
            ``commission`` on ibapi 9.81).

        Raises:
            TypeError: ``contract`` or ``order`` is not an ibapi ``Contract`` / ``Order``.
            TWSError: TWS rejected the order.
            RequestTimeout: No answer within :attr:`request_timeout`.
            ConnectionLost: The connection to TWS was lost.
        """
        if not isinstance(contract, Contract):
            raise TypeError(f"what_if(): contract must be Contract, not {type(contract).__name__}")
        if not isinstance(order, Order):
            raise TypeError(f"what_if(): order must be Order, not {type(order).__name__}")
        self._check_connected()
        await self._pacer.acquire()  # the wait for a permit is not part of the timeout
        self._check_connected()
        return await self._bounded("what_if", self._orders.what_if(contract, order))

    def order_events(self) -> Subscription[OrderEvent]:
        """Stream every order event of the connection, whoever placed the order.

        ``openOrder``, ``orderStatus``, ``orderBound``, ``execDetails`` of live
        executions and ``commissionAndFeesReport``, in TWS's order, as
        :class:`~ib_anyio.items.OpenOrder`, :class:`~ib_anyio.items.OrderStatusItem`,
        :class:`~ib_anyio.items.OrderBound`, :class:`~ib_anyio.items.ExecDetails`,
        :class:`~ib_anyio.items.CommissionAndFeesReportItem`: the events of this
        client's orders (followed by a Trade or not), of other clients' orders
        and of orders typed into TWS (client 0 after ``req_auto_open_orders(True)``),
        and the answers of :meth:`req_open_orders`. An exact repeat of an order's
        previous ``orderStatus`` is not delivered.

        Any number of blocks may be open at once; each gets every event from
        the moment it opens. Nothing is dropped: whatever the connection's
        ``overflow`` policy, a consumer that falls ``buffer_size`` events
        behind gets :class:`~ib_anyio.StreamOverflow` after the buffered events.

        Returns:
            A subscription to open with ``async with``.
        """
        self._check_connected()
        usage = "order_events() streams: use `async with client.order_events() as events:`"
        return Subscription("order_events", self._orders.open_events, usage=usage)

    def trades(self) -> list[Trade]:
        """The Trades of the orders placed on this connection, oldest first."""
        return self._orders.trades()

    # -- account snapshots --------------------------------------------------

    async def positions(self) -> list[Position]:
        """The positions of every account: one complete snapshot (up to ``positionEnd``).

        Shares the ``req_positions()`` subscription if one is open, else
        subscribes and cancels once the snapshot is complete.

        Returns:
            One :class:`~ib_anyio.items.Position` per account and contract.

        Raises:
            RequestTimeout: The snapshot was not complete within :attr:`request_timeout`.
            ConnectionLost: The connection to TWS was lost.
        """
        from ._generated import _client as generated

        found = await self._snapshot("positions", generated._REQ_POSITIONS, (), PositionEnd)
        return [item for item in found if isinstance(item, Position)]

    async def account_values(self, account: str) -> list[UpdateAccountValue]:
        """The values of an account (``NetLiquidation``, ``TotalCashValue``, ...): one snapshot.

        Reads ``req_account_updates(account)`` up to ``accountDownloadEnd``
        (sharing it if it is open) and cancels it.

        Args:
            account: The account, e.g. ``client.managed_accounts[0]``.

        Returns:
            One :class:`~ib_anyio.items.UpdateAccountValue` per key and currency.

        Raises:
            TypeError: ``account`` is not a string.
            RuntimeError: ``req_account_updates`` is open for another account
                (TWS streams one account at a time).
            RequestTimeout: The snapshot was not complete within :attr:`request_timeout`.
            ConnectionLost: The connection to TWS was lost.
        """
        from ._generated import _client as generated

        found = await self._snapshot(
            "account_values", generated._REQ_ACCOUNT_UPDATES, (account,), AccountDownloadEnd
        )
        return [item for item in found if isinstance(item, UpdateAccountValue)]

    async def portfolio(self, account: str) -> list[UpdatePortfolio]:
        """The portfolio of an account (positions with market value and PnL): one snapshot.

        Reads ``req_account_updates(account)`` up to ``accountDownloadEnd``
        (sharing it if it is open) and cancels it.

        Args:
            account: The account, e.g. ``client.managed_accounts[0]``.

        Returns:
            One :class:`~ib_anyio.items.UpdatePortfolio` per contract.

        Raises:
            TypeError: ``account`` is not a string.
            RuntimeError: ``req_account_updates`` is open for another account.
            RequestTimeout: The snapshot was not complete within :attr:`request_timeout`.
            ConnectionLost: The connection to TWS was lost.
        """
        from ._generated import _client as generated

        found = await self._snapshot(
            "portfolio", generated._REQ_ACCOUNT_UPDATES, (account,), AccountDownloadEnd
        )
        return [item for item in found if isinstance(item, UpdatePortfolio)]

    async def account_summary(
        self, tags: str | Sequence[str] = ALL_ACCOUNT_TAGS, group: str = "All"
    ) -> list[AccountSummary]:
        """The account summary of a group of accounts: one snapshot (up to ``accountSummaryEnd``).

        Args:
            tags: The tags to ask for (``"NetLiquidation,BuyingPower"`` or a
                sequence of tag names); all of them by default.
            group: The account group (``"All"``: every account).

        Returns:
            One :class:`~ib_anyio.items.AccountSummary` per account, tag and currency.

        Raises:
            TypeError: An argument has the wrong type.
            TWSError: TWS rejected the request (e.g. an unknown group).
            RequestTimeout: The snapshot was not complete within :attr:`request_timeout`.
            ConnectionLost: The connection to TWS was lost.
        """
        from ._generated import _client as generated

        if not isinstance(tags, str):
            tags = ",".join(tags)
        found = await self._snapshot(
            "account_summary", generated._REQ_ACCOUNT_SUMMARY, (group, tags), AccountSummaryEnd
        )
        return [item for item in found if isinstance(item, AccountSummary)]

    async def _snapshot(
        self, name: str, spec: RequestSpec, args: tuple[Any, ...], end: type
    ) -> list[object]:
        """Open the (shared) subscription, read up to its ``end`` item, close it.

        Bounded by :attr:`request_timeout`; leaving the block on a timeout
        sends the cancel, if no other block shares the subscription.
        """
        found: list[object] = []
        timeout = self._request_timeout
        req_id: int | None = None
        self._check(spec, args)
        await self._permit()  # the wait for a permit is not part of the timeout
        with anyio.move_on_after(timeout):
            async with self._open_stream(spec, args, oneshot=True) as stream:
                req_id = stream.req_id
                async for item in stream:
                    if isinstance(item, end):
                        return found
                    found.append(item)
            return found  # the stream ended without its end item (cannot happen)
        assert timeout is not None
        raise RequestTimeout(name, req_id, timeout)

    async def _bounded(self, name: str, waiting: Awaitable[T]) -> T:
        """Await ``waiting`` within :attr:`request_timeout` (a one-shot without a route here)."""
        timeout = self._request_timeout
        with anyio.move_on_after(timeout):
            return await waiting
        assert timeout is not None
        raise RequestTimeout(name, None, timeout)

    # -- entry points for the generated methods --------------------------

    async def _one_shot(self, spec: RequestSpec, args: tuple[Any, ...]) -> Any:
        self._check(spec, args)
        key = spec.key
        if key == "req_id":
            return await self._run_one_shot(spec, args, self.next_order_id())
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = anyio.Lock()
        async with lock:  # id-less requests: one at a time per channel
            if key == _ORDERS:  # open orders: the order router collects them
                await self._permit()
                snapshot = self._orders.snapshot(lambda: self._call(spec.call, args, key))
                return await self._bounded(spec.name, snapshot)
            return await self._run_one_shot(spec, args, key)

    def _subscribe(self, spec: RequestSpec, args: tuple[Any, ...]) -> Subscription[Any]:
        self._check(spec, args)
        usage = (
            f"{spec.name}() streams: use `async with client.{spec.name}(...) as stream:`"
            ", not `await`"
        )
        before = None if spec.call.method in _LOCAL else self._permits_for(spec, args)
        return Subscription(
            spec.name, lambda: self._open_stream(spec, args), usage=usage, before=before
        )

    def _maybe_stream(
        self, spec: RequestSpec, args: tuple[Any, ...], *, stream: bool
    ) -> Subscription[Any]:
        self._check(spec, args)
        flag = spec.stream_flag or "the flag"
        if stream:
            usage = (
                f"{spec.name}() with {flag} false streams: use "
                f"`async with client.{spec.name}(...) as stream:`, or set {flag} to "
                "await a one-shot answer"
            )
            return Subscription(
                spec.name,
                lambda: self._open_stream(spec, args),
                usage=usage,
                before=self._permits_for(spec, args),
            )
        usage = (
            f"{spec.name}() with {flag} true answers once: use "
            f"`await client.{spec.name}(...)`, or leave {flag} false to stream"
        )

        def oneshot() -> Generator[Any, None, Any]:
            return self._one_shot(spec, args).__await__()

        return Subscription(
            spec.name,
            lambda: self._open_stream(spec, args),
            oneshot=oneshot,
            usage=usage,
            before=self._permits_for(spec, args),
        )

    def _send(self, spec: RequestSpec, args: tuple[Any, ...]) -> None:
        self._check(spec, args)
        req_id = self.next_order_id() if REQ_ID in spec.call.args else -1
        self._call(spec.call, args, req_id)

    # -- machinery ------------------------------------------------------

    def _check(self, spec: RequestSpec, args: tuple[Any, ...]) -> None:
        """Validate before anything is sent: availability, arguments, connection."""
        if spec.call.method not in _LOCAL and not hasattr(EClient, spec.call.method):
            installed = ibapi_version()
            if spec.added_in:
                detail = f"needs ibapi >= {spec.added_in}"
            elif spec.removed_in:
                detail = f"was removed in ibapi {spec.removed_in}"
            else:
                detail = "is not available"
            raise UnsupportedRequest(f"{spec.name}() {detail} (installed: ibapi {installed})")
        for param, value in zip(spec.params, args, strict=True):
            if not param.types or isinstance(value, param.types):
                continue
            if value is None and param.optional:
                continue
            if float in param.types and isinstance(value, int) and not isinstance(value, bool):
                continue
            expected = " or ".join(t.__name__ for t in param.types)
            raise TypeError(
                f"{spec.name}(): {param.name} must be {expected}, not {type(value).__name__}"
            )
        if spec.call.method not in _LOCAL:
            self._check_connected()

    def _check_connected(self) -> None:
        if not self._bridge.connected:
            raise self._bridge.lost or ConnectionLost("not connected to TWS")

    async def _permit(self) -> None:
        """Wait for a permit to send one message (see :mod:`ib_anyio._pacing`)."""
        await self._pacer.acquire()
        self._check_connected()  # the connection may have dropped while waiting

    def _permits_for(
        self, spec: RequestSpec, args: tuple[Any, ...]
    ) -> Callable[[], Awaitable[Callable[[], None] | None]]:
        """What to await before sending ``spec``: historical pacing where it applies
        (which gives a function to call once the request is no longer open), a permit."""
        if spec.name != "req_historical_data":
            return self._permit

        async def permits() -> Callable[[], None] | None:
            hist = self._hist
            if hist is None:
                await self._permit()
                return None
            release = await hist.acquire(*_historical_keys(spec, args))
            try:
                await self._permit()
            except BaseException:
                release()
                raise
            return release

        return permits

    def _paced(self, messages: int) -> Callable[[], Awaitable[None]]:
        """Something to await for the permits of ``messages`` messages."""

        async def permits() -> None:
            for _ in range(messages):
                await self._permit()

        return permits

    def _call(self, call: Call, args: tuple[Any, ...], req_id: int | str) -> None:
        values = [_arg_value(a, args, req_id) for a in call.args]
        taken = _installed_params(call.method)
        if taken is not None and len(values) > len(taken):
            values = _drop_newer_args(call.method, values, len(taken))
        self._pacer.sent()
        # ibapi refuses some requests itself, calling ``error`` before it returns
        # (UPDATE_TWS for a server version that lacks the request; id -1 for
        # requests without an id): ``_on_error`` gives such errors to this request.
        outer = self._calling
        self._calling = (req_id, threading.get_ident())
        try:
            getattr(self._bridge.eclient, call.method)(*values)
        finally:
            self._calling = outer

    def _register(self, route: Route) -> None:
        if route.key in self._routes:
            raise RuntimeError(f"a request for {route.key!r} is already open on this connection")
        self._routes[route.key] = route

    def _unregister(self, route: Route) -> None:
        if self._routes.get(route.key) is route:
            del self._routes[route.key]

    def _cancel(self, spec: RequestSpec, args: tuple[Any, ...], route: Route) -> None:
        """Send the TWS cancel for ``route`` if TWS may still be sending for it."""
        if spec.cancel is None or not self._bridge.connected:
            return
        if isinstance(route.error, TWSError | ConnectionLost):
            return  # TWS already ended it
        if not hasattr(EClient, spec.cancel.method):
            return
        self._call(spec.cancel, args, route.key)

    async def _run_one_shot(self, spec: RequestSpec, args: tuple[Any, ...], key: int | str) -> Any:
        route = CollectRoute(self._bridge, key, single=spec.mode == "single")
        self._register(route)
        timeout = self._request_timeout
        release: Callable[[], None] | None = None
        sent = False
        try:
            release = await self._permits_for(spec, args)()  # the timeout counts from the send
            self._call(spec.call, args, key)
            sent = True
            with anyio.move_on_after(timeout):  # None: no deadline
                while not route.finished:
                    await route.wait()
        finally:
            self._unregister(route)
            # Cancelled or timed out while waiting (or answered, for a request TWS keeps
            # until cancelled): tell TWS. Not after a TWS error: TWS ended it.
            if sent and (not route.finished or spec.cancel_when_answered):
                self._cancel(spec, args, route)
            if release is not None:
                release()
        if not route.finished:  # only the deadline ends the wait early
            assert timeout is not None
            raise RequestTimeout(spec.name, key if isinstance(key, int) else None, timeout)
        if route.error is not None:
            raise route.error
        return route.items[0] if route.single else route.items

    def _open_stream(
        self, spec: RequestSpec, args: tuple[Any, ...], *, oneshot: bool = False
    ) -> ItemStream[Any]:
        if spec.name in SHARED_REQUESTS:
            return self._open_shared(spec, args, oneshot=oneshot)
        key = self.next_order_id() if spec.key == "req_id" else spec.key
        route = StreamRoute(self._bridge, key, maxlen=self._buffer_size, overflow=self._overflow)
        self._register(route)
        self._live[route] = (spec, args)
        closed = False

        def close() -> None:
            nonlocal closed
            if not closed:
                closed = True
                self._live.pop(route, None)
                self._unregister(route)
                self._cancel(spec, args, route)

        try:
            self._call(spec.call, args, key)
        except BaseException:
            close()
            raise
        return ItemStream(route, close)

    def _open_shared(
        self, spec: RequestSpec, args: tuple[Any, ...], *, oneshot: bool = False
    ) -> ItemStream[Any]:
        """Join the TWS subscription for ``(spec, args)``, starting it if need be."""
        ident = (spec.name, args)
        shared = self._shared.get(ident)
        if shared is None or shared.finished:
            shared = self._start_shared(spec, args)
        member = shared.join(maxlen=self._buffer_size, overflow=self._overflow)
        if oneshot:
            self._oneshots.add(member)
        closed = False

        def close() -> None:
            nonlocal closed
            if closed:
                return
            closed = True
            self._oneshots.discard(member)
            if shared.leave(member) and self._shared.get(ident) is shared:
                del self._shared[ident]
                self._live.pop(shared, None)
                self._unregister(shared)
                self._cancel(spec, args, shared)

        return ItemStream(member, close)

    def _start_shared(self, spec: RequestSpec, args: tuple[Any, ...]) -> SharedRoute:
        for ident, other in list(self._shared.items()):
            if ident[0] != spec.name:
                continue
            if other.finished:  # ended by TWS or the connection: a new one replaces it
                del self._shared[ident]
                self._live.pop(other, None)
                self._unregister(other)
            elif spec.name == "req_account_updates":
                raise RuntimeError(
                    f"req_account_updates(): TWS sends the updates of one account at a time, "
                    f"and this connection follows {ident[1][0]!r}; close that first"
                )
        key = self.next_order_id() if spec.key == "req_id" else spec.key
        shared = SharedRoute(self._bridge, key)
        self._register(shared)
        ident = (spec.name, args)
        self._shared[ident] = shared
        local = spec.call.method in _LOCAL
        if not local:
            self._live[shared] = (spec, args)
        try:
            if not local:
                self._call(spec.call, args, key)
        except BaseException:
            del self._shared[ident]
            self._live.pop(shared, None)
            self._unregister(shared)
            raise
        return shared

    def _on_error(self, req_id: int, time: int, code: int, message: str, reject_json: str) -> None:
        """Route a TWS error (reader thread, or the event loop for ibapi's own checks)."""
        calling = self._calling
        if (
            calling is not None
            and calling[1] == threading.get_ident()
            and req_id in (-1, calling[0])
            and not is_informational(code)
        ):
            # ibapi's own refusal of the request being sent (see ``_call``)
            route = self._routes.get(calling[0])
            if route is not None:
                if code == _UPDATE_TWS:
                    version = self._bridge.server_version
                    route.fail(UnsupportedRequest(f"server version {version} lacks it: {message}"))
                else:
                    route.fail(TWSError(req_id, code, message, reject_json))
                return
        if req_id > 0 and req_id in self._orders.order_ids:
            # An order's (ids are never shared with requests): in TWS's order, to its Trade.
            informational = is_informational(code)
            self._orders.push_error(TWSError(req_id, code, message, reject_json), informational)
            logger.info("TWS message %s for order %s: %s", code, req_id, message)
            if informational:
                notices = self._routes.get("notices")
                if notices is not None:
                    notices.push(Notice(req_id, code, message, time, reject_json))
            return
        if req_id == -1:
            event = connection_event(code, message)
            if event is not None:
                self._emit(event)
                if code == _DATA_LOST:
                    self._bridge._call_soon(self._data_lost)
        if is_informational(code):
            logger.info("TWS notice %s (request %s): %s", code, req_id, message)
        else:
            # A failure: for its request, or (id -1) for a request without an id
            # (``requestFA``: its channel) or a connection still starting.
            route = self._routes.get(req_id) if req_id >= 0 else None
            channel = _channel_of_error(message) if req_id < 0 else None
            if channel is not None and (channel_route := self._routes.get(channel)):
                channel_route.fail(TWSError(req_id, code, message, reject_json))
                return
            if req_id < 0:
                route = self._routes.get("__connect__")
            if route is not None:
                route.fail(TWSError(req_id, code, message, reject_json))
                if req_id >= 0:
                    return
            logger.warning("TWS error %s (request %s): %s", code, req_id, message)
        notices = self._routes.get("notices")
        if notices is not None:
            notices.push(Notice(req_id, code, message, time, reject_json))

    # -- outages (see :mod:`ib_anyio._reconnect`) --------------------------

    def supervisor(
        self, policy: Reconnect | None, start_session: Callable[[], Awaitable[None]]
    ) -> Callable[[], Coroutine[Any, Any, None]]:
        """The supervisor task to run beside the connection's block (used by ``connect``)."""
        supervisor = Supervisor(self, policy, start_session)
        self._supervisor = supervisor
        self._bridge.on_lost = self._on_lost if policy is not None else self._on_drop
        return supervisor.run

    def _emit(self, event: ConnectionEvent) -> None:
        """Deliver ``event`` to the open ``connection_events()`` blocks (any thread)."""
        route = self._routes.get("connection_events")
        if route is not None:
            route.push(event)

    def _on_drop(self, lost: ConnectionLost) -> None:
        """Event loop, no reconnect policy: the connection dropped; everything ends
        (``_up`` stays set: ``wait_connected()`` returns to raise the loss)."""
        self._emit(Disconnected(lost))
        self._bridge.fail_all(lost)

    def _on_lost(self, lost: ConnectionLost) -> None:
        """Event loop, under a reconnect policy: the connection dropped.

        One-shot requests in flight end with ``lost``; subscriptions, Trades
        and ``order_events()`` stay open for the supervisor to resume.
        """
        if self._up.is_set():
            self._up = anyio.Event()
        self._emit(Disconnected(lost))
        for route in list(self._routes.values()):
            if isinstance(route, CollectRoute):
                route.fail(lost)
        for member in list(self._oneshots):
            member.fail(lost)
        self._orders.interrupt(lost)
        assert self._supervisor is not None
        self._supervisor.submit("lost")

    def _data_lost(self) -> None:
        """Event loop: TWS said 1101; the supervisor re-sends the market data."""
        if self._supervisor is not None:
            self._supervisor.submit("data_lost")

    def _restored(self) -> None:
        """Event loop: connected again, subscriptions re-sent."""
        self._up.set()

    def _give_up(self, lost: ConnectionLost) -> None:
        """Event loop: the connection is gone for good; everything ends with ``lost``."""
        self._bridge.lost = lost
        self._bridge.fail_all(lost)
        self._up.set()  # wait_connected() raises

    async def _resubscribe(self, reason: Literal["reconnect", "data_lost"]) -> int:
        """Re-send the open subscriptions (after a reconnect: all; on 1101: market
        data), each with a new request id after a :class:`Gap`; return how many."""
        resent = 0
        for route, (spec, args) in list(self._live.items()):
            if reason == "data_lost" and spec.name not in MARKET_DATA_REQUESTS:
                continue
            if spec.name == "req_historical_data" and self._hist is not None:
                # TWS's time rules apply to the re-sent request too (its place is kept).
                await self._hist.acquire(*_historical_keys(spec, args), new=False)
            await self._permit()
            if route not in self._live or route.finished:
                continue  # closed, or ended by TWS, while waiting for the permit
            old = route.key
            new = self.next_order_id() if isinstance(old, int) else old
            if new != old:
                self._unregister(route)
                route.key = new
                self._routes[new] = route
            gap = Gap(
                reason, old if isinstance(old, int) else None, new if isinstance(new, int) else None
            )
            if isinstance(route, SharedRoute):
                route.restart(gap)
            else:
                route.push(gap)
            self._call(spec.call, args, new)
            resent += 1
        return resent

    async def _reconcile_orders(self) -> None:
        """After a reconnect: catch up with what the orders did during the outage."""
        await self._orders.reconcile(self)


_DATA_LOST = 1101
#: ibapi's UPDATE_TWS: the negotiated server version lacks the request (or a field of it).
_UPDATE_TWS = 503

#: Errors TWS sends with id -1 for a request that has no id: a text the message
#: contains, and the channel of the request it answers. ``requestFA`` on a login
#: that is not an advisor's: 321 "... FA data operations ignored for non FA
#: customers."; ibapi's own refusal of FA profiles (faData=2) from version 177:
#: 585 "FA Profile is not supported anymore, use FA Group instead - ".
_CHANNEL_ERRORS: Final = (
    ("FA data operations ignored for non FA customers", "fa"),
    ("FA Profile is not supported anymore", "fa"),
)


def _channel_of_error(message: str) -> str | None:
    """The channel of the id-less request an id -1 error answers, if it answers one."""
    return next((channel for text, channel in _CHANNEL_ERRORS if text in message), None)


def _historical_keys(spec: RequestSpec, args: tuple[Any, ...]) -> tuple[Any, Any, bool]:
    """How historical pacing tells requests apart: contract, exchange and
    ``whatToShow``; the whole request; whether its bars are 30 s or less."""
    values = {param.name: value for param, value in zip(spec.params, args, strict=True)}
    contract = values.get("contract")
    same = (
        _contract_key(contract),
        getattr(contract, "exchange", ""),
        getattr(contract, "primaryExchange", ""),
        values.get("what_to_show"),
    )
    identical = (same, repr(sorted((k, repr(v)) for k, v in values.items() if k != "contract")))
    return same, identical, small_bars(str(values.get("bar_size_setting", "")))


@functools.cache
def _installed_params(method: str) -> tuple[str, ...] | None:
    """The parameters of the installed ``EClient.<method>`` (``None``: takes ``*args``)."""
    params = list(inspect.signature(getattr(EClient, method)).parameters.values())[1:]
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return None
    return tuple(p.name for p in params)


def _is_unset(value: object) -> bool:
    return value is None or value is False or value == "" or value == ()


def _drop_newer_args(method: str, values: list[Any], taken: int) -> list[Any]:
    """Older ibapi releases lack some trailing parameters (9.81's ``exerciseOptions``
    has no ``manualOrderTime``...): drop them when they are left unset, else refuse."""
    extra = values[taken:]
    if not all(_is_unset(v) for v in extra):
        raise UnsupportedRequest(
            f"the installed ibapi {ibapi_version()}'s {method} takes {taken} arguments; "
            f"leave the newer ones unset (got {extra!r})"
        )
    return values[:taken]


def _arg_value(
    template: _ReqId | Arg | Const | Proto, args: tuple[Any, ...], req_id: int | str
) -> Any:
    if isinstance(template, Arg):
        return args[template.index]
    if isinstance(template, Proto):
        message = getattr(importlib.import_module(template.module), template.cls)()
        if template.base is not None and args[template.base.index] is not None:
            message.CopyFrom(args[template.base.index])
        message.reqId = req_id
        return message
    if isinstance(template, Const):
        return template.value
    return req_id
