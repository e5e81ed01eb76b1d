"""Data the generated client hands to the hand-written runtime.

Every generated request method is one line: it passes a module-level
:class:`RequestSpec` and the caller's arguments to one of the runtime entry
points on :class:`ib_anyio._client.Client` (``_one_shot``, ``_subscribe``,
``_maybe_stream``, ``_send``). The spec says which ``EClient`` method to call,
with which arguments, how the answer is routed back and how it ends, and how to
cancel it; the runtime does the rest.

An argument template is a tuple of :data:`REQ_ID` (the request id the runtime
allocates), :class:`Arg` (the n-th public argument of the generated method) and
:class:`Const` (a fixed value the public API hides, such as
``reqAccountUpdates``' ``subscribe=True``) and :class:`Proto` (the protobuf message of
a protobuf-only request, built around the request id).
"""

from __future__ import annotations

import enum
from typing import Final, Literal, final

import attrs

__all__ = ["REQ_ID", "Arg", "Call", "Const", "Param", "Proto", "RequestSpec"]


class _ReqId(enum.Enum):
    REQ_ID = "REQ_ID"

    def __repr__(self) -> str:
        return "REQ_ID"


#: Stands for the request id the runtime allocates for this request.
REQ_ID: Final = _ReqId.REQ_ID


@final
@attrs.frozen
class Arg:
    """The ``index``-th argument of the public method (0-based, after ``self``)."""

    index: int


@final
@attrs.frozen
class Const:
    """A fixed value that the public API does not expose."""

    value: object


@final
@attrs.frozen
class Proto:
    """An ``ibapi.protobuf`` message carrying the request id, for protobuf-only requests
    (``reqConfigProtoBuf``): a new ``cls`` from ``module``, or a copy of the public
    argument ``base``, with its ``reqId`` set to the id the runtime allocates."""

    module: str
    cls: str
    base: Arg | None = None


ArgTemplate = tuple["_ReqId | Arg | Const | Proto", ...]


@final
@attrs.frozen
class Call:
    """One call of an ``EClient`` method: its name and an argument template."""

    method: str
    args: ArgTemplate = ()


@final
@attrs.frozen
class Param:
    """A public parameter: its name and the types an argument must be an instance of.

    ``types`` empty means "not checked".
    """

    name: str
    types: tuple[type, ...] = ()
    optional: bool = False  # None is accepted too


@final
@attrs.frozen
class RequestSpec:
    """Everything the runtime needs to run one generated request.

    Attributes:
        name: The public method name, e.g. ``"req_mkt_data"`` (used in messages).
        call: The ``EClient`` call that sends the request.
        params: The public parameters, in order, for argument checking.
        key: ``"req_id"`` when answers are routed by a fresh request id that the
            runtime allocates; otherwise the name of the channel the answering
            callbacks are routed to (requests without an id, like
            ``reqCurrentTime``: one at a time per channel).
        mode: How a one-shot request ends: ``"list"`` (items until an end
            callback or done flag), ``"single"`` (the first item), or
            ``"stream"`` (a subscription, ended by leaving its ``async with``).
        cancel: The ``EClient`` call that cancels a subscription, if any.
        added_in: The first ibapi version that has ``call.method``, when the
            oldest supported ibapi lacks it.
        removed_in: The first ibapi version that no longer has it.
        cancel_when_answered: For a ``"single"`` request TWS keeps open after
            answering (the option calculations): send ``cancel`` once answered too.
        stream_flag: For requests that stream or answer once depending on a
            flag (``snapshot``, ``keep_up_to_date``), the flag's public name,
            for error messages.
    """

    name: str
    call: Call
    params: tuple[Param, ...] = ()
    key: str = "req_id"
    mode: Literal["list", "single", "stream", "send"] = "list"
    cancel: Call | None = None
    added_in: str | None = None
    removed_in: str | None = None
    stream_flag: str | None = None
    cancel_when_answered: bool = False
