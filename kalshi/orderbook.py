"""Exact, fast per-market order books built from WebSocket snapshots and deltas (kalshi-api.md §6.5).

Kalshi books hold BIDS ONLY on both sides (§3.3, §6.5): a YES bid at p is a NO ask at 1 - p, and a NO bid
at q is a YES ask at 1 - q, so ``best_yes_ask = $1 - best_no_bid`` and ``best_no_ask = $1 - best_yes_bid``.
An ``orderbook_snapshot`` replaces the book; an ``orderbook_delta`` changes one level:
``new_size = old_size + delta``, and the level disappears at 0.

Units (exact integers, never floats; see :mod:`kalshi.models.ws`):

* prices are ``int`` **centi-cents** (``*_cc``; $1 = 10,000; ``"0.4800"`` -> 4800). Every Kalshi grid
  (``linear_cent``, ``deci_cent``, ``tapered_deci_cent``, and the $0.0001 ``centi_cent`` wire resolution;
  sub-penny prices exist since Mar 2026, §4) is a subset of these integers;
* sizes are ``int`` **lots** of 1/100 contract (``*_lots``; ``"46.02"`` -> 4602);
* sweep totals are ``int`` **micro-dollars** (lots x centi-cents = 10**-6 $), exposed as exact Decimal dollars.

Representation (why it is fast and small): each side is a ``dict`` price_cc -> size_lots plus a sorted
``list`` of the prices that have a level. A delta is one dict update (O(1)); a level appearing or
disappearing is one ``bisect`` (O(log n)) plus a ``list`` insert/delete whose memmove is negligible at Kalshi's
~10-100 levels per side (appending or popping the best level, the common case, is O(1)). The best bid is
``prices[-1]``: O(1) to read, with its size one dict lookup. Depth reads slice the sorted list. A dense array
of 10,001 ticks per side was rejected: it costs ~160 KB per market even when empty and needs a scan to find
the next best level after the best one empties; the dict + sorted list costs a few KB per market (100 markets
take well under 10 MB) and never scans.

Integrity (the WebSocket client resyncs on :class:`BookIntegrityError`): a delta that would make a size
negative, a level that would cross or lock the book (best YES bid >= best YES ask, i.e. best YES bid + best
NO bid >= $1), a snapshot with duplicate, negative or crossed levels, and a price off the market's tick grid
(:class:`OffTickPriceError`, a subclass) all raise, leave the book unchanged by that update, and mark it
UNTRUSTED. An untrusted book keeps its last state for inspection but refuses deltas
(:class:`BookNotReadyError`) until the next snapshot. Readers never raise; check :attr:`OrderBook.trusted`.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, TypeAlias

from kalshi.models.ws import (
    PRICE_CC_PER_DOLLAR,
    FrameError,
    OrderbookDelta,
    OrderbookSnapshot,
    PriceBand,
    WsEvent,
    cc_to_dollars,
    count_to_lots,
    format_lots,
    format_price_cc,
    lots_to_contracts,
    parse_frame,
    price_to_cc,
)
from models.money import to_decimal

if TYPE_CHECKING:
    from kalshi.models import Market

__all__ = [
    "BookIntegrityError",
    "BookNotReadyError",
    "BookStore",
    "Level",
    "OffTickPriceError",
    "OrderBook",
    "OrderBookError",
    "PriceGrid",
    "Sweep",
    "TopOfBook",
]

Side: TypeAlias = Literal["yes", "no"]
"""A contract side (kalshi-api.md §8)."""

_ONE: Final = PRICE_CC_PER_DOLLAR
_ORDERBOOK_TYPES: Final = frozenset({"orderbook_delta", "orderbook_snapshot"})


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


class OrderBookError(Exception):
    """Base of the order-book errors.

    Attributes:
        ticker: the market.
        reason: one line saying what was wrong.
        side: ``"yes"``/``"no"`` when one side was concerned, else ``None``.
        price_cc: the price concerned in centi-cents, else ``None``.

    """

    def __init__(self, ticker: str, reason: str, *, side: str | None = None, price_cc: int | None = None) -> None:
        self.ticker = ticker
        self.reason = reason
        self.side = side
        self.price_cc = price_cc
        where = f" {side}@{format_price_cc(price_cc)}" if side is not None and price_cc is not None else ""
        super().__init__(f"{ticker}{where}: {reason}")


class BookIntegrityError(OrderBookError):
    """The update would make the book impossible (negative size, crossed/locked, bad snapshot).

    The book is left as it was before the update and marked untrusted: resync it (``get_snapshot`` or
    resubscribe, kalshi-api.md §6.4).
    """


class OffTickPriceError(BookIntegrityError):
    """A price is off the market's tick grid or outside the open interval ($0, $1) (kalshi-api.md §4).

    A subclass of :class:`BookIntegrityError` (the book missed an update, so it is marked untrusted and must
    be resynced); count it separately: it usually means the grid is stale (refresh the market and call
    :meth:`OrderBook.set_grid`).
    """


class BookNotReadyError(OrderBookError):
    """A delta arrived for a book that has no trusted snapshot.

    That is: before the first snapshot, or after an integrity error until the resync snapshot. Count and drop
    it; the pending snapshot will replace the book.
    """


# --------------------------------------------------------------------------------------------------
# Tick grids
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------------------


class Level(NamedTuple):
    """One price level: ``(price_cc, size_lots)``: int centi-cents and int lots (1/100 contract)."""

    price_cc: int
    size_lots: int

    @property
    def price_dollars(self) -> Decimal:
        """The price in exact Decimal dollars (4 dp)."""
        return cc_to_dollars(self.price_cc)

    @property
    def size_contracts(self) -> Decimal:
        """The size in exact Decimal contracts (2 dp)."""
        return lots_to_contracts(self.size_lots)


class TopOfBook(NamedTuple):
    """Best YES bid and YES ask with sizes (centi-cents, lots); ``None`` prices and 0 sizes when a side is empty.

    The NO quotes follow by complement (§8): NO bid = $1 - YES ask (size ``yes_ask_lots``), NO ask =
    $1 - YES bid (size ``yes_bid_lots``).
    """

    yes_bid_cc: int | None
    yes_bid_lots: int
    yes_ask_cc: int | None
    yes_ask_lots: int


@dataclass(frozen=True, slots=True)
class Sweep:
    """What taking ``requested_lots`` from the visible book would do, fees excluded.

    Buying ``side`` consumes the OTHER side's bids, best (highest) first, at ``$1 - bid`` per contract;
    selling ``side`` consumes ``side``'s own bids, best first, at the bid (kalshi-api.md §8).

    Attributes:
        side: the contract bought or sold.
        action: ``"buy"`` or ``"sell"``.
        requested_lots: lots asked for.
        filled_lots: lots the book can absorb (<= requested).
        total_micro: exact total paid (buy) or received (sell) in micro-dollars (10**-6 $ = lots x cc).
        best_price_cc: the first (best) price touched, centi-cents, or ``None`` when nothing filled.
        worst_price_cc: the last (worst) price touched, centi-cents, or ``None`` when nothing filled.
        levels_used: how many price levels were touched.

    """

    side: Side
    action: Literal["buy", "sell"]
    requested_lots: int
    filled_lots: int
    total_micro: int
    best_price_cc: int | None
    worst_price_cc: int | None
    levels_used: int

    @property
    def complete(self) -> bool:
        """Whether the whole request fits in the visible book."""
        return self.filled_lots >= self.requested_lots

    @property
    def filled_contracts(self) -> Decimal:
        """Filled contracts as exact Decimal (2 dp)."""
        return lots_to_contracts(self.filled_lots)

    @property
    def total_dollars(self) -> Decimal:
        """Total paid/received in exact Decimal dollars (6 dp)."""
        return Decimal(self.total_micro).scaleb(-6)

    @property
    def vwap_dollars(self) -> Decimal | None:
        """Volume-weighted average price per contract in Decimal dollars, ``None`` when nothing filled.

        Exact when the quotient terminates within the Decimal context precision (28 digits), else correctly
        rounded to it; ``total_micro`` and ``filled_lots`` are the exact ingredients.
        """
        if self.filled_lots <= 0:
            return None
        return Decimal(self.total_micro).scaleb(-6) / Decimal(self.filled_lots).scaleb(-2)


# --------------------------------------------------------------------------------------------------
# The book
# --------------------------------------------------------------------------------------------------


def _lots_of(count_fp: Decimal | str | int) -> int:
    """Contracts (Decimal, fixed-point string or int; floats refused) -> lots; must be > 0 and a 0.01 multiple."""
    scaled = to_decimal(count_fp).scaleb(2)
    if scaled != scaled.to_integral_value() or scaled <= 0:
        raise ValueError(f"count must be a positive multiple of 0.01 contracts, got {count_fp!r}")
    return int(scaled)


class OrderBook:
    """One market's book: YES bids and NO bids, exact, with O(1) best quotes (see the module docstring).

    Created empty and untrusted; :meth:`apply_snapshot` makes it trusted; :meth:`apply_delta` keeps it up to
    date. Not thread-safe (one asyncio loop owns it).

    Attributes:
        ticker: the market ticker.
        market_id: the market UUID when a snapshot carried one, else ``None``.
        grid: the market's :class:`PriceGrid` (``linear_cent`` by default).
        last_update_ts_ms: Unix ms of the last applied update (a delta's exchange ``ts_ms``; for snapshots,
            which carry no exchange time, the receive time passed in), or ``None``.

    """

    __slots__ = (
        "_no",
        "_no_px",
        "_trusted",
        "_untrusted_reason",
        "_valid",
        "_yes",
        "_yes_px",
        "grid",
        "last_update_ts_ms",
        "market_id",
        "ticker",
    )

    def __init__(self, ticker: str, grid: PriceGrid | None = None) -> None:
        """Create an empty, untrusted book for ``ticker`` on ``grid`` (default ``linear_cent``)."""
        self.ticker = ticker
        self.market_id: str | None = None
        self.grid = grid if grid is not None else PriceGrid.linear_cent()
        self._valid = self.grid._valid
        self._yes: dict[int, int] = {}
        self._no: dict[int, int] = {}
        self._yes_px: list[int] = []
        self._no_px: list[int] = []
        self._trusted = False
        self._untrusted_reason: str | None = "no snapshot yet"
        self.last_update_ts_ms: int | None = None

    def __repr__(self) -> str:
        t = self.top()
        bid = "-" if t.yes_bid_cc is None else format_price_cc(t.yes_bid_cc)
        ask = "-" if t.yes_ask_cc is None else format_price_cc(t.yes_ask_cc)
        state = "trusted" if self._trusted else f"untrusted: {self._untrusted_reason}"
        return f"<OrderBook {self.ticker} yes {bid}/{ask} levels {len(self._yes)}+{len(self._no)} {state}>"

    # -- trust ---------------------------------------------------------------------------------------

    @property
    def trusted(self) -> bool:
        """Whether the book reflects the exchange (a snapshot applied and no integrity error since)."""
        return self._trusted

    @property
    def untrusted_reason(self) -> str | None:
        """Why the book is untrusted (``None`` when trusted)."""
        return self._untrusted_reason

    def mark_untrusted(self, reason: str) -> None:
        """Mark the book untrusted (e.g. on a seq gap, §6.4): deltas are refused until the next snapshot."""
        self._trusted = False
        self._untrusted_reason = reason

    def _fail(self, exc: OrderBookError) -> OrderBookError:
        self._trusted = False
        self._untrusted_reason = str(exc)
        return exc

    def set_grid(self, grid: PriceGrid) -> None:
        """Switch to a new tick grid (e.g. on ``price_level_structure_updated``, §6.5).

        Levels already held that are off the new grid mark the book untrusted (resync it).
        """
        self.grid = grid
        self._valid = grid._valid
        off = [p for p in (*self._yes_px, *self._no_px) if p not in grid]
        if off:
            self.mark_untrusted(f"levels off the new {grid.name} grid: {[format_price_cc(p) for p in off[:5]]}")

    # -- updates -------------------------------------------------------------------------------------

    def apply_snapshot(
        self,
        yes_levels: Iterable[tuple[int, int]],
        no_levels: Iterable[tuple[int, int]],
        ts_ms: int | None = None,
    ) -> None:
        """Replace the whole book (``orderbook_snapshot``, kalshi-api.md §6.5) and mark it trusted.

        Args:
            yes_levels: YES bids as ``(price_cc, size_lots)`` int pairs, any order (the wire is ascending).
            no_levels: NO bids, same shape.
            ts_ms: the receive time in Unix ms (snapshots carry no exchange time), or ``None``.

        Raises:
            OffTickPriceError: a price is off the grid or outside ($0, $1).
            BookIntegrityError: a negative size, a price listed twice on one side, or a crossed/locked book
                (best YES bid + best NO bid >= $1). On any error the book is left EMPTY and untrusted.

        """
        yes: dict[int, int] = {}
        no: dict[int, int] = {}
        valid = self._valid
        for side, levels, target in (("yes", yes_levels, yes), ("no", no_levels, no)):
            for price, size in levels:
                if not (type(price) is int and 0 < price < _ONE and valid[price]):
                    self._clear()
                    raise self._fail(
                        OffTickPriceError(
                            self.ticker, f"snapshot price off the {self.grid.name} grid", side=side, price_cc=price
                        )
                    )
                if price in target:
                    self._clear()
                    raise self._fail(
                        BookIntegrityError(self.ticker, "snapshot lists a price twice", side=side, price_cc=price)
                    )
                if size < 0:
                    self._clear()
                    raise self._fail(
                        BookIntegrityError(
                            self.ticker, f"snapshot size {format_lots(size)} < 0", side=side, price_cc=price
                        )
                    )
                if size:
                    target[price] = size
        yes_px = sorted(yes)
        no_px = sorted(no)
        if yes_px and no_px and yes_px[-1] + no_px[-1] >= _ONE:
            self._clear()
            raise self._fail(
                BookIntegrityError(
                    self.ticker,
                    f"snapshot crossed: best yes bid {format_price_cc(yes_px[-1])} + best no bid "
                    f"{format_price_cc(no_px[-1])} >= $1",
                )
            )
        self._yes, self._no, self._yes_px, self._no_px = yes, no, yes_px, no_px
        self._trusted = True
        self._untrusted_reason = None
        if ts_ms is not None:
            self.last_update_ts_ms = ts_ms

    def apply_wire_snapshot(self, msg: Mapping[str, Any], ts_ms: int | None = None) -> None:
        """Replace the book from a wire-shaped snapshot ``msg`` (``yes_dollars_fp``/``no_dollars_fp`` string pairs).

        Accepts what :meth:`snapshot` exports, an ``orderbook_snapshot`` ``msg`` and the REST
        ``orderbook_fp`` shape (``yes_dollars``/``no_dollars``); an absent side is empty.

        Raises:
            FixedPointError: a price or size string is not exact; plus everything :meth:`apply_snapshot` raises.

        """
        levels = []
        for side in ("yes", "no"):
            pairs = msg.get(f"{side}_dollars_fp")
            if pairs is None:
                pairs = msg.get(f"{side}_dollars")
            levels.append([(price_to_cc(p), count_to_lots(c)) for p, c, *_ in pairs or ()])
        self.apply_snapshot(levels[0], levels[1], ts_ms)
        market_id = msg.get("market_id")
        if isinstance(market_id, str):
            self.market_id = market_id

    def _clear(self) -> None:
        self._yes, self._no, self._yes_px, self._no_px = {}, {}, [], []

    def apply_delta(self, side: str, price_cc: int, delta_lots: int, ts_ms: int | None = None) -> None:
        """Apply one ``orderbook_delta``: ``size[side][price] += delta``; the level is removed at 0 (§6.5).

        O(1) for a change to an existing level; O(log n) (+ a tiny memmove) when a level appears or goes.

        Args:
            side: ``"yes"`` or ``"no"``: whose BIDS changed.
            price_cc: the level's price in centi-cents.
            delta_lots: signed change in lots.
            ts_ms: the exchange time in Unix ms (stored as :attr:`last_update_ts_ms`), or ``None``.

        Raises:
            BookNotReadyError: the book is untrusted (no snapshot yet, or an integrity error since).
            OffTickPriceError: ``price_cc`` is off the grid or outside ($0, $1); book marked untrusted.
            BookIntegrityError: the size would go negative, or a new level would cross/lock the book; the
                update is not applied and the book is marked untrusted.
            ValueError: ``side`` is neither ``"yes"`` nor ``"no"``.

        """
        if not self._trusted:
            raise BookNotReadyError(self.ticker, f"delta on an untrusted book ({self._untrusted_reason})")
        if side == "yes":
            levels = self._yes
            prices = self._yes_px
            opposite = self._no_px
        elif side == "no":
            levels = self._no
            prices = self._no_px
            opposite = self._yes_px
        else:
            raise ValueError(f"side must be 'yes' or 'no', got {side!r}")
        if not (0 < price_cc < _ONE and self._valid[price_cc]):
            raise self._fail(
                OffTickPriceError(
                    self.ticker, f"delta price off the {self.grid.name} grid", side=side, price_cc=price_cc
                )
            )
        old = levels.get(price_cc, 0)
        new = old + delta_lots
        if new > 0:
            if not old:
                if opposite and price_cc + opposite[-1] >= _ONE:
                    raise self._fail(
                        BookIntegrityError(
                            self.ticker,
                            f"delta {format_lots(delta_lots)} would cross the book (best opposite bid "
                            f"{format_price_cc(opposite[-1])})",
                            side=side,
                            price_cc=price_cc,
                        )
                    )
                if not prices or price_cc > prices[-1]:
                    prices.append(price_cc)
                else:
                    insort(prices, price_cc)
            levels[price_cc] = new
        elif new == 0:
            if old:
                del levels[price_cc]
                if prices[-1] == price_cc:
                    prices.pop()
                else:
                    del prices[bisect_left(prices, price_cc)]
        else:
            raise self._fail(
                BookIntegrityError(
                    self.ticker,
                    f"delta {format_lots(delta_lots)} on size {format_lots(old)} would go negative",
                    side=side,
                    price_cc=price_cc,
                )
            )
        if ts_ms is not None:
            self.last_update_ts_ms = ts_ms

    # -- best quotes (O(1)) --------------------------------------------------------------------------

    @property
    def best_yes_bid_cc(self) -> int | None:
        """Highest YES bid in centi-cents, or ``None``."""
        px = self._yes_px
        return px[-1] if px else None

    @property
    def best_no_bid_cc(self) -> int | None:
        """Highest NO bid in centi-cents, or ``None``."""
        px = self._no_px
        return px[-1] if px else None

    @property
    def best_yes_ask_cc(self) -> int | None:
        """Lowest YES ask in centi-cents (= 10,000 - best NO bid), or ``None``."""
        px = self._no_px
        return _ONE - px[-1] if px else None

    @property
    def best_no_ask_cc(self) -> int | None:
        """Lowest NO ask in centi-cents (= 10,000 - best YES bid), or ``None``."""
        px = self._yes_px
        return _ONE - px[-1] if px else None

    def bid_cc(self, side: Side) -> int | None:
        """Best bid of ``side`` in centi-cents (what selling one ``side`` contract fetches), or ``None``."""
        px = self._yes_px if side == "yes" else self._no_px
        return px[-1] if px else None

    def ask_cc(self, side: Side) -> int | None:
        """Best ask of ``side`` in centi-cents (what buying one ``side`` contract costs), or ``None``."""
        px = self._no_px if side == "yes" else self._yes_px
        return _ONE - px[-1] if px else None

    def bid_size_lots(self, side: Side) -> int:
        """Lots bid at the best bid of ``side`` (0 when empty)."""
        px, levels = (self._yes_px, self._yes) if side == "yes" else (self._no_px, self._no)
        return levels[px[-1]] if px else 0

    def ask_size_lots(self, side: Side) -> int:
        """Lots offered at the best ask of ``side`` (= size of the other side's best bid; 0 when empty)."""
        return self.bid_size_lots("no" if side == "yes" else "yes")

    def top(self) -> TopOfBook:
        """Best YES bid and ask with sizes in one call (centi-cents, lots)."""
        ypx, npx = self._yes_px, self._no_px
        bid = ypx[-1] if ypx else None
        nbid = npx[-1] if npx else None
        return TopOfBook(
            bid,
            self._yes[bid] if bid is not None else 0,
            _ONE - nbid if nbid is not None else None,
            self._no[nbid] if nbid is not None else 0,
        )

    def best_bid_dollars(self, side: Side) -> Decimal | None:
        """Best bid of ``side`` in exact Decimal dollars, or ``None``."""
        cc = self.bid_cc(side)
        return None if cc is None else cc_to_dollars(cc)

    def best_ask_dollars(self, side: Side) -> Decimal | None:
        """Best ask of ``side`` in exact Decimal dollars, or ``None``."""
        cc = self.ask_cc(side)
        return None if cc is None else cc_to_dollars(cc)

    # -- depth ---------------------------------------------------------------------------------------

    def depth(self, side: Side, n: int | None = None) -> list[Level]:
        """The best ``n`` BIDS of ``side`` (all when ``None``), best (highest) first, as :class:`Level`s."""
        px, levels = (self._yes_px, self._yes) if side == "yes" else (self._no_px, self._no)
        chosen = px[::-1] if n is None else px[: -n - 1 : -1] if n > 0 else []
        return [Level(p, levels[p]) for p in chosen]

    def ask_depth(self, side: Side, n: int | None = None) -> list[Level]:
        """The best ``n`` ASKS of ``side``, best (lowest) first: the other side's bids at ``$1 - price``."""
        other: Side = "no" if side == "yes" else "yes"
        return [Level(_ONE - lvl.price_cc, lvl.size_lots) for lvl in self.depth(other, n)]

    def levels(self, side: Side) -> list[Level]:
        """All bids of ``side`` in wire order: ascending price, best last."""
        px, levels = (self._yes_px, self._yes) if side == "yes" else (self._no_px, self._no)
        return [Level(p, levels[p]) for p in px]

    def bid_view(self, side: Side) -> tuple[Sequence[int], Mapping[int, int]]:
        """Zero-copy read access for per-update hot paths (the RL observation): ``side``'s BIDS.

        Returns:
            ``(prices, sizes)``: the bid prices in centi-cents, ascending (best bid last), and the map
            price_cc -> size_lots. They are the book's live structures, typed read-only: never mutate them,
            and read them again after each update (a snapshot replaces them).

        """
        return (self._yes_px, self._yes) if side == "yes" else (self._no_px, self._no)

    @property
    def level_count(self) -> int:
        """Number of price levels held (both sides)."""
        return len(self._yes) + len(self._no)

    # -- derived quantities ----------------------------------------------------------------------------

    def sweep_lots(self, side: Side, lots: int, action: Literal["buy", "sell"] = "buy") -> Sweep:
        """Walk the book for ``lots`` (int lots > 0) of ``side``: see :meth:`sweep`.

        Raises:
            ValueError: ``lots <= 0``, or a bad ``side``/``action``.

        """
        if lots <= 0:
            raise ValueError(f"lots must be > 0, got {lots}")
        if side not in ("yes", "no") or action not in ("buy", "sell"):
            raise ValueError(f"bad side/action {side!r}/{action!r}")
        book_side = side if action == "sell" else ("no" if side == "yes" else "yes")
        px, levels = (self._yes_px, self._yes) if book_side == "yes" else (self._no_px, self._no)
        remaining = lots
        total = 0
        best: int | None = None
        worst: int | None = None
        used = 0
        for bid in reversed(px):
            if remaining <= 0:
                break
            price = bid if action == "sell" else _ONE - bid
            take = min(levels[bid], remaining)
            remaining -= take
            total += take * price
            if best is None:
                best = price
            worst = price
            used += 1
        return Sweep(side, action, lots, lots - remaining, total, best, worst, used)

    def sweep(self, side: Side, count_fp: Decimal | str | int, action: Literal["buy", "sell"] = "buy") -> Sweep:
        """What buying (or selling) ``count_fp`` contracts of ``side`` against the visible book would do.

        Buying YES lifts NO bids from the highest down, paying ``$1 - no_bid``; buying NO lifts YES bids
        likewise; selling ``side`` hits ``side``'s own bids from the highest down (kalshi-api.md §8). Fees
        are not included.

        Args:
            side: ``"yes"`` or ``"no"``.
            count_fp: contracts, a Decimal, fixed-point string or int (floats refused), > 0, in 0.01 steps.
            action: ``"buy"`` (default) or ``"sell"``.

        Returns:
            A :class:`Sweep` (filled lots, exact total, VWAP, best and worst price touched).

        Raises:
            ValueError: ``count_fp`` is not a positive multiple of 0.01 (MoneyParseError, a ValueError, for
                floats), or a bad ``side``/``action``.

        """
        return self.sweep_lots(side, _lots_of(count_fp), action)

    def imbalance(self, levels: int = 1) -> Decimal | None:
        """Order imbalance of the top ``levels`` levels: ``(bid - ask) / (bid + ask)`` in [-1, 1], Decimal.

        ``bid`` = lots on the best ``levels`` YES bids, ``ask`` = lots on the best ``levels`` YES asks (NO
        bids). Positive = more buying interest in YES. ``None`` when both are empty.

        Raises:
            ValueError: ``levels < 1``.

        """
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        bid = sum(self._yes[p] for p in self._yes_px[-levels:])
        ask = sum(self._no[p] for p in self._no_px[-levels:])
        if bid + ask == 0:
            return None
        return Decimal(bid - ask) / Decimal(bid + ask)

    # -- export --------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Export the book in the wire shape of an ``orderbook_snapshot`` ``msg`` (kalshi-api.md §6.5).

        Returns:
            ``{"market_ticker": ..., ["market_id": ...,] "yes_dollars_fp": [["0.4800", "46.02"], ...],
            "no_dollars_fp": [...]}`` with levels ascending (best bid last) and a side's key ABSENT when that
            side is empty, exactly as Kalshi sends it; ``market_id`` only when known.

        """
        out: dict[str, Any] = {"market_ticker": self.ticker}
        if self.market_id is not None:
            out["market_id"] = self.market_id
        if self._yes_px:
            out["yes_dollars_fp"] = [[format_price_cc(p), format_lots(self._yes[p])] for p in self._yes_px]
        if self._no_px:
            out["no_dollars_fp"] = [[format_price_cc(p), format_lots(self._no[p])] for p in self._no_px]
        return out

    def as_decimal_levels(self) -> dict[Side, dict[Decimal, Decimal]]:
        """``{"yes": {price_dollars: size_contracts}, "no": {...}}`` in exact Decimals (for comparisons)."""
        return {
            "yes": {cc_to_dollars(p): lots_to_contracts(q) for p, q in self._yes.items()},
            "no": {cc_to_dollars(p): lots_to_contracts(q) for p, q in self._no.items()},
        }


# --------------------------------------------------------------------------------------------------
# Many books
# --------------------------------------------------------------------------------------------------


class BookStore:
    """The order books of many markets, keyed by ticker (what the ingestion activity holds, ~100 markets).

    Feed it every order-book frame of a connection with :meth:`apply_frame` (parse + apply, the fast path)
    or pre-parsed events with :meth:`apply`. Memory is a few KB per market (see the module docstring).
    Give each market its grid (``set_grid(ticker, PriceGrid.from_market(market))``) before its snapshot
    arrives: a sub-penny market left on the ``linear_cent`` default raises :class:`OffTickPriceError` on its
    first sub-penny level, and would keep doing so after every resync.
    Sequence (``seq``) gap detection belongs to the WebSocket client, per sid (§6.4); on a gap it calls
    :meth:`mark_untrusted` for the sid's markets and resyncs.

    Attributes:
        default_grid: the grid of books created without an explicit one (``linear_cent`` by default).

    """

    __slots__ = ("_books", "_grids", "default_grid")

    def __init__(self, default_grid: PriceGrid | None = None) -> None:
        """Create an empty store; books use ``default_grid`` unless :meth:`set_grid` named another."""
        self.default_grid = default_grid if default_grid is not None else PriceGrid.linear_cent()
        self._books: dict[str, OrderBook] = {}
        self._grids: dict[str, PriceGrid] = {}

    def __len__(self) -> int:
        return len(self._books)

    def __contains__(self, ticker: object) -> bool:
        return ticker in self._books

    def __iter__(self) -> Iterator[str]:
        return iter(self._books)

    def __getitem__(self, ticker: str) -> OrderBook:
        """The book of ``ticker``; KeyError when none exists."""
        return self._books[ticker]

    def get(self, ticker: str) -> OrderBook | None:
        """The book of ``ticker``, or ``None``."""
        return self._books.get(ticker)

    def book(self, ticker: str) -> OrderBook:
        """The book of ``ticker``, created empty (untrusted) on its grid when absent."""
        book = self._books.get(ticker)
        if book is None:
            book = self._books[ticker] = OrderBook(ticker, self._grids.get(ticker, self.default_grid))
        return book

    def set_grid(self, ticker: str, grid: PriceGrid) -> None:
        """Use ``grid`` for ``ticker`` (now and for a book created later); see :meth:`OrderBook.set_grid`."""
        self._grids[ticker] = grid
        book = self._books.get(ticker)
        if book is not None:
            book.set_grid(grid)

    def remove(self, ticker: str) -> None:
        """Forget ``ticker``'s book and grid (e.g. after the market closed); no error when absent."""
        self._books.pop(ticker, None)
        self._grids.pop(ticker, None)

    def mark_untrusted(self, reason: str, tickers: Iterable[str] | None = None) -> None:
        """Mark the books of ``tickers`` (all when ``None``) untrusted, e.g. on a seq gap (§6.4)."""
        for ticker in self._books if tickers is None else tickers:
            book = self._books.get(ticker)
            if book is not None:
                book.mark_untrusted(reason)

    def apply(self, event: WsEvent, recv_ms: int | None = None) -> OrderBook | None:
        """Apply an order-book event; return the book it changed, or ``None`` for other events.

        * :class:`~kalshi.models.ws.OrderbookSnapshot` replaces (creating) the market's book; its time is
          ``recv_ms`` (snapshots carry no exchange time).
        * :class:`~kalshi.models.ws.OrderbookDelta` updates the book; its time is the delta's ``ts_ms``
          (``recv_ms`` when absent).
        * :class:`~kalshi.models.ws.FrameError` of an order-book type naming a known market marks that book
          untrusted (it missed an update) and returns ``None``.
        * Anything else is ignored (``None``).

        Raises:
            BookNotReadyError: a delta for a market without a trusted book.
            BookIntegrityError: (incl. :class:`OffTickPriceError`) see :meth:`OrderBook.apply_delta` and
                :meth:`OrderBook.apply_snapshot`.

        """
        if type(event) is OrderbookDelta:
            book = self._books.get(event.market_ticker)
            if book is None:
                raise BookNotReadyError(event.market_ticker, "delta before any snapshot")
            ts = event.ts_ms
            book.apply_delta(event.side, event.price_cc, event.delta_lots, recv_ms if ts is None else ts)
            return book
        if type(event) is OrderbookSnapshot:
            book = self.book(event.market_ticker)
            if event.market_id is not None:
                book.market_id = event.market_id
            book.apply_snapshot(event.yes_levels, event.no_levels, recv_ms)
            return book
        if type(event) is FrameError and event.type in _ORDERBOOK_TYPES and event.market_ticker:
            book = self._books.get(event.market_ticker)
            if book is not None:
                book.mark_untrusted(f"malformed {event.type} frame: {event.reason}")
        return None

    def apply_frame(self, raw: bytes | str, recv_ms: int | None = None) -> WsEvent:
        """Parse one WebSocket frame and apply it when it is an order-book frame; return the parsed event.

        The fast path for ingestion: ``JSON text -> typed event -> book updated``. Non-book events (trades,
        tickers, acks, :class:`~kalshi.models.ws.UnknownMessage`, :class:`~kalshi.models.ws.FrameError`) are
        returned for the caller to route or count.

        Raises:
            BookNotReadyError, BookIntegrityError, OffTickPriceError: as :meth:`apply`.

        """
        event = parse_frame(raw)
        if type(event) is OrderbookDelta:
            book = self._books.get(event.market_ticker)
            if book is None:
                raise BookNotReadyError(event.market_ticker, "delta before any snapshot")
            ts = event.ts_ms
            book.apply_delta(event.side, event.price_cc, event.delta_lots, recv_ms if ts is None else ts)
        elif type(event) is OrderbookSnapshot or type(event) is FrameError:
            self.apply(event, recv_ms)
        return event
