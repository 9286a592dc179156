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

from temporalio import activity

from activities.kalshi_activities import book_top, to_application_error
from activities.metrics import AppMetrics
from kalshi.errors import (
    KalshiAuthError,
    KalshiCredentialsError,
    KalshiError,
    KalshiOutcomeUnknownError,
    KalshiRejectedError,
)
from kalshi.rest import KalshiRestClient
from models.kalshi import CreateOrderRequest, OrderAck
from models.money import taker_fee_dollars
from models.trader import EpochInput, EpochSummary, TradeAction
from rl.policy import HoldPolicy, ImbalancePolicy, Policy, build_observation
from rl.pretrade import OrderIntent, PretradeState, check, intent_for
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
    """

    def __init__(self, client: KalshiRestClient, metrics: AppMetrics, policy: Policy | None = None) -> None:
        self.client = client
        self.metrics = metrics
        self.policy = policy

    @activity.defn(name=RUN_TRADING_EPOCH)
    async def run_trading_epoch(self, inp: EpochInput) -> EpochSummary:
        """Trade the viable markets until ``inp.deadline`` or cancellation; return what happened.

        Raises:
            ApplicationError: non-retryable ``KalshiAuthError`` on bad credentials. Every other
                exchange error is counted; ``max_consecutive_errors`` in a row end the epoch early
                (``ended_by="circuit_breaker"``).
        """
        epoch = _Epoch(self, inp)
        return await epoch.run()


class _Epoch:
    """State of one epoch attempt (kept out of the activity object so epochs never share state)."""

    def __init__(self, owner: TradingEpochActivities, inp: EpochInput) -> None:
        self.client = owner.client
        self.metrics = owner.metrics
        self.inp = inp
        self.policy: Policy = owner.policy or (
            HoldPolicy()
            if inp.settings.policy == "hold"
            else ImbalancePolicy(inp.settings.imbalance_threshold, inp.risk.max_spread_dollars)
        )
        details = activity.info().heartbeat_details
        resumed = details[0] if details and isinstance(details[0], dict) else {}
        self.sequence: int = int(resumed.get("sequence", 0))
        self.resumed = activity.info().attempt > 1
        self.resume_sequence = self.sequence
        self.summary = EpochSummary(epoch_id=inp.epoch_id, started_at=self.client.exchange_now())
        if resumed:
            self.summary.orders_placed = int(resumed.get("orders_placed", 0))
            self.summary.client_order_ids = list(resumed.get("client_order_ids", []))
        self.decisions: Counter[str] = Counter()
        self.rejects: Counter[str] = Counter()
        self.latencies_ms: list[float] = []
        self.state = PretradeState(positions=dict(inp.positions), balance_cents=inp.balance_cents)
        self.close_times = {m.ticker: m.close_time for m in inp.markets}

    async def run(self) -> EpochSummary:
        tickers = sorted(self.close_times)
        if not tickers:
            self.summary.ended_by = "no_markets"
        try:
            while tickers and not self._past_deadline() and not self._shutting_down():
                await self._poll_once(tickers)
                if self.state.consecutive_errors >= self.inp.settings.max_consecutive_errors:
                    self.summary.ended_by = "circuit_breaker"
                    break
                if self.state.order_group_triggered:
                    self.summary.ended_by = "order_group_triggered"
                    break
                self._heartbeat()
                await self._pause(self._sleep_s())
            if not tickers:
                # Nothing to trade: wait out the epoch while heartbeating, so the cycle keeps its pace.
                while not self._past_deadline() and not self._shutting_down():
                    self._heartbeat()
                    await self._pause(min(self._sleep_s(), 1.0))
        except asyncio.CancelledError:
            self.summary.ended_by = "cancelled"
            activity.logger.info("epoch %s cancelled by the workflow", self.inp.epoch_id)
        return self._finish()

    def _shutting_down(self) -> bool:
        """The worker is shutting down: stop placing orders at once and hand the epoch back."""
        if activity.is_worker_shutdown():
            self.summary.ended_by = "worker_shutdown"
            return True
        return False

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, waking early when the worker starts shutting down."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(activity.wait_for_worker_shutdown(), timeout=seconds)

    def _past_deadline(self) -> bool:
        return datetime.now(UTC) >= self.inp.deadline

    def _sleep_s(self) -> float:
        remaining = (self.inp.deadline - datetime.now(UTC)).total_seconds()
        return max(0.0, min(self.inp.settings.poll_interval_ms / 1000, remaining))

    def _heartbeat(self) -> None:
        activity.heartbeat(
            {
                "sequence": self.sequence,
                "orders_placed": self.summary.orders_placed,
                "client_order_ids": self.summary.client_order_ids[-200:],
            }
        )

    async def _poll_once(self, tickers: list[str]) -> None:
        read_at = time.monotonic()
        try:
            books = await self.client.get_orderbooks(tickers)
        except (KalshiAuthError, KalshiCredentialsError) as err:
            raise to_application_error(err) from err
        except KalshiError as err:
            self._error(err)
            return
        self.state.consecutive_errors = 0
        now = self.client.exchange_now()
        for ticker in tickers:
            book = books.get(ticker)
            if book is None:
                continue
            self.summary.updates_seen += 1
            self.metrics.epoch_updates.inc()
            close_time = self.close_times.get(ticker)
            obs = build_observation(
                ticker,
                book_top(book),
                self.state.positions.get(ticker, Decimal(0)),
                self.state.balance_cents,
                (close_time - now).total_seconds() if close_time else None,
                book_age_ms=(time.monotonic() - read_at) * 1000,
            )
            action = self.policy.select_action(obs)
            self.decisions[action.value] += 1
            self.metrics.decisions.labels(action.value).inc()
            if action == TradeAction.HOLD:
                continue
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
                )
            )
            if reason is not None or intent is None:
                self._reject(reason or "no_liquidity")
                continue
            await self._execute(intent, decided_at=time.perf_counter())
            if self.state.order_group_triggered:
                return

    async def _execute(self, intent: OrderIntent, decided_at: float) -> None:
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
        # A write in flight must finish even if the workflow cancels us: its outcome must be known.
        # On a retried attempt the orders right after the resumed sequence may already exist (even
        # executed, which Kalshi's 409 does not cover): look them up before sending.
        lookup_first = self.resumed and self.sequence <= self.resume_sequence + len(self.close_times) + 1
        placing = asyncio.ensure_future(self.client.create_order(request, lookup_first=lookup_first))
        try:
            ack = await asyncio.shield(placing)
        except asyncio.CancelledError:
            late = await self._finish_in_flight(placing, client_order_id)
            if late is not None:
                self._apply_fill(intent, late, decided_at)
            raise
        except (KalshiAuthError, KalshiCredentialsError) as err:
            raise to_application_error(err) from err
        except KalshiRejectedError as err:
            code = err.code or "rejected"
            self.metrics.orders.labels("epoch", intent.side, intent.action, "rejected").inc()
            self._reject(f"exchange:{code}")
            if code in _ORDER_GROUP_CODES:
                self.state.order_group_triggered = True
            return
        except KalshiOutcomeUnknownError as err:
            self.summary.unresolved_client_order_ids.append(client_order_id)
            self._error(err)
            return
        except KalshiError as err:
            self._error(err)
            return
        self._apply_fill(intent, ack, decided_at)

    async def _finish_in_flight(self, placing: asyncio.Future[OrderAck], client_order_id: str) -> OrderAck | None:
        try:
            return await placing
        except KalshiError as err:
            if isinstance(err, KalshiOutcomeUnknownError):
                self.summary.unresolved_client_order_ids.append(client_order_id)
            activity.logger.warning("in-flight order %s at cancel: %s", client_order_id, err)
            return None

    def _apply_fill(self, intent: OrderIntent, ack: OrderAck, decided_at: float) -> None:
        self.state.consecutive_errors = 0
        latency_ms = (time.perf_counter() - decided_at) * 1000
        self.latencies_ms.append(latency_ms)
        self.metrics.order_latency_seconds.labels("epoch").observe(latency_ms / 1000)
        self.metrics.orders.labels("epoch", intent.side, intent.action, "accepted").inc()
        self.summary.orders_placed += 1
        self.summary.client_order_ids.append(ack.client_order_id)
        filled = ack.fill_count_fp
        if filled <= 0:
            return
        self.summary.contracts_filled += filled
        price = ack.average_fill_price_dollars or intent.price_dollars
        sign = 1 if intent.signed_delta > 0 else -1
        self.state.positions[intent.ticker] = self.state.positions.get(intent.ticker, Decimal(0)) + filled * sign
        cash = filled * price
        fee = taker_fee_dollars(filled, price)
        # Floor: never believe in more free cash than there is (the reserve check relies on it).
        delta = ((-cash if intent.action == "buy" else cash) - fee) * 100
        self.state.balance_cents += int(delta.to_integral_value(rounding=ROUND_FLOOR))
        activity.logger.info(
            "epoch order %s: %s %s %s @ %s filled %s",
            ack.client_order_id,
            intent.action,
            intent.count_contracts,
            intent.side,
            intent.price_dollars,
            filled,
        )

    def _reject(self, reason: str) -> None:
        self.rejects[reason] += 1
        self.metrics.pretrade_rejects.labels(reason).inc()

    def _error(self, err: BaseException) -> None:
        self.summary.errors += 1
        self.state.consecutive_errors += 1
        activity.logger.warning("epoch %s: exchange error: %s", self.inp.epoch_id, err)

    def _finish(self) -> EpochSummary:
        s = self.summary
        s.ended_at = self.client.exchange_now()
        s.decisions = dict(self.decisions)
        s.rejects = dict(self.rejects)
        s.latency_ms_p50 = percentile(self.latencies_ms, 50)
        s.latency_ms_p99 = percentile(self.latencies_ms, 99)
        s.client_order_ids = s.client_order_ids[-500:]
        return s
