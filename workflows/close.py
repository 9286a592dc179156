"""``ClosePositionWorkflow``: flatten one position by selling the held side, repricing a bounded number of times.

One close = one child workflow (ARCHITECTURE.md "Workflows"), so a stubborn market cannot stall the
trader's loop and each close has its own page in the Web UI. Each attempt:

1. reads the position and the book (``get_close_quote``), sweeping the held side's bids for the
   contracts still to sell;
2. if the held side is already flat, stops;
3. sells ``min(remaining, held)`` contracts of the held side with an immediate-or-cancel,
   reduce-only limit order priced to cross the whole size: the lowest bid the sweep reaches (the
   best bid when one level suffices) minus ``(attempt - 1) * reprice_step_dollars`` (never below
   one tick);
4. confirms the fill from the order's acknowledgement and repeats after ``retry_delay_s`` if
   contracts remain.

Pauses (patch ``close-waits-out-pause``): an attempt the exchange refuses because trading
(``trading_paused``) or the whole exchange (``exchange_paused``) is paused, or that finds the market paused
(``inactive``), uses no attempt: the close waits on durable timers (``settings.pause_retry_s``: 10, 20, 30,
then 60 s) and quotes again, so a close in flight when the exchange paused completes after the pause, exactly
once (the position is re-read before every order; every order has its own ``client_order_id``). It gives up
after ``settings.max_pause_wait_s`` in total.

Every order's ``client_order_id`` is ``close_position:<reason>:<uuid5 hex>`` where the uuid5 is
derived from this close run's ``first_execution_run_id`` (a fresh uuid for every child run, so a
terminated-and-restarted or reset trader never reuses an earlier close's id; patch
``close-run-scoped-ids``; before it: the workflow id) and the attempt number: deterministic, so an
activity retry or a replay re-sends the same id. Kalshi refuses a duplicate only while an open order
holds the id (an IOC is never open afterwards), so a retried ``place_order`` looks the id up before it
sends (ARCHITECTURE.md "Activities and idempotency"). Closes do not carry the order group id, so they
work even while the group is triggered.

Slippage floor and P&L (patch ``close-floor-and-pnl``): no attempt sells below the mark (the held
side's best bid when it is priced) minus ``settings.max_slippage_dollars``; the result carries the
cost basis of what was sold (the position's average cost from Kalshi's ``market_exposure``), the
taker fees (:func:`models.fees.single_fill_fee_dollars`: Kalshi's fee and rounding, as one fill at the average
price) and the realised P&L after fees.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_CEILING, Decimal

from temporalio import workflow
from temporalio.exceptions import ActivityError

from models.fees import single_fill_fee_dollars
from models.ids import close_client_order_id
from models.trader import (
    PAUSE_CODES,
    CloseQuote,
    CloseQuoteInput,
    CloseRequest,
    CloseResult,
    CloseSettings,
    CloseStatus,
    OrderOutcome,
    PlaceOrderInput,
)
from workflows.common import error_line, rest_retry_policy
from workflows.names import (
    CLOSE_POSITION_WORKFLOW,
    GET_CLOSE_QUOTE,
    PATCH_CLOSE_FLOOR_AND_PNL,
    PATCH_CLOSE_RUN_SCOPED_IDS,
    PATCH_CLOSE_WAITS_OUT_PAUSE,
    PLACE_ORDER,
)

_PRICE_GRID = Decimal("0.0001")
"""Kalshi's price grid: an average fill price is put on it before its fee is computed."""


