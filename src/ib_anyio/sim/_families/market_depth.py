"""Market depth: ``reqMktDepth`` (the order book), ``reqMktDepthExchanges`` and
``reqSmartComponents``.

What TWS does and the simulator copies:

* A depth subscription is answered with ``updateMktDepth`` rows (position, operation,
  side, price, size) when the book has no market maker or exchange to name, and with
  ``updateMktDepthL2`` rows (plus the market maker, and ``isSmartDepth``) when it has
  one: IB's docs give ARCA (one book, ARCA itself) for the first and ISLAND (market
  makers' MPIDs) for the second. A SMART depth request (``isSmartDepth=True``)
  aggregates the books of the exchanges the instrument trades on, each row naming its
  exchange. Operations are 0 insert (the rows at and after ``position`` move down one),
  1 update (the row at ``position`` is replaced), 2 delete (the rows after it move up);
  side 0 is the ask, 1 the bid; row 0 is the best price.
* The book first arrives as inserts, row after row (bids and asks), at most ``numRows``
  per side (fewer when the book is thinner); then, as the market moves, as the
  inserts, updates and deletes that turn the previous book into the new one. A side
  never holds more than ``numRows`` rows: before an insert into a full side TWS deletes
  its last row.
* Errors, with the request's id: 200 for an unknown or ambiguous contract; 10092
  "Deep market data is not supported for this combination of security type/exchange"
  for a contract routed SMART without ``isSmartDepth`` or an exchange with no depth
  for that security type; 309 "Max number (3) of market depth requests has been
  reached" for a fourth distinct instrument while three have depth open on the
  connection (more requests for an instrument already open are allowed, as TWS
  allows them).
* ``cancelMktDepth`` stops the rows and is never answered.
* ``reqMktDepthExchanges`` answers one ``mktDepthExchanges`` list: exchange, security
  type, listing exchange, service data type (the simulator says ``Deep2`` for a
  market-maker book, ``Deep`` otherwise) and aggregation group; below 120
  (``SERVICE_DATA_TYPE``) only exchange, security type and an "is not L2" flag.
* ``reqSmartComponents(bboExchange)`` answers one ``smartComponents`` map (bit number,
  exchange, exchange letter) for a BBO exchange code, the code TWS gives in
  ``tickReqParams``. The simulator's SMART stocks share the code :data:`BBO_EXCHANGE`;
  an unknown code gets an empty map.

Wire layouts (ibapi ``decoder.py`` / ``EClient``, 9.81 to 10.51): text depth rows are
``version, reqId, position, [marketMaker,] operation, side, price, size`` (L2 adds
``isSmartDepth`` from 146, ``SMART_DEPTH``); requests ``version, reqId, contract
(primaryExchange from 149), numRows, isSmartDepth (146), options`` and
``version, reqId, isSmartDepth (146)`` for the cancel; ``reqMktDepthExchanges`` has no
fields, ``reqSmartComponents`` is ``reqId, bboExchange``. Protobuf (ibapi's
``getServerVersionForMessage`` and ``msgId2handleInfoProtoBuf``): depth requests and
rows from 206 (``PROTOBUF_MARKET_DATA``), ``reqSmartComponents`` and
``smartComponents`` from 212 (``PROTOBUF_REST_MESSAGES_2``), ``reqMktDepthExchanges``
and ``mktDepthExchanges`` from 213 (``PROTOBUF_REST_MESSAGES_3``). ibapi 10.37.2 never
negotiates past 203; 10.45.1, 10.50.2 and 10.51.1 decode all four messages in protobuf.
"""

from __future__ import annotations

import enum
import random
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from ib_anyio.sim._decode import Fields, _proto_contract, _Text, _text_contract, int_field
from ib_anyio.sim._encode import pb, pb_message
from ib_anyio.sim._encode_order import num
from ib_anyio.sim._families import Family
from ib_anyio.sim._protocol import Version, text_message
from ib_anyio.sim._universe import Instrument, Quote, round_to_tick

if TYPE_CHECKING:
    from ib_anyio.sim._encode import Encoder
    from ib_anyio.sim._server import _Connection

__all__ = [
    "BBO_EXCHANGE",
    "DEPTH_EXCHANGES",
    "FAMILY",
    "SMART_COMPONENTS",
    "DepthExchange",
    "Row",
    "book_rows",
    "diff",
]


