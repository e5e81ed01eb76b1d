"""A simulated TWS that the real, unmodified ibapi ``EClient`` talks to over loopback.

Test strategies offline, run end-to-end tests and benchmarks::

    from ib_anyio import sim

    async with sim.serve(port=0) as server:
        ...  # connect an ibapi EClient (or ib_anyio) to server.host, server.port
        await server.wait_for(lambda m: m.name == "cancelMktData")

It serves the handshake, ``startApi``, ``reqIds``, ``reqManagedAccts``,
``reqCurrentTime``, ``reqCurrentTimeInMillis``, ``reqContractDetails``,
``reqHistoricalData`` (with ``keepUpToDate``), ``reqMktData`` (streaming and snapshot),
``reqMarketDataType``, and it is a broker: ``placeOrder`` (matched against its own
quotes, with executions, commissions and TWS's rejections), ``cancelOrder``,
``reqGlobalCancel``, ``exerciseOptions``, open, completed and auto-bound orders,
executions, positions, account updates and summaries, the "multi" variants and PnL; with
the matching cancels, for every server version from 100 to 226, in text or protobuf as
TWS would. Every client message is recorded in ``server.received``; a request it does
not serve is answered with an error carrying its id; ``server.faults`` injects faults
(drops, stalls, bad frames, unknown messages and ticks, connectivity notices). See
docs/sim.md.
"""

import contextlib

from ._faults import Faults as Faults
from ._protocol import SIM_MAX_VERSION as SIM_MAX_VERSION
from ._server import Received as Received
from ._server import SimServer as SimServer
from ._server import main as main
from ._server import serve as serve
from ._universe import UNIVERSE as UNIVERSE
from ._universe import Instrument as Instrument

__all__ = [
    "SIM_MAX_VERSION",
    "UNIVERSE",
    "Faults",
    "Instrument",
    "Received",
    "SimServer",
    "main",
    "serve",
]

for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith(__name__ + "._"):
        with contextlib.suppress(AttributeError, TypeError):
            _obj.__module__ = __name__
del _name, _obj
