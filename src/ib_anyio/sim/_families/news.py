"""News: providers, historical headlines, articles and IB's news bulletins.

What TWS does and the simulator copies (wire layouts from ibapi 9.81 to 10.51):

* ``reqNewsProviders`` (no fields) gets one ``newsProviders``: ``count`` then ``code,
  name`` per provider (no version field).
* ``reqHistoricalNews(reqId, conId, providerCodes, startDateTime, endDateTime,
  totalResults[, options from 121])``: the provider codes are joined by ``+``; TWS
  answers ``historicalNews`` per headline (``reqId, time, providerCode, articleId,
  headline``), newest first, then ``historicalNewsEnd(reqId, hasMore)``. At most
  ``totalResults`` headlines (TWS caps it at 300); ``hasMore`` says whether the window
  held more. Times are ``yyyy-MM-dd HH:mm:ss.0`` (UTC here); the window bounds are
  read in that form or ``yyyyMMdd HH:mm:ss``; an empty end means now, an empty start a
  year before the end.
* ``reqNewsArticle(reqId, providerCode, articleId[, options])`` gets one
  ``newsArticle(reqId, articleType, articleText)``: type 0 is text, type 1 binary
  (a PDF) as base64. The simulator knows the articles whose headlines it served.
* ``reqNewsBulletins(allMsgs)`` (``version, allMsgs``) streams ``updateNewsBulletin``
  (``version (1), msgId, msgType, message, originExch``, decoded by ibapi by the
  wrapper's signature) until ``cancelNewsBulletins``; with ``allMsgs`` the day's
  bulletins come first. Message types: 1 regular bulletin, 2 an exchange is no longer
  available for trading, 3 it is available again. :func:`publish_bulletin` (on the
  server: ``SimServer.publish_bulletin``) sends one.
* Protobuf from 209 (``PROTOBUF_NEWS_DATA``) both ways: the requests
  ``NewsProvidersRequest``, ``HistoricalNewsRequest``, ``NewsArticleRequest``,
  ``NewsBulletinsRequest``, ``CancelNewsBulletins``; the answers ``NewsProviders``,
  ``HistoricalNews``, ``HistoricalNewsEnd``, ``NewsArticle``, ``NewsBulletin`` (ibapi
  10.45 and later decode them; 10.37.2 never negotiates 209).
* Errors, with the request's id: a provider code the login is not subscribed to gets
  321 "Error validating request.-'bP' : cause - The entered news source is invalid";
  an unknown conId 200 (no security definition); an article the simulator never
  listed 321 "... cause - Article not found" (the simulator's wording: TWS's text for
  it was not found in public sources).

Headlines are deterministic: each provider publishes on a fixed cadence of time slots,
and whether a slot has a story, its minute and its words come from a generator seeded
with the server seed, the provider, the conId and the slot.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import random
import time
import weakref
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import attrs

from ib_anyio.sim._decode import Fields, _tag_values, _Text, _text_args, int_field
from ib_anyio.sim._encode import Encoder, pb, pb_message
from ib_anyio.sim._families import Family
from ib_anyio.sim._protocol import Version, text_message
from ib_anyio.sim._universe import UNIVERSE, Instrument

if TYPE_CHECKING:
    from ib_anyio.sim._server import SimServer, _Connection

__all__ = ["FAMILY", "PROVIDERS", "publish_bulletin"]


class Out(enum.IntEnum):
    """News requests (``ibapi.message.OUT``)."""

    REQ_NEWS_BULLETINS = 12
    CANCEL_NEWS_BULLETINS = 13
    REQ_NEWS_ARTICLE = 84
    REQ_NEWS_PROVIDERS = 85
    REQ_HISTORICAL_NEWS = 86


class In(enum.IntEnum):
    """News answers (``ibapi.message.IN``)."""

    NEWS_BULLETINS = 14
    NEWS_ARTICLE = 83
    NEWS_PROVIDERS = 85
    HISTORICAL_NEWS = 86
    HISTORICAL_NEWS_END = 87


_NEWS_QUERY_ORIGINS = 121
MAX_RESULTS = 300
VALIDATION_ERROR = 321
INVALID_SOURCE = "Error validating request.-'bP' : cause - The entered news source is invalid"
NO_ARTICLE = "Error validating request.-'bP' : cause - Article not found"
NO_SECURITY = "No security definition has been found for the request"

#: The news providers of the simulated login: code, name, hours between stories.
PROVIDERS: dict[str, tuple[str, int]] = {
    "BRFG": ("Briefing.com General Market Columns", 3),
    "BRFUPDN": ("Briefing.com Analyst Actions", 6),
    "DJ-N": ("Dow Jones News Service", 2),
    "DJ-RT": ("Dow Jones Trader News", 4),
    "DJNL": ("Dow Jones Newsletters", 24),
}
#: Providers whose articles are PDF documents (article type 1, base64).
_BINARY = frozenset({"DJNL"})

_HEADLINES = {
    "BRFG": (
        "{symbol}: {name} trades {move} ahead of the open",
        "Midday movers: {symbol} {move} as sector rotation continues",
        "{name} ({symbol}) holds key support; technicals in focus",
    ),
    "BRFUPDN": (
        "{symbol} upgraded to Buy from Hold at Northfield Securities",
        "{symbol} downgraded to Neutral from Outperform at Carver & Lane",
        "{symbol} target raised to ${target} at Whitcombe Research",
    ),
    "DJ-N": (
        "{name} Shares {Move} in Early Trading",
        "{name} Files 8-K, Announces Executive Appointment",
        "{name} to Present at Technology Conference Next Week",
        "Options Traders Eye {symbol} Ahead of Earnings",
    ),
    "DJ-RT": (
        "*{name} Sees Full-Year Revenue in Line With Views",
        "*{symbol} Block Trade Reported: 250,000 Shares",
        "*{name} Declares Quarterly Dividend",
    ),
    "DJNL": ("{name}: Weekly Newsletter Digest", "Market Week Ahead: What to Watch in {symbol}"),
}


@attrs.frozen
class _Story:
    provider: str
    article_id: str
    when: datetime
    headline: str
    inst: Instrument

    @property
    def time(self) -> str:
        return self.when.strftime("%Y-%m-%d %H:%M:%S.0")


def _article_id(seed: int, provider: str, con_id: int, slot: int) -> str:
    digest = hashlib.blake2s(f"{seed}:{provider}:{con_id}:{slot}".encode(), digest_size=4)
    return f"{provider}${digest.hexdigest()}"


def _story(seed: int, provider: str, inst: Instrument, slot: int) -> _Story | None:
    """The provider's story about ``inst`` in time slot ``slot``, if it has one."""
    hours = PROVIDERS[provider][1]
    rng = random.Random(f"{seed}:news:{provider}:{inst.con_id}:{slot}")
    if rng.random() >= 0.6:
        return None
    when = datetime.fromtimestamp(slot * hours * 3600, timezone.utc) + timedelta(
        minutes=rng.randrange(hours * 60), seconds=rng.randrange(60)
    )
    up = rng.random() < 0.5
    words = {
        "symbol": inst.symbol,
        "name": inst.long_name.title(),
        "move": "higher" if up else "lower",
        "Move": "Rise" if up else "Fall",
        "target": str(round(inst.base_price * rng.uniform(1.05, 1.25))),
    }
    templates = _HEADLINES[provider]  # in turn, slot by slot: no repeats in a row
    headline = templates[(slot + inst.con_id) % len(templates)].format(**words)
    return _Story(provider, _article_id(seed, provider, inst.con_id, slot), when, headline, inst)


