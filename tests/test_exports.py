"""The public namespace: exactly what __all__ says, shown as ib_anyio.X."""

from __future__ import annotations

import inspect

import ib_anyio
from ib_anyio import items


def test_all_matches_public_names() -> None:
    public = {
        name
        for name, obj in vars(ib_anyio).items()
        if not name.startswith("_") and not inspect.ismodule(obj)
    }
    assert public == set(ib_anyio.__all__)
    assert ib_anyio.__all__ == sorted(ib_anyio.__all__)


def test_our_classes_show_the_public_module() -> None:
    for name in (
        "Client",
        "TWSError",
        "ConnectionLost",
        "ProtocolError",
        "ConnectionFailed",
        "ClientIdInUse",
        "ConnectionRefused",
        "ConnectionRejected",
        "HandshakeTimeout",
        "UnsupportedServerVersion",
        "RequestTimeout",
        "ItemStream",
        "Subscription",
        "Notice",
        "Trade",
        "Fill",
        "TradeLogEntry",
        "OrderPlacement",
        "BracketPlacement",
    ):
        assert getattr(ib_anyio, name).__module__ == "ib_anyio", name
    assert ib_anyio.connect.__module__ == "ib_anyio"
    # ibapi's own classes are re-exported unchanged
    assert ib_anyio.Contract.__module__ == "ibapi.contract"


def test_errors_subclass_the_matching_builtins() -> None:
    assert issubclass(ib_anyio.ConnectionLost, ConnectionError)
    assert issubclass(ib_anyio.ProtocolError, ib_anyio.ConnectionLost)
    assert issubclass(ib_anyio.ConnectionFailed, ConnectionError)
    assert issubclass(ib_anyio.UnsupportedRequest, NotImplementedError)
    assert issubclass(ib_anyio.RequestTimeout, TimeoutError)
    assert issubclass(ib_anyio.HandshakeTimeout, TimeoutError)
    assert issubclass(ib_anyio.ConnectionRefused, ConnectionRefusedError)
    for name in (
        "ClientIdInUse",
        "ConnectionRefused",
        "ConnectionRejected",
        "HandshakeTimeout",
        "UnsupportedServerVersion",
    ):
        assert issubclass(getattr(ib_anyio, name), ib_anyio.ConnectionFailed), name
    for name in (
        "TWSError",
        "ConnectionLost",
        "ProtocolError",
        "ConnectionFailed",
        "RequestTimeout",
        "StreamOverflow",
        "UnsupportedRequest",
    ):
        assert issubclass(getattr(ib_anyio, name), ib_anyio.IBError)


def test_timeout_and_refusal_errors_carry_their_fields() -> None:
    timeout = ib_anyio.RequestTimeout("req_head_time_stamp", 7, 0.5)
    assert (timeout.request, timeout.req_id, timeout.timeout) == ("req_head_time_stamp", 7, 0.5)
    assert str(timeout) == "req_head_time_stamp() (request 7) got no answer from TWS within 0.5 s"
    assert (
        str(ib_anyio.RequestTimeout("req_current_time", None, 2))
        == "req_current_time() got no answer from TWS within 2 s"
    )
    in_use = ib_anyio.ClientIdInUse("127.0.0.1:7497", 3, "client id in use")
    assert (in_use.client_id, in_use.code, in_use.message) == (3, 326, "client id in use")
    assert str(in_use) == "TWS at 127.0.0.1:7497 refused client id 3: error 326: client id in use"


def test_items_module_exports_every_item_class() -> None:
    assert items.__all__ == sorted(items.__all__)
    for name in items.__all__:
        assert hasattr(items, name), name
    assert "TickPrice" in items.__all__
    assert "ContractDetailsItem" in items.__all__
    assert items.TickPrice.__module__ == "ib_anyio.items"


def test_tws_error_carries_its_fields() -> None:
    err = ib_anyio.TWSError(5, 200, "No security definition has been found for the request", "{}")
    assert (err.req_id, err.code, err.message, err.advanced_order_reject_json) == (
        5,
        200,
        "No security definition has been found for the request",
        "{}",
    )
    assert (
        str(err)
        == "TWS error 200 for request 5: No security definition has been found for the request"
    )


def test_orders_module_exports_the_builders() -> None:
    from ib_anyio import orders

    assert orders.__all__ == sorted(orders.__all__)
    assert set(orders.__all__) == {
        "Bracket",
        "bracket",
        "limit",
        "market",
        "oca",
        "stop",
        "stop_limit",
    }
    assert all(hasattr(orders, name) for name in orders.__all__)
