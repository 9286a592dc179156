"""The two drivers of a trading epoch: REST polling and the WebSocket actor loop.

Both feed order books to one :class:`trading.epoch.EpochCore` (ARCHITECTURE.md "Two loops, two speeds"):

* :func:`run_polling` (the ``run_trading_epoch`` activity, shared queue): every ``poll_interval_ms`` one
  ``GET /markets/orderbooks`` for every viable market, a decision per book; positions and cash from the order
  acknowledgements (a core built with ``driver="polling"``).
* :func:`run_actor` (the ``run_actor_epoch`` activity, on the worker-specific queue of the process that holds
  the books; ``driver="actor"``): a decision on every order-book update of a traded market (coalesced: a burst
  of deltas is one decision on the latest book), read in memory from the process's
  :class:`kalshi.ingest.MarketDataHub`; its clock is the exchange time of the frames
  (:attr:`kalshi.ingest.MarketDataHub.exchange_ms`), so decisions do not depend on how fast a replay runs;
  positions and cash follow the private ``fill`` and ``market_positions`` channels; an order-group
  ``triggered`` event stops entries at once. Books older than ``settings.max_book_age_ms`` or from a silent
  connection are never acted on (``stale_book``). Orders of different markets go out concurrently, at most one
  per market in flight (:meth:`EpochCore.submit`); a market's updates meanwhile are decided on once its order
  completed (``updates_deferred``). Resting (MAKE) orders are cancelled when the epoch ends. When the
  WebSocket, or a private channel it relies on, is down longer than ``settings.market_data_grace_ms`` it ends
  with ``ended_by="market_data_lost"`` (the workflow recalibrates into degraded mode at once).

In degraded mode both refresh the epoch's REST fallbacks between updates (:meth:`EpochCore.refresh_fallbacks`:
positions by REST sync, fills by order-status polling, every ``inp.fallbacks.refresh_s``).

Both raise :class:`kalshi.errors.KalshiAuthError` / :class:`kalshi.errors.KalshiCredentialsError` when the
exchange refuses the key; every other exchange error is counted by the core.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from kalshi.convert import top_of_book
from kalshi.errors import KalshiAuthError, KalshiCredentialsError, KalshiError
from kalshi.feed import MarketDataFeed
from kalshi.ingest import MarketDataHub
from kalshi.models.ws import Fill, MarketPositionUpdate, OrderGroupUpdate, UserOrderUpdate
from models.trader import EpochSummary
from trading.epoch import EpochCore
from trading.pipeline import BookUpdate


async def run_polling(core: EpochCore) -> EpochSummary:
    """Poll and trade until the deadline, cancellation, shutdown, the breaker or the order group; the summary."""
    tickers = sorted(core.close_times)
    if not tickers:
        core.summary.ended_by = "no_markets"
    try:
        async with core:
            while not core.stopping():
                if tickers and core.may_trade():
                    await _poll_once(core, tickers)
                await core.refresh_fallbacks()
                core.heartbeat()
                if core.stopping():
                    break
                await core.pause(min(core.inp.settings.poll_interval_ms / 1000, core.seconds_left()))
    except asyncio.CancelledError:
        if core.superseded is None:
            core.summary.ended_by = "cancelled"
        core.log.info("epoch %s attempt %d cancelled", core.inp.epoch_id, core.attempt)
    return core.finish()


async def _poll_once(core: EpochCore, tickers: list[str]) -> None:
    read_at = time.perf_counter()
    try:
        books = await core.client.get_orderbooks(tickers)
    except (KalshiAuthError, KalshiCredentialsError):
        raise
    except KalshiError as err:
        core.error(err)
        return
    core.pipeline.exchange_ok()
    now_ms = core.exchange_ms()
    for ticker in tickers:
        book = books.get(ticker)
        if book is None:
            continue
        try:
            top = top_of_book(book)
        except ValueError as err:
            core.log.warning("order book of %s is off the exchange's grid: %s", ticker, err)
            core.reject("bad_book")
            continue
        age_ms = (time.perf_counter() - read_at) * 1000
        await core.decide_and_execute(BookUpdate(ticker, top, now_ms, core.close_ms.get(ticker), age_ms), read_at)
        if core.pipeline.order_group_triggered or core.stopping():
            return


async def run_actor(core: EpochCore, hub: MarketDataHub) -> EpochSummary:
    """Trade on every book update of ``hub`` until the deadline or cancellation; the summary.

    Ends at once with ``ended_by="no_market_data"`` when this process holds no market data (the workflow then
    falls back to REST polling).
    """
    feed = hub.feed
    if feed is None:
        core.summary.ended_by = "no_market_data"
        return core.finish()
    traded = set(core.close_times)
    missing = [hub.markets.get(t) or t for t in sorted(traded - set(feed.markets))]
    if missing:
        await feed.add_markets(missing)
    deferred: dict[str, float] = {}
    watch = _StreamWatch(core, hub, feed)
    with hub.updates(trades=core.live.needs_features) as stream, hub.private_events(_private_handler(core)):

        def market_free(ticker: str) -> None:
            received_at = deferred.pop(ticker, None)
            if received_at is not None:
                stream.mark(ticker, received_at, count=False)

        core.on_market_free = market_free
        try:
            async with core:
                try:
                    while not core.stopping():
                        core.raise_if_failed()
                        batch = await stream.next(min(1.0, core.seconds_left()))
                        if batch:
                            _decide_batch(core, feed, hub, batch, traded, deferred)
                        await core.refresh_fallbacks()
                        core.heartbeat()
                        if watch.lost():
                            core.summary.ended_by = "market_data_lost"
                            break
                finally:
                    # Writes in flight finish while the fence and the lease are still held; then no resting
                    # order outlives the epoch.
                    await core.drain()
                    await core.cancel_resting()
                core.raise_if_failed()
        except asyncio.CancelledError:
            if core.superseded is None:
                core.summary.ended_by = "cancelled"
        finally:
            core.on_market_free = None
            core.summary.updates_coalesced = max(0, stream.marked - stream.taken)
    return core.finish()


class _StreamWatch:
    """Notices when the actor loop's market data is gone for longer than ``settings.market_data_grace_ms``.

    Gone: the ingestion run that owned the feed ended (the hub holds another feed or none), the WebSocket is
    disconnected, or a private channel the epoch relies on is unsubscribed (``fill`` unless fills come from the
    REST fallback, ``market_positions`` unless positions do). The workflow then recalibrates at once (degraded
    mode and its fallbacks) instead of waiting for the next recalibration.
    """

    def __init__(self, core: EpochCore, hub: MarketDataHub, feed: MarketDataFeed) -> None:
        fallbacks = core.inp.fallbacks
        self.core, self.hub, self.feed = core, hub, feed
        self.need_fills = fallbacks is None or not fallbacks.fills_by_order_polling
        self.need_positions = fallbacks is None or not fallbacks.positions_by_rest_sync
        self.grace_s = core.inp.settings.market_data_grace_ms / 1000
        self.down_since: float | None = None

    def lost(self) -> bool:
        """Whether the market data has been down for longer than the grace period (logs why, once)."""
        if self.hub.feed is not self.feed:
            why: str | None = "the ingestion run holding the books ended"
        else:
            health = self.hub.stream_health()
            why = (
                "WebSocket disconnected"
                if not health.connected
                else "fill channel unsubscribed"
                if self.need_fills and not health.fill
                else "market_positions channel unsubscribed"
                if self.need_positions and not health.positions
                else None
            )
        if why is None:
            self.down_since = None
            return False
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = now
        if now - self.down_since < self.grace_s:
            return False
        self.core.log.warning(
            "epoch %s: market data lost (%s): ending for a recalibration", self.core.inp.epoch_id, why
        )
        return True


def _private_handler(core: EpochCore) -> Callable[[Any], None]:
    """The private channels' events for ``core``: positions and cash for its pipeline, the order group's trigger."""

    def on_private(event: Any) -> None:
        if isinstance(event, MarketPositionUpdate):
            core.pipeline.position_frame(event)
        elif isinstance(event, Fill):
            core.pipeline.fill_frame(event)
        elif isinstance(event, UserOrderUpdate):
            core.pipeline.order_frame(event)
        elif (
            isinstance(event, OrderGroupUpdate)
            and event.event_type == "triggered"
            and event.order_group_id == core.inp.order_group_id
        ):
            core.pipeline.order_group_triggered = True

    return on_private


def _decide_batch(
    core: EpochCore,
    feed: MarketDataFeed,
    hub: MarketDataHub,
    batch: dict[str, float],
    traded: set[str],
    deferred: dict[str, float],
) -> None:
    """Decide on the latest book of every traded market in ``batch`` (ticker -> received at); submit the orders.

    Synchronous: the whole batch is decided before any order's first write runs, so no decision waits behind
    another market's round trip; a learned policy evaluates every market due in the batch in ONE forward pass
    (:meth:`EpochCore.decide_many`), then their orders start concurrently (:meth:`EpochCore.submit`: at most one in
    flight per market). A market whose previous operation is still in flight is deferred (decided on when it
    completes, on its latest book).
    """
    settings = core.inp.settings
    updates: list[BookUpdate] = []
    received: list[float] = []
    for ticker, received_at in batch.items():
        if ticker not in traded:
            continue
        if ticker in core.in_flight:
            deferred.setdefault(ticker, received_at)
            core.summary.updates_deferred += 1
            continue
        book = feed.usable_book(ticker, max_connection_idle_ms=settings.max_connection_idle_ms)
        if book is None:
            core.reject("stale_book")
            continue
        age = feed.freshness(ticker).book_age_ms or 0
        now_ms = hub.exchange_ms if hub.exchange_ms is not None else core.exchange_ms()
        updates.append(BookUpdate(ticker, book.top(), now_ms, core.close_ms.get(ticker), age, book))
        received.append(received_at)
    if not updates:
        return
    for update, received_at, decision in zip(updates, received, core.decide_many(updates), strict=True):
        if core.pipeline.order_group_triggered or core.stopping():
            break
        if decision is not None and decision.intent is not None:
            core.submit(decision.intent, received_at, update.now_ms)
