"""The order books of many markets, fed frame by frame (see :mod:`kalshi.orderbook`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

from kalshi.models.ws import FrameError, OrderbookDelta, OrderbookSnapshot, WsEvent, parse_frame
from kalshi.orderbook.book import OrderBook
from kalshi.orderbook.errors import BookNotReadyError
from kalshi.orderbook.grid import PriceGrid

__all__ = ["BookStore"]

_ORDERBOOK_TYPES: Final = frozenset({"orderbook_delta", "orderbook_snapshot"})


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
            BookIntegrityError: (incl. :class:`OffTickPriceError` and :class:`CrossedBookError`) see
                :meth:`OrderBook.apply_delta` and :meth:`OrderBook.apply_snapshot`.

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
            BookNotReadyError, BookIntegrityError, OffTickPriceError, CrossedBookError: as :meth:`apply`.

        """
        event = parse_frame(raw)
        # Deltas are ~99 % of frames: applied inline (the same steps as :meth:`apply`) to save a call and a second
        # type dispatch per frame on the ingestion hot path; everything else goes through :meth:`apply`.
        if type(event) is OrderbookDelta:
            book = self._books.get(event.market_ticker)
            if book is None:
                raise BookNotReadyError(event.market_ticker, "delta before any snapshot")
            ts = event.ts_ms
            book.apply_delta(event.side, event.price_cc, event.delta_lots, recv_ms if ts is None else ts)
        elif type(event) is OrderbookSnapshot or type(event) is FrameError:
            self.apply(event, recv_ms)
        return event
