"""Framing and handshake of the TWS socket protocol, as the simulated TWS speaks it.

Protocol facts this module relies on (read from ibapi's ``client.py``/``comm.py``):

* Handshake: the client sends the 4 bytes ``b"API\\0"``, then one length-prefixed frame
  holding ``"v{min}..{max}"`` optionally followed by a space and connect options
  (``EClient.connect``, ``comm.make_initial_msg``). The server answers with ONE frame of
  exactly two NUL-terminated fields: the negotiated server version and the connection
  time. ibapi parses only the first frame of that read and drops whatever else arrived
  with it, so nothing else may be sent before the client's ``startApi``.
* Every later message, both directions, is a 4-byte big-endian length and a payload.
  Below server version 201 (``MIN_SERVER_VER_PROTOBUF``) the payload starts with the
  message id as a NUL-terminated text field; from 201 on the id is a 4-byte big-endian
  integer. The rest is NUL-terminated text fields, or, when the id is above 200
  (``PROTOBUF_MSG_ID``), a serialized protobuf message whose real id is ``id - 200``.
* Text fields: booleans travel as ``0``/``1``; every field ends with ``\\0``.

The version constants below are copied from ``ibapi.server_versions`` so that the simulator
does not depend on which ibapi release is installed (older releases lack the newer names).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable

from anyio.streams.buffered import BufferedByteReceiveStream

SIM_MAX_VERSION = 226
"""Highest server version the simulator speaks (ibapi 10.50's ``MAX_CLIENT_VER``)."""

MIN_CLIENT_VERSION = 100
"""Versions below this have no length prefixes; the simulator refuses them."""

PROTOBUF_MSG_ID = 200
MAX_FRAME = 0x00FFFFFF  # ibapi's MAX_MSG_LEN: 16 MiB - 1


class Version:
    """Server versions at which a message layout the simulator writes or reads changes."""

    OPTIONAL_CAPABILITIES = 72
    MD_SIZE_MULTIPLIER = 110
    REQ_SMART_COMPONENTS = 114
    AGG_GROUP = 121
    UNDERLYING_INFO = 122
    SYNT_REALTIME_BARS = 124
    MARKET_RULES = 126
    REAL_EXPIRATION_DATE = 134
    STOCK_TYPE = 152
    FRACTIONAL_SIZE_SUPPORT = 163
    SIZE_RULES = 164
    ADVANCED_ORDER_REJECT = 166
    BOND_ISSUERID = 176
    LAST_TRADE_DATE = 182
    INELIGIBILITY_REASONS = 186
    ERROR_TIME = 194
    HISTORICAL_DATA_END = 196
    PROTOBUF = 201
    PROTOBUF_COMPLETED_ORDER = 204
    PROTOBUF_CONTRACT_DATA = 205
    PROTOBUF_MARKET_DATA = 206
    PROTOBUF_ACCOUNTS_POSITIONS = 207
    PROTOBUF_HISTORICAL_DATA = 208
    PROTOBUF_NEWS_DATA = 209
    PROTOBUF_SCAN_DATA = 210
    PROTOBUF_REST_MESSAGES_1 = 211
    PROTOBUF_REST_MESSAGES_2 = 212
    PROTOBUF_REST_MESSAGES_3 = 213


class HandshakeError(Exception):
    """The peer did not open the connection the way an ibapi client does."""


_LENGTH = struct.Struct("!I")


def frame(payload: bytes) -> bytes:
    """Prefix ``payload`` with its 4-byte big-endian length."""
    return _LENGTH.pack(len(payload)) + payload


def _text_fields(fields: Iterable[object]) -> bytes:
    parts: list[str] = []
    for value in fields:
        if isinstance(value, bool):
            value = int(value)
        parts.append(f"{value}\0")
    return "".join(parts).encode()


def text_message(msg_id: int, fields: Iterable[object], version: int) -> bytes:
    """Frame a text message: the id (text below v201, 4-byte binary from v201) and fields."""
    head = msg_id.to_bytes(4, "big") if version >= Version.PROTOBUF else f"{msg_id}\0".encode()
    return frame(head + _text_fields(fields))


def proto_message(msg_id: int, data: bytes) -> bytes:
    """Frame a protobuf message: 4-byte id ``msg_id + 200``, then the serialized message."""
    return frame((msg_id + PROTOBUF_MSG_ID).to_bytes(4, "big") + data)


async def read_frame(stream: BufferedByteReceiveStream) -> bytes:
    """Read one length-prefixed frame.

    Raises:
        anyio.IncompleteRead: the peer closed the connection mid-frame or between frames.
        HandshakeError: the length is larger than ibapi ever sends.
    """
    (size,) = _LENGTH.unpack(await stream.receive_exactly(4))
    if size > MAX_FRAME:
        raise HandshakeError(f"frame of {size} bytes is too long")
    return await stream.receive_exactly(size) if size else b""


def parse_handshake(text: str) -> tuple[int, int, str]:
    """Parse ``"v100..226 +PACEAPI"`` into ``(min_version, max_version, options)``.

    Raises:
        HandshakeError: the text is not a version range.
    """
    spec, _, options = text.partition(" ")
    if not spec.startswith("v"):
        raise HandshakeError(f"bad version range {text!r}")
    low, _, high = spec[1:].partition("..")
    try:
        min_version = int(low)
        max_version = int(high) if high else min_version
    except ValueError:
        raise HandshakeError(f"bad version range {text!r}") from None
    return min_version, max_version, options


def negotiate(client_min: int, client_max: int, server_max: int) -> int | None:
    """The version both sides speak, or ``None`` when there is none at or above 100."""
    version = min(client_max, server_max)
    if version < max(client_min, MIN_CLIENT_VERSION):
        return None
    return version


def handshake_reply(version: int, now: float | None = None) -> bytes:
    """The server's only handshake frame: version and connection time, NUL-terminated."""
    stamp = time.strftime("%Y%m%d %H:%M:%S UTC", time.gmtime(now))
    return frame(_text_fields((version, stamp)))


def split_message(payload: bytes, version: int) -> tuple[int, bool, bytes]:
    """Split a client message into ``(out_msg_id, is_protobuf, body)``.

    Raises:
        ValueError: the payload has no readable message id.
    """
    if version >= Version.PROTOBUF:
        if len(payload) < 4:
            raise ValueError("message shorter than its id")
        msg_id = int.from_bytes(payload[:4], "big")
        body = payload[4:]
    else:
        head, sep, body = payload.partition(b"\0")
        if not sep:
            raise ValueError("message without id field")
        msg_id = int(head)
    if msg_id > PROTOBUF_MSG_ID:
        return msg_id - PROTOBUF_MSG_ID, True, body
    return msg_id, False, body
