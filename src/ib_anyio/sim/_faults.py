"""Fault modes of the simulated TWS: what a real TWS, a network or a newer TWS can do to a
client, on demand and deterministically.

Every method of :class:`Faults` that writes returns once the bytes are written to the
sockets of the connections it targets (by default every connection that has sent
``startApi``; pass ``client_id`` to pick one client's), so a test needs no sleeping: it
injects, then waits for what its client makes of it. ``SimServer.faults`` is the one
instance of a server.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import TYPE_CHECKING, Literal, final

import anyio

from ._encode import pb
from ._protocol import PROTOBUF_MSG_ID, Version, proto_message, text_message

if TYPE_CHECKING:
    from ._server import SimServer, _Connection

#: TWS's connectivity notices (error messages with id -1).
CONNECTIVITY_LOST = (1100, "Connectivity between IB and Trader Workstation has been lost.")
RESTORED_DATA_LOST = (
    1101,
    "Connectivity between IB and Trader Workstation has been restored - data lost.",
)
RESTORED_DATA_MAINTAINED = (
    1102,
    "Connectivity between IB and Trader Workstation has been restored - data maintained.",
)

#: A message id no ibapi release knows (ibapi logs and skips it).
UNKNOWN_MESSAGE_ID = 199
#: A tick type beyond every ibapi release's ``TickTypeEnum`` (whose last is 111 in 10.x).
UNKNOWN_TICK_TYPE = 250
#: A length prefix of 2 GiB: far beyond ibapi's 16 MiB ``MAX_MSG_LEN``.
HUGE_LENGTH = 0x80000000
#: What :meth:`Faults.send_garbage` writes unless told otherwise: not a frame of anything.
GARBAGE = b"\xff\xfe\x00garbage\x00\x01\x02\x03 not a TWS message \x00"

_TICK_GENERIC = 45


@final
class Faults:
    """Fault controls of one :class:`SimServer` (``server.faults``); only it creates one.

    Attributes:
        refuse_api: When true, every new connection is accepted and closed at once,
            without answering the handshake, as TWS does when API connections are
            disabled (each is recorded as a ``"refused"`` message). Connections already
            open are untouched.
        refused_client_ids: Client ids whose ``startApi`` closes the connection (recorded
            as ``"refused"``); :meth:`outage` with a ``client_id`` adds to it and
            :meth:`restore` empties it.
        unsubscribed: Symbols (``"IBM"``) whose market data the simulated account has no
            subscription for: their historical data requests get error 162 "Historical
            Market Data Service error message:No market data permissions for <exchange>
            <secType>".
    """

    def __init__(self, server: SimServer) -> None:
        self._server = server
        self.refuse_api = False
        self.refused_client_ids: set[int] = set()
        self.unsubscribed: set[str] = set()

    def _targets(self, client_id: int | None) -> list[_Connection]:
        return [
            conn
            for conn in list(self._server._conns.values())
            if conn.started and (client_id is None or conn.client_id == client_id)
        ]

    async def _write(self, client_id: int | None, build: Callable[[_Connection], bytes]) -> int:
        """Write ``build(conn)`` to each target; returns how many connections got it."""
        sent = 0
        for conn in self._targets(client_id):
            with suppress(*_connection_errors()):
                await conn.send_raw(build(conn))
                sent += 1
        return sent

    async def drop(self, client_id: int | None = None) -> None:
        """Close the targeted connections abruptly (no goodbye, like a crashed TWS) and
        return once they are gone."""
        conns = self._targets(client_id)
        for conn in conns:
            conn.scope.cancel()
        for conn in conns:
            await conn.closed.wait()

    def stall(self, client_id: int | None = None) -> None:
        """From now on send nothing more to the targeted connections (their sockets stay
        open and the server still reads and records their requests) until :meth:`resume`.
        What would have been sent meanwhile is discarded."""
        for conn in self._targets(client_id):
            conn.stalled = True

    def resume(self, client_id: int | None = None) -> None:
        """Undo :meth:`stall`: answer the targeted connections' requests again."""
        for conn in self._targets(client_id):
            conn.stalled = False

    def stop_reading(self, client_id: int | None = None) -> None:
        """Stop reading from the targeted connections (after at most the frame being read),
        so that the client's writes fill the socket buffers and back up, until
        :meth:`resume_reading`."""
        for conn in self._targets(client_id):
            if conn.read_gate is None:
                conn.read_gate = anyio.Event()

    def resume_reading(self, client_id: int | None = None) -> None:
        """Undo :meth:`stop_reading`: read (and answer) what the clients wrote meanwhile."""
        for conn in self._targets(client_id):
            gate, conn.read_gate = conn.read_gate, None
            if gate is not None:
                gate.set()

    async def send_truncated_frame(self, client_id: int | None = None) -> None:
        """Write the start of a frame (a length prefix of 100 and 10 of those bytes), then
        close the targeted connections; returns once they are gone."""
        await self._write(client_id, lambda _: struct.pack("!I", 100) + b"4\x00partial\x00")
        await self.drop(client_id)

    async def send_garbage(self, data: bytes = GARBAGE, client_id: int | None = None) -> None:
        """Write ``data`` raw (no length prefix) to the targeted connections, which stay
        open; the stream of frames is then out of step for good."""
        await self._write(client_id, lambda _: data)

    async def send_huge_length(self, client_id: int | None = None) -> None:
        """Write a frame header announcing 2 GiB (:data:`HUGE_LENGTH`) and a few bytes of
        it; the connections stay open."""
        await self._write(client_id, lambda _: struct.pack("!I", HUGE_LENGTH) + b"1\x00")

    async def send_unknown_message(
        self,
        msg_id: int = UNKNOWN_MESSAGE_ID,
        fields: Iterable[object] = ("1", "unknown"),
        client_id: int | None = None,
    ) -> None:
        """Write a well-framed message whose id ibapi does not know (text fields, with the
        id as text or 4-byte binary as the connection's version has it)."""
        values = tuple(fields)
        await self._write(client_id, lambda conn: text_message(msg_id, values, conn.version))

    async def send_tick(
        self,
        req_id: int,
        kind: Literal["price", "size", "string", "generic"] = "price",
        tick_type: int = UNKNOWN_TICK_TYPE,
        value: float | str = 1.5,
        client_id: int | None = None,
        *,
        newer_fields: bool = False,
    ) -> None:
        """Write one tick of ``tick_type`` (by default one newer than any ibapi knows) for
        request ``req_id``, encoded as the connection's version has that message: a
        tickPrice (size 1), tickSize, tickString or tickGeneric.

        With ``newer_fields``, the message also carries fields no ibapi release knows,
        as a newer TWS would send them: two more text fields at its end, or a protobuf
        field with an unknown number (:func:`with_newer_fields`)."""

        def build(conn: _Connection) -> bytes:
            data = encode(conn)
            return with_newer_fields(data, conn.version) if newer_fields else data

        def encode(conn: _Connection) -> bytes:
            enc = conn.encoder
            if kind == "price":
                return enc.tick_price(req_id, tick_type, float(value), 1)
            if kind == "size":
                return enc.tick_size(req_id, tick_type, int(float(value)))
            if kind == "string":
                return enc.tick_string(req_id, tick_type, str(value))
            if conn.version >= Version.PROTOBUF_MARKET_DATA:
                msg = pb("TickGeneric")(reqId=req_id, tickType=tick_type, value=float(value))
                return proto_message(_TICK_GENERIC, msg.SerializeToString())
            return text_message(_TICK_GENERIC, (6, req_id, tick_type, value), conn.version)

        await self._write(client_id, build)

    async def connectivity_lost(
        self,
        restored: Literal["data_lost", "data_maintained"] | None = None,
        client_id: int | None = None,
    ) -> None:
        """Lose TWS's connectivity to IB for the targeted connections: send the 1100
        notice, after which they get no market data (tick streams, ``keepUpToDate`` bar
        updates, real-time bars; their subscriptions stay, quiet) until
        :meth:`connectivity_restored`. Orders, executions and account messages keep
        flowing. With ``restored`` (``"data_lost"`` or ``"data_maintained"``),
        :meth:`connectivity_restored` follows at once."""
        conns = self._targets(client_id)
        for conn in conns:
            conn.pause_market_data()
        await self._notice(conns, *CONNECTIVITY_LOST)
        if restored is not None:
            await self.connectivity_restored(restored == "data_lost", client_id)

    async def connectivity_restored(self, data_lost: bool, client_id: int | None = None) -> None:
        """Restore connectivity for the targeted connections.

        With ``data_lost``, TWS's 1101 "restored - data lost": every market-data
        subscription of those connections is cancelled and forgotten at the server (a
        client gets data again only by re-sending its requests, with new ids). Otherwise
        1102 "restored - data maintained": the subscriptions resume where they paused.
        """
        conns = self._targets(client_id)
        for conn in conns:
            conn.resume_market_data(data_lost)
        await self._notice(conns, *(RESTORED_DATA_LOST if data_lost else RESTORED_DATA_MAINTAINED))

    async def _notice(self, conns: list[_Connection], code: int, text: str) -> None:
        for conn in conns:
            with suppress(*_connection_errors()):
                await conn.send_raw(conn._error(-1, code, text))

    async def outage(self, client_id: int | None = None) -> None:
        """TWS goes away for API clients until :meth:`restore`: close the targeted live
        connections (every connection, or those of ``client_id``) and return once they are
        gone; refuse new ones meanwhile.

        Without ``client_id`` this is :attr:`refuse_api` (new connections are closed
        unanswered). TWS learns a client's id only from ``startApi``, so with
        ``client_id`` a new connection gets its handshake answered and is closed at a
        ``startApi`` carrying that id (recorded as ``"refused"``, with the client id)."""
        if client_id is None:
            self.refuse_api = True
        else:
            self.refused_client_ids.add(client_id)
        conns = [
            conn
            for conn in list(self._server._conns.values())
            if client_id is None or conn.client_id == client_id
        ]
        for conn in conns:
            conn.scope.cancel()
        for conn in conns:
            await conn.closed.wait()

    def restore(self) -> None:
        """End every :meth:`outage`: accept API connections (any client id) again."""
        self.refuse_api = False
        self.refused_client_ids.clear()


#: The field number of the protobuf field :func:`with_newer_fields` adds: above
#: every field ibapi's messages define.
NEWER_PROTOBUF_FIELD = 999


def with_newer_fields(data: bytes, version: int) -> bytes:
    """``data`` (one framed message) with fields a newer TWS would add and no ibapi
    knows: text messages get two more fields at the end; protobuf messages a
    length-delimited field numbered :data:`NEWER_PROTOBUF_FIELD`."""
    payload = data[4:]
    if version >= Version.PROTOBUF and int.from_bytes(payload[:4], "big") > PROTOBUF_MSG_ID:
        extra = b"newer field"
        tag = _varint(NEWER_PROTOBUF_FIELD << 3 | 2)
        payload += tag + _varint(len(extra)) + extra
    else:
        payload += b"newer\0field\0"
    return len(payload).to_bytes(4, "big") + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _connection_errors() -> tuple[type[BaseException], ...]:
    from ._server import _CONNECTION_ERRORS

    return _CONNECTION_ERRORS
