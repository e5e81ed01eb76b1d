"""Classification completeness and the generator's errors, against the installed ibapi."""

import dataclasses
import re

import pytest
from ibapi.client import EClient
from ibapi.wrapper import EWrapper

from tools.codegen import definition
from tools.codegen.introspect import ibapi_class_index, installed_version
from tools.codegen.model import GenerationError, build_model, classify

DEFN = definition.load()
FOUND = installed_version(DEFN.distributions)
assert FOUND is not None
VERSION = FOUND[1]


def test_every_public_name_of_the_installed_ibapi_is_classified() -> None:
    result = classify(DEFN, EClient, EWrapper, VERSION)
    assert result.problems == ()
    for owner in ("EClient", "EWrapper"):
        classified, total, _ = result.totals(owner)
        assert classified == total > 0


class ClientWithExtra(EClient):  # type: ignore[misc]
    def reqFoo(self, reqId: int) -> None:
        """A request the definition does not know."""


class WrapperWithExtra(EWrapper):  # type: ignore[misc]
    def fooAnswer(self, reqId: int, value: str) -> None:
        """A callback the definition does not know."""


def test_unclassified_method_is_an_error() -> None:
    result = classify(DEFN, ClientWithExtra, WrapperWithExtra, VERSION)
    assert result.problems == (
        "EClient.reqFoo is not classified in tools/codegen/api.toml",
        "EWrapper.fooAnswer is not classified in tools/codegen/api.toml",
    )
    with pytest.raises(
        GenerationError, match=r"^EClient.reqFoo is not classified in tools/codegen/api.toml\n"
    ):
        build_model(
            DEFN,
            ClientWithExtra,
            WrapperWithExtra,
            version=VERSION,
            class_index=ibapi_class_index(),
        )


class ClientWithProtobufOnly(EClient):  # type: ignore[misc]
    def reqSettingsProtoBuf(self, proto: object) -> None:
        """A protobuf request no classic method sends."""

    def reqAlarms(self, reqId: int) -> None:
        """A classic request sending its protobuf variant."""
        self.reqAlarmsProtoBuf(None)

    def reqAlarmsProtoBuf(self, proto: object) -> None:
        """The protobuf variant of reqAlarms."""


def test_a_protobuf_only_request_is_not_plumbing() -> None:
    result = classify(DEFN, ClientWithProtobufOnly, EWrapper, VERSION)
    rows = {row.name: row for row in result.rows}
    assert rows["reqSettingsProtoBuf"].category == "unclassified"
    assert rows["reqAlarmsProtoBuf"].category == "plumbing"  # the suffix rule
    assert (
        "EClient.reqSettingsProtoBuf is protobuf-only (no classic method sends it):"
        " a request of its own; expose it in tools/codegen/api.toml"
    ) in result.problems


@pytest.mark.skipif(DEFN.generation_version != VERSION, reason="needs the pinned ibapi")
def test_the_config_requests_are_exposed_without_the_suffix() -> None:
    model = build_model(DEFN, EClient, EWrapper, version=VERSION, class_index=ibapi_class_index())
    names = {r.method: r.name for r in model.requests}
    assert names["reqConfigProtoBuf"] == "req_config"
    assert names["updateConfigProtoBuf"] == "update_config"


def test_entry_for_a_missing_method_needs_removed_in() -> None:
    ghost = dataclasses.replace(DEFN.requests["reqCurrentTime"], name="reqGhost")
    defn = dataclasses.replace(DEFN, requests={**DEFN.requests, "reqGhost": ghost})
    result = classify(defn, EClient, EWrapper, VERSION)
    assert result.problems == (
        f"EClient.reqGhost is in tools/codegen/api.toml but not in the installed ibapi {VERSION}"
        " (mark it added_in/removed_in)",
    )
    ghost = dataclasses.replace(ghost, removed_in="10.0.0")
    defn = dataclasses.replace(DEFN, requests={**DEFN.requests, "reqGhost": ghost})
    assert classify(defn, EClient, EWrapper, VERSION).problems == ()


def test_removed_in_on_a_present_method_is_an_error() -> None:
    entry = dataclasses.replace(DEFN.requests["reqCurrentTime"], removed_in="10.0.0")
    defn = dataclasses.replace(DEFN, requests={**DEFN.requests, "reqCurrentTime": entry})
    (problem,) = classify(defn, EClient, EWrapper, VERSION).problems
    assert re.fullmatch(
        r"EClient.reqCurrentTime has removed_in = 10.0.0 in .*, but the installed ibapi .* has it",
        problem,
    )


