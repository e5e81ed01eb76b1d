"""The real ibapi EClient, run in a thread, recording callbacks for the sim tests."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import anyio
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.order import Order
from ibapi.server_versions import MAX_CLIENT_VER
from ibapi.wrapper import EWrapper

from ib_anyio.sim._server import SimServer, max_version

WAIT = 10.0

# Versions where a message layout or encoding changes (see ib_anyio.sim._encode).
_INTERESTING = (100, 124, 157, 176, 193, 196, 200, 201, 205, 206, 208, 213, 226)
CLIENT_MAX = min(MAX_CLIENT_VER, max_version())
VERSIONS = [v for v in _INTERESTING if v <= CLIENT_MAX]


Event = tuple[Any, ...]


class _PromptQueue(queue.Queue[Any]):
    """ibapi's run() polls its queue every 0.2 s to notice a closed connection;
    poll every 10 ms instead, so that closing a test client does not dominate
    the suite's run time (ibapi itself is unchanged: only its queue object)."""

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        return super().get(block, None if timeout is None else min(timeout, 0.01))


class App(EWrapper, EClient):  # type: ignore[misc]
    """An ibapi client recording the callbacks the tests look at, as tuples."""

    def __init__(self) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, self)
        self.msg_queue = _PromptQueue()
        self.events: list[Event] = []
        self._cond = threading.Condition()
        self.thread: threading.Thread | None = None

    def _add(self, *event: Any) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def of(self, name: str, req_id: int | None = None) -> list[Event]:
        with self._cond:
            return [
                e
                for e in self.events
                if e[0] == name and (req_id is None or (len(e) > 1 and e[1] == req_id))
            ]

    async def wait(self, predicate: Callable[[list[Event]], bool]) -> list[Event]:
        """Wait (in a worker thread, never sleeping) until ``predicate(events)`` holds."""

        def block() -> bool:
            with self._cond:
                return self._cond.wait_for(lambda: predicate(self.events), timeout=WAIT)

        with anyio.fail_after(WAIT + 1):
            ok = await anyio.to_thread.run_sync(block)
        assert ok, f"timed out; events: {self.events[-20:]}"
        with self._cond:
            return list(self.events)

    async def wait_for(self, name: str, req_id: int | None = None, count: int = 1) -> list[Event]:
        await self.wait(lambda _: len(self.of(name, req_id)) >= count)
        return self.of(name, req_id)

    # -- recorded callbacks ---------------------------------------------------------

    def error(self, reqId: int, *args: Any) -> None:
        # 9.x: (code, message); 10.x: (errorTime, code, message, advancedOrderRejectJson)
        code, message = (args[0], args[1]) if len(args) == 2 else (args[1], args[2])
        self._add("error", reqId, code, message)

    def nextValidId(self, orderId: int) -> None:
        self._add("nextValidId", orderId)

    def managedAccounts(self, accountsList: str) -> None:
        self._add("managedAccounts", accountsList)

    def currentTime(self, time: int) -> None:
        self._add("currentTime", time)

    def currentTimeInMillis(self, timeInMillis: int) -> None:
        self._add("currentTimeInMillis", timeInMillis)

    def contractDetails(self, reqId: int, contractDetails: Any) -> None:
        self._add("contractDetails", reqId, contractDetails)

    def contractDetailsEnd(self, reqId: int) -> None:
        self._add("contractDetailsEnd", reqId)

    def historicalData(self, reqId: int, bar: Any) -> None:
        self._add("historicalData", reqId, bar)

    def historicalDataEnd(self, reqId: int, start: str, end: str) -> None:
        self._add("historicalDataEnd", reqId, start, end)

    def historicalDataUpdate(self, reqId: int, bar: Any) -> None:
        self._add("historicalDataUpdate", reqId, bar)

    def realtimeBar(
        self,
        reqId: int,
        time: int,
        open_: float,
        high: float,
        low: float,
        close: float,
        volume: Any,
        wap: Any,
        count: int,
    ) -> None:
        self._add(
            "realtimeBar", reqId, time, open_, high, low, close, float(volume), float(wap), count
        )

    def tickPrice(self, reqId: int, tickType: int, price: float, attrib: Any) -> None:
        self._add("tickPrice", reqId, tickType, price)

    def tickSize(self, reqId: int, tickType: int, size: Any) -> None:
        self._add("tickSize", reqId, tickType, int(size))

    def tickString(self, reqId: int, tickType: int, value: str) -> None:
        self._add("tickString", reqId, tickType, value)

    def tickSnapshotEnd(self, reqId: int) -> None:
        self._add("tickSnapshotEnd", reqId)

    def marketDataType(self, reqId: int, marketDataType: int) -> None:
        self._add("marketDataType", reqId, marketDataType)

    def positionEnd(self) -> None:
        self._add("positionEnd")

    def openOrderEnd(self) -> None:
        self._add("openOrderEnd")

    def completedOrdersEnd(self) -> None:
        self._add("completedOrdersEnd")

    def execDetailsEnd(self, reqId: int) -> None:
        self._add("execDetailsEnd", reqId)

    def accountDownloadEnd(self, accountName: str) -> None:
        self._add("accountDownloadEnd", accountName)

    def connectionClosed(self) -> None:
        self._add("connectionClosed")

    # -- orders and the account -----------------------------------------------------

    def openOrder(self, orderId: int, contract: Any, order: Any, orderState: Any) -> None:
        self._add("openOrder", orderId, contract, order, orderState)

    def orderStatus(
        self, orderId: int, status: str, filled: Any, remaining: Any, *rest: Any
    ) -> None:
        # rest: avgFillPrice, permId, parentId, lastFillPrice, clientId, whyHeld, mktCapPrice
        self._add("orderStatus", orderId, status, float(filled), float(remaining), *rest)

    def execDetails(self, reqId: int, contract: Any, execution: Any) -> None:
        self._add("execDetails", reqId, contract, execution)

    def commissionReport(self, commissionReport: Any) -> None:  # ibapi 9.81
        self._add("commission", commissionReport)

    def commissionAndFeesReport(self, commissionAndFeesReport: Any) -> None:
        self._add("commission", commissionAndFeesReport)

    def completedOrder(self, contract: Any, order: Any, orderState: Any) -> None:
        self._add("completedOrder", contract, order, orderState)

    def position(self, account: str, contract: Any, position: Any, avgCost: float) -> None:
        self._add("position", account, contract, float(position), avgCost)

    def updateAccountValue(self, key: str, val: str, currency: str, accountName: str) -> None:
        self._add("updateAccountValue", key, val, currency, accountName)

    def updatePortfolio(self, contract: Any, position: Any, *rest: Any) -> None:
        # rest: marketPrice, marketValue, averageCost, unrealizedPNL, realizedPNL, accountName
        self._add("updatePortfolio", contract, float(position), *rest)

    def accountSummary(self, reqId: int, account: str, tag: str, value: str, currency: str) -> None:
        self._add("accountSummary", reqId, account, tag, value, currency)

    def accountSummaryEnd(self, reqId: int) -> None:
        self._add("accountSummaryEnd", reqId)

    def positionMulti(
        self, reqId: int, account: str, modelCode: str, contract: Any, pos: Any, avgCost: float
    ) -> None:
        self._add("positionMulti", reqId, account, contract, float(pos), avgCost)

    def positionMultiEnd(self, reqId: int) -> None:
        self._add("positionMultiEnd", reqId)

    def accountUpdateMulti(
        self, reqId: int, account: str, modelCode: str, key: str, value: str, currency: str
    ) -> None:
        self._add("accountUpdateMulti", reqId, key, value, currency)

    def accountUpdateMultiEnd(self, reqId: int) -> None:
        self._add("accountUpdateMultiEnd", reqId)

    def pnl(self, reqId: int, dailyPnL: float, unrealizedPnL: float, realizedPnL: float) -> None:
        self._add("pnl", reqId, dailyPnL, unrealizedPnL, realizedPnL)

    def pnlSingle(
        self,
        reqId: int,
        pos: Any,
        dailyPnL: float,
        unrealizedPnL: float,
        realizedPnL: float,
        value: float,
    ) -> None:
        self._add("pnlSingle", reqId, float(pos), dailyPnL, unrealizedPnL, realizedPnL, value)


