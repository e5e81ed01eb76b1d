"""``python -m tools.request_coverage --observed FILE [--out FILE]``: the table."""

from tools.request_coverage.cli import main

raise SystemExit(main())
