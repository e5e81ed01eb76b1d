"""Docstrings of generated classes and methods, wrapped to the line length.

ruff format does not wrap docstrings, so the generator does.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from .model import Item, RequestModel

__all__ = ["item_docstring", "request_docstring"]

LINE_LENGTH = 100


def _fill(text: str, indent: str, hanging: str | None = None) -> list[str]:
    return textwrap.wrap(
        text,
        width=LINE_LENGTH,
        initial_indent=indent,
        subsequent_indent=indent if hanging is None else hanging,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _section(title: str, entries: Iterable[tuple[str, str]], indent: str) -> list[str]:
    lines = ["", f"{indent}{title}:"]
    for name, text in entries:
        lines += _fill(f"{name}: {text}", indent + "    ", indent + "        ")
    return lines


def _summary(text: str, indent: str) -> list[str]:
    """The first paragraph; its first line carries the opening quotes."""
    lines = _fill(text, indent + '"""', indent)
    lines[0] = indent + lines[0][len(indent) + 3 :]
    return lines


def _docstring(lines: list[str], indent: str) -> str:
    """Join docstring lines (the first one without its indent) and add the quotes."""
    first = lines[0][len(indent) :]
    body = "\n".join(line.rstrip() for line in lines[1:])
    if not body:
        return f'"""{first}"""'
    return f'"""{first}\n{body}\n{indent}"""'


def item_docstring(item: Item, indent: str = "    ") -> str:
    """The class docstring of an item: callback, requests, ``Attributes:``."""
    lines = _summary(f"``EWrapper.{item.callback}``: {item.summary}", indent)
    if item.answers:
        answers = ", ".join(f"``{name}()``" for name in item.answers)
        role = "Ends" if item.end else "Answers"
        text = f"{role} {answers}."
    else:
        text = "Unsolicited: answers no request; delivered to its channel's subscriber, if any."
    lines += [
        "",
        *_fill(
            f"{text} Immutable by convention: not frozen, because frozen attrs classes cost"
            " three times as much to build on the hot path.",
            indent,
        ),
    ]
    if item.fields:
        lines += _section("Attributes", ((f.name, f.doc) for f in item.fields), indent)
    return _docstring(lines, indent)


def request_docstring(request: RequestModel, indent: str = "        ") -> str:
    """The Google-style docstring of a generated request method."""
    lines = _summary(request.summary, indent)
    paragraph = f"Sends ``EClient.{request.method}``."
    if request.added_in:
        paragraph += f" Needs ibapi >= {request.added_in}."
    if request.removed_in:
        paragraph += f" Only in ibapi < {request.removed_in}."
    if request.notes:
        paragraph += f" {request.notes}"
    lines += ["", *_fill(paragraph, indent)]
    if request.params:
        lines += _section("Args", ((p.name, p.doc) for p in request.params), indent)
    if request.returns:
        lines += ["", f"{indent}Returns:", *_fill(request.returns, indent + "    ")]
    lines += _section("Raises", request.raises, indent)
    return _docstring(lines, indent)
