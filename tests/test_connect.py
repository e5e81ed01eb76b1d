"""Connecting, closing, and losing the connection, end to end against the simulator."""

from __future__ import annotations

import logging
import re
import socket
import struct
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import pytest
from anyio.abc import SocketAttribute, SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream
from ibapi.server_versions import MAX_CLIENT_VER, MIN_CLIENT_VER

import ib_anyio
from ib_anyio import sim
from tests.helpers import stock

_API_HINT = (
    'is "Enable ActiveX and Socket Clients" on in its API settings, this address '
    "a trusted IP, and TWS logged in?"
)
_IN_USE = "Unable to connect as the client id is already in use. Retry with a unique client id."


def _ib_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("ib_anyio")]


# -- a scripted TWS on a raw listener, for what the simulator does not do ------------


def _frame(*fields: object) -> bytes:
    payload = b"".join(f"{f}\0".encode() for f in fields)
    return struct.pack(">I", len(payload)) + payload


async def _read_frame(received: BufferedByteReceiveStream) -> bytes:
    (size,) = struct.unpack(">I", await received.receive_exactly(4))
    return await received.receive_exactly(size)


async def _greeted(stream: SocketStream, version: int) -> BufferedByteReceiveStream:
    """Read the client's ``API\\0`` greeting and answer it with ``version``."""
    received = BufferedByteReceiveStream(stream)
    assert await received.receive_exactly(4) == b"API\0"
    await _read_frame(received)
    await stream.send(_frame(version, "20261125 22:00:00 UTC"))
    return received


@asynccontextmanager
async def _scripted_tws(script: Callable[[SocketStream], Awaitable[None]]) -> AsyncIterator[int]:
    """Listen on a free port; run ``script`` for each connection; yield the port."""

    async def handle(stream: SocketStream) -> None:
        async with stream:
            await script(stream)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        try:
            yield listener.extra(SocketAttribute.local_port)
        finally:
            tg.cancel_scope.cancel()


async def _refuse_session(stream: SocketStream, code: int, message: str) -> None:
    """Answer the handshake (version 100), then answer ``startApi`` with an error and close."""
    received = await _greeted(stream, MIN_CLIENT_VER)
    start_api = await _read_frame(received)
    assert start_api.startswith(b"71\0")  # START_API, text id below version 201
    await stream.send(_frame(4, 2, -1, code, message))  # ERR_MSG version 2, at version 100


async def test_connect_negotiates_and_announces_accounts(server: sim.SimServer) -> None:
    async with ib_anyio.connect(server.host, server.port, client_id=7) as client:
        assert client.is_connected
        assert client.server_version == min(sim.SIM_MAX_VERSION, MAX_CLIENT_VER)
        assert client.managed_accounts == ("DU1234567",)
        assert len(_ib_threads()) == 2
    started = [m for m in server.received if m.name == "startApi"]
    assert [m.client_id for m in started] == [7]
    assert not client.is_connected


async def test_no_thread_left_behind(server: sim.SimServer) -> None:
    before = set(threading.enumerate())
    async with ib_anyio.connect(server.host, server.port) as client:
        await client.req_current_time()
    assert set(threading.enumerate()) == before
    assert _ib_threads() == []


async def test_connect_to_closed_port_is_refused_at_once() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        anyio.fail_after(5),  # far below connect's timeout: raised at once
        pytest.raises(ib_anyio.ConnectionRefused) as info,
    ):
        async with ib_anyio.connect("127.0.0.1", port, timeout=30):
            pytest.fail("connected to a closed port")
    assert str(info.value) == (
        f"could not connect to TWS at 127.0.0.1:{port}: connection refused; "
        f"is TWS or IB Gateway running, with its API port at {port}?"
    )
    assert isinstance(info.value, ib_anyio.ConnectionFailed)
    assert isinstance(info.value, ConnectionRefusedError)
    assert _ib_threads() == []


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
async def test_accepted_then_closed_is_rejected_at_once(reset: bool) -> None:
    """TWS not accepting API connections: it accepts the socket and closes (or resets) it."""

    async def close_at_once(stream: SocketStream) -> None:
        if reset:  # close with RST instead of FIN
            raw = stream.extra(SocketAttribute.raw_socket)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await stream.aclose()

    async with _scripted_tws(close_at_once) as port:
        with anyio.fail_after(5), pytest.raises(ib_anyio.ConnectionRejected) as info:
            async with ib_anyio.connect("127.0.0.1", port, timeout=30):
                pytest.fail("connected without a handshake")
    assert str(info.value) == (
        f"TWS at 127.0.0.1:{port} closed the connection without answering the handshake: "
        f"{_API_HINT}"
    )
    assert isinstance(info.value, ib_anyio.ConnectionFailed)
    assert _ib_threads() == []


