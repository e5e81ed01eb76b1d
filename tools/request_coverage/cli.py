"""Render the request coverage table from a test run's observations.

Prints the table (markdown) and its totals, writes it to ``--out``, and exits 1 when a
request misses a column without a reason, a reason is stale, or the inputs disagree.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .table import ReasonsError, Table, build, observed_from_json, parse_reasons, render_markdown

__all__ = ["DEFAULT_REASONS", "load_reasons", "main"]

DEFAULT_REASONS = Path(__file__).with_name("reasons.toml")


def load_reasons(path: Path) -> dict[str, dict[str, str]]:
    """The reasons file, checked (:func:`.table.parse_reasons`)."""
    if sys.version_info >= (3, 11):
        import tomllib

        with path.open("rb") as f:
            return parse_reasons(tomllib.load(f), _shown(path))
    raise ReasonsError("tools.request_coverage needs Python >= 3.11 (tomllib)")  # pragma: no cover


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def make_table(observed_path: Path, reasons_path: Path) -> Table:
    """The table for the installed ibapi and one test run's observations."""
    from .gather import installed_requests

    version, requests, problems = installed_requests()
    data = json.loads(observed_path.read_text(encoding="utf-8"))
    if data.get("ibapi") != version:
        problems.append(
            f"{observed_path}: observed with ibapi {data.get('ibapi')}, installed {version}"
        )
    table = build(
        version,
        requests,
        observed_from_json(data),
        load_reasons(reasons_path),
        reasons_source=_shown(reasons_path),
    )
    return Table(table.version, table.rows, (*problems, *table.problems))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.request_coverage", description=__doc__)
    parser.add_argument("--observed", type=Path, required=True, help="the JSON the test run wrote")
    parser.add_argument("--reasons", type=Path, default=DEFAULT_REASONS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args(argv)
    try:
        table = make_table(args.observed, args.reasons)
    except (OSError, ValueError, ReasonsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    markdown = render_markdown(table)
    sys.stdout.write(markdown)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(markdown, encoding="utf-8")
        print(f"written: {args.out}")
    totals = table.totals()
    print(
        "request coverage: " + ", ".join(f"{name} {count}" for name, count in totals.items()),
        flush=True,
    )
    if table.problems:
        print(
            f"request coverage: {len(table.problems)} problem(s), listed under Problems above:"
            f" cover the request or give the reason in {_shown(args.reasons)}",
            file=sys.stderr,
        )
        return 1
    return 0
