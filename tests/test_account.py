"""The account in the client: shared (fanned-out) subscriptions and snapshot helpers.

End to end against the simulated TWS, on asyncio and trio: what each block
receives, and what the simulator recorded (one subscription, one cancel).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import anyio
import pytest

import ib_anyio
from ib_anyio import items, orders, sim
from tests.doc_examples import examples, run_example, same_lines
from tests.helpers import stock

ACCOUNT = "DU1234567"


def _named(name: str) -> Callable[[sim.Received], bool]:
    return lambda m: m.name == name


def _count(server: sim.SimServer, name: str) -> int:
    return sum(1 for m in server.received if m.name == name)


async def _round_trip(client: ib_anyio.Client) -> None:
    """After this, TWS has read everything the client sent before."""
    await client.req_current_time()


async def test_two_blocks_share_one_positions_subscription(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    with anyio.fail_after(5):
        async with client.req_positions() as first:
            assert first.req_id is None
            assert isinstance(await _until_end(first, items.PositionEnd), list)
            async with client.req_positions() as second:
                # The late joiner gets the state so far and the end of the snapshot.
                assert isinstance(await _until_end(second, items.PositionEnd), list)
            await _round_trip(client)
            assert _count(server, "cancelPositions") == 0  # `first` is still open
        await server.wait_for(_named("cancelPositions"))
        await _round_trip(client)
    assert _count(server, "reqPositions") == 1
    assert _count(server, "cancelPositions") == 1


async def test_a_block_opened_before_the_end_gets_it_live(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    server.ignore("reqPositions")  # hold the answer: both blocks wait for the snapshot
    with anyio.fail_after(5):
        async with client.req_positions() as first, client.req_positions() as second:
            await server.wait_for(_named("reqPositions"))
            assert first.buffered == second.buffered == 0
        await server.wait_for(_named("cancelPositions"))
    assert _count(server, "reqPositions") == 1


async def test_after_the_last_block_a_new_one_subscribes_again(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    with anyio.fail_after(5):
        for _ in range(2):
            async with client.req_positions() as positions:
                await _until_end(positions, items.PositionEnd)
        await server.wait_for(_named("cancelPositions"), count=2)
    assert _count(server, "reqPositions") == 2


async def test_notices_fan_out(client: ib_anyio.Client, server: sim.SimServer) -> None:
    with anyio.fail_after(5):
        async with client.notices() as a, client.notices() as b:
            await server.broadcast_error(2105, "HMDS data farm connection is broken:ushmds")
            got_a, got_b = await a.receive(), await b.receive()
    assert got_a == got_b
    assert (got_a.code, got_a.message) == (2105, "HMDS data farm connection is broken:ushmds")


async def test_notices_are_not_replayed(client: ib_anyio.Client, server: sim.SimServer) -> None:
    with anyio.fail_after(5):
        async with client.notices() as a:
            await server.broadcast_error(2105, "first")
            assert (await a.receive()).message == "first"
            async with client.notices() as b:
                await server.broadcast_error(2105, "second")
                assert (await b.receive()).message == "second"  # not "first"
                assert (await a.receive()).message == "second"


async def test_account_updates_of_another_account_raise_before_sending(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    with anyio.fail_after(5):
        async with client.req_account_updates(ACCOUNT) as updates:
            await _until_end(updates, items.AccountDownloadEnd)
            with pytest.raises(
                RuntimeError,
                match=r"^req_account_updates\(\): TWS sends the updates of one account at a "
                r"time, and this connection follows 'DU1234567'; close that first$",
            ):
                async with client.req_account_updates("DU7654321"):
                    pass  # pragma: no cover
            # The same account shares the subscription.
            async with client.req_account_updates(ACCOUNT) as again:
                await _until_end(again, items.AccountDownloadEnd)
        await server.wait_for(lambda m: m.name == "reqAccountUpdates" and not m.fields["subscribe"])
    subscribes = [m for m in server.received if m.name == "reqAccountUpdates"]
    assert [(m.fields["subscribe"], m.fields["acctCode"]) for m in subscribes] == [
        (True, ACCOUNT),
        (False, ACCOUNT),
    ]


async def test_a_tws_error_ends_every_block_and_the_next_open_subscribes_anew(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    with anyio.fail_after(5):
        # No instrument has conId 1: TWS answers with an error.
        async with (
            client.req_pnl_single(ACCOUNT, "", 1) as a,
            client.req_pnl_single(ACCOUNT, "", 1) as b,
        ):
            assert a.req_id == b.req_id
            first_id = a.req_id
            with pytest.raises(ib_anyio.TWSError) as info_a:
                await a.receive()
            with pytest.raises(ib_anyio.TWSError) as info_b:
                await b.receive()
            assert info_a.value is info_b.value
            async with client.req_pnl_single(ACCOUNT, "", 1) as c:
                assert c.req_id != first_id  # a new TWS subscription
                with pytest.raises(ib_anyio.TWSError):
                    await c.receive()
    assert _count(server, "reqPnLSingle") == 2
    await _round_trip(client)
    assert _count(server, "cancelPnLSingle") == 0  # TWS ended them: nothing to cancel


async def test_a_lost_connection_ends_every_block(server: sim.SimServer) -> None:
    async with (
        ib_anyio.connect(server.host, server.port, client_id=3) as client,
        client.req_positions() as a,
        client.req_positions() as b,
    ):
        await server.drop_connections()
        with anyio.fail_after(5):
            for stream in (a, b):
                with pytest.raises(ib_anyio.ConnectionLost):
                    await _drain(stream)


async def test_positions_snapshot_shares_an_open_subscription(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    with anyio.fail_after(5):
        async with client.req_positions() as open_block:
            await _until_end(open_block, items.PositionEnd)
            assert isinstance(await client.positions(), list)
            await _round_trip(client)
            assert _count(server, "cancelPositions") == 0
        assert await client.positions() == []  # a fresh subscription, then cancelled
        await server.wait_for(_named("cancelPositions"), count=2)
    assert _count(server, "reqPositions") == 2


async def test_account_values_snapshot_cancels(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    with anyio.fail_after(5):
        values = await client.account_values(ACCOUNT)
        portfolio = await client.portfolio(ACCOUNT)
        await server.wait_for(
            lambda m: m.name == "reqAccountUpdates" and not m.fields["subscribe"], count=2
        )
    assert all(isinstance(v, items.UpdateAccountValue) for v in values)
    assert all(isinstance(p, items.UpdatePortfolio) for p in portfolio)


async def test_snapshot_helpers_check_their_arguments(client: ib_anyio.Client) -> None:
    with pytest.raises(
        TypeError, match=r"^req_account_updates\(\): acct_code must be str, not int$"
    ):
        await client.account_values(5)  # type: ignore[arg-type]


async def _until_end(stream: ib_anyio.ItemStream[object], end: type) -> list[object]:
    found = []
    async for item in stream:
        if isinstance(item, end):
            return found
        found.append(item)
    raise AssertionError("the stream ended before its end item")


async def _drain(stream: ib_anyio.ItemStream[object]) -> None:
    async for _ in stream:
        pass


# -- the account after a fill ------------------------------------------------------------

AAPL_CON_ID = 265598


async def _buy_aapl(client: ib_anyio.Client, server: sim.SimServer, quantity: int = 100) -> None:
    await server.set_quote("AAPL", bid=99.99, ask=100.0, last=100.0, ask_size=10_000)
    async with client.place_order(stock(), orders.market("BUY", quantity)) as trade:
        await trade.done()


async def test_snapshots_reflect_a_fill(client: ib_anyio.Client, server: sim.SimServer) -> None:
    with anyio.fail_after(5):
        before = {v.key: v.val for v in await client.account_values(ACCOUNT)}
        await _buy_aapl(client, server)
        (position,) = await client.positions()
        values = {v.key: v.val for v in await client.account_values(ACCOUNT) if v.currency == "USD"}
        (row,) = await client.portfolio(ACCOUNT)
        summary = await client.account_summary(["NetLiquidation", "TotalCashValue"])
    assert (position.account, position.contract.conId, position.position) == (
        ACCOUNT,
        AAPL_CON_ID,
        Decimal(100),
    )
    assert position.avg_cost == pytest.approx(100.01)  # price plus commission per share
    cash_before = float(before["TotalCashValue"])
    assert float(values["TotalCashValue"]) == pytest.approx(cash_before - 100 * 100.0 - 1.0)
    assert float(values["GrossPositionValue"]) == pytest.approx(100 * 100.0)
    assert (row.contract.conId, row.position, row.market_price) == (AAPL_CON_ID, 100, 100.0)
    assert {(s.account, s.tag) for s in summary} == {
        (ACCOUNT, "NetLiquidation"),
        (ACCOUNT, "TotalCashValue"),
    }
    assert {s.tag: float(s.value) for s in summary}["TotalCashValue"] == pytest.approx(
        float(values["TotalCashValue"])
    )


async def test_a_late_joiner_gets_the_positions_so_far(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    with anyio.fail_after(5):
        async with client.req_positions() as first:
            assert await _until_end(first, items.PositionEnd) == []
            await _buy_aapl(client, server)
            update = await first.receive()  # TWS sends the changed position
            assert isinstance(update, items.Position)
            assert update.position == 100
            async with client.req_positions() as second:
                replay = await _until_end(second, items.PositionEnd)
    assert replay == [update]  # the latest per account and contract, then the end
    assert _count(server, "reqPositions") == 1


async def test_pnl_follows_a_fill_and_the_quote(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    with anyio.fail_after(5):
        await _buy_aapl(client, server)
        async with (
            client.req_pnl(ACCOUNT) as pnl,
            client.req_pnl_single(ACCOUNT, "", AAPL_CON_ID) as single,
        ):
            first = await pnl.receive()
            assert isinstance(first, items.Pnl)
            mine = await single.receive()
            assert isinstance(mine, items.PnlSingle)
            assert mine.pos == 100
            await server.set_quote("AAPL", bid=100.99, ask=101.0, last=101.0)
            moved = await pnl.receive()
            assert isinstance(moved, items.Pnl)
            assert moved.unrealized_pnl == pytest.approx(first.unrealized_pnl + 100.0)
        await server.wait_for(_named("cancelPnL"))
        await server.wait_for(_named("cancelPnLSingle"))


# -- docs/account.md ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize(
    ("code", "expected"),
    [(code, expected) for _, code, expected in examples("account.md")],
    ids=[f"example{index}" for index, _, _ in examples("account.md")],
)
def test_docs_examples_run(backend: str, code: str, expected: list[str]) -> None:
    assert same_lines(run_example("account.md", code, backend), expected)


async def test_multi_and_summary_subscriptions_are_shared_per_arguments(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    with anyio.fail_after(5):
        async with (
            client.req_positions_multi(ACCOUNT, "") as a,
            client.req_positions_multi(ACCOUNT, "") as b,
            client.req_account_updates_multi(ACCOUNT, "") as c,
            client.req_account_updates_multi(ACCOUNT, "") as d,
            client.req_account_summary("All", "NetLiquidation") as e,
            client.req_account_summary("All", "NetLiquidation") as f,
            client.req_account_summary("All", "TotalCashValue") as g,
        ):
            assert a.req_id == b.req_id
            assert c.req_id == d.req_id
            assert e.req_id == f.req_id != g.req_id
            for stream, end in (
                (a, items.PositionMultiEnd),
                (b, items.PositionMultiEnd),
                (c, items.AccountUpdateMultiEnd),
                (d, items.AccountUpdateMultiEnd),
            ):
                await _until_end(stream, end)
            summaries = [await _until_end(s, items.AccountSummaryEnd) for s in (e, f, g)]
        await server.wait_for(_named("cancelAccountSummary"), count=2)
        await server.wait_for(_named("cancelPositionsMulti"))
        await server.wait_for(_named("cancelAccountUpdatesMulti"))
    assert summaries[0] == summaries[1]
    assert [s.tag for s in summaries[0]] == ["NetLiquidation"]  # type: ignore[attr-defined]
    assert [s.tag for s in summaries[2]] == ["TotalCashValue"]  # type: ignore[attr-defined]
    assert _count(server, "reqPositionsMulti") == 1
    assert _count(server, "reqAccountUpdatesMulti") == 1
    assert _count(server, "reqAccountSummary") == 2
