"""``placeOrder`` as the simulated TWS reads it: text layouts learned from ibapi, protobuf mapped.

Text layout
-----------
``EClient.placeOrder`` writes some 150 fields, each under its own version condition, and
a missed condition shifts every later field. So the simulator does not transcribe that
code: for each negotiated version it *learns* the layout from the installed ibapi, once,
on first use (``functools.cache``-style, per version):

1. It encodes a sentinel order with ibapi's own ``EClient`` at that version, through a
   capturing connection, with text forced even where ibapi 10.x would send protobuf. Every
   scalar attribute of ``Contract``, ``Order`` and ``Order.softDollarTier`` carries its own
   number (``7340001 + i``; booleans too, as ints, which ``make_field`` writes verbatim),
   so each field of the message names the attribute it came from. Fields that match no
   sentinel are constants (the leading version field below 145, deprecated fields) and
   are skipped. Attributes a version refuses (``EClient`` reports "It does not support
   ...") are left at their defaults: they are not in that version's layout.
2. Sections ``EClient`` writes only for some values are read by small hand decoders,
   :data:`_SECTIONS`, in message order: BAG combo legs (with order combo leg prices and
   smart combo routing params), the delta-neutral order fields, the scale fields (when
   ``scalePriceIncrement > 0``), the hedge parameter, the delta-neutral contract, algo
   parameters, the misc options string, the PEG BENCH fields with the order conditions,
   ``usePriceMgmtAlgo`` (empty, ``0`` or ``1``) and the IBKRATS / PEG BEST / PEG MID fields.
   Where each section sits is learned too: each section comes with a few variants of the
   sentinel order that take its branch; the fields where a variant's message differs
   from the plain one are that section's span.
3. Self-check: the learned layout must decode the plain message and every variant
   message exactly, field for field. Anything else raises :class:`LayoutError` (and the
   request is reported with a ``decodeError``), so a future ibapi that changes a section
   fails loudly instead of shifting fields.

Facts this relies on (ibapi 9.81 to 10.51, all agree for the versions they speak): the
version field leads the message below 145 (``ORDER_CONTAINER``) and is absent from 145
on, so the order id comes first and the contract's ``conId`` second; ``EClient`` refuses
any order below 111 (``CASH_QTY``) unless ``cashQty`` is falsy (its default,
``UNSET_DOUBLE``, is truthy); text placeOrder switches to protobuf at 203 in ibapi 10.x.

Decoded fields
--------------
``{"orderId": int, "contract": {...}, "order": {...}}`` with ibapi attribute names and
the value types of the installed ibapi's defaults. ``totalQuantity`` is a ``Decimal``.
Unset numbers (sent empty) decode to ibapi's unset markers (``UNSET_DOUBLE``,
``UNSET_INTEGER``, ``UNSET_DECIMAL``), so that setting every decoded attribute on a fresh
``Order()`` reproduces what the client sent (:func:`order_from_fields` does that). Nested
values are plain data: ``comboLegs``, ``orderComboLegs`` and ``conditions`` are lists of
attribute dicts (a condition's dict has its ``condType``), tag-value lists
(``algoParams``, ``smartComboRoutingParams``, ``orderMiscOptions``) are lists of
``{"tag", "value"}``, ``softDollarTier`` and ``deltaNeutralContract`` are dicts.

Protobuf (``PlaceOrderRequest``, from 203)
------------------------------------------
Mapped back field by field by name (``Contract.primaryExch`` -> ``primaryExchange``,
``ComboLeg.shortSalesSlot`` -> ``shortSaleSlot``, ``perLegPrice`` -> the order combo leg
price, ``SoftDollarTier.value`` -> ``val``, the attached-order ids onto the order).
ibapi's ``createOrderProto`` sets a boolean only when it is true, so an absent boolean is
``False``: an order sent with ``transmit=False`` has no ``transmit`` field at all.
Absent numbers and strings keep ibapi's defaults.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from ._protocol import split_message

Fields = dict[str, Any]
Path = tuple[str, ...]

UNSET_INTEGER = 2**31 - 1
UNSET_DOUBLE = sys.float_info.max
UNSET_DECIMAL = Decimal(2**127 - 1)
_MAX_ITEMS = 10_000  # a count field above this is garbage, not a list


class LayoutError(Exception):
    """The layout learned from ibapi's ``EClient`` does not decode ibapi's own messages."""


# -- reading text fields ---------------------------------------------------------------


class _Cursor:
    """Reads the text fields of one request in order; also an iterator of ``bytes``
    fields, the form ibapi's own ``OrderCondition.decode`` reads."""

    def __init__(self, items: Sequence[str]) -> None:
        self.items = items
        self.pos = 0

    def text(self) -> str:
        if self.pos >= len(self.items):
            raise ValueError("request has fewer fields than its layout")
        self.pos += 1
        return self.items[self.pos - 1]

    def integer(self) -> int:
        return _to_int(self.text())

    def number(self) -> float:
        return _to_float(self.text())

    def flag(self) -> bool:
        return _to_bool(self.text())

    def count(self) -> int:
        n = _to_int(self.text())
        if not 0 <= n <= _MAX_ITEMS:
            raise ValueError(f"bad item count {n}")
        return n

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return self.text().encode()


