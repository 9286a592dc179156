"""Evaluation metrics and reports: how each strategy did, net of fees, on markets it never trained on.

Input is what any runner produces for one strategy on one market (the training environment, the backtest through
the real stack, or a live session): its fills with their fees, its settlement payout, its P&L path and the
actions it chose (:class:`MarketResult`). Nothing here knows the environment's internals, so the same numbers
can be computed for env episodes and for backtests and compared.

Per strategy (:class:`StrategyMetrics`), over the evaluated markets:

* ``net_pnl_dollars`` = ``gross_pnl_dollars`` - ``fees_dollars``; gross = sale proceeds - purchase costs +
  settlement payouts (exact Decimal dollars);
* ``trades`` (fills), ``turnover_dollars`` (sum of |contracts x price| over fills), ``taker_share`` and
  ``maker_share`` (of filled contracts);
* ``hit_rate``: the share of markets it traded in whose net P&L was > 0;
* ``max_drawdown_dollars``: the largest fall of cumulative net P&L from its running peak, along the markets in
  time order and each market's P&L path;
* ``sharpe``: mean / standard deviation (ddof 1) of the per-market net P&L (per market, not annualised);
* ``mean_pnl_dollars`` per market with a seeded percentile-bootstrap 95 % confidence interval;
* the action distribution, its Shannon entropy (bits), and ``collapsed``: HOLD chosen more than 99 % of the
  time, or one trading action more than 95 % (the two ways the predecessor's policies failed).

Comparisons (:class:`Comparison`): the policy against each baseline on the same markets, with a paired bootstrap
95 % interval of the per-market difference, and a verdict in plain words: did it earn more, and is the lead
outside the noise (the interval excludes zero)?

Outputs: :func:`format_table` (terminal), :func:`markdown_report` (``report.md``), :func:`to_json` (the
``--json`` document) and, in :mod:`rl.plots`, the PNG figures.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np

__all__ = [
    "COLLAPSE_HOLD_SHARE",
    "COLLAPSE_SINGLE_ACTION_SHARE",
    "Comparison",
    "EvaluationError",
    "EvaluationReport",
    "Fill",
    "MarketResult",
    "StrategyMetrics",
    "StrategyResults",
    "evaluate",
    "format_table",
    "markdown_report",
    "to_json",
    "write_json",
]

COLLAPSE_HOLD_SHARE: Final = 0.99
"""A policy choosing HOLD more often than this share of its decisions is collapsed."""

COLLAPSE_SINGLE_ACTION_SHARE: Final = 0.95
"""A policy choosing one trading (non-HOLD) action more often than this share of its decisions is collapsed."""

HOLD: Final = "HOLD"
_Q: Final = Decimal("0.0001")
_ZERO: Final = Decimal(0)


class EvaluationError(ValueError):
    """The results cannot be evaluated.

    Empty, inconsistent (a P&L path that disagrees with its fills), or strategies on different markets.
    """


@dataclass(frozen=True, slots=True)
class Fill:
    """One fill of a strategy's order.

    Attributes:
        ts_ms: exchange time, Unix ms.
        side: ``"yes"`` or ``"no"``: the contract bought or sold.
        action: ``"buy"`` or ``"sell"``.
        count: contracts (Decimal, > 0, fractional allowed).
        price_dollars: the price of ``side`` paid or received per contract.
        fee_dollars: the fill's net fee (Kalshi's ``fee_cost``; :mod:`models.fees`).
        is_taker: whether the order took liquidity.

    """

    ts_ms: int
    side: Literal["yes", "no"]
    action: Literal["buy", "sell"]
    count: Decimal
    price_dollars: Decimal
    fee_dollars: Decimal
    is_taker: bool

    @property
    def cash_flow_dollars(self) -> Decimal:
        """Cash before fees: ``-count x price`` for a buy, ``+count x price`` for a sell."""
        value = self.count * self.price_dollars
        return -value if self.action == "buy" else value


@dataclass(frozen=True)
class MarketResult:
    """One strategy on one market (one episode): what happened, in exact dollars.

    Attributes:
        market: the market ticker.
        open_ms: the market's open time (orders the markets in time), Unix ms.
        fills: its fills in time order.
        settlement_dollars: the payout received at settlement ($1 per winning contract held), >= 0.
        pnl_path: ``(ts_ms, net P&L so far in dollars)`` points: cash change plus the held position marked at its
            liquidation value, fees included; the last point must equal the market's net P&L (checked). May be
            empty (then the path is the single final value).
        actions: how often each action was chosen at this market's decision points (name -> count).
        forced_hold_ms: the exchange times (Unix ms) of the decision points where the pre-trade checks allowed only
            HOLD (the throttle after an order, the closing window), which the environment does not show the policy
            (:class:`rl.env.EnvConfig` ``skip_forced_holds``) and so are not in ``actions``; empty for other results.

    """

    market: str
    open_ms: int
    fills: tuple[Fill, ...]
    settlement_dollars: Decimal
    pnl_path: tuple[tuple[int, Decimal], ...] = ()
    actions: Mapping[str, int] = field(default_factory=dict)
    forced_hold_ms: tuple[int, ...] = ()

    @property
    def fees_dollars(self) -> Decimal:
        """Fees paid on this market."""
        return sum((f.fee_dollars for f in self.fills), _ZERO)

    @property
    def gross_pnl_dollars(self) -> Decimal:
        """Sale proceeds - purchase costs + settlement payout, before fees."""
        return sum((f.cash_flow_dollars for f in self.fills), _ZERO) + self.settlement_dollars

    @property
    def net_pnl_dollars(self) -> Decimal:
        """Gross P&L minus fees."""
        return self.gross_pnl_dollars - self.fees_dollars


@dataclass(frozen=True)
class StrategyResults:
    """Every evaluated market of one strategy.

    Attributes:
        name: the strategy's name (``"ppo:<version>"``, ``"hold"``, ``"random"``, ``"imbalance"`` ...).
        markets: its per-market results (any order; sorted by ``open_ms`` here).
        action_names: the action space in index order (so actions never chosen still count as 0).
        is_policy: the learned policy that the baselines are compared against.

    """

    name: str
    markets: Sequence[MarketResult]
    action_names: Sequence[str]
    is_policy: bool = False


@dataclass(frozen=True)
class StrategyMetrics:
    """The evaluation of one strategy (see the module docstring for each definition). Money is exact dollars."""

    name: str
    is_policy: bool
    markets: int
    net_pnl_dollars: Decimal
    gross_pnl_dollars: Decimal
    fees_dollars: Decimal
    trades: int
    turnover_dollars: Decimal
    hit_rate: float | None
    max_drawdown_dollars: Decimal
    sharpe: float | None
    mean_pnl_dollars: Decimal
    mean_pnl_ci_low_dollars: Decimal
    mean_pnl_ci_high_dollars: Decimal
    taker_share: float | None
    maker_share: float | None
    action_counts: dict[str, int]
    action_distribution: dict[str, float]
    action_entropy_bits: float
    collapsed: bool
    collapse_reason: str | None
    per_market_net_dollars: dict[str, Decimal]


@dataclass(frozen=True)
class Comparison:
    """The policy against one baseline on the same markets.

    Attributes:
        baseline: the baseline's name.
        difference_dollars: policy net P&L - baseline net P&L, in total.
        mean_difference_dollars: the same per market.
        ci_low_dollars, ci_high_dollars: paired bootstrap 95 % interval of the per-market difference.
        beat: the policy earned more in total.
        significant: the interval excludes zero.
        verdict: one sentence in plain words.

    """

    baseline: str
    difference_dollars: Decimal
    mean_difference_dollars: Decimal
    ci_low_dollars: Decimal
    ci_high_dollars: Decimal
    beat: bool
    significant: bool
    verdict: str


@dataclass(frozen=True)
class EvaluationReport:
    """Metrics of every strategy, the policy's comparisons with the baselines, and the run's settings."""

    strategies: list[StrategyMetrics]
    comparisons: list[Comparison]
    markets: list[str]
    policy: str | None
    seed: int
    bootstrap_samples: int


def _q(value: Decimal) -> Decimal:
    return value.quantize(_Q)


def _bootstrap_ci(values: Sequence[float], rng: np.random.Generator, samples: int) -> tuple[float, float]:
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return 0.0, 0.0
    if data.size == 1:
        return float(data[0]), float(data[0])
    idx = rng.integers(0, data.size, size=(samples, data.size))
    means = data[idx].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def _check_path(result: MarketResult) -> None:
    if result.pnl_path and result.pnl_path[-1][1] != result.net_pnl_dollars:
        raise EvaluationError(
            f"{result.market}: the P&L path ends at {result.pnl_path[-1][1]} but fills, fees and settlement "
            f"give {result.net_pnl_dollars}"
        )
    if result.settlement_dollars < 0:
        raise EvaluationError(f"{result.market}: negative settlement payout {result.settlement_dollars}")


def _max_drawdown(ordered: Sequence[MarketResult]) -> Decimal:
    peak = _ZERO
    worst = _ZERO
    base = _ZERO
    for result in ordered:
        points = [v for _, v in result.pnl_path] or [result.net_pnl_dollars]
        for value in points:
            level = base + value
            peak = max(peak, level)
            worst = max(worst, peak - level)
        base += result.net_pnl_dollars
    return worst


def _collapse(distribution: Mapping[str, float]) -> str | None:
    hold = distribution.get(HOLD, 0.0)
    if hold > COLLAPSE_HOLD_SHARE:
        return f"HOLD chosen {hold:.1%} of the time (> {COLLAPSE_HOLD_SHARE:.0%})"
    for name, share in distribution.items():
        if name != HOLD and share > COLLAPSE_SINGLE_ACTION_SHARE:
            return f"{name} chosen {share:.1%} of the time (> {COLLAPSE_SINGLE_ACTION_SHARE:.0%})"
    return None


def _metrics(results: StrategyResults, rng: np.random.Generator, samples: int) -> StrategyMetrics:
    ordered = sorted(results.markets, key=lambda r: (r.open_ms, r.market))
    for result in ordered:
        _check_path(result)
    nets = [r.net_pnl_dollars for r in ordered]
    fills = [f for r in ordered for f in r.fills]
    traded = [r for r in ordered if r.fills]
    taker = sum((f.count for f in fills if f.is_taker), _ZERO)
    filled = sum((f.count for f in fills), _ZERO)
    counts = {name: 0 for name in results.action_names}
    for result in ordered:
        for name, n in result.actions.items():
            if name not in counts:
                raise EvaluationError(f"{results.name} on {result.market}: action {name!r} is not in its action space")
            counts[name] += n
    decisions = sum(counts.values())
    distribution = {k: (v / decisions if decisions else 0.0) for k, v in counts.items()}
    entropy = max(0.0, -sum(p * math.log2(p) for p in distribution.values() if p > 0))
    floats = [float(n) for n in nets]
    sharpe = None
    if len(floats) >= 2:
        std = float(np.std(floats, ddof=1))
        sharpe = float(np.mean(floats)) / std if std > 0 else None
    low, high = _bootstrap_ci(floats, rng, samples)
    reason = _collapse(distribution) if decisions else None
    net = sum(nets, _ZERO)
    return StrategyMetrics(
        name=results.name,
        is_policy=results.is_policy,
        markets=len(ordered),
        net_pnl_dollars=_q(net),
        gross_pnl_dollars=_q(sum((r.gross_pnl_dollars for r in ordered), _ZERO)),
        fees_dollars=_q(sum((r.fees_dollars for r in ordered), _ZERO)),
        trades=len(fills),
        turnover_dollars=_q(sum((f.count * f.price_dollars for f in fills), _ZERO)),
        hit_rate=(sum(1 for r in traded if r.net_pnl_dollars > 0) / len(traded)) if traded else None,
        max_drawdown_dollars=_q(_max_drawdown(ordered)),
        sharpe=sharpe,
        mean_pnl_dollars=_q(net / len(ordered)),
        mean_pnl_ci_low_dollars=_q(Decimal(repr(low))),
        mean_pnl_ci_high_dollars=_q(Decimal(repr(high))),
        taker_share=float(taker / filled) if filled else None,
        maker_share=float((filled - taker) / filled) if filled else None,
        action_counts=counts,
        action_distribution=distribution,
        action_entropy_bits=entropy,
        collapsed=reason is not None,
        collapse_reason=reason,
        per_market_net_dollars={r.market: _q(r.net_pnl_dollars) for r in ordered},
    )


def _money(value: Decimal) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def _compare(policy: StrategyMetrics, base: StrategyMetrics, rng: np.random.Generator, samples: int) -> Comparison:
    diffs = [policy.per_market_net_dollars[m] - base.per_market_net_dollars[m] for m in policy.per_market_net_dollars]
    total = sum(diffs, _ZERO)
    low, high = _bootstrap_ci([float(d) for d in diffs], rng, samples)
    lo, hi = _q(Decimal(repr(low))), _q(Decimal(repr(high)))
    beat = total > 0
    significant = lo > 0 or hi < 0
    per = _q(total / len(diffs))
    if total == 0:
        verdict = f"{policy.name} earned exactly what {base.name} earned on these {len(diffs)} markets."
    else:
        verb = "beat" if beat else "did worse than"
        noise = (
            "the 95% interval of the per-market difference excludes zero, so the gap is unlikely to be luck"
            if significant
            else "the 95% interval of the per-market difference includes zero, so the gap is inside the noise"
        )
        verdict = (
            f"{policy.name} {verb} {base.name} by {_money(abs(total))} net of fees over {len(diffs)} markets "
            f"({_money(per)} per market, 95% CI {_money(lo)} to {_money(hi)}); {noise}."
        )
    return Comparison(base.name, _q(total), per, lo, hi, beat, significant, verdict)


def evaluate(results: Sequence[StrategyResults], *, seed: int = 0, bootstrap_samples: int = 10_000) -> EvaluationReport:
    """Compute every strategy's metrics and the policy's comparisons with each baseline.

    Args:
        results: one :class:`StrategyResults` per strategy, all on the same markets; at most one ``is_policy``.
        seed: seed of the bootstrap (the same seed and results give the same intervals).
        bootstrap_samples: resamples per interval (10,000 by default).

    Returns:
        The :class:`EvaluationReport`.

    Raises:
        EvaluationError: no strategies or markets, strategies on different markets, two policies, a P&L path
            that disagrees with its fills, an action outside the action space.

    """
    if not results:
        raise EvaluationError("nothing to evaluate: no strategies")
    markets = sorted({r.market for r in results[0].markets})
    if not markets:
        raise EvaluationError(f"nothing to evaluate: {results[0].name} has no markets")
    for res in results:
        got = sorted(r.market for r in res.markets)
        if got != markets:
            raise EvaluationError(
                f"{res.name} was evaluated on other markets than {results[0].name}: {got} vs {markets}"
            )
    policies = [r for r in results if r.is_policy]
    if len(policies) > 1:
        raise EvaluationError(f"more than one policy to compare: {[p.name for p in policies]}")
    rng = np.random.default_rng(seed)
    metrics = [_metrics(r, rng, bootstrap_samples) for r in results]
    policy = next((m for m in metrics if m.is_policy), None)
    comparisons = (
        [] if policy is None else [_compare(policy, m, rng, bootstrap_samples) for m in metrics if m is not policy]
    )
    return EvaluationReport(metrics, comparisons, markets, policy.name if policy else None, seed, bootstrap_samples)


# --------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------

_COLUMNS: Final = (
    ("strategy", 22),
    ("net P&L", 11),
    ("gross", 11),
    ("fees", 9),
    ("trades", 7),
    ("hit rate", 8),
    ("max DD", 9),
    ("Sharpe", 7),
    ("mean/market [95% CI]", 30),
    ("taker", 6),
    ("entropy", 7),
    ("collapsed", 9),
)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _row(m: StrategyMetrics) -> list[str]:
    return [
        m.name + (" *" if m.is_policy else ""),
        _money(m.net_pnl_dollars),
        _money(m.gross_pnl_dollars),
        _money(m.fees_dollars),
        str(m.trades),
        _pct(m.hit_rate),
        _money(m.max_drawdown_dollars),
        "-" if m.sharpe is None else f"{m.sharpe:.2f}",
        f"{_money(m.mean_pnl_dollars)} [{_money(m.mean_pnl_ci_low_dollars)}, {_money(m.mean_pnl_ci_high_dollars)}]",
        _pct(m.taker_share),
        f"{m.action_entropy_bits:.2f}",
        "YES" if m.collapsed else "no",
    ]


def format_table(report: EvaluationReport) -> str:
    """The terminal table: one row per strategy (the policy marked ``*``), then the verdicts."""
    header = "  ".join(name.ljust(width) for name, width in _COLUMNS)
    lines = [f"{len(report.markets)} markets, net of Kalshi fees", header, "-" * len(header)]
    for m in report.strategies:
        lines.append("  ".join(cell.ljust(width) for cell, (_, width) in zip(_row(m), _COLUMNS, strict=True)))
    lines += ["", *(c.verdict for c in report.comparisons)]
    lines += [f"{m.name}: collapsed: {m.collapse_reason}" for m in report.strategies if m.collapsed]
    return "\n".join(lines).rstrip() + "\n"


def markdown_report(report: EvaluationReport, images: Mapping[str, str] | None = None) -> str:
    """The Markdown report: settings, the table, verdicts in words, collapse flags, actions and figures.

    Args:
        report: the evaluation.
        images: title -> relative PNG path, embedded at the end (from :func:`rl.plots.write_plots`).

    """
    out = ["# Evaluation report", ""]
    out.append(
        f"{len(report.markets)} markets ({report.markets[0]} .. {report.markets[-1]}), net of Kalshi fees. "
        f"Confidence intervals: percentile bootstrap, {report.bootstrap_samples:,} resamples, seed {report.seed}."
    )
    out += ["", "| " + " | ".join(name for name, _ in _COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    out += ["| " + " | ".join(_row(m)) + " |" for m in report.strategies]
    out += ["", "## Verdicts", ""]
    if report.comparisons:
        out += [f"- {c.verdict}" for c in report.comparisons]
    else:
        out.append("- No learned policy was evaluated; the table compares the baselines only.")
    collapsed = [m for m in report.strategies if m.collapsed]
    if collapsed:
        out += ["", "## Collapsed strategies", ""]
        out += [f"- **{m.name}**: {m.collapse_reason}." for m in collapsed]
    out += ["", "## Action mix", "", "| strategy | " + " | ".join(report.strategies[0].action_counts) + " |"]
    out.append("|---|" + "---|" * len(report.strategies[0].action_counts))
    for m in report.strategies:
        out.append(f"| {m.name} | " + " | ".join(f"{p:.1%}" for p in m.action_distribution.values()) + " |")
    if images:
        out += ["", "## Figures", ""]
        out += [f"![{title}]({path})" for title, path in images.items()]
    return "\n".join(out) + "\n"


def _strategy_json(m: StrategyMetrics) -> dict[str, Any]:
    return {
        "name": m.name,
        "is_policy": m.is_policy,
        "markets": m.markets,
        "net_pnl_dollars": str(m.net_pnl_dollars),
        "gross_pnl_dollars": str(m.gross_pnl_dollars),
        "fees_dollars": str(m.fees_dollars),
        "trades": m.trades,
        "turnover_dollars": str(m.turnover_dollars),
        "hit_rate": m.hit_rate,
        "max_drawdown_dollars": str(m.max_drawdown_dollars),
        "sharpe": m.sharpe,
        "mean_pnl_dollars": str(m.mean_pnl_dollars),
        "mean_pnl_ci_low_dollars": str(m.mean_pnl_ci_low_dollars),
        "mean_pnl_ci_high_dollars": str(m.mean_pnl_ci_high_dollars),
        "taker_share": m.taker_share,
        "maker_share": m.maker_share,
        "action_counts": m.action_counts,
        "action_distribution": m.action_distribution,
        "action_entropy_bits": m.action_entropy_bits,
        "collapsed": m.collapsed,
        "collapse_reason": m.collapse_reason,
        "per_market_net_dollars": {k: str(v) for k, v in m.per_market_net_dollars.items()},
    }


def to_json(report: EvaluationReport) -> dict[str, Any]:
    """The ``--json`` document: dollars as exact decimal strings, shares and ratios as numbers.

    Shape: ``{"markets": [...], "policy": name|null, "seed": int, "bootstrap_samples": int,
    "strategies": {name: {"net_pnl_dollars", "fees_dollars", "trades", "markets", "collapsed",
    "mean_pnl_ci_low_dollars", "mean_pnl_ci_high_dollars", "action_distribution", ...}},
    "comparisons": [{"baseline", "difference_dollars", "ci_low_dollars", "ci_high_dollars", "beat",
    "significant", "verdict"}]}``.
    """
    return {
        "markets": report.markets,
        "policy": report.policy,
        "seed": report.seed,
        "bootstrap_samples": report.bootstrap_samples,
        "strategies": {m.name: _strategy_json(m) for m in report.strategies},
        "comparisons": [
            {
                "baseline": c.baseline,
                "difference_dollars": str(c.difference_dollars),
                "mean_difference_dollars": str(c.mean_difference_dollars),
                "ci_low_dollars": str(c.ci_low_dollars),
                "ci_high_dollars": str(c.ci_high_dollars),
                "beat": c.beat,
                "significant": c.significant,
                "verdict": c.verdict,
            }
            for c in report.comparisons
        ],
    }


def write_json(report: EvaluationReport, path: Path) -> Path:
    """Write :func:`to_json` to ``path`` (parents created); returns the path.

    Raises:
        OSError: the file cannot be written.

    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json(report), indent=2) + "\n", encoding="utf-8")
    return path
