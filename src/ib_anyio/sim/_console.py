"""The control console of ``ib-anyio sim``: one command a line, acting on ``server.faults``
(and the server), each answered with one line.

The commands mirror :class:`Faults`' methods; where a method takes ``client_id``, an
optional trailing ``ID`` targets one client's connections. Every command is one row of
:data:`COMMANDS`: its usage line and a function of the server and the parsed arguments
returning the result line. Bad input is answered with an ``error:`` line carrying the
usage; it never ends the console, nor the server.
"""

from __future__ import annotations

import inspect
import shlex
import sys
import threading
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Literal, cast, final

import anyio
import anyio.from_thread
import anyio.lowlevel
import attrs

if TYPE_CHECKING:
    from ._server import SimServer

__all__ = ["COMMANDS", "run_command", "run_console", "stdin_lines"]

_KINDS = ("price", "size", "string", "generic")
_RESTORED = ("data_lost", "data_maintained")
_QUOTE_FIELDS = ("bid", "ask", "last", "bid_size", "ask_size", "last_size")


class UsageError(ValueError):
    """Bad arguments for a command: the message says what was wrong."""


@final
@attrs.frozen
class Command:
    """One console command: its usage line, what it does, and how to run it."""

    usage: str
    summary: str
    run: Callable[[SimServer, list[str]], Awaitable[str]]


def _client_id(args: list[str]) -> int | None:
    """The optional trailing client id: the last of ``args``, removed; ``None`` if none."""
    if not args:
        return None
    return _int(args.pop(), "client id")


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{what} must be an integer, not {text!r}") from None


def _no_more(args: list[str]) -> None:
    if args:
        raise UsageError(f"unexpected {' '.join(args)!r}")


def _targets(server: SimServer, client_id: int | None) -> str:
    count = len(server.faults._targets(client_id))
    who = "" if client_id is None else f" of client {client_id}"
    return f"{count} connection{'s' * (count != 1)}{who}"


def _per_client(method: str) -> Callable[[SimServer, list[str]], Awaitable[str]]:
    """A command calling ``server.faults.<method>(client_id=ID)``."""

    async def run(server: SimServer, args: list[str]) -> str:
        client_id = _client_id(args)
        _no_more(args)
        targets = _targets(server, client_id)
        result = getattr(server.faults, method)(client_id=client_id)
        if inspect.isawaitable(result):
            await result
        return targets

    return run


async def _tick(server: SimServer, args: list[str]) -> str:
    # tick REQ_ID [KIND] [TICK_TYPE] [VALUE] [newer] [ID]
    newer = "newer" in args
    args = [a for a in args if a != "newer"]
    if not args:
        raise UsageError("missing REQ_ID")
    req_id = _int(args.pop(0), "REQ_ID")
    kind = args.pop(0) if args and args[0] in _KINDS else "price"
    tick_type = _int(args.pop(0), "TICK_TYPE") if args else None
    value: float | str | None = args.pop(0) if args else None
    client_id = _client_id(args)
    _no_more(args)
    if value is not None and kind != "string":
        try:
            value = float(value)
        except ValueError:
            raise UsageError(f"a {kind} tick's VALUE must be a number, not {value!r}") from None
    optional: dict[str, Any] = {"tick_type": tick_type, "value": value}
    targets = _targets(server, client_id)
    await server.faults.send_tick(
        req_id,
        cast(Literal["price", "size", "string", "generic"], kind),
        client_id=client_id,
        newer_fields=newer,
        **{k: v for k, v in optional.items() if v is not None},
    )
    return targets


def _restored(text: str) -> Literal["data_lost", "data_maintained"]:
    if text not in _RESTORED:
        raise UsageError(f"expected data_lost or data_maintained, not {text!r}")
    return cast(Literal["data_lost", "data_maintained"], text)


async def _connectivity_lost(server: SimServer, args: list[str]) -> str:
    restored = _restored(args.pop(0)) if args and not args[0].lstrip("-").isdigit() else None
    client_id = _client_id(args)
    _no_more(args)
    targets = _targets(server, client_id)
    await server.faults.connectivity_lost(restored, client_id)
    return targets


async def _connectivity_restored(server: SimServer, args: list[str]) -> str:
    if not args:
        raise UsageError("missing data_lost or data_maintained")
    data_lost = _restored(args.pop(0)) == "data_lost"
    client_id = _client_id(args)
    _no_more(args)
    targets = _targets(server, client_id)
    await server.faults.connectivity_restored(data_lost, client_id)
    return targets


async def _outage(server: SimServer, args: list[str]) -> str:
    client_id = _client_id(args)
    _no_more(args)
    count = len(
        [c for c in server._conns.values() if client_id is None or c.client_id == client_id]
    )
    await server.faults.outage(client_id)
    refused = "every client" if client_id is None else f"client {client_id}"
    return f"closed {count} connection{'s' * (count != 1)}; refusing {refused} until restore"


async def _restore(server: SimServer, args: list[str]) -> str:
    _no_more(args)
    server.faults.restore()
    return "accepting API connections"


async def _refuse_api(server: SimServer, args: list[str]) -> str:
    if len(args) != 1 or args[0] not in ("on", "off"):
        raise UsageError("expected on or off")
    server.faults.refuse_api = args[0] == "on"
    return f"refuse_api is {args[0]}"


