"""The requests of the installed ibapi, as the client and the simulator know them.

The requests are ibapi's outgoing message ids (``ibapi.message.OUT``), named as the
simulator names them (``ib_anyio.sim._decode.request_name``: EClient's method name). How
the client exposes each comes from the API definition's classification of the installed
EClient (``tools.codegen``) and the ``Client`` class itself; what the simulator does from
its merged handler table (``ib_anyio.sim._server._handlers``, every family's included).
"""

from __future__ import annotations

from .table import Request

__all__ = ["installed_requests"]

PROTOBUF_SUFFIX = "ProtoBuf"


def _out_ids() -> list[int]:
    from ibapi.message import OUT

    # an IntEnum in ibapi 10.x, a plain class of int attributes in 9.x
    items = OUT.__members__.items() if hasattr(OUT, "__members__") else vars(OUT).items()
    return sorted({int(v) for k, v in items if k.isupper() and isinstance(v, int)})


def installed_requests() -> tuple[str, list[Request], list[str]]:
    """``(ibapi version, requests, problems)`` for the installed ibapi."""
    from ibapi.client import EClient
    from ibapi.wrapper import EWrapper

    import ib_anyio
    from ib_anyio.sim._decode import request_name
    from ib_anyio.sim._server import _UNANSWERED_PREFIXES, _handlers
    from tools.codegen import definition
    from tools.codegen.introspect import installed_version
    from tools.codegen.model import classify
    from tools.codegen.naming import snake_case

    defn = definition.load()
    found = installed_version(defn.distributions)
    if found is None:
        raise RuntimeError("no ibapi installed")
    version = found[1]
    rows = {
        row.name: row
        for row in classify(defn, EClient, EWrapper, version).rows
        if row.owner == "EClient"
    }
    handlers = _handlers()
    problems: list[str] = []
    requests: list[Request] = []
    named: set[str] = set()
    for msg_id in _out_ids():
        name = request_name(msg_id)
        # a request only ibapi's protobuf path sends (reqConfig) is its *ProtoBuf method
        method = name if name in rows else name + PROTOBUF_SUFFIX
        row = rows.get(method)
        if row is None:
            problems.append(f"message id {msg_id} ({name}): no EClient method {name}")
            continue
        named.add(method)
        python_name = snake_case(method.removesuffix(PROTOBUF_SUFFIX), defn.words)
        exposed: str | None = None
        if row.category == "exposed" and hasattr(ib_anyio.Client, python_name):
            exposed = python_name
        elif row.category == "cancel":
            cancel_of = defn.client_cancel[method].cancel_of or ""
            exposed = f"cancel of {snake_case(cancel_of, defn.words)}"
        elif row.category == "plumbing" and hasattr(ib_anyio.Client, python_name):
            exposed = python_name  # hand-written (place_order)
        plumbing = defn.client_plumbing.get(method)
        requests.append(
            Request(
                name=name,
                msg_id=msg_id,
                exposed=exposed,
                plumbing=plumbing.reason if plumbing is not None and exposed is None else None,
                handler=msg_id in handlers,
                silent=name.startswith(_UNANSWERED_PREFIXES),
            )
        )
    problems += [
        f"EClient.{row.name} is classified {row.category} but sends no message of ibapi.OUT"
        for row in rows.values()
        if row.category in ("exposed", "cancel") and row.name not in named
    ]
    return version, requests, problems
