"""Account-wide subscriptions shared by any number of ``async with`` blocks.

TWS keeps one subscription per request (``reqPositions``, ``reqAccountUpdates``,
``reqPnL`` ...); a program often wants to follow it from several tasks. A
:class:`SharedRoute` is the one route TWS's callbacks reach; every open block is
a *member* (an ordinary :class:`~ib_anyio._bridge.StreamRoute`, with the
connection's buffer size and overflow policy) that gets every item from the
moment it joins.

A late joiner first receives a replay of the current state: the latest item per
key (a position per account and contract, an account value per key, currency
and account, the latest PnL ...), in the order the keys first appeared, then
the end item (``PositionEnd``, ``AccountDownloadEnd`` ...) if TWS has already
sent it. Items without a key (notices) are not replayed.

``push`` and ``end`` run on the reader thread, ``join`` and ``leave`` on the
event loop; one lock makes "replay, then live items" exact (no item is both
replayed and delivered, none is missed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from ._bridge import Bridge, OverflowPolicy, Route, StreamRoute
from ._generated import _items as it

__all__ = ["SharedRoute", "replay_key"]


def _contract_key(contract: Any) -> Hashable:
    con_id = getattr(contract, "conId", 0)
    if con_id:
        return con_id
    return (contract.symbol, contract.secType, contract.localSymbol, contract.currency)


_KEYS: dict[type, Callable[[Any], Hashable]] = {
    it.Position: lambda i: ("position", i.account, _contract_key(i.contract)),
    it.UpdateAccountValue: lambda i: ("value", i.key, i.currency, i.account_name),
    it.UpdatePortfolio: lambda i: ("portfolio", i.account_name, _contract_key(i.contract)),
    it.UpdateAccountTime: lambda i: ("time",),
    it.AccountSummary: lambda i: ("summary", i.account, i.tag, i.currency),
    it.Pnl: lambda i: ("pnl",),
    it.PnlSingle: lambda i: ("pnl",),
    it.PositionMulti: lambda i: (
        "position",
        i.account,
        i.model_code,
        _contract_key(i.contract),
    ),
    it.AccountUpdateMulti: lambda i: ("value", i.account, i.model_code, i.key, i.currency),
}


def replay_key(item: object) -> Hashable | None:
    """The state key of ``item`` for a late joiner's replay (``None``: not replayed)."""
    key = _KEYS.get(type(item))
    return None if key is None else key(item)


class SharedRoute(Route):
    """One TWS subscription, fanned out to every member stream.

    Attributes:
        members: The open blocks' streams (a tuple, replaced on change, so the
            reader thread iterates a stable snapshot).
        end_item: The end item, once TWS has sent it.
    """

    __slots__ = ("_lock", "_state", "end_item", "members")

    def __init__(self, bridge: Bridge, key: int | str) -> None:
        super().__init__(bridge, key)
        self._lock = threading.Lock()
        self._state: dict[Hashable, object] = {}
        self.members: tuple[StreamRoute, ...] = ()
        self.end_item: object = None

    def push(self, item: object) -> None:
        with self._lock:
            if self.finished:
                return
            key = replay_key(item)
            if key is not None:
                self._state[key] = item
            for member in self.members:
                member.push(item)

    def end(self, item: object) -> None:
        with self._lock:
            if self.finished:
                return
            self.end_item = item
            for member in self.members:
                member.push(item)

    def fail(self, exc: BaseException) -> None:
        with self._lock:
            if self.finished:
                return
            self.error = exc
            self.finished = True
            members = self.members
        for member in members:
            member.fail(exc)

    def restart(self, gap: object) -> None:
        """Event loop: the subscription is being re-sent (as :attr:`key`, which may be
        new): forget the state, and tell every member with ``gap``."""
        with self._lock:
            self._state.clear()
            self.end_item = None
            for member in self.members:
                member.key = self.key
                member.push(gap)

    def join(self, *, maxlen: int, overflow: OverflowPolicy) -> StreamRoute:
        """Event loop: a new member stream, primed with the replay."""
        member = StreamRoute(self._bridge, self.key, maxlen=maxlen, overflow=overflow)
        with self._lock:
            for item in self._state.values():
                member.push(item)
            if self.end_item is not None:
                member.push(self.end_item)
            self.members = (*self.members, member)
        return member

    def leave(self, member: StreamRoute) -> bool:
        """Event loop: remove ``member``; return whether none is left."""
        with self._lock:
            self.members = tuple(m for m in self.members if m is not member)
            return not self.members
