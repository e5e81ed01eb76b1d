"""The one module that owns ibapi's threads: socket, framing, routing, wake-ups.

ibapi's own ``EReader`` re-copies the rest of its buffer for every message
(``comm.read_msg``) and joins 4 KiB reads, which is O(n²) under bursts, and
hands every message to a second thread through a ``queue.Queue``. We keep
ibapi's ``Decoder`` and ``EWrapper`` dispatch intact but own the socket side:

* a **reader thread** receives large chunks, frames them linearly (4-byte
  length prefix; message id as the first text field, or from server version
  201 as a 4-byte binary id, protobuf when the id exceeds 200) and calls the
  decoder directly, in the same thread;
* the generated ``EWrapper`` callbacks build one attrs item each and
  :meth:`Route.push` appends it to the route's deque; routes whose consumer is
  waiting are collected, and after each received chunk **one**
  ``run_sync_soon`` on the event loop wakes them all;
* a **writer thread** does the blocking ``sendall``: ``EClient`` methods called
  on the event loop only enqueue bytes, so the loop never blocks on a write.
  The queue is unbounded by design: a peer that stops reading makes it grow by
  what the caller sends (requests are small, and paced), never blocks the
  loop, and is delivered in order once the peer reads again; a peer that never
  does is noticed by the requests' ``request_timeout``, and closing the
  connection discards the queue.

Bad input from TWS: a length prefix above ibapi's ``MAX_MSG_LEN`` (16 MiB;
garbage bytes read as a header are nearly always such a length), or a close in
the middle of a frame, raises :class:`~ib_anyio.ProtocolError` at once (nothing
is buffered for the announced length): the frame boundaries are lost, so the
connection is closed and every open route ends with that error. A well-framed
message with an id the installed ibapi does not know (a newer TWS) is logged
once per id and skipped; the next message is read as usual.

A slow consumer never stalls the reader thread: each stream has a bounded
buffer with a documented overflow policy (see :class:`StreamRoute`).
"""

from __future__ import annotations

import collections
import contextlib
import inspect
import logging
import queue
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal

import anyio
import anyio.lowlevel
from ibapi.client import EClient
from ibapi.decoder import Decoder, HandleInfo
from ibapi.wrapper import EWrapper

from ._errors import ConnectionLost, ProtocolError, StreamOverflow
from ._pacing import PACING_WINDOW

__all__ = ["Bridge", "CollectRoute", "Route", "StreamRoute", "WrapperBase"]

logger = logging.getLogger("ib_anyio")

OverflowPolicy = Literal["error", "drop_oldest"]

#: From this server version on, message ids are 4-byte binary ints (ibapi 10.x).
MIN_SERVER_VER_PROTOBUF = 201
PROTOBUF_MSG_ID = 200
#: ibapi's ``MAX_MSG_LEN`` (``ibapi.const``): the longest frame TWS sends or accepts.
MAX_MSG_LEN = 0xFFFFFF

_DECODER_TAKES_MSG_ID = "msgId" in inspect.signature(Decoder.interpret).parameters
_unpack_size = struct.Struct(">I").unpack_from
_RECV_SIZE = 1 << 18