async def test_simulator_refusing_api_connections_is_rejected_at_once(
    server: sim.SimServer,
) -> None:
    async with ib_anyio.connect(server.host, server.port, client_id=1) as open_before:
        server.faults.refuse_api = True
        with anyio.fail_after(5), pytest.raises(ib_anyio.ConnectionRejected) as info:
            async with ib_anyio.connect(server.host, server.port, client_id=2, timeout=30):
                pytest.fail("connected to a TWS refusing API connections")
        assert str(info.value) == (
            f"TWS at {server.host}:{server.port} closed the connection without answering "
            f"the handshake: {_API_HINT}"
        )
        assert len(_ib_threads()) == 2  # the connection opened before only
        await open_before.req_current_time()  # untouched
        assert [m.name for m in server.received].count("refused") == 1
        server.faults.refuse_api = False
        async with ib_anyio.connect(server.host, server.port, client_id=2) as after:
            await after.req_current_time()
    assert _ib_threads() == []


async def test_closed_before_the_session_starts_is_rejected_at_once() -> None:
    async def close_on_start_api(stream: SocketStream) -> None:
        received = await _greeted(stream, MIN_CLIENT_VER)
        await _read_frame(received)  # startApi

    async with _scripted_tws(close_on_start_api) as port:
        with anyio.fail_after(5), pytest.raises(ib_anyio.ConnectionRejected) as info:
            async with ib_anyio.connect("127.0.0.1", port, timeout=30):
                pytest.fail("connected without a session")
    assert str(info.value) == (
        f"TWS at 127.0.0.1:{port} closed the connection before starting the API session: "
        f"{_API_HINT}"
    )
    assert isinstance(info.value.__cause__, ib_anyio.ConnectionLost)
    assert _ib_threads() == []


async def test_error_502_at_start_is_rejected() -> None:
    text = "Couldn't connect to TWS."

    async with _scripted_tws(lambda stream: _refuse_session(stream, 502, text)) as port:
        with anyio.fail_after(5), pytest.raises(ib_anyio.ConnectionRejected) as info:
            async with ib_anyio.connect("127.0.0.1", port, timeout=30):
                pytest.fail("connected after error 502")
    assert str(info.value) == (
        f"TWS at 127.0.0.1:{port} refused the session: TWS error 502 for request -1: {text}"
    )
    assert isinstance(info.value.__cause__, ib_anyio.TWSError)
    assert _ib_threads() == []


async def test_client_id_in_use_from_a_scripted_tws() -> None:
    async with _scripted_tws(lambda stream: _refuse_session(stream, 326, _IN_USE)) as port:
        with anyio.fail_after(5), pytest.raises(ib_anyio.ClientIdInUse) as info:
            async with ib_anyio.connect("127.0.0.1", port, client_id=5, timeout=30):
                pytest.fail("connected with a client id in use")
    err = info.value
    assert str(err) == f"TWS at 127.0.0.1:{port} refused client id 5: error 326: {_IN_USE}"
    assert (err.client_id, err.code, err.message) == (5, 326, _IN_USE)
    assert isinstance(err, ib_anyio.ConnectionFailed)
    assert isinstance(err.__cause__, ib_anyio.TWSError)
    assert _ib_threads() == []


async def test_other_refusal_at_start_is_a_connection_failure() -> None:
    text = "The API interface is currently in Read-Only mode."
    async with _scripted_tws(lambda stream: _refuse_session(stream, 321, text)) as port:
        with anyio.fail_after(5), pytest.raises(ib_anyio.ConnectionFailed) as info:
            async with ib_anyio.connect("127.0.0.1", port, timeout=30):
                pytest.fail("connected after an error")
    assert type(info.value) is ib_anyio.ConnectionFailed
    assert str(info.value) == (
        f"TWS at 127.0.0.1:{port} refused the session: TWS error 321 for request -1: {text}"
    )


async def test_client_id_in_use_on_the_simulator(server: sim.SimServer) -> None:
    async with ib_anyio.connect(server.host, server.port, client_id=3) as first:
        with anyio.fail_after(5), pytest.raises(ib_anyio.ClientIdInUse) as info:
            async with ib_anyio.connect(server.host, server.port, client_id=3, timeout=30):
                pytest.fail("connected with a client id in use")
        err = info.value
        assert str(err) == (
            f"TWS at {server.host}:{server.port} refused client id 3: error 326: {_IN_USE}"
        )
        assert (err.client_id, err.code, err.message) == (3, 326, _IN_USE)
        assert len(_ib_threads()) == 2  # the first connection's only
        assert first.is_connected
        await first.req_current_time()
    assert _ib_threads() == []
    # Once the first connection is gone, the id is free again.
    with anyio.fail_after(5):
        await server.wait_for(lambda m: m.name == "disconnect", count=2)
    async with ib_anyio.connect(server.host, server.port, client_id=3) as again:
        await again.req_current_time()
    started = [m.client_id for m in server.received if m.name == "startApi"]
    assert started == [3, 3, 3]


