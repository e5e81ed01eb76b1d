"""Reference data: contract details, option chains, symbol search, market rules and the
account's reference lists.

Requests served: ``reqContractDetails`` (every security type of the universe; bonds get
``bondContractDetails``), ``reqSecDefOptParams``, ``reqMatchingSymbols``,
``reqMarketRule``, ``reqFamilyCodes``, ``reqSoftDollarTiers``, ``reqUserInfo`` and, for
the ibapi releases that still send it (up to 10.45), ``reqFundamentalData``.

What TWS does and the simulator copies (layouts from ibapi's ``decoder.py``, 9.81 to
10.51):

* ``reqContractDetails`` answers every instrument the description matches (a symbol and
  security type alone give the whole option chain or every future expiry), then
  ``contractDetailsEnd``; nothing matches: error 200 "No security definition has been
  found for the request". Text ``contractData`` has no version field from 164
  (``SIZE_RULES``); ``mdSizeMultiplier`` from 110 until 164, ``sizeMinTick`` at 163
  only, ``minSize/sizeIncrement/suggestedSizeIncrement`` from 164, ``lastTradeDate``
  from 182, ineligibility reasons from 186, plus aggGroup (121), underlying (122),
  market rules (126), real expiration date (134) and stock type (152). A bond's
  text ``bondContractData`` (message 18) has its own layout (:func:`_bond_fields`):
  version 6 below 164, the CUSIP, the coupon (ibapi 9.81 reads it as an int: the
  simulator's bond has a whole coupon, written without decimals), the maturity in the
  last-trade-date position, issue date, ratings, bond and coupon type, the
  convertible/callable/putable flags, the description, then the contract fields, the
  next-option fields and notes, the time zone and trading hours from 188
  (``BOND_TRADING_HOURS``), and the aggregation group, market rules and size rules as
  ``contractData``.
* ``reqSecDefOptParams``: one ``securityDefinitionOptionParameter`` per exchange the
  underlying's options trade on (``reqId, exchange, underlyingConId, tradingClass,
  multiplier``, the counted expirations, the counted strikes), then
  ``securityDefinitionOptionParameterEnd``. An underlying without options gets only the
  End; an unknown underlying error 200.
* ``reqMatchingSymbols``: one ``symbolSamples`` with up to 16 descriptions (``conId,
  symbol, secType, primaryExchange, currency``, the counted derivative security types,
  and from 176 ``description`` and ``issuerId``); no match: an empty list.
* ``reqMarketRule``: ``marketRule`` (``marketRuleId``, the counted ``lowEdge,
  increment`` pairs); an id the universe does not use gets an empty list.
* ``familyCodes`` (``accountID, familyCodeStr`` pairs), ``softDollarTiers`` (``name,
  val, displayName``) and ``userInfo`` (``whiteBrandingId``) carry no version field.
  The simulated individual account has no family code, no soft dollar tier and no white
  branding: empty values, as TWS sends them for such an account.
* ``reqFundamentalData`` (removed from ibapi 10.50): ``fundamentalData`` (version, id,
  the XML document) for a stock and a report type TWS knows; anything else error 430.

Protobuf thresholds (checked against ibapi 10.37.2, 10.45.1, 10.50.2, 10.51.1, whose
``msgId2handleInfoProtoBuf`` list every message here but the fundamental data, which
only 10.45 lists): contract data, bond contract data and the End from 205
(``PROTOBUF_CONTRACT_DATA``, the version ibapi sends ``reqContractDetails`` as protobuf
from); fundamental data from 210 (``PROTOBUF_SCAN_DATA``: ibapi 10.45 sends
``reqFundamentalData`` as protobuf from there); the rest from 212
(``PROTOBUF_REST_MESSAGES_2``, the group of ``reqSecDefOptParams``,
``reqSoftDollarTiers``, ``reqFamilyCodes``, ``reqMatchingSymbols``, ``reqMarketRule``
and ``reqUserInfo``). ibapi 10.37.2 negotiates at most 203, below all of them.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from ib_anyio.sim._decode import (
    _INT,
    Fields,
    Out,
    _proto_args,
    _proto_contract,
    _Text,
    _text_args,
    _text_contract,
    int_field,
)
from ib_anyio.sim._encode import pb, pb_message
from ib_anyio.sim._encode_order import num
from ib_anyio.sim._families import Family
from ib_anyio.sim._protocol import Version, text_message
from ib_anyio.sim._server import ACCOUNT, NO_SECURITY
from ib_anyio.sim._universe import MARKET_RULES, UNIVERSE, Instrument, match

if TYPE_CHECKING:
    from ib_anyio.sim._server import _Connection


class _Out(enum.IntEnum):
    """The requests of this family (``ibapi.message.OUT``) ``_decode.Out`` lacks."""

    REQ_FUNDAMENTAL_DATA = 52
    REQ_SEC_DEF_OPT_PARAMS = 78
    REQ_SOFT_DOLLAR_TIERS = 79
    REQ_FAMILY_CODES = 80
    REQ_MATCHING_SYMBOLS = 81
    REQ_MARKET_RULE = 91
    REQ_USER_INFO = 104


class In(enum.IntEnum):
    """The messages of this family (``ibapi.message.IN``)."""

    CONTRACT_DATA = 10
    BOND_CONTRACT_DATA = 18
    FUNDAMENTAL_DATA = 51
    CONTRACT_DATA_END = 52
    SECURITY_DEFINITION_OPTION_PARAMETER = 75
    SECURITY_DEFINITION_OPTION_PARAMETER_END = 76
    SOFT_DOLLAR_TIERS = 77
    FAMILY_CODES = 78
    SYMBOL_SAMPLES = 79
    MARKET_RULE = 93
    USER_INFO = 107


_BOND_TRADING_HOURS = 188

#: Server version from which each message travels as protobuf (module docstring).
PROTO_SINCE: dict[In, int] = {
    In.CONTRACT_DATA: Version.PROTOBUF_CONTRACT_DATA,
    In.BOND_CONTRACT_DATA: Version.PROTOBUF_CONTRACT_DATA,
    In.CONTRACT_DATA_END: Version.PROTOBUF_CONTRACT_DATA,
    In.FUNDAMENTAL_DATA: Version.PROTOBUF_SCAN_DATA,
    In.SECURITY_DEFINITION_OPTION_PARAMETER: Version.PROTOBUF_REST_MESSAGES_2,
    In.SECURITY_DEFINITION_OPTION_PARAMETER_END: Version.PROTOBUF_REST_MESSAGES_2,
    In.SOFT_DOLLAR_TIERS: Version.PROTOBUF_REST_MESSAGES_2,
    In.FAMILY_CODES: Version.PROTOBUF_REST_MESSAGES_2,
    In.SYMBOL_SAMPLES: Version.PROTOBUF_REST_MESSAGES_2,
    In.MARKET_RULE: Version.PROTOBUF_REST_MESSAGES_2,
    In.USER_INFO: Version.PROTOBUF_REST_MESSAGES_2,
}

#: TWS's answer to fundamental data it does not have for a contract.
NO_FUNDAMENTALS = 430
NO_FUNDAMENTALS_TEXT = "The fundamentals data for the security specified is not available."
#: TWS sends at most this many descriptions in one ``symbolSamples``.
MAX_SYMBOL_SAMPLES = 16
_DERIVATIVES = frozenset({"OPT", "FUT", "FOP", "WAR", "IOPT"})


# -- encoding ----------------------------------------------------------------------


class Writer:
    """This family's messages, encoded for one negotiated version."""

    def __init__(self, version: int) -> None:
        self.version = version

    def _proto(self, msg: In) -> bool:
        return self.version >= PROTO_SINCE[msg]

    def _text(self, msg: In, fields: Iterable[object]) -> bytes:
        return text_message(msg, fields, self.version)

    # contract details

    def contract_data(self, req_id: int, inst: Instrument, trading_day: str) -> bytes:
        """contractData, or bondContractData for a bond, with hours for ``trading_day``."""
        msg = In.BOND_CONTRACT_DATA if inst.bond else In.CONTRACT_DATA
        if self._proto(msg):
            return pb_message(
                msg,
                "ContractData",
                reqId=req_id,
                contract=_instrument_proto(inst),
                contractDetails=_details_proto(inst, trading_day),
            )
        if inst.bond:
            return self._text(msg, _bond_fields(self.version, req_id, inst, trading_day))
        return self._text(msg, _contract_fields(self.version, req_id, inst, trading_day))

    def contract_data_end(self, req_id: int) -> bytes:
        """contractDataEnd for ``req_id``."""
        if self._proto(In.CONTRACT_DATA_END):
            return pb_message(In.CONTRACT_DATA_END, "ContractDataEnd", reqId=req_id)
        return self._text(In.CONTRACT_DATA_END, (1, req_id))

    # option chains, symbols, rules

    def sec_def_opt_parameter(
        self,
        req_id: int,
        exchange: str,
        under_con_id: int,
        trading_class: str,
        multiplier: str,
        expirations: list[str],
        strikes: list[float],
    ) -> bytes:
        """securityDefinitionOptionParameter: one exchange's chain of a trading class."""
        msg = In.SECURITY_DEFINITION_OPTION_PARAMETER
        if self._proto(msg):
            return pb_message(
                msg,
                "SecDefOptParameter",
                reqId=req_id,
                exchange=exchange,
                underlyingConId=under_con_id,
                tradingClass=trading_class,
                multiplier=multiplier,
                expirations=expirations,
                strikes=strikes,
            )
        fields: list[object] = [req_id, exchange, under_con_id, trading_class, multiplier]
        fields += [len(expirations), *expirations, len(strikes), *map(num, strikes)]
        return self._text(msg, fields)

    def sec_def_opt_parameter_end(self, req_id: int) -> bytes:
        """securityDefinitionOptionParameterEnd for ``req_id``."""
        msg = In.SECURITY_DEFINITION_OPTION_PARAMETER_END
        if self._proto(msg):
            return pb_message(msg, "SecDefOptParameterEnd", reqId=req_id)
        return self._text(msg, (req_id,))

    def symbol_samples(self, req_id: int, samples: list[_Sample]) -> bytes:
        """symbolSamples: the contracts whose symbol or name matched."""
        if self._proto(In.SYMBOL_SAMPLES):
            descriptions = [
                pb("ContractDescription")(
                    contract=pb("Contract")(**s.proto_fields()),
                    derivativeSecTypes=s.derivatives,
                )
                for s in samples
            ]
            return pb_message(
                In.SYMBOL_SAMPLES,
                "SymbolSamples",
                reqId=req_id,
                contractDescriptions=descriptions,
            )
        fields: list[object] = [req_id, len(samples)]
        for s in samples:
            fields += [s.con_id, s.symbol, s.sec_type, s.primary_exchange, s.currency]
            fields += [len(s.derivatives), *s.derivatives]
            if self.version >= Version.BOND_ISSUERID:
                fields += [s.description, s.issuer_id]
        return self._text(In.SYMBOL_SAMPLES, fields)

    def market_rule(self, rule_id: int, increments: tuple[tuple[float, float], ...]) -> bytes:
        """marketRule: a rule's price increments."""
        if self._proto(In.MARKET_RULE):
            return pb_message(
                In.MARKET_RULE,
                "MarketRule",
                marketRuleId=rule_id,
                priceIncrements=[
                    pb("PriceIncrement")(lowEdge=low, increment=step) for low, step in increments
                ],
            )
        fields: list[object] = [rule_id, len(increments)]
        for low, step in increments:
            fields += [num(low), num(step)]
        return self._text(In.MARKET_RULE, fields)

    def family_codes(self, codes: list[tuple[str, str]]) -> bytes:
        """familyCodes: ``(account, family code)`` pairs."""
        if self._proto(In.FAMILY_CODES):
            items = [pb("FamilyCode")(accountId=a, familyCode=c) for a, c in codes]
            return pb_message(In.FAMILY_CODES, "FamilyCodes", familyCodes=items)
        return self._text(In.FAMILY_CODES, [len(codes), *(x for pair in codes for x in pair)])

    def soft_dollar_tiers(self, req_id: int, tiers: list[tuple[str, str, str]]) -> bytes:
        """softDollarTiers: ``(name, value, display name)`` triples."""
        if self._proto(In.SOFT_DOLLAR_TIERS):
            items = [pb("SoftDollarTier")(name=n, value=v, displayName=d) for n, v, d in tiers]
            return pb_message(
                In.SOFT_DOLLAR_TIERS, "SoftDollarTiers", reqId=req_id, softDollarTiers=items
            )
        flat = [x for tier in tiers for x in tier]
        return self._text(In.SOFT_DOLLAR_TIERS, [req_id, len(tiers), *flat])

    def user_info(self, req_id: int, white_branding_id: str) -> bytes:
        """userInfo: the user's white branding id."""
        if self._proto(In.USER_INFO):
            return pb_message(
                In.USER_INFO, "UserInfo", reqId=req_id, whiteBrandingId=white_branding_id
            )
        return self._text(In.USER_INFO, (req_id, white_branding_id))

    def fundamental_data(self, req_id: int, data: str) -> bytes:
        """fundamentalData: one report, an XML document."""
        if self._proto(In.FUNDAMENTAL_DATA):
            return pb_message(In.FUNDAMENTAL_DATA, "FundamentalsData", reqId=req_id, data=data)
        return self._text(In.FUNDAMENTAL_DATA, (1, req_id, data))


