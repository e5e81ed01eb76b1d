"""Market depth end to end: req_mkt_depth (L1, market makers, SMART depth), its errors
and its cancel, req_mkt_depth_exchanges, req_smart_components; the OrderBook helper
(property tests) and docs/market_depth.md's example."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ib_anyio
from ib_anyio import items, sim
from ib_anyio.book import DepthRow, OrderBook
from ib_anyio.sim._families import market_depth as md
from ib_anyio.sim._server import NO_SECURITY, max_version
from ib_anyio.sim._universe import UNIVERSE, Quote
from tests.doc_examples import examples, run_example, same_lines
from tests.helpers import stock

MAX = max_version()
SMART_VENUES = {"ARCA", "BATS", "IEX", "ISLAND", "NYSE"}


@pytest.fixture(params=[176, 213, MAX], ids=lambda v: f"v{v}")
async def server(request: pytest.FixtureRequest) -> AsyncIterator[sim.SimServer]:
    async with sim.serve(port=0, server_version=request.param, tick_interval=0.001) as s:
        yield s


def on(exchange: str, symbol: str = "AAPL") -> ib_anyio.Contract:
    contract = stock(symbol)
    contract.exchange = exchange
    return contract


def future() -> ib_anyio.Contract:
    contract = ib_anyio.Contract()
    contract.symbol, contract.secType, contract.exchange = "ES", "FUT", "CME"
    contract.lastTradeDateOrContractMonth = "202612"
    return contract


def option() -> ib_anyio.Contract:
    contract = stock()
    contract.secType, contract.lastTradeDateOrContractMonth = "OPT", "20261218"
    contract.strike, contract.right, contract.multiplier = 230.0, "C", "100"
    return contract


def sorted_side(rows: Sequence[DepthRow], side: str) -> bool:
    keys = [(-r.price if side == "bid" else r.price, r.market_maker) for r in rows]
    return keys == sorted(keys) and len(set(keys)) == len(keys)


async def collect(
    depth: ib_anyio.ItemStream[Any], book: OrderBook, count: int
) -> list[items.UpdateMktDepth | items.UpdateMktDepthL2]:
    """``count`` items, each applied to ``book``; both sides stay sorted throughout."""
    got = []
    with anyio.fail_after(5):
        async for item in depth:
            assert book.apply(item), item
            assert sorted_side(book.bids, "bid")
            assert sorted_side(book.asks, "ask")
            got.append(item)
            if len(got) == count:
                return got
    raise AssertionError("the depth stream ended")


async def cancels(server: sim.SimServer, client: ib_anyio.Client) -> list[sim.Received]:
    await client.req_current_time()  # a round trip: a cancel would have arrived by now
    return [m for m in server.received if m.name == "cancelMktDepth"]


async def test_smart_depth_builds_an_evolving_book(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    book = OrderBook(max_rows=5)
    async with client.req_mkt_depth(stock(), 5, is_smart_depth=True) as depth:
        req_id = depth.req_id
        got = await collect(depth, book, 300)
    assert all(isinstance(i, items.UpdateMktDepthL2) for i in got)
    l2 = [i for i in got if isinstance(i, items.UpdateMktDepthL2)]
    assert all(i.is_smart_depth for i in l2)
    assert {i.market_maker for i in l2} <= SMART_VENUES
    # TWS's order: the book as inserts, bids then asks, row after row
    first = [(i.operation, i.side, i.position) for i in got[:10]]
    assert first == [(0, 1, p) for p in range(5)] + [(0, 0, p) for p in range(5)]
    assert {i.operation for i in got[10:]} == {0, 1, 2}  # then inserts, updates, deletes
    assert all(isinstance(i.size, Decimal) and i.size > 0 for i in got)
    assert book.inconsistencies == 0
    assert 0 < len(book.bids) <= 5
    assert 0 < len(book.asks) <= 5
    [cancel] = await cancels(server, client)
    assert cancel.fields == {"reqId": req_id, "isSmartDepth": True}
    [request] = [m for m in server.received if m.name == "reqMktDepth"]
    assert request.fields["numRows"] == 5
    assert request.fields["isSmartDepth"] is True


async def test_exchange_book_follows_the_quote(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    """ARCA names no market maker: updateMktDepth rows, the best of each side the
    market's quote; when the quote moves up, rows are inserted on the bid side and
    deleted on the ask side."""
    await server.set_quote("AAPL", bid=230.0, ask=230.02, bid_size=7, ask_size=9)
    book = OrderBook(max_rows=3)
    async with client.req_mkt_depth(on("ARCA"), 3) as depth:
        got = await collect(depth, book, 6)
        assert all(isinstance(i, items.UpdateMktDepth) for i in got)
        assert book.bids[0] == DepthRow(230.0, Decimal(7))
        assert book.asks[0] == DepthRow(230.02, Decimal(9))
        assert [len(book.bids), len(book.asks)] == [3, 3]
        await collect(depth, book, 10)  # a pinned quote: sizes change, prices stay
        assert book.bids[0] == DepthRow(230.0, Decimal(7))
        await server.set_quote("AAPL", bid=230.05, ask=230.06, bid_size=4, ask_size=5)
        moved = []
        with anyio.fail_after(5):
            while book.bids[0] != DepthRow(230.05, Decimal(4)) or book.asks[0].price != 230.06:
                moved += await collect(depth, book, 1)
    assert {(i.operation, i.side) for i in moved} >= {(0, 1), (2, 0)}
    assert book.asks[0] == DepthRow(230.06, Decimal(5))
    assert book.inconsistencies == 0
    [cancel] = await cancels(server, client)
    assert cancel.fields["isSmartDepth"] is False


async def test_market_maker_book(client: ib_anyio.Client) -> None:
    """ISLAND names market makers: updateMktDepthL2 rows with MPIDs, not SMART depth."""
    book = OrderBook()
    async with client.req_mkt_depth(on("ISLAND"), 4) as depth:
        got = await collect(depth, book, 8)
    assert all(isinstance(i, items.UpdateMktDepthL2) and not i.is_smart_depth for i in got)
    makers = {i.market_maker for i in got if isinstance(i, items.UpdateMktDepthL2)}
    assert makers
    assert makers.isdisjoint(SMART_VENUES)
    assert len(book.bids) == len(book.asks) == 4


async def test_future_and_forex_books(client: ib_anyio.Client) -> None:
    eur = ib_anyio.Contract()
    eur.symbol, eur.secType, eur.exchange, eur.currency = "EUR", "CASH", "IDEALPRO", "USD"
    for contract, tick in ((future(), 0.25), (eur, 0.00005)):
        book = OrderBook()
        async with client.req_mkt_depth(contract, 2) as depth:
            await collect(depth, book, 4)
        assert len(book.bids) == len(book.asks) == 2
        spread = book.asks[0].price - book.bids[0].price
        assert spread > 0
        assert abs(spread / tick - round(spread / tick)) < 1e-6


@pytest.mark.parametrize("how", ["normally", "by exception"])
async def test_leaving_the_block_cancels_exactly_once(
    client: ib_anyio.Client, server: sim.SimServer, how: str
) -> None:
    with pytest.raises(KeyError) if how == "by exception" else contextlib.nullcontext():
        async with client.req_mkt_depth(on("ARCA"), 1) as depth:
            req_id = depth.req_id
            with anyio.fail_after(5):
                await depth.receive()
            if how == "by exception":
                raise KeyError("boom")
    assert [m.fields["reqId"] for m in await cancels(server, client)] == [req_id]
    assert server._stream_count() == 0


@pytest.mark.parametrize(
    ("contract", "smart", "code", "text"),
    [
        (stock("NOSUCH"), False, 200, NO_SECURITY),
        (stock(), False, 10092, md.NO_DEPTH_TEXT),  # SMART needs isSmartDepth
        (on("CBOE"), False, 10092, md.NO_DEPTH_TEXT),  # CBOE: no stock depth
        (option(), True, 10092, md.NO_DEPTH_TEXT),  # no option depth in the simulator
    ],
    ids=["unknown", "smart-without-smart-depth", "no-depth-there", "option"],
)
async def test_errors(
    client: ib_anyio.Client,
    server: sim.SimServer,
    contract: ib_anyio.Contract,
    smart: bool,
    code: int,
    text: str,
) -> None:
    async with client.req_mkt_depth(contract, 5, is_smart_depth=smart) as depth:
        with anyio.fail_after(5), pytest.raises(ib_anyio.TWSError) as info:
            await depth.receive()
    assert (info.value.req_id, info.value.code, info.value.message) == (depth.req_id, code, text)
    assert await cancels(server, client) == []  # TWS ended it: nothing to cancel


async def test_three_instruments_at_most(client: ib_anyio.Client, server: sim.SimServer) -> None:
    """Error 309 for a fourth distinct instrument; another request for an open one is
    fine; once one is cancelled a new instrument fits again."""
    async with (
        client.req_mkt_depth(on("ISLAND", "AAPL"), 1) as aapl,
        client.req_mkt_depth(on("ISLAND", "MSFT"), 1) as msft,
        client.req_mkt_depth(on("NYSE", "IBM"), 1) as ibm,
    ):
        with anyio.fail_after(5):
            for depth in (aapl, msft, ibm):
                await depth.receive()
        async with client.req_mkt_depth(on("ARCA", "SPY"), 1) as spy:
            with anyio.fail_after(5), pytest.raises(ib_anyio.TWSError) as info:
                await spy.receive()
        assert (info.value.req_id, info.value.code) == (spy.req_id, 309)
        assert info.value.message == "Max number (3) of market depth requests has been reached"
        async with client.req_mkt_depth(on("ARCA", "AAPL"), 1) as again:
            with anyio.fail_after(5):
                assert isinstance(await again.receive(), items.UpdateMktDepth)
    async with client.req_mkt_depth(on("ARCA", "SPY"), 1) as spy:
        with anyio.fail_after(5):
            assert isinstance(await spy.receive(), items.UpdateMktDepth)
    cancelled = sorted(m.fields["reqId"] for m in await cancels(server, client))
    assert cancelled == sorted([aapl.req_id, msft.req_id, ibm.req_id, again.req_id, spy.req_id])


async def test_depth_exchanges(client: ib_anyio.Client, server: sim.SimServer) -> None:
    with anyio.fail_after(5):
        answer = await client.req_mkt_depth_exchanges()
    got = [
        (d.exchange, d.secType, d.listingExch, d.serviceDataType, d.aggGroup)
        for d in answer.depth_mkt_data_descriptions
    ]
    assert got == [
        (d.exchange, d.sec_type, d.listing_exch, d.service_data_type, d.agg_group)
        for d in md.DEPTH_EXCHANGES
    ]
    assert ("ISLAND", "STK", "NASDAQ", "Deep2", 1) in got
    assert [m.name for m in server.received].count("reqMktDepthExchanges") == 1


def _components(answer: items.SmartComponents) -> dict[int, tuple[str, str]]:
    """ibapi's text decoder gives a list of SmartComponent, its protobuf one a dict."""
    found = answer.smart_component_map
    if isinstance(found, dict):
        return dict(found)
    return {c.bitNumber: (c.exchange, c.exchangeLetter) for c in found}


