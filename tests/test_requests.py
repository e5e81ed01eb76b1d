"""One-shot requests end to end: answers, TWS errors, bad arguments, misuse."""

from __future__ import annotations

import anyio
import pytest
from ibapi.client import EClient

import ib_anyio
from ib_anyio import items, sim
from tests.helpers import stock


async def test_current_time(client: ib_anyio.Client, server: sim.SimServer) -> None:
    now = await client.req_current_time()
    assert isinstance(now, items.CurrentTime)
    assert isinstance(now.time, int)
    assert now.time > 1_700_000_000
    assert [m.name for m in server.received].count("reqCurrentTime") == 1


async def test_contract_details_of_a_stock(client: ib_anyio.Client) -> None:
    answer = await client.req_contract_details(stock("AAPL"))
    assert len(answer) == 1
    details = answer[0].contract_details
    assert isinstance(details, ib_anyio.ContractDetails)
    assert details.contract.symbol == "AAPL"
    assert details.contract.conId == 265598
    assert details.contract.secType == "STK"


async def test_contract_details_of_an_option_chain(client: ib_anyio.Client) -> None:
    option = ib_anyio.Contract()
    option.symbol, option.secType, option.currency = "AAPL", "OPT", "USD"
    answer = await client.req_contract_details(option)
    assert len(answer) > 1
    assert {a.contract_details.contract.secType for a in answer} == {"OPT"}
    assert {a.contract_details.contract.right for a in answer} == {"C", "P"}


async def test_historical_bars(client: ib_anyio.Client) -> None:
    bars = await client.req_historical_data(
        stock(),
        end_date_time="",
        duration_str="1 D",
        bar_size_setting="1 hour",
        what_to_show="TRADES",
        use_rth=True,
    )
    data = [b for b in bars if isinstance(b, items.HistoricalData)]
    assert len(data) >= 5
    for b in data:
        assert b.bar.low <= b.bar.open <= b.bar.high
        assert b.bar.low <= b.bar.close <= b.bar.high


async def test_unknown_contract_raises_tws_error(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    with pytest.raises(
        ib_anyio.TWSError,
        match=r"^TWS error 200 for request \d+: "
        r"No security definition has been found for the request$",
    ) as info:
        await client.req_contract_details(stock("NOSUCH"))
    err = info.value
    assert err.code == 200
    assert err.message == "No security definition has been found for the request"
    sent = [m for m in server.received if m.name == "reqContractDetails"]
    assert err.req_id == sent[-1].fields["reqId"]


async def test_error_affects_only_its_own_request(client: ib_anyio.Client) -> None:
    results: dict[str, object] = {}

    async def good() -> None:
        results["good"] = await client.req_contract_details(stock("MSFT"))

    async def bad() -> None:
        try:
            await client.req_contract_details(stock("NOSUCH"))
        except ib_anyio.TWSError as exc:
            results["bad"] = exc.code

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(good)
            tg.start_soon(bad)
    assert results["bad"] == 200
    good_answer = results["good"]
    assert isinstance(good_answer, list)
    assert good_answer[0].contract_details.contract.symbol == "MSFT"


async def test_concurrent_id_less_requests_each_get_an_answer(client: ib_anyio.Client) -> None:
    answers: list[int] = []

    async def ask() -> None:
        answers.append((await client.req_current_time()).time)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(ask)
    assert len(answers) == 5


async def test_bad_argument_is_rejected_before_sending(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    with pytest.raises(
        TypeError, match=r"^req_contract_details\(\): contract must be Contract, not str$"
    ):
        await client.req_contract_details("AAPL")  # type: ignore[arg-type]
    await client.req_current_time()  # a round trip: anything sent before it has arrived
    assert "reqContractDetails" not in [m.name for m in server.received]


async def test_streaming_request_cannot_be_awaited(client: ib_anyio.Client) -> None:
    with pytest.raises(TypeError, match=r"^req_mkt_data\(\) with snapshot false streams"):
        await client.req_mkt_data(stock())  # type: ignore[misc]


async def test_one_shot_form_cannot_be_streamed(client: ib_anyio.Client) -> None:
    with pytest.raises(TypeError, match=r"^req_mkt_data\(\) with snapshot true answers once"):
        async with client.req_mkt_data(stock(), snapshot=True):  # type: ignore[attr-defined]
            pass


async def test_snapshot_is_awaited(client: ib_anyio.Client) -> None:
    ticks = await client.req_mkt_data(stock(), snapshot=True)
    assert ticks
    assert any(isinstance(t, items.TickPrice) for t in ticks)


async def test_cancelled_one_shot_sends_its_cancel(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    server.ignore("reqHeadTimeStamp")  # recorded, never answered
    async with anyio.create_task_group() as tg:

        async def request() -> None:
            await client.req_head_time_stamp(stock(), "TRADES", True, 1)

        tg.start_soon(request)
        await server.wait_for(lambda m: m.name == "reqHeadTimeStamp")
        tg.cancel_scope.cancel()
    cancels = await server.wait_for(lambda m: m.name == "cancelHeadTimeStamp")
    sent = [m for m in server.received if m.name == "reqHeadTimeStamp"]
    assert [c.fields["reqId"] for c in cancels] == [sent[0].fields["reqId"]]


async def test_request_removed_from_newer_ibapi(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    if hasattr(EClient, "reqFundamentalData"):  # ibapi <= 10.45 still has it
        # It reaches the simulator, which serves it (see test_reference).
        answer = await client.req_fundamental_data(stock(), "ReportSnapshot")
        assert "<ReportSnapshot" in answer.data
        assert await server.wait_for(lambda m: m.name == "reqFundamentalData")
        return
    with pytest.raises(
        ib_anyio.UnsupportedRequest,
        match=r"^req_fundamental_data\(\) was removed in ibapi [\d.]+ \(installed: ibapi [\d.]+\)$",
    ):
        await client.req_fundamental_data(stock(), "ReportSnapshot")


async def test_request_added_in_newer_ibapi(client: ib_anyio.Client, server: sim.SimServer) -> None:
    if hasattr(EClient, "reqWshMetaData"):
        # It reaches the simulator, which does not serve it and says so.
        with pytest.raises(ib_anyio.TWSError, match=r"^TWS error 10999 for request \d+: "):
            await client.req_wsh_meta_data()
        assert await server.wait_for(lambda m: m.name == "reqWshMetaData")
        return
    with pytest.raises(
        ib_anyio.UnsupportedRequest,
        match=r"^req_wsh_meta_data\(\) needs ibapi >= [\d.]+ \(installed: ibapi 9\.81\.1\.post1\)$",
    ):
        await client.req_wsh_meta_data()


async def test_ids_only_grow(client: ib_anyio.Client) -> None:
    first = client.next_order_id()
    second = client.next_order_id()
    assert second == first + 1
    async with client.req_mkt_data(stock()) as ticks:
        assert ticks.req_id == second + 1
    answer = await client.req_ids(1)  # TWS answers with its next valid id
    assert isinstance(answer, items.NextValidId)
    assert client.next_order_id() >= max(answer.order_id, second + 2)
