"""The reference data encoders (``sim._families.reference``), decoded by the stock ibapi
``Decoder`` at versions on both sides of every layout change; a text message must be read
to its last field."""

from __future__ import annotations

import pytest
from ibapi.client import EClient
from ibapi.decoder import Decoder

from ib_anyio.sim._families.reference import Writer, _samples, option_chain
from ib_anyio.sim._universe import MARKET_RULES, UNIVERSE
from tests.sim.test_sim_encode_orders import decode, is_proto, versions

# MD_SIZE_MULTIPLIER 110, AGG_GROUP 121, UNDERLYING_INFO 122, MARKET_RULES 126,
# REAL_EXPIRATION_DATE 134, STOCK_TYPE 152, FRACTIONAL_SIZE_SUPPORT 163, SIZE_RULES 164,
# BOND_ISSUERID 176, LAST_TRADE_DATE 182, INELIGIBILITY_REASONS 186,
# BOND_TRADING_HOURS 188, protobuf 205, 210, 212.
VERSIONS = versions(100, 110, 121, 122, 126, 134, 152, 157, 163, 164, 176, 182, 186, 187)
VERSIONS += versions(188, 200, 201, 204, 205, 209, 210, 211, 212, 226)
BY_TYPE = {inst.sec_type: inst for inst in reversed(UNIVERSE)}  # the first of each type


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("sec_type", sorted(BY_TYPE))
def test_contract_data(version: int, sec_type: str) -> None:
    inst = BY_TYPE[sec_type]
    w = Writer(version)
    calls = decode(w.contract_data(7, inst, "20261124") + w.contract_data_end(7), version)
    [(name, (req_id, details)), end] = calls
    assert (name, req_id) == ("bondContractDetails" if inst.bond else "contractDetails", 7)
    assert end == ("contractDetailsEnd", (7,))
    c = details.contract
    assert (c.conId, c.symbol, c.secType, c.exchange, c.currency) == (
        inst.con_id,
        inst.symbol,
        inst.sec_type,
        inst.exchange,
        inst.currency,
    )
    assert (c.tradingClass, details.marketName, details.minTick) == (
        inst.trading_class,
        inst.market_name,
        inst.min_tick,
    )
    assert (details.longName, details.validExchanges) == (inst.long_name, inst.valid_exchanges)
    # a protobuf map: the order is not kept
    assert sorted((t.tag, t.value) for t in details.secIdList or []) == sorted(inst.sec_ids)
    if version >= 126:
        assert details.marketRuleIds == inst.market_rule_ids
    if inst.bond is None:
        assert (c.localSymbol, c.lastTradeDateOrContractMonth) == (inst.local_symbol, inst.expiry)
        assert details.timeZoneId == inst.time_zone
        return
    b = inst.bond
    assert (details.cusip, details.coupon, details.maturity, details.issueDate) == (
        b.cusip,
        b.coupon,
        b.maturity,
        b.issue_date,
    )
    assert (details.ratings, details.bondType, details.couponType, details.descAppend) == (
        b.ratings,
        b.bond_type,
        b.coupon_type,
        b.desc_append,
    )
    # the time zone travels in text from 188 (BOND_TRADING_HOURS), always in protobuf
    bond_hours = version >= 188 or is_proto(w.contract_data(7, inst, "20261124"), version)
    assert details.timeZoneId == (inst.time_zone if bond_hours else "")


@pytest.mark.parametrize("version", VERSIONS)
def test_option_chain_and_symbols(version: int) -> None:
    w = Writer(version)
    aapl = BY_TYPE["STK"]
    assert aapl.symbol == "AAPL"
    chain = option_chain(aapl)
    data = b"".join(w.sec_def_opt_parameter(3, e, aapl.con_id, *rest) for e, *rest in chain)
    calls = decode(data + w.sec_def_opt_parameter_end(3), version)
    assert calls[-1] == ("securityDefinitionOptionParameterEnd", (3,))
    assert [c[1][:5] for c in calls[:-1]] == [(3, e, 265598, "AAPL", "100") for e, *_ in chain]
    assert {frozenset(c[1][5]) for c in calls[:-1]} == {frozenset(chain[0][3])}
    assert {frozenset(c[1][6]) for c in calls[:-1]} == {frozenset(chain[0][4])}

    samples = _samples()
    [(name, (req_id, descriptions))] = decode(w.symbol_samples(4, samples), version)
    assert (name, req_id) == ("symbolSamples", 4)
    got = [
        (d.contract.conId, d.contract.symbol, d.contract.secType, d.contract.primaryExchange)
        for d in descriptions
    ]
    assert got == [(s.con_id, s.symbol, s.sec_type, s.primary_exchange) for s in samples]
    assert [d.derivativeSecTypes for d in descriptions] == [list(s.derivatives) for s in samples]
    if version >= 176:
        assert [d.contract.description for d in descriptions] == [s.description for s in samples]


@pytest.mark.parametrize("version", VERSIONS)
def test_rules_codes_tiers_and_user_info(version: int) -> None:
    w = Writer(version)
    for rule_id, increments in MARKET_RULES.items():
        [(name, (got_id, got))] = decode(w.market_rule(rule_id, increments), version)
        assert (name, got_id) == ("marketRule", rule_id)
        assert [(p.lowEdge, p.increment) for p in got] == list(increments)
    [(name, (codes,))] = decode(w.family_codes([("DU1", "F1"), ("DU2", "")]), version)
    assert [(c.accountID, c.familyCodeStr) for c in codes] == [("DU1", "F1"), ("DU2", "")]
    tiers = [("Tier1", "0.0025", "Tier 1"), ("Tier2", "0.005", "Tier 2")]
    [(name, (req_id, got_tiers))] = decode(w.soft_dollar_tiers(5, tiers), version)
    assert (name, req_id) == ("softDollarTiers", 5)
    assert [(t.name, t.val, t.displayName) for t in got_tiers] == tiers
    if 107 not in Decoder(None, version).msgId2handleInfo:  # ibapi 9.81: no user info
        assert not hasattr(EClient, "reqUserInfo")
        return
    assert decode(w.user_info(6, "brand"), version) == [("userInfo", (6, "brand"))]


@pytest.mark.parametrize("version", VERSIONS)
def test_fundamental_data(version: int) -> None:
    if 51 not in Decoder(None, version).msgId2handleInfo:  # ibapi 10.50 dropped both
        assert not hasattr(EClient, "reqFundamentalData")
        return
    xml = '<?xml version="1.0"?>\n<ReportSnapshot>x</ReportSnapshot>\n'
    assert decode(Writer(version).fundamental_data(8, xml), version) == [
        ("fundamentalData", (8, xml))
    ]
