"""End to end through the command line: ``kalshi-trader train`` learns a planted edge in a synthetic tape and
``kalshi-trader evaluate`` shows it beats holding, net of fees, on markets it never trained on; the report folder,
the JSON and the registry entry hold what they promise; a collapsed strategy is flagged.

The tape is written in the exact recorded layout (tests/rl/planted.py), so this also proves any recording directory
works as training data. torch runs on one thread; the run takes about a minute on this machine.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("sb3_contrib")

from models.fees import FEE_VERSION
from rl.decision import ActionSpace
from rl.features import FEATURE_VERSION, N_FEATURES
from rl.registry import ModelRegistry
from tests.rl.planted import write_planted_tapes
from workers.cli import run


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    data = tmp_path_factory.mktemp("planted") / "tapes"
    return data, write_planted_tapes(data, markets=40, seed=3)


@pytest.fixture(scope="module")
def trained(planted: tuple[Path, list[str]], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``kalshi-trader train`` on the planted tape: (registry, the command's output)."""
    data, _ = planted
    registry = tmp_path_factory.mktemp("registry") / "models"
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(registry.parent / "cache")
    try:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = run(
                ["train", "--data-dir", str(data), "--registry", str(registry), "--timesteps", "49152", "--envs",
                 "4", "--workers", "1", "--eval-every", "16384", "--no-progress", "--budget-minutes", "6", "--seed",
                 "1"]
            )  # fmt: skip
    finally:
        if saved is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = saved
    assert code == 0, out.getvalue()
    return registry, out.getvalue()


