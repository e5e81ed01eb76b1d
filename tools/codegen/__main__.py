"""Run the generator: ``uv run python -m tools.codegen [--check | --report] [--out DIR]``."""

from tools.codegen.cli import main

raise SystemExit(main())