def _instrument_proto(inst: Instrument) -> Any:
    """The Contract message of an instrument (contract details)."""
    fields: dict[str, Any] = {
        "conId": inst.con_id,
        "symbol": inst.symbol,
        "secType": inst.sec_type,
        "exchange": inst.exchange,
        "currency": inst.currency,
        "localSymbol": inst.local_symbol,
        "tradingClass": inst.trading_class,
    }
    if inst.primary_exchange:
        fields["primaryExch"] = inst.primary_exchange
    # a bond's maturity travels where a derivative's expiry does
    expiry = inst.bond.maturity if inst.bond else inst.expiry
    if expiry:
        fields["lastTradeDateOrContractMonth"] = expiry
    if inst.expiry:
        fields["lastTradeDate"] = inst.expiry
    if inst.strike:
        fields["strike"] = inst.strike
    if inst.right:
        fields["right"] = inst.right
    if inst.multiplier:
        fields["multiplier"] = float(inst.multiplier)
    return pb("Contract")(**fields)


def _details_proto(inst: Instrument, trading_day: str) -> Any:
    """The ContractDetails message of an instrument (bond terms included)."""
    fields: dict[str, Any] = {
        "marketName": inst.market_name,
        "minTick": num(inst.min_tick),
        "orderTypes": inst.order_types,
        "validExchanges": inst.valid_exchanges,
        "priceMagnifier": 1,
        "longName": inst.long_name,
        "timeZoneId": inst.time_zone,
        "tradingHours": inst.hours(trading_day),
        "liquidHours": inst.hours(trading_day),
        "aggGroup": 1,
        "marketRuleIds": inst.market_rule_ids,
        "minSize": "1",
        "sizeIncrement": inst.size_increment,
        "suggestedSizeIncrement": inst.size_increment,
        "secIdList": dict(inst.sec_ids),
    }
    optional = {
        "underConId": inst.under_con_id,
        "contractMonth": inst.contract_month,
        "industry": inst.industry,
        "category": inst.category,
        "subcategory": inst.subcategory,
        "underSymbol": inst.under_symbol,
        "underSecType": inst.under_sec_type,
        "realExpirationDate": inst.expiry,
        "stockType": inst.stock_type,
    }
    if (b := inst.bond) is not None:
        optional.update(
            cusip=b.cusip,
            coupon=b.coupon,
            issueDate=b.issue_date,
            ratings=b.ratings,
            bondType=b.bond_type,
            couponType=b.coupon_type,
            descAppend=b.desc_append,
            callable=b.callable,
            puttable=b.putable,
            convertible=b.convertible,
            nextOptionDate=b.next_option_date,
            nextOptionType=b.next_option_type,
            nextOptionPartial=b.next_option_partial,
            bondNotes=b.notes,
        )
    fields.update({key: value for key, value in optional.items() if value})
    return pb("ContractDetails")(**fields)


