"""Bad input from the other side, end to end against the simulator's fault modes.

The client keeps working where it can (unknown message ids and tick types, a
stall, a peer that stops reading, TWS's connectivity notices) and otherwise ends
every open request and stream with :class:`ib_anyio.ProtocolError` naming what
was wrong, leaving no thread or route behind.
"""

from __future__ import annotations

import logging
import struct
import threading
from collections.abc import Awaitable, Callable
from typing import Literal

import anyio
import pytest

import ib_anyio
from ib_anyio import items, sim
from ib_anyio.sim import _faults, _server
from tests.helpers import stock

WAIT = 5  # seconds: a bound on what should take milliseconds


def _ib_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("ib_anyio")]


# -- the client keeps working ---------------------------------------------------------


async def test_unknown_message_id_is_logged_once_and_skipped(
    server: sim.SimServer, client: ib_anyio.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ib_anyio")
    async with client.notices() as notices:
        for _ in range(3):
            await server.faults.send_unknown_message()
        await server.faults.send_unknown_message(msg_id=198)
        with anyio.fail_after(WAIT):
            await client.req_current_time()  # answered after the unknown messages
        assert notices.dropped == 0
    skipped = [r.getMessage() for r in caplog.records if "does not know" in r.getMessage()]
    assert skipped == [
        f"TWS sent text message id {msg_id}, which the installed ibapi does not know; "
        "skipping it (logged once per id)"
        for msg_id in (_faults.UNKNOWN_MESSAGE_ID, 198)
    ]
    # Not reported as ibapi's error 505 ("Fatal Error: Unknown message id.") either.
    assert not [r for r in caplog.records if "505" in r.getMessage()]
    assert client.is_connected


@pytest.mark.parametrize(
    ("kind", "value", "item_type", "field"),
    [
        ("price", 1.5, items.TickPrice, "price"),
        ("size", 7, items.TickSize, "size"),
        ("string", "new", items.TickString, "value"),
        ("generic", 2.5, items.TickGeneric, "value"),
    ],
)
async def test_unknown_tick_type_arrives_with_its_raw_type(
    server: sim.SimServer,
    client: ib_anyio.Client,
    kind: Literal["price", "size", "string", "generic"],
    value: float | str,
    item_type: type,
    field: str,
) -> None:
    server.ignore("reqMktData")  # only the injected tick comes
    async with client.req_mkt_data(stock()) as ticks:
        (request,) = await server.wait_for(lambda m: m.name == "reqMktData")
        req_id = request.fields["reqId"]
        await server.faults.send_tick(
            req_id, kind=kind, tick_type=_faults.UNKNOWN_TICK_TYPE, value=value
        )
        with anyio.fail_after(WAIT):
            item = await ticks.receive()
    assert isinstance(item, item_type)
    assert item.tick_type == _faults.UNKNOWN_TICK_TYPE  # type: ignore[attr-defined]
    got = getattr(item, field)
    assert got == value or str(got) == str(value) or float(got) == float(value)
    with anyio.fail_after(WAIT):
        await client.req_current_time()


@pytest.mark.parametrize("version", [176, _server.max_version()], ids=["text", "protobuf"])
@pytest.mark.parametrize("kind", ["price", "size", "string", "generic"])
async def test_fields_newer_than_ibapi_are_ignored(
    version: int,
    kind: Literal["price", "size", "string", "generic"],
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with (
        sim.serve(port=0, server_version=version) as server,
        ib_anyio.connect(server.host, server.port) as client,
    ):
        server.ignore("reqMktData")  # only the injected ticks come
        # CLOSE, VOLUME, LAST_TIMESTAMP, HALTED, as the kind; text tickPrices come
        # with a tickSize, which is skipped.
        tick_type = {"price": 9, "size": 8, "string": 45, "generic": 49}[kind]
        wanted, field = {
            "price": (items.TickPrice, "price"),
            "size": (items.TickSize, "size"),
            "string": (items.TickString, "value"),
            "generic": (items.TickGeneric, "value"),
        }[kind]
        async with client.req_mkt_data(stock()) as ticks:
            (request,) = await server.wait_for(lambda m: m.name == "reqMktData")
            req_id = request.fields["reqId"]
            await server.faults.send_tick(req_id, kind, tick_type, value=3, newer_fields=True)
            await server.faults.send_tick(req_id, kind, tick_type, value=4)
            got: list[float] = []
            with anyio.fail_after(WAIT):
                async for item in ticks:
                    if isinstance(item, wanted):
                        got.append(float(getattr(item, field)))
                        if len(got) == 2:
                            break
        assert got == [3.0, 4.0]
        assert client.is_connected
    # Not ibapi's "diff len fields and params" error (and the message dropped).
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_stalled_server_times_out_and_recovers(server: sim.SimServer) -> None:
    async with ib_anyio.connect(server.host, server.port, request_timeout=0.3) as client:
        server.faults.stall()
        with anyio.fail_after(WAIT), pytest.raises(ib_anyio.RequestTimeout) as info:
            await client.req_current_time()
        assert str(info.value) == "req_current_time() got no answer from TWS within 0.3 s"
        server.faults.resume()
        with anyio.fail_after(WAIT):
            await client.req_current_time()
        assert client.is_connected


def _padded_current_time(server_version: int) -> bytes:
    """A reqCurrentTime frame padded to 64 KiB, as the connection's version writes ids."""
    msg_id = struct.pack(">I", 49) if server_version >= 201 else b"49\0"
    payload = msg_id + b"1\0" + b"x" * 65_000 + b"\0"
    return struct.pack(">I", len(payload)) + payload


async def test_peer_that_stops_reading_never_blocks_the_loop(server: sim.SimServer) -> None:
    server.ignore("reqCurrentTime")
    count = 200  # ~13 MB: far more than the socket buffers hold
    async with ib_anyio.connect(server.host, server.port) as client:
        bridge = client._bridge
        frame = _padded_current_time(client.server_version)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await anyio.lowlevel.checkpoint()
                ticks += 1

        def read_so_far() -> int:
            return len([m for m in server.received if m.name == "reqCurrentTime"])

        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker)
            server.faults.stop_reading()
            with anyio.fail_after(WAIT):
                for _ in range(count):
                    bridge.write(frame)  # returns at once: the writer thread sends
                    await anyio.lowlevel.checkpoint()
                assert ticks > 0  # the other task ran meanwhile
                before = ticks
                # A round trip on another connection lets the server run: it has read at
                # most the frame it was in when told to stop.
                async with ib_anyio.connect(server.host, server.port, client_id=2) as other:
                    await other.req_ids(1)
                assert read_so_far() <= 1
                assert ticks > before
                server.faults.resume_reading()
                await server.wait_for(lambda m: m.name == "reqCurrentTime", count)
            tg.cancel_scope.cancel()
        assert client.is_connected


@pytest.mark.parametrize("restored", ["data_lost", "data_maintained"])
async def test_connectivity_notices_reach_notices_and_the_log(
    server: sim.SimServer,
    client: ib_anyio.Client,
    caplog: pytest.LogCaptureFixture,
    restored: Literal["data_lost", "data_maintained"],
) -> None:
    caplog.set_level(logging.INFO, logger="ib_anyio")
    async with client.notices() as notices:
        await server.faults.connectivity_lost(restored=restored)
        with anyio.fail_after(WAIT):
            got = [await notices.receive() for _ in range(2)]
    second = (
        _faults.RESTORED_DATA_LOST
        if restored == "data_lost"
        else (_faults.RESTORED_DATA_MAINTAINED)
    )
    assert [(n.req_id, n.code, n.message) for n in got] == [
        (-1, *_faults.CONNECTIVITY_LOST),
        (-1, *second),
    ]
    logged = [r.getMessage() for r in caplog.records]
    for code, text in (_faults.CONNECTIVITY_LOST, second):
        assert f"TWS notice {code} (request -1): {text}" in logged
    with anyio.fail_after(WAIT):
        await client.req_current_time()


# -- the client cannot go on: everything ends with ProtocolError ------------------------


_HUGE = (
    f"^TWS sent a frame header announcing {_faults.HUGE_LENGTH} bytes, above ibapi's limit "
    r"of 16777215 \(garbage, or a stream out of step\); it began b'\\x80\\x00\\x00\\x001\\x00"
    # then whatever followed in the same read
)
_GARBAGE = (
    "^TWS sent a frame header announcing 4294836327 bytes, above ibapi's limit of 16777215 "
    r"\(garbage, or a stream out of step\); "
    r"it began b'\\xff\\xfe\\x00garbage\\x00\\x01\\x02\\x03 n'$"
)
_TRUNCATED = "^TWS closed the connection in the middle of a frame: got 10 of a frame's 100 bytes$"


@pytest.mark.parametrize(
    ("inject", "match"),
    [
        (lambda f: f.send_huge_length(), _HUGE),
        (lambda f: f.send_garbage(), _GARBAGE),
        (lambda f: f.send_truncated_frame(), _TRUNCATED),
    ],
    ids=["huge_length", "garbage", "truncated_then_close"],
)
async def test_bad_frames_end_everything_with_protocol_error(
    server: sim.SimServer,
    inject: Callable[[sim.Faults], Awaitable[None]],
    match: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.ignore("reqHeadTimeStamp")  # a one-shot left pending
    errors: list[BaseException] = []
    async with ib_anyio.connect(server.host, server.port) as client:
        routes_before = set(client._routes)

        async def one_shot() -> None:
            try:
                await client.req_head_time_stamp(stock(), "TRADES", True, 1)
            except ib_anyio.IBError as exc:
                errors.append(exc)

        with anyio.fail_after(WAIT):
            async with client.req_mkt_data(stock()) as ticks, anyio.create_task_group() as tg:
                await ticks.receive()
                tg.start_soon(one_shot)
                await server.wait_for(lambda m: m.name == "reqHeadTimeStamp")
                await inject(server.faults)
                with pytest.raises(ib_anyio.ProtocolError, match=match):
                    async for _ in ticks:
                        pass
            (error,) = errors
            assert isinstance(error, ib_anyio.ProtocolError)
            assert isinstance(error, ib_anyio.ConnectionLost)
            assert isinstance(error, ConnectionError)
            assert not client.is_connected
            with pytest.raises(ib_anyio.ProtocolError, match=match):
                await client.req_current_time()
            # The connection is closed on our side too: the server sees it go.
            await server.wait_for(lambda m: m.name == "disconnect")
        assert set(client._routes) <= routes_before
    assert _ib_threads() == []
    assert any(
        r.levelno == logging.ERROR and "closing the connection" in r.getMessage()
        for r in caplog.records
    )
