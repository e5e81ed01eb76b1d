"""The hand-written half of the client: request ids, routes, argument checks.

Generated request methods (``_generated/_client.py``) are one line each and
call one of the entry points here: :meth:`ClientBase._one_shot`,
:meth:`ClientBase._subscribe`, :meth:`ClientBase._maybe_stream`,
:meth:`ClientBase._send`.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from importlib import metadata
from typing import Any, final

import anyio
import attrs
from ibapi.client import EClient

from ._bridge import Bridge, CollectRoute, OverflowPolicy, Route, StreamRoute, WrapperBase
from ._errors import ConnectionLost, TWSError, UnsupportedRequest
from ._spec import REQ_ID, Arg, Call, Const, RequestSpec, _ReqId
from ._stream import ItemStream, Subscription

__all__ = ["ClientBase", "Notice", "ibapi_version", "is_informational"]

logger = logging.getLogger("ib_anyio")

#: Error codes TWS uses for notices and warnings rather than failures: they
#: are logged and delivered on :meth:`ClientBase.notices`, never raised.
INFORMATIONAL_CODES = frozenset({202, 399, 1100, 1101, 1102, 1300, 10167, 10197})


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
    ) -> None:
        self._bridge = bridge
        wrapper: WrapperBase = bridge.wrapper
        self._routes = wrapper._routes
        wrapper._on_error = self._on_error
        self._next_id = 1  # set from TWS's nextValidId once connected
        self._buffer_size = buffer_size
        self._overflow: OverflowPolicy = overflow
        self._locks: dict[str, anyio.Lock] = {}
        #: The accounts this login may trade, as TWS announced them on connect.
        self.managed_accounts: tuple[str, ...] = ()

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
        errors for requests nobody is waiting for any more. One at a time per
        connection.

        Returns:
            A subscription to open with ``async with``, yielding :class:`Notice`.
        """
        return self._subscribe(_NOTICES, ())

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
            return await self._run_one_shot(spec, args, key)

    def _subscribe(self, spec: RequestSpec, args: tuple[Any, ...]) -> Subscription[Any]:
        self._check(spec, args)
        usage = (
            f"{spec.name}() streams: use `async with client.{spec.name}(...) as stream:`"
            ", not `await`"
        )
        return Subscription(spec.name, lambda: self._open_stream(spec, args), usage=usage)

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
            return Subscription(spec.name, lambda: self._open_stream(spec, args), usage=usage)
        usage = (
            f"{spec.name}() with {flag} true answers once: use "
            f"`await client.{spec.name}(...)`, or leave {flag} false to stream"
        )

        def oneshot() -> Generator[Any, None, Any]:
            return self._one_shot(spec, args).__await__()

        return Subscription(
            spec.name, lambda: self._open_stream(spec, args), oneshot=oneshot, usage=usage
        )

    def _send(self, spec: RequestSpec, args: tuple[Any, ...]) -> None:
        self._check(spec, args)
        req_id = self.next_order_id() if REQ_ID in spec.call.args else -1
        self._call(spec.call, args, req_id)

    # -- machinery ------------------------------------------------------

    def _check(self, spec: RequestSpec, args: tuple[Any, ...]) -> None:
        """Validate before anything is sent: availability, arguments, connection."""
        if spec.call.method != "notices" and not hasattr(EClient, spec.call.method):
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
        if not self._bridge.connected:
            raise self._bridge.lost or ConnectionLost("not connected to TWS")

    def _call(self, call: Call, args: tuple[Any, ...], req_id: int | str) -> None:
        values = [_arg_value(a, args, req_id) for a in call.args]
        getattr(self._bridge.eclient, call.method)(*values)

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
        try:
            self._call(spec.call, args, key)
            while not route.finished:
                await route.wait()
        finally:
            self._unregister(route)
            if not route.finished:  # cancelled while waiting: tell TWS too
                self._cancel(spec, args, route)
        if route.error is not None:
            raise route.error
        return route.items[0] if route.single else route.items

    def _open_stream(self, spec: RequestSpec, args: tuple[Any, ...]) -> ItemStream[Any]:
        key = self.next_order_id() if spec.key == "req_id" else spec.key
        route = StreamRoute(self._bridge, key, maxlen=self._buffer_size, overflow=self._overflow)
        self._register(route)
        closed = False

        def close() -> None:
            nonlocal closed
            if not closed:
                closed = True
                self._unregister(route)
                self._cancel(spec, args, route)

        try:
            if spec is not _NOTICES:
                self._call(spec.call, args, key)
        except BaseException:
            close()
            raise
        return ItemStream(route, key if isinstance(key, int) else None, close)

    def _on_error(self, req_id: int, time: int, code: int, message: str, reject_json: str) -> None:
        """Route a TWS error (reader thread, or the event loop for ibapi's own checks)."""
        if is_informational(code):
            logger.info("TWS notice %s (request %s): %s", code, req_id, message)
        else:
            # A failure: for its request, or (id -1) for a connection still starting.
            route = self._routes.get(req_id if req_id >= 0 else "__connect__")
            if route is not None:
                route.fail(TWSError(req_id, code, message, reject_json))
                if req_id >= 0:
                    return
            logger.warning("TWS error %s (request %s): %s", code, req_id, message)
        notices = self._routes.get("notices")
        if notices is not None:
            notices.push(Notice(req_id, code, message, time, reject_json))


def _arg_value(template: _ReqId | Arg | Const, args: tuple[Any, ...], req_id: int | str) -> Any:
    if isinstance(template, Arg):
        return args[template.index]
    if isinstance(template, Const):
        return template.value
    return req_id
