"""The request coverage table's logic (tools/request_coverage): rows, reasons, problems."""

from __future__ import annotations

import pytest

from tools.request_coverage.table import (
    Observed,
    ReasonsError,
    Request,
    build,
    observed_from_json,
    parse_reasons,
    render_markdown,
)

SRC = "reasons.toml"


def request(name: str, msg_id: int, **kwargs: object) -> Request:
    fields: dict[str, object] = {
        "exposed": name.lower(),
        "plumbing": None,
        "handler": True,
        "silent": False,
    }
    fields.update(kwargs)
    return Request(name=name, msg_id=msg_id, **fields)  # type: ignore[arg-type]


BOTH = Observed(text=(176,), protobuf=(213, 226))


def test_a_request_exposed_simulated_and_tested_both_ways_is_covered() -> None:
    table = build("10.51.1", [request("reqA", 1)], {"reqA": BOTH}, {})
    (row,) = table.rows
    assert row.covered
    assert not row.explained
    assert table.problems == ()
    assert table.totals() == {
        "requests": 1,
        "exposed": 1,
        "simulated": 1,
        "text": 1,
        "protobuf": 1,
        "covered": 1,
        "explained": 0,
        "unexplained": 0,
    }


def test_a_gap_without_a_reason_is_a_problem_naming_every_missing_column() -> None:
    table = build(
        "10.51.1", [request("reqA", 1, handler=False)], {"reqA": Observed(text=(176,))}, {}
    )
    assert table.problems == (
        "reqA: not simulated, not tested end to end at a protobuf version,"
        " and no reason in reasons.toml",
    )
    assert table.totals()["unexplained"] == 1


def test_reasons_explain_gaps_by_column_or_all() -> None:
    requests = [request("reqA", 1, handler=False), request("reqB", 2)]
    reasons = {"reqA": {"all": "not built"}, "reqB": {"text": "protobuf only"}}
    table = build("10.51.1", requests, {"reqB": Observed(protobuf=(226,))}, reasons)
    assert table.problems == ()
    row_a, row_b = table.rows
    assert row_a.explained
    assert row_a.why == {"simulated": "not built", "text": "not built", "protobuf": "not built"}
    assert row_b.why == {"text": "protobuf only"}
    assert table.totals()["explained"] == 2


def test_a_reason_for_a_column_that_holds_is_stale() -> None:
    reasons = {"reqA": {"text": "not yet"}, "reqB": {"all": "not yet"}}
    table = build(
        "10.51.1",
        [request("reqA", 1), request("reqB", 2)],
        {"reqA": BOTH, "reqB": BOTH},
        reasons,
        reasons_source=SRC,
    )
    assert table.problems == (
        "reasons.toml: [reqA] text: stale, it holds now: remove the reason",
        "reasons.toml: [reqB] all: stale, it is covered now: remove the reason",
    )


def test_a_reason_for_a_request_ibapi_lacks_is_a_problem() -> None:
    table = build("10.51.1", [request("reqA", 1)], {"reqA": BOTH}, {"reqGone": {"all": "x"}})
    assert table.problems == ("reasons.toml: [reqGone] is not a request of ibapi 10.51.1",)


def test_the_definitions_plumbing_reason_explains_not_exposed() -> None:
    start = request("startApi", 71, exposed=None, plumbing="part of the handshake")
    table = build("10.51.1", [start], {"startApi": BOTH}, {})
    assert table.problems == ()
    assert table.rows[0].why == {"exposed": "part of the handshake"}


def test_a_silent_request_counts_as_simulated() -> None:
    cancel = request("cancelA", 2, exposed="cancel of req_a", handler=False, silent=True)
    table = build("10.51.1", [cancel], {"cancelA": BOTH}, {})
    assert table.rows[0].covered
    assert "| ✓ silent |" in render_markdown(table)


def test_observations_count_only_answered_requests_from_ib_anyio() -> None:
    def entry(client: str, outcome: str, version: int, protobuf: bool) -> dict[str, object]:
        return {
            "request": "reqA",
            "msg_id": 1,
            "version": version,
            "protobuf": protobuf,
            "client": client,
            "outcome": outcome,
            "count": 1,
            "tests": [],
        }

    data = {
        "ibapi": "10.51.1",
        "observations": [
            entry("ib_anyio", "answered", 226, True),
            entry("ib_anyio", "answered", 213, True),
            entry("ib_anyio", "not supported", 176, False),
            entry("ib_anyio", "ignored", 200, False),
            entry("ib_anyio", "undecoded", 190, False),
            entry("ibapi", "answered", 176, False),
        ],
    }
    assert observed_from_json(data) == {
        "reqA": Observed(text=(), protobuf=(213, 226), eclient_text=(176,))
    }


def test_markdown_lists_each_request_with_its_reasons_and_the_problems() -> None:
    requests = [
        request("reqA", 1),
        request("reqB", 2, handler=False),
        request("reqC", 3, exposed=None),
    ]
    observed = {"reqA": BOTH, "reqB": Observed(eclient_text=(100, 124, 157, 176))}
    table = build("10.51.1", requests, observed, {"reqB": {"all": "not yet"}})
    lines = render_markdown(table).splitlines()
    assert lines[0] == "# Request coverage: ibapi 10.51.1"
    assert lines[4] == (
        "3 requests: 2 exposed, 2 simulated, 1 tested at a text version, 1 at a protobuf"
        " version; 1 covered, 1 explained, 1 unexplained."
    )
    assert "| `reqA` | 1 | ✓ `reqa` | ✓ | ✓ 176 | ✓ 213, 226 |  |" in lines
    assert (
        "| `reqB` | 2 | ✓ `reqb` | ✗ | ✗ (EClient only: 100…176 (4)) | ✗ |"
        " simulated/text/protobuf: not yet |"
    ) in lines
    assert ("| `reqC` | 3 | ✗ | ✓ | ✗ | ✗ | **unexplained**: exposed, text, protobuf |") in lines
    assert lines[-1] == (
        "- reqC: not exposed by the client, not tested end to end at a text version,"
        " not tested end to end at a protobuf version, and no reason in reasons.toml"
    )


def test_reasons_are_checked() -> None:
    assert parse_reasons({"reqA": {"text": " protobuf only "}}, SRC) == {
        "reqA": {"text": "protobuf only"}
    }
    with pytest.raises(ReasonsError, match=r"^reasons.toml: \[reqA\] txt: not a column"):
        parse_reasons({"reqA": {"txt": "x"}}, SRC)
    with pytest.raises(ReasonsError, match=r"^reasons.toml: \[reqA\] all: the reason must"):
        parse_reasons({"reqA": {"all": ""}}, SRC)
    with pytest.raises(ReasonsError, match=r"^reasons.toml: \[reqA\] must be a table"):
        parse_reasons({"reqA": "x"}, SRC)


def test_the_reasons_file_parses() -> None:
    from tools.request_coverage.cli import DEFAULT_REASONS, load_reasons

    reasons = load_reasons(DEFAULT_REASONS)
    assert "verifyRequest" in reasons
