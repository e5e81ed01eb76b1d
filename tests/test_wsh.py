"""Wall Street Horizon end to end: metadata, event data by conId and by filter, errors."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from ibapi.client import EClient

import ib_anyio
from ib_anyio import items, sim
from tests.doc_examples import examples, run_example, same_lines

HAS_WSH = hasattr(EClient, "reqWshEventData")  # ibapi 10.x (not 9.81)
AAPL, MSFT = 265598, 272093


def _filter(**fields: Any) -> Any:
    from ibapi.common import WshEventData

    data = WshEventData()
    for name, value in fields.items():
        setattr(data, name, value)
    return data


async def test_meta_data(versioned: tuple[ib_anyio.Client, sim.SimServer]) -> None:
    c, server = versioned
    if not HAS_WSH:
        with pytest.raises(ib_anyio.UnsupportedRequest):
            await c.req_wsh_meta_data()
        return
    with anyio.fail_after(5):
        answer = await c.req_wsh_meta_data()
    assert isinstance(answer, items.WshMetaData)
    meta = json.loads(answer.data_json)
    assert meta["validated"] is True
    tags = [t["tag"] for t in meta["data"]["meta_data"]["event_types"]]
    assert "wshe_ed" in tags
    (sent,) = [m for m in server.received if m.name == "reqWshMetaData"]
    assert isinstance(sent.fields["reqId"], int)


async def test_event_data_by_con_id(versioned: tuple[ib_anyio.Client, sim.SimServer]) -> None:
    c, server = versioned
    if not HAS_WSH:
        with pytest.raises(ib_anyio.UnsupportedRequest):
            await c.req_wsh_event_data(object())  # type: ignore[arg-type]
        return
    dated = server.server_version >= 173
    request = _filter(conId=AAPL, startDate="20250101", endDate="20251231", totalLimit=3)
    with anyio.fail_after(5):
        answer = await c.req_wsh_event_data(request)
    assert isinstance(answer, items.WshEventDataItem)
    events = json.loads(answer.data_json)["data"]["events"]
    assert events
    assert {e["conid"] for e in events} == {AAPL}
    assert {e["index_date_type"] for e in events} <= {"wshe_ed", "wshe_div"}
    if dated:  # the dates and the limit travel from version 173
        assert len(events) == 3
        assert all("2025" in e["event_key"] for e in events)
    (sent,) = [m.fields for m in server.received if m.name == "reqWshEventData"]
    assert sent["conId"] == AAPL
    # deterministic: the same request, the same events
    with anyio.fail_after(5):
        again = await c.req_wsh_event_data(request)
    assert again.data_json == answer.data_json


async def test_event_data_by_filter(versioned: tuple[ib_anyio.Client, sim.SimServer]) -> None:
    c, _ = versioned
    if not HAS_WSH:
        return
    text = json.dumps({"country": "All", "conids": [AAPL, MSFT], "wshe_ed": "true"})
    with anyio.fail_after(5):
        answer = await c.req_wsh_event_data(_filter(filter=text, fillWatchlist=True))
    events = json.loads(answer.data_json)["data"]["events"]
    assert {e["conid"] for e in events} == {AAPL, MSFT}


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({}, "a conId or a filter is required"),
        ({"filter": "{not json"}, "the filter is not valid JSON"),
        ({"filter": "[1, 2]"}, "the filter must be a JSON object"),
        ({"conId": AAPL, "filter": "{}"}, "give either a conId or a filter, not both"),
    ],
)
async def test_bad_filters_get_tws_error(
    versioned: tuple[ib_anyio.Client, sim.SimServer], fields: dict[str, Any], why: str
) -> None:
    c, server = versioned
    if not HAS_WSH:
        return
    if "filter" in fields and server.server_version < 171:
        return  # the filter travels from version 171 (ibapi refuses it below)
    with anyio.fail_after(5), pytest.raises(ib_anyio.TWSError) as info:
        await c.req_wsh_event_data(_filter(**fields))
    assert info.value.code == 10283
    assert info.value.message == f"Failed request WSH event data: {why}"
    (sent,) = [m.fields for m in server.received if m.name == "reqWshEventData"]
    assert info.value.req_id == sent["reqId"]


async def test_unknown_con_id(versioned: tuple[ib_anyio.Client, sim.SimServer]) -> None:
    c, _ = versioned
    if not HAS_WSH:
        return
    with anyio.fail_after(5), pytest.raises(ib_anyio.TWSError) as info:
        await c.req_wsh_event_data(_filter(conId=1))
    assert info.value.code == 200


@pytest.mark.parametrize("kind", ["meta", "event"])
async def test_abandoned_request_is_cancelled_once(
    versioned: tuple[ib_anyio.Client, sim.SimServer], kind: str
) -> None:
    c, server = versioned
    if not HAS_WSH:
        return
    name = {"meta": "WshMetaData", "event": "WshEventData"}[kind]
    server.ignore(f"req{name}")

    async def ask() -> None:
        if kind == "meta":
            await c.req_wsh_meta_data()
        else:
            await c.req_wsh_event_data(_filter(conId=AAPL))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ask)
            await server.wait_for(lambda m: m.name == f"req{name}")
            tg.cancel_scope.cancel()  # the caller gives up
        cancels = await server.wait_for(lambda m: m.name == f"cancel{name}")
    (sent,) = [m.fields for m in server.received if m.name == f"req{name}"]
    assert [m.fields for m in cancels] == [{"reqId": sent["reqId"]}]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize(
    ("code", "expected"),
    [(code, expected) for _, code, expected in examples("wsh.md")],
    ids=[f"example{index}" for index, _, _ in examples("wsh.md")],
)
def test_wsh_doc_examples(backend: str, code: str, expected: list[str]) -> None:
    assert expected
    if not HAS_WSH:  # ibapi 9.81 has neither WshEventData nor the requests
        with pytest.raises(ImportError):
            run_example("wsh.md", code, backend)
        return
    assert same_lines(run_example("wsh.md", code, backend), expected)
