"""The simulated TWS server: an anyio TCP listener serving the ibapi socket protocol.

Per connection: handshake (see ``_protocol``), then a read loop that decodes each client
message (``_decode``), records it in ``SimServer.received`` and answers it with messages
encoded for the negotiated version (``_encode``). Streaming answers (market data,
``keepUpToDate`` bars) run as tasks in the connection's task group, each under its own
cancel scope keyed by request id, so a cancel request, a dropped connection or leaving
``serve`` stops them. Writes from all of a connection's tasks go through one lock.

What TWS does and the simulator copies:

* After ``startApi``: ``nextValidId``, ``managedAccounts``, then the farm notices as error
  messages with id -1 (2104 market data, 2106 HMDS, 2158 sec-def).
* Market data (``reqMktData``, ``reqMarketDataType``, tick-by-tick, option
  calculations): see the family module ``_families.market_data``.
* ``reqRealTimeBars``: one ``realtimeBar`` per ``tick_interval`` (TWS's 5 seconds), each
  5 s after the one before, the market stepping once per bar.
* Connectivity (``Faults.connectivity_lost``/``connectivity_restored``): after 1100 the
  market-data streams of a connection (kinds in :data:`MARKET_DATA_KINDS`) hold their
  messages; 1101 cancels and forgets them, 1102 lets them go on.
* A ``startApi`` with a client id that another connection already started with gets
  error 326 (id -1) and the server closes the connection; one whose client id is in an
  outage (``Faults.outage``) is closed and recorded as ``"refused"``.
* TWS's limits (``_rules``): the message rate (error 100 and a disconnect; off by
  default), market-data lines (error 101) and historical-data pacing (error 162, 420 for
  real-time bars; off by default). Faults are injected through ``SimServer.faults`` (``_faults``).
* Unknown or ambiguous contracts get error 200 with the request's id.
* Orders and the account are the desk's (``_desk``): it hands requests to the broker
  (``_broker``) and the account (``_account``) and sends what they answer, to the
  connections that must see it. One market (``_market``) per server: market-data
  streams show its quotes and resting orders match against them.
* A request the simulator does not serve is answered with error 10999 carrying its id;
  one it cannot decode with error 320 (and a warning in the log). Cancels are never
  answered, as with TWS.
"""

from __future__ import annotations

import argparse
import functools
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, final

import anyio
import anyio.abc
import attrs
from anyio.streams.buffered import BufferedByteReceiveStream
from ibapi.contract import Contract
from ibapi.order import Order

from ._account import Account
from ._broker import Broker, SimOrder
from ._decode import Fields, Out, decode_request, int_field
from ._desk import Desk
from ._encode import Encoder
from ._families import families
from ._faults import Faults
from ._market import Market
from ._protocol import (
    SIM_MAX_VERSION,
    HandshakeError,
    handshake_reply,
    negotiate,
    parse_handshake,
    read_frame,
    split_message,
)
from ._rules import (
    MSG_RATE_CODE,
    RT_BAR_SIZE_TEXT,
    RT_PACING_TEXT,
    RT_QUERY_CODE,
    HistoricalPacing,
    MessageRate,
    Rules,
    msg_rate_text,
)
from ._universe import (
    UNIVERSE,
    Instrument,
    Quote,
    match,
    quotes,
    real_time_bar,
)

logger = logging.getLogger("ib_anyio.sim")

ACCOUNT = "DU1234567"
#: The accounts an advisor login manages (``serve(fa=True)``): the advisor's own
#: F-account first, then its clients; the simulated account is the first client.
FA_ACCOUNTS = ("DF1234560", ACCOUNT, "DU1234568", "DU1234569")
CHUNK = 64 * 1024

NOTICES = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)
NO_SECURITY = "No security definition has been found for the request"

#: TWS's code for a request it could not read ("Server error when reading an API client
#: request"); the simulator also uses it for messages it fails to decode.
DECODE_ERROR = 320
#: TWS's answer to a ``startApi`` whose client id another connection already uses; TWS
#: then closes the connection.
CLIENT_ID_IN_USE = 326
CLIENT_ID_IN_USE_TEXT = (
    "Unable to connect as the client id is already in use. Retry with a unique client id."
)
#: The simulator's own code for a request it does not implement (no TWS code is assigned
#: to it, so no client can mistake it for a real TWS condition).
NOT_SUPPORTED = 10999

#: The kinds of streaming tasks that are market data: what TWS pauses after 1100 and
#: forgets after 1101 (orders and account updates are not market data).
MARKET_DATA_KINDS = frozenset({"ticks", "tbt", "bars", "rtbars", "depth"})
#: Seconds a real-time bar covers (TWS serves only 5-second bars).
RT_BAR_SECONDS = 5
_RT_WHAT_TO_SHOW = frozenset({"TRADES", "MIDPOINT", "BID", "ASK"})

