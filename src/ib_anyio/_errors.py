"""Exceptions raised by ib_anyio.

The hierarchy::

    IBError
    ├── TWSError                    TWS answered a request with an error code
    ├── ConnectionFailed            (also ConnectionError) connect() could not start a session
    │   ├── ConnectionRefused       (also ConnectionRefusedError) nothing listens at host:port
    │   ├── ConnectionRejected      TWS accepted the socket, then closed it (or error 502):
    │   │                           it does not accept API connections from this client
    │   ├── HandshakeTimeout        (also TimeoutError) no handshake / session within `timeout`
    │   ├── UnsupportedServerVersion  TWS speaks a version the installed ibapi cannot
    │   └── ClientIdInUse           TWS error 326: another connection uses this client id
    ├── ConnectionLost              (also ConnectionError) the connection dropped while in use
    │   ├── ProtocolError           TWS sent bytes that are not a stream of frames (garbage,
    │   │                           a length above 16 MiB, a frame cut off by a close)
    │   └── ReconnectFailed         the reconnect policy gave up
    ├── RequestTimeout              (also TimeoutError) a request got no answer within
    │                               the connection's `request_timeout`
    ├── StreamOverflow              (also anyio.BrokenResourceError) a stream's buffer overflowed
    └── UnsupportedRequest          (also NotImplementedError) the installed ibapi lacks the request

Every :class:`ConnectionFailed` is raised as soon as its cause is known: only
:class:`HandshakeTimeout` waits (for ``connect``'s ``timeout``). Other start-up
refusals by TWS raise a plain :class:`ConnectionFailed` whose ``__cause__`` is
the :class:`TWSError`.

Bad arguments raise the builtin :class:`TypeError` or :class:`ValueError` before
anything is sent. Streams use anyio's own :class:`anyio.EndOfStream` and
:class:`anyio.ClosedResourceError` for their ordinary states.

Several failures inside one task group reach you as an :class:`ExceptionGroup`
(anyio and trio semantics); ``except*`` matches the classes above inside it.
"""

from __future__ import annotations

from typing import final

import anyio

__all__ = [
    "ClientIdInUse",
    "ConnectionFailed",
    "ConnectionLost",
    "ConnectionRefused",
    "ConnectionRejected",
    "HandshakeTimeout",
    "IBError",
    "ProtocolError",
    "ReconnectFailed",
    "RequestTimeout",
    "StreamOverflow",
    "TWSError",
    "UnsupportedRequest",
    "UnsupportedServerVersion",
]


class IBError(Exception):
    """Base class of every ib_anyio exception."""


@final
class TWSError(IBError):
    """TWS rejected a request.

    Attributes:
        req_id: The id of the request TWS answered (``-1`` when none).
        code: TWS's error code, e.g. ``200`` ("No security definition has been found").
        message: TWS's error text.
        advanced_order_reject_json: Extra detail for rejected orders (may be empty).
    """

    def __init__(
        self, req_id: int, code: int, message: str, advanced_order_reject_json: str = ""
    ) -> None:
        super().__init__(req_id, code, message, advanced_order_reject_json)
        self.req_id = req_id
        self.code = code
        self.message = message
        self.advanced_order_reject_json = advanced_order_reject_json

    def __str__(self) -> str:
        return f"TWS error {self.code} for request {self.req_id}: {self.message}"


class ConnectionFailed(IBError, ConnectionError):
    """The connection to TWS could not be established.

    Raised by :func:`ib_anyio.connect`; its subclasses say why when the reason
    is known. Catch this class to handle every connect failure alike.
    """


@final
class ConnectionRefused(ConnectionFailed, ConnectionRefusedError):
    """Nothing listens at the host and port: TWS is not running, or its API port differs.

    Raised at once (the operating system refuses the connection).
    """


@final
class ConnectionRejected(ConnectionFailed):
    """TWS accepted the socket, then closed it without starting an API session.

    TWS does this when it does not accept API connections from this client:
    "Enable ActiveX and Socket Clients" is off, the client's address is not a
    trusted IP (or its confirmation dialog was refused), or TWS / IB Gateway is
    still starting or logging in. Also raised for TWS error 502 at start-up.
    Raised as soon as the connection closes, not after the handshake timeout.
    """


