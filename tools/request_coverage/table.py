"""The table itself: requests, what was observed, the reasons file; rows, problems, markdown.

Pure functions of plain data, so that they are tested without ibapi or a test run
(:mod:`.gather` collects the inputs from the installed ibapi, the definition and the
simulator; :mod:`.observe` records what the tests sent).

A request is *covered* when all four columns hold:

* exposed: the client has a method for it (generated, hand-written, or the cancel a
  stream sends when it closes);
* simulated: the simulator has a handler for its message id, or the request is one TWS
  never answers (cancels) and the simulator accepts it silently;
* text, protobuf: a test sent it through ``ib_anyio.connect`` to a simulated TWS that
  negotiated a text (< 201) or protobuf (>= 201) encoding for it, and the simulator
  dispatched it without answering "not supported" (10999).

Every column a request misses needs a reason: in the reasons file (keyed by column, or
``all``), or for ``exposed`` the definition's plumbing entry for the method. A reason for
a column that holds is stale, and a reason for a request ibapi does not have is unknown:
both are problems, as is a gap without a reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "COLUMNS",
    "Observed",
    "ReasonsError",
    "Request",
    "Row",
    "Table",
    "build",
    "observed_from_json",
    "parse_reasons",
    "render_markdown",
]

COLUMNS = ("exposed", "simulated", "text", "protobuf")
_ALL = "all"


class ReasonsError(ValueError):
    """The reasons file is malformed."""


@dataclass(frozen=True)
class Request:
    """One request of the installed ibapi (one outgoing message id).

    Attributes:
        name: EClient's name (``reqMktData``; ``reqConfig`` for ``reqConfigProtoBuf``).
        msg_id: Its outgoing message id (``ibapi.message.OUT``).
        exposed: How the client exposes it (``"req_mkt_data"``, ``"cancel of
            req_mkt_data"``), ``None`` when it does not.
        plumbing: The definition's reason for not exposing the method, if it names it.
        handler: The simulator has a handler for the message id.
        silent: TWS never answers it and the simulator accepts it without an answer.
    """

    name: str
    msg_id: int
    exposed: str | None
    plumbing: str | None
    handler: bool
    silent: bool


@dataclass(frozen=True)
class Observed:
    """Server versions at which tests sent a request and the simulator answered it:
    through ``ib_anyio.connect`` (end to end), and only from ibapi's own ``EClient`` (the
    simulator's tests; shown, but not counted)."""

    text: tuple[int, ...] = ()
    protobuf: tuple[int, ...] = ()
    eclient_text: tuple[int, ...] = ()
    eclient_protobuf: tuple[int, ...] = ()


@dataclass(frozen=True)
class Row:
    """One request's line: what holds, and why not where it does not."""

    request: Request
    observed: Observed
    holds: Mapping[str, bool]
    why: Mapping[str, str]  # missing column -> reason (explained gaps only)

    @property
    def covered(self) -> bool:
        return all(self.holds.values())

    @property
    def explained(self) -> bool:
        """Not covered, but every gap has a reason."""
        return not self.covered and all(c in self.why for c, ok in self.holds.items() if not ok)


@dataclass(frozen=True)
class Table:
    """Every row, sorted by message id, and the problems that fail the session."""

    version: str
    rows: tuple[Row, ...]
    problems: tuple[str, ...]

    def totals(self) -> dict[str, int]:
        """Requests, each column's count, covered, explained, unexplained."""
        counts = {"requests": len(self.rows)}
        for column in COLUMNS:
            counts[column] = sum(row.holds[column] for row in self.rows)
        counts["covered"] = sum(row.covered for row in self.rows)
        counts["explained"] = sum(row.explained for row in self.rows)
        counts["unexplained"] = len(self.rows) - counts["covered"] - counts["explained"]
        return counts


def parse_reasons(data: Mapping[str, object], source: str) -> dict[str, dict[str, str]]:
    """The reasons file's tables: request name -> {column or ``all``: reason}."""
    reasons: dict[str, dict[str, str]] = {}
    for name, entry in data.items():
        if not isinstance(entry, Mapping):
            raise ReasonsError(f"{source}: [{name}] must be a table of column = reason")
        reasons[name] = {}
        for column, reason in entry.items():
            if column not in (*COLUMNS, _ALL):
                raise ReasonsError(
                    f"{source}: [{name}] {column}: not a column"
                    f" (one of {', '.join((*COLUMNS, _ALL))})"
                )
            if not isinstance(reason, str) or not reason.strip():
                raise ReasonsError(f"{source}: [{name}] {column}: the reason must be a text")
            reasons[name][column] = reason.strip()
    return reasons


def observed_from_json(data: Mapping[str, object]) -> dict[str, Observed]:
    """What :mod:`.observe` wrote, reduced to the versions at which a request was answered
    (neither "not supported", undecodable nor held back by ``server.ignore``), by client
    (``ib_anyio`` or ibapi's ``EClient``) and encoding."""
    entries = data.get("observations", [])
    if not isinstance(entries, list):
        raise ValueError("observations must be a list")
    seen: dict[tuple[str, str, bool], set[int]] = {}
    for entry in entries:
        if entry["outcome"] == "answered":
            key = (entry["request"], entry["client"], bool(entry["protobuf"]))
            seen.setdefault(key, set()).add(int(entry["version"]))

    def versions(name: str, client: str, protobuf: bool) -> tuple[int, ...]:
        return tuple(sorted(seen.get((name, client, protobuf), ())))

    return {
        name: Observed(
            versions(name, "ib_anyio", False),
            versions(name, "ib_anyio", True),
            versions(name, "ibapi", False),
            versions(name, "ibapi", True),
        )
        for name in sorted({key[0] for key in seen})
    }


def build(
    version: str,
    requests: Iterable[Request],
    observed: Mapping[str, Observed],
    reasons: Mapping[str, Mapping[str, str]],
    *,
    reasons_source: str = "reasons.toml",
) -> Table:
    """Join the requests with what the tests observed and the reasons."""
    rows: list[Row] = []
    by_name = {request.name: request for request in requests}
    problems = [
        f"{reasons_source}: [{name}] is not a request of ibapi {version}"
        for name in sorted(set(reasons) - set(by_name))
    ]
    for request in sorted(by_name.values(), key=lambda r: r.msg_id):
        seen = observed.get(request.name, Observed())
        holds = {
            "exposed": request.exposed is not None,
            "simulated": request.handler or request.silent,
            "text": bool(seen.text),
            "protobuf": bool(seen.protobuf),
        }
        given = reasons.get(request.name, {})
        why: dict[str, str] = {}
        unexplained: list[str] = []
        for column, ok in holds.items():
            reason = given.get(column) or given.get(_ALL)
            if column == "exposed" and reason is None:
                reason = request.plumbing
            if ok:
                if column in given:
                    problems.append(
                        f"{reasons_source}: [{request.name}] {column}: stale, it holds now:"
                        " remove the reason"
                    )
            elif reason is None:
                unexplained.append(_missing(column))
            else:
                why[column] = reason
        if unexplained:
            problems.append(
                f"{request.name}: {', '.join(unexplained)}, and no reason in {reasons_source}"
            )
        if _ALL in given and all(holds.values()):
            problems.append(
                f"{reasons_source}: [{request.name}] all: stale, it is covered now:"
                " remove the reason"
            )
        rows.append(Row(request, seen, holds, why))
    return Table(version, tuple(rows), tuple(problems))


def _missing(column: str) -> str:
    return {
        "exposed": "not exposed by the client",
        "simulated": "not simulated",
        "text": "not tested end to end at a text version",
        "protobuf": "not tested end to end at a protobuf version",
    }[column]


def _versions(versions: Sequence[int]) -> str:
    if len(versions) <= 3:
        return ", ".join(map(str, versions))
    return f"{versions[0]}…{versions[-1]} ({len(versions)})"


def _cells(row: Row) -> list[str]:
    request = row.request
    exposed = f"✓ `{request.exposed}`" if request.exposed else "✗"
    if request.handler:
        simulated = "✓"
    elif request.silent:
        simulated = "✓ silent"
    else:
        simulated = "✗"
    seen = row.observed
    return [
        exposed,
        simulated,
        _tested(seen.text, seen.eclient_text),
        _tested(seen.protobuf, seen.eclient_protobuf),
    ]


def _tested(versions: Sequence[int], eclient: Sequence[int]) -> str:
    if versions:
        return f"✓ {_versions(versions)}"
    if eclient:
        return f"✗ (EClient only: {_versions(eclient)})"
    return "✗"


def _why(row: Row) -> str:
    if row.covered:
        return ""
    missing = [column for column, ok in row.holds.items() if not ok]
    if not row.explained:
        return "**unexplained**: " + ", ".join(c for c in missing if c not in row.why)
    # one reason for several columns is said once
    parts: dict[str, list[str]] = {}
    for column in missing:
        parts.setdefault(row.why[column], []).append(column)
    if len(parts) == 1 and len(missing) == len(COLUMNS):
        return next(iter(parts))
    return "; ".join(f"{'/'.join(columns)}: {reason}" for reason, columns in parts.items())


def render_markdown(table: Table) -> str:
    """The table as markdown: a header line, the totals, one line per request, problems."""
    totals = table.totals()
    lines = [
        f"# Request coverage: ibapi {table.version}",
        "",
        "Exposed by the client, simulated, and tested end to end through `ib_anyio.connect`"
        ' as text and as protobuf (at the server versions shown; "EClient only":'
        " only the simulator's own tests, with ibapi's `EClient`, sent it). Made by"
        " `nox -s coverage`; see docs/sim.md.",
        "",
        _totals_line(totals),
        "",
        "| request | id | exposed | simulated | text | protobuf | why not |",
        "|---|---:|---|---|---|---|---|",
    ]
    for row in table.rows:
        cells = [f"`{row.request.name}`", str(row.request.msg_id), *_cells(row), _why(row)]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    if table.problems:
        lines += ["", "## Problems", ""]
        lines += [f"- {problem}" for problem in table.problems]
    return "\n".join(lines) + "\n"


def _totals_line(totals: Mapping[str, int]) -> str:
    return (
        f"{totals['requests']} requests: {totals['exposed']} exposed,"
        f" {totals['simulated']} simulated, {totals['text']} tested at a text version,"
        f" {totals['protobuf']} at a protobuf version; {totals['covered']} covered,"
        f" {totals['explained']} explained, {totals['unexplained']} unexplained."
    )
