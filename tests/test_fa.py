"""Financial Advisor configuration end to end: requestFA, replaceFA, a non-FA login."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import anyio
import pytest

import ib_anyio
from ib_anyio import items, sim
from ib_anyio.sim._server import max_version
from tests.doc_examples import examples, run_example, same_lines

VERSIONS = [176, 213, max_version()]
GROUPS, PROFILES, ALIASES = 1, 2, 3


@pytest.fixture(params=VERSIONS)
async def fa_server(request: pytest.FixtureRequest) -> AsyncIterator[sim.SimServer]:
    async with sim.serve(port=0, server_version=request.param, tick_interval=0.001, fa=True) as s:
        yield s


@pytest.fixture(params=[176, max_version()])
async def plain_server(request: pytest.FixtureRequest) -> AsyncIterator[sim.SimServer]:
    async with sim.serve(port=0, server_version=request.param, tick_interval=0.001) as s:
        yield s


def _connect(server: sim.SimServer) -> ib_anyio.connect:  # type: ignore[valid-type]
    return ib_anyio.connect(server.host, server.port, client_id=1, timeout=5)


async def test_an_advisor_manages_its_f_account_and_clients(fa_server: sim.SimServer) -> None:
    async with _connect(fa_server) as client:
        with anyio.fail_after(5):
            accounts = await client.req_managed_accts()
    assert isinstance(accounts, items.ManagedAccounts)
    assert accounts.accounts_list.split(",") == ["DF1234560", "DU1234567", "DU1234568", "DU1234569"]


async def test_groups_and_aliases(fa_server: sim.SimServer) -> None:
    async with _connect(fa_server) as client:
        with anyio.fail_after(5):
            groups = await client.request_fa(GROUPS)
            aliases = await client.request_fa(ALIASES)
    assert isinstance(groups, items.ReceiveFA)
    assert groups.fa_data == GROUPS
    root = ET.fromstring(groups.cxml)
    assert root.tag == "ListOfGroups"
    assert [g.findtext("name") for g in root] == ["Everyone", "Growth"]
    everyone = root[0].findall("./ListOfAccts/Account/acct")
    assert [a.text for a in everyone] == ["DU1234567", "DU1234568", "DU1234569"]
    assert aliases.fa_data == ALIASES
    alias_root = ET.fromstring(aliases.cxml)
    assert alias_root.tag == "ListOfAccountAliases"
    assert alias_root[0].findtext("account") == "DF1234560"
    sent = [m.fields for m in fa_server.received if m.name == "requestFA"]
    assert sent == [{"faData": GROUPS}, {"faData": ALIASES}]


async def test_replace_groups_then_read_them_back(fa_server: sim.SimServer) -> None:
    # one line: ibapi 9.81 refuses control characters in text fields (579)
    new = (
        '<?xml version="1.0" encoding="UTF-8"?><ListOfGroups><Group><name>Solo</name>'
        '<defaultMethod>Equal</defaultMethod><ListOfAccts varName="list"><Account>'
        "<acct>DU1234568</acct><amount>0.0</amount></Account></ListOfAccts></Group>"
        "</ListOfGroups>"
    )
    async with _connect(fa_server) as client:
        with anyio.fail_after(5):
            end = await client.replace_fa(GROUPS, new)
            again = await client.request_fa(GROUPS)
    assert isinstance(end, items.ReplaceFAEnd)
    assert end.text == "Groups replaced"
    assert again.cxml == new
    (sent,) = [m.fields for m in fa_server.received if m.name == "replaceFA"]
    assert sent["faData"] == GROUPS
    assert sent["cxml"] == new
    assert isinstance(sent["reqId"], int)


async def test_replace_with_bad_xml_is_refused(fa_server: sim.SimServer) -> None:
    async with _connect(fa_server) as client:
        with anyio.fail_after(5), pytest.raises(ib_anyio.TWSError) as info:
            await client.replace_fa(GROUPS, "<ListOfGroups><Group>")
        assert info.value.code == 321
        with anyio.fail_after(5):
            still = await client.request_fa(GROUPS)
    assert "Everyone" in still.cxml
    (sent,) = [m.fields for m in fa_server.received if m.name == "replaceFA"]
    assert info.value.req_id == sent["reqId"]


async def test_profiles_are_refused_from_version_177(fa_server: sim.SimServer) -> None:
    async with _connect(fa_server) as client:
        with anyio.fail_after(5):
            if fa_server.server_version >= 177:
                # ibapi refuses it itself (585) on its text path; from 211 TWS does (321)
                with pytest.raises(ib_anyio.TWSError, match="FA Profile is not supported"):
                    await client.request_fa(PROFILES)
                sent = [m for m in fa_server.received if m.name == "requestFA"]
                assert len(sent) == (1 if fa_server.server_version >= 211 else 0)
            else:
                profiles = await client.request_fa(PROFILES)
                assert ET.fromstring(profiles.cxml).tag == "ListOfAllocationProfiles"


async def test_a_non_fa_login_gets_error_321(plain_server: sim.SimServer) -> None:
    text = (
        "Error validating request.-'bb' : cause - FA data operations ignored for non FA customers."
    )
    async with _connect(plain_server) as client:
        with anyio.fail_after(5):
            accounts = await client.req_managed_accts()
            assert accounts.accounts_list == "DU1234567"
            with pytest.raises(ib_anyio.TWSError) as info:
                await client.request_fa(GROUPS)
            assert (info.value.req_id, info.value.code, info.value.message) == (-1, 321, text)
            with pytest.raises(ib_anyio.TWSError) as replaced:
                await client.replace_fa(GROUPS, "<ListOfGroups/>")
    (sent,) = [m.fields for m in plain_server.received if m.name == "replaceFA"]
    assert (replaced.value.req_id, replaced.value.code) == (sent["reqId"], 321)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize(
    ("code", "expected"),
    [(code, expected) for _, code, expected in examples("fa.md")],
    ids=[f"example{index}" for index, _, _ in examples("fa.md")],
)
def test_fa_doc_examples(backend: str, code: str, expected: list[str]) -> None:
    assert expected
    assert same_lines(run_example("fa.md", code, backend), expected)
