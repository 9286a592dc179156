"""Order books kept current from a Kalshi WebSocket connection, with freshness and counters.

:class:`MarketDataFeed` listens to a :class:`~kalshi.ws.KalshiWebSocketClient`, owns one
``orderbook_delta`` subscription for the markets it is given (kalshi-api.md §6.5) and maintains a
:class:`~kalshi.orderbook.BookStore`:

* ``orderbook_snapshot`` replaces a market's book; ``orderbook_delta`` applies ``new = old + delta``;
* a delta that locks or crosses a book is tolerated while deltas of the same exchange ``ts_ms`` follow (Kalshi
  publishes an incoming order's add before the removal of the level it trades against): the book stays
  trusted but :attr:`BookFreshness.crossed` makes it unusable until the cross clears; the cleared crosses are
  counted (``transient_crosses``, ``crossed_deltas``, ``max_cross_deltas``). A cross still there when a later
  ``ts_ms`` arrives is a :class:`~kalshi.orderbook.CrossedBookError` (``persistent_crosses``), handled as below.
  A delta without ``ts_ms`` is applied with its receipt time as its timestamp, so a cross it causes must clear
  within the same receipt millisecond;
* a :class:`~kalshi.orderbook.BookIntegrityError` (size below zero, persistent cross) or
  :class:`~kalshi.orderbook.OffTickPriceError` (price off the market's grid) on a delta, or a malformed
  order-book frame for a market we hold, marks that book untrusted, is counted, logged with the raw frame
  (truncated) and triggers a resync of that market (``get_snapshot``, else a new subscription; see
  :meth:`kalshi.ws.KalshiWebSocketClient.request_resync`). A bad *snapshot* is counted and logged but not
  resynced at once (the same snapshot would come back): the book stays untrusted until the next snapshot;
* a seq gap on the subscription (:class:`~kalshi.ws.SequenceGap`), a subscription reset and a disconnect
  mark the affected books untrusted until their fresh snapshots arrive (the client resyncs / resubscribes /
  reconnects on its own);
* deltas arriving for an untrusted book are dropped and counted (they are superseded by the coming
  snapshot); deltas for a market without a book are counted and, if the market is ours, resynced.

Units: prices are int centi-cents and sizes int lots (see :mod:`kalshi.orderbook`); times are int Unix ms
(wall clock) or int ms ages (monotonic clock). Nothing here uses floats.

Freshness: :meth:`MarketDataFeed.freshness` tells, per book, whether it is trusted, the exchange time of
its last update (a delta's ``ts_ms``; a snapshot carries none, so its receipt time), the local receipt time,
how long ago (ms, monotonic) the book last changed and how long ago anything arrived on the connection. A
quiet market on a live connection is current; a silent connection is not. The trading loop should act only
on :meth:`MarketDataFeed.usable_book` (trusted, connected, connection heard from within a bound).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from kalshi.models.ws import FrameError, OrderbookDelta, OrderbookSnapshot
from kalshi.orderbook import (
    BookIntegrityError,
    BookNotReadyError,
    BookStore,
    CrossedBookError,
    OffTickPriceError,
    OrderBook,
    PriceGrid,
)
from kalshi.ws import (
    ORDERBOOK_CHANNEL,
    Disconnected,
    KalshiWebSocketClient,
    Resynced,
    SequenceGap,
    Subscription,
    SubscriptionReset,
)

if TYPE_CHECKING:
    from kalshi.models import Market

__all__ = ["BookFreshness", "FeedCounters", "MarketDataFeed"]

log = logging.getLogger(__name__)

_RAW_LOG_LIMIT = 500
_BOOK_TYPES = frozenset({"orderbook_snapshot", "orderbook_delta"})


@dataclass
class FeedCounters:
    """Book-maintenance counters of one feed (plain ints; exported by a later layer).

    Attributes:
        snapshots_applied: snapshots that replaced a book.
        deltas_applied: deltas applied to a trusted book.
        deltas_dropped_untrusted: deltas that arrived while their book was untrusted (awaiting a snapshot).
        unknown_market_deltas: deltas for a market with no book.
        ignored_frames: book frames for markets this feed does not hold or of another subscription.
        integrity_errors: BookIntegrityError on a delta or snapshot (includes off-tick ones and persistent
            crosses).
        off_tick_errors: of which OffTickPriceError.
        persistent_crosses: of which CrossedBookError: a locked/crossed book still crossed when a delta of a
            later exchange timestamp arrived (the book is resynced).
        transient_crosses: locked/crossed episodes that cleared within their exchange timestamp (tolerated:
            no resync; the book was unusable meanwhile).
        crossed_deltas: deltas after which a book was locked or crossed (the frames it was not tradable).
        max_cross_deltas: the longest cleared episode, in deltas (Kalshi's bitcoin markets: up to 174).
        bad_snapshots: snapshots refused by the book (left untrusted, not resynced at once).
        malformed_book_frames: malformed order-book frames naming a market we hold.
        gaps: seq gaps on the feed's subscription.
        untrusted_marks: times books were marked untrusted (gap, reset, disconnect, error), per book.
        resyncs_requested: resyncs the feed asked the client for (per integrity error / malformed frame).
        resyncs_completed: ``get_snapshot`` resyncs the client reported complete for the feed's subscription.
        last_delta_age_ms: receipt time minus the exchange ``ts_ms`` of the last applied delta, ms (clock
            skew included; can be negative), or ``None``.
        max_delta_age_ms: the largest such value seen, or ``None``.

    """

    snapshots_applied: int = 0
    deltas_applied: int = 0
    deltas_dropped_untrusted: int = 0
    unknown_market_deltas: int = 0
    ignored_frames: int = 0
    integrity_errors: int = 0
    off_tick_errors: int = 0
    persistent_crosses: int = 0
    transient_crosses: int = 0
    crossed_deltas: int = 0
    max_cross_deltas: int = 0
    bad_snapshots: int = 0
    malformed_book_frames: int = 0
    gaps: int = 0
    untrusted_marks: int = 0
    resyncs_requested: int = 0
    resyncs_completed: int = 0
    last_delta_age_ms: int | None = None
    max_delta_age_ms: int | None = None


@dataclass(frozen=True, slots=True)
class BookFreshness:
    """How current one market's book is.

    Attributes:
        ticker: the market.
        exists: a book is held (a snapshot arrived at least once).
        trusted: the book reflects the exchange (snapshot applied, nothing lost since).
        untrusted_reason: why not, else ``None``.
        crossed: the book is locked or crossed right now, mid-way through one exchange timestamp's deltas
            (:attr:`kalshi.orderbook.OrderBook.crossed`): trusted, but its prices are not to be traded on.
        connected: the WebSocket is up.
        last_exchange_ts_ms: Unix ms of the last applied update on the exchange clock (a delta's ``ts_ms``;
            for a snapshot, which carries no exchange time, its receipt time), or ``None``.
        last_recv_ms: local wall-clock Unix ms when the last update of this book arrived, or ``None``.
        book_age_ms: monotonic ms since this book last changed (a quiet market ages; that alone is fine),
            or ``None``.
        connection_idle_ms: monotonic ms since anything (a frame, a ping, a pong) arrived on the connection,
            or ``None``. With Kalshi's 10 s pings (§6.1) a healthy connection stays under ~10,000.

    """

    ticker: str
    exists: bool
    trusted: bool
    untrusted_reason: str | None
    crossed: bool
    connected: bool
    last_exchange_ts_ms: int | None
    last_recv_ms: int | None
    book_age_ms: int | None
    connection_idle_ms: int | None

    def usable(self, max_connection_idle_ms: int) -> bool:
        """Whether to act on the book: trusted, not crossed, connected, and the connection heard from within the bound.

        A transiently crossed book (see ``crossed``) is not usable: the pre-trade check refuses it and tries
        again on the next update, which normally clears the cross within the same exchange timestamp.

        Args:
            max_connection_idle_ms: e.g. 15,000 with Kalshi's 10 s pings (the silence timeout reconnects at
                ``silence_timeout_s`` anyway).

        """
        return (
            self.trusted
            and not self.crossed
            and self.connected
            and self.connection_idle_ms is not None
            and self.connection_idle_ms <= max_connection_idle_ms
        )


def _ms(monotonic_s: float) -> int:
    """Monotonic seconds -> int ms (for ages; never used for prices or money)."""
    return int(monotonic_s * 1000)


def _truncate(raw: Any) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else str(raw)
    return text if len(text) <= _RAW_LOG_LIMIT else text[:_RAW_LOG_LIMIT] + f"... ({len(text)} chars)"


class MarketDataFeed:
    """Order books of a set of markets, maintained from one WebSocket client (see the module docstring).

    Args:
        client: the WebSocket client (started or not). The feed registers a listener on it and applies the
            order-book frames of its own subscription only (other subscriptions on the client are ignored).
        store: the book store to fill (a new one by default).

    Attributes:
        books: the :class:`~kalshi.orderbook.BookStore`.
        counters: :class:`FeedCounters`.

    """

    def __init__(
        self,
        client: KalshiWebSocketClient,
        *,
        store: BookStore | None = None,
    ) -> None:
        self.client = client
        self.books = store if store is not None else BookStore()
        self.counters = FeedCounters()
        self._sub: Subscription | None = None
        self._tickers: dict[str, None] = {}
        self._recv: dict[str, tuple[int, float]] = {}
        self._remove_listener = client.add_listener(self._on_event)
        self._bad_logged = 0

    # ---------------------------------------------------------------------------------------------
    # markets
    # ---------------------------------------------------------------------------------------------

    @property
    def markets(self) -> tuple[str, ...]:
        """The tickers the feed keeps books for (in the order added)."""
        return tuple(self._tickers)

    @property
    def subscription(self) -> Subscription | None:
        """The feed's ``orderbook_delta`` subscription handle (``None`` before the first market)."""
        return self._sub

    def set_grid(self, ticker: str, grid: PriceGrid) -> None:
        """Use ``grid`` for ``ticker``'s book (before its snapshot; a held book off the grid goes untrusted)."""
        self.books.set_grid(ticker, grid)

    def set_market(self, market: Market) -> PriceGrid:
        """Set ``market``'s tick grid from its metadata (:meth:`PriceGrid.from_market`, §4); return it.

        Raises:
            ValueError: the market's ``price_ranges`` are invalid.

        """
        grid = PriceGrid.from_market(market)
        self.books.set_grid(market.ticker, grid)
        return grid

    async def add_markets(self, markets: Iterable[str | Market]) -> tuple[str, ...]:
        """Keep books for ``markets`` (tickers, or :class:`kalshi.models.Market` objects whose grids are set).

        Subscribes ``orderbook_delta`` on the first call, then ``add_markets`` (§6.2); while disconnected the
        markets are recorded and subscribed on the next connection. Returns every market held afterwards.

        Raises:
            ValueError: a market's ``price_ranges`` are invalid.
            kalshi.ws.WebSocketCommandError: the exchange refused (9 authentication required, 11 unknown
                market ...).

        """
        tickers: list[str] = []
        for m in markets:
            if isinstance(m, str):
                tickers.append(m)
            else:
                self.set_market(m)
                tickers.append(m.ticker)
        new = [t for t in dict.fromkeys(tickers) if t not in self._tickers]
        if not new:
            return self.markets
        for t in new:
            self._tickers[t] = None
        if self._sub is None:
            # hold the handle before its first frame can arrive: only frames of our own sid are applied
            (self._sub,) = self.client.new_subscriptions(ORDERBOOK_CHANNEL, new)
            try:
                await self.client.activate([self._sub])
            except Exception:
                for t in new:
                    self._tickers.pop(t, None)
                self._sub = None
                raise
        else:
            await self.client.update_subscription(self._sub, "add_markets", new)
        return self.markets

    async def remove_markets(self, tickers: Iterable[str]) -> tuple[str, ...]:
        """Stop keeping books for ``tickers`` (``delete_markets``) and forget their books; returns what is held."""
        gone = [t for t in dict.fromkeys(tickers) if t in self._tickers]
        for t in gone:
            self._tickers.pop(t, None)
            self.books.remove(t)
            self._recv.pop(t, None)
        if gone and self._sub is not None:
            await self.client.update_subscription(self._sub, "delete_markets", gone)
        return self.markets

    async def close(self) -> None:
        """Unsubscribe and stop listening (the client itself is left running)."""
        self._remove_listener()
        if self._sub is not None:
            await self.client.unsubscribe(self._sub)
            self._sub = None

    # ---------------------------------------------------------------------------------------------
    # reading
    # ---------------------------------------------------------------------------------------------

    def book(self, ticker: str) -> OrderBook | None:
        """The book of ``ticker`` (trusted or not), or ``None``; check ``.trusted`` or use :meth:`usable_book`."""
        return self.books.get(ticker)

    def freshness(self, ticker: str) -> BookFreshness:
        """How current ``ticker``'s book is (see :class:`BookFreshness`); never raises."""
        book = self.books.get(ticker)
        now = time.monotonic()
        recv = self._recv.get(ticker)
        last_rx = self.client.last_receive_monotonic
        return BookFreshness(
            ticker=ticker,
            exists=book is not None,
            trusted=book is not None and book.trusted,
            untrusted_reason=None if book is None else book.untrusted_reason,
            crossed=book is not None and book.crossed,
            connected=self.client.connected,
            last_exchange_ts_ms=None if book is None else book.last_update_ts_ms,
            last_recv_ms=None if recv is None else recv[0],
            book_age_ms=None if recv is None else _ms(now - recv[1]),
            connection_idle_ms=None if last_rx is None else _ms(now - last_rx),
        )

    def usable_book(self, ticker: str, max_connection_idle_ms: int) -> OrderBook | None:
        """The book of ``ticker`` if it may be acted on now (:meth:`BookFreshness.usable`), else ``None``.

        ``None`` while the book is untrusted, transiently crossed, or the connection is down or silent.
        """
        if self.freshness(ticker).usable(max_connection_idle_ms):
            return self.books.get(ticker)
        return None

    def metrics(self) -> dict[str, int | bool | None]:
        """Client and feed counters as one flat dict (``ws_*`` and ``feed_*`` keys) plus book trust counts.

        Suitable for activity heartbeat details and a Prometheus exporter; ``ws_frames_by_type`` is
        flattened into ``ws_frames_<type>`` keys.
        """
        out: dict[str, int | bool | None] = {}
        client_counters = asdict(self.client.counters)
        by_type = client_counters.pop("frames_by_type")
        for key, value in client_counters.items():
            out[f"ws_{key}"] = value
        for key, value in sorted(by_type.items()):
            out[f"ws_frames_{key}"] = value
        for key, value in asdict(self.counters).items():
            out[f"feed_{key}"] = value
        trusted = sum(1 for t in self._tickers if (b := self.books.get(t)) is not None and b.trusted)
        out["feed_markets"] = len(self._tickers)
        out["feed_books_trusted"] = trusted
        out["feed_books_untrusted"] = len(self._tickers) - trusted
        out["feed_books_crossed"] = sum(1 for t in self._tickers if (b := self.books.get(t)) is not None and b.crossed)
        return out

    # ---------------------------------------------------------------------------------------------
    # events
    # ---------------------------------------------------------------------------------------------

    def _mine(self, sid: int | None) -> bool:
        sub = self._sub
        return sub is not None and sid is not None and sub.sid == sid

    def _mark(self, tickers: Iterable[str], reason: str) -> None:
        for t in tickers:
            book = self.books.get(t)
            if book is not None and book.trusted:
                book.mark_untrusted(reason)
                self.counters.untrusted_marks += 1

    def _resync(self, ticker: str) -> None:
        if self._sub is not None and ticker in self._tickers:
            self.counters.resyncs_requested += 1
            self.client.request_resync(self._sub, [ticker])

    def _log_bad(self, what: str, raw: bytes | None, detail: Any) -> None:
        self._bad_logged += 1
        n = self._bad_logged
        if n <= 20 or n % 1000 == 0:
            log.warning("order book %s (#%d): %s; frame: %s", what, n, detail, _truncate(raw or b""))

    def _on_event(self, event: Any, raw: bytes | None, recv_ms: int) -> None:
        kind = type(event)
        if kind is OrderbookDelta:
            self._on_delta(event, raw, recv_ms)
        elif kind is OrderbookSnapshot:
            self._on_snapshot(event, raw, recv_ms)
        elif kind is FrameError:
            if (
                event.type in _BOOK_TYPES
                and event.market_ticker in self._tickers
                and (event.sid is None or self._mine(event.sid))
            ):
                self.counters.malformed_book_frames += 1
                self._mark([event.market_ticker], f"malformed {event.type} frame: {event.reason}")
                self._resync(event.market_ticker)
        elif kind is SequenceGap:
            if event.channel == ORDERBOOK_CHANNEL and self._mine(event.sid):
                self.counters.gaps += 1
                self._mark(self._tickers, f"seq gap on sid {event.sid}: expected {event.expected_seq}")
        elif kind is SubscriptionReset:
            if event.channel == ORDERBOOK_CHANNEL and self._sub is not None:
                self._mark(event.market_tickers or self._tickers, f"subscription reset: {event.reason}")
        elif kind is Disconnected:
            self._mark(self._tickers, f"disconnected ({event.reason}); awaiting fresh snapshots")
        elif kind is Resynced and self._mine(event.sid):
            self.counters.resyncs_completed += 1

    def _on_delta(self, event: OrderbookDelta, raw: bytes | None, recv_ms: int) -> None:
        ticker = event.market_ticker
        if ticker not in self._tickers or not self._mine(event.sid):
            self.counters.ignored_frames += 1
            return
        book = self.books.get(ticker)
        c = self.counters
        if book is None:
            c.unknown_market_deltas += 1
            self._log_bad("delta before any snapshot", raw, ticker)
            self._resync(ticker)
            return
        ts = event.ts_ms
        crossing = book.cross_deltas
        try:
            book.apply_delta(event.side, event.price_cc, event.delta_lots, recv_ms if ts is None else ts)
        except BookNotReadyError:
            c.deltas_dropped_untrusted += 1
            return
        except BookIntegrityError as exc:  # includes OffTickPriceError, CrossedBookError; the book is now untrusted
            c.integrity_errors += 1
            c.untrusted_marks += 1
            if isinstance(exc, OffTickPriceError):
                c.off_tick_errors += 1
            elif isinstance(exc, CrossedBookError):
                c.persistent_crosses += 1
            self._log_bad("integrity error", raw, exc)
            self._resync(ticker)
            return
        c.deltas_applied += 1
        if crossing or book.cross_deltas:
            if book.cross_deltas:
                c.crossed_deltas += 1
            else:  # this delta cleared the cross within its exchange timestamp
                c.transient_crosses += 1
                if crossing > c.max_cross_deltas:
                    c.max_cross_deltas = crossing
        self._recv[ticker] = (recv_ms, time.monotonic())
        if ts is not None:
            age = recv_ms - ts
            c.last_delta_age_ms = age
            if c.max_delta_age_ms is None or age > c.max_delta_age_ms:
                c.max_delta_age_ms = age

    def _on_snapshot(self, event: OrderbookSnapshot, raw: bytes | None, recv_ms: int) -> None:
        ticker = event.market_ticker
        if ticker not in self._tickers or not self._mine(event.sid):
            self.counters.ignored_frames += 1
            return
        try:
            self.books.apply(event, recv_ms)
        except BookIntegrityError as exc:
            c = self.counters
            c.integrity_errors += 1
            c.bad_snapshots += 1
            c.untrusted_marks += 1
            if isinstance(exc, OffTickPriceError):
                c.off_tick_errors += 1
            self._log_bad("bad snapshot", raw, exc)
            return
        self.counters.snapshots_applied += 1
        self._recv[ticker] = (recv_ms, time.monotonic())