class _Out(enum.IntEnum):
    REQ_MKT_DEPTH = 10
    CANCEL_MKT_DEPTH = 11
    REQ_MKT_DEPTH_EXCHANGES = 82
    REQ_SMART_COMPONENTS = 83


class _In(enum.IntEnum):
    MARKET_DEPTH = 12
    MARKET_DEPTH_L2 = 13
    MKT_DEPTH_EXCHANGES = 80
    SMART_COMPONENTS = 82


_SERVICE_DATA_TYPE = 120
_SMART_DEPTH = 146
_MKT_DEPTH_PRIM_EXCHANGE = 149

#: Server version from which each message travels as protobuf.
PROTO_SINCE: dict[int, int] = {
    _In.MARKET_DEPTH: Version.PROTOBUF_MARKET_DATA,
    _In.MARKET_DEPTH_L2: Version.PROTOBUF_MARKET_DATA,
    _In.SMART_COMPONENTS: Version.PROTOBUF_REST_MESSAGES_2,
    _In.MKT_DEPTH_EXCHANGES: Version.PROTOBUF_REST_MESSAGES_3,
}

_DEPTH_MESSAGE_VERSION = 1
_INSERT, _UPDATE, _DELETE = 0, 1, 2
_ASK, _BID = 0, 1

MAX_DEPTH_CODE = 309
MAX_DEPTH_TEXT = "Max number (3) of market depth requests has been reached"
#: Distinct instruments with depth open at once on one connection (TWS's 3).
MAX_DEPTH_INSTRUMENTS = 3
NO_DEPTH_CODE = 10092
NO_DEPTH_TEXT = "Deep market data is not supported for this combination of security type/exchange"
#: Price levels the simulated books hold per side (``numRows`` beyond it gets fewer rows).
MAX_LEVELS = 20


@attrs.frozen
class DepthExchange:
    """One row of ``mktDepthExchanges``."""

    exchange: str
    sec_type: str
    listing_exch: str
    service_data_type: str
    agg_group: int

    @property
    def market_makers(self) -> bool:
        """Whether this book names market makers (``updateMktDepthL2``)."""
        return self.service_data_type == "Deep2"


#: The exchanges the simulator has depth for (its ``mktDepthExchanges`` answer).
DEPTH_EXCHANGES: tuple[DepthExchange, ...] = (
    DepthExchange("ARCA", "STK", "", "Deep", 1),
    DepthExchange("BATS", "STK", "", "Deep", 1),
    DepthExchange("IEX", "STK", "", "Deep", 1),
    DepthExchange("ISLAND", "STK", "NASDAQ", "Deep2", 1),
    DepthExchange("NYSE", "STK", "NYSE", "Deep", 1),
    DepthExchange("CME", "FUT", "", "Deep", 2),
    DepthExchange("IDEALPRO", "CASH", "", "Deep", 4),
)

#: The BBO exchange code of the simulator's SMART-routed stocks (``tickReqParams``).
BBO_EXCHANGE = "9c0001"
#: ``reqSmartComponents`` answers: bit number -> (exchange, exchange letter).
SMART_COMPONENTS: dict[str, dict[int, tuple[str, str]]] = {
    BBO_EXCHANGE: {
        1: ("AMEX", "A"),
        2: ("NYSE", "N"),
        3: ("CBOE", "W"),
        4: ("ARCA", "P"),
        5: ("ISLAND", "Q"),
        6: ("BATS", "Z"),
        7: ("IEX", "V"),
    }
}

# Market participant ids of the ISLAND (Nasdaq TotalView) book.
_MPIDS = ("NSDQ", "ARCX", "GSCO", "MSCO", "JPMS", "CDRG", "VIRT", "UBSS", "CITD", "SUSQ")


# -- the book ------------------------------------------------------------------------


@attrs.frozen
class Row:
    """One row of a simulated book; ``maker`` is empty for an L1 (``updateMktDepth``) book."""

    price: float
    size: int
    maker: str = ""


def _lot(inst: Instrument) -> int:
    return 100_000 if inst.sec_type == "CASH" else 1


