"""What requests return and subscriptions yield: one attrs class per ``EWrapper`` callback.

Fields are the callback's parameters in snake case, without the request id.
Classes are named after the callback (``tickPrice`` → :class:`TickPrice`), with
an ``Item`` suffix where ibapi already has a class of that name
(``contractDetails`` → :class:`ContractDetailsItem`, whose field
``contract_details`` is ibapi's ``ContractDetails``). Per request,
``{Request}Response`` is the union of what a one-shot call returns and
``{Request}Stream`` the union of what a subscription yields.

Items are mutable attrs classes with slots for speed (a frozen class costs
three times as much to build on the hot path); treat them as immutable.
"""

from ._generated._items import *  # noqa: F403
from ._generated._items import __all__ as __all__


def _fixup_module_metadata() -> None:
    for name in __all__:
        obj = globals()[name]
        if isinstance(obj, type):
            obj.__module__ = __name__


_fixup_module_metadata()
del _fixup_module_metadata
