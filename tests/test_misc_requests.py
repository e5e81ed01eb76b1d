"""The small requests end to end: current time in millis, server log level, ids, accounts."""

from __future__ import annotations

import time

import anyio
import pytest
from ibapi.client import EClient

import ib_anyio
from ib_anyio import items, sim

#: ``MIN_SERVER_VER_CURRENT_TIME_IN_MILLIS``: below it ibapi refuses the request itself.
MILLIS_SINCE = 197


async def test_current_time_in_millis(versioned: tuple[ib_anyio.Client, sim.SimServer]) -> None:
    c, server = versioned
    if not hasattr(EClient, "reqCurrentTimeInMillis"):
        with pytest.raises(ib_anyio.UnsupportedRequest):
            await c.req_current_time_in_millis()
        return
    if server.server_version < MILLIS_SINCE:
        with (
            anyio.fail_after(5),
            pytest.raises(
                ib_anyio.UnsupportedRequest,
                match=r"^server version \d+ lacks it: The TWS is out of date",
            ),
        ):
            await c.req_current_time_in_millis()  # ibapi refuses it: nothing reaches TWS
        assert not [m for m in server.received if m.name == "reqCurrentTimeInMillis"]
        return
    before = int(time.time() * 1000)
    with anyio.fail_after(5):
        now = await c.req_current_time_in_millis()
    assert isinstance(now, items.CurrentTimeInMillis)
    assert before <= now.time_in_millis <= int(time.time() * 1000)
    assert [m.fields for m in server.received if m.name == "reqCurrentTimeInMillis"] == [{}]


async def test_set_server_log_level_is_recorded(
    versioned: tuple[ib_anyio.Client, sim.SimServer],
) -> None:
    c, server = versioned
    c.set_server_log_level(5)
    with anyio.fail_after(5):
        (sent,) = await server.wait_for(lambda m: m.name == "setServerLogLevel")
    assert sent.fields == {"logLevel": 5}
    assert server.state["server_log"] == 5
    # no answer: the next request is answered as usual
    with anyio.fail_after(5):
        assert isinstance(await c.req_current_time(), items.CurrentTime)


async def test_req_ids(versioned: tuple[ib_anyio.Client, sim.SimServer]) -> None:
    c, server = versioned
    with anyio.fail_after(5):
        answer = await c.req_ids(3)
    assert isinstance(answer, items.NextValidId)
    assert answer.order_id >= 1
    assert [m.fields for m in server.received if m.name == "reqIds"] == [{"numIds": 3}]


async def test_req_managed_accts(versioned: tuple[ib_anyio.Client, sim.SimServer]) -> None:
    c, server = versioned
    with anyio.fail_after(5):
        answer = await c.req_managed_accts()
    assert isinstance(answer, items.ManagedAccounts)
    assert answer.accounts_list == "DU1234567"
    assert len([m for m in server.received if m.name == "reqManagedAccts"]) == 1
