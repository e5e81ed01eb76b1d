"""What the installed ibapi has: its version, public methods, classes, signatures.

Only ``importlib.metadata`` and ``inspect``: never parsing ibapi's source.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = [
    "IbapiSignature",
    "doc_params",
    "doc_summary",
    "ibapi_class_index",
    "installed_version",
    "public_methods",
    "signature",
    "version_key",
]


def installed_version(distributions: Iterable[str]) -> tuple[str, str] | None:
    """The first of ``distributions`` that is installed, and its version."""
    installed = {dist.metadata["Name"].lower() for dist in importlib.metadata.distributions()}
    for dist in distributions:
        if dist.lower() in installed:
            return dist, importlib.metadata.version(dist)
    return None


def version_key(version: str) -> tuple[int, ...]:
    """``"9.81.1.post1"`` → ``(9, 81, 1, 1)``: orders the releases we support."""
    return tuple(int(part) for part in re.findall(r"\d+", version))


def public_methods(cls: type) -> list[str]:
    """The sorted public method names of ``cls`` (inherited ones included)."""
    return sorted(
        name for name in dir(cls) if not name.startswith("_") and callable(getattr(cls, name))
    )


@dataclass(frozen=True)
class IbapiSignature:
    """A method's parameters (without ``self``) and their annotations.

    An annotation is ``None`` when ibapi gives none.
    """

    params: tuple[tuple[str, object], ...]
    doc: str


def signature(cls: type, name: str) -> IbapiSignature:
    """The signature of ``cls.name`` from ``inspect.signature``."""
    func: Callable[..., object] = getattr(cls, name)
    params = []
    for param in list(inspect.signature(func).parameters.values())[1:]:
        annotation = None if param.annotation is inspect.Parameter.empty else param.annotation
        params.append((param.name, annotation))
    return IbapiSignature(tuple(params), inspect.getdoc(func) or "")


def ibapi_class_index() -> dict[str, str]:
    """Class name → defining module, for every class in ibapi's own modules.

    The generated ``ibapi.protobuf`` package is left out: its message classes
    are not part of the API that callbacks expose.
    """
    import ibapi

    index: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules(ibapi.__path__), key=lambda m: m.name):
        if info.ispkg:
            continue
        module = importlib.import_module(f"ibapi.{info.name}")
        for name, obj in sorted(vars(module).items()):
            if inspect.isclass(obj) and obj.__module__ == module.__name__:
                index[name] = module.__name__
    return index


_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def doc_summary(doc: str) -> str | None:
    """The first sentence of a docstring, made imperative-ish, or ``None``.

    ``"Call this function to request market data. ..."`` → ``"Request market data."``
    """
    paragraph = doc.strip().split("\n\n", 1)[0]
    text = " ".join(paragraph.split())
    if not text or text == "None":
        return None
    sentence = _SENTENCE_END.split(text, maxsplit=1)[0]
    for prefix in ("Call this function to ", "Call this method to ", "Call this to "):
        if sentence.startswith(prefix):
            sentence = sentence[len(prefix) :]
            sentence = sentence[:1].upper() + sentence[1:]
    if not sentence.endswith((".", "!", "?")):
        sentence += "."
    return sentence


def doc_params(doc: str, names: Iterable[str]) -> dict[str, str]:
    """Descriptions of ``names`` from ibapi's ``name:type - description`` doc lines."""
    wanted = set(names)
    result: dict[str, str] = {}
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        head, sep, rest = stripped.partition(":")
        head = head.strip()
        if not sep or head not in wanted or head in result:
            continue
        _, dash, text = rest.partition("-")
        if not dash:
            continue
        indent = len(line) - len(line.lstrip())
        parts = [text.strip()]
        for follow in lines[i + 1 :]:
            if not follow.strip() or len(follow) - len(follow.lstrip()) <= indent:
                break
            parts.append(follow.strip())
        description = " ".join(p for p in parts if p)
        if description:
            if not description.endswith("."):
                description += "."
            result[head] = description[:1].upper() + description[1:]
    return result


PROTOBUF_SUFFIX = "ProtoBuf"


def _code_names(cls: type, name: str) -> frozenset[str]:
    """The global and attribute names the code of ``cls.name`` uses (its bytecode's
    ``co_names``: what it calls, not its source text)."""
    code = getattr(getattr(cls, name, None), "__code__", None)
    return frozenset(code.co_names) if code is not None else frozenset()


def protobuf_only(client_cls: type, wrapper_cls: type) -> frozenset[str]:
    """The ``*ProtoBuf`` methods that are requests or callbacks of their own.

    ibapi 10.x pairs most classic methods with a protobuf variant: ``reqMktDepth``
    calls ``reqMarketDepthProtoBuf`` (the names do not always match), and the decoder
    that calls ``contractDataProtoBuf`` also calls the classic ``contractDetails``.
    An ``EClient`` ``*ProtoBuf`` method that no other ``EClient`` method calls, and an
    ``EWrapper`` one whose decoder calls no classic callback, have no classic twin
    (``reqConfigProtoBuf``, ``configResponseProtoBuf``: TWS's API configuration).
    """
    only: set[str] = set()
    client_names = public_methods(client_cls)
    for name in client_names:
        if name.endswith(PROTOBUF_SUFFIX) and not any(
            name in _code_names(client_cls, other) for other in client_names if other != name
        ):
            only.add(name)
    try:
        from ibapi.decoder import Decoder
    except ImportError:  # pragma: no cover - 9.81 has no protobuf callbacks
        return frozenset(only)
    wrapper_names = public_methods(wrapper_cls)
    classic = {n for n in wrapper_names if not n.endswith(PROTOBUF_SUFFIX)}
    decoders = [_code_names(Decoder, n) for n in dir(Decoder) if n.startswith("process")]
    for name in wrapper_names:
        if not name.endswith(PROTOBUF_SUFFIX):
            continue
        callers = [names for names in decoders if name in names]
        if callers and not any(names & classic for names in callers):
            only.add(name)
    return frozenset(only)
