"""Surviving TWS's outages: the reconnect policy, connection events, stream gaps.

One supervisor task runs beside every ``async with ib_anyio.connect(...)``
block. It waits for two kinds of job, queued on the event loop:

* ``"lost"``: the connection dropped. Under a :class:`Reconnect` policy it
  reconnects (backoff with jitter), re-sends every open subscription with a new
  request id (each stream gets a :class:`Gap` first) and reconciles orders;
  without a policy the bridge has already ended everything.
* ``"data_lost"``: TWS said 1101 ("connectivity restored, data lost"): the
  market-data subscriptions are re-sent, each after a :class:`Gap`.

Re-sent requests wait for pacing permits like any other request.
"""

from __future__ import annotations

import collections
import logging
import math
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final, Literal, TypeAlias, final

import anyio
import attrs

from ._errors import ConnectionFailed, ConnectionLost, ReconnectFailed, UnsupportedServerVersion

if TYPE_CHECKING:
    from ._client import ClientBase

__all__ = [
    "ConnectionEvent",
    "Disconnected",
    "FarmStatus",
    "Gap",
    "Reconnect",
    "Reconnected",
    "Reconnecting",
    "TWSConnectivity",
]

logger = logging.getLogger("ib_anyio")

#: Subscriptions TWS forgets on 1101 ("data lost"): the ones a market-data farm serves.
MARKET_DATA_REQUESTS: Final = frozenset(
    {
        "req_mkt_data",
        "req_mkt_depth",
        "req_tick_by_tick_data",
        "req_real_time_bars",
        "req_historical_data",
        "req_scanner_subscription",
    }
)

#: TWS's connectivity codes (error messages with id -1).
CONNECTIVITY_CODES: Final = frozenset({1100, 1101, 1102, 1300, 2110})
#: TWS's data-farm status codes, and whether each says the farm is usable.
FARM_CODES: Final = {
    2103: False,  # market data farm connection is broken
    2104: True,  # market data farm connection is OK
    2105: False,  # HMDS data farm connection is broken
    2106: True,  # HMDS data farm connection is OK
    2107: True,  # HMDS data farm connection is inactive but should be available on demand
    2108: True,  # market data farm connection is inactive but should be available on demand
    2119: False,  # market data farm is connecting
    2157: False,  # sec-def data farm connection is broken
    2158: True,  # sec-def data farm connection is OK
}


@final
@attrs.frozen
class Reconnect:
    """A reconnect policy for :func:`ib_anyio.connect` (see docs/reliability.md).

    The n-th attempt waits ``min(initial_delay * multiplier ** (n - 1), max_delay)``
    seconds, randomly lengthened or shortened by up to ``jitter`` of itself
    (so that many clients do not reconnect in step).

    Attributes:
        initial_delay: Seconds before the first attempt.
        max_delay: The longest wait between attempts.
        multiplier: How much longer each wait is than the one before.
        jitter: The random part of each wait, as a fraction of it (0 to 1).
        max_attempts: Attempts before giving up (``None``: never give up);
            then everything ends with :class:`~ib_anyio.ReconnectFailed`.

    Raises:
        ValueError: For a negative delay, a multiplier below 1, a jitter
            outside 0..1 or fewer than one attempt.
    """

    initial_delay: float = 0.1
    max_delay: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.1
    max_attempts: int | None = None

    def __attrs_post_init__(self) -> None:
        if not (0 <= self.initial_delay <= self.max_delay and math.isfinite(self.max_delay)):
            raise ValueError(
                "Reconnect: need 0 <= initial_delay <= max_delay (finite), not "
                f"{self.initial_delay!r} and {self.max_delay!r}"
            )
        if not self.multiplier >= 1:
            raise ValueError(f"Reconnect: multiplier must be at least 1, not {self.multiplier!r}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"Reconnect: jitter must be within 0..1, not {self.jitter!r}")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError(
                f"Reconnect: max_attempts must be at least 1 or None, not {self.max_attempts!r}"
            )

    def delay(self, attempt: int) -> float:
        """The wait before attempt number ``attempt`` (from 1), jitter included."""
        base = min(self.initial_delay * self.multiplier ** (attempt - 1), self.max_delay)
        return max(0.0, base * (1 + random.uniform(-self.jitter, self.jitter)))


@final
@attrs.frozen
class Gap:
    """A marker in a stream: data may be missing here.

    Delivered to every open subscription, right before the data of the
    request re-sent after a reconnect (``reason="reconnect"``) or after TWS's
    1101 "connectivity restored, data lost" (``reason="data_lost"``). What
    follows is a fresh start: e.g. the full snapshot again for positions or
    historical bars.

    Attributes:
        reason: ``"reconnect"`` or ``"data_lost"``.
        old_req_id: The request id before (``None`` for id-less subscriptions).
        req_id: The request id from now on (``stream.req_id`` too).
    """

    reason: Literal["reconnect", "data_lost"]
    old_req_id: int | None
    req_id: int | None


@final
@attrs.frozen
class Disconnected:
    """The connection to TWS dropped; under a reconnect policy, reconnecting begins.

    Attributes:
        error: Why (a :class:`~ib_anyio.ConnectionLost`).
    """

    error: ConnectionLost


