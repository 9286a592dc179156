"""Degraded mode's pure decisions: components and fallbacks, effective limits, health probes, transient failures,
the epoch's position drift, and the decision pipeline's closing-only check (hand-built inputs, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from kalshi.models.ws import MarketPositionUpdate
from kalshi.orderbook import TopOfBook
from models.market_data import MarketDataHealth
from models.trader import (
    BookTop,
    CalibrationSnapshot,
    DegradedSettings,
    EpochInput,
    EpochMarket,
    EpochSettings,
    ExchangePosition,
    ExitRules,
    HealthProbe,
    MarketSnapshot,
    OverallStatus,
    RiskLimits,
    TraderConfig,
)
from trading.live import baseline_policy
from trading.pipeline import BookUpdate, DecisionStep
from workflows.calibration import (
    FALLBACK_IDS,
    build_report,
    describe_mode,
    epoch_fallbacks,
    evaluate_probe,
    is_transient_failure,
    mode_limits,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HEALTHY_MD = MarketDataHealth(
    workflow_running=True,
    queue="kalshi-trader-host-1",
    connected=True,
    markets=["A-1"],
    books_trusted=1,
    private_channels=True,
    fill_channel=True,
    position_channel=True,
)


def market(ticker: str = "A-1", yes_bid: str = "0.40", no_bid: str = "0.55") -> MarketSnapshot:
    return MarketSnapshot(
        ticker=ticker,
        event_ticker=ticker.rsplit("-", 1)[0],
        status="active",
        open_time=NOW - timedelta(minutes=5),
        close_time=NOW + timedelta(minutes=10),
        book=BookTop(yes_bid_dollars=D(yes_bid), yes_bid_size=D(10), no_bid_dollars=D(no_bid), no_bid_size=D(10)),
    )


def snapshot(md: MarketDataHealth | None = HEALTHY_MD, **fields) -> CalibrationSnapshot:
    base = {
        "exchange_time": NOW,
        "duration_ms": 30,
        "exchange_active": True,
        "trading_active": True,
        "balance_cents": 500_000,
        "positions": [],
        "resting_orders": [],
        "settlements": [],
        "markets": [market()],
        "market_data": md,
    }
    base.update(fields)
    return CalibrationSnapshot(**base)


def report(config: TraderConfig | None = None, **fields):
    rep, _ = build_report(snapshot(**fields), config or TraderConfig(), {}, [], [])
    return rep


def md(**changes) -> MarketDataHealth:
    return HEALTHY_MD.model_copy(update=changes)


def test_each_stream_names_its_own_fallback() -> None:
    assert report().overall_status == OverallStatus.FULLY_OPERATIONAL
    down = report(md=md(connected=False, error="WebSocket unavailable (HTTP 503)"))
    assert down.overall_status == OverallStatus.DEGRADED and down.can_trade
    by_name = {c.name: c for c in down.components}
    assert {n: by_name[n].fallback_id for n in ("orderbook_ws", "fill_ws", "position_ws")} == {
        "orderbook_ws": "books_rest_polling",
        "fill_ws": "fills_order_status_polling",
        "position_ws": "positions_rest_sync",
    }
    assert "HTTP 503" in (by_name["orderbook_ws"].error or "")
    fills_only = report(md=md(fill_channel=False))
    assert [c.name for c in fills_only.components if not c.healthy] == ["fill_ws"]
    positions_only = report(md=md(position_channel=False))
    assert [c.name for c in positions_only.components if not c.healthy] == ["position_ws"]
    # A heartbeat from before the per-channel fields: private_channels stands for both.
    legacy = report(md=md(fill_channel=None, position_channel=None, private_channels=False))
    assert {c.name for c in legacy.components if not c.healthy} == {"fill_ws", "position_ws"}
    assert set(FALLBACK_IDS) >= {c.fallback_id for c in down.components if c.fallback_id}


def test_degraded_limits_are_capped_reserved_and_never_looser_than_normal() -> None:
    config = TraderConfig(
        risk=RiskLimits(max_position_contracts=D(80)),
        exits=ExitRules(cash_reserve_cents=10_000),
        degraded=DegradedSettings(max_position_contracts=D(50), min_cash_reserve_cents=100_000),
    )
    normal = mode_limits(report(config), config)
    assert (normal.mode, normal.max_position_contracts, normal.cash_reserve_cents) == ("fully_operational", 80, 10_000)
    assert normal.closing_only is None and normal.fallbacks == []
    degraded = mode_limits(report(config, md=md(position_channel=False)), config)
    assert (degraded.max_position_contracts, degraded.cash_reserve_cents) == (50, 100_000)
    assert degraded.closing_only is None
    assert [f.fallback for f in degraded.fallbacks] == ["positions_rest_sync"]
    # Never above the normal limit, never below the normal reserve.
    tight = config.model_copy(
        update={"risk": RiskLimits(max_position_contracts=D(20)), "exits": ExitRules(cash_reserve_cents=250_000)}
    )
    lim = mode_limits(report(tight, md=md(position_channel=False)), tight)
    assert (lim.max_position_contracts, lim.cash_reserve_cents) == (20, 250_000)


def test_closing_only_while_fills_are_blind_or_a_position_is_past_its_stop_loss() -> None:
    config = TraderConfig(exits=ExitRules(stop_loss_pct=D("0.10"), cash_reserve_cents=0))
    blind = mode_limits(report(config, md=md(fill_channel=False)), config)
    assert blind.closing_only == "the fill stream is blind (fill_ws down)"
    # 10 YES bought for $4.50, marked at 0.40: -11 % is past the 10 % stop-loss.
    losing = [ExchangePosition(ticker="A-1", position_contracts=D(10), exposure_dollars=D("4.50"))]
    past = mode_limits(report(config, md=md(position_channel=False), positions=losing), config)
    assert past.closing_only is not None and past.closing_only.startswith("A-1 is past its stop-loss (-11.1%)")
    assert (
        mode_limits(report(config, md=md(position_channel=False), positions=losing), config, ["A-1"]).closing_only
        is None
    )
    # Fully operational: the stop-loss rule closes it; entries elsewhere are not held back.
    assert mode_limits(report(config, positions=losing), config).closing_only is None
    off = config.model_copy(update={"degraded": DegradedSettings(closing_only_when_fills_blind=False)})
    assert mode_limits(report(off, md=md(fill_channel=False)), off).closing_only is None


def test_epoch_fallbacks_follow_the_streams_down() -> None:
    config = TraderConfig()
    all_down = mode_limits(report(config, md=md(connected=False)), config)
    fb = epoch_fallbacks(all_down, 30)
    assert fb is not None and fb.fills_by_order_polling and fb.positions_by_rest_sync and fb.refresh_s == 30
    assert epoch_fallbacks(mode_limits(report(config), config), 30) is None
    why = describe_mode(report(config, md=md(connected=False, error="HTTP 503")), all_down)
    assert why.startswith("degraded: orderbook_ws down (HTTP 503)")
    assert "fallbacks: books_rest_polling, fills_order_status_polling, positions_rest_sync" in why
    assert (
        "position cap 20, cash reserve $1,000.00" in why
    )  # min(50, the normal 20) and "closing only: the fill stream is blind" in why


def probe(**fields) -> HealthProbe:
    base = {"exchange_time": NOW, "duration_ms": 12, "exchange_active": True, "trading_active": True}
    base.update(fields)
    return HealthProbe(**base)


def test_a_probe_reports_what_changed_since_the_calibration() -> None:
    healthy = report()
    same = evaluate_probe(probe(market_data=HEALTHY_MD), healthy, NOW)
    assert same.changed is None and same.overall_status == "fully_operational" and same.can_trade
    lost = evaluate_probe(probe(market_data=md(connected=False, error="503")), healthy, NOW)
    assert lost.overall_status == "degraded"
    assert lost.changed is not None and lost.changed.startswith("mode fully_operational -> degraded")
    assert "orderbook_ws down (503)" in lost.changed
    degraded = report(md=md(connected=False))
    back = evaluate_probe(probe(market_data=HEALTHY_MD), degraded, NOW)
    assert back.changed == "mode degraded -> fully_operational; orderbook_ws recovered; fill_ws recovered; " + (
        "position_ws recovered"
    )
    outage = evaluate_probe(
        probe(errors={"exchange_status": "HTTP 503"}, error_status={"exchange_status": 503}, exchange_active=None),
        healthy,
        NOW,
    )
    assert outage.overall_status == "paused" and not outage.can_trade and "exchange_rest down" in (outage.changed or "")
    # Components the probe does not check (the REST order books here) keep their last health for the mode.
    books_down = report(errors={"orderbooks": "HTTP 500"}, error_status={"orderbooks": 500})
    assert books_down.overall_status == "degraded"
    assert evaluate_probe(probe(market_data=HEALTHY_MD), books_down, NOW).changed is None


@pytest.mark.parametrize(
    ("statuses", "transient"),
    [({"balance": 503}, True), ({"balance": 0, "exchange_status": 429}, True), ({"balance": 400}, False)],
)
def test_transient_failures_are_503s_429s_and_no_answer(statuses: dict[str, int], transient: bool) -> None:
    rep = report(errors=dict.fromkeys(statuses, "failed"), error_status=statuses)
    assert not rep.can_trade and is_transient_failure(rep) is transient


def test_a_paused_exchange_is_not_transient() -> None:
    rep = report(trading_active=False)
    assert not rep.can_trade and not is_transient_failure(rep)


def test_the_last_epochs_positions_are_compared_with_the_exchanges() -> None:
    held = [ExchangePosition(ticker="A-1", position_contracts=D(3), exposure_dollars=D("1.20"))]
    rep, _ = build_report(snapshot(positions=held), TraderConfig(), {}, [], [], epoch_positions={"A-1": D(4)})
    assert rep.drift.mismatched_positions == ["A-1: epoch +4, exchange +3"] and rep.drift.has_drift
    rep, _ = build_report(snapshot(positions=held), TraderConfig(), {}, [], [], epoch_positions={"A-1": D(3)})
    assert rep.drift.mismatched_positions == []
    flat, _ = build_report(snapshot(positions=[]), TraderConfig(), {}, [], [], epoch_positions={"A-1": D(0)})
    assert flat.drift.mismatched_positions == []


def epoch_input(closing_only: str | None) -> EpochInput:
    return EpochInput(
        epoch_id="t:1",
        deadline=NOW + timedelta(minutes=1),
        markets=[EpochMarket(ticker="A-1", close_time=NOW + timedelta(minutes=10))],
        balance_cents=500_000,
        risk=RiskLimits(
            order_size_contracts=D(1),
            max_spread_dollars=D("0.99"),
            per_market_throttle_ms=0,
            max_entry_price_dollars=D("0.99"),
        ),
        exits=ExitRules(market_closing_window_s=60, cash_reserve_cents=0),
        settings=EpochSettings(imbalance_threshold=D(0)),
        closing_only=closing_only,
    )


def update(yes_lots: int, no_lots: int) -> BookUpdate:
    """YES bid 0.40 x ``yes_lots``, NO bid 0.58 x ``no_lots`` (YES ask 0.42), ten minutes before the close."""
    top = TopOfBook(4_000, yes_lots, 4_200, no_lots)
    now_ms = int(NOW.timestamp() * 1000)
    return BookUpdate("A-1", top, now_ms, now_ms + 600_000, 0.0)


def step(closing_only: str | None) -> DecisionStep:
    inp = epoch_input(closing_only)
    return DecisionStep(inp, baseline_policy("imbalance", inp.settings, inp.risk), fills_from_acks=True)


def test_closing_only_refuses_what_opens_or_adds_and_lets_reductions_go() -> None:
    pipe = step("the fill stream is blind (fill_ws down)")
    entry = pipe.decide(update(3_000, 1_000))  # imbalance toward YES: BUY_YES while flat
    assert entry is not None and (entry.action, entry.intent, entry.reject) == ("BUY_YES_TAKE", None, "closing_only")
    pipe.reset({"A-1": D(-3)}, 500_000)  # short 3 (NO): the rule sells NO, which reduces it
    reduce = pipe.decide(update(3_000, 1_000))
    assert reduce is not None and reduce.intent is not None and reduce.reject is None
    assert (reduce.intent.side, reduce.intent.action, reduce.intent.reduce_only) == ("no", "sell", True)
    pipe.reset({"A-1": D(3)}, 500_000)  # long 3 (YES): the rule would buy more YES: refused
    adds = pipe.decide(update(3_000, 1_000))
    assert adds is not None and adds.reject == "closing_only"
    free = step(None).decide(update(3_000, 1_000))
    assert free is not None and free.intent is not None


def test_fills_from_acks_ignore_the_streams_so_nothing_counts_twice() -> None:
    pipe = step(None)
    pipe.reset({"A-1": D(2)}, 500_000)
    pipe.position_frame(MarketPositionUpdate(market_ticker="A-1", position_lots=300))
    assert pipe.positions["A-1"] == D(2)
    pipe.sync({"A-1": D(1)}, 400_000)  # degraded mode's REST sync replaces positions and cash
    assert pipe.positions["A-1"] == D(1) and pipe.portfolio.cash_micro == 400_000 * 10_000
