"""Property test: any sequence of opens, closes, one-shots and errors keeps the books.

Whatever the order, every subscription that TWS accepted is cancelled exactly
once with its own id, rejected ones are never cancelled, ids are never reused,
and nothing is left routed when the block ends.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ib_anyio
from ib_anyio import sim
from tests.helpers import stock

Op = tuple[str, int]
ops = st.lists(
    st.tuples(
        st.sampled_from(["open", "open_bad", "close", "one_shot", "one_shot_bad"]),
        st.integers(0, 3),
    ),
    max_size=12,
)


async def _run(script: list[Op]) -> None:
    async with (
        sim.serve(port=0, tick_interval=0.001) as server,
        ib_anyio.connect(server.host, server.port) as client,
    ):
        open_streams: list[tuple[AsyncExitStack, ib_anyio.ItemStream[object], bool]] = []
        accepted: list[int] = []
        rejected: list[int] = []
        for op, n in script:
            if op in ("open", "open_bad"):
                stack = AsyncExitStack()
                stream = await stack.enter_async_context(
                    client.req_mkt_data(stock("AAPL" if op == "open" else "NOSUCH"))
                )
                assert isinstance(stream.req_id, int)
                if op == "open_bad":
                    with anyio.fail_after(5), pytest.raises(ib_anyio.TWSError):
                        await stream.receive()
                open_streams.append((stack, stream, op == "open"))
            elif op == "close" and open_streams:
                stack, stream, good = open_streams.pop(n % len(open_streams))
                await stack.aclose()
                assert isinstance(stream.req_id, int)
                (accepted if good else rejected).append(stream.req_id)
            elif op == "one_shot":
                assert await client.req_contract_details(stock("IBM"))
            elif op == "one_shot_bad":
                with pytest.raises(ib_anyio.TWSError):
                    await client.req_contract_details(stock("NOSUCH"))
        for stack, stream, good in open_streams:
            await stack.aclose()
            assert isinstance(stream.req_id, int)
            (accepted if good else rejected).append(stream.req_id)
        await client.req_current_time()  # a round trip: every cancel has arrived
        cancelled = [m.fields["reqId"] for m in server.received if m.name == "cancelMktData"]
        requested = [m.fields["reqId"] for m in server.received if m.name == "reqMktData"]
        assert sorted(cancelled) == sorted(accepted)
        assert len(set(requested)) == len(requested)
        assert not set(cancelled) & set(rejected)
        # Only the order router (always installed) is left.
        assert not [
            k for k, r in client._routes.items() if k != "__connect__" and r is not client._orders
        ]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(script=ops)
def test_any_sequence_keeps_the_books(backend: str, script: list[Op]) -> None:
    anyio.run(_run, script, backend=backend)
