"""Development tools of ib_anyio (not shipped)."""
