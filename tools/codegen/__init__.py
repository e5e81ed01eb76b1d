"""The ib_anyio code generator: ``api.toml`` + introspected ibapi → ``_generated/``.

Run ``uv run python -m tools.codegen`` (see :mod:`tools.codegen.cli`).
"""
