"""One market's order book: YES bids and NO bids in exact integers (see :mod:`kalshi.orderbook`)."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final, Literal

from kalshi.models.ws import (
    PRICE_CC_PER_DOLLAR,
    cc_to_dollars,
    count_to_lots,
    format_lots,
    format_price_cc,
    lots_to_contracts,
    price_to_cc,
)
from kalshi.orderbook.errors import (
    BookIntegrityError,
    BookNotReadyError,
    CrossedBookError,
    OffTickPriceError,
    OrderBookError,
)
from kalshi.orderbook.grid import PriceGrid
from kalshi.orderbook.results import Level, Side, Sweep, TopOfBook, lots_of

__all__ = ["OrderBook"]

_ONE: Final = PRICE_CC_PER_DOLLAR


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
        cross_deltas: deltas applied so far in the current transient cross (the book locked or crossed
            after each of them, see :attr:`crossed`); 0 when the book is not crossed. A feed reads it before
            and after a delta to count crosses and their length.

    """

    __slots__ = (
        "_cross_ts",
        "_no",
        "_no_px",
        "_trusted",
        "_untrusted_reason",
        "_valid",
        "_yes",
        "_yes_px",
        "cross_deltas",
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
        self._cross_ts: int | None = None
        self.cross_deltas = 0

    def __repr__(self) -> str:
        t = self.top()
        bid = "-" if t.yes_bid_cc is None else format_price_cc(t.yes_bid_cc)
        ask = "-" if t.yes_ask_cc is None else format_price_cc(t.yes_ask_cc)
        state = "trusted" if self._trusted else f"untrusted: {self._untrusted_reason}"
        if self._cross_ts is not None:
            state += f", crossed since ts {self._cross_ts}"
        return f"<OrderBook {self.ticker} yes {bid}/{ask} levels {len(self._yes)}+{len(self._no)} {state}>"

    # -- trust ---------------------------------------------------------------------------------------

    @property
    def trusted(self) -> bool:
        """Whether the book reflects the exchange (a snapshot applied and no integrity error since)."""
        return self._trusted

    @property
    def crossed(self) -> bool:
        """Whether the book is locked or crossed right now (best YES bid + best NO bid >= $1).

        Only ever true transiently: a delta that locks or crosses the book is applied when it carries an
        exchange timestamp and must be cleared by deltas of the SAME timestamp (Kalshi publishes an incoming
        order's add before the removal of the level it trades against). Never trade on a crossed book: its
        prices are mid-update (:meth:`kalshi.feed.BookFreshness.usable` is false). See the package docstring.
        """
        return self._cross_ts is not None

    @property
    def cross_ts_ms(self) -> int | None:
        """The exchange timestamp (Unix ms) at which the current cross began, or ``None`` when not crossed."""
        return self._cross_ts

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
        self._cross_ts = None
        self.cross_deltas = 0
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
        self._cross_ts = None
        self.cross_deltas = 0

    def apply_delta(self, side: str, price_cc: int, delta_lots: int, ts_ms: int | None = None) -> None:
        """Apply one ``orderbook_delta``: ``size[side][price] += delta``; the level is removed at 0 (§6.5).

        O(1) for a change to an existing level; O(log n) (+ a tiny memmove) when a level appears or goes.

        A delta that locks or crosses the book (the new level's price + the best opposite bid >= $1) is applied
        when ``ts_ms`` is given: the book becomes :attr:`crossed` (still trusted, but not to be traded on) and
        must clear within that exchange timestamp (see the package docstring, "Transient crosses").

        Args:
            side: ``"yes"`` or ``"no"``: whose BIDS changed.
            price_cc: the level's price in centi-cents.
            delta_lots: signed change in lots.
            ts_ms: the exchange time in Unix ms (stored as :attr:`last_update_ts_ms`), or ``None``.

        Raises:
            BookNotReadyError: the book is untrusted (no snapshot yet, or an integrity error since).
            CrossedBookError: the book is still crossed and this delta's ``ts_ms`` is later than the cross's
                (or absent); not applied, book marked untrusted.
            OffTickPriceError: ``price_cc`` is off the grid or outside ($0, $1); book marked untrusted.
            BookIntegrityError: the size would go negative, or a new level would cross/lock the book and the
                delta has no ``ts_ms``; the update is not applied and the book is marked untrusted.
            ValueError: ``side`` is neither ``"yes"`` nor ``"no"``.

        """
        if not self._trusted:
            raise BookNotReadyError(self.ticker, f"delta on an untrusted book ({self._untrusted_reason})")
        cross_ts = self._cross_ts
        if cross_ts is not None and (ts_ms is None or ts_ms > cross_ts):
            raise self._fail(
                CrossedBookError(
                    self.ticker,
                    f"book still crossed (best yes bid {format_price_cc(self._yes_px[-1])} + best no bid "
                    f"{format_price_cc(self._no_px[-1])} >= $1) after {self.cross_deltas} deltas at exchange "
                    f"ts {cross_ts}; next delta at ts {ts_ms}",
                    cross_ts_ms=cross_ts,
                )
            )
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
                if opposite and price_cc + opposite[-1] >= _ONE and cross_ts is None:
                    if ts_ms is None:
                        raise self._fail(
                            BookIntegrityError(
                                self.ticker,
                                f"delta {format_lots(delta_lots)} would cross the book (best opposite bid "
                                f"{format_price_cc(opposite[-1])}) and has no exchange timestamp to clear within",
                                side=side,
                                price_cc=price_cc,
                            )
                        )
                    self._cross_ts = cross_ts = ts_ms
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
        if cross_ts is not None:
            ypx, npx = self._yes_px, self._no_px
            if ypx and npx and ypx[-1] + npx[-1] >= _ONE:
                self.cross_deltas += 1
            else:
                self._cross_ts = None
                self.cross_deltas = 0

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
        return self.sweep_lots(side, lots_of(count_fp), action)

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
