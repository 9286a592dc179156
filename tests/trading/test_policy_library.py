"""The worker's policy library (trading/live.py): what an epoch runs for each configured policy, and every way a
learned policy cannot run, each one fallback with a one-line reason and a metric, never an exception.

Bad input covered here: a registry pointer to a missing folder, no ``current`` pointer, a model for another
feature version, a model whose action names this trader does not know, corrupt weights, no registry, a worker
without the feature history (no RL extra / no market data), and a learned policy in the REST polling epoch.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("sb3_contrib")

from kalshi.ingest import MarketDataHub
from models.trader import EpochSettings, RiskLimits
from recording.metrics import AppMetrics
from rl.registry import ModelRegistry
from rl.tapes import load_markets
from tests.conftest import DATA_DIR
from tests.rl.tiny_model import save_tiny_model
from trading.live import FeatureStore, PolicyLibrary

pytestmark = pytest.mark.skipif(not (DATA_DIR / "MARKETS.csv").is_file(), reason="recorded gold tapes not available")
RISK = RiskLimits()
MARKET = "KXGOLD15M-26AUG102215-15"


def _tapes():
    return load_markets(DATA_DIR, [MARKET])  # one market: loading all the tapes takes ~25 s


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    save_tiny_model(root, _tapes(), steps=64)
    return root


def library(registry: Path | None, features: bool = True) -> tuple[PolicyLibrary, AppMetrics]:
    metrics = AppMetrics()
    store = FeatureStore(MarketDataHub("q")) if features else None
    return PolicyLibrary(registry, metrics, store), metrics


def fallbacks(metrics: AppMetrics, kind: str, requested: str = "rl:current") -> float:
    return metrics.policy_fallbacks.labels(requested, "imbalance", kind)._value.get()


async def test_baselines_and_a_learned_policy(registry: Path) -> None:
    lib, _ = library(registry)
    for name in ("imbalance", "hold"):
        live = await lib.resolve(EpochSettings(policy=name), RISK, live_books=True)
        assert (live.name, live.info.fallback_reason, live.needs_features) == (name, None, False)
    live = await lib.resolve(EpochSettings(policy="rl:current"), RISK, live_books=True)
    meta = ModelRegistry(registry).metadata("current")
    assert live.name == f"rl:{meta.version}" and live.needs_features and live.interval_ms == 100
    assert live.info.feature_version == meta.feature_version and live.space.names == meta.actions
    assert live.reference_capital_micro == 100_000 * 10_000 and live.position_scale_lots == 2_000
    again = await lib.resolve(EpochSettings(policy=f"rl:{meta.version}"), RISK, live_books=True)
    assert again.policy is live.policy  # loaded once per process; the epoch's sampling continues


async def test_hot_reload_follows_the_current_pointer(registry: Path, tmp_path: Path) -> None:
    root = tmp_path / "models"
    first = save_tiny_model(root, _tapes(), steps=64)
    lib, _ = library(root)
    assert (await lib.resolve(EpochSettings(policy="rl:current"), RISK, live_books=True)).info.model_version == (
        first.version
    )
    second = save_tiny_model(root, _tapes(), steps=64, seed=9)
    assert (await lib.resolve(EpochSettings(policy="rl:current"), RISK, live_books=True)).info.model_version == (
        second.version
    )


@pytest.mark.parametrize(
    ("break_it", "kind", "says"),
    [
        (lambda root, v: (root / "current").write_text("20990101T000000Z-gone-000000\n"), "missing", "not found"),
        (lambda root, v: (root / "current").unlink(), "missing", "no current model"),
        (lambda root, v: _meta(root, v, feature_version=99), "incompatible", "feature version 99"),
        (lambda root, v: _meta(root, v, actions=["HOLD", "BUY_MOON_TAKE"]), "incompatible", "unknown actions"),
        (lambda root, v: (root / "versions" / v / "model.zip").write_bytes(b"x"), "corrupt", "checksum"),
    ],
    ids=["pointer-to-missing-folder", "no-pointer", "feature-version", "action-space", "corrupt-weights"],
)
async def test_a_model_that_cannot_run_falls_back_with_its_reason(tmp_path: Path, break_it, kind, says) -> None:
    root = tmp_path / "models"
    meta = save_tiny_model(root, _tapes(), steps=64)
    break_it(root, meta.version)
    lib, metrics = library(root)
    live = await lib.resolve(EpochSettings(policy="rl:current"), RISK, live_books=True)
    assert live.name == "imbalance" and live.info.requested == "rl:current"
    reason = live.info.fallback_reason or ""
    assert says in reason and "\n" not in reason
    assert fallbacks(metrics, kind) == 1
    hold = await lib.resolve(EpochSettings(policy="rl:current", fallback_policy="hold"), RISK, live_books=True)
    assert hold.name == "hold"


async def test_no_registry_no_feature_history_or_polling_fall_back(registry: Path) -> None:
    lib, metrics = library(None)
    assert (await lib.resolve(EpochSettings(policy="rl:current"), RISK, live_books=True)).name == "imbalance"
    assert fallbacks(metrics, "missing") == 1
    lib, metrics = library(registry, features=False)
    live = await lib.resolve(EpochSettings(policy="rl:current"), RISK, live_books=True)
    assert live.name == "imbalance" and "RL extra" in (live.info.fallback_reason or "")
    assert fallbacks(metrics, "no_rl_extra") == 1
    lib, metrics = library(registry)
    live = await lib.resolve(EpochSettings(policy="rl:current"), RISK, live_books=False)
    assert live.name == "imbalance" and "REST polling" in (live.info.fallback_reason or "")
    assert fallbacks(metrics, "no_live_books") == 1


def test_policy_names_are_validated() -> None:
    from pydantic import ValidationError

    from models.trader import PolicyUpdate

    for good in ("imbalance", "hold", "rl:current", "rl:20261206T112740Z-ppo-9f6516"):
        assert PolicyUpdate(policy=good).policy == good
    for bad in ("", "rl:", "rl:../x", "imbalanced", "rl:a b"):
        with pytest.raises(ValidationError):
            PolicyUpdate(policy=bad)
    with pytest.raises(ValidationError, match="unknown policy"):
        EpochSettings(policy="random")


def _meta(root: Path, version: str, **changes) -> None:
    path = root / "versions" / version / "metadata.json"
    doc = json.loads(path.read_text())
    doc.update(changes)
    path.write_text(json.dumps(doc))


async def test_preload_loads_current_once_and_never_raises(registry: Path, tmp_path: Path) -> None:
    lib, _ = library(registry)
    version = await lib.preload()
    assert version == ModelRegistry(registry).current_version()
    live = await lib.resolve(EpochSettings(policy="rl:current"), RISK, live_books=True)
    assert live.info.model_version == version and live.info.fallback_reason is None
    empty, _ = library(tmp_path / "no-models")
    assert await empty.preload() is None  # nothing to load: start-up goes on
    assert (await library(registry, features=False)[0].preload()) is None  # no RL extra / no market data
