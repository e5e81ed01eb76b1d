"""Exceptions raised by ib_anyio.

The hierarchy::

    IBError
    ├── TWSError                    TWS answered a request with an error code
    ├── ConnectionFailed            (also ConnectionError) could not connect / handshake failed
    ├── ConnectionLost              (also ConnectionError) the connection dropped while in use
    ├── StreamOverflow              (also anyio.BrokenResourceError) a stream's buffer overflowed
    └── UnsupportedRequest          (also NotImplementedError) the installed ibapi lacks the request

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
    "ConnectionFailed",
    "ConnectionLost",
    "IBError",
    "StreamOverflow",
    "TWSError",
    "UnsupportedRequest",
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


@final
class ConnectionFailed(IBError, ConnectionError):
    """The connection to TWS could not be established."""


@final
class ConnectionLost(IBError, ConnectionError):
    """The connection to TWS was lost while a request or stream was open."""


@final
class StreamOverflow(IBError, anyio.BrokenResourceError):
    """A stream's consumer fell so far behind that its buffer overflowed.

    Raised from the stream's iteration, after every item that was buffered
    before the overflow has been delivered, when the connection's
    ``overflow`` policy is ``"error"``.
    """


@final
class UnsupportedRequest(IBError, NotImplementedError):
    """The installed ibapi release does not have this request."""