@pytest.mark.parametrize("version", [50, MIN_CLIENT_VER - 1, MAX_CLIENT_VER + 1])
async def test_server_version_ibapi_cannot_speak(version: int) -> None:
    async def answer(stream: SocketStream) -> None:
        await _greeted(stream, version)
        await anyio.sleep_forever()

    async with _scripted_tws(answer) as port:
        with anyio.fail_after(5), pytest.raises(ib_anyio.UnsupportedServerVersion) as info:
            async with ib_anyio.connect("127.0.0.1", port, timeout=30):
                pytest.fail("connected at an impossible version")
    advice = "upgrade TWS or IB Gateway" if version < MIN_CLIENT_VER else "install a newer ibapi"
    assert str(info.value) == (
        f"TWS at 127.0.0.1:{port} speaks server version {version}; the installed ibapi "
        f"{ib_anyio.ibapi_version()} speaks {MIN_CLIENT_VER} to {MAX_CLIENT_VER}: {advice}"
    )
    err = info.value
    assert (err.server_version, err.min_version, err.max_version) == (
        version,
        MIN_CLIENT_VER,
        MAX_CLIENT_VER,
    )
    assert _ib_threads() == []


async def test_connect_times_out_without_handshake() -> None:
    async def hold(stream: SocketStream) -> None:  # accepts, never answers
        await anyio.sleep_forever()

    async with _scripted_tws(hold) as port:
        with pytest.raises(ib_anyio.HandshakeTimeout) as info:
            async with ib_anyio.connect("127.0.0.1", port, timeout=0.2):
                pytest.fail("connected without a handshake")
    assert str(info.value) == f"no handshake from TWS at 127.0.0.1:{port} within 0.2 s"
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, ib_anyio.ConnectionFailed)
    assert _ib_threads() == []


async def test_connect_times_out_without_a_session() -> None:
    async def never_start(stream: SocketStream) -> None:
        await _greeted(stream, MIN_CLIENT_VER)
        await anyio.sleep_forever()

    async with _scripted_tws(never_start) as port:
        with pytest.raises(ib_anyio.HandshakeTimeout) as info:
            async with ib_anyio.connect("127.0.0.1", port, timeout=0.2):
                pytest.fail("connected without a session")
    assert str(info.value) == (
        f"TWS at 127.0.0.1:{port} did not start the API session within 0.2 s"
    )
    assert _ib_threads() == []


async def test_bad_connect_arguments() -> None:
    with pytest.raises(ValueError, match=r"^buffer_size must be at least 1, not 0$"):
        async with ib_anyio.connect(buffer_size=0):
            pass
    with pytest.raises(ValueError, match=r"^overflow must be 'error' or 'drop_oldest', not 'x'$"):
        async with ib_anyio.connect(overflow="x"):  # type: ignore[arg-type]
            pass
    with pytest.raises(ValueError, match=r"^request_timeout must be positive or None, not 0$"):
        async with ib_anyio.connect(request_timeout=0):
            pass


async def test_connection_notices_are_logged(
    server: sim.SimServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ib_anyio")
    async with ib_anyio.connect(server.host, server.port) as client:
        await client.req_current_time()  # the notices come before its answer
    notices = [r.getMessage() for r in caplog.records if "TWS notice" in r.getMessage()]
    assert any("2104" in n and "Market data farm connection is OK" in n for n in notices)


async def test_connection_lost_ends_streams_and_requests(server: sim.SimServer) -> None:
    async with ib_anyio.connect(server.host, server.port) as client:
        async with client.req_mkt_data(stock()) as ticks:
            await ticks.receive()
            await server.drop_connections()
            with anyio.fail_after(5), pytest.raises(ib_anyio.ConnectionLost):
                async for _ in ticks:
                    pass
        assert not client.is_connected
        with pytest.raises(ib_anyio.ConnectionLost):
            await client.req_current_time()
    assert _ib_threads() == []


async def test_connection_lost_fails_a_pending_one_shot(server: sim.SimServer) -> None:
    async with (
        ib_anyio.connect(server.host, server.port) as client,
        anyio.create_task_group() as tg,
    ):

        async def drop_when_asked() -> None:
            await server.wait_for(lambda m: m.name == "reqHeadTimeStamp")
            await server.drop_connections()

        tg.start_soon(drop_when_asked)
        server.ignore("reqHeadTimeStamp")  # recorded, never answered
        with anyio.fail_after(5), pytest.raises(ib_anyio.ConnectionLost):
            await client.req_head_time_stamp(stock(), "TRADES", True, 1)


async def test_connection_facts(client: ib_anyio.Client) -> None:
    assert client.is_connected
    assert re.fullmatch(r"\d{8} \d{2}:\d{2}:\d{2} \S+", client.connection_time)
    assert client.server_version >= 100
