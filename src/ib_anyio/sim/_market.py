"""The simulated market: one current quote per instrument, shared by every connection.

Rules:

* Each instrument's quote starts at the first quote of its deterministic walk
  (:func:`~ib_anyio.sim._universe.quotes` with the server seed) and moves only when asked:
  :meth:`Market.step` advances that instrument's own walk by one quote.
* :meth:`Market.set_quote` sets any of bid, ask, last and their sizes (the others keep
  their values) and *pins* the quote: ``step`` no longer moves it until :meth:`Market.unpin`,
  after which the walk resumes where it was. Prices must be positive and on the
  instrument's tick grid, sizes non-negative integers, and the bid below the ask;
  anything else raises ``ValueError`` naming the problem and changes nothing. Setting
  ``last`` counts as a trade: the day's volume grows by the last size.
* Every change of an instrument's quote bumps its :meth:`Market.version`; the broker uses
  it to know when the liquidity at the touch is fresh again.
* The *mark* of an instrument (what positions are valued at, and what stop orders trigger
  on) is its last price, or the bid/ask midpoint for forex (which has no trades) or when
  there is no last price.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import attrs
from ibapi.contract import Contract

from ._universe import UNIVERSE, Instrument, Quote, quotes, round_to_tick


def contract_of(inst: Instrument) -> Contract:
    """The full ibapi ``Contract`` TWS reports for an instrument (in open orders,
    executions, positions and portfolio updates).

    Args:
        inst: An instrument of the simulator's universe.

    Returns:
        A new ``Contract`` with the instrument's conId, symbol, security type, expiry,
        strike, right, multiplier, exchange, primary exchange, currency, local symbol and
        trading class.
    """
    contract = Contract()
    contract.conId = inst.con_id
    contract.symbol = inst.symbol
    contract.secType = inst.sec_type
    contract.lastTradeDateOrContractMonth = inst.expiry
    contract.strike = inst.strike
    contract.right = inst.right
    contract.multiplier = inst.multiplier
    contract.exchange = inst.exchange
    contract.primaryExchange = inst.primary_exchange
    contract.currency = inst.currency
    contract.localSymbol = inst.local_symbol
    contract.tradingClass = inst.trading_class
    return contract


def multiplier_of(inst: Instrument) -> int:
    """The contract multiplier as a number (1 when the instrument has none)."""
    return int(float(inst.multiplier)) if inst.multiplier else 1


def on_tick(price: float, tick: float) -> bool:
    """Whether ``price`` lies on the grid of ``tick`` (allowing for float noise)."""
    if not math.isfinite(price):
        return False
    steps = price / tick
    return abs(steps - round(steps)) <= 1e-6


class Market:
    """The current quote of every instrument.

    Args:
        seed: Seed of the quote walks (the server's seed).
        universe: The instruments it knows (default: the built-in universe).
    """

    def __init__(self, seed: int = 0, universe: Iterable[Instrument] = UNIVERSE) -> None:
        self.seed = seed
        self.universe: tuple[Instrument, ...] = tuple(universe)
        self._by_con_id = {inst.con_id: inst for inst in self.universe}
        self._walks: dict[int, Iterator[Quote]] = {}
        self._quotes: dict[int, Quote] = {}
        self._versions: dict[int, int] = {}
        self._pinned: set[int] = set()

    def instrument(self, con_id: int) -> Instrument | None:
        """The instrument with this conId, if the market has it."""
        return self._by_con_id.get(con_id)

    def quote(self, inst: Instrument) -> Quote:
        """The instrument's current quote."""
        current = self._quotes.get(inst.con_id)
        if current is None:
            walk = quotes(inst, self.seed)
            self._walks[inst.con_id] = walk
            current = self._quotes[inst.con_id] = next(walk)
            self._versions[inst.con_id] = 0
        return current

    def version(self, inst: Instrument) -> int:
        """A counter that grows with every change of the instrument's quote."""
        self.quote(inst)
        return self._versions[inst.con_id]

    def pinned(self, inst: Instrument) -> bool:
        """Whether :meth:`set_quote` pinned the instrument's quote."""
        return inst.con_id in self._pinned

    def step(self, inst: Instrument) -> Quote:
        """Advance the instrument's walk by one quote, unless its quote is pinned.

        Returns:
            The current quote (the new one, or the pinned one).
        """
        current = self.quote(inst)
        if inst.con_id in self._pinned:
            return current
        return self._replace(inst, next(self._walks[inst.con_id]))

    def set_quote(
        self,
        inst: Instrument,
        *,
        bid: float | None = None,
        ask: float | None = None,
        last: float | None = None,
        bid_size: int | None = None,
        ask_size: int | None = None,
        last_size: int | None = None,
    ) -> Quote:
        """Set parts of the instrument's quote and pin it (``step`` no longer moves it).

        Args:
            inst: The instrument.
            bid: New bid price (on the instrument's tick grid, positive).
            ask: New ask price (likewise; must stay above the bid).
            last: New last trade price (likewise); adds ``last_size`` to the volume.
            bid_size: New bid size (shares, contracts or currency units; may be 0).
            ask_size: New ask size.
            last_size: New last trade size.

        Returns:
            The new current quote.

        Raises:
            ValueError: A price is not positive or off the tick grid, a size is negative or
                not an integer, or the bid would not be below the ask. Nothing changes.
        """
        current = self.quote(inst)
        for name, price in (("bid", bid), ("ask", ask), ("last", last)):
            if price is None:
                continue
            if not math.isfinite(price) or price <= 0:
                raise ValueError(f"{inst.symbol} {name} {price!r} must be a positive price")
            if not on_tick(price, inst.min_tick):
                raise ValueError(
                    f"{inst.symbol} {name} {price!r} is not a multiple of the tick {inst.min_tick}"
                )
        for name, size in (
            ("bid_size", bid_size),
            ("ask_size", ask_size),
            ("last_size", last_size),
        ):
            if size is None:
                continue
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise ValueError(f"{inst.symbol} {name} {size!r} must be an integer >= 0")
        tick = inst.min_tick
        new = attrs.evolve(
            current,
            bid=current.bid if bid is None else round_to_tick(bid, tick),
            ask=current.ask if ask is None else round_to_tick(ask, tick),
            last=current.last if last is None else round_to_tick(last, tick),
            bid_size=current.bid_size if bid_size is None else bid_size,
            ask_size=current.ask_size if ask_size is None else ask_size,
            last_size=current.last_size if last_size is None else last_size,
        )
        if not new.bid < new.ask:
            raise ValueError(f"{inst.symbol} bid {new.bid} must be below ask {new.ask}")
        if last is not None:
            new = attrs.evolve(new, volume=new.volume + new.last_size)
        self._pinned.add(inst.con_id)
        return self._replace(inst, new)

    def unpin(self, inst: Instrument) -> None:
        """Let :meth:`step` move the instrument's quote again (its walk resumes)."""
        self._pinned.discard(inst.con_id)

    def mark(self, inst: Instrument) -> float:
        """The price positions are valued at and stops trigger on: the last price, or
        the midpoint for forex and when there is no last price."""
        q = self.quote(inst)
        if inst.sec_type == "CASH" or q.last <= 0:
            return round((q.bid + q.ask) / 2, 10)
        return q.last

    def _replace(self, inst: Instrument, new: Quote) -> Quote:
        self._quotes[inst.con_id] = new
        self._versions[inst.con_id] += 1
        return new
