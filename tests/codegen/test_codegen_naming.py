"""snake_case / CamelCase mapping of ibapi names."""

import keyword

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tools.codegen.naming import camel_case, constant_case, snake_case

WORDS = ("PnL",)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("reqPnL", "req_pnl"),
        ("reqPnLSingle", "req_pnl_single"),
        ("requestFA", "request_fa"),
        ("reqIds", "req_ids"),
        ("tickByTickAllLast", "tick_by_tick_all_last"),
        ("reqHistoricalData", "req_historical_data"),
        ("reqSecDefOptParams", "req_sec_def_opt_params"),
        ("calculateImpliedVolatility", "calculate_implied_volatility"),
        ("replaceFAEnd", "replace_fa_end"),
        ("updateMktDepthL2", "update_mkt_depth_l2"),
        ("tickEFP", "tick_efp"),
        ("verifyMessageAPI", "verify_message_api"),
        ("ledgerAndNLV", "ledger_and_nlv"),
        ("unrealizedPNL", "unrealized_pnl"),
        ("dailyPnL", "daily_pnl"),
        ("useRTH", "use_rth"),
        ("useRth", "use_rth"),
        ("open_", "open_"),
        ("conId", "con_id"),
        ("conid", "conid"),
        ("reqWshMetaData", "req_wsh_meta_data"),
    ],
)
def test_snake_case_examples(name: str, expected: str) -> None:
    assert snake_case(name, WORDS) == expected


def test_keyword_gets_trailing_underscore() -> None:
    assert snake_case("class") == "class_"
    assert snake_case("from") == "from_"


def test_camel_and_constant_case() -> None:
    assert camel_case("tickPrice") == "TickPrice"
    assert camel_case("contractDetails") == "ContractDetails"
    assert constant_case("reqPnL", WORDS) == "_REQ_PNL"
    assert constant_case("reqMktData") == "_REQ_MKT_DATA"


word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)


@given(word, st.lists(word.filter(lambda w: len(w) > 1), max_size=4))
def test_camel_words_round_trip(first: str, rest: list[str]) -> None:
    """lowerCamel of lower-case words maps back to the words joined by ``_``.

    (Later words have two letters or more: ``aAA`` is an acronym run either way.)
    """
    words = [first, *rest]
    expected = "_".join(words)
    assume(not keyword.iskeyword(expected))
    camel = words[0] + "".join(w.capitalize() for w in words[1:])
    assert snake_case(camel) == expected


@given(st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True))
def test_snake_case_is_identity_on_snake_names(name: str) -> None:
    assume(not keyword.iskeyword(name))
    assert snake_case(name) == name


@given(st.from_regex(r"[a-z][A-Za-z0-9]{0,20}_?", fullmatch=True))
def test_snake_case_gives_lower_identifiers_and_is_idempotent(name: str) -> None:
    result = snake_case(name, WORDS)
    assert result.isidentifier()
    assert result == result.lower()
    assert not keyword.iskeyword(result)
    assert snake_case(result, WORDS) == result