_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y%m%d %H:%M:%S", "%Y%m%d-%H:%M:%S")


def _strptime(text: str, fmt: str) -> datetime | None:
    try:
        return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _parse_time(text: str) -> datetime | None:
    """A window bound in one of the forms TWS reads (as UTC), or ``None``."""
    parsed = (_strptime(text.strip(), fmt) for fmt in _TIME_FORMATS)
    return next((when for when in parsed if when is not None), None)


def headlines(
    seed: int,
    inst: Instrument,
    providers: list[str],
    start: datetime,
    end: datetime,
    limit: int,
) -> tuple[list[_Story], bool]:
    """Up to ``limit`` stories in ``[start, end]``, newest first, and whether there are more."""
    stories: list[_Story] = []
    for provider in providers:
        hours = PROVIDERS[provider][1]
        slot = int(end.timestamp()) // (hours * 3600)
        first = int(start.timestamp()) // (hours * 3600)
        found = 0
        while slot >= first and found <= limit:
            story = _story(seed, provider, inst, slot)
            if story is not None and start <= story.when <= end:
                stories.append(story)
                found += 1
            slot -= 1
    stories.sort(key=lambda s: (s.when, s.article_id), reverse=True)
    return stories[:limit], len(stories) > limit


def _article(seed: int, story: _Story) -> tuple[int, str]:
    """(articleType, articleText) of a story."""
    rng = random.Random(f"{seed}:article:{story.article_id}")
    inst = story.inst
    paragraphs = [
        f"{story.headline}",
        f"{story.time} UTC -- {inst.long_name.title()} ({inst.symbol}) was in focus as "
        f"volume ran {rng.randint(10, 80)}% above its 30-day average.",
        f"The stock last traded near ${inst.base_price * rng.uniform(0.97, 1.03):.2f}.",
        f"(c) {story.when.year} {PROVIDERS[story.provider][0]}. All rights reserved.",
    ]
    if story.provider in _BINARY:
        text = " ".join(paragraphs).replace("(", "[").replace(")", "]")
        pdf = (
            "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            "2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
            "3 0 obj << /Type /Page /Parent 2 0 R /Contents 4 0 R >> endobj\n"
            f"4 0 obj << >> stream\nBT /F1 10 Tf 72 720 Td ({text}) Tj ET\nendstream endobj\n"
            "trailer << /Root 1 0 R >>\n%%EOF\n"
        )
        return 1, base64.b64encode(pdf.encode("ascii")).decode("ascii")
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return 0, f"<html><body>{body}</body></html>"