async def test_smart_components(client: ib_anyio.Client, server: sim.SimServer) -> None:
    with anyio.fail_after(5):
        answer = await client.req_smart_components(md.BBO_EXCHANGE)
        unknown = await client.req_smart_components("zz9999")
    assert _components(answer) == md.SMART_COMPONENTS[md.BBO_EXCHANGE]
    assert _components(answer)[5] == ("ISLAND", "Q")
    assert _components(unknown) == {}
    sent = [m.fields for m in server.received if m.name == "reqSmartComponents"]
    assert [f["bboExchange"] for f in sent] == [md.BBO_EXCHANGE, "zz9999"]


# -- the order book, without a connection --------------------------------------------


class _Item:
    def __init__(self, position: int, operation: int, side: int, price: float, size: int):
        self.position, self.operation, self.side = position, operation, side
        self.price, self.size = price, size

    def __repr__(self) -> str:
        return f"_Item({self.position}, {self.operation}, {self.side})"


_items = st.builds(
    _Item,
    position=st.integers(-2, 8),
    operation=st.integers(-1, 3),
    side=st.integers(-1, 2),
    price=st.floats(1, 100, allow_nan=False),
    size=st.integers(0, 1000),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_items, max_size=40), st.none() | st.integers(0, 5))
def test_order_book_never_raises_and_reports_what_it_could_not_apply(
    stream: list[_Item], max_rows: int | None
) -> None:
    """Against a model: a list per side with TWS's insert/update/delete; what names a
    row the side lacks (or an unknown side or operation) is counted, never raised."""
    book = OrderBook(max_rows=max_rows)
    model: dict[int, list[tuple[float, int]]] = {0: [], 1: []}
    bad = 0
    for item in stream:
        rows = model.get(item.side)
        ok = rows is not None and item.operation in (0, 1, 2)
        if rows is not None and ok:
            n = len(rows)
            row = (item.price, item.size)
            if item.operation == 0:
                ok = 0 <= item.position <= n
                rows.insert(item.position if ok else n, row)
                del rows[max_rows if max_rows is not None else len(rows) :]
            elif 0 <= item.position < n:
                if item.operation == 1:
                    rows[item.position] = row
                else:
                    del rows[item.position]
            else:
                ok = False
        bad += not ok
        assert book.apply(item) is ok
    assert book.inconsistencies == bad
    assert [(r.price, int(r.size)) for r in book.asks] == model[0]
    assert [(r.price, int(r.size)) for r in book.bids] == model[1]