def _to_bool(text: str) -> bool:
    return text.strip().lower() in ("1", "true")


def _to_int(text: str) -> int:
    if not text:
        return UNSET_INTEGER
    try:
        return int(text)
    except ValueError:
        return int(float(text))


def _to_float(text: str) -> float:
    return UNSET_DOUBLE if not text else float(text)  # also reads "Infinity"


def _to_decimal(text: str) -> Decimal:
    if not text:
        return UNSET_DECIMAL
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a decimal: {text!r}") from None


def _converter(default: object) -> Callable[[str], object]:
    """How to read a text field into an attribute whose ibapi default is ``default``."""
    if isinstance(default, bool):
        return _to_bool
    if isinstance(default, int):
        return _to_int
    if isinstance(default, float):
        return _to_float
    if isinstance(default, Decimal):
        return _to_decimal
    return str


def _tag_values(cur: _Cursor) -> list[Fields]:
    return [{"tag": cur.text(), "value": cur.text()} for _ in range(cur.count())]


# -- sections EClient writes only for some values --------------------------------------


def _is_peg_bench(order_type: object) -> bool:
    return order_type in ("PEG BENCH", "PEGBENCH")


def _is_peg_best(order_type: object) -> bool:
    return order_type in ("PEG BEST", "PEGBEST")


def _is_peg_mid(order_type: object) -> bool:
    return order_type in ("PEG MID", "PEGMID")


def _read_combo_legs(cur: _Cursor, contract: Fields, order: Fields) -> None:
    if contract.get("secType") != "BAG":
        return
    contract["comboLegs"] = [
        {
            "conId": cur.integer(),
            "ratio": cur.integer(),
            "action": cur.text(),
            "exchange": cur.text(),
            "openClose": cur.integer(),
            "shortSaleSlot": cur.integer(),
            "designatedLocation": cur.text(),
            "exemptCode": cur.integer(),
        }
        for _ in range(cur.count())
    ]
    order["orderComboLegs"] = [{"price": cur.number()} for _ in range(cur.count())]
    order["smartComboRoutingParams"] = _tag_values(cur)


def _read_delta_neutral_order(cur: _Cursor, contract: Fields, order: Fields) -> None:
    order["deltaNeutralOrderType"] = cur.text()
    order["deltaNeutralAuxPrice"] = cur.number()
    if order["deltaNeutralOrderType"]:
        order["deltaNeutralConId"] = cur.integer()
        order["deltaNeutralSettlingFirm"] = cur.text()
        order["deltaNeutralClearingAccount"] = cur.text()
        order["deltaNeutralClearingIntent"] = cur.text()
        order["deltaNeutralOpenClose"] = cur.text()
        order["deltaNeutralShortSale"] = cur.flag()
        order["deltaNeutralShortSaleSlot"] = cur.integer()
        order["deltaNeutralDesignatedLocation"] = cur.text()


