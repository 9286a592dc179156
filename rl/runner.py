"""Run strategies through the training environment and evaluate them: the engine behind ``kalshi-trader evaluate``.

Every strategy, the learned policy and each baseline alike, trades each selected market once through
:class:`rl.env.KalshiTapeEnv` (the simulator's fill model, Kalshi's fees, the decision pipeline's checks) as a
:class:`rl.decision.Policy` over (observation, action mask); the episodes become :class:`rl.evaluate.MarketResult`
rows, and :func:`rl.evaluate.evaluate` turns them into the metrics, the comparisons with a verdict in words, the
terminal table, the Markdown report, the PNG figures and the JSON document.

Policy specs (:func:`make_policy`): ``hold``, ``random``, ``imbalance``, ``maker``, ``longshot`` (the baselines of
:mod:`rl.decision.policies`) and ``rl:current`` / ``rl:<version>`` (a registry model; torch is imported only then).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from rl.decision import BASELINES, Policy, baseline
from rl.env import EnvConfig, KalshiTapeEnv
from rl.evaluate import EvaluationReport, StrategyResults, evaluate, format_table
from rl.tapes import MarketTape

__all__ = ["EvaluationRun", "make_policy", "run_evaluation", "run_policy"]


def make_policy(spec: str, config: EnvConfig, *, registry: Path | None = None, seed: int = 0) -> Policy:
    """Build the policy named ``spec`` for ``config``'s action space and limits.

    Raises:
        ValueError: an unknown spec, or a baseline whose actions are not in the space.
        rl.registry.ModelRegistryError: a model that is missing, corrupt or incompatible.

    """
    space = config.space()
    if spec.startswith("rl:"):
        if registry is None:
            raise ValueError(f"{spec} needs a model registry folder")
        from rl.inference import limit_torch_threads, load_policy

        limit_torch_threads(1)
        return load_policy(registry, spec, space, seed=seed)
    if spec in BASELINES:
        spread_cc = int(config.risk.max_spread_dollars * 10_000)
        return baseline(spec, space, seed=seed, max_spread_cc=spread_cc)
    raise ValueError(f"unknown policy {spec!r}; use one of {', '.join(BASELINES)}, rl:current or rl:<version>")


def run_policy(
    policy: Policy,
    markets: Sequence[MarketTape],
    config: EnvConfig,
    *,
    is_policy: bool = False,
    on_market: Callable[[str], None] | None = None,
) -> StrategyResults:
    """Trade each market once with ``policy`` through the environment; return its per-market results.

    The environment computes the observation only for policies that need it (``needs_features``).

    Raises:
        rl.env.EnvError, rl.features.FeatureError: a market the engine cannot replay, an impossible observation.

    """
    env = KalshiTapeEnv(list(markets), config, record=True)
    results = []
    for market in markets:
        obs, _ = env.reset(options={"market": market.ticker})
        done = False
        while not done:
            observation, mask = env.policy_observation(obs if policy.needs_features else None)
            obs, _, done, _, _ = env.step(policy.act(observation, mask))
        assert env.last_episode is not None
        results.append(env.last_episode.result(env.space))
        if on_market is not None:
            on_market(market.ticker)
    return StrategyResults(policy.name, results, env.space.names, is_policy=is_policy)


@dataclass
class EvaluationRun:
    """An evaluation: the report, the per-strategy results behind it, and how long it took (seconds)."""

    report: EvaluationReport
    results: list[StrategyResults]
    seconds: float

    def table(self) -> str:
        """The terminal table (:func:`rl.evaluate.format_table`)."""
        return format_table(self.report)

    def net_pnl(self, name: str) -> Decimal:
        """A strategy's total net P&L, dollars."""
        return next(m.net_pnl_dollars for m in self.report.strategies if m.name == name)


