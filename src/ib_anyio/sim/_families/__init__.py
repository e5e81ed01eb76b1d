"""The request families of the simulated TWS, one module each.

A family module (market depth, news, scanners ...) holds everything the
simulator does for its requests: how each request is decoded (text and
protobuf), what the server does with it, and how the answers are encoded. It
exports one :class:`Family`; :data:`FAMILIES` lists them, and the server and
the request decoder merge their tables (``_server._HANDLERS``,
``_decode.decode_request``). The families the simulator served first
(connection, orders, the account, quotes, real-time bars) live in
``_server``, ``_desk`` and ``_decode`` themselves.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from functools import cache
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from ib_anyio.sim._decode import Fields, _Text
    from ib_anyio.sim._server import _Connection

__all__ = ["FAMILIES", "Family", "families"]

#: The family modules, by name (each defines ``FAMILY``).
FAMILIES: tuple[str, ...] = (
    "reference",
    "fa",
    "display_groups",
    "wsh",
    "server_log",
    "config",
    "market_depth",
    "news",
    "scanners",
    "historical",
    "market_data",
)


@attrs.frozen
class Family:
    """One family's tables, keyed by outgoing message id (``ibapi.message.OUT``).

    Attributes:
        name: What the requests are about ("market depth").
        text: Decoders of text requests: ``(reader, version) -> fields``.
        proto: Decoders of protobuf requests: the ``ibapi.protobuf`` class name,
            and ``message -> fields``.
        handlers: What the server does with a decoded request:
            ``async (connection, fields) -> None``.
    """

    name: str
    text: dict[int, Callable[[_Text, int], Fields]] = attrs.field(factory=dict)
    proto: dict[int, tuple[str, Callable[[Any], Fields]]] = attrs.field(factory=dict)
    handlers: dict[int, Callable[[_Connection, Fields], Awaitable[None]]] = attrs.field(
        factory=dict
    )


@cache
def families() -> tuple[Family, ...]:
    """Every family, imported on first use (they import the server's helpers)."""
    return tuple(importlib.import_module(f"{__name__}.{name}").FAMILY for name in FAMILIES)