def _read_scale(cur: _Cursor, contract: Fields, order: Fields) -> None:
    increment = order.get("scalePriceIncrement", UNSET_DOUBLE)
    if not isinstance(increment, float) or increment == UNSET_DOUBLE or increment <= 0:
        return
    order["scalePriceAdjustValue"] = cur.number()
    order["scalePriceAdjustInterval"] = cur.integer()
    order["scaleProfitOffset"] = cur.number()
    order["scaleAutoReset"] = cur.flag()
    order["scaleInitPosition"] = cur.integer()
    order["scaleInitFillQty"] = cur.integer()
    order["scaleRandomPercent"] = cur.flag()


def _read_hedge(cur: _Cursor, contract: Fields, order: Fields) -> None:
    order["hedgeType"] = cur.text()
    if order["hedgeType"]:
        order["hedgeParam"] = cur.text()


def _read_delta_neutral_contract(cur: _Cursor, contract: Fields, order: Fields) -> None:
    if cur.flag():
        contract["deltaNeutralContract"] = {
            "conId": cur.integer(),
            "delta": cur.number(),
            "price": cur.number(),
        }


def _read_algo(cur: _Cursor, contract: Fields, order: Fields) -> None:
    order["algoStrategy"] = cur.text()
    if order["algoStrategy"]:
        order["algoParams"] = _tag_values(cur)


def _read_misc_options(cur: _Cursor, contract: Fields, order: Fields) -> None:
    # str(TagValue) is "tag=value;", concatenated
    options = []
    for item in cur.text().split(";"):
        if item:
            tag, _, value = item.partition("=")
            options.append({"tag": tag, "value": value})
    order["orderMiscOptions"] = options


def _new_condition(cond_type: int) -> Any:
    """ibapi's order condition object of a type.

    Raises:
        ValueError: ibapi has no condition of that type.
    """
    from ibapi.order_condition import Create

    create: Any = Create  # untyped in ibapi
    condition = create(cond_type)
    if condition is None:
        raise ValueError(f"unknown order condition type {cond_type}")
    return condition


def _read_peg_bench_and_conditions(cur: _Cursor, contract: Fields, order: Fields) -> None:
    if _is_peg_bench(order.get("orderType")):
        order["referenceContractId"] = cur.integer()
        order["isPeggedChangeAmountDecrease"] = cur.flag()
        order["peggedChangeAmount"] = cur.number()
        order["referenceChangeAmount"] = cur.number()
        order["referenceExchangeId"] = cur.text()
    conditions = []
    for _ in range(cur.count()):
        cond_type = cur.integer()
        condition = _new_condition(cond_type)
        condition.decode(cur)  # ibapi's own reader of what make_fields() wrote
        conditions.append(dict(vars(condition)))
    order["conditions"] = conditions
    if conditions:
        order["conditionsIgnoreRth"] = cur.flag()
        order["conditionsCancelOrder"] = cur.flag()


def _read_price_mgmt_algo(cur: _Cursor, contract: Fields, order: Fields) -> None:
    text = cur.text()
    order["usePriceMgmtAlgo"] = None if not text else bool(_to_int(text))


def _read_peg_offsets(cur: _Cursor, contract: Fields, order: Fields) -> None:
    mid_offsets = False
    if contract.get("exchange") == "IBKRATS":
        order["minTradeQty"] = cur.integer()
    if _is_peg_best(order.get("orderType")):
        order["minCompeteSize"] = cur.integer()
        order["competeAgainstBestOffset"] = cur.number()
        mid_offsets = order["competeAgainstBestOffset"] == float("inf")  # UP_TO_MID
    elif _is_peg_mid(order.get("orderType")):
        mid_offsets = True
    if mid_offsets:
        order["midOffsetAtWhole"] = cur.number()
        order["midOffsetAtHalf"] = cur.number()


Mutation = Callable[[Any, Any], None]


def _bag(legs: int) -> Mutation:
    def mutate(contract: Any, order: Any) -> None:
        from ibapi.contract import ComboLeg
        from ibapi.order import OrderComboLeg
        from ibapi.tag_value import TagValue

        contract.secType = "BAG"
        contract.comboLegs = []
        order.orderComboLegs = []
        for i in range(legs):
            leg = ComboLeg()
            leg.conId, leg.ratio, leg.action, leg.exchange = 1001 + i, 1 + i, "BUY", "SMART"
            leg.designatedLocation = f"L{i}"
            contract.comboLegs.append(leg)
            price = OrderComboLeg()
            price.price = 1.25 + i
            order.orderComboLegs.append(price)
        order.smartComboRoutingParams = [TagValue("NonGuaranteed", "1")] if legs else []

    return mutate