def run_evaluation(
    markets: Sequence[MarketTape],
    specs: Sequence[str],
    config: EnvConfig,
    *,
    registry: Path | None = None,
    seed: int = 0,
    on_progress: Callable[[str, str], None] | None = None,
) -> EvaluationRun:
    """Run every strategy in ``specs`` on ``markets`` and evaluate them (the learned one, if any, is the policy).

    Raises:
        ValueError: no strategies, or a spec :func:`make_policy` refuses.
        rl.registry.ModelRegistryError, rl.env.EnvError: see :func:`make_policy` and :func:`run_policy`.
        rl.evaluate.EvaluationError: results that cannot be evaluated.

    """
    if not specs:
        raise ValueError("nothing to evaluate: no policies")
    started = time.monotonic()
    results = []
    for spec in specs:
        policy = make_policy(spec, config, registry=registry, seed=seed)
        learned = spec.startswith("rl:")
        callback = None if on_progress is None else (lambda ticker, name=policy.name: on_progress(name, ticker))
        results.append(run_policy(policy, markets, config, is_policy=learned, on_market=callback))
    report = evaluate(results, seed=seed)
    return EvaluationRun(report, results, time.monotonic() - started)


def default_specs(registry: Path | None) -> list[str]:
    """``rl:current`` when the registry has a current model, then every baseline."""
    from rl.registry import ModelRegistry, ModelRegistryError

    specs = list(BASELINES)
    if registry is not None:
        try:
            if ModelRegistry(registry).current_version() is not None:
                specs.insert(0, "rl:current")
        except ModelRegistryError:
            specs.insert(0, "rl:current")  # a broken pointer: loading it reports the one-line error
    return specs


def select_markets(
    data_dir: Path,
    tickers: Sequence[str] | None,
    specs: Sequence[str],
    *,
    registry: Path | None = None,
    cache_dir: Path | None = None,
) -> tuple[list[MarketTape], str]:
    """The markets to evaluate and a sentence saying which and why.

    ``tickers`` when given; else, when a learned policy is evaluated, its validation markets that ``data_dir``
    holds (the markets it never trained on); else every market of ``data_dir``.

    Raises:
        rl.tapes.TapeDataError: unknown tickers or unreadable tapes.
        rl.registry.ModelRegistryError: the learned policy's metadata cannot be read.

    """
    from rl.registry import ModelRegistry
    from rl.tapes import load_markets

    if tickers:
        markets = load_markets(data_dir, tickers, cache_dir=cache_dir)
        return markets, f"{len(markets)} markets given on the command line"
    learned = [s for s in specs if s.startswith("rl:")]
    if learned and registry is not None:
        meta = ModelRegistry(registry).metadata(learned[0])
        everything = load_markets(data_dir, cache_dir=cache_dir)
        wanted = set(meta.validation_markets)
        chosen = [m for m in everything if m.ticker in wanted]
        if chosen:
            return chosen, (
                f"{len(chosen)} validation markets of model {meta.version} (never trained on; they chose its "
                f"early-stopping point, so its figures there are optimistic)"
            )
        unseen = [m for m in everything if m.ticker not in set(meta.training_markets)]
        if unseen:
            return unseen, f"{len(unseen)} markets model {meta.version} never trained on"
        return everything, f"all {len(everything)} markets (the model trained on them all: in-sample figures)"
    markets = load_markets(data_dir, cache_dir=cache_dir)
    return markets, f"all {len(markets)} markets of {data_dir}"


def write_outputs(run: EvaluationRun, report_dir: Path, json_path: Path | None = None) -> Path:
    """Write the report folder (``report.md``, PNG figures, ``report.json``) and, if asked, the JSON elsewhere too.

    Returns:
        The Markdown report's path.

    Raises:
        OSError: a file cannot be written.

    """
    from rl.evaluate import write_json
    from rl.plots import write_report

    path = write_report(run.report, run.results, report_dir)
    if json_path is not None:
        write_json(run.report, json_path)
    return path
