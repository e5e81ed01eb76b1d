"""Wall Street Horizon corporate events: ``reqWshMetaData`` and ``reqWshEventData``.

What TWS does and the simulator copies:

* ``reqWshMetaData(reqId)`` is answered with one ``wshMetaData(reqId, json)``: the
  event types and filters the calendar knows (``{"validated": true, "data": {...}}``).
* ``reqWshEventData(reqId, WshEventData)`` is answered with one
  ``wshEventData(reqId, json)`` listing the events (earnings dates, ex-dividend
  dates) of the instrument ``conId`` names, or of the instruments a filter's
  ``"conids"`` list names, between ``startDate`` and ``endDate`` (``YYYYMMDD``, from
  version 173), at most ``totalLimit`` (TWS allows 100) of them.
* Requests TWS refuses get an error with the request's id: event data without a
  ``conId`` and without a filter, or with both, a filter that is not a JSON object,
  a ``totalLimit`` above 100 (:data:`EVENT_FAILED`); an unknown ``conId`` (200).
  The cancels are never answered.

Layouts (``client.py``/``decoder.py``): no version fields; ``reqWshEventData`` is
``reqId, conId`` then ``filter, fillWatchlist, fillPortfolio, fillCompetitors``
from 171 and ``startDate, endDate, totalLimit`` from 173. Requests and answers
travel as protobuf from 209 (``PROTOBUF_NEWS_DATA``).
"""

from __future__ import annotations

import datetime
import json
import random
from typing import TYPE_CHECKING, Any

from ib_anyio.sim._decode import Fields, _Text, int_field
from ib_anyio.sim._encode import pb
from ib_anyio.sim._families import Family
from ib_anyio.sim._protocol import Version, proto_message, text_message
from ib_anyio.sim._universe import UNIVERSE, Instrument

if TYPE_CHECKING:
    from ib_anyio.sim._server import _Connection

__all__ = ["EVENT_FAILED", "FAMILY", "MAX_EVENTS"]

REQ_WSH_META_DATA = 100
CANCEL_WSH_META_DATA = 101
REQ_WSH_EVENT_DATA = 102
CANCEL_WSH_EVENT_DATA = 103
WSH_META_DATA = 104
WSH_EVENT_DATA = 105
FILTERS_SINCE = 171  # MIN_SERVER_VER_WSH_EVENT_DATA_FILTERS
FILTERS_DATE_SINCE = 173  # MIN_SERVER_VER_WSH_EVENT_DATA_FILTERS_DATE
UNSET_INTEGER = 2**31 - 1

#: TWS's code for an event data request it refuses ("Failed request WSH event data").
EVENT_FAILED = 10283
EVENT_FAILED_TEXT = "Failed request WSH event data: "
MAX_EVENTS = 100
NO_SECURITY = "No security definition has been found for the request"

_EVENT_TYPES = (
    ("wshe_ed", "Earnings Date"),
    ("wshe_div", "Dividend"),
    ("wshe_ipo", "Initial Public Offering"),
    ("wshe_opt", "Option Expiration"),
    ("wshe_sh", "Shareholder Meeting"),
)


def meta_data_json() -> str:
    """The calendar's metadata: its event types and the filters a request may use."""
    data = {
        "validated": True,
        "data": {
            "meta_data": {
                "event_types": [
                    {"tag": tag, "name": name, "category": "Corporate Events"}
                    for tag, name in _EVENT_TYPES
                ],
                "filters": [
                    {"tag": "conids", "type": "list", "description": "Contract ids"},
                    {"tag": "country", "type": "string", "description": "Country code or All"},
                    {"tag": "watchlist", "type": "list", "description": "Watchlist conids"},
                    *(
                        {"tag": tag, "type": "boolean", "description": name}
                        for tag, name in _EVENT_TYPES
                    ),
                ],
            }
        },
    }
    return json.dumps(data, separators=(",", ":"))


def _events(inst: Instrument, seed: int, start: datetime.date, end: datetime.date) -> list[Any]:
    """Quarterly earnings dates and ex-dividend dates of ``inst`` in [start, end]."""
    rng = random.Random(f"wsh:{seed}:{inst.con_id}")
    offset = rng.randrange(20, 40)
    events: list[Any] = []
    year = start.year
    while datetime.date(year, 1, 1) <= end:
        for month in (1, 4, 7, 10):
            day = datetime.date(year, month, 1) + datetime.timedelta(days=offset)
            if start <= day <= end:
                events.append(
                    {
                        "conid": inst.con_id,
                        "index_date_type": "wshe_ed",
                        "event_key": f"{inst.con_id}-ed-{day:%Y%m%d}",
                        "data": {
                            "earnings_date": f"{day:%Y%m%d}",
                            "time_of_day": rng.choice(("BMO", "AMC")),
                            "fiscal_quarter": (month - 1) // 3 + 1,
                            "symbol": inst.symbol,
                        },
                    }
                )
            ex = day + datetime.timedelta(days=14)
            if start <= ex <= end and inst.sec_type == "STK":
                events.append(
                    {
                        "conid": inst.con_id,
                        "index_date_type": "wshe_div",
                        "event_key": f"{inst.con_id}-div-{ex:%Y%m%d}",
                        "data": {
                            "ex_date": f"{ex:%Y%m%d}",
                            "amount": round(inst.base_price * 0.0025, 2),
                            "currency": inst.currency,
                            "symbol": inst.symbol,
                        },
                    }
                )
        year += 1
    return sorted(events, key=lambda e: e["event_key"].split("-")[-1])


