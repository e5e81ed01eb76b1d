"""News end to end against the simulated TWS: providers, historical headlines,
articles (text and base64 PDF), bulletins with exactly one cancel, and TWS's errors.

Each test runs at a text version (176), a protobuf version in the middle of 201-226
(213: news messages travel as protobuf from 209) and the highest version the installed
ibapi negotiates (ibapi 9.81 caps all three at 157, 10.37.2 the last two at 203).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import datetime, timezone

import anyio
import pytest

import ib_anyio
from ib_anyio import items, sim
from ib_anyio.sim._families.news import headlines
from ib_anyio.sim._server import max_version
from ib_anyio.sim._universe import UNIVERSE
from tests.doc_examples import examples, run_example, same_lines

MAX = max_version()
AAPL = 265598
START, END = "2026-01-05 00:00:00.0", "2026-01-20 00:00:00.0"


@pytest.fixture(params=[176, 213, MAX], ids=["v176", "v213", "max"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[sim.SimServer]:
    async with sim.serve(port=0, server_version=request.param, tick_interval=0.001) as s:
        yield s


async def _round_trip(client: ib_anyio.Client) -> None:
    with anyio.fail_after(5):
        await client.req_current_time()


async def test_news_providers(client: ib_anyio.Client, server: sim.SimServer) -> None:
    with anyio.fail_after(5):
        answer = await client.req_news_providers()
    assert [(p.code, p.name) for p in answer.news_providers] == [
        ("BRFG", "Briefing.com General Market Columns"),
        ("BRFUPDN", "Briefing.com Analyst Actions"),
        ("DJ-N", "Dow Jones News Service"),
        ("DJ-RT", "Dow Jones Trader News"),
        ("DJNL", "Dow Jones Newsletters"),
    ]
    assert [m.fields for m in server.received if m.name == "reqNewsProviders"] == [{}]


async def test_historical_news(client: ib_anyio.Client, server: sim.SimServer) -> None:
    with anyio.fail_after(5):
        news = await client.req_historical_news(AAPL, "BRFG+DJ-N", START, END, 10)
        again = await client.req_historical_news(AAPL, "BRFG+DJ-N", START, END, 10)
    assert news == again  # deterministic
    *news, end = news
    assert end == items.HistoricalNewsEnd(True)  # the window holds more than 10
    assert len(news) == 10
    assert all(isinstance(n, items.HistoricalNews) for n in news)
    assert {n.provider_code for n in news} == {"BRFG", "DJ-N"}
    times = [n.time for n in news]
    assert times == sorted(times, reverse=True)  # newest first
    assert all(START <= t <= END for t in times)
    assert all(n.article_id.startswith(n.provider_code + "$") for n in news)
    assert all("AAPL" in n.headline or "Apple" in n.headline for n in news)
    [request, _] = [m for m in server.received if m.name == "reqHistoricalNews"]
    assert {k: request.fields[k] for k in ("conId", "providerCodes", "totalResults")} == {
        "conId": AAPL,
        "providerCodes": "BRFG+DJ-N",
        "totalResults": 10,
    }
    # the simulator's own view of that window: the same ten, and more
    inst = next(i for i in UNIVERSE if i.con_id == AAPL)
    window = [datetime(2026, 1, d, tzinfo=timezone.utc) for d in (5, 20)]
    stories, has_more = headlines(server.seed, inst, ["BRFG", "DJ-N"], *window, 10)
    assert [s.article_id for s in stories] == [n.article_id for n in news]
    assert has_more
    # a window with fewer headlines than asked for: all of them, hasMore false
    with anyio.fail_after(5):
        day = await client.req_historical_news(
            AAPL, "BRFUPDN", "2026-01-05 00:00:00.0", "2026-01-06 00:00:00.0", 300
        )
    everything, more = headlines(server.seed, inst, ["BRFUPDN"], *window, 300)
    *day, day_end = day
    assert day_end == items.HistoricalNewsEnd(False)
    assert 0 < len(day) < 5
    assert not more
    assert {n.article_id for n in day} <= {s.article_id for s in everything}


async def test_news_articles(client: ib_anyio.Client) -> None:
    with anyio.fail_after(5):
        news = await client.req_historical_news(AAPL, "BRFG+DJNL", START, END, 50)
        headlines_ = [n for n in news if isinstance(n, items.HistoricalNews)]
        text = next(n for n in headlines_ if n.provider_code == "BRFG")
        pdf = next(n for n in headlines_ if n.provider_code == "DJNL")
        article = await client.req_news_article(text.provider_code, text.article_id)
        binary = await client.req_news_article(pdf.provider_code, pdf.article_id)
    assert article.article_type == 0
    assert article.article_text.startswith(f"<html><body><p>{text.headline}</p>")
    assert binary.article_type == 1
    document = base64.b64decode(binary.article_text)
    assert document.startswith(b"%PDF-1.4")
    assert document.rstrip().endswith(b"%%EOF")


@pytest.mark.parametrize(
    ("call", "code", "message"),
    [
        (
            lambda c: c.req_historical_news(AAPL, "BRFG+NOPE", START, END, 10),
            321,
            "Error validating request.-'bP' : cause - The entered news source is invalid",
        ),
        (
            lambda c: c.req_historical_news(999, "BRFG", START, END, 10),
            200,
            "No security definition has been found for the request",
        ),
        (
            lambda c: c.req_news_article("BRFG", "BRFG$00000000"),
            321,
            "Error validating request.-'bP' : cause - Article not found",
        ),
    ],
    ids=["unknown-provider", "unknown-conid", "unknown-article"],
)
async def test_tws_errors(
    client: ib_anyio.Client, server: sim.SimServer, call: object, code: int, message: str
) -> None:
    with anyio.fail_after(5), pytest.raises(ib_anyio.TWSError) as info:
        await call(client)  # type: ignore[operator]
    assert (info.value.code, info.value.message) == (code, message)
    [request] = [m for m in server.received if m.name.startswith(("reqHistoricalNews", "reqNewsA"))]
    assert info.value.req_id == request.fields["reqId"]


async def test_news_bulletins_stream_and_cancel_once(
    client: ib_anyio.Client, server: sim.SimServer
) -> None:
    assert await server.publish_bulletin("Earlier today: API upgrade notice") == 1
    async with client.req_news_bulletins(all_msgs=True) as bulletins:
        with anyio.fail_after(5):
            first = await bulletins.receive()
            assert first == items.UpdateNewsBulletin(1, 1, "Earlier today: API upgrade notice", "")
            await _round_trip(client)  # the subscription is registered
            await server.publish_bulletin("Trading halted", msg_type=2, exchange="NYSE")
            second = await bulletins.receive()
    assert second == items.UpdateNewsBulletin(2, 2, "Trading halted", "NYSE")
    await _round_trip(client)
    assert [m.fields for m in server.received if m.name == "reqNewsBulletins"] == [
        {"allMsgs": True}
    ]
    assert [m.fields for m in server.received if m.name == "cancelNewsBulletins"] == [{}]
    # unsubscribed: a bulletin now reaches nobody; only new ones without allMsgs
    await server.publish_bulletin("Nobody listens")
    async with client.req_news_bulletins(all_msgs=False) as bulletins:
        await _round_trip(client)
        await server.publish_bulletin("Exchange available again", msg_type=3, exchange="NYSE")
        with anyio.fail_after(5):
            assert await bulletins.receive() == items.UpdateNewsBulletin(
                4, 3, "Exchange available again", "NYSE"
            )
    await _round_trip(client)
    assert len([m for m in server.received if m.name == "cancelNewsBulletins"]) == 2


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize(
    ("code", "expected"),
    [(code, expected) for _, code, expected in examples("news.md")],
    ids=[f"example{index}" for index, _, _ in examples("news.md")],
)
def test_news_doc_examples(backend: str, code: str, expected: list[str]) -> None:
    assert expected  # every example says what it prints
    assert same_lines(run_example("news.md", code, backend), expected)
