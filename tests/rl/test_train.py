"""End to end through the command line: ``kalshi-trader train`` learns a planted edge in a synthetic tape and
``kalshi-trader evaluate`` shows it beats holding, net of fees, on markets it never trained on; the report folder,
the JSON and the registry entry hold what they promise; a collapsed strategy is flagged.

The tape is written in the exact recorded layout (tests/rl/planted.py), so this also proves any recording directory
works as training data. torch runs on one thread; the run takes about a minute on this machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("sb3_contrib")

from models.fees import FEE_VERSION
from rl.decision import ActionSpace
from rl.features import FEATURE_VERSION, N_FEATURES
from rl.registry import ModelRegistry
from tests.rl.planted import write_planted_tapes
from workers.cli import run


@pytest.fixture()
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = tmp_path / "tapes"
    return data, write_planted_tapes(data, markets=40, seed=3)


def test_training_learns_a_planted_edge_and_beats_hold_net_of_fees(
    planted: tuple[Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, tickers = planted
    registry = tmp_path / "models"
    code = run(
        ["train", "--data-dir", str(data), "--registry", str(registry), "--timesteps", "49152", "--envs", "4",
         "--workers", "1", "--eval-every", "16384", "--no-progress", "--budget-minutes", "6", "--seed", "1"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
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
