"""The generation model: the definition joined with introspection of ibapi.

Everything the templates print is computed here; the templates only lay it
out. :func:`classify` (used by ``--report`` on any ibapi release) and
:func:`build_model` (generation, on the pinned release) take the ``EClient``
and ``EWrapper`` classes as parameters, so tests can pass fakes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .definition import Callback, Definition, Entry, ParamDecl, Request
from .introspect import (
    PROTOBUF_SUFFIX,
    doc_params,
    doc_summary,
    protobuf_only,
    public_methods,
    signature,
    version_key,
)
from .naming import camel_case, constant_case, snake_case

__all__ = [
    "Classification",
    "ClientParam",
    "GenerationError",
    "Item",
    "Model",
    "RequestModel",
    "Row",
    "WrapperMethod",
    "build_model",
    "classify",
]


class GenerationError(Exception):
    """The definition and the installed ibapi disagree; the message says how."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(self.problems))


# ---------------------------------------------------------------------------
# Classification (no type resolution: works on every ibapi release)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the coverage report."""

    owner: str  # "EClient" or "EWrapper"
    name: str
    category: str  # exposed / cancel / plumbing / routed / ignored / unclassified
    detail: str


@dataclass(frozen=True)
class Classification:
    """Every public name of the two classes with its category, and the problems."""

    rows: tuple[Row, ...]
    problems: tuple[str, ...]

    def totals(self, owner: str) -> tuple[int, int, dict[str, int]]:
        """(classified, total, count per category) for ``owner``."""
        rows = [row for row in self.rows if row.owner == owner]
        counts: dict[str, int] = {}
        for row in rows:
            counts[row.category] = counts.get(row.category, 0) + 1
        return len(rows) - counts.get("unclassified", 0), len(rows), counts


def _in_range(version: str, added_in: str | None, removed_in: str | None) -> bool:
    key = version_key(version)
    if added_in is not None and key < version_key(added_in):
        return False
    return removed_in is None or key < version_key(removed_in)


def public_request_name(name: str, protobuf_only: frozenset[str], words: Iterable[str] = ()) -> str:
    """The public method name: snake case, without the suffix of a protobuf-only
    request (``reqConfigProtoBuf`` -> ``req_config``)."""
    base = name.removesuffix(PROTOBUF_SUFFIX) if name in protobuf_only else name
    return snake_case(base, words)


def _suffix_reason(name: str, suffixes: Mapping[str, str]) -> str | None:
    for suffix, reason in sorted(suffixes.items()):
        if name.endswith(suffix):
            return reason
    return None


def _presence_problems(
    owner: str,
    entries: Iterable[tuple[str, str | None, str | None]],
    installed: set[str],
    version: str,
    source: str,
) -> list[str]:
    problems = []
    for name, added_in, removed_in in entries:
        expected = _in_range(version, added_in, removed_in)
        if expected and name not in installed:
            problems.append(
                f"{owner}.{name} is in {source} but not in the installed ibapi {version}"
                " (mark it added_in/removed_in)"
            )
        elif not expected and name in installed:
            span = ", ".join(
                f"{k} = {v}" for k, v in (("added_in", added_in), ("removed_in", removed_in)) if v
            )
            problems.append(
                f"{owner}.{name} has {span} in {source}, but the installed ibapi {version} has it"
            )
    return problems