def book_rows(
    inst: Instrument,
    quote: Quote,
    side: int,
    rows: int,
    *,
    seed: int,
    step: int,
    makers: tuple[str, ...] = (),
) -> list[Row]:
    """The book of one side for a quote: at most ``rows`` rows, best price first.

    The best level is the quote's bid (side 1) or ask (side 0). Deeper levels lie one
    tick further, sometimes two (gaps stay put as prices move: they are drawn per
    price). Without ``makers`` each level is one row whose size at the best level is
    the quote's; with them each level holds one or two rows, one per maker (sorted by
    name). Sizes are drawn per price (and maker) and change at some levels from one
    ``step`` to the next. Everything is a function of ``seed``: the same quotes give
    the same books.
    """
    tick = inst.min_tick
    lot = _lot(inst)
    sign = -1 if side == _BID else 1
    price = quote.bid if side == _BID else quote.ask
    out: list[Row] = []
    level = 0
    while len(out) < min(rows, MAX_LEVELS) and price > 0:
        ticks = round(price / tick)
        key = f"{seed}:depth:{inst.con_id}:{side}:{ticks}"
        draw = random.Random(key)
        jitter = random.Random(f"{key}:{step}")
        if makers:
            chosen = sorted(draw.sample(makers, k=1 + (draw.random() < 0.4)))
            for maker in chosen:
                size = random.Random(f"{key}:{maker}").randint(1, 40) * lot
                if jitter.random() < 0.3:
                    size = jitter.randint(1, 40) * lot
                out.append(Row(price, size, maker))
        else:
            size = draw.randint(1, 50) * lot
            if level == 0:
                size = quote.bid_size if side == _BID else quote.ask_size
            elif jitter.random() < 0.3:
                size = jitter.randint(1, 50) * lot
            out.append(Row(price, size))
        gap = 2 if draw.random() < 0.2 else 1
        price = round_to_tick(price + sign * gap * tick, tick)
        level += 1
    return out[: min(rows, MAX_LEVELS)]


@attrs.frozen
class Op:
    """One depth message: ``operation`` applied at ``position`` of ``side``."""

    position: int
    operation: int
    side: int
    row: Row


def _sort_key(side: int, row: Row) -> tuple[float, str]:
    return (-row.price if side == _BID else row.price, row.maker)


def diff(old: list[Row], new: list[Row], side: int, rows: int) -> Iterator[Op]:
    """The depth messages that turn ``old`` into ``new`` (both best first, at most
    ``rows`` long): a merge by price (then maker); a row that disappears where another
    appears is one update, a row that only appears an insert (after deleting the last
    row of a full side), one that only disappears a delete."""
    cur = list(old)
    i = 0
    while i < len(new):
        want = new[i]
        if i >= len(cur):
            cur.insert(i, want)
            yield Op(i, _INSERT, side, want)
            i += 1
            continue
        have = cur[i]
        k_have, k_want = _sort_key(side, have), _sort_key(side, want)
        if k_have == k_want:
            if have != want:
                cur[i] = want
                yield Op(i, _UPDATE, side, want)
            i += 1
        elif k_have < k_want:  # ``have`` left the book
            if i + 1 >= len(cur) or _sort_key(side, cur[i + 1]) > k_want:
                cur[i] = want  # one row replaced by another: an update
                yield Op(i, _UPDATE, side, want)
                i += 1
            else:
                del cur[i]
                yield Op(i, _DELETE, side, have)
        else:  # ``want`` is new, before ``have``
            if len(cur) >= rows:
                last = cur.pop()
                yield Op(len(cur), _DELETE, side, last)
            cur.insert(i, want)
            yield Op(i, _INSERT, side, want)
            i += 1
    while len(cur) > len(new):
        last = cur.pop()
        yield Op(len(cur), _DELETE, side, last)


# -- encoding ------------------------------------------------------------------------


def _proto(enc: Encoder, msg: int) -> bool:
    return enc.version >= PROTO_SINCE[msg]


def encode_op(enc: Encoder, req_id: int, op: Op, *, l2: bool, smart: bool) -> bytes:
    """updateMktDepth (``l2`` false) or updateMktDepthL2 for one operation."""
    row = op.row
    msg = _In.MARKET_DEPTH_L2 if l2 else _In.MARKET_DEPTH
    if _proto(enc, msg):
        data: dict[str, Any] = {
            "position": op.position,
            "operation": op.operation,
            "side": op.side,
            "price": row.price,
            "size": str(row.size),
        }
        if l2:
            data.update(marketMaker=row.maker, isSmartDepth=smart)
        depth = pb("MarketDepthData")(**data)
        name = "MarketDepthL2" if l2 else "MarketDepth"
        return pb_message(msg, name, reqId=req_id, marketDepthData=depth)
    fields: list[object] = [_DEPTH_MESSAGE_VERSION, req_id, op.position]
    if l2:
        fields.append(row.maker)
    fields += [op.operation, op.side, num(row.price), row.size]
    if l2 and enc.version >= _SMART_DEPTH:
        fields.append(int(smart))
    return text_message(msg, fields, enc.version)


