"""Framing, handshake and request decoding of the simulated TWS, at the byte level."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.tag_value import TagValue
from ibapi.wrapper import EWrapper
from sim_client import VERSIONS, WAIT

from ib_anyio import sim
from ib_anyio.sim._decode import decode_request, request_name
from ib_anyio.sim._protocol import (
    frame,
    negotiate,
    parse_handshake,
    split_message,
    text_message,
)


def test_parse_handshake() -> None:
    assert parse_handshake("v100..226") == (100, 226, "")
    assert parse_handshake("v100..157 +PACEAPI") == (100, 157, "+PACEAPI")
    assert parse_handshake("v176") == (176, 176, "")


@given(st.integers(0, 300), st.integers(0, 300), st.integers(100, 226))
def test_negotiate(low: int, high: int, server_max: int) -> None:
    version = negotiate(low, high, server_max)
    if version is None:
        assert min(high, server_max) < max(low, 100)
    else:
        assert version == min(high, server_max)
        assert version >= 100


@pytest.mark.parametrize("version", [157, 201])
def test_split_message(version: int) -> None:
    payload = text_message(49, (1,), version)[4:]
    assert split_message(payload, version) == (49, False, b"1\0")
    assert split_message((71 + 200).to_bytes(4, "big") + b"\x08\x01", 213) == (
        71,
        True,
        b"\x08\x01",
    )


def test_request_names() -> None:
    assert request_name(1) == "reqMktData"
    assert request_name(2) == "cancelMktData"
    assert request_name(9) == "reqContractDetails"
    assert request_name(71) == "startApi"
    assert request_name(49) == "reqCurrentTime"
    assert request_name(9999) == "unknown9999"


async def read_frame(stream: Any) -> bytes:
    data = b""
    while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
        data += await stream.receive()
    size = int.from_bytes(data[:4], "big")
    assert len(data) == 4 + size, "more than one frame arrived"
    return data[4:]


async def test_handshake_reply_then_nothing_before_start_api() -> None:
    async with (
        sim.serve(server_version=157) as server,
        await anyio.connect_tcp(server.host, server.port) as stream,
    ):
        await stream.send(b"API\0" + frame(b"v100..226 +PACEAPI"))
        reply = await read_frame(stream)
        version, stamp, rest = reply.split(b"\0")
        assert (version, rest) == (b"157", b"")
        assert re.fullmatch(rb"\d{8} \d{2}:\d{2}:\d{2} UTC", stamp)
        [hello] = await server.wait_for(lambda m: m.name == "handshake")
        assert hello.fields == {
            "minVersion": 100,
            "maxVersion": 226,
            "options": "+PACEAPI",
            "serverVersion": 157,
        }
        # startApi v157: version 2, clientId 3, optional capabilities
        await stream.send(text_message(71, (2, 3, ""), 157))
        # nothing was sent before startApi's answer, which starts with nextValidId(1)
        first = await stream.receive()
        assert first.startswith(frame(b"9\x001\x001\x00"))


@pytest.mark.parametrize("opening", [b"API\0" + frame(b"v90..99"), b"GET / HTTP/1.1\r\n\r\n"])
async def test_bad_handshake_is_closed(opening: bytes) -> None:
    async with sim.serve() as server, await anyio.connect_tcp(server.host, server.port) as stream:
        await stream.send(opening)
        with anyio.fail_after(WAIT), pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
            await stream.receive()
        assert server._failures == []


async def test_client_vanishing_mid_frame() -> None:
    async with sim.serve() as server:
        async with await anyio.connect_tcp(server.host, server.port) as stream:
            await stream.send(b"API\0" + frame(b"v100..226"))
            await read_frame(stream)
            await stream.send(b"\0\0\0\x10abc")  # a truncated frame, then close
        with anyio.fail_after(WAIT):
            [gone] = await server.wait_for(lambda m: m.name == "disconnect")
        assert gone.conn == 1
        assert server.connections == 0
        assert server._failures == []


# -- request decoding against the real EClient encoder ---------------------------------


class _Capture:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendMsg(self, msg: bytes) -> int:
        self.sent.append(msg)
        return len(msg)

    def isConnected(self) -> bool:
        return True


def _encode(version: int, method: str, *args: Any) -> bytes:
    """The bytes the installed ibapi EClient writes for one request at ``version``."""
    client = EClient(EWrapper())
    capture = _Capture()
    client.conn = capture
    client.serverVersion_ = version
    client.connState = EClient.CONNECTED
    getattr(client, method)(*args)
    [msg] = capture.sent
    return msg


def _decode(version: int, msg: bytes) -> tuple[str, dict[str, object]]:
    assert int.from_bytes(msg[:4], "big") == len(msg) - 4
    msg_id, is_protobuf, body = split_message(msg[4:], version)
    return decode_request(msg_id, is_protobuf, body, version)


contracts: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    conId=st.integers(0, 2**31 - 2),
    symbol=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ.", min_size=1, max_size=6),
    secType=st.sampled_from(["STK", "OPT", "FUT", "CASH", "IND"]),
    lastTradeDateOrContractMonth=st.sampled_from(["", "202612", "20261218"]),
    strike=st.sampled_from([0.0, 5.5, 230.0, 1234.25]),
    right=st.sampled_from(["", "C", "P"]),
    multiplier=st.sampled_from(["", "50", "100"]),
    exchange=st.sampled_from(["SMART", "CME", "IDEALPRO", ""]),
    primaryExchange=st.sampled_from(["", "NASDAQ", "NYSE"]),
    currency=st.sampled_from(["USD", "EUR", ""]),
    localSymbol=st.sampled_from(["", "ESZ6"]),
    tradingClass=st.sampled_from(["", "NMS"]),
)


def _contract(fields: dict[str, Any]) -> Contract:
    c = Contract()
    for key, value in fields.items():
        setattr(c, key, value)
    return c


def _check_contract(decoded: object, expected: dict[str, Any]) -> None:
    assert isinstance(decoded, dict)
    assert {k: decoded[k] for k in expected} == expected


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(VERSIONS), st.integers(0, 2**31 - 2), contracts, st.booleans())
def test_decode_req_mkt_data(
    version: int, req_id: int, contract: dict[str, Any], snap: bool
) -> None:
    name, fields = _decode(
        version, _encode(version, "reqMktData", req_id, _contract(contract), "233", snap, False, [])
    )
    assert name == "reqMktData"
    assert (fields["reqId"], fields["snapshot"], fields["genericTickList"]) == (req_id, snap, "233")
    _check_contract(fields["contract"], contract)
    assert _decode(version, _encode(version, "cancelMktData", req_id)) == (
        "cancelMktData",
        {"reqId": req_id},
    )


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(VERSIONS), st.integers(0, 2**31 - 2), contracts)
def test_decode_req_contract_details(version: int, req_id: int, contract: dict[str, Any]) -> None:
    name, fields = _decode(
        version, _encode(version, "reqContractDetails", req_id, _contract(contract))
    )
    assert (name, fields["reqId"]) == ("reqContractDetails", req_id)
    _check_contract(fields["contract"], contract)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(VERSIONS),
    st.integers(0, 2**31 - 2),
    contracts,
    st.sampled_from(["", "20261124 16:00:00 US/Eastern"]),
    st.sampled_from(["1 D", "3600 S", "2 W"]),
    st.sampled_from(["1 min", "1 hour", "1 day"]),
    st.booleans(),
    st.sampled_from([1, 2]),
    st.booleans(),
)
def test_decode_req_historical_data(
    version: int,
    req_id: int,
    contract: dict[str, Any],
    end: str,
    duration: str,
    bar_size: str,
    rth: bool,
    format_date: int,
    keep: bool,
) -> None:
    keep = keep and version >= 124 and not end
    msg = _encode(
        version,
        "reqHistoricalData",
        req_id,
        _contract(contract),
        end,
        duration,
        bar_size,
        "TRADES",
        int(rth),
        format_date,
        keep,
        [],
    )
    name, fields = _decode(version, msg)
    assert name == "reqHistoricalData"
    expected = {
        "reqId": req_id,
        "endDateTime": end,
        "durationStr": duration,
        "barSizeSetting": bar_size,
        "whatToShow": "TRADES",
        "useRTH": rth,
        "formatDate": format_date,
        "keepUpToDate": keep,
    }
    assert {k: fields[k] for k in expected} == expected
    _check_contract(fields["contract"], contract)
    assert _decode(version, _encode(version, "cancelHistoricalData", req_id)) == (
        "cancelHistoricalData",
        {"reqId": req_id},
    )


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(VERSIONS),
    st.integers(0, 2**31 - 2),
    contracts,
    st.sampled_from([5, 10]),
    st.sampled_from(["TRADES", "MIDPOINT", "BID", "ASK"]),
    st.booleans(),
    st.sampled_from([[], [("XYZ", "1")]]),
)
def test_decode_req_real_time_bars(
    version: int,
    req_id: int,
    contract: dict[str, Any],
    bar_size: int,
    what: str,
    rth: bool,
    options: list[tuple[str, str]],
) -> None:
    tags = [TagValue(k, v) for k, v in options]
    msg = _encode(
        version, "reqRealTimeBars", req_id, _contract(contract), bar_size, what, rth, tags
    )
    name, fields = _decode(version, msg)
    assert name == "reqRealTimeBars"
    expected = {
        "reqId": req_id,
        "barSize": bar_size,
        "whatToShow": what,
        "useRTH": rth,
        "realTimeBarsOptions": "".join(f"{k}={v};" for k, v in options),
    }
    assert {k: fields[k] for k in expected} == expected
    _check_contract(fields["contract"], contract)
    assert _decode(version, _encode(version, "cancelRealTimeBars", req_id)) == (
        "cancelRealTimeBars",
        {"reqId": req_id},
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_decode_simple_requests(version: int) -> None:
    assert _decode(version, _encode(version, "reqIds", 3)) == ("reqIds", {"numIds": 3})
    assert _decode(version, _encode(version, "reqCurrentTime")) == ("reqCurrentTime", {})
    assert _decode(version, _encode(version, "reqManagedAccts")) == ("reqManagedAccts", {})
    assert _decode(version, _encode(version, "reqMarketDataType", 4)) == (
        "reqMarketDataType",
        {"marketDataType": 4},
    )


@pytest.mark.parametrize("version", [v for v in VERSIONS if v >= 130])
def test_unserved_requests_keep_their_id(version: int) -> None:
    contract = _contract({"symbol": "AAPL", "secType": "STK"})
    head = _decode(version, _encode(version, "reqHeadTimeStamp", 42, contract, "TRADES", 1, 1))
    assert (head[0], head[1]["reqId"]) == ("reqHeadTimeStamp", 42)
    cancel = _decode(version, _encode(version, "cancelHeadTimeStamp", 42))
    assert (cancel[0], cancel[1]["reqId"]) == ("cancelHeadTimeStamp", 42)
    pnl = _decode(version, _encode(version, "reqPnL", 7, "DU1234567", ""))
    assert (pnl[0], pnl[1]["reqId"]) == ("reqPnL", 7)
    positions = _decode(version, _encode(version, "reqPositions"))
    assert positions[0] == "reqPositions"
    assert "decodeError" not in positions[1]


def test_main_prints_address_and_stops_on_interrupt() -> None:
    code = "import sys; from ib_anyio.sim import main; sys.exit(main(sys.argv[1:]))"
    argv = ["--port", "0", "--server-version", "150", "--seed", "3", "--burst", "10"]
    with subprocess.Popen(
        [sys.executable, "-c", code, *argv], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            proc.send_signal(signal.SIGINT)
            assert proc.wait(WAIT) == 0
        finally:
            proc.kill()
    assert re.fullmatch(
        r"Simulated TWS listening on 127\.0\.0\.1:\d+ \(server version 150\); Ctrl-C stops it\n",
        line,
    )


@pytest.mark.parametrize(("body", "expected"), [(b"\x08\x2a", 42), (b"\x08\xac\x02\x12\x00", 300)])
def test_unknown_protobuf_request_keeps_its_leading_id(body: bytes, expected: int) -> None:
    # A protobuf request the installed ibapi has no class for: field 1 is its id.
    name, fields = decode_request(199, True, body, 226)
    assert (name, fields["reqId"]) == ("unknown199", expected)
    assert decode_request(199, True, b"\x12\x00", 226)[1] == {"protobuf": b"\x12\x00"}
