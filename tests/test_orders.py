"""Orders in the client, end to end against the simulated TWS, on asyncio and trio.

Assertions are on what the user receives (Trade state, events, errors) and on
what the simulator recorded.
"""

from __future__ import annotations

import anyio
import pytest

import ib_anyio
from ib_anyio import orders, sim
from tests.helpers import stock


def _count(server: sim.SimServer, name: str) -> int:
    return sum(1 for m in server.received if m.name == name)


# -- arguments -----------------------------------------------------------------


async def test_place_order_checks_its_arguments_before_sending(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    with pytest.raises(TypeError, match=r"^place_order\(\): contract must be Contract, not str$"):
        client.place_order("AAPL", orders.market("BUY", 1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^place_order\(\): order must be Order, not dict$"):
        client.place_order(stock(), {})  # type: ignore[arg-type]
    negative = orders.market("BUY", 1, orderId=-3)
    with pytest.raises(ValueError, match=r"^place_order\(\): order.orderId must be 0 .*not -3$"):
        client.place_order(stock(), negative)
    with pytest.raises(ValueError, match=r"^place_order\(\): order.whatIf is set; use what_if"):
        client.place_order(stock(), orders.market("BUY", 1, whatIf=True))
    with pytest.raises(TypeError, match=r"^what_if\(\): order must be Order, not NoneType$"):
        await client.what_if(stock(), None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^place_bracket\(\): give the parent order and"):
        client.place_bracket(stock(), [orders.market("BUY", 1)])
    await client.req_current_time()
    assert _count(server, "placeOrder") == 0


async def test_place_order_is_used_with_async_with(client: ib_anyio.Client) -> None:
    with pytest.raises(TypeError, match=r"^place_order\(\) is used with `async with"):
        await client.place_order(stock(), orders.market("BUY", 1))  # type: ignore[misc]


async def test_order_requests_after_the_connection_closed(server: sim.SimServer) -> None:
    async with ib_anyio.connect(server.host, server.port, client_id=4) as client:
        pass
    with pytest.raises(ib_anyio.ConnectionLost):
        client.place_order(stock(), orders.market("BUY", 1))
    with pytest.raises(ib_anyio.ConnectionLost):
        client.order_events()
    with pytest.raises(ib_anyio.ConnectionLost):
        await client.what_if(stock(), orders.market("BUY", 1))


# -- snapshots ------------------------------------------------------------------


async def test_open_order_snapshots_run_one_at_a_time(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    results: dict[str, list[object]] = {}

    async def run(name: str) -> None:
        results[name] = await getattr(client, name)()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for name in ("req_open_orders", "req_all_open_orders", "req_open_orders"):
                tg.start_soon(run, name)
    assert results == {"req_open_orders": [], "req_all_open_orders": []}
    assert _count(server, "reqOpenOrders") == 2
    assert _count(server, "reqAllOpenOrders") == 1


async def test_completed_orders_and_executions_when_there_are_none(
    client: ib_anyio.Client,
) -> None:
    with anyio.fail_after(5):
        assert await client.req_completed_orders(False) == []
        assert await client.req_executions(ib_anyio.ExecutionFilter()) == []


async def test_order_events_stream_closes(client: ib_anyio.Client) -> None:
    async with client.order_events() as events:
        assert isinstance(events, ib_anyio.ItemStream)
        assert events.req_id is None
        with pytest.raises(anyio.WouldBlock):
            events.receive_nowait()
    with pytest.raises(anyio.ClosedResourceError):
        await events.receive()
