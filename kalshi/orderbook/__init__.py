"""Exact, fast per-market order books built from WebSocket snapshots and deltas (kalshi-api.md §6.5).

Kalshi books hold BIDS ONLY on both sides (§3.3, §6.5): a YES bid at p is a NO ask at 1 - p, and a NO bid
at q is a YES ask at 1 - q, so ``best_yes_ask = $1 - best_no_bid`` and ``best_no_ask = $1 - best_yes_bid``.
An ``orderbook_snapshot`` replaces the book; an ``orderbook_delta`` changes one level:
``new_size = old_size + delta``, and the level disappears at 0.

Modules: :mod:`~kalshi.orderbook.book` (:class:`OrderBook`), :mod:`~kalshi.orderbook.store`
(:class:`BookStore`, many markets fed frame by frame), :mod:`~kalshi.orderbook.grid` (:class:`PriceGrid`,
tick grids), :mod:`~kalshi.orderbook.results` (:class:`Level`, :class:`TopOfBook`, :class:`Sweep`) and
:mod:`~kalshi.orderbook.errors`. Import everything from ``kalshi.orderbook``.

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
negative, a snapshot with duplicate, negative or crossed levels, and a price off the market's tick grid
(:class:`OffTickPriceError`, a subclass) all raise, leave the book unchanged by that update, and mark it
UNTRUSTED. An untrusted book keeps its last state for inspection but refuses deltas
(:class:`BookNotReadyError`) until the next snapshot. Readers never raise; check :attr:`OrderBook.trusted`.

Transient crosses (real, odd market data). Kalshi publishes the add of an incoming order before the removal
of the opposite level it trades against, both stamped with the same exchange ``ts_ms``; a book applied delta
by delta is then locked or crossed (best YES bid + best NO bid >= $1) for one or more frames (1 to 174 in
recordings of 15-minute bitcoin markets, May 2026) and clears within that timestamp. A delta that locks or
crosses the book is therefore APPLIED when it carries an exchange timestamp: the book stays trusted but
:attr:`OrderBook.crossed` is true (never trade on it: :class:`kalshi.feed.BookFreshness` reports it unusable)
until a delta of the same timestamp clears the cross. A delta with a LATER timestamp arriving while the book
is still crossed raises :class:`CrossedBookError` (a :class:`BookIntegrityError`: untrusted, resync); so does
a crossing delta without a timestamp (nothing bounds it). Snapshots must never be crossed.
"""

from __future__ import annotations

from kalshi.orderbook.book import OrderBook
from kalshi.orderbook.errors import (
    BookIntegrityError,
    BookNotReadyError,
    CrossedBookError,
    OffTickPriceError,
    OrderBookError,
)
from kalshi.orderbook.grid import PriceGrid
from kalshi.orderbook.results import Level, Side, Sweep, TopOfBook
from kalshi.orderbook.store import BookStore

__all__ = [
    "BookIntegrityError",
    "BookNotReadyError",
    "BookStore",
    "CrossedBookError",
    "Level",
    "OffTickPriceError",
    "OrderBook",
    "OrderBookError",
    "PriceGrid",
    "Side",
    "Sweep",
    "TopOfBook",
]