def _set(**attrs: Any) -> Mutation:
    """A variant that sets order attributes (``contract_``-prefixed: contract ones)."""

    def mutate(contract: Any, order: Any) -> None:
        for key, value in attrs.items():
            if key.startswith("contract_"):
                setattr(contract, key.removeprefix("contract_"), value)
            else:
                setattr(order, key, value)

    return mutate


def _delta_neutral_contract(contract: Any, order: Any) -> None:
    from ibapi.contract import DeltaNeutralContract

    contract.deltaNeutralContract = DeltaNeutralContract()
    contract.deltaNeutralContract.conId = 9001
    contract.deltaNeutralContract.delta = 0.25
    contract.deltaNeutralContract.price = 101.5


def _algo(params: int) -> Mutation:
    def mutate(contract: Any, order: Any) -> None:
        from ibapi.tag_value import TagValue

        order.algoStrategy = "Adaptive"
        order.algoParams = [TagValue(f"p{i}", f"v{i}") for i in range(params)]

    return mutate


def _misc_options(contract: Any, order: Any) -> None:
    from ibapi.tag_value import TagValue

    order.orderMiscOptions = [TagValue("a", "1"), TagValue("b", "2")]


def _conditions(contract: Any, order: Any) -> None:
    from ibapi.order_condition import (
        ExecutionCondition,
        MarginCondition,
        PercentChangeCondition,
        PriceCondition,
        TimeCondition,
        VolumeCondition,
    )

    order.conditions = [
        PriceCondition(2, 265598, "SMART", True, 101.5),
        _with(TimeCondition(False, "20261224 16:00:00"), {"isConjunctionConnection": False}),
        MarginCondition(True, 30),
        ExecutionCondition("STK", "SMART", "AAPL"),
        VolumeCondition(265598, "SMART", True, 1000),
        PercentChangeCondition(265598, "SMART", False, 2.5),
    ]


class _Section:
    """A part of the message ``EClient`` writes only for some values, with its reader
    and the variants of the sentinel order that take its branch."""

    def __init__(
        self,
        name: str,
        read: Callable[[_Cursor, Fields, Fields], None],
        variants: Sequence[Mutation],
        changes: Sequence[Path] = (),
    ) -> None:
        self.name = name
        self.read = read
        self.variants = variants
        self.changes = changes  # attributes the variants change ahead of the section


_SECTIONS = (
    _Section("comboLegs", _read_combo_legs, (_bag(2), _bag(0)), changes=(("contract", "secType"),)),
    _Section(
        "deltaNeutralOrder",
        _read_delta_neutral_order,
        (_set(deltaNeutralOrderType="LMT", deltaNeutralShortSale=True),),
    ),
    _Section(
        "scale",
        _read_scale,
        (_set(scalePriceIncrement=0.5),),
        changes=(("order", "scalePriceIncrement"),),
    ),
    _Section("hedge", _read_hedge, (_set(hedgeType="D"),)),
    _Section("deltaNeutralContract", _read_delta_neutral_contract, (_delta_neutral_contract,)),
    _Section("algo", _read_algo, (_algo(2), _algo(0))),
    _Section("orderMiscOptions", _read_misc_options, (_misc_options,)),
    _Section(
        "pegBenchAndConditions",
        _read_peg_bench_and_conditions,
        (_set(orderType="PEG BENCH"), _conditions),
        changes=(("order", "orderType"),),
    ),
    _Section(
        "usePriceMgmtAlgo",
        _read_price_mgmt_algo,
        (_set(usePriceMgmtAlgo=True), _set(usePriceMgmtAlgo=False)),
    ),
    _Section(
        "pegOffsets",
        _read_peg_offsets,
        (
            _set(contract_exchange="IBKRATS"),
            _set(orderType="PEG BEST"),
            _set(orderType="PEG BEST", competeAgainstBestOffset=float("inf")),
            _set(orderType="PEG MID", contract_exchange="IBKRATS"),
        ),
        changes=(("order", "orderType"), ("contract", "exchange")),
    ),
)