class Route:
    """Where the callbacks for one request id (or channel) go.

    ``push`` and ``end`` run on the reader thread (or, for errors ibapi raises
    while sending, on the event loop); everything else on the event loop.

    Waking without losing a wake-up: a waiting consumer publishes its event,
    then sets ``_wake_needed``, then looks at the buffer once more; the reader
    appends, then looks at ``_wake_needed``. Whichever comes second sees the
    other's write.
    """

    __slots__ = ("_bridge", "_waiter", "_wake_needed", "error", "finished", "key")

    def __init__(self, bridge: Bridge, key: int | str) -> None:
        self._bridge = bridge
        self.key = key
        self._waiter: anyio.Event | None = None
        self._wake_needed = False
        self.error: BaseException | None = None
        self.finished = False

    def push(self, item: object) -> None:
        raise NotImplementedError

    def end(self, item: object) -> None:
        raise NotImplementedError

    def fail(self, exc: BaseException) -> None:
        """End the route with ``exc`` (delivered after what is already buffered)."""
        if not self.finished:
            self.error = exc
            self.finished = True
            self._notify()

    def _ready(self) -> bool:
        return self.finished

    def _notify(self) -> None:
        if self._wake_needed:
            self._wake_needed = False
            self._bridge._schedule_wake(self)

    def _wake(self) -> None:
        """Event loop: wake the consumer, if it still waits."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            waiter.set()

    async def wait(self) -> None:
        """Event loop: wait until ``_ready()``; a checkpoint in every case."""
        waiter = anyio.Event()
        self._waiter = waiter
        self._wake_needed = True
        if self._ready():
            self._wake_needed = False
            self._waiter = None
            await anyio.lowlevel.checkpoint()
            return
        try:
            await waiter.wait()
        finally:
            self._wake_needed = False
            self._waiter = None


class CollectRoute(Route):
    """A one-shot request: gathers items until its end (``single``: the first item)."""

    __slots__ = ("items", "single")

    def __init__(self, bridge: Bridge, key: int | str, *, single: bool) -> None:
        super().__init__(bridge, key)
        self.items: list[object] = []
        self.single = single

    def push(self, item: object) -> None:
        if self.finished:
            return
        self.items.append(item)
        if self.single:
            self.finished = True
            self._notify()

    def end(self, item: object) -> None:
        if not self.finished:
            self.finished = True
            self._notify()


class StreamRoute(Route):
    """A subscription: a bounded FIFO that the consumer drains.

    When the buffer holds ``maxlen`` items and another arrives, the policy
    decides: ``"error"`` stops buffering and the stream raises
    :class:`~ib_anyio.StreamOverflow` once the consumer has taken what was
    buffered; ``"drop_oldest"`` discards the oldest item. Either way every
    discarded item is counted in ``dropped`` and the first drop is logged.
    End callbacks are delivered as ordinary items (they mark the end of an
    initial snapshot, e.g. ``HistoricalDataEnd``).
    """

    __slots__ = ("_limit", "buf", "drop_oldest", "dropped", "maxlen")

    def __init__(
        self, bridge: Bridge, key: int | str, *, maxlen: int, overflow: OverflowPolicy
    ) -> None:
        super().__init__(bridge, key)
        self.drop_oldest = overflow == "drop_oldest"
        # With "drop_oldest", the deque itself discards the oldest item as it
        # appends (atomically: its length never dips below full while it does).
        self.buf: collections.deque[object] = collections.deque(
            maxlen=maxlen if self.drop_oldest else None
        )
        self.maxlen = maxlen
        self._limit = maxlen  # 0 once the route has finished: every push is refused
        self.dropped = 0

    def push(self, item: object) -> None:
        buf = self.buf
        if len(buf) >= self._limit and not self._make_room():
            return
        buf.append(item)
        if self._wake_needed:
            self._wake_needed = False
            self._bridge._schedule_wake(self)

    def end(self, item: object) -> None:
        """An end callback's item is delivered like any other. ``None`` (a done
        flag, or an answer that also ends a one-shot request) ends nothing here: in
        a stream it may close an initial batch (the historical ticks
        ``req_tick_by_tick_data`` starts with); a stream goes on until its consumer
        leaves."""
        if item is not None:
            self.push(item)

    def fail(self, exc: BaseException) -> None:
        self._limit = 0
        super().fail(exc)

    def _make_room(self) -> bool:
        """The buffer is full (or the stream has ended): apply the policy."""
        if self.finished:
            return False  # after an error or overflow: nothing more is delivered
        self.dropped += 1
        if self.dropped == 1:
            logger.warning(
                "stream for %r: consumer is %d items behind; %s",
                self.key,
                self.maxlen,
                "dropping the oldest items"
                if self.drop_oldest
                else "ending it with StreamOverflow",
            )
        if self.drop_oldest:
            return True  # the bounded deque drops the oldest item as we append
        self.fail(
            StreamOverflow(
                f"stream for request {self.key!r} overflowed: the consumer fell "
                f"{self.maxlen} items behind"
            )
        )
        return False

    def _ready(self) -> bool:
        return bool(self.buf) or self.finished


class WrapperBase(EWrapper):  # type: ignore[misc,unused-ignore]  # Any without stubs
    """The hand-written half of the EWrapper; the generated half subclasses it.

    Holds the routing table and handles ``error`` (whose signature differs
    between ibapi versions), ``connectAck`` and ``connectionClosed``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._routes: dict[int | str, Route] = {}
        #: The latest ``nextValidId`` TWS sent (on connect, and for ``reqIds``).
        self.next_valid_id: int | None = None
        self._on_error: Callable[[int, int, int, str, str], None] = _no_error_handler

    def error(self, reqId: int, *args: Any) -> None:
        time, code, message, reject_json = _ERROR_ARGS(args)
        self._on_error(reqId, time, code, message, reject_json)

    def connectAck(self) -> None:
        pass

    def connectionClosed(self) -> None:
        pass


