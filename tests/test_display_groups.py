"""Display groups end to end: query, subscribe (with updates), update, unsubscribe."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

import ib_anyio
from ib_anyio import items, sim
from ib_anyio.sim._server import max_version
from tests.doc_examples import examples, run_example, same_lines


@pytest.fixture(params=[176, 213, max_version()])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[sim.SimServer]:
    async with sim.serve(port=0, server_version=request.param, tick_interval=0.001) as s:
        yield s


def _connect(server: sim.SimServer, client_id: int = 1) -> ib_anyio.connect:  # type: ignore[valid-type]
    return ib_anyio.connect(server.host, server.port, client_id=client_id, timeout=5)


async def test_query_display_groups(server: sim.SimServer) -> None:
    async with _connect(server) as client:
        with anyio.fail_after(5):
            answer = await client.query_display_groups()
    assert isinstance(answer, items.DisplayGroupList)
    assert answer.groups == "1|2|3|4|5|6|7"
    (sent,) = [m for m in server.received if m.name == "queryDisplayGroups"]
    assert isinstance(sent.fields["reqId"], int)


async def test_subscribe_update_and_unsubscribe_once(server: sim.SimServer) -> None:
    async with _connect(server) as client, _connect(server, client_id=2) as other:
        with anyio.fail_after(5):
            async with (
                client.subscribe_to_group_events(1) as events,
                other.subscribe_to_group_events(1) as watching,
            ):
                first = await events.receive()
                assert isinstance(first, items.DisplayGroupUpdated)
                assert first.contract_info == "265598@SMART"  # AAPL, group 1's contract
                assert (await watching.receive()).contract_info == "265598@SMART"
                assert events.req_id is not None
                client.update_display_group(events.req_id, "272093@SMART")
                assert (await events.receive()).contract_info == "272093@SMART"
                assert (await watching.receive()).contract_info == "272093@SMART"
            req_id = events.req_id
            cancels = await server.wait_for(
                lambda m: m.name == "unsubscribeFromGroupEvents" and m.client_id == 1
            )
    assert [c.fields for c in cancels] == [{"reqId": req_id}]
    (update,) = [m for m in server.received if m.name == "updateDisplayGroup"]
    assert update.fields == {"reqId": req_id, "contractInfo": "272093@SMART"}
    (sub,) = [m for m in server.received if m.name == "subscribeToGroupEvents" and m.client_id == 1]
    assert sub.fields == {"reqId": req_id, "groupId": 1}


async def test_an_empty_group_and_a_group_tws_lacks(server: sim.SimServer) -> None:
    async with _connect(server) as client:
        with anyio.fail_after(5):
            async with client.subscribe_to_group_events(5) as events:
                assert (await events.receive()).contract_info == "none"
            with pytest.raises(ib_anyio.TWSError, match=r"Invalid display group id: 9$") as info:
                async with client.subscribe_to_group_events(9) as bad:
                    await bad.receive()
    assert info.value.code == 321


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize(
    ("code", "expected"),
    [(code, expected) for _, code, expected in examples("display_groups.md")],
    ids=[f"example{index}" for index, _, _ in examples("display_groups.md")],
)
def test_display_groups_doc_examples(backend: str, code: str, expected: list[str]) -> None:
    assert expected
    assert same_lines(run_example("display_groups.md", code, backend), expected)
