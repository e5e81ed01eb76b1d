"""TWS's limits, as the simulated TWS enforces them on each connection.

* Message pacing: more than ``max_msg_rate`` messages from one client in any one second
  gets error 100 "Max rate of messages per second has been exceeded:max=50 rec=N (1)"
  and the connection is closed (off unless ``max_msg_rate`` is set).
* Market-data lines: a streaming ``reqMktData`` beyond ``max_tickers`` open on the
  connection gets error 101 "Max number of tickers has been reached" with its id
  (default 100).
* Historical-data pacing (off unless ``hist_pacing``): error 162 "Historical Market Data
  Service error message:Historical data request pacing violation" with the request's id
  for an identical request within 15 s, more than 6 requests for the same contract,
  exchange and tick type (``whatToShow``) within 2 s, or more than 60 requests for bars
  of 30 seconds or less within 10 minutes. Only the requests served count.
  ``reqRealTimeBars`` (5-second bars) counts under the same rules, on the same tally;
  one that breaks them gets error 420 "Invalid Real-time Query:Historical data request
  pacing violation" with its id.

Time comes from the injectable ``clock`` (seconds, monotonic), so tests move it instead
of sleeping.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs

MSG_RATE_CODE = 100
MAX_TICKERS_CODE = 101
MAX_TICKERS_TEXT = "Max number of tickers has been reached"
HIST_PACING_CODE = 162
HIST_PACING_TEXT = (
    "Historical Market Data Service error message:Historical data request pacing violation"
)

#: TWS's code for a real-time bars request it refuses ("Invalid Real-time Query:" and why).
RT_QUERY_CODE = 420
RT_PACING_TEXT = "Invalid Real-time Query:Historical data request pacing violation"
#: The simulator's own wording (TWS's was not found) for a bar size other than 5 or an
#: unknown ``whatToShow``.
RT_BAR_SIZE_TEXT = "Invalid Real-time Query:Only 5 second bars of TRADES, MIDPOINT, BID, ASK"

IDENTICAL_WINDOW = 15.0
SAME_CONTRACT_WINDOW = 2.0
SAME_CONTRACT_MAX = 6
SMALL_BARS_WINDOW = 600.0
SMALL_BARS_MAX = 60


def msg_rate_text(max_rate: int, received: int) -> str:
    """TWS's error 100 text."""
    return f"Max rate of messages per second has been exceeded:max={max_rate} rec={received} (1)"


@attrs.frozen
class Rules:
    """Which of TWS's limits a simulated TWS enforces (see :func:`serve`).

    Attributes:
        max_msg_rate: Messages a client may send in any one second; ``None``: no limit.
        max_tickers: Streaming market-data lines a connection may hold; ``None``: no limit.
        hist_pacing: Whether historical-data requests are paced as TWS paces them.
        clock: Seconds from a monotonic clock; tests pass one they advance themselves.
    """

    max_msg_rate: int | None = None
    max_tickers: int | None = 100
    hist_pacing: bool = False
    clock: Callable[[], float] = time.monotonic


class MessageRate:
    """Arrival times of one connection's messages within the last second."""

    def __init__(self, rules: Rules) -> None:
        self._rules = rules
        self._times: deque[float] = deque()

    def exceeded(self) -> int | None:
        """Count one message now; returns how many arrived in the last second when that
        is more than allowed, else ``None``."""
        limit = self._rules.max_msg_rate
        if limit is None:
            return None
        now = self._rules.clock()
        self._times.append(now)
        while self._times[0] <= now - 1.0:
            self._times.popleft()
        return len(self._times) if len(self._times) > limit else None


def _small_bars(bar_size: str) -> bool:
    """Whether a ``barSizeSetting`` ("1 secs", "30 secs", "1 min", ...) is 30 s or less."""
    count, _, unit = bar_size.strip().partition(" ")
    try:
        return unit.startswith("sec") and int(count) <= 30
    except ValueError:
        return False


def _key(value: Any) -> str:
    if isinstance(value, dict):
        return repr(sorted((k, _key(v)) for k, v in value.items()))
    return repr(value)


class HistoricalPacing:
    """One connection's served historical-data requests, to pace the next."""

    def __init__(self, rules: Rules) -> None:
        self._rules = rules
        self._served: deque[tuple[float, str, str, bool]] = deque()

    def violation(self, fields: dict[str, Any]) -> bool:
        """Whether the request in ``fields`` breaks a pacing rule; if not, it is counted."""
        if not self._rules.hist_pacing:
            return False
        now = self._rules.clock()
        while self._served and self._served[0][0] <= now - SMALL_BARS_WINDOW:
            self._served.popleft()
        contract = fields.get("contract")
        contract = contract if isinstance(contract, dict) else {}
        same = _key(
            {
                "contract": {k: v for k, v in contract.items() if k != "exchange"},
                "exchange": contract.get("exchange"),
                "whatToShow": fields.get("whatToShow"),
            }
        )
        identical = _key({k: v for k, v in fields.items() if k != "reqId"})
        small = _small_bars(str(fields.get("barSizeSetting", "")))
        if any(t > now - IDENTICAL_WINDOW and i == identical for t, _, i, _ in self._served):
            return True
        recent = [t for t, s, _, _ in self._served if s == same and t > now - SAME_CONTRACT_WINDOW]
        if len(recent) >= SAME_CONTRACT_MAX:
            return True
        if small and sum(1 for *_, b in self._served if b) >= SMALL_BARS_MAX:
            return True
        self._served.append((now, same, identical, small))
        return False

    def real_time_violation(self, fields: dict[str, Any]) -> bool:
        """Whether a ``reqRealTimeBars`` breaks the same rules; if not, it is counted
        with the historical requests (as bars of ``barSize`` seconds)."""
        return self.violation(
            {
                "request": "reqRealTimeBars",
                "contract": fields.get("contract"),
                "whatToShow": fields.get("whatToShow"),
                "useRTH": fields.get("useRTH"),
                "barSizeSetting": f"{fields.get('barSize')} secs",
            }
        )
