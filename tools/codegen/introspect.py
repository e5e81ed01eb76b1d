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