# Attributes that stay at their defaults ("") in the plain sentinel order, so that their
# sections are off there; the sections read them.
_SECTION_DRIVEN = frozenset({"deltaNeutralOrderType", "hedgeType", "algoStrategy"})


# -- learning the layout ---------------------------------------------------------------


class _Capture:
    """``EClient``'s connection and wrapper at once: keeps what it sends."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendMsg(self, msg: bytes) -> int:
        self.sent.append(msg)
        return len(msg)

    def isConnected(self) -> bool:
        return True

    def error(self, *args: object) -> None:
        """``EClient`` refused the request (it then sends nothing)."""


class _Writer:
    """The installed ibapi's ``EClient.placeOrder`` at one version, always as text."""

    def __init__(self, version: int) -> None:
        from ibapi.client import EClient

        self.version = version
        self.capture = _Capture()
        self.client: Any = cast(Any, EClient(self.capture))  # ibapi is untyped
        self.client.conn = self.capture
        self.client.serverVersion_ = version
        self.client.connState = EClient.CONNECTED
        self.client.useProtoBuf = lambda msg_id: False  # ibapi 10.x: text at any version

    def fields(self, order_id: int, contract: Any, order: Any) -> list[str] | None:
        """The text fields sent, or ``None`` when ``EClient`` refused the order."""
        self.capture.sent.clear()
        try:
            self.client.placeOrder(order_id, contract, order)
        except Exception:  # before 10.50, encoding errors escape placeOrder
            return None
        if len(self.capture.sent) != 1:
            return None
        msg_id, is_protobuf, body = split_message(self.capture.sent[0][4:], self.version)
        if is_protobuf or msg_id != 3:
            return None
        return [item.decode() for item in body.split(b"\0")[:-1]]


def _defaults() -> dict[Path, object]:
    """Every scalar attribute ``placeOrder`` may write, with its ibapi default."""
    from ibapi.contract import Contract
    from ibapi.order import Order

    scalar = (bool, int, float, str, Decimal)
    found: dict[Path, object] = {("orderId",): 0}
    for name, value in vars(Contract()).items():
        if isinstance(value, scalar):
            found["contract", name] = value
    order = Order()
    for name, value in vars(order).items():
        if isinstance(value, scalar) and name not in _SECTION_DRIVEN:
            found["order", name] = value
    for name, value in vars(order.softDollarTier).items():
        found["order", "softDollarTier", name] = value
    return found


_FIRST_SENTINEL = 7_340_001


def _sentinel(path: Path, default: object, number: int) -> object:
    if path == ("order", "scalePriceIncrement"):
        return -float(number)  # identifiable, yet keeps the scale section off
    if isinstance(default, (bool, int)):
        return number  # booleans too: make_field writes an int as is
    if isinstance(default, float):
        return float(number)
    if isinstance(default, Decimal):
        return Decimal(number)
    return str(number)


def _build(values: Mapping[Path, Any]) -> tuple[int, Any, Any]:
    from ibapi.contract import Contract
    from ibapi.order import Order

    contract, order = Contract(), Order()
    order.cashQty = 0.0  # the default (UNSET_DOUBLE) is truthy: refused below 111
    order_id = 0
    for path, value in values.items():
        if path == ("orderId",):
            order_id = value
        elif path[0] == "contract":
            setattr(contract, path[1], value)
        elif len(path) == 2:
            setattr(order, path[1], value)
        else:
            setattr(getattr(order, path[1]), path[2], value)
    return order_id, contract, order


def _identify(field: str, by_value: Mapping[float, Path]) -> Path | None:
    try:
        return by_value.get(float(field))
    except ValueError:
        return None


