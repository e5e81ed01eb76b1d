"""The simulated account: cash, positions, profit and loss, margin and account values.

One account per server (``DU1234567``, base currency USD, starting cash 1,000,000 by
default), shared by every connection. Amounts are kept as ``Decimal``; what goes to
clients is formatted the way TWS formats it.

Positions and cash (what every fill does):

* A position holds its quantity (negative when short), its *cost* (what was paid for it
  including commissions; for a short position the negative of the proceeds net of
  commissions) and its realized PnL. Its average cost is ``cost / quantity``, per unit
  *including the multiplier*, as TWS reports ``avgCost`` (an option bought at 1.50 with
  0.65 commission has an average cost of 150.65).
* A fill that reduces a position realizes ``(price * multiplier - average cost) *
  closed quantity`` (signed for shorts) minus its own commission; a fill that crosses
  zero closes first and opens the rest, its commission split in proportion. The
  realized PnL of an opening fill is none at all (the commission report then carries
  ``UNSET_DOUBLE``).
* Stocks, options and forex move cash by ``price * quantity * multiplier`` plus
  commission. Futures are settled like TWS's daily variation margin: opening moves cash
  by the commission only, and closing moves it by the gain or loss on the price.
* Closed positions stay listed with quantity 0 and their realized PnL for the rest of
  the session, as TWS keeps them.
* Exercising a long option closes it at price 0 (realizing minus its cost) and trades
  ``quantity * multiplier`` of the underlying at the strike (calls buy, puts sell), with
  no commission; letting it lapse only closes it.

Valuation: positions are marked at the market's mark (last price, or midpoint; see
``_market``). Unrealized PnL is ``mark * quantity * multiplier - cost``.

Margin (a simple Reg T-like model, in percent of the position's absolute value at the
mark): stocks 50 initial / 25 maintenance; futures 6 / 5 (of the notional); forex 3 / 2;
long options none; short options their value plus 20% of the underlying's value.

Account values (all in USD):

* ``TotalCashValue`` = cash; ``NetLiquidation`` = cash + the value of stock, option and
  forex positions + the unrealized PnL of futures.
* ``EquityWithLoanValue`` = ``NetLiquidation`` minus option values;
  ``GrossPositionValue`` = the sum of the absolute values of stock and option positions.
* ``AvailableFunds`` = equity with loan - initial margin; ``ExcessLiquidity`` = equity
  with loan - maintenance margin; ``BuyingPower`` = 2 x available funds (what the 50%
  stock margin allows); ``Cushion`` = excess liquidity / net liquidation.
* ``Full*`` and ``LookAhead*`` values equal their current counterparts; ``SMA``,
  ``RegTEquity``/``RegTMargin`` are equity with loan and initial margin.
* PnL: the session starts flat, so daily PnL = realized + unrealized PnL (of the whole
  account for ``pnl``, of one position for ``pnl_single``).

Formatting: money as ``"1000000.00"`` (two decimals), ``Cushion`` with six decimals,
counts as integers (``DayTradesRemaining`` is ``"-1"``: unlimited).

Account summary tags (``reqAccountSummary``): every tag of ibapi's ``AccountSummaryTags``
(its ``ReqTEquity``/``ReqTMargin`` spelling as well as TWS's ``RegTEquity``/``RegTMargin``,
and 9.81's ``PreviousEquityWithLoanValue``),
answered in the order asked, unknown tags skipped; ``$LEDGER`` adds the ledger values
(cash balance, market values, PnL, exchange rate...) in the base currency, labelled
``USD``; ``$LEDGER:ALL`` adds them labelled ``BASE`` and ``USD``; ``$LEDGER:USD`` labelled
``USD`` (any other currency: nothing, the account holds none).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

import attrs
from ibapi.contract import Contract

from ._market import Market, contract_of, multiplier_of
from ._universe import Instrument, _zone

ACCOUNT = "DU1234567"
ZERO = Decimal(0)

# (initial, maintenance) margin as a fraction of |value|
_MARGIN: dict[str, tuple[Decimal, Decimal]] = {
    "STK": (Decimal("0.50"), Decimal("0.25")),
    "FUT": (Decimal("0.06"), Decimal("0.05")),
    "CASH": (Decimal("0.03"), Decimal("0.02")),
}
_SHORT_OPTION_UNDERLYING = Decimal("0.20")
BUYING_POWER_FACTOR = Decimal(2)

LEDGER_KEYS = (
    "CashBalance",
    "TotalCashBalance",
    "AccruedCash",
    "StockMarketValue",
    "OptionMarketValue",
    "FutureOptionValue",
    "FuturesPNL",
    "NetLiquidationByCurrency",
    "UnrealizedPnL",
    "RealizedPnL",
    "ExchangeRate",
    "NetDividend",
)


def dec(value: float | int | str | Decimal) -> Decimal:
    """A number as ``Decimal``, floats by their shortest repr (``0.1`` is ``0.1``)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def money(value: Decimal) -> str:
    """An amount the way TWS sends it: two decimals, no grouping."""
    return f"{value:.2f}"