def _no_error_handler(req_id: int, time: int, code: int, message: str, reject_json: str) -> None:
    logger.warning("TWS error %s for request %s: %s", code, req_id, message)


def _error_arg_parser() -> Callable[[tuple[Any, ...]], tuple[int, int, str, str]]:
    """Adapt to ``EWrapper.error``'s signature of the installed ibapi.

    9.81: ``(reqId, errorCode, errorString)``; 10.x adds ``errorTime`` before
    the code and ``advancedOrderRejectJson`` after the text.
    """
    names = list(inspect.signature(EWrapper.error).parameters)[2:]
    has_time = bool(names) and names[0] == "errorTime"

    def parse(args: tuple[Any, ...]) -> tuple[int, int, str, str]:
        if has_time:
            time, code, message, *rest = args
        else:
            time = 0
            code, message, *rest = args
        return int(time), int(code), str(message), str(rest[0]) if rest else ""

    return parse


_ERROR_ARGS = _error_arg_parser()


class _Conn:
    """What ``EClient`` sees as its connection: sends go to the writer thread."""

    def __init__(self, bridge: Bridge) -> None:
        self._bridge = bridge

    def sendMsg(self, msg: bytes) -> None:
        self._bridge.write(msg)

    def isConnected(self) -> bool:
        return self._bridge._writable

    def disconnect(self) -> None:
        pass


class _Link:
    """One TCP connection to TWS: its socket, outgoing queue and our two threads.

    A :class:`Bridge` has one link at a time; reconnecting replaces it.
    """

    __slots__ = (
        "binary_ids",
        "closing",
        "initial",
        "outbox",
        "reader",
        "reader_done",
        "sock",
        "started",
        "stopping",
        "writer",
    )

    def __init__(self, sock: socket.socket, initial: bytes, binary_ids: bool) -> None:
        self.sock = sock
        self.initial = initial
        self.binary_ids = binary_ids
        self.closing = False
        self.started = False  # the API session started (nextValidId, managedAccounts)
        self.outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.reader_done = anyio.Event()
        self.stopping = threading.Event()  # wakes a writer waiting for the rate limit
        self.reader: threading.Thread | None = None
        self.writer: threading.Thread | None = None


