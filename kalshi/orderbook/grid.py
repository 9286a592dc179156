"""Kalshi tick grids as O(1) lookup tables over centi-cents (kalshi-api.md §4 "Tick grid")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from kalshi.models.ws import PRICE_CC_PER_DOLLAR, PriceBand, price_to_cc
from models.money import to_decimal

if TYPE_CHECKING:
    from kalshi.models import Market

__all__ = ["PriceGrid"]

_ONE: Final = PRICE_CC_PER_DOLLAR


class PriceGrid:
    """The set of prices a market accepts, as a 10,001-entry lookup table over centi-cents (kalshi-api.md §4).

    A price ``p`` (centi-cents) is valid when ``0 < p < 10_000`` and it lies on one of the bands
    ``start_cc <= p <= end_cc`` with ``(p - start_cc) % step_cc == 0``. Lookups are one ``bytes`` index.
    Standard grids are shared singletons (``PriceGrid.linear_cent()`` etc.), so 100 books cost one table.

    Attributes:
        name: the ``price_level_structure`` name, or ``"custom"``.
        bands: the bands in centi-cents.

    """

    __slots__ = ("_valid", "bands", "name")

    _STANDARD: dict[str, PriceGrid] = {}

    def __init__(self, bands: Iterable[PriceBand | tuple[int, int, int]], name: str = "custom") -> None:
        """Build a grid from bands ``(start_cc, end_cc, step_cc)``.

        Raises:
            ValueError: a band has ``step_cc <= 0``, ``end_cc < start_cc`` or lies outside 0..10,000.

        """
        norm: list[PriceBand] = []
        valid = bytearray(_ONE + 1)
        for band in bands:
            b = band if isinstance(band, PriceBand) else PriceBand(*band)
            if b.step_cc <= 0 or b.end_cc < b.start_cc or b.start_cc < 0 or b.end_cc > _ONE:
                raise ValueError(f"invalid price band {b!r}")
            norm.append(b)
            for p in range(b.start_cc, b.end_cc + 1, b.step_cc):
                valid[p] = 1
        valid[0] = 0
        valid[_ONE] = 0
        self.name = name
        self.bands: tuple[PriceBand, ...] = tuple(norm)
        self._valid = bytes(valid)

    def __contains__(self, price_cc: object) -> bool:
        """Whether ``price_cc`` (int centi-cents) is a valid bid price on this grid."""
        return type(price_cc) is int and 0 < price_cc < _ONE and self._valid[price_cc] == 1

    def __repr__(self) -> str:
        return f"PriceGrid({self.name!r}, {list(self.bands)!r})"

    @classmethod
    def _standard(cls, name: str, bands: Sequence[tuple[int, int, int]]) -> PriceGrid:
        grid = cls._STANDARD.get(name)
        if grid is None:
            grid = cls._STANDARD[name] = cls(bands, name)
        return grid

    @classmethod
    def linear_cent(cls) -> PriceGrid:
        """``linear_cent``: $0.01 steps across $0-$1 (Kalshi's default when no ``price_ranges`` are given)."""
        return cls._standard("linear_cent", [(0, _ONE, 100)])

    @classmethod
    def deci_cent(cls) -> PriceGrid:
        """``deci_cent``: $0.001 steps everywhere."""
        return cls._standard("deci_cent", [(0, _ONE, 10)])

    @classmethod
    def tapered_deci_cent(cls) -> PriceGrid:
        """``tapered_deci_cent``: $0.001 on $0-$0.10 and $0.90-$1, $0.01 in between."""
        return cls._standard("tapered_deci_cent", [(0, 1000, 10), (1000, 9000, 100), (9000, _ONE, 10)])

    @classmethod
    def centi_cent(cls) -> PriceGrid:
        """Every $0.0001 price: the wire's finest resolution (use when the market's grid is unknown)."""
        return cls._standard("centi_cent", [(0, _ONE, 1)])

    @classmethod
    def from_structure(cls, name: str) -> PriceGrid:
        """The standard grid called ``name`` (``linear_cent``, ``deci_cent``, ``tapered_deci_cent``, ``centi_cent``).

        Raises:
            ValueError: unknown name (build other structures from their ``price_ranges``).

        """
        factory = {
            "linear_cent": cls.linear_cent,
            "deci_cent": cls.deci_cent,
            "tapered_deci_cent": cls.tapered_deci_cent,
            "centi_cent": cls.centi_cent,
        }.get(name)
        if factory is None:
            raise ValueError(f"unknown price_level_structure {name!r}; build the grid from price_ranges")
        return factory()

    @classmethod
    def from_price_ranges(cls, ranges: Iterable[Any], name: str = "custom") -> PriceGrid:
        """Build a grid from a market's ``price_ranges`` (kalshi-api.md §3.2, §4).

        Args:
            ranges: :class:`kalshi.models.PriceRange` objects (Decimal dollars), :class:`PriceBand` objects,
                or mappings ``{"start": "0.0000", "end": "1.0000", "step": "0.0100"}`` (dollar strings).
            name: a label (the market's ``price_level_structure``).

        Raises:
            ValueError: a bound or step is not a whole number of centi-cents or a band is invalid.

        """
        bands: list[PriceBand] = []
        for r in ranges:
            if isinstance(r, PriceBand):
                bands.append(r)
            elif isinstance(r, Mapping):
                bands.append(PriceBand(price_to_cc(r["start"]), price_to_cc(r["end"]), price_to_cc(r["step"])))
            else:
                bands.append(
                    PriceBand(
                        _dollars_to_cc(r.start_dollars), _dollars_to_cc(r.end_dollars), _dollars_to_cc(r.step_dollars)
                    )
                )
        return cls(bands, name)

    @classmethod
    def from_market(cls, market: Market) -> PriceGrid:
        """The grid of a :class:`kalshi.models.Market` (its ``price_ranges``; ``linear_cent`` when none).

        Raises:
            ValueError: the ranges are invalid.

        """
        ranges = market.price_ranges
        name = market.price_level_structure or "custom"
        if not ranges:
            return cls.linear_cent()
        grid = cls.from_price_ranges(ranges, name)
        if name in _STANDARD_NAMES:
            standard = cls.from_structure(name)
            if standard._valid == grid._valid:
                return standard  # share the singleton's table
        return grid


_STANDARD_NAMES: Final = frozenset({"linear_cent", "deci_cent", "tapered_deci_cent", "centi_cent"})


def _dollars_to_cc(value: Decimal) -> int:
    """Exact Decimal dollars -> centi-cents (ValueError when finer than $0.0001)."""
    scaled = to_decimal(value).scaleb(4)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} dollars is not a whole number of centi-cents")
    return int(scaled)
