"""Names of tick types, for the tick items of market data (``TickPrice.tick_type``...).

Tick types are plain integers on the wire. A TWS newer than the installed ibapi may send
one that ibapi does not name: the item still arrives, with its raw integer type, and
:func:`tick_name` says ``UNKNOWN_<n>`` for it.
"""

from __future__ import annotations

from functools import cache

from ibapi.ticktype import TickTypeEnum

__all__ = ["tick_name"]


@cache
def _names() -> dict[int, str]:
    # ibapi's TickTypeEnum is its own ``Enum`` class: names by index in ``idx2name``
    # (every release from 9.81 on; ``toStr`` is spelled ``to_str`` in 9.81).
    names: dict[int, str] = getattr(TickTypeEnum, "idx2name", {})
    return names


def tick_name(tick_type: int) -> str:
    """The installed ibapi's ``TickTypeEnum`` name of a tick type.

    Args:
        tick_type: The ``tick_type`` of a tick item (``TickPrice``, ``TickSize``,
            ``TickString``, ``TickGeneric``, ``TickEFP``, ``TickOptionComputation``).

    Returns:
        ``"BID"``, ``"DELAYED_LAST"``, ``"CUST_OPTION_COMPUTATION"``...; for a tick type
        the installed ibapi does not know, ``f"UNKNOWN_{tick_type}"``.

    Example:
        >>> tick_name(1), tick_name(66), tick_name(250)
        ('BID', 'DELAYED_BID', 'UNKNOWN_250')
    """
    return _names().get(tick_type) or f"UNKNOWN_{tick_type}"
