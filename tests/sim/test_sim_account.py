"""The simulated account as pure logic: cash, positions, PnL, margin and account values."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ib_anyio.sim._account import Account, PnL, PnLSingle, Position
from ib_anyio.sim._market import Market
from ib_anyio.sim._universe import UNIVERSE, Instrument

NOW = 1_700_000_000.0  # 2023-11-14 17:13:20 US/Eastern
D = Decimal


def _inst(symbol: str, sec_type: str = "STK", strike: float = 0.0, right: str = "") -> Instrument:
    return next(
        i
        for i in UNIVERSE
        if i.symbol == symbol and i.sec_type == sec_type and i.strike == strike and i.right == right
    )


AAPL = _inst("AAPL")
MSFT = _inst("MSFT")
ES = _inst("ES", "FUT")
EUR = _inst("EUR", "CASH")
CALL = _inst("AAPL", "OPT", 220.0, "C")


def setup(cash: int = 1_000_000) -> tuple[Market, Account]:
    market = Market(5)
    market.set_quote(AAPL, bid=99.99, ask=100.0, last=100.0)
    market.set_quote(MSFT, bid=49.99, ask=50.0, last=50.0)
    market.set_quote(CALL, bid=11.9, ask=12.1, last=12.0)
    market.set_quote(ES, bid=5949.75, ask=5950.0, last=5950.0)
    market.set_quote(EUR, bid=1.08, ask=1.0801)
    return market, Account(cash=cash, clock=lambda: NOW)


def values(account: Account, market: Market) -> dict[tuple[str, str], str]:
    rows = account.values(market)
    table = {(key, currency): value for key, value, currency in rows}
    assert len(table) == len(rows)  # no key twice for one currency
    return table


def test_a_fresh_account() -> None:
    market, account = setup()
    v = values(account, market)
    for key in (
        "NetLiquidation",
        "TotalCashValue",
        "SettledCash",
        "EquityWithLoanValue",
        "AvailableFunds",
        "ExcessLiquidity",
        "FullAvailableFunds",
        "LookAheadExcessLiquidity",
        "SMA",
    ):
        assert v[(key, "USD")] == "1000000.00", key
    assert v[("BuyingPower", "USD")] == "2000000.00"
    for key in ("GrossPositionValue", "InitMarginReq", "MaintMarginReq", "AccruedCash"):
        assert v[(key, "USD")] == "0.00", key
    assert v[("Cushion", "")] == "1.000000"
    assert v[("AccountType", "")] == "INDIVIDUAL"
    assert v[("AccountCode", "")] == "DU1234567"
    assert v[("AccountReady", "")] == "true"
    assert v[("DayTradesRemaining", "")] == "-1"
    assert v[("Currency", "BASE")] == "BASE"
    assert v[("Currency", "USD")] == "USD"
    for label in ("BASE", "USD"):
        assert v[("CashBalance", label)] == "1000000.00"
        assert v[("NetLiquidationByCurrency", label)] == "1000000.00"
        assert v[("UnrealizedPnL", label)] == "0.00"
        assert v[("RealizedPnL", label)] == "0.00"
        assert v[("ExchangeRate", label)] == "1.00"
    assert account.positions() == []
    assert account.portfolio(market) == []
    assert account.pnl(market) == PnL(0.0, 0.0, 0.0)
    assert (account.name, account.currency) == ("DU1234567", "USD")


def test_starting_cash_is_configurable() -> None:
    market, account = setup(cash=25_000)
    assert values(account, market)[("NetLiquidation", "USD")] == "25000.00"
    assert account.cash == 25_000


def test_buying_stock() -> None:
    market, account = setup()
    assert account.apply_fill(AAPL, "BUY", D(100), 100.0, D("1.00")) is None
    assert account.cash == D("989999.00")
    [pos] = account.positions()
    assert (pos.inst, pos.quantity, pos.avg_cost, pos.realized) == (AAPL, 100, 100.01, 0)
    market.set_quote(AAPL, bid=100.99, ask=101.0, last=101.0)
    v = values(account, market)
    assert v[("NetLiquidation", "USD")] == "1000099.00"
    assert v[("TotalCashValue", "USD")] == "989999.00"
    assert v[("GrossPositionValue", "USD")] == "10100.00"
    assert v[("StockMarketValue", "USD")] == "10100.00"
    assert v[("UnrealizedPnL", "USD")] == "99.00"  # 100 x 101 - 10001
    assert v[("InitMarginReq", "USD")] == "5050.00"  # 50%
    assert v[("MaintMarginReq", "USD")] == "2525.00"  # 25%
    assert v[("AvailableFunds", "USD")] == "995049.00"
    assert v[("ExcessLiquidity", "USD")] == "997574.00"
    assert v[("BuyingPower", "USD")] == "1990098.00"
    assert v[("Cushion", "")] == "0.997475"
    assert v[("Leverage", "")] == "0.01"
    [row] = account.portfolio(market)
    assert (row.inst, row.contract.conId, row.position) == (AAPL, AAPL.con_id, 100)
    assert (row.market_price, row.market_value, row.average_cost) == (101.0, 10100.0, 100.01)
    assert (row.unrealized_pnl, row.realized_pnl) == (pytest.approx(99.0), 0.0)


def test_selling_part_realizes_pnl() -> None:
    market, account = setup()
    account.apply_fill(AAPL, "BUY", D(100), 100.0, D("1.00"))
    realized = account.apply_fill(AAPL, "SELL", D(40), 102.0, D("1.00"))
    assert realized == D("78.60")  # (102 - 100.01) x 40 - 1
    pos = account.position(AAPL.con_id)
    assert pos is not None
    assert (pos.quantity, pos.avg_cost, pos.realized) == (60, pytest.approx(100.01), D("78.60"))
    assert account.realized == D("78.60")
    assert account.cash == D("989999.00") + 40 * 102 - 1
    v = values(account, market)
    assert v[("RealizedPnL", "USD")] == "78.60"


def test_a_fill_crossing_zero_closes_then_opens() -> None:
    _, account = setup()
    account.apply_fill(AAPL, "BUY", D(10), 100.0, D("1.00"))
    realized = account.apply_fill(AAPL, "SLD", D(15), 101.0, D("1.50"))
    assert realized == D("8.00")  # (101 - 100.10) x 10 - 1.00 of the 1.50
    pos = account.position(AAPL.con_id)
    assert pos is not None
    assert (pos.quantity, pos.cost, pos.avg_cost) == (-5, D("-504.50"), 100.9)


def test_short_then_cover() -> None:
    market, account = setup()
    account.apply_fill(MSFT, "SELL", D(10), 50.0, D("1.00"))
    pos = account.position(MSFT.con_id)
    assert pos is not None
    assert (pos.quantity, pos.avg_cost) == (-10, 49.9)
    market.set_quote(MSFT, bid=44.99, ask=45.0, last=45.0)
    assert account.pnl_single(MSFT, market).unrealized == pytest.approx(49.0)
    assert values(account, market)[("MaintMarginReq", "USD")] == "112.50"  # of |value|
    assert account.apply_fill(MSFT, "BUY", D(10), 45.0, D("1.00")) == D("48.00")
    assert account.cash == D(1_000_000) + 499 - 451


def test_closed_positions_stay_with_zero_quantity() -> None:
    market, account = setup()
    account.apply_fill(AAPL, "BUY", D(10), 100.0, D("1.00"))
    account.apply_fill(MSFT, "BUY", D(10), 50.0, D("1.00"))
    account.apply_fill(AAPL, "SELL", D(10), 101.0, D("1.00"))
    assert [(p.inst.symbol, p.quantity) for p in account.positions()] == [("AAPL", 0), ("MSFT", 10)]
    aapl = account.position(AAPL.con_id)
    assert aapl is not None
    assert (aapl.cost, aapl.avg_cost, aapl.realized) == (0, 0.0, D("8.00"))
    row = account.portfolio(market)[0]
    assert (row.position, row.market_value, row.unrealized_pnl, row.realized_pnl) == (
        0,
        0.0,
        0.0,
        8.0,
    )


def test_options_carry_their_multiplier() -> None:
    market, account = setup()
    account.apply_fill(CALL, "BUY", D(2), 12.1, D("1.30"))
    pos = account.position(CALL.con_id)
    assert pos is not None
    assert pos.avg_cost == 1210.65  # per contract, as TWS's avgCost
    assert account.cash == D(1_000_000) - D("2421.30")
    v = values(account, market)
    assert v[("OptionMarketValue", "USD")] == "2400.00"
    assert v[("NetLiquidation", "USD")] == "999978.70"
    assert v[("EquityWithLoanValue", "USD")] == "997578.70"  # options excluded
    assert v[("GrossPositionValue", "USD")] == "2400.00"
    assert v[("InitMarginReq", "USD")] == "0.00"  # long options are paid for
    assert account.pnl_single(CALL, market) == PnLSingle(
        D(2), pytest.approx(-21.3), pytest.approx(-21.3), 0.0, 2400.0
    )


def test_short_options_are_margined_on_the_underlying() -> None:
    market, account = setup()
    account.apply_fill(CALL, "SELL", D(1), 12.0, D("0.65"))
    v = values(account, market)
    # 1200 for the option + 20% of 100 AAPL at 100.00
    assert v[("InitMarginReq", "USD")] == "3200.00"
    assert v[("MaintMarginReq", "USD")] == "3200.00"


def test_futures_settle_their_gains_not_their_value() -> None:
    market, account = setup()
    account.apply_fill(ES, "BUY", D(2), 5950.0, D("1.70"))
    assert account.cash == D(1_000_000) - D("1.70")
    pos = account.position(ES.con_id)
    assert pos is not None
    assert pos.avg_cost == 297_500.85  # 5950 x 50 + 0.85
    market.set_quote(ES, bid=5959.75, ask=5960.0, last=5960.0)
    v = values(account, market)
    assert v[("NetLiquidation", "USD")] == "1000998.30"
    assert v[("UnrealizedPnL", "USD")] == "998.30"
    assert v[("FuturesPNL", "USD")] == "1000.00"
    assert v[("GrossPositionValue", "USD")] == "0.00"
    assert v[("InitMarginReq", "USD")] == "35760.00"  # 6% of 2 x 5960 x 50
    assert v[("MaintMarginReq", "USD")] == "29800.00"  # 5%
    [row] = account.portfolio(market)
    assert row.market_value == 596_000.0  # TWS reports futures at their notional
    realized = account.apply_fill(ES, "SELL", D(2), 5970.0, D("1.70"))
    assert realized == D("1996.60")  # 2 x 50 x 20 - 3.40
    assert account.cash == D(1_000_000) + D("1996.60")


def test_forex_is_marked_at_the_midpoint() -> None:
    market, account = setup()
    account.apply_fill(EUR, "BUY", D(100_000), 1.08, D("2.16"))
    assert account.cash == D(1_000_000) - D("108002.16")
    pnl = account.pnl_single(EUR, market)
    assert pnl.value == pytest.approx(108_005.0)
    assert pnl.unrealized == pytest.approx(2.84)
    assert values(account, market)[("InitMarginReq", "USD")] == "3240.15"  # 3%


def test_pnl() -> None:
    market, account = setup()
    account.apply_fill(AAPL, "BUY", D(100), 100.0, D("1.00"))
    account.apply_fill(AAPL, "SELL", D(50), 101.0, D("1.00"))
    market.set_quote(AAPL, bid=101.99, ask=102.0, last=102.0)
    pnl = account.pnl(market)
    assert isinstance(pnl, tuple)
    daily, unrealized, realized = pnl
    assert realized == pytest.approx(48.5)  # (101 - 100.01) x 50 - 1
    assert unrealized == pytest.approx(99.5)  # 50 x 102 - 50 x 100.01
    assert daily == pytest.approx(148.0)
    single = account.pnl_single(AAPL, market)
    assert single == (D(50), pytest.approx(148.0), pytest.approx(99.5), 48.5, 5100.0)
    assert account.pnl_single(MSFT, market) == PnLSingle(D(0), 0.0, 0.0, 0.0, 0.0)


def test_summary_tags() -> None:
    market, account = setup()
    rows = account.summary("NetLiquidation,AccountType,Bogus,Cushion,NetLiquidation", market)
    assert rows == [
        ("NetLiquidation", "1000000.00", "USD"),
        ("AccountType", "INDIVIDUAL", ""),
        ("Cushion", "1.000000", ""),
    ]
    assert account.summary(["ReqTEquity", "RegTMargin"], market) == [
        ("ReqTEquity", "1000000.00", "USD"),
        ("RegTMargin", "0.00", "USD"),
    ]


def test_summary_covers_every_ibapi_tag() -> None:
    from ibapi.account_summary_tags import AccountSummaryTags

    market, account = setup()
    tags = AccountSummaryTags.AllTags.split(",")
    assert [tag for tag, _, _ in account.summary(AccountSummaryTags.AllTags, market)] == tags


def test_summary_ledger() -> None:
    market, account = setup()
    account.apply_fill(AAPL, "BUY", D(10), 100.0, D("1.00"))
    ledger = account.summary("$LEDGER", market)
    assert {currency for _, _, currency in ledger} == {"USD"}
    table = {tag: value for tag, value, _ in ledger}
    assert table["CashBalance"] == "998999.00"
    assert table["StockMarketValue"] == "1000.00"
    assert table["UnrealizedPnL"] == "-1.00"
    assert table["ExchangeRate"] == "1.00"
    everything = account.summary("$LEDGER:ALL", market)
    assert [c for _, _, c in everything] == ["BASE"] * len(ledger) + ["USD"] * len(ledger)
    assert account.summary("$LEDGER:USD", market) == ledger
    assert account.summary("$LEDGER:EUR", market) == []
    mixed = account.summary("TotalCashValue,$LEDGER", market)
    assert mixed[0] == ("TotalCashValue", "998999.00", "USD")
    assert mixed[1:] == ledger


def test_update_time() -> None:
    _, account = setup()
    assert account.update_time() == "17:13"


def test_exercise_needs_a_long_position() -> None:
    _, account = setup()
    with pytest.raises(ValueError, match=r"^position 0 in AAPL  261218C00220000 cannot cover 1$"):
        account.exercise(CALL, AAPL, D(1), lapse=False)
    account.apply_fill(CALL, "SELL", D(1), 12.0, D("0.65"))
    with pytest.raises(ValueError, match=r"^position -1 in .* cannot cover 1$"):
        account.exercise(CALL, AAPL, D(1), lapse=True)


def test_position_is_immutable_and_positions_is_a_copy() -> None:
    _, account = setup()
    account.apply_fill(AAPL, "BUY", D(1), 100.0, D("1.00"))
    before = account.positions()
    account.apply_fill(AAPL, "BUY", D(1), 100.0, D("1.00"))
    assert before[0].quantity == 1
    assert isinstance(before[0], Position)
    assert account.positions()[0].quantity == 2


fills = st.lists(
    st.tuples(
        st.sampled_from([AAPL, CALL, ES, EUR]),
        st.sampled_from(["BUY", "SELL"]),
        st.integers(1, 30),
        st.integers(-20, 20),  # price offset in ticks
        st.integers(0, 300),  # commission in cents
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(fills, st.integers(-50, 50))
def test_net_liquidation_moves_by_realized_plus_unrealized(
    trades: list[tuple[Instrument, str, int, int, int]], move: int
) -> None:
    market, account = setup(cash=10_000_000)
    signed: dict[int, Decimal] = {}
    for inst, action, qty, offset, cents in trades:
        price = market.mark(inst) + offset * inst.min_tick
        account.apply_fill(inst, action, D(qty), round(price, 6), D(cents) / 100)
        signed[inst.con_id] = signed.get(inst.con_id, D(0)) + (qty if action == "BUY" else -qty)
    q = market.quote(AAPL)
    market.set_quote(AAPL, bid=round(q.bid + move * 0.01, 2), ask=round(q.ask + move * 0.01, 2))
    totals = account.totals(market)
    gain = totals.net_liquidation - 10_000_000
    assert abs(gain - (totals.realized + totals.unrealized)) < D("1e-9")
    assert {p.inst.con_id: p.quantity for p in account.positions()} == signed
    daily, unrealized, realized = account.pnl(market)
    assert daily == pytest.approx(unrealized + realized)
