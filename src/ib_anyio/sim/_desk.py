"""Where the broker meets the wire: which connection hears what, and account subscriptions.

The broker and the account (``_broker``, ``_account``) know nothing of connections; the
encoders (``_encode``) know nothing of matching. The desk, one per server, sits between
them: connection handlers pass order and account requests to it, it asks the broker or
the account, and it turns what they answer into messages for the connections that must
see them, encoded for each connection's own server version.

Who receives an order's messages (``openOrder``, ``orderStatus``, ``execDetails`` with
request id -1, ``commissionAndFeesReport``), as TWS does:

* every connection of the client id that placed the order;
* connections of client id 0 that sent ``reqAutoOpenOrders(true)``: the orders of every
  client and the orders typed into TWS (``SimServer.place_manual_order``).

Account subscriptions are per connection and are kept fed after each change: a fill
re-sends the positions, account values, portfolio rows, account summaries and
position/account "multi" rows it changed; ``pnl`` and ``pnlSingle`` are sent when
subscribed and then whenever their values change, checked every ``tick_interval`` (TWS
sends them about once a second).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING

import anyio
import attrs
from ibapi.order import Order

from ._account import Account
from ._broker import Broker, Exercised, Filled, OrderChanged, OrderError, SimOrder, WhatIf
from ._decode import Fields, int_field, order_from_fields
from ._encode import Encoder
from ._market import Market
from ._universe import Instrument, Quote

if TYPE_CHECKING:
    from ._server import _Connection

logger = logging.getLogger("ib_anyio.sim")


@attrs.define(eq=False)
class _Pnl:
    conn: _Connection
    req_id: int
    inst: Instrument | None  # pnlSingle: the position's instrument
    last: tuple[float, ...] | None = None


class Desk:
    """Order and account business of one simulated TWS, shared by all its connections."""

    def __init__(self, market: Market, account: Account, broker: Broker) -> None:
        self.market = market
        self.account = account
        self.broker = broker
        self.conns: list[_Connection] = []
        self._positions: set[_Connection] = set()
        self._account_updates: set[_Connection] = set()
        self._summaries: dict[tuple[_Connection, int], tuple[str, ...]] = {}
        self._positions_multi: set[tuple[_Connection, int]] = set()
        self._updates_multi: set[tuple[_Connection, int]] = set()
        self._pnl: dict[tuple[_Connection, int], _Pnl] = {}

    # -- connections ---------------------------------------------------------------

    def attach(self, conn: _Connection) -> None:
        self.conns.append(conn)

    def detach(self, conn: _Connection) -> None:
        """Forget a closed connection and everything it subscribed to."""
        if conn in self.conns:
            self.conns.remove(conn)
        self._positions.discard(conn)
        self._account_updates.discard(conn)
        for keyed in (self._summaries, self._pnl):
            for key in [k for k in keyed if k[0] is conn]:
                del keyed[key]
        for subs in (self._positions_multi, self._updates_multi):
            subs.difference_update({k for k in subs if k[0] is conn})

    def next_order_id(self, client_id: int) -> int:
        """TWS's ``nextValidId`` for a client: above every order id it has used."""
        used = [order_id for (owner, order_id) in self.broker.orders if owner == client_id]
        return max(used, default=0) + 1

    def _order_audience(self, client_id: int) -> list[_Connection]:
        return [
            c
            for c in self.conns
            if c.started and (c.client_id == client_id or (c.client_id == 0 and c.auto_open))
        ]

    @staticmethod
    async def _send(conns: Iterable[_Connection], build: Callable[[Encoder], bytes]) -> None:
        """Send ``build(conn.encoder)`` to each connection; a closing one is skipped."""
        for conn in list(conns):
            data = build(conn.encoder)
            if data:
                with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                    await conn.send(data)

    # -- broker events to messages ---------------------------------------------------

    async def publish(self, events: Sequence[object]) -> None:
        """Turn broker events into messages, in order, for the connections that see them."""
        changed = False
        for event in events:
            if isinstance(event, Filled | Exercised):
                changed = True
            if isinstance(event, WhatIf):
                audience = [c for c in self.conns if c.client_id == event.client_id]
            elif isinstance(event, OrderChanged | Filled):
                audience = self._order_audience(event.order.client_id)
            elif isinstance(event, OrderError):
                audience = self._order_audience(event.client_id)
            else:
                continue
            await self._send(audience, functools.partial(_event_messages, event))
        if changed:
            await self.account_changed()

    async def step(self, inst: Instrument) -> Quote:
        """Move ``inst`` one step of its walk (unless pinned); if it moved, match its
        resting orders. Returns the quote now."""
        before = self.market.version(inst)
        quote = self.market.step(inst)
        if self.market.version(inst) != before:
            await self.publish(self.broker.on_quote(inst))
        return quote

    # -- orders ----------------------------------------------------------------------

    async def place_order(self, conn: _Connection, fields: Fields) -> None:
        order_id = int_field(fields, "orderId")
        contract, order = order_from_fields(fields)
        inst = conn._one(order_id, vars(contract))
        if isinstance(inst, bytes):
            await conn.send(inst)
            return
        await self.publish(self.broker.place(conn.client_id or 0, order_id, inst, order))

    async def place_manual(self, inst: Instrument, order: Order) -> SimOrder:
        """An order typed into TWS: client id 0, a negative order id, as TWS binds them."""
        placed, events = self.broker.place_manual(inst, order)
        await self.publish(events)
        if placed is None:
            [error] = [e for e in events if isinstance(e, OrderError)]
            raise ValueError(f"the simulated TWS rejected the order: {error.message}")
        return placed

    async def cancel_order(self, conn: _Connection, fields: Fields) -> None:
        await self.publish(self.broker.cancel(conn.client_id or 0, int_field(fields, "orderId")))

    async def global_cancel(self, conn: _Connection, fields: Fields) -> None:
        await self.publish(self.broker.global_cancel())

    async def open_orders(self, conn: _Connection, *, every_client: bool) -> None:
        client = None if every_client or conn.client_id == 0 else conn.client_id
        enc = conn.encoder
        await conn.send(
            b"".join(_order_messages(enc, o, True) for o in self.broker.open_orders(client))
            + enc.open_order_end()
        )

    async def completed_orders(self, conn: _Connection, fields: Fields) -> None:
        api_only = bool(fields.get("apiOnly"))
        enc = conn.encoder
        done = [o for o in self.broker.completed_orders() if not (api_only and o.client_id == 0)]
        await conn.send(
            b"".join(enc.completed_order(o.contract, o.order, o.state()) for o in done)
            + enc.completed_orders_end()
        )

    async def executions(self, conn: _Connection, fields: Fields) -> None:
        req_id = int_field(fields, "reqId")
        flt = fields.get("execFilter")
        enc = conn.encoder
        fills = self.broker.executions(conn.client_id or 0, flt if isinstance(flt, dict) else {})
        await conn.send(
            b"".join(
                enc.exec_details(req_id, f.contract, f.execution)
                + enc.commission_report(f.commission_report)
                for f in fills
            )
            + enc.execution_data_end(req_id)
        )

    async def exercise(self, conn: _Connection, fields: Fields) -> None:
        req_id = int_field(fields, "reqId")
        inst = conn._one(req_id, fields.get("contract"))
        if isinstance(inst, bytes):
            await conn.send(inst)
            return
        events = self.broker.exercise(
            conn.client_id or 0,
            inst,
            int_field(fields, "exerciseAction"),
            int_field(fields, "exerciseQuantity"),
            str(fields.get("account") or self.account.name),
            int_field(fields, "override"),
            req_id=req_id,
        )
        await self.publish(events)

    # -- account subscriptions ---------------------------------------------------------

    async def req_positions(self, conn: _Connection) -> None:
        self._positions.add(conn)
        enc = conn.encoder
        await conn.send(b"".join(self._position_messages(enc)) + enc.position_end())

    def cancel_positions(self, conn: _Connection) -> None:
        self._positions.discard(conn)

    async def req_account_updates(self, conn: _Connection, fields: Fields) -> None:
        account = str(fields.get("acctCode") or self.account.name)
        if not fields.get("subscribe"):
            self._account_updates.discard(conn)
            return
        enc = conn.encoder
        if account != self.account.name:
            await conn.send(enc.account_download_end(account))
            return
        self._account_updates.add(conn)
        await conn.send(self._account_update_messages(enc) + enc.account_download_end(account))

    async def req_account_summary(self, conn: _Connection, fields: Fields) -> None:
        req_id = int_field(fields, "reqId")
        tags = tuple(t.strip() for t in str(fields.get("tags", "")).split(",") if t.strip())
        self._summaries[(conn, req_id)] = tags
        enc = conn.encoder
        await conn.send(self._summary_messages(enc, req_id, tags) + enc.account_summary_end(req_id))

    def cancel_account_summary(self, conn: _Connection, fields: Fields) -> None:
        self._summaries.pop((conn, int_field(fields, "reqId")), None)

    async def req_positions_multi(self, conn: _Connection, fields: Fields) -> None:
        req_id = int_field(fields, "reqId")
        self._positions_multi.add((conn, req_id))
        enc = conn.encoder
        await conn.send(self._position_multi_messages(enc, req_id) + enc.position_multi_end(req_id))

    def cancel_positions_multi(self, conn: _Connection, fields: Fields) -> None:
        self._positions_multi.discard((conn, int_field(fields, "reqId")))

    async def req_account_updates_multi(self, conn: _Connection, fields: Fields) -> None:
        req_id = int_field(fields, "reqId")
        self._updates_multi.add((conn, req_id))
        enc = conn.encoder
        await conn.send(
            self._update_multi_messages(enc, req_id) + enc.account_update_multi_end(req_id)
        )

    def cancel_account_updates_multi(self, conn: _Connection, fields: Fields) -> None:
        self._updates_multi.discard((conn, int_field(fields, "reqId")))

    async def req_pnl(self, conn: _Connection, fields: Fields, *, single: bool) -> None:
        req_id = int_field(fields, "reqId")
        inst = None
        if single:
            found = conn._one(req_id, {"conId": int_field(fields, "conId")})
            if isinstance(found, bytes):
                await conn.send(found)
                return
            inst = found
        sub = _Pnl(conn, req_id, inst)
        self._pnl[(conn, req_id)] = sub
        await self._send_pnl(sub)

    def cancel_pnl(self, conn: _Connection, fields: Fields) -> None:
        self._pnl.pop((conn, int_field(fields, "reqId")), None)

    async def tick(self) -> None:
        """Once per ``tick_interval``: send PnL that changed."""
        for sub in list(self._pnl.values()):
            await self._send_pnl(sub)

    async def _send_pnl(self, sub: _Pnl) -> None:
        if sub.inst is None:
            p = self.account.pnl(self.market)
            if tuple(p) != sub.last:
                sub.last = tuple(p)
                await self._send(
                    [sub.conn], lambda e: e.pnl(sub.req_id, p.daily, p.unrealized, p.realized)
                )
        else:
            s = self.account.pnl_single(sub.inst, self.market)
            values = (float(s.pos), s.daily, s.unrealized, s.realized, s.value)
            if values != sub.last:
                sub.last = values
                await self._send(
                    [sub.conn],
                    lambda e: e.pnl_single(
                        sub.req_id, s.pos, s.daily, s.unrealized, s.realized, s.value
                    ),
                )

    async def account_changed(self) -> None:
        """After a fill: re-send what the account's subscribers see."""
        await self._send(self._positions, lambda enc: b"".join(self._position_messages(enc)))
        await self._send(self._account_updates, self._account_update_messages)
        for (conn, req_id), tags in list(self._summaries.items()):
            await self._send(
                [conn], functools.partial(self._summary_messages, req_id=req_id, tags=tags)
            )
        for conn, req_id in list(self._positions_multi):
            await self._send(
                [conn], functools.partial(self._position_multi_messages, req_id=req_id)
            )
        for conn, req_id in list(self._updates_multi):
            await self._send([conn], functools.partial(self._update_multi_messages, req_id=req_id))
        await self.tick()

    # -- message builders ------------------------------------------------------------

    def _position_messages(self, enc: Encoder) -> list[bytes]:
        return [
            enc.position(self.account.name, p.contract, p.quantity, p.avg_cost)
            for p in self.account.positions()
        ]

    def _position_multi_messages(self, enc: Encoder, req_id: int) -> bytes:
        return b"".join(
            enc.position_multi(req_id, self.account.name, "", p.contract, p.quantity, p.avg_cost)
            for p in self.account.positions()
        )

    def _account_update_messages(self, enc: Encoder) -> bytes:
        name = self.account.name
        parts = [
            enc.account_value(key, value, currency, name)
            for key, value, currency in self.account.values(self.market)
        ]
        parts += [
            enc.portfolio_value(
                row.contract,
                row.position,
                row.market_price,
                row.market_value,
                row.average_cost,
                row.unrealized_pnl,
                row.realized_pnl,
                name,
            )
            for row in self.account.portfolio(self.market)
        ]
        parts.append(enc.account_update_time(self.account.update_time()))
        return b"".join(parts)

    def _summary_messages(self, enc: Encoder, req_id: int, tags: tuple[str, ...]) -> bytes:
        return b"".join(
            enc.account_summary(req_id, self.account.name, tag, value, currency)
            for tag, value, currency in self.account.summary(tags, self.market)
        )

    def _update_multi_messages(self, enc: Encoder, req_id: int) -> bytes:
        name = self.account.name
        return b"".join(
            enc.account_update_multi(req_id, name, "", key, value, currency)
            for key, value, currency in self.account.values(self.market)
        )


def _event_messages(event: object, enc: Encoder) -> bytes:
    """The messages one broker event becomes, for one connection's encoder."""
    if isinstance(event, OrderChanged):
        return _order_messages(enc, event.order, event.open_order)
    if isinstance(event, Filled):
        fill = event.fill
        return enc.exec_details(-1, fill.contract, fill.execution) + enc.commission_report(
            fill.commission_report
        )
    if isinstance(event, OrderError):
        return enc.error(
            event.order_id, event.code, event.message, _now_millis(), event.reject_json
        )
    if isinstance(event, WhatIf):
        return enc.open_order(event.order_id, event.contract, event.order, event.state)
    return b""


def _order_messages(enc: Encoder, order: SimOrder, full: bool) -> bytes:
    """``openOrder`` (when ``full``) then ``orderStatus`` for one order."""
    status = enc.order_status(
        order.order_id,
        order.status,
        order.filled,
        order.remaining,
        order.avg_fill_price,
        order.perm_id,
        order.parent_id,
        order.last_fill_price,
        order.client_id,
        order.why_held,
        0.0,
    )
    if not full:
        return status
    return enc.open_order(order.order_id, order.contract, order.order, order.state()) + status


def _now_millis() -> int:
    return int(time.time() * 1000)
