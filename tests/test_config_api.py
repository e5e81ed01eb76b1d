"""TWS's API configuration end to end (protobuf only): req_config, update_config."""

from __future__ import annotations

import anyio
import pytest
from ibapi.client import EClient

import ib_anyio
from ib_anyio import items, sim
from tests.doc_examples import examples, run_example, same_lines

HAS_CONFIG = hasattr(EClient, "reqConfigProtoBuf")  # ibapi >= 10.45.1
CONFIG_SINCE, UPDATE_CONFIG_SINCE = 219, 221


def _update(**settings: object) -> object:
    from ibapi.protobuf.UpdateConfigRequest_pb2 import UpdateConfigRequest

    update = UpdateConfigRequest()
    for name, value in settings.items():
        setattr(update.api.settings, name, value)
    return update


async def test_req_config(versioned: tuple[ib_anyio.Client, sim.SimServer]) -> None:
    c, server = versioned
    if not HAS_CONFIG:
        with pytest.raises(ib_anyio.UnsupportedRequest, match=r"needs ibapi >= 10\.45\.1"):
            await c.req_config()
        return
    if server.server_version < CONFIG_SINCE:
        with (
            anyio.fail_after(5),
            pytest.raises(ib_anyio.UnsupportedRequest, match=r"does not support config requests"),
        ):
            await c.req_config()
        assert not [m for m in server.received if m.name == "reqConfig"]
        return
    with anyio.fail_after(5):
        answer = await c.req_config()
    assert isinstance(answer, items.ConfigResponseProtoBuf)
    config = answer.config_response_proto
    assert config.api.settings.socketPort == server.port
    assert config.api.settings.readOnlyApi is False
    assert list(config.api.settings.trustedIPs) == ["127.0.0.1"]
    assert config.orders.smartRouting.defaultAlgorithm == "Adaptive"
    assert config.messages[0].title == "Order Precautions"
    (sent,) = [m for m in server.received if m.name == "reqConfig"]
    assert sent.fields == {"reqId": config.reqId}


async def test_update_config_applies_and_echoes(
    versioned: tuple[ib_anyio.Client, sim.SimServer],
) -> None:
    c, server = versioned
    if not HAS_CONFIG:
        with pytest.raises(ib_anyio.UnsupportedRequest):
            await c.update_config(object())  # type: ignore[arg-type]
        return
    if server.server_version < UPDATE_CONFIG_SINCE:
        with anyio.fail_after(5), pytest.raises(ib_anyio.UnsupportedRequest):
            await c.update_config(_update(readOnlyApi=True))  # type: ignore[arg-type]
        return
    with anyio.fail_after(5):
        answer = await c.update_config(_update(readOnlyApi=True, masterClientId=7))  # type: ignore[arg-type]
        after = await c.req_config()
    assert isinstance(answer, items.UpdateConfigResponseProtoBuf)
    response = answer.update_config_response_proto
    assert response.status == "Success"
    assert sorted(response.changedFields) == [
        "api.settings.masterClientId",
        "api.settings.readOnlyApi",
    ]
    settings = after.config_response_proto.api.settings
    assert (settings.readOnlyApi, settings.masterClientId) == (True, 7)
    assert settings.socketPort == server.port  # untouched
    (sent,) = [m for m in server.received if m.name == "updateConfig"]
    assert sent.fields["reqId"] == response.reqId


async def test_update_config_refused(versioned: tuple[ib_anyio.Client, sim.SimServer]) -> None:
    c, server = versioned
    if not HAS_CONFIG or server.server_version < UPDATE_CONFIG_SINCE:
        return
    with anyio.fail_after(5):
        answer = await c.update_config(_update(socketPort=70000))  # type: ignore[arg-type]
        after = await c.req_config()
    response = answer.update_config_response_proto
    assert response.status == "Failed"
    assert list(response.errors) == ["api.settings.socketPort: 70000 is not a port number"]
    assert after.config_response_proto.api.settings.socketPort == server.port


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize(
    ("code", "expected"),
    [(code, expected) for _, code, expected in examples("config.md")],
    ids=[f"example{index}" for index, _, _ in examples("config.md")],
)
def test_config_doc_examples(backend: str, code: str, expected: list[str]) -> None:
    assert expected
    if not HAS_CONFIG:  # no ibapi.protobuf config messages before 10.45.1
        with pytest.raises(ImportError):
            run_example("config.md", code, backend)
        return
    assert same_lines(run_example("config.md", code, backend), expected)
