"""A short soak (``benchmarks/soak.py``): one connection through bursts of market data,
stream open/close cycles, one-shot requests and drop/reconnect cycles leaks nothing, and
every stream kept open delivers again after each reconnect."""

from __future__ import annotations

from benchmarks.soak import CLIENT_THREADS, MAX_RSS_GROWTH, run_soak

RECONNECTS = 5


async def test_soak_leaks_nothing_and_every_stream_delivers_after_each_reconnect() -> None:
    result = await run_soak(
        messages=20_000,
        cycles=200,
        oneshots=50,
        reconnects=RECONNECTS,
        rounds=5,
        step_timeout=10.0,
    )

    assert (result.messages, result.cycles, result.oneshots, result.reconnects) == (
        20_000,
        200,
        50,
        RECONNECTS,
    )
    # Every kept stream: one Gap per reconnect, then real items (market data: under a new id).
    assert [(w.name, w.gaps, w.recovered, w.doubled_gaps, w.new_ids) for w in result.watched] == [
        ("req_mkt_data AAPL", RECONNECTS, RECONNECTS, 0, RECONNECTS),
        ("req_mkt_data MSFT", RECONNECTS, RECONNECTS, 0, RECONNECTS),
        ("req_positions", RECONNECTS, RECONNECTS, 0, 0),  # no request id
        ("req_account_updates", RECONNECTS, RECONNECTS, 0, 0),
    ]
    assert result.resubscribed == {4: RECONNECTS}

    # Nothing grew after the warm-up...
    end, warm = result.end, result.warm
    assert end.rss - warm.rss < MAX_RSS_GROWTH
    assert (end.client_threads, len(end.routes), end.live, end.shared, end.fds) == (
        CLIENT_THREADS,
        len(warm.routes),
        warm.live,
        warm.shared,
        warm.fds,
    )
    assert (end.sim_streams, end.sim_subscriptions) == (warm.sim_streams, warm.sim_subscriptions)
    # ...and with every stream closed, nothing is left on either side.
    closed = result.closed
    assert closed.routes == []
    assert (closed.live, closed.shared, closed.sim_streams, closed.sim_subscriptions) == (
        0,
        0,
        0,
        0,
    )
    assert closed.client_threads == CLIENT_THREADS
    assert result.threads_after_exit == 0
    assert result.unclosed == []  # no socket left for the garbage collector to close