def test_training_learns_a_planted_edge_and_beats_hold_net_of_fees(
    planted: tuple[Path, list[str]], trained: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, tickers = planted
    registry, out = trained
    assert "training on 28" in out and "validating on 12" in out
    meta = ModelRegistry(registry).metadata("current")
    assert (meta.feature_version, meta.n_features, meta.fee_version) == (FEATURE_VERSION, N_FEATURES, FEE_VERSION)
    assert meta.actions == ActionSpace.full().names
    assert meta.training_markets == tuple(tickers[:28]) and meta.validation_markets == tuple(tickers[28:])
    assert len(meta.data_fingerprint) == 64 and meta.shaping == {} and meta.seed == 1
    assert meta.validation_metrics["net_pnl_dollars"] > 0
    assert (registry / "versions" / meta.version / "model.zip").is_file()

    report = tmp_path / "report"
    json_path = tmp_path / "eval.json"
    code = run(["evaluate", "--data-dir", str(data), "--registry", str(registry), "--json", str(json_path),
                "--report-dir", str(report)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "12 validation markets of model" in out
    doc = json.loads(json_path.read_text())
    policy = doc["policy"]
    assert policy == f"rl:{meta.version}"
    learned = doc["strategies"][policy]
    assert float(learned["net_pnl_dollars"]) > 0 and float(learned["fees_dollars"]) > 0 and learned["trades"] > 0
    assert not learned["collapsed"]
    versus_hold = next(c for c in doc["comparisons"] if c["baseline"] == "hold")
    assert versus_hold["beat"] and versus_hold["significant"], versus_hold["verdict"]
    assert doc["strategies"]["hold"]["collapsed"]  # HOLD 100 %: flagged
    assert set(doc["strategies"]) == {policy, "hold", "random", "imbalance", "maker", "longshot"}
    for name in ("report.md", "report.json", "equity.png", "pnl_per_market.png", "action_mix.png"):
        assert (report / name).stat().st_size > 0, name
    assert "beat hold" in (report / "report.md").read_text()


def test_evaluate_reports_bad_input_in_one_line(planted: tuple[Path, list[str]], tmp_path: Path, capsys) -> None:
    data, _ = planted
    registry = tmp_path / "models"
    assert run(["evaluate", "--data-dir", str(data), "--registry", str(registry), "--policy", "rl:current"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no current model") and "\n" not in err
    assert run(["evaluate", "--data-dir", str(data), "--policy", "momentum", "--registry", str(registry)]) == 1
    assert "unknown policy 'momentum'" in capsys.readouterr().err
    assert run(["evaluate", "--data-dir", str(tmp_path / "nothing"), "--policy", "hold"]) == 1
    assert "MARKETS.csv" in capsys.readouterr().err
    assert run(["evaluate", "--data-dir", str(data), "--policy", "hold", "--markets", "KXNOPE"]) == 1
    assert "unknown markets ['KXNOPE']" in capsys.readouterr().err


def test_bad_models_are_refused_in_one_line(
    planted: tuple[Path, list[str]], trained: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, _ = planted
    good, _ = trained
    version = ModelRegistry(good).current_version()
    assert version is not None

    def broken(change: str) -> Path:
        root = tmp_path / change
        shutil.copytree(good / "versions", root / "versions")
        (root / "current").write_text(version + "\n")
        folder = root / "versions" / version
        meta = json.loads((folder / "metadata.json").read_text())
        if change == "feature_version":
            meta["feature_version"] = 99
        elif change == "actions":
            meta["actions"] = meta["actions"][:5]
        elif change == "truncated":
            blob = (folder / "model.zip").read_bytes()
            (folder / "model.zip").write_bytes(blob[: len(blob) // 2])
        (folder / "metadata.json").write_text(json.dumps(meta))
        return root

    for change, expected in (
        ("feature_version", "uses feature version 99"),
        ("actions", "chooses among"),
        ("truncated", "fails its checksum"),
    ):
        root = broken(change)
        code = run(["evaluate", "--data-dir", str(data), "--registry", str(root), "--policy", "rl:current",
                    "--report-dir", str(tmp_path / "r")])  # fmt: skip
        err = capsys.readouterr().err.strip()
        assert code == 1 and err.startswith("error: ") and "\n" not in err and expected in err, (change, err)


def test_a_nan_feature_never_reaches_the_network(trained: tuple[Path, str]) -> None:
    import numpy as np

    from kalshi.orderbook import TopOfBook
    from rl.decision import Observation
    from rl.features import FeatureError
    from rl.inference import load_policy

    registry, _ = trained
    policy = load_policy(registry, "rl:current", ActionSpace.full())
    features = np.full(N_FEATURES, 0.5, dtype=np.float32)
    obs = Observation("T", 0, TopOfBook(4500, 100, 5000, 100), 0, 10**9, 10**9, None, features)
    mask = [True] * 9
    assert 0 <= policy.act(obs, mask) < 9
    features[7] = np.nan
    with pytest.raises(FeatureError, match="NaN"):
        policy.act(obs, mask)
    with pytest.raises(FeatureError, match="needs the 35-feature observation"):
        policy.act(Observation("T", 0, obs.top, 0, 10**9, 10**9), mask)


def test_inference_is_sb3s_own_masked_distribution(trained: tuple[Path, str]) -> None:
    """The fast path's mode equals MaskablePPO.predict(deterministic=True); its samples follow the masked softmax."""
    import numpy as np
    import torch

    from rl.inference import load_policy

    registry, _ = trained
    mode = load_policy(registry, "rl:current", ActionSpace.full(), deterministic=True)
    sampled = load_policy(registry, "rl:current", ActionSpace.full(), seed=4)
    rng = np.random.default_rng(0)
    for _ in range(200):
        features = rng.random(N_FEATURES, dtype=np.float32)
        mask = rng.random(9) < 0.6
        mask[0] = True
        expected, _ = mode.model.predict(features, action_masks=mask, deterministic=True)
        assert mode.act_vector(features, list(mask)) == int(expected)
        assert mask[sampled.act_vector(features, list(mask))]
    features = rng.random(N_FEATURES, dtype=np.float32)
    allowed = [True, True, False, True, False, True, True, False, True]
    with torch.inference_mode():
        dist = mode.model.policy.get_distribution(torch.as_tensor(features).reshape(1, -1), np.array([allowed]))
        probs = dist.distribution.probs[0].numpy()
    draws = np.bincount([sampled.act_vector(features, allowed) for _ in range(4_000)], minlength=9) / 4_000
    assert np.abs(draws - probs).max() < 0.03 and draws[[2, 4, 7]].sum() == 0
