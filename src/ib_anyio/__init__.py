"""ib_anyio."""
