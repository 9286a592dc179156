"""The backtest's numbers: what the whole system earned on a tape next to the training environment's estimate.

What the exchange booked for the account, what the environment estimated for the same markets and policy, the
sim-to-env gap, and where it comes from.

The run itself (an isolated Temporal dev server, the simulator replaying the tape, a worker and a fresh
``TraderWorkflow``) is :mod:`workers.backtest`; this module only turns what that run recorded into a report:

* **Live side** (:func:`live_results`): the account's fills and settlements as the simulator's REST API reports them
  (``GET /portfolio/fills``, ``GET /portfolio/settlements``; kalshi-api.md §3.4), never the trader's own
  bookkeeping. Each fill becomes an :class:`rl.evaluate.Fill` (price of the side traded, Kalshi's ``fee_cost``), each
  settlement its payout (``revenue``), so live and environment are measured by the same
  :func:`rl.evaluate.evaluate` definitions (net = gross - fees; gross = sale proceeds - purchase costs + payouts).
* **Environment side**: :func:`rl.runner.run_policy` on the same decoded markets with the same policy.
* **Gap** = live net P&L - environment net P&L, in dollars and in % of the environment's gross traded value (sum of
  contracts x price over its fills). Its contributors (:func:`contributors`) come from what the run recorded: the
  exit rules' closes (their P&L against holding the contracts to settlement), rejects, updates the actor loop
  coalesced, deferred or skipped, tape time no epoch covered (calibrations between epochs), and decision latency.

Money is exact ``Decimal`` dollars throughout; only the PNG uses floats.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal

from kalshi.models.portfolio import Fill as ExchangeFill
from kalshi.models.portfolio import Settlement
from models.trader import EpochSummary
from rl.evaluate import Fill, MarketResult, StrategyMetrics, StrategyResults, evaluate
from rl.tapes import MarketTape

__all__ = [
    "BacktestReport",
    "Contributor",
    "RunRecord",
    "build_report",
    "close_reason",
    "decision_points",
    "live_results",
]

_ZERO: Final = Decimal(0)
_CENT: Final = Decimal("0.01")
_Q: Final = Decimal("0.0001")
_PCT: Final = Decimal("0.01")
MAX_UNCOVERED_SHARE: Final = 0.10
"""A replay leaving more than this share of the tradeable tape outside trading epochs was too fast."""
MAX_ACK_TAPE_MS: Final = 1_000
"""A replay whose order-acknowledgement p99 spans more than this many tape ms was too fast."""
CLOSE_PREFIX: Final = "close_position:"
EPOCH_PREFIX: Final = "epoch:"


def close_reason(client_order_id: str | None) -> str | None:
    """The exit rule of a close order, or None for any other order (the policy's epoch orders are ``epoch:...``).

    Close orders carry ``close_position:<reason>:<hex>`` (:func:`models.ids.close_client_order_id`).
    """
    if client_order_id and client_order_id.startswith(CLOSE_PREFIX):
        return client_order_id[len(CLOSE_PREFIX) :].split(":", 1)[0] or "unknown"
    return None


def _ms(fill: ExchangeFill) -> int:
    if fill.created_time is not None:
        return int(fill.created_time.timestamp() * 1000)
    return int(fill.ts or 0) * 1000


def _side_price(fill: ExchangeFill) -> Decimal:
    return Decimal(fill.yes_price_dollars if fill.side == "yes" else fill.no_price_dollars)


def _net_position_fills(fills: Sequence[ExchangeFill]) -> list[Fill]:
    """One market's exchange fills (time order) as evaluation fills under Kalshi's net-position accounting.

    A market position is signed (+YES / -NO; kalshi-api.md §8): a fill that buys YES (``buy yes`` or ``sell no``,
    the bid side of the book) while NO contracts are held first closes them, which the exchange books as a sale of
    the held NO at ``1 - yes price`` (the pair is worth $1), and only the rest opens YES; symmetrically for the ask
    side. The environment records such fills the same way (a sale of the held side), so cash flows equal the
    account's and traded value is comparable. The fill's fee goes with its first part.
    """
    out: list[Fill] = []
    position = _ZERO
    for f in fills:
        count = Decimal(f.count_fp)
        yes_price = Decimal(f.yes_price_dollars)
        buy_yes = (f.side == "yes") == (f.action == "buy")
        own_price = yes_price if buy_yes else 1 - yes_price
        held_opposite = -position if buy_yes else position
        closing = min(count, held_opposite) if held_opposite > 0 else _ZERO
        fee = Decimal(f.fee_cost_dollars)
        ts = _ms(f)
        if closing > 0:
            held: Literal["yes", "no"] = "no" if buy_yes else "yes"
            out.append(Fill(ts, held, "sell", closing, 1 - own_price, fee, f.is_taker))
            fee = _ZERO
        opening = count - closing
        if opening > 0:
            out.append(Fill(ts, "yes" if buy_yes else "no", "buy", opening, own_price, fee, f.is_taker))
        position += count if buy_yes else -count
    return out


def live_results(
    markets: Sequence[MarketTape], fills: Sequence[ExchangeFill], settlements: Sequence[Settlement], name: str
) -> StrategyResults:
    """The account's per-market results from the exchange's own record (fills and settlements over REST).

    Args:
        markets: the backtested markets (every one gets a row, traded or not).
        fills: ``GET /portfolio/fills`` of the account (any order).
        settlements: ``GET /portfolio/settlements`` of the account.
        name: the strategy's name in the report (e.g. ``live:imbalance``).

    Returns:
        One :class:`rl.evaluate.MarketResult` per market; its ``pnl_path`` is the cash P&L after fees at each fill,
        then the settlement payout at the settlement time (so its last point is the market's net P&L). Fills are
        booked with Kalshi's net-position accounting (:func:`_net_position_fills`), so the cash flows are the
        account's and the rows read like the environment's.

    Raises:
        ValueError: a fill or settlement for a market that was not backtested (another account's orders or a stale
            state folder: the numbers would not be this run's).

    """
    wanted = {m.ticker for m in markets}
    by_market: dict[str, list[ExchangeFill]] = {t: [] for t in wanted}
    for f in fills:
        if f.ticker not in wanted:
            raise ValueError(f"the account has a fill in {f.ticker}, which this backtest did not replay")
        by_market[f.ticker].append(f)
    payouts: dict[str, tuple[int, Decimal]] = {}
    for s in settlements:
        if s.ticker not in wanted:
            raise ValueError(f"the account has a settlement in {s.ticker}, which this backtest did not replay")
        payouts[s.ticker] = (int(s.settled_time.timestamp() * 1000), Decimal(s.revenue_cents) * _CENT)
    rows = []
    for tape in markets:
        own = sorted(by_market[tape.ticker], key=lambda f: (_ms(f), f.fill_id))
        converted = tuple(_net_position_fills(own))
        path: list[tuple[int, Decimal]] = []
        cash = _ZERO
        for fill in converted:
            cash += fill.cash_flow_dollars - fill.fee_dollars
            path.append((fill.ts_ms, cash))
        settled_ms, payout = payouts.get(tape.ticker, (tape.definition.close_ms, _ZERO))
        path.append((settled_ms, cash + payout))
        rows.append(
            MarketResult(
                market=tape.ticker,
                open_ms=tape.definition.open_ms,
                fills=converted,
                settlement_dollars=payout,
                pnl_path=tuple(path),
            )
        )
    return StrategyResults(name, rows, ())


@dataclass(frozen=True)
class RunRecord:
    """What the live run recorded besides the account's fills and settlements.

    Attributes:
        policy: the policy asked for (``imbalance``, ``hold``, ``rl:<version>``).
        speed: free-running: the replay speed (tape seconds per wall second); paced: the cap, None when unbounded.
        wall_s: wall seconds from the clock's start to the last settlement.
        tape_start_ms, tape_end_ms: the replayed span (first snapshot .. last close), Unix ms.
        tradeable: per market, the tape span in which it can be traded (its first frame .. its close minus the
            closing window), Unix ms.
        orders: the account's orders (``GET /portfolio/orders``) as ``(client_order_id, status)`` pairs.
        epochs: the trader's epoch summaries (the worker's recorder), in order.
        stack_s: wall seconds to start the stack (dev server, simulator, worker, trader ready).
        market_wall_s: per market, wall seconds from the replay reaching its first frame to its settlement.
        mode: ``paced max``, ``paced <X>x`` or ``free-running <X>x`` (empty: free-running, older callers).
        pacing: the pacer's figures (:class:`workers.pacer.PaceStats` as a dict: wall time held waiting for the
            trader, steps, the tape span of every paced epoch ...), None when free-running.

    """

    policy: str
    speed: Decimal | None
    wall_s: float
    tape_start_ms: int
    tape_end_ms: int
    tradeable: Sequence[tuple[int, int]]
    orders: Sequence[tuple[str | None, str]]
    epochs: Sequence[EpochSummary]
    stack_s: float = 0.0
    market_wall_s: Mapping[str, float] = field(default_factory=dict)
    mode: str = ""
    pacing: Mapping[str, Any] | None = None

    @property
    def paced(self) -> bool:
        """Whether the exchange clock waited for the trader (wall latency then costs no tape time)."""
        return self.pacing is not None

    @property
    def label(self) -> str:
        """The mode for humans: ``paced max``, ``paced 20x``, ``free-running 10x``."""
        return self.mode or f"free-running {self.speed}x"

    def epoch_spans(self) -> list[tuple[int, int]]:
        """The tape spans ``(start, end)`` (Unix ms) in which an actor epoch traded.

        Paced, the pacer's epoch spans (tape time, exact); free-running, the actor epochs' exchange-clock
        ``[started_at, ended_at]``.
        """
        spans = None if self.pacing is None else self.pacing.get("epochs")
        if spans is not None:
            return [(int(a), int(b)) for a, b in spans]
        return [
            (int(e.started_at.timestamp() * 1000), int(e.ended_at.timestamp() * 1000))
            for e in self.epochs
            if e.started_at is not None and e.ended_at is not None and e.driver == "actor"
        ]

    def coverage_ms(self) -> tuple[int, int]:
        """``(tradeable ms, tradeable ms no actor epoch covered)`` (:meth:`epoch_spans`, :func:`_uncovered_spans`)."""
        return _uncovered_spans(self.epoch_spans(), self.tradeable)


@dataclass(frozen=True)
class Contributor:
    """One explanation of the gap: ``dollars`` when the record lets it be priced, else None (a count only)."""

    name: str
    dollars: Decimal | None
    detail: str


@dataclass(frozen=True)
class BacktestReport:
    """The live run's metrics next to the environment's, the gap and its contributors.

    Attributes:
        live, env: :class:`rl.evaluate.StrategyMetrics` of the run (from the exchange) and of the environment.
        live_results, env_results: their per-market rows (for the equity curve).
        record: what the run recorded.
        gap_dollars: live net - env net.
        gap_pct_of_traded_value: ``gap / env traded value x 100``; None when the environment traded nothing.
        closes: exit-rule closes by reason: ``{reason: {"orders", "fills", "contracts", "vs_hold_dollars"}}``.
        contributors: explanations, the largest priced ones first.
        decisions_env: the environment's decision points shown to the policy (HOLD included) and how many traded.
        exchange_fills: the account's fills as the exchange lists them (a fill that closes and opens is one here and
            two rows in ``live_results``).
        per_market: the per-market numbers of :meth:`to_json`.
        decision_points: both sides' decision points counted alike (:func:`decision_points`).

    """

    live: StrategyMetrics
    env: StrategyMetrics
    live_results: StrategyResults
    env_results: StrategyResults
    record: RunRecord
    gap_dollars: Decimal
    gap_pct_of_traded_value: Decimal | None
    closes: dict[str, dict[str, Any]]
    contributors: list[Contributor]
    decisions_env: tuple[int, int]
    exchange_fills: int = 0
    per_market: dict[str, dict[str, Any]] = field(default_factory=dict)
    decision_points: dict[str, int] = field(default_factory=dict)

    # -------------------------------------------------------------------------------------------------- outputs

    def to_json(self) -> dict[str, Any]:
        """The machine-readable numbers (money as decimal strings): totals, the gap, per market, the run's record."""
        live, env = self.live, self.env
        summaries = _epoch_totals(self.record.epochs)
        tradeable, uncovered = self.record.coverage_ms()
        pacing = self.record.pacing
        return {
            "policy": self.record.policy,
            "speed": "max" if self.record.speed is None else str(self.record.speed),
            "mode": self.record.label,
            "pacing": None if pacing is None else {k: v for k, v in pacing.items() if k != "epochs"},
            "markets": list(self.per_market),
            "net_pnl_dollars": str(live.net_pnl_dollars),
            "gross_pnl_dollars": str(live.gross_pnl_dollars),
            "fees_dollars": str(live.fees_dollars),
            "live_traded_value_dollars": str(live.turnover_dollars),
            "fills": self.exchange_fills,
            "orders": len(self.record.orders),
            "maker_share": live.maker_share,
            "taker_share": live.taker_share,
            "env_net_pnl_dollars": str(env.net_pnl_dollars),
            "env_gross_pnl_dollars": str(env.gross_pnl_dollars),
            "env_fees_dollars": str(env.fees_dollars),
            "env_fills": env.trades,
            "env_maker_share": env.maker_share,
            "env_taker_share": env.taker_share,
            "env_decisions": self.decisions_env[0],
            "env_trading_decisions": self.decisions_env[1],
            "decision_points": self.decision_points,
            "traded_value_dollars": str(env.turnover_dollars),
            "gap_dollars": str(self.gap_dollars),
            "gap_pct_of_traded_value": None
            if self.gap_pct_of_traded_value is None
            else str(self.gap_pct_of_traded_value),
            "wall_s": round(self.record.wall_s, 3),
            "stack_start_s": round(self.record.stack_s, 3),
            "closes_by_reason": {
                k: {**v, "vs_hold_dollars": str(v["vs_hold_dollars"])} for k, v in self.closes.items()
            },
            "actor_loop": summaries,
            "tradeable_tape_s": tradeable / 1000,
            "uncovered_tape_s": uncovered / 1000,
            "speed_warning": self.speed_warning(),
            "contributors": [
                {"name": c.name, "dollars": None if c.dollars is None else str(c.dollars), "detail": c.detail}
                for c in self.contributors
            ],
            "per_market": self.per_market,
        }

    def write_json(self, path: Path) -> Path:
        """Write :meth:`to_json` to ``path`` (parents created). Raises OSError."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return path

    def speed_warning(self) -> str | None:
        """One line when the replay ran too fast for this machine to reproduce live timing, else None.

        Too fast: more than :data:`MAX_UNCOVERED_SHARE` of the tradeable tape outside epochs, or an order
        acknowledgement p99 longer than :data:`MAX_ACK_TAPE_MS` of tape (wall latency x speed): the live decisions
        then depend on the speed (docs/rl.md "Backtest").
        """
        tradeable, uncovered = self.record.coverage_ms()
        ack = _epoch_totals(self.record.epochs)["ack_latency_ms_p99_max"]
        problems = []
        if tradeable and uncovered / tradeable > MAX_UNCOVERED_SHARE:
            problems.append(f"{uncovered / tradeable:.0%} of the tradeable tape ran outside trading epochs")
        if self.record.paced:
            # the clock waited for every acknowledgement: latency costs no tape
            if not problems:
                return None
            return f"{problems[0]} (paced: the trader had no epoch there; see its logs)"
        speed = float(self.record.speed or 1)
        if ack is not None and ack * speed > MAX_ACK_TAPE_MS:
            problems.append(f"order acks took up to {ack * speed / 1000:.1f} s of tape")
        if not problems:
            return None
        return (
            f"speed {self.record.speed}x was too fast for this machine ({'; '.join(problems)}): the live decisions "
            "differ from a slower replay; rerun with a lower --speed or without --no-pacing"
        )

    def text(self) -> str:
        """The terminal report: live next to env for every number, closes by reason, per market, gap, contributors."""
        live, env = self.live, self.env
        rows = [
            ("net P&L", _usd(live.net_pnl_dollars), _usd(env.net_pnl_dollars)),
            ("gross P&L", _usd(live.gross_pnl_dollars), _usd(env.gross_pnl_dollars)),
            ("fees", _amount(live.fees_dollars), _amount(env.fees_dollars)),
            ("traded value", _amount(live.turnover_dollars), _amount(env.turnover_dollars)),
            ("orders", str(len(self.record.orders)), f"{self.decisions_env[1]} trading decisions"),
            ("fills", str(self.exchange_fills), str(env.trades)),
            ("maker / taker", _share(live), _share(env)),
        ]
        width = max(len(r[0]) for r in rows)
        out = [
            f"backtest {self.record.policy} on {len(self.per_market)} market(s), {self.record.label}: "
            f"wall {self.record.wall_s:.1f} s (+{self.record.stack_s:.1f} s stack start)",
            f"  {'':{width}}  {'live (exchange)':>16}  {'env estimate':>24}",
        ]
        out += [f"  {a:{width}}  {b:>16}  {c:>24}" for a, b, c in rows]
        if self.closes:
            parts = [
                f"{reason} {v['orders']} orders/{v['contracts']} contracts ({_usd(v['vs_hold_dollars'])} vs holding)"
                for reason, v in sorted(self.closes.items())
            ]
            out.append("  exit-rule closes: " + "; ".join(parts))
        else:
            out.append("  exit-rule closes: none")
        out.append("  per market (net P&L):")
        for ticker, m in self.per_market.items():
            out.append(
                f"    {ticker}  live {_usd(Decimal(m['net_pnl_dollars'])):>10}  env "
                f"{_usd(Decimal(m['env_net_pnl_dollars'])):>10}  gap {_usd(Decimal(m['gap_dollars'])):>10}"
            )
        pct = (
            "n/a (the env traded nothing)"
            if self.gap_pct_of_traded_value is None
            else (f"{self.gap_pct_of_traded_value:+.2f} % of the env's traded value {_amount(env.turnover_dollars)}")
        )
        out.append(f"  sim-to-env gap: {_usd(self.gap_dollars)} ({pct})")
        out.append("  contributors:")
        for c in self.contributors:
            priced = "" if c.dollars is None else f"{_usd(c.dollars)}; "
            out.append(f"    - {c.name}: {priced}{c.detail}")
        warning = self.speed_warning()
        if warning:
            out.append(f"  warning: {warning}")
        return "\n".join(out)

    def write_equity_png(self, path: Path) -> Path:
        """The equity curves on the tape's clock (minutes from the first replayed frame) as a PNG. Raises OSError.

        Live: cumulative cash P&L after fees from the exchange's fills, then each settlement's payout (a position
        counts at its cost until it is sold or settles). Env: its P&L path (positions marked at their liquidation
        value). Both end at their net P&L.
        """
        from matplotlib.figure import Figure

        path.parent.mkdir(parents=True, exist_ok=True)
        fig = Figure(figsize=(9, 4.5), dpi=110)
        ax = fig.add_subplot()
        start = self.record.tape_start_ms
        curves = (
            (self.live_results, "live: exchange fills + settlements (cash; positions at cost)"),
            (self.env_results, "env estimate (positions marked to liquidation)"),
        )
        for res, label in curves:
            xs, ys = [0.0], [0.0]
            base = 0.0
            for row in sorted(res.markets, key=lambda r: (r.open_ms, r.market)):
                for ts, value in row.pnl_path:
                    xs.append((ts - start) / 60_000)
                    ys.append(base + float(value))
                base += float(row.net_pnl_dollars)
            ax.plot(xs, ys, label=label, drawstyle="steps-post")
        ax.axhline(0, color="grey", linewidth=0.6)
        ax.set_xlabel("tape minutes from the first replayed frame")
        ax.set_ylabel("cumulative net P&L after fees ($)")
        ax.set_title(f"backtest {self.record.policy}, {self.record.label}: gap {_usd(self.gap_dollars)}")
        ax.legend(loc="best")
        fig.tight_layout()
        fig.savefig(path)
        return path


def _usd(value: Decimal) -> str:
    return f"{'-' if value < 0 else '+' if value > 0 else ''}${abs(value):,.4f}"


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _amount(value: Decimal) -> str:
    return f"${value:,.4f}"


def _share(m: StrategyMetrics) -> str:
    if m.maker_share is None or m.taker_share is None:
        return "-"
    return f"{m.maker_share:.0%} / {m.taker_share:.0%}"


def _epoch_totals(epochs: Sequence[EpochSummary]) -> dict[str, Any]:
    rejects: Counter[str] = Counter()
    decisions: Counter[str] = Counter()
    for e in epochs:
        rejects.update(e.rejects)
        decisions.update(e.decisions)
    lat99 = [e.latency_ms_p99 for e in epochs if e.latency_ms_p99 is not None]
    lat50 = [e.latency_ms_p50 for e in epochs if e.latency_ms_p50 is not None]
    ack99 = [e.ack_latency_ms_p99 for e in epochs if e.ack_latency_ms_p99 is not None]
    return {
        "epochs": len(epochs),
        "drivers": dict(Counter(e.driver for e in epochs)),
        "updates_seen": sum(e.updates_seen for e in epochs),
        "updates_coalesced": sum(e.updates_coalesced for e in epochs),
        "updates_deferred": sum(e.updates_deferred for e in epochs),
        "updates_skipped": sum(e.updates_skipped for e in epochs),
        "forced_holds": sum(e.forced_holds for e in epochs),
        "decisions": dict(decisions),
        "rejects": dict(rejects),
        "errors": sum(e.errors for e in epochs),
        "orders_placed": sum(e.orders_placed for e in epochs),
        "latency_ms_p50_median": sorted(lat50)[len(lat50) // 2] if lat50 else None,
        "latency_ms_p99_max": max(lat99) if lat99 else None,
        "ack_latency_ms_p99_max": max(ack99) if ack99 else None,
        "fallbacks": sorted(
            {e.policy.fallback_reason for e in epochs if e.driver == "actor" and e.policy and e.policy.fallback_reason}
        ),
    }


def _union(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _uncovered_spans(spans: Sequence[tuple[int, int]], tradeable: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """``(tradeable ms, tradeable ms outside every span)`` (spans and tradeable: ``(start, end)`` Unix ms)."""
    zones = _union(tradeable)
    epochs_ms = _union(list(spans))
    total = sum(b - a for a, b in zones)
    covered = sum(max(0, min(b, d) - max(a, c)) for a, b in zones for c, d in epochs_ms)
    return total, total - covered


def decision_points(env_results: StrategyResults, record: RunRecord) -> dict[str, int]:
    """Count both sides' decision points the same way: every point where the pre-trade checks ran, HOLD-only included.

    The live actor loop counts a decision point per book update of a market once its decision interval has elapsed
    (:class:`trading.pipeline.DecisionStep`), including the points where the checks allow only HOLD (the throttle
    after an order, the closing window): a baseline is asked there too and its orders are rejected ``throttle`` /
    ``market_closing``; a learned policy is not asked (a forced hold). The environment shows the policy only the
    other points (``skip_forced_holds``) and records the HOLD-only ones apart (``forced_hold_ms``), and it decides from
    the first frame to the close, while live decides only inside its actor epochs (none in the closing window once
    the epoch that reached it ends, none between epochs). So the comparable env figure is shown + forced holds inside
    the live epochs' tape spans (:meth:`RunRecord.epoch_spans`).

    Returns:
        ``live``: the live loop's decision points (epoch summaries); ``live_forced_holds``: the learned policy's forced
        holds among them (0 for a baseline); ``env_shown`` / ``env_forced_holds``: the env's totals;
        ``env_in_epochs``: its shown + forced points inside the live epochs' spans (``env_shown_in_epochs`` +
        ``env_forced_in_epochs``); ``env_shown_outside`` / ``env_forced_outside``: the rest.
    """
    spans = sorted(record.epoch_spans())

    def inside(t: int) -> bool:
        return any(a <= t < b for a, b in spans)

    shown = forced = shown_in = forced_in = 0
    for market in env_results.markets:
        n = sum(market.actions.values())
        shown += n
        forced += len(market.forced_hold_ms)
        shown_in += sum(1 for t, _ in market.pnl_path[:n] if inside(t))
        forced_in += sum(1 for t in market.forced_hold_ms if inside(t))
    epochs = record.epochs
    return {
        "live": sum(e.updates_seen - e.updates_skipped for e in epochs),
        "live_forced_holds": sum(e.forced_holds for e in epochs),
        "env_shown": shown,
        "env_forced_holds": forced,
        "env_in_epochs": shown_in + forced_in,
        "env_shown_in_epochs": shown_in,
        "env_forced_in_epochs": forced_in,
        "env_shown_outside": shown - shown_in,
        "env_forced_outside": forced - forced_in,
    }


def _closes(
    fills: Sequence[ExchangeFill], orders: Sequence[tuple[str | None, str]], results: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for cid, _status in orders:
        reason = close_reason(cid)
        if reason is not None:
            out.setdefault(reason, {"orders": 0, "fills": 0, "contracts": "0", "vs_hold_dollars": _ZERO})["orders"] += 1
    for f in fills:
        reason = close_reason(f.client_order_id)
        if reason is None:
            continue
        row = out.setdefault(reason, {"orders": 0, "fills": 0, "contracts": "0", "vs_hold_dollars": _ZERO})
        count = Decimal(f.count_fp)
        held_value = Decimal(1) if results[f.ticker] == f.side else _ZERO
        price = _side_price(f)
        edge = (price - held_value) if f.action == "sell" else (held_value - price)
        row["fills"] += 1
        row["contracts"] = str(Decimal(row["contracts"]) + count)
        row["vs_hold_dollars"] = (row["vs_hold_dollars"] + count * edge - Decimal(f.fee_cost_dollars)).quantize(_Q)
    return out


def contributors(
    report_gap: Decimal,
    closes: Mapping[str, Mapping[str, Any]],
    live: StrategyMetrics,
    env: StrategyMetrics,
    record: RunRecord,
    decisions_env: tuple[int, int],
    points: Mapping[str, int] | None = None,
) -> list[Contributor]:
    """Explain the gap from the run's record: priced items first (largest |dollars|), then counts.

    * exit-rule closes (take profit, stop loss, max hold, closing window, cash recovery): P&L of the close fills
      against holding those contracts to settlement, which the environment does (it has no exit rules but its
      closing-window liquidation);
    * the rest of the gap (the policy's own orders filling differently live: timing, queue position, the tape time no
      epoch covered, coalesced updates), priced as the remainder;
    * counts: rejects by reason, decision points counted alike on both sides (``points``, :func:`decision_points`),
      coalesced/deferred/skipped updates, uncovered tape time, decision latency.
    """
    items: list[Contributor] = []
    close_total = sum((Decimal(v["vs_hold_dollars"]) for v in closes.values()), _ZERO)
    if closes:
        detail = ", ".join(f"{k} {_usd(Decimal(v['vs_hold_dollars']))}" for k, v in sorted(closes.items()))
        items.append(Contributor("exit-rule closes vs holding to settlement", close_total.quantize(_Q), detail))
    totals = _epoch_totals(record.epochs)
    span, uncovered = record.coverage_ms()
    span = max(1, span)
    items.append(
        Contributor(
            "policy orders filling differently (remainder)",
            (report_gap - close_total).quantize(_Q),
            f"live {live.trades} fill rows ({_share(live)} maker/taker) vs env {env.trades} ({_share(env)}); "
            f"env {decisions_env[1]} trading decisions of {decisions_env[0]}, live {totals['orders_placed']} orders "
            f"placed by {totals['epochs']} epochs",
        )
    )
    items.sort(key=lambda c: -abs(c.dollars or _ZERO))
    items.append(
        Contributor(
            "tape time outside trading epochs (calibrations and closes between epochs)",
            None,
            f"{uncovered / 1000:.1f} s of the {span / 1000:.0f} s the markets were tradeable (before their closing "
            f"windows) ({uncovered / span:.1%}): no decisions there, the env decides throughout",
        )
    )
    if points is None:
        compared = (
            f"decision points: live {totals['updates_seen'] - totals['updates_skipped']} (and "
            f"{totals['updates_skipped']} updates inside the decision interval, "
            f"{totals['forced_holds']} forced holds), env {decisions_env[0]} shown to the policy"
        )
    else:
        compared = (
            f"decision points where the checks ran (HOLD-only ones included: the throttle after an order, the closing "
            f"window): live {points['live']} ({points['live_forced_holds']} forced holds; "
            f"{totals['updates_skipped']} updates inside the decision interval), env {points['env_in_epochs']} in the "
            f"live epochs' tape ({points['env_shown_in_epochs']} shown to the policy + "
            f"{points['env_forced_in_epochs']} forced holds), and {points['env_shown_outside']} shown + "
            f"{points['env_forced_outside']} forced outside them (between epochs, the closing window after the last "
            f"epoch: live does not decide there); env total {points['env_shown']} shown + "
            f"{points['env_forced_holds']} forced"
        )
    items.append(
        Contributor(
            "throttling",
            None,
            f"{compared}; book changes coalesced into a later decision {totals['updates_coalesced']} "
            "(same-millisecond frames included, which the env folds too), deferred behind an order in flight "
            f"{totals['updates_deferred']}; none dropped by the actor loop (it decides on the latest book; a stale or "
            "untrusted book would show as a stale_book reject)",
        )
    )
    rejects = totals["rejects"]
    items.append(
        Contributor(
            "rejects",
            None,
            (", ".join(f"{k} {v}" for k, v in sorted(rejects.items())) or "none") + f"; REST errors {totals['errors']}",
        )
    )
    p50, p99 = totals["latency_ms_p50_median"], totals["latency_ms_p99_max"]
    ack = totals["ack_latency_ms_p99_max"]
    speed = float(record.speed or 1)
    ack_text = "-" if ack is None else f"{ack:.1f}"
    tape = (
        "0 ms of tape (paced: the clock waited for it, as the env fills at the decision's millisecond)"
        if record.paced
        else f"{'-' if ack is None else f'{ack * speed:.0f}'} ms of tape at this speed (the env fills at the "
        "decision's millisecond)"
    )
    lat = (
        "no decision measured"
        if p99 is None
        else f"decision p50 {p50:.2f} ms, worst epoch p99 {p99:.2f} ms; order ack p99 {ack_text} ms wall = {tape}"
    )
    items.append(Contributor("latency", None, lat))
    if totals["fallbacks"]:
        items.append(Contributor("policy fallback", None, "; ".join(totals["fallbacks"])))
    return items


def build_report(
    markets: Sequence[MarketTape],
    env_results: StrategyResults,
    fills: Sequence[ExchangeFill],
    settlements: Sequence[Settlement],
    record: RunRecord,
) -> BacktestReport:
    """Assemble the report from the environment's results and the exchange's record of the live run.

    Raises:
        ValueError: a fill or settlement of a market the backtest did not replay (:func:`live_results`).
        rl.evaluate.EvaluationError: inconsistent results.

    """
    live_res = live_results(markets, fills, settlements, f"live:{record.policy}")
    evaluation = evaluate([env_results, live_res], bootstrap_samples=200)
    env_m, live_m = evaluation.strategies[0], evaluation.strategies[1]
    gap = live_m.net_pnl_dollars - env_m.net_pnl_dollars
    pct = None if env_m.turnover_dollars == 0 else (gap / env_m.turnover_dollars * 100).quantize(_PCT)
    decisions = sum(env_m.action_counts.values())
    trading = decisions - env_m.action_counts.get("HOLD", 0)
    points = decision_points(env_results, record)
    results = {m.ticker: m.result for m in markets}
    closes = _closes(fills, record.orders, results)
    per_market: dict[str, dict[str, Any]] = {}
    env_by = {r.market: r for r in env_results.markets}
    raw_counts = Counter(f.ticker for f in fills)
    for row in sorted(live_res.markets, key=lambda r: (r.open_ms, r.market)):
        e = env_by[row.market]
        turnover = sum((f.count * f.price_dollars for f in e.fills), _ZERO)
        m_gap = row.net_pnl_dollars - e.net_pnl_dollars
        per_market[row.market] = {
            "net_pnl_dollars": str(row.net_pnl_dollars.quantize(_Q)),
            "gross_pnl_dollars": str(row.gross_pnl_dollars.quantize(_Q)),
            "fees_dollars": str(row.fees_dollars.quantize(_Q)),
            "fills": raw_counts[row.market],
            "settlement_dollars": str(row.settlement_dollars.quantize(_Q)),
            "env_net_pnl_dollars": str(e.net_pnl_dollars.quantize(_Q)),
            "env_fills": len(e.fills),
            "traded_value_dollars": str(turnover.quantize(_Q)),
            "gap_dollars": str(m_gap.quantize(_Q)),
            "gap_pct_of_traded_value": None
            if turnover == 0
            else str((m_gap / turnover * 100).quantize(Decimal("0.01"))),
            "wall_s": None if row.market not in record.market_wall_s else round(record.market_wall_s[row.market], 3),
        }
    return BacktestReport(
        live=live_m,
        env=env_m,
        live_results=live_res,
        env_results=env_results,
        record=record,
        gap_dollars=gap.quantize(_Q),
        gap_pct_of_traded_value=pct,
        closes=closes,
        contributors=contributors(gap, closes, live_m, env_m, record, (decisions, trading), points),
        decisions_env=(decisions, trading),
        decision_points=points,
        exchange_fills=len(fills),
        per_market=per_market,
    )
