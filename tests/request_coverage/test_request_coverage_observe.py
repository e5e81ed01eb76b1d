"""The observing plugin (tools/request_coverage/observe.py) against a simulated TWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

import ib_anyio
from ib_anyio import sim
from ib_anyio.sim import _server
from ib_anyio.sim._decode import Out
from ib_anyio.sim._server import NOT_SUPPORTED
from tools.request_coverage.observe import Observer

MAX = _server.max_version()


@pytest.fixture
def observer(tmp_path: Path) -> Iterator[Observer]:
    """An observer of this test only (wrapping whatever the session installed)."""
    obs = Observer(tmp_path / "observed.json")
    obs._install()
    try:
        yield obs
    finally:
        for undo in reversed(obs._undo):
            undo()


def seen(observer: Observer, request: str) -> set[tuple[int, bool, str, str]]:
    return {
        (o["version"], o["protobuf"], o["client"], o["outcome"])
        for o in observer.report()["observations"]
        if o["request"] == request
    }


@pytest.mark.parametrize("version", [176, MAX])
async def test_requests_from_ib_anyio_are_recorded_with_version_and_encoding(
    observer: Observer, version: int
) -> None:
    async with (
        sim.serve(port=0, server_version=version, tick_interval=0.001) as server,
        ib_anyio.connect(server.host, server.port, client_id=1, timeout=5) as client,
    ):
        with anyio.fail_after(5):
            await client.req_current_time()
    version = server.server_version  # capped at the installed ibapi's highest
    protobuf = version >= 213  # ibapi sends these as protobuf from 213
    assert seen(observer, "reqCurrentTime") == {(version, protobuf, "ib_anyio", "answered")}
    assert seen(observer, "startApi") == {(version, protobuf, "ib_anyio", "answered")}


async def test_held_back_and_not_supported_requests_are_not_answered(
    observer: Observer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unsupported(conn: _server._Connection, fields: object) -> None:
        await conn.send(conn._error(-1, NOT_SUPPORTED, "reqCurrentTime is not supported"))
        await conn.req_current_time({})

    monkeypatch.setitem(_server._handlers(), Out.REQ_CURRENT_TIME, unsupported)
    async with (
        sim.serve(port=0, server_version=MAX, tick_interval=0.001) as server,
        ib_anyio.connect(server.host, server.port, client_id=1, timeout=5) as client,
    ):
        with anyio.fail_after(5):
            await client.req_current_time()
        server.ignore("reqManagedAccts")  # held back: the client never gets an answer
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.req_managed_accts)
                await server.wait_for(lambda m: m.name == "reqManagedAccts")
                tg.cancel_scope.cancel()
    assert {outcome for *_, outcome in seen(observer, "reqCurrentTime")} == {"not supported"}
    assert {outcome for *_, outcome in seen(observer, "reqManagedAccts")} == {"ignored"}


async def test_requests_from_ibapis_own_client_are_told_apart(observer: Observer) -> None:
    from ibapi.client import EClient
    from ibapi.wrapper import EWrapper

    async with sim.serve(port=0, tick_interval=0.001) as server:
        app = EClient(EWrapper())
        await anyio.to_thread.run_sync(app.connect, server.host, server.port, 7)
        try:
            app.reqCurrentTime()
            with anyio.fail_after(5):
                await server.wait_for(lambda m: m.name == "reqCurrentTime")
        finally:
            await anyio.to_thread.run_sync(app.disconnect)
    assert {client for _, _, client, _ in seen(observer, "reqCurrentTime")} == {"ibapi"}


def test_the_report_is_written_at_session_end(observer: Observer) -> None:
    observer.pytest_sessionfinish(None)  # type: ignore[arg-type]
    data = json.loads(observer.path.read_text())
    assert data["ibapi"] == ib_anyio.ibapi_version()
    assert data["observations"] == []
