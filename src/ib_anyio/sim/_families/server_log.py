"""``setServerLogLevel``: TWS sets the level of its API log and answers nothing.

Layout: ``version, logLevel`` in text; ``SetServerLogLevelRequest`` from 213
(``PROTOBUF_REST_MESSAGES_3``). The simulator records the request (see
``SimServer.received``) and keeps the level in ``server.state["server_log"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ib_anyio.sim._decode import Fields, _Text, _text_args, int_field
from ib_anyio.sim._families import Family

if TYPE_CHECKING:
    from ib_anyio.sim._server import _Connection

__all__ = ["FAMILY"]

SET_SERVER_LOGLEVEL = 14


async def set_server_log_level(conn: _Connection, fields: Fields) -> None:
    conn.server.state["server_log"] = int_field(fields, "logLevel")


FAMILY = Family(
    name="server log",
    text={SET_SERVER_LOGLEVEL: _text_args(("logLevel", _Text.integer))},
    proto={SET_SERVER_LOGLEVEL: ("SetServerLogLevelRequest", lambda p: {"logLevel": p.logLevel})},
    handlers={SET_SERVER_LOGLEVEL: set_server_log_level},
)
