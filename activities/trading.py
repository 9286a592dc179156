"""The trading epoch: a long-running, heartbeating activity that trades between recalibrations.

Two drivers feed one :class:`EpochCore`: the REST polling epoch below (every ``poll_interval_ms`` it
reads the order books of the viable markets with one ``GET /markets/orderbooks``) and the WebSocket
actor loop (:mod:`activities.market_data`). For each order-book update the core runs the pipeline:

``build_observation`` (book + position + cash + time to close) -> ``select_action`` (the
documented baseline :class:`rl.policy.ImbalancePolicy`) -> pre-trade checks (:mod:`rl.pretrade`) ->
execute: an immediate-or-cancel limit order priced to cross, carrying the order group id and the
client_order_id ``epoch:<epoch key>:<attempt>:<sequence>`` (:mod:`models.ids`).

Exactly-once under crashes, retries and re-runs (issue 6). Kalshi refuses a client_order_id only while
an open order holds it, so an executed IOC's id is accepted again: idempotency cannot rest on the 409.
Instead:

* **Fencing.** At most one epoch per Kalshi account places orders at any moment.
  (1) In this process, a new epoch cancels and waits for any earlier epoch of the same account
  (:class:`EpochFence`) before it reads the exchange, so an in-flight write of the old one lands first.
  (2) Every epoch holds a lease (:class:`EpochLease`): it heartbeats the server by RPC
  (``RecordActivityTaskHeartbeat`` with its task token) every fifth of the heartbeat timeout and right
  after every order write; each acknowledged heartbeat sent at ``t`` makes the lease valid until
  ``t + heartbeat_timeout / 2``. The server times an attempt out only ``heartbeat_timeout`` after the
  last heartbeat it recorded, so a zombie attempt (server restart, terminate, network partition) stops
  writing orders at least half a heartbeat timeout before any retry can start; an answer that the
  attempt is gone (NOT_FOUND: timed out, terminated, reset) ends it at once.
* **State from the exchange.** Before its first order every attempt reads positions and cash from the
  exchange, not only its input; a retried attempt also lists the orders earlier attempts of the SAME
  epoch placed (by the id prefix ``epoch:<key>:``, since the calibration that scheduled it) and counts
  them in the summary. Ids carry the attempt number, so no two attempts share one and no decision is
  made twice against stale state: a retry decides afresh from what the exchange holds.
* **Writes.** An order write in flight when cancellation arrives is shielded and completes, so no
  order's outcome is left unknown by a cancel; an outcome that stays unknown (timeout) is reported with
  its ticker for the next calibration's lookup.

The epoch trades until the workflow's ``deadline`` (the same on every attempt), until the workflow
cancels it (pause, stop, recalibrate) or until it is superseded, and returns an :class:`EpochSummary`;
when the worker shuts down it stops trading at once (``ended_by="worker_shutdown"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any, ClassVar, Literal

from temporalio import activity
from temporalio.client import AsyncActivityCancelledError, AsyncActivityHandle
from temporalio.service import RPCError, RPCStatusCode

from activities.errors import to_application_error
from kalshi.convert import book_top
from kalshi.errors import (
    KalshiAuthError,
    KalshiCredentialsError,
    KalshiError,
    KalshiOutcomeUnknownError,
    KalshiRejectedError,
)
from kalshi.models import CreateOrderRequest, OrderAck
from kalshi.rest import KalshiRestClient
from models.ids import epoch_client_order_id, epoch_order_prefix, legacy_epoch_client_order_id
from models.money import taker_fee_dollars
from models.trader import BookTop, EpochInput, EpochSummary, PendingOrder, TradeAction
from recording.metrics import AppMetrics
from rl.policy import HoldPolicy, ImbalancePolicy, Policy, build_observation
from rl.pretrade import OrderIntent, PretradeState, check, fill_cash_delta_dollars, intent_for
from workflows.names import RUN_TRADING_EPOCH

log = logging.getLogger(__name__)

_ORDER_GROUP_CODES = ("order_group_triggered", "ORDER_GROUP_TRIGGERED")
_DETAIL_IDS = 50


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` in [0, 100] of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class StreamedPositions:
    """Positions for pre-trade checks when fills arrive as WebSocket frames (the actor loop).

    Each position is what the exchange last said (REST at the epoch's start, then ``market_positions``
    and ``fill`` frames) plus the fills this epoch's order acknowledgements reported that no ``fill``
    frame has confirmed yet. Frames arrive asynchronously (before or after the ack), so without the
    unconfirmed part a burst of updates would be decided on a position that lags the exchange and could
    cross ``max_position_contracts``; until a frame confirms it the fill counts once, afterwards once.
    A position frame that already includes an unconfirmed fill counts it twice for a moment: the error
    is on the safe side (the limit binds early), never late.

    Args:
        positions: the dict the pre-trade checks read (``PretradeState.positions``), kept up to date;
            its values at construction are the starting positions (signed contracts).
    """

    def __init__(self, positions: dict[str, Decimal]) -> None:
        self.positions = positions
        self._exchange = dict(positions)
        self._unconfirmed: dict[str, tuple[str, Decimal]] = {}  # order id -> (ticker, signed contracts)
        self._early: dict[str, Decimal] = {}  # order id -> contracts confirmed before its ack arrived

    def acknowledged(self, ticker: str, order_id: str, signed_contracts: Decimal) -> None:
        """An order ack reported ``signed_contracts`` filled (+ YES / - NO)."""
        early = self._early.pop(order_id, Decimal(0))
        remaining = abs(signed_contracts) - early
        if remaining > 0:
            self._unconfirmed[order_id] = (ticker, remaining if signed_contracts > 0 else -remaining)
        self._refresh(ticker)

    def position(self, ticker: str, signed_contracts: Decimal) -> None:
        """The exchange reported the position in ``ticker``."""
        self._exchange[ticker] = signed_contracts
        self._refresh(ticker)

    def fill(self, ticker: str, order_id: str, contracts: Decimal) -> None:
        """A ``fill`` frame confirmed ``contracts`` of ``order_id``."""
        entry = self._unconfirmed.get(order_id)
        if entry is None:
            self._early[order_id] = self._early.get(order_id, Decimal(0)) + contracts
            return
        left = abs(entry[1]) - contracts
        if left > 0:
            self._unconfirmed[order_id] = (ticker, left if entry[1] > 0 else -left)
        else:
            del self._unconfirmed[order_id]
        self._refresh(ticker)

    def _refresh(self, ticker: str) -> None:
        pending = sum((d for t, d in self._unconfirmed.values() if t == ticker), Decimal(0))
        self.positions[ticker] = self._exchange.get(ticker, Decimal(0)) + pending


class EpochLease:
    """Proof, renewed by heartbeat RPCs, that the Temporal server still runs this activity attempt.

    ``valid()`` is True while the last acknowledged heartbeat was SENT less than ``heartbeat_timeout / 2``
    ago (monotonic clock) and the server has neither cancelled nor forgotten the attempt. The server
    only times the attempt out ``heartbeat_timeout`` after the last heartbeat it recorded, and it
    recorded that one after it was sent: so the lease always ends at least half a heartbeat timeout
    before a retry of this activity can be scheduled (temporal.md §3 "Timeouts").

    Without a Temporal client in the activity context (``temporalio.testing.ActivityEnvironment`` in a
    benchmark: there is no server to fence against) the lease is always valid and says so in the log;
    a worker always has a client.

    Args:
        heartbeat_timeout_s: the activity's heartbeat timeout, seconds.
        details: called for the heartbeat details to send (the resume information).
        handle: the RPC handle (default: ``activity.client()`` for this attempt's task token).
    """

    def __init__(
        self,
        heartbeat_timeout_s: float,
        details: Callable[[], Any],
        handle: AsyncActivityHandle | None = None,
    ) -> None:
        self.lease_s = heartbeat_timeout_s / 2
        self.interval_s = max(0.05, heartbeat_timeout_s / 5)
        self.min_gap_s = self.interval_s / 2  # after order writes: at most one RPC per this many seconds
        self._details = details
        self._valid_until = -math.inf
        if handle is None:
            try:
                handle = activity.client().get_async_activity_handle(task_token=activity.info().task_token)
            except RuntimeError:
                log.warning("no Temporal client in this activity context: the epoch lease is not enforced")
                self._valid_until = math.inf
        self._handle = handle
        self._wake = asyncio.Event()
        self.changed = asyncio.Event()
        self.lost: str | None = None
        self.cancel_requested = False
        self.beats = 0
        self.failures = 0

    def valid(self) -> bool:
        """Whether this attempt may write an order now."""
        return self.lost is None and not self.cancel_requested and time.monotonic() < self._valid_until

    def remaining_s(self) -> float:
        """Seconds the lease has left (<= 0 when expired)."""
        return self._valid_until - time.monotonic()

    def beat_soon(self) -> None:
        """Heartbeat now rather than at the next interval (after an order write)."""
        self._wake.set()

    async def beat(self) -> bool:
        """Send one heartbeat RPC; True when the server acknowledged it (the lease is renewed)."""
        if self._handle is None:
            return True
        sent = time.monotonic()
        try:
            await asyncio.wait_for(self._handle.heartbeat(self._details()), timeout=max(self.lease_s, 0.05))
        except AsyncActivityCancelledError as err:
            self.cancel_requested = True
            reason = "reset" if err.details is not None and err.details.reset else "cancel requested"
            log.info("epoch lease: the server says %s", reason)
            self.changed.set()
            return False
        except RPCError as err:
            self.failures += 1
            if err.status == RPCStatusCode.NOT_FOUND:
                self.lost = "superseded"
                log.warning("epoch lease lost: the server no longer runs this attempt (%s)", err.message)
                self.changed.set()
            return False
        except (TimeoutError, OSError, RuntimeError) as err:
            self.failures += 1
            log.debug("epoch heartbeat not acknowledged: %r", err)
            return False
        self.beats += 1
        self._valid_until = max(self._valid_until, sent + self.lease_s)
        return True

    async def run(self) -> None:
        """Heartbeat every ``interval_s``, sooner after :meth:`beat_soon` (never twice within ``min_gap_s``)."""
        while self.lost is None and not self.cancel_requested:
            started = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)
            self._wake.clear()
            gap = self.min_gap_s - (time.monotonic() - started)
            if gap > 0:
                await asyncio.sleep(gap)
            await self.beat()


class EpochFence:
    """At most one trading epoch per Kalshi account in this process (one registry entry per account).

    :meth:`acquire` supersedes the current holder: marks it, cancels its task and waits until that
    task has finished, so its in-flight order write (shielded from cancellation) has landed before the
    new epoch reads positions from the exchange.
    """

    _by_account: ClassVar[dict[str, EpochFence]] = {}

    def __init__(self) -> None:
        self._holder: tuple[asyncio.Task[Any], EpochCore] | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def for_account(cls, account: str) -> EpochFence:
        """The fence of ``account`` (``<REST base URL>|<API key id>``) in this process."""
        fence = cls._by_account.get(account)
        if fence is None:
            fence = cls._by_account[account] = cls()
        return fence

    async def acquire(self, core: EpochCore) -> EpochCore | None:
        """Make ``core`` (running in the current task) the account's only epoch; return the one superseded."""
        task = asyncio.current_task()
        assert task is not None
        async with self._lock:
            holder = self._holder
            superseded = None
            if holder is not None and holder[0] is not task and not holder[0].done():
                superseded = holder[1]
                superseded.supersede(f"superseded by epoch {core.inp.epoch_id}")
                holder[0].cancel()
                await asyncio.wait({holder[0]})
            self._holder = (task, core)
            return superseded

    def release(self, core: EpochCore) -> None:
        """Forget ``core`` if it is still the holder."""
        if self._holder is not None and self._holder[1] is core:
            self._holder = None


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
    """The transport-independent part of one epoch attempt: fencing, the pipeline, execution, the summary.

    Drivers feed it order-book updates: the REST polling epoch below, and the WebSocket actor loop
    (:mod:`activities.market_data`). State is per attempt, never shared between epochs. Use it as an
    async context manager (``async with core:``): entering takes the account's fence, starts the
    lease and rebuilds positions, cash and earlier attempts' orders from the exchange; leaving stops
    the lease and releases the fence.

    Args:
        client: signed REST client (orders always go over REST).
        metrics: application metrics.
        inp: the epoch input (deadline, markets, limits, the epoch key).
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
        info = activity.info()
        self.attempt = info.attempt
        self.resumed = info.attempt > 1
        self.sequence = 0
        self.resume_sequence = 0
        self.summary = EpochSummary(
            epoch_id=inp.epoch_id,
            driver="actor" if origin == "actor" else "polling",
            started_at=self.client.exchange_now(),
            attempt=info.attempt,
        )
        if inp.order_key is None:
            # Legacy ids (a workflow started before run-scoped ids): resume the sequence from the heartbeat.
            details = info.heartbeat_details
            resumed = details[0] if details and isinstance(details[0], dict) else {}
            self.sequence = self.resume_sequence = int(resumed.get("sequence", 0))
            self.summary.orders_placed = int(resumed.get("orders_placed", 0))
            self.summary.client_order_ids = list(resumed.get("client_order_ids", []))
        self.decisions: Counter[str] = Counter()
        self.rejects: Counter[str] = Counter()
        self.latencies_ms: list[float] = []
        self.ack_latencies_ms: list[float] = []
        self.state = PretradeState(positions=dict(inp.positions), balance_cents=inp.balance_cents)
        # Actor mode (fills_from_acks=False): positions from the WebSocket (or REST at the start), plus fills
        # this epoch's acknowledgements reported that no `fill` frame has confirmed yet. The frames arrive
        # asynchronously, so without the unconfirmed part a burst of updates would be decided on a position
        # that lags the exchange (and could cross the position limit).
        self.streamed = StreamedPositions(self.state.positions)
        self.close_times = {m.ticker: m.close_time for m in inp.markets}
        self.ready = False
        self.superseded: str | None = None
        timeout = info.heartbeat_timeout.total_seconds() if info.heartbeat_timeout else inp.settings.heartbeat_timeout_s
        self.lease = EpochLease(timeout, self._details)
        account = f"{client.base_url}|{client.key_id or '-'}"
        self.fence = EpochFence.for_account(account)
        self._lease_task: asyncio.Task[None] | None = None
        if recorder is not None and inp.record is not None and info.attempt == 1:
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
            ApplicationError: non-retryable ``KalshiAuthError`` when the exchange refuses the key.
        """
        superseded = await self.fence.acquire(self)
        if superseded is not None:
            activity.logger.warning(
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
            self._lease_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lease_task
        self.fence.release(self)

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
            except (KalshiAuthError, KalshiCredentialsError) as err:
                raise to_application_error(err) from err
            except KalshiError as err:
                self.error(err)
                await self.pause(1.0)
                continue
            self.state.positions = {p.ticker: p.position_fp for p in positions if p.position_fp != 0}
            self.streamed = StreamedPositions(self.state.positions)
            self.state.balance_cents = balance.balance_cents
            self.state.consecutive_errors = 0
            for order in earlier:
                self.summary.orders_placed += 1
                self.summary.client_order_ids.append(order.client_order_id or "")
                if order.fill_count_fp > 0:
                    self.summary.contracts_filled += order.fill_count_fp
                    self._filled(order.ticker)
            if earlier:
                activity.logger.info(
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
        if activity.is_worker_shutdown():
            self.summary.ended_by = "worker_shutdown"
            return True
        if self.superseded is not None or self.lease.lost is not None:
            self.summary.ended_by = "superseded"
            return True
        if self.lease.cancel_requested:
            self.summary.ended_by = "cancelled"
            return True
        if self.state.consecutive_errors >= self.inp.settings.max_consecutive_errors:
            self.summary.ended_by = "circuit_breaker"
            return True
        if self.state.order_group_triggered:
            self.summary.ended_by = "order_group_triggered"
            return True
        return datetime.now(UTC) >= self.inp.deadline

    def may_trade(self) -> bool:
        """Whether an order may be written now: state rebuilt, lease valid, not superseded."""
        return self.ready and self.superseded is None and self.lease.valid()

    async def pause(self, seconds: float) -> None:
        """Sleep ``seconds``, waking early when the worker shuts down or the lease changes state."""
        waits = [
            asyncio.ensure_future(activity.wait_for_worker_shutdown()),
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
        activity.heartbeat(self._details())

    def heartbeat_after_write(self) -> None:
        """After every order write: heartbeat the progress and renew the lease soon (rate-limited)."""
        activity.heartbeat(self._details())
        self.lease.beat_soon()

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
        if not self.may_trade():
            self.reject("fenced")
            return
        await self._execute(intent, received_at)

    def _next_client_order_id(self) -> tuple[str, bool]:
        """The next order's id, and whether to look it up before sending (legacy retries only)."""
        self.sequence += 1
        if self.inp.order_key is not None:
            return epoch_client_order_id(self.inp.order_key, self.attempt, self.sequence), False
        # Legacy: the orders right after the resumed sequence may already exist (even executed, which
        # Kalshi's 409 does not cover): look them up before sending.
        lookup_first = self.resumed and self.sequence <= self.resume_sequence + len(self.close_times) + 1
        return legacy_epoch_client_order_id(self.inp.epoch_id, self.sequence), lookup_first

    async def _execute(self, intent: OrderIntent, received_at: float) -> None:
        client_order_id, lookup_first = self._next_client_order_id()
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
        sent_at = time.perf_counter()
        self.latencies_ms.append((sent_at - received_at) * 1000)
        self.metrics.decision_latency_seconds.labels(self.origin).observe(sent_at - received_at)
        # A write in flight must finish even if the workflow cancels us: its outcome must be known.
        placing = asyncio.ensure_future(self.client.create_order(request, lookup_first=lookup_first))
        try:
            ack = await asyncio.shield(placing)
        except asyncio.CancelledError:
            late = await self._finish_in_flight(placing, intent, client_order_id)
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
            self.heartbeat_after_write()
            return
        except KalshiOutcomeUnknownError as err:
            self.metrics.orders.labels(self.origin, intent.side, intent.action, "error").inc()
            self._unresolved(client_order_id, intent.ticker)
            self.error(err)
            self.heartbeat_after_write()
            return
        except KalshiError as err:
            self.metrics.orders.labels(self.origin, intent.side, intent.action, "error").inc()
            self.error(err)
            self.heartbeat_after_write()
            return
        self._accepted(intent, ack, sent_at)
        self.heartbeat_after_write()

    def _unresolved(self, client_order_id: str, ticker: str) -> None:
        self.summary.unresolved_client_order_ids.append(client_order_id)
        self.summary.unresolved_orders.append(PendingOrder(client_order_id=client_order_id, ticker=ticker))

    async def _finish_in_flight(
        self, placing: asyncio.Future[OrderAck], intent: OrderIntent, client_order_id: str
    ) -> OrderAck | None:
        try:
            return await placing
        except KalshiError as err:
            if isinstance(err, KalshiOutcomeUnknownError):
                self._unresolved(client_order_id, intent.ticker)
            activity.logger.warning("in-flight order %s at cancel: %s", client_order_id, err)
            return None

    def _filled(self, ticker: str) -> None:
        if ticker not in self.summary.filled_tickers:
            self.summary.filled_tickers.append(ticker)

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
            self._filled(intent.ticker)
            if not self.fills_from_acks:
                self.streamed.acknowledged(intent.ticker, ack.order_id, filled if intent.signed_delta > 0 else -filled)
            else:
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

    def ws_position(self, ticker: str, position_contracts: Decimal) -> None:
        """The exchange's position in ``ticker`` from a ``market_positions`` or ``fill`` frame (signed)."""
        self.streamed.position(ticker, position_contracts)

    def ws_fill(self, ticker: str, order_id: str, contracts: Decimal) -> None:
        """A ``fill`` frame of ``order_id`` for ``contracts`` arrived."""
        self.streamed.fill(ticker, order_id, contracts)

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
            activity.logger.info("epoch %s attempt %d cancelled", self.inp.epoch_id, self.attempt)
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
            if self.state.order_group_triggered or self.stopping():
                return
