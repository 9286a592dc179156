"""The trading epoch: a long-running, heartbeating activity that polls books and trades between recalibrations.

Until the WebSocket actor loop (a later issue) replaces the polling, every ``poll_interval_ms`` the
epoch reads the order books of the viable markets over REST (one ``GET /markets/orderbooks``) and
runs the pipeline for each market:

``build_observation`` (book + position + cash + time to close) -> ``select_action`` (the
documented baseline :class:`rl.policy.ImbalancePolicy`) -> pre-trade checks (:mod:`rl.pretrade`) ->
execute: an immediate-or-cancel limit order priced to cross, carrying the order group id and a
deterministic ``client_order_id`` = ``epoch:<uuid5(epoch_id:sequence) hex>``.

Durability: the activity heartbeats every poll with its sequence number, so a retry (worker crash)
resumes the sequence and re-sends the same ids for the same positions in the sequence; the exchange's
409 duplicate then makes placement idempotent. It trades until the workflow's ``deadline`` (the same
deadline on every attempt) or until the workflow cancels it (pause, stop, recalibrate), and then
returns an :class:`EpochSummary`; when the worker shuts down it stops trading at once and returns
(``ended_by="worker_shutdown"``). An order write already in flight when cancellation arrives is
shielded and completes, so no order's outcome is left unknown by a cancel.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Literal

from temporalio import activity

from activities.kalshi_activities import book_top, to_application_error
from kalshi.errors import (
    KalshiAuthError,
    KalshiCredentialsError,
    KalshiError,
    KalshiOutcomeUnknownError,
    KalshiRejectedError,
)
from kalshi.models import CreateOrderRequest, OrderAck
from kalshi.rest import KalshiRestClient
from models.money import taker_fee_dollars
from models.trader import BookTop, EpochInput, EpochSummary, TradeAction
from recording.metrics import AppMetrics
from rl.policy import HoldPolicy, ImbalancePolicy, Policy, build_observation
from rl.pretrade import OrderIntent, PretradeState, check, fill_cash_delta_dollars, intent_for
from workflows.close import CLIENT_ORDER_ID_NAMESPACE
from workflows.names import RUN_TRADING_EPOCH

_ORDER_GROUP_CODES = ("order_group_triggered", "ORDER_GROUP_TRIGGERED")


def epoch_client_order_id(epoch_id: str, sequence: int) -> str:
    """Deterministic client_order_id of the ``sequence``-th order of an epoch: ``epoch:<32 hex>``."""
    return f"epoch:{uuid.uuid5(CLIENT_ORDER_ID_NAMESPACE, f'{epoch_id}:{sequence}').hex}"


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` in [0, 100] of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class TradingEpochActivities:
    """Holds the client and the policy for trading epochs on this worker.

    Args:
        client: an open, signed :class:`KalshiRestClient`.
        metrics: application metrics.
        policy: the decision policy; defaults to the baseline per epoch settings.
        recorder: the worker's write-behind recorder, or None.
    """

    def __init__(
        self,
        client: KalshiRestClient,
        metrics: AppMetrics,
        policy: Policy | None = None,
        recorder: Any | None = None,
    ) -> None:
        self.client = client
        self.metrics = metrics
        self.policy = policy
        self.recorder = recorder

    @activity.defn(name=RUN_TRADING_EPOCH)
    async def run_trading_epoch(self, inp: EpochInput) -> EpochSummary:
        """Trade the viable markets until ``inp.deadline`` or cancellation; return what happened.

        Raises:
            ApplicationError: non-retryable ``KalshiAuthError`` on bad credentials. Every other
                exchange error is counted; ``max_consecutive_errors`` in a row end the epoch early
                (``ended_by="circuit_breaker"``).
        """
        epoch = _PollingEpoch(self.client, self.metrics, inp, self.policy, recorder=self.recorder)
        return await epoch.run()


class EpochCore:
    """The transport-independent part of one epoch attempt: the pipeline, execution and the summary.

    Drivers feed it order-book updates: the REST polling epoch below, and the WebSocket actor loop
    (:mod:`activities.market_data`). State is per attempt, never shared between epochs.

    Args:
        client: signed REST client (orders always go over REST).
        metrics: application metrics.
        inp: the epoch input (deadline, markets, starting positions and cash, limits).
        policy: override of the configured policy.
        origin: metric label (``epoch`` for polling, ``actor`` for the WebSocket loop).
        fills_from_acks: update positions and cash from order acknowledgements (REST mode); the actor
            loop takes them from the ``fill`` and ``market_positions`` channels instead.
        recorder: the worker's write-behind recorder (orders, the epoch summary and the workflow's
            record batch are persisted), or None.
    """

    def __init__(
        self,
        client: KalshiRestClient,
        metrics: AppMetrics,
        inp: EpochInput,
        policy: Policy | None = None,
        *,
        origin: str = "epoch",
        fills_from_acks: bool = True,
        recorder: Any | None = None,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.metrics = metrics
        self.inp = inp
        self.origin = origin
        self.fills_from_acks = fills_from_acks
        self.policy: Policy = policy or (
            HoldPolicy()
            if inp.settings.policy == "hold"
            else ImbalancePolicy(inp.settings.imbalance_threshold, inp.risk.max_spread_dollars)
        )
        details = activity.info().heartbeat_details
        resumed = details[0] if details and isinstance(details[0], dict) else {}
        self.sequence: int = int(resumed.get("sequence", 0))
        self.resumed = activity.info().attempt > 1
        self.resume_sequence = self.sequence
        self.summary = EpochSummary(
            epoch_id=inp.epoch_id,
            driver="actor" if origin == "actor" else "polling",
            started_at=self.client.exchange_now(),
        )
        if resumed:
            self.summary.orders_placed = int(resumed.get("orders_placed", 0))
            self.summary.client_order_ids = list(resumed.get("client_order_ids", []))
        self.decisions: Counter[str] = Counter()
        self.rejects: Counter[str] = Counter()
        self.latencies_ms: list[float] = []
        self.ack_latencies_ms: list[float] = []
        self.state = PretradeState(positions=dict(inp.positions), balance_cents=inp.balance_cents)
        self.close_times = {m.ticker: m.close_time for m in inp.markets}
        if recorder is not None and inp.record is not None and activity.info().attempt == 1:
            batch = inp.record
            if batch.report is not None:
                recorder.record_calibration(batch.report, workflow_id=batch.workflow_id)
            for transition in batch.transitions:
                recorder.record_status(transition, workflow_id=batch.workflow_id)
            for close in batch.closes:
                recorder.record_close(close)

    # ---------------------------------------------------------------- loop plumbing

    def stopping(self) -> bool:
        """Whether the epoch must end now (deadline, worker shutdown, circuit breaker, order group)."""
        if activity.is_worker_shutdown():
            self.summary.ended_by = "worker_shutdown"
            return True
        if self.state.consecutive_errors >= self.inp.settings.max_consecutive_errors:
            self.summary.ended_by = "circuit_breaker"
            return True
        if self.state.order_group_triggered:
            self.summary.ended_by = "order_group_triggered"
            return True
        return datetime.now(UTC) >= self.inp.deadline

    async def pause(self, seconds: float) -> None:
        """Sleep ``seconds``, waking early when the worker starts shutting down."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(activity.wait_for_worker_shutdown(), timeout=max(seconds, 0.0))

    def seconds_left(self) -> float:
        """Seconds until the deadline (>= 0)."""
        return max(0.0, (self.inp.deadline - datetime.now(UTC)).total_seconds())

    def heartbeat(self) -> None:
        """Heartbeat the resume point (sequence) and what was placed (temporal.md §3 heartbeats)."""
        activity.heartbeat(
            {
                "sequence": self.sequence,
                "orders_placed": self.summary.orders_placed,
                "client_order_ids": self.summary.client_order_ids[-200:],
            }
        )

    # ---------------------------------------------------------------- pipeline

    async def decide(
        self,
        ticker: str,
        top: BookTop,
        now: datetime,
        received_at: float,
        book_age_ms: float = 0.0,
        max_book_age_ms: float | None = None,
    ) -> None:
        """Run the pipeline for one order-book update of ``ticker``.

        Args:
            ticker: the market.
            top: its top of book (dollars, contracts).
            now: the exchange clock.
            received_at: ``time.perf_counter()`` when the update arrived (decision latency starts here).
            book_age_ms: age of the book, milliseconds.
            max_book_age_ms: freshness limit: never act on an older book (None = no limit).
        """
        self.summary.updates_seen += 1
        self.metrics.epoch_updates.inc()
        close_time = self.close_times.get(ticker)
        obs = build_observation(
            ticker,
            top,
            self.state.positions.get(ticker, Decimal(0)),
            self.state.balance_cents,
            (close_time - now).total_seconds() if close_time else None,
            book_age_ms=book_age_ms,
        )
        action = self.policy.select_action(obs)
        self.decisions[action.value] += 1
        self.metrics.decisions.labels(action.value).inc()
        if action == TradeAction.HOLD:
            return
        intent = intent_for(action, obs, self.inp.risk)
        reason = (
            "no_liquidity"
            if intent is None
            else check(
                intent,
                obs,
                self.state,
                self.inp.risk,
                self.inp.exits,
                time.monotonic() * 1000,
                max_consecutive_errors=self.inp.settings.max_consecutive_errors,
                max_book_age_ms=max_book_age_ms,
            )
        )
        if reason is not None or intent is None:
            self.reject(reason or "no_liquidity")
            return
        await self._execute(intent, received_at)

    async def _execute(self, intent: OrderIntent, received_at: float) -> None:
        self.sequence += 1
        client_order_id = epoch_client_order_id(self.inp.epoch_id, self.sequence)
        request = CreateOrderRequest(
            ticker=intent.ticker,
            side=intent.side,
            action=intent.action,
            count_fp=intent.count_contracts,
            price_dollars=intent.price_dollars,
            client_order_id=client_order_id,
            time_in_force="immediate_or_cancel",
            reduce_only=intent.reduce_only,
            order_group_id=self.inp.order_group_id,
        )
        self.state.last_order_ms[intent.ticker] = time.monotonic() * 1000
        # On a retried attempt the orders right after the resumed sequence may already exist (even
        # executed, which Kalshi's 409 does not cover): look them up before sending.
        lookup_first = self.resumed and self.sequence <= self.resume_sequence + len(self.close_times) + 1
        sent_at = time.perf_counter()
        self.latencies_ms.append((sent_at - received_at) * 1000)
        self.metrics.decision_latency_seconds.labels(self.origin).observe(sent_at - received_at)
        # A write in flight must finish even if the workflow cancels us: its outcome must be known.
        placing = asyncio.ensure_future(self.client.create_order(request, lookup_first=lookup_first))
        try:
            ack = await asyncio.shield(placing)
        except asyncio.CancelledError:
            late = await self._finish_in_flight(placing, client_order_id)
            if late is not None:
                self._accepted(intent, late, sent_at)
            raise
        except (KalshiAuthError, KalshiCredentialsError) as err:
            raise to_application_error(err) from err
        except KalshiRejectedError as err:
            code = err.code or "rejected"
            self.metrics.orders.labels(self.origin, intent.side, intent.action, "rejected").inc()
            self.reject(f"exchange:{code}")
            if self.recorder is not None:
                self.recorder.record_order(
                    request, event="rejected", origin=self.origin, origin_id=self.inp.epoch_id, detail=str(err)
                )
            if code in _ORDER_GROUP_CODES:
                self.state.order_group_triggered = True
            return
        except KalshiOutcomeUnknownError as err:
            self.metrics.orders.labels(self.origin, intent.side, intent.action, "error").inc()
            self.summary.unresolved_client_order_ids.append(client_order_id)
            self.error(err)
            return
        except KalshiError as err:
            self.metrics.orders.labels(self.origin, intent.side, intent.action, "error").inc()
            self.error(err)
            return
        self._accepted(intent, ack, sent_at)

    async def _finish_in_flight(self, placing: asyncio.Future[OrderAck], client_order_id: str) -> OrderAck | None:
        try:
            return await placing
        except KalshiError as err:
            if isinstance(err, KalshiOutcomeUnknownError):
                self.summary.unresolved_client_order_ids.append(client_order_id)
            activity.logger.warning("in-flight order %s at cancel: %s", client_order_id, err)
            return None

    def _accepted(self, intent: OrderIntent, ack: OrderAck, sent_at: float) -> None:
        self.state.consecutive_errors = 0
        ack_ms = (time.perf_counter() - sent_at) * 1000
        self.ack_latencies_ms.append(ack_ms)
        self.metrics.order_latency_seconds.labels(self.origin).observe(ack_ms / 1000)
        self.metrics.orders.labels(self.origin, intent.side, intent.action, "accepted").inc()
        self.summary.orders_placed += 1
        self.summary.client_order_ids.append(ack.client_order_id)
        if self.recorder is not None:
            self.recorder.record_order(
                ack,
                event="acknowledged",
                origin=self.origin,
                origin_id=self.inp.epoch_id,
                ticker=intent.ticker,
                side=intent.side,
                action=intent.action,
            )
        filled = ack.fill_count_fp
        if filled > 0:
            self.metrics.fills_contracts.labels(self.origin, intent.side, intent.action).inc(float(filled))
            self.summary.contracts_filled += filled
            if self.fills_from_acks:
                price = ack.average_fill_price_dollars or intent.price_dollars
                yes_price = price if intent.side == "yes" else Decimal(1) - price
                book_side: Literal["bid", "ask"] = "bid" if intent.signed_delta > 0 else "ask"
                before = self.state.positions.get(intent.ticker, Decimal(0))
                fee = taker_fee_dollars(filled, price)
                self.add_cash(fill_cash_delta_dollars(book_side, filled, yes_price, before, fee))
                self.state.positions[intent.ticker] = before + (filled if book_side == "bid" else -filled)
        activity.logger.info(
            "%s order %s: %s %s %s @ %s filled %s",
            self.origin,
            ack.client_order_id,
            intent.action,
            intent.count_contracts,
            intent.side,
            intent.price_dollars,
            filled,
        )

    def add_cash(self, delta_dollars: Decimal) -> None:
        """Add a fill's cash effect (signed dollars) to the free-cash estimate (cents).

        Floored, so the estimate never overstates cash (the reserve check relies on it).
        """
        self.state.balance_cents += int((delta_dollars * 100).to_integral_value(rounding=ROUND_FLOOR))

    def reject(self, reason: str) -> None:
        """Count a pre-trade or exchange rejection by reason."""
        self.rejects[reason] += 1
        self.metrics.pretrade_rejects.labels(reason).inc()

    def error(self, err: BaseException) -> None:
        """Count an exchange error (the circuit breaker trips after ``max_consecutive_errors`` in a row)."""
        self.summary.errors += 1
        self.state.consecutive_errors += 1
        activity.logger.warning("epoch %s: exchange error: %s", self.inp.epoch_id, err)

    def finish(self) -> EpochSummary:
        """The summary: counts, rejects, latency percentiles (update -> order sent; order -> ack)."""
        s = self.summary
        s.ended_at = self.client.exchange_now()
        s.decisions = dict(self.decisions)
        s.rejects = dict(self.rejects)
        s.latency_ms_p50 = percentile(self.latencies_ms, 50)
        s.latency_ms_p99 = percentile(self.latencies_ms, 99)
        s.ack_latency_ms_p50 = percentile(self.ack_latencies_ms, 50)
        s.ack_latency_ms_p99 = percentile(self.ack_latencies_ms, 99)
        s.client_order_ids = s.client_order_ids[-500:]
        if self.recorder is not None:
            self.recorder.record_epoch(s)
        return s