class Bridge:
    """The ``EClient``, the routing table and the wake-ups of one client; the
    socket and the two threads of its current connection (a :class:`_Link`).

    Built by :func:`ib_anyio.connect`; :meth:`attach` gives it a connected
    socket (again after a reconnect), :meth:`aclose` stops it.
    """

    def __init__(
        self,
        wrapper: WrapperBase,
        *,
        client_id: int,
        host: str,
        port: int,
        optional_capabilities: str = "",
    ) -> None:
        self.wrapper = wrapper
        self.host, self.port = host, port
        self.server_version = 0
        self.connection_time = ""
        #: Whether requests may be sent: the API session has started on the
        #: current connection (:meth:`session_started`), and it is up.
        self.connected = False
        self._writable = False  # the current connection is up (the handshake may write)
        #: Why the connection ended, once it has.
        self.lost: ConnectionLost | None = None
        #: Called on the event loop when the connection drops (not when closed by us):
        #: by default every open route ends with the :class:`ConnectionLost`.
        self.on_lost: Callable[[ConnectionLost], None] = self.fail_all
        #: Messages the writer thread puts on the wire in any one second, at most
        #: (``None``: no limit); ``connect(max_msg_rate=...)`` sets it.
        self.max_wire_rate: int | None = None
        self._link: _Link | None = None
        self._to_wake: list[Route] = []
        self._wake_lock = threading.Lock()
        self._token = anyio.lowlevel.current_token()
        self._loop_thread = threading.get_ident()

        ec = EClient(wrapper)
        ec.conn = _Conn(self)
        ec.host, ec.port, ec.clientId = host, port, client_id
        if optional_capabilities:
            ec.optCapab = optional_capabilities
        self.unknown_msg_ids: set[int] = set()
        #: The callbacks whose messages came with more fields than ibapi reads.
        self.newer_fields: set[str] = set()
        self.eclient = ec

    # -- lifecycle (event loop) ------------------------------------------

    def attach(
        self,
        sock: socket.socket,
        *,
        server_version: int,
        connection_time: str,
        initial: bytes = b"",
    ) -> None:
        """Start reading and writing ``sock``, a connection past the version handshake."""
        assert self._link is None or self._link.reader_done.is_set(), "attach over a live link"
        ec = self.eclient
        ec.serverVersion_ = server_version
        ec.connTime = connection_time
        ec.connState = EClient.CONNECTED
        ec.decoder = Decoder(self.wrapper, server_version)
        _skip_unknown_ids(ec.decoder, self.unknown_msg_ids)
        _ignore_newer_fields(ec.decoder, self.newer_fields)
        self.server_version = server_version
        self.connection_time = connection_time
        binary_ids = server_version >= MIN_SERVER_VER_PROTOBUF and _DECODER_TAKES_MSG_ID
        link = _Link(sock, initial, binary_ids)
        where = f"{self.host}:{self.port}"
        link.reader = threading.Thread(
            target=self._read_loop, args=(link,), name=f"ib_anyio reader {where}", daemon=True
        )
        link.writer = threading.Thread(
            target=self._write_loop, args=(link,), name=f"ib_anyio writer {where}", daemon=True
        )
        self._link = link
        self.lost = None
        self._writable = True
        link.writer.start()
        link.reader.start()

    def session_started(self) -> bool:
        """The API session has started on the current connection: requests may go.

        Returns:
            Whether the connection is still up (else it dropped while starting).
        """
        assert self._link is not None
        if not self._writable:
            return False
        self._link.started = True
        self.connected = True
        return True

    async def aclose(self) -> None:
        """Close the connection and wait for both threads to finish; every route ends."""
        await self.close_link()
        self.fail_all(self.lost if self.lost is not None else ConnectionLost("connection closed"))

    async def close_link(self) -> None:
        """Close the current connection (if any) and join its threads.

        Idempotent; the routes of a connection closed here end with
        :class:`ConnectionLost` (one that dropped by itself went to :attr:`on_lost`).
        """
        link = self._link
        if link is None:
            return
        if not link.reader_done.is_set():
            link.closing = True
        self.connected = self._writable = False
        with contextlib.suppress(OSError):  # already closed by the peer
            link.sock.shutdown(socket.SHUT_RDWR)
        link.stopping.set()
        link.outbox.put(None)
        with anyio.CancelScope(shield=True):
            await link.reader_done.wait()
        assert link.reader is not None
        assert link.writer is not None
        link.reader.join()
        link.writer.join()
        link.sock.close()

    def fail_all(self, lost: ConnectionLost) -> None:
        """End every open route with ``lost``."""
        for route in list(self.wrapper._routes.values()):
            route.fail(lost)

    # -- writing --------------------------------------------------------

    def write(self, msg: bytes) -> None:
        link = self._link
        if not self._writable or link is None:
            raise self.lost or ConnectionLost("not connected to TWS")
        link.outbox.put(msg)

    def _write_loop(self, link: _Link) -> None:
        outbox, sock = link.outbox, link.sock
        limit = self.max_wire_rate
        sent: collections.deque[float] = collections.deque()  # when each message went out
        while True:
            msg = outbox.get()
            if msg is None:
                return
            chunks = [msg]
            while True:  # coalesce what is already queued into one sendall
                try:
                    more = outbox.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    outbox.put(None)
                    break
                chunks.append(more)
            try:
                if limit is None:
                    sock.sendall(b"".join(chunks))
                    continue
                # TWS's limit, enforced on the wire as well: the event loop's pacer
                # keeps below it, but a writer thread that could not run for a while
                # (a loaded machine, a long-held GIL) would otherwise send the
                # messages of two windows at once, and TWS disconnects at once.
                while chunks:
                    now = time.monotonic()
                    while sent and sent[0] <= now - PACING_WINDOW:
                        sent.popleft()
                    room = limit - len(sent)
                    if room <= 0:
                        if link.stopping.wait(sent[0] + PACING_WINDOW - now):
                            return  # closing: what is queued is discarded
                        continue
                    batch, chunks = chunks[:room], chunks[room:]
                    sock.sendall(b"".join(batch))
                    sent.extend([now] * len(batch))
            except OSError:
                return  # the reader sees the broken socket and reports it

    # -- reading (reader thread) ----------------------------------------

    def _read_loop(self, link: _Link) -> None:
        exc: BaseException | None = None
        lost: ConnectionLost
        try:
            self._read_frames(link)
        except OSError as e:  # ProtocolError too (a ConnectionError)
            exc = e
        except BaseException as e:  # a bug of ours: report it, never die silently
            logger.exception("ib_anyio reader thread failed")
            exc = e
        finally:
            if self._link is link:
                self.connected = self._writable = False
            if isinstance(exc, ProtocolError) and not link.closing:
                logger.error("ib_anyio: closing the connection to TWS: %s", exc)
                lost = exc
            else:
                reason = "connection closed" if link.closing else "TWS closed the connection"
                lost = ConnectionLost(f"{reason}{f': {exc}' if exc else ''}")
                lost.__cause__ = exc
            with contextlib.suppress(OSError):  # the writer thread and TWS see it closed
                link.sock.shutdown(socket.SHUT_RDWR)
            link.stopping.set()
            link.outbox.put(None)  # the writer thread ends too
            self._call_soon(self._finish_reader, link, lost)

    def _read_frames(self, link: _Link) -> None:
        """Receive, frame linearly and decode, all in this thread (the hot loop)."""
        sock, decoder = link.sock, self.eclient.decoder
        interpret = decoder.interpret
        # ibapi 9.x has no protobuf, and never sees binary ids (server version < 201).
        process_protobuf: Callable[[bytes, int], None] = getattr(
            decoder, "processProtoBuf", _no_protobuf
        )
        binary_ids, takes_msg_id = link.binary_ids, _DECODER_TAKES_MSG_ID
        unpack = _unpack_size
        pending, chunk = link.initial, b""
        while True:
            data = pending + chunk if pending else chunk
            end = len(data)
            pos = 0
            while end - pos >= 4:
                (size,) = unpack(data, pos)
                if size > MAX_MSG_LEN:
                    raise _bad_length(size, data, pos)
                start = pos + 4
                stop = start + size
                if stop > end:
                    break
                pos = stop
                try:
                    if binary_ids:
                        (msg_id,) = unpack(data, start)
                        if msg_id > PROTOBUF_MSG_ID:
                            process_protobuf(data[start + 4 : stop], msg_id - PROTOBUF_MSG_ID)
                            continue
                        fields = data[start + 4 : stop].split(b"\0")
                        fields.pop()
                        interpret(fields, msg_id)
                    else:
                        fields = data[start:stop].split(b"\0")
                        fields.pop()
                        if takes_msg_id:
                            interpret(fields[1:], int(fields[0]))
                        else:
                            interpret(fields)
                except Exception:
                    # ibapi reports bad messages through error() before raising;
                    # a failing callback is a bug, but must not kill the connection.
                    logger.exception("ib_anyio: failed to handle a message from TWS")
            pending = data[pos:]
            if self._to_wake:
                self._flush_wakes()
            chunk = sock.recv(_RECV_SIZE)
            if not chunk:
                if pending and not link.closing:
                    raise _cut_off(pending)
                return

    # -- waking the event loop ------------------------------------------

    def _schedule_wake(self, route: Route) -> None:
        if threading.get_ident() == self._loop_thread:
            route._wake()
            return
        with self._wake_lock:
            self._to_wake.append(route)

    def _take_wakes(self) -> list[Route]:
        with self._wake_lock:
            routes, self._to_wake = self._to_wake, []
        return routes

    def _flush_wakes(self) -> None:
        self._call_soon(_wake_all, self._take_wakes())

    def _call_soon(self, func: Callable[..., object], *args: object) -> None:
        token = self._token
        try:
            token.backend_class.run_sync_soon(func, args, token.native_token)
        except Exception:  # the event loop is gone; nobody is waiting any more
            logger.debug("event loop finished; dropping a wake-up")

    def _finish_reader(self, link: _Link, lost: ConnectionLost) -> None:
        """Event loop: a reader thread has stopped; end what its connection carried."""
        _wake_all(self._take_wakes())
        link.reader_done.set()
        if link is not self._link:
            return
        self.lost = lost
        if link.closing:
            self.fail_all(lost)
            return
        if link.started:
            self.on_lost(lost)
            return
        # The session had not started: only the start-up was waiting on it.
        starting = self.wrapper._routes.get("__connect__")
        if starting is not None:
            starting.fail(lost)


