"""The simulated TWS's fault modes, as the stock ibapi EClient or a raw socket sees them."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any

import anyio
import anyio.abc
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from sim_client import CLIENT_MAX, App, call, close

from ib_anyio.sim._faults import (
    CONNECTIVITY_LOST,
    GARBAGE,
    HUGE_LENGTH,
    RESTORED_DATA_LOST,
    RESTORED_DATA_MAINTAINED,
    UNKNOWN_MESSAGE_ID,
    UNKNOWN_TICK_TYPE,
)
from ib_anyio.sim._protocol import frame, read_frame, text_message
from ib_anyio.sim._server import SimServer

WAIT = 10.0


@pytest.fixture(params=sorted({v for v in (100, 201, CLIENT_MAX) if v <= CLIENT_MAX}))
def server_version(request: pytest.FixtureRequest) -> int:
    return int(request.param)


class GenericApp(App):
    """The recording client, also recording tickGeneric."""

    def tickGeneric(self, reqId: int, tickType: int, value: float) -> None:
        self._add("tickGeneric", reqId, tickType, value)


@pytest.fixture
async def app(server: SimServer) -> AsyncIterator[App]:
    client = GenericApp()
    await anyio.to_thread.run_sync(client.connect, server.host, server.port, 0)
    assert client.isConnected()
    client.thread = threading.Thread(target=client.run, daemon=True)
    client.thread.start()
    try:
        await client.wait_for("nextValidId")
        yield client
    finally:
        await close(client)


async def raw_client(
    server: SimServer, client_id: int = 0
) -> tuple[anyio.abc.SocketStream, BufferedByteReceiveStream]:
    """A raw socket at version 100, past the handshake and startApi's answers."""
    stream = await anyio.connect_tcp(server.host, server.port)
    await stream.send(b"API\0" + frame(b"v100..100"))
    reader = BufferedByteReceiveStream(stream)
    with anyio.fail_after(WAIT):
        await read_frame(reader)  # version, time
        await stream.send(text_message(71, (2, client_id, ""), 100))  # startApi
        for _ in range(5):  # nextValidId, managedAccounts, 3 farm notices
            await read_frame(reader)
    return stream, reader


def fill(sock: socket.socket, message: bytes) -> int:
    """Write ``message`` over and over without blocking until the socket takes no more
    (at most 1 GiB); returns the bytes written. Closes ``sock``."""
    sent = 0
    with sock, suppress(BlockingIOError):
        while sent < 1 << 30:
            sent += sock.send(message)
    assert sent < 1 << 30, "1 GiB written and the socket still takes more"
    return sent


async def read_to_end(reader: BufferedByteReceiveStream) -> bytes:
    """Everything until the peer closes the connection."""
    data = bytearray()
    with suppress(anyio.EndOfStream):
        while True:
            data += await reader.receive()
    return bytes(data)


async def test_drop_closes_the_connection(server: SimServer, app: App) -> None:
    await server.faults.drop()
    await app.wait_for("connectionClosed")
    assert server.connections == 0


async def test_stall_sends_nothing_until_resumed(server: SimServer, app: App) -> None:
    server.faults.stall()
    await call(app.reqCurrentTime)
    await server.wait_for(lambda m: m.name == "reqCurrentTime")
    server.faults.resume()
    await call(app.reqIds, 1)
    await app.wait_for("nextValidId", count=2)
    # The socket stayed open and in order: what was asked while stalled never came.
    assert app.of("currentTime") == []
    assert app.isConnected()


async def test_stop_reading_backs_up_the_clients_writes(server: SimServer, app: App) -> None:
    server.ignore("reqCurrentTime")
    stream, _ = await raw_client(server, client_id=1)
    fd = stream.extra(anyio.abc.SocketAttribute.raw_socket).fileno()
    sock = socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM)  # a dup, to write raw
    message = frame(b"49\x001\x00" + b"x" * 65_000 + b"\x00")  # reqCurrentTime, padded

    def read_so_far() -> int:
        return len([m for m in server.received if m.name == "reqCurrentTime" and m.conn == 2])

    async with stream:
        sock.setblocking(False)
        server.faults.stop_reading(client_id=1)
        sent = fill(sock, message)
        # A round trip on the other connection lets the server run meanwhile: it still
        # reads nothing more than the frame it was waiting for when told to stop.
        await call(app.reqIds, 1)
        await app.wait_for("nextValidId", count=2)
        assert read_so_far() <= 1 < sent // len(message)
        server.faults.resume_reading(client_id=1)
        with anyio.fail_after(WAIT):
            await server.wait_for(
                lambda m: m.name == "reqCurrentTime" and m.conn == 2, sent // len(message)
            )