# -- per-server state ------------------------------------------------------------------


@attrs.define
class _Bulletin:
    msg_id: int
    msg_type: int
    message: str
    exchange: str


@attrs.define
class _NewsDesk:
    """One server's bulletins, bulletin subscribers and listed stories."""

    bulletins: list[_Bulletin] = attrs.field(factory=list)
    subscribers: dict[int, _Connection] = attrs.field(factory=dict)  # by connection number
    stories: dict[str, _Story] = attrs.field(factory=dict)  # by article id


_DESKS: weakref.WeakKeyDictionary[SimServer, _NewsDesk] = weakref.WeakKeyDictionary()


def _desk(server: SimServer) -> _NewsDesk:
    desk = _DESKS.get(server)
    if desk is None:
        desk = _DESKS[server] = _NewsDesk()
    return desk


async def publish_bulletin(
    server: SimServer, message: str, *, msg_type: int = 1, exchange: str = ""
) -> int:
    """Publish an IB news bulletin to every subscribed client (see
    ``SimServer.publish_bulletin``); returns its message id."""
    desk = _desk(server)
    bulletin = _Bulletin(len(desk.bulletins) + 1, msg_type, message, exchange)
    desk.bulletins.append(bulletin)
    for number, conn in list(desk.subscribers.items()):
        if server._conns.get(number) is not conn:
            del desk.subscribers[number]  # gone
            continue
        await conn.send(news_bulletin(conn.encoder, bulletin))
    return bulletin.msg_id