@workflow.defn(name=CLOSE_POSITION_WORKFLOW)
class ClosePositionWorkflow:
    """Sell the held side of one position until flat or out of attempts; returns a :class:`CloseResult`."""

    @workflow.run
    async def run(self, request: CloseRequest) -> CloseResult:
        """Run the close. Never raises for market conditions; activity failures end it as ``failed``."""
        info = workflow.info()
        scope = (
            f"run:{info.first_execution_run_id}" if workflow.patched(PATCH_CLOSE_RUN_SCOPED_IDS) else info.workflow_id
        )
        v2 = workflow.patched(PATCH_CLOSE_FLOOR_AND_PNL)
        result = CloseResult.of(
            request.ticker,
            request.side,
            request.reason,
            request.contracts,
            CloseStatus.UNFILLED,
            workflow_id=info.workflow_id,
        )
        timeout = timedelta(seconds=request.activity_timeout_s)
        retry = rest_retry_policy(3)
        remaining = request.contracts
        avg_cost: Decimal | None = None
        basis = Decimal(0)
        waits_out = workflow.patched(PATCH_CLOSE_WAITS_OUT_PAUSE)
        pause = _PauseWait(request.settings)
        sends = 0
        attempt = 0
        try:
            while attempt < request.settings.max_attempts:
                attempt += 1
                quote: CloseQuote = await workflow.execute_activity(
                    GET_CLOSE_QUOTE,
                    CloseQuoteInput(ticker=request.ticker, side=request.side, contracts=remaining),
                    result_type=CloseQuote,
                    start_to_close_timeout=timeout,
                    retry_policy=retry,
                    summary=f"quote {request.ticker}",
                )
                held = _held(quote.position_contracts, request.side)
                if held <= 0:
                    result.status = CloseStatus.CLOSED if result.closed_contracts > 0 else CloseStatus.ALREADY_FLAT
                    remaining = Decimal(0)
                    break
                if v2 and avg_cost is None and quote.exposure_dollars is not None:
                    avg_cost = quote.exposure_dollars / held
                if quote.market_status not in ("active", "open"):
                    result.error = f"market is {quote.market_status}"
                    if waits_out and quote.market_status == "inactive" and await pause.wait(result, "market paused"):
                        attempt -= 1  # waiting out a pause uses no attempt
                        continue
                    break
                bid = quote.book.bid_for(request.side) if quote.book is not None else None
                if bid is None:
                    result.error = f"no {request.side} bid to sell into"
                    if attempt < request.settings.max_attempts:
                        await workflow.sleep(request.settings.retry_delay_s, summary="wait for a bid")
                    continue
                tick = quote.tick_size_dollars
                crossing = min(bid, quote.sweep_price_dollars) if quote.sweep_price_dollars is not None else bid
                price = max(crossing - request.settings.reprice_step_dollars * (attempt - 1), tick)
                if v2:
                    floor = slippage_floor(bid, request.settings.max_slippage_dollars, tick)
                    result.slippage_floor_dollars = floor
                    price = max(price, floor)
                size = min(remaining, held)
                sends += 1
                # Every order its own id: with pauses waited out, sends outnumber attempts.
                client_order_id = close_client_order_id(request.reason.value, scope, sends if waits_out else attempt)
                result.client_order_ids.append(client_order_id)
                result.attempts = sends if waits_out else attempt
                outcome: OrderOutcome = await workflow.execute_activity(
                    PLACE_ORDER,
                    PlaceOrderInput(
                        ticker=request.ticker,
                        side=request.side,
                        action="sell",
                        count_contracts=size,
                        price_dollars=price,
                        client_order_id=client_order_id,
                        time_in_force="immediate_or_cancel",
                        reduce_only=True,
                    ),
                    result_type=OrderOutcome,
                    start_to_close_timeout=timeout,
                    retry_policy=retry,
                    summary=f"sell {size} {request.side} {request.ticker} @ {price}",
                )
                if outcome.rejected_code:
                    result.error = f"rejected {outcome.rejected_code}: {outcome.rejected_detail or ''}".strip()
                    if (
                        waits_out
                        and outcome.rejected_code in PAUSE_CODES
                        and await pause.wait(result, outcome.rejected_code)
                    ):
                        attempt -= 1  # the exchange refused it for a pause: no attempt used, re-quote afterwards
                        continue
                elif outcome.filled_contracts > 0:
                    avg = outcome.average_fill_price_dollars or price
                    result.proceeds_dollars += outcome.filled_contracts * avg
                    result.closed_contracts += outcome.filled_contracts
                    remaining -= outcome.filled_contracts
                    result.error = None
                    if v2:
                        result.fees_dollars += single_fill_fee_dollars(
                            outcome.filled_contracts, avg.quantize(_PRICE_GRID), action="sell"
                        )
                        if avg_cost is not None:
                            basis += outcome.filled_contracts * avg_cost
                if remaining <= 0:
                    break
                if attempt < request.settings.max_attempts:
                    await workflow.sleep(request.settings.retry_delay_s, summary="reprice")
            final: CloseQuote = await workflow.execute_activity(
                GET_CLOSE_QUOTE,
                CloseQuoteInput(ticker=request.ticker, side=request.side),
                result_type=CloseQuote,
                start_to_close_timeout=timeout,
                retry_policy=retry,
                summary=f"confirm {request.ticker}",
            )
            result.remaining_contracts = _held(final.position_contracts, request.side)
        except ActivityError as err:
            result.status = CloseStatus.FAILED
            result.error = error_line(err)
            result.at = workflow.now()
            _pnl(result, basis if avg_cost is not None else None, v2)
            return result
        if result.status != CloseStatus.ALREADY_FLAT:
            if result.closed_contracts > 0:
                result.status = CloseStatus.CLOSED if result.remaining_contracts <= 0 else CloseStatus.PARTIAL
            elif result.remaining_contracts <= 0:
                result.status = CloseStatus.ALREADY_FLAT
            else:
                result.status = CloseStatus.UNFILLED
        if result.closed_contracts > 0:
            result.average_price_dollars = (result.proceeds_dollars / result.closed_contracts).quantize(
                Decimal("0.0001")
            )
        _pnl(result, basis if avg_cost is not None else None, v2)
        result.at = workflow.now()
        workflow.metric_meter().create_counter(
            "kalshi_trader_closes", "Positions closed by the trader, by reason and status"
        ).add(1, {"reason": request.reason.value, "status": result.status.value})
        return result


