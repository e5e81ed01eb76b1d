"""Financial Advisor configuration: ``requestFA`` and ``replaceFA``.

What TWS does and the simulator copies:

* An advisor login (``serve(fa=True)``) holds its configuration as XML documents,
  one per FA data type: 1 groups, 3 account aliases (and 2 allocation profiles,
  which TWS stopped supporting from server version 177, ``FA_PROFILE_DESUPPORT``:
  ibapi refuses ``faData=2`` itself there, on its text path only; from 211 the
  request reaches TWS, which answers error 321 with id -1; below 177 the simulator
  still answers).
* ``requestFA(faData)`` is answered with ``receiveFA(faData, xml)``; it carries no
  request id. ``replaceFA(reqId, faData, xml)`` (the id from version 157,
  ``REPLACE_FA_END``) replaces the document and is answered with
  ``replaceFAEnd(reqId, text)``; a document that is not well-formed XML of the
  type's root element gets error 321 with the request's id and changes nothing.
* A login that is not an advisor's gets error 321 ("... FA data operations
  ignored for non FA customers."), with id -1 for ``requestFA`` (it has none)
  and the request's id for ``replaceFA``.

Layouts (``decoder.py``): ``receiveFA`` is decoded from the wrapper's signature
(``version, faDataType, xml``); ``replaceFAEnd`` is ``reqId, text``. Both travel
as protobuf (``ReceiveFA``, ``ReplaceFAEnd``) from 211
(``PROTOBUF_REST_MESSAGES_1``), the version from which ibapi sends ``requestFA``
and ``replaceFA`` as protobuf (``FARequest``, ``FAReplace``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from ib_anyio.sim._decode import Fields, _Text, int_field
from ib_anyio.sim._encode import pb_message
from ib_anyio.sim._families import Family
from ib_anyio.sim._protocol import Version, text_message

if TYPE_CHECKING:
    from ib_anyio.sim._server import _Connection

__all__ = ["ALIASES", "FAMILY", "GROUPS", "NOT_FA_CODE", "NOT_FA_TEXT", "PROFILES"]

REQ_FA = 18
REPLACE_FA = 19
RECEIVE_FA = 16
REPLACE_FA_END = 103
#: From this version ``replaceFA`` carries a request id and is answered with ``replaceFAEnd``.
REPLACE_FA_END_SINCE = 157
_RECEIVE_FA_VERSION = 1

GROUPS, PROFILES, ALIASES = 1, 2, 3
NOT_FA_CODE = 321
NOT_FA_TEXT = (
    "Error validating request.-'bb' : cause - FA data operations ignored for non FA customers."
)
#: From this version TWS refuses allocation profiles (ibapi checks it too, but only on
#: its text path: from 211 a profile request reaches TWS).
PROFILE_DESUPPORT = 177
PROFILE_TEXT = (
    "Error validating request.-'bb' : cause - "
    "FA Profile is not supported anymore, use FA Group instead"
)
BAD_XML_TEXT = "Error validating request.-'bc' : cause - The FA configuration could not be parsed: "

_ROOTS = {
    GROUPS: "ListOfGroups",
    PROFILES: "ListOfAllocationProfiles",
    ALIASES: "ListOfAccountAliases",
}
_NAMES = {GROUPS: "Groups", PROFILES: "Profiles", ALIASES: "Account aliases"}


def default_documents(accounts: tuple[str, ...]) -> dict[int, str]:
    """An advisor's configuration as TWS sends it: two groups of its client accounts
    (equal split and by net liquidation), a percentage profile and an alias each."""
    clients = accounts[1:]  # the advisor first
    rows = "".join(f"<Account><acct>{a}</acct><amount>0.0</amount></Account>" for a in clients)
    first_two = "".join(
        f"<Account><acct>{a}</acct><amount>0.0</amount></Account>" for a in clients[:2]
    )
    groups = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListOfGroups>'
        f"<Group><name>Everyone</name><defaultMethod>Equal</defaultMethod>"
        f'<ListOfAccts varName="list">{rows}</ListOfAccts></Group>'
        f"<Group><name>Growth</name><defaultMethod>NetLiq</defaultMethod>"
        f'<ListOfAccts varName="list">{first_two}</ListOfAccts></Group>'
        "</ListOfGroups>\n"
    )
    shares = [60.0, 40.0][: len(clients[:2])]
    allocations = "".join(
        f"<Allocation><acct>{a}</acct><amount>{s}</amount></Allocation>"
        for a, s in zip(clients, shares, strict=False)
    )
    profiles = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListOfAllocationProfiles>'
        "<AllocationProfile><name>Balanced</name><type>2</type>"
        f'<ListOfAllocations varName="listOfAllocations">{allocations}</ListOfAllocations>'
        "</AllocationProfile></ListOfAllocationProfiles>\n"
    )
    aliases = "".join(
        f"<AccountAlias><account>{a}</account><alias>{alias}</alias></AccountAlias>"
        for a, alias in zip(
            accounts,
            ["Advisor", *(f"Client {i}" for i in range(1, len(clients) + 1))],
            strict=True,
        )
    )
    return {
        GROUPS: groups,
        PROFILES: profiles,
        ALIASES: (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<ListOfAccountAliases>{aliases}</ListOfAccountAliases>\n"
        ),
    }


def documents(conn: _Connection) -> dict[int, str]:
    """The server's FA configuration (created on first use)."""
    state: dict[int, str] = conn.server.state.setdefault(
        "fa", default_documents(conn.server.accounts)
    )
    return state


