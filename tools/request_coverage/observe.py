"""A pytest plugin recording which requests every simulated TWS of the session served.

Registered by ``tests/conftest.py`` only when ``IB_ANYIO_REQUEST_COVERAGE`` names the
JSON file to write (the nox sessions set it); otherwise nothing here is imported and the
simulator runs untouched. It wraps four private functions for the session:

* ``_server._Connection.serve``: each simulated connection gets a record of its peer;
  one whose peer is a socket ``ib_anyio``'s client opened (``_bridge._Link``) is ``ib_anyio``,
  any other (the tests of the simulator drive ibapi's own ``EClient``) ``ibapi``;
* ``_server.decode_request``: each request's name, message id, negotiated version and
  encoding (text or protobuf), and whether it decoded;
* ``_server._Connection._dispatch``: that the server handled it (not held back by
  ``server.ignore``);
* ``_server._Connection._error``: whether it was answered "not supported" (10999), also
  from a task its handler started.

The JSON holds one entry per distinct ``(request, message id, version, protobuf, client,
outcome)`` with a count and the first few tests that sent it; outcomes: ``answered``,
``not supported``, ``ignored``, ``undecoded``.
"""

from __future__ import annotations

import contextvars
import json
import socket
from collections.abc import Callable, Generator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = ["ENV", "Observer"]

#: The environment variable naming the JSON file; the plugin is off without it.
ENV = "IB_ANYIO_REQUEST_COVERAGE"
_TESTS_KEPT = 3


@dataclass
class _Message:
    request: str
    msg_id: int
    version: int
    protobuf: bool
    client: str
    test: str
    outcome: str = "ignored"
    counted: bool = False


@dataclass
class _Peer:
    address: object
    client: str | None = None


#: Tests of this plugin: what their servers receive is not the suite's coverage.
_OWN_TESTS = "tests/request_coverage/"


@dataclass
class Observer:
    """The plugin: install the wrappers at configure, write the JSON at session end."""

    path: Path
    test: str = ""
    counts: dict[tuple[str, int, int, bool, str, str], int] = field(default_factory=dict)
    tests: dict[tuple[str, int, int, bool, str, str], list[str]] = field(default_factory=dict)
    _client_addresses: set[object] = field(default_factory=set)
    _undo: list[Callable[[], None]] = field(default_factory=list)
    # per observer, so that one installed over another (its tests) keeps its own
    _peer: contextvars.ContextVar[_Peer | None] = field(
        default_factory=lambda: contextvars.ContextVar("peer", default=None)
    )
    _message: contextvars.ContextVar[_Message | None] = field(
        default_factory=lambda: contextvars.ContextVar("message", default=None)
    )

    # -- pytest hooks ------------------------------------------------------------------

    def pytest_configure(self, config: pytest.Config) -> None:
        self._install()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        self.test = item.nodeid
        try:
            return (yield)
        finally:
            self.test = ""

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.report(), indent=1) + "\n", encoding="utf-8")

    # -- the record ----------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        """The JSON document: the observations, sorted."""
        from ib_anyio import ibapi_version

        observations = [
            {
                "request": request,
                "msg_id": msg_id,
                "version": version,
                "protobuf": protobuf,
                "client": client,
                "outcome": outcome,
                "count": count,
                "tests": self.tests[key],
            }
            for key, count in sorted(self.counts.items())
            for request, msg_id, version, protobuf, client, outcome in [key]
        ]
        return {"ibapi": ibapi_version(), "observations": observations}

    def _done(self, message: _Message) -> None:
        message.counted = True
        if message.test.startswith(_OWN_TESTS):
            return
        key = self._key(message)
        self.counts[key] = self.counts.get(key, 0) + 1
        tests = self.tests.setdefault(key, [])
        if message.test and message.test not in tests and len(tests) < _TESTS_KEPT:
            tests.append(message.test)

    def _recount(self, message: _Message, outcome: str) -> None:
        """A counted message's outcome changed (a 10999 from a task its handler started)."""
        key = self._key(message)
        if key in self.counts:
            self.counts[key] -= 1
            if not self.counts[key]:
                del self.counts[key], self.tests[key]
        message.outcome = outcome
        self._done(message)

    @staticmethod
    def _key(message: _Message) -> tuple[str, int, int, bool, str, str]:
        return (
            message.request,
            message.msg_id,
            message.version,
            message.protobuf,
            message.client,
            message.outcome,
        )

    # -- the wrappers --------------------------------------------------------------------

    def _patch(self, owner: object, name: str, replacement: object) -> None:
        original = getattr(owner, name)  # AttributeError: the simulator changed, fix here
        setattr(owner, name, replacement)
        self._undo.append(lambda: setattr(owner, name, original))

    def _install(self) -> None:
        import anyio.abc

        from ib_anyio import _bridge
        from ib_anyio.sim import _server

        observer = self
        _peer, _message = self._peer, self._message
        link_init = _bridge._Link.__init__
        serve = _server._Connection.serve
        decode = vars(_server)["decode_request"]
        dispatch = _server._Connection._dispatch
        error = _server._Connection._error

        def link_init_(link: Any, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
            link_init(link, sock, *args, **kwargs)
            with suppress(OSError, TypeError, IndexError):
                observer._client_addresses.add(sock.getsockname()[:2])

        async def serve_(conn: Any) -> None:
            address: object = None
            with suppress(OSError, TypeError, IndexError):
                address = conn.stream.extra(anyio.abc.SocketAttribute.remote_address)[:2]
            _peer.set(_Peer(address))
            try:
                await serve(conn)
            finally:
                flush()

        def flush() -> None:
            """Count the last request decoded if it was never dispatched (ignored)."""
            pending = _message.get()
            if pending is not None and not pending.counted:
                observer._done(pending)
            _message.set(None)

        def decode_(msg_id: int, is_protobuf: bool, body: bytes, version: int) -> Any:
            name, fields = decode(msg_id, is_protobuf, body, version)
            flush()
            peer = _peer.get()
            if peer is not None:
                if peer.client is None:  # the first request: the client's socket is known
                    mine = peer.address in observer._client_addresses
                    observer._client_addresses.discard(peer.address)  # ports are reused
                    peer.client = "ib_anyio" if mine else "ibapi"
                message = _Message(name, msg_id, version, is_protobuf, peer.client, observer.test)
                if "decodeError" in fields:
                    message.outcome = "undecoded"
                    observer._done(message)
                else:  # "ignored" unless dispatched
                    _message.set(message)
            return name, fields

        async def dispatch_(conn: Any, msg_id: int, name: str, fields: Any) -> None:
            message = _message.get()
            _message.set(None)
            if message is None:
                await dispatch(conn, msg_id, name, fields)
                return
            message.outcome = "answered"
            token = _message.set(message)  # the handler's tasks inherit it
            try:
                await dispatch(conn, msg_id, name, fields)
            finally:
                _message.reset(token)
                observer._done(message)

        def error_(conn: Any, req_id: int, code: int, text: str) -> bytes:
            message = _message.get()
            if message is not None and code == _server.NOT_SUPPORTED:
                if message.outcome != "answered":
                    pass
                elif message.counted:  # from a task the handler started, after it returned
                    observer._recount(message, "not supported")
                else:
                    message.outcome = "not supported"
            return bytes(error(conn, req_id, code, text))

        self._patch(_bridge._Link, "__init__", link_init_)
        self._patch(_server._Connection, "serve", serve_)
        self._patch(_server, "decode_request", decode_)
        self._patch(_server._Connection, "_dispatch", dispatch_)
        self._patch(_server._Connection, "_error", error_)
