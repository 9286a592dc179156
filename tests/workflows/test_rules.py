"""Exit rules and calibration evaluation: pure functions, checked on hand-built snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from models.trader import (
    BookTop,
    CalibrationSnapshot,
    ExchangePosition,
    ExitReason,
    ExitRules,
    MarketSnapshot,
    OverallStatus,
    RestingOrder,
    TraderConfig,
    build_position_views,
)
from workflows.calibration import build_report
from workflows.rules import evaluate_exits

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def market(
    ticker: str,
    yes_bid: str | None = "0.40",
    no_bid: str | None = "0.55",
    *,
    closes_in_s: float = 600,
    status: str = "active",
) -> MarketSnapshot:
    return MarketSnapshot(
        ticker=ticker,
        event_ticker=ticker.rsplit("-", 1)[0],
        status=status,
        open_time=NOW - timedelta(minutes=5),
        close_time=NOW + timedelta(seconds=closes_in_s),
        book=BookTop(
            yes_bid_dollars=D(yes_bid) if yes_bid else None,
            yes_bid_size=D("10"),
            no_bid_dollars=D(no_bid) if no_bid else None,
            no_bid_size=D("12"),
        ),
    )


def views(positions: list[ExchangePosition], markets: list[MarketSnapshot], held_s: float = 0.0):
    opened = {p.ticker: NOW - timedelta(seconds=held_s) for p in positions}
    return build_position_views(positions, {m.ticker: m for m in markets}, opened, NOW)


def test_pnl_uses_average_cost_and_best_bid_of_the_held_side() -> None:
    # Long 10 YES that cost $3.00 (avg 0.30); best YES bid 0.40 -> value 4.00, P&L +1.00 = +33.33 %
    # Short side: 4 NO that cost $2.40 (avg 0.60); best NO bid 0.55 -> value 2.20, P&L -0.20 = -8.33 %
    [yes] = views(
        [ExchangePosition(ticker="A-1", position_contracts=D(10), exposure_dollars=D("3.00"))], [market("A-1")]
    )
    assert (yes.side, yes.contracts, yes.avg_cost_dollars, yes.mark_dollars) == ("yes", D(10), D("0.3"), D("0.40"))
    assert yes.market_value_dollars == D("4.00")
    assert yes.unrealized_pnl_dollars == D("1.00")
    assert yes.pnl_pct == D("0.3333")
    [no] = views(
        [ExchangePosition(ticker="A-1", position_contracts=D(-4), exposure_dollars=D("2.40"))], [market("A-1")]
    )
    assert (no.side, no.contracts, no.mark_dollars) == ("no", D(4), D("0.55"))
    assert no.unrealized_pnl_dollars == D("-0.20")
    assert no.pnl_pct == D("-0.0833")


def test_each_reason_fires_with_its_threshold() -> None:
    rules = ExitRules(
        take_profit_pct=D("0.2"),
        stop_loss_pct=D("0.1"),
        max_hold_time_s=3600,
        market_closing_window_s=300,
        cash_reserve_cents=0,
    )
    positions = [
        ExchangePosition(ticker="TP-1", position_contracts=D(10), exposure_dollars=D("3.30")),  # 0.40 vs 0.33: +21 %
        ExchangePosition(ticker="SL-1", position_contracts=D(10), exposure_dollars=D("4.50")),  # 0.40 vs 0.45: -11 %
        ExchangePosition(ticker="MC-1", position_contracts=D(10), exposure_dollars=D("4.00")),  # closes in 120 s
        ExchangePosition(ticker="OK-1", position_contracts=D(10), exposure_dollars=D("4.00")),  # flat P&L, young
    ]
    mkts = [market("TP-1"), market("SL-1"), market("MC-1", closes_in_s=120), market("OK-1")]
    got = {d.ticker: d.reason for d in evaluate_exits(views(positions, mkts), 1_000_000, rules)}
    assert got == {"TP-1": ExitReason.TAKE_PROFIT, "SL-1": ExitReason.STOP_LOSS, "MC-1": ExitReason.MARKET_CLOSING}
    old = views(positions[3:], mkts[3:], held_s=3600)
    assert [d.reason for d in evaluate_exits(old, 1_000_000, rules)] == [ExitReason.MAX_HOLD_TIME]


def test_thresholds_are_inclusive_and_just_inside_does_not_fire() -> None:
    rules = ExitRules(take_profit_pct=D("0.25"), stop_loss_pct=D("0.20"), cash_reserve_cents=0)
    at_tp = ExchangePosition(ticker="X-1", position_contracts=D(10), exposure_dollars=D("3.20"))  # 0.40/0.32 = +25 %
    below_tp = ExchangePosition(ticker="X-1", position_contracts=D(10), exposure_dollars=D("3.21"))
    at_sl = ExchangePosition(ticker="X-1", position_contracts=D(10), exposure_dollars=D("5.00"))  # -20 %
    assert evaluate_exits(views([at_tp], [market("X-1")]), 10**6, rules)[0].reason == ExitReason.TAKE_PROFIT
    assert evaluate_exits(views([below_tp], [market("X-1")]), 10**6, rules) == []
    assert evaluate_exits(views([at_sl], [market("X-1")]), 10**6, rules)[0].reason == ExitReason.STOP_LOSS


def test_closing_window_beats_price_rules_and_closed_markets_are_left_alone() -> None:
    rules = ExitRules(cash_reserve_cents=0)
    losing = ExchangePosition(ticker="M-1", position_contracts=D(10), exposure_dollars=D("9.00"))
    [d] = evaluate_exits(views([losing], [market("M-1", closes_in_s=30)]), 10**6, rules)
    assert d.reason == ExitReason.MARKET_CLOSING
    closed = views([losing], [market("M-1", status="closed", closes_in_s=-5)])
    assert evaluate_exits(closed, 10**6, rules) == []


def test_no_bid_means_no_mark_and_no_price_rule() -> None:
    rules = ExitRules(cash_reserve_cents=0)
    pos = ExchangePosition(ticker="E-1", position_contracts=D(10), exposure_dollars=D("9.00"))
    [v] = views([pos], [market("E-1", yes_bid=None)])
    assert v.mark_dollars is None and v.pnl_pct is None
    assert evaluate_exits([v], 10**6, rules) == []


def test_cash_recovery_closes_worst_first_until_reserve_is_covered() -> None:
    rules = ExitRules(take_profit_pct=D("5"), stop_loss_pct=D("1"), cash_reserve_cents=1_000)
    positions = [
        ExchangePosition(ticker="GOOD-1", position_contracts=D(10), exposure_dollars=D("3.90")),  # +2.6 %, value 400c
        ExchangePosition(ticker="BAD-1", position_contracts=D(10), exposure_dollars=D("4.30")),  # -7 %, value 400c
        ExchangePosition(ticker="MID-1", position_contracts=D(10), exposure_dollars=D("4.10")),  # -2.4 %, value 400c
    ]
    mkts = [market("GOOD-1"), market("BAD-1"), market("MID-1")]
    # 300c free + 400c (BAD) = 700 < 1000 -> also MID (1100 >= 1000) -> GOOD stays.
    got = evaluate_exits(views(positions, mkts), 300, rules)
    assert [(d.ticker, d.reason) for d in got] == [
        ("BAD-1", ExitReason.CASH_RECOVERY),
        ("MID-1", ExitReason.CASH_RECOVERY),
    ]
    assert evaluate_exits(views(positions, mkts), 1_000, rules) == []
    assert evaluate_exits(views(positions, mkts), None, rules) == []


def snapshot(**kw) -> CalibrationSnapshot:
    base = dict(
        exchange_time=NOW,
        duration_ms=42,
        exchange_active=True,
        trading_active=True,
        balance_cents=50_000,
        portfolio_value_cents=0,
        positions=[],
        resting_orders=[],
        settlements=[],
        markets=[
            market("A-1"),
            market("B-1", closes_in_s=100),
            market("C-1", no_bid=None),
            market("D-1", status="closed"),
        ],
        order_group_exists=True,
        pending_lookup={},
    )
    base.update(kw)
    return CalibrationSnapshot(**base)


def test_report_viability_components_and_status() -> None:
    report, _ = build_report(snapshot(), TraderConfig(), {}, [], [])
    assert report.overall_status == OverallStatus.FULLY_OPERATIONAL and report.can_trade
    assert report.viable_markets == ["A-1"]
    reasons = {m.ticker: m.reasons for m in report.markets}
    assert reasons["B-1"] == ["closing_in:100s"]
    assert reasons["C-1"] == ["no_quote"]
    assert reasons["D-1"][0] == "not_open:closed"
    assert report.duration_ms == 42 and report.cash_flow.sufficient


def test_critical_failure_pauses_and_optional_failure_degrades() -> None:
    down, _ = build_report(snapshot(balance_cents=None, errors={"balance": "503"}), TraderConfig(), {}, [], [])
    assert down.overall_status == OverallStatus.PAUSED and not down.can_trade
    comp = {c.name: c for c in down.components}
    assert not comp["order_tracking"].healthy and comp["order_tracking"].category == "critical"
    degraded, _ = build_report(
        snapshot(errors={"settlements": "timeout"}, settlements=None), TraderConfig(), {}, [], []
    )
    assert degraded.overall_status == OverallStatus.DEGRADED and degraded.can_trade
    comp = {c.name: c for c in degraded.components}
    assert comp["settlements"].fallback
    halted, _ = build_report(snapshot(trading_active=False), TraderConfig(), {}, [], [])
    assert not halted.can_trade and halted.overall_status == OverallStatus.PAUSED


def test_drift_adopts_unknown_positions_drops_vanished_and_flags_foreign_orders() -> None:
    positions = [ExchangePosition(ticker="A-1", position_contracts=D(3), exposure_dollars=D("1.20"))]
    resting = [
        RestingOrder(
            order_id="o1",
            client_order_id="mine",
            ticker="A-1",
            side="yes",
            action="buy",
            price_dollars=D("0.30"),
            remaining_contracts=D(1),
        ),
        RestingOrder(
            order_id="o2",
            client_order_id="someone-else",
            ticker="A-1",
            side="yes",
            action="buy",
            price_dollars=D("0.30"),
            remaining_contracts=D(1),
        ),
    ]
    earlier = NOW - timedelta(hours=1)
    report, opened = build_report(
        snapshot(positions=positions, resting_orders=resting, pending_lookup={"p1": "executed", "p2": "missing"}),
        TraderConfig(),
        {"GONE-1": earlier},
        ["mine"],
        ["p1", "p2", "p3"],
    )
    assert opened == {"A-1": NOW}
    assert report.drift.unexpected_positions == ["A-1"]
    assert report.drift.vanished_positions == ["GONE-1"]
    assert report.drift.unknown_resting_orders == ["o2"]
    assert report.drift.confirmed_pending == ["p1"] and report.drift.missing_pending == ["p2"]
    assert report.drift.unresolved_pending == ["p3"], "an id the bounded lookup did not reach stays pending"
    assert [p.ticker for p in report.positions] == ["A-1"]


def test_the_traders_own_new_positions_are_adopted_but_not_drift() -> None:
    positions = [
        ExchangePosition(ticker="OWN-1", position_contracts=D(2), exposure_dollars=D("0.80")),
        ExchangePosition(ticker="ODD-1", position_contracts=D(-1), exposure_dollars=D("0.60")),
    ]
    report, opened = build_report(snapshot(positions=positions), TraderConfig(), {}, [], [], own_tickers=["OWN-1"])
    assert opened == {"OWN-1": NOW, "ODD-1": NOW}
    assert report.drift.unexpected_positions == ["ODD-1"]
