"""The command line: ``--check`` against the real tree and stale copies, ``--report``."""

import shutil
from pathlib import Path

import pytest

from tools.codegen import definition
from tools.codegen.cli import DEFAULT_OUT, main
from tools.codegen.introspect import installed_version

DEFN = definition.load()
FOUND = installed_version(DEFN.distributions)
PINNED = FOUND is not None and FOUND[1] == DEFN.generation_version
needs_pinned = pytest.mark.skipif(not PINNED, reason="generation needs the pinned ibapi")


def test_report_is_complete(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--report"]) == 0
    out = capsys.readouterr().out
    assert "EClient: " in out
    assert "classified (100.0%)" in out


@needs_pinned
def test_check_passes_on_the_real_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0
    assert "up to date" in capsys.readouterr().out


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    out = tmp_path / "_generated"
    shutil.copytree(DEFAULT_OUT, out, ignore=shutil.ignore_patterns("__pycache__"))
    return out


@needs_pinned
def test_check_fails_on_extra_stale_and_missing_files(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--check", "--out", str(copy)]) == 0
    (copy / "_extra.py").write_text("x = 1\n")
    assert main(["--check", "--out", str(copy)]) == 1
    assert "extra file" in capsys.readouterr().out
    (copy / "_extra.py").unlink()
    items = copy / "_items.py"
    items.write_text(items.read_text() + "# hand edit\n")
    assert main(["--check", "--out", str(copy)]) == 1
    out = capsys.readouterr().out
    assert "stale file" in out
    assert "-# hand edit" in out
    items.unlink()
    assert main(["--check", "--out", str(copy)]) == 1
    assert "missing file" in capsys.readouterr().out
    assert main(["--out", str(copy)]) == 0
    assert main(["--check", "--out", str(copy)]) == 0
