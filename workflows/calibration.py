"""Turn a raw calibration snapshot into a :class:`CalibrationReport` (pure, deterministic).

The ``calibration_snapshot`` activity runs the exchange checks in parallel and returns facts; this
module decides what they mean (ARCHITECTURE.md "Workflows" - calibration):

* components: ``exchange_rest`` (critical: exchange status and market discovery), ``order_tracking``
  (critical: balance, positions, resting orders), ``market_data`` (optional: REST order books;
  fallback: no new entries, closes price from the last book), ``settlements`` (optional: fallback:
  settlement reconciliation deferred), ``order_group`` (optional: fallback: entries rely on the
  per-market throttle and position limits only), and when WebSocket market data is on,
  ``orderbook_ws`` (optional: fallback: order books by batched REST polling, the REST polling epoch),
  ``fill_ws`` (optional: fallback: fills from order acknowledgements confirmed by order-status polling)
  and ``position_ws`` (optional: fallback: positions and cash by REST sync); each unhealthy optional
  component names its fallback in words and as a stable id (:data:`_FALLBACKS`);
* ``overall_status``: ``paused`` if a critical component is down, ``degraded`` if an optional one
  is, else ``fully_operational``; ``can_trade`` = no critical component down and the exchange's
  trading is active; a critical failure that is only transient (429, 502-504, no answer) is marked so;
* degraded mode (:func:`mode_limits`, :func:`epoch_fallbacks`, :func:`describe_mode`): the EFFECTIVE limits
  and the fallbacks the workflow hands the epoch; health probes between calibrations
  (:func:`evaluate_probe`);
* market viability: active, not within the closing window, and quoted on both sides;
* portfolio health (stuck = cannot be sold now, losing = negative P&L), cash flow vs reserve, and
  drift between the positions the trader tracked and those the exchange reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from models.market_data import MarketDataHealth
from models.trader import (
    ActiveFallback,
    CalibrationReport,
    CalibrationSnapshot,
    CashFlow,
    ComponentCategory,
    ComponentHealth,
    Drift,
    EpochFallbacks,
    ExchangePosition,
    HealthProbe,
    MarketSnapshot,
    MarketViability,
    ModeLimits,
    OverallStatus,
    PortfolioHealth,
    PositionView,
    ProbeResult,
    TraderConfig,
    build_position_views,
    is_sellable,
)

_FALLBACKS: dict[str, tuple[str, str]] = {
    # component -> (fallback id: a metric label, what the trader does instead)
    "market_data": ("closes_from_last_book", "no new entries; closes price from the last book read"),
    "settlements": ("settlements_deferred", "settlement reconciliation deferred to the next calibration"),
    "order_group": ("throttle_and_limits_only", "entries rely on the per-market throttle and position limits only"),
    "orderbook_ws": (
        "books_rest_polling",
        "order books by batched REST polling (GET /markets/orderbooks every poll interval)",
    ),
    "fill_ws": (
        "fills_order_status_polling",
        "fills from order acknowledgements, confirmed by order-status polling (GET /portfolio/orders); "
        "no new positions while blind",
    ),
    "position_ws": (
        "positions_rest_sync",
        "positions and cash by REST sync (GET /portfolio/positions and /portfolio/balance)",
    ),
}

FALLBACK_IDS: tuple[str, ...] = tuple(fid for fid, _ in _FALLBACKS.values())
"""Every fallback's stable identifier (the ``fallback`` label of ``kalshi_trader_fallback_active``)."""

TRANSIENT_STATUSES = frozenset({0, 429, 502, 503, 504})
"""HTTP statuses (0: no answer) after which repeating the same call at once may well succeed."""

_CHECKS_BY_COMPONENT: dict[str, tuple[ComponentCategory, tuple[str, ...]]] = {
    "exchange_rest": (ComponentCategory.CRITICAL, ("exchange_status", "markets")),
    "order_tracking": (ComponentCategory.CRITICAL, ("balance", "positions", "resting_orders")),
    "market_data": (ComponentCategory.OPTIONAL, ("orderbooks",)),
    "settlements": (ComponentCategory.OPTIONAL, ("settlements",)),
    "order_group": (ComponentCategory.OPTIONAL, ("order_group",)),
}

