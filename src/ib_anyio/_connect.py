"""``ib_anyio.connect``: handshake, then hand the socket to the bridge threads."""

from __future__ import annotations

import socket
import struct
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.abc import SocketAttribute
from anyio.streams.buffered import BufferedByteReceiveStream
from ibapi.server_versions import MAX_CLIENT_VER, MIN_CLIENT_VER

from ._bridge import Bridge, CollectRoute, OverflowPolicy
from ._client import ibapi_version
from ._compat import adapt_wrapper
from ._errors import (
    ClientIdInUse,
    ConnectionFailed,
    ConnectionRefused,
    ConnectionRejected,
    HandshakeTimeout,
    TWSError,
    UnsupportedServerVersion,
)
from ._generated._client import Client
from ._generated._wrapper import GeneratedWrapper
from ._pacing import DEFAULT_MAX_MSG_RATE, check_max_msg_rate
from ._reconnect import Reconnect

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

__all__ = ["DEFAULT_REQUEST_TIMEOUT", "connect"]

#: Seconds a one-shot request may wait for its answer by default (see
#: docs/reliability.md): the slowest legitimate answers (a month of 1-minute
#: bars from a busy historical farm, a whole option chain's contract details)
#: take tens of seconds; an answer that has not come in two minutes is lost.
DEFAULT_REQUEST_TIMEOUT = 120.0

#: TWS error codes that refuse the session at start-up.
_CLIENT_ID_IN_USE = 326
_NOT_CONNECTED = 502  # ibapi's CONNECT_FAIL: "Couldn't connect to TWS..."

_TWS_API_HINT = (
    'is "Enable ActiveX and Socket Clients" on in its API settings, this address '
    "a trusted IP, and TWS logged in?"
)