def _bad_length(size: int, data: bytes, pos: int) -> ProtocolError:
    header = data[pos : pos + 16]
    return ProtocolError(
        f"TWS sent a frame header announcing {size} bytes, above ibapi's limit of "
        f"{MAX_MSG_LEN} (garbage, or a stream out of step); it began {header!r}"
    )


def _cut_off(pending: bytes) -> ProtocolError:
    if len(pending) < 4:
        what = f"{len(pending)} of a frame header's 4 bytes"
    else:
        (size,) = _unpack_size(pending, 0)
        what = f"{len(pending) - 4} of a frame's {size} bytes"
    return ProtocolError(f"TWS closed the connection in the middle of a frame: got {what}")


def _skip_unknown_ids(decoder: Decoder, seen: set[int]) -> None:
    """Give ``decoder`` a handler for every message id up to 200 that it does not know.

    Unknown ids (a TWS newer than the installed ibapi) are logged once each and
    skipped, instead of ibapi's error 505 for every one of them. The tables are
    filled once per connection, so the hot loop pays nothing for this.
    """

    def handler(msg_id: int, kind: str) -> HandleInfo:
        def skip(_decoder: Decoder, _fields: object) -> None:
            if msg_id not in seen:
                seen.add(msg_id)
                logger.warning(
                    "TWS sent %s message id %d, which the installed ibapi does not know; "
                    "skipping it (logged once per id)",
                    kind,
                    msg_id,
                )

        return HandleInfo(proc=skip)

    for attr, kind in (("msgId2handleInfo", "text"), ("msgId2handleInfoProtoBuf", "protobuf")):
        known: dict[int, HandleInfo] | None = getattr(decoder, attr, None)
        if known is None:  # ibapi 9.x: no protobuf
            continue
        table = dict(known)
        for msg_id in range(1, PROTOBUF_MSG_ID + 1):
            if msg_id not in table:
                table[msg_id] = handler(msg_id, kind)
        setattr(decoder, attr, table)