def classify(defn: Definition, client_cls: type, wrapper_cls: type, version: str) -> Classification:
    """Classify every public method of ``client_cls`` and ``wrapper_cls``."""
    rows: list[Row] = []
    problems: list[str] = []
    src = defn.source

    client_names = set(public_methods(client_cls))
    only = protobuf_only(client_cls, wrapper_cls)
    for name in sorted(client_names):
        if name in defn.requests:
            request = defn.requests[name]
            detail = request.kind + (f" ({request.mode})" if request.mode else "")
            if request.key != "req_id":
                detail += f", channel {request.key}"
            rows.append(Row("EClient", name, "exposed", detail))
        elif name in defn.client_cancel:
            rows.append(
                Row("EClient", name, "cancel", f"cancel_of = {defn.client_cancel[name].cancel_of}")
            )
        elif name in defn.client_plumbing:
            rows.append(Row("EClient", name, "plumbing", defn.client_plumbing[name].reason))
        elif name in only:
            rows.append(Row("EClient", name, "unclassified", "protobuf only"))
            problems.append(
                f"EClient.{name} is protobuf-only (no classic method sends it):"
                f" a request of its own; expose it in {src}"
            )
        elif (reason := _suffix_reason(name, defn.client_plumbing_suffixes)) is not None:
            rows.append(Row("EClient", name, "plumbing", reason))
        else:
            rows.append(Row("EClient", name, "unclassified", ""))
            problems.append(f"EClient.{name} is not classified in {src}")

    wrapper_names = set(public_methods(wrapper_cls))
    for name in sorted(wrapper_names):
        if name in defn.callbacks:
            callback = defn.callbacks[name]
            rows.append(Row("EWrapper", name, "routed", _route_detail(callback)))
        elif name in defn.wrapper_ignored:
            rows.append(Row("EWrapper", name, "ignored", defn.wrapper_ignored[name].reason))
        elif name in only:
            rows.append(Row("EWrapper", name, "unclassified", "protobuf only"))
            problems.append(
                f"EWrapper.{name} is protobuf-only (its decoder calls no classic callback):"
                f" it answers a request of its own; route it in {src}"
            )
        elif (reason := _suffix_reason(name, defn.wrapper_ignored_suffixes)) is not None:
            rows.append(Row("EWrapper", name, "ignored", reason))
        else:
            rows.append(Row("EWrapper", name, "unclassified", ""))
            problems.append(f"EWrapper.{name} is not classified in {src}")

    client_entries: list[Entry | Request] = [
        *defn.requests.values(),
        *defn.client_cancel.values(),
        *defn.client_plumbing.values(),
    ]
    problems += _presence_problems(
        "EClient",
        ((e.name, e.added_in, e.removed_in) for e in client_entries),
        client_names,
        version,
        src,
    )
    wrapper_entries: list[Entry | Callback] = [
        *defn.callbacks.values(),
        *defn.wrapper_ignored.values(),
    ]
    problems += _presence_problems(
        "EWrapper",
        ((e.name, e.added_in, e.removed_in) for e in wrapper_entries),
        wrapper_names,
        version,
        src,
    )
    problems += _consistency_problems(defn)
    return Classification(tuple(rows), tuple(sorted(set(problems))))


def _route_detail(callback: Callback) -> str:
    if callback.alias_of is not None:
        return f"same as {callback.alias_of}"
    if callback.key is not None:
        detail = f"by {callback.key}"
        if callback.fallback:
            detail += f", else channel {callback.fallback}"
    else:
        detail = f"channel {callback.channel}"
    if callback.end:
        detail += ", ends"
    if callback.done:
        detail += f", ends when {callback.done}"
    if callback.final:
        detail += ", answers and ends"
    return detail


def _consistency_problems(defn: Definition) -> list[str]:
    """Cross-references inside the definition."""
    src = defn.source
    problems = [
        f"{src}: {cancel.name} cancels unknown request {cancel.cancel_of}"
        for cancel in defn.client_cancel.values()
        if cancel.cancel_of not in defn.requests
    ]
    problems += [
        f"{src}: callback {callback.name} aliases unknown {callback.alias_of}"
        for callback in defn.callbacks.values()
        if callback.alias_of is not None and callback.alias_of not in defn.callbacks
    ]
    for request in defn.requests.values():
        where = f"{src}: request {request.name}"
        if request.cancel is not None and request.cancel.method != request.name:
            entry = defn.client_cancel.get(request.cancel.method)
            if entry is None or entry.cancel_of != request.name:
                problems.append(
                    f"{where} is cancelled by {request.cancel.method}, which is not"
                    f" classified as cancel_of = {request.name!r}"
                )
        for name in request.answers:
            answer = defn.callbacks.get(name)
            if answer is None or answer.alias_of is not None:
                problems.append(f"{where} is answered by {name}, which is not a routed callback")
            elif request.key == "req_id" and answer.key is None:
                problems.append(f"{where} is keyed by request id but {name} routes by channel")
            elif request.key != "req_id" and request.key not in (answer.channel, answer.fallback):
                problems.append(
                    f"{where} uses channel {request.key!r}, but {name} is not routed to it"
                )
    return problems


# ---------------------------------------------------------------------------
# Types
# ---------------------------------------------------------------------------

_BUILTIN_TYPES = frozenset({"int", "float", "str", "bool", "bytes", "list", "set", "dict", "tuple"})
_BARE_CONTAINERS = frozenset({"list", "set", "dict", "tuple"})
_OTHER_NAMES = {"Decimal": "decimal", "Sequence": "collections.abc", "None": ""}


@dataclass(frozen=True)
class TypeExpr:
    """A type expression and the non-builtin names it uses (name → module)."""

    expr: str
    imports: tuple[tuple[str, str], ...]  # (module, name)

    @property
    def is_bare_container(self) -> bool:
        return self.expr in _BARE_CONTAINERS


