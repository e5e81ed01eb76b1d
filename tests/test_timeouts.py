"""Request timeouts, and anyio time limits around requests and streams, end to end.

A request held unanswered by the simulator (``server.ignore``) either raises
:class:`ib_anyio.RequestTimeout` after the connection's ``request_timeout``, or
is ended by an anyio deadline the test moves to "now" once the simulator has
recorded the request (no sleeping). Either way no route is left on the client
and the simulator records exactly the TWS cancel the request has, with its id.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import attrs
import pytest

import ib_anyio
from ib_anyio import orders, sim
from tests.doc_examples import examples, run_example, same_lines
from tests.helpers import stock


async def _round_trip(client: ib_anyio.Client) -> None:
    """Everything sent before this has reached the simulator (it answers in order)."""
    with anyio.fail_after(5):
        await client.req_ids(1)


def _cancels(server: sim.SimServer) -> list[tuple[str, Any]]:
    return [(m.name, m.fields.get("reqId")) for m in server.received if m.name.startswith("cancel")]


def _sent(server: sim.SimServer, name: str) -> sim.Received:
    (message,) = [m for m in server.received if m.name == name]
    return message


# -- request_timeout ------------------------------------------------------------------


async def test_default_request_timeout(client: ib_anyio.Client) -> None:
    assert client.request_timeout == 120.0
    client.request_timeout = None
    assert client.request_timeout is None
    with pytest.raises(ValueError, match=r"^request_timeout must be positive or None, not -1$"):
        client.request_timeout = -1
    assert client.request_timeout is None


async def test_request_timeout_raises_and_sends_the_cancel(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    routes = set(client._routes)
    server.ignore("reqHeadTimeStamp")  # recorded, never answered
    client.request_timeout = 0.05
    with anyio.fail_after(5), pytest.raises(ib_anyio.RequestTimeout) as info:
        await client.req_head_time_stamp(stock(), "TRADES", True, 1)
    with anyio.fail_after(5):
        await server.wait_for(lambda m: m.name == "cancelHeadTimeStamp")
    await _round_trip(client)
    req_id = _sent(server, "reqHeadTimeStamp").fields["reqId"]
    assert _cancels(server) == [("cancelHeadTimeStamp", req_id)]
    err = info.value
    assert str(err) == (
        f"req_head_time_stamp() (request {req_id}) got no answer from TWS within 0.05 s"
    )
    assert (err.request, err.req_id, err.timeout) == ("req_head_time_stamp", req_id, 0.05)
    assert isinstance(err, TimeoutError)
    assert isinstance(err, ib_anyio.IBError)
    assert set(client._routes) == routes


async def test_request_timeout_set_on_connect(server: sim.SimServer) -> None:
    server.ignore("reqHeadTimeStamp")
    async with ib_anyio.connect(server.host, server.port, request_timeout=0.05) as client:
        assert client.request_timeout == 0.05
        with (
            anyio.fail_after(5),
            pytest.raises(
                ib_anyio.RequestTimeout,
                match=r"^req_head_time_stamp\(\) \(request \d+\) got no answer from TWS "
                r"within 0\.05 s$",
            ),
        ):
            await client.req_head_time_stamp(stock(), "TRADES", True, 1)


@attrs.frozen
class _OneShot:
    """A one-shot request the simulator is told not to answer."""

    name: str  # the public method, as RequestTimeout names it
    ignore: str  # the EClient request the simulator holds
    cancel: str | None  # the EClient cancel expected, if the request has one
    call: Callable[[ib_anyio.Client], Awaitable[object]]
    has_id: bool = True  # RequestTimeout names the request id


ONE_SHOTS = [
    _OneShot(
        "req_head_time_stamp",
        "reqHeadTimeStamp",
        "cancelHeadTimeStamp",
        lambda c: c.req_head_time_stamp(stock(), "TRADES", True, 1),
    ),
    _OneShot(
        "req_mkt_data",
        "reqMktData",
        "cancelMktData",
        lambda c: c.req_mkt_data(stock(), snapshot=True),
    ),
    _OneShot(
        "req_historical_data",
        "reqHistoricalData",
        "cancelHistoricalData",
        lambda c: c.req_historical_data(stock(), "", "1 D", "1 hour", "TRADES", True),
    ),
    _OneShot(
        "req_current_time", "reqCurrentTime", None, lambda c: c.req_current_time(), has_id=False
    ),
    _OneShot("req_open_orders", "reqOpenOrders", None, lambda c: c.req_open_orders(), has_id=False),
    _OneShot("positions", "reqPositions", "cancelPositions", lambda c: c.positions(), has_id=False),
    _OneShot(
        "account_summary",
        "reqAccountSummary",
        "cancelAccountSummary",
        lambda c: c.account_summary("NetLiquidation"),
    ),
    _OneShot(
        "what_if",
        "placeOrder",
        None,
        lambda c: c.what_if(stock(), orders.market("BUY", 1)),
        has_id=False,
    ),
]


@pytest.mark.parametrize("case", ONE_SHOTS, ids=lambda case: case.name)
async def test_every_one_shot_times_out_cleanly(
    client: ib_anyio.Client, server: sim.SimServer, case: _OneShot
) -> None:
    routes = set(client._routes)
    server.ignore(case.ignore)
    client.request_timeout = 0.05
    with anyio.fail_after(5), pytest.raises(ib_anyio.RequestTimeout) as info:
        await case.call(client)
    await _round_trip(client)
    sent = _sent(server, case.ignore).fields
    req_id = sent.get("reqId", sent.get("orderId")) if case.has_id else None
    which = f"{case.name}()" if req_id is None else f"{case.name}() (request {req_id})"
    assert str(info.value) == f"{which} got no answer from TWS within 0.05 s"
    expected = [] if case.cancel is None else [(case.cancel, sent.get("reqId"))]
    assert _cancels(server) == expected
    assert set(client._routes) == routes
    assert client._shared == {}


# -- anyio time limits ----------------------------------------------------------------


async def _receive_forever(stream: ib_anyio.ItemStream[object]) -> None:
    async for _ in stream:
        pass


async def _ticks(client: ib_anyio.Client) -> None:
    async with client.req_mkt_data(stock()) as ticks:
        await _receive_forever(ticks)


async def _bars(client: ib_anyio.Client) -> None:
    bars = client.req_historical_data(
        stock(), "", "1 D", "1 min", "TRADES", True, keep_up_to_date=True
    )
    async with bars as stream:
        await _receive_forever(stream)


async def _positions(client: ib_anyio.Client) -> None:
    async with client.req_positions() as stream:
        await _receive_forever(stream)


STREAMS = [
    _OneShot("req_mkt_data stream", "reqMktData", "cancelMktData", _ticks),
    _OneShot("req_historical_data stream", "reqHistoricalData", "cancelHistoricalData", _bars),
    _OneShot("req_positions stream", "reqPositions", "cancelPositions", _positions),
]


@pytest.mark.parametrize("limit", ["fail_after", "move_on_after"])
@pytest.mark.parametrize("case", ONE_SHOTS + STREAMS, ids=lambda case: case.name)
async def test_anyio_time_limit_leaves_nothing_behind(
    client: ib_anyio.Client, server: sim.SimServer, case: _OneShot, limit: str
) -> None:
    routes = set(client._routes)
    if case not in STREAMS:
        server.ignore(case.ignore)
    make_scope = anyio.fail_after if limit == "fail_after" else anyio.move_on_after

    async def expire_once_sent(scope: anyio.CancelScope) -> None:
        await server.wait_for(lambda m: m.name == case.ignore)
        scope.deadline = -math.inf  # the time limit expires now

    timed_out: TimeoutError | None = None
    with anyio.fail_after(5):  # a hang fails the test
        try:
            with make_scope(60) as scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(expire_once_sent, scope)
                    await case.call(client)
                pytest.fail("the request ended before its time limit")
        except TimeoutError as exc:
            timed_out = exc
    if limit == "fail_after":
        assert type(timed_out) is TimeoutError  # anyio's, not a RequestTimeout
    else:
        assert timed_out is None
        assert scope.cancelled_caught
    await _round_trip(client)
    sent = _sent(server, case.ignore).fields
    expected = [] if case.cancel is None else [(case.cancel, sent.get("reqId"))]
    assert _cancels(server) == expected
    assert set(client._routes) == routes
    assert client._shared == {}


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize(
    ("code", "expected"),
    [(code, expected) for _, code, expected in examples("reliability.md")],
    ids=[f"example{index}" for index, _, _ in examples("reliability.md")],
)
def test_reliability_doc_examples(backend: str, code: str, expected: list[str]) -> None:
    assert expected  # every example says what it prints
    assert same_lines(run_example("reliability.md", code, backend), expected)
