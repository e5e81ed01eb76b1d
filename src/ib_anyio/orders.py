"""Builders for the common order shapes, returning ibapi ``Order`` objects.

::

    from ib_anyio import orders

    buy = orders.limit("BUY", 100, 187.5, tif="GTC")
    async with client.place_order(contract, buy) as trade:
        await trade.done()

    parent, take_profit, stop_loss = orders.bracket(
        orders.limit("BUY", 100, 187.5),
        orders.limit("SELL", 100, 195.0),
        orders.stop("SELL", 100, 182.0),
    )
    async with client.place_bracket(contract, (parent, take_profit, stop_loss)) as trades:
        ...

Every builder checks its arguments and raises :class:`ValueError` (or
:class:`TypeError`) with a message saying what is wrong, before anything
reaches TWS: ``action`` is ``"BUY"`` or ``"SELL"``, ``quantity`` a positive
finite number, prices finite. Other ``Order`` attributes are given as keyword
arguments under ibapi's names (``tif="GTC"``, ``outsideRth=True``,
``account="DU1234567"``, ``orderRef="mine"`` ...); an unknown name raises
:class:`TypeError`.

IB's ``transmit`` rules: TWS holds an order with ``transmit=False`` until an
order of its group arrives with ``transmit=True``. :func:`bracket` sets them
(the parent and the take-profit wait, the stop-loss, last, transmits the
three together); :meth:`ib_anyio.Client.place_bracket` gives the parent its id
and the children that id as ``parentId`` when it places them.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from decimal import Decimal
from typing import Literal, NamedTuple, final

from ibapi.order import Order

__all__ = ["Bracket", "bracket", "limit", "market", "oca", "stop", "stop_limit"]

Action = Literal["BUY", "SELL"]

#: ibapi 10 keeps quantities as ``Decimal``; ibapi 9.81 as ``float``.
_DECIMAL_QUANTITIES = isinstance(Order().totalQuantity, Decimal)
_ORDER_ATTRIBUTES = frozenset(vars(Order()))


def _action(name: str, action: object) -> str:
    if action not in ("BUY", "SELL"):
        raise ValueError(f"{name}(): action must be 'BUY' or 'SELL', not {action!r}")
    return str(action)


def _quantity(name: str, quantity: object) -> Decimal | float:
    if isinstance(quantity, bool) or not isinstance(quantity, int | float | Decimal):
        raise TypeError(
            f"{name}(): quantity must be a number (int, float or Decimal), "
            f"not {type(quantity).__name__}"
        )
    value = Decimal(str(quantity))
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{name}(): quantity must be positive and finite, not {quantity!r}")
    return value if _DECIMAL_QUANTITIES else float(value)


def _show(quantity: object) -> str:
    """A quantity as people write it: ``2``, not ``2.0`` (ibapi 9.81 keeps floats)."""
    value = Decimal(str(quantity))
    return str(value.to_integral_value()) if value == value.to_integral_value() else str(value)


def _price(name: str, what: str, price: object) -> float:
    if isinstance(price, bool) or not isinstance(price, int | float | Decimal):
        raise TypeError(f"{name}(): {what} must be a number, not {type(price).__name__}")
    value = float(price)
    if not math.isfinite(value):
        raise ValueError(f"{name}(): {what} must be finite, not {price!r}")
    return value


def _order(
    name: str, action: object, quantity: object, order_type: str, fields: dict[str, object]
) -> Order:
    order = Order()
    order.action = _action(name, action)
    order.totalQuantity = _quantity(name, quantity)
    order.orderType = order_type
    for attr, value in fields.items():
        if attr not in _ORDER_ATTRIBUTES:
            raise TypeError(f"{name}(): ibapi's Order has no attribute {attr!r}")
        setattr(order, attr, value)
    return order


def market(action: Action, quantity: int | float | Decimal, **fields: object) -> Order:
    """A market order (``MKT``): fills at once at the best price available.

    Args:
        action: ``"BUY"`` or ``"SELL"``.
        quantity: How many (shares, contracts ...); positive.
        **fields: Other ``Order`` attributes, by ibapi name (``tif="DAY"``, ...).

    Returns:
        A new ``ibapi.order.Order``.

    Raises:
        ValueError: A bad action or quantity.
        TypeError: A wrong type, or an unknown ``Order`` attribute.
    """
    return _order("market", action, quantity, "MKT", fields)


def limit(action: Action, quantity: int | float | Decimal, price: float, **fields: object) -> Order:
    """A limit order (``LMT``): fills at ``price`` or better.

    Args:
        action: ``"BUY"`` or ``"SELL"``.
        quantity: How many; positive.
        price: The limit price.
        **fields: Other ``Order`` attributes, by ibapi name (``tif="GTC"``, ...).

    Returns:
        A new ``ibapi.order.Order``.

    Raises:
        ValueError: A bad action, quantity or price.
        TypeError: A wrong type, or an unknown ``Order`` attribute.
    """
    order = _order("limit", action, quantity, "LMT", fields)
    order.lmtPrice = _price("limit", "price", price)
    return order


def stop(
    action: Action, quantity: int | float | Decimal, stop_price: float, **fields: object
) -> Order:
    """A stop order (``STP``): becomes a market order once the price reaches ``stop_price``.

    A buy stop triggers when the last price rises to ``stop_price`` or above,
    a sell stop when it falls to it or below.

    Args:
        action: ``"BUY"`` or ``"SELL"``.
        quantity: How many; positive.
        stop_price: The trigger price (``Order.auxPrice``).
        **fields: Other ``Order`` attributes, by ibapi name.

    Returns:
        A new ``ibapi.order.Order``.

    Raises:
        ValueError: A bad action, quantity or price.
        TypeError: A wrong type, or an unknown ``Order`` attribute.
    """
    order = _order("stop", action, quantity, "STP", fields)
    order.auxPrice = _price("stop", "stop_price", stop_price)
    return order


def stop_limit(
    action: Action,
    quantity: int | float | Decimal,
    stop_price: float,
    limit_price: float,
    **fields: object,
) -> Order:
    """A stop-limit order (``STP LMT``): becomes a limit order at ``limit_price`` once triggered.

    Args:
        action: ``"BUY"`` or ``"SELL"``.
        quantity: How many; positive.
        stop_price: The trigger price (``Order.auxPrice``).
        limit_price: The limit price once triggered (``Order.lmtPrice``).
        **fields: Other ``Order`` attributes, by ibapi name.

    Returns:
        A new ``ibapi.order.Order``.

    Raises:
        ValueError: A bad action, quantity or price.
        TypeError: A wrong type, or an unknown ``Order`` attribute.
    """
    order = _order("stop_limit", action, quantity, "STP LMT", fields)
    order.auxPrice = _price("stop_limit", "stop_price", stop_price)
    order.lmtPrice = _price("stop_limit", "limit_price", limit_price)
    return order


@final
class Bracket(NamedTuple):
    """What :func:`bracket` returns: the three orders, in the order to place them."""

    parent: Order
    take_profit: Order
    stop_loss: Order


def bracket(parent: Order, take_profit: Order, stop_loss: Order) -> Bracket:
    """An entry order with a take-profit and a stop-loss attached.

    Returns copies (the arguments are not changed) with IB's ``transmit``
    rules applied: the parent and the take-profit have ``transmit=False``,
    the stop-loss ``transmit=True``, so TWS activates the three together when
    the last arrives. The children become active when the parent fills, and a
    fill of one cancels the other. Place them with
    :meth:`ib_anyio.Client.place_bracket`, which gives the parent its id and
    the children that id as ``parentId``.

    Args:
        parent: The entry order (e.g. ``limit("BUY", 100, 187.5)``).
        take_profit: The exit at a profit (e.g. ``limit("SELL", 100, 195.0)``).
        stop_loss: The exit at a loss (e.g. ``stop("SELL", 100, 182.0)``).

    Returns:
        A :class:`Bracket` ``(parent, take_profit, stop_loss)``.

    Raises:
        TypeError: An argument is not an ``ibapi.order.Order``.
        ValueError: The children do not take the opposite side of the parent
            for the same quantity, or an order already has an id.
    """
    group = [copy.copy(o) for o in _orders("bracket", (parent, take_profit, stop_loss))]
    head, *children = group
    side = _action("bracket", head.action)
    exit_side = "SELL" if side == "BUY" else "BUY"
    for name, child in zip(("take_profit", "stop_loss"), children, strict=True):
        if child.action != exit_side:
            raise ValueError(
                f"bracket(): {name} must {exit_side} to close a {side} parent, not {child.action!r}"
            )
        if child.totalQuantity != head.totalQuantity:
            raise ValueError(
                f"bracket(): {name} quantity {_show(child.totalQuantity)} differs from the "
                f"parent's {_show(head.totalQuantity)}"
            )
    if any(o.orderId for o in group):
        raise ValueError("bracket(): the orders must be new (orderId 0); ids come at placement")
    for order in group:
        order.parentId = 0
        order.transmit = False
    group[-1].transmit = True
    return Bracket(*group)


def oca(orders: Iterable[Order], group: str, type: Literal[1, 2, 3] = 1) -> list[Order]:
    """Orders in a one-cancels-all group: when one fills, the others are cancelled or reduced.

    Args:
        orders: The orders (copied; the arguments are not changed).
        group: The OCA group's name, unique among your open orders.
        type: What a fill does to the others: 1 cancels them (with block),
            2 reduces their quantity (with block), 3 reduces them (no block).

    Returns:
        Copies of ``orders`` with ``ocaGroup`` and ``ocaType`` set, in order.

    Raises:
        TypeError: An order is not an ``ibapi.order.Order``.
        ValueError: An empty group name, fewer than two orders, or a bad type.
    """
    if not isinstance(group, str) or not group:
        raise ValueError(f"oca(): group must be a non-empty name, not {group!r}")
    if type not in (1, 2, 3):
        raise ValueError(f"oca(): type must be 1, 2 or 3, not {type!r}")
    members = [copy.copy(o) for o in _orders("oca", orders)]
    if len(members) < 2:
        raise ValueError("oca(): a group needs at least two orders")
    for order in members:
        order.ocaGroup = group
        order.ocaType = type
    return members


def _orders(name: str, orders: Iterable[object]) -> list[Order]:
    result = []
    for order in orders:
        if not isinstance(order, Order):
            raise TypeError(f"{name}(): expected ibapi Order objects, not {type(order).__name__}")
        result.append(order)
    return result
