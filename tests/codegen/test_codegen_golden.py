"""Golden record: a tiny definition and fake ibapi classes, rendered and compared.

Regenerate the golden files after an intended template change with
``UPDATE_GOLDEN=1 uv run pytest tests/codegen/test_codegen_golden.py``.
"""

import filecmp
import os
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

from tools.codegen.definition import parse
from tools.codegen.model import build_model
from tools.codegen.render import render, write

GOLDEN = Path(__file__).with_name("golden")


class Contract:
    """Stands for ibapi.contract.Contract."""


class Order:
    """Stands for ibapi.order.Order (its name clashes with the ``order`` callback)."""


Contract.__module__ = "ibapi.contract"
Order.__module__ = "ibapi.order"
CLASS_INDEX = {"Contract": "ibapi.contract", "Order": "ibapi.order", "TagValue": "ibapi.tag_value"}


class FakeClient:
    def connect(self, host: Any, port: Any, clientId: Any) -> None:
        """Connect."""

    def reqThing(self, reqId: int, contract: Contract, what: str, thingOptions: list) -> None:  # type: ignore[type-arg]
        """Call this function to request things. More text.

        what:str - What to ask for.
        """
        if what == "proto":  # as in ibapi 10.x: the classic method sends its protobuf variant
            self.reqThingProtoBuf(None)

    def cancelThing(self, reqId: int) -> None:
        """Cancel things."""

    def reqNow(self) -> None:
        """Asks the current time."""

    def reqTicks(self, reqId: int, count: int, snapshot: bool) -> None:
        """Ticks."""

    def cancelTicks(self, reqId: int) -> None:
        """Cancel ticks."""

    def reqOrders(self, subscribe: bool) -> None:
        """Orders."""

    def setLevel(self, level: int) -> None:
        """Set the level."""

    def reqThingProtoBuf(self, proto: Any) -> None:
        """Protobuf variant."""


class FakeWrapper:
    def thing(self, reqId: int, contract: Contract, size: Decimal) -> None:
        """A thing arrived."""

    def thingEnd(self, reqId: int) -> None:
        """All things arrived."""

    def now(self, time: int) -> None:
        """The time."""

    def tick(self, reqId: int, price: float, done: bool) -> None:
        """A tick."""

    def order(self, orderId: int, status: str) -> None:
        """An order's status."""

    def error(self, reqId: int, code: int, message: str) -> None:
        """Errors."""

    def thingProtoBuf(self, proto: Any) -> None:
        """Raw protobuf."""


DEFINITION = {
    "meta": {
        "generation_version": "1.0",
        "distributions": ["fake-ibapi"],
        "versions": ["0.9", "1.0"],
        "id_params": ["reqId", "orderId"],
    },
    "client": {
        "types": {"list": "Sequence[TagValue]"},
        "plumbing_suffixes": {"ProtoBuf": "protobuf variant"},
        "plumbing": {"connect": "the runtime connects"},
        "cancel": {"cancelThing": "reqThing", "cancelTicks": "reqTicks"},
        "requests": {
            "reqThing": {
                "kind": "one_shot",
                "mode": "list",
                "answers": ["thing", "thingEnd"],
                "cancel": "cancelThing",
                "defaults": {"thingOptions": "()"},
            },
            "reqNow": {
                "kind": "one_shot",
                "mode": "single",
                "key": "now",
                "answers": ["now"],
                "summary": "Ask for the time.",
            },
            "reqTicks": {
                "kind": "flag",
                "mode": "list",
                "flag": "snapshot",
                "stream_when": False,
                "answers": ["tick"],
                "cancel": "cancelTicks",
                "defaults": {"snapshot": "False"},
                "added_in": "1.0",
            },
            "reqOrders": {
                "kind": "stream",
                "key": "orders",
                "consts": {"subscribe": "True"},
                "answers": ["order"],
                "cancel": {"method": "reqOrders", "args": [{"const": "False"}]},
            },
            "setLevel": {"kind": "send"},
        },
    },
    "wrapper": {
        "ignored_suffixes": {"ProtoBuf": "raw protobuf hook"},
        "ignored": {"error": "handled by the runtime"},
        "callbacks": {
            "thing": {"key": "reqId"},
            "thingEnd": {"key": "reqId", "end": True},
            "now": {"channel": "now"},
            "tick": {"key": "reqId", "done": "done"},
            "order": {"key": "orderId", "fallback": "orders"},
            "oldThing": {"alias_of": "thing", "removed_in": "1.0"},
        },
    },
}


def test_golden(tmp_path: Path) -> None:
    defn = parse(DEFINITION, source="fixture")
    model = build_model(defn, FakeClient, FakeWrapper, version="1.0", class_index=CLASS_INDEX)
    files = render(model)
    write(files, tmp_path)
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        shutil.copytree(tmp_path, GOLDEN)
    names = sorted(p.name for p in GOLDEN.glob("*.py"))
    assert names == sorted(files)
    match, mismatch, errors = filecmp.cmpfiles(GOLDEN, tmp_path, names, shallow=False)
    assert (mismatch, errors) == ([], [])
    assert match == names
