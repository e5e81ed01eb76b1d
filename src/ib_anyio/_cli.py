"""The ``ib-anyio`` command: ``demo`` and ``sim``."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import sys
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

import anyio
from ibapi.contract import Contract
from ibapi.ticktype import TickTypeEnum

from . import orders
from ._connect import connect
from ._errors import IBError

if TYPE_CHECKING:
    from ._generated._client import Client

__all__ = ["main"]


def _stock(symbol: str) -> Contract:
    contract = Contract()
    contract.symbol = symbol
    contract.secType = "STK"
    contract.exchange = "SMART"
    contract.currency = "USD"
    return contract


def _simulated(host: str | None, port: int | None) -> bool:
    return host is None and port is None


@contextlib.asynccontextmanager
async def _target(host: str | None, port: int | None) -> AsyncIterator[tuple[str, int]]:
    """A real TWS if ``host``/``port`` are given, else the embedded simulator."""
    if host is not None or port is not None:
        yield host or "127.0.0.1", port or 7497
        return
    from . import sim

    async with sim.serve(port=0) as server:
        print(f"started the simulated TWS on {server.host}:{server.port}")
        yield server.host, server.port


async def demo(host: str | None, port: int | None, client_id: int, symbol: str, ticks: int) -> None:
    """Connect, then show the current time, contract details, bars and live ticks; on the
    embedded simulator (never on a real TWS) also a what-if and a filled market order."""
    async with _target(host, port) as (h, p), connect(h, p, client_id=client_id) as client:
        print(f"connected to {h}:{p}, server version {client.server_version}")
        print(f"accounts: {', '.join(client.managed_accounts)}")
        now = await client.req_current_time()
        print(f"TWS time: {datetime.datetime.fromtimestamp(now.time, datetime.timezone.utc)}")

        contract = _stock(symbol)
        for item in await client.req_contract_details(contract):
            details = item.contract_details
            c = details.contract
            print(
                f"contract: {c.symbol} {c.secType} conId={c.conId} "
                f"{c.primaryExchange or c.exchange} {c.currency} - {details.longName}"
            )
        bars = await client.req_historical_data(
            contract,
            end_date_time="",
            duration_str="1 D",
            bar_size_setting="1 hour",
            what_to_show="TRADES",
            use_rth=True,
        )
        shown = [b.bar for b in bars if hasattr(b, "bar")][:5]
        for bar in shown:
            print(
                f"bar {bar.date}: open {bar.open} high {bar.high} low {bar.low} close {bar.close}"
            )
        print(f"{ticks} live ticks for {symbol}:")
        async with client.req_mkt_data(contract) as stream:
            count = 0
            async for tick in stream:
                print(f"  {_describe(tick)}")
                count += 1
                if count >= ticks:
                    break
        if _simulated(host, port):
            await _trade(client, contract)


async def _trade(client: Client, contract: Contract) -> None:
    """Buy 10 shares on the simulated TWS: what-if first, then the order and its fill."""
    order = orders.market("BUY", 10)
    state = await client.what_if(contract, order)
    fees = vars(state)  # ibapi 9.81 names it commission
    fee = fees.get("commissionAndFees", fees.get("commission"))
    print(
        f"what-if BUY 10 {contract.symbol}: commission {fee:.2f}, "
        f"initial margin change {state.initMarginChange}"
    )
    async with client.place_order(contract, order) as trade:
        await trade.done()
    for fill in trade.fills:
        execution = fill.execution
        print(f"  fill {execution.shares} @ {execution.price} ({execution.execId})")
    print(
        f"order {trade.order_id}: {trade.status} {trade.filled} @ {trade.avg_fill_price}, "
        f"commission {trade.commission:.2f}"
    )
    for position in await client.positions():
        print(f"position: {position.contract.symbol} {position.position} @ {position.avg_cost:.4f}")


def _describe(tick: object) -> str:
    """One line per tick: its class, the tick type's name and its value."""
    kind = type(tick).__name__
    tick_type = getattr(tick, "tick_type", None)
    if tick_type is None:
        return repr(tick)
    to_str = getattr(TickTypeEnum, "toStr", None) or TickTypeEnum.to_str  # 9.81: to_str
    name = to_str(tick_type)
    for field in ("price", "size", "value"):
        if hasattr(tick, field):
            return f"{kind:<10} {name:<14} {getattr(tick, field)}"
    return f"{kind:<10} {name}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ib-anyio", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    d = commands.add_parser(
        "demo", help="run the demo (against the embedded simulated TWS by default)"
    )
    d.add_argument("--host", help="a real TWS/Gateway host (default: start the simulator)")
    d.add_argument("--port", type=int, help="a real TWS/Gateway API port")
    d.add_argument("--client-id", type=int, default=1)
    d.add_argument("--symbol", default="AAPL")
    d.add_argument("--ticks", type=int, default=20)
    d.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    commands.add_parser("sim", help="run the simulated TWS standalone", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "sim":
        from . import sim

        return sim.main(list(rest))
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        anyio.run(
            demo,
            args.host,
            args.port,
            args.client_id,
            args.symbol,
            args.ticks,
            backend=args.backend,
        )
    except IBError as exc:
        print(f"ib-anyio demo: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