class _Wrapper(GeneratedWrapper):
    """Also watches for the two messages that complete the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.accounts: list[str] | None = None

    def nextValidId(self, orderId: int) -> None:
        self.next_valid_id = orderId
        self._connected_if_ready()
        super().nextValidId(orderId)

    def managedAccounts(self, accountsList: str) -> None:
        self.accounts = [a for a in accountsList.split(",") if a]
        self._connected_if_ready()
        super().managedAccounts(accountsList)

    def _connected_if_ready(self) -> None:
        route = self._routes.get("__connect__")
        if route is not None and self.next_valid_id is not None and self.accounts is not None:
            route.end(None)


_WrapperClass = adapt_wrapper(_Wrapper)


@asynccontextmanager
async def connect(
    host: str = "127.0.0.1",
    port: int = 7497,
    client_id: int = 1,
    *,
    timeout: float = 10.0,  # noqa: ASYNC109 - bounds the handshake, like httpx
    request_timeout: float | None = DEFAULT_REQUEST_TIMEOUT,
    buffer_size: int = 100_000,
    overflow: OverflowPolicy = "error",
    optional_capabilities: str = "",
    connect_options: str = "",
    max_msg_rate: int | None = DEFAULT_MAX_MSG_RATE,
    historical_pacing: bool = True,
    reconnect: Reconnect | None = None,
) -> AsyncIterator[Client]:
    """Connect to TWS or IB Gateway (or :func:`ib_anyio.sim.serve`).

    ``async with ib_anyio.connect("127.0.0.1", 7497, client_id=1) as client:``
    connects, negotiates the protocol version, starts the API session and
    waits for TWS's first ``nextValidId`` and ``managedAccounts``. Leaving the
    block closes the connection and joins the reader and writer threads.

    The block runs a small supervisor task beside your code (it reconnects
    under ``reconnect=`` and re-sends market data on TWS's 1101). Like any
    anyio task group, enter and leave it in the same task, nested with other
    cancel scopes (``async with`` does); exceptions from the block reach you
    as they are, not wrapped in an ``ExceptionGroup``.

    Args:
        host: Where TWS or the gateway listens.
        port: Its API port (TWS: 7497 paper / 7496 live; gateway 4002 / 4001).
        client_id: This client's id; TWS refuses two connections with the same
            one (see docs/reliability.md for a strategy).
        timeout: Seconds allowed for connecting and the handshake.
        request_timeout: Seconds a one-shot request (one you ``await``) may
            wait for its answer once sent before it raises
            :class:`~ib_anyio.RequestTimeout` and TWS's cancel for it is sent
            (default 120; ``None``: wait as long as it takes). Streams are not
            affected. Readable and settable later as ``client.request_timeout``.
        max_msg_rate: Messages the client sends in any one second, at most
            (default 45; 1 to 50, TWS's limit, past which TWS answers error
            100 and disconnects). Requests, opening streams and order calls
            wait for a permit (without blocking the event loop, and before
            ``request_timeout`` starts counting); cancels sent on leaving a
            block go out at once and are counted. ``None`` turns pacing off:
            only for tests and simulators without TWS's limit.
        historical_pacing: Whether ``req_historical_data`` follows TWS's
            historical-data pacing rules, waiting before it sends (default;
            see docs/reliability.md): no identical request within 15 s, at
            most 6 for one contract, exchange and ``what_to_show`` within 2 s,
            60 for bars of 30 s or less within 10 minutes, 50 open at once.
            ``False``: send at once, and get TWS's error 162 instead.
        buffer_size: Items each stream buffers for a consumer that falls behind.
        overflow: What happens when a stream's buffer is full: ``"error"``
            (default) ends the stream with :class:`~ib_anyio.StreamOverflow`
            after the buffered items; ``"drop_oldest"`` discards the oldest
            item. Both count discarded items in ``stream.dropped`` and log
            the first.
        optional_capabilities: Passed to TWS with ``startApi``.
        connect_options: Appended to the version range in the handshake
            (e.g. ``"+PACEAPI"``).
        reconnect: A :class:`~ib_anyio.Reconnect` policy under which the
            block survives a dropped connection: the client reconnects with
            the same ``client_id``, re-sends every open subscription (a
            :class:`~ib_anyio.Gap` item marks the place in each stream) and
            reconciles orders; requests in flight raise
            :class:`~ib_anyio.ConnectionLost`. ``None`` (default): a drop ends
            every request and stream with :class:`~ib_anyio.ConnectionLost`.
            See docs/reliability.md.

    Yields:
        The connected :class:`~ib_anyio.Client`.

    Raises:
        ConnectionRefused: Nothing listens at ``host:port``.
        ConnectionRejected: TWS accepted the socket and closed it without
            starting a session (API connections not enabled or not trusted
            from this address), or refused it with error 502.
        HandshakeTimeout: TWS did not complete the handshake and start the
            session within ``timeout``.
        UnsupportedServerVersion: TWS speaks a version the installed ibapi cannot.
        ClientIdInUse: TWS error 326: another connection uses ``client_id``.
        ConnectionFailed: The base class of all of these; raised as such when
            the host cannot be reached for another reason, or TWS refused the
            session with another error (the :class:`~ib_anyio.TWSError` is the
            ``__cause__``).
        ValueError: For a bad argument.
    """
    if buffer_size < 1:
        raise ValueError(f"buffer_size must be at least 1, not {buffer_size}")
    if overflow not in ("error", "drop_oldest"):
        raise ValueError(f"overflow must be 'error' or 'drop_oldest', not {overflow!r}")
    if request_timeout is not None and not request_timeout > 0:
        raise ValueError(f"request_timeout must be positive or None, not {request_timeout!r}")
    max_msg_rate = check_max_msg_rate(max_msg_rate)
    if reconnect is not None and not isinstance(reconnect, Reconnect):
        raise TypeError(f"reconnect must be a Reconnect policy or None, not {reconnect!r}")
    where = f"{host}:{port}"
    wrapper = _WrapperClass()
    bridge = Bridge(
        wrapper,
        client_id=client_id,
        host=host,
        port=port,
        optional_capabilities=optional_capabilities,
    )
    bridge.max_wire_rate = max_msg_rate
    # The client routes errors from here on; a refusal during start-up fails `ready`.
    client = Client(
        bridge,
        buffer_size=buffer_size,
        overflow=overflow,
        request_timeout=request_timeout,
        max_msg_rate=max_msg_rate,
        historical_pacing=historical_pacing,
    )

    async def start_session() -> None:
        sock, server_version, conn_time, leftover = await _handshake(
            host, port, timeout, connect_options
        )
        wrapper.accounts = None
        wrapper.next_valid_id = None
        ready = CollectRoute(bridge, "__connect__", single=False)
        wrapper._routes["__connect__"] = ready
        bridge.attach(
            sock, server_version=server_version, connection_time=conn_time, initial=leftover
        )
        try:
            try:
                with anyio.fail_after(timeout):
                    bridge.eclient.startApi()
                    while not ready.finished:
                        await ready.wait()
            except TimeoutError:
                raise HandshakeTimeout(
                    f"TWS at {where} did not start the API session within {timeout} s"
                ) from None
            finally:
                del wrapper._routes["__connect__"]
            if ready.error is not None:
                raise _refusal(where, client_id, ready.error) from ready.error
            if not bridge.session_started():
                raise ConnectionFailed(
                    f"TWS at {where} closed the connection as the session started"
                )
        except BaseException:
            with anyio.CancelScope(shield=True):
                await bridge.close_link()
            raise
        client.managed_accounts = tuple(wrapper.accounts or ())

    try:
        await start_session()
        async with _supervised(client.supervisor(reconnect, start_session)):
            yield client
    finally:
        await bridge.aclose()


@asynccontextmanager
async def _supervised(supervise: Callable[[], Coroutine[Any, Any, None]]) -> AsyncIterator[None]:
    """Run ``supervise`` beside the ``async with`` body, which sees its own exceptions
    as they are (not wrapped in an ``ExceptionGroup``: the supervisor never raises)."""
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(supervise)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise


def _refusal(where: str, client_id: int, error: BaseException) -> ConnectionFailed:
    """The exception for a session TWS ended before it started."""
    if isinstance(error, TWSError):
        if error.code == _CLIENT_ID_IN_USE:
            return ClientIdInUse(where, client_id, error.message, error.code)
        if error.code == _NOT_CONNECTED:
            return ConnectionRejected(f"TWS at {where} refused the session: {error}")
        return ConnectionFailed(f"TWS at {where} refused the session: {error}")
    return ConnectionRejected(
        f"TWS at {where} closed the connection before starting the API session: {_TWS_API_HINT}"
    )


def _all_refused(exc: BaseException | None) -> bool:
    """Whether ``exc`` (anyio's cause for a failed connect) is a refusal, of every address."""
    if isinstance(exc, ConnectionRefusedError):
        return True
    inner = getattr(exc, "exceptions", None)  # an ExceptionGroup: one per address tried
    return isinstance(inner, tuple) and bool(inner) and all(_all_refused(e) for e in inner)


async def _handshake(
    host: str,
    port: int,
    timeout: float,  # noqa: ASYNC109
    connect_options: str,
) -> tuple[socket.socket, int, str, bytes]:
    """Connect and agree on a server version; return a blocking socket for the threads.

    The server answers the ``API\\0`` greeting with one frame of exactly two
    fields (server version, connection time) and sends nothing more until
    ``startApi``. Every failure is raised as the :class:`ConnectionFailed`
    subclass that names it, as soon as it is known.
    """
    where = f"{host}:{port}"
    connected = False
    try:
        with anyio.fail_after(timeout):
            try:
                stream = await anyio.connect_tcp(host, port)
            except OSError as exc:
                if _all_refused(exc) or _all_refused(exc.__cause__):
                    raise ConnectionRefused(
                        f"could not connect to TWS at {where}: connection refused; "
                        f"is TWS or IB Gateway running, with its API port at {port}?"
                    ) from exc
                raise ConnectionFailed(f"could not connect to TWS at {where}: {exc}") from exc
            connected = True
            try:
                versions = f"v{MIN_CLIENT_VER}..{MAX_CLIENT_VER}"
                if connect_options:
                    versions += f" {connect_options}"
                payload = versions.encode("ascii")
                await stream.send(b"API\0" + struct.pack(">I", len(payload)) + payload)
                received = BufferedByteReceiveStream(stream)
                fields: list[bytes] = []
                while len(fields) != 2:
                    (size,) = struct.unpack(">I", await received.receive_exactly(4))
                    fields = (await received.receive_exactly(size)).split(b"\0")[:-1]
                raw: socket.socket = stream.extra(SocketAttribute.raw_socket)
                sock = raw.dup()
                leftover = bytes(received.buffer)
            finally:
                await stream.aclose()
    except TimeoutError:
        if not connected:
            raise HandshakeTimeout(
                f"could not connect to TWS at {where} within {timeout} s"
            ) from None
        raise HandshakeTimeout(f"no handshake from TWS at {where} within {timeout} s") from None
    except (OSError, anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError) as exc:
        if isinstance(exc, ConnectionFailed):
            raise
        closed = f"TWS at {where} closed the connection without answering the handshake"
        raise ConnectionRejected(f"{closed}: {_TWS_API_HINT}") from exc
    sock.setblocking(True)
    try:
        server_version = int(fields[0])
    except ValueError:
        sock.close()
        raise ConnectionFailed(f"TWS at {where} sent a bad server version: {fields[0]!r}") from None
    if not MIN_CLIENT_VER <= server_version <= MAX_CLIENT_VER:
        sock.close()
        too_old = server_version < MIN_CLIENT_VER
        advice = "upgrade TWS or IB Gateway" if too_old else "install a newer ibapi"
        raise UnsupportedServerVersion(
            f"TWS at {where} speaks server version {server_version}; the installed "
            f"ibapi {ibapi_version()} speaks {MIN_CLIENT_VER} to {MAX_CLIENT_VER}: {advice}",
            server_version=server_version,
            min_version=MIN_CLIENT_VER,
            max_version=MAX_CLIENT_VER,
        )
    return sock, server_version, fields[1].decode(errors="replace"), leftover
