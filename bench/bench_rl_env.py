"""The training environment and the learned policy: env steps/s, training steps/s, observation + inference latency.

Usage::

    python -m bench.bench_rl_env [--markets 3] [--registry .state/models] [--train-steps 32768] [--no-train]
                                 [--inference-only]

On the recorded gold tapes (decoded through ``rl.tapes``' cache):

1. **Environment steps per second on one core** with fixed policies (``hold``: the mechanics alone; ``imbalance``:
   the documented baseline, which trades), at the default coalescing (one decision per 100 ms of exchange time) and
   at every distinct exchange millisecond (``--interval 0``): CPU time of the episode loop (the policy's own
   choice included), so other processes on a shared machine do not distort it; frames per second alongside.
   Target: 20,000 steps/s (the predecessor trained at ~2,400).
2. **Training steps per second**: MaskablePPO (the defaults of ``rl.train``) learning ``--train-steps`` steps on
   8 environments, in-process (1 core) and in 2 worker processes (2 cores); wall time.
3. **Observation + policy inference per decision**: ``rl.features.observe`` plus ``ModelPolicy.act_vector`` (the
   registry's current model if ``--registry`` holds one, else an untrained MaskablePPO policy of the same
   architecture: the same cost), per-call ``perf_counter_ns`` p50/p99, with the numpy forward pass the product
   uses and with torch's (one thread) for comparison; with ``--registry``, also inference inline on a running
   event loop vs awaited from a worker thread (issue 9's "off the event loop only if it measurably helps").

Printed figures are medians over ``--repeats`` passes.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import click  # noqa: E402  (after the thread caps)

from rl.env import EnvConfig, KalshiTapeEnv  # noqa: E402
from rl.runner import make_policy  # noqa: E402
from rl.tapes import default_cache_dir, load_markets, time_split  # noqa: E402

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kalshi-gold15m"


def _env_speed(markets: list, policy_name: str, interval: int) -> tuple[float, float, int, int]:
    config = EnvConfig(decision_interval_ms=interval)
    env = KalshiTapeEnv(markets, config)
    policy = make_policy(policy_name, config)
    steps = 0
    frames = sum(len(m) for m in markets)
    gc.disable()
    try:
        start = time.process_time()
        for market in markets:
            env.reset(options={"market": market.ticker})
            done = False
            while not done:
                observation, mask = env.policy_observation()
                _, _, done, _, _ = env.step(policy.act(observation, mask))
                steps += 1
        spent = time.process_time() - start
    finally:
        gc.enable()
    return steps / spent, frames / spent, steps, frames


def _train_speed(data_dir: Path, steps: int, workers: int) -> float:
    import torch
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    from rl.inference import limit_torch_threads
    from rl.train import PPOSettings, _make_env, _set_hold_prior
    from rl.vec import BatchedSubprocVecEnv

    limit_torch_threads(1)
    markets = load_markets(data_dir, cache_dir=default_cache_dir())
    train, _ = time_split(markets)
    factory = _make_env(
        str(data_dir), [m.ticker for m in train], EnvConfig().model_dump_json(), str(default_cache_dir())
    )
    factories = [factory] * 8
    vec = BatchedSubprocVecEnv(factories, workers) if workers > 1 else DummyVecEnv(factories)
    ppo = PPOSettings()
    model = MaskablePPO(
        "MlpPolicy", vec, n_steps=ppo.n_steps // 4, batch_size=ppo.batch_size, n_epochs=ppo.n_epochs, gamma=ppo.gamma,
        gae_lambda=ppo.gae_lambda, ent_coef=ppo.ent_coef, policy_kwargs={"net_arch": list(ppo.net_arch)}, seed=0,
        device="cpu",
    )  # fmt: skip
    _set_hold_prior(model, ppo.hold_prior)
    model.learn(ppo.n_steps * 2)  # warm-up: worker start, first rollouts
    start = time.monotonic()
    model.learn(steps, reset_num_timesteps=False)
    seconds = time.monotonic() - start
    vec.close()
    del torch, Monitor
    return steps / seconds


def _latency(
    market, registry: Path | None, backend: str = "numpy"
) -> tuple[str, list[int], list[int], list[tuple[Any, list[bool]]]]:
    from sb3_contrib import MaskablePPO

    from models.fees import FEE_VERSION
    from rl.features import FEATURE_VERSION, N_FEATURES, observe
    from rl.inference import ModelPolicy, limit_torch_threads, load_policy
    from rl.registry import LoadedModel, ModelMetadata, ModelRegistry

    limit_torch_threads(1)
    config = EnvConfig()
    env = KalshiTapeEnv([market], config)
    if registry is not None and ModelRegistry(registry).current_version() is not None:
        policy = load_policy(registry, "rl:current", config.space(), backend=backend)
        label = f"model {policy.metadata.version}"
    else:
        probe = KalshiTapeEnv([market], config)
        model = MaskablePPO("MlpPolicy", probe, policy_kwargs={"net_arch": [64, 64]}, device="cpu", seed=0)
        meta = ModelMetadata(
            version="untrained",
            created_at=datetime.now(UTC),
            feature_version=FEATURE_VERSION,
            n_features=N_FEATURES,
            actions=config.space().names,
            fee_version=FEE_VERSION,
            data_fingerprint="-",
            seed=0,
        )
        policy = ModelPolicy(LoadedModel(model, meta, Path(".")), config.space(), backend=backend)
        label = "an untrained MaskablePPO policy (64x64, the trained models' shape)"
    env.reset(options={"market": market.ticker})
    ep = env._ep
    total: list[int] = []
    inference: list[int] = []
    seen: list[tuple[Any, list[bool]]] = []
    clock = time.perf_counter_ns
    done = False
    while not done:
        mask = list(env.action_masks())
        t0 = clock()
        obs = observe(ep.book, ep.features, ep.t)
        t1 = clock()
        policy.act_vector(obs, mask)
        t2 = clock()
        total.append(t2 - t0)
        inference.append(t2 - t1)
        seen.append((obs, mask))
        _, _, done, _, _ = env.step(0)
    return f"{label}, {policy.backend} forward pass", total, inference, seen


def _offload(policy: Any, seen: list[tuple[Any, list[bool]]]) -> dict[str, list[int]]:
    """Inference inline on a running event loop vs handed to one worker thread and awaited (wall ns per call)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    async def run() -> dict[str, list[int]]:
        loop = asyncio.get_running_loop()
        out: dict[str, list[int]] = {"inline": [], "thread": []}
        clock = time.perf_counter_ns
        with ThreadPoolExecutor(max_workers=1) as pool:
            for obs, mask in seen:
                t0 = clock()
                policy.act_vector(obs, mask)
                t1 = clock()
                await loop.run_in_executor(pool, policy.act_vector, obs, mask)
                t2 = clock()
                out["inline"].append(t1 - t0)
                out["thread"].append(t2 - t1)
                await asyncio.sleep(0)
        return out

    return asyncio.run(run())