@final
@attrs.frozen
class Reconnecting:
    """An attempt to reconnect is about to be made, after ``delay`` seconds.

    Attributes:
        attempt: Its number, from 1.
        delay: The wait before it, seconds.
        error: Why the previous attempt failed (``None`` for the first).
    """

    attempt: int
    delay: float
    error: BaseException | None = None


@final
@attrs.frozen
class Reconnected:
    """The connection is back, every open subscription has been re-sent and the
    orders have been reconciled.

    Attributes:
        attempt: The attempt that succeeded.
        server_version: The version negotiated this time.
        resubscribed: How many subscriptions were re-sent.
    """

    attempt: int
    server_version: int
    resubscribed: int


@final
@attrs.frozen
class TWSConnectivity:
    """TWS's own connectivity notice: 1100 (TWS lost its connection to IB),
    1101 (restored, market data lost: ib_anyio re-sends the subscriptions),
    1102 (restored, data maintained), 1300 (TWS's socket port was reset),
    2110 (TWS's connectivity to the IB servers is broken).

    Attributes:
        code: TWS's code.
        message: TWS's text.
    """

    code: int
    message: str

    @property
    def lost(self) -> bool:
        """Whether this says connectivity is gone (1100, 2110)."""
        return self.code in (1100, 2110)

    @property
    def data_lost(self) -> bool:
        """Whether market data subscriptions were lost (1101)."""
        return self.code == 1101


@final
@attrs.frozen
class FarmStatus:
    """A TWS data-farm notice (2103 to 2108, 2119, 2157, 2158).

    Attributes:
        code: TWS's code.
        message: TWS's text (``"Market data farm connection is OK:usfarm"``).
        farm: The farm's name (``"usfarm"``), from the text after the colon.
        ok: Whether the farm is usable (OK, or inactive but available on demand).
    """

    code: int
    message: str
    farm: str
    ok: bool


#: What ``client.connection_events()`` yields.
ConnectionEvent: TypeAlias = (
    Disconnected | Reconnecting | Reconnected | TWSConnectivity | FarmStatus
)


def connection_event(code: int, message: str) -> TWSConnectivity | FarmStatus | None:
    """The event for TWS notice ``code``, if it is one."""
    if code in CONNECTIVITY_CODES:
        return TWSConnectivity(code, message)
    ok = FARM_CODES.get(code)
    if ok is None:
        return None
    return FarmStatus(code, message, message.rpartition(":")[2].strip(), ok)


Job: TypeAlias = Literal["lost", "data_lost"]


class Supervisor:
    """The task beside a connection's block (see the module docstring)."""

    def __init__(
        self,
        client: ClientBase,
        policy: Reconnect | None,
        start_session: Callable[[], Awaitable[None]],
    ) -> None:
        self._client = client
        self._policy = policy
        self._start_session = start_session
        self._jobs: collections.deque[Job] = collections.deque()
        self._queued = anyio.Event()

    def submit(self, job: Job) -> None:
        """Event loop: queue ``job``."""
        self._jobs.append(job)
        self._queued.set()

    async def run(self) -> None:
        client = self._client
        while True:
            while not self._jobs:
                self._queued = anyio.Event()
                await self._queued.wait()
            job = self._jobs.popleft()
            try:
                if job == "data_lost":
                    if client.is_connected:
                        await client._resubscribe("data_lost")
                elif self._policy is not None and not client.is_connected:
                    await self._reconnect(self._policy)
            except ConnectionLost:
                continue  # dropped again meanwhile: a "lost" job is queued
            except Exception as exc:  # a bug of ours: end the connection, loudly
                logger.exception("ib_anyio: the connection supervisor failed")
                client._give_up(ReconnectFailed(f"the connection supervisor failed: {exc}"))
                return

    async def _reconnect(self, policy: Reconnect) -> None:
        client = self._client
        await client._bridge.close_link()  # the dropped one: join its threads, close its socket
        error: BaseException | None = None
        attempt = 0
        while True:
            attempt += 1
            if policy.max_attempts is not None and attempt > policy.max_attempts:
                client._give_up(
                    ReconnectFailed(
                        f"could not reconnect to TWS in {policy.max_attempts} attempts; "
                        f"the last failed with: {error}"
                    )
                )
                return
            delay = policy.delay(attempt)
            client._emit(Reconnecting(attempt, delay, error))
            await anyio.sleep(delay)
            try:
                await self._start_session()
            except UnsupportedServerVersion as exc:
                client._give_up(ReconnectFailed(f"cannot reconnect to TWS: {exc}"))
                return
            except (ConnectionFailed, ConnectionLost, OSError) as exc:
                logger.info("ib_anyio: reconnect attempt %d failed: %s", attempt, exc)
                error = exc
                continue
            logger.info("ib_anyio: reconnected to TWS (attempt %d)", attempt)
            resent = await client._resubscribe("reconnect")
            await client._reconcile_orders()
            client._restored()
            client._emit(Reconnected(attempt, client.server_version, resent))
            return
