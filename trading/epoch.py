"""One trading epoch attempt: fencing, the state rebuilt from the exchange, the decision step, execution.

Two drivers feed one :class:`EpochCore` (:mod:`trading.drivers`): the REST polling epoch (every
``poll_interval_ms`` it reads the order books of the viable markets with one ``GET /markets/orderbooks``) and
the WebSocket actor loop (every order-book update of a traded market). For each update the core asks the
decision step (:mod:`trading.pipeline`: observation -> policy -> pre-trade checks -> order intent) and executes
the intent, carrying the order group id and the client_order_id ``epoch:<epoch key>:<attempt>:<sequence>``
(:mod:`models.ids`): a TAKE intent is an immediate-or-cancel limit order at the touch; a MAKE intent a post-only
good-till-cancelled order at the touch that first cancels the market's own resting order (its outcome known
before the new order is placed); resting orders are cancelled when the epoch ends.

Concurrency (the actor loop): at most one order operation in flight per market, operations of different markets
concurrently (:meth:`EpochCore.submit`), so a decision never waits behind another market's round trip. A market
with an operation in flight is not decided on; its updates are decided on once the operation completed, on the
latest book. Ids are taken synchronously before any await (no two orders share one), every write is followed by a
heartbeat and a lease renewal request, the fence is checked right before each write, and writes in flight when
the epoch ends or is cancelled are awaited (their outcomes known).

Exactly-once under crashes, retries and re-runs (issue 6). Kalshi refuses a client_order_id only while an open
order holds it, so an executed IOC's id is accepted again: idempotency cannot rest on the 409. Instead:

* **Fencing** (:mod:`trading.fencing`): at most one epoch per Kalshi account places orders at any moment: in
  this process a new epoch supersedes the account's earlier one and waits for it; every epoch holds a lease
  renewed by heartbeat RPCs and writes orders only while it is valid.
* **State from the exchange.** Before its first order every attempt reads positions and cash from the exchange,
  not only its input; a retried attempt also lists the orders earlier attempts of the SAME epoch placed (by the
  id prefix ``epoch:<key>:``, since the calibration that scheduled it) and counts them in the summary. Ids carry
  the attempt number, so no two attempts share one and no decision is made twice against stale state: a retry
  decides afresh from what the exchange holds.
* **Writes.** An order write in flight when cancellation arrives is shielded and completes, so no order's
  outcome is left unknown by a cancel; an outcome that stays unknown (timeout) is reported with its ticker for
  the next calibration's lookup.

Degraded mode: the workflow hands the epoch the mode's EFFECTIVE limits (``inp.risk``/``inp.exits``), a
closing-only flag (the pipeline's check) and REST fallbacks (``inp.fallbacks``): fills booked from order
acknowledgements even in the actor loop, positions and cash synced over REST and this epoch's orders polled, every
``refresh_s`` (:meth:`EpochCore.refresh_fallbacks`). The summary carries the epoch's positions at its end, which the
next calibration compares with the exchange's.

The epoch trades until the workflow's ``deadline`` (the same on every attempt), until the workflow cancels it
(pause, stop, recalibrate) or until it is superseded, and returns an :class:`EpochSummary`; when the worker shuts
down it stops trading at once (``ended_by="worker_shutdown"``). No Temporal here: the activity attempt is an
:class:`trading.attempt.Attempt`, and authentication errors leave as :class:`kalshi.errors.KalshiAuthError` /
:class:`kalshi.errors.KalshiCredentialsError` for the activity to map.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, cast

from kalshi.errors import (
    KalshiAuthError,
    KalshiCredentialsError,
    KalshiError,
    KalshiNotFoundError,
    KalshiOutcomeUnknownError,
    KalshiRejectedError,
)
from kalshi.models import CreateOrderRequest, OrderAck
from kalshi.models.common import TimeInForce
from kalshi.rest import KalshiRestClient
from models.ids import epoch_client_order_id, epoch_order_prefix, legacy_epoch_client_order_id
from models.trader import EpochInput, EpochSummary, PendingOrder
from recording.metrics import AppMetrics
from rl.decision import OrderIntent
from trading.attempt import Attempt
from trading.fencing import EpochFence, EpochLease
from trading.live import FeatureStore, LivePolicy, baseline_policy
from trading.pipeline import BookUpdate, Decision, DecisionStep, EpochPipeline

_ORDER_GROUP_CODES = ("order_group_triggered", "ORDER_GROUP_TRIGGERED")
_DETAIL_IDS = 50


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` in [0, 100] of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class EpochCore:
    """The transport-independent part of one epoch attempt: fencing, the pipeline, execution, the summary.

    Drivers feed it order-book updates (:mod:`trading.drivers`: REST polling, the WebSocket actor loop). State
    is per attempt, never shared between epochs. Use it as an async context manager (``async with core:``):
    entering takes the account's fence, starts the lease and rebuilds positions, cash and earlier attempts'
    orders from the exchange; leaving stops the lease and releases the fence. The decision itself is the
    pipeline's (:mod:`trading.pipeline`): :meth:`decide` hands it a book and executes the intent it returns.

    Args:
        client: signed REST client (orders always go over REST).
        metrics: application metrics.
        inp: the epoch input (deadline, markets, limits, the epoch key).
        ctx: the activity attempt running the epoch (:class:`trading.attempt.Attempt`).
        live: the policy to run (:class:`trading.live.LivePolicy`, resolved by the worker's
            :class:`trading.live.PolicyLibrary`); default: the configured baseline, else ``fallback_policy``.
        driver: ``polling`` (REST books; positions and cash from order acknowledgements; metric label
            ``epoch``) or ``actor`` (WebSocket books; positions and cash from the ``fill`` and
            ``market_positions`` channels; label ``actor``).
        recorder: the worker's write-behind recorder (orders, the epoch summary and the workflow's
            record batch are persisted), or None.
        pipeline: the decision step (default: :class:`trading.pipeline.DecisionStep` from ``inp``, ``live`` and the
            driver).
        features: the worker's feature store (a learned policy's observation; the actor loop).
    """

    def __init__(
        self,
        client: KalshiRestClient,
        metrics: AppMetrics,
        inp: EpochInput,
        ctx: Attempt,
        live: LivePolicy | None = None,
        *,
        driver: Literal["polling", "actor"] = "polling",
        recorder: Any | None = None,
        pipeline: EpochPipeline | None = None,
        features: FeatureStore | None = None,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.metrics = metrics
        self.inp = inp
        self.origin = "actor" if driver == "actor" else "epoch"
        self.ctx = ctx
        self.log = ctx.logger
        if live is None:
            name = inp.settings.policy if inp.settings.policy in ("imbalance", "hold") else inp.settings.fallback_policy
            reason = None if name == inp.settings.policy else f"{inp.settings.policy} was not resolved for this epoch"
            live = baseline_policy(name, inp.settings, inp.risk, fallback_reason=reason)
        self.live = live
        # Fills come from order acknowledgements when polling, and in the actor loop while the fill stream is down.
        fills_from_acks = driver == "polling" or (inp.fallbacks is not None and inp.fallbacks.fills_by_order_polling)
        self.pipeline: EpochPipeline = pipeline or DecisionStep(
            inp,
            live,
            fills_from_acks=fills_from_acks,
            max_book_age_ms=inp.settings.max_book_age_ms if driver == "actor" else None,
            features=features,
            own_prefix=epoch_order_prefix(inp.order_key) if inp.order_key else None,
        )
        self.attempt = ctx.number
        self.resumed = ctx.number > 1
        self.sequence = 0
        self.resume_sequence = 0
        self.summary = EpochSummary(
            epoch_id=inp.epoch_id,
            driver=driver,
            started_at=self.client.exchange_now(),
            attempt=ctx.number,
            mode=inp.mode,
            closing_only=inp.closing_only,
        )
        if inp.order_key is None:
            # Legacy ids (a workflow started before run-scoped ids): resume the sequence from the heartbeat.
            details = ctx.heartbeat_details
            resumed = details[0] if details and isinstance(details[0], dict) else {}
            self.sequence = self.resume_sequence = int(resumed.get("sequence", 0))
            self.summary.orders_placed = int(resumed.get("orders_placed", 0))
            self.summary.client_order_ids = list(resumed.get("client_order_ids", []))
        self.decisions: Counter[str] = Counter()
        self.rejects: Counter[str] = Counter()
        self.latencies_ms: list[float] = []
        self.ack_latencies_ms: list[float] = []
        self.close_times = {m.ticker: m.close_time for m in inp.markets}
        self.close_ms = {
            m.ticker: None if m.close_time is None else int(m.close_time.timestamp() * 1000) for m in inp.markets
        }
        self.in_flight: dict[str, asyncio.Task[None]] = {}
        self.fatal: BaseException | None = None
        self.on_market_free: Any = None  # driver's callback(ticker) when a market's operation completes
        self._clock_anchor: tuple[float, float] | None = None
        self.unresolved_intents: dict[str, OrderIntent] = {}  # client_order_id -> intent, outcome unknown
        self.refreshes: Counter[str] = Counter()
        refresh_s = inp.fallbacks.refresh_s if inp.fallbacks is not None else 0.0
        self._next_refresh = time.monotonic() + refresh_s
        self.ready = False
        self.superseded: str | None = None
        self.ended: str | None = None  # end() was called: the ended_by to report
        timeout = ctx.heartbeat_timeout_s or inp.settings.heartbeat_timeout_s
        self.lease = EpochLease(timeout, self._details, ctx.renew if ctx.can_renew else None)
        account = f"{client.base_url}|{client.key_id or '-'}"
        self.fence = EpochFence.for_account(account)
        self._lease_task: asyncio.Task[None] | None = None
        if recorder is not None and inp.record is not None and ctx.number == 1:
            batch = inp.record
            if batch.report is not None:
                recorder.record_calibration(batch.report, workflow_id=batch.workflow_id)
            for transition in batch.transitions:
                recorder.record_status(transition, workflow_id=batch.workflow_id)
            for close in batch.closes:
                recorder.record_close(close)

    # ---------------------------------------------------------------- fencing and state

    async def __aenter__(self) -> EpochCore:
        """Take the fence, start the lease, rebuild from the exchange (see the module docstring).

        Raises:
            KalshiAuthError, KalshiCredentialsError: the exchange refuses the key (the activity maps them to
                non-retryable ``ApplicationError``).
        """
        superseded = await self.fence.acquire(self)
        if superseded is not None:
            self.log.warning(
                "epoch %s (attempt %d) superseded epoch %s in this process",
                self.inp.epoch_id,
                self.attempt,
                superseded.inp.epoch_id,
            )
        try:
            await self.lease.beat()
            self._lease_task = asyncio.ensure_future(self.lease.run())
            await self._rebuild()
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._lease_task is not None:
            self.lease.stop()
            self._lease_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lease_task
        self.fence.release(self)

    def end(self, ended_by: str) -> None:
        """End the epoch at the loop's next check, reporting ``ended_by`` (orders in flight finish first).

        Used by a paced replay (:mod:`workers.pacer`): its actor epoch ends when the exchange clock reaches the
        epoch's start plus the recalibration interval (``duration``, on tape time, so epoch boundaries do not depend
        on the replay's speed), and a REST polling epoch ends before it trades (``no_market_data``). The driver
        waiting for updates is woken by the caller (:meth:`kalshi.ingest.MarketDataHub.wake`).
        """
        self.ended = ended_by
        self.lease.changed.set()

    def supersede(self, why: str) -> None:
        """Stop placing orders now: a newer epoch of the account takes over (called by the fence)."""
        self.superseded = why

    async def _rebuild(self) -> None:
        """Read positions and cash (and, on a retry, this epoch's earlier orders) from the exchange.

        Retries read errors every second (each counts toward the circuit breaker) until it succeeds
        or the epoch must stop; the epoch places no order before it has succeeded.
        """
        while not self.stopping():
            try:
                positions = await self.client.get_positions()
                balance = await self.client.get_balance()
                earlier = await self._earlier_orders() if self.resumed and self.inp.order_key else []
            except (KalshiAuthError, KalshiCredentialsError):
                raise
            except KalshiError as err:
                self.error(err)
                await self.pause(1.0)
                continue
            held = [p for p in positions if p.position_fp != 0]
            self.pipeline.reset(
                {p.ticker: p.position_fp for p in held},
                balance.balance_cents,
                {p.ticker: p.market_exposure_dollars for p in held},
            )
            self.anchor_clock()
            for order in earlier:
                self.summary.orders_placed += 1
                self.summary.client_order_ids.append(order.client_order_id or "")
                if order.fill_count_fp > 0:
                    self.summary.contracts_filled += order.fill_count_fp
                    self._filled(order.ticker)
            if earlier:
                self.log.info(
                    "epoch %s attempt %d: %d orders of earlier attempts found at the exchange",
                    self.inp.epoch_id,
                    self.attempt,
                    len(earlier),
                )
            self.ready = True
            return

    async def _earlier_orders(self) -> list[Any]:
        """Orders of this epoch (any attempt) at the exchange, oldest first, found by the id prefix."""
        assert self.inp.order_key is not None
        prefix = epoch_order_prefix(self.inp.order_key)
        since = self.inp.exchange_start
        min_ts = int(since.timestamp()) - 1 if since is not None else None
        orders = await self.client.get_orders(min_ts=min_ts)
        mine = [o for o in orders if (o.client_order_id or "").startswith(prefix)]
        return list(reversed(mine))

    def _details(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "sequence": self.sequence,
            "orders_placed": self.summary.orders_placed,
            "client_order_ids": self.summary.client_order_ids[-_DETAIL_IDS:],
        }

    # ---------------------------------------------------------------- loop plumbing

    def stopping(self) -> bool:
        """Whether the epoch must end now (deadline, shutdown, superseded, cancelled, breaker, order group)."""
        if self.ctx.shutting_down():
            self.summary.ended_by = "worker_shutdown"
            return True
        if self.superseded is not None or self.lease.lost is not None:
            self.summary.ended_by = "superseded"
            return True
        if self.lease.cancel_requested:
            self.summary.ended_by = "cancelled"
            return True
        if self.pipeline.consecutive_errors >= self.inp.settings.max_consecutive_errors:
            self.summary.ended_by = "circuit_breaker"
            return True
        if self.pipeline.order_group_triggered:
            self.summary.ended_by = "order_group_triggered"
            return True
        if self.ended is not None:
            self.summary.ended_by = self.ended
            return True
        return datetime.now(UTC) >= self.inp.deadline

    def may_trade(self) -> bool:
        """Whether an order may be written now: state rebuilt, lease valid, not superseded."""
        return self.ready and self.superseded is None and self.lease.valid()

    async def pause(self, seconds: float) -> None:
        """Sleep ``seconds``, waking early when the worker shuts down or the lease changes state."""
        waits = [
            asyncio.ensure_future(self.ctx.wait_for_shutdown()),
            asyncio.ensure_future(self.lease.changed.wait()),
        ]
        try:
            await asyncio.wait(waits, timeout=max(seconds, 0.0), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    def seconds_left(self) -> float:
        """Seconds until the deadline (>= 0)."""
        return max(0.0, (self.inp.deadline - datetime.now(UTC)).total_seconds())

    def heartbeat(self) -> None:
        """Heartbeat the progress through the SDK (throttled by the SDK; delivers cancellation)."""
        self.ctx.heartbeat(self._details())

    def heartbeat_after_write(self) -> None:
        """After every order write: heartbeat the progress and renew the lease soon (rate-limited)."""
        self.ctx.heartbeat(self._details())
        self.lease.beat_soon()

    # ---------------------------------------------------------------- pipeline

    def anchor_clock(self) -> None:
        """Anchor :meth:`exchange_ms` to the REST client's exchange-clock estimate now (called after the rebuild)."""
        self._clock_anchor = (self.client.exchange_now().timestamp() * 1000, time.monotonic() * 1000)

    def exchange_ms(self) -> int:
        """The exchange clock in ms for the REST polling epoch: the estimate at the anchor plus monotonic time since.

        One smooth clock per attempt (the ``Date``-header estimate jumps by up to a second between responses, which
        would bend the per-market throttle). The actor loop uses the frames' exchange time instead.
        """
        if self._clock_anchor is None:
            self.anchor_clock()
        assert self._clock_anchor is not None
        exchange, mono = self._clock_anchor
        return int(exchange + time.monotonic() * 1000 - mono)

    def decide(self, update: BookUpdate) -> Decision | None:
        """Run the decision step on one order-book update and count what it decided (nothing is sent here).

        Returns:
            The decision (an intent that passed every pre-trade check, a reject, or HOLD), or None when the update
            is not a decision point (inside the policy's decision interval).
        """
        return self.decide_many((update,))[0]

    def decide_many(self, updates: Sequence[BookUpdate]) -> list[Decision | None]:
        """:meth:`decide` on several markets' updates at once, counted as :meth:`decide` counts.

        The actor loop's batch: one forward pass of a learned policy for all of them
        (:meth:`trading.pipeline.DecisionStep.decide_many`).

        Returns:
            One entry per update, in order: its decision, or None when it is not a decision point.
        """
        self.summary.updates_seen += len(updates)
        self.metrics.epoch_updates.inc(len(updates))
        decisions = self.pipeline.decide_many(updates)
        for decision in decisions:
            if decision is None:
                continue
            self.decisions[decision.action] += 1
            self.metrics.decisions.labels(self.live.name, decision.action).inc()
            if decision.reject is not None:
                self.reject(decision.reject)
        return decisions

    async def decide_and_execute(self, update: BookUpdate, received_at: float) -> None:
        """:meth:`decide`, then execute the intent inline (the REST polling epoch: one market at a time)."""
        decision = self.decide(update)
        if decision is not None and decision.intent is not None:
            if not self.may_trade():
                self.reject("fenced")
                return
            await self.execute(decision.intent, received_at, decision.now_ms)

    def submit(self, intent: OrderIntent, received_at: float, now_ms: int) -> bool:
        """Start executing ``intent`` concurrently (the actor loop); at most one operation in flight per market.

        Returns:
            False when not started: the market already has an operation in flight, or the fence refuses
            (``rejects["fenced"]``).
        """
        ticker = intent.ticker
        if ticker in self.in_flight:
            return False
        if not self.may_trade():
            self.reject("fenced")
            return False
        task = asyncio.ensure_future(self.execute(intent, received_at, now_ms, own_task=True))
        self.in_flight[ticker] = task
        task.add_done_callback(functools.partial(self._operation_done, ticker))
        return True

    def _operation_done(self, ticker: str, task: asyncio.Task[None]) -> None:
        if self.in_flight.get(ticker) is task:
            del self.in_flight[ticker]
        if not task.cancelled():
            err = task.exception()
            if err is not None and self.fatal is None:
                self.fatal = err  # an authentication error (everything else is counted inside execute)
        if self.on_market_free is not None:
            self.on_market_free(ticker)

    async def drain(self) -> None:
        """Wait for every operation in flight (their outcomes must be known before the summary).

        Never cancels them: a cancellation that arrives meanwhile is held until they are done, then re-raised (an
        order write is never interrupted, which is what lets an operation's task run its write itself, see
        :meth:`execute`).
        """
        cancelled = False
        while self.in_flight:
            try:
                await asyncio.wait(list(self.in_flight.values()))
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError

    def raise_if_failed(self) -> None:
        """Re-raise an authentication error an operation in flight hit (the activity maps it)."""
        if self.fatal is not None:
            err, self.fatal = self.fatal, None
            raise err

    async def execute(self, intent: OrderIntent, received_at: float, now_ms: int, *, own_task: bool = False) -> None:
        """Execute one intent: cancel the order it replaces (MAKE), then place it (see the module docstring).

        Args:
            intent: the checked intent.
            received_at: when the book update it decides on was received (``perf_counter`` s).
            now_ms: the decision's exchange time, ms.
            own_task: this call is an operation's own task (:meth:`submit`), which nothing cancels (:meth:`drain`
                waits without cancelling): the writes run in it directly. Otherwise (the REST polling epoch, inline
                in the activity) each write runs in a task of its own, shielded, so that a cancellation of the
                activity never interrupts a write whose outcome must be known.

        Raises:
            KalshiAuthError, KalshiCredentialsError: the exchange refuses the key.
        """
        if intent.replaces is not None and not await self._cancel(intent.ticker, intent.replaces, own_task=own_task):
            return
        if not self.may_trade():
            self.reject("fenced")
            return
        self.pipeline.order_sent(intent, now_ms)
        await self._place(intent, received_at, now_ms, own_task=own_task)

    async def _cancel(self, ticker: str, order_id: str, *, fenced: bool = True, own_task: bool = False) -> bool:
        """Cancel our resting order ``order_id``; True when it is gone (cancelled now, or already done).

        ``fenced=False`` cancels even without the lease: cancelling our own order never adds exposure (the epoch's
        end, so no resting order outlives it even when the epoch was superseded).
        """
        if fenced and not self.may_trade():
            self.reject("fenced")
            return False
        write = self.client.cancel_order(order_id, ticker=ticker, reread=False)
        cancelling = write if own_task else asyncio.ensure_future(write)
        try:
            await (cancelling if own_task else asyncio.shield(cancelling))
        except asyncio.CancelledError:
            if not own_task:
                with contextlib.suppress(KalshiError):
                    await cancelling
                    self.pipeline.order_done(ticker, order_id)
            raise
        except (KalshiAuthError, KalshiCredentialsError):
            raise
        except (KalshiNotFoundError, KalshiRejectedError):
            pass  # already executed, cancelled or swept: gone either way
        except KalshiError as err:
            self.error(err)
            self.heartbeat_after_write()
            return False
        self.pipeline.exchange_ok()
        self.pipeline.order_done(ticker, order_id)
        self.heartbeat_after_write()
        return True

    async def cancel_resting(self) -> None:
        """Cancel every resting order of this epoch (MAKE orders never outlive their epoch)."""
        portfolio = getattr(self.pipeline, "portfolio", None)
        if portfolio is None:
            return
        for ticker, state in list(portfolio.markets.items()):
            if state.resting is not None:
                try:
                    await self._cancel(ticker, state.resting.order_id, fenced=False)
                except KalshiError as err:
                    self.log.warning("epoch %s: resting order %s not cancelled: %s", self.inp.epoch_id, ticker, err)

    def _next_client_order_id(self) -> tuple[str, bool]:
        """The next order's id, and whether to look it up before sending (legacy retries only)."""
        self.sequence += 1
        if self.inp.order_key is not None:
            return epoch_client_order_id(self.inp.order_key, self.attempt, self.sequence), False
        # Legacy: the orders right after the resumed sequence may already exist (even executed, which
        # Kalshi's 409 does not cover): look them up before sending.
        lookup_first = self.resumed and self.sequence <= self.resume_sequence + len(self.close_times) + 1
        return legacy_epoch_client_order_id(self.inp.epoch_id, self.sequence), lookup_first

    async def _place(self, intent: OrderIntent, received_at: float, now_ms: int, *, own_task: bool = False) -> None:
        client_order_id, lookup_first = self._next_client_order_id()
        request = CreateOrderRequest(
            ticker=intent.ticker,
            side=intent.side,
            action=intent.action,
            count_fp=intent.count_contracts,
            price_dollars=intent.price_dollars,
            client_order_id=client_order_id,
            time_in_force=cast(TimeInForce, intent.time_in_force),
            post_only=intent.post_only,
            reduce_only=intent.reduce_only,
            order_group_id=self.inp.order_group_id,
        )
        sent_at = time.perf_counter()
        self.latencies_ms.append((sent_at - received_at) * 1000)
        self.metrics.decision_latency_seconds.labels(self.origin).observe(sent_at - received_at)
        write = self.client.create_order(request, lookup_first=lookup_first)
        # A write in flight must finish even if the workflow cancels us: its outcome must be known. An operation's
        # own task is never cancelled (see execute): the write runs in it, one event-loop turn sooner; otherwise it
        # runs in a shielded task of its own.
        placing = None if own_task else asyncio.ensure_future(write)
        try:
            ack = await (write if placing is None else asyncio.shield(placing))
        except asyncio.CancelledError:
            if placing is None:  # the event loop itself is going away: the outcome is unknown
                self._unresolved(client_order_id, intent)
                raise
            late = await self._finish_in_flight(placing, intent, client_order_id)
            if late is not None:
                self._accepted(intent, late, sent_at, now_ms)
            raise
        except KalshiError as err:
            self._place_failed(intent, request, client_order_id, err)
            return
        self._accepted(intent, ack, sent_at, now_ms)
        self.heartbeat_after_write()

    def _place_failed(
        self, intent: OrderIntent, request: CreateOrderRequest, client_order_id: str, err: KalshiError
    ) -> None:
        """Count an order the exchange refused or whose outcome is unknown (then it is resolved later by its id).

        Raises:
            KalshiAuthError, KalshiCredentialsError: ``err`` itself (the key is refused: the activity maps it).
        """
        if isinstance(err, KalshiAuthError | KalshiCredentialsError):
            raise err
        if isinstance(err, KalshiRejectedError):
            code = err.code or "rejected"
            self.metrics.orders.labels(self.origin, intent.side, intent.action, "rejected").inc()
            self.reject(f"exchange:{code}")
            if self.recorder is not None:
                self.recorder.record_order(
                    request, event="rejected", origin=self.origin, origin_id=self.inp.epoch_id, detail=str(err)
                )
            if code in _ORDER_GROUP_CODES:
                self.pipeline.order_group_triggered = True
        else:
            self.metrics.orders.labels(self.origin, intent.side, intent.action, "error").inc()
            if isinstance(err, KalshiOutcomeUnknownError):
                self._unresolved(client_order_id, intent)
            self.error(err)
        self.heartbeat_after_write()

    def _unresolved(self, client_order_id: str, intent: OrderIntent) -> None:
        self.summary.unresolved_client_order_ids.append(client_order_id)
        self.summary.unresolved_orders.append(PendingOrder(client_order_id=client_order_id, ticker=intent.ticker))
        self.unresolved_intents[client_order_id] = intent

    # ---------------------------------------------------------------- degraded mode: REST fallbacks

    async def refresh_fallbacks(self) -> None:
        """Refresh the REST fallbacks of ``inp.fallbacks`` when ``refresh_s`` has passed since the last time.

        Called by the drivers between updates (never while an order is in flight, so a read cannot overtake an
        acknowledgement). Positions by REST sync: positions and cash are read from the exchange and replace the
        pipeline's (``reset``). Fills by order-status polling: this epoch's orders are listed by their id prefix
        and every order whose outcome was unknown that did reach the exchange is counted and its fills booked.
        A read error counts toward the circuit breaker and is retried at the next refresh.

        Raises:
            KalshiAuthError, KalshiCredentialsError: the exchange refuses the key.
        """
        fallbacks = self.inp.fallbacks
        if fallbacks is None or not fallbacks.any or not self.ready or time.monotonic() < self._next_refresh:
            return
        if self.in_flight:
            return  # a read must not overtake an acknowledgement: the next call, once the markets are free
        self._next_refresh = time.monotonic() + fallbacks.refresh_s
        try:
            if fallbacks.fills_by_order_polling and self.inp.order_key is not None:
                await self._poll_order_status()
                self._refreshed("fills_order_status_polling")
            if fallbacks.positions_by_rest_sync:
                positions = await self.client.get_positions()
                balance = await self.client.get_balance()
                held = [p for p in positions if p.position_fp != 0]
                self.pipeline.sync(
                    {p.ticker: p.position_fp for p in held},
                    balance.balance_cents,
                    {p.ticker: p.market_exposure_dollars for p in held},
                )
                self._refreshed("positions_rest_sync")
        except (KalshiAuthError, KalshiCredentialsError):
            raise
        except KalshiError as err:
            self.error(err)

    def _refreshed(self, fallback: str) -> None:
        self.refreshes[fallback] += 1
        self.metrics.fallback_refreshes.labels(fallback).inc()

    async def _poll_order_status(self) -> None:
        """Resolve this epoch's orders of unknown outcome from the exchange's order list (fills booked once)."""
        if not self.unresolved_intents:
            return
        for order in await self._earlier_orders():
            cid = order.client_order_id or ""
            intent = self.unresolved_intents.pop(cid, None)
            if intent is None:
                continue
            self.summary.unresolved_client_order_ids.remove(cid)
            self.summary.unresolved_orders = [p for p in self.summary.unresolved_orders if p.client_order_id != cid]
            ack = OrderAck.from_order(order, already_existed=True)
            self.summary.orders_placed += 1
            self.summary.client_order_ids.append(cid)
            if ack.fill_count_fp > 0:
                self.summary.contracts_filled += ack.fill_count_fp
                self._filled(intent.ticker)
            self.pipeline.acknowledged(intent, ack, self.exchange_ms())
            self.log.info(
                "epoch %s: order %s of unknown outcome found: filled %s", self.inp.epoch_id, cid, ack.fill_count_fp
            )

    async def _finish_in_flight(
        self, placing: asyncio.Future[OrderAck], intent: OrderIntent, client_order_id: str
    ) -> OrderAck | None:
        try:
            return await placing
        except KalshiError as err:
            if isinstance(err, KalshiOutcomeUnknownError):
                self._unresolved(client_order_id, intent)
            self.log.warning("in-flight order %s at cancel: %s", client_order_id, err)
            return None

    def _filled(self, ticker: str) -> None:
        if ticker not in self.summary.filled_tickers:
            self.summary.filled_tickers.append(ticker)

    def _accepted(self, intent: OrderIntent, ack: OrderAck, sent_at: float, now_ms: int) -> None:
        self.pipeline.exchange_ok()
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
            self._filled(intent.ticker)
        self.pipeline.acknowledged(intent, ack, now_ms)
        self.log.info(
            "%s order %s: %s %s %s @ %s (%s) filled %s",
            self.origin,
            ack.client_order_id,
            intent.action,
            intent.count_contracts,
            intent.side,
            intent.price_dollars,
            intent.action_name,
            filled,
        )

    def reject(self, reason: str) -> None:
        """Count a pre-trade or exchange rejection by reason."""
        self.rejects[reason] += 1
        self.metrics.pretrade_rejects.labels(reason).inc()

    def error(self, err: BaseException) -> None:
        """Count an exchange error (the circuit breaker trips after ``max_consecutive_errors`` in a row)."""
        self.summary.errors += 1
        self.pipeline.exchange_error()
        self.log.warning("epoch %s: exchange error: %s", self.inp.epoch_id, err)

    def finish(self) -> EpochSummary:
        """The summary: counts, rejects, latency percentiles (update -> order sent; order -> ack)."""
        s = self.summary
        if self.superseded is not None or self.lease.lost is not None:
            s.ended_by = "superseded"
        s.ended_at = self.client.exchange_now()
        s.decisions = dict(self.decisions)
        s.rejects = dict(self.rejects)
        s.latency_ms_p50 = percentile(self.latencies_ms, 50)
        s.latency_ms_p99 = percentile(self.latencies_ms, 99)
        s.ack_latency_ms_p50 = percentile(self.ack_latencies_ms, 50)
        s.ack_latency_ms_p99 = percentile(self.ack_latencies_ms, 99)
        s.client_order_ids = s.client_order_ids[-500:]
        s.policy = self.live.info
        step = self.pipeline
        if isinstance(step, DecisionStep):
            s.forced_holds = step.forced_holds
            s.updates_skipped = step.skipped
            s.inference_ms_p50 = percentile(step.inference_ms, 50)
            s.inference_ms_p99 = percentile(step.inference_ms, 99)
            s.fees_dollars = Decimal(step.fees_micro).scaleb(-6)
            s.realized_pnl_by_ticker = {t: Decimal(v).scaleb(-6) for t, v in sorted(step.realized_micro.items())}
            s.realized_pnl_dollars = sum(s.realized_pnl_by_ticker.values(), Decimal(0))
            for ms in step.inference_ms:
                self.metrics.inference_seconds.labels(self.live.name).observe(ms / 1000)
        s.fallback_refreshes = dict(self.refreshes)
        if self.ready:
            held = self.pipeline.positions
            s.positions = {t: held.get(t, Decimal(0)) for t in sorted(self.close_times)}
        if self.recorder is not None:
            self.recorder.record_epoch(s)
        return s
