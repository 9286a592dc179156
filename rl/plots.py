"""PNG figures of an evaluation (matplotlib, object API, no display needed): equity, P&L per market, action mix.

:func:`write_report` writes the whole report folder: ``report.md`` (:func:`rl.evaluate.markdown_report`), the
three figures and ``report.json`` (:func:`rl.evaluate.to_json`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from rl.evaluate import EvaluationReport, MarketResult, StrategyResults, markdown_report, write_json

__all__ = ["equity_curve_points", "write_plots", "write_report"]

_DPI = 110


def equity_curve_points(markets: Sequence[MarketResult]) -> tuple[list[float], list[float]]:
    """The cumulative net P&L path across markets in time order, as ``(x, dollars)`` for plotting.

    ``x`` runs over market numbers: market ``i`` (0-based, by open time) spans ``[i, i + 1]``, each P&L point
    placed at its share of the market's decision span. Returns float values (plotting only).
    """
    xs: list[float] = [0.0]
    ys: list[float] = [0.0]
    base = 0.0
    for i, result in enumerate(sorted(markets, key=lambda r: (r.open_ms, r.market))):
        path = result.pnl_path or ((0, result.net_pnl_dollars),)
        t0, t1 = path[0][0], path[-1][0]
        span = (t1 - t0) or 1
        for ts, value in path:
            xs.append(i + (ts - t0) / span)
            ys.append(base + float(value))
        base += float(result.net_pnl_dollars)
        xs.append(i + 1.0)
        ys.append(base)
    return xs, ys


def write_plots(report: EvaluationReport, results: Sequence[StrategyResults], out_dir: Path) -> dict[str, str]:
    """Write ``equity.png``, ``pnl_per_market.png`` and ``action_mix.png`` into ``out_dir``.

    Returns:
        Figure title -> file name (relative to ``out_dir``), for :func:`rl.evaluate.markdown_report`.

    Raises:
        OSError: a file cannot be written.

    """
    out_dir.mkdir(parents=True, exist_ok=True)
    images: dict[str, str] = {}

    fig = Figure(figsize=(9, 4.5), dpi=_DPI)
    ax = fig.add_subplot()
    for res in results:
        xs, ys = equity_curve_points(res.markets)
        ax.plot(xs, ys, label=res.name, linewidth=2.2 if res.is_policy else 1.2)
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.set_xlabel("markets in time order")
    ax.set_ylabel("cumulative net P&L ($, after fees)")
    ax.set_title("Equity curve per strategy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "equity.png")
    images["Equity curve per strategy"] = "equity.png"

    fig = Figure(figsize=(max(6.0, 0.6 * len(report.markets) + 3), 4.5), dpi=_DPI)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(report.strategies))
    x = np.arange(len(report.markets))
    for k, m in enumerate(report.strategies):
        values = [float(m.per_market_net_dollars[t]) for t in report.markets]
        ax.bar(x + k * width - 0.4 + width / 2, values, width, label=m.name)
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.set_xticks(
        x, [t.rsplit("-", 2)[-2] if t.count("-") >= 2 else t for t in report.markets], rotation=60, fontsize=7
    )
    ax.set_ylabel("net P&L ($)")
    ax.set_title("Net P&L per market")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "pnl_per_market.png")
    images["Net P&L per market"] = "pnl_per_market.png"

    fig = Figure(figsize=(10, 0.5 * len(report.strategies) + 1.6), dpi=_DPI)
    ax = fig.add_subplot()
    names = [m.name for m in report.strategies]
    left = np.zeros(len(names))
    for action in report.strategies[0].action_counts:
        shares = np.array([m.action_distribution.get(action, 0.0) for m in report.strategies])
        ax.barh(names, shares, left=left, label=action)
        left += shares
    ax.set_xlim(0, 1)
    ax.invert_yaxis()  # strategies top-down in table order
    ax.set_xlabel("share of decisions")
    ax.set_title("Action mix")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(out_dir / "action_mix.png")
    images["Action mix"] = "action_mix.png"
    return images


def write_report(report: EvaluationReport, results: Sequence[StrategyResults], out_dir: Path) -> Path:
    """Write the report folder (figures, ``report.md``, ``report.json``); returns the Markdown file's path.

    Raises:
        OSError: a file cannot be written.

    """
    images = write_plots(report, results, out_dir)
    write_json(report, out_dir / "report.json")
    path = out_dir / "report.md"
    path.write_text(markdown_report(report, images), encoding="utf-8")
    return path
