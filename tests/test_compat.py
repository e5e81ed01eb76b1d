"""Callbacks whose signatures differ between ibapi releases produce the same items.

These call the wrapper the way the installed ibapi's decoder does (with that
release's types and argument order); under ibapi 9.81 (nox session
``tests(9.81.1.post1)``) that exercises the conversions of ``ib_anyio._compat``.
"""

from __future__ import annotations

import inspect
from decimal import Decimal

from ibapi.wrapper import EWrapper

from ib_anyio import items
from ib_anyio._bridge import CollectRoute
from ib_anyio._connect import _WrapperClass


class _NoBridge:
    def _schedule_wake(self, route: object) -> None:
        pass


def _installed_type(callback: str, param: str) -> type:
    annotation = inspect.signature(getattr(EWrapper, callback)).parameters[param].annotation
    return Decimal if annotation is Decimal else float


def _route(wrapper: object, key: int | str) -> CollectRoute:
    route = CollectRoute(_NoBridge(), key, single=False)  # type: ignore[arg-type]
    wrapper._routes[key] = route  # type: ignore[attr-defined]
    return route


def test_order_status_sizes_are_decimal_on_every_release() -> None:
    wrapper = _WrapperClass()
    route = _route(wrapper, "orders")  # every order callback goes to the order router
    size = _installed_type("orderStatus", "filled")
    wrapper.orderStatus(7, "Filled", size("100"), size("0"), 1.5, 1, 0, 1.5, 1, "", 0.0)
    (item,) = route.items
    assert isinstance(item, items.OrderStatusItem)
    assert (item.order_id, item.status) == (7, "Filled")
    assert item.filled == Decimal(100)
    assert isinstance(item.filled, Decimal)
    assert isinstance(item.remaining, Decimal)


def test_tick_size_is_decimal_on_every_release() -> None:
    wrapper = _WrapperClass()
    route = _route(wrapper, 3)
    size = int if _installed_type("tickSize", "size") is float else Decimal
    wrapper.tickSize(3, 0, size(42))
    assert route.items == [items.TickSize(0, Decimal(42))]


def test_error_arguments_of_every_release() -> None:
    wrapper = _WrapperClass()
    seen: list[tuple[int, int, int, str, str]] = []
    wrapper._on_error = lambda *args: seen.append(args)
    if "errorTime" in inspect.signature(EWrapper.error).parameters:
        wrapper.error(5, 1_764_000_000_000, 200, "No security definition", "{}")
        assert seen == [(5, 1_764_000_000_000, 200, "No security definition", "{}")]
    else:  # ibapi 9.81: (reqId, errorCode, errorString)
        wrapper.error(5, 200, "No security definition")
        assert seen == [(5, 0, 200, "No security definition", "")]


def test_renamed_callback_is_forwarded() -> None:
    wrapper = _WrapperClass()
    route = _route(wrapper, "executions")
    report = object()
    # 9.81 calls commissionReport; 10.x calls commissionAndFeesReport.
    name = (
        "commissionReport" if hasattr(EWrapper, "commissionReport") else "commissionAndFeesReport"
    )
    getattr(wrapper, name)(report)
    assert route.items == [items.CommissionAndFeesReportItem(report)]
