"""The WebSocket path's exact unit system: wire fixed-point strings <-> scaled integers (kalshi-api.md §4).

* prices are ``int`` **centi-cents** (``*_cc``): $1 = 10,000, so ``"0.4800"`` -> ``4800``; legacy cents
  ``48`` -> ``4800``. $0.0001 is the finest price on the wire, so every price fits exactly;
* contract counts are ``int`` **lots** (``*_lots``) of 1/100 contract, the ``_fp`` granularity:
  ``"46.02"`` -> ``4602``; legacy whole contracts ``46`` -> ``4600``;
* times are ``int`` Unix milliseconds (:func:`iso_to_ts_ms`).

Conversion is exact (no float, ever) and fast: small bounded caches in front of an exact parser, with a
:class:`~decimal.Decimal` fallback for unusual spellings such as ``"4.8E-1"``. The scales and the exact
conversions back to Decimal (``cc_to_dollars``, ``lots_to_contracts``) are :mod:`models.money`'s, the one
definition of the unit system (re-exported here for the WebSocket path).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Final

from models.money import LOTS_PER_CONTRACT, PRICE_CC_PER_DOLLAR, cc_to_dollars, lots_to_contracts

__all__ = [
    "LOTS_PER_CONTRACT",
    "PRICE_CC_PER_DOLLAR",
    "FixedPointError",
    "cc_to_dollars",
    "count_to_lots",
    "format_lots",
    "format_price_cc",
    "iso_to_ts_ms",
    "lots_to_contracts",
    "price_to_cc",
]

# --------------------------------------------------------------------------------------------------
# Exact fixed-point conversion
# --------------------------------------------------------------------------------------------------


class FixedPointError(ValueError):
    """A wire number could not be represented exactly in the requested scaled-integer unit.

    Raised by :func:`price_to_cc` and :func:`count_to_lots` for non-strings, non-numeric text, NaN or
    infinities, values finer than the unit (e.g. ``"0.48005"`` dollars, ``"1.005"`` contracts), prices
    outside $0..$1, negative counts where a count cannot be negative, and absurd magnitudes.
    """


_PLAIN_FIXED = re.compile(r"(-?)([0-9]{1,18})(?:\.([0-9]+))?")
"""The canonical spelling (``-?digits(.digits)?``, ASCII digits only), parsed without Decimal."""

_DECIMAL_SPELLING = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
"""Other exact spellings accepted through the Decimal fallback (``"+0.48"``, ``".48"``, ``"4.8E-1"``)."""

MAX_SCALED: Final = 10**18
"""Largest magnitude accepted for a scaled value (far beyond any real price, count or position)."""

_CACHE_LIMIT: Final = 1 << 15
"""Most entries kept per conversion cache (bounded memory: a few MB per cache when full)."""

PRICE_CACHE: dict[str, int] = {}
"""Price text -> centi-cents, for texts that parsed successfully (bounded by ``_CACHE_LIMIT``)."""

LOTS_CACHE: dict[str, int] = {}
"""Signed count text -> lots, for texts that parsed successfully (bounded by ``_CACHE_LIMIT``)."""


def _to_scaled(text: str, places: int) -> int:
    """Exact ``text * 10**places`` as an int, or :class:`FixedPointError` (no caching, no range check)."""
    m = _PLAIN_FIXED.fullmatch(text)
    if m is not None:
        sign, whole, frac = m.groups()
        if frac is None:
            frac = ""
        if len(frac) > places:
            if frac[places:].strip("0"):
                raise FixedPointError(f"{text!r} is finer than 1e-{places}")
            frac = frac[:places]
        value = int(whole + frac.ljust(places, "0"))
    elif _DECIMAL_SPELLING.fullmatch(text):
        try:
            scaled = Decimal(text).scaleb(places)
        except InvalidOperation as exc:  # pragma: no cover - the regex admits only finite numbers
            raise FixedPointError(f"not a number: {text!r}") from exc
        if scaled != scaled.to_integral_value():
            raise FixedPointError(f"{text!r} is finer than 1e-{places}")
        value = int(scaled)
        sign = ""
    else:
        raise FixedPointError(f"not a fixed-point number: {text!r}")
    if abs(value) >= MAX_SCALED:
        raise FixedPointError(f"{text!r} is out of range")
    return -value if sign else value


def price_to_cc(text: str) -> int:
    """Convert a dollar price string to exact integer centi-cents: ``"0.4800" -> 4800`` (kalshi-api.md §4).

    Args:
        text: a ``*_dollars`` price string, 4 dp on the wire (2-4 dp and exponent spellings are accepted
            when exact).

    Returns:
        The price in centi-cents, ``0 <= cc <= 10_000`` ($0 to $1 inclusive; an empty ticker side shows
        ``"0.0000"``/``"1.0000"``).

    Raises:
        FixedPointError: ``text`` is not a string, is not a finite number, has a non-zero digit beyond the
            4th decimal place, or lies outside $0..$1.

    """
    cached = PRICE_CACHE.get(text)
    if cached is not None:
        return cached
    if type(text) is not str:
        raise FixedPointError(f"price must be a dollar string, got {type(text).__name__} {text!r}")
    value = _to_scaled(text, 4)
    if not 0 <= value <= PRICE_CC_PER_DOLLAR:
        raise FixedPointError(f"price {text!r} is outside $0..$1")
    if len(PRICE_CACHE) < _CACHE_LIMIT:
        PRICE_CACHE[text] = value
    return value


def count_to_lots(text: str, *, signed: bool = True) -> int:
    """Convert a contract-count string to exact integer lots (1/100 contract): ``"46.02" -> 4602`` (§4).

    Args:
        text: a ``*_fp`` count string (2 dp on the wire; 0-2 dp and exponent spellings accepted when exact).
        signed: ``False`` refuses negative values (sizes, volumes); deltas and positions are signed.

    Returns:
        The count in lots (signed when ``signed``).

    Raises:
        FixedPointError: ``text`` is not a string, not a finite number, finer than 0.01 contract, absurdly
            large, or negative while ``signed`` is ``False``.

    """
    value = LOTS_CACHE.get(text)
    if value is None:
        if type(text) is not str:
            raise FixedPointError(f"count must be a fixed-point string, got {type(text).__name__} {text!r}")
        value = _to_scaled(text, 2)
        if len(LOTS_CACHE) < _CACHE_LIMIT:
            LOTS_CACHE[text] = value
    if value < 0 and not signed:
        raise FixedPointError(f"count {text!r} must not be negative")
    return value


def format_price_cc(cc: int) -> str:
    """Centi-cents -> the wire's 4-dp dollar string: ``4800 -> "0.4800"`` (negative values keep their sign)."""
    sign = "-" if cc < 0 else ""
    q, r = divmod(abs(cc), PRICE_CC_PER_DOLLAR)
    return f"{sign}{q}.{r:04d}"


def format_lots(lots: int) -> str:
    """Lots -> the wire's 2-dp ``_fp`` string: ``4602 -> "46.02"``, ``-990 -> "-9.90"``."""
    sign = "-" if lots < 0 else ""
    q, r = divmod(abs(lots), LOTS_PER_CONTRACT)
    return f"{sign}{q}.{r:02d}"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def iso_to_ts_ms(text: str) -> int:
    """Parse an RFC 3339 / ISO 8601 time (``"2026-08-11T01:15:15.566273Z"``) to Unix milliseconds, exactly.

    Fractions below a millisecond are truncated (floor), matching Kalshi's ``ts_ms`` twin. A time without an
    offset is taken as UTC.

    Raises:
        ValueError: ``text`` is not an ISO 8601 time.

    """
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // _ONE_MS
