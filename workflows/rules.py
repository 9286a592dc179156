"""Exit rules: pure, deterministic functions of a position snapshot and a clock.

Called from ``TraderWorkflow`` at every recalibration (ARCHITECTURE.md "Workflows" - exit rules).
No I/O, no wall clock: ``now`` is passed in (the workflow passes the exchange time of the snapshot,
so market times and hold times are compared on one clock).

P&L definition (also on :class:`models.trader.PositionView`):

* held side = YES if the signed position is positive, NO if negative; ``contracts = |position|``;
* average cost per contract = ``exposure_dollars / contracts`` (Kalshi ``market_exposure`` is the
  cost of the current position);
* mark = best bid of the held side (what selling one contract would fetch right now);
* ``unrealized_pnl = contracts * mark - exposure``; ``pnl_pct = unrealized_pnl / exposure``.

Reasons, in priority order for one position (the first that applies wins):

1. ``market_closing`` - the market is active and closes in less than ``market_closing_window_s``;
2. ``stop_loss``      - ``pnl_pct <= -stop_loss_pct``;
3. ``take_profit``    - ``pnl_pct >= take_profit_pct``;
4. ``max_hold_time``  - held for at least ``max_hold_time_s``;
5. ``cash_recovery``  - while free cash is under ``cash_reserve_cents``, close the worst remaining
   positions first (lowest ``pnl_pct``) until the projected cash covers the reserve.

Only positions in an *active* market with a bid on the held side can be sold; others are reported
as stuck and left alone (a closed market waits for settlement).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_FLOOR, Decimal

from models.trader import ExitDecision, ExitReason, ExitRules, PositionView, is_sellable

_ZERO = Decimal(0)


def evaluate_exits(
    positions: Iterable[PositionView],
    balance_cents: int | None,
    rules: ExitRules,
) -> list[ExitDecision]:
    """Decide which positions to close and why (see the module docstring for the rules).

    Args:
        positions: views from :func:`build_position_views` (P&L in dollars and fractions, times in
            seconds on the exchange clock).
        balance_cents: free cash in cents, or None when unknown (then no cash_recovery).
        rules: thresholds.

    Returns:
        At most one decision per ticker, in the order: rule-based closes by ticker, then
        cash-recovery closes worst first.

    """
    decisions: list[ExitDecision] = []
    undecided: list[PositionView] = []
    for view in positions:
        if not is_sellable(view):
            continue
        reason, detail = _first_reason(view, rules)
        if reason is None:
            undecided.append(view)
        else:
            decisions.append(
                ExitDecision(ticker=view.ticker, side=view.side, contracts=view.contracts, reason=reason, detail=detail)
            )

    if balance_cents is not None and balance_cents < rules.cash_reserve_cents:
        projected = Decimal(balance_cents)
        for d in decisions:
            view = next(v for v in positions if v.ticker == d.ticker)
            projected += _value_cents(view)
        # Worst first: lowest P&L fraction, ties by ticker for determinism.
        for view in sorted(undecided, key=lambda v: (v.pnl_pct if v.pnl_pct is not None else _ZERO, v.ticker)):
            if projected >= rules.cash_reserve_cents:
                break
            projected += _value_cents(view)
            decisions.append(
                ExitDecision(
                    ticker=view.ticker,
                    side=view.side,
                    contracts=view.contracts,
                    reason=ExitReason.CASH_RECOVERY,
                    detail=f"cash {balance_cents}c < reserve {rules.cash_reserve_cents}c",
                )
            )
    return decisions


def _first_reason(view: PositionView, rules: ExitRules) -> tuple[ExitReason | None, str]:
    if view.seconds_to_close is not None and view.seconds_to_close < rules.market_closing_window_s:
        return ExitReason.MARKET_CLOSING, f"closes in {view.seconds_to_close:.0f}s"
    if view.pnl_pct is not None:
        if view.pnl_pct <= -rules.stop_loss_pct:
            return ExitReason.STOP_LOSS, f"P&L {view.pnl_pct * 100:.1f}% <= -{rules.stop_loss_pct * 100:.0f}%"
        if view.pnl_pct >= rules.take_profit_pct:
            return ExitReason.TAKE_PROFIT, f"P&L {view.pnl_pct * 100:.1f}% >= {rules.take_profit_pct * 100:.0f}%"
    if view.held_for_s is not None and view.held_for_s >= rules.max_hold_time_s:
        return ExitReason.MAX_HOLD_TIME, f"held {view.held_for_s:.0f}s >= {rules.max_hold_time_s:.0f}s"
    return None, ""


def _value_cents(view: PositionView) -> Decimal:
    """What selling the whole position at the mark would bring, in whole cents (floored)."""
    if view.market_value_dollars is None:
        return _ZERO
    return (view.market_value_dollars * 100).to_integral_value(rounding=ROUND_FLOOR)
