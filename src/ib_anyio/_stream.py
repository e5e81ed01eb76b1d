"""Streaming requests: :class:`Subscription` (the ``async with``) and :class:`ItemStream`."""

from __future__ import annotations

import collections
import time
from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, final

import anyio
import anyio.lowlevel
from anyio.abc import ObjectReceiveStream

if TYPE_CHECKING:
    from ._bridge import StreamRoute

__all__ = ["ItemStream", "Subscription"]

T_co = TypeVar("T_co", covariant=True)

_CLOSED: collections.deque[object] = collections.deque(maxlen=0)  # stays empty

#: The fast path of ``receive`` hands out buffered items without yielding to
#: the event loop. Every ``CHECK_EVERY`` items it looks at the clock and
#: checkpoints if ``CHECKPOINT_INTERVAL`` seconds have passed since the last
#: checkpoint (a wait for an empty buffer is one too): a busy stream still lets
#: other tasks run and cancellation still arrives within a few milliseconds.
#: Checkpointing more often costs throughput dearly: each checkpoint makes the
#: loop poll, which releases the GIL to the CPU-bound reader thread for a whole
#: switch interval (one per item: -60%; one per 128 items: -15%).
CHECK_EVERY = 32
CHECKPOINT_INTERVAL = 0.002


@final
class ItemStream(ObjectReceiveStream[T_co]):
    """The items of one subscription, as an anyio receive stream.

    Iterate it with ``async for``. It ends with :class:`anyio.EndOfStream`
    (``async for`` just stops) only when the subscription is closed; a TWS error
    for the request raises :class:`~ib_anyio.TWSError`, a lost connection
    :class:`~ib_anyio.ConnectionLost`, an overflowed buffer (policy ``"error"``)
    :class:`~ib_anyio.StreamOverflow`, each after the items buffered before it.

    Built by the client; do not instantiate it yourself.
    """

    __slots__ = ("_budget", "_buf", "_close", "_closed", "_deadline", "_route")

    def __init__(self, route: StreamRoute, close: Callable[[], None]) -> None:
        self._route = route
        # The route's buffer, or an empty one once closed: the fast path needs
        # one check only.
        self._buf: collections.deque[object] = route.buf
        self._close = close
        self._closed = False
        self._budget = CHECK_EVERY
        self._deadline = 0.0

    @property
    def req_id(self) -> int | None:
        """The TWS request id of this subscription (``None`` for id-less ones).

        A new one after the subscription is re-sent (see :class:`~ib_anyio.Gap`).
        """
        key = self._route.key
        return key if isinstance(key, int) and key >= 0 else None

    @property
    def dropped(self) -> int:
        """How many items were discarded because the consumer fell behind."""
        return self._route.dropped

    @property
    def buffered(self) -> int:
        """How many items are waiting to be received."""
        return len(self._route.buf)

    def receive_nowait(self) -> T_co:
        """Return the next buffered item, or raise :class:`anyio.WouldBlock`."""
        if self._closed:
            raise anyio.ClosedResourceError
        route = self._route
        if route.buf:
            item: Any = route.buf.popleft()
            return item  # type: ignore[no-any-return]
        if route.error is not None:
            raise route.error
        raise anyio.WouldBlock

    async def receive(self) -> T_co:
        buf = self._buf
        if buf:
            self._budget -= 1
            if self._budget <= 0:
                await self._maybe_checkpoint()
            item: Any = buf.popleft()
            return item  # type: ignore[no-any-return]
        return await self._receive_slow()

    async def __anext__(self) -> T_co:
        # receive() inlined: this is the hot path of ``async for``.
        buf = self._buf
        if buf:
            self._budget -= 1
            if self._budget <= 0:
                await self._maybe_checkpoint()
            item: Any = buf.popleft()
            return item  # type: ignore[no-any-return]
        try:
            return await self._receive_slow()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def _maybe_checkpoint(self) -> None:
        self._budget = CHECK_EVERY
        now = time.monotonic()
        if now >= self._deadline:
            await anyio.lowlevel.checkpoint()
            self._deadline = time.monotonic() + CHECKPOINT_INTERVAL

    async def _receive_slow(self) -> T_co:
        route = self._route
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            if route.buf:
                item: Any = route.buf.popleft()
                return item  # type: ignore[no-any-return]
            if route.error is not None:
                raise route.error
            if route.finished:
                raise anyio.EndOfStream
            await route.wait()  # a checkpoint
            self._deadline = time.monotonic() + CHECKPOINT_INTERVAL

    async def aclose(self) -> None:
        """Stop receiving and cancel the TWS subscription (once)."""
        if not self._closed:
            self._closed = True
            self._buf = _CLOSED
            self._close()
        await anyio.lowlevel.checkpoint()


@final
class Subscription(Generic[T_co]):
    """A streaming request, opened with ``async with``.

    ``async with client.req_mkt_data(contract) as ticks:`` sends the request,
    and ``ticks`` is an :class:`ItemStream`. Leaving the block in any way
    (normally, by exception, by cancellation) sends the TWS cancel exactly
    once and stops routing the request's callbacks.

    Requests that stream or answer once depending on a flag
    (``req_mkt_data(snapshot=True)``) return an object you ``await`` instead;
    using the wrong form raises :class:`TypeError`.

    Built by the client; do not instantiate it yourself.
    """

    __slots__ = ("_before", "_name", "_oneshot", "_open", "_release", "_stream", "_usage")

    def __init__(
        self,
        name: str,
        open_: Callable[[], ItemStream[T_co]],
        *,
        oneshot: Callable[[], Generator[Any, None, Any]] | None = None,
        usage: str = "",
        before: Callable[[], Awaitable[Callable[[], None] | None]] | None = None,
    ) -> None:
        # Awaited before opening: the permit to send (pacing); it may give a
        # function to call once the request is no longer open (historical data).
        self._before = before
        self._release: Callable[[], None] | None = None
        self._name = name
        self._open = open_
        self._oneshot = oneshot
        self._usage = usage
        self._stream: ItemStream[T_co] | None = None

    async def __aenter__(self) -> ItemStream[T_co]:
        if self._oneshot is not None:
            raise TypeError(self._usage)
        if self._stream is not None:
            raise RuntimeError(f"{self._name}(): this subscription was already opened")
        release = await self._before() if self._before is not None else None
        try:
            await anyio.lowlevel.checkpoint_if_cancelled()
            self._stream = self._open()
        except BaseException:
            if release is not None:
                release()
            raise
        self._release = release
        return self._stream

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stream is not None:
            with anyio.CancelScope(shield=True):
                await self._stream.aclose()
        if self._release is not None:
            self._release()
            self._release = None

    def __await__(self) -> Generator[Any, None, Any]:
        if self._oneshot is None:
            raise TypeError(self._usage)
        return self._oneshot()
