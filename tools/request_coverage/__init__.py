"""The request coverage table: for every request of ibapi's EClient, whether the client
exposes it, the simulated TWS serves it, and the test suite ran it end to end at a text
and at a protobuf server version (``python -m tools.request_coverage``; docs/sim.md)."""