def _sec_ids(inst: Instrument) -> list[object]:
    return [len(inst.sec_ids), *(x for pair in inst.sec_ids for x in pair)]


def _contract_fields(v: int, req_id: int, inst: Instrument, trading_day: str) -> list[object]:
    """The text fields of contractData at version ``v``."""
    f: list[object] = []
    if v < Version.SIZE_RULES:
        f.append(8)
    f += [req_id, inst.symbol, inst.sec_type, inst.expiry]
    if v >= Version.LAST_TRADE_DATE:
        f.append(inst.expiry)
    f += [num(inst.strike), inst.right, inst.exchange, inst.currency, inst.local_symbol]
    f += [inst.market_name, inst.trading_class, inst.con_id, num(inst.min_tick)]
    if Version.MD_SIZE_MULTIPLIER <= v < Version.SIZE_RULES:
        f.append(1)
    f += [inst.multiplier, inst.order_types, inst.valid_exchanges, 1, inst.under_con_id]
    f += [inst.long_name, inst.primary_exchange]
    f += [inst.contract_month, inst.industry, inst.category, inst.subcategory]
    f += [inst.time_zone, inst.hours(trading_day), inst.hours(trading_day)]
    f += ["", 0, *_sec_ids(inst)]  # evRule, evMultiplier, secIdList
    if v >= Version.AGG_GROUP:
        f.append(1)
    if v >= Version.UNDERLYING_INFO:
        f += [inst.under_symbol, inst.under_sec_type]
    if v >= Version.MARKET_RULES:
        f.append(inst.market_rule_ids)
    if v >= Version.REAL_EXPIRATION_DATE:
        f.append(inst.expiry)
    if v >= Version.STOCK_TYPE:
        f.append(inst.stock_type)
    if Version.FRACTIONAL_SIZE_SUPPORT <= v < Version.SIZE_RULES:
        f.append(inst.size_increment)
    if v >= Version.SIZE_RULES:
        f += [1, inst.size_increment, inst.size_increment]
    # fund fields (from 179) only follow for secType FUND, which the universe lacks
    if v >= Version.INELIGIBILITY_REASONS:
        f.append(0)
    return f