async def test_truncated_frame_then_close(server: SimServer) -> None:
    stream, reader = await raw_client(server)
    async with stream:
        await server.faults.send_truncated_frame()
        with anyio.fail_after(WAIT):
            (size,) = struct.unpack("!I", await reader.receive_exactly(4))
            rest = await read_to_end(reader)
    assert 0 < len(rest) < size
    assert server.connections == 0


async def test_garbage_bytes(server: SimServer) -> None:
    stream, reader = await raw_client(server)
    async with stream:
        await server.faults.send_garbage()
        with anyio.fail_after(WAIT):
            assert await reader.receive_exactly(len(GARBAGE)) == GARBAGE
        assert server.connections == 1


async def test_absurd_length_prefix(server: SimServer) -> None:
    stream, reader = await raw_client(server)
    async with stream:
        await server.faults.send_huge_length()
        with anyio.fail_after(WAIT):
            (size,) = struct.unpack("!I", await reader.receive_exactly(4))
        assert size == HUGE_LENGTH == 2 << 30
        assert server.connections == 1


async def test_unknown_message_is_framed_and_skipped_by_ibapi(server: SimServer, app: App) -> None:
    await server.faults.send_unknown_message()
    await call(app.reqCurrentTime)
    await app.wait_for("currentTime")
    assert app.isConnected()


async def test_unknown_message_on_the_wire(server: SimServer) -> None:
    stream, reader = await raw_client(server)
    async with stream:
        await server.faults.send_unknown_message(fields=("1", "x"))
        with anyio.fail_after(WAIT):
            assert await read_frame(reader) == f"{UNKNOWN_MESSAGE_ID}\x001\x00x\x00".encode()


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("price", 1.5, ("tickPrice", 7, UNKNOWN_TICK_TYPE, 1.5)),
        ("size", 42, ("tickSize", 7, UNKNOWN_TICK_TYPE, 42)),
        ("string", "new", ("tickString", 7, UNKNOWN_TICK_TYPE, "new")),
        ("generic", 2.5, ("tickGeneric", 7, UNKNOWN_TICK_TYPE, 2.5)),
    ],
)
async def test_tick_type_newer_than_ibapi_reaches_the_wrapper(
    server: SimServer, app: App, kind: Any, value: Any, expected: tuple[Any, ...]
) -> None:
    await server.faults.send_tick(7, kind, value=value)
    events = await app.wait_for(expected[0], 7)
    assert events == [expected]
    from ibapi.ticktype import TickTypeEnum

    to_str = getattr(TickTypeEnum, "toStr", None) or TickTypeEnum.to_str  # 9.81: to_str
    assert to_str(UNKNOWN_TICK_TYPE).startswith("NOTFOUND")


@pytest.mark.parametrize(
    ("restored", "notices"),
    [
        (None, [CONNECTIVITY_LOST]),
        ("data_lost", [CONNECTIVITY_LOST, RESTORED_DATA_LOST]),
        ("data_maintained", [CONNECTIVITY_LOST, RESTORED_DATA_MAINTAINED]),
    ],
)
async def test_connectivity_notices(
    server: SimServer, app: App, restored: Any, notices: list[tuple[int, str]]
) -> None:
    await server.faults.connectivity_lost(restored)
    await app.wait(lambda _: any(e[2] == notices[-1][0] for e in app.of("error", -1)))
    got = [(e[2], e[3]) for e in app.of("error", -1) if e[2] in (1100, 1101, 1102)]
    assert got == notices
    assert app.isConnected()


async def test_refuse_api_closes_without_a_handshake_answer(server: SimServer) -> None:
    server.faults.refuse_api = True
    with anyio.fail_after(WAIT):
        stream = await anyio.connect_tcp(server.host, server.port)
        async with stream:
            await stream.send(b"API\0" + frame(b"v100..100"))
            with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
                await stream.receive()
        [refused] = await server.wait_for(lambda m: m.name == "refused")
    assert refused.client_id is None
    assert server.connections == 0
    server.faults.refuse_api = False
    stream, _ = await raw_client(server)
    await stream.aclose()