# -- encoding --------------------------------------------------------------------------


def _text(enc: Encoder, msg: int, fields: Iterable[object]) -> bytes:
    """A framed text message for the encoder's version."""
    return text_message(msg, fields, enc.version)


def _proto(enc: Encoder) -> bool:
    return enc.version >= Version.PROTOBUF_NEWS_DATA


def news_providers(enc: Encoder) -> bytes:
    if _proto(enc):
        provider = pb("NewsProvider")
        return pb_message(
            In.NEWS_PROVIDERS,
            "NewsProviders",
            newsProviders=[
                provider(providerCode=code, providerName=name)
                for code, (name, _) in PROVIDERS.items()
            ],
        )
    fields: list[object] = [len(PROVIDERS)]
    for code, (name, _) in PROVIDERS.items():
        fields += [code, name]
    return _text(enc, In.NEWS_PROVIDERS, fields)


def historical_news(enc: Encoder, req_id: int, stories: list[_Story], has_more: bool) -> bytes:
    if _proto(enc):
        data = b"".join(
            pb_message(
                In.HISTORICAL_NEWS,
                "HistoricalNews",
                reqId=req_id,
                time=s.time,
                providerCode=s.provider,
                articleId=s.article_id,
                headline=s.headline,
            )
            for s in stories
        )
        return data + pb_message(
            In.HISTORICAL_NEWS_END, "HistoricalNewsEnd", reqId=req_id, hasMore=has_more
        )
    data = b"".join(
        _text(enc, In.HISTORICAL_NEWS, (req_id, s.time, s.provider, s.article_id, s.headline))
        for s in stories
    )
    return data + _text(enc, In.HISTORICAL_NEWS_END, (req_id, int(has_more)))


def news_article(enc: Encoder, req_id: int, article_type: int, text: str) -> bytes:
    if _proto(enc):
        return pb_message(
            In.NEWS_ARTICLE, "NewsArticle", reqId=req_id, articleType=article_type, articleText=text
        )
    return _text(enc, In.NEWS_ARTICLE, (req_id, article_type, text))


def news_bulletin(enc: Encoder, b: _Bulletin) -> bytes:
    if _proto(enc):
        return pb_message(
            In.NEWS_BULLETINS,
            "NewsBulletin",
            newsMsgId=b.msg_id,
            newsMsgType=b.msg_type,
            newsMessage=b.message,
            originatingExch=b.exchange,
        )
    return _text(enc, In.NEWS_BULLETINS, (1, b.msg_id, b.msg_type, b.message, b.exchange))


# -- decoding --------------------------------------------------------------------------


def _text_article(f: _Text, v: int) -> Fields:
    fields: Fields = {"reqId": f.integer(), "providerCode": f.text(), "articleId": f.text()}
    fields["newsArticleOptions"] = f.text() if v >= _NEWS_QUERY_ORIGINS else ""
    return fields


def _text_historical(f: _Text, v: int) -> Fields:
    fields: Fields = {"reqId": f.integer(), "conId": f.integer(), "providerCodes": f.text()}
    fields["startDateTime"] = f.text()
    fields["endDateTime"] = f.text()
    fields["totalResults"] = f.integer()
    fields["historicalNewsOptions"] = f.text() if v >= _NEWS_QUERY_ORIGINS else ""
    return fields


def _proto_article(p: Any) -> Fields:
    return {
        "reqId": p.reqId,
        "providerCode": p.providerCode,
        "articleId": p.articleId,
        "newsArticleOptions": _tag_values(p.newsArticleOptions),
    }


def _proto_historical(p: Any) -> Fields:
    return {
        "reqId": p.reqId,
        "conId": p.conId,
        "providerCodes": p.providerCodes,
        "startDateTime": p.startDateTime,
        "endDateTime": p.endDateTime,
        "totalResults": p.totalResults,
        "historicalNewsOptions": _tag_values(p.historicalNewsOptions),
    }


