"""Order-book errors (see :mod:`kalshi.orderbook` for when each is raised and what the book does)."""

from __future__ import annotations

from kalshi.models.ws import format_price_cc

__all__ = ["BookIntegrityError", "BookNotReadyError", "CrossedBookError", "OffTickPriceError", "OrderBookError"]


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


class CrossedBookError(BookIntegrityError):
    """The book was still locked or crossed when a delta of a LATER exchange timestamp arrived.

    Kalshi publishes the add of an incoming order before the removal of the opposite level it trades
    against, both at the same ``ts_ms``, so a book applied delta by delta is locked or crossed for a few
    frames and clears within that exchange timestamp (tolerated: :attr:`OrderBook.crossed`). A cross that is
    still there when the exchange clock has moved on is an impossible book: this error, a subclass of
    :class:`BookIntegrityError`, so the book is marked untrusted and must be resynced. Count it separately
    (``kalshi_feed_persistent_crosses``).

    Attributes:
        cross_ts_ms: the exchange timestamp (Unix ms) at which the cross began.

    """

    def __init__(self, ticker: str, reason: str, *, cross_ts_ms: int) -> None:
        super().__init__(ticker, reason)
        self.cross_ts_ms = cross_ts_ms
