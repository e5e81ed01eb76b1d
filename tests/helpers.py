"""Shared helpers for the end-to-end tests."""

from __future__ import annotations

import ib_anyio


def stock(symbol: str = "AAPL") -> ib_anyio.Contract:
    contract = ib_anyio.Contract()
    contract.symbol = symbol
    contract.secType = "STK"
    contract.exchange = "SMART"
    contract.currency = "USD"
    return contract