@final
class HandshakeTimeout(ConnectionFailed, TimeoutError):
    """TWS did not complete the handshake or start the session within ``connect``'s ``timeout``.

    The socket stayed open but TWS said nothing (or not enough): often a TWS
    that is busy, frozen, or waiting for someone to confirm an incoming
    connection in a dialog.
    """


@final
class UnsupportedServerVersion(ConnectionFailed):
    """TWS answered the handshake with a server version the installed ibapi cannot speak.

    Attributes:
        server_version: The version TWS announced.
        min_version: The lowest version the installed ibapi speaks (``MIN_CLIENT_VER``).
        max_version: The highest (``MAX_CLIENT_VER``).
    """

    def __init__(
        self, message: str, *, server_version: int, min_version: int, max_version: int
    ) -> None:
        super().__init__(message)
        self.server_version = server_version
        self.min_version = min_version
        self.max_version = max_version


@final
class ClientIdInUse(ConnectionFailed):
    """TWS refused the session with error 326: another connection uses this client id.

    TWS allows one connection per client id at a time; the other connection
    may be another program, or this one's previous connection that TWS has not
    noticed is gone yet. Raised at once, never as a timeout.

    Attributes:
        client_id: The client id that was refused.
        code: TWS's error code (326).
        message: TWS's error text.
    """

    def __init__(self, where: str, client_id: int, message: str, code: int = 326) -> None:
        super().__init__(f"TWS at {where} refused client id {client_id}: error {code}: {message}")
        self.client_id = client_id
        self.code = code
        self.message = message


class ConnectionLost(IBError, ConnectionError):
    """The connection to TWS was lost while a request or stream was open.

    Every open request and stream ends with it (or with its subclass
    :class:`ProtocolError`), and so does every later request on the connection.
    Under a reconnect policy (``connect(reconnect=...)``) only the one-shot
    requests in flight, and the requests made while reconnecting, raise it;
    streams and orders carry on once the connection is back.
    """


@final
class ReconnectFailed(ConnectionLost):
    """The reconnect policy gave up (``max_attempts`` failed, or TWS now speaks
    a version the installed ibapi cannot): every open request and stream ends
    with it, and every later request raises it."""


@final
class ProtocolError(ConnectionLost):
    """TWS (or whatever is at the other end) sent bytes that are not a valid stream of frames.

    The frame boundaries are lost for good (garbage bytes, a length prefix above
    ibapi's 16 MiB ``MAX_MSG_LEN``, or a connection closed in the middle of a
    frame), so ib_anyio closes the connection, and every open request and stream
    ends with this error, naming what was wrong. A :class:`ConnectionLost`, so
    ``except ConnectionLost`` (or ``ConnectionError``) handles both alike.

    A well-framed message that the installed ibapi does not know (a newer TWS)
    is not an error: it is logged once per message id and skipped.
    """


@final
class RequestTimeout(IBError, TimeoutError):
    """A one-shot request got no complete answer within the connection's ``request_timeout``.

    TWS's cancel for the request has been sent, where the request has one; an
    answer that arrives later is dropped.

    Attributes:
        request: The request's method name, e.g. ``"req_historical_data"``.
        req_id: Its TWS request id (``None`` for requests without one, such as
            ``req_current_time``).
        timeout: The seconds it was given.
    """

    def __init__(self, request: str, req_id: int | None, timeout: float) -> None:
        which = f"{request}()" if req_id is None else f"{request}() (request {req_id})"
        super().__init__(f"{which} got no answer from TWS within {timeout} s")
        self.request = request
        self.req_id = req_id
        self.timeout = timeout


@final
class StreamOverflow(IBError, anyio.BrokenResourceError):
    """A stream's consumer fell so far behind that its buffer overflowed.

    Raised from the stream's iteration, after every item that was buffered
    before the overflow has been delivered, when the connection's
    ``overflow`` policy is ``"error"``.
    """


@final
class UnsupportedRequest(IBError, NotImplementedError):
    """The installed ibapi release does not have this request, or the connected TWS's
    server version does not (ibapi's own "The TWS is out of date" refusal, 503)."""
