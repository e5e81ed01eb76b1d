"""Type mapping: ibapi annotations and definition type strings → generated types."""

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools.codegen.model import GenerationError, _Types

INDEX = {
    "Contract": "ibapi.contract",
    "HistoricalTick": "ibapi.common",
    "OrderCancel": "ibapi.order_cancel",
    "TagValue": "ibapi.tag_value",
}
TYPES = _Types(INDEX, {"OrderCancel": "10.37.2"})


class Contract:
    """Stands for ibapi.contract.Contract (matched by name and module)."""


Contract.__module__ = "ibapi.contract"


@pytest.mark.parametrize(
    ("annotation", "expr", "imports"),
    [
        (int, "int", ()),
        (float, "float", ()),
        (str, "str", ()),
        (bool, "bool", ()),
        (list, "list", ()),
        (Decimal, "Decimal", (("decimal", "Decimal"),)),
        (Contract, "Contract", (("ibapi.contract", "Contract"),)),
    ],
)
def test_from_annotation(annotation: type, expr: str, imports: tuple[tuple[str, str], ...]) -> None:
    texpr = TYPES.from_annotation(annotation, "EWrapper.x(y)")
    assert (texpr.expr, texpr.imports) == (expr, imports)


def test_bare_containers_are_flagged() -> None:
    assert TYPES.from_annotation(list, "w").is_bare_container
    assert not TYPES.parse("list[HistoricalTick]", "w").is_bare_container


def test_missing_or_foreign_annotation_is_an_error() -> None:
    with pytest.raises(GenerationError, match=r"^EWrapper.x\(y\) has no annotation"):
        TYPES.from_annotation(None, "EWrapper.x(y)")

    class Foreign:
        pass

    with pytest.raises(GenerationError, match="unsupported annotation"):
        TYPES.from_annotation(Foreign, "EWrapper.x(y)")


def test_parse_resolves_ibapi_names() -> None:
    texpr = TYPES.parse("list[HistoricalTick]", "w")
    assert texpr.expr == "list[HistoricalTick]"
    assert texpr.imports == (("ibapi.common", "HistoricalTick"),)
    texpr = TYPES.parse("Sequence[TagValue]", "w")
    assert texpr.imports == (("collections.abc", "Sequence"), ("ibapi.tag_value", "TagValue"))
    with pytest.raises(GenerationError, match="unknown name 'Nope'"):
        TYPES.parse("list[Nope]", "w")


@pytest.mark.parametrize(
    ("expr", "runtime"),
    [
        ("int", ("int",)),
        ("float", ("float", "int")),
        ("Decimal", ("Decimal", "int")),
        ("Sequence[TagValue]", ("list", "tuple")),
        ("Contract", ("Contract",)),
        ("OrderCancel", ()),  # missing from the oldest supported ibapi: unchecked
        ("str | Contract", ("str", "Contract")),
    ],
)
def test_runtime_types(expr: str, runtime: tuple[str, ...]) -> None:
    assert TYPES.runtime_types(TYPES.parse(expr, "w")) == runtime


ATOMS = ["int", "float", "str", "bool", "Decimal", "Contract", "HistoricalTick", "TagValue"]
atom = st.sampled_from(ATOMS)
type_expr = st.recursive(
    atom,
    lambda inner: st.one_of(
        inner.map(lambda t: f"list[{t}]"),
        inner.map(lambda t: f"set[{t}]"),
        st.tuples(atom, inner).map(lambda kv: f"dict[{kv[0]}, {kv[1]}]"),
        st.tuples(inner, inner).map(lambda ab: f"{ab[0]} | {ab[1]}"),
    ),
    max_leaves=6,
)


@given(type_expr)
def test_parse_round_trips_and_imports_exactly_the_names_used(expr: str) -> None:
    texpr = TYPES.parse(expr, "w")
    assert TYPES.parse(texpr.expr, "w") == texpr
    used = set(re.findall(r"[A-Za-z]+", expr)) - {"list", "set", "dict"}
    imported = {name for _, name in texpr.imports}
    assert imported == used - {"int", "float", "str", "bool"}
