"""Shared parts of Kalshi's REST wire models: the base model, direction vocabulary, lenient field parsers.

Every model of :mod:`kalshi.models` reads BOTH wire eras (kalshi-api.md §0, §4):

* current fixed-point fields: ``*_dollars`` (dollar strings, 4 dp, up to 6 for costs and fees) and
  ``*_fp`` (contract-count strings, 2 dp) -> :class:`~decimal.Decimal`;
* legacy integer fields (removed 12 Mar 2026): prices and money in integer **cents**
  (``yes_bid: 40`` -> ``yes_bid_dollars == Decimal("0.40")``), counts as integer contracts.

When both are present the fixed-point field wins. Unknown keys are ignored. Python attribute names
carry their unit: ``*_dollars`` (Decimal dollars), ``*_fp`` (Decimal contracts, may be fractional in
0.01 steps), ``*_cents`` (int cents), ``*_ts`` (Unix seconds), ``*_ts_ms`` (Unix milliseconds),
``*_time`` (timezone-aware datetimes). Money and counts are never floats: a float where a price, count
or amount is expected is refused (:class:`models.money.MoneyParseError`, surfacing as a pydantic
``ValidationError``). The REST client decodes JSON with ``parse_float=Decimal``, so no float reaches
these models from the wire.

Direction (§8): ``side`` (yes/no) + ``action`` (buy/sell) is the V1 vocabulary; V2 and the newer
fields use ``book_side`` (bid/ask on the single YES book) and ``outcome_side``. The models fill in
whichever of them the payload lacks, using the §8 equivalence table.

Models are frozen (immutable) and JSON round-trip exactly (``model_dump(mode="json")`` writes Decimals
as strings), so they can cross Temporal activity boundaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, Literal, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from models.money import DOLLARS_QUANTUM, ONE_DOLLAR, to_decimal

__all__ = [
    "BOOK_SIDE_OF",
    "Action",
    "ApiErrorBody",
    "BookSide",
    "KalshiModel",
    "OrderStatus",
    "SelfTradePrevention",
    "Side",
    "TimeInForce",
    "legacy_cents_to_dollars",
]

Side = Literal["yes", "no"]
"""Which contract: YES or NO."""
Action = Literal["buy", "sell"]
"""Buy or sell contracts of ``side``."""
BookSide = Literal["bid", "ask"]
"""Side of the single YES book (V2 orders, ``book_side`` fields): bid = buy YES, ask = sell YES."""
TimeInForce = Literal["good_till_canceled", "immediate_or_cancel", "fill_or_kill"]
"""Order lifetime (kalshi-api.md §3.5)."""
SelfTradePrevention = Literal["taker_at_cross", "maker"]
"""What happens when an order would match your own resting order (kalshi-api.md §3.5)."""
OrderStatus = Literal["resting", "canceled", "executed"]
"""Order statuses on REST (kalshi-api.md §3.5); ``Order.status`` is kept as a plain string for tolerance."""

BOOK_SIDE_OF: dict[tuple[Action, Side], BookSide] = {
    ("buy", "yes"): "bid",
    ("sell", "no"): "bid",
    ("buy", "no"): "ask",
    ("sell", "yes"): "ask",
}
"""Direction equivalence (kalshi-api.md §8): (action, side) -> the YES-book side it trades on."""

_ZERO = Decimal(0)


# --------------------------------------------------------------------------------------------------
# Parsing helpers
# --------------------------------------------------------------------------------------------------


def legacy_cents_to_dollars(value: Any) -> Decimal:
    """Convert a legacy integer-cents wire value to exact dollars: ``40 -> Decimal("0.4000")``.

    Args:
        value: an ``int`` (or integral decimal string/Decimal) number of cents.

    Returns:
        Dollars, quantized to 4 dp when that is exact.

    Raises:
        MoneyParseError: for floats, booleans, ``None`` and non-numeric values.

    """
    dollars = to_decimal(value) / 100
    try:
        quantized = dollars.quantize(DOLLARS_QUANTUM)
    except InvalidOperation:  # pragma: no cover - absurdly large values
        return dollars
    return quantized if quantized == dollars else dollars


def _count(value: Any) -> Decimal:
    """Read a legacy integer contract count exactly (floats refused)."""
    return to_decimal(value)


def _as_dict(data: Any) -> dict[str, Any] | None:
    """Return a shallow copy of a mapping payload (never mutate the caller's dict), else ``None``."""
    if isinstance(data, Mapping):
        return dict(data)
    return None


def _fill_legacy(d: dict[str, Any], target: str, legacy: str, convert: Any) -> None:
    """Set ``d[target]`` from ``d[legacy]`` (converted) when the target is missing or null."""
    if d.get(target) is None and d.get(legacy) is not None:
        d[target] = convert(d[legacy])


def _strike_value(value: Any) -> Any:
    """Read a strike (an underlying level such as a gold price, not money) into Decimal.

    Kalshi sends ``floor_strike``/``cap_strike`` as JSON numbers. A float is converted through its
    shortest repr (``4128.56 -> Decimal("4128.56")``), which reproduces the JSON text exactly.
    """
    if value is None:
        return None
    if isinstance(value, float):
        return to_decimal(repr(value))
    return to_decimal(value)


Strike = Annotated[
    Decimal,
    BeforeValidator(_strike_value),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="json"),
]
"""A strike level as an exact Decimal (JSON numbers accepted, see :func:`_strike_value`)."""


