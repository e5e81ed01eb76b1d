"""TWS display groups (the coloured window-linking groups): query, subscribe, update.

What TWS does and the simulator copies:

* TWS has seven display groups; ``queryDisplayGroups(reqId)`` is answered with one
  ``displayGroupList(reqId, "1|2|3|4|5|6|7")``.
* ``subscribeToGroupEvents(reqId, groupId)`` is answered at once with the group's
  current contract, ``displayGroupUpdated(reqId, contractInfo)``, and again each time
  the group's contract changes, until ``unsubscribeFromGroupEvents(reqId)``.
  ``contractInfo`` is ``"conId@exchange"``, or ``"none"`` for an empty group.
* ``updateDisplayGroup(reqId, contractInfo)`` (``reqId`` of a subscription) sets the
  subscribed group's contract; every subscription to that group, on every
  connection, gets ``displayGroupUpdated``. It has no answer of its own.
* A group id TWS does not have, or an update for an id that has no subscription,
  gets error 321 with the request's id.

Layouts (``decoder.py``): both answers are decoded from the wrapper's signature
(``version, reqId, text``), and travel as protobuf (``DisplayGroupList``,
``DisplayGroupUpdated``) from 213 (``PROTOBUF_REST_MESSAGES_3``), the version from
which ibapi sends the four requests as protobuf.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Any

import attrs

from ib_anyio.sim._decode import Fields, _Text, _text_args, int_field
from ib_anyio.sim._encode import pb
from ib_anyio.sim._families import Family
from ib_anyio.sim._protocol import Version, proto_message, text_message
from ib_anyio.sim._universe import UNIVERSE

if TYPE_CHECKING:
    from ib_anyio.sim._server import _Connection

__all__ = ["EMPTY", "FAMILY", "GROUP_IDS"]

QUERY_DISPLAY_GROUPS = 67
SUBSCRIBE_TO_GROUP_EVENTS = 68
UPDATE_DISPLAY_GROUP = 69
UNSUBSCRIBE_FROM_GROUP_EVENTS = 70
DISPLAY_GROUP_LIST = 67
DISPLAY_GROUP_UPDATED = 68
_VERSION = 1

GROUP_IDS = (1, 2, 3, 4, 5, 6, 7)
EMPTY = "none"
BAD_GROUP_CODE = 321


@attrs.define
class Groups:
    """The display groups of one TWS: each group's contract and its subscribers."""

    contracts: dict[int, str]
    # (connection, request id) -> group id
    subscribers: dict[tuple[_Connection, int], int] = attrs.field(factory=dict)


def _initial() -> Groups:
    """Group 1 shows the first stock of the universe, group 2 the first future; the
    others are empty."""
    first = {inst.sec_type: inst for inst in reversed(UNIVERSE)}
    contracts = dict.fromkeys(GROUP_IDS, EMPTY)
    for group, sec_type in ((1, "STK"), (2, "FUT")):
        inst = first.get(sec_type)
        if inst is not None:
            contracts[group] = f"{inst.con_id}@{inst.exchange}"
    return Groups(contracts)


def groups(conn: _Connection) -> Groups:
    state: Groups = conn.server.state.setdefault("display_groups", _initial())
    return state


def _message(version: int, msg_id: int, pb_name: str, field: str, req_id: int, text: str) -> bytes:
    if version >= Version.PROTOBUF_REST_MESSAGES_3:
        message = pb(pb_name)(reqId=req_id, **{field: text})
        return proto_message(msg_id, message.SerializeToString())
    return text_message(msg_id, (_VERSION, req_id, text), version)


def display_group_list(version: int, req_id: int, groups: str) -> bytes:
    return _message(version, DISPLAY_GROUP_LIST, "DisplayGroupList", "groups", req_id, groups)


def display_group_updated(version: int, req_id: int, contract_info: str) -> bytes:
    return _message(
        version,
        DISPLAY_GROUP_UPDATED,
        "DisplayGroupUpdated",
        "contractInfo",
        req_id,
        contract_info,
    )


async def query_display_groups(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    text = "|".join(str(g) for g in GROUP_IDS)
    await conn.send(display_group_list(conn.version, req_id, text))


async def subscribe(conn: _Connection, fields: Fields) -> None:
    req_id, group = int_field(fields, "reqId"), int_field(fields, "groupId")
    state = groups(conn)
    if group not in state.contracts:
        await conn.send(conn._error(req_id, BAD_GROUP_CODE, f"Invalid display group id: {group}"))
        return
    state.subscribers[(conn, req_id)] = group
    await conn.send(display_group_updated(conn.version, req_id, state.contracts[group]))


async def update(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    info = str(fields.get("contractInfo", ""))
    state = groups(conn)
    group = state.subscribers.get((conn, req_id))
    if group is None:
        await conn.send(
            conn._error(req_id, BAD_GROUP_CODE, f"No display group subscription with id {req_id}")
        )
        return
    state.contracts[group] = info or EMPTY
    for (other, other_id), other_group in list(state.subscribers.items()):
        if other_group != group:
            continue
        if other.closed.is_set():
            del state.subscribers[(other, other_id)]
            continue
        with suppress(Exception):  # a connection going away hears nothing more
            await other.send(display_group_updated(other.version, other_id, state.contracts[group]))


async def unsubscribe(conn: _Connection, fields: Fields) -> None:
    groups(conn).subscribers.pop((conn, int_field(fields, "reqId")), None)


def _proto_id(p: Any) -> Fields:
    return {"reqId": p.reqId}


_INT = ("reqId", _Text.integer)

FAMILY = Family(
    name="display groups",
    text={
        QUERY_DISPLAY_GROUPS: _text_args(_INT),
        SUBSCRIBE_TO_GROUP_EVENTS: _text_args(_INT, ("groupId", _Text.integer)),
        UPDATE_DISPLAY_GROUP: _text_args(_INT, ("contractInfo", _Text.text)),
        UNSUBSCRIBE_FROM_GROUP_EVENTS: _text_args(_INT),
    },
    proto={
        QUERY_DISPLAY_GROUPS: ("QueryDisplayGroupsRequest", _proto_id),
        SUBSCRIBE_TO_GROUP_EVENTS: (
            "SubscribeToGroupEventsRequest",
            lambda p: {"reqId": p.reqId, "groupId": p.groupId},
        ),
        UPDATE_DISPLAY_GROUP: (
            "UpdateDisplayGroupRequest",
            lambda p: {"reqId": p.reqId, "contractInfo": p.contractInfo},
        ),
        UNSUBSCRIBE_FROM_GROUP_EVENTS: ("UnsubscribeFromGroupEventsRequest", _proto_id),
    },
    handlers={
        QUERY_DISPLAY_GROUPS: query_display_groups,
        SUBSCRIBE_TO_GROUP_EVENTS: subscribe,
        UPDATE_DISPLAY_GROUP: update,
        UNSUBSCRIBE_FROM_GROUP_EVENTS: unsubscribe,
    },
)
