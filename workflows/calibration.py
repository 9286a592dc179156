"""Turn a raw calibration snapshot into a :class:`CalibrationReport` (pure, deterministic).

The ``calibration_snapshot`` activity runs the exchange checks in parallel and returns facts; this
module decides what they mean (ARCHITECTURE.md "Workflows" - calibration):

* components: ``exchange_rest`` (critical: exchange status and market discovery), ``order_tracking``
  (critical: balance, positions, resting orders), ``market_data`` (optional: REST order books;
  fallback: no new entries, closes price from the last book), ``settlements`` (optional: fallback:
  settlement reconciliation deferred), ``order_group`` (optional: fallback: entries rely on the
  per-market throttle and position limits only), and when WebSocket market data is on,
  ``orderbook_ws`` (optional: fallback: the REST polling epoch), ``fill_ws`` and ``position_ws``
  (optional: fallback: positions and cash from REST at calibration and from order acknowledgements);
* ``overall_status``: ``paused`` if a critical component is down, ``degraded`` if an optional one
  is, else ``fully_operational``; ``can_trade`` = no critical component down and the exchange's
  trading is active;
* market viability: active, not within the closing window, and quoted on both sides;
* portfolio health (stuck = cannot be sold now, losing = negative P&L), cash flow vs reserve, and
  drift between the positions the trader tracked and those the exchange reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from models.trader import (
    CalibrationReport,
    CalibrationSnapshot,
    CashFlow,
    ComponentCategory,
    ComponentHealth,
    Drift,
    MarketSnapshot,
    MarketViability,
    OverallStatus,
    PortfolioHealth,
    PositionView,
    TraderConfig,
    build_position_views,
    is_sellable,
)

_FALLBACKS = {
    "market_data": "no new entries; closes price from the last book read",
    "settlements": "settlement reconciliation deferred to the next calibration",
    "order_group": "entries rely on the per-market throttle and position limits only",
    "orderbook_ws": "the trading epoch polls order books over REST",
    "portfolio_ws": "positions and cash from REST at calibration and from order acknowledgements",
}

_CHECKS_BY_COMPONENT: dict[str, tuple[ComponentCategory, tuple[str, ...]]] = {
    "exchange_rest": (ComponentCategory.CRITICAL, ("exchange_status", "markets")),
    "order_tracking": (ComponentCategory.CRITICAL, ("balance", "positions", "resting_orders")),
    "market_data": (ComponentCategory.OPTIONAL, ("orderbooks",)),
    "settlements": (ComponentCategory.OPTIONAL, ("settlements",)),
    "order_group": (ComponentCategory.OPTIONAL, ("order_group",)),
}


def build_report(
    snapshot: CalibrationSnapshot,
    config: TraderConfig,
    opened_at: dict[str, datetime],
    known_client_order_ids: Iterable[str],
    pending_client_order_ids: Iterable[str],
    own_tickers: Iterable[str] = (),
) -> tuple[CalibrationReport, dict[str, datetime]]:
    """Evaluate a snapshot.

    Args:
        snapshot: the activity's raw result (exchange clock in ``exchange_time``).
        config: thresholds (closing window, cash reserve).
        opened_at: when the trader first saw each tracked position (exchange clock).
        known_client_order_ids: client order ids this trader issued (recent tail); resting orders
            with other ids are reported as unknown.
        pending_client_order_ids: ids whose outcome was unknown; resolved with
            ``snapshot.pending_lookup``.
        own_tickers: markets where the trader's own last epoch filled orders: a position that appears
            there is adopted like any other but not reported as ``unexpected_positions``.

    Returns:
        The report, and the reconciled ``opened_at`` map (new positions adopted at the snapshot
        time, vanished ones dropped) - the drift correction the workflow stores.

    """
    now = snapshot.exchange_time
    components = _components(snapshot)
    critical_down = [c for c in components if c.category == ComponentCategory.CRITICAL and not c.healthy]
    optional_down = [c for c in components if c.category == ComponentCategory.OPTIONAL and not c.healthy]
    if critical_down:
        overall = OverallStatus.PAUSED
    elif optional_down:
        overall = OverallStatus.DEGRADED
    else:
        overall = OverallStatus.FULLY_OPERATIONAL
    can_trade = not critical_down and snapshot.trading_active is True

    markets = {m.ticker: m for m in snapshot.markets or []}
    viability = [
        _viability(m, now, config.exits.market_closing_window_s)
        for m in sorted(markets.values(), key=lambda m: m.ticker)
    ]

    new_opened, drift = _reconcile(
        snapshot, opened_at, known_client_order_ids, pending_client_order_ids, now, set(own_tickers)
    )
    views = (
        build_position_views(snapshot.positions or [], markets, new_opened, now)
        if snapshot.positions is not None
        else []
    )

    report = CalibrationReport(
        at=now,
        duration_ms=snapshot.duration_ms,
        components=components,
        overall_status=overall,
        can_trade=can_trade,
        markets=viability,
        viable_markets=[v.ticker for v in viability if v.viable],
        positions=views,
        portfolio=_portfolio(views),
        cash_flow=_cash(snapshot.balance_cents, config.exits.cash_reserve_cents),
        drift=drift,
        settlements=snapshot.settlements or [],
        resting_orders=snapshot.resting_orders or [],
        errors=dict(snapshot.errors),
        order_group_exists=snapshot.order_group_exists,
        order_group_triggered=snapshot.order_group_triggered,
        market_data=snapshot.market_data,
        exchange_active=snapshot.exchange_active,
        trading_active=snapshot.trading_active,
    )
    return report, new_opened


def _ws_components(snapshot: CalibrationSnapshot) -> list[ComponentHealth]:
    """``orderbook_ws``, ``fill_ws``, ``position_ws`` from the ingestion heartbeat (when checked)."""
    md = snapshot.market_data
    if md is None and "market_data_ws" not in snapshot.errors:
        return []
    if md is None:
        problem: str | None = snapshot.errors["market_data_ws"]
    elif not md.workflow_running or md.queue is None:
        problem = md.error or "no ingestion running"
    elif not md.connected:
        problem = md.error or "WebSocket disconnected"
    else:
        problem = None
    books = None
    if problem is None and md is not None and md.markets and md.books_trusted == 0:
        books = f"no trusted order book yet ({md.books_untrusted} awaiting a snapshot)"
    private = None if problem is None and md is not None and md.private_channels else (problem or "not subscribed")
    age = md.heartbeat_age_s if md is not None and md.heartbeat_age_s is not None else 0.0
    latency = round(age * 1000)
    return [
        ComponentHealth(
            name="orderbook_ws",
            category=ComponentCategory.OPTIONAL,
            healthy=problem is None and books is None,
            latency_ms=latency,
            error=problem or books,
            fallback=None if problem is None and books is None else _FALLBACKS["orderbook_ws"],
        ),
        *(
            ComponentHealth(
                name=name,
                category=ComponentCategory.OPTIONAL,
                healthy=private is None,
                latency_ms=latency,
                error=private,
                fallback=None if private is None else _FALLBACKS["portfolio_ws"],
            )
            for name in ("fill_ws", "position_ws")
        ),
    ]


def _components(snapshot: CalibrationSnapshot) -> list[ComponentHealth]:
    out: list[ComponentHealth] = []
    for name, (category, checks) in _CHECKS_BY_COMPONENT.items():
        errors = [f"{c}: {snapshot.errors[c]}" for c in checks if c in snapshot.errors]
        if name == "exchange_rest" and not errors:
            if snapshot.exchange_active is False:
                errors.append("exchange is not active")
            elif snapshot.trading_active is False:
                errors.append("trading is paused at the exchange")
        latency = max((snapshot.check_latency_ms.get(c, 0) for c in checks), default=0)
        healthy = not errors
        out.append(
            ComponentHealth(
                name=name,
                category=category,
                healthy=healthy,
                latency_ms=latency,
                error="; ".join(errors) if errors else None,
                fallback=None if healthy else _FALLBACKS.get(name),
            )
        )
    return out + _ws_components(snapshot)


def _viability(market: MarketSnapshot, now: datetime, closing_window_s: float) -> MarketViability:
    reasons: list[str] = []
    seconds_to_close = (market.close_time - now).total_seconds() if market.close_time else None
    if market.status not in ("active", "open"):
        reasons.append(f"not_open:{market.status}")
    if seconds_to_close is not None and seconds_to_close < closing_window_s:
        reasons.append(f"closing_in:{max(seconds_to_close, 0):.0f}s")
    book = market.book
    if book is None:
        reasons.append("no_book")
    elif book.yes_bid_dollars is None or book.no_bid_dollars is None:
        reasons.append("no_quote")
    return MarketViability(
        ticker=market.ticker,
        viable=not reasons,
        reasons=reasons,
        seconds_to_close=seconds_to_close,
        close_time=market.close_time,
        book=book,
    )


def _reconcile(
    snapshot: CalibrationSnapshot,
    opened_at: dict[str, datetime],
    known_ids: Iterable[str],
    pending_ids: Iterable[str],
    now: datetime,
    own_tickers: set[str],
) -> tuple[dict[str, datetime], Drift]:
    if snapshot.positions is None:
        # Positions unreadable: keep what we had, report nothing as drift.
        return dict(opened_at), Drift()
    held = {p.ticker for p in snapshot.positions if p.position_contracts != 0}
    new = sorted(held - opened_at.keys())
    unexpected = [t for t in new if t not in own_tickers]
    vanished = sorted(opened_at.keys() - held)
    new_opened = {t: at for t, at in opened_at.items() if t in held}
    for ticker in new:
        new_opened[ticker] = now
    known = set(known_ids)
    resting = snapshot.resting_orders or []
    unknown_resting = sorted(o.order_id for o in resting if o.client_order_id not in known)
    pending = list(pending_ids)
    lookup = snapshot.pending_lookup
    if lookup is None:
        confirmed: list[str] = []
        missing: list[str] = []
        unresolved = pending
    else:
        # An id the activity did not get to (it looks up a bounded number per calibration) stays pending.
        confirmed = [p for p in pending if lookup.get(p, "missing") != "missing"]
        missing = [p for p in pending if lookup.get(p) == "missing"]
        unresolved = [p for p in pending if p not in lookup]
        confirmed = [p for p in confirmed if p in lookup]
    drift = Drift(
        unexpected_positions=unexpected,
        vanished_positions=vanished,
        unknown_resting_orders=unknown_resting,
        confirmed_pending=confirmed,
        missing_pending=missing,
        unresolved_pending=unresolved,
        corrected=bool(unexpected or vanished),
    )
    return dict(sorted(new_opened.items())), drift


def _portfolio(views: list[PositionView]) -> PortfolioHealth:
    health = PortfolioHealth(positions=len(views))
    for v in views:
        health.total_exposure_dollars += v.exposure_dollars
        if v.market_value_dollars is not None:
            health.total_market_value_dollars += v.market_value_dollars
        if v.unrealized_pnl_dollars is not None:
            health.unrealized_pnl_dollars += v.unrealized_pnl_dollars
            if v.unrealized_pnl_dollars < 0:
                health.losing.append(v.ticker)
        if not is_sellable(v):
            health.stuck.append(v.ticker)
    return health


def _cash(balance_cents: int | None, reserve_cents: int) -> CashFlow:
    if balance_cents is None:
        return CashFlow(balance_cents=None, reserve_cents=reserve_cents, sufficient=False, shortfall_cents=0)
    shortfall = max(reserve_cents - balance_cents, 0)
    return CashFlow(
        balance_cents=balance_cents,
        reserve_cents=reserve_cents,
        sufficient=shortfall == 0,
        shortfall_cents=shortfall,
    )
