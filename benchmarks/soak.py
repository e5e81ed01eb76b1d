"""Soak: one long-lived connection through a mixed workload, checking that nothing grows.

One client (``ib_anyio.connect`` with ``reconnect=Reconnect(initial_delay=0.01,
max_delay=0.1)`` and ``max_msg_rate=None``: message pacing off, since the simulator
does not pace and 10,000 open/close cycles are 20,000 messages, which TWS's 45 per
second would stretch to 7 minutes) against a simulated TWS in this process does, on
one connection, in ``--rounds`` equal rounds:

* ``--reconnects`` drop/reconnect cycles: ``server.faults.drop()``, then wait until
  every stream kept open throughout (2 ``req_mkt_data``, ``req_positions``,
  ``req_account_updates``) has delivered its ``Gap`` and a real item after it;
* ``--messages`` market-data messages received through streams: ``req_mkt_data``
  blocks each sent a burst of (at most) 20,000 tickPrice messages by the simulator
  (its ``burst`` option, turned on only for these), counted as ``TickPrice`` items;
* ``--cycles`` stream open/close cycles: ``req_mkt_data`` over a few stocks, every
  other one closed at once (its ticks then arrive for a closed request), the others
  after their first item;
* ``--oneshots`` one-shot requests: ``req_current_time`` and ``req_contract_details``.

The first round is the warm-up. After it and after the last round (the garbage
collector run first) it samples the process's RSS, its threads, the client's live
routes beyond the fixed channels present right after connecting, its open
re-sendable subscriptions (``client._live``) and shared subscriptions, the
simulator's live streams and subscriptions, open file descriptors and Python
objects; then closes the kept streams and samples again: every count must be back
to what it was right after connecting. The simulator's record of received messages
(``server.received``) is cleared after each round, so that it does not count as
growth.

    uv run python benchmarks/soak.py [--messages 1000000] [--cycles 10000]
        [--oneshots 1000] [--reconnects 100] [--backend asyncio|trio|both]
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import anyio

import ib_anyio
from ib_anyio import Gap, Reconnect, Reconnected, sim
from ib_anyio.items import TickPrice

#: Stocks of the simulated universe the cycles and the kept streams use.
SYMBOLS = ("AAPL", "MSFT", "IBM", "SPY")
#: At most this many tickPrice messages per burst (two items each: a 40,000-item
#: backlog at worst, within the default buffer of 100,000).
BURST = 20_000
#: Targets of the table.
MAX_RSS_GROWTH = 20 * 1024 * 1024
#: Threads the client runs while connected (reader and writer).
CLIENT_THREADS = 2


def stock(symbol: str) -> ib_anyio.Contract:
    contract = ib_anyio.Contract()
    contract.symbol, contract.secType = symbol, "STK"
    contract.exchange, contract.currency = "SMART", "USD"
    return contract


@dataclass
class Sample:
    """What the soak watches, at one moment."""

    rss: int  # bytes
    threads: int  # all threads of the process
    client_threads: int  # threads named "ib_anyio ..."
    routes: list[str]  # the client's routes beyond the fixed channels
    live: int  # client._live: open re-sendable subscriptions
    shared: int  # client._shared: account-wide subscriptions
    sim_streams: int  # the simulator's streaming tasks
    sim_subscriptions: int  # the simulator's positions/account-update subscribers
    fds: int
    objects: int  # Python objects the garbage collector tracks


@dataclass
class Watched:
    """A stream kept open through the reconnects, counting what it delivers."""

    name: str
    items: int = 0
    gaps: int = 0
    #: Gaps followed by a real item: the stream delivers again after the reconnect.
    recovered: int = 0
    #: Gaps right after another gap (no real item between them).
    doubled_gaps: int = 0
    #: Gaps announcing a new request id (that ``stream.req_id`` then has).
    new_ids: int = 0
    _after_gap: bool = False

    def see(self, item: object, req_id: int | None) -> None:
        """Count ``item``; ``req_id`` is the stream's as it was delivered."""
        if isinstance(item, Gap):
            if self._after_gap:
                self.doubled_gaps += 1
            self.gaps += 1
            if item.req_id is not None and item.req_id == req_id != item.old_req_id:
                self.new_ids += 1
            self._after_gap = True
        else:
            self.items += 1
            if self._after_gap:
                self._after_gap = False
                self.recovered += 1


class Progress:
    """Wake waiters whenever something changed (no polling, no sleeping)."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    def changed(self) -> None:
        self._event.set()
        self._event = anyio.Event()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            await self._event.wait()


async def watch(
    subscription: ib_anyio.Subscription[object],
    watched: Watched,
    progress: Progress,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Open ``subscription`` and count what it delivers, until cancelled."""
    async with subscription as stream:
        task_status.started()
        async for item in stream:
            watched.see(item, stream.req_id)
            progress.changed()


