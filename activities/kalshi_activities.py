"""REST activities: thin adapters from Temporal to the ``kalshi`` client library.

One :class:`KalshiActivities` instance per worker process holds one :class:`kalshi.rest.KalshiRestClient`
(one connection pool, one client-side rate limiter). Every Kalshi error is converted at this boundary
(:mod:`activities.errors`) into an ``ApplicationError`` whose ``type`` is the error's class name,
non-retryable for authentication, validation and not-found errors (temporal.md §3 "Retries and errors");
rate limits ask Temporal for a later retry with ``next_retry_delay``. Order rejections are outcomes, not
errors: ``place_order`` returns them in :class:`OrderOutcome`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import kalshi_errors, to_application_error
from activities.market_data_location import locate_market_data
from kalshi.convert import (
    book_top,
    exchange_position,
    market_snapshot,
    order_outcome,
    resting_order,
    settlement_record,
)
from kalshi.errors import (
    KalshiAuthError,
    KalshiError,
    KalshiNotFoundError,
    KalshiOutcomeUnknownError,
    KalshiRejectedError,
)
from kalshi.models import CreateOrderRequest, Market, Orderbook
from kalshi.rest import KalshiRestClient
from models.market_data import MarketDataHealth
from models.trader import (
    PAUSE_CODES,
    CalibrationInput,
    CalibrationSnapshot,
    CancelOrdersInput,
    CancelOrdersResult,
    CloseQuote,
    CloseQuoteInput,
    HealthProbe,
    HealthProbeInput,
    OrderGroupInput,
    OrderGroupState,
    OrderOutcome,
    PlaceOrderInput,
    build_position_views,
)
from recording.metrics import AppMetrics
from workflows.names import (
    CALIBRATION_SNAPSHOT,
    CANCEL_RESTING_ORDERS,
    ENSURE_ORDER_GROUP,
    GET_CLOSE_QUOTE,
    HEALTH_PROBE,
    PLACE_ORDER,
    RESET_ORDER_GROUP,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_PENDING_LOOKUPS = 20
"""At most this many unknown-outcome orders are looked up per calibration (the rest wait for the next)."""

PENDING_LOOKUP_PAGES = 3
"""Pages of one market's orders (up to 1,000 each) read to find one pending client_order_id."""