class _PollingEpoch(EpochCore):
    """The REST polling driver: every ``poll_interval_ms`` read every viable market's book at once."""

    async def run(self) -> EpochSummary:
        tickers = sorted(self.close_times)
        if not tickers:
            self.summary.ended_by = "no_markets"
        try:
            while not self.stopping():
                if tickers:
                    await self._poll_once(tickers)
                self.heartbeat()
                if self.stopping():
                    break
                await self.pause(min(self.inp.settings.poll_interval_ms / 1000, self.seconds_left()))
        except asyncio.CancelledError:
            self.summary.ended_by = "cancelled"
            activity.logger.info("epoch %s cancelled by the workflow", self.inp.epoch_id)
        return self.finish()

    async def _poll_once(self, tickers: list[str]) -> None:
        read_at = time.perf_counter()
        try:
            books = await self.client.get_orderbooks(tickers)
        except (KalshiAuthError, KalshiCredentialsError) as err:
            raise to_application_error(err) from err
        except KalshiError as err:
            self.error(err)
            return
        self.state.consecutive_errors = 0
        now = self.client.exchange_now()
        for ticker in tickers:
            book = books.get(ticker)
            if book is None:
                continue
            age_ms = (time.perf_counter() - read_at) * 1000
            await self.decide(ticker, book_top(book), now, read_at, book_age_ms=age_ms)
            if self.state.order_group_triggered:
                return