def _bond_fields(v: int, req_id: int, inst: Instrument, trading_day: str) -> list[object]:
    """The text fields of bondContractData at version ``v`` (message version 6)."""
    b = inst.bond
    assert b is not None
    f: list[object] = []
    if v < Version.SIZE_RULES:
        f.append(6)
    f += [req_id, inst.symbol, inst.sec_type, b.cusip, f"{b.coupon:g}", b.maturity]
    f += [b.issue_date, b.ratings, b.bond_type, b.coupon_type]
    f += [int(b.convertible), int(b.callable), int(b.putable), b.desc_append]
    f += [inst.exchange, inst.currency, inst.market_name, inst.trading_class, inst.con_id]
    f.append(num(inst.min_tick))
    if Version.MD_SIZE_MULTIPLIER <= v < Version.SIZE_RULES:
        f.append(1)
    f += [inst.order_types, inst.valid_exchanges]
    f += [b.next_option_date, b.next_option_type, int(b.next_option_partial), b.notes]
    f.append(inst.long_name)
    if v >= _BOND_TRADING_HOURS:
        f += [inst.time_zone, inst.hours(trading_day), inst.hours(trading_day)]
    f += ["", 0, *_sec_ids(inst)]  # evRule, evMultiplier, secIdList
    if v >= Version.AGG_GROUP:
        f.append(1)
    if v >= Version.MARKET_RULES:
        f.append(inst.market_rule_ids)
    if v >= Version.SIZE_RULES:
        f += [1, inst.size_increment, inst.size_increment]
    return f