@dataclass
class KalshiActivities:
    """The trader's REST activities, bound to one client.

    Attributes:
        client: an open :class:`KalshiRestClient` (signed; secrets stay in the worker process).
        metrics: application metrics to record into.
        recorder: the worker's write-behind recorder (orders of closes are persisted), or None.
    """

    client: KalshiRestClient
    metrics: AppMetrics
    recorder: Any | None = None

    # ---------------------------------------------------------------- calibration

    @activity.defn(name=CALIBRATION_SNAPSHOT)
    async def calibration_snapshot(self, inp: CalibrationInput) -> CalibrationSnapshot:
        """Run every calibration check against the exchange, in parallel, and return the raw facts.

        Stage 1 (concurrently): exchange status, balance, positions, resting orders, settlements
        since the last check, open markets of each series, the order group, pending client order
        id lookups. Stage 2: markets and order books for everything discovered or held
        (``GET /markets?tickers=`` and ``GET /markets/orderbooks``). A failed check leaves its field
        None and an error line in ``errors``; only an authentication failure is raised (as a
        non-retryable ``KalshiAuthError``) because no check can succeed without credentials.

        Returns:
            :class:`CalibrationSnapshot` with ``duration_ms`` (wall time) and the exchange clock.
        """
        started = time.perf_counter()
        snap = _SnapshotBuilder(parallel=inp.parallel)
        c = self.client
        settlements_min_ts = int(inp.settlements_since.timestamp()) if inp.settlements_since else None

        async def markets_for_series() -> list[Market]:
            found: list[Market] = []
            for series in inp.series_tickers:
                found.extend(await c.get_markets(series_ticker=series, status="open"))
            return found

        async def order_group() -> tuple[bool, bool | None]:
            if inp.order_group_id is None:
                return False, None
            try:
                group = await c.get_order_group(inp.order_group_id)
            except KalshiNotFoundError:
                return False, None
            return True, group.triggered

        async def pending() -> dict[str, str]:
            # Each lookup lists one market's orders when the ticker is known (a few pages at most);
            # ids carried from older runs have no ticker and page through every order (bounded).
            out: dict[str, str] = {}
            lookups = [(p.client_order_id, p.ticker) for p in inp.pending_orders]
            lookups += [(cid, None) for cid in inp.pending_client_order_ids]
            for cid, ticker in lookups[:MAX_PENDING_LOOKUPS]:
                order = await c.find_order_by_client_order_id(
                    cid, ticker=ticker, max_pages=PENDING_LOOKUP_PAGES if ticker else PENDING_LOOKUP_PAGES * 4
                )
                out[cid] = order.status if order is not None else "missing"
            return out

        async def market_data() -> MarketDataHealth | None:
            if inp.market_data is None:
                return None
            return await locate_market_data(activity.client(), inp.market_data)

        status, balance, positions, resting, settlements, markets, group, lookup, md = await snap.run(
            ("exchange_status", c.get_exchange_status),
            ("balance", c.get_balance),
            ("positions", c.get_positions),
            ("resting_orders", lambda: c.get_orders(status="resting")),
            ("settlements", lambda: c.get_settlements(min_ts=settlements_min_ts)),
            ("markets", markets_for_series),
            ("order_group", order_group),
            ("pending_lookup", pending),
            ("market_data_ws", market_data),
        )

        discovered = {m.ticker: m for m in markets or []}
        held = {p.ticker for p in positions or [] if p.position_fp != 0}
        wanted_extra = sorted((held | set(inp.extra_tickers)) - discovered.keys())
        all_tickers = sorted(discovered.keys() | set(wanted_extra))

        async def extra_markets() -> list[Market]:
            return await c.get_markets(tickers=wanted_extra) if wanted_extra else []

        async def books() -> dict[str, Orderbook]:
            return await c.get_orderbooks(all_tickers) if all_tickers else {}

        extra, orderbooks = await snap.run(("markets", extra_markets), ("orderbooks", books))
        for m in extra or []:
            discovered[m.ticker] = m

        snapshot = CalibrationSnapshot(
            exchange_time=c.exchange_now(),
            duration_ms=round((time.perf_counter() - started) * 1000),
            check_latency_ms=snap.latency_ms,
            errors=snap.errors,
            error_status=snap.error_status,
            exchange_active=status.exchange_active if status else None,
            trading_active=status.trading_active if status else None,
            balance_cents=balance.balance_cents if balance else None,
            portfolio_value_cents=balance.portfolio_value_cents if balance else None,
            positions=None if positions is None else [exchange_position(p) for p in positions if p.position_fp != 0],
            resting_orders=None if resting is None else [resting_order(o) for o in resting],
            settlements=None if settlements is None else [settlement_record(s) for s in settlements],
            markets=None
            if markets is None
            else [
                market_snapshot(m, orderbooks.get(m.ticker) if orderbooks is not None else None)
                for m in sorted(discovered.values(), key=lambda m: m.ticker)
            ],
            order_group_exists=group[0] if group is not None and inp.order_group_id else None,
            order_group_triggered=group[1] if group is not None else None,
            pending_lookup=lookup,
            market_data=md,
        )
        mode = "parallel" if inp.parallel else "sequential"
        self.metrics.calibration_seconds.labels(mode).observe(snapshot.duration_ms / 1000)
        self.metrics.last_calibration_timestamp.set_to_current_time()
        for check in snapshot.errors:
            self.metrics.calibration_check_errors.labels(check).inc()
        if snapshot.positions is not None:
            self.metrics.positions.set(len(snapshot.positions))
            self.metrics.exposure_dollars.set(float(sum((p.exposure_dollars for p in snapshot.positions), Decimal(0))))
            if snapshot.markets is not None:
                views = build_position_views(
                    snapshot.positions, {m.ticker: m for m in snapshot.markets}, {}, snapshot.exchange_time
                )
                pnl = sum((v.unrealized_pnl_dollars or Decimal(0) for v in views), Decimal(0))
                self.metrics.unrealized_pnl_dollars.set(float(pnl))
        if snapshot.balance_cents is not None:
            self.metrics.cash_cents.set(snapshot.balance_cents)
        return snapshot

    @activity.defn(name=HEALTH_PROBE)
    async def health_probe(self, inp: HealthProbeInput) -> HealthProbe:
        """A short calibration between full ones: exchange status, balance and the market-data streams, in parallel.

        What the workflow runs every ``degraded.health_probe_interval_s`` while an epoch trades, so a component
        that goes down or recovers is noticed within that interval (docs/architecture.md "Degraded mode"). A
        failed check leaves an error line (and its HTTP status) instead of raising; only an authentication
        failure raises (non-retryable ``KalshiAuthError``).

        Returns:
            :class:`HealthProbe` with ``duration_ms`` and the exchange clock.
        """
        started = time.perf_counter()
        snap = _SnapshotBuilder(parallel=True)

        async def market_data() -> MarketDataHealth | None:
            if inp.market_data is None:
                return None
            return await locate_market_data(activity.client(), inp.market_data)

        status, _, md = await snap.run(
            ("exchange_status", self.client.get_exchange_status),
            ("balance", self.client.get_balance),
            ("market_data_ws", market_data),
        )
        return HealthProbe(
            exchange_time=self.client.exchange_now(),
            duration_ms=round((time.perf_counter() - started) * 1000),
            errors=snap.errors,
            error_status=snap.error_status,
            exchange_active=status.exchange_active if status else None,
            trading_active=status.trading_active if status else None,
            market_data=md,
        )

    # ---------------------------------------------------------------- orders

    @activity.defn(name=PLACE_ORDER)
    async def place_order(self, inp: PlaceOrderInput) -> OrderOutcome:
        """Place one limit order idempotently (its ``client_order_id`` was decided by the workflow).

        The client resolves 409 duplicates and unknown outcomes by looking the order up by
        ``client_order_id``; a business rejection (400/409/410 with a Kalshi code) is returned as an
        outcome with ``rejected_code``, and so is an exchange pause (400 ``trading_paused``, or 503
        ``exchange_paused`` whose lookup found no order): the close waits the pause out. Raises
        ``ApplicationError`` for auth (non-retryable), rate limits, outages and still-unknown outcomes
        (retryable: the retry re-sends the same id).
        """
        request = CreateOrderRequest(
            ticker=inp.ticker,
            side=inp.side,
            action=inp.action,
            count_fp=inp.count_contracts,
            price_dollars=inp.price_dollars,
            client_order_id=inp.client_order_id,
            time_in_force=inp.time_in_force,
            reduce_only=inp.reduce_only,
            order_group_id=inp.order_group_id,
        )
        origin = "close" if inp.client_order_id.startswith("close_position:") else "workflow"
        started = time.perf_counter()
        try:
            # A retry may follow an attempt whose order already executed (Kalshi's 409 covers only
            # open orders), so retries look the client_order_id up before sending.
            ack = await self.client.create_order(request, lookup_first=activity.info().attempt > 1)
        except (KalshiRejectedError, KalshiOutcomeUnknownError) as err:
            if isinstance(err, KalshiOutcomeUnknownError) and err.code not in PAUSE_CODES:
                self.metrics.orders.labels(origin, inp.side, inp.action, "error").inc()
                raise to_application_error(err) from err
            # A pause is a refusal: the exchange answered it (503 exchange_paused) and the lookup found no order.
            self.metrics.orders.labels(origin, inp.side, inp.action, "rejected").inc()
            activity.logger.warning("order %s rejected: %s", inp.client_order_id, err)
            rejected = OrderOutcome(
                order_id="",
                client_order_id=inp.client_order_id,
                remaining_contracts=inp.count_contracts,
                rejected_code=err.code or str(err.status),
                rejected_detail=err.details or err.message,
            )
            self._record_order(inp, rejected, origin)
            return rejected
        except KalshiError as err:
            self.metrics.orders.labels(origin, inp.side, inp.action, "error").inc()
            raise to_application_error(err) from err
        self.metrics.order_latency_seconds.labels(origin).observe(time.perf_counter() - started)
        self.metrics.orders.labels(origin, inp.side, inp.action, "accepted").inc()
        if ack.fill_count_fp > 0:
            self.metrics.fills_contracts.labels(origin, inp.side, inp.action).inc(float(ack.fill_count_fp))
        activity.logger.info(
            "order %s %s %s %s @ %s: filled %s, remaining %s%s",
            inp.client_order_id,
            inp.action,
            inp.count_contracts,
            inp.side,
            inp.price_dollars,
            ack.fill_count_fp,
            ack.remaining_count_fp,
            " (already existed)" if ack.already_existed else "",
        )
        outcome = order_outcome(ack)
        self._record_order(inp, outcome, origin)
        return outcome

    def _record_order(self, inp: PlaceOrderInput, outcome: OrderOutcome, origin: str) -> None:
        """Persist the order's outcome (never raises, never blocks: the recorder's queue may drop)."""
        if self.recorder is None:
            return
        self.recorder.record_order(
            outcome,
            event="rejected" if outcome.rejected_code else "acknowledged",
            origin=origin,
            origin_id=activity.info().workflow_id,
            ticker=inp.ticker,
            side=inp.side,
            action=inp.action,
        )

    @activity.defn(name=GET_CLOSE_QUOTE)
    async def get_close_quote(self, inp: CloseQuoteInput) -> CloseQuote:
        """Read the signed position, market status and book of one market (in parallel).

        Also sweeps the held side's bids for ``inp.contracts`` to find the price that crosses the
        whole size (``sweep_price_dollars``), so a close is not limited to the best level's size.
        """
        async with kalshi_errors():
            positions, market, book = await asyncio.gather(
                self.client.get_positions(ticker=inp.ticker),
                self.client.get_market(inp.ticker),
                self.client.get_orderbook(inp.ticker),
            )
        held = next((p for p in positions if p.ticker == inp.ticker), None)
        position = held.position_fp if held is not None else Decimal(0)
        quote = CloseQuote(
            ticker=inp.ticker,
            position_contracts=position,
            exposure_dollars=held.market_exposure_dollars if held is not None and position != 0 else None,
            market_status=market.status,
            book=book_top(book),
            tick_size_dollars=market.tick_size_dollars(Decimal("0.5")),
        )
        if inp.contracts > 0:
            sweep = book.depth_to_sell(inp.side, inp.contracts)
            quote.sweep_price_dollars = sweep.worst_price_dollars
            quote.sweep_contracts = sweep.filled_fp
        return quote

    @activity.defn(name=CANCEL_RESTING_ORDERS)
    async def cancel_resting_orders(self, inp: CancelOrdersInput) -> CancelOrdersResult:
        """Cancel the given resting orders (or every resting order when none are given).

        An order that is already gone (404) or in a closed market counts as failed with its error
        line; nothing is retried blindly.
        """
        result = CancelOrdersResult()
        async with kalshi_errors():
            ids = list(inp.order_ids) or [o.order_id for o in await self.client.get_orders(status="resting")]
        for order_id in ids:
            try:
                order = await self.client.cancel_order(order_id)
            except (KalshiNotFoundError, KalshiRejectedError) as err:
                result.failed[order_id] = str(err)
                continue
            except KalshiError as err:
                raise to_application_error(err) from err
            result.cancelled.append(order_id)
            result.contracts_cancelled += order.remaining_count_fp if order.status == "resting" else Decimal(0)
        activity.logger.info("cancelled %d resting orders (%s)", len(result.cancelled), inp.reason or "no reason")
        return result

    # ---------------------------------------------------------------- order groups

    @activity.defn(name=ENSURE_ORDER_GROUP)
    async def ensure_order_group(self, inp: OrderGroupInput) -> OrderGroupState:
        """Return ``inp.order_group_id`` if it exists at the exchange, else create a group with the limit."""
        async with kalshi_errors():
            if inp.order_group_id:
                try:
                    await self.client.get_order_group(inp.order_group_id)
                    return OrderGroupState(order_group_id=inp.order_group_id)
                except KalshiNotFoundError:
                    pass
            group_id = await self.client.create_order_group(inp.contracts_limit)
        activity.logger.info("created order group %s (limit %d contracts / 15 s)", group_id, inp.contracts_limit)
        return OrderGroupState(order_group_id=group_id, created=True)

    @activity.defn(name=RESET_ORDER_GROUP)
    async def reset_order_group(self, inp: OrderGroupInput) -> OrderGroupState:
        """Reset a triggered order group (clears the trigger and the rolling counter); recreate if gone."""
        if not inp.order_group_id:
            raise ApplicationError("reset_order_group needs an order_group_id", type="ValueError", non_retryable=True)
        async with kalshi_errors():
            try:
                await self.client.reset_order_group(inp.order_group_id)
                return OrderGroupState(order_group_id=inp.order_group_id, reset=True)
            except KalshiNotFoundError:
                group_id = await self.client.create_order_group(inp.contracts_limit)
                return OrderGroupState(order_group_id=group_id, created=True)


