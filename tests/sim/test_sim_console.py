"""The fault console of ``ib-anyio sim``: each line a command on ``server.faults``,
driven here with lines against a server with a real ib_anyio client connected."""

from __future__ import annotations

import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

import ib_anyio
from ib_anyio import items, sim
from ib_anyio.sim._console import COMMANDS, run_console
from ib_anyio.sim._server import SimServer, max_version
from tests.helpers import stock

WAIT = 10  # seconds: a bound on what should take milliseconds


@pytest.fixture
def server_version() -> int:
    """The console does not depend on the protocol version: the newest only."""
    return max_version()


async def _lines(lines: tuple[str, ...]) -> AsyncIterator[str]:
    for line in lines:
        yield line


async def console(server: SimServer, *lines: str) -> list[str]:
    """Run ``lines`` on the console; return what it wrote."""
    out: list[str] = []
    with anyio.fail_after(WAIT):
        await run_console(server, _lines(lines), out.append)
    return out


def connect(server: SimServer) -> AbstractAsyncContextManager[ib_anyio.Client]:
    return ib_anyio.connect(server.host, server.port, client_id=1, timeout=WAIT)


async def test_drop_targets_one_client_and_ends_its_streams(server: SimServer) -> None:
    async with connect(server) as client, client.req_mkt_data(stock()) as ticks:
        with anyio.fail_after(WAIT):
            await ticks.receive()
        assert await console(server, "drop 2", "connections") == [
            "ok: drop: 0 connections of client 2",
            "ok: connections: 1 connection: #1 client 1",
        ]
        assert client.is_connected
        assert await console(server, "drop 1") == ["ok: drop: 1 connection of client 1"]
        with anyio.fail_after(WAIT), pytest.raises(ib_anyio.ConnectionLost):
            async for _ in ticks:
                pass
    assert server.connections == 0


async def test_outage_refuses_connections_until_restore(server: SimServer) -> None:
    async with connect(server) as client:
        assert await console(server, "outage") == [
            "ok: outage: closed 1 connection; refusing every client until restore"
        ]
        with anyio.fail_after(WAIT), pytest.raises(ib_anyio.ConnectionLost):
            await client.req_current_time()
    with anyio.fail_after(WAIT), pytest.raises(ib_anyio.ConnectionRejected):
        async with connect(server):
            pass
    assert await console(server, "restore") == ["ok: restore: accepting API connections"]
    async with connect(server) as client:
        with anyio.fail_after(WAIT):
            await client.req_current_time()


async def test_refuse_api_on_and_off(server: SimServer) -> None:
    assert await console(server, "refuse-api on") == ["ok: refuse-api: refuse_api is on"]
    with anyio.fail_after(WAIT), pytest.raises(ib_anyio.ConnectionRejected):
        async with connect(server):
            pass
    assert await console(server, "refuse-api off") == ["ok: refuse-api: refuse_api is off"]
    async with connect(server) as client:
        with anyio.fail_after(WAIT):
            await client.req_current_time()


async def test_connectivity_lost_data_lost_drops_market_data(server: SimServer) -> None:
    async with connect(server) as client, client.req_mkt_data(stock()) as ticks:
        with anyio.fail_after(WAIT):
            await ticks.receive()
        assert server._stream_count() == 1
        counts: list[tuple[str, int]] = []

        async def lines() -> AsyncIterator[str]:
            yield "connectivity-lost"
            yield "connectivity-restored data_maintained 1"
            yield "connectivity-lost data_lost"

        with anyio.fail_after(WAIT):
            # Counted as each answer is written, before the client can re-send.
            await run_console(
                server, lines(), lambda line: counts.append((line, server._stream_count()))
            )
        assert counts == [
            ("ok: connectivity-lost: 1 connection", 1),
            ("ok: connectivity-restored: 1 connection of client 1", 1),
            ("ok: connectivity-lost: 1 connection", 0),
        ]
        assert client.is_connected


