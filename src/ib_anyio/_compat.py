"""Adapting the generated wrapper to the installed ibapi release.

The generated code follows the newest supported ibapi. Older releases call
some callbacks differently; :func:`adapt_wrapper` patches a subclass at import,
so the hot path of current releases pays nothing:

* sizes, positions and volumes are ``Decimal`` from ibapi 10 on and ``int`` or
  ``float`` in 9.81: they are converted to ``Decimal`` so items have one type;
* callbacks that were renamed (9.81's ``commissionReport``) are forwarded to
  their new name.

``error``'s changing signature is handled in :class:`ib_anyio._bridge.WrapperBase`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from ibapi.wrapper import EWrapper

from ._generated._wrapper import DECIMAL_PARAMS, RENAMED_CALLBACKS

__all__ = ["adapt_wrapper"]

W = TypeVar("W", bound=type)


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def _converting(method: Callable[..., None], indexes: tuple[int, ...]) -> Callable[..., None]:
    def callback(self: Any, *args: Any) -> None:
        values = list(args)
        for i in indexes:
            if i < len(values):
                values[i] = _to_decimal(values[i])
        method(self, *values)

    callback.__name__ = method.__name__
    return callback


def _forwarding(new_name: str) -> Callable[..., None]:
    def callback(self: Any, *args: Any) -> None:
        getattr(self, new_name)(*args)

    return callback


def adapt_wrapper(cls: W) -> W:
    """Return ``cls``, or a subclass of it adapted to the installed ibapi."""
    patches: dict[str, Any] = {}
    for name, indexes in DECIMAL_PARAMS.items():
        installed = getattr(EWrapper, name, None)
        if installed is None:
            continue
        params = list(inspect.signature(installed).parameters.values())[1:]
        old = tuple(i for i in indexes if i < len(params) and params[i].annotation is not Decimal)
        if old:
            patches[name] = _converting(getattr(cls, name), old)
    for old_name, new_name in RENAMED_CALLBACKS.items():
        if hasattr(EWrapper, old_name) and not hasattr(EWrapper, new_name):
            patches[old_name] = _forwarding(new_name)
    if not patches:
        return cls
    return type(cls.__name__, (cls,), {"__module__": cls.__module__, **patches})  # type: ignore[return-value]