_quotes = st.builds(
    lambda bid, spread, bid_size, ask_size: Quote(
        round(bid * 0.01, 2), round((bid + spread) * 0.01, 2), 0.0, bid_size, ask_size, 0, 0
    ),
    st.integers(22_900, 23_100),
    st.integers(1, 4),
    st.integers(1, 50),
    st.integers(1, 50),
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(_quotes, min_size=1, max_size=8),
    st.integers(1, 12),
    st.sampled_from([(), ("ARCA", "BATS", "IEX"), md._MPIDS]),
    st.integers(0, 3),
)
def test_the_simulators_operations_rebuild_its_book(
    quotes: list[Quote], rows: int, makers: tuple[str, ...], seed: int
) -> None:
    """The operations the simulator sends, applied by OrderBook, give exactly the book
    it holds after every market step, never more than ``rows`` rows a side, never an
    inconsistency."""
    inst = next(i for i in UNIVERSE if i.symbol == "AAPL" and i.sec_type == "STK")
    book = OrderBook()
    held: dict[int, list[md.Row]] = {0: [], 1: []}
    for step, quote in enumerate(quotes):
        for side in (1, 0):
            new = md.book_rows(inst, quote, side, rows, seed=seed, step=step, makers=makers)
            assert len(new) <= rows
            for op in md.diff(held[side], new, side, rows):
                r = op.row
                assert book.apply(_Item(op.position, op.operation, op.side, r.price, r.size))
                assert len(book.bids) <= rows
                assert len(book.asks) <= rows
            held[side] = new
        assert [(r.price, int(r.size)) for r in book.bids] == [(r.price, r.size) for r in held[1]]
        assert [(r.price, int(r.size)) for r in book.asks] == [(r.price, r.size) for r in held[0]]
        if quote.bid_size and not makers:
            assert book.bids[0].price == quote.bid
    assert book.inconsistencies == 0


