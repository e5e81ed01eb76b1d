"""Message pacing: never more than ``max_msg_rate`` messages to TWS in any one second.

TWS closes the connection (error 100, "Max rate of messages per second has been
exceeded") when a client sends more than 50 messages in a second. One
:class:`MessagePacer` per connection counts every message the client sends in a
sliding window of 1.1 s (TWS's second, plus room for travel-time jitter):

* Callers that may wait (request methods, opening a stream, placing, modifying
  and cancelling orders) ``await`` :meth:`MessagePacer.acquire` first; it
  returns at once while the window has room, and otherwise sleeps (never
  blocking the event loop) until it has, first come first served. The permit
  is recorded; the send that follows uses it.
* Every send calls :meth:`MessagePacer.sent`. A send with a permit uses it; a
  send that must go out at once (the cancel on leaving a block, fire-and-forget
  methods) is counted there and then, so later permits wait for it.

:class:`HistoricalPacer` applies TWS's historical-data pacing rules (error 162)
to ``reqHistoricalData`` the same way: by waiting before the request is sent.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Final

import anyio

__all__ = [
    "DEFAULT_MAX_MSG_RATE",
    "PACING_WINDOW",
    "TWS_MAX_MSG_RATE",
    "HistoricalPacer",
    "MessagePacer",
    "check_max_msg_rate",
]

#: TWS's own limit: messages a client may send in any one second.
TWS_MAX_MSG_RATE: Final = 50
#: The default limit: below TWS's, leaving room for the messages of the
#: handshake and for network jitter bunching messages at TWS's end.
DEFAULT_MAX_MSG_RATE: Final = 45

#: The window the pacer counts in: TWS's one second, plus room for the way there.
#: Messages queued at once reach TWS spread out by the writer thread and the
#: network, while messages of the next second may travel faster: counting over a
#: longer window than TWS keeps TWS's count within the limit whenever the
#: travel times differ by less than the slack.
PACING_WINDOW: Final = 1.0 + 0.1


def check_max_msg_rate(value: object) -> int | None:
    """Validate ``connect(max_msg_rate=...)``: an int in 1..50, or ``None`` (no pacing)."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= TWS_MAX_MSG_RATE:
        raise ValueError(
            f"max_msg_rate must be an int from 1 to {TWS_MAX_MSG_RATE} (or None), not {value!r}"
        )
    return value


