"""ib_anyio: a Trio/AnyIO structured-concurrency client for Interactive Brokers' TWS API.

Generated on top of IB's own ``ibapi`` package, which still does the wire
protocol. Start with :func:`connect`; the simulated TWS is :mod:`ib_anyio.sim`;
the items requests return and streams yield are in :mod:`ib_anyio.items`;
order builders are in :mod:`ib_anyio.orders`; an order book kept from market depth
items is :class:`ib_anyio.book.OrderBook`.
"""

from ibapi.contract import ComboLeg as ComboLeg
from ibapi.contract import Contract as Contract
from ibapi.contract import ContractDetails as ContractDetails
from ibapi.execution import Execution as Execution
from ibapi.execution import ExecutionFilter as ExecutionFilter
from ibapi.order import Order as Order
from ibapi.scanner import ScannerSubscription as ScannerSubscription
from ibapi.tag_value import TagValue as TagValue

from ._bridge import OverflowPolicy as OverflowPolicy
from ._client import Notice as Notice
from ._client import ibapi_version as ibapi_version
from ._connect import connect as connect
from ._errors import ClientIdInUse as ClientIdInUse
from ._errors import ConnectionFailed as ConnectionFailed
from ._errors import ConnectionLost as ConnectionLost
from ._errors import ConnectionRefused as ConnectionRefused
from ._errors import ConnectionRejected as ConnectionRejected
from ._errors import HandshakeTimeout as HandshakeTimeout
from ._errors import IBError as IBError
from ._errors import ProtocolError as ProtocolError
from ._errors import ReconnectFailed as ReconnectFailed
from ._errors import RequestTimeout as RequestTimeout
from ._errors import StreamOverflow as StreamOverflow
from ._errors import TWSError as TWSError
from ._errors import UnsupportedRequest as UnsupportedRequest
from ._errors import UnsupportedServerVersion as UnsupportedServerVersion
from ._generated._client import Client as Client
from ._orders import BracketPlacement as BracketPlacement
from ._orders import Fill as Fill
from ._orders import OrderEvent as OrderEvent
from ._orders import OrderPlacement as OrderPlacement
from ._orders import Trade as Trade
from ._orders import TradeLogEntry as TradeLogEntry
from ._reconnect import ConnectionEvent as ConnectionEvent
from ._reconnect import Disconnected as Disconnected
from ._reconnect import FarmStatus as FarmStatus
from ._reconnect import Gap as Gap
from ._reconnect import Reconnect as Reconnect
from ._reconnect import Reconnected as Reconnected
from ._reconnect import Reconnecting as Reconnecting
from ._reconnect import TWSConnectivity as TWSConnectivity
from ._stream import ItemStream as ItemStream
from ._stream import Subscription as Subscription
from ._ticks import tick_name as tick_name

__all__ = [
    "BracketPlacement",
    "Client",
    "ClientIdInUse",
    "ComboLeg",
    "ConnectionEvent",
    "ConnectionFailed",
    "ConnectionLost",
    "ConnectionRefused",
    "ConnectionRejected",
    "Contract",
    "ContractDetails",
    "Disconnected",
    "Execution",
    "ExecutionFilter",
    "FarmStatus",
    "Fill",
    "Gap",
    "HandshakeTimeout",
    "IBError",
    "ItemStream",
    "Notice",
    "Order",
    "OrderEvent",
    "OrderPlacement",
    "OverflowPolicy",
    "ProtocolError",
    "Reconnect",
    "ReconnectFailed",
    "Reconnected",
    "Reconnecting",
    "RequestTimeout",
    "ScannerSubscription",
    "StreamOverflow",
    "Subscription",
    "TWSConnectivity",
    "TWSError",
    "TagValue",
    "Trade",
    "TradeLogEntry",
    "UnsupportedRequest",
    "UnsupportedServerVersion",
    "connect",
    "ibapi_version",
    "tick_name",
]

#: Names defined by ibapi itself: re-exported as they are.
_IBAPI_NAMES = frozenset(
    {
        "ComboLeg",
        "Contract",
        "ContractDetails",
        "Execution",
        "ExecutionFilter",
        "Order",
        "ScannerSubscription",
        "TagValue",
    }
)


def _fixup_module_metadata() -> None:
    """Show our public classes as ``ib_anyio.X``, not their private module (like trio)."""
    for name in __all__:
        obj = globals()[name]
        if name in _IBAPI_NAMES or not (isinstance(obj, type) or callable(obj)):
            continue
        if getattr(obj, "__module__", "").startswith("ib_anyio."):
            obj.__module__ = __name__


_fixup_module_metadata()
del _fixup_module_metadata


def __getattr__(name: str) -> object:
    """``ib_anyio.sim``, ``ib_anyio.items`` and ``ib_anyio.orders`` load on first use."""
    if name in ("sim", "items", "orders"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