_CONNECTION_ERRORS = (
    anyio.EndOfStream,
    anyio.IncompleteRead,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    ConnectionError,
    HandshakeError,
)


@attrs.frozen
class Received:
    """One message a client sent, as the simulator decoded it.

    Attributes:
        client_id: The client id from the connection's ``startApi`` (``None`` before it).
        conn: Connection number, counting from 1 in accept order.
        name: EClient's request name, e.g. ``"reqMktData"``. Two pseudo-messages frame
            each connection: ``"handshake"`` (fields ``minVersion``, ``maxVersion``,
            ``options``, ``serverVersion``: the negotiated version or ``None`` when refused)
            first, ``"disconnect"`` (no fields) once the connection is gone; a connection
            refused by ``faults.refuse_api`` is only ``"refused"`` (no fields).
        fields: The request's fields by EClient parameter name (``reqId``, ``contract``...).
    """

    client_id: int | None
    conn: int
    name: str
    fields: Fields


def max_version() -> int:
    """The highest version this installation serves: 226, capped at the installed ibapi's
    ``MAX_CLIENT_VER``, whose protobuf classes encode the messages of versions from 201."""
    from ibapi.server_versions import MAX_CLIENT_VER

    return min(SIM_MAX_VERSION, int(MAX_CLIENT_VER))


