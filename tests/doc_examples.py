"""Run the complete examples of a docs page: python blocks that end with ``anyio.run(main)``.

An example's last line says what it prints: ``anyio.run(main)  # prints: a / b``
(lines separated by `` / ``). The printed lines are compared as a multiset, since
concurrent tasks may print in either order.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"

_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
_WHOLE = re.compile(r"\b(\d+)\.0\b")
_RUN = re.compile(r"^anyio\.run\(main\)(?:  # prints: (.*))?$", re.MULTILINE)


def examples(page: str) -> list[tuple[int, str, list[str]]]:
    """(index, code, expected lines) of every complete example of ``docs/<page>``."""
    found = []
    for index, match in enumerate(_BLOCK.finditer((DOCS / page).read_text())):
        code = match.group(1)
        run = _RUN.search(code)
        if run is None:
            continue
        expected = run.group(1).split(" / ") if run.group(1) else []
        found.append((index, code, expected))
    return found


def run_example(page: str, code: str, backend: str) -> list[str]:
    """Run ``code`` on ``backend``; return what it printed, line by line."""
    import contextlib
    import io

    import anyio

    async def bounded(main: Callable[[], Awaitable[None]]) -> None:
        with anyio.fail_after(30):  # an example that hangs fails instead
            await main()

    source = _RUN.sub(f"anyio.run(_bounded, main, backend={backend!r})", code)
    out = io.StringIO()
    namespace: dict[str, object] = {"__name__": f"docs_{page}", "_bounded": bounded}
    with contextlib.redirect_stdout(out):
        exec(compile(source, str(DOCS / page), "exec"), namespace)
    # ibapi 9.81 gives sizes as floats (ib_anyio makes them Decimal("100.0")).
    return [_WHOLE.sub(r"\1", line) for line in out.getvalue().splitlines()]


def same_lines(got: list[str], expected: list[str]) -> bool:
    return collections.Counter(got) == collections.Counter(expected)
