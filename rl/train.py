"""Training: MaskablePPO on the recorded markets, a time-ordered split, early stopping, and a registry version.

``kalshi-trader train`` (and ``make train``) call :func:`train`:

1. The data directory's markets are decoded (:mod:`rl.tapes`, cached) and split by open time: the first
   ``train_fraction`` (70 %) train, the rest validate; never a split inside a market.
2. ``n_envs`` environments (:class:`rl.env.KalshiTapeEnv` on the training markets, seeds ``seed + i``) step
   together, in the training process by default (``n_workers=1``) or in worker processes
   (:class:`rl.vec.BatchedSubprocVecEnv`), torch on one thread each. Measured here (``bench/bench_rl_env.py``):
   8 environments in-process train at ~3,500 steps/s, the same 8 in 2 worker processes at ~2,100 (the pipe
   round trips cost more than the parallel stepping saves while most decisions are HOLD), so one process is the
   default and ``--workers 2`` is there for costlier environments. MaskablePPO
   (sb3-contrib) learns with the environment's action masks, a progress bar, periodic checkpoints and an
   evaluation on the validation markets every ``eval_every`` steps (the sampled policy, as it trades,
   :mod:`rl.inference`; one episode per market).
   Training stops at ``timesteps``, after ``patience`` evaluations without a better validation mean, or when the
   wall-time budget runs out, whichever comes first.
3. The best model by validation mean net P&L per market is evaluated once more on the validation markets next to
   the baselines (:mod:`rl.runner`) and saved to the registry (:mod:`rl.registry`) as a new version with its
   metadata: feature version, action names, fee version, environment settings, data fingerprint of the training
   markets' tapes, the split, hyper-parameters, seed, metrics and library versions; ``current`` then points to it.

Hyper-parameters are fixed defaults chosen once (:class:`PPOSettings`); they are not tuned on the validation
markets. Nothing is shaped: the reward is the environment's net portfolio change.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models.fees import FEE_VERSION
from rl.env import EnvConfig, KalshiTapeEnv
from rl.features import FEATURE_VERSION, N_FEATURES
from rl.registry import ModelMetadata, ModelRegistry, data_fingerprint, new_version_id
from rl.tapes import MarketTape, default_cache_dir, load_markets, time_split

__all__ = ["PPOSettings", "TrainResult", "TrainSettings", "train"]

log = logging.getLogger(__name__)

_LIBRARIES = ("torch", "stable-baselines3", "sb3-contrib", "gymnasium", "numpy")


class PPOSettings(BaseModel):
    """MaskablePPO's hyper-parameters (recorded in the model's metadata).

    Attributes:
        learning_rate: Adam step size.
        n_steps: rollout steps per environment between updates.
        batch_size: minibatch size.
        n_epochs: passes over each rollout.
        gamma: discount per decision point (0.999: a horizon of ~1,000 decisions, a few minutes of a market).
        gae_lambda: GAE's lambda (0.99: the payoff of an entry comes hundreds of decisions later, at the close).
        clip_range: PPO's clip.
        ent_coef: entropy bonus (keeps the policy from collapsing onto HOLD early).
        vf_coef: value-loss weight.
        net_arch: hidden layer sizes of the policy and value networks.
        hold_prior: the untrained policy's probability of HOLD when every action is allowed (the action head's
            HOLD bias is set to match; the other actions share the rest). An untrained uniform policy trades at
            nearly every decision point and pays the spread and fees each time, so the first updates only teach
            "never trade"; starting mostly at HOLD explores trades sparsely and lets the edge of the few show.
            0 keeps SB3's uniform start.

    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_rate: float = Field(default=3e-4, gt=0)
    n_steps: int = Field(default=2_048, ge=16)
    batch_size: int = Field(default=256, ge=8)
    n_epochs: int = Field(default=5, ge=1)
    gamma: float = Field(default=0.999, gt=0, le=1)
    gae_lambda: float = Field(default=0.99, gt=0, le=1)
    clip_range: float = Field(default=0.2, gt=0)
    ent_coef: float = Field(default=0.01, ge=0)
    vf_coef: float = Field(default=0.5, ge=0)
    net_arch: tuple[int, ...] = (64, 64)
    hold_prior: float = Field(default=0.9, ge=0, lt=1)


