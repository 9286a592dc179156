"""Invalid settings fail before any workflow starts, with one clear line (and never echo secrets)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kalshi.signer import generate_key_pair
from workers.settings import SettingsError, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(("KALSHI_", "TRADER_", "SIM_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def key_file(tmp_path) -> Path:
    private_pem, _ = generate_key_pair()
    path = tmp_path / "key.pem"
    path.write_bytes(private_pem)
    return path


def error_of(**env) -> str:
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        with pytest.raises(SettingsError) as err:
            s = load_settings()
            s.check_production()
            s.signer()
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_unknown_environment() -> None:
    assert "unknown Kalshi environment 'staging'" in error_of(KALSHI_ENV="staging")


def test_negative_thresholds_name_the_variable() -> None:
    assert error_of(TRADER_STOP_LOSS_PCT="-0.1").startswith("TRADER_STOP_LOSS_PCT: ")
    assert error_of(TRADER_CASH_RESERVE_CENTS="-5").startswith("TRADER_CASH_RESERVE_CENTS: ")
    assert error_of(TRADER_RECALIBRATION_INTERVAL_S="0.5").startswith("TRADER_RECALIBRATION_INTERVAL_S: ")


def test_bad_pacing_names_the_variable() -> None:
    """``SIM_PACE`` (the backtest's paced clock): off, max or a positive cap; anything else is one clear line."""
    assert error_of(SIM_PACE="fast").startswith("SIM_PACE: ")
    assert "off, max or a number" in error_of(SIM_PACE="fast")
    assert error_of(SIM_PACE="-3").startswith("SIM_PACE: ")
    assert error_of(SIM_PACE_EPOCH_S="0").startswith("SIM_PACE_EPOCH_S: ")
    for ok in ("off", "max", "20", "0.5"):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SIM_PACE", ok)
            assert load_settings().sim_pace == ok


def test_missing_key_file(tmp_path) -> None:
    msg = error_of(KALSHI_ENV="demo", KALSHI_API_KEY_ID="abc", KALSHI_PRIVATE_KEY_PATH=str(tmp_path / "nope.pem"))
    assert "nope.pem" in msg


def test_malformed_pem_does_not_leak_its_content(tmp_path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN RSA PRIVATE KEY-----\nSECRETSECRET\n-----END RSA PRIVATE KEY-----\n")
    msg = error_of(KALSHI_ENV="demo", KALSHI_API_KEY_ID="abc", KALSHI_PRIVATE_KEY_PATH=str(bad))
    assert "SECRETSECRET" not in msg and "bad.pem" in msg


def test_key_id_required_outside_the_simulator(key_file) -> None:
    assert "KALSHI_API_KEY_ID" in error_of(KALSHI_ENV="demo", KALSHI_PRIVATE_KEY_PATH=str(key_file))


def test_production_needs_the_explicit_flag(key_file, monkeypatch) -> None:
    msg = error_of(KALSHI_ENV="prod", KALSHI_API_KEY_ID="abc", KALSHI_PRIVATE_KEY_PATH=str(key_file))
    assert "KALSHI_ALLOW_PRODUCTION" in msg
    monkeypatch.setenv("KALSHI_ENV", "prod")
    monkeypatch.setenv("KALSHI_API_KEY_ID", "abc")
    monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(key_file))
    monkeypatch.setenv("KALSHI_ALLOW_PRODUCTION", "true")
    s = load_settings()
    s.check_production()
    assert s.endpoints().rest_base_url == "https://external-api.kalshi.com/trade-api/v2"


def test_valid_settings_make_a_secret_free_trader_config(key_file, monkeypatch) -> None:
    monkeypatch.setenv("KALSHI_ENV", "demo")
    monkeypatch.setenv("KALSHI_API_KEY_ID", "key-id-123456789")
    monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(key_file))
    monkeypatch.setenv("TRADER_SERIES", "KXGOLD15M, kxbtc15m")
    s = load_settings()
    config = s.trader_config()
    assert config.series_tickers == ["KXGOLD15M", "KXBTC15M"] and config.environment == "demo"
    dumped = config.model_dump_json() + repr(s)
    assert "key-id-123456789" not in dumped and str(key_file) not in dumped
    assert s.trader_workflow_id == "kalshi-trader-demo"
    assert s.signer().key_id == "key-id-123456789"


def test_cli_prints_one_line_and_exits_2_before_connecting(tmp_path) -> None:
    env = {
        **os.environ,
        "KALSHI_ENV": "demo",
        "KALSHI_API_KEY_ID": "abc",
        "KALSHI_PRIVATE_KEY_PATH": str(tmp_path / "missing.pem"),
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "workers.cli", "worker"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kalshi-trader: invalid settings:") and "missing.pem" in lines[0]


def test_temporal_tls_and_api_key_come_from_temporal_environment_configuration(tmp_path) -> None:
    from workers.worker import connect_config

    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    cert.write_bytes(b"client certificate PEM")
    key.write_bytes(b"client key PEM")
    env = {
        "TEMPORAL_ADDRESS": "ignored:7233",
        "TEMPORAL_API_KEY": "test-api-key",
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(cert),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(key),
        "TEMPORAL_CONFIG_FILE": str(tmp_path / "absent.toml"),
    }
    config = connect_config("trader.a1b2c.tmprl.cloud:7233", "trader.a1b2c", env)
    assert config["target_host"] == "trader.a1b2c.tmprl.cloud:7233" and config["namespace"] == "trader.a1b2c"
    assert config["api_key"] == "test-api-key"
    tls = config["tls"]
    assert (tls.client_cert, tls.client_private_key) == (b"client certificate PEM", b"client key PEM")


def test_no_temporal_environment_means_plain_connection(tmp_path) -> None:
    from workers.worker import connect_config

    config = connect_config("localhost:7233", "default", {"TEMPORAL_CONFIG_FILE": str(tmp_path / "absent.toml")})
    assert not config.get("api_key") and not config.get("tls")
    assert (config["target_host"], config["namespace"]) == ("localhost:7233", "default")