@attrs.frozen
class Position:
    """One position of the account.

    Attributes:
        inst: The instrument.
        quantity: Quantity, negative when short (0 once closed).
        cost: Cost basis including commissions (negative for a short: net proceeds).
        notional: Cost basis without commissions (futures settlement uses it).
        realized: PnL realized on this instrument this session.
    """

    inst: Instrument
    quantity: Decimal = ZERO
    cost: Decimal = ZERO
    notional: Decimal = ZERO
    realized: Decimal = ZERO

    @property
    def multiplier(self) -> int:
        return multiplier_of(self.inst)

    @property
    def avg_cost(self) -> float:
        """Average cost per unit including the multiplier, as TWS's ``avgCost`` (0 when
        flat)."""
        return float(self.cost / self.quantity) if self.quantity else 0.0

    @property
    def contract(self) -> Contract:
        """The ``Contract`` TWS reports for this position."""
        return contract_of(self.inst)

    def value(self, mark: float) -> Decimal:
        """Market value at ``mark``: price x quantity x multiplier."""
        return dec(mark) * self.quantity * self.multiplier

    def unrealized(self, mark: float) -> Decimal:
        """Unrealized PnL at ``mark``."""
        return self.value(mark) - self.cost


def trade(
    pos: Position, signed_qty: Decimal, price: Decimal, commission: Decimal
) -> tuple[Position, Decimal | None, Decimal]:
    """Apply one fill to a position.

    Args:
        pos: The position before the fill.
        signed_qty: Quantity bought (positive) or sold (negative).
        price: Fill price per unit (without multiplier).
        commission: Commission of the fill (positive).

    Returns:
        The new position, the PnL the fill realized (``None`` when it only opened) and
        the change of cash.
    """
    mult = pos.multiplier
    future = pos.inst.sec_type == "FUT"
    size = abs(signed_qty)
    closing = (
        min(size, abs(pos.quantity))
        if pos.quantity and (pos.quantity > 0) != (signed_qty > 0)
        else ZERO
    )
    opening = size - closing
    c_close = commission * closing / size if size else ZERO
    c_open = commission - c_close
    qty, cost, notional, realized_total = pos.quantity, pos.cost, pos.notional, pos.realized
    cash = -commission if future else -signed_qty * price * mult - commission
    realized: Decimal | None = None
    if closing:
        closed = closing if pos.quantity > 0 else -closing  # in the position's sign
        fraction = closing / abs(pos.quantity)
        cost_out = cost * fraction
        notional_out = notional * fraction
        realized = price * mult * closed - cost_out - c_close
        if future:
            cash += price * mult * closed - notional_out
        qty -= closed
        cost -= cost_out
        notional -= notional_out
        realized_total += realized
    if opening:
        opened = opening if signed_qty > 0 else -opening
        qty += opened
        cost += opened * price * mult + c_open
        notional += opened * price * mult
    if not qty:
        cost = notional = ZERO
    new = attrs.evolve(pos, quantity=qty, cost=cost, notional=notional, realized=realized_total)
    return new, realized, cash


@attrs.frozen
class Totals:
    """The account's figures at one moment (all in the base currency)."""

    cash: Decimal
    net_liquidation: Decimal
    equity_with_loan: Decimal
    gross_position_value: Decimal
    stock_value: Decimal
    option_value: Decimal
    futures_pnl: Decimal
    unrealized: Decimal
    realized: Decimal
    init_margin: Decimal
    maint_margin: Decimal

    @property
    def available_funds(self) -> Decimal:
        return self.equity_with_loan - self.init_margin

    @property
    def excess_liquidity(self) -> Decimal:
        return self.equity_with_loan - self.maint_margin

    @property
    def buying_power(self) -> Decimal:
        return max(ZERO, self.available_funds) * BUYING_POWER_FACTOR

    @property
    def cushion(self) -> Decimal:
        if self.net_liquidation <= 0:
            return ZERO
        return self.excess_liquidity / self.net_liquidation


