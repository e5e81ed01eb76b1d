"""The `ib-anyio demo` command against the embedded simulated TWS."""

from __future__ import annotations

import re

import pytest

from ib_anyio._cli import main


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_demo_runs_against_the_simulator(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--ticks", "5", "--backend", backend]) == 0
    out = capsys.readouterr().out
    assert "started the simulated TWS on 127.0.0.1:" in out
    assert "TWS time: " in out
    assert "contract: AAPL STK conId=265598" in out
    assert out.count("bar ") >= 3
    assert out.count("  Tick") == 5
    # on the simulator only: a what-if, then a market order filled and the position
    assert "what-if BUY 10 AAPL: commission 1.00" in out
    assert re.search(r"^order \d+: Filled 10(\.0)? @ [\d.]+, commission 1\.00$", out, re.M)
    assert re.search(r"^position: AAPL 10(\.0)? @ ", out, re.M)


def test_demo_reports_an_unreachable_tws(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["demo", "--port", str(port)]) == 1
    assert "ConnectionRefused: could not connect to TWS at 127.0.0.1:" in capsys.readouterr().err