def encode_depth_exchanges(enc: Encoder, exchanges: tuple[DepthExchange, ...]) -> bytes:
    """mktDepthExchanges: the whole list in one message."""
    if _proto(enc, _In.MKT_DEPTH_EXCHANGES):
        descriptions = [
            pb("DepthMarketDataDescription")(
                exchange=e.exchange,
                secType=e.sec_type,
                listingExch=e.listing_exch,
                serviceDataType=e.service_data_type,
                aggGroup=e.agg_group,
            )
            for e in exchanges
        ]
        return pb_message(
            _In.MKT_DEPTH_EXCHANGES,
            "MarketDepthExchanges",
            depthMarketDataDescriptions=descriptions,
        )
    fields: list[object] = [len(exchanges)]
    for e in exchanges:
        fields += [e.exchange, e.sec_type]
        if enc.version >= _SERVICE_DATA_TYPE:
            fields += [e.listing_exch, e.service_data_type, e.agg_group]
        else:
            fields.append(int(not e.market_makers))  # notSuppIsL2
    return text_message(_In.MKT_DEPTH_EXCHANGES, fields, enc.version)


def encode_smart_components(
    enc: Encoder, req_id: int, components: dict[int, tuple[str, str]]
) -> bytes:
    """smartComponents: bit number, exchange and exchange letter of each component."""
    if _proto(enc, _In.SMART_COMPONENTS):
        items = [
            pb("SmartComponent")(bitNumber=bit, exchange=exchange, exchangeLetter=letter)
            for bit, (exchange, letter) in sorted(components.items())
        ]
        return pb_message(
            _In.SMART_COMPONENTS, "SmartComponents", reqId=req_id, smartComponents=items
        )
    fields: list[object] = [req_id, len(components)]
    for bit, (exchange, letter) in sorted(components.items()):
        fields += [bit, exchange, letter]
    return text_message(_In.SMART_COMPONENTS, fields, enc.version)


# -- requests ------------------------------------------------------------------------


def _text_req_mkt_depth(f: _Text, v: int) -> Fields:
    f.skip()  # version
    req_id = f.integer()
    contract = _text_contract(f, primary_exchange=v >= _MKT_DEPTH_PRIM_EXCHANGE)
    fields: Fields = {"reqId": req_id, "contract": contract, "numRows": f.integer()}
    fields["isSmartDepth"] = f.flag() if v >= _SMART_DEPTH else False
    fields["mktDepthOptions"] = f.text()
    return fields


def _text_cancel_mkt_depth(f: _Text, v: int) -> Fields:
    f.skip()  # version
    req_id = f.integer()
    return {"reqId": req_id, "isSmartDepth": f.flag() if v >= _SMART_DEPTH else False}


def _proto_req_mkt_depth(p: Any) -> Fields:
    return {
        "reqId": p.reqId,
        "contract": _proto_contract(p.contract),
        "numRows": p.numRows,
        "isSmartDepth": p.isSmartDepth,
        "mktDepthOptions": "".join(f"{k}={v};" for k, v in p.marketDepthOptions.items()),
    }


# -- handlers ------------------------------------------------------------------------

# Open depth subscriptions of each connection: request id -> instrument (kept while the
# connection's "depth" stream for that id runs).
_OPEN: weakref.WeakKeyDictionary[_Connection, dict[int, Instrument]] = weakref.WeakKeyDictionary()


def _open(conn: _Connection) -> dict[int, Instrument]:
    subs = _OPEN.setdefault(conn, {})
    for req_id in [r for r in subs if ("depth", r) not in conn.streams]:
        del subs[req_id]
    return subs