@attrs.frozen
class PortfolioRow:
    """One ``updatePortfolio`` row."""

    inst: Instrument
    contract: Contract
    position: Decimal
    market_price: float
    market_value: float
    average_cost: float
    unrealized_pnl: float
    realized_pnl: float


class PnL(NamedTuple):
    """What ``pnl`` reports for the account (a tuple in ``EWrapper.pnl``'s order)."""

    daily: float
    unrealized: float
    realized: float


class PnLSingle(NamedTuple):
    """What ``pnlSingle`` reports for one position (a tuple in ``EWrapper.pnlSingle``'s
    order)."""

    pos: Decimal
    daily: float
    unrealized: float
    realized: float
    value: float


class Account:
    """The simulated account.

    Args:
        name: Account code.
        cash: Starting cash in the base currency.
        currency: Base currency.
        clock: Source of the current time (epoch seconds), for ``update_time``.
    """

    def __init__(
        self,
        name: str = ACCOUNT,
        cash: float | int | Decimal = 1_000_000,
        currency: str = "USD",
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.currency = currency
        self.cash = dec(cash)
        self.starting_cash = self.cash
        self.realized = ZERO
        self._positions: dict[int, Position] = {}
        self.clock = clock

    def positions(self) -> list[Position]:
        """Every position of the session (closed ones with quantity 0), oldest first."""
        return list(self._positions.values())

    def position(self, con_id: int) -> Position | None:
        """The position in one instrument, if the session ever traded it."""
        return self._positions.get(con_id)

    # -- changes ---------------------------------------------------------------------

    def apply_fill(
        self,
        inst: Instrument,
        action: str,
        qty: Decimal,
        price: float | Decimal,
        commission: Decimal,
    ) -> Decimal | None:
        """Book one execution.

        Args:
            inst: The instrument traded.
            action: ``"BUY"`` or ``"SELL"`` (``"BOT"``/``"SLD"`` also accepted).
            qty: Quantity traded (positive).
            price: Price per unit.
            commission: Commission charged (positive).

        Returns:
            The PnL the execution realized, or ``None`` when it only opened a position.
        """
        signed = qty if action.upper() in ("BUY", "BOT") else -qty
        pos = self._positions.get(inst.con_id) or Position(inst)
        new, realized, cash = trade(pos, signed, dec(price), commission)
        self._positions[inst.con_id] = new
        self.cash += cash
        if realized is not None:
            self.realized += realized
        return realized

    def exercise(
        self, option: Instrument, underlying: Instrument, quantity: Decimal, *, lapse: bool
    ) -> None:
        """Exercise (or let lapse) ``quantity`` long contracts of an option.

        Raises:
            ValueError: The account is not long that many contracts.
        """
        pos = self._positions.get(option.con_id)
        held = pos.quantity if pos else ZERO
        if quantity <= 0 or held < quantity:
            raise ValueError(f"position {held} in {option.local_symbol} cannot cover {quantity}")
        self.apply_fill(option, "SELL", quantity, ZERO, ZERO)
        if not lapse:
            action = "BUY" if option.right == "C" else "SELL"
            shares = quantity * multiplier_of(option)
            self.apply_fill(underlying, action, shares, dec(option.strike), ZERO)

    # -- figures ---------------------------------------------------------------------

    def totals(
        self, market: Market, extra: Iterable[tuple[Instrument, Decimal, Decimal, Decimal]] = ()
    ) -> Totals:
        """The account's figures at the market's current marks.

        Args:
            market: The market positions are marked at.
            extra: Hypothetical fills ``(inst, signed quantity, price, commission)`` applied
                first to a copy of the positions (what-if orders, margin checks).
        """
        positions = dict(self._positions)
        cash = self.cash
        realized = self.realized
        for inst, signed_qty, price, commission in extra:
            pos = positions.get(inst.con_id) or Position(inst)
            positions[inst.con_id], gained, cash_change = trade(pos, signed_qty, price, commission)
            cash += cash_change
            realized += gained or ZERO
        stock = option = fx = futures_unrealized = futures_pnl = unrealized = ZERO
        init = maint = ZERO
        for pos in positions.values():
            inst = pos.inst
            mark = market.mark(inst)
            value = pos.value(mark)
            if inst.sec_type == "FUT":
                # what a futures position adds to the account is its gain, not its value
                gain = value - pos.notional
                futures_unrealized += gain
                futures_pnl += gain + pos.realized
                unrealized += pos.unrealized(mark)
            else:
                unrealized += value - pos.cost
                if inst.sec_type == "OPT":
                    option += value
                elif inst.sec_type == "CASH":
                    fx += value
                else:
                    stock += value
            i, m = self._margin(market, pos, value)
            init += i
            maint += m
        net_liq = cash + stock + option + fx + futures_unrealized
        return Totals(
            cash=cash,
            net_liquidation=net_liq,
            equity_with_loan=net_liq - option,
            gross_position_value=sum(
                (
                    abs(p.value(market.mark(p.inst)))
                    for p in positions.values()
                    if p.inst.sec_type in ("STK", "OPT")
                ),
                ZERO,
            ),
            stock_value=stock,
            option_value=option,
            futures_pnl=futures_pnl,
            unrealized=unrealized,
            realized=realized,
            init_margin=init,
            maint_margin=maint,
        )

    @staticmethod
    def _margin(market: Market, pos: Position, value: Decimal) -> tuple[Decimal, Decimal]:
        inst = pos.inst
        if inst.sec_type == "OPT":
            if pos.quantity >= 0:
                return ZERO, ZERO
            under = market.instrument(inst.under_con_id)
            under_value = (
                dec(market.mark(under)) * abs(pos.quantity) * pos.multiplier if under else ZERO
            )
            need = abs(value) + under_value * _SHORT_OPTION_UNDERLYING
            return need, need
        init_rate, maint_rate = _MARGIN.get(inst.sec_type, _MARGIN["STK"])
        return abs(value) * init_rate, abs(value) * maint_rate

    def summary_values(self, market: Market) -> dict[str, tuple[str, str]]:
        """Every account-summary tag's ``(value, currency)``."""
        t = self.totals(market)
        cur = self.currency
        m = {
            "NetLiquidation": t.net_liquidation,
            "TotalCashValue": t.cash,
            "SettledCash": t.cash,
            "AccruedCash": ZERO,
            "BuyingPower": t.buying_power,
            "EquityWithLoanValue": t.equity_with_loan,
            "PreviousDayEquityWithLoanValue": self.starting_cash,
            "GrossPositionValue": t.gross_position_value,
            "RegTEquity": t.equity_with_loan,
            "RegTMargin": t.init_margin,
            "SMA": t.available_funds,
            "InitMarginReq": t.init_margin,
            "MaintMarginReq": t.maint_margin,
            "AvailableFunds": t.available_funds,
            "ExcessLiquidity": t.excess_liquidity,
            "FullInitMarginReq": t.init_margin,
            "FullMaintMarginReq": t.maint_margin,
            "FullAvailableFunds": t.available_funds,
            "FullExcessLiquidity": t.excess_liquidity,
            "LookAheadInitMarginReq": t.init_margin,
            "LookAheadMaintMarginReq": t.maint_margin,
            "LookAheadAvailableFunds": t.available_funds,
            "LookAheadExcessLiquidity": t.excess_liquidity,
        }
        out = {tag: (money(value), cur) for tag, value in m.items()}
        out["ReqTEquity"] = out["RegTEquity"]  # ibapi's AccountSummaryTags spelling
        out["ReqTMargin"] = out["RegTMargin"]
        out["PreviousEquityWithLoanValue"] = out["PreviousDayEquityWithLoanValue"]  # ibapi 9.81
        out["AccountType"] = ("INDIVIDUAL", "")
        out["Cushion"] = (f"{t.cushion:.6f}", "")
        out["LookAheadNextChange"] = ("0", "")
        out["HighestSeverity"] = ("0", "")
        out["DayTradesRemaining"] = ("-1", "")
        leverage = t.gross_position_value / t.net_liquidation if t.net_liquidation > 0 else ZERO
        out["Leverage"] = (f"{leverage:.2f}", "")
        return out

    def ledger(self, market: Market, label: str) -> list[tuple[str, str, str]]:
        """The ledger values (cash balance, market values, PnL...) labelled ``label``."""
        t = self.totals(market)
        amounts = {
            "CashBalance": t.cash,
            "TotalCashBalance": t.cash,
            "AccruedCash": ZERO,
            "StockMarketValue": t.stock_value,
            "OptionMarketValue": t.option_value,
            "FutureOptionValue": ZERO,
            "FuturesPNL": t.futures_pnl,
            "NetLiquidationByCurrency": t.net_liquidation,
            "UnrealizedPnL": t.unrealized,
            "RealizedPnL": t.realized,
            "NetDividend": ZERO,
        }
        rows = []
        for key in LEDGER_KEYS:
            value = "1.00" if key == "ExchangeRate" else money(amounts[key])
            rows.append((key, value, label))
        return rows

    def values(self, market: Market) -> list[tuple[str, str, str]]:
        """What ``reqAccountUpdates`` reports: ``(key, value, currency)`` rows.

        The account's identity (``AccountCode``, ``AccountType``, ``AccountReady``), every
        summary value, ``Currency``, and the ledger for ``BASE`` and the base currency
        (``UnrealizedPnL``, ``RealizedPnL``, ``CashBalance``...).
        """
        rows = [("AccountCode", self.name, ""), ("AccountReady", "true", "")]
        for tag, (value, currency) in self.summary_values(market).items():
            if not tag.startswith("ReqT") and tag != "PreviousEquityWithLoanValue":
                rows.append((tag, value, currency))
        for label in ("BASE", self.currency):
            rows.append(("Currency", label, label))
            rows += self.ledger(market, label)
        seen: set[tuple[str, str]] = set()
        unique = []
        for key, value, currency in rows:  # AccruedCash is both a summary and a ledger key
            if (key, currency) not in seen:
                seen.add((key, currency))
                unique.append((key, value, currency))
        return unique

    def summary(self, tags: str | Iterable[str], market: Market) -> list[tuple[str, str, str]]:
        """What ``reqAccountSummary`` reports for ``tags``: ``(tag, value, currency)`` rows.

        Args:
            tags: Comma-separated tags as ``reqAccountSummary`` takes them, or a list.
            market: The market positions are marked at.
        """
        names = tags.split(",") if isinstance(tags, str) else list(tags)
        values = self.summary_values(market)
        rows: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        for raw in names:
            tag = raw.strip()
            if not tag or tag in seen:
                continue
            seen.add(tag)
            if tag in values:
                value, currency = values[tag]
                rows.append((tag, value, currency))
            elif tag == "$LEDGER":
                rows += self.ledger(market, self.currency)
            elif tag == "$LEDGER:ALL":
                rows += self.ledger(market, "BASE") + self.ledger(market, self.currency)
            elif tag.upper() == f"$LEDGER:{self.currency}":
                rows += self.ledger(market, self.currency)
        return rows

    def portfolio(self, market: Market) -> list[PortfolioRow]:
        """What ``reqAccountUpdates`` reports per position (``updatePortfolio``)."""
        rows = []
        for pos in self._positions.values():
            mark = market.mark(pos.inst)
            rows.append(
                PortfolioRow(
                    inst=pos.inst,
                    contract=pos.contract,
                    position=pos.quantity,
                    market_price=mark,
                    market_value=float(pos.value(mark)),
                    average_cost=pos.avg_cost,
                    unrealized_pnl=float(pos.unrealized(mark)),
                    realized_pnl=float(pos.realized),
                )
            )
        return rows

    def pnl(self, market: Market) -> PnL:
        """The account's daily, unrealized and realized PnL."""
        t = self.totals(market)
        return PnL(
            daily=float(t.realized + t.unrealized),
            unrealized=float(t.unrealized),
            realized=float(t.realized),
        )

    def pnl_single(self, inst: Instrument, market: Market) -> PnLSingle:
        """One position's quantity, daily, unrealized and realized PnL, and value."""
        pos = self._positions.get(inst.con_id) or Position(inst)
        mark = market.mark(inst)
        unrealized = pos.unrealized(mark)
        return PnLSingle(
            pos=pos.quantity,
            daily=float(pos.realized + unrealized),
            unrealized=float(unrealized),
            realized=float(pos.realized),
            value=float(pos.value(mark)),
        )

    def update_time(self) -> str:
        """``updateAccountTime``'s ``"HH:MM"`` (US/Eastern) from the account's clock."""
        now = datetime.fromtimestamp(self.clock(), _zone("US/Eastern"))
        return now.strftime("%H:%M")
