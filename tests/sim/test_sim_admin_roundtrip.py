"""FA, display groups, WSH, server log level, API config: what the stock EClient sends
is decoded by the simulator, and what the simulator encodes the stock decoder reads,
at the versions where their layouts or encodings change."""

from __future__ import annotations

from typing import Any

import pytest
from ibapi.client import EClient

from ib_anyio.sim._families import display_groups, fa, wsh
from ib_anyio.sim._protocol import Version
from tests.sim.test_sim_decode_orders import CLIENT_MAX, _decode, _send
from tests.sim.test_sim_encode_orders import decode, is_proto

# 157 replaceFA's id; 161 WSH; 171/173 WSH filters and dates; 177 no FA profiles;
# 209/211/213 protobuf for WSH, FA, display groups and the log level; 219/221 config.
VERSIONS = sorted(
    v for v in {157, 165, 172, 176, 200, 209, 210, 211, 212, 213, 219, 221, 226} if v <= CLIENT_MAX
)


@pytest.mark.parametrize("version", VERSIONS)
def test_requests_round_trip(version: int) -> None:
    cases: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("requestFA", (1,), {"faData": 1}),
        ("replaceFA", (7, 3, "<ListOfAccountAliases/>"), {"faData": 3, "reqId": 7}),
        ("queryDisplayGroups", (3,), {"reqId": 3}),
        ("subscribeToGroupEvents", (4, 2), {"reqId": 4, "groupId": 2}),
        ("updateDisplayGroup", (4, "8314@SMART"), {"reqId": 4, "contractInfo": "8314@SMART"}),
        ("unsubscribeFromGroupEvents", (4,), {"reqId": 4}),
        ("setServerLogLevel", (5,), {"logLevel": 5}),
    ]
    if hasattr(EClient, "reqWshMetaData") and version >= 161:
        from ibapi.common import WshEventData

        data = WshEventData()
        data.conId = 265598
        expected: dict[str, Any] = {"reqId": 6, "conId": 265598}
        if version >= wsh.FILTERS_DATE_SINCE:
            data.startDate, data.endDate, data.totalLimit = "20250101", "20250630", 9
            expected |= {"startDate": "20250101", "endDate": "20250630", "totalLimit": 9}
        cases += [
            ("reqWshMetaData", (5,), {"reqId": 5}),
            ("cancelWshMetaData", (5,), {"reqId": 5}),
            ("reqWshEventData", (6, data), expected),
            ("cancelWshEventData", (6,), {"reqId": 6}),
        ]
    for method, args, expected in cases:
        name, fields = _decode(version, _send(version, method, *args))
        assert name == method
        assert "decodeError" not in fields, (method, fields)
        assert {k: fields.get(k) for k in expected} == expected, method
    if hasattr(EClient, "reqConfigProtoBuf") and version >= 221:
        from ibapi.protobuf.ConfigRequest_pb2 import ConfigRequest
        from ibapi.protobuf.UpdateConfigRequest_pb2 import UpdateConfigRequest

        name, fields = _decode(version, _send(version, "reqConfigProtoBuf", ConfigRequest(reqId=8)))
        assert (name, fields) == ("reqConfig", {"reqId": 8})
        update = UpdateConfigRequest(reqId=9)
        update.api.settings.readOnlyApi = True
        name, fields = _decode(version, _send(version, "updateConfigProtoBuf", update))
        assert name == "updateConfig"
        assert fields["reqId"] == 9
        assert fields["request"].api.settings.readOnlyApi is True  # type: ignore[attr-defined]


@pytest.mark.parametrize("version", VERSIONS)
def test_answers_round_trip(version: int) -> None:
    xml = "<ListOfGroups><Group><name>All</name></Group></ListOfGroups>"
    data = fa.receive_fa(version, 1, xml)
    assert decode(data, version) == [("receiveFA", (1, xml))]
    assert is_proto(data, version) == (version >= Version.PROTOBUF_REST_MESSAGES_1)
    data = fa.replace_fa_end(version, 7, "Groups replaced")
    assert decode(data, version) == [("replaceFAEnd", (7, "Groups replaced"))]
    data = display_groups.display_group_list(version, 3, "1|2|3|4|5|6|7")
    assert decode(data, version) == [("displayGroupList", (3, "1|2|3|4|5|6|7"))]
    assert is_proto(data, version) == (version >= Version.PROTOBUF_REST_MESSAGES_3)
    data = display_groups.display_group_updated(version, 4, "265598@SMART")
    assert decode(data, version) == [("displayGroupUpdated", (4, "265598@SMART"))]
    if hasattr(EClient, "reqWshMetaData"):
        text = wsh.meta_data_json()
        data = wsh._answer(version, wsh.WSH_META_DATA, "WshMetaData", 5, text)
        assert decode(data, version) == [("wshMetaData", (5, text))]
        assert is_proto(data, version) == (version >= Version.PROTOBUF_NEWS_DATA)
        data = wsh._answer(version, wsh.WSH_EVENT_DATA, "WshEventData", 6, '{"a":1}')
        assert decode(data, version) == [("wshEventData", (6, '{"a":1}'))]