def _normalise_direction(d: dict[str, Any]) -> None:
    """Complete ``side``/``action``/``book_side``/``outcome_side`` from whichever are present (§8).

    When only the book side is known, the "buy" form is chosen (bid -> buy yes, ask -> buy no), which is
    economically identical to the "sell" form on Kalshi's single book.
    """
    side = d.get("side")
    action = d.get("action")
    book = d.get("book_side")
    outcome = d.get("outcome_side")
    if side in ("bid", "ask"):  # a V2-shaped payload using ``side`` for the book side
        if book not in ("bid", "ask"):
            book = side
        side = None
    if book not in ("bid", "ask") and outcome in ("yes", "no"):
        book = "bid" if outcome == "yes" else "ask"
    side_ok = side in ("yes", "no")
    action_ok = action in ("buy", "sell")
    if side_ok and action_ok:
        if book not in ("bid", "ask"):
            book = BOOK_SIDE_OF[(cast(Action, action), cast(Side, side))]
    elif book in ("bid", "ask"):
        if side_ok:
            action = "buy" if (side == "yes") == (book == "bid") else "sell"
        elif action_ok:
            side = "yes" if (action == "buy") == (book == "bid") else "no"
        else:
            action = "buy"
            side = "yes" if book == "bid" else "no"
    else:
        return
    d["side"] = side
    d["action"] = action
    d["book_side"] = book
    if outcome not in ("yes", "no"):
        d["outcome_side"] = "yes" if book == "bid" else "no"


def _complete_prices(d: dict[str, Any]) -> None:
    """Fill ``yes_price_dollars``/``no_price_dollars`` from legacy fields, then from each other (sum = $1)."""
    _fill_legacy(d, "yes_price_dollars", "yes_price_fixed", to_decimal)
    _fill_legacy(d, "no_price_dollars", "no_price_fixed", to_decimal)
    _fill_legacy(d, "yes_price_dollars", "yes_price", legacy_cents_to_dollars)
    _fill_legacy(d, "no_price_dollars", "no_price", legacy_cents_to_dollars)
    if d.get("yes_price_dollars") is not None and d.get("no_price_dollars") is None:
        d["no_price_dollars"] = ONE_DOLLAR - to_decimal(d["yes_price_dollars"])
    elif d.get("no_price_dollars") is not None and d.get("yes_price_dollars") is None:
        d["yes_price_dollars"] = ONE_DOLLAR - to_decimal(d["no_price_dollars"])


def _lenient_int(value: Any) -> Any:
    """Read an informational integer (counts, timestamps we never compute money with) leniently.

    Integers and integral strings pass; anything else (an ISO string, a float, "") becomes ``None``
    rather than failing the whole object.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


LenientInt = Annotated[int | None, BeforeValidator(_lenient_int)]
"""An optional informational integer that never fails parsing (see :func:`_lenient_int`)."""


def _empty_str(value: Any) -> Any:
    """Map ``None`` to ``""`` for string fields that Kalshi sometimes nulls."""
    return "" if value is None else value


class KalshiModel(BaseModel):
    """Base of the wire models: unknown keys ignored, immutable, exact JSON round trip.

    Legacy integer fields (kalshi-api.md §0, §4) are read through two class tables, applied to every payload
    before validation: ``LEGACY_CENTS`` names integer-cents fields copied into ``<name>_dollars``,
    ``LEGACY_COUNTS`` whole-contract fields copied into ``<name>_fp`` (the fixed-point field wins when both
    are present). A model with other wire quirks overrides :meth:`_from_wire_dict`, which gets the payload as a
    fresh dict after the tables were applied and returns what is validated.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    LEGACY_CENTS: ClassVar[tuple[str, ...]] = ()
    LEGACY_COUNTS: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        d = _as_dict(data)
        if d is None:
            return data
        for name in cls.LEGACY_CENTS:
            _fill_legacy(d, f"{name}_dollars", name, legacy_cents_to_dollars)
        for name in cls.LEGACY_COUNTS:
            _fill_legacy(d, f"{name}_fp", name, _count)
        return cls._from_wire_dict(d)

    @classmethod
    def _from_wire_dict(cls, d: dict[str, Any]) -> Any:
        """Normalise a payload beyond the legacy tables (override; ``d`` is the caller's copy, mutate it)."""
        return d


class _Page(KalshiModel):
    """Base of the list pages: a ``null`` list reads as empty, an empty ``cursor`` as None (last page, §3.0)."""

    @field_validator("*", mode="before")
    @classmethod
    def _normalize(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name == "cursor":
            return value or None
        return [] if value is None else value


class ApiErrorBody(KalshiModel):
    """An error object inside a batch response item: ``{code, message, details}`` (kalshi-api.md §5.2)."""

    code: str | None = None
    message: str | None = None
    details: str | None = None
