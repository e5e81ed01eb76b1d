"""The hand-written API definition (``api.toml``), parsed and shape-checked.

This module only reads data; :mod:`tools.codegen.model` joins it with what
introspection finds in the installed ibapi.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

__all__ = [
    "DEFAULT_PATH",
    "Callback",
    "CancelSpec",
    "Definition",
    "DefinitionError",
    "Entry",
    "ParamDecl",
    "Request",
    "load",
    "parse",
]

DEFAULT_PATH = Path(__file__).with_name("api.toml")
_REPO_ROOT = Path(__file__).resolve().parents[2]

Kind = Literal["one_shot", "stream", "flag", "send"]


class DefinitionError(Exception):
    """The definition is malformed or disagrees with the installed ibapi."""


@dataclass(frozen=True)
class ParamDecl:
    """A hand-written parameter, for methods the installed ibapi lacks."""

    name: str
    type: str


@dataclass(frozen=True)
class Entry:
    """A classified but not generated name: plumbing, cancel, ignored."""

    name: str
    reason: str
    added_in: str | None = None
    removed_in: str | None = None
    cancel_of: str | None = None


@dataclass(frozen=True)
class CancelSpec:
    """How a request is cancelled: a method and, optionally, explicit arguments.

    ``args`` items are ``"REQ_ID"``, an ibapi parameter name of the request, or
    ``("const", python_source)``; ``None`` means "derive from the method's
    parameter names".
    """

    method: str
    args: tuple[str | tuple[str, str], ...] | None = None


@dataclass(frozen=True)
class Request:
    """An exposed ``EClient`` request."""

    name: str
    kind: Kind
    mode: Literal["list", "single"] | None = None
    key: str = "req_id"
    answers: tuple[str, ...] = ()
    cancel: CancelSpec | None = None
    flag: str | None = None
    stream_when: bool | None = None
    consts: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, str] = field(default_factory=dict)
    docs: Mapping[str, str] = field(default_factory=dict)
    summary: str | None = None
    notes: str | None = None
    public_ids: bool = False
    added_in: str | None = None
    removed_in: str | None = None
    params: tuple[ParamDecl, ...] | None = None
    cancel_when_answered: bool = False


@dataclass(frozen=True)
class Callback:
    """A routed ``EWrapper`` callback."""

    name: str
    key: str | None = None
    channel: str | None = None
    fallback: str | None = None
    end: bool = False
    keep: bool = False
    done: str | None = None
    final: bool = False
    types: Mapping[str, str] = field(default_factory=dict)
    docs: Mapping[str, str] = field(default_factory=dict)
    alias_of: str | None = None
    added_in: str | None = None
    removed_in: str | None = None
    params: tuple[ParamDecl, ...] | None = None


@dataclass(frozen=True)
class Definition:
    """The whole definition."""

    generation_version: str
    distributions: tuple[str, ...]
    versions: tuple[str, ...]
    words: tuple[str, ...]
    extra_class_names: tuple[str, ...]
    classes_added_in: Mapping[str, str]
    clash_suffix: str
    id_params: tuple[str, ...]
    client_types: Mapping[str, str]
    client_docs: Mapping[str, str]
    client_plumbing_suffixes: Mapping[str, str]
    client_plumbing: Mapping[str, Entry]
    client_cancel: Mapping[str, Entry]
    requests: Mapping[str, Request]
    wrapper_ignored_suffixes: Mapping[str, str]
    wrapper_ignored: Mapping[str, Entry]
    callbacks: Mapping[str, Callback]
    source: str = "tools/codegen/api.toml"


def load(path: Path = DEFAULT_PATH) -> Definition:
    """Read and parse the definition file."""
    data = _read_toml(path)
    try:
        source = path.resolve().relative_to(_REPO_ROOT).as_posix()
    except ValueError:
        source = path.as_posix()
    return parse(data, source=source)


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib

        with path.open("rb") as f:
            return tomllib.load(f)
    raise DefinitionError("tools.codegen needs Python >= 3.11 (tomllib)")  # pragma: no cover


def _table(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise DefinitionError(f"{where}.{key} must be a table")
    return cast(dict[str, Any], value)


def _check_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise DefinitionError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _str_map(data: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    table = _table(data, key, where)
    for name, value in table.items():
        if not isinstance(value, str):
            raise DefinitionError(f"{where}.{key}.{name} must be a string")
    return cast(dict[str, str], table)


def _opt_str(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise DefinitionError(f"{where}.{key} must be a string")
    return value


def _str_tuple(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DefinitionError(f"{where}.{key} must be a list of strings")
    return tuple(cast(list[str], value))


def _params(data: Mapping[str, Any], where: str) -> tuple[ParamDecl, ...] | None:
    value = data.get("params")
    if value is None:
        return None
    if not isinstance(value, list):
        raise DefinitionError(f"{where}.params must be a list of tables")
    result = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise DefinitionError(f"{where}.params[{i}] must be a table")
        _check_keys(item, {"name", "type"}, f"{where}.params[{i}]")
        name, type_ = item.get("name"), item.get("type")
        if not isinstance(name, str) or not isinstance(type_, str):
            raise DefinitionError(f"{where}.params[{i}] needs string name and type")
        result.append(ParamDecl(name, type_))
    return tuple(result)


def _entries(table: Mapping[str, Any], where: str, *, cancel: bool = False) -> dict[str, Entry]:
    entries = {}
    for name, value in table.items():
        if isinstance(value, str):
            value = {"cancel_of": value} if cancel else {"reason": value}
        if not isinstance(value, dict):
            raise DefinitionError(f"{where}.{name} must be a string or a table")
        here = f"{where}.{name}"
        _check_keys(value, {"reason", "added_in", "removed_in", "cancel_of"}, here)
        cancel_of = _opt_str(value, "cancel_of", here)
        reason = _opt_str(value, "reason", here)
        if cancel and cancel_of is None:
            raise DefinitionError(f"{here} needs cancel_of")
        if reason is None:
            if cancel_of is None:
                raise DefinitionError(f"{here} needs a reason")
            reason = f"cancel of {cancel_of}"
        entries[name] = Entry(
            name=name,
            reason=reason,
            added_in=_opt_str(value, "added_in", here),
            removed_in=_opt_str(value, "removed_in", here),
            cancel_of=cancel_of,
        )
    return entries


def _cancel(value: object, where: str) -> CancelSpec | None:
    if value is None:
        return None
    if isinstance(value, str):
        return CancelSpec(value)
    if not isinstance(value, dict):
        raise DefinitionError(f"{where}.cancel must be a string or a table")
    _check_keys(value, {"method", "args"}, f"{where}.cancel")
    method, raw_args = value.get("method"), value.get("args")
    if not isinstance(method, str):
        raise DefinitionError(f"{where}.cancel.method must be a string")
    if raw_args is None:
        return CancelSpec(method)
    if not isinstance(raw_args, list):
        raise DefinitionError(f"{where}.cancel.args must be a list")
    args: list[str | tuple[str, str]] = []
    for arg in raw_args:
        if isinstance(arg, str):
            args.append(arg)
        elif isinstance(arg, dict) and set(arg) == {"const"} and isinstance(arg["const"], str):
            args.append(("const", arg["const"]))
        else:
            raise DefinitionError(f"{where}.cancel.args: bad item {arg!r}")
    return CancelSpec(method, tuple(args))


_REQUEST_KEYS = {
    "kind",
    "mode",
    "key",
    "answers",
    "cancel",
    "flag",
    "stream_when",
    "consts",
    "defaults",
    "docs",
    "summary",
    "notes",
    "public_ids",
    "added_in",
    "removed_in",
    "params",
    "cancel_when_answered",
}


def _request(name: str, data: Mapping[str, Any]) -> Request:
    where = f"client.requests.{name}"
    _check_keys(data, _REQUEST_KEYS, where)
    kind = data.get("kind")
    if kind not in ("one_shot", "stream", "flag", "send"):
        raise DefinitionError(f"{where}.kind must be one_shot, stream, flag or send")
    mode = data.get("mode")
    if kind in ("one_shot", "flag"):
        if mode not in ("list", "single"):
            raise DefinitionError(f"{where}.mode must be list or single")
    elif mode is not None:
        raise DefinitionError(f"{where}.mode is only for one_shot and flag requests")
    flag, stream_when = data.get("flag"), data.get("stream_when")
    if (kind == "flag") != (isinstance(flag, str) and isinstance(stream_when, bool)):
        raise DefinitionError(f"{where}: flag and stream_when go with kind = 'flag' (only)")
    if kind == "send" and data.get("answers"):
        raise DefinitionError(f"{where}: a send request has no answers")
    if kind != "send" and not data.get("answers"):
        raise DefinitionError(f"{where}: answers is required")
    public_ids = data.get("public_ids", False)
    if not isinstance(public_ids, bool):
        raise DefinitionError(f"{where}.public_ids must be a boolean")
    cancel_when_answered = data.get("cancel_when_answered", False)
    if not isinstance(cancel_when_answered, bool):
        raise DefinitionError(f"{where}.cancel_when_answered must be a boolean")
    if cancel_when_answered and (mode != "single" or kind != "one_shot" or "cancel" not in data):
        raise DefinitionError(
            f"{where}: cancel_when_answered needs a single one_shot with a cancel"
        )
    return Request(
        name=name,
        kind=kind,
        mode=mode,
        key=_opt_str(data, "key", where) or "req_id",
        answers=_str_tuple(data, "answers", where),
        cancel=_cancel(data.get("cancel"), where),
        cancel_when_answered=cancel_when_answered,
        flag=flag,
        stream_when=stream_when,
        consts=_str_map(data, "consts", where),
        defaults=_str_map(data, "defaults", where),
        docs=_str_map(data, "docs", where),
        summary=_opt_str(data, "summary", where),
        notes=_opt_str(data, "notes", where),
        public_ids=public_ids,
        added_in=_opt_str(data, "added_in", where),
        removed_in=_opt_str(data, "removed_in", where),
        params=_params(data, where),
    )


_CALLBACK_KEYS = {
    "key",
    "channel",
    "fallback",
    "end",
    "keep",
    "done",
    "final",
    "types",
    "docs",
    "alias_of",
    "added_in",
    "removed_in",
    "params",
}


def _callback(name: str, data: Mapping[str, Any]) -> Callback:
    where = f"wrapper.callbacks.{name}"
    if not isinstance(data, dict):
        raise DefinitionError(f"{where} must be a table")
    _check_keys(data, _CALLBACK_KEYS, where)
    key, channel, alias_of = (_opt_str(data, k, where) for k in ("key", "channel", "alias_of"))
    if sum(x is not None for x in (key, channel, alias_of)) != 1:
        raise DefinitionError(f"{where}: give exactly one of key, channel, alias_of")
    end = data.get("end", False)
    if not isinstance(end, bool):
        raise DefinitionError(f"{where}.end must be a boolean")
    keep = data.get("keep", False)
    if not isinstance(keep, bool):
        raise DefinitionError(f"{where}.keep must be a boolean")
    if keep and not end:
        raise DefinitionError(f"{where}: keep applies to end callbacks only")
    final = data.get("final", False)
    if not isinstance(final, bool):
        raise DefinitionError(f"{where}.final must be a boolean")
    if final and end:
        raise DefinitionError(f"{where}: give at most one of end, final")
    return Callback(
        name=name,
        key=key,
        channel=channel,
        fallback=_opt_str(data, "fallback", where),
        end=end,
        keep=keep,
        done=_opt_str(data, "done", where),
        final=final,
        types=_str_map(data, "types", where),
        docs=_str_map(data, "docs", where),
        alias_of=alias_of,
        added_in=_opt_str(data, "added_in", where),
        removed_in=_opt_str(data, "removed_in", where),
        params=_params(data, where),
    )


def parse(data: Mapping[str, Any], *, source: str = "tools/codegen/api.toml") -> Definition:
    """Build a :class:`Definition` from parsed TOML data."""
    _check_keys(data, {"meta", "client", "wrapper"}, "definition")
    meta = _table(data, "meta", "definition")
    client = _table(data, "client", "definition")
    wrapper = _table(data, "wrapper", "definition")
    _check_keys(
        meta,
        {
            "generation_version",
            "distributions",
            "versions",
            "words",
            "extra_class_names",
            "classes_added_in",
            "clash_suffix",
            "id_params",
        },
        "meta",
    )
    _check_keys(
        client, {"types", "docs", "plumbing_suffixes", "plumbing", "cancel", "requests"}, "client"
    )
    _check_keys(wrapper, {"ignored_suffixes", "ignored", "callbacks"}, "wrapper")
    generation_version = _opt_str(meta, "generation_version", "meta")
    if generation_version is None:
        raise DefinitionError("meta.generation_version is required")
    versions = _str_tuple(meta, "versions", "meta")
    if generation_version not in versions:
        raise DefinitionError("meta.versions must list meta.generation_version")
    requests = _table(client, "requests", "client")
    callbacks = _table(wrapper, "callbacks", "wrapper")
    return Definition(
        generation_version=generation_version,
        distributions=_str_tuple(meta, "distributions", "meta"),
        versions=versions,
        words=_str_tuple(meta, "words", "meta"),
        extra_class_names=_str_tuple(meta, "extra_class_names", "meta"),
        classes_added_in=_str_map(meta, "classes_added_in", "meta"),
        clash_suffix=_opt_str(meta, "clash_suffix", "meta") or "Item",
        id_params=_str_tuple(meta, "id_params", "meta"),
        client_types=_str_map(client, "types", "client"),
        client_docs=_str_map(client, "docs", "client"),
        client_plumbing_suffixes=_str_map(client, "plumbing_suffixes", "client"),
        client_plumbing=_entries(_table(client, "plumbing", "client"), "client.plumbing"),
        client_cancel=_entries(_table(client, "cancel", "client"), "client.cancel", cancel=True),
        requests={name: _request(name, value) for name, value in requests.items()},
        wrapper_ignored_suffixes=_str_map(wrapper, "ignored_suffixes", "wrapper"),
        wrapper_ignored=_entries(_table(wrapper, "ignored", "wrapper"), "wrapper.ignored"),
        callbacks={name: _callback(name, value) for name, value in callbacks.items()},
        source=source,
    )
