"""Evaluation metrics and reports on constructed results whose every figure is worked out by hand below."""

from __future__ import annotations

import json
import math
import statistics
from decimal import Decimal
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from rl.evaluate import (
    EvaluationError,
    Fill,
    MarketResult,
    StrategyResults,
    evaluate,
    format_table,
    markdown_report,
    to_json,
)
from rl.plots import write_report

D = Decimal
ACTIONS = ("HOLD", "BUY_YES_TAKE", "BUY_NO_TAKE", "SELL_YES_TAKE", "SELL_NO_TAKE", "BUY_NO_MAKE")


def _policy_markets() -> list[MarketResult]:
    # A: buy 10 YES at $0.40 as taker (fee $0.17), YES settles -> $10 payout. Gross $6.00, net $5.83.
    a = MarketResult(
        "KXT-A",
        1_000,
        (Fill(1_100, "yes", "buy", D(10), D("0.40"), D("0.17"), True),),
        D(10),
        ((1_100, D("-0.27")), (1_900, D("5.83"))),
        {"HOLD": 90, "BUY_YES_TAKE": 10},
    )
    # B: buy 10 NO at $0.30 resting (maker, no fee), sell them at $0.25 as taker (fee $0.14). Net -$0.64.
    b = MarketResult(
        "KXT-B",
        2_000,
        (
            Fill(2_100, "no", "buy", D(10), D("0.30"), D(0), False),
            Fill(2_500, "no", "sell", D(10), D("0.25"), D("0.14"), True),
        ),
        D(0),
        ((2_100, D("-0.10")), (2_500, D("-0.64"))),
        {"HOLD": 80, "BUY_NO_MAKE": 10, "SELL_NO_TAKE": 10},
    )
    c = MarketResult("KXT-C", 3_000, (), D(0), (), {"HOLD": 100})
    return [c, a, b]  # any order: sorted by open time inside


def _hold_markets() -> list[MarketResult]:
    return [
        MarketResult(m, t, (), D(0), (), {"HOLD": 100})
        for m, t in (("KXT-A", 1_000), ("KXT-B", 2_000), ("KXT-C", 3_000))
    ]


def _results() -> list[StrategyResults]:
    return [
        StrategyResults("ppo:test", _policy_markets(), ACTIONS, is_policy=True),
        StrategyResults("hold", _hold_markets(), ACTIONS),
    ]


def test_metrics_match_the_hand_computation() -> None:
    report = evaluate(_results(), seed=3)
    ppo, hold = report.strategies
    assert report.markets == ["KXT-A", "KXT-B", "KXT-C"]
    assert ppo.net_pnl_dollars == D("5.19")
    assert ppo.gross_pnl_dollars == D("5.50")
    assert ppo.fees_dollars == D("0.31")
    assert ppo.trades == 3
    assert ppo.turnover_dollars == D("9.50")
    assert ppo.hit_rate == 0.5  # traded in A (won) and B (lost)
    assert ppo.max_drawdown_dollars == D("0.64")  # from the $5.83 peak after A down to $5.19 at B's end
    assert ppo.taker_share == pytest.approx(2 / 3)
    assert ppo.maker_share == pytest.approx(1 / 3)
    nets = [5.83, -0.64, 0.0]
    assert ppo.sharpe == pytest.approx(statistics.mean(nets) / statistics.stdev(nets))
    assert ppo.mean_pnl_dollars == D("1.73")
    assert ppo.mean_pnl_ci_low_dollars <= ppo.mean_pnl_dollars <= ppo.mean_pnl_ci_high_dollars
    assert ppo.action_counts == {
        "HOLD": 270,
        "BUY_YES_TAKE": 10,
        "BUY_NO_TAKE": 0,
        "SELL_YES_TAKE": 0,
        "SELL_NO_TAKE": 10,
        "BUY_NO_MAKE": 10,
    }
    assert ppo.action_distribution["HOLD"] == pytest.approx(0.9)
    expected_entropy = -(0.9 * math.log2(0.9) + 3 * (1 / 30) * math.log2(1 / 30))
    assert ppo.action_entropy_bits == pytest.approx(expected_entropy)
    assert not ppo.collapsed
    assert hold.net_pnl_dollars == 0 and hold.trades == 0 and hold.hit_rate is None and hold.sharpe is None
    assert hold.collapsed and "HOLD chosen 100.0%" in (hold.collapse_reason or "")


def test_comparison_verdict_in_words() -> None:
    report = evaluate(_results(), seed=3)
    (cmp,) = report.comparisons
    assert cmp.baseline == "hold" and cmp.beat
    assert cmp.difference_dollars == D("5.19") and cmp.mean_difference_dollars == D("1.73")
    # Three markets with differences 5.83, -0.64, 0: the interval includes zero.
    assert cmp.ci_low_dollars <= 0 <= cmp.ci_high_dollars and not cmp.significant
    assert "ppo:test beat hold by $5.19 net of fees over 3 markets" in cmp.verdict
    assert "inside the noise" in cmp.verdict