def _pct(samples: list[int], q: float) -> int:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _print_latency(tape, registry: Path | None) -> None:
    """Print part 3 (module docstring) on ``tape``: the numpy forward pass (the product's), torch's, the offload."""
    from rl.inference import load_policy

    seen: list[tuple[Any, list[bool]]] = []
    for backend in ("numpy", "torch"):
        label, total, inference, seen = _latency(tape, registry, backend)
        print(f"observation + inference per decision, {label}, {len(total):,} decisions:")
        print(f"  observe + act: p50 {_pct(total, 0.5) / 1000:.1f} us, p99 {_pct(total, 0.99) / 1000:.1f} us")
        print(f"  act alone:     p50 {_pct(inference, 0.5) / 1000:.1f} us, p99 {_pct(inference, 0.99) / 1000:.1f} us")
    if registry is None:
        return
    timings = _offload(load_policy(registry, "rl:current", EnvConfig().space()), seen[:3_000])
    print(f"inference on the event loop vs off it (numpy forward pass, {len(timings['inline']):,} decisions, wall):")
    for mode, label in (("inline", "inline on the loop"), ("thread", "awaited from a worker thread")):
        ns = timings[mode]
        print(f"  {label:<29} p50 {_pct(ns, 0.5) / 1000:.1f} us, p99 {_pct(ns, 0.99) / 1000:.1f} us")


@click.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=DATA_DIR, show_default=True)
@click.option("--markets", "n_markets", type=int, default=3, show_default=True, help="Training markets per pass.")
@click.option("--repeats", type=int, default=3, show_default=True)
@click.option("--registry", type=click.Path(path_type=Path), default=None, help="Time this registry's current model.")
@click.option("--train-steps", type=int, default=32_768, show_default=True)
@click.option("--no-train", is_flag=True, help="Skip the training throughput (about a minute per setting).")
@click.option("--inference-only", is_flag=True, help="Only the observation + inference latency (part 3).")
def main(
    data_dir: Path,
    n_markets: int,
    repeats: int,
    registry: Path | None,
    train_steps: int,
    no_train: bool,
    inference_only: bool,
) -> None:
    """Print the environment, training and inference figures (module docstring)."""
    if not (data_dir / "MARKETS.csv").is_file():
        print(f"skipped: recorded data not found under {data_dir}")
        return
    markets = load_markets(data_dir, cache_dir=default_cache_dir())
    train, validation = time_split(markets)
    chosen = train[:n_markets]
    if inference_only:
        _print_latency(validation[0], registry)
        return
    print(f"environment: {len(chosen)} training markets ({chosen[0].ticker} ..), {repeats} passes (medians), CPU time")
    for interval in (100, 0):
        for name in ("hold", "imbalance"):
            rates = [_env_speed(chosen, name, interval) for _ in range(repeats)]
            steps_s = statistics.median(r[0] for r in rates)
            frames_s = statistics.median(r[1] for r in rates)
            steps, frames = rates[0][2], rates[0][3]
            print(
                f"  interval {interval:>3} ms, {name:<9}: {steps_s:>8,.0f} steps/s  {frames_s:>9,.0f} frames/s  "
                f"({steps:,} decisions for {frames:,} frames per pass)"
            )
    _print_latency(validation[0], registry)
    if not no_train:
        for workers in (1, 2):
            rate = _train_speed(data_dir, train_steps, workers)
            print(f"training: MaskablePPO, 8 environments in {workers} process(es): {rate:,.0f} steps/s (wall)")


if __name__ == "__main__":
    main()