def kept_subscriptions(client: ib_anyio.Client) -> dict[str, ib_anyio.Subscription[object]]:
    """The streams the soak keeps open throughout, by name."""
    account = client.managed_accounts[0]
    return {
        "req_mkt_data AAPL": client.req_mkt_data(stock("AAPL")),
        "req_mkt_data MSFT": client.req_mkt_data(stock("MSFT")),
        "req_positions": client.req_positions(),
        "req_account_updates": client.req_account_updates(account),
    }


def _rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def sample(client: ib_anyio.Client, server: sim.SimServer, fixed: set[object]) -> Sample:
    gc.collect()
    desk = server._desk
    return Sample(
        rss=_rss(),
        threads=threading.active_count(),
        client_threads=sum(t.name.startswith("ib_anyio") for t in threading.enumerate()),
        routes=sorted(str(key) for key in client._routes if key not in fixed),
        live=len(client._live),
        shared=len(client._shared),
        sim_streams=server._stream_count(),
        sim_subscriptions=len(desk._positions) + len(desk._account_updates),
        fds=len(os.listdir("/proc/self/fd")),
        objects=len(gc.get_objects()),
    )


@dataclass
class SoakResult:
    backend: str
    messages: int
    cycles: int
    oneshots: int
    reconnects: int
    seconds: float
    connected: Sample  # right after connecting, nothing open
    warm: Sample  # after the warm-up round, the kept streams open
    end: Sample  # after the last round, the kept streams open
    closed: Sample  # the kept streams closed, still connected
    threads_after_exit: int  # "ib_anyio ..." threads after leaving connect()
    rss_by_round: list[int]
    watched: list[Watched]
    #: ``Reconnected.resubscribed`` values seen, and how often.
    resubscribed: collections.Counter[int]
    phase_seconds: dict[str, float]
    unclosed: list[str]  # ResourceWarning: objects (sockets) collected unclosed

    def leaks(self) -> list[str]:
        """What grew or stayed behind, or misbehaved; empty when the soak is clean."""
        found = []
        if self.end.rss - self.warm.rss >= MAX_RSS_GROWTH:
            found.append(f"RSS grew by {(self.end.rss - self.warm.rss) / 2**20:.1f} MiB")
        for name in ("threads", "client_threads", "fds"):
            grew = getattr(self.end, name) - getattr(self.warm, name)
            if grew > 0:
                found.append(f"{name}: {grew} more at the end than after the warm-up")
        if self.end.client_threads != CLIENT_THREADS:
            found.append(f"{self.end.client_threads} ib_anyio threads while connected")
        if self.unclosed:
            found.append(f"{len(self.unclosed)} collected unclosed: {self.unclosed[0]}")
        if self.threads_after_exit:
            found.append(f"{self.threads_after_exit} ib_anyio threads after leaving connect()")
        c = self.closed
        if c.routes:
            found.append(f"routes left after closing every stream: {c.routes}")
        found += [
            f"{name}: {getattr(c, name)} left after closing every stream"
            for name in ("live", "shared", "sim_streams", "sim_subscriptions")
            if getattr(c, name)
        ]
        found += [
            f"{w.name}: {w.gaps} gaps, {w.recovered} recovered, {w.doubled_gaps} doubled, "
            f"for {self.reconnects} reconnects"
            for w in self.watched
            if w.gaps != self.reconnects or w.recovered != self.reconnects or w.doubled_gaps
        ]
        found += [
            f"{w.name}: {w.new_ids} new request ids for {self.reconnects} reconnects"
            for w in self.watched
            if w.name.startswith("req_mkt_data") and w.new_ids != self.reconnects
        ]
        expected = collections.Counter({len(self.watched): self.reconnects})
        if self.resubscribed != +expected:
            found.append(f"Reconnected.resubscribed: {dict(self.resubscribed)}, not {expected}")
        return found


def _share(total: int, rounds: int, i: int) -> int:
    """Round ``i``'s share of ``total`` split into ``rounds`` near-equal parts."""
    return total * (i + 1) // rounds - total * i // rounds


