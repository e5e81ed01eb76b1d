"""Market scanners end to end against the simulated TWS: the parameters document,
ranked rounds ending in ``scannerDataEnd``, filters, TWS's errors and its limit of ten.

Each test runs at a text version (176), a protobuf version in the middle of 201-226
(213: the scanner messages travel as protobuf from 210) and the highest version the
installed ibapi negotiates (ibapi 9.81 caps all three at 157, 10.37.2 the last two at 203).
"""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import anyio
import pytest

import ib_anyio
from ib_anyio import items, sim
from ib_anyio.sim._server import max_version
from tests.doc_examples import examples, run_example, same_lines

MAX = max_version()


@pytest.fixture(params=[176, 213, MAX], ids=["v176", "v213", "max"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[sim.SimServer]:
    async with sim.serve(port=0, server_version=request.param, tick_interval=0.001) as s:
        yield s


def _subscription(
    scan_code: str = "MOST_ACTIVE", location: str = "STK.US.MAJOR", rows: int = -1
) -> ib_anyio.ScannerSubscription:
    sub = ib_anyio.ScannerSubscription()
    sub.instrument = "STK"
    sub.locationCode = location
    sub.scanCode = scan_code
    sub.numberOfRows = rows
    return sub


async def _rounds(stream: ib_anyio.ItemStream, count: int) -> list[list[items.ScannerData]]:
    """The next ``count`` complete rounds (each ends with a ScannerDataEnd)."""
    rounds: list[list[items.ScannerData]] = []
    current: list[items.ScannerData] = []
    with anyio.fail_after(5):
        async for item in stream:
            if isinstance(item, items.ScannerDataEnd):
                rounds.append(current)
                current = []
                if len(rounds) == count:
                    return rounds
            else:
                assert isinstance(item, items.ScannerData)
                current.append(item)
    raise AssertionError("the stream ended")


def _symbols(round_: list[items.ScannerData]) -> list[str]:
    return [row.contract_details.contract.symbol for row in round_]


async def _round_trip(client: ib_anyio.Client) -> None:
    """After this, anything the client sent before has been recorded."""
    with anyio.fail_after(5):
        await client.req_current_time()


def _cancels(server: sim.SimServer) -> list[object]:
    return [m.fields.get("reqId") for m in server.received if m.name == "cancelScannerSubscription"]


async def test_scanner_parameters_is_a_scanner_document(client: ib_anyio.Client) -> None:
    with anyio.fail_after(5):
        params = await client.req_scanner_parameters()
        again = await client.req_scanner_parameters()
    assert params.xml == again.xml  # deterministic
    assert params.xml.isascii()
    assert len(params.xml) < 64 * 1024
    root = ET.fromstring(params.xml)
    assert root.tag == "ScanParameterResponse"
    assert [i.findtext("type") for i in root.iter("Instrument")] == ["STK", "FUT.US"]
    locations = {loc.findtext("locationCode") for loc in root.iter("Location")}
    assert {"STK.US", "STK.US.MAJOR", "STK.NASDAQ", "STK.NYSE", "FUT.CME"} <= locations
    scan_codes = [s.findtext("scanCode") for s in root.iter("ScanType")]
    assert {"TOP_PERC_GAIN", "TOP_PERC_LOSE", "MOST_ACTIVE", "HOT_BY_VOLUME"} <= set(scan_codes)
    filters = {f.findtext("code") for f in root.iter("AbstractField")}
    assert {"priceAbove", "priceBelow", "volumeAbove", "marketCapAbove1e6"} <= filters


async def test_rounds_rank_by_volume_and_leaving_cancels_once(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    async with client.req_scanner_subscription(_subscription()) as stream:
        req_id = stream.req_id
        rounds = await _rounds(stream, 3)
    for round_ in rounds:
        assert [row.rank for row in round_] == list(range(len(round_)))
        assert sorted(_symbols(round_)) == ["AAPL", "IBM", "MSFT", "SPY"]
    first = rounds[0]
    details = first[0].contract_details
    assert details.contract.secType == "STK"
    assert details.contract.exchange == "SMART"
    assert details.contract.currency == "USD"
    assert details.contract.conId > 0
    assert details.marketName in ("NMS", details.contract.symbol)
    assert (first[0].distance, first[0].benchmark, first[0].projection) == ("", "", "")
    await _round_trip(client)
    assert _cancels(server) == [req_id]
    [request] = [m for m in server.received if m.name == "reqScannerSubscription"]
    assert request.fields["reqId"] == req_id
    sub = request.fields["subscription"]
    assert isinstance(sub, dict)
    assert (sub["instrument"], sub["locationCode"], sub["scanCode"]) == (
        "STK",
        "STK.US.MAJOR",
        "MOST_ACTIVE",
    )


async def test_most_active_follows_the_market_volumes(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    from ib_anyio.sim._universe import UNIVERSE

    volume = {i.symbol: server.market.quote(i).volume for i in UNIVERSE if i.sec_type == "STK"}
    async with client.req_scanner_subscription(_subscription()) as stream:
        [round_] = await _rounds(stream, 1)
    assert _symbols(round_) == sorted(volume, key=lambda s: -volume[s])


async def test_top_gainers_rerank_when_quotes_move(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    # AAPL closed at 230, MSFT at 420 (the universe's base prices)
    await server.set_quote("AAPL", bid=239.9, ask=240.1, last=240.0)  # +4.3%
    await server.set_quote("MSFT", bid=424.9, ask=425.1, last=425.0)  # +1.2%
    sub = _subscription("TOP_PERC_GAIN", "STK.NASDAQ")
    async with client.req_scanner_subscription(sub) as stream:
        [round_] = await _rounds(stream, 1)
        assert _symbols(round_) == ["AAPL", "MSFT"]
        await server.set_quote("MSFT", bid=449.9, ask=450.1, last=450.0)  # +7.1%
        with anyio.fail_after(5):
            while _symbols(round_) != ["MSFT", "AAPL"]:
                [round_] = await _rounds(stream, 1)
    sub = _subscription("TOP_PERC_LOSE", "STK.NASDAQ")
    async with client.req_scanner_subscription(sub) as stream:
        [round_] = await _rounds(stream, 1)
    assert _symbols(round_) == ["AAPL", "MSFT"]


async def test_filters_and_number_of_rows(client: ib_anyio.Client, server: sim.SimServer) -> None:
    # priceAbove 300 leaves MSFT (420) and SPY (590) of the major US listings
    above = [ib_anyio.TagValue("priceAbove", "300")]
    async with client.req_scanner_subscription(
        _subscription(), scanner_subscription_filter_options=above
    ) as stream:
        [round_] = await _rounds(stream, 1)
    assert sorted(_symbols(round_)) == ["MSFT", "SPY"]
    etf = _subscription()
    etf.stockTypeFilter = "ETF"
    async with client.req_scanner_subscription(etf) as stream:
        [round_] = await _rounds(stream, 1)
    assert _symbols(round_) == ["SPY"]
    async with client.req_scanner_subscription(_subscription(rows=2)) as stream:
        [round_] = await _rounds(stream, 1)
    assert len(round_) == 2
    async with client.req_scanner_subscription(_subscription(location="STK.NYSE")) as stream:
        [round_] = await _rounds(stream, 1)
    assert _symbols(round_) == ["IBM"]
    await _round_trip(client)
    requests = [m for m in server.received if m.name == "reqScannerSubscription"]
    assert requests[0].fields["scannerSubscriptionFilterOptions"] == {"priceAbove": "300"}
    assert requests[1].fields["subscription"]["stockTypeFilter"] == "ETF"  # type: ignore[index]
    assert requests[2].fields["subscription"]["numberOfRows"] == 2  # type: ignore[index]
    assert len(_cancels(server)) == 4


@pytest.mark.parametrize(
    ("scan_code", "location", "code", "message"),
    [
        (
            "NO_SUCH_SCAN",
            "STK.US.MAJOR",
            162,
            "Historical Market Data Service error message:"
            "Scanner type with code NO_SUCH_SCAN is disabled",
        ),
        (
            "MOST_ACTIVE",
            "STK.MOON",
            162,
            "Historical Market Data Service error message:"
            "Market Scanner is not configured for one of the chosen locations.",
        ),
    ],
    ids=["unknown-scan-code", "unknown-location"],
)
async def test_tws_errors(
    client: ib_anyio.Client,
    server: sim.SimServer,
    scan_code: str,
    location: str,
    code: int,
    message: str,
) -> None:
    async with client.req_scanner_subscription(_subscription(scan_code, location)) as stream:
        with anyio.fail_after(5), pytest.raises(ib_anyio.TWSError) as info:
            await stream.receive()
    assert (info.value.req_id, info.value.code, info.value.message) == (
        stream.req_id,
        code,
        message,
    )
    await _round_trip(client)
    # TWS ended it: no cancel follows
    assert _cancels(server) == []


async def test_an_empty_scan_is_a_notice_and_goes_on(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    # no instrument of the universe trades over the counter
    async with (
        client.notices() as notices,
        client.req_scanner_subscription(_subscription(location="STK.US.MINOR")) as stream,
    ):
        with anyio.fail_after(5):
            notice = await notices.receive()
            while notice.code != 165:
                notice = await notices.receive()
        assert (notice.req_id, notice.message) == (
            stream.req_id,
            "Historical Market Data Service query message:no items retrieved",
        )
        await _round_trip(client)
        with pytest.raises(anyio.WouldBlock):
            stream.receive_nowait()  # no rows, no error: the scan goes on
    await _round_trip(client)
    assert _cancels(server) == [stream.req_id]  # TWS still had it running


async def test_ten_subscriptions_at_once(client: ib_anyio.Client, server: sim.SimServer) -> None:
    async with contextlib.AsyncExitStack() as stack:
        streams = [
            await stack.enter_async_context(client.req_scanner_subscription(_subscription()))
            for _ in range(10)
        ]
        for stream in streams:
            await _rounds(stream, 1)
        async with client.req_scanner_subscription(_subscription()) as eleventh:
            with anyio.fail_after(5), pytest.raises(ib_anyio.TWSError) as info:
                await eleventh.receive()
        assert info.value.code == 322
        assert info.value.message == (
            "Error processing request.-'bW' : cause - "
            "Only 10 simultaneous API scanner subscriptions are allowed."
        )
    await _round_trip(client)
    assert sorted(_cancels(server)) == sorted(s.req_id for s in streams)  # type: ignore[type-var]
    # the slots are free again
    async with client.req_scanner_subscription(_subscription()) as stream:
        await _rounds(stream, 1)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize(
    ("code", "expected"),
    [(code, expected) for _, code, expected in examples("scanners.md")],
    ids=[f"example{index}" for index, _, _ in examples("scanners.md")],
)
def test_scanners_doc_examples(backend: str, code: str, expected: list[str]) -> None:
    assert expected  # every example says what it prints
    assert same_lines(run_example("scanners.md", code, backend), expected)
