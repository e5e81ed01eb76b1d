"""Order round trip: a market order placed until its ``Filled`` status reaches user code.

Against one simulated TWS in a separate process (``ib-anyio sim``), each row places
``--n`` market orders of one share of AAPL one after the other (buy and sell
alternating, so the position stays flat) and times each from the call that places it to
the moment the order's ``Filled`` orderStatus is in the caller's hands:

(a) stock ibapi: ``EClient.placeOrder`` from the main thread, ``run()`` in its thread,
    the ``orderStatus`` callback setting a ``threading.Event`` the main thread waits on;
(b) ib_anyio on asyncio and (c) on trio: ``async with client.place_order(...) as trade``
    then ``async for`` over the trade's events until the ``Filled`` ``OrderStatus``
    (with ``max_msg_rate=None``: message pacing off, as in rows a and e);
(e) ib_async: ``ib.placeOrder`` then waiting on the trade's ``filledEvent``.

Every row runs in a fresh child process after 50 uncounted warm-up orders, and prints
the median and the 99th percentile of the round trips, in microseconds.

    uv run --group benchmark python benchmarks/orders.py [--n 1000] [--rows bce]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Literal

from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.order import Order
from ibapi.wrapper import EWrapper

from _simproc import start_sim

Runner = Callable[[str, int, int], list[float]]  # (host, port, n) -> round trips (s)
WARMUP = 50


def _contract() -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = "AAPL", "STK", "SMART", "USD"
    return c


def _action(i: int) -> Literal["BUY", "SELL"]:
    return "BUY" if i % 2 == 0 else "SELL"


def run_stock_ibapi(host: str, port: int, n: int) -> list[float]:
    class App(EWrapper, EClient):  # type: ignore[misc]
        def __init__(self) -> None:
            EWrapper.__init__(self)
            EClient.__init__(self, self)
            self.ready = threading.Event()
            self.filled: dict[int, threading.Event] = {}

        def nextValidId(self, orderId: int) -> None:
            self.next_id = orderId
            self.ready.set()

        def orderStatus(self, orderId: int, status: str, *rest: object) -> None:
            if status == "Filled" and orderId in self.filled:
                self.filled[orderId].set()

        def error(self, *args: object) -> None:
            pass

    app = App()
    app.connect(host, port, 11)
    thread = threading.Thread(target=app.run, daemon=True)
    thread.start()
    app.ready.wait(5)
    times = []
    for i in range(n + WARMUP):
        order_id = app.next_id + i
        done = app.filled[order_id] = threading.Event()
        order = Order()
        order.action, order.totalQuantity, order.orderType = _action(i), 1, "MKT"
        start = time.perf_counter()
        app.placeOrder(order_id, _contract(), order)
        if not done.wait(10):
            raise RuntimeError(f"order {order_id} did not fill")
        times.append(time.perf_counter() - start)
    app.disconnect()
    thread.join(5)
    return times[WARMUP:]


def run_ib_anyio(backend: str) -> Runner:
    def run(host: str, port: int, n: int) -> list[float]:
        import anyio

        import ib_anyio
        from ib_anyio import items, orders

        async def main() -> list[float]:
            times = []
            # Pacing off: this measures latency, and the other rows do not pace (ib_async
            # does, at 45 requests/s: its p99 shows it). With ib_anyio's default of 45
            # messages/s, order 46 of any one second would wait for its permit.
            async with ib_anyio.connect(host, port, client_id=12, max_msg_rate=None) as client:
                contract = _contract()
                for i in range(n + WARMUP):
                    start = time.perf_counter()
                    async with client.place_order(contract, orders.market(_action(i), 1)) as trade:
                        async for event in trade:
                            if (
                                isinstance(event, items.OrderStatusItem)
                                and event.status == "Filled"
                            ):
                                break
                    times.append(time.perf_counter() - start)
            return times[WARMUP:]

        return anyio.run(main, backend=backend)

    return run


def run_ib_async(host: str, port: int, n: int) -> list[float]:
    import asyncio

    import ib_async

    async def main() -> list[float]:
        ib = ib_async.IB()
        await ib.connectAsync(host, port, clientId=13)
        contract = ib_async.Stock("AAPL", "SMART", "USD")
        times = []
        for i in range(n + WARMUP):
            start = time.perf_counter()
            trade = ib.placeOrder(contract, ib_async.MarketOrder(_action(i), 1))
            while trade.orderStatus.status != "Filled":
                await trade.statusEvent
            times.append(time.perf_counter() - start)
        ib.disconnect()
        return times[WARMUP:]

    return asyncio.run(main())


ROWS: dict[str, tuple[str, Runner]] = {
    "a": ("(a) stock ibapi (threads + Event)", run_stock_ibapi),
    "b": ("(b) ib_anyio, asyncio", run_ib_anyio("asyncio")),
    "c": ("(c) ib_anyio, trio", run_ib_anyio("trio")),
    "e": ("(e) ib_async", run_ib_async),
}


def _start_sim(server_version: int | None) -> tuple[subprocess.Popen[str], str, int]:
    return start_sim(*(["--server-version", str(server_version)] if server_version else []))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rows", default="abce")
    parser.add_argument("--server-version", type=int, default=178)
    parser.add_argument("--row", help=argparse.SUPPRESS)
    parser.add_argument("--host", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row:  # a child: one row, print its round trips as JSON
        print(json.dumps(ROWS[args.row][1](args.host, args.port, args.n)))
        return 0
    proc, host, port = _start_sim(args.server_version)
    try:
        print(f"{args.n} market orders, server version {args.server_version}; round trip in µs")
        print(f"{'row':42} {'median':>9} {'p99':>9}")
        medians: dict[str, float] = {}
        for key in args.rows:
            if key == "e" and importlib.util.find_spec("ib_async") is None:
                print(f"{ROWS[key][0]:42} (ib_async not installed)")
                continue
            child = [sys.executable, __file__, "--row", key, "--host", host]
            child += ["--port", str(port), "--n", str(args.n)]
            out = subprocess.run(child, capture_output=True, text=True, check=True).stdout
            times = json.loads(out.strip().splitlines()[-1])
            median = statistics.median(times) * 1e6
            p99 = statistics.quantiles(times, n=100)[98] * 1e6
            medians[key] = median
            print(f"{ROWS[key][0]:42} {median:9.0f} {p99:9.0f}")
        for key in "bc":
            for ref in "ae":
                if key in medians and ref in medians:
                    print(f"median {key}/{ref}: {medians[key] / medians[ref]:.2f}x")
    finally:
        proc.terminate()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