async def run_soak(
    *,
    messages: int = 1_000_000,
    cycles: int = 10_000,
    oneshots: int = 1_000,
    reconnects: int = 100,
    rounds: int = 10,
    tick_interval: float = 0.01,
    step_timeout: float = 30.0,
    log: Callable[[str], None] | None = None,
) -> SoakResult:
    """Run the soak (see the module docstring) on the current backend.

    Every wait is bounded by ``step_timeout`` seconds (a burst, a cycle, a one-shot, a
    reconnect): a stuck step raises ``TimeoutError``.
    """
    rounds = max(2, rounds)
    started = time.perf_counter()
    phases = dict.fromkeys(("messages", "cycles", "oneshots", "reconnects"), 0.0)
    symbols = [stock(s) for s in SYMBOLS]
    progress = Progress()
    resubscribed: collections.Counter[int] = collections.Counter()
    rss_by_round: list[int] = []
    tick_count = 0

    async def volume(n: int) -> None:
        nonlocal tick_count
        while n > 0:
            burst = min(n, BURST)
            server.burst = burst
            try:
                with anyio.fail_after(step_timeout):
                    async with client.req_mkt_data(symbols[0]) as ticks:
                        got = 0
                        async for item in ticks:
                            if type(item) is TickPrice:
                                got += 1
                                if got == burst:
                                    break
            finally:
                server.burst = 0
            tick_count += burst
            n -= burst

    async def open_close(n: int, offset: int) -> None:
        for j in range(offset, offset + n):
            with anyio.fail_after(step_timeout):
                async with client.req_mkt_data(symbols[j % len(symbols)]) as ticks:
                    if j % 2:
                        await ticks.receive()

    async def one_shots(n: int, offset: int) -> None:
        for j in range(offset, offset + n):
            with anyio.fail_after(step_timeout):
                if j % 2:
                    await client.req_contract_details(symbols[j % len(symbols)])
                else:
                    await client.req_current_time()

    async def drop_reconnect(n: int, done: int) -> None:
        for k in range(done + 1, done + n + 1):
            with anyio.fail_after(step_timeout):
                await server.faults.drop()
                await progress.wait_until(lambda k=k: all(w.recovered >= k for w in watched))
                await client.wait_connected()

    async def events() -> None:
        async with client.connection_events() as stream:
            async for event in stream:
                if isinstance(event, Reconnected):
                    resubscribed[event.resubscribed] += 1

    # Sockets the client forgets to close: Python warns when it collects them.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        async with (
            sim.serve(port=0, tick_interval=tick_interval) as server,
            ib_anyio.connect(
                server.host,
                server.port,
                client_id=1,
                reconnect=Reconnect(initial_delay=0.01, max_delay=0.1),
                max_msg_rate=None,
            ) as client,
        ):
            fixed: set[object] = set(client._routes)
            connected = sample(client, server, fixed)
            kept = kept_subscriptions(client)
            watched = [Watched(name) for name in kept]
            async with anyio.create_task_group() as tg:
                tg.start_soon(events)
                for subscription, w in zip(kept.values(), watched, strict=True):
                    await tg.start(watch, subscription, w, progress)
                # Each has delivered once: the simulator has started them (without a burst).
                with anyio.fail_after(step_timeout):
                    await progress.wait_until(lambda: all(w.items for w in watched))
                done = dict.fromkeys(phases, 0)
                warm = connected
                for i in range(rounds):
                    # Reconnects first: the order reconciliation that follows each is
                    # over by the end of the round (it may still run when streams deliver).
                    for phase, total, run in (
                        ("reconnects", reconnects, drop_reconnect),
                        ("messages", messages, lambda n, _: volume(n)),
                        ("cycles", cycles, open_close),
                        ("oneshots", oneshots, one_shots),
                    ):
                        t = time.perf_counter()
                        n = _share(total, rounds, i)
                        await run(n, done[phase])
                        done[phase] += n
                        phases[phase] += time.perf_counter() - t
                    server.received.clear()
                    snapshot = sample(client, server, fixed)
                    rss_by_round.append(snapshot.rss)
                    if log:
                        log(
                            f"round {i + 1}/{rounds}: RSS {snapshot.rss / 2**20:.1f} MiB, "
                            f"{time.perf_counter() - started:.1f} s"
                        )
                    if i == 0:
                        warm = snapshot
                    end = snapshot
                tg.cancel_scope.cancel()
            # Every cancel is sent; one round trip later the simulator has handled them.
            with anyio.fail_after(step_timeout):
                await client.req_current_time()
            closed = sample(client, server, fixed)
        gc.collect()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    for w in caught:  # the others as they were
        if not issubclass(w.category, ResourceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    threads_after_exit = sum(t.name.startswith("ib_anyio") for t in threading.enumerate())
    return SoakResult(
        backend=_backend(),
        messages=tick_count,
        cycles=done["cycles"],
        oneshots=done["oneshots"],
        reconnects=done["reconnects"],
        seconds=time.perf_counter() - started,
        connected=connected,
        warm=warm,
        end=end,
        closed=closed,
        threads_after_exit=threads_after_exit,
        rss_by_round=rss_by_round,
        watched=watched,
        resubscribed=resubscribed,
        phase_seconds=phases,
        unclosed=unclosed,
    )


def _backend() -> str:
    """The running backend's name."""
    try:
        import trio

        trio.lowlevel.current_task()
    except (ImportError, RuntimeError):
        return "asyncio"
    return "trio"


def table(result: SoakResult) -> str:
    """The soak's results as a markdown table."""
    w, e, c, z = result.warm, result.end, result.closed, result.connected
    mib = 2**20

    def verdict(ok: bool) -> str:
        return "ok" if ok else "**LEAK**"

    rows = [
        (
            "RSS (MiB)",
            f"{z.rss / mib:.1f}",
            f"{w.rss / mib:.1f}",
            f"{e.rss / mib:.1f}",
            f"{c.rss / mib:.1f}",
            f"{(e.rss - w.rss) / mib:+.1f}",
            "< 20 MiB",
            verdict(e.rss - w.rss < MAX_RSS_GROWTH),
        )
    ]
    for label, name, closed_target in (
        ("threads (all)", "threads", None),
        ("threads ib_anyio", "client_threads", CLIENT_THREADS),
        ("live routes beyond fixed", "routes", 0),
        ("live ids (client._live)", "live", 0),
        ("shared subscriptions", "shared", 0),
        ("sim live streams", "sim_streams", 0),
        ("sim subscriptions", "sim_subscriptions", 0),
        ("open fds", "fds", None),
    ):
        values = [getattr(s, name) for s in (z, w, e, c)]
        if name == "routes":
            values = [len(v) for v in values]
        grew = values[2] - values[1]
        ok = grew <= 0 and (closed_target is None or values[3] == closed_target)
        if closed_target is None:
            ok = ok and values[3] <= values[0]
        rows.append((label, *map(str, values), f"{grew:+d}", "0", verdict(ok)))
    n = len(result.unclosed)
    rows.append(
        ("collected unclosed (ResourceWarning)", "", "", "", "", str(n), "0", verdict(not n))
    )
    objects = [s.objects for s in (z, w, e, c)]
    rows.append(
        (
            "Python objects (gc)",
            *(f"{n:,}" for n in objects),
            f"{objects[2] - objects[1]:+,}",
            "(info)",
            "",
        )
    )
    head = (
        "metric",
        "connected",
        "after warm-up",
        "end",
        "streams closed",
        "growth",
        "target",
        "",
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def report(result: SoakResult) -> str:
    p = result.phase_seconds
    lines = [
        f"backend {result.backend}: {result.messages:,} market-data messages "
        f"({p['messages']:.1f} s), {result.cycles:,} open/close cycles ({p['cycles']:.1f} s), "
        f"{result.oneshots:,} one-shots ({p['oneshots']:.1f} s), {result.reconnects:,} "
        f"drop/reconnects ({p['reconnects']:.1f} s); {result.seconds:.1f} s in all. "
        "Message pacing off (max_msg_rate=None).",
        "",
        table(result),
        "",
        "RSS after each round (MiB; the first is the warm-up): "
        + " ".join(f"{r / 2**20:.1f}" for r in result.rss_by_round),
        "kept streams (items, gaps, recovered after their gap, new ids): "
        + "; ".join(
            f"{w.name} {w.items:,}/{w.gaps}/{w.recovered}/{w.new_ids}" for w in result.watched
        ),
        f"Reconnected.resubscribed (value: times): {dict(result.resubscribed)}",
        f"ib_anyio threads after leaving connect(): {result.threads_after_exit}",
    ]
    leaks = result.leaks()
    lines.append("LEAKS: " + "; ".join(leaks) if leaks else "no leaks")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--oneshots", type=int, default=1_000)
    parser.add_argument("--reconnects", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10, help="the first is the warm-up")
    parser.add_argument(
        "--backend",
        choices=("asyncio", "trio", "both"),
        default="both",
        help="both (default): each in a fresh process",
    )
    args = parser.parse_args()
    sizes = {
        "messages": args.messages,
        "cycles": args.cycles,
        "oneshots": args.oneshots,
        "reconnects": args.reconnects,
        "rounds": args.rounds,
    }
    if args.backend == "both":
        failed = 0
        for backend in ("asyncio", "trio"):
            child = [sys.executable, __file__, "--backend", backend]
            for name, value in sizes.items():
                child += [f"--{name}", str(value)]
            failed |= subprocess.run(child, check=False).returncode
            print(flush=True)
        return failed

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    result = anyio.run(lambda: run_soak(**sizes, log=log), backend=args.backend)
    print(report(result), flush=True)
    return 1 if result.leaks() else 0


if __name__ == "__main__":
    sys.exit(main())
