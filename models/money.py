"""Exact money and count arithmetic for Kalshi wire values.

Kalshi mixes units on the wire (see ../shared/reference/kalshi-api.md §4 "Fixed-point / dollars
migration"):

* prices and money amounts are fixed-point **dollar** strings with 4 decimal places
  (``"0.4200"``; computed costs and fees can carry 6),
* contract counts are fixed-point strings with 2 decimal places (``"10.00"``; fractional contracts
  exist in steps of 0.01),
* balances, settlement revenue and ``buy_max_cost`` are integer **cents**,
* the legacy WebSocket ``market_position`` money fields were integer **centi-cents** (1/10,000 $).

Every wire value is parsed once, at the edge, into :class:`decimal.Decimal` with the unit named in
the field (``*_dollars``, ``*_cents``, ``*_fp`` for contracts). Nothing in this project stores money
in a float; :func:`to_decimal` refuses floats outright.

One unit system (docs/architecture.md "Units"): exact dollars on Kalshi's $0.0001 grid and exact
contracts on its 0.01 grid. The trader's domain types carry them as Decimal; the hot path (WebSocket
frames, order books) carries the same values as scaled integers, ``int`` centi-cents and ``int`` lots.
The scales (:data:`PRICE_CC_PER_DOLLAR`, :data:`LOTS_PER_CONTRACT`) and the exact conversions between
the two (:func:`cc_to_dollars`, :func:`lots_to_contracts`) are defined here and nowhere else.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, PlainSerializer

DOLLARS_QUANTUM = Decimal("0.0001")
"""Resolution of a ``*_dollars`` price on the wire: 4 decimal places (1 centi-cent)."""

COUNT_QUANTUM = Decimal("0.01")
"""Resolution of a ``*_fp`` contract count on the wire: 2 decimal places."""

ONE_DOLLAR = Decimal("1")
"""Payout of one winning binary contract, in dollars."""

CENT = Decimal("0.01")
"""One cent, in dollars."""

PRICE_CC_PER_DOLLAR: Final = 10_000
"""Centi-cents per dollar: :data:`DOLLARS_QUANTUM` as an integer scale. Where speed matters (the WebSocket
path, the order books) prices are ``int`` centi-cents (``*_cc``): ``Decimal("0.4800")`` is ``4800``."""

LOTS_PER_CONTRACT: Final = 100
"""Lots per contract: :data:`COUNT_QUANTUM` as an integer scale. Where speed matters contract counts are
``int`` lots (``*_lots``): ``Decimal("46.02")`` is ``4602``."""


class MoneyParseError(ValueError):
    """A wire value could not be read as an exact decimal amount.

    Raised for floats (inexact by construction), booleans, non-numeric strings, NaN and infinities.
    """


def to_decimal(value: Any) -> Decimal:
    """Convert a wire value (``str``, ``int`` or ``Decimal``) to an exact :class:`Decimal`.

    Args:
        value: a decimal string such as ``"0.4200"`` or ``"-54.00"``, an ``int`` or a ``Decimal``.

    Returns:
        The exact value; no rounding is applied.

    Raises:
        MoneyParseError: for ``float`` (money is never a float), ``bool``, ``None``, a string that
            is not a finite decimal number, NaN or infinity.
    """
    if isinstance(value, bool) or value is None:
        raise MoneyParseError(f"not a decimal amount: {value!r}")
    if isinstance(value, float):
        raise MoneyParseError(f"refusing float {value!r}: send money and counts as decimal strings")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise MoneyParseError(f"not a decimal amount: {value!r}") from exc
    else:
        raise MoneyParseError(f"not a decimal amount: {value!r} ({type(value).__name__})")
    if not result.is_finite():
        raise MoneyParseError(f"not a finite amount: {value!r}")
    return result


def cents_to_dollars(cents: int) -> Decimal:
    """Convert integer cents (e.g. ``balance``, ``revenue``) to dollars: ``4250 -> Decimal("42.50")``."""
    return (Decimal(int(cents)) / 100).quantize(CENT)


def cc_to_dollars(cc: int) -> Decimal:
    """Centi-cents -> exact Decimal dollars with 4 dp: ``4800 -> Decimal("0.4800")``."""
    return Decimal(cc).scaleb(-4)


def lots_to_contracts(lots: int) -> Decimal:
    """Lots (1/100 contract) -> exact Decimal contracts with 2 dp: ``4602 -> Decimal("46.02")``."""
    return Decimal(lots).scaleb(-2)


def dollars_to_cents(dollars: Decimal, rounding: str = ROUND_HALF_EVEN) -> int:
    """Convert dollars to integer cents with an explicit rounding mode.

    Args:
        dollars: an exact amount in dollars.
        rounding: a :mod:`decimal` rounding constant; use ``ROUND_FLOOR`` for cash you can spend and
            ``ROUND_CEILING`` for fees you owe.

    Returns:
        Whole cents.
    """
    return int((dollars * 100).to_integral_value(rounding=rounding))


def format_dollars(dollars: Decimal, places: int = 4) -> str:
    """Format dollars the way Kalshi does on the wire: ``Decimal("0.42") -> "0.4200"`` (4 dp default)."""
    return str(dollars.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))


def format_count(contracts: Decimal) -> str:
    """Format a contract count as a 2-dp ``*_fp`` string: ``Decimal("10") -> "10.00"``."""
    return str(contracts.quantize(COUNT_QUANTUM, rounding=ROUND_HALF_EVEN))


def complement(price_dollars: Decimal) -> Decimal:
    """Return the other side's price: a YES price ``p`` is a NO price ``1 - p`` (kalshi-api.md §8)."""
    return ONE_DOLLAR - price_dollars


def floor_to_cents(dollars: Decimal) -> int:
    """Spendable whole cents of a dollar amount, rounded toward minus infinity."""
    return dollars_to_cents(dollars, ROUND_FLOOR)


def _decimal_validator(value: Any) -> Decimal:
    return to_decimal(value)


Dollars = Annotated[
    Decimal,
    BeforeValidator(_decimal_validator),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="json"),
]
"""A dollar amount as an exact Decimal; accepts wire strings/ints, refuses floats, serialises as a string."""

Contracts = Annotated[
    Decimal,
    BeforeValidator(_decimal_validator),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="json"),
]
"""A contract count (may be fractional in 0.01 steps; signed for positions: + YES, - NO)."""