def test_a_clear_lead_is_called_significant() -> None:
    many = [
        MarketResult(
            f"KXT-{i:03d}",
            i,
            (Fill(i, "yes", "buy", D(1), D("0.50"), D("0.02"), True),),
            D(1),
            (),
            {"HOLD": 9, "BUY_YES_TAKE": 1},
        )
        for i in range(40)
    ]
    flat = [MarketResult(f"KXT-{i:03d}", i, (), D(0), (), {"HOLD": 10}) for i in range(40)]
    report = evaluate([StrategyResults("ppo", many, ACTIONS, is_policy=True), StrategyResults("hold", flat, ACTIONS)])
    (cmp,) = report.comparisons
    assert cmp.difference_dollars == D("19.20") and cmp.significant
    assert "unlikely to be luck" in cmp.verdict


def test_bootstrap_interval_is_seeded_and_sensible() -> None:
    values = [D(v) / 200 for v in range(-100, 101)]  # per-market net P&L: mean 0, sample sd ~0.29
    buy = Fill(0, "yes", "buy", D(1), D("0.50"), D(0), True)  # net = settlement - $0.50
    markets = [MarketResult(f"KXT-{i:03d}", i, (buy,), D("0.50") + v, (), {}) for i, v in enumerate(values)]
    res = [StrategyResults("s", markets, ACTIONS)]
    one, two = evaluate(res, seed=9).strategies[0], evaluate(res, seed=9).strategies[0]
    assert (one.mean_pnl_ci_low_dollars, one.mean_pnl_ci_high_dollars) == (
        two.mean_pnl_ci_low_dollars,
        two.mean_pnl_ci_high_dollars,
    )
    half_width = float(one.mean_pnl_ci_high_dollars - one.mean_pnl_ci_low_dollars) / 2
    normal = 1.96 * statistics.stdev(float(v) for v in values) / math.sqrt(len(values))
    assert half_width == pytest.approx(normal, rel=0.1)


@pytest.mark.parametrize(
    ("actions", "reason"),
    [
        ({"HOLD": 995, "BUY_YES_TAKE": 5}, "HOLD chosen 99.5%"),
        ({"HOLD": 30, "SELL_NO_TAKE": 970}, "SELL_NO_TAKE chosen 97.0%"),
    ],
)
def test_collapsed_policy_is_flagged(actions, reason) -> None:
    markets = [MarketResult("KXT-A", 1, (), D(0), (), actions)]
    report = evaluate([StrategyResults("ppo", markets, ACTIONS, is_policy=True)])
    (m,) = report.strategies
    assert m.collapsed and reason in (m.collapse_reason or "")
    assert "collapsed" in format_table(report) and "Collapsed strategies" in markdown_report(report)
    assert to_json(report)["strategies"]["ppo"]["collapsed"] is True


def test_a_hold_heavy_but_active_policy_is_not_collapsed() -> None:
    markets = [MarketResult("KXT-A", 1, (), D(0), (), {"HOLD": 980, "BUY_YES_TAKE": 10, "SELL_YES_TAKE": 10})]
    (m,) = evaluate([StrategyResults("ppo", markets, ACTIONS, is_policy=True)]).strategies
    assert not m.collapsed


def test_bad_results_are_refused() -> None:
    with pytest.raises(EvaluationError, match="no strategies"):
        evaluate([])
    lying = MarketResult("KXT-A", 1, (Fill(1, "yes", "buy", D(1), D("0.5"), D("0.02"), True),), D(0), ((1, D(0)),), {})
    with pytest.raises(EvaluationError, match="P&L path ends at 0"):
        evaluate([StrategyResults("s", [lying], ACTIONS)])
    with pytest.raises(EvaluationError, match="other markets"):
        evaluate([StrategyResults("a", _hold_markets(), ACTIONS), StrategyResults("b", _hold_markets()[:2], ACTIONS)])
    with pytest.raises(EvaluationError, match="not in its action space"):
        evaluate([StrategyResults("s", [MarketResult("KXT-A", 1, (), D(0), (), {"JUMP": 1})], ACTIONS)])
    with pytest.raises(EvaluationError, match="more than one policy"):
        evaluate([StrategyResults(n, _hold_markets(), ACTIONS, is_policy=True) for n in ("a", "b")])


def test_report_folder_table_markdown_json_and_pngs(tmp_path: Path) -> None:
    results = _results()
    report = evaluate(results, seed=3)
    table = format_table(report)
    assert table.splitlines()[0] == "3 markets, net of Kalshi fees"
    assert "ppo:test *" in table and "$5.19" in table
    md_path = write_report(report, results, tmp_path / "report")
    md = md_path.read_text()
    assert "## Verdicts" in md and "ppo:test beat hold by $5.19" in md
    for png in ("equity.png", "pnl_per_market.png", "action_mix.png"):
        data = (tmp_path / "report" / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
        assert f"]({png})" in md
    doc = json.loads((tmp_path / "report" / "report.json").read_text())
    ppo = doc["strategies"]["ppo:test"]
    for key in (
        "net_pnl_dollars",
        "fees_dollars",
        "trades",
        "markets",
        "collapsed",
        "mean_pnl_ci_low_dollars",
        "mean_pnl_ci_high_dollars",
        "action_distribution",
    ):
        assert key in ppo
    assert ppo["net_pnl_dollars"] == "5.1900" and ppo["fees_dollars"] == "0.3100" and ppo["markets"] == 3
    assert doc["comparisons"][0]["baseline"] == "hold"
