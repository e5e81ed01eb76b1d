"""``python -m tools.codegen``: generate, ``--check`` or ``--report``.

Exit status: 0 success / identical; 1 ``--check`` found differences or
``--report`` found unclassified names; 2 the installed ibapi is not the pinned
generation version, or the definition disagrees with it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import definition as definition_module
from .model import Classification, GenerationError, build_model, classify

__all__ = ["DEFAULT_OUT", "format_report", "main"]

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "src" / "ib_anyio" / "_generated"

_CATEGORIES = {
    "EClient": ("exposed", "cancel", "plumbing"),
    "EWrapper": ("routed", "ignored"),
}


def _ibapi_classes() -> tuple[type, type]:
    from ibapi.client import EClient
    from ibapi.wrapper import EWrapper

    return EClient, EWrapper


def format_report(classification: Classification, version: str) -> str:
    """The coverage table and the totals lines."""
    lines = [f"ibapi {version}"]
    lines += [
        f"  {row.owner + '.' + row.name:<52} {row.category:<12} {row.detail}"
        for row in classification.rows
    ]
    lines += [f"problem: {problem}" for problem in classification.problems]
    for owner, categories in _CATEGORIES.items():
        classified, total, counts = classification.totals(owner)
        share = 100.0 * classified / total if total else 100.0
        parts = ", ".join(f"{c} {counts.get(c, 0)}" for c in categories)
        unclassified = counts.get("unclassified", 0)
        if unclassified:
            parts += f", unclassified {unclassified}"
        lines.append(f"{owner}: {classified}/{total} classified ({share:.1f}%) — {parts}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.codegen", description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="compare, do not write")
    group.add_argument("--report", action="store_true", help="coverage of the installed ibapi")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument(
        "--definition", type=Path, default=definition_module.DEFAULT_PATH, help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)

    try:
        defn = definition_module.load(args.definition)
    except definition_module.DefinitionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from .introspect import ibapi_class_index, installed_version

    found = installed_version(defn.distributions)
    if found is None:
        print(
            f"error: no ibapi installed (looked for {', '.join(defn.distributions)})",
            file=sys.stderr,
        )
        return 2
    dist, version = found
    client_cls, wrapper_cls = _ibapi_classes()

    if args.report:
        classification = classify(defn, client_cls, wrapper_cls, version)
        sys.stdout.write(format_report(classification, f"{version} ({dist})"))
        return 1 if classification.problems else 0

    if version != defn.generation_version:
        print(
            f"error: generation needs ibapi {defn.generation_version} (the pinned generation"
            f" version); installed: {dist} {version}. Use --report to check another version.",
            file=sys.stderr,
        )
        return 2
    try:
        model = build_model(
            defn, client_cls, wrapper_cls, version=version, class_index=ibapi_class_index()
        )
    except GenerationError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2

    from .render import check, render, write

    files = render(model)
    if args.check:
        problems = check(files, args.out)
        for problem in problems:
            print(problem)
        if problems:
            print(f"{len(problems)} generated file(s) differ; run: uv run python -m tools.codegen")
            return 1
        print(f"{args.out}: {len(files)} files up to date")
        return 0
    for line in write(files, args.out) or ["nothing changed"]:
        print(line)
    return 0
