"""Reconnect latency: from the simulated TWS coming back to every open stream delivering again.

One client (``reconnect=Reconnect(initial_delay=0.01, max_delay=0.1)``, pacing off)
against a simulated TWS in this process keeps 7 streams open: ``req_mkt_data`` for
AAPL, MSFT, IBM, SPY and EUR.USD, ``req_positions`` and ``req_account_updates``.
Then, ``--outages`` times: ``server.faults.outage()`` (drop every connection and
refuse new ones), wait on ``client.connection_events()`` for the ``Reconnecting``
event of the attempt after ``--refused`` refused ones, ``server.faults.restore()``
(t0), and wait until every stream has delivered its ``Gap`` and then a real item (t1).

It prints the median, 90th percentile and maximum of t1 - t0 in milliseconds, and of
the same less what was left of the backoff delay at t0 (the ``Reconnecting`` event
announces the delay before its attempt): the reconnection itself (handshake, session
start, re-sending 7 subscriptions) and the first data after it. Each backend runs in
a fresh process.

    uv run python benchmarks/reconnect.py [--outages 20] [--refused 1] [--backend both]
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
import subprocess
import sys
import time

import anyio

import ib_anyio
from ib_anyio import Reconnect, Reconnecting, sim
from soak import Progress, Watched, stock, watch

POLICY = Reconnect(initial_delay=0.01, max_delay=0.1)


def fx(pair: str) -> ib_anyio.Contract:
    contract = ib_anyio.Contract()
    contract.symbol, contract.currency = pair.split(".")
    contract.secType, contract.exchange = "CASH", "IDEALPRO"
    return contract


async def outage(server: sim.SimServer) -> None:
    """Drop every connection and refuse new ones (``faults.outage``, if there is one)."""
    faults = server.faults
    if hasattr(faults, "outage"):
        await faults.outage()
    else:
        faults.refuse_api = True
        await faults.drop()


async def restore(server: sim.SimServer) -> None:
    faults = server.faults
    if hasattr(faults, "restore"):
        result = faults.restore()
        if inspect.isawaitable(result):
            await result
    else:
        faults.refuse_api = False


async def measure(outages: int, refused: int, step_timeout: float = 10.0) -> list[list[float]]:
    """Per outage: [t1 - t0, backoff left at t0] in seconds."""
    progress = Progress()
    reconnecting: list[tuple[float, Reconnecting]] = []  # (when seen, event)
    results: list[list[float]] = []

    async def events(client: ib_anyio.Client) -> None:
        async with client.connection_events() as stream:
            async for event in stream:
                if isinstance(event, Reconnecting):
                    reconnecting.append((time.perf_counter(), event))
                    progress.changed()

    async with (
        sim.serve(port=0, tick_interval=0.01) as server,
        ib_anyio.connect(
            server.host, server.port, client_id=1, reconnect=POLICY, max_msg_rate=None
        ) as client,
        anyio.create_task_group() as tg,
    ):
        account = client.managed_accounts[0]
        kept: dict[str, ib_anyio.Subscription[object]] = {
            f"req_mkt_data {s}": client.req_mkt_data(stock(s))
            for s in ("AAPL", "MSFT", "IBM", "SPY")
        }
        kept["req_mkt_data EUR.USD"] = client.req_mkt_data(fx("EUR.USD"))
        kept["req_positions"] = client.req_positions()
        kept["req_account_updates"] = client.req_account_updates(account)
        watched = [Watched(name) for name in kept]
        tg.start_soon(events, client)
        for subscription, w in zip(kept.values(), watched, strict=True):
            await tg.start(watch, subscription, w, progress)
        with anyio.fail_after(step_timeout):
            await progress.wait_until(lambda: all(w.items for w in watched))

        for k in range(1, outages + 1):
            with anyio.fail_after(step_timeout):
                seen = len(reconnecting)

                def announced(seen: int = seen) -> tuple[float, Reconnecting] | None:
                    for when, event in reconnecting[seen:]:
                        if event.attempt > refused:
                            return when, event
                    return None

                await outage(server)
                await progress.wait_until(lambda: announced() is not None)
                await restore(server)
                t0 = time.perf_counter()
                await progress.wait_until(lambda k=k: all(w.recovered >= k for w in watched))
                t1 = time.perf_counter()
            when, event = announced() or (t0, Reconnecting(0, 0.0))
            results.append([t1 - t0, max(0.0, when + event.delay - t0)])
            server.received.clear()
        tg.cancel_scope.cancel()
    return results


def _ms(values: list[float]) -> str:
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
    return (
        f"median {statistics.median(values) * 1000:6.1f}   p90 {p90 * 1000:6.1f}   "
        f"max {values[-1] * 1000:6.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outages", type=int, default=20)
    parser.add_argument(
        "--refused",
        type=int,
        default=1,
        help="attempts refused before restoring (default 1: restore on the second's event)",
    )
    parser.add_argument("--backend", choices=("asyncio", "trio", "both"), default="both")
    args = parser.parse_args()
    if args.backend != "both":
        times = anyio.run(measure, args.outages, args.refused, backend=args.backend)
        print(json.dumps(times))
        return 0

    print(
        f"{args.outages} outages, 7 streams (5 req_mkt_data, req_positions, "
        f"req_account_updates), {POLICY!r}, restored at the Reconnecting event of attempt "
        f"{args.refused + 1}; each backend in a fresh process"
    )
    for backend in ("asyncio", "trio"):
        child = [sys.executable, __file__, "--backend", backend]
        child += ["--outages", str(args.outages), "--refused", str(args.refused)]
        out = subprocess.run(child, capture_output=True, text=True, check=True).stdout
        rows = json.loads(out.strip().splitlines()[-1])
        total = [t for t, _ in rows]
        work = [t - left for t, left in rows]
        print(f"{backend:8s} restore -> every stream delivering: {_ms(total)}")
        print(f"{'':8s}   less the backoff left at restore: {_ms(work)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
