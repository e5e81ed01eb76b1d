"""Name mapping between ibapi's camelCase and the generated Python names."""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable

__all__ = ["camel_case", "constant_case", "snake_case"]

_ACRONYM_RUN = re.compile(r"([A-Z]+)([A-Z][a-z])")
_LOWER_UPPER = re.compile(r"([a-z0-9])([A-Z])")


def snake_case(name: str, words: Iterable[str] = ()) -> str:
    """``reqPnL`` → ``req_pnl``, ``requestFA`` → ``request_fa``, ``open_`` → ``open_``.

    ``words`` are mixed-case words kept together (ibapi's ``PnL``); a Python
    keyword gets a trailing underscore.
    """
    for word in sorted(words, key=len, reverse=True):
        name = name.replace(word, word.capitalize())
    name = _ACRONYM_RUN.sub(r"\1_\2", name)
    name = _LOWER_UPPER.sub(r"\1_\2", name)
    name = name.lower()
    if keyword.iskeyword(name):
        name += "_"
    return name


def camel_case(name: str) -> str:
    """``tickPrice`` → ``TickPrice``: ibapi's name with its first letter upper-cased."""
    return name[:1].upper() + name[1:]


def constant_case(name: str, words: Iterable[str] = ()) -> str:
    """``reqMktData`` → ``_REQ_MKT_DATA``, the name of a request's spec constant."""
    return "_" + snake_case(name, words).upper().rstrip("_")
