"""Connecting, closing, and losing the connection, end to end against the simulator."""

from __future__ import annotations

import logging
import re
import socket
import threading

import anyio
import pytest
from ibapi.server_versions import MAX_CLIENT_VER

import ib_anyio
from ib_anyio import sim
from tests.helpers import stock


def _ib_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("ib_anyio")]


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


async def test_connect_to_closed_port_fails_fast() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        anyio.fail_after(5),
        pytest.raises(
            ib_anyio.ConnectionFailed, match=r"^could not connect to TWS at 127\.0\.0\.1:\d+: "
        ) as info,
    ):
        async with ib_anyio.connect("127.0.0.1", port):
            pytest.fail("connected to a closed port")
    assert isinstance(info.value, ConnectionError)


async def test_connect_times_out_without_handshake() -> None:
    # A server that accepts but never answers the handshake.
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:

        async def hold(stream: anyio.abc.SocketStream) -> None:
            async with stream:
                await anyio.sleep_forever()

        tg.start_soon(listener.serve, hold)
        with pytest.raises(
            ib_anyio.ConnectionFailed, match=r"^no handshake from TWS at .* within 0\.2 s$"
        ):
            async with ib_anyio.connect("127.0.0.1", port, timeout=0.2):
                pytest.fail("connected without a handshake")
        tg.cancel_scope.cancel()


async def test_bad_connect_arguments() -> None:
    with pytest.raises(ValueError, match=r"^buffer_size must be at least 1, not 0$"):
        async with ib_anyio.connect(buffer_size=0):
            pass
    with pytest.raises(ValueError, match=r"^overflow must be 'error' or 'drop_oldest', not 'x'$"):
        async with ib_anyio.connect(overflow="x"):  # type: ignore[arg-type]
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