class _PauseWait:
    """Durable waits while the exchange is paused (``CloseSettings.pause_retry_s``, at most ``max_pause_wait_s``)."""

    def __init__(self, settings: CloseSettings) -> None:
        self.settings = settings
        self.step = 0
        self.waited_s = 0.0

    async def wait(self, result: CloseResult, why: str) -> bool:
        """Sleep the next pause timer and return True, or False (and say so in ``result.error``) when out of time."""
        steps = self.settings.pause_retry_s
        delay = steps[min(self.step, len(steps) - 1)]
        if self.waited_s + delay > self.settings.max_pause_wait_s:
            result.error = f"{why} for more than {self.waited_s:g}s: gave up (the trader closes again later)"
            return False
        self.step += 1
        self.waited_s += delay
        workflow.logger.info("close of %s: %s; trying again in %gs", result.ticker, why, delay)
        await workflow.sleep(delay, summary=f"{why}: try again in {delay:g}s")
        return True


def slippage_floor(mark_dollars: Decimal, max_slippage_dollars: Decimal, tick_dollars: Decimal) -> Decimal:
    """The lowest price a close may sell at: ``mark - max_slippage``, up to the tick grid, at least one tick.

    Args:
        mark_dollars: the held side's best bid (dollars per contract).
        max_slippage_dollars: ``CloseSettings.max_slippage_dollars``.
        tick_dollars: the market's price step near the mark.
    """
    raw = mark_dollars - max_slippage_dollars
    on_grid = (raw / tick_dollars).to_integral_value(rounding=ROUND_CEILING) * tick_dollars
    return max(on_grid, tick_dollars)


def _pnl(result: CloseResult, basis: Decimal | None, enabled: bool) -> None:
    """Fill in the cost basis and the realised P&L after fees (dollars, 4 dp) when known."""
    if not enabled or basis is None:
        return
    result.cost_basis_dollars = basis.quantize(Decimal("0.0001"))
    result.realized_pnl_dollars = (result.proceeds_dollars - basis - result.fees_dollars).quantize(Decimal("0.0001"))


def _held(position_contracts: Decimal, side: str) -> Decimal:
    """Contracts held on ``side`` given a signed position (+ YES / - NO)."""
    return max(position_contracts, Decimal(0)) if side == "yes" else max(-position_contracts, Decimal(0))