# -- the data ----------------------------------------------------------------------


@attrs.frozen
class _Sample:
    """One description of ``symbolSamples``."""

    con_id: int
    symbol: str
    sec_type: str
    primary_exchange: str
    currency: str
    derivatives: tuple[str, ...]
    description: str
    issuer_id: str = ""

    def proto_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "conId": self.con_id,
            "symbol": self.symbol,
            "secType": self.sec_type,
            "primaryExch": self.primary_exchange,
            "currency": self.currency,
            "description": self.description,
        }
        if self.issuer_id:
            fields["issuerId"] = self.issuer_id
        return fields


#: The issuer id TWS gives US Treasuries in symbol searches (the simulator's value).
_TREASURY_ISSUER = "e1351453"


def _samples(universe: tuple[Instrument, ...] = UNIVERSE) -> list[_Sample]:
    """What a symbol search can find: every instrument that is not a derivative, and the
    underlyings of derivatives the universe lists without their underlying (the ES
    index of the ES futures), each with the security types of its derivatives."""
    derived: dict[int, list[str]] = {}
    for inst in universe:
        if inst.sec_type in _DERIVATIVES and inst.under_con_id:
            kinds = derived.setdefault(inst.under_con_id, [])
            if inst.sec_type not in kinds:
                kinds.append(inst.sec_type)
    samples = []
    known = {inst.con_id for inst in universe}
    for inst in universe:
        if inst.sec_type in _DERIVATIVES:
            if inst.under_con_id and inst.under_con_id not in known:
                known.add(inst.under_con_id)
                samples.append(
                    _Sample(
                        inst.under_con_id,
                        inst.under_symbol,
                        inst.under_sec_type,
                        inst.exchange,
                        inst.currency,
                        tuple(derived[inst.under_con_id]),
                        inst.long_name,
                    )
                )
            continue
        samples.append(
            _Sample(
                inst.con_id,
                inst.symbol,
                inst.sec_type,
                inst.primary_exchange or inst.exchange,
                inst.currency,
                tuple(derived.get(inst.con_id, [])),
                inst.bond.desc_append if inst.bond else inst.long_name,
                _TREASURY_ISSUER if inst.bond else "",
            )
        )
    return samples