async def test_tick_with_newer_fields(server: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.ignore("reqMktData")  # only the injected ticks come
    async with connect(server) as client, client.req_mkt_data(stock()) as ticks:
        with anyio.fail_after(WAIT):
            (request,) = await server.wait_for(lambda m: m.name == "reqMktData")
        req_id = request.fields["reqId"]
        (conn,) = server._conns.values()
        written: list[bytes] = []
        send_raw = conn.send_raw

        async def spy(data: bytes) -> None:
            written.append(data)
            await send_raw(data)

        monkeypatch.setattr(conn, "send_raw", spy)
        assert await console(server, f"tick {req_id}", f"tick {req_id} generic 49 2.5 newer 1") == [
            "ok: tick: 1 connection",
            "ok: tick: 1 connection of client 1",
        ]
        got = []
        with anyio.fail_after(WAIT):
            async for item in ticks:
                if isinstance(item, items.TickPrice | items.TickGeneric):
                    got.append(item)
                    if len(got) == 2:
                        break
        price, generic = got
        assert isinstance(price, items.TickPrice)
        assert (price.tick_type, price.price) == (250, 1.5)
        assert isinstance(generic, items.TickGeneric)
        assert (generic.tick_type, generic.value) == (49, 2.5)
        # only the second carries a field no ibapi knows (which ib_anyio ignores)
        assert [b"newer" in data for data in written] == [False, True]  # text or protobuf
        assert client.is_connected


async def test_stall_and_resume(server: SimServer) -> None:
    async with ib_anyio.connect(
        server.host, server.port, client_id=1, request_timeout=0.3
    ) as client:
        assert await console(server, "stall 1") == ["ok: stall: 1 connection of client 1"]
        with anyio.fail_after(WAIT), pytest.raises(ib_anyio.RequestTimeout):
            await client.req_current_time()
        assert await console(server, "resume") == ["ok: resume: 1 connection"]
        with anyio.fail_after(WAIT):
            await client.req_current_time()


@pytest.mark.parametrize("command", ["garbage", "huge-length", "truncated-frame"])
async def test_bad_frames_end_the_client(server: SimServer, command: str) -> None:
    async with connect(server) as client, client.req_mkt_data(stock()) as ticks:
        with anyio.fail_after(WAIT):
            await ticks.receive()
        assert await console(server, "unknown-message", command) == [
            "ok: unknown-message: 1 connection",
            f"ok: {command}: 1 connection",
        ]
        with anyio.fail_after(WAIT), pytest.raises(ib_anyio.ProtocolError):
            async for _ in ticks:
                pass


async def test_quote(server: SimServer) -> None:
    (answer,) = await console(server, "quote AAPL bid=100 ask=100.2 last=100.1 bid_size=7")
    assert answer.startswith("ok: quote: AAPL: Quote(bid=100.0, ask=100.2, last=100.1, bid_size=7")
    aapl = next(i for i in sim.UNIVERSE if i.symbol == "AAPL" and i.sec_type == "STK")
    quote = server.market.quote(aapl)
    assert (quote.bid, quote.ask, quote.last, quote.bid_size) == (100.0, 100.2, 100.1, 7)


async def test_bad_input_answers_an_error_and_the_console_goes_on(server: SimServer) -> None:
    async with connect(server):
        out = await console(
            server,
            "frobnicate 1",
            "drop one",
            "stall 1 2",
            "tick",
            "tick 1 price 250 cheap",
            "connectivity-lost lost",
            "connectivity-restored",
            "refuse-api maybe",
            "quote AAPL bid",
            "quote NOPE bid=1",
            "quote 'AAPL",
            "",
            "   # a comment",
            "connections",
        )
    usage = {name: command.usage for name, command in COMMANDS.items()}
    assert out == [
        f"error: unknown command 'frobnicate'; commands: {', '.join(COMMANDS)} (help: usage)",
        f"error: drop: client id must be an integer, not 'one'; usage: {usage['drop']}",
        f"error: stall: unexpected '1'; usage: {usage['stall']}",
        f"error: tick: missing REQ_ID; usage: {usage['tick']}",
        f"error: tick: a price tick's VALUE must be a number, not 'cheap'; usage: {usage['tick']}",
        "error: connectivity-lost: expected data_lost or data_maintained, not 'lost'; "
        f"usage: {usage['connectivity-lost']}",
        "error: connectivity-restored: missing data_lost or data_maintained; "
        f"usage: {usage['connectivity-restored']}",
        f"error: refuse-api: expected on or off; usage: {usage['refuse-api']}",
        "error: quote: expected NAME=VALUE with NAME one of bid, ask, last, bid_size, "
        f"ask_size, last_size; usage: {usage['quote']}",
        "error: quote: ValueError: no instrument of the simulated universe match 'NOPE'",
        "error: No closing quotation",
        "ok: connections: 1 connection: #1 client 1",
    ]
    assert not server.faults.refuse_api


async def test_help_lists_every_command(server: SimServer) -> None:
    out = await console(server, "help")
    assert out[0] == "ok: help: commands:"
    assert [line.split()[0] for line in out[1:]] == list(COMMANDS)
    for line, command in zip(out[1:], COMMANDS.values(), strict=True):
        assert command.usage in line


async def test_cli_console_on_stdin_and_serving_after_its_end() -> None:
    """``ib-anyio sim``: commands on stdin; at stdin's end it serves on until Ctrl-C."""
    cmd = [sys.executable, "-m", "ib_anyio._cli", "sim", "--port", "0"]
    with anyio.fail_after(30):
        async with await anyio.open_process(cmd) as process:
            assert process.stdin is not None
            assert process.stdout is not None
            out = BufferedByteReceiveStream(process.stdout)

            async def line() -> str:
                return (await out.receive_until(b"\n", 65536)).decode()

            listening = await line()
            assert listening.startswith("Simulated TWS listening on 127.0.0.1:")
            port = int(listening.split()[4].split(":")[1])
            assert await line() == "Fault console: type help for the commands"
            await process.stdin.send(b"connections\nrefuse-api on\n")
            assert await line() == "ok: connections: 0 connections"
            assert await line() == "ok: refuse-api: refuse_api is on"
            await process.stdin.aclose()  # EOF: the console ends, the server serves on
            with pytest.raises(ib_anyio.ConnectionRejected):  # not ConnectionRefused
                async with ib_anyio.connect("127.0.0.1", port, timeout=WAIT):
                    pass
            process.send_signal(signal.SIGINT)
            assert await process.wait() == 0
