"""Market depth on the wire: what the simulator encodes, decoded by the stock ibapi
``Decoder``, and what the stock ``EClient`` sends, decoded by the simulator, at every
version where a layout changes (text below 201, protobuf from each message's
threshold)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from ibapi.client import EClient
from ibapi.contract import Contract
from sim_client import CLIENT_MAX
from test_sim_encode_orders import decode, is_proto

from ib_anyio.sim._decode import decode_request
from ib_anyio.sim._encode import Encoder
from ib_anyio.sim._families import market_depth as md
from ib_anyio.sim._protocol import split_message

VERSIONS = [
    v
    for v in (100, 119, 120, 145, 146, 148, 149, 157, 176, 200, 201, 205, 206, 211, 212, 213)
    if v <= CLIENT_MAX
] + [CLIENT_MAX]


def _size(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("l2", [False, True])
def test_depth_rows_decode(version: int, l2: bool) -> None:
    enc = Encoder(version)
    op = md.Op(3, 1, 0, md.Row(229.97, 1200, "NSDQ" if l2 else ""))
    data = md.encode_op(enc, 41, op, l2=l2, smart=l2)
    assert is_proto(data, version) == (version >= 206)
    [(name, args)] = decode(data, version)
    if l2:
        assert name == "updateMktDepthL2"
        *head, size, smart = args
        assert head == [41, 3, "NSDQ", 1, 0, 229.97]
        assert smart is (version >= 146)  # SMART_DEPTH
    else:
        assert name == "updateMktDepth"
        *head, size = args
        assert head == [41, 3, 1, 0, 229.97]
    assert _size(size) == 1200


@pytest.mark.parametrize("version", VERSIONS)
def test_depth_exchanges_decode(version: int) -> None:
    data = md.encode_depth_exchanges(Encoder(version), md.DEPTH_EXCHANGES)
    assert is_proto(data, version) == (version >= 213)
    [(name, (descriptions,))] = decode(data, version)
    assert name == "mktDepthExchanges"
    got = [
        (d.exchange, d.secType, d.listingExch, d.serviceDataType, d.aggGroup) for d in descriptions
    ]
    if version >= 120:  # SERVICE_DATA_TYPE
        assert got == [
            (d.exchange, d.sec_type, d.listing_exch, d.service_data_type, d.agg_group)
            for d in md.DEPTH_EXCHANGES
        ]
    else:
        assert [g[:2] for g in got] == [(d.exchange, d.sec_type) for d in md.DEPTH_EXCHANGES]


@pytest.mark.parametrize("version", VERSIONS)
def test_smart_components_decode(version: int) -> None:
    components = md.SMART_COMPONENTS[md.BBO_EXCHANGE]
    data = md.encode_smart_components(Encoder(version), 9, components)
    assert is_proto(data, version) == (version >= 212)
    [(name, (req_id, found))] = decode(data, version)
    assert (name, req_id) == ("smartComponents", 9)
    if isinstance(found, dict):  # ibapi's protobuf decoder
        assert found == components
    else:
        assert {c.bitNumber: (c.exchange, c.exchangeLetter) for c in found} == components


class _Capture:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendMsg(self, msg: bytes) -> int:
        self.sent.append(msg)
        return len(msg)

    def isConnected(self) -> bool:
        return True

    def error(self, *args: Any) -> None:
        raise AssertionError(f"EClient refused: {args}")


def _send(version: int, method: str, *args: Any) -> tuple[str, dict[str, object]]:
    capture = _Capture()
    client = EClient(capture)
    client.conn = capture
    client.serverVersion_ = version
    client.connState = EClient.CONNECTED
    getattr(client, method)(*args)
    [msg] = capture.sent
    msg_id, is_protobuf, body = split_message(msg[4:], version)
    name, fields = decode_request(msg_id, is_protobuf, body, version)
    assert "decodeError" not in fields
    return name, fields


def _contract() -> Contract:
    contract = Contract()
    contract.conId = 265598
    contract.symbol, contract.secType, contract.currency = "AAPL", "STK", "USD"
    contract.exchange, contract.primaryExchange = "SMART", "NASDAQ"
    return contract


@pytest.mark.parametrize("version", VERSIONS)
def test_requests_decode(version: int) -> None:
    smart = version >= 146  # EClient refuses SMART depth below SMART_DEPTH
    contract = _contract()
    if version < 149:  # nor a primary exchange below MKT_DEPTH_PRIM_EXCHANGE
        contract.primaryExchange = ""
    name, fields = _send(version, "reqMktDepth", 7, contract, 5, smart, [])
    assert name == "reqMktDepth"
    got = fields["contract"]
    assert isinstance(got, dict)
    assert (got["conId"], got["symbol"], got["exchange"]) == (265598, "AAPL", "SMART")
    assert got.get("primaryExchange", "") == contract.primaryExchange
    assert (fields["reqId"], fields["numRows"], fields["isSmartDepth"]) == (7, 5, smart)
    assert _send(version, "cancelMktDepth", 7, smart) == (
        "cancelMktDepth",
        {"reqId": 7, "isSmartDepth": smart},
    )
    if version < 114:  # REQ_MKT_DEPTH_EXCHANGES (112), REQ_SMART_COMPONENTS (114)
        return
    assert _send(version, "reqMktDepthExchanges") == ("reqMktDepthExchanges", {})
    assert _send(version, "reqSmartComponents", 8, "9c0001") == (
        "reqSmartComponents",
        {"reqId": 8, "bboExchange": "9c0001"},
    )


def test_the_merge_keeps_a_full_side_within_its_rows() -> None:
    """A price move on a full side: the last row goes first, then the new best row."""
    old = [md.Row(10.0, 1), md.Row(9.99, 2)]
    new = [md.Row(10.01, 5), md.Row(10.0, 1)]
    ops = list(md.diff(old, new, 1, 2))
    assert [(o.operation, o.position) for o in ops] == [(2, 1), (0, 0)]
    # one row replaced by another where it stood: an update
    ops = list(md.diff([md.Row(10.0, 1)], [md.Row(9.98, 3)], 1, 5))
    assert [(o.operation, o.position, o.row.price) for o in ops] == [(1, 0, 9.98)]
