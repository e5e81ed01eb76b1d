"""TWS's API configuration: ``reqConfigProtoBuf`` and ``updateConfigProtoBuf``.

Protobuf only (ibapi 10.45 on; no text form): ``ConfigRequest(reqId)`` from server
version 219 (``MIN_SERVER_VER_CONFIG``) is answered with one ``ConfigResponse``
(message 110): the lock-and-exit settings, the precaution messages, the API
settings and precautions, and the order routing defaults of TWS's Global
Configuration. ``UpdateConfigRequest`` from 221 (``MIN_SERVER_VER_UPDATE_CONFIG``)
changes the settings it carries and is answered with one ``UpdateConfigResponse``
(message 111): ``status`` ``"Success"`` and the dotted names of the fields that
changed, or ``"Failed"`` with ``errors`` (nothing is changed then). A later
``ConfigRequest`` shows the changes. The configuration is the server's, shared by
its connections (``server.state["config"]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ib_anyio.sim._decode import Fields, int_field
from ib_anyio.sim._encode import pb
from ib_anyio.sim._families import Family
from ib_anyio.sim._protocol import proto_message

if TYPE_CHECKING:
    from ib_anyio.sim._server import _Connection

__all__ = ["FAMILY", "default_config"]

REQ_CONFIG = 108
UPDATE_CONFIG = 109
CONFIG_RESPONSE = 110
UPDATE_CONFIG_RESPONSE = 111
_SECTIONS = ("lockAndExit", "api", "orders")


def default_config(port: int) -> Any:
    """A paper TWS's settings as they ship (the API on ``port``, read-only off)."""
    config = pb("ConfigResponse")()
    config.lockAndExit.autoLogoffTime = "11:45 PM"
    config.lockAndExit.autoLogoffPeriod = "PM"
    config.lockAndExit.autoLogoffType = "Auto Logoff"
    for number, (title, text) in enumerate(
        (
            ("Order Precautions", "The order value exceeds the precautionary limit."),
            ("Cross Side Warning", "This order will cross a working order on the other side."),
            ("Market Order Warning", "A market order may execute far from the last price."),
        ),
        start=1,
    ):
        config.messages.add(id=number, title=title, message=text, defaultAction="Ask", enabled=True)
    s = config.api.settings
    s.readOnlyApi = False
    s.downloadOpenOrdersOnConnection = True
    s.socketPort = port
    s.createApiMessageLogFile = False
    s.loggingLevel = "Error"
    s.masterClientId = 0
    s.bulkDataTimeout = 300
    s.componentExchSeparator = ""
    s.sendInstrumentTimezone = "Exchange"
    s.encodeApiMessages = "UTF-8"
    s.historicalDataMaxSize = 2000
    s.rejectMessagesAboveMaxRate = True
    s.maintainAndResubmitOrdersOnReconnect = True
    s.optionExerciseRequestType = "Final"
    s.allowLocalhostOnly = True
    s.trustedIPs.append("127.0.0.1")
    p = config.api.precautions
    p.bypassOrderPrecautions = False
    p.bypassBondWarning = False
    p.bypassRedirectOrderWarning = False
    r = config.orders.smartRouting
    r.seekPriceImprovement = True
    r.preOpenReroute = False
    r.doNotRouteToDarkPools = False
    r.defaultAlgorithm = "Adaptive"
    return config


def _config(conn: _Connection) -> Any:
    return conn.server.state.setdefault("config", default_config(conn.server.port))


def _repeated(field: Any) -> bool:
    is_repeated = getattr(field, "is_repeated", None)  # newer protobuf; older: label
    return bool(is_repeated) if is_repeated is not None else field.label == field.LABEL_REPEATED


def _changes(prefix: str, message: Any) -> list[str]:
    """Dotted names of the fields ``message`` sets, nested messages walked into."""
    names: list[str] = []
    for field, value in message.ListFields():
        name = f"{prefix}.{field.name}"
        if field.message_type is not None and not _repeated(field):
            names += _changes(name, value)
        else:
            names.append(name)
    return names


def _problems(update: Any) -> list[str]:
    errors = []
    settings = update.api.settings
    if settings.HasField("socketPort") and not 1 <= settings.socketPort <= 65535:
        errors.append(f"api.settings.socketPort: {settings.socketPort} is not a port number")
    if settings.HasField("masterClientId") and settings.masterClientId < 0:
        errors.append("api.settings.masterClientId: must not be negative")
    if settings.HasField("bulkDataTimeout") and settings.bulkDataTimeout <= 0:
        errors.append("api.settings.bulkDataTimeout: must be positive")
    return errors


async def req_config(conn: _Connection, fields: Fields) -> None:
    response = pb("ConfigResponse")()
    response.CopyFrom(_config(conn))
    response.reqId = int_field(fields, "reqId")
    await conn.send(proto_message(CONFIG_RESPONSE, response.SerializeToString()))


async def update_config(conn: _Connection, fields: Fields) -> None:
    update: Any = fields["request"]
    req_id = int_field(fields, "reqId")
    response = pb("UpdateConfigResponse")(reqId=req_id)
    errors = _problems(update)
    if errors:
        response.status = "Failed"
        response.message = "The configuration was not changed."
        response.errors.extend(errors)
    else:
        config = _config(conn)
        changed: list[str] = []
        for section in _SECTIONS:
            if update.HasField(section):
                getattr(config, section).MergeFrom(getattr(update, section))
                changed += _changes(section, getattr(update, section))
        by_id = {m.id: m for m in config.messages}
        for message in update.messages:
            if message.id in by_id:
                by_id[message.id].MergeFrom(message)
            else:
                config.messages.add().CopyFrom(message)
            changed.append(f"messages.{message.id}")
        if update.resetAPIOrderSequence:
            changed.append("resetAPIOrderSequence")
        response.status = "Success"
        response.message = "Configuration updated." if changed else "Nothing to change."
        response.changedFields.extend(changed)
    await conn.send(proto_message(UPDATE_CONFIG_RESPONSE, response.SerializeToString()))


def _proto_update(p: Any) -> Fields:
    return {"reqId": p.reqId, "request": p}


FAMILY = Family(
    name="API configuration",
    proto={
        REQ_CONFIG: ("ConfigRequest", lambda p: {"reqId": p.reqId}),
        UPDATE_CONFIG: ("UpdateConfigRequest", _proto_update),
    },
    handlers={REQ_CONFIG: req_config, UPDATE_CONFIG: update_config},
)