def _diff(base: Sequence[str], other: Sequence[str], ignore: set[int]) -> tuple[int, int]:
    """``(start, end)``: the span of ``base`` that ``other`` replaces, the rest of both
    being equal (positions in ``ignore`` count as equal: values a variant changes)."""
    n, m = len(base), len(other)
    start = 0
    while start < min(n, m) and (base[start] == other[start] or start in ignore):
        start += 1
    tail = 0
    while tail < min(n, m) - start and base[n - 1 - tail] == other[m - 1 - tail]:
        tail += 1
    return start, n - tail


Step = Callable[[_Cursor, Fields], None]


def _field_step(path: Path, convert: Callable[[str], object]) -> Step:
    def step(cur: _Cursor, out: Fields) -> None:
        value = convert(cur.text())
        if len(path) == 1:
            out[path[0]] = value
        elif len(path) == 2:
            out[path[0]][path[1]] = value
        else:
            out[path[0]].setdefault(path[1], {})[path[2]] = value

    return step


def _skip_step(cur: _Cursor, out: Fields) -> None:
    cur.text()


def _section_step(section: _Section) -> Step:
    def step(cur: _Cursor, out: Fields) -> None:
        section.read(cur, out["contract"], out["order"])

    return step


class TextLayout:
    """The ``placeOrder`` text layout of one server version, learned from ``EClient``.

    Attributes:
        version: The server version.
        names: What each step reads, in order: ``"orderId"``, ``"contract.conId"``,
            ``"order.action"``, ``"-"`` for a constant field, ``"<section>"`` for a
            value-dependent section.
    """

    def __init__(self, version: int, steps: Sequence[Step], names: Sequence[str]) -> None:
        self.version = version
        self._steps = tuple(steps)
        self.names = tuple(names)

    def decode(self, items: Sequence[str]) -> Fields:
        """Decode the text fields of one ``placeOrder`` (the message id excluded).

        Raises:
            ValueError: the fields do not fit the layout.
        """
        cur = _Cursor(items)
        out: Fields = {"orderId": 0, "contract": {}, "order": {}}
        for step in self._steps:
            step(cur, out)
        if cur.pos != len(items):
            raise ValueError(
                f"{len(items) - cur.pos} fields more than placeOrder has at version {self.version}"
            )
        return out


def _learn(version: int) -> TextLayout:
    writer = _Writer(version)
    defaults = _defaults()
    sentinels: dict[Path, Any] = {
        path: _sentinel(path, default, _FIRST_SENTINEL + i)
        for i, (path, default) in enumerate(defaults.items())
    }
    if writer.fields(*_build({})) is None:
        raise LayoutError(f"EClient refuses a default order at version {version}")
    accepted = dict(sentinels)
    if writer.fields(*_build(accepted)) is None:  # drop what this version refuses
        accepted = {
            p: v for p, v in sentinels.items() if writer.fields(*_build({p: v})) is not None
        }
    plain = writer.fields(*_build(accepted))
    if plain is None:
        raise LayoutError(f"EClient refuses the sentinel order at version {version}")
    by_value = {float(value): path for path, value in accepted.items()}
    idents = [_identify(field, by_value) for field in plain]
    if ("orderId",) not in idents or ("order", "action") not in idents:
        raise LayoutError(f"no order id or action in the placeOrder of version {version}")
    position = {path: i for i, path in enumerate(idents) if path is not None}

    spans: list[tuple[int, int, int]] = []  # (start, end, section index)
    checks: list[list[str]] = [plain]
    for index, section in enumerate(_SECTIONS):
        ignore = {position[path] for path in section.changes if path in position}
        found: list[tuple[int, int]] = []
        for mutate in section.variants:
            order_id, contract, order = _build(accepted)
            mutate(contract, order)
            fields = writer.fields(order_id, contract, order)
            if fields is None:
                continue  # refused at this version
            checks.append(fields)
            start, end = _diff(plain, fields, ignore)
            if start < len(fields) or start < end:  # more than the changed values differ
                found.append((start, end))
        if found:
            spans.append((min(s for s, _ in found), max(e for _, e in found), index))
    spans.sort(key=lambda span: (span[0], span[2]))  # message order
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        if start < end:
            raise LayoutError(f"overlapping placeOrder sections at version {version}")

    steps: list[Step] = []
    names: list[str] = []
    pos = 0
    for start, end, index in [*spans, (len(plain) + 1, 0, -1)]:
        while pos < min(start, len(plain)):
            path = idents[pos]
            if path is None:
                steps.append(_skip_step)
                names.append("-")
            else:
                convert = _to_decimal if path[-1] == "totalQuantity" else _converter(defaults[path])
                steps.append(_field_step(path, convert))
                names.append(".".join(path))
            pos += 1
        if index >= 0:
            steps.append(_section_step(_SECTIONS[index]))
            names.append(f"<{_SECTIONS[index].name}>")
            pos = max(pos, end)
    layout = TextLayout(version, steps, names)
    try:
        for fields in checks:
            layout.decode(fields)
    except ValueError as exc:
        raise LayoutError(
            f"the placeOrder layout learned at version {version} misreads EClient's "
            f"own message: {exc}"
        ) from exc
    return layout