def _book_kind(inst: Instrument, exchange: str, smart: bool) -> tuple[str, ...] | None:
    """The makers of the book a request asks for: ``()`` for an L1 book, exchanges for
    SMART depth, MPIDs for a market-maker book; ``None`` when there is no such book."""
    venues = [
        d
        for d in DEPTH_EXCHANGES
        if d.sec_type == inst.sec_type and d.exchange in inst.valid_exchanges.split(",")
    ]
    if smart:
        return tuple(sorted(d.exchange for d in venues)) or None
    found = [d for d in venues if d.exchange == exchange]
    if not found:
        return None
    return _MPIDS if found[0].market_makers else ()


async def req_mkt_depth(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    contract = fields.get("contract")
    inst = conn._one(req_id, contract)
    if isinstance(inst, bytes):
        await conn.send(inst)
        return
    smart = bool(fields.get("isSmartDepth"))
    exchange = str(contract.get("exchange", "") if isinstance(contract, dict) else "").upper()
    makers = _book_kind(inst, exchange, smart)
    if makers is None:
        await conn.send(conn._error(req_id, NO_DEPTH_CODE, NO_DEPTH_TEXT))
        return
    subs = _open(conn)
    subs.pop(req_id, None)
    instruments = {i.con_id for i in subs.values()}
    if inst.con_id not in instruments and len(instruments) >= MAX_DEPTH_INSTRUMENTS:
        await conn.send(conn._error(req_id, MAX_DEPTH_CODE, MAX_DEPTH_TEXT))
        return
    rows = int_field(fields, "numRows")
    l2 = smart or bool(makers)
    subs[req_id] = inst
    conn._start("depth", req_id, lambda: _stream_depth(conn, req_id, inst, rows, makers, l2, smart))


async def _stream_depth(
    conn: _Connection,
    req_id: int,
    inst: Instrument,
    rows: int,
    makers: tuple[str, ...],
    l2: bool,
    smart: bool,
) -> None:
    """The book as inserts, then per market step the operations that change it."""
    server = conn.server
    books: dict[int, list[Row]] = {_BID: [], _ASK: []}
    quote = server.market.quote(inst)
    step = 0
    cap = max(0, min(rows, MAX_LEVELS))
    while True:
        data = b""
        for side in (_BID, _ASK):
            new = book_rows(inst, quote, side, rows, seed=server.seed, step=step, makers=makers)
            for op in diff(books[side], new, side, cap):
                data += encode_op(conn.encoder, req_id, op, l2=l2, smart=smart)
            books[side] = new
        if data:
            await conn.send_market_data(data)
        await anyio.sleep(server.tick_interval)
        await conn.market_data_open()
        quote = await conn.desk.step(inst)
        step += 1


async def cancel_mkt_depth(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    _open(conn).pop(req_id, None)
    conn._cancel("depth", req_id)


async def req_mkt_depth_exchanges(conn: _Connection, fields: Fields) -> None:
    await conn.send(encode_depth_exchanges(conn.encoder, DEPTH_EXCHANGES))


async def req_smart_components(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    components = SMART_COMPONENTS.get(str(fields.get("bboExchange", "")), {})
    await conn.send(encode_smart_components(conn.encoder, req_id, components))


FAMILY = Family(
    name="market depth",
    text={
        _Out.REQ_MKT_DEPTH: _text_req_mkt_depth,
        _Out.CANCEL_MKT_DEPTH: _text_cancel_mkt_depth,
        _Out.REQ_MKT_DEPTH_EXCHANGES: lambda f, v: {},
        _Out.REQ_SMART_COMPONENTS: lambda f, v: {"reqId": f.integer(), "bboExchange": f.text()},
    },
    proto={
        _Out.REQ_MKT_DEPTH: ("MarketDepthRequest", _proto_req_mkt_depth),
        _Out.CANCEL_MKT_DEPTH: (
            "CancelMarketDepth",
            lambda p: {"reqId": p.reqId, "isSmartDepth": p.isSmartDepth},
        ),
        _Out.REQ_MKT_DEPTH_EXCHANGES: ("MarketDepthExchangesRequest", lambda p: {}),
        _Out.REQ_SMART_COMPONENTS: (
            "SmartComponentsRequest",
            lambda p: {"reqId": p.reqId, "bboExchange": p.bboExchange},
        ),
    },
    handlers={
        _Out.REQ_MKT_DEPTH: req_mkt_depth,
        _Out.CANCEL_MKT_DEPTH: cancel_mkt_depth,
        _Out.REQ_MKT_DEPTH_EXCHANGES: req_mkt_depth_exchanges,
        _Out.REQ_SMART_COMPONENTS: req_smart_components,
    },
)