def test_book_rejects_negative_rows() -> None:
    with pytest.raises(ValueError, match=r"^max_rows must be >= 0, not -1$"):
        OrderBook(max_rows=-1)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize(
    ("code", "expected"),
    [(code, expected) for _, code, expected in examples("market_depth.md")],
    ids=[f"example{index}" for index, _, _ in examples("market_depth.md")],
)
def test_market_depth_doc_examples(backend: str, code: str, expected: list[str]) -> None:
    assert expected
    assert same_lines(run_example("market_depth.md", code, backend), expected)


def test_book_module_exports() -> None:
    from ib_anyio import book

    assert book.__all__ == sorted(book.__all__)
    for name in book.__all__:
        assert getattr(book, name).__module__ == "ib_anyio.book"
    assert repr(OrderBook()) == "OrderBook(bids=0 rows, asks=0 rows, inconsistencies=0)"


async def test_depth_after_data_lost(client: ib_anyio.Client, server: sim.SimServer) -> None:
    """Depth is market data: after 1100 and 1101 ("data lost") TWS has forgotten the
    subscription; the client asks again (a Gap item, then the whole book as inserts),
    which the OrderBook follows, and only the new request is cancelled."""
    book = OrderBook(max_rows=2)
    async with client.req_mkt_depth(on("ISLAND"), 2) as depth:
        old = depth.req_id
        await collect(depth, book, 4)
        await server.faults.connectivity_lost(restored="data_lost")
        with anyio.fail_after(5):
            async for item in depth:
                if isinstance(item, ib_anyio.Gap):
                    break
                assert book.apply(item)
        assert item == ib_anyio.Gap("data_lost", old, depth.req_id)
        assert book.apply(item)
        assert book.bids == book.asks == []
        again = await collect(depth, book, 4)
        assert [i.operation for i in again] == [0, 0, 0, 0]
        assert [len(book.bids), len(book.asks)] == [2, 2]
    sent = [m.fields["reqId"] for m in server.received if m.name == "reqMktDepth"]
    assert sent == [old, depth.req_id]
    assert [m.fields["reqId"] for m in await cancels(server, client)] == [depth.req_id]
    assert server._stream_count() == 0