async def call(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a (socket-writing) EClient method off the event loop."""
    return await anyio.to_thread.run_sync(lambda: fn(*args))


async def connect(server: SimServer, client_id: int = 0) -> App:
    """Connect a fresh ibapi client to ``server`` and start its message loop thread."""
    app = App()
    await anyio.to_thread.run_sync(app.connect, server.host, server.port, client_id)
    assert app.isConnected(), "ibapi could not connect to the simulated TWS"
    app.thread = threading.Thread(target=app.run, name=f"ibapi-{client_id}", daemon=True)
    app.thread.start()
    return app


async def close(app: App) -> None:
    """Close the socket and let the message loop thread finish the disconnect itself:
    ``EClient.disconnect`` from another thread resets the server version under a loop
    still draining its queue (an ibapi race)."""
    conn = app.conn
    if conn is not None:
        await call(conn.disconnect)
    if app.thread is not None:
        await anyio.to_thread.run_sync(app.thread.join, WAIT)
        assert not app.thread.is_alive()


# -- orders ---------------------------------------------------------------------


def stock(symbol: str = "AAPL") -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, "STK", "SMART", "USD"
    return c


def order(action: str, qty: int, order_type: str = "MKT", price: float | None = None) -> Order:
    o = Order()
    o.action, o.totalQuantity, o.orderType = action, qty, order_type
    if price is not None:
        o.lmtPrice = price
    # ibapi 10.x sends these two as set by default; TWS rejects them as unsupported.
    o.eTradeOnly = False
    o.firmQuoteOnly = False
    return o


def commission(report: Any) -> float:
    amount = getattr(report, "commissionAndFees", None)
    return float(report.commission if amount is None else amount)


def filled(app: App, order_id: int) -> list[tuple[Any, ...]]:
    return [e for e in app.of("orderStatus", order_id) if e[2] == "Filled"]


async def place(app: App, order_id: int, contract: Contract, o: Order) -> None:
    if app.serverVersion() < 111:  # MIN_SERVER_VER_CASH_QTY: ibapi refuses its own unset value
        o.cashQty = 0.0
    await call(app.placeOrder, order_id, contract, o)


def cancel_args(order_id: int) -> tuple[Any, ...]:
    """``cancelOrder``'s arguments for the installed ibapi: 9.81 takes the id only, 10.x
    before 10.37 a manual cancel time, later an ``OrderCancel``."""
    import inspect

    from ibapi.client import EClient

    params = list(inspect.signature(EClient.cancelOrder).parameters)[2:]
    if not params:
        return (order_id,)
    if params[0] == "orderCancel":
        from ibapi.order_cancel import OrderCancel

        return (order_id, OrderCancel())
    return (order_id, "")
