"""The simulated market and broker as pure logic: matching, order rules, executions."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ibapi.execution import ExecutionFilter
from ibapi.order import Order

from ib_anyio.sim._account import Account
from ib_anyio.sim._broker import (
    API_CANCELLED,
    CANCELLED,
    FILLED,
    INACTIVE,
    PRESUBMITTED,
    SUBMITTED,
    UNSET_DOUBLE,
    Broker,
    Event,
    Exercised,
    Filled,
    OrderChanged,
    OrderError,
    SimOrder,
    WhatIf,
    commission,
    exec_time,
    parse_filter_time,
    size_in,
)
from ib_anyio.sim._market import Market, contract_of
from ib_anyio.sim._universe import UNIVERSE, Instrument, quotes

NOW = 1_700_000_000.0  # 2023-11-14 17:13:20 US/Eastern


def _inst(symbol: str, sec_type: str = "STK", strike: float = 0.0, right: str = "") -> Instrument:
    return next(
        i
        for i in UNIVERSE
        if i.symbol == symbol and i.sec_type == sec_type and i.strike == strike and i.right == right
    )


AAPL = _inst("AAPL")
MSFT = _inst("MSFT")
ES = _inst("ES", "FUT")
EUR = _inst("EUR", "CASH")
CALL = _inst("AAPL", "OPT", 220.0, "C")
PUT = _inst("AAPL", "OPT", 240.0, "P")


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(
    seed: int = 7, status_repeats: int = 1, cash: int = 1_000_000, master: int | None = None
) -> tuple[Market, Account, Broker]:
    clock = Clock()
    market = Market(seed)
    account = Account(cash=cash, clock=clock)
    broker = Broker(
        market, account, status_repeats=status_repeats, clock=clock, master_client_id=master
    )
    return market, account, broker


def order(
    action: str = "BUY",
    qty: float | int | Decimal = 10,
    order_type: str = "MKT",
    lmt: float | None = None,
    aux: float | None = None,
    **attrs: Any,
) -> Order:
    o = Order()
    o.action = action
    o.totalQuantity = Decimal(qty) if isinstance(qty, int) else qty
    o.orderType = order_type
    if lmt is not None:
        o.lmtPrice = lmt
    if aux is not None:
        o.auxPrice = aux
    for name, value in attrs.items():
        setattr(o, name, value)
    return o


def pin(market: Market, inst: Instrument = AAPL, **kw: Any) -> None:
    fields: dict[str, Any] = {
        "bid": 99.99,
        "ask": 100.0,
        "last": 100.0,
        "bid_size": 10,
        "ask_size": 10,
    }
    fields.update(kw)
    market.set_quote(inst, **fields)


def kinds(events: Sequence[Event]) -> list[str]:
    """Events as short strings: ``Changed:Submitted``, ``Changed*:Filled`` (with openOrder),
    ``Fill:10@100.0``, ``Error:202``, ``WhatIf``, ``Exercised``."""
    out = []
    for e in events:
        if isinstance(e, OrderChanged):
            out.append(f"Changed{'*' if e.open_order else ''}:{e.order.status}")
        elif isinstance(e, Filled):
            ex = e.fill.execution
            out.append(f"Fill:{size_in(ex.shares).normalize():f}@{ex.price}")
        elif isinstance(e, OrderError):
            out.append(f"Error:{e.code}")
        else:
            out.append(type(e).__name__)
    return out


def fills(events: Sequence[Event]) -> list[tuple[Decimal, float]]:
    return [
        (size_in(e.fill.execution.shares), e.fill.execution.price)
        for e in events
        if isinstance(e, Filled)
    ]


def errors(events: Sequence[Event]) -> list[OrderError]:
    return [e for e in events if isinstance(e, OrderError)]


# -- market ----------------------------------------------------------------------------


def test_market_starts_at_the_first_quote_of_the_walk() -> None:
    market = Market(3)
    assert market.quote(AAPL) == next(quotes(AAPL, 3))
    assert market.quote(AAPL) == Market(3).quote(AAPL)
    assert Market(4).quote(AAPL) != market.quote(AAPL)


def test_market_step_follows_the_walk_and_bumps_the_version() -> None:
    market = Market(3)
    walk = quotes(AAPL, 3)
    expected = [next(walk) for _ in range(4)]
    assert market.version(AAPL) == 0
    assert [market.quote(AAPL)] + [market.step(AAPL) for _ in range(3)] == expected
    assert market.version(AAPL) == 3
    assert market.quote(MSFT) == next(quotes(MSFT, 3))  # each instrument its own walk


def test_set_quote_keeps_other_fields_and_pins() -> None:
    market = Market(3)
    first = market.quote(AAPL)
    q = market.set_quote(AAPL, ask=first.ask + 1)
    assert (q.bid, q.ask, q.last, q.bid_size, q.ask_size) == (
        first.bid,
        round(first.ask + 1, 2),
        first.last,
        first.bid_size,
        first.ask_size,
    )
    assert q.volume == first.volume  # no trade
    assert market.pinned(AAPL)
    version = market.version(AAPL)
    assert market.step(AAPL) == q
    assert market.version(AAPL) == version
    q2 = market.set_quote(AAPL, last=150.0, last_size=7)
    assert (q2.last, q2.volume) == (150.0, first.volume + 7)
    market.unpin(AAPL)
    walk = quotes(AAPL, 3)
    next(walk)
    assert market.step(AAPL) == next(walk)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"bid": 101.0, "ask": 100.0}, r"^AAPL bid 101.0 must be below ask 100.0$"),
        ({"bid": 100.0, "ask": 100.0}, r"^AAPL bid 100.0 must be below ask 100.0$"),
        ({"bid": 100.005}, r"^AAPL bid 100.005 is not a multiple of the tick 0.01$"),
        ({"last": -1.0}, r"^AAPL last -1.0 must be a positive price$"),
        ({"ask": float("nan")}, r"^AAPL ask nan must be a positive price$"),
        ({"ask_size": -1}, r"^AAPL ask_size -1 must be an integer >= 0$"),
        ({"bid_size": 1.5}, r"^AAPL bid_size 1.5 must be an integer >= 0$"),
    ],
)
def test_set_quote_validates(kw: dict[str, Any], message: str) -> None:
    market = Market(3)
    before = market.quote(AAPL)
    with pytest.raises(ValueError, match=message):
        market.set_quote(AAPL, **kw)
    assert market.quote(AAPL) == before
    assert not market.pinned(AAPL)


def test_mark_is_last_or_mid_for_forex() -> None:
    market = Market(3)
    market.set_quote(AAPL, bid=99.0, ask=101.0, last=100.5)
    assert market.mark(AAPL) == 100.5
    market.set_quote(EUR, bid=1.08, ask=1.0801, last=1.09)
    assert market.mark(EUR) == pytest.approx(1.08005)


def test_contract_of_an_option() -> None:
    c = contract_of(CALL)
    assert (c.conId, c.symbol, c.secType, c.lastTradeDateOrContractMonth) == (
        700_000_000,
        "AAPL",
        "OPT",
        "20261218",
    )
    assert (c.strike, c.right, c.multiplier, c.exchange, c.currency, c.tradingClass) == (
        220.0,
        "C",
        "100",
        "SMART",
        "USD",
        "AAPL",
    )
    assert c.localSymbol == "AAPL  261218C00220000"
    s = contract_of(AAPL)
    assert (s.primaryExchange, s.strike, s.multiplier) == ("NASDAQ", 0.0, "")


# -- market orders and the ladder -------------------------------------------------------


def test_market_order_message_sequence() -> None:
    market, _, broker = make()
    pin(market)
    events = broker.place(1, 5, AAPL, order("BUY", 10))
    assert kinds(events) == [
        "Changed*:Submitted",
        "Fill:10@100.0",
        "Changed*:Filled",
        "Changed:Filled",
    ]
    final = events[-1]
    assert isinstance(final, OrderChanged)
    o = final.order
    assert (o.client_id, o.order_id, o.filled, o.remaining) == (1, 5, 10, 0)
    assert (o.avg_fill_price, o.last_fill_price) == (100.0, 100.0)
    assert (o.order.orderId, o.order.clientId, o.order.permId) == (5, 1, o.perm_id)
    assert o.order.account == "DU1234567"
    assert size_in(o.order.filledQuantity) == 10
    assert broker.orders[(1, 5)].status == FILLED


@pytest.mark.parametrize("repeats", [0, 1, 3])
def test_terminal_status_repeats(repeats: int) -> None:
    market, _, broker = make(status_repeats=repeats)
    pin(market)
    events = broker.place(1, 1, AAPL, order("BUY", 5))
    terminal = [e for e in events if isinstance(e, OrderChanged) and e.order.status == FILLED]
    assert [e.open_order for e in terminal] == [True] + [False] * repeats
    assert all(e.order is terminal[0].order for e in terminal)


def test_market_order_walks_the_ladder() -> None:
    market, _, broker = make()
    pin(market, ask_size=10)
    events = broker.place(1, 1, AAPL, order("BUY", 25))
    assert fills(events) == [(10, 100.0), (10, 100.01), (5, 100.02)]
    assert kinds(events)[1:5] == [
        "Fill:10@100.0",
        "Changed:Submitted",
        "Fill:10@100.01",
        "Changed:Submitted",
    ]
    partial = events[2]
    assert isinstance(partial, OrderChanged)
    assert (partial.order.filled, partial.order.remaining) == (10, 15)  # a snapshot
    o = broker.orders[(1, 1)]
    assert o.avg_fill_price == pytest.approx((1000 + 1000.1 + 500.1) / 25)
    assert [size_in(f.execution.cumQty) for f in o.fills] == [10, 20, 25]


def test_sell_market_order_walks_down_from_the_bid() -> None:
    market, _, broker = make()
    pin(market, bid_size=4)
    assert fills(broker.place(1, 1, AAPL, order("SELL", 9))) == [
        (4, 99.99),
        (4, 99.98),
        (1, 99.97),
    ]


def test_liquidity_taken_stays_taken_until_the_quote_changes() -> None:
    market, _, broker = make()
    pin(market, ask_size=10)
    assert fills(broker.place(1, 1, AAPL, order("BUY", 6))) == [(6, 100.0)]
    assert fills(broker.place(2, 1, AAPL, order("BUY", 6))) == [(4, 100.0), (2, 100.01)]
    assert fills(broker.place(1, 2, AAPL, order("SELL", 3))) == [(3, 99.99)]  # other side
    pin(market, ask_size=10)  # a new quote: fresh liquidity
    assert fills(broker.place(1, 3, AAPL, order("BUY", 6))) == [(6, 100.0)]
    market.unpin(AAPL)
    q = market.step(AAPL)
    assert fills(broker.place(1, 4, AAPL, order("BUY", 1))) == [(1, q.ask)]


def test_no_size_at_the_touch_leaves_a_market_order_working() -> None:
    market, _, broker = make()
    pin(market, ask_size=0)
    assert kinds(broker.place(1, 1, AAPL, order("BUY", 5))) == ["Changed*:Submitted"]
    pin(market, ask_size=5)
    assert fills(broker.on_quote(AAPL)) == [(5, 100.0)]
    assert broker.orders[(1, 1)].status == FILLED


# -- limit and stop orders --------------------------------------------------------------


def test_limit_buy_rests_then_fills_at_the_ask() -> None:
    market, _, broker = make()
    pin(market)
    events = broker.place(1, 1, AAPL, order("BUY", 5, "LMT", lmt=99.5, tif="GTC"))
    assert kinds(events) == ["Changed*:Submitted"]
    assert broker.on_quote(AAPL) == []
    pin(market, bid=99.3, ask=99.6)
    assert broker.on_quote(AAPL) == []  # ask above the limit
    pin(market, bid=99.2, ask=99.4)  # better than the limit
    events = broker.on_quote(AAPL)
    assert kinds(events) == ["Fill:5@99.4", "Changed*:Filled", "Changed:Filled"]


def test_limit_sell_fills_when_the_bid_reaches_it() -> None:
    market, _, broker = make()
    pin(market)
    assert fills(broker.place(1, 1, AAPL, order("SELL", 5, "LMT", lmt=100.2))) == []
    pin(market, bid=100.2, ask=100.21)
    assert fills(broker.on_quote(AAPL)) == [(5, 100.2)]


def test_limit_order_partially_fills_and_rests_with_the_rest() -> None:
    market, _, broker = make()
    pin(market, ask_size=10)
    events = broker.place(1, 1, AAPL, order("BUY", 25, "LMT", lmt=100.01))
    assert fills(events) == [(10, 100.0), (10, 100.01)]
    o = broker.orders[(1, 1)]
    assert (o.status, o.filled, o.remaining) == (SUBMITTED, 20, 5)
    assert broker.on_quote(AAPL) == []  # the quote did not change: no new liquidity
    pin(market, ask_size=10)
    events = broker.on_quote(AAPL)
    assert fills(events) == [(5, 100.0)]
    assert o.status == FILLED
    assert [f.execution.lastLiquidity for f in o.fills] == [2, 2, 1]  # taker, taker, maker


def test_stop_buy_waits_for_the_last_price() -> None:
    market, _, broker = make()
    pin(market)
    events = broker.place(1, 1, AAPL, order("BUY", 5, "STP", aux=101.0))
    assert kinds(events) == ["Changed*:PreSubmitted"]
    pin(market, bid=100.5, ask=100.6, last=100.99)
    assert broker.on_quote(AAPL) == []
    pin(market, bid=101.0, ask=101.02, last=101.0)
    assert kinds(broker.on_quote(AAPL)) == [
        "Changed:Submitted",
        "Fill:5@101.02",
        "Changed*:Filled",
        "Changed:Filled",
    ]


def test_stop_sell_triggers_at_or_below() -> None:
    market, _, broker = make()
    pin(market)
    assert kinds(broker.place(1, 1, AAPL, order("SELL", 5, "STP", aux=99.0))) == [
        "Changed*:PreSubmitted"
    ]
    pin(market, bid=98.9, ask=99.0, last=99.0)
    assert fills(broker.on_quote(AAPL)) == [(5, 98.9)]


def test_stop_already_beyond_its_trigger_fills_at_once() -> None:
    market, _, broker = make()
    pin(market)
    events = broker.place(1, 1, AAPL, order("BUY", 5, "STP", aux=99.0))
    assert kinds(events)[:3] == ["Changed*:PreSubmitted", "Changed:Submitted", "Fill:5@100.0"]


def test_stop_limit_triggers_then_works_as_a_limit() -> None:
    market, _, broker = make()
    pin(market)
    broker.place(1, 1, AAPL, order("BUY", 5, "STP LMT", lmt=101.0, aux=100.5))
    pin(market, bid=101.1, ask=101.2, last=101.1)
    events = broker.on_quote(AAPL)
    assert kinds(events) == ["Changed:Submitted"]  # triggered, ask above the limit
    assert broker.orders[(1, 1)].status == SUBMITTED
    pin(market, bid=100.9, ask=101.0, last=101.0)
    assert fills(broker.on_quote(AAPL)) == [(5, 101.0)]


def test_stplmt_spelling_is_accepted() -> None:
    market, _, broker = make()
    pin(market)
    broker.place(1, 1, AAPL, order("BUY", 5, "STPLMT", lmt=101.0, aux=100.5))
    assert broker.orders[(1, 1)].order.orderType == "STP LMT"


# -- time in force ----------------------------------------------------------------------


def test_ioc_fills_what_it_can_and_cancels_the_rest() -> None:
    market, _, broker = make()
    pin(market, ask_size=10)
    events = broker.place(1, 1, AAPL, order("BUY", 15, "LMT", lmt=100.0, tif="IOC"))
    assert kinds(events) == [
        "Changed*:Submitted",
        "Fill:10@100.0",
        "Changed:Submitted",
        "Changed*:Cancelled",
        "Changed:Cancelled",
        "Error:202",
    ]
    o = broker.orders[(1, 1)]
    assert (o.filled, o.remaining) == (10, 5)


def test_ioc_without_liquidity_cancels() -> None:
    market, _, broker = make()
    pin(market)
    events = broker.place(1, 1, AAPL, order("BUY", 5, "LMT", lmt=99.0, tif="IOC"))
    assert kinds(events)[-3:] == ["Changed*:Cancelled", "Changed:Cancelled", "Error:202"]


def test_fok_is_all_or_nothing() -> None:
    market, account, broker = make()
    pin(market, ask_size=10)
    events = broker.place(1, 1, AAPL, order("BUY", 15, "LMT", lmt=100.0, tif="FOK"))
    assert fills(events) == []
    assert broker.orders[(1, 1)].status == CANCELLED
    assert account.position(AAPL.con_id) is None
    events = broker.place(1, 2, AAPL, order("BUY", 15, "LMT", lmt=100.01, tif="FOK"))
    assert fills(events) == [(10, 100.0), (5, 100.01)]


@pytest.mark.parametrize("tif", ["DAY", "GTC", ""])
def test_day_and_gtc_rest(tif: str) -> None:
    market, _, broker = make()
    pin(market)
    broker.place(1, 1, AAPL, order("BUY", 5, "LMT", lmt=99.0, tif=tif))
    market.unpin(AAPL)
    for _ in range(3):
        market.step(AAPL)
        broker.on_quote(AAPL)
    assert broker.orders[(1, 1)].status == SUBMITTED


# -- transmit, brackets, OCA -------------------------------------------------------------


def test_untransmitted_order_is_held() -> None:
    market, _, broker = make()
    pin(market)
    assert kinds(broker.place(1, 1, AAPL, order("BUY", 5, transmit=False))) == [
        "Changed*:PreSubmitted"
    ]
    assert broker.on_quote(AAPL) == []
    # re-placing it with transmit=True sends it
    events = broker.place(1, 1, AAPL, order("BUY", 5))
    assert kinds(events)[:2] == ["Changed*:Submitted", "Fill:5@100.0"]


def bracket(broker: Broker, entry: float = 99.5) -> list[Event]:
    parent = order("BUY", 10, "LMT", lmt=entry, transmit=False)
    take = order("SELL", 10, "LMT", lmt=101.0, parentId=1, transmit=False)
    stop = order("SELL", 10, "STP", aux=98.0, parentId=1)
    return [
        *broker.place(1, 1, AAPL, parent),
        *broker.place(1, 2, AAPL, take),
        *broker.place(1, 3, AAPL, stop),
    ]


def test_bracket_is_held_until_the_last_child_transmits() -> None:
    market, _, broker = make()
    pin(market)
    events = bracket(broker)
    assert [(e.order.order_id, e.order.status) for e in events if isinstance(e, OrderChanged)] == [
        (1, PRESUBMITTED),
        (2, PRESUBMITTED),
        (3, PRESUBMITTED),
        (1, SUBMITTED),  # transmitted with the last child
    ]
    assert [o.status for o in broker.open_orders(1)] == [SUBMITTED, PRESUBMITTED, PRESUBMITTED]
    assert broker.orders[(1, 2)].order.parentPermId == broker.orders[(1, 1)].perm_id


def test_bracket_children_work_after_the_parent_fills_and_cancel_each_other() -> None:
    market, _, broker = make()
    pin(market)
    bracket(broker)
    pin(market, bid=99.4, ask=99.5, last=99.5)
    events = broker.on_quote(AAPL)
    assert [(e.order.order_id, e.order.status) for e in events if isinstance(e, OrderChanged)] == [
        (1, FILLED),
        (1, FILLED),
        (2, SUBMITTED),
    ]  # the stop stays PreSubmitted
    assert broker.orders[(1, 3)].status == PRESUBMITTED
    pin(market, bid=101.0, ask=101.01, last=101.0)
    events = broker.on_quote(AAPL)
    assert kinds(events) == [
        "Fill:10@101.0",
        "Changed*:Filled",
        "Changed:Filled",
        "Changed*:Cancelled",
        "Changed:Cancelled",
        "Error:202",
    ]
    assert broker.orders[(1, 3)].status == CANCELLED
    assert broker.open_orders() == []


def test_bracket_children_of_a_market_parent_fill_in_the_same_call() -> None:
    market, _, broker = make()
    pin(market)
    broker.place(1, 1, AAPL, order("BUY", 10, transmit=False))
    broker.place(1, 2, AAPL, order("SELL", 10, "LMT", lmt=99.0, parentId=1))  # marketable
    assert broker.orders[(1, 1)].status == FILLED
    assert broker.orders[(1, 2)].status == FILLED
    assert [f.execution.price for f in broker.fills] == [100.0, 99.99]


def test_cancelling_the_parent_cancels_its_children() -> None:
    market, _, broker = make()
    pin(market)
    bracket(broker)
    events = broker.cancel(1, 1)
    assert [
        (e.order.order_id, e.order.status, e.open_order)
        for e in events
        if isinstance(e, OrderChanged)
    ] == [
        (1, CANCELLED, True),
        (1, CANCELLED, False),
        (2, CANCELLED, True),
        (2, CANCELLED, False),
        (3, CANCELLED, True),
        (3, CANCELLED, False),
    ]
    assert [(e.order_id, e.code) for e in errors(events)] == [(1, 202), (2, 202), (3, 202)]


def test_child_of_an_unknown_parent_is_rejected() -> None:
    _, _, broker = make()
    events = broker.place(1, 2, AAPL, order("SELL", 5, "LMT", lmt=101.0, parentId=9))
    assert [(e.code, e.message) for e in errors(events)] == [(135, "Can't find order with id =9")]
    assert broker.orders == {}


def test_child_of_a_cancelled_parent_is_cancelled() -> None:
    market, _, broker = make()
    pin(market)
    broker.place(1, 1, AAPL, order("BUY", 5, "LMT", lmt=99.0))
    broker.cancel(1, 1)
    events = broker.place(1, 2, AAPL, order("SELL", 5, "LMT", lmt=101.0, parentId=1))
    assert kinds(events) == [
        "Changed*:PreSubmitted",
        "Changed*:Cancelled",
        "Changed:Cancelled",
        "Error:202",
    ]


@pytest.mark.parametrize("oca_type", [0, 1])
def test_oca_cancel_on_fill(oca_type: int) -> None:
    market, _, broker = make()
    pin(market)
    for oid, price in ((1, 99.0), (2, 98.0)):
        broker.place(
            1, oid, AAPL, order("BUY", 5, "LMT", lmt=price, ocaGroup="g", ocaType=oca_type)
        )
    broker.place(2, 1, AAPL, order("BUY", 5, "LMT", lmt=97.0, ocaGroup="g", ocaType=oca_type))
    pin(market, bid=98.9, ask=99.0)
    events = broker.on_quote(AAPL)
    assert kinds(events) == [
        "Fill:5@99.0",
        "Changed*:Filled",
        "Changed:Filled",
        "Changed*:Cancelled",
        "Changed:Cancelled",
        "Error:202",
    ]
    assert broker.orders[(1, 2)].status == CANCELLED
    assert broker.orders[(2, 1)].status == SUBMITTED  # another client's group


@pytest.mark.parametrize("oca_type", [2, 3])
def test_oca_reduce_on_fill(oca_type: int) -> None:
    market, _, broker = make()
    pin(market, ask_size=3)
    broker.place(1, 1, AAPL, order("BUY", 5, "LMT", lmt=99.0, ocaGroup="g", ocaType=oca_type))
    broker.place(1, 2, AAPL, order("BUY", 8, "LMT", lmt=98.0, ocaGroup="g", ocaType=oca_type))
    broker.place(1, 3, AAPL, order("BUY", 2, "LMT", lmt=97.0, ocaGroup="g", ocaType=oca_type))
    pin(market, bid=98.9, ask=99.0, ask_size=3)
    events = broker.on_quote(AAPL)
    # 3 fill: order 2 reduced to 5, order 3 (2 left) cancelled; order 1 rests with 2
    assert kinds(events) == [
        "Fill:3@99.0",
        "Changed:Submitted",
        "Changed*:Submitted",
        "Changed*:Cancelled",
        "Changed:Cancelled",
        "Error:202",
    ]
    reduced = broker.orders[(1, 2)]
    assert (reduced.remaining, size_in(reduced.order.totalQuantity)) == (5, 5)
    assert broker.orders[(1, 3)].status == CANCELLED


def test_oca_group_members_held_are_transmitted_by_the_last() -> None:
    market, _, broker = make()
    pin(market)
    broker.place(1, 1, AAPL, order("BUY", 5, "LMT", lmt=99.0, ocaGroup="g", transmit=False))
    events = broker.place(1, 2, AAPL, order("BUY", 5, "LMT", lmt=98.0, ocaGroup="g"))
    assert [(e.order.order_id, e.order.status) for e in events if isinstance(e, OrderChanged)] == [
        (2, SUBMITTED),
        (1, SUBMITTED),
    ]


# -- rejections ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("o", "reason"),
    [
        (order("BUY", 0), "The order quantity must be positive"),
        (order("BUY", -5), "The order quantity must be positive"),
        (order("BUY", Order().totalQuantity), "The order quantity must be positive"),
        (order("HOLD", 5), "Invalid action 'HOLD'"),
        (order("BUY", 5, "LMT"), "The limit price is missing or not positive"),
        (order("BUY", 5, "STP"), "The stop price is missing or not positive"),
        (order("BUY", 5, "LMT", lmt=0.0), "The limit price is missing or not positive"),
    ],
)
def test_rejected_with_201_and_a_json_reason(o: Order, reason: str) -> None:
    _, _, broker = make()
    [error] = broker.place(1, 4, AAPL, o)
    assert isinstance(error, OrderError)
    assert (error.client_id, error.order_id, error.code) == (1, 4, 201)
    assert error.message == f"Order rejected - reason:{reason}"
    assert json.loads(error.reject_json) == {"rejectReason": reason}
    assert broker.orders == {}


@pytest.mark.parametrize(
    ("inst", "order_type"),
    [(AAPL, "TRAIL"), (AAPL, "FOO"), (AAPL, ""), (EUR, "MOC"), (AAPL, "MOC")],
)
def test_unsupported_order_type_387(inst: Instrument, order_type: str) -> None:
    _, _, broker = make()
    [error] = broker.place(1, 4, inst, order("BUY", 5, order_type, lmt=1.0))
    assert isinstance(error, OrderError)
    assert (error.order_id, error.code, error.message) == (
        4,
        387,
        "Unsupported order type for this exchange and security type.",
    )
    assert broker.orders == {}


def test_order_type_the_instrument_does_not_take_387() -> None:
    _, _, broker = make()
    limited = attrs.evolve(AAPL, order_types="LMT,MKT")
    [error] = broker.place(1, 4, limited, order("BUY", 5, "STP", aux=101.0))
    assert isinstance(error, OrderError)
    assert error.code == 387
    assert kinds(broker.place(1, 5, limited, order("BUY", 5, "LMT", lmt=90.0))) == [
        "Changed*:Submitted"
    ]


@pytest.mark.parametrize(
    ("inst", "o"),
    [
        (AAPL, order("BUY", 5, "LMT", lmt=100.005)),
        (AAPL, order("BUY", 5, "STP", aux=100.001)),
        (AAPL, order("BUY", 5, "STP LMT", lmt=100.0, aux=100.001)),
        (ES, order("BUY", 1, "LMT", lmt=5950.1)),
        (EUR, order("BUY", 20000, "LMT", lmt=1.08001)),
    ],
)
def test_price_off_the_tick_110(inst: Instrument, o: Order) -> None:
    _, _, broker = make()
    [error] = broker.place(1, 4, inst, o)
    assert isinstance(error, OrderError)
    assert (error.code, error.message) == (
        110,
        "The price does not conform to the minimum price variation for this contract.",
    )


def test_prices_with_float_noise_are_on_the_tick() -> None:
    market, _, broker = make()
    pin(market)
    events = broker.place(1, 1, AAPL, order("BUY", 5, "LMT", lmt=99.0 + 0.01 * 3))
    assert kinds(events) == ["Changed*:Submitted"]
    events = broker.place(1, 2, ES, order("BUY", 1, "LMT", lmt=5000.25))
    assert kinds(events) == ["Changed*:Submitted"]


def test_duplicate_id_for_another_contract_103() -> None:
    market, _, broker = make()
    pin(market)
    broker.place(1, 1, AAPL, order("BUY", 5, "LMT", lmt=99.0))
    [error] = broker.place(1, 1, MSFT, order("BUY", 5, "LMT", lmt=99.0))
    assert isinstance(error, OrderError)
    assert (error.code, error.message) == (103, "Duplicate order id")
    assert broker.orders[(1, 1)].inst == AAPL
    # the same id of another client is another order
    assert kinds(broker.place(2, 1, MSFT, order("BUY", 5, "LMT", lmt=99.0)))[0].startswith(
        "Changed*"
    )


def test_margin_rejection_makes_the_order_inactive() -> None:
    market, account, broker = make(cash=10_000)
    pin(market)
    events = broker.place(1, 1, AAPL, order("BUY", 1000))
    assert kinds(events) == ["Error:201", "Changed*:Inactive", "Changed:Inactive"]
    error = errors(events)[0]
    assert error.message.startswith(
        "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED "
        "POSITION YOUR EQUITY WITH LOAN VALUE ["
    )
    assert json.loads(error.reject_json)["rejectReason"].endswith("USD]")
    assert broker.orders[(1, 1)].status == INACTIVE
    assert account.positions() == []
    assert account.cash == 10_000
    # within the 2x buying power it is accepted; a reducing order is never refused
    assert broker.place(1, 2, AAPL, order("BUY", 150))[-1].order.status == FILLED  # type: ignore[union-attr]
    assert broker.place(1, 3, AAPL, order("SELL", 150))[-1].order.status == FILLED  # type: ignore[union-attr]


# -- modify ---------------------------------------------------------------------------------


def test_modify_price_rematches_and_keeps_the_perm_id() -> None:
    market, _, broker = make()
    pin(market)
    broker.place(1, 1, AAPL, order("BUY", 5, "LMT", lmt=99.0, orderRef="mine"))
    perm = broker.orders[(1, 1)].perm_id
    events = broker.place(1, 1, AAPL, order("BUY", 5, "LMT", lmt=99.5, orderRef="mine"))
    assert kinds(events) == ["Changed*:Submitted"]
    changed = events[0]
    assert isinstance(changed, OrderChanged)
    assert (changed.order.perm_id, changed.order.order.lmtPrice) == (perm, 99.5)
    events = broker.place(1, 1, AAPL, order("BUY", 5, "LMT", lmt=100.0))
    assert kinds(events) == [
        "Changed*:Submitted",
        "Fill:5@100.0",
        "Changed*:Filled",
        "Changed:Filled",
    ]
    assert broker.orders[(1, 1)].perm_id == perm


def test_modify_quantity() -> None:
    market, _, broker = make()
    pin(market, ask_size=10)
    broker.place(1, 1, AAPL, order("BUY", 25, "LMT", lmt=100.0))  # 10 filled, 15 rest
    events = broker.place(1, 1, AAPL, order("BUY", 12, "LMT", lmt=100.0))
    assert kinds(events) == ["Changed*:Submitted"]
    o = broker.orders[(1, 1)]
    assert (o.filled, o.remaining, size_in(o.order.totalQuantity)) == (10, 2, 12)
    [error] = broker.place(1, 1, AAPL, order("BUY", 9, "LMT", lmt=100.0))
    assert isinstance(error, OrderError)
    assert error.code == 201
    assert error.message == (
        "Order rejected - reason:The order quantity 9 is below the filled quantity 10"
    )
    assert (o.remaining, size_in(o.order.totalQuantity)) == (2, 12)  # unchanged
    events = broker.place(1, 1, AAPL, order("BUY", 10, "LMT", lmt=100.0))
    assert kinds(events) == ["Changed*:Filled", "Changed:Filled"]


def test_modify_side_105_and_finished_orders_104_103() -> None:
    market, _, broker = make()
    pin(market)
    broker.place(1, 1, AAPL, order("BUY", 5, "LMT", lmt=99.0))
    [error] = broker.place(1, 1, AAPL, order("SELL", 5, "LMT", lmt=99.0))
    assert isinstance(error, OrderError)
    assert (error.code, error.message) == (
        105,
        "Order being modified does not match original order.",
    )
    broker.place(1, 2, AAPL, order("BUY", 5))
    [error] = broker.place(1, 2, AAPL, order("BUY", 6))
    assert isinstance(error, OrderError)
    assert (error.code, error.message) == (104, "Can't modify a filled order.")
    broker.cancel(1, 1)
    [error] = broker.place(1, 1, AAPL, order("BUY", 5, "LMT", lmt=99.0))
    assert isinstance(error, OrderError)
    assert error.code == 103


def test_modify_rearms_a_stop() -> None:
    market, _, broker = make()
    pin(market)
    broker.place(1, 1, AAPL, order("BUY", 5, "STP", aux=105.0))
    events = broker.place(1, 1, AAPL, order("BUY", 5, "STP", aux=100.0))
    assert kinds(events)[:3] == ["Changed*:PreSubmitted", "Changed:Submitted", "Fill:5@100.0"]


# -- cancel -----------------------------------------------------------------------------------


def test_cancel_working_order() -> None:
    market, _, broker = make()
    pin(market)
    broker.place(1, 1, AAPL, order("BUY", 5, "LMT", lmt=99.0))
    events = broker.cancel(1, 1)
    assert kinds(events) == ["Changed*:Cancelled", "Changed:Cancelled", "Error:202"]
    error = errors(events)[0]
    assert (error.client_id, error.order_id, error.message) == (1, 1, "Order Canceled - reason:")
    assert broker.open_orders() == []
    assert broker.completed_orders() == [broker.orders[(1, 1)]]


@pytest.mark.parametrize(
    "o",
    [order("BUY", 5, transmit=False), order("BUY", 5, "STP", aux=110.0)],
    ids=["held", "untriggered"],
)
def test_cancel_of_a_presubmitted_order_is_api_cancelled(o: Order) -> None:
    market, _, broker = make()
    pin(market)
    broker.place(1, 1, AAPL, o)
    assert kinds(broker.cancel(1, 1)) == [
        "Changed*:ApiCancelled",
        "Changed:ApiCancelled",
        "Error:202",
    ]
    assert broker.orders[(1, 1)].status == API_CANCELLED


def test_cancel_unknown_10147_and_finished_161() -> None:
    market, _, broker = make()
    pin(market)
    [error] = broker.cancel(1, 42)
    assert isinstance(error, OrderError)
    assert (error.order_id, error.code, error.message) == (
        42,
        10147,
        "OrderId 42 that needs to be cancelled is not found.",
    )
    broker.place(1, 1, AAPL, order("BUY", 5))
    perm = broker.orders[(1, 1)].perm_id
    [error] = broker.cancel(1, 1)
    assert isinstance(error, OrderError)
    assert (error.code, error.message) == (
        161,
        f"Cancel attempted when order is not in a cancellable state. Order permId = {perm}",
    )
    [error] = broker.cancel(2, 1)  # ids belong to their client
    assert isinstance(error, OrderError)
    assert error.code == 10147


def test_global_cancel_cancels_every_client() -> None:
    market, _, broker = make()
    pin(market)
    broker.place(1, 1, AAPL, order("BUY", 5, "LMT", lmt=99.0))
    broker.place(2, 1, AAPL, order("BUY", 5, "STP", aux=110.0))
    broker.place(3, 1, AAPL, order("BUY", 5))
    events = broker.global_cancel()
    assert [(e.order.client_id, e.order.status) for e in events if isinstance(e, OrderChanged)] == [
        (1, CANCELLED),
        (1, CANCELLED),
        (2, API_CANCELLED),
        (2, API_CANCELLED),
    ]
    assert broker.open_orders() == []
    assert broker.global_cancel() == []


# -- executions and commissions ------------------------------------------------------------


def test_execution_fields() -> None:
    market, _, broker = make()
    pin(market, bid_size=3)
    broker.place(4, 9, AAPL, order("SELL", 5, orderRef="ref-1", modelCode="m"))
    first, second = broker.fills
    ex = first.execution
    assert re.fullmatch(r"[0-9a-f]{8}\.[0-9a-f]{8}\.01\.01", ex.execId)
    prefix, counter = ex.execId.split(".")[:2]
    assert second.execution.execId == f"{prefix}.{int(counter, 16) + 1:08x}.01.01"
    assert ex.time == "20231114 17:13:20 US/Eastern"
    assert (ex.acctNumber, ex.exchange, ex.side, ex.price) == ("DU1234567", "NASDAQ", "SLD", 99.99)
    assert (ex.permId, ex.clientId, ex.orderId, ex.liquidation) == (
        broker.orders[(4, 9)].perm_id,
        4,
        9,
        0,
    )
    assert (size_in(ex.shares), size_in(ex.cumQty), ex.avgPrice) == (3, 3, 99.99)
    assert (size_in(second.execution.cumQty), second.execution.avgPrice) == (
        5,
        pytest.approx((3 * 99.99 + 2 * 99.98) / 5),
    )
    assert (ex.orderRef, ex.modelCode, ex.lastLiquidity) == ("ref-1", "m", 2)
    assert (first.contract.conId, first.contract.exchange) == (AAPL.con_id, "NASDAQ")
    report = first.commission_report
    assert report.execId == ex.execId
    assert (report.currency, report.yield_, report.yieldRedemptionDate) == ("USD", UNSET_DOUBLE, 0)
    assert first.exec_id == ex.execId


def test_exec_ids_and_perm_ids_are_deterministic_per_seed() -> None:
    def run(seed: int) -> tuple[list[str], list[int]]:
        market, _, broker = make(seed=seed)
        pin(market)
        broker.place(1, 1, AAPL, order("BUY", 25))
        broker.place(1, 2, AAPL, order("SELL", 5))
        return [f.exec_id for f in broker.fills], [o.perm_id for o in broker.orders.values()]

    assert run(1) == run(1)
    assert run(1)[0] != run(2)[0]
    assert run(1)[1] != run(2)[1]
    perms = run(1)[1]
    assert perms[1] == perms[0] + 1


def test_exec_time_format() -> None:
    assert exec_time(0.0) == "19691231 19:00:00 US/Eastern"
    assert exec_time(NOW + 3600 * 24 * 200) == "20240601 18:13:20 US/Eastern"  # summer time


@pytest.mark.parametrize(
    ("inst", "qty", "value", "expected"),
    [
        (AAPL, 100, 23_000, "1.00"),  # 0.50 -> minimum 1.00
        (AAPL, 1000, 230_000, "5.000"),
        (AAPL, 1, 50, "0.50"),  # at most 1% of the value
        (CALL, 3, 4500, "1.95"),
        (ES, 2, 595_000, "1.70"),
        (EUR, 100_000, 108_000, "2.16000"),
        (EUR, 20_000, 21_600, "2.00"),
    ],
)
def test_commission_schedule(inst: Instrument, qty: int, value: int, expected: str) -> None:
    assert commission(inst, Decimal(qty), Decimal(value)) == Decimal(expected)


def test_commission_is_per_order_across_executions() -> None:
    market, _, broker = make()
    pin(market, ask_size=100)
    broker.place(1, 1, AAPL, order("BUY", 300))
    assert [f.commission for f in broker.fills] == [1.0, 0.0, 0.5]  # 300 x 0.005 = 1.50
    assert broker.orders[(1, 1)].commission == 1.5
    state = broker.orders[(1, 1)].state()
    assert state.status == FILLED
    assert state.completedTime == "20231114 17:13:20 US/Eastern"


def test_realized_pnl_only_on_closing_fills() -> None:
    market, _, broker = make()
    pin(market)
    broker.place(1, 1, AAPL, order("BUY", 10))  # 10 @ 100.00, commission 1.00
    pin(market, bid=101.0, ask=101.01)
    broker.place(1, 2, AAPL, order("SELL", 4))  # 4 @ 101.00, commission 1.00
    opening, closing = broker.fills
    assert opening.commission_report.realizedPNL == UNSET_DOUBLE
    assert opening.realized_pnl is None
    # (101.00 - 100.10) x 4 - 1.00
    assert closing.realized_pnl == pytest.approx(2.6)


def test_events_carry_snapshots() -> None:
    market, _, broker = make()
    pin(market)
    [changed] = broker.place(1, 1, AAPL, order("BUY", 5, "LMT", lmt=99.0))
    assert isinstance(changed, OrderChanged)
    broker.place(1, 1, AAPL, order("BUY", 7, "LMT", lmt=100.0))
    assert (changed.order.status, changed.order.remaining) == (SUBMITTED, 5)
    assert size_in(changed.order.order.totalQuantity) == 5
    assert changed.order.fills == []
    assert broker.orders[(1, 1)].status == FILLED


def test_quantities_as_ibapi_holds_them() -> None:
    market, _, broker = make()
    pin(market)
    broker.place(1, 1, AAPL, order("BUY", 5.0))  # ibapi 9.81 sends floats
    broker.place(1, 2, AAPL, order("BUY", Decimal("2.5")))  # fractional shares
    ex = broker.fills[-1].execution
    expected_type = (
        type(Order().totalQuantity) if isinstance(Order().totalQuantity, Decimal) else float
    )
    assert isinstance(ex.shares, expected_type)
    assert size_in(ex.shares) == Decimal("2.5")
    assert size_in(broker.fills[0].execution.shares) == 5


# -- executions request --------------------------------------------------------------------------


def test_executions_are_the_clients_own_unless_master() -> None:
    market, _, broker = make(master=99)
    pin(market)
    broker.place(1, 1, AAPL, order("BUY", 5))
    broker.place(2, 1, MSFT, order("SELL", 5))
    assert [f.execution.clientId for f in broker.executions(1)] == [1]
    assert [f.execution.clientId for f in broker.executions(2, {})] == [2]
    assert [f.execution.clientId for f in broker.executions(99)] == [1, 2]
    assert [f.execution.clientId for f in broker.executions(99, {"clientId": 2})] == [2]
    assert broker.executions(3) == []


def test_execution_filter_fields() -> None:
    market, _, broker = make(master=0)
    clock = broker.clock
    assert isinstance(clock, Clock)
    pin(market)
    pin(market, MSFT)
    broker.place(1, 1, AAPL, order("BUY", 5))
    clock.now += 2 * 86400
    broker.place(2, 1, MSFT, order("SELL", 5))
    clock.now += 3600

    def ids(flt: Any) -> list[int]:
        return [f.execution.clientId for f in broker.executions(0, flt)]

    assert ids({"symbol": "msft"}) == [2]
    assert ids({"secType": "STK"}) == [1, 2]
    assert ids({"side": "BUY"}) == [1]
    assert ids({"side": "SLD"}) == [2]
    assert ids({"acctCode": "DU1234567"}) == [1, 2]
    assert ids({"acctCode": "DU999"}) == []
    assert ids({"exchange": "nasdaq"}) == [1, 2]
    assert ids({"exchange": "NYSE"}) == []
    assert ids({"time": "20231116 17:00:00"}) == [2]  # US/Eastern
    assert ids({"time": "20231116-22:00:00"}) == [2]  # UTC: 17:00 Eastern
    assert ids({"time": "20231116-22:14:00"}) == []
    assert ids({"time": "20231116 17:00:00 US/Eastern"}) == [2]
    assert ids({"lastNDays": 1}) == [2]
    assert ids({"lastNDays": 2147483647}) == [1, 2]  # unset
    assert ids({"specificDates": [20231114]}) == [1]
    assert ids({"specificDates": None, "lastNDays": 0, "clientId": 0, "time": ""}) == [1, 2]
    flt = ExecutionFilter()
    flt.symbol = "AAPL"
    assert ids(flt) == [1]


def test_parse_filter_time() -> None:
    assert parse_filter_time("") is None
    assert parse_filter_time("garbage") is None
    assert parse_filter_time("20231114 17:13:20") == NOW
    assert parse_filter_time("20231114-22:13:20") == NOW
    assert parse_filter_time("20231114 16:13:20 US/Central") == NOW


def test_open_and_completed_orders() -> None:
    market, _, broker = make()
    pin(market)
    broker.place(1, 1, AAPL, order("BUY", 5, "LMT", lmt=99.0))
    broker.place(2, 1, AAPL, order("BUY", 5, "LMT", lmt=98.0))
    broker.place(2, 2, AAPL, order("BUY", 5))
    assert [o.key for o in broker.open_orders(1)] == [(1, 1)]
    assert [o.key for o in broker.open_orders(2)] == [(2, 1)]
    assert [o.key for o in broker.open_orders()] == [(1, 1), (2, 1)]
    broker.cancel(1, 1)
    assert [(o.key, o.status) for o in broker.completed_orders()] == [
        ((2, 2), FILLED),
        ((1, 1), CANCELLED),
    ]


def test_manual_orders_are_client_zero_with_negative_ids() -> None:
    market, _, broker = make()
    pin(market)
    first, _ = broker.place_manual(AAPL, order("BUY", 5, "LMT", lmt=99.0))
    second, events = broker.place_manual(AAPL, order("BUY", 5))
    assert first is not None
    assert second is not None
    assert (first.key, second.key, first.manual) == ((0, -1), (0, -2), True)
    assert kinds(events)[-2:] == ["Changed*:Filled", "Changed:Filled"]
    rejected, events = broker.place_manual(AAPL, order("BUY", 0))
    assert rejected is None
    assert kinds(events) == ["Error:201"]


# -- what-if -------------------------------------------------------------------------------------


def test_what_if_reports_margin_and_commission_and_places_nothing() -> None:
    market, account, broker = make()
    pin(market)
    [event] = broker.place(1, 3, AAPL, order("BUY", 100, whatIf=True))
    assert isinstance(event, WhatIf)
    assert (event.client_id, event.order_id, event.contract.conId) == (1, 3, AAPL.con_id)
    assert (event.order.orderId, event.order.whatIf) == (3, True)
    state = event.state
    assert state.status == PRESUBMITTED
    # 100 x 100.00 at 50% initial, 25% maintenance; commission 1.00 lowers equity with loan
    assert (state.initMarginBefore, state.initMarginChange, state.initMarginAfter) == (
        "0.00",
        "5000.00",
        "5000.00",
    )
    assert (state.maintMarginBefore, state.maintMarginAfter) == ("0.00", "2500.00")
    assert (state.equityWithLoanBefore, state.equityWithLoanChange) == ("1000000.00", "-1.00")
    assert state.equityWithLoanAfter == "999999.00"
    names = ["commission", "minCommission", "maxCommission", "commissionCurrency"]
    if hasattr(state, "commissionAndFees"):
        names = [
            "commissionAndFees",
            "minCommissionAndFees",
            "maxCommissionAndFees",
            "commissionAndFeesCurrency",
        ]
    assert [getattr(state, n) for n in names] == [1.0, 1.0, 1.0, "USD"]
    assert broker.orders == {}
    assert account.positions() == []
    # the id stays free, and what-if checks the order like any other
    assert kinds(broker.place(1, 3, AAPL, order("BUY", 5)))[-1] == "Changed:Filled"
    [error] = broker.place(1, 4, AAPL, order("BUY", 5, "LMT", lmt=1.001, whatIf=True))
    assert isinstance(error, OrderError)
    assert error.code == 110


def test_what_if_limit_order_uses_the_limit_price() -> None:
    market, _, broker = make()
    market.set_quote(ES, bid=5949.75, ask=5950.0, last=5950.0)
    [event] = broker.place(1, 3, ES, order("BUY", 2, "LMT", lmt=5000.0, whatIf=True))
    assert isinstance(event, WhatIf)
    state = event.state
    assert state.initMarginAfter == "35700.00"  # 6% of 2 x 5950 (the mark) x 50
    assert state.maintMarginAfter == "29750.00"  # 5%
    # bought at the 5000 limit, worth 5950: equity gains 2 x 50 x 950 less 1.70 commission
    assert state.equityWithLoanChange == "94998.30"


# -- exercise ------------------------------------------------------------------------------------


def test_exercise_a_call_buys_the_underlying_at_the_strike() -> None:
    market, account, broker = make()
    market.set_quote(CALL, bid=12.0, ask=12.1, last=12.0)
    broker.place(1, 1, CALL, order("BUY", 2))
    cash = account.cash
    events = broker.exercise(1, CALL, 1, 2, "", 0, req_id=7)
    assert events == [Exercised(1, 7, CALL, 1, 2)]
    option = account.position(CALL.con_id)
    stock = account.position(AAPL.con_id)
    assert option is not None
    assert stock is not None
    assert (option.quantity, stock.quantity, stock.avg_cost) == (0, 200, 220.0)
    assert account.cash == cash - 200 * 220
    assert option.realized == Decimal("-2421.30")  # 2 x 12.10 x 100 + 1.30 commission


def test_exercise_a_put_sells_and_lapse_only_closes() -> None:
    market, account, broker = make()
    market.set_quote(PUT, bid=12.0, ask=12.1, last=12.0)
    broker.place(1, 1, PUT, order("BUY", 3))
    assert kinds(broker.exercise(1, PUT, 1, 1, "DU1234567", 0)) == ["Exercised"]
    stock = account.position(AAPL.con_id)
    assert stock is not None
    assert stock.quantity == -100
    cash = account.cash
    assert kinds(broker.exercise(1, PUT, 2, 2, "", 0)) == ["Exercised"]
    option = account.position(PUT.con_id)
    assert option is not None
    assert (option.quantity, stock.quantity, account.cash) == (0, -100, cash)


@pytest.mark.parametrize(
    ("inst", "action", "quantity", "code", "cause"),
    [
        (AAPL, 1, 1, 321, "AAPL is not an option"),
        (CALL, 3, 1, 321, "unknown exercise action 3"),
        (CALL, 1, 5, 322, "position 2 in AAPL  261218C00220000 cannot cover 5"),
        (CALL, 1, 0, 322, "position 2 in AAPL  261218C00220000 cannot cover 0"),
        (PUT, 1, 1, 322, "position 0 in AAPL  261218P00240000 cannot cover 1"),
    ],
)
def test_exercise_errors(
    inst: Instrument, action: int, quantity: int, code: int, cause: str
) -> None:
    market, account, broker = make()
    market.set_quote(CALL, bid=12.0, ask=12.1, last=12.0)
    broker.place(1, 1, CALL, order("BUY", 2))
    [error] = broker.exercise(1, inst, action, quantity, "", 0, req_id=7)
    assert isinstance(error, OrderError)
    kind = "validating" if code == 321 else "processing"
    assert (error.order_id, error.code, error.message) == (
        7,
        code,
        f"Error {kind} request.-'exerciseOptions' : cause - {cause}",
    )
    position = account.position(CALL.con_id)
    assert position is not None
    assert position.quantity == 2


# -- a random walk through the rules -----------------------------------------------------------

actions = st.lists(
    st.one_of(
        st.tuples(
            st.just("place"),
            st.integers(1, 6),  # order id
            st.sampled_from(["BUY", "SELL"]),
            st.integers(1, 40),
            st.sampled_from(["MKT", "LMT", "STP"]),
            st.integers(-5, 5),  # price offset in ticks from the touch
            st.sampled_from(["DAY", "IOC", "FOK"]),
        ),
        st.tuples(st.just("cancel"), st.integers(1, 6)),
        st.tuples(st.just("quote"), st.integers(-5, 5), st.integers(0, 30)),
        st.tuples(st.just("step")),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(actions)
def test_invariants_hold_under_any_sequence(steps: list[tuple[Any, ...]]) -> None:
    market, account, broker = make(cash=100_000_000)
    pin(market)
    for step in steps:
        if step[0] == "place":
            _, oid, action, qty, otype, offset, tif = step
            price = round(100.0 + offset * 0.01, 2)
            o = order(action, qty, otype, tif=tif)
            if otype == "LMT":
                o.lmtPrice = price
            elif otype == "STP":
                o.auxPrice = price
            events = broker.place(1, oid, AAPL, o)
        elif step[0] == "cancel":
            events = broker.cancel(1, step[1])
        elif step[0] == "quote":
            bid = round(99.99 + step[1] * 0.01, 2)
            market.set_quote(AAPL, bid=bid, ask=round(bid + 0.01, 2), last=bid, ask_size=step[2])
            events = broker.on_quote(AAPL)
        else:
            market.unpin(AAPL)
            market.step(AAPL)
            events = broker.on_quote(AAPL)
        for e in events:
            if isinstance(e, (OrderChanged, Filled)):
                snap: SimOrder = e.order
                assert snap.filled + snap.remaining == size_in(snap.order.totalQuantity)
                assert snap.remaining >= 0
    for o in broker.orders.values():
        assert o.filled == sum((size_in(f.execution.shares) for f in o.fills), Decimal(0))
        assert o.done == (o.key not in {x.key for x in broker.open_orders()})
        if o.status == FILLED:
            assert o.remaining == 0
        if o.done:
            assert not broker._active(o)
    signed = sum(
        (
            size_in(f.execution.shares) * (1 if f.execution.side == "BOT" else -1)
            for f in broker.fills
        ),
        Decimal(0),
    )
    position = account.position(AAPL.con_id)
    assert (position.quantity if position else 0) == signed
    totals = account.totals(market)
    gain = totals.net_liquidation - 100_000_000
    assert abs(gain - (totals.realized + totals.unrealized)) < Decimal("1e-12")