_LAYOUTS: dict[int, TextLayout | LayoutError] = {}


def text_layout(version: int) -> TextLayout:
    """The ``placeOrder`` text layout at ``version``, learned on first use.

    Raises:
        LayoutError: the installed ibapi's messages could not be learned consistently.
    """
    layout = _LAYOUTS.get(version)
    if layout is None:
        try:
            layout = _learn(version)
        except LayoutError as exc:
            layout = exc
        _LAYOUTS[version] = layout
    if isinstance(layout, LayoutError):
        raise layout
    return layout


def decode_place_order_text(items: Sequence[str], version: int) -> Fields:
    """Decode a text ``placeOrder`` (its fields after the message id) at ``version``.

    Raises:
        ValueError: the fields do not fit the layout (``LayoutError`` included).
    """
    try:
        return text_layout(version).decode(items)
    except LayoutError as exc:
        raise ValueError(str(exc)) from exc


# -- protobuf --------------------------------------------------------------------------


def _number_text(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _as_default_type(default: object, value: Any) -> object:
    if isinstance(default, bool) or default is None:
        return bool(value)  # None: ibapi's tri-state booleans (usePriceMgmtAlgo...)
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, Decimal):
        return Decimal(str(value))
    if isinstance(default, str) and isinstance(value, float):
        return _number_text(value)  # Contract.multiplier travels as a double
    return value


def _scalars(message: Any, defaults: Mapping[str, object], renames: Mapping[str, str]) -> Fields:
    """The scalar fields of a protobuf message under ibapi's attribute names: set fields
    converted to the attribute's type, absent booleans ``False``, nothing else."""
    out: Fields = {}
    for fd in message.DESCRIPTOR.fields:
        name = renames.get(fd.name, fd.name)
        if fd.message_type is not None or name not in defaults:
            continue
        try:
            present = message.HasField(fd.name)
        except ValueError:  # a repeated scalar: handled by the caller
            continue
        if present:
            out[name] = _as_default_type(defaults[name], getattr(message, fd.name))
        elif fd.type == fd.TYPE_BOOL:
            out[name] = False
    return out


def _proto_tag_values(entries: Any) -> list[Fields]:
    return [{"tag": key, "value": value} for key, value in entries.items()]


def proto_contract(message: Any) -> tuple[Fields, list[Fields] | None]:
    """A protobuf ``Contract`` as contract fields, and its legs' per-leg prices as order
    combo legs (``None`` when no leg has one)."""
    from ibapi.contract import ComboLeg, Contract, DeltaNeutralContract

    contract = _scalars(message, vars(Contract()), {"primaryExch": "primaryExchange"})
    prices: list[Fields] | None = None
    if len(message.comboLegs):
        leg_defaults = vars(ComboLeg())
        contract["comboLegs"] = [
            {**leg_defaults, **_scalars(leg, leg_defaults, {"shortSalesSlot": "shortSaleSlot"})}
            for leg in message.comboLegs
        ]
        if any(leg.HasField("perLegPrice") for leg in message.comboLegs):
            prices = [
                {"price": leg.perLegPrice if leg.HasField("perLegPrice") else UNSET_DOUBLE}
                for leg in message.comboLegs
            ]
    if message.HasField("deltaNeutralContract"):
        dn_defaults = vars(DeltaNeutralContract())
        contract["deltaNeutralContract"] = {
            **dn_defaults,
            **_scalars(message.deltaNeutralContract, dn_defaults, {}),
        }
    return contract, prices