def _date(text: str, default: datetime.date) -> datetime.date:
    if not text:
        return default
    return datetime.datetime.strptime(text, "%Y%m%d").date()


def _answer(version: int, msg_id: int, pb_name: str, req_id: int, data: str) -> bytes:
    if version >= Version.PROTOBUF_NEWS_DATA:
        message = pb(pb_name)(reqId=req_id, dataJson=data)
        return proto_message(msg_id, message.SerializeToString())
    return text_message(msg_id, (req_id, data), version)


async def req_meta_data(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    await conn.send(_answer(conn.version, WSH_META_DATA, "WshMetaData", req_id, meta_data_json()))


async def req_event_data(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    con_id = fields.get("conId")
    text = str(fields.get("filter") or "")
    limit = fields.get("totalLimit")

    async def refuse(why: str) -> None:
        await conn.send(conn._error(req_id, EVENT_FAILED, EVENT_FAILED_TEXT + why))

    con_ids: list[int] = []
    if text:
        if con_id is not None:
            await refuse("give either a conId or a filter, not both")
            return
        try:
            parsed = json.loads(text)
        except ValueError:
            await refuse("the filter is not valid JSON")
            return
        if not isinstance(parsed, dict):
            await refuse("the filter must be a JSON object")
            return
        raw: Any = parsed.get("conids", parsed.get("watchlist", []))
        try:
            con_ids = [int(c) for c in raw]
        except (TypeError, ValueError):
            await refuse("conids must be a list of contract ids")
            return
    elif isinstance(con_id, int):
        con_ids = [con_id]
    else:
        await refuse("a conId or a filter is required")
        return
    if isinstance(limit, int) and limit > MAX_EVENTS:
        await refuse(f"totalLimit must be at most {MAX_EVENTS}")
        return
    by_id = {inst.con_id: inst for inst in UNIVERSE}
    if con_id is not None and con_id not in by_id:
        await conn.send(conn._error(req_id, 200, NO_SECURITY))
        return
    today = datetime.date.today()
    try:
        start = _date(str(fields.get("startDate") or ""), today - datetime.timedelta(days=365))
        end = _date(str(fields.get("endDate") or ""), today + datetime.timedelta(days=365))
    except ValueError:
        await refuse("dates must be YYYYMMDD")
        return
    events: list[Any] = []
    for cid in con_ids:
        if cid in by_id:
            events += _events(by_id[cid], conn.server.seed, start, end)
    if isinstance(limit, int):
        events = events[:limit]
    data = json.dumps({"validated": True, "data": {"events": events}}, separators=(",", ":"))
    await conn.send(_answer(conn.version, WSH_EVENT_DATA, "WshEventData", req_id, data))


async def _no_answer(conn: _Connection, fields: Fields) -> None:
    """The cancels: TWS never answers them."""


def _set(value: int) -> int | None:
    return None if value == UNSET_INTEGER else value


def _text_event_data(f: _Text, v: int) -> Fields:
    fields: Fields = {"reqId": f.integer(), "conId": _set(f.integer())}
    if v >= FILTERS_SINCE:
        fields["filter"] = f.text()
        fields["fillWatchlist"] = f.flag()
        fields["fillPortfolio"] = f.flag()
        fields["fillCompetitors"] = f.flag()
    if v >= FILTERS_DATE_SINCE:
        fields["startDate"] = f.text()
        fields["endDate"] = f.text()
        fields["totalLimit"] = _set(f.integer())
    return fields


def _proto_event_data(p: Any) -> Fields:
    return {
        "reqId": p.reqId,
        "conId": p.conId if p.HasField("conId") else None,
        "filter": p.filter,
        "fillWatchlist": p.fillWatchlist,
        "fillPortfolio": p.fillPortfolio,
        "fillCompetitors": p.fillCompetitors,
        "startDate": p.startDate,
        "endDate": p.endDate,
        "totalLimit": p.totalLimit if p.HasField("totalLimit") else None,
    }


def _text_id(f: _Text, v: int) -> Fields:
    return {"reqId": f.integer()}


def _proto_id(p: Any) -> Fields:
    return {"reqId": p.reqId}


FAMILY = Family(
    name="Wall Street Horizon",
    text={
        REQ_WSH_META_DATA: _text_id,
        CANCEL_WSH_META_DATA: _text_id,
        REQ_WSH_EVENT_DATA: _text_event_data,
        CANCEL_WSH_EVENT_DATA: _text_id,
    },
    proto={
        REQ_WSH_META_DATA: ("WshMetaDataRequest", _proto_id),
        CANCEL_WSH_META_DATA: ("CancelWshMetaData", _proto_id),
        REQ_WSH_EVENT_DATA: ("WshEventDataRequest", _proto_event_data),
        CANCEL_WSH_EVENT_DATA: ("CancelWshEventData", _proto_id),
    },
    handlers={
        REQ_WSH_META_DATA: req_meta_data,
        CANCEL_WSH_META_DATA: _no_answer,
        REQ_WSH_EVENT_DATA: req_event_data,
        CANCEL_WSH_EVENT_DATA: _no_answer,
    },
)