class _Types:
    """Resolves annotation objects and definition type strings to :class:`TypeExpr`."""

    def __init__(self, class_index: Mapping[str, str], classes_added_in: Mapping[str, str]) -> None:
        self.class_index = class_index
        self.classes_added_in = classes_added_in
        # ibapi.protobuf message classes met in annotations: ``<Name>Proto`` (the
        # alias ibapi itself imports them under) -> (module, import text)
        self.protobuf: dict[str, tuple[str, str]] = {}

    def from_annotation(self, annotation: object, where: str) -> TypeExpr:
        if annotation is None:
            raise GenerationError([f"{where} has no annotation; give its type in the definition"])
        if not isinstance(annotation, type):
            raise GenerationError([f"{where} has unsupported annotation {annotation!r}"])
        if annotation.__module__ == "builtins" and annotation.__name__ in _BUILTIN_TYPES:
            return self.parse(annotation.__name__, where)
        if annotation.__module__ == "decimal" and annotation.__name__ == "Decimal":
            return self.parse("Decimal", where)
        if self.class_index.get(annotation.__name__) == annotation.__module__:
            return self.parse(annotation.__name__, where)
        module = protobuf_module(annotation)
        if module is not None:
            # a protobuf message (protobuf-only requests): imported for type checking
            # under ibapi's own alias, never checked at run time (9.81 has none)
            alias = f"{annotation.__name__}Proto"
            self.protobuf[alias] = (module, f"{annotation.__name__} as {alias}")
            return self.parse(alias, where)
        raise GenerationError([f"{where} has unsupported annotation {annotation!r}"])

    def parse(self, expr: str, where: str) -> TypeExpr:
        try:
            tree = ast.parse(expr, mode="eval")
        except SyntaxError:
            raise GenerationError([f"{where}: bad type expression {expr!r}"]) from None
        imports = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                if node.id in _BUILTIN_TYPES:
                    continue
                if node.id in self.protobuf:
                    imports.add(self.protobuf[node.id])
                    continue
                module = _OTHER_NAMES.get(node.id, self.class_index.get(node.id))
                if module is None:
                    raise GenerationError([f"{where}: unknown name {node.id!r} in {expr!r}"])
                if module:
                    imports.add((module, node.id))
            elif not isinstance(
                node,
                (
                    ast.Expression,
                    ast.Subscript,
                    ast.BinOp,
                    ast.BitOr,
                    ast.Tuple,
                    ast.Load,
                    ast.Constant,
                ),
            ):
                raise GenerationError([f"{where}: unsupported type expression {expr!r}"])
        return TypeExpr(ast.unparse(tree), tuple(sorted(imports)))

    def runtime_types(self, texpr: TypeExpr) -> tuple[str, ...]:
        """The ``isinstance`` classes that check an argument of type ``texpr``.

        Empty (unchecked) when a class is missing from the oldest supported ibapi.
        """
        result: list[str] = []
        tree = ast.parse(texpr.expr, mode="eval").body
        alternatives = _union_members(tree)
        for alt in alternatives:
            base = alt.value if isinstance(alt, ast.Subscript) else alt
            if not isinstance(base, ast.Name):
                return ()
            name = base.id
            if name == "Sequence":
                result += ["list", "tuple"]
            elif name == "float":
                result += ["float", "int"]
            elif name == "Decimal":
                result += ["Decimal", "int"]
            elif name in self.classes_added_in or name in self.protobuf:
                return ()
            else:
                result.append(name)
        return tuple(dict.fromkeys(result))


