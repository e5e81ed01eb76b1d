"""ib_anyio.orders: the builders' orders, IB's transmit rules, and clear argument errors."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ib_anyio import Order, orders


def _qty(value: object) -> Decimal:
    return Decimal(str(value))


def test_market() -> None:
    order = orders.market("BUY", 100)
    assert isinstance(order, Order)
    assert (order.action, order.orderType, _qty(order.totalQuantity)) == ("BUY", "MKT", 100)
    assert order.orderId == 0
    assert order.transmit is True


def test_limit_with_fields() -> None:
    order = orders.limit("SELL", Decimal("2.5"), 187.25, tif="GTC", outsideRth=True)
    assert (order.action, order.orderType, order.lmtPrice) == ("SELL", "LMT", 187.25)
    assert _qty(order.totalQuantity) == Decimal("2.5")
    assert (order.tif, order.outsideRth) == ("GTC", True)


def test_stop_and_stop_limit() -> None:
    stop = orders.stop("SELL", 10, 95.0)
    assert (stop.orderType, stop.auxPrice) == ("STP", 95.0)
    stop_limit = orders.stop_limit("BUY", 10, 105.0, 105.5)
    assert (stop_limit.orderType, stop_limit.auxPrice, stop_limit.lmtPrice) == (
        "STP LMT",
        105.0,
        105.5,
    )


def test_quantities_are_decimal_on_ibapi_10() -> None:
    expected = type(Order().totalQuantity)
    if expected is not Decimal:  # ibapi 9.81 keeps floats
        expected = float
    assert isinstance(orders.market("BUY", 3).totalQuantity, expected)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: orders.market("buy", 1),
            r"^market\(\): action must be 'BUY' or 'SELL', not 'buy'$",
        ),
        (lambda: orders.market("HOLD", 1), r"^market\(\): action must be 'BUY' or 'SELL'"),
        (
            lambda: orders.market("BUY", 0),
            r"^market\(\): quantity must be positive and finite, not 0$",
        ),
        (lambda: orders.market("BUY", -5), r"quantity must be positive and finite, not -5$"),
        (lambda: orders.market("BUY", math.inf), r"quantity must be positive and finite, not inf$"),
        (lambda: orders.market("BUY", math.nan), r"quantity must be positive and finite, not nan$"),
        (lambda: orders.limit("BUY", 1, math.nan), r"^limit\(\): price must be finite, not nan$"),
        (
            lambda: orders.stop("BUY", 1, math.inf),
            r"^stop\(\): stop_price must be finite, not inf$",
        ),
        (
            lambda: orders.stop_limit("BUY", 1, 10.0, -math.inf),
            r"^stop_limit\(\): limit_price must be finite, not -inf$",
        ),
    ],
)
def test_bad_values_raise_value_error(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: orders.market("BUY", "10"), r"^market\(\): quantity must be a number"),
        (lambda: orders.market("BUY", True), r"quantity must be a number .*not bool$"),
        (lambda: orders.limit("BUY", 1, "10.5"), r"^limit\(\): price must be a number, not str$"),
        (
            lambda: orders.market("BUY", 1, tiff="GTC"),
            r"^market\(\): ibapi's Order has no attribute 'tiff'$",
        ),
    ],
)
def test_wrong_types_raise_type_error(call: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        call()  # type: ignore[operator]


def test_bracket_applies_the_transmit_rules_to_copies() -> None:
    parent = orders.limit("BUY", 100, 187.5)
    take_profit = orders.limit("SELL", 100, 195.0)
    stop_loss = orders.stop("SELL", 100, 182.0)
    group = orders.bracket(parent, take_profit, stop_loss)
    assert isinstance(group, orders.Bracket)
    assert group.parent is not parent  # copies: the arguments are unchanged
    assert parent.transmit is True
    assert [o.transmit for o in group] == [False, False, True]
    assert [o.orderType for o in group] == ["LMT", "LMT", "STP"]
    assert [o.parentId for o in group] == [0, 0, 0]  # ids come at placement
    p, tp, sl = group
    assert (p.lmtPrice, tp.lmtPrice, sl.auxPrice) == (187.5, 195.0, 182.0)


def test_bracket_checks_the_sides_and_quantities() -> None:
    with pytest.raises(
        ValueError, match=r"^bracket\(\): take_profit must SELL to close a BUY parent, not 'BUY'$"
    ):
        orders.bracket(
            orders.limit("BUY", 1, 10.0), orders.limit("BUY", 1, 11.0), orders.stop("SELL", 1, 9.0)
        )
    with pytest.raises(
        ValueError, match=r"^bracket\(\): stop_loss quantity 2 differs from the parent's 1$"
    ):
        orders.bracket(
            orders.limit("BUY", 1, 10.0), orders.limit("SELL", 1, 11.0), orders.stop("SELL", 2, 9.0)
        )
    placed = orders.limit("SELL", 1, 10.0)
    placed.orderId = 7
    with pytest.raises(ValueError, match=r"must be new \(orderId 0\)"):
        orders.bracket(placed, orders.limit("BUY", 1, 9.0), orders.stop("BUY", 1, 11.0))
    with pytest.raises(TypeError, match=r"^bracket\(\): expected ibapi Order objects, not str$"):
        orders.bracket("parent", orders.limit("SELL", 1, 11.0), orders.stop("SELL", 1, 9.0))  # type: ignore[arg-type]


def test_oca() -> None:
    a, b = orders.limit("BUY", 1, 10.0), orders.limit("BUY", 1, 9.0)
    group = orders.oca([a, b], "entry", 2)
    assert [(o.ocaGroup, o.ocaType) for o in group] == [("entry", 2), ("entry", 2)]
    assert (a.ocaGroup, a.ocaType) == ("", 0)  # copies
    with pytest.raises(ValueError, match=r"^oca\(\): group must be a non-empty name, not ''$"):
        orders.oca([a, b], "")
    with pytest.raises(ValueError, match=r"^oca\(\): type must be 1, 2 or 3, not 4$"):
        orders.oca([a, b], "g", 4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^oca\(\): a group needs at least two orders$"):
        orders.oca([a], "g")


@settings(max_examples=60, deadline=None)
@given(
    action=st.sampled_from(["BUY", "SELL"]),
    quantity=st.one_of(
        st.integers(min_value=1, max_value=10**9),
        st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**9), places=4),
    ),
    price=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9),
)
def test_valid_arguments_always_build(action: str, quantity: int | Decimal, price: float) -> None:
    order = orders.stop_limit(action, quantity, price, price)  # type: ignore[arg-type]
    assert order.action == action
    assert Decimal(str(order.totalQuantity)) == Decimal(str(quantity))
    assert order.lmtPrice == order.auxPrice == price