@final
class SimServer:
    """A running simulated TWS. Only :func:`serve` creates one.

    Attributes:
        host: Address the server listens on.
        port: Port it listens on (the one the OS picked when ``serve`` got port 0).
        server_version: Highest version it negotiates.
        received: Every client message in arrival order (see :class:`Received`).
    """

    def __init__(
        self,
        host: str,
        port: int,
        server_version: int,
        seed: int,
        tick_interval: float,
        burst: int,
        *,
        cash: float = 1_000_000.0,
        status_repeats: int = 1,
        rules: Rules | None = None,
        fa: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.server_version = server_version
        self.seed = seed
        self.tick_interval = tick_interval
        self.burst = burst
        self.received: list[Received] = []
        self._changed = anyio.Event()
        self._conns: dict[int, _Connection] = {}
        self._next_conn = 0
        self._failures: list[BaseException] = []
        self._ignored: set[str] = set()
        #: Whether the login is a Financial Advisor's (``serve(fa=True)``).
        self.fa = fa
        #: The accounts ``managedAccounts`` lists.
        self.accounts: tuple[str, ...] = FA_ACCOUNTS if fa else (ACCOUNT,)
        #: What request families keep between requests, by family name (FA
        #: configuration, display groups, API settings...).
        self.state: dict[str, Any] = {}
        #: TWS's limits this server enforces (message rate, tickers, historical pacing).
        self.rules = rules or Rules()
        #: Current quotes of the universe, shared by every connection and the broker.
        self.market = Market(seed)
        #: The one simulated account (``DU1234567``): cash, positions, PnL.
        self.account = Account(cash=cash)
        #: Orders of every client, matched against :attr:`market`.
        self.broker = Broker(self.market, self.account, status_repeats=status_repeats)
        self._desk = Desk(self.market, self.account, self.broker)
        #: Fault injection: drop, stall, stop reading, bad frames, unknown messages and
        #: ticks, connectivity notices, refusing API connections (see :class:`Faults`).
        self.faults = Faults(self)

    @property
    def connections(self) -> int:
        """Number of currently open client connections."""
        return len(self._conns)

    def _stream_count(self) -> int:
        """Streaming tasks (market data, bar updates) running on all connections."""
        return sum(len(conn.streams) for conn in self._conns.values())

    def _record(self, message: Received) -> None:
        self.received.append(message)
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for(
        self, predicate: Callable[[Received], bool], count: int = 1
    ) -> list[Received]:
        """Wait until ``count`` received messages satisfy ``predicate``.

        Returns:
            All matching messages received so far (at least ``count``), oldest first.
            Bound the wait yourself, e.g. with ``anyio.fail_after``.
        """
        matches: list[Received] = []
        seen = 0
        while True:
            matches += [m for m in self.received[seen:] if predicate(m)]
            seen = len(self.received)
            if len(matches) >= count:
                return matches
            await self._changed.wait()

    async def set_quote(
        self,
        contract: str | Instrument | Any,
        *,
        bid: float | None = None,
        ask: float | None = None,
        last: float | None = None,
        bid_size: int | None = None,
        ask_size: int | None = None,
        last_size: int | None = None,
    ) -> Quote:
        """Move an instrument's price, deterministically, and keep it there.

        Args:
            contract: A symbol of the universe (``"AAPL"``: its stock, index, forex pair
                or front-month future), an :class:`Instrument`, or an ibapi ``Contract``
                designating one.
            bid, ask, last, bid_size, ask_size, last_size: The new values; those left
                ``None`` keep their current value.

        The instrument stops following its random walk. Open market-data streams get the
        new quote at once, resting orders are matched against it, and fills update the
        account and its subscribers, before this returns.

        Returns:
            The instrument's quote now.

        Raises:
            ValueError: no single instrument matches, or the quote is inconsistent.
        """
        inst = _instrument(contract)
        quote = self.market.set_quote(
            inst,
            bid=bid,
            ask=ask,
            last=last,
            bid_size=bid_size,
            ask_size=ask_size,
            last_size=last_size,
        )
        for conn in list(self._conns.values()):
            await conn.quote_changed(inst)
        await self._desk.publish(self.broker.on_quote(inst))
        return quote

    async def place_manual_order(self, contract: Contract, order: Order) -> SimOrder:
        """Place an order as a person typing it into TWS (client id 0, order ids -1, -2...).

        Client 0 connections that sent ``reqAutoOpenOrders(true)`` see it and its fills.

        Returns:
            The broker's record of the order (live: its status and fills change).

        Raises:
            ValueError: no single instrument matches the contract, or the broker rejected
                the order (the reason is in the message).
        """
        return await self._desk.place_manual(_instrument(contract), order)

    async def publish_bulletin(self, message: str, *, msg_type: int = 1, exchange: str = "") -> int:
        """Publish an IB news bulletin: clients subscribed with ``reqNewsBulletins`` get
        it at once, later ``reqNewsBulletins(allMsgs=True)`` among the day's bulletins.

        Args:
            message: The bulletin's text.
            msg_type: 1 a regular bulletin, 2 an exchange is no longer available for
                trading, 3 an exchange is available again.
            exchange: The exchange the bulletin is about (types 2 and 3).

        Returns:
            The bulletin's message id (1, 2, ... per server).
        """
        from ._families.news import publish_bulletin

        return await publish_bulletin(self, message, msg_type=msg_type, exchange=exchange)

    async def _clock(self) -> None:
        """The market between requests: every ``tick_interval`` (at least 50 ms), move the
        instruments that have working orders (unless pinned), match them, and send the
        PnL that changed."""
        while True:
            await anyio.sleep(max(self.tick_interval, 0.05))
            working = {o.inst.con_id: o.inst for o in self.broker.open_orders()}
            for inst in working.values():
                await self._desk.step(inst)
            await self._desk.tick()

    def ignore(self, *names: str) -> None:
        """Record but never answer the requests named (EClient names, e.g.
        ``"reqHeadTimeStamp"``): for tests of pending requests, cancellation and timeouts."""
        self._ignored.update(names)

    async def drop_connections(self) -> None:
        """Abruptly close every client connection (no goodbye, like a crashed TWS) and wait
        until they are gone."""
        conns = list(self._conns.values())
        for conn in conns:
            conn.scope.cancel()
        for conn in conns:
            await conn.closed.wait()

    async def broadcast_error(self, code: int, message: str, req_id: int = -1) -> None:
        """Send an error message (a notice when ``req_id`` is -1, e.g. 2105 "HMDS data farm
        connection is broken") to every client that has sent ``startApi``."""
        for conn in list(self._conns.values()):
            if conn.started:
                with suppress(*_CONNECTION_ERRORS):
                    await conn.send(conn._error(req_id, code, message))

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        self._next_conn += 1
        if self.faults.refuse_api:  # as TWS with API connections disabled
            await stream.aclose()
            self._record(Received(None, self._next_conn, "refused", {}))
            return
        conn = _Connection(self, self._next_conn, stream)
        self._conns[conn.number] = conn
        try:
            async with stream:
                with conn.scope:
                    await conn.serve()
        except _CONNECTION_ERRORS:
            pass
        except Exception as exc:  # a simulator bug: log it, keep serving the others
            logger.exception("simulated TWS connection %d failed", conn.number)
            self._failures.append(exc)
        finally:
            del self._conns[conn.number]
            self._desk.detach(conn)
            conn.closed.set()
            self._record(Received(conn.client_id, conn.number, "disconnect", {}))


class _Connection:
    def __init__(self, server: SimServer, number: int, stream: anyio.abc.SocketStream) -> None:
        self.server = server
        self.number = number
        self.stream = stream
        self.scope = anyio.CancelScope()
        self.closed = anyio.Event()
        self.client_id: int | None = None
        self.version = 0
        self.encoder = Encoder(0)
        self.market_data_type = 0  # 0: never requested
        self.started = False  # startApi received: the client may be sent messages
        self.auto_open = False  # client 0 after reqAutoOpenOrders(true)
        self.desk = server._desk
        self.ticks: dict[int, Instrument] = {}  # streaming reqMktData by request id
        self.rate = MessageRate(server.rules)
        self.hist_pacing = HistoricalPacing(server.rules)
        self._send_lock = anyio.Lock()
        self.stalled = False  # Faults.stall: send nothing (discard) while true
        self.read_gate: anyio.Event | None = None  # Faults.stop_reading: wait on it
        self.md_gate: anyio.Event | None = None  # after 1100: market data waits on it
        self.streams: dict[tuple[str, int], anyio.CancelScope] = {}
        self._tg: anyio.abc.TaskGroup | None = None

    async def send(self, data: bytes) -> None:
        if self.stalled:
            return
        await self.send_raw(data)

    async def send_raw(self, data: bytes) -> None:
        """Write ``data`` whole, between other tasks' messages, even when stalled."""
        async with self._send_lock:
            await self.stream.send(data)

    async def market_data_open(self) -> None:
        """Return once market data may flow (at once unless connectivity is lost)."""
        while self.md_gate is not None:
            await self.md_gate.wait()

    async def send_market_data(self, data: bytes, *, hold: bool = True) -> None:
        """Send market data: while connectivity is lost it is held back until restored
        (or discarded, without ``hold``). Checked under the send lock, so nothing is
        written after the 1100 notice."""
        while True:
            if hold:
                await self.market_data_open()
            async with self._send_lock:
                if self.md_gate is None:
                    if not self.stalled:
                        await self.stream.send(data)
                    return
                if not hold:
                    return

    def pause_market_data(self) -> None:
        """Connectivity lost (1100): market-data streams hold until resumed or dropped."""
        if self.md_gate is None:
            self.md_gate = anyio.Event()

    def resume_market_data(self, data_lost: bool) -> None:
        """Connectivity restored: with ``data_lost`` (1101) every market-data
        subscription is cancelled and forgotten first; otherwise (1102) they carry on."""
        if data_lost:
            for kind, req_id in [key for key in self.streams if key[0] in MARKET_DATA_KINDS]:
                self._cancel(kind, req_id)
            self.ticks.clear()
        gate, self.md_gate = self.md_gate, None
        if gate is not None:
            gate.set()

    def _error(self, req_id: int, code: int, message: str) -> bytes:
        return self.encoder.error(req_id, code, message, int(time.time() * 1000))

    async def serve(self) -> None:
        reader = BufferedByteReceiveStream(self.stream)
        if await reader.receive_exactly(4) != b"API\0":
            raise HandshakeError("connection does not start with API\\0")
        low, high, options = parse_handshake((await read_frame(reader)).decode("ascii", "replace"))
        version = negotiate(low, high, self.server.server_version)
        self._record(
            "handshake",
            {"minVersion": low, "maxVersion": high, "options": options, "serverVersion": version},
        )
        if version is None:
            raise HandshakeError(f"no common version: client v{low}..{high}")
        self.version = version
        self.encoder = Encoder(version)
        await self.send(handshake_reply(version))
        async with anyio.create_task_group() as tg:
            self._tg = tg
            with suppress(*_CONNECTION_ERRORS):
                await self._read_loop(reader)
            tg.cancel_scope.cancel()  # the client went away: stop its streams too

    async def _read_loop(self, reader: BufferedByteReceiveStream) -> None:
        while True:
            while self.read_gate is not None:
                await self.read_gate.wait()
            payload = await read_frame(reader)
            msg_id, is_protobuf, body = split_message(payload, self.version)
            name, fields = decode_request(msg_id, is_protobuf, body, self.version)
            client_id = fields.get("clientId")
            if msg_id == Out.START_API and isinstance(client_id, int):
                self.client_id = client_id
            self._record(name, fields)
            received = self.rate.exceeded()
            if received is not None:  # as TWS: error 100, then the connection is closed
                limit = self.server.rules.max_msg_rate or 0
                await self.send(self._error(-1, MSG_RATE_CODE, msg_rate_text(limit, received)))
                self.scope.cancel()
                return
            if "decodeError" in fields:
                logger.warning(
                    "simulated TWS: could not decode %s from client %s: %s",
                    name,
                    self.client_id,
                    fields["decodeError"],
                )
                await self.send(
                    self._error(_request_id(fields), DECODE_ERROR, f"Error reading {name} request")
                )
            elif name not in self.server._ignored:
                await self._dispatch(msg_id, name, fields)

    def _record(self, name: str, fields: Fields) -> None:
        self.server._record(Received(self.client_id, self.number, name, fields))

    async def _dispatch(self, msg_id: int, name: str, fields: Fields) -> None:
        handler = _handlers().get(msg_id)
        if handler is not None:
            await handler(self, fields)
        elif not name.startswith(_UNANSWERED_PREFIXES):
            # Never leave a client waiting: say so, with the request's id.
            logger.warning("simulated TWS: %s is not supported; answered with an error", name)
            await self.send(
                self._error(
                    _request_id(fields),
                    NOT_SUPPORTED,
                    f"{name} is not supported by the simulated TWS",
                )
            )

    # -- streaming tasks -------------------------------------------------------------

    def _start(self, kind: str, req_id: int, run: Callable[[], Awaitable[None]]) -> None:
        self._cancel(kind, req_id)
        scope = anyio.CancelScope()
        self.streams[(kind, req_id)] = scope
        assert self._tg is not None
        self._tg.start_soon(self._run_stream, kind, req_id, scope, run)

    async def _run_stream(
        self, kind: str, req_id: int, scope: anyio.CancelScope, run: Callable[[], Awaitable[None]]
    ) -> None:
        with scope:
            try:
                await run()
            except _CONNECTION_ERRORS:
                self.scope.cancel()
        if self.streams.get((kind, req_id)) is scope:
            del self.streams[(kind, req_id)]

    def _cancel(self, kind: str, req_id: int) -> None:
        scope = self.streams.pop((kind, req_id), None)
        if scope is not None:
            scope.cancel()

    # -- request handlers ------------------------------------------------------------

    async def start_api(self, fields: Fields) -> None:
        if self.client_id in self.server.faults.refused_client_ids:  # Faults.outage(id)
            self._record("refused", {})
            self.scope.cancel()
            return
        if any(
            other is not self and other.started and other.client_id == self.client_id
            for other in self.server._conns.values()
        ):
            # As TWS: error 326 with id -1, then the server closes the connection.
            await self.send(self._error(-1, CLIENT_ID_IN_USE, CLIENT_ID_IN_USE_TEXT))
            self.scope.cancel()
            return
        self.started = True
        self.desk.attach(self)
        enc = self.encoder
        now = int(time.time() * 1000)
        await self.send(
            enc.next_valid_id(self.desk.next_order_id(self.client_id or 0))
            + enc.managed_accounts(",".join(self.server.accounts))
            + b"".join(enc.error(-1, code, text, now) for code, text in NOTICES)
        )

    async def req_ids(self, fields: Fields) -> None:
        await self.send(self.encoder.next_valid_id(self.desk.next_order_id(self.client_id or 0)))

    async def req_managed_accts(self, fields: Fields) -> None:
        await self.send(self.encoder.managed_accounts(",".join(self.server.accounts)))

    async def req_current_time(self, fields: Fields) -> None:
        await self.send(self.encoder.current_time(int(time.time())))

    async def req_current_time_in_millis(self, fields: Fields) -> None:
        await self.send(self.encoder.current_time_in_millis(int(time.time() * 1000)))

    # -- orders and the account: the desk's business -----------------------------------

    async def place_order(self, fields: Fields) -> None:
        await self.desk.place_order(self, fields)

    async def cancel_order(self, fields: Fields) -> None:
        await self.desk.cancel_order(self, fields)

    async def req_global_cancel(self, fields: Fields) -> None:
        await self.desk.global_cancel(self, fields)

    async def req_open_orders(self, fields: Fields) -> None:
        await self.desk.open_orders(self, every_client=False)

    async def req_all_open_orders(self, fields: Fields) -> None:
        await self.desk.open_orders(self, every_client=True)

    async def req_auto_open_orders(self, fields: Fields) -> None:
        self.auto_open = self.client_id == 0 and bool(fields.get("bAutoBind"))

    async def req_completed_orders(self, fields: Fields) -> None:
        await self.desk.completed_orders(self, fields)

    async def req_executions(self, fields: Fields) -> None:
        await self.desk.executions(self, fields)

    async def exercise_options(self, fields: Fields) -> None:
        await self.desk.exercise(self, fields)

    async def req_positions(self, fields: Fields) -> None:
        await self.desk.req_positions(self)

    async def cancel_positions(self, fields: Fields) -> None:
        self.desk.cancel_positions(self)

    async def req_account_updates(self, fields: Fields) -> None:
        await self.desk.req_account_updates(self, fields)

    async def req_account_summary(self, fields: Fields) -> None:
        await self.desk.req_account_summary(self, fields)

    async def cancel_account_summary(self, fields: Fields) -> None:
        self.desk.cancel_account_summary(self, fields)

    async def req_positions_multi(self, fields: Fields) -> None:
        await self.desk.req_positions_multi(self, fields)

    async def cancel_positions_multi(self, fields: Fields) -> None:
        self.desk.cancel_positions_multi(self, fields)

    async def req_account_updates_multi(self, fields: Fields) -> None:
        await self.desk.req_account_updates_multi(self, fields)

    async def cancel_account_updates_multi(self, fields: Fields) -> None:
        self.desk.cancel_account_updates_multi(self, fields)

    async def req_pnl(self, fields: Fields) -> None:
        await self.desk.req_pnl(self, fields, single=False)

    async def req_pnl_single(self, fields: Fields) -> None:
        await self.desk.req_pnl(self, fields, single=True)

    async def cancel_pnl(self, fields: Fields) -> None:
        self.desk.cancel_pnl(self, fields)

    def _one(self, req_id: int, contract: Any) -> Instrument | bytes:
        """The one instrument a request designates, or the error 200 to send instead."""
        found = match(contract if isinstance(contract, dict) else {})
        if len(found) == 1:
            return found[0]
        if not found:
            return self._error(req_id, 200, NO_SECURITY)
        symbol = found[0].symbol
        return self._error(
            req_id, 200, f"The contract description specified for {symbol} is ambiguous."
        )

    async def req_real_time_bars(self, fields: Fields) -> None:
        req_id = int_field(fields, "reqId")
        if self.hist_pacing.real_time_violation(fields):
            await self.send(self._error(req_id, RT_QUERY_CODE, RT_PACING_TEXT))
            return
        inst = self._one(req_id, fields.get("contract"))
        if isinstance(inst, bytes):
            await self.send(inst)
            return
        what = str(fields.get("whatToShow", "")).upper()
        if int_field(fields, "barSize") != RT_BAR_SECONDS or what not in _RT_WHAT_TO_SHOW:
            await self.send(self._error(req_id, RT_QUERY_CODE, RT_BAR_SIZE_TEXT))
            return
        self._start("rtbars", req_id, lambda: self._stream_real_time_bars(req_id, inst, what))

    async def _stream_real_time_bars(self, req_id: int, inst: Instrument, what: str) -> None:
        """One bar per ``tick_interval`` (standing for TWS's 5 seconds): the market moves
        one step per bar; each bar starts 5 s after the one before."""
        start = int(time.time()) // RT_BAR_SECONDS * RT_BAR_SECONDS
        while True:
            await anyio.sleep(self.server.tick_interval)
            await self.market_data_open()
            before = self.server.market.quote(inst)
            after = await self.desk.step(inst)
            bar = real_time_bar(start, (before, after), what)
            await self.send_market_data(self.encoder.real_time_bar(req_id, bar))
            start += RT_BAR_SECONDS

    async def cancel_real_time_bars(self, fields: Fields) -> None:
        self._cancel("rtbars", int_field(fields, "reqId"))

    async def quote_changed(self, inst: Instrument) -> None:
        """``set_quote`` moved ``inst``: its market-data streams on this connection hear
        of it at once (unless connectivity is lost: then they hear nothing)."""
        from ._families.market_data import tick_round

        data = b"".join(
            tick_round(self, req_id, inst, self.server.market.quote(inst))
            for req_id, streamed in self.ticks.items()
            if streamed.con_id == inst.con_id
        )
        if data:
            with suppress(*_CONNECTION_ERRORS):
                await self.send_market_data(data, hold=False)

    async def _burst(self, req_id: int, inst: Instrument) -> None:
        """Write ``burst`` tickPrice messages (bid/ask alternating, with sizes) as fast as
        the socket takes them: a few frames encoded once, cycled into ~64 KiB chunks."""
        enc = self.encoder
        frames = []
        for _, q in zip(range(8), quotes(inst, self.server.seed), strict=False):
            frames.append(enc.tick_price(req_id, 1, q.bid, q.bid_size))
            frames.append(enc.tick_price(req_id, 2, q.ask, q.ask_size))
        cycle = b"".join(frames)
        per_chunk = max(1, CHUNK // len(cycle)) * len(frames)
        chunk = cycle * (per_chunk // len(frames))
        left = self.server.burst
        while left >= per_chunk:
            await self.send(chunk)
            left -= per_chunk
        if left:
            reps = math.ceil(left / len(frames))
            await self.send(b"".join((frames * reps)[:left]))


def _instrument(contract: str | Instrument | Any) -> Instrument:
    """The one instrument of the universe a symbol, Instrument or ibapi Contract names."""
    if isinstance(contract, Instrument):
        return contract
    if isinstance(contract, str):
        # a symbol names its stock, index, forex pair or front-month future
        found = [i for i in UNIVERSE if i.symbol == contract and i.sec_type != "OPT"][:1]
        found = found or [i for i in UNIVERSE if contract in (i.local_symbol, i.symbol)]
    else:
        found = match(vars(contract))
    if len(found) != 1:
        what = "no instrument" if not found else f"{len(found)} instruments"
        raise ValueError(f"{what} of the simulated universe match {contract!r}")
    return found[0]


#: Messages that TWS never answers (cancels, settings): no error when unsupported.
_UNANSWERED_PREFIXES = ("cancel", "unsubscribe", "setServerLogLevel")


@functools.cache
def _handlers() -> dict[int, Callable[[_Connection, Fields], Awaitable[None]]]:
    """What the server does per request: its own handlers and every family's."""
    merged = dict(_HANDLERS)
    for family in families():
        merged.update(family.handlers)
    return merged


def _request_id(fields: Fields) -> int:
    """The id a request carries (``reqId`` or ``orderId``), or -1 when it has none."""
    for key in ("reqId", "orderId", "tickerId", "requestId"):
        value = fields.get(key)
        if isinstance(value, int):
            return value
    return -1


_HANDLERS: dict[int, Callable[[_Connection, Fields], Awaitable[None]]] = {
    Out.START_API: _Connection.start_api,
    Out.REQ_IDS: _Connection.req_ids,
    Out.REQ_MANAGED_ACCTS: _Connection.req_managed_accts,
    Out.REQ_CURRENT_TIME: _Connection.req_current_time,
    Out.REQ_CURRENT_TIME_IN_MILLIS: _Connection.req_current_time_in_millis,
    Out.REQ_REAL_TIME_BARS: _Connection.req_real_time_bars,
    Out.CANCEL_REAL_TIME_BARS: _Connection.cancel_real_time_bars,
    Out.PLACE_ORDER: _Connection.place_order,
    Out.CANCEL_ORDER: _Connection.cancel_order,
    Out.REQ_GLOBAL_CANCEL: _Connection.req_global_cancel,
    Out.REQ_OPEN_ORDERS: _Connection.req_open_orders,
    Out.REQ_ALL_OPEN_ORDERS: _Connection.req_all_open_orders,
    Out.REQ_AUTO_OPEN_ORDERS: _Connection.req_auto_open_orders,
    Out.REQ_COMPLETED_ORDERS: _Connection.req_completed_orders,
    Out.REQ_EXECUTIONS: _Connection.req_executions,
    Out.EXERCISE_OPTIONS: _Connection.exercise_options,
    Out.REQ_POSITIONS: _Connection.req_positions,
    Out.CANCEL_POSITIONS: _Connection.cancel_positions,
    Out.REQ_ACCT_DATA: _Connection.req_account_updates,
    Out.REQ_ACCOUNT_SUMMARY: _Connection.req_account_summary,
    Out.CANCEL_ACCOUNT_SUMMARY: _Connection.cancel_account_summary,
    Out.REQ_POSITIONS_MULTI: _Connection.req_positions_multi,
    Out.CANCEL_POSITIONS_MULTI: _Connection.cancel_positions_multi,
    Out.REQ_ACCOUNT_UPDATES_MULTI: _Connection.req_account_updates_multi,
    Out.CANCEL_ACCOUNT_UPDATES_MULTI: _Connection.cancel_account_updates_multi,
    Out.REQ_PNL: _Connection.req_pnl,
    Out.CANCEL_PNL: _Connection.cancel_pnl,
    Out.REQ_PNL_SINGLE: _Connection.req_pnl_single,
    Out.CANCEL_PNL_SINGLE: _Connection.cancel_pnl,
}


@asynccontextmanager
async def serve(
    port: int = 0,
    host: str = "127.0.0.1",
    server_version: int | None = None,
    seed: int = 0,
    tick_interval: float = 0.05,
    burst: int = 0,
    cash: float = 1_000_000.0,
    status_repeats: int = 1,
    max_msg_rate: int | None = None,
    max_tickers: int | None = 100,
    hist_pacing: bool = False,
    clock: Callable[[], float] | None = None,
    fa: bool = False,
) -> AsyncIterator[SimServer]:
    """Run a simulated TWS for the duration of the ``async with`` block.

    Args:
        port: TCP port to listen on; 0 picks a free one (read it from ``server.port``).
        host: Address to listen on.
        server_version: Highest server version to negotiate (default and maximum: 226,
            or the installed ibapi's ``MAX_CLIENT_VER`` when lower).
        seed: Seed of all generated prices, sizes and bars.
        tick_interval: Seconds between streamed market data rounds and bar updates.
        burst: When positive, every streaming ``reqMktData`` first gets this many
            tickPrice messages written as fast as the socket takes them (benchmarks).
        cash: The simulated account's starting cash, in USD.
        status_repeats: How many extra times a final ``orderStatus`` (Filled,
            Cancelled, ...) is repeated, as TWS does; 0 sends each once.
        max_msg_rate: Messages a client may send in any one second; one more gets
            TWS's error 100 and the connection is closed. ``None`` (the default): no
            limit. TWS's is 50.
        max_tickers: Streaming market-data lines per connection; one more
            ``reqMktData`` gets error 101 with its id. ``None``: no limit.
        hist_pacing: Pace historical-data and real-time bars requests as TWS does
            (error 162, or 420 for ``reqRealTimeBars``, with the request's id; see
            ``_rules``).
        clock: Seconds from a monotonic clock, for the rules above (default
            ``time.monotonic``); tests pass one they advance.
        fa: Log in as a Financial Advisor: ``managedAccounts`` lists the advisor's
            F-account and its client accounts, and ``requestFA``/``replaceFA`` work
            (a non-FA login gets TWS's error 321 for them).

    Yields:
        The running :class:`SimServer`. Leaving the block closes every connection.
    """
    version = min(server_version or SIM_MAX_VERSION, max_version())
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    async with listener, anyio.create_task_group() as tg:
        bound = listener.extra(anyio.abc.SocketAttribute.local_port)
        server = SimServer(
            host,
            bound,
            version,
            seed,
            tick_interval,
            burst,
            cash=cash,
            status_repeats=status_repeats,
            rules=Rules(
                max_msg_rate=max_msg_rate,
                max_tickers=max_tickers,
                hist_pacing=hist_pacing,
                clock=clock or time.monotonic,
            ),
            fa=fa,
        )
        tg.start_soon(listener.serve, server._handle, tg)
        tg.start_soon(server._clock)
        try:
            yield server
        finally:
            tg.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> int:
    """Run the simulated TWS until interrupted (``ib-anyio sim``)."""
    parser = argparse.ArgumentParser(prog="ib-anyio sim", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7497)
    parser.add_argument("--server-version", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tick-interval", type=float, default=0.05)
    parser.add_argument(
        "--burst", type=int, default=0, help="tickPrice messages to blast per reqMktData"
    )
    parser.add_argument("--cash", type=float, default=1_000_000.0, help="starting cash (USD)")
    parser.add_argument(
        "--status-repeats", type=int, default=1, help="extra copies of a final orderStatus"
    )
    parser.add_argument(
        "--max-msg-rate",
        type=int,
        default=None,
        help="messages per second a client may send (TWS: 50); past it error 100, disconnect",
    )
    parser.add_argument(
        "--max-tickers", type=int, default=100, help="market-data lines per connection (0: any)"
    )
    parser.add_argument(
        "--hist-pacing", action="store_true", help="pace historical data requests (error 162)"
    )
    parser.add_argument(
        "--fa",
        action="store_true",
        help="log in as a Financial Advisor (an F-account and client accounts; requestFA works)",
    )
    parser.add_argument(
        "--refuse-api",
        action="store_true",
        help="accept connections and close them unanswered (TWS with the API disabled)",
    )
    parser.add_argument(
        "--no-console",
        action="store_true",
        help="do not read fault commands from stdin (by default each line is one; try help)",
    )
    args = parser.parse_args(argv)

    async def run() -> None:
        async with serve(
            port=args.port,
            host=args.host,
            server_version=args.server_version,
            seed=args.seed,
            tick_interval=args.tick_interval,
            burst=args.burst,
            cash=args.cash,
            status_repeats=args.status_repeats,
            max_msg_rate=args.max_msg_rate,
            max_tickers=args.max_tickers or None,
            hist_pacing=args.hist_pacing,
            fa=args.fa,
        ) as server:
            server.faults.refuse_api = args.refuse_api
            print(
                f"Simulated TWS listening on {server.host}:{server.port} "
                f"(server version {server.server_version}); Ctrl-C stops it",
                flush=True,
            )
            if not args.no_console:
                from ._console import run_console, stdin_lines

                print("Fault console: type help for the commands", flush=True)
                await run_console(server, stdin_lines(), lambda line: print(line, flush=True))
            await anyio.sleep_forever()  # stdin ended: serve on until Ctrl-C

    with suppress(KeyboardInterrupt):
        anyio.run(run)
    return 0