def _proto_condition(message: Any) -> Fields:
    condition = _new_condition(message.type)
    for fd in message.DESCRIPTOR.fields:
        if fd.name != "type" and hasattr(condition, fd.name) and message.HasField(fd.name):
            default = getattr(condition, fd.name)
            value = getattr(message, fd.name)
            setattr(condition, fd.name, value if default is None else type(default)(value))
    return dict(vars(condition))


def decode_place_order_proto(message: Any) -> Fields:
    """A parsed protobuf ``PlaceOrderRequest`` in the shape of the text decoder's fields."""
    from ibapi.order import Order

    contract, prices = proto_contract(message.contract)
    p = message.order
    order = _scalars(p, vars(Order()), {})
    for name in ("algoParams", "smartComboRoutingParams", "orderMiscOptions"):
        if hasattr(p, name) and len(getattr(p, name)):
            order[name] = _proto_tag_values(getattr(p, name))
    if len(p.conditions):
        order["conditions"] = [_proto_condition(c) for c in p.conditions]
    if p.HasField("softDollarTier"):
        tier = p.softDollarTier
        order["softDollarTier"] = {
            "name": tier.name,
            "val": tier.value,
            "displayName": tier.displayName,
        }
    if prices is not None:
        order["orderComboLegs"] = prices
    if "attachedOrders" in message.DESCRIPTOR.fields_by_name and message.HasField(
        "attachedOrders"
    ):  # ibapi 10.45 on
        order.update(_scalars(message.attachedOrders, vars(Order()), {}))
    return {"orderId": message.orderId, "contract": contract, "order": order}


# -- back to ibapi objects -------------------------------------------------------------


def _with(obj: Any, attrs: Mapping[str, Any]) -> Any:
    for key, value in attrs.items():
        setattr(obj, key, value)
    return obj


def order_from_fields(fields: Mapping[str, Any]) -> tuple[Any, Any]:
    """The ibapi ``(Contract, Order)`` a decoded ``placeOrder`` describes.

    Every decoded attribute is set on a fresh ``Contract()`` / ``Order()``, nested values
    rebuilt as ibapi objects (``ComboLeg``, ``DeltaNeutralContract``, ``TagValue``,
    ``OrderComboLeg``, order conditions, ``SoftDollarTier``); ``order.orderId`` is the
    request's order id. On ibapi 9.81, whose quantities are floats, ``totalQuantity``
    becomes a float.

    Args:
        fields: The fields :func:`decode_request` returned for a ``placeOrder``.

    Returns:
        ``(contract, order)``, ibapi objects.
    """
    from ibapi.contract import ComboLeg, Contract, DeltaNeutralContract
    from ibapi.order import Order, OrderComboLeg
    from ibapi.softdollartier import SoftDollarTier
    from ibapi.tag_value import TagValue

    contract = Contract()
    for key, value in dict(fields.get("contract") or {}).items():
        if key == "comboLegs":
            value = [_with(ComboLeg(), leg) for leg in value]
        elif key == "deltaNeutralContract" and value is not None:
            value = _with(DeltaNeutralContract(), value)
        setattr(contract, key, value)
    order = Order()
    for key, value in dict(fields.get("order") or {}).items():
        if key in ("algoParams", "smartComboRoutingParams", "orderMiscOptions"):
            value = [TagValue(item["tag"], item["value"]) for item in value]
        elif key == "orderComboLegs":
            value = [_with(OrderComboLeg(), leg) for leg in value]
        elif key == "conditions":
            value = [_with(_new_condition(cond["condType"]), cond) for cond in value]
        elif key == "softDollarTier":
            value = SoftDollarTier(
                value.get("name", ""), value.get("val", ""), value.get("displayName", "")
            )
        elif isinstance(value, Decimal) and not isinstance(getattr(order, key, value), Decimal):
            value = float(value)  # ibapi 9.81: quantities are floats
        setattr(order, key, value)
    order.orderId = int(fields.get("orderId", 0))
    return contract, order