async def _quote(server: SimServer, args: list[str]) -> str:
    if not args:
        raise UsageError("missing SYMBOL")
    symbol = args.pop(0)
    values: dict[str, Any] = {}
    for arg in args:
        name, sep, text = arg.partition("=")
        if not sep or name not in _QUOTE_FIELDS:
            raise UsageError(f"expected NAME=VALUE with NAME one of {', '.join(_QUOTE_FIELDS)}")
        try:
            values[name] = int(text) if name.endswith("_size") else float(text)
        except ValueError:
            raise UsageError(f"{name} must be a number, not {text!r}") from None
    if not values:
        raise UsageError("nothing to set")
    quote = await server.set_quote(symbol, **values)
    return f"{symbol}: {quote}"


async def _connections(server: SimServer, args: list[str]) -> str:
    _no_more(args)
    conns = list(server._conns.values())
    listed = ", ".join(
        f"#{c.number} client {c.client_id}" if c.started else f"#{c.number} (no startApi yet)"
        for c in conns
    )
    return f"{len(conns)} connection{'s' * (len(conns) != 1)}" + (f": {listed}" if conns else "")


async def _help(server: SimServer, args: list[str]) -> str:
    _no_more(args)
    width = max(len(c.usage) for c in COMMANDS.values())
    return "commands:\n" + "\n".join(
        f"  {c.usage:<{width}}  {c.summary}" for c in COMMANDS.values()
    )


_ID = "[ID]"

#: Every console command by name. ``ID``: a client id (default: every client).
COMMANDS: dict[str, Command] = {
    "drop": Command(f"drop {_ID}", "close connections abruptly", _per_client("drop")),
    "stall": Command(f"stall {_ID}", "send nothing until resume", _per_client("stall")),
    "resume": Command(f"resume {_ID}", "undo stall", _per_client("resume")),
    "stop-reading": Command(
        f"stop-reading {_ID}", "read nothing until resume-reading", _per_client("stop_reading")
    ),
    "resume-reading": Command(
        f"resume-reading {_ID}", "undo stop-reading", _per_client("resume_reading")
    ),
    "truncated-frame": Command(
        f"truncated-frame {_ID}",
        "send part of a frame, then close",
        _per_client("send_truncated_frame"),
    ),
    "garbage": Command(f"garbage {_ID}", "send unframed bytes", _per_client("send_garbage")),
    "huge-length": Command(
        f"huge-length {_ID}", "send a 2 GiB frame header", _per_client("send_huge_length")
    ),
    "unknown-message": Command(
        f"unknown-message {_ID}", "send message id 199", _per_client("send_unknown_message")
    ),
    "tick": Command(
        f"tick REQ_ID [{'|'.join(_KINDS)}] [TICK_TYPE] [VALUE] [newer] {_ID}",
        "send one tick (default: price, type 250, 1.5)",
        _tick,
    ),
    "connectivity-lost": Command(
        f"connectivity-lost [{'|'.join(_RESTORED)}] {_ID}",
        "notice 1100, market data paused (then 1101/1102)",
        _connectivity_lost,
    ),
    "connectivity-restored": Command(
        f"connectivity-restored {'|'.join(_RESTORED)} {_ID}",
        "notice 1101 or 1102",
        _connectivity_restored,
    ),
    "outage": Command(f"outage {_ID}", "close and refuse connections until restore", _outage),
    "restore": Command("restore", "end every outage", _restore),
    "refuse-api": Command("refuse-api on|off", "refuse new API connections", _refuse_api),
    "quote": Command(
        "quote SYMBOL [bid=X] [ask=X] [last=X] [bid_size=N] [ask_size=N] [last_size=N]",
        "set an instrument's quote",
        _quote,
    ),
    "connections": Command("connections", "list open connections", _connections),
    "help": Command("help", "this list", _help),
}


async def run_command(server: SimServer, line: str) -> str | None:
    """The answer to one console line (``None`` for a blank or ``#`` comment line)."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError as exc:
        return f"error: {exc}"
    if not words:
        return None
    name, args = words[0], words[1:]
    command = COMMANDS.get(name)
    if command is None:
        return f"error: unknown command {name!r}; commands: {', '.join(COMMANDS)} (help: usage)"
    try:
        return f"ok: {name}: {await command.run(server, args)}"
    except UsageError as exc:
        return f"error: {name}: {exc}; usage: {command.usage}"
    except Exception as exc:  # a fault that failed (e.g. an unknown symbol): keep serving
        return f"error: {name}: {type(exc).__name__}: {exc}"


async def run_console(
    server: SimServer, lines: AsyncIterable[str], write: Callable[[str], None]
) -> None:
    """Run each of ``lines`` as a command on ``server``, writing each answer (one line;
    ``help`` answers with one per command), until ``lines`` ends."""
    async for line in lines:
        answer = await run_command(server, line)
        if answer is not None:
            for out in answer.splitlines():
                write(out)


async def stdin_lines() -> AsyncIterator[str]:
    """The lines of ``sys.stdin`` until its end (none if there is no stdin).

    A daemon thread reads them, so that a Ctrl-C never waits for a line to be typed (a
    worker thread blocked in ``readline`` would hold up the interpreter's exit).
    """
    send, receive = anyio.create_memory_object_stream[str](0)
    token = anyio.lowlevel.current_token()
    stdin = sys.stdin
    gone = (RuntimeError, anyio.BrokenResourceError, OSError, ValueError)  # RunFinishedError

    def read() -> None:
        with suppress(*gone):  # the server stopped, the console ended, stdin failed
            try:
                for line in iter(stdin.readline, "") if stdin is not None else ():
                    anyio.from_thread.run(send.send, line, token=token)
            finally:
                anyio.from_thread.run_sync(send.close, token=token)

    threading.Thread(target=read, name="ib-anyio sim console", daemon=True).start()
    with receive:
        async for line in receive:
            yield line
