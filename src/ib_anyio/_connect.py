"""``ib_anyio.connect``: handshake, then hand the socket to the bridge threads."""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.abc import SocketAttribute
from anyio.streams.buffered import BufferedByteReceiveStream
from ibapi.server_versions import MAX_CLIENT_VER, MIN_CLIENT_VER

from ._bridge import Bridge, CollectRoute, OverflowPolicy
from ._compat import adapt_wrapper
from ._errors import ConnectionFailed
from ._generated._client import Client
from ._generated._wrapper import GeneratedWrapper

__all__ = ["connect"]


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
    buffer_size: int = 100_000,
    overflow: OverflowPolicy = "error",
    optional_capabilities: str = "",
    connect_options: str = "",
) -> AsyncIterator[Client]:
    """Connect to TWS or IB Gateway (or :func:`ib_anyio.sim.serve`).

    ``async with ib_anyio.connect("127.0.0.1", 7497, client_id=1) as client:``
    connects, negotiates the protocol version, starts the API session and
    waits for TWS's first ``nextValidId`` and ``managedAccounts``. Leaving the
    block closes the connection and joins the reader and writer threads.

    Args:
        host: Where TWS or the gateway listens.
        port: Its API port (TWS: 7497 paper / 7496 live; gateway 4002 / 4001).
        client_id: This client's id; TWS refuses two connections with the same one.
        timeout: Seconds allowed for connecting and the handshake.
        buffer_size: Items each stream buffers for a consumer that falls behind.
        overflow: What happens when a stream's buffer is full: ``"error"``
            (default) ends the stream with :class:`~ib_anyio.StreamOverflow`
            after the buffered items; ``"drop_oldest"`` discards the oldest
            item. Both count discarded items in ``stream.dropped`` and log
            the first.
        optional_capabilities: Passed to TWS with ``startApi``.
        connect_options: Appended to the version range in the handshake
            (e.g. ``"+PACEAPI"``).

    Yields:
        The connected :class:`~ib_anyio.Client`.

    Raises:
        ConnectionFailed: TWS could not be reached, did not complete the
            handshake within ``timeout``, or refused the session (the
            :class:`~ib_anyio.TWSError` is the ``__cause__``).
        ValueError: For a bad argument.
    """
    if buffer_size < 1:
        raise ValueError(f"buffer_size must be at least 1, not {buffer_size}")
    if overflow not in ("error", "drop_oldest"):
        raise ValueError(f"overflow must be 'error' or 'drop_oldest', not {overflow!r}")
    where = f"{host}:{port}"
    sock, server_version, conn_time, leftover = await _handshake(
        host, port, timeout, connect_options
    )
    wrapper = _WrapperClass()
    bridge = Bridge(
        sock,
        wrapper,
        server_version=server_version,
        connection_time=conn_time,
        client_id=client_id,
        host=host,
        port=port,
        optional_capabilities=optional_capabilities,
        initial=leftover,
    )
    # The client routes errors from here on; a refusal during start-up fails `ready`.
    client = Client(bridge, buffer_size=buffer_size, overflow=overflow)
    ready = CollectRoute(bridge, "__connect__", single=False)
    wrapper._routes["__connect__"] = ready
    bridge.start()
    try:
        try:
            with anyio.fail_after(timeout):
                bridge.eclient.startApi()
                while not ready.finished:
                    await ready.wait()
        except TimeoutError:
            raise ConnectionFailed(
                f"TWS at {where} did not start the API session within {timeout} s"
            ) from None
        finally:
            del wrapper._routes["__connect__"]
        if ready.error is not None:
            raise ConnectionFailed(
                f"TWS at {where} refused the session: {ready.error}"
            ) from ready.error
        client.managed_accounts = tuple(wrapper.accounts or ())
        yield client
    finally:
        await bridge.aclose()


async def _handshake(
    host: str,
    port: int,
    timeout: float,  # noqa: ASYNC109
    connect_options: str,
) -> tuple[socket.socket, int, str, bytes]:
    """Connect and agree on a server version; return a blocking socket for the threads.

    The server answers the ``API\\0`` greeting with one frame of exactly two
    fields (server version, connection time) and sends nothing more until
    ``startApi``.
    """
    where = f"{host}:{port}"
    try:
        with anyio.fail_after(timeout):
            stream = await anyio.connect_tcp(host, port)
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
        raise ConnectionFailed(f"no handshake from TWS at {where} within {timeout} s") from None
    except (OSError, anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError) as exc:
        raise ConnectionFailed(f"could not connect to TWS at {where}: {exc}") from exc
    sock.setblocking(True)
    try:
        server_version = int(fields[0])
    except ValueError:
        sock.close()
        raise ConnectionFailed(f"TWS at {where} sent a bad server version: {fields[0]!r}") from None
    if server_version < MIN_CLIENT_VER:
        sock.close()
        raise ConnectionFailed(
            f"TWS at {where} speaks server version {server_version}; "
            f"ibapi needs >= {MIN_CLIENT_VER}"
        )
    return sock, server_version, fields[1].decode(errors="replace"), leftover
