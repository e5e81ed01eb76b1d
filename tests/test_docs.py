"""The README's example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _first_python_block(text: str) -> str:
    match = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert match, "README has no python example"
    return match.group(1)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_readme_example_runs(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = _first_python_block(README.read_text())
    code = code.replace("anyio.run(main)", f"anyio.run(main, backend={backend!r})")
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(code, str(README), "exec"), namespace)
    out = capsys.readouterr().out.splitlines()
    assert int(out[0]) > 1_700_000_000  # the current time
    assert out[1] == "APPLE INC"
    assert out[2].startswith(("TickPrice(", "TickSize(", "TickString(", "TickReqParams("))