class MessagePacer:
    """A sliding window (1.1 s) over the messages sent on one connection.

    Args:
        max_rate: Messages allowed in any one second; ``None`` turns pacing
            off (for tests and simulators without TWS's limit).
        clock: Seconds from a monotonic clock.
    """

    __slots__ = ("_clock", "_credits", "_lock", "_max_rate", "_times", "_waiting")

    def __init__(
        self, max_rate: int | None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_rate = max_rate
        self._clock = clock
        self._times: deque[float] = deque()
        self._credits = 0  # permits acquired and not yet used by a send
        self._waiting = 0
        self._lock = anyio.Lock()

    @property
    def max_rate(self) -> int | None:
        """Messages allowed in any one second (``None``: no pacing)."""
        return self._max_rate

    def in_window(self) -> int:
        """How many messages the window holds now (sent or permitted in the last 1.1 s)."""
        self._expire(self._clock())
        return len(self._times)

    async def acquire(self) -> None:
        """Wait until one more message fits in the window, and reserve it for the next send.

        Returns without yielding while the window has room and nobody waits;
        otherwise waits in turn. Cancelling the wait reserves nothing.
        """
        if self._max_rate is None:
            return
        if not self._waiting and self._admit():
            return
        self._waiting += 1
        try:
            async with self._lock:
                while True:  # a timed wait: the window frees up with time, not on an event
                    if self._admit():
                        break
                    await anyio.sleep(max(self._times[0] + PACING_WINDOW - self._clock(), 0.0))
        finally:
            self._waiting -= 1

    def sent(self) -> None:
        """Count one message sent now: with the permit acquired for it, or over the limit."""
        if self._max_rate is None:
            return
        if self._credits:
            self._credits -= 1
            return
        now = self._clock()
        self._expire(now)
        self._times.append(now)

    def _admit(self) -> bool:
        assert self._max_rate is not None
        now = self._clock()
        self._expire(now)
        if len(self._times) >= self._max_rate:
            return False
        self._times.append(now)
        self._credits += 1
        return True

    def _expire(self, now: float) -> None:
        times = self._times
        while times and times[0] <= now - PACING_WINDOW:
            times.popleft()


#: TWS's historical-data pacing rules (seconds, requests).
IDENTICAL_WINDOW: Final = 15.0
SAME_CONTRACT_WINDOW: Final = 2.0
SAME_CONTRACT_MAX: Final = 6
SMALL_BARS_WINDOW: Final = 600.0
SMALL_BARS_MAX: Final = 60
#: Historical requests a client may have open (sent, not yet answered) at once.
MAX_OPEN_HISTORICAL: Final = 50
#: Added to every historical window, for the way to TWS (as for messages).
_HIST_SLACK: Final = 0.1


def small_bars(bar_size: str) -> bool:
    """Whether a ``barSizeSetting`` ("1 secs", "30 secs", "1 min", ...) is 30 s or less."""
    count, _, unit = bar_size.strip().partition(" ")
    try:
        return unit.startswith("sec") and int(count) <= 30
    except ValueError:
        return False


class HistoricalPacer:
    """TWS's historical-data pacing, applied before ``reqHistoricalData`` is sent (waiting).

    TWS answers error 162 (a pacing violation) to a request identical to one
    made within 15 s, to the 7th request for the same contract, exchange and
    ``whatToShow`` within 2 s, and to more than 60 requests for bars of 30 s or
    less within 10 minutes, and allows 50 historical requests open at once.
    :meth:`acquire` waits until a request breaks none of these, then counts it
    as sent and open; :meth:`release` says it is answered (or cancelled).

    Args:
        clock: Seconds from a monotonic clock.
        sleep: How to wait that many seconds (tests pass one that moves their clock).
    """

    __slots__ = ("_clock", "_freed", "_sent", "_sleep", "max_open", "open")

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[tuple[float, Hashable, Hashable, bool]] = deque()
        #: Requests acquired and not released: sent and still open.
        self.open = 0
        self.max_open = MAX_OPEN_HISTORICAL
        self._freed: anyio.Event | None = None

    async def acquire(
        self, same: Hashable, identical: Hashable, small: bool, *, new: bool = True
    ) -> Callable[[], None]:
        """Wait until a request may be sent, and count it as sent and open.

        Returns:
            The function to call once the request is no longer open (answered,
            failed or cancelled); calling it again does nothing.

        Args:
            same: Identifies the contract, exchange and ``whatToShow``.
            identical: Identifies the whole request (all but its id).
            small: Whether its bars are 30 s or less.
            new: Whether it opens a new request (``False``: it re-sends one
                already open, which keeps its place; only the time rules apply).
        """
        while True:
            while new and self.open >= self.max_open:
                if self._freed is None:
                    self._freed = anyio.Event()
                await self._freed.wait()
            delay = self._delay(same, identical, small)
            if delay <= 0:
                break
            await self._sleep(delay)
        self._sent.append((self._clock(), same, identical, small))
        released = not new
        if new:
            self.open += 1

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.open -= 1
                freed, self._freed = self._freed, None
                if freed is not None:
                    freed.set()

        return release

    def _delay(self, same: Hashable, identical: Hashable, small: bool) -> float:
        now = self._clock()
        sent = self._sent
        while sent and sent[0][0] <= now - SMALL_BARS_WINDOW - _HIST_SLACK:
            sent.popleft()
        until = [t + IDENTICAL_WINDOW for t, _, i, _ in sent if i == identical]
        same_times = [t for t, s, _, _ in sent if s == same]
        if len(same_times) >= SAME_CONTRACT_MAX:
            until.append(same_times[-SAME_CONTRACT_MAX] + SAME_CONTRACT_WINDOW)
        if small:
            small_times = [t for t, *_, b in sent if b]
            if len(small_times) >= SMALL_BARS_MAX:
                until.append(small_times[-SMALL_BARS_MAX] + SMALL_BARS_WINDOW)
        if not until:
            return 0.0
        return max(until) + _HIST_SLACK - now
