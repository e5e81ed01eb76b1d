"""Reference data end to end: contract details of every security type, option chains,
symbol search, market rules, family codes, soft dollar tiers, user info and fundamental
data, through ``ib_anyio.connect`` against the simulated TWS at a text version (176), a
protobuf version (213) and the highest."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from ibapi.client import EClient

import ib_anyio
from ib_anyio import sim
from ib_anyio.sim._server import max_version
from tests.doc_examples import examples, run_example, same_lines

MAX = max_version()
OPTION_EXCHANGES = [
    "SMART",
    "AMEX",
    "CBOE",
    "PHLX",
    "PSE",
    "ISE",
    "BOX",
    "BATS",
    "NASDAQOM",
    "MIAX",
    "GEMINI",
    "EDGX",
]
EXPIRIES = {"20261218", "20270115", "20270219", "20270319"}


@pytest.fixture(params=[176, 213, MAX], ids=lambda v: f"v{v}")
async def server(request: pytest.FixtureRequest) -> AsyncIterator[sim.SimServer]:
    async with sim.serve(port=0, server_version=request.param, tick_interval=0.001) as s:
        yield s


def contract(symbol: str, sec_type: str, **fields: object) -> ib_anyio.Contract:
    c = ib_anyio.Contract()
    c.symbol, c.secType = symbol, sec_type
    for name, value in fields.items():
        setattr(c, name, value)
    return c


async def details(client: ib_anyio.Client, c: ib_anyio.Contract) -> list[ib_anyio.ContractDetails]:
    with anyio.fail_after(5):
        answers = await client.req_contract_details(c)
    return [a.contract_details for a in answers]


async def test_contract_details_of_every_security_type(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    [aapl] = await details(client, contract("AAPL", "STK", exchange="SMART", currency="USD"))
    assert (aapl.contract.conId, aapl.contract.primaryExchange) == (265598, "NASDAQ")
    assert aapl.stockType == "COMMON"
    assert [(t.tag, t.value) for t in aapl.secIdList] == [("ISIN", "US0378331005")]
    assert aapl.marketRuleIds == ",".join(["26"] * len(aapl.validExchanges.split(",")))

    [spy] = await details(client, contract("SPY", "STK"))
    assert (spy.contract.conId, spy.stockType, spy.contract.primaryExchange) == (
        756733,
        "ETF",
        "ARCA",
    )

    futures = await details(client, contract("ES", "FUT", exchange="CME"))
    assert [(d.contract.localSymbol, d.contract.lastTradeDateOrContractMonth) for d in futures] == [
        ("ESZ6", "20261218"),
        ("ESH7", "20270319"),
        ("ESM7", "20270618"),
        ("ESU7", "20270917"),
    ]
    assert len({d.contract.conId for d in futures}) == 4
    assert futures[0].contract.conId == 637533641
    assert {(d.contract.multiplier, d.minTick, d.underSymbol) for d in futures} == {
        ("50", 0.25, "ES")
    }

    chain = await details(client, contract("AAPL", "OPT"))
    assert len(chain) == 36
    assert {d.contract.lastTradeDateOrContractMonth for d in chain} == EXPIRIES
    assert {d.contract.right for d in chain} == {"C", "P"}
    assert {d.underConId for d in chain} == {265598}
    assert min(d.contract.conId for d in chain) == 700_000_000

    [eur] = await details(client, contract("EUR", "CASH", currency="USD"))
    assert (eur.contract.conId, eur.contract.localSymbol, eur.minTick) == (
        12087792,
        "EUR.USD",
        0.00005,
    )

    [spx] = await details(client, contract("SPX", "IND", exchange="CBOE"))
    assert (spx.contract.conId, spx.contract.exchange, spx.longName) == (
        416904,
        "CBOE",
        "S&P 500 Stock Index",
    )

    received = await server.wait_for(lambda m: m.name == "reqContractDetails", 6)
    assert [m.fields["contract"]["secType"] for m in received] == [  # type: ignore[index]
        "STK",
        "STK",
        "FUT",
        "OPT",
        "CASH",
        "IND",
    ]


async def test_bond_contract_details(client: ib_anyio.Client, server: sim.SimServer) -> None:
    with anyio.fail_after(5):
        by_symbol = await client.req_contract_details(contract("US-T", "BOND"))
        by_cusip = await client.req_contract_details(
            contract("", "BOND", secIdType="CUSIP", secId="91282CJZ5")
        )
    [answer] = by_symbol
    assert isinstance(answer, ib_anyio.items.BondContractDetails)
    bond = answer.contract_details
    assert (bond.contract.conId, bond.contract.symbol, bond.contract.secType) == (
        687421535,
        "US-T",
        "BOND",
    )
    assert (bond.cusip, bond.coupon, bond.maturity, bond.issueDate) == (
        "91282CJZ5",
        4.0,
        "20340215",
        "20240215",
    )
    assert (bond.descAppend, bond.bondType, bond.couponType, bond.ratings) == (
        "T 4 02/15/34",
        "US T-NOTE",
        "FIXED",
        "AA+",
    )
    assert (bond.callable, bond.putable, bond.convertible) == (False, False, False)
    assert bond.marketRuleIds == "1192"
    assert bond.longName == "United States Treasury"
    assert [b.contract_details.contract.conId for b in by_cusip] == [687421535]
    [_, second] = await server.wait_for(lambda m: m.name == "reqContractDetails", 2)
    assert second.fields["contract"]["secId"] == "91282CJZ5"  # type: ignore[index]


async def test_partial_ambiguous_and_unknown_contracts(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    [march] = await details(client, contract("ES", "FUT", lastTradeDateOrContractMonth="202703"))
    assert march.contract.localSymbol == "ESH7"
    december = await details(
        client, contract("AAPL", "OPT", lastTradeDateOrContractMonth="202612", right="C")
    )
    assert sorted(d.contract.strike for d in december) == [220.0, 230.0, 240.0]
    with anyio.fail_after(5):
        with pytest.raises(
            ib_anyio.TWSError,
            match=r"^TWS error 200 for request \d+: "
            r"No security definition has been found for the request$",
        ):
            await client.req_contract_details(contract("NOSUCH", "STK"))
        # one contract is needed for market data: the whole ES strip is ambiguous
        with pytest.raises(
            ib_anyio.TWSError,
            match=r"^TWS error 200 for request \d+: "
            r"The contract description specified for ES is ambiguous\.$",
        ):
            await client.req_mkt_data(contract("ES", "FUT", exchange="CME"), snapshot=True)
    unknown = await server.wait_for(
        lambda m: m.name == "reqContractDetails" and m.fields["contract"]["symbol"] == "NOSUCH"  # type: ignore[index]
    )
    assert len(unknown) == 1


async def test_option_chain_from_sec_def_opt_params(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    with anyio.fail_after(5):
        chain = await client.req_sec_def_opt_params("AAPL", "", "STK", 265598)
    assert [p.exchange for p in chain] == OPTION_EXCHANGES
    for p in chain:
        assert (p.underlying_con_id, p.trading_class, p.multiplier) == (265598, "AAPL", "100")
        assert p.expirations == EXPIRIES
        assert p.strikes == {210.0, 220.0, 230.0, 240.0, 250.0}
    [request] = await server.wait_for(lambda m: m.name == "reqSecDefOptParams")
    assert {k: request.fields[k] for k in ("underlyingSymbol", "underlyingConId")} == {
        "underlyingSymbol": "AAPL",
        "underlyingConId": 265598,
    }
    # the chain is usable: every expiry and strike of a 2027 expiry has a contract
    expiry = sorted(chain[0].expirations)[1]
    for strike in sorted(chain[0].strikes):
        [put] = await details(
            client,
            contract(
                "AAPL",
                "OPT",
                exchange="SMART",
                lastTradeDateOrContractMonth=expiry,
                strike=strike,
                right="P",
                multiplier="100",
            ),
        )
        assert (put.contract.strike, put.contract.lastTradeDateOrContractMonth) == (strike, expiry)
    with anyio.fail_after(5):
        only_cboe = await client.req_sec_def_opt_params("AAPL", "CBOE", "STK", 265598)
        no_options = await client.req_sec_def_opt_params("IBM", "", "STK", 8314)
        with pytest.raises(ib_anyio.TWSError, match=r"^TWS error 200 for request \d+: No sec"):
            await client.req_sec_def_opt_params("AAPL", "", "STK", 1)
    assert [p.exchange for p in only_cboe] == ["CBOE"]
    assert no_options == []


async def test_matching_symbols(client: ib_anyio.Client, server: sim.SimServer) -> None:
    with anyio.fail_after(5):
        found = await client.req_matching_symbols("aapl")
        treasury = await client.req_matching_symbols("US-T")
        index = await client.req_matching_symbols("ES")
        nothing = await client.req_matching_symbols("ZZZZ")
    described = client.server_version >= 176  # description and issuerId from 176
    [apple] = found.contract_descriptions
    c = apple.contract
    assert (c.conId, c.symbol, c.secType, c.primaryExchange, c.currency) == (
        265598,
        "AAPL",
        "STK",
        "NASDAQ",
        "USD",
    )
    assert apple.derivativeSecTypes == ["OPT"]
    assert getattr(c, "description", "") == ("APPLE INC" if described else "")
    [bond] = treasury.contract_descriptions
    assert (bond.contract.conId, bond.contract.secType) == (687421535, "BOND")
    assert getattr(bond.contract, "issuerId", "") == ("e1351453" if described else "")
    [es] = index.contract_descriptions
    assert (es.contract.conId, es.contract.secType, es.derivativeSecTypes) == (
        11004968,
        "IND",
        ["FUT"],
    )
    assert nothing.contract_descriptions == []
    received = await server.wait_for(lambda m: m.name == "reqMatchingSymbols", 4)
    assert [m.fields["pattern"] for m in received] == ["aapl", "US-T", "ES", "ZZZZ"]


async def test_market_rules_of_the_universe(client: ib_anyio.Client, server: sim.SimServer) -> None:
    [stock] = await details(client, contract("AAPL", "STK"))
    [call] = await details(
        client,
        contract("AAPL", "OPT", lastTradeDateOrContractMonth="20261218", strike=230.0, right="C"),
    )
    with anyio.fail_after(5):
        stock_rule = await client.req_market_rule(int(stock.marketRuleIds.split(",")[0]))
        option_rule = await client.req_market_rule(int(call.marketRuleIds.split(",")[0]))
        unknown = await client.req_market_rule(999)
    assert stock_rule.market_rule_id == 26
    assert [(p.lowEdge, p.increment) for p in stock_rule.price_increments] == [(0.0, 0.01)]
    assert option_rule.market_rule_id == 32
    assert [(p.lowEdge, p.increment) for p in option_rule.price_increments] == [
        (0.0, 0.01),
        (3.0, 0.05),
    ]
    assert (unknown.market_rule_id, unknown.price_increments) == (999, [])
    received = await server.wait_for(lambda m: m.name == "reqMarketRule", 3)
    assert [m.fields["marketRuleId"] for m in received] == [26, 32, 999]


async def test_account_reference_lists(client: ib_anyio.Client, server: sim.SimServer) -> None:
    with anyio.fail_after(5):
        codes = await client.req_family_codes()
        tiers = await client.req_soft_dollar_tiers()
        if hasattr(EClient, "reqUserInfo"):
            info = await client.req_user_info()
            assert info.white_branding_id == ""
            await server.wait_for(lambda m: m.name == "reqUserInfo")
        else:
            with pytest.raises(ib_anyio.UnsupportedRequest, match=r"^req_user_info\(\) needs"):
                await client.req_user_info()
    assert [(f.accountID, f.familyCodeStr) for f in codes.family_codes] == [("DU1234567", "")]
    assert tiers.tiers == []
    await server.wait_for(lambda m: m.name == "reqFamilyCodes")
    [request] = await server.wait_for(lambda m: m.name == "reqSoftDollarTiers")
    assert isinstance(request.fields["reqId"], int)


async def test_fundamental_data(client: ib_anyio.Client, server: sim.SimServer) -> None:
    aapl = contract("AAPL", "STK", exchange="SMART", currency="USD")
    if not hasattr(EClient, "reqFundamentalData"):  # removed in ibapi 10.50
        with pytest.raises(ib_anyio.UnsupportedRequest, match=r"was removed in ibapi"):
            await client.req_fundamental_data(aapl, "ReportSnapshot")
        return
    with anyio.fail_after(5):
        snapshot = await client.req_fundamental_data(aapl, "ReportSnapshot")
        ratios = await client.req_fundamental_data(aapl, "ReportRatios")
        with pytest.raises(
            ib_anyio.TWSError,
            match=r"^TWS error 430 for request \d+: The fundamentals data for the security "
            r"specified is not available\.$",
        ):
            await client.req_fundamental_data(aapl, "RESC")
    assert snapshot.data.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<ReportSnapshot')
    assert '<CoID Type="CompanyName">APPLE INC</CoID>' in snapshot.data
    assert '<Ratio FieldName="NPRICE" Type="N">230.00</Ratio>' in ratios.data
    received = await server.wait_for(lambda m: m.name == "reqFundamentalData", 3)
    assert [m.fields["reportType"] for m in received] == ["ReportSnapshot", "ReportRatios", "RESC"]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize(
    ("code", "expected"),
    [(code, expected) for _, code, expected in examples("reference.md")],
    ids=[f"example{index}" for index, _, _ in examples("reference.md")],
)
def test_reference_doc_examples(backend: str, code: str, expected: list[str]) -> None:
    assert expected  # every example says what it prints
    assert same_lines(run_example("reference.md", code, backend), expected)


#: ``MIN_SERVER_VER_CANCEL_CONTRACT_DATA``: from it ibapi can cancel contract details.
CANCEL_CONTRACT_DATA_SINCE = 215


async def test_abandoned_contract_details_are_cancelled_once(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    server.ignore("reqContractDetails")
    with anyio.move_on_after(5) as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.req_contract_details, contract("AAPL", "STK"))
            await server.wait_for(lambda m: m.name == "reqContractDetails")
            tg.cancel_scope.cancel()  # the caller gives up
    assert not scope.cancelled_caught
    await client.req_current_time()  # whatever the cancel sent has been read
    (sent,) = [m.fields for m in server.received if m.name == "reqContractDetails"]
    cancels = [m.fields for m in server.received if m.name == "cancelContractData"]
    can_cancel = hasattr(EClient, "cancelContractData")
    if can_cancel and server.server_version >= CANCEL_CONTRACT_DATA_SINCE:
        assert cancels == [{"reqId": sent["reqId"]}]  # protobuf only: no text form
    else:
        assert cancels == []  # older TWS and ibapi have no such cancel