def matching_symbols(pattern: str) -> list[_Sample]:
    """The descriptions a pattern finds: symbols starting with it first (the exact
    symbol before the others), then names with a word starting with it; at most 16."""
    text = pattern.strip().upper()
    if not text:
        return []
    samples = _samples()
    by_symbol = sorted(
        (s for s in samples if s.symbol.startswith(text)), key=lambda s: s.symbol != text
    )
    by_name = [
        s
        for s in samples
        if s not in by_symbol and any(w.startswith(text) for w in s.description.upper().split())
    ]
    return [*by_symbol, *by_name][:MAX_SYMBOL_SAMPLES]


def option_chain(underlying: Instrument, exchange: str = "") -> list[tuple[Any, ...]]:
    """``(exchange, tradingClass, multiplier, expirations, strikes)`` per exchange and
    trading class of the options on ``underlying`` (restricted to ``exchange`` if set)."""
    options = [i for i in UNIVERSE if i.sec_type == "OPT" and i.under_con_id == underlying.con_id]
    classes: dict[tuple[str, str], list[Instrument]] = {}
    for opt in options:
        classes.setdefault((opt.trading_class, opt.multiplier), []).append(opt)
    chain = []
    for (trading_class, multiplier), members in classes.items():
        expirations = sorted({o.expiry for o in members})
        strikes = sorted({o.strike for o in members})
        exchanges = members[0].valid_exchanges.split(",")
        chain += [
            (name, trading_class, multiplier, expirations, strikes)
            for name in exchanges
            if not exchange or name == exchange.upper()
        ]
    return chain


#: Reports ``reqFundamentalData`` serves, by ``reportType``.
REPORT_TYPES = ("ReportSnapshot", "ReportsFinSummary", "ReportRatios")