# -- handlers --------------------------------------------------------------------------


async def req_news_providers(conn: _Connection, fields: Fields) -> None:
    await conn.send(news_providers(conn.encoder))


async def req_historical_news(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    codes = [c for c in str(fields.get("providerCodes", "")).split("+") if c]
    if not codes or any(code not in PROVIDERS for code in codes):
        await conn.send(conn._error(req_id, VALIDATION_ERROR, INVALID_SOURCE))
        return
    con_id = int_field(fields, "conId")
    found = [inst for inst in UNIVERSE if inst.con_id == con_id]
    if not found:
        await conn.send(conn._error(req_id, 200, NO_SECURITY))
        return
    end = _parse_time(str(fields.get("endDateTime", ""))) or datetime.fromtimestamp(
        time.time(), timezone.utc
    )
    start = _parse_time(str(fields.get("startDateTime", ""))) or end - timedelta(days=365)
    limit = max(0, min(int_field(fields, "totalResults"), MAX_RESULTS))
    stories, has_more = headlines(conn.server.seed, found[0], codes, start, end, limit)
    _desk(conn.server).stories.update((s.article_id, s) for s in stories)
    await conn.send(historical_news(conn.encoder, req_id, stories, has_more))


async def req_news_article(conn: _Connection, fields: Fields) -> None:
    req_id = int_field(fields, "reqId")
    provider = str(fields.get("providerCode", ""))
    if provider not in PROVIDERS:
        await conn.send(conn._error(req_id, VALIDATION_ERROR, INVALID_SOURCE))
        return
    story = _desk(conn.server).stories.get(str(fields.get("articleId", "")))
    if story is None or story.provider != provider:
        await conn.send(conn._error(req_id, VALIDATION_ERROR, NO_ARTICLE))
        return
    article_type, text = _article(conn.server.seed, story)
    await conn.send(news_article(conn.encoder, req_id, article_type, text))


async def req_news_bulletins(conn: _Connection, fields: Fields) -> None:
    desk = _desk(conn.server)
    if fields.get("allMsgs"):
        data = b"".join(news_bulletin(conn.encoder, b) for b in desk.bulletins)
        if data:
            await conn.send(data)
    desk.subscribers[conn.number] = conn


async def cancel_news_bulletins(conn: _Connection, fields: Fields) -> None:
    _desk(conn.server).subscribers.pop(conn.number, None)


FAMILY = Family(
    "news",
    text={
        Out.REQ_NEWS_BULLETINS: _text_args(("allMsgs", _Text.flag)),
        Out.CANCEL_NEWS_BULLETINS: _text_args(),
        Out.REQ_NEWS_ARTICLE: _text_article,
        Out.REQ_NEWS_PROVIDERS: _text_args(version_field=False),
        Out.REQ_HISTORICAL_NEWS: _text_historical,
    },
    proto={
        Out.REQ_NEWS_BULLETINS: ("NewsBulletinsRequest", lambda p: {"allMsgs": p.allMessages}),
        Out.CANCEL_NEWS_BULLETINS: ("CancelNewsBulletins", lambda p: {}),
        Out.REQ_NEWS_ARTICLE: ("NewsArticleRequest", _proto_article),
        Out.REQ_NEWS_PROVIDERS: ("NewsProvidersRequest", lambda p: {}),
        Out.REQ_HISTORICAL_NEWS: ("HistoricalNewsRequest", _proto_historical),
    },
    handlers={
        Out.REQ_NEWS_BULLETINS: req_news_bulletins,
        Out.CANCEL_NEWS_BULLETINS: cancel_news_bulletins,
        Out.REQ_NEWS_ARTICLE: req_news_article,
        Out.REQ_NEWS_PROVIDERS: req_news_providers,
        Out.REQ_HISTORICAL_NEWS: req_historical_news,
    },
)
