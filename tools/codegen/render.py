"""Render the model through the jinja2 templates, format with ruff, write or check."""

from __future__ import annotations

import difflib
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from .docs import item_docstring, request_docstring
from .model import Model, py_tuple

__all__ = [
    "OUTPUTS",
    "REPO_ROOT",
    "TEMPLATES",
    "check",
    "format_source",
    "render",
    "write",
]

TEMPLATES = Path(__file__).with_name("templates")
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Where ruff believes the files are: selects the project's ruff configuration.
_STDIN_DIR = "src/ib_anyio/_generated"
#: Generated file name → template name.
OUTPUTS = {
    name: f"{name}.jinja" for name in ("__init__.py", "_client.py", "_items.py", "_wrapper.py")
}


class FormatError(Exception):
    """ruff could not format a rendered file (the template produced bad Python)."""


def _ruff(args: list[str], source: str, filename: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--stdin-filename", f"{_STDIN_DIR}/{filename}", "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    if proc.returncode != 0:
        raise FormatError(f"ruff {args[0]} failed on {filename}:\n{proc.stderr}\n{source}")
    return proc.stdout


def format_source(source: str, filename: str) -> str:
    """Sort imports and ``__all__`` (ruff's own fixes), then ``ruff format``."""
    fixed = _ruff(["check", "--quiet", "--fix-only", "--select", "I,RUF022"], source, filename)
    return _ruff(["format", "--quiet"], fixed, filename)


def render(model: Model, templates: Path = TEMPLATES) -> dict[str, str]:
    """Render every output file in memory, formatted."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["item_docstring"] = item_docstring
    env.filters["request_docstring"] = request_docstring
    env.filters["py_tuple"] = py_tuple
    files = {}
    for output, template in sorted(OUTPUTS.items()):
        text = env.get_template(template).render(model=model, template=template)
        files[output] = format_source(text, output)
    return files


def write(files: Mapping[str, str], out: Path) -> list[str]:
    """Write ``files`` into ``out``; remove other ``.py`` files there. Returns what changed."""
    out.mkdir(parents=True, exist_ok=True)
    changed = []
    for stale in sorted(out.glob("*.py")):
        if stale.name not in files:
            stale.unlink()
            changed.append(f"removed {stale.name}")
    for name, text in sorted(files.items()):
        path = out / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(f"wrote {name}")
    return changed


def check(files: Mapping[str, str], out: Path) -> list[str]:
    """Compare whole files with ``out``: a report line (and diff) per difference."""
    problems = []
    present = {p.name for p in out.glob("*.py")} if out.is_dir() else set()
    problems += [
        f"extra file {out / name} (not generated)" for name in sorted(present - set(files))
    ]
    for name, text in sorted(files.items()):
        path = out / name
        if name not in present:
            problems.append(f"missing file {path}")
            continue
        current = path.read_text(encoding="utf-8")
        if current != text:
            diff = list(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    fromfile=f"{path} (on disk)",
                    tofile=f"{path} (generated)",
                    n=1,
                )
            )
            shown = "".join(diff[:60])
            if len(diff) > 60:
                shown += f"... ({len(diff) - 60} more diff lines)\n"
            problems.append(f"stale file {path}:\n{shown}")
    return problems