def fundamental_report(inst: Instrument, report_type: str) -> str:
    """A small XML document standing for a Reuters report of a stock."""
    price = f"{inst.base_price:.2f}"
    head = f'<?xml version="1.0" encoding="UTF-8"?>\n<{report_type} Major="1" Minor="0">'
    ids = (
        f'<Issues><Issue ID="1" Type="C" Desc="Common Stock" Order="1">'
        f'<IssueID Type="Ticker">{inst.symbol}</IssueID>'
        f'<Exchange Code="{inst.primary_exchange}">{inst.primary_exchange}</Exchange>'
        f"</Issue></Issues>"
    )
    name = f'<CoIDs><CoID Type="CompanyName">{inst.long_name}</CoID></CoIDs>'
    if report_type == "ReportSnapshot":
        body = (
            f"{name}{ids}"
            f"<CoGeneralInfo><Employees>0</Employees>"
            f'<ReportingCurrency Code="{inst.currency}">U.S. Dollars</ReportingCurrency>'
            f"</CoGeneralInfo>"
            f'<Industry type="TRBC">{inst.industry}</Industry>'
        )
    elif report_type == "ReportsFinSummary":
        body = (
            '<EPSs><EPS asofDate="2026-09-30" reportType="A" period="3M">1.85</EPS></EPSs>'
            '<TotalRevenues><TotalRevenue asofDate="2026-09-30" reportType="A" period="3M">'
            "94930000000.0</TotalRevenue></TotalRevenues>"
        )
    else:
        body = (
            f"{name}{ids}"
            f'<Ratios PriceCurrency="{inst.currency}" ReportingCurrency="{inst.currency}">'
            f'<Group ID="Price and Volume"><Ratio FieldName="NPRICE" Type="N">{price}</Ratio>'
            f"</Group></Ratios>"
        )
    return f"{head}{body}</{report_type}>\n"


# -- handlers ----------------------------------------------------------------------