#: Fields before a message's arguments where ``interpretWithSignature`` looks:
#: the version (10.x), or the message id and the version (9.x).
_LEADING_FIELDS = 1 if _DECODER_TAKES_MSG_ID else 2


def _ignore_newer_fields(decoder: Decoder, seen: set[str]) -> None:
    """Let ``decoder`` read messages that carry more fields than the installed ibapi knows.

    ibapi reads most messages field by field and ignores what follows; but the
    ones it maps straight onto an ``EWrapper`` method (``tickString``,
    ``tickGeneric``, ``currentTime``...) it drops with an error when a newer
    TWS appends a field. Here the extra fields are cut off instead (logged once
    per callback), and the message is delivered.
    """
    interpret: Callable[[list[bytes], HandleInfo], None] = decoder.interpretWithSignature

    def tolerant(fields: list[bytes], info: HandleInfo) -> None:
        params = info.wrapperParams
        if params is not None:
            expected = _LEADING_FIELDS + len(params) - 1  # ``self`` is no field
            if len(fields) > expected:
                name = getattr(info.wrapperMeth, "__name__", "?")
                if name not in seen:
                    seen.add(name)
                    logger.warning(
                        "TWS sent %s with %d fields more than the installed ibapi reads; "
                        "ignoring them (logged once per message)",
                        name,
                        len(fields) - expected,
                    )
                fields = fields[:expected]
        interpret(fields, info)

    setattr(decoder, "interpretWithSignature", tolerant)  # noqa: B010 - an instance override


def _no_protobuf(payload: bytes, msg_id: int) -> None:
    raise RuntimeError(f"protobuf message {msg_id} for an ibapi without protobuf support")


def _wake_all(routes: Iterable[Route]) -> None:
    for route in routes:
        route._wake()
