"""An order book kept from market depth items, applied safely.

::

    from ib_anyio.book import OrderBook

    book = OrderBook()
    async with client.req_mkt_depth(contract, 5, is_smart_depth=True) as depth:
        async for item in depth:
            book.apply(item)
            print(book.bids[:1], book.asks[:1])

``req_mkt_depth`` yields ``UpdateMktDepth`` items (a book without market makers) or
``UpdateMktDepthL2`` items (with the market maker, or the exchange for SMART depth).
Each says what to do at one row of one side, as TWS keeps the book:

* ``operation`` 0, insert: the new row goes in at ``position``; the rows from there
  on move down one.
* 1, update: the row at ``position`` is replaced.
* 2, delete: the row at ``position`` goes; the rows after it move up one.
* ``side`` 1 is the bid, 0 the ask; row 0 is the best price of its side.

TWS's stream can name a row the book does not have (users of other libraries see
updates and deletes past the end of a side, after a reset or a dropped message), and a
list kept naively then raises ``IndexError`` and loses the stream. :meth:`OrderBook.apply`
never raises for such an item. It returns ``False``, adds one to
:attr:`OrderBook.inconsistencies`, logs a warning on the ``ib_anyio.book`` logger and
handles it this way:

* an update or delete of a row that does not exist: ignored (the book invents no row);
* an insert past the end of a side: appended at the end (the row is real; the rows
  before it are what the book is missing);
* an unknown operation or side: ignored.

A :class:`~ib_anyio.Gap` item (the subscription was sent again, after a reconnect or
TWS's 1101 "data lost") empties the book: the new subscription starts with the whole
book again, as inserts. When TWS reports error 317 ("Market depth data has been RESET.
Please empty deep book contents before applying any new entries.") call
:meth:`OrderBook.clear`.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Protocol

import attrs

from ._reconnect import Gap

__all__ = ["DepthItem", "DepthRow", "OrderBook"]

logger = logging.getLogger("ib_anyio.book")

INSERT, UPDATE, DELETE = 0, 1, 2
ASK, BID = 0, 1
_OPERATIONS = {INSERT: "insert", UPDATE: "update", DELETE: "delete"}


class DepthItem(Protocol):
    """What :meth:`OrderBook.apply` reads from an item: ``UpdateMktDepth`` and
    ``UpdateMktDepthL2`` both have it (the L2 item also a ``market_maker``)."""

    @property
    def position(self) -> int: ...
    @property
    def operation(self) -> int: ...
    @property
    def side(self) -> int: ...
    @property
    def price(self) -> float: ...
    @property
    def size(self) -> Decimal | float | int: ...


@attrs.frozen
class DepthRow:
    """One row of a side of the book.

    Attributes:
        price: The row's price.
        size: Its size (``Decimal``, as ibapi 10 gives sizes).
        market_maker: The market maker's MPID, or the exchange for SMART depth; empty
            for a book without market makers (``UpdateMktDepth``).
    """

    price: float
    size: Decimal
    market_maker: str = ""


class OrderBook:
    """The bids and asks of one ``req_mkt_depth`` subscription.

    Args:
        max_rows: When given (the ``num_rows`` of the request), a side never holds more
            rows: an insert into a full side drops its last row, as TWS's book does.

    Attributes:
        bids: The bid rows, best (highest) price first.
        asks: The ask rows, best (lowest) price first.
        inconsistencies: How many items named a row the book did not have (or an
            unknown operation or side); see the module docs for what was done with them.
    """

    def __init__(self, max_rows: int | None = None) -> None:
        if max_rows is not None and max_rows < 0:
            raise ValueError(f"max_rows must be >= 0, not {max_rows}")
        self.max_rows = max_rows
        self.bids: list[DepthRow] = []
        self.asks: list[DepthRow] = []
        self.inconsistencies = 0

    def __repr__(self) -> str:
        return (
            f"OrderBook(bids={len(self.bids)} rows, asks={len(self.asks)} rows,"
            f" inconsistencies={self.inconsistencies})"
        )

    def clear(self) -> None:
        """Empty both sides (after TWS's error 317, or before subscribing again)."""
        self.bids.clear()
        self.asks.clear()

    def apply(self, item: DepthItem | Gap) -> bool:
        """Apply one ``UpdateMktDepth`` or ``UpdateMktDepthL2`` item; a ``Gap`` empties
        the book (what follows it is the whole book again).

        Returns:
            ``True`` when the item applied to a row the book has (or inserted one where
            the book can hold it); ``False`` when it did not, which is also counted in
            :attr:`inconsistencies` and logged as a warning. Never raises for what TWS
            sends.
        """
        if isinstance(item, Gap):
            self.clear()
            return True
        side, operation, position = item.side, item.operation, item.position
        rows = self.bids if side == BID else self.asks if side == ASK else None
        if rows is None or operation not in _OPERATIONS:
            return self._inconsistent(item, f"unknown side {side} or operation {operation}")
        size = item.size if isinstance(item.size, Decimal) else Decimal(str(item.size))
        row = DepthRow(item.price, size, getattr(item, "market_maker", ""))
        if operation == INSERT:
            if not 0 <= position <= len(rows):
                rows.append(row)
                self._trim(rows)
                return self._inconsistent(item, f"insert at row {position} of {len(rows) - 1}")
            rows.insert(position, row)
            self._trim(rows)
            return True
        if not 0 <= position < len(rows):
            what = _OPERATIONS[operation]
            return self._inconsistent(item, f"{what} of row {position}, which does not exist")
        if operation == UPDATE:
            rows[position] = row
        else:
            del rows[position]
        return True

    def _trim(self, rows: list[DepthRow]) -> None:
        if self.max_rows is not None:
            del rows[self.max_rows :]

    def _inconsistent(self, item: DepthItem, what: str) -> bool:
        self.inconsistencies += 1
        side = {BID: "bid", ASK: "ask"}.get(item.side, str(item.side))
        logger.warning("order book: %s (%s side): %r", what, side, item)
        return False