async def req_contract_details(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    contract = fields.get("contract")
    found = match(contract if isinstance(contract, dict) else {})
    if not found:
        await conn.send(conn._error(req_id, 200, NO_SECURITY))
        return
    today = time.strftime("%Y%m%d")
    w = Writer(conn.version)
    await conn.send(
        b"".join(w.contract_data(req_id, inst, today) for inst in found)
        + w.contract_data_end(req_id)
    )


async def req_sec_def_opt_params(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    symbol = str(fields.get("underlyingSymbol", "")).strip().upper()
    sec_type = str(fields.get("underlyingSecType", "")).strip().upper()
    con_id = int_field(fields, "underlyingConId")
    if con_id > 0:
        found = [
            i
            for i in UNIVERSE
            if i.con_id == con_id
            and (not symbol or i.symbol == symbol)
            and (not sec_type or i.sec_type == sec_type)
        ]
    else:
        found = match({"symbol": symbol, "secType": sec_type})
    if len(found) != 1:
        await conn.send(conn._error(req_id, 200, NO_SECURITY))
        return
    w = Writer(conn.version)
    chain = option_chain(found[0], str(fields.get("futFopExchange", "")).strip())
    await conn.send(
        b"".join(w.sec_def_opt_parameter(req_id, e, found[0].con_id, *rest) for e, *rest in chain)
        + w.sec_def_opt_parameter_end(req_id)
    )


async def req_matching_symbols(conn: _Connection, fields: Fields) -> None:
    samples = matching_symbols(str(fields.get("pattern", "")))
    await conn.send(Writer(conn.version).symbol_samples(int_field(fields, "reqId"), samples))


async def req_market_rule(conn: _Connection, fields: Fields) -> None:
    rule_id = int_field(fields, "marketRuleId")
    increments = MARKET_RULES.get(rule_id, ())
    await conn.send(Writer(conn.version).market_rule(rule_id, increments))


async def req_family_codes(conn: _Connection, fields: Fields) -> None:
    await conn.send(Writer(conn.version).family_codes([(ACCOUNT, "")]))


async def req_soft_dollar_tiers(conn: _Connection, fields: Fields) -> None:
    await conn.send(Writer(conn.version).soft_dollar_tiers(int_field(fields, "reqId"), []))


async def req_user_info(conn: _Connection, fields: Fields) -> None:
    await conn.send(Writer(conn.version).user_info(int_field(fields, "reqId"), ""))


async def req_fundamental_data(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    inst = conn._one(req_id, fields.get("contract"))
    if isinstance(inst, bytes):
        await conn.send(inst)
        return
    report_type = str(fields.get("reportType", ""))
    if inst.sec_type != "STK" or report_type not in REPORT_TYPES:
        await conn.send(conn._error(req_id, NO_FUNDAMENTALS, NO_FUNDAMENTALS_TEXT))
        return
    data = fundamental_report(inst, report_type)
    await conn.send(Writer(conn.version).fundamental_data(req_id, data))


# -- request decoders ----------------------------------------------------------------


def _text_contract_data(f: _Text, v: int) -> Fields:
    f.skip()  # version
    req_id = f.integer()
    contract = _text_contract(f)
    contract["includeExpired"] = f.flag()
    contract["secIdType"] = f.text()
    contract["secId"] = f.text()
    if v >= Version.BOND_ISSUERID:
        contract["issuerId"] = f.text()
    return {"reqId": req_id, "contract": contract}


def _text_fundamental_data(f: _Text, v: int) -> Fields:
    f.skip()  # version
    req_id = f.integer()
    contract: Fields = {"conId": f.integer(), "symbol": f.text(), "secType": f.text()}
    contract["exchange"] = f.text()
    contract["primaryExchange"] = f.text()
    contract["currency"] = f.text()
    contract["localSymbol"] = f.text()
    return {"reqId": req_id, "contract": contract, "reportType": f.text()}


def _proto_fundamental_data(p: Any) -> Fields:
    return {
        "reqId": p.reqId,
        "contract": _proto_contract(p.contract),
        "reportType": p.reportType,
    }


_TEXT = _Text.text

FAMILY = Family(
    name="reference data",
    text={
        Out.REQ_CONTRACT_DATA: _text_contract_data,
        _Out.REQ_SEC_DEF_OPT_PARAMS: _text_args(
            _INT,
            ("underlyingSymbol", _TEXT),
            ("futFopExchange", _TEXT),
            ("underlyingSecType", _TEXT),
            ("underlyingConId", _Text.integer),
            version_field=False,
        ),
        _Out.REQ_MATCHING_SYMBOLS: _text_args(_INT, ("pattern", _TEXT), version_field=False),
        _Out.REQ_MARKET_RULE: _text_args(("marketRuleId", _Text.integer), version_field=False),
        _Out.REQ_FAMILY_CODES: _text_args(version_field=False),
        _Out.REQ_SOFT_DOLLAR_TIERS: _text_args(_INT, version_field=False),
        _Out.REQ_USER_INFO: _text_args(_INT, version_field=False),
        _Out.REQ_FUNDAMENTAL_DATA: _text_fundamental_data,
    },
    proto={
        Out.REQ_CONTRACT_DATA: (
            "ContractDataRequest",
            lambda p: {"reqId": p.reqId, "contract": _proto_contract(p.contract)},
        ),
        _Out.REQ_SEC_DEF_OPT_PARAMS: (
            "SecDefOptParamsRequest",
            _proto_args(
                reqId="reqId",
                underlyingSymbol="underlyingSymbol",
                futFopExchange="futFopExchange",
                underlyingSecType="underlyingSecType",
                underlyingConId="underlyingConId",
            ),
        ),
        _Out.REQ_MATCHING_SYMBOLS: (
            "MatchingSymbolsRequest",
            _proto_args(reqId="reqId", pattern="pattern"),
        ),
        _Out.REQ_MARKET_RULE: ("MarketRuleRequest", _proto_args(marketRuleId="marketRuleId")),
        _Out.REQ_FAMILY_CODES: ("FamilyCodesRequest", lambda p: {}),
        _Out.REQ_SOFT_DOLLAR_TIERS: ("SoftDollarTiersRequest", _proto_args(reqId="reqId")),
        _Out.REQ_USER_INFO: ("UserInfoRequest", _proto_args(reqId="reqId")),
        _Out.REQ_FUNDAMENTAL_DATA: ("FundamentalsDataRequest", _proto_fundamental_data),
    },
    handlers={
        Out.REQ_CONTRACT_DATA: req_contract_details,
        _Out.REQ_SEC_DEF_OPT_PARAMS: req_sec_def_opt_params,
        _Out.REQ_MATCHING_SYMBOLS: req_matching_symbols,
        _Out.REQ_MARKET_RULE: req_market_rule,
        _Out.REQ_FAMILY_CODES: req_family_codes,
        _Out.REQ_SOFT_DOLLAR_TIERS: req_soft_dollar_tiers,
        _Out.REQ_USER_INFO: req_user_info,
        _Out.REQ_FUNDAMENTAL_DATA: req_fundamental_data,
    },
)
