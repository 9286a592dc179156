"""The trader's closes: exit rules, ``force_close`` and stop closes as ``ClosePositionWorkflow`` children."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

from models.ids import close_workflow_id, run_token
from models.trader import (
    CalibrationReport,
    CloseQuote,
    CloseQuoteInput,
    CloseRequest,
    CloseResult,
    CloseStatus,
    ExitDecision,
    ExitReason,
    Side,
)
from workflows.common import error_line
from workflows.names import (
    GET_CLOSE_QUOTE,
    PATCH_DEGRADED_MODE,
    PATCH_PROBE_DURING_CLOSE_WAIT,
    PATCH_RUN_SCOPED_ORDER_IDS,
    PATCH_SESSION_PNL,
)
from workflows.rules import evaluate_exits
from workflows.trader.base import TraderBase

_MAX_PARALLEL_CLOSES = 10
_PNL_TICKERS = 100


class CloseSteps(TraderBase):
    """Run closes (at most 10 children at once), resolve ``force_close`` updates, record results and session P&L."""

    async def _close_positions(self, report: CalibrationReport) -> list[CloseResult]:
        """Close what the exit rules say, then the queued ``force_close`` requests; the exit rules' results.

        With ``degraded-mode`` a market whose close is still running (in the background, waiting out an exchange
        pause) is not closed again, and the cycle waits for its closes at most ``degraded.close_wait_s``
        (:meth:`_run_closes_bounded`).
        """
        decisions = evaluate_exits(report.positions, report.cash_flow.balance_cents, self.config.exits)
        if workflow.patched(PATCH_DEGRADED_MODE):
            decisions = [d for d in decisions if d.ticker not in self._closing]
            results = await self._run_closes_bounded(decisions)
        else:
            results = await self._run_closes(decisions)
        await self._process_force_closes()
        return results

    async def _run_closes_bounded(self, decisions: list[ExitDecision]) -> list[CloseResult]:
        """Start a close per decision (at most 10) and wait for them until done, a stop or pause, or ``close_wait_s``.

        With ``probe-during-close-wait`` the health probe runs on its cadence during the wait, and a component that
        changed (``_probe_change``) ends it too: the caller then skips the epoch and the loop recalibrates.

        Closes that are still running afterwards (a close waiting out an exchange pause: ``close-waits-out-pause``)
        go on in the background: their tickers stay in ``_closing`` (neither traded by the epoch nor closed again)
        and their results are recorded when they end; continue-as-new waits for them. The rest of the decisions
        are taken again by the next cycle's exit rules.

        Returns:
            The results of the closes that ended within the wait.
        """
        tasks = [asyncio.create_task(self._close_one(d)) for d in decisions[:_MAX_PARALLEL_CLOSES]]
        if not tasks:
            return []
        wait_s = self.config.degraded.close_wait_s
        started = workflow.now()
        watch: asyncio.Future[None] | None = None
        if workflow.patched(PATCH_PROBE_DURING_CLOSE_WAIT):
            # Probe health on its cadence while the closes run: an outage or recovery meanwhile ends the wait
            # (``_probe_change``) and the cycle recalibrates at once.
            closes_done = asyncio.gather(*tasks, return_exceptions=True)
            watch = asyncio.ensure_future(self._watch_health(closes_done))
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: (
                    all(t.done() for t in tasks)
                    or self._stop_request is not None
                    or self._pause_request is not None
                    or self._probe_change is not None
                ),
                timeout=wait_s,
                timeout_summary=f"wait up to {wait_s:g}s for {len(tasks)} closes",
            )
        if watch is not None and not watch.done():
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        running = [t for t in tasks if not t.done()]
        if running:
            waited = (workflow.now() - started).total_seconds()
            workflow.logger.warning(
                "%d closes still running after %.1fs (%s): they go on in the background",
                len(running),
                waited,
                f"health probe: {self._probe_change}" if self._probe_change else "wait over",
            )
            self._background_closes = [t for t in self._background_closes if not t.done()] + running
        return [t.result() for t in tasks if t.done()]

    async def _process_force_closes(self) -> None:
        """Run closes asked for by the ``force_close`` update, resolving each waiting update.

        The live position is read first (``get_close_quote``): the last calibration may predate it.
        """
        while self._force_close_queue:
            key, ticker = self._force_close_queue.pop(0)
            self._closing_add(ticker)
            try:
                self._force_close_results[key] = await self._force_close(ticker)
            finally:
                self._closing_done(ticker)

    async def _force_close(self, ticker: str) -> CloseResult:
        def result(status: CloseStatus, error: str | None = None) -> CloseResult:
            return CloseResult.of(
                ticker, "yes", ExitReason.FORCE_CLOSE, Decimal(0), status, error=error, at=workflow.now()
            )

        try:
            quote: CloseQuote = await workflow.execute_activity(
                GET_CLOSE_QUOTE,
                CloseQuoteInput(ticker=ticker),
                result_type=CloseQuote,
                start_to_close_timeout=timedelta(seconds=self.config.activity_timeout_s),
                retry_policy=self._retry(),
                summary=f"force close: read {ticker}",
            )
        except ActivityError as err:
            failed = result(CloseStatus.FAILED, error_line(err))
            self._record_close(failed)
            return failed
        if quote.position_contracts == 0:
            return result(CloseStatus.ALREADY_FLAT)
        side: Side = "yes" if quote.position_contracts > 0 else "no"
        decision = ExitDecision(
            ticker=ticker, side=side, contracts=abs(quote.position_contracts), reason=ExitReason.FORCE_CLOSE
        )
        [closed] = await self._run_closes([decision])
        return closed

    async def _run_closes(self, decisions: list[ExitDecision]) -> list[CloseResult]:
        """Start one ``ClosePositionWorkflow`` child per decision (at most 10 at once) and record results."""
        results: list[CloseResult] = []
        for start in range(0, len(decisions), _MAX_PARALLEL_CLOSES):
            batch = decisions[start : start + _MAX_PARALLEL_CLOSES]
            tasks = [asyncio.create_task(self._close_one(d)) for d in batch]
            for task in tasks:
                results.append(await task)
        return results

    async def _close_one(self, decision: ExitDecision) -> CloseResult:
        self._closing_add(decision.ticker)
        try:
            return await self._close_child(decision)
        finally:
            self._closing_done(decision.ticker)

    def _closing_add(self, ticker: str) -> None:
        self._closing[ticker] = self._closing.get(ticker, 0) + 1

    def _closing_done(self, ticker: str) -> None:
        left = self._closing.get(ticker, 0) - 1
        if left > 0:
            self._closing[ticker] = left
        else:
            self._closing.pop(ticker, None)

    async def _close_child(self, decision: ExitDecision) -> CloseResult:
        info = workflow.info()
        self._close_seq += 1
        if workflow.patched(PATCH_RUN_SCOPED_ORDER_IDS):
            # Unique per run: a terminated-and-restarted or reset trader never meets an earlier close.
            token = run_token(info.first_execution_run_id, info.run_id)
            child_id = close_workflow_id(
                info.workflow_id,
                decision.ticker,
                decision.side,
                decision.reason.value,
                token,
                self.s.cycle,
                self._close_seq,
            )
        else:
            child_id = (
                f"{info.workflow_id}/close/{decision.ticker}/{decision.side}/c{self.s.cycle}"
                f"/g{self.s.generation}/{decision.reason.value}/{self._close_seq}"
            )
        request = CloseRequest(
            ticker=decision.ticker,
            side=decision.side,
            contracts=decision.contracts,
            reason=decision.reason,
            settings=self.config.close,
            activity_timeout_s=self.config.activity_timeout_s,
        )
        try:
            result: CloseResult = await workflow.execute_child_workflow(
                "ClosePositionWorkflow",
                request,
                id=child_id,
                result_type=CloseResult,
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                static_summary=f"close {decision.side.upper()} {decision.ticker}: {decision.reason.value}",
            )
        except ChildWorkflowError as err:
            result = CloseResult.of(
                decision.ticker,
                decision.side,
                decision.reason,
                decision.contracts,
                CloseStatus.FAILED,
                error=error_line(err),
                at=workflow.now(),
                workflow_id=child_id,
            )
        self._remember_ids(result.client_order_ids)
        self._record_close(result)
        if result.closed_contracts > 0 and result.remaining_contracts <= 0:
            self.s.positions_opened_at.pop(decision.ticker, None)
        return result

    def _record_close(self, result: CloseResult) -> None:
        self.s.recent_closes.append(result)
        del self.s.recent_closes[: -self.config.recent_closes_size]
        self.s.closes_total += 1
        pnl = result.realized_pnl_dollars
        if pnl is not None and workflow.patched(PATCH_SESSION_PNL):
            self.s.realized_pnl_dollars += pnl
            self.s.close_fees_dollars += result.fees_dollars
            by_ticker = self.s.realized_pnl_by_ticker
            by_ticker[result.ticker] = by_ticker.pop(result.ticker, Decimal(0)) + pnl
            for stale in list(by_ticker)[: max(len(by_ticker) - _PNL_TICKERS, 0)]:
                del by_ticker[stale]
        workflow.logger.info(
            "close %s %s %s: %s %s/%s contracts",
            result.tag,
            result.side,
            result.ticker,
            result.status.value,
            result.closed_contracts,
            result.requested_contracts,
        )
