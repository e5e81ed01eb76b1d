"""The simulated TWS as a separate process, for the benchmarks."""

from __future__ import annotations

import re
import subprocess
import sys


def start_sim(*args: str) -> tuple[subprocess.Popen[str], str, int]:
    """Start ``ib-anyio sim --port 0 *args``; return the process and where it listens."""
    command = [sys.executable, "-m", "ib_anyio._cli", "sim", "--port", "0", *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"([\d.]+):(\d+)", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"simulator did not say where it listens: {line!r}")
    return proc, match.group(1), int(match.group(2))