def receive_fa(version: int, fa_data: int, xml: str) -> bytes:
    if version >= Version.PROTOBUF_REST_MESSAGES_1:
        return pb_message(RECEIVE_FA, "ReceiveFA", faDataType=fa_data, xml=xml)
    return text_message(RECEIVE_FA, (_RECEIVE_FA_VERSION, fa_data, xml), version)


def replace_fa_end(version: int, req_id: int, text: str) -> bytes:
    if version >= Version.PROTOBUF_REST_MESSAGES_1:
        return pb_message(REPLACE_FA_END, "ReplaceFAEnd", reqId=req_id, text=text)
    return text_message(REPLACE_FA_END, (req_id, text), version)


def _text_request_fa(f: _Text, v: int) -> Fields:
    f.skip()  # version
    return {"faData": f.integer()}


def _text_replace_fa(f: _Text, v: int) -> Fields:
    f.skip()  # version
    fields: Fields = {"faData": f.integer(), "cxml": f.text()}
    if v >= REPLACE_FA_END_SINCE:
        fields["reqId"] = f.integer()
    return fields


def _proto_replace_fa(p: Any) -> Fields:
    return {"reqId": p.reqId, "faData": p.faDataType, "cxml": p.xml}


def _check(fa_data: int, xml: str) -> str | None:
    """Why ``xml`` is no configuration of type ``fa_data``, or ``None``."""
    try:
        root = ET.fromstring(xml.encode())
    except ET.ParseError as exc:
        return str(exc)
    if root.tag != _ROOTS[fa_data]:
        return f"expected <{_ROOTS[fa_data]}>, got <{root.tag}>"
    return None


async def request_fa(conn: _Connection, fields: Fields) -> None:
    fa_data = int_field(fields, "faData")
    if not conn.server.fa:
        await conn.send(conn._error(-1, NOT_FA_CODE, NOT_FA_TEXT))
        return
    if fa_data not in _ROOTS:
        await conn.send(conn._error(-1, NOT_FA_CODE, f"{BAD_XML_TEXT}bad FA data type {fa_data}"))
        return
    if fa_data == PROFILES and conn.version >= PROFILE_DESUPPORT:
        await conn.send(conn._error(-1, NOT_FA_CODE, PROFILE_TEXT))
        return
    await conn.send(receive_fa(conn.version, fa_data, documents(conn)[fa_data]))


async def replace_fa(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId") if "reqId" in fields else -1
    fa_data = int_field(fields, "faData")
    xml = str(fields.get("cxml", ""))
    if not conn.server.fa:
        await conn.send(conn._error(req_id, NOT_FA_CODE, NOT_FA_TEXT))
        return
    if fa_data == PROFILES and conn.version >= PROFILE_DESUPPORT:
        await conn.send(conn._error(req_id, NOT_FA_CODE, PROFILE_TEXT))
        return
    problem = _check(fa_data, xml) if fa_data in _ROOTS else f"bad FA data type {fa_data}"
    if problem is not None:
        await conn.send(conn._error(req_id, NOT_FA_CODE, BAD_XML_TEXT + problem))
        return
    documents(conn)[fa_data] = xml
    if conn.version >= REPLACE_FA_END_SINCE:
        await conn.send(replace_fa_end(conn.version, req_id, f"{_NAMES[fa_data]} replaced"))


FAMILY = Family(
    name="Financial Advisor",
    text={REQ_FA: _text_request_fa, REPLACE_FA: _text_replace_fa},
    proto={
        REQ_FA: ("FARequest", lambda p: {"faData": p.faDataType}),
        REPLACE_FA: ("FAReplace", _proto_replace_fa),
    },
    handlers={REQ_FA: request_fa, REPLACE_FA: replace_fa},
)
