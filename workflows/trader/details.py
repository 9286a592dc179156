"""What the trader shows the operator: the Web UI's status table and the pause reason, in plain words."""

from __future__ import annotations

from decimal import Decimal

from models.trader import (
    CalibrationReport,
    CarriedState,
    ComponentCategory,
    OverallStatus,
    PositionView,
    TraderConfig,
)


def render_details(config: TraderConfig, s: CarriedState) -> str:
    """Markdown status table for the Web UI (``workflow.set_current_details``)."""
    cal = s.last_calibration
    lines = [
        f"**Kalshi trader ({config.environment.value})** - state `{s.state.value}`"
        + (f" ({s.pause_reason})" if s.pause_reason else ""),
        "",
        "| field | value |",
        "|---|---|",
        f"| mode | {s.mode.value if s.mode else 'unknown'} |",
        f"| in this mode since | {f'{s.mode_since:%Y-%m-%d %H:%M:%S} UTC' if s.mode_since else 'n/a'} |",
        f"| cycle / generation | {s.cycle} / {s.generation} |",
        f"| recalibration interval | {config.recalibration_interval_s:g} s |",
        f"| cash | {_cents(cal.cash_flow.balance_cents) if cal else 'n/a'}"
        f" (reserve {_cents(config.exits.cash_reserve_cents)}) |",
        f"| last calibration | {cal.overall_status.value + f' in {cal.duration_ms} ms' if cal else 'n/a'} |",
        f"| viable markets | {', '.join(cal.viable_markets) if cal and cal.viable_markets else 'none'} |",
        f"| policy | {_policy_line(config, s)} |",
        f"| order group | {s.order_group_id or 'none'} |",
        f"| orders placed / closes | {s.orders_placed_total} / {s.closes_total} |",
        f"| realised P&L of closes (session) | {_dollars(s.realized_pnl_dollars)} after "
        f"${s.close_fees_dollars:,.2f} fees |",
        f"| realised P&L of trades / settlements (session) | {_dollars(s.trading_realized_pnl_dollars)} after "
        f"${s.trading_fees_dollars:,.2f} fees / {_dollars(s.settlement_pnl_dollars)} |",
    ]
    lim = s.limits
    if lim is not None and lim.mode == OverallStatus.DEGRADED:
        lines.append(
            f"| degraded limits | position cap {lim.max_position_contracts} contracts, cash reserve "
            f"{_cents(lim.cash_reserve_cents)} |"
        )
        lines.append(f"| new positions | {'no: ' + lim.closing_only if lim.closing_only else 'allowed'} |")
    if cal is not None:
        down = [c for c in cal.components if not c.healthy]
        if down:
            lines.append(
                "| components down | "
                + "; ".join(f"{d.name} ({d.category.value}): {d.error or 'down'}" for d in down)
                + " |"
            )
        for comp in down:
            if comp.fallback:
                lines.append(f"| fallback for {comp.name} | {comp.fallback_id}: {comp.fallback} |")
    if s.last_probe is not None:
        probe = s.last_probe
        mode = probe.overall_status.value if probe.overall_status else "?"
        outcome = probe.failed or probe.changed or f"no change ({mode})"
        lines.append(f"| last health probe | {probe.at:%H:%M:%S} UTC: {outcome} |")
    if s.pending_orders:
        lines.append(f"| orders of unknown outcome | {len(s.pending_orders)} (looked up at each calibration) |")
    if s.stop_outcome:
        lines.append(f"| stop | {s.stop_outcome} |")
    if s.last_epoch:
        e = s.last_epoch
        decisions = ", ".join(f"{k} {v}" for k, v in sorted(e.decisions.items())) or "none"
        counts = f"{e.updates_seen} updates, {e.orders_placed} orders"
        lines.append(f"| last epoch | {e.driver}, {e.ended_by}: {counts}, {decisions} |")
    if cal and cal.positions:
        lines += [
            "",
            "| position | side | contracts | avg cost | mark | unrealised P&L | realised P&L (closes) |",
            "|---|---|---|---|---|---|---|",
        ]
        for p in cal.positions:
            pnl = (
                f"{p.unrealized_pnl_dollars:+.2f} ({p.pnl_pct * 100:+.1f}%)"
                if p.pnl_pct is not None and p.unrealized_pnl_dollars is not None
                else "n/a"
            )
            mark = p.mark_dollars if p.mark_dollars is not None else "n/a"
            realized = s.realized_pnl_by_ticker.get(p.ticker)
            lines.append(
                f"| {p.ticker} | {p.side} | {p.contracts} | {p.avg_cost_dollars:.4f} | {mark} | {pnl} | "
                f"{_dollars(realized) if realized is not None else 'n/a'} |"
            )
    if s.recent_closes:
        lines += [
            "",
            "| close | ticker | status | contracts | avg price | fees | realised P&L |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in s.recent_closes[-5:]:
            avg = c.average_price_dollars or "n/a"
            pnl = _dollars(c.realized_pnl_dollars) if c.realized_pnl_dollars is not None else "n/a"
            lines.append(
                f"| {c.tag} | {c.ticker} | {c.status.value} | {c.closed_contracts}/{c.requested_contracts} | {avg} "
                f"| ${c.fees_dollars:,.2f} | {pnl} |"
            )
    return "\n".join(lines)


def _policy_line(config: TraderConfig, s: CarriedState) -> str:
    """The configured policy, and what the last epoch ran when it differs (with why)."""
    line = f"`{config.epoch.policy}`"
    used = s.last_epoch.policy if s.last_epoch else None
    if used is None:
        return line
    if used.fallback_reason:
        return f"{line}; last epoch ran `{used.name}` instead: {used.fallback_reason}"
    if used.model_version:
        return f"{line}: model {used.model_version} (feature version {used.feature_version})"
    return line if used.name == config.epoch.policy else f"{line} (last epoch: `{used.name}`)"


def _dollars(amount: Decimal) -> str:
    """``+$1.23`` / ``-$0.40``."""
    sign = "-" if amount < 0 else "+"
    return f"{sign}${abs(amount):,.2f}"


def describe_positions(positions: list[PositionView]) -> str:
    """``3 YES KX-A, 2 NO KX-B`` (or ``none``)."""
    return ", ".join(f"{p.contracts} {p.side.upper()} {p.ticker}" for p in positions) or "none"


def pause_reason(report: CalibrationReport) -> str:
    """Why a calibration that cannot trade pauses the trader, in the operator's words.

    An exchange-wide trading pause (``trading_active=false``) or a closed exchange is named as such; a
    failed component is named with its error.
    """
    down = [c for c in report.components if c.category == ComponentCategory.CRITICAL and not c.healthy]
    if report.exchange_active is False:
        return "the exchange is not active (Kalshi exchange_active=false: closed or under maintenance)"
    if report.trading_active is False and all(c.name == "exchange_rest" for c in down):
        return "exchange-wide trading pause (Kalshi trading_active=false); probing again with backoff"
    if not down:
        return "exchange trading is paused"
    return "critical component down: " + "; ".join(f"{c.name} ({c.error})" if c.error else c.name for c in down)


def pause_kind(report: CalibrationReport) -> str:
    """The pause's category for ``kalshi_trader_pauses_total{reason}``.

    ``exchange_inactive``, ``trading_paused`` or ``critical_component`` (see :func:`pause_reason` for the words).
    """
    down = [c for c in report.components if c.category == ComponentCategory.CRITICAL and not c.healthy]
    if report.exchange_active is False:
        return "exchange_inactive"
    if report.trading_active is False and all(c.name == "exchange_rest" for c in down):
        return "trading_paused"
    return "critical_component"


def _cents(cents: int | None) -> str:
    if cents is None:
        return "n/a"
    return f"${Decimal(cents) / 100:,.2f}"