class TrainSettings(BaseModel):
    """One training run.

    Attributes:
        data_dir: the recorded data directory.
        registry: the model registry folder (a version is added; ``current`` moves to it).
        timesteps: the most environment steps to train (all environments together).
        seed: the run's seed (episode order, network initialisation, SB3's sampling).
        n_envs: environments stepped together (the rollout batch).
        n_workers: processes running them (:class:`rl.vec.BatchedSubprocVecEnv`; 1 = in the training process).
        train_fraction: share of markets, by open time, that train.
        eval_every: steps (all environments together) between validation evaluations.
        patience: evaluations without a better validation mean before stopping (after ``min_evals``).
        min_evals: evaluations before early stopping may trigger.
        checkpoint_every: steps between checkpoints.
        budget_minutes: wall-time budget of the learning phase (stops cleanly when exceeded).
        env: the environment's settings.
        ppo: the hyper-parameters.
        tag: the version id's tag (``<UTC time>-<tag>``).
        progress_bar: show SB3's progress bar.
        cache_dir: decoded-tape cache (None: no cache).

    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path
    registry: Path
    timesteps: int = Field(default=1_500_000, ge=1)
    seed: int = 0
    n_envs: int = Field(default=8, ge=1, le=64)
    n_workers: int = Field(default=1, ge=1, le=64)
    train_fraction: float = Field(default=0.7, gt=0, lt=1)
    eval_every: int = Field(default=100_000, ge=1)
    patience: int = Field(default=4, ge=1)
    min_evals: int = Field(default=3, ge=1)
    checkpoint_every: int = Field(default=200_000, ge=1)
    budget_minutes: float = Field(default=11.0, gt=0)
    env: EnvConfig = Field(default_factory=EnvConfig)
    ppo: PPOSettings = Field(default_factory=PPOSettings)
    tag: str = Field(default="ppo", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$")
    progress_bar: bool = True
    cache_dir: Path | None = Field(default_factory=default_cache_dir)


@dataclass
class TrainResult:
    """What :func:`train` produced: the registry version, its folder and metadata, and the run's figures.

    Attributes:
        version: the new registry version (``current`` points to it).
        folder: its folder.
        metadata: its metadata.
        steps: environment steps trained.
        seconds: wall time of the whole run.
        learn_seconds: wall time of the learning phase (rollouts + updates + evaluations).
        steps_per_second: ``steps / learn_seconds``.
        stopped_by: ``"timesteps"``, ``"early_stopping"`` or ``"budget"``.
        table: the validation evaluation table (policy and baselines).

    """

    version: str
    folder: Path
    metadata: ModelMetadata
    steps: int
    seconds: float
    learn_seconds: float
    steps_per_second: float
    stopped_by: str
    table: str


def _make_env(data_dir: str, tickers: list[str], config_json: str, cache_dir: str | None) -> Callable[[], Any]:
    """A picklable environment factory for ``SubprocVecEnv`` (each worker decodes from the cache, torch on 1 thread).

    SB3 seeds environment ``i`` with ``seed + i`` at its first reset (the model's ``seed``).
    """

    def build() -> Any:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(var, "1")
        import torch
        from stable_baselines3.common.monitor import Monitor

        torch.set_num_threads(1)
        markets = load_markets(Path(data_dir), tickers, cache_dir=Path(cache_dir) if cache_dir else None)
        return Monitor(KalshiTapeEnv(markets, EnvConfig.model_validate_json(config_json)))

    return build


def _versions() -> dict[str, str]:
    out = {}
    for name in _LIBRARIES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[name] = importlib.metadata.version(name)
    return out


def train(settings: TrainSettings, *, echo: Callable[[str], None] = print) -> TrainResult:
    """Train a MaskablePPO policy, evaluate it and save it to the registry (module docstring).

    Raises:
        rl.tapes.TapeDataError: the data directory or a market cannot be replayed.
        rl.registry.ModelRegistryError: the model cannot be saved.

    """
    from rl.inference import limit_torch_threads

    limit_torch_threads(1)  # also turns off torch.distributions' argument validation (a per-step cost)
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback
    from stable_baselines3.common.callbacks import (
        BaseCallback,
        CallbackList,
        CheckpointCallback,
        StopTrainingOnNoModelImprovement,
    )
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    from rl.runner import run_evaluation
    from rl.vec import BatchedSubprocVecEnv

    started = time.monotonic()
    markets = load_markets(settings.data_dir, cache_dir=settings.cache_dir)
    train_markets, val_markets = time_split(markets, settings.train_fraction)
    echo(
        f"data: {len(markets)} markets in {settings.data_dir}; training on {len(train_markets)} "
        f"({train_markets[0].ticker} .. {train_markets[-1].ticker}), validating on {len(val_markets)} "
        f"({val_markets[0].ticker} .. {val_markets[-1].ticker})"
    )
    version = new_version_id(settings.tag)
    run_dir = settings.registry / "runs" / version
    run_dir.mkdir(parents=True, exist_ok=True)
    config_json = settings.env.model_dump_json()
    cache = str(settings.cache_dir) if settings.cache_dir else None
    tickers = [m.ticker for m in train_markets]
    if settings.n_workers > 1:  # each worker decodes (from the cache) what its environments need
        factories = [_make_env(str(settings.data_dir), tickers, config_json, cache) for _ in range(settings.n_envs)]
        vec: Any = BatchedSubprocVecEnv(factories, settings.n_workers)
    else:  # in-process: the environments share the decoded markets
        vec = DummyVecEnv([lambda: Monitor(KalshiTapeEnv(train_markets, settings.env))] * settings.n_envs)
    eval_env = DummyVecEnv([lambda: Monitor(KalshiTapeEnv(val_markets, settings.env))])
    ppo = settings.ppo
    model = MaskablePPO(
        "MlpPolicy",
        vec,
        learning_rate=ppo.learning_rate,
        n_steps=ppo.n_steps,
        batch_size=ppo.batch_size,
        n_epochs=ppo.n_epochs,
        gamma=ppo.gamma,
        gae_lambda=ppo.gae_lambda,
        clip_range=ppo.clip_range,
        ent_coef=ppo.ent_coef,
        vf_coef=ppo.vf_coef,
        policy_kwargs={"net_arch": list(ppo.net_arch)},
        seed=settings.seed,
        device="cpu",
        verbose=0,
    )
    _set_hold_prior(model, ppo.hold_prior)
    budget_s = settings.budget_minutes * 60

    class Budget(BaseCallback):
        """Stops learning when the wall-time budget is spent (checked every rollout step)."""

        def __init__(self) -> None:
            super().__init__()
            self.hit = False

        def _on_step(self) -> bool:
            if time.monotonic() - learn_started > budget_s:
                self.hit = True
                return False
            return True

    budget = Budget()
    per_env = max(1, settings.eval_every // settings.n_envs)
    stopper = StopTrainingOnNoModelImprovement(settings.patience, settings.min_evals, verbose=0)
    evaluation = MaskableEvalCallback(
        eval_env,
        n_eval_episodes=len(val_markets),
        eval_freq=per_env,
        best_model_save_path=str(run_dir / "best"),
        log_path=str(run_dir / "eval"),
        deterministic=False,  # the sampled policy, as it trades (rl.inference)
        callback_after_eval=stopper,
        verbose=0,
    )
    checkpoints = CheckpointCallback(
        max(1, settings.checkpoint_every // settings.n_envs), str(run_dir / "checkpoints"), "model"
    )
    learn_started = time.monotonic()
    try:
        model.learn(
            settings.timesteps,
            callback=CallbackList([checkpoints, evaluation, budget]),
            progress_bar=settings.progress_bar,
        )
    finally:
        vec.close()
    learn_seconds = time.monotonic() - learn_started
    steps = int(model.num_timesteps)
    stopped_by = "budget" if budget.hit else ("early_stopping" if steps < settings.timesteps else "timesteps")
    best_zip = run_dir / "best" / "best_model.zip"
    final_zip = run_dir / "final_model.zip"
    model.save(final_zip)
    chosen = best_zip if best_zip.is_file() else final_zip
    echo(
        f"learned {steps:,} steps in {learn_seconds:.0f} s ({steps / max(learn_seconds, 1e-9):,.0f} steps/s on "
        f"{settings.n_envs} environments in {settings.n_workers} processes); stopped by {stopped_by}; "
        f"using {chosen.relative_to(settings.registry)}"
    )
    training_metrics = _episode_metrics(model)
    best = float(getattr(evaluation, "best_mean_reward", float("-inf")))
    best_eval = {"best_eval_mean_net_pnl_dollars": best} if math.isfinite(best) else {}
    # The chosen model, next to the baselines, on the validation markets (what the registry records).
    staging = ModelRegistry(run_dir / "staging")
    meta = _metadata(version, settings, train_markets, val_markets, training_metrics, best_eval)
    staging.save(chosen, meta, make_current=True)
    evaluation_run = run_evaluation(
        val_markets, ["rl:current", "hold", "random", "imbalance", "maker", "longshot"], settings.env,
        registry=run_dir / "staging", seed=settings.seed,
    )  # fmt: skip
    policy_metrics = next(m for m in evaluation_run.report.strategies if m.is_policy)
    validation_metrics = {
        **best_eval,
        "net_pnl_dollars": float(policy_metrics.net_pnl_dollars),
        "fees_dollars": float(policy_metrics.fees_dollars),
        "mean_pnl_dollars": float(policy_metrics.mean_pnl_dollars),
        "mean_pnl_ci_low_dollars": float(policy_metrics.mean_pnl_ci_low_dollars),
        "mean_pnl_ci_high_dollars": float(policy_metrics.mean_pnl_ci_high_dollars),
        "trades": float(policy_metrics.trades),
        "collapsed": float(policy_metrics.collapsed),
        "hold_share": float(policy_metrics.action_distribution.get("HOLD", 0.0)),
    }
    final_meta = _metadata(version, settings, train_markets, val_markets, training_metrics, validation_metrics)
    registry = ModelRegistry(settings.registry)
    folder = registry.save(chosen, final_meta, make_current=True)
    shutil.rmtree(run_dir / "staging", ignore_errors=True)
    table = evaluation_run.table()
    echo(table)
    echo(f"saved model {version} to {folder} (current)")
    seconds = time.monotonic() - started
    return TrainResult(
        version,
        folder,
        registry.metadata(version),
        steps,
        seconds,
        learn_seconds,
        steps / max(learn_seconds, 1e-9),
        stopped_by,
        table,
    )


def _set_hold_prior(model: Any, hold_prior: float) -> None:
    """Set the action head's HOLD bias so the untrained policy holds with probability ``hold_prior`` (all allowed)."""
    if hold_prior <= 0:
        return
    import torch

    n = int(model.action_space.n)
    with torch.no_grad():
        bias = model.policy.action_net.bias
        bias.zero_()
        bias[0] = math.log(hold_prior * (n - 1) / (1 - hold_prior))


def _episode_metrics(model: Any) -> dict[str, float]:
    episodes = list(getattr(model, "ep_info_buffer", []) or [])
    if not episodes:
        return {}
    rewards = [float(e["r"]) for e in episodes]
    lengths = [float(e["l"]) for e in episodes]
    return {
        "episodes_in_buffer": float(len(episodes)),
        "mean_episode_net_pnl_dollars": sum(rewards) / len(rewards),
        "mean_episode_decisions": sum(lengths) / len(lengths),
        "timesteps": float(model.num_timesteps),
    }


def _metadata(
    version: str,
    settings: TrainSettings,
    train_markets: list[MarketTape],
    val_markets: list[MarketTape],
    training_metrics: dict[str, float],
    validation_metrics: dict[str, float],
) -> ModelMetadata:
    files = [f for m in train_markets for f in m.files]
    return ModelMetadata(
        version=version,
        created_at=datetime.now(UTC),
        algorithm="MaskablePPO",
        feature_version=FEATURE_VERSION,
        n_features=N_FEATURES,
        actions=settings.env.actions,
        fee_version=FEE_VERSION,
        reward="net_portfolio_change",
        shaping={},
        env_config=settings.env.model_dump(mode="json"),
        data_fingerprint=data_fingerprint(files, root=settings.data_dir),
        training_markets=tuple(m.ticker for m in train_markets),
        validation_markets=tuple(m.ticker for m in val_markets),
        hyperparameters={
            **settings.ppo.model_dump(mode="json"),
            "n_envs": settings.n_envs,
            "n_workers": settings.n_workers,
            "timesteps": settings.timesteps,
            "eval_every": settings.eval_every,
            "patience": settings.patience,
            "train_fraction": settings.train_fraction,
            "inference": "sampled",
        },
        seed=settings.seed,
        training_metrics=training_metrics,
        validation_metrics=validation_metrics,
        library_versions=_versions(),
    )
