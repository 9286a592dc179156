"""The two drivers of a trading epoch: REST polling and the WebSocket actor loop.

Both feed order books to one :class:`trading.epoch.EpochCore` (ARCHITECTURE.md "Two loops, two speeds"):

* :class:`PollingEpoch` (the ``run_trading_epoch`` activity, shared queue): every ``poll_interval_ms`` one
  ``GET /markets/orderbooks`` for every viable market, a decision per book; positions and cash from the order
  acknowledgements.
* :class:`ActorEpoch` (the ``run_actor_epoch`` activity, on the worker-specific queue of the process that holds
  the books): a decision on every order-book update of a traded market, read in memory from the process's
  :class:`kalshi.ingest.MarketDataHub`; positions and cash follow the private ``fill`` and ``market_positions``
  channels; an order-group ``triggered`` event stops entries at once. Books older than
  ``settings.max_book_age_ms`` or from a silent connection are never acted on (``stale_book``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kalshi.convert import book_top
from kalshi.errors import KalshiAuthError, KalshiCredentialsError, KalshiError
from kalshi.feed import MarketDataFeed
from kalshi.ingest import MarketDataHub
from kalshi.models.ws import Fill, MarketPositionUpdate, OrderGroupUpdate
from kalshi.rest import KalshiRestClient
from models.trader import EpochInput, EpochSummary
from recording.metrics import AppMetrics
from rl.policy import Policy
from trading.attempt import Attempt
from trading.epoch import EpochCore


class PollingEpoch(EpochCore):
    """The REST polling driver: every ``poll_interval_ms`` read every viable market's book at once."""

    async def run(self) -> EpochSummary:
        """Trade until the deadline, cancellation, shutdown, the breaker or the order group; return the summary.

        Raises:
            KalshiAuthError, KalshiCredentialsError: the exchange refuses the key.
        """
        tickers = sorted(self.close_times)
        if not tickers:
            self.summary.ended_by = "no_markets"
        try:
            async with self:
                while not self.stopping():
                    if tickers and self.may_trade():
                        await self._poll_once(tickers)
                    self.heartbeat()
                    if self.stopping():
                        break
                    await self.pause(min(self.inp.settings.poll_interval_ms / 1000, self.seconds_left()))
        except asyncio.CancelledError:
            if self.superseded is None:
                self.summary.ended_by = "cancelled"
            self.log.info("epoch %s attempt %d cancelled", self.inp.epoch_id, self.attempt)
        return self.finish()

    async def _poll_once(self, tickers: list[str]) -> None:
        read_at = time.perf_counter()
        try:
            books = await self.client.get_orderbooks(tickers)
        except (KalshiAuthError, KalshiCredentialsError):
            raise
        except KalshiError as err:
            self.error(err)
            return
        self.pipeline.exchange_ok()
        now = self.client.exchange_now()
        for ticker in tickers:
            book = books.get(ticker)
            if book is None:
                continue
            age_ms = (time.perf_counter() - read_at) * 1000
            await self.decide(ticker, book_top(book), now, read_at, book_age_ms=age_ms)
            if self.pipeline.order_group_triggered or self.stopping():
                return


class ActorEpoch(EpochCore):
    """The WebSocket actor driver: decide on every order-book update of a traded market (module docstring).

    Args:
        client: signed REST client (orders; the exchange clock).
        metrics: application metrics.
        inp: the epoch input.
        ctx: the activity attempt running the epoch.
        hub: this process's market data (the books the ingestion activity holds).
        policy: override of the configured policy.
        recorder: the worker's write-behind recorder, or None.
    """

    def __init__(
        self,
        client: KalshiRestClient,
        metrics: AppMetrics,
        inp: EpochInput,
        ctx: Attempt,
        hub: MarketDataHub,
        policy: Policy | None = None,
        *,
        recorder: Any | None = None,
    ) -> None:
        super().__init__(client, metrics, inp, ctx, policy, origin="actor", fills_from_acks=False, recorder=recorder)
        self.hub = hub

    async def run(self) -> EpochSummary:
        """Trade on every update until the deadline or cancellation; return the summary.

        Ends at once with ``ended_by="no_market_data"`` when this process holds no market data (the workflow then
        falls back to REST polling).

        Raises:
            KalshiAuthError, KalshiCredentialsError: the exchange refuses the key.
        """
        feed = self.hub.feed
        if feed is None:
            self.summary.ended_by = "no_market_data"
            return self.finish()
        traded = set(self.close_times)
        missing = [self.hub.markets.get(t) or t for t in sorted(traded - set(feed.markets))]
        if missing:
            await feed.add_markets(missing)
        with self.hub.updates() as stream, self.hub.private_events(self._on_private):
            try:
                async with self:
                    while not self.stopping():
                        batch = await stream.next(min(1.0, self.seconds_left()))
                        if batch:
                            await self._decide_batch(feed, batch, traded)
                        self.heartbeat()
            except asyncio.CancelledError:
                if self.superseded is None:
                    self.summary.ended_by = "cancelled"
        return self.finish()

    def _on_private(self, event: Any) -> None:
        """A private channel's event: positions and cash for the pipeline, the order group's trigger."""
        if isinstance(event, MarketPositionUpdate):
            self.pipeline.position_frame(event)
        elif isinstance(event, Fill):
            self.pipeline.fill_frame(event)
        elif (
            isinstance(event, OrderGroupUpdate)
            and event.event_type == "triggered"
            and event.order_group_id == self.inp.order_group_id
        ):
            self.pipeline.order_group_triggered = True

    async def _decide_batch(self, feed: MarketDataFeed, batch: dict[str, float], traded: set[str]) -> None:
        """Run the pipeline on the latest book of every traded market in ``batch`` (ticker -> received at)."""
        settings = self.inp.settings
        now = self.client.exchange_now()
        for ticker, received_at in batch.items():
            if ticker not in traded:
                continue
            book = feed.usable_book(ticker, max_connection_idle_ms=settings.max_connection_idle_ms)
            if book is None:
                self.reject("stale_book")
                continue
            age = feed.freshness(ticker).book_age_ms or 0
            await self.decide(
                ticker,
                book_top(book),
                now,
                received_at,
                book_age_ms=age,
                max_book_age_ms=settings.max_book_age_ms,
            )
            if self.pipeline.order_group_triggered or self.stopping():
                break