class _SnapshotBuilder:
    """Runs named checks (in parallel or one after another), recording latency and one-line errors.

    Authentication errors propagate as non-retryable ``ApplicationError``; every other
    :class:`KalshiError` becomes an entry in ``errors`` and a None result.
    """

    def __init__(self, *, parallel: bool) -> None:
        self.parallel = parallel
        self.latency_ms: dict[str, int] = {}
        self.errors: dict[str, str] = {}
        self.error_status: dict[str, int] = {}

    async def _one(self, name: str, fn: Callable[[], Awaitable[T]]) -> T | None:
        started = time.perf_counter()
        try:
            return await fn()
        except KalshiError as err:
            if isinstance(err, KalshiAuthError):
                raise to_application_error(err) from err
            self.errors[name] = str(err)
            self.error_status[name] = err.status or 0
            log.warning("calibration check %s failed: %s", name, err)
            return None
        finally:
            self.latency_ms[name] = self.latency_ms.get(name, 0) + round((time.perf_counter() - started) * 1000)

    async def run(self, *checks: tuple[str, Callable[[], Awaitable[Any]]]) -> list[Any]:
        if self.parallel:
            return list(await asyncio.gather(*(self._one(n, f) for n, f in checks)))
        return [await self._one(n, f) for n, f in checks]
