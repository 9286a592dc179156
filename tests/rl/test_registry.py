"""The model registry with a real MaskablePPO: save, point, load, predict; and every way a model can be bad.

The model is trained for a few seconds on a toy environment with a planted edge (this also proves the RL extra
installs and trains on this machine, torch on one thread); the registry round trip must give back a policy that
acts identically.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sb3_contrib")

from sb3_contrib import MaskablePPO

from rl.registry import (
    CorruptModelError,
    IncompatibleModelError,
    ModelMetadata,
    ModelNotFoundError,
    ModelRegistry,
    ModelRegistryError,
    data_fingerprint,
    new_version_id,
)
from tests.rl.toy_env import ACTIONS, PlantedEdgeEnv

FEATURES = 3


@pytest.fixture(scope="module")
def trained() -> MaskablePPO:
    model = MaskablePPO("MlpPolicy", PlantedEdgeEnv(), n_steps=256, batch_size=64, seed=7, device="cpu")
    model.learn(3_072)
    return model


def _meta(version: str, **kw) -> ModelMetadata:
    base = dict(
        version=version,
        created_at=datetime(2026, 8, 11, 20, 30, tzinfo=UTC),
        feature_version=1,
        n_features=FEATURES,
        actions=ACTIONS,
        fee_version=1,
        data_fingerprint="0" * 64,
        training_markets=("KXTEST-A",),
        validation_markets=("KXTEST-B",),
        hyperparameters={"n_steps": 256, "batch_size": 64},
        seed=7,
        training_metrics={"mean_reward": 30.0},
        validation_metrics={"net_pnl_dollars": 1.25},
    )
    base.update(kw)
    return ModelMetadata(**base)


def _load(reg: ModelRegistry, spec: str = "current", **kw):
    args: dict[str, Any] = dict(feature_version=1, n_features=FEATURES, actions=ACTIONS)
    args.update(kw)
    return reg.load(spec, **args)


def test_trained_model_round_trips_and_acts_identically(trained: MaskablePPO, tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path / "models")
    version = new_version_id("toy")
    reg.save(trained, _meta(version), make_current=True)
    assert reg.versions() == [version] and reg.current_version() == version
    loaded = _load(reg)
    assert loaded.metadata.version == version and len(loaded.metadata.model_sha256) == 64
    env = PlantedEdgeEnv()
    obs, _ = env.reset(seed=11)
    right = 0
    for _ in range(100):
        masks = env.action_masks()
        a1, _ = trained.predict(obs, action_masks=masks, deterministic=True)
        a2, _ = loaded.model.predict(obs, action_masks=masks, deterministic=True)
        assert int(a1) == int(a2)
        right += int(a1) == env.best_action()
        obs, *_ = env.step(int(a1))
    assert right >= 95  # it learned the planted edge
    assert _load(reg, f"rl:{version}").metadata.version == version


def test_pointer_moves_atomically_and_only_to_readable_models(trained: MaskablePPO, tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    first, second = "20260801T000000Z-a", "20260802T000000Z-b"
    reg.save(trained, _meta(first), make_current=True)
    reg.save(trained, _meta(second))
    assert reg.current_version() == first
    assert reg.set_current(second) == second and reg.current_version() == second
    with pytest.raises(ModelNotFoundError, match="not found"):
        reg.set_current("20990101T000000Z-missing")
    assert reg.current_version() == second
    with pytest.raises(ModelRegistryError, match="already exists"):
        reg.save(trained, _meta(second))
    assert not [p for p in (tmp_path / "versions").iterdir() if p.name.startswith(".")]  # no temp folders left


def test_missing_models_and_pointers_are_one_clear_error(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    with pytest.raises(ModelNotFoundError, match="no current model"):
        _load(reg)
    (tmp_path / "current").write_text("20260801T000000Z-gone\n")
    with pytest.raises(ModelNotFoundError, match="not found"):
        _load(reg)
    (tmp_path / "current").write_text("../../etc/passwd\n")
    with pytest.raises(CorruptModelError, match="does not name a version"):
        _load(reg)
    with pytest.raises(ModelNotFoundError, match="not a model version id"):
        _load(reg, "rl:../x")


def test_corrupt_files_are_refused(trained: MaskablePPO, tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    version = "20260801T000000Z-x"
    folder = reg.save(trained, _meta(version), make_current=True)
    zip_path = folder / "model.zip"
    good = zip_path.read_bytes()
    zip_path.write_bytes(good[: len(good) // 2])  # truncated
    with pytest.raises(CorruptModelError, match="checksum"):
        _load(reg)
    # A truncated zip whose checksum was also rewritten still cannot load.
    meta = json.loads((folder / "metadata.json").read_text())
    meta["model_sha256"] = ""
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(CorruptModelError, match="does not load"):
        _load(reg)
    (folder / "metadata.json").write_text("{not json")
    with pytest.raises(CorruptModelError, match="unreadable"):
        _load(reg)
    meta.pop("seed")
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(CorruptModelError, match="unreadable"):
        _load(reg)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(feature_version=2), "feature version 1; this trader computes 2"),
        (dict(n_features=4), "expects 3 features"),
        (dict(actions=("HOLD", "BUY", "SELL")), "chooses among"),
    ],
)
def test_incompatible_models_are_refused_before_loading_weights(trained, tmp_path: Path, kw, match) -> None:
    reg = ModelRegistry(tmp_path)
    reg.save(trained, _meta("20260801T000000Z-x"), make_current=True)
    with pytest.raises(IncompatibleModelError, match=match):
        _load(reg, **kw)


def test_metadata_that_lies_about_the_policy_is_caught(trained, tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    reg.save(trained, _meta("20260801T000000Z-x", n_features=5), make_current=True)
    with pytest.raises(IncompatibleModelError, match="its policy takes observations"):
        _load(reg, n_features=5)


def test_data_fingerprint_depends_on_content_not_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a.ndjson.gz", tmp_path / "b.ndjson.gz"
    a.write_bytes(b"one")
    b.write_bytes(b"two")
    fp = data_fingerprint([a, b], tmp_path)
    assert fp == data_fingerprint([b, a], tmp_path)
    b.write_bytes(b"TWO")
    assert data_fingerprint([a, b], tmp_path) != fp
    with pytest.raises(ModelRegistryError, match="cannot fingerprint"):
        data_fingerprint([tmp_path / "missing"], tmp_path)