def _union_members(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union_members(node.left) + _union_members(node.right)
    return [node]


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemField:
    name: str
    ibapi_name: str
    type: str
    doc: str


@dataclass(frozen=True)
class Item:
    """One attrs item class: what one callback delivers."""

    class_name: str
    callback: str
    summary: str
    answers: tuple[str, ...]  # public method names of the requests it answers
    fields: tuple[ItemField, ...]
    end: bool
    kept: bool = False  # an end callback whose item is also the answer's last item
    final: bool = False  # an answer that also ends the request


@dataclass(frozen=True)
class WrapperParam:
    name: str
    type: str


@dataclass(frozen=True)
class WrapperMethod:
    """One generated ``EWrapper`` callback."""

    name: str
    params: tuple[WrapperParam, ...]
    item: Item
    route_expr: str  # Python expression for the route lookup
    end: bool
    keep: bool
    done: str | None
    final: bool
    decimal_indexes: tuple[int, ...]
    aliases: tuple[str, ...]
    # The definition corrects some of ibapi's annotations (histogramData's
    # `items` is a list, not one HistogramData): such an override differs
    # from EWrapper's signature when mypy sees ibapi's types.
    retyped: bool = False

    @property
    def construct_args(self) -> str:
        return ", ".join(f.ibapi_name for f in self.item.fields)

    @property
    def signature(self) -> str:
        return ", ".join(["self", *(f"{p.name}: {p.type}" for p in self.params)])

    @property
    def decimal_literal(self) -> str:
        return py_tuple(str(i) for i in self.decimal_indexes)


@dataclass(frozen=True)
class ClientParam:
    """A public parameter of a generated request method."""

    name: str
    ibapi_name: str
    type: str
    default: str | None
    runtime_types: tuple[str, ...]
    doc: str


@dataclass(frozen=True)
class RequestModel:
    """One generated request method and its ``RequestSpec``."""

    method: str  # ibapi's name
    name: str  # public method name
    const_name: str
    kind: str
    spec_mode: str
    key: str
    call_args: tuple[str, ...]
    cancel_method: str | None
    cancel_args: tuple[str, ...]
    cancel_when_answered: bool
    params: tuple[ClientParam, ...]
    response_alias: str | None
    stream_alias: str | None
    summary: str
    returns: str
    raises: tuple[tuple[str, str], ...]
    notes: str | None
    flag: str | None
    stream_when: bool | None
    added_in: str | None
    removed_in: str | None

    @property
    def arg_names(self) -> str:
        return py_tuple(p.name for p in self.params)

    @property
    def flag_param(self) -> ClientParam | None:
        return next((p for p in self.params if p.ibapi_name == self.flag), None)

    @property
    def stream_expr(self) -> str:
        flag = self.flag_param
        assert flag is not None
        return flag.name if self.stream_when else f"not {flag.name}"

    @property
    def response_type(self) -> str:
        assert self.response_alias is not None
        return f"list[{self.response_alias}]" if self.spec_mode == "list" else self.response_alias

    @property
    def stream_type(self) -> str:
        return f"Subscription[{self.stream_alias}]"

    def signature(self, *, literal: str | None = None, kw_only_flag: bool = False) -> str:
        """The parameter list: ``literal`` types the flag as ``Literal[literal]``;
        ``kw_only_flag`` makes it a required keyword-only parameter."""
        parts = ["self"]
        for p in self.params:
            is_flag = p.ibapi_name == self.flag and literal is not None
            if is_flag and kw_only_flag:
                parts += ["*", f"{p.name}: Literal[{literal}]"]
                continue
            annotation = f"Literal[{literal}]" if is_flag else p.type
            parts.append(
                f"{p.name}: {annotation}" + ("" if p.default is None else f" = {p.default}")
            )
        return ", ".join(parts)

    @property
    def overloads(self) -> tuple[tuple[str, str], ...]:
        """For a flag request: (parameter list, return type) of each overload."""
        flag = self.flag_param
        assert flag is not None
        assert flag.default is not None
        default, other = flag.default, ("False" if flag.default == "True" else "True")
        awaitable = f"Awaitable[{self.response_type}]"

        def returns(value: str) -> str:
            return self.stream_type if value == str(self.stream_when) else awaitable

        return (
            (self.signature(literal=default), returns(default)),
            (self.signature(literal=other, kw_only_flag=True), returns(other)),
        )

    @property
    def implementation_type(self) -> str:
        return f"{self.stream_type} | Awaitable[{self.response_type}]"

    @property
    def spec_params(self) -> str:
        return py_tuple(
            f'Param("{p.name}", {py_tuple(p.runtime_types)})'
            if p.runtime_types
            else f'Param("{p.name}")'
            for p in self.params
        )


@dataclass(frozen=True)
class Alias:
    name: str
    members: tuple[str, ...]
    doc: str


@dataclass(frozen=True)
class Model:
    """Everything the templates need."""

    version: str
    items: tuple[Item, ...]
    aliases: tuple[Alias, ...]
    wrapper_methods: tuple[WrapperMethod, ...]
    requests: tuple[RequestModel, ...]
    items_imports: tuple[tuple[str, tuple[str, ...]], ...]
    wrapper_imports: tuple[tuple[str, tuple[str, ...]], ...]
    client_type_imports: tuple[tuple[str, tuple[str, ...]], ...]
    client_runtime_imports: tuple[tuple[str, tuple[str, ...]], ...]
    client_item_names: tuple[str, ...]
    wrapper_item_names: tuple[str, ...]
    channels: tuple[str, ...] = field(default=())

    @property
    def spec_imports(self) -> list[str]:
        names = [n for n in ("REQ_ID", "Arg", "Const") if self.uses(n)] + ["Call"]
        names += ["Param"] if self.uses("Param") else []
        return [*names, *(["Proto"] if self.uses("Proto") else []), "RequestSpec"]

    def uses(self, what: str) -> bool:
        """Whether the generated client needs ``what`` (drives its imports)."""
        reqs = self.requests
        if what == "flag":
            return any(r.kind == "flag" for r in reqs)
        if what == "cast":
            return any(r.kind in ("flag", "one_shot") for r in reqs)
        if what == "Subscription":
            return any(r.kind in ("flag", "stream") for r in reqs)
        if what == "Sequence":
            return any("Sequence[" in p.type for r in reqs for p in r.params)
        if what in ("REQ_ID", "Arg", "Const", "Proto"):
            token = what if what == "REQ_ID" else what + "("
            return any(token in a for r in reqs for a in (*r.call_args, *r.cancel_args))
        if what == "Param":
            return any(r.params for r in reqs)
        raise ValueError(what)


def py_tuple(items: Iterable[str]) -> str:
    """Python source of a tuple of the given element sources."""
    elements = list(items)
    if len(elements) == 1:
        return f"({elements[0]},)"
    return "(" + ", ".join(elements) + ")"


def _group_imports(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    grouped: dict[str, set[str]] = {}
    for module, name in pairs:
        grouped.setdefault(module, set()).add(name)
    return tuple((module, tuple(sorted(names))) for module, names in sorted(grouped.items()))


def _params_of(
    cls: type, name: str, decls: tuple[ParamDecl, ...] | None, types: _Types, where: str
) -> tuple[list[tuple[str, TypeExpr | None, object]], str]:
    """[(name, type or None when bare-unresolvable, raw annotation)], doc."""
    if hasattr(cls, name):
        sig = signature(cls, name)
        out: list[tuple[str, TypeExpr | None, object]] = []
        for pname, annotation in sig.params:
            texpr = (
                None
                if annotation is None
                else types.from_annotation(annotation, f"{where}({pname})")
            )
            out.append((pname, texpr, annotation))
        return out, sig.doc
    if decls is None:
        raise GenerationError([f"{where} is not in the installed ibapi; give its params"])
    return [(d.name, types.parse(d.type, f"{where}({d.name})"), None) for d in decls], ""


def build_model(
    defn: Definition,
    client_cls: type,
    wrapper_cls: type,
    *,
    version: str,
    class_index: Mapping[str, str],
) -> Model:
    """Join ``defn`` with ``client_cls``/``wrapper_cls`` of ibapi ``version``.

    Raises:
        GenerationError: listing every unclassified name and every disagreement.
    """
    classification = classify(defn, client_cls, wrapper_cls, version)
    if classification.problems:
        raise GenerationError(classification.problems)
    types = _Types(class_index, defn.classes_added_in)
    clash = set(class_index) | set(defn.extra_class_names)
    words = defn.words
    problems: list[str] = []

    only = protobuf_only(client_cls, wrapper_cls)
    public_name = {name: public_request_name(name, only, words) for name in defn.requests}
    answered_by: dict[str, list[str]] = {}
    for request in sorted(defn.requests.values(), key=lambda r: r.name):
        for answer in request.answers:
            answered_by.setdefault(answer, []).append(public_name[request.name])

    # -- callbacks and items -------------------------------------------------
    items: dict[str, Item] = {}
    methods: list[WrapperMethod] = []
    aliases_of: dict[str, list[str]] = {}
    for cb in defn.callbacks.values():
        if cb.alias_of is not None:
            aliases_of.setdefault(cb.alias_of, []).append(cb.name)
    for cb in sorted(defn.callbacks.values(), key=lambda c: c.name):
        if cb.alias_of is not None:
            continue
        where = f"EWrapper.{cb.name}"
        try:
            raw, doc = _params_of(wrapper_cls, cb.name, cb.params, types, where)
            params: list[tuple[str, TypeExpr]] = []
            for pname, texpr, _ in raw:
                if pname in cb.types:
                    texpr = types.parse(cb.types[pname], f"{where}({pname})")
                if texpr is None or texpr.is_bare_container:
                    raise GenerationError(
                        [
                            f"{where}({pname}) is annotated {texpr.expr if texpr else 'nothing'};"
                            f" give its type in {defn.source} (types = {{ {pname} = ... }})"
                        ]
                    )
                params.append((pname, texpr))
        except GenerationError as exc:
            problems += exc.problems
            continue
        names = [p for p, _ in params]
        if cb.key is not None and cb.key.split(".")[0] not in names:
            problems.append(f"{where} has no parameter {cb.key!r} to route by")
            continue
        if cb.done is not None and cb.done not in names:
            problems.append(f"{where} has no done flag parameter {cb.done!r}")
            continue
        drop = {cb.key} if cb.key in ("reqId", "tickerId", "requestId") else set()
        descriptions = doc_params(doc, names)
        fields = tuple(
            ItemField(
                name=snake_case(pname, words),
                ibapi_name=pname,
                type=texpr.expr,
                doc=cb.docs.get(pname)
                or descriptions.get(pname)
                or f"``{pname}`` of ``{cb.name}``.",
            )
            for pname, texpr in params
            if pname not in drop
        )
        class_name = camel_case(cb.name)
        if class_name in clash:
            class_name += defn.clash_suffix
        summary = doc_summary(doc) or f"What ``EWrapper.{cb.name}`` delivers."
        item = Item(
            class_name=class_name,
            callback=cb.name,
            summary=summary,
            answers=tuple(answered_by.get(cb.name, ())),
            fields=fields,
            end=cb.end,
            kept=cb.keep,
            final=cb.final,
        )
        items[cb.name] = item
        if cb.key is not None:
            route_expr = f"self._routes.get({cb.key})"
            if cb.fallback is not None:
                route_expr += f" or self._routes.get({cb.fallback!r})"
        else:
            route_expr = f"self._routes.get({cb.channel!r})"
        methods.append(
            WrapperMethod(
                name=cb.name,
                params=tuple(WrapperParam(p, t.expr) for p, t in params),
                item=item,
                route_expr=route_expr.replace("'", '"'),
                end=cb.end,
                keep=cb.keep,
                done=cb.done,
                final=cb.final,
                decimal_indexes=tuple(i for i, (_, t) in enumerate(params) if t.expr == "Decimal"),
                aliases=tuple(sorted(aliases_of.get(cb.name, ()))),
                retyped=bool(cb.types),
            )
        )

    # -- requests --------------------------------------------------------------
    requests: list[RequestModel] = []
    aliases: list[Alias] = []
    for request in sorted(defn.requests.values(), key=lambda r: r.name):
        try:
            model, new_aliases = _request_model(
                request, defn, client_cls, types, items, public_name[request.name]
            )
        except GenerationError as exc:
            problems += exc.problems
            continue
        requests.append(model)
        aliases += new_aliases
    if problems:
        raise GenerationError(problems)

    item_list = tuple(items[name] for name in sorted(items))
    item_type_pairs = set()
    wrapper_pairs = set()
    for method in methods:
        raw_types = {p.type for p in method.params}
        for texpr_str in raw_types:
            for imp in types.parse(texpr_str, method.name).imports:
                item_type_pairs.add(imp)
                wrapper_pairs.add(imp)
    client_type_pairs = set()
    client_runtime_pairs = set()
    for req in requests:
        for param in req.params:
            texpr = types.parse(param.type, req.method)
            client_type_pairs |= set(texpr.imports)
            for name in param.runtime_types:
                module = _OTHER_NAMES.get(name, class_index.get(name))
                if module:
                    client_runtime_pairs.add((module, name))
    client_type_pairs -= client_runtime_pairs
    client_type_pairs -= {("collections.abc", "Sequence")}
    client_items = sorted({a.name for a in aliases})
    return Model(
        version=version,
        items=item_list,
        aliases=tuple(sorted(aliases, key=lambda a: a.name)),
        wrapper_methods=tuple(methods),
        requests=tuple(requests),
        items_imports=_group_imports(item_type_pairs),
        wrapper_imports=_group_imports(wrapper_pairs),
        client_type_imports=_group_imports(client_type_pairs),
        client_runtime_imports=_group_imports(client_runtime_pairs),
        client_item_names=tuple(client_items),
        wrapper_item_names=tuple(sorted(m.item.class_name for m in methods)),
        channels=tuple(sorted({r.key for r in requests if r.key != "req_id"})),
    )


def _request_model(
    request: Request,
    defn: Definition,
    client_cls: type,
    types: _Types,
    items: Mapping[str, Item],
    public: str,
) -> tuple[RequestModel, list[Alias]]:
    where = f"EClient.{request.name}"
    raw, doc = _params_of(client_cls, request.name, request.params, types, where)
    problems: list[str] = []
    descriptions = doc_params(doc, [p for p, _, _ in raw])
    call_args: list[str] = []
    params: list[ClientParam] = []
    index_of: dict[str, int] = {}
    for position, (pname, texpr, annotation) in enumerate(raw):
        if position == 0 and pname in defn.id_params and not request.public_ids:
            call_args.append("REQ_ID")
            continue
        message = _protobuf_message(annotation)
        if message is not None and "reqId" in message.DESCRIPTOR.fields_by_name:
            # A protobuf-only request takes one message that carries the request id:
            # the runtime builds it (or copies the caller's) with the id it allocates.
            module, cls = protobuf_module(message), message.__name__
            if set(message.DESCRIPTOR.fields_by_name) == {"reqId"}:
                call_args.append(f'Proto("{module}", "{cls}")')
                continue
            pname = pname.removesuffix("Proto")
            call_args.append(f'Proto("{module}", "{cls}", Arg({len(params)}))')
            params.append(
                ClientParam(
                    name=snake_case(pname, defn.words),
                    ibapi_name=pname,
                    type=texpr.expr if texpr is not None else "object",
                    default=None,
                    runtime_types=(),
                    doc=request.docs.get(pname)
                    or f"The ``{cls}`` message (``ibapi.protobuf``); its ``reqId`` is"
                    " set by ib_anyio.",
                )
            )
            continue
        if pname in request.consts:
            call_args.append(f"Const({request.consts[pname]})")
            continue
        if texpr is None:
            problems.append(f"{where}({pname}) has no annotation")
            continue
        if texpr.is_bare_container:
            mapped = defn.client_types.get(texpr.expr)
            if mapped is None:
                problems.append(f"{where}({pname}) is a bare {texpr.expr}; map it in client.types")
                continue
            texpr = types.parse(mapped, f"{where}({pname})")
        index_of[pname] = len(params)
        call_args.append(f"Arg({len(params)})")
        params.append(
            ClientParam(
                name=snake_case(pname, defn.words),
                ibapi_name=pname,
                type=texpr.expr,
                default=request.defaults.get(pname),
                runtime_types=types.runtime_types(texpr),
                doc=request.docs.get(pname)
                or defn.client_docs.get(pname)
                or descriptions.get(pname)
                or f"``{pname}`` of ``{request.name}``.",
            )
        )
    known = {p.removesuffix("Proto") for p, _, _ in raw} | {p for p, _, _ in raw}
    problems += [
        f"{defn.source}: {request.name} has no parameter {name!r}"
        for name in [*request.defaults, *request.consts, *request.docs]
        if name not in known
    ]
    seen_default = False
    for param in params:
        if param.default is not None:
            seen_default = True
        elif seen_default:
            problems.append(
                f"{where}: parameter {param.ibapi_name} needs a default (an earlier one has one)"
            )
    if request.flag is not None:
        flag = next((p for p in params if p.ibapi_name == request.flag), None)
        if flag is None or flag.type != "bool" or flag.default is None:
            problems.append(
                f"{where}: flag {request.flag} must be a public bool parameter with a default"
            )

    cancel_method = None
    cancel_args: list[str] = []
    if request.cancel is not None:
        cancel_method = request.cancel.method
        spec_args = request.cancel.args
        if spec_args is None:
            if not hasattr(client_cls, cancel_method):
                problems.append(f"{where}: give the arguments of {cancel_method} explicitly")
                spec_args = ()
            else:
                spec_args = tuple(
                    "REQ_ID" if cp in defn.id_params else cp
                    for cp, _ in signature(client_cls, cancel_method).params
                )
        for arg in spec_args:
            if isinstance(arg, tuple):
                cancel_args.append(f"Const({arg[1]})")
            elif arg == "REQ_ID":
                cancel_args.append("REQ_ID")
            elif arg in index_of:
                cancel_args.append(f"Arg({index_of[arg]})")
            else:
                problems.append(f"{where}: cancel argument {arg!r} is not a public parameter")

    answer_items = [items[name] for name in request.answers if name in items]
    if len(answer_items) != len(request.answers):
        problems.append(f"{where}: some answers have no item")
    if any(i.kept for i in answer_items) and (request.kind, request.mode) != ("one_shot", "list"):
        problems.append(f"{where}: a kept end callback answers one-shot list requests only")
    if problems:
        raise GenerationError(problems)

    # a protobuf-only request is named without the suffix (``public`` already is)
    base = request.name
    if public != snake_case(request.name, defn.words):
        base = request.name.removesuffix(PROTOBUF_SUFFIX)
    camel = camel_case(base)
    response_alias = stream_alias = None
    new_aliases = []
    if request.kind in ("one_shot", "flag"):
        response_alias = f"{camel}Response"
        members = tuple(i.class_name for i in answer_items if not i.end or i.kept)
        new_aliases.append(Alias(response_alias, members, f"An answer of ``{public}()``."))
    if request.kind in ("stream", "flag"):
        stream_alias = f"{camel}Stream"
        members = tuple(i.class_name for i in answer_items)
        new_aliases.append(
            Alias(stream_alias, members, f"An item of a ``{public}()`` subscription.")
        )

    summary = request.summary or doc_summary(doc)
    if summary is None:
        raise GenerationError([f"{where} has no docstring; give a summary in {defn.source}"])
    spec_mode = {
        "one_shot": request.mode,
        "flag": request.mode,
        "stream": "stream",
        "send": "send",
    }[request.kind]
    assert spec_mode is not None
    returns = _returns_doc(
        request, answer_items, response_alias, stream_alias, cancel_method, public
    )
    raises = _raises_doc(request, defn)
    model = RequestModel(
        method=request.name,
        name=public,
        const_name=constant_case(base, defn.words),
        kind=request.kind,
        spec_mode=spec_mode,
        key=request.key,
        call_args=tuple(call_args),
        cancel_method=cancel_method,
        cancel_args=tuple(cancel_args),
        cancel_when_answered=request.cancel_when_answered,
        params=tuple(params),
        response_alias=response_alias,
        stream_alias=stream_alias,
        summary=summary,
        returns=returns,
        raises=raises,
        notes=request.notes,
        flag=request.flag,
        stream_when=request.stream_when,
        added_in=request.added_in,
        removed_in=request.removed_in,
    )
    return model, new_aliases


def protobuf_module(annotation: object) -> str | None:
    """The importable module of an ``ibapi.protobuf`` message class, else ``None``.

    ibapi's generated ``*_pb2`` modules name themselves without the package
    (``ConfigRequest_pb2``); they live in ``ibapi.protobuf``.
    """
    if not isinstance(annotation, type) or not hasattr(annotation, "DESCRIPTOR"):
        return None
    module = annotation.__module__
    if not module.endswith("_pb2"):
        return None
    return module if module.startswith("ibapi.") else f"ibapi.protobuf.{module}"


def _protobuf_message(annotation: object) -> Any:
    """``annotation`` when it is an ``ibapi.protobuf`` message class (``Any``: protobuf
    ships no types), else ``None``."""
    return annotation if protobuf_module(annotation) is not None else None


def _cb_list(items: Iterable[Item]) -> str:
    return ", ".join(f"``{i.callback}``" for i in items)


def _returns_doc(
    request: Request,
    answer_items: list[Item],
    response_alias: str | None,
    stream_alias: str | None,
    cancel_method: str | None,
    public: str,
) -> str:
    data = [i for i in answer_items if not i.end]
    ends = [i for i in answer_items if i.end]
    parts = []
    channel = (
        ""
        if request.key == "req_id"
        else (f" Answers are routed by channel ``{request.key}``: one such request at a time.")
    )
    if response_alias is not None:
        if request.mode == "single":
            one = f"The first answer, from {_cb_list(data)}."
            if request.cancel_when_answered:
                one += f" Then ``{cancel_method}`` is sent: TWS keeps the request until then."
        elif ends:
            one = f"The answers from {_cb_list(data)}, collected until {_cb_list(ends)}"
            finals = [i for i in data if i.final]
            if finals:
                one += f" (or until {_cb_list(finals)}, the last answer)"
            one += "."
            if any(i.kept for i in ends):
                one += " That end message is the list's last item."
        else:
            one = (
                f"The answers from {_cb_list(data)}, collected until one has its ``done`` flag set."
            )
        if request.kind == "flag":
            flag = snake_case(request.flag or "")
            value = "False" if request.stream_when else "True"
            one = f"With ``{flag}={value}``: an awaitable. {one}"
        parts.append(one)
    if stream_alias is not None:
        cancel = (
            f"Leaving the ``async with`` sends ``{cancel_method}``"
            + (" again, to unsubscribe." if cancel_method == request.name else ".")
            if cancel_method
            else "Leaving the ``async with`` stops routing its callbacks (TWS has no cancel)."
        )
        one = (
            f"A subscription to use with ``async with``; it yields the items from {_cb_list(data)}"
        )
        if ends:
            one += f", and {_cb_list(ends)} once the initial snapshot is complete"
        one += f". {cancel}"
        if request.kind == "flag":
            flag = snake_case(request.flag or "")
            one = f"With ``{flag}={request.stream_when}``: {one[0].lower()}{one[1:]}"
        parts.append(one)
    if not parts:
        return ""
    return " ".join(parts) + channel


def _raises_doc(request: Request, defn: Definition) -> tuple[tuple[str, str], ...]:
    raises = []
    if request.kind == "send":
        raises.append(("ConnectionLost", "The connection to TWS is closed."))
    else:
        when = " (when iterating, for a subscription)" if request.kind in ("stream", "flag") else ""
        raises.append(("TWSError", f"TWS reported an error for this request{when}."))
        raises.append(("ConnectionLost", "The connection to TWS was lost."))
        if request.kind in ("one_shot", "flag"):
            what = "Awaited, TWS" if request.kind == "flag" else "TWS"
            raises.append(
                (
                    "RequestTimeout",
                    f"{what} did not answer within the client's ``request_timeout``.",
                )
            )
    if request.added_in is not None:
        raises.append(
            ("UnsupportedRequest", f"The installed ibapi is older than {request.added_in}.")
        )
    if request.removed_in is not None:
        text = f"The installed ibapi is {request.removed_in} or newer: it lacks ``{request.name}``."
        raises.append(("UnsupportedRequest", text))
    return tuple(raises)