@pytest.mark.skipif(DEFN.generation_version != VERSION, reason="needs the pinned ibapi")
def test_model_of_the_real_ibapi() -> None:
    model = build_model(DEFN, EClient, EWrapper, version=VERSION, class_index=ibapi_class_index())
    requests = {r.method: r for r in model.requests}
    assert requests["reqPnL"].name == "req_pnl"
    assert requests["requestFA"].name == "request_fa"
    assert requests["reqMktDepth"].cancel_args == ("REQ_ID", "Arg(2)")
    assert requests["reqAccountUpdates"].call_args == ("Const(True)", "Arg(0)")
    assert requests["reqAccountUpdates"].cancel_args == ("Const(False)", "Arg(0)")
    assert requests["reqExecutions"].call_args == ("REQ_ID", "Arg(0)")
    assert "placeOrder" not in requests  # hand-written (ib_anyio._orders)
    assert requests["reqWshMetaData"].added_in == "10.37.2"
    assert requests["reqFundamentalData"].removed_in == "10.50.2"
    assert requests["calculateOptionPrice"].cancel_when_answered
    items = {i.callback: i for i in model.items}
    assert items["contractDetails"].class_name == "ContractDetailsItem"
    assert items["tickPrice"].class_name == "TickPrice"
    assert [f.name for f in items["orderStatus"].fields][:2] == ["order_id", "status"]
    assert [f.name for f in items["tickPrice"].fields] == ["tick_type", "price", "attrib"]
    assert items["historicalTicks"].fields[0].type == "list[HistoricalTick]"
    methods = {m.name: m for m in model.wrapper_methods}
    assert methods["tickSize"].decimal_indexes == (2,)
    assert methods["orderStatus"].route_expr == 'self._routes.get("orders")'
    assert methods["execDetails"].route_expr == "self._routes.get(reqId)"
    assert {"error", "connectAck", "connectionClosed"}.isdisjoint(methods)
    aliases = {a.name: a.members for a in model.aliases}
    assert aliases["ReqContractDetailsResponse"] == ("ContractDetailsItem", "BondContractDetails")


@pytest.mark.skipif(DEFN.generation_version != VERSION, reason="needs the pinned ibapi")
def test_a_kept_end_callback_is_the_last_item_of_a_list() -> None:
    model = build_model(DEFN, EClient, EWrapper, version=VERSION, class_index=ibapi_class_index())
    aliases = {a.name: a.members for a in model.aliases}
    assert aliases["ReqHistoricalNewsResponse"] == ("HistoricalNews", "HistoricalNewsEnd")
    assert aliases["ReqContractDetailsResponse"] == ("ContractDetailsItem", "BondContractDetails")
    methods = {m.name: m for m in model.wrapper_methods}
    assert (methods["historicalNewsEnd"].end, methods["historicalNewsEnd"].keep) == (True, True)
    assert not methods["contractDetailsEnd"].keep


def test_keep_needs_an_end_callback_of_a_one_shot_list() -> None:
    with pytest.raises(definition.DefinitionError, match=r"keep applies to end callbacks only"):
        definition._callback("historicalNews", {"key": "requestId", "keep": True})
    kept = dataclasses.replace(DEFN.callbacks["scannerDataEnd"], keep=True)
    defn = dataclasses.replace(DEFN, callbacks={**DEFN.callbacks, "scannerDataEnd": kept})
    with pytest.raises(GenerationError, match=r"a kept end callback answers one-shot list"):
        build_model(defn, EClient, EWrapper, version=VERSION, class_index=ibapi_class_index())


def test_cancel_when_answered_needs_a_single_one_shot_with_a_cancel() -> None:
    assert DEFN.requests["calculateImpliedVolatility"].cancel_when_answered
    assert not DEFN.requests["reqHeadTimeStamp"].cancel_when_answered
    ok = {"kind": "one_shot", "mode": "single", "answers": ["x"], "cancel": "cancelX"}
    assert definition._request("reqX", {**ok, "cancel_when_answered": True}).cancel_when_answered
    for bad in ({"mode": "list"}, {"cancel": None}):
        data = {k: v for k, v in {**ok, **bad}.items() if v is not None}
        with pytest.raises(
            definition.DefinitionError,
            match=r"^client\.requests\.reqX: cancel_when_answered needs a single one_shot "
            r"with a cancel$",
        ):
            definition._request("reqX", {**data, "cancel_when_answered": True})