_PROBED_CHECKS: dict[str, tuple[ComponentCategory, tuple[str, ...]]] = {
    "exchange_rest": (ComponentCategory.CRITICAL, ("exchange_status",)),
    "order_tracking": (ComponentCategory.CRITICAL, ("balance",)),
}


def build_report(
    snapshot: CalibrationSnapshot,
    config: TraderConfig,
    opened_at: dict[str, datetime],
    known_client_order_ids: Iterable[str],
    pending_client_order_ids: Iterable[str],
    own_tickers: Iterable[str] = (),
    epoch_positions: Mapping[str, Decimal] | None = None,
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
        epoch_positions: the last epoch's own view of the positions at its end (signed contracts), compared
            with the exchange's into ``drift.mismatched_positions``; None: no comparison.

    Returns:
        The report, and the reconciled ``opened_at`` map (new positions adopted at the snapshot
        time, vanished ones dropped) - the drift correction the workflow stores.

    """
    now = snapshot.exchange_time
    components = _components(snapshot)
    overall = _overall(components)
    can_trade = overall != OverallStatus.PAUSED and snapshot.trading_active is True

    markets = {m.ticker: m for m in snapshot.markets or []}
    viability = [
        _viability(m, now, config.exits.market_closing_window_s)
        for m in sorted(markets.values(), key=lambda m: m.ticker)
    ]

    new_opened, drift = _reconcile(
        snapshot, opened_at, known_client_order_ids, pending_client_order_ids, now, set(own_tickers)
    )
    drift.mismatched_positions = position_mismatches(epoch_positions, snapshot.positions)
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


def _ws_components(md: MarketDataHealth | None, error: str | None) -> list[ComponentHealth]:
    """``orderbook_ws``, ``fill_ws``, ``position_ws`` from the ingestion heartbeat (when checked).

    Args:
        md: what ``locate_market_data`` found (None when the check failed or was not made).
        error: the ``market_data_ws`` check's error, if it failed.
    """
    if md is None and error is None:
        return []
    if md is None:
        problem: str | None = error
    elif not md.workflow_running or md.queue is None:
        problem = md.error or "no ingestion running"
    elif not md.connected:
        problem = md.error or "WebSocket disconnected"
    else:
        problem = None
    books = None
    if problem is None and md is not None and md.markets and md.books_trusted == 0:
        books = f"no trusted order book yet ({md.books_untrusted} awaiting a snapshot)"
    age = md.heartbeat_age_s if md is not None and md.heartbeat_age_s is not None else 0.0
    latency = round(age * 1000)

    def channel(subscribed: bool | None) -> str | None:
        if problem is not None:
            return problem
        assert md is not None
        active = md.private_channels if subscribed is None else subscribed
        return None if active else "not subscribed (channel down or refused)"

    assert md is not None or problem is not None
    return [
        _optional("orderbook_ws", problem or books, latency),
        _optional("fill_ws", channel(md.fill_channel if md is not None else None), latency),
        _optional("position_ws", channel(md.position_channel if md is not None else None), latency),
    ]


def _optional(name: str, error: str | None, latency_ms: int) -> ComponentHealth:
    fallback_id, fallback = _FALLBACKS[name] if error is not None else (None, None)
    return ComponentHealth(
        name=name,
        category=ComponentCategory.OPTIONAL,
        healthy=error is None,
        latency_ms=latency_ms,
        error=error,
        fallback=fallback,
        fallback_id=fallback_id,
    )


def _rest_components(
    checks_by_component: dict[str, tuple[ComponentCategory, tuple[str, ...]]],
    errors: dict[str, str],
    error_status: dict[str, int],
    latency_ms: dict[str, int],
    exchange_active: bool | None,
    trading_active: bool | None,
) -> list[ComponentHealth]:
    out: list[ComponentHealth] = []
    for name, (category, checks) in checks_by_component.items():
        failed = [c for c in checks if c in errors]
        messages = [f"{c}: {errors[c]}" for c in failed]
        transient = bool(failed) and all(error_status.get(c, -1) in TRANSIENT_STATUSES for c in failed)
        if name == "exchange_rest" and not messages:
            if exchange_active is False:
                messages.append("exchange is not active")
            elif trading_active is False:
                messages.append("trading is paused at the exchange")
        latency = max((latency_ms.get(c, 0) for c in checks), default=0)
        healthy = not messages
        fallback_id, fallback = (
            _FALLBACKS.get(name, (None, None))
            if not healthy and category == ComponentCategory.OPTIONAL
            else (None, None)
        )
        out.append(
            ComponentHealth(
                name=name,
                category=category,
                healthy=healthy,
                latency_ms=latency,
                error="; ".join(messages) if messages else None,
                fallback=fallback,
                fallback_id=fallback_id,
                transient=transient,
            )
        )
    return out


def _components(snapshot: CalibrationSnapshot) -> list[ComponentHealth]:
    rest = _rest_components(
        _CHECKS_BY_COMPONENT,
        snapshot.errors,
        snapshot.error_status,
        snapshot.check_latency_ms,
        snapshot.exchange_active,
        snapshot.trading_active,
    )
    return rest + _ws_components(snapshot.market_data, snapshot.errors.get("market_data_ws"))


def _overall(components: Iterable[ComponentHealth]) -> OverallStatus:
    down = [c for c in components if not c.healthy]
    if any(c.category == ComponentCategory.CRITICAL for c in down):
        return OverallStatus.PAUSED
    return OverallStatus.DEGRADED if down else OverallStatus.FULLY_OPERATIONAL


def is_transient_failure(report: CalibrationReport) -> bool:
    """Whether the report cannot trade only because of transient failures of critical components.

    True when at least one critical component is down and every critical component that is down failed with
    a transient status only (HTTP 429, 502, 503, 504, or no answer); an exchange that reports itself paused or
    inactive is not transient (it answered).
    """
    down = [c for c in report.components if c.category == ComponentCategory.CRITICAL and not c.healthy]
    return bool(down) and all(c.transient for c in down)


def evaluate_probe(probe: HealthProbe, last: CalibrationReport | None, at: datetime) -> ProbeResult:
    """What a health probe means next to the last calibration (pure).

    The probed components (``exchange_rest`` from the exchange status, ``order_tracking`` from the balance, and
    the market-data streams when they were checked) are compared with the same components of ``last``; the
    components not probed keep their last health for the mode.

    Args:
        probe: the ``health_probe`` activity's result.
        last: the last calibration report (None: anything probed counts as a change).
        at: the workflow time of the probe.

    Returns:
        The probed components, the mode they imply, ``can_trade``, and ``changed``: why the trader should
        recalibrate now (a component recovered or went down, or the mode differs), None when nothing changed.
    """
    probed = _rest_components(
        _PROBED_CHECKS, probe.errors, probe.error_status, {}, probe.exchange_active, probe.trading_active
    )
    probed += _ws_components(probe.market_data, probe.errors.get("market_data_ws"))
    names = {c.name for c in probed}
    kept = [c for c in (last.components if last is not None else []) if c.name not in names]
    overall = _overall([*probed, *kept])
    can_trade = overall != OverallStatus.PAUSED and probe.trading_active is True
    before = {c.name: c for c in last.components} if last is not None else {}
    changes: list[str] = []
    for c in probed:
        old = before.get(c.name)
        if old is None or old.healthy == c.healthy:
            continue
        changes.append(f"{c.name} recovered" if c.healthy else f"{c.name} down ({c.error})")
    if last is None or overall != last.overall_status:
        was = last.overall_status.value if last is not None else "unknown"
        changes.insert(0, f"mode {was} -> {overall.value}")
    return ProbeResult(
        at=at,
        duration_ms=probe.duration_ms,
        components=probed,
        overall_status=overall,
        can_trade=can_trade,
        changed="; ".join(changes) or None,
    )


def active_fallbacks(report: CalibrationReport) -> list[ActiveFallback]:
    """The fallbacks in force: one per unhealthy optional component that has one."""
    return [
        ActiveFallback(component=c.name, fallback=c.fallback_id, description=c.fallback or c.fallback_id)
        for c in report.components
        if not c.healthy and c.category == ComponentCategory.OPTIONAL and c.fallback_id is not None
    ]


def mode_limits(report: CalibrationReport, config: TraderConfig, closed: Iterable[str] = ()) -> ModeLimits:
    """The EFFECTIVE limits the epoch trades with in the report's mode (docs/architecture.md "Degraded mode").

    Fully operational: the configured limits. Degraded: the position cap is
    ``min(degraded.max_position_contracts, risk.max_position_contracts)`` (never above the normal limit), the
    cash reserve ``max(degraded.min_cash_reserve_cents, exits.cash_reserve_cents)``, and closing only (no new
    position, no addition to one) while the fill stream is blind or a held position is past its stop-loss.

    Args:
        report: this cycle's calibration.
        config: the trader's configuration (risk, exits, degraded settings).
        closed: markets whose position this cycle's closes flattened (no longer held).

    Returns:
        The mode, the effective cap and reserve, the closing-only reason (None: entries allowed) and the
        fallbacks in force.
    """
    risk, exits, degraded = config.risk, config.exits, config.degraded
    if report.overall_status != OverallStatus.DEGRADED:
        return ModeLimits(
            mode=report.overall_status,
            max_position_contracts=risk.max_position_contracts,
            cash_reserve_cents=exits.cash_reserve_cents,
        )
    reasons: list[str] = []
    down = {c.name for c in report.components if not c.healthy}
    if degraded.closing_only_when_fills_blind and "fill_ws" in down:
        reasons.append("the fill stream is blind (fill_ws down)")
    if degraded.closing_only_past_stop_loss:
        gone = set(closed)
        past = [
            p
            for p in report.positions
            if p.ticker not in gone and p.pnl_pct is not None and p.pnl_pct <= -exits.stop_loss_pct
        ]
        reasons += [f"{p.ticker} is past its stop-loss ({p.pnl_pct * 100:+.1f}%)" for p in past if p.pnl_pct]
    return ModeLimits(
        mode=report.overall_status,
        max_position_contracts=min(degraded.max_position_contracts, risk.max_position_contracts),
        cash_reserve_cents=max(degraded.min_cash_reserve_cents, exits.cash_reserve_cents),
        closing_only="; ".join(reasons) or None,
        fallbacks=active_fallbacks(report),
    )


def epoch_fallbacks(limits: ModeLimits, refresh_s: float) -> EpochFallbacks | None:
    """The REST fallbacks the epoch refreshes itself in this mode (None when none)."""
    ids = {f.fallback for f in limits.fallbacks}
    fallbacks = EpochFallbacks(
        fills_by_order_polling=_FALLBACKS["fill_ws"][0] in ids,
        positions_by_rest_sync=_FALLBACKS["position_ws"][0] in ids,
        refresh_s=refresh_s,
    )
    return fallbacks if fallbacks.any else None


def describe_mode(report: CalibrationReport, limits: ModeLimits | None) -> str:
    """Why the trader is in the report's mode, in the operator's words (a status-history entry).

    Example: ``degraded: orderbook_ws down (WebSocket unavailable (HTTP 503)); fallbacks: books_rest_polling,
    ...; position cap 50, cash reserve $1,000.00; closing only: the fill stream is blind (fill_ws down)``.
    """
    down = [c for c in report.components if not c.healthy]
    mode = report.overall_status.value
    if not down:
        if report.overall_status == OverallStatus.PAUSED:
            return f"{mode}: the exchange cannot trade now"
        return f"{mode}: every component healthy"
    parts = [f"{mode}: " + "; ".join(f"{c.name} down ({c.error})" if c.error else f"{c.name} down" for c in down)]
    if limits is not None and report.overall_status == OverallStatus.DEGRADED:
        if limits.fallbacks:
            parts.append("fallbacks: " + ", ".join(f.fallback for f in limits.fallbacks))
        reserve = Decimal(limits.cash_reserve_cents) / 100
        parts.append(f"position cap {limits.max_position_contracts}, cash reserve ${reserve:,.2f}")
        if limits.closing_only:
            parts.append(f"closing only: {limits.closing_only}")
    return "; ".join(parts)


def position_mismatches(
    epoch_positions: Mapping[str, Decimal] | None, exchange: Iterable[ExchangePosition] | None
) -> list[str]:
    """Markets where the last epoch's view of the position differs from the exchange's (``Drift``).

    Args:
        epoch_positions: the last epoch's signed positions at its end (None: no epoch view).
        exchange: the exchange's positions at this calibration (None: unreadable).
    """
    if epoch_positions is None or exchange is None:
        return []
    actual = {p.ticker: p.position_contracts for p in exchange}
    out = []
    for ticker in sorted(set(epoch_positions) | set(actual)):
        believed, held = epoch_positions.get(ticker, Decimal(0)), actual.get(ticker, Decimal(0))
        if ticker in epoch_positions and believed != held:
            out.append(f"{ticker}: epoch {believed:+}, exchange {held:+}")
    return out


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
