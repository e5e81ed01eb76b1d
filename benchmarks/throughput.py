"""Tick throughput: N tickPrice messages from the simulated TWS to user code.

One run measures, against the same simulated TWS (a separate process that
blasts N pre-encoded tickPrice messages at each client that asks for market
data), the rate at which each pipeline delivers them:

(a) stock ibapi: ``EClient.connect`` + ``run()`` with ibapi's ``EReader``
    thread and a threaded ``EWrapper`` that only counts;
(b) ib_anyio on asyncio and (c) on trio, counting in an ``async for``;
(d) ibapi's decoder fed by a linear framer: a reader thread that frames the
    byte stream linearly into ibapi's queue, decoded by ``EClient.run()``,
    counting (stock ibapi's ``EReader`` swings 10x run to run; this does not);
(e) ib_async, counting the ticks its ``pendingTickersEvent`` delivers;
(f) ibapi's decoder alone: one thread framing and decoding, counting (a ceiling).

Every row is timed the same way, from sending the request to the N-th
tickPrice, after one uncounted warm-up run; the table gives the median of
``--repeat`` runs and ratios. Each tickPrice message also yields a tickSize
callback (item), which is delivered but not counted.

    uv run --group benchmark python benchmarks/throughput.py [--n 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.decoder import Decoder
from ibapi.wrapper import EWrapper

from _simproc import start_sim

Runner = Callable[[str, int, int], float]  # (host, port, n) -> seconds


def _contract() -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = "AAPL", "STK", "SMART", "USD"
    return c


class _Counting(EWrapper):  # type: ignore[misc]
    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.count = 0
        self.done = threading.Event()
        self.ready = threading.Event()

    def nextValidId(self, orderId: int) -> None:
        self.ready.set()

    def tickPrice(self, reqId: int, tickType: int, price: float, attrib: object) -> None:
        self.count += 1
        if self.count == self.n:
            self.done.set()

    def error(self, *args: object) -> None:
        pass


def run_stock_ibapi(host: str, port: int, n: int) -> float:
    wrapper = _Counting(n)
    client = EClient(wrapper)
    client.connect(host, port, 11)
    thread = threading.Thread(target=client.run, daemon=True)
    thread.start()
    wrapper.ready.wait(10)
    start = time.perf_counter()
    client.reqMktData(1, _contract(), "", False, False, [])
    if not wrapper.done.wait(120):
        raise RuntimeError(f"stock ibapi got {wrapper.count} of {n} ticks")
    elapsed = time.perf_counter() - start
    # Close the socket and let run() disconnect: EClient.disconnect() from another
    # thread races run() while it still drains its queue (ibapi resets the version).
    client.conn.disconnect()
    thread.join(10)
    return elapsed


def _handshake(host: str, port: int) -> tuple[socket.socket, int, bytes]:
    from ibapi.server_versions import MAX_CLIENT_VER, MIN_CLIENT_VER

    sock = socket.create_connection((host, port))
    versions = f"v{MIN_CLIENT_VER}..{MAX_CLIENT_VER}".encode()
    sock.sendall(b"API\0" + struct.pack(">I", len(versions)) + versions)
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack_from(">I", data)[0]:
        data += sock.recv(4096)
    size = struct.unpack_from(">I", data)[0]
    fields = data[4 : 4 + size].split(b"\0")
    return sock, int(fields[0]), data[4 + size :]


def _framed_client(host: str, port: int, wrapper: EWrapper) -> tuple[EClient, socket.socket]:
    """An EClient whose connection is ours: handshake done, startApi sent."""
    sock, version, _ = _handshake(host, port)

    class Conn:
        def sendMsg(self, msg: bytes) -> None:
            sock.sendall(msg)

        def isConnected(self) -> bool:
            return True

        def disconnect(self) -> None:
            sock.close()

    client = EClient(wrapper)
    client.conn = Conn()
    client.serverVersion_ = version
    client.connState = EClient.CONNECTED
    client.clientId = 12
    client.decoder = Decoder(wrapper, version)
    client.startApi()
    return client, sock


def _frames(sock: socket.socket, stop: Callable[[], bool]) -> object:
    """Yield each message payload (after the length prefix), framing linearly."""
    pending = b""
    unpack = struct.Struct(">I").unpack_from
    while not stop():
        chunk = sock.recv(1 << 18)
        if not chunk:
            return
        data = pending + chunk if pending else chunk
        pos, end = 0, len(data)
        while end - pos >= 4:
            (size,) = unpack(data, pos)
            if pos + 4 + size > end:
                break
            yield data[pos + 4 : pos + 4 + size]
            pos += 4 + size
        pending = data[pos:]


def run_linear_framer(host: str, port: int, n: int) -> float:
    wrapper = _Counting(n)
    client, sock = _framed_client(host, port, wrapper)

    def read() -> None:
        for payload in _frames(sock, wrapper.done.is_set):  # type: ignore[attr-defined]
            client.msg_queue.put(payload)

    threading.Thread(target=read, daemon=True).start()
    threading.Thread(target=client.run, daemon=True).start()
    wrapper.ready.wait(10)
    start = time.perf_counter()
    client.reqMktData(1, _contract(), "", False, False, [])
    if not wrapper.done.wait(120):
        raise RuntimeError(f"linear framer got {wrapper.count} of {n} ticks")
    elapsed = time.perf_counter() - start
    client.connState = EClient.DISCONNECTED
    sock.close()
    return elapsed


def run_decoder_alone(host: str, port: int, n: int) -> float:
    wrapper = _Counting(n)
    client, sock = _framed_client(host, port, wrapper)
    decoder = client.decoder
    binary = client.serverVersion() >= 201
    takes_id = "msgId" in Decoder.interpret.__code__.co_varnames
    start = 0.0

    def handle(payload: bytes) -> None:
        if binary:
            msg_id = int.from_bytes(payload[:4], "big")
            if msg_id > 200:
                decoder.processProtoBuf(payload[4:], msg_id - 200)
                return
            fields = payload[4:].split(b"\0")[:-1]
            decoder.interpret(fields, msg_id)
        else:
            fields = payload.split(b"\0")[:-1]
            if takes_id:
                decoder.interpret(fields[1:], int(fields[0]))
            else:
                decoder.interpret(fields)

    for payload in _frames(sock, wrapper.done.is_set):  # type: ignore[attr-defined]
        handle(payload)
        if wrapper.ready.is_set() and not start:
            start = time.perf_counter()
            client.reqMktData(1, _contract(), "", False, False, [])
    elapsed = time.perf_counter() - start
    sock.close()
    return elapsed


def run_ib_anyio(backend: str) -> Runner:
    def run(host: str, port: int, n: int) -> float:
        import anyio

        import ib_anyio
        from ib_anyio.items import TickPrice

        async def main() -> float:
            async with ib_anyio.connect(
                host, port, client_id=13, buffer_size=max(n * 2, 100_000)
            ) as client:
                start = time.perf_counter()
                count = 0
                async with client.req_mkt_data(_contract()) as ticks:
                    async for tick in ticks:
                        if type(tick) is TickPrice:
                            count += 1
                            if count == n:
                                break
                return time.perf_counter() - start

        return anyio.run(main, backend=backend)

    return run


def run_ib_async(host: str, port: int, n: int) -> float:
    import asyncio

    import ib_async

    async def main() -> float:
        ib = ib_async.IB()
        await ib.connectAsync(host, port, clientId=14, timeout=10)
        done = asyncio.Event()
        count = 0

        def on_pending(tickers: set[ib_async.Ticker]) -> None:
            nonlocal count
            for ticker in tickers:
                count += sum(1 for t in ticker.ticks if t.tickType in (1, 2))
            if count >= n:
                done.set()

        ib.pendingTickersEvent += on_pending
        contract = ib_async.Stock("AAPL", "SMART", "USD", conId=265598)
        start = time.perf_counter()
        ib.reqMktData(contract, "", False, False)
        await asyncio.wait_for(done.wait(), 120)
        elapsed = time.perf_counter() - start
        ib.disconnect()
        return elapsed

    return asyncio.run(main())


def _start_sim(n: int, server_version: int | None) -> tuple[subprocess.Popen[str], str, int]:
    args = ["--burst", str(n)]
    if server_version:
        args += ["--server-version", str(server_version)]
    return start_sim(*args)


ROWS: dict[str, tuple[str, Runner]] = {
    "a": ("(a) stock ibapi (EReader + queue + run)", run_stock_ibapi),
    "b": ("(b) ib_anyio, asyncio", run_ib_anyio("asyncio")),
    "c": ("(c) ib_anyio, trio", run_ib_anyio("trio")),
    "d": ("(d) ibapi decoder, linear framer + queue", run_linear_framer),
    "e": ("(e) ib_async", run_ib_async),
    "f": ("(f) ibapi decoder alone, one thread", run_decoder_alone),
}


def run_row(key: str, host: str, port: int, n: int, repeat: int, no_gc: bool) -> None:
    """Measure one row in this process; print the run times as JSON."""
    _, run = ROWS[key]
    if no_gc:
        gc.disable()
    run(host, port, min(n, 20_000))  # warm-up, uncounted
    times = [run(host, port, n) for _ in range(repeat)]
    print(json.dumps(times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="tickPrice messages per run")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per row (median)")
    parser.add_argument(
        "--server-version",
        type=int,
        default=178,
        help="what the simulator announces (default 178, the newest ib_async speaks, so "
        "every row decodes the same text feed; try 226 for ibapi 10.x's protobuf)",
    )
    parser.add_argument("--no-gc", action="store_true", help="gc.disable() during the runs")
    parser.add_argument("--rows", default="abcdef", help="which rows to run (default: all)")
    parser.add_argument("--row", help=argparse.SUPPRESS)  # internal: one row, in a child
    parser.add_argument("--at", help=argparse.SUPPRESS)  # internal: host:port of the simulator
    args = parser.parse_args()

    if args.row:
        host, port = args.at.rsplit(":", 1)
        run_row(args.row, host, int(port), args.n, args.repeat, args.no_gc)
        return 0

    keys = [k for k in args.rows if k in ROWS]
    if "e" in keys and importlib.util.find_spec("ib_async") is None:
        print("ib_async is not installed: `uv run --group benchmark ...` adds it")
        keys.remove("e")

    from ib_anyio import ibapi_version

    print(
        f"{args.n:,} tickPrice messages, server version {args.server_version}, "
        f"ibapi {ibapi_version()}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
        "each row in a fresh process"
    )
    proc, host, port = _start_sim(args.n, args.server_version)
    results: dict[str, float] = {}
    try:
        for key in keys:
            name, _ = ROWS[key]
            child = [sys.executable, __file__, "--row", key, "--at", f"{host}:{port}"]
            child += ["--n", str(args.n), "--repeat", str(args.repeat)]
            if args.no_gc:
                child.append("--no-gc")
            out = subprocess.run(child, capture_output=True, text=True, check=True).stdout
            times = json.loads(out.strip().splitlines()[-1])
            results[key] = rate = args.n / statistics.median(times)
            spread = ", ".join(f"{args.n / t / 1000:.0f}k" for t in times)
            print(f"{name:45s} {rate / 1000:8.1f}k msgs/s   (runs: {spread})", flush=True)
    finally:
        proc.terminate()
        proc.wait(10)

    def ratio(a: str, b: str) -> str:
        return f"{results[a] / results[b]:.2f}x" if a in results and b in results else "n/a"

    print()
    for ours in ("b", "c"):
        print(
            f"({ours}) vs (a) stock ibapi: {ratio(ours, 'a')}   vs (d) linear framer: "
            f"{ratio(ours, 'd')}   vs (e) ib_async: {ratio(ours, 'e')}   "
            f"vs (f) decoder alone: {ratio(ours, 'f')}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
