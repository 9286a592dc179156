"""``kalshi-trader backtest`` through the real stack: a dev server, the simulator, a worker process, TraderWorkflow.

1. **The report is the exchange's record.** The shortest recorded market is backtested with the imbalance baseline;
   once it has settled, and before the stack stops, the test reads the account at the simulator itself (REST fills
   and settlements with its own signed client, the control API's exact cash). The JSON's net, gross, fees, fills and
   per-market numbers equal what the test computes from those, the cash moved by exactly the net P&L, and the env
   column equals the environment run on its own. No process of the run is left afterwards.
2. **The decisions do not depend on the speed.** Paced (the exchange clock waits for the trader), the first two
   minutes of a market replayed unbounded and at a 5x cap: the exchange's own order records (market, tape ms, side,
   action, contracts, price, time in force, post-only) are identical, and the pacer reports the tape it covered.
3. **Bad input** (the console script, as a user runs it): one ``error:`` line, a non-zero exit, nothing started.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("sb3_contrib")

from kalshi.rest import KalshiRestClient
from kalshi.signer import RequestSigner
from rl.env import EnvConfig
from rl.runner import make_policy, run_policy
from rl.tapes import load_markets
from tests.conftest import DATA_DIR
from workers.backtest import BacktestOptions, OrderRecord, StackView, exchange_orders, prepare, run_backtest, run_live

MARKET = "KXGOLD15M-26AUG101900-00"  # the recorded market with the fewest frames (23,003)

pytestmark = pytest.mark.skipif(not (DATA_DIR / "MARKETS.csv").is_file(), reason="recorded gold tapes not available")


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention ``text`` (the run's folders appear in its children's args/env)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{pid}: {cmdline[:200]}")
    return found


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.0001")))


def test_backtest_report_matches_the_exchanges_fills_and_settlements(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    async def read_the_exchange(view: StackView) -> None:
        signer = RequestSigner.from_pem_file(view.key_path, view.key_id)
        async with KalshiRestClient(view.rest_url, signer) as rest:
            seen["fills"] = await rest.get_fills()
            seen["settlements"] = await rest.get_settlements()
            seen["positions"] = await rest.get_positions()
        async with httpx.AsyncClient(base_url=view.control_url, timeout=10) as control:
            account = (await control.get(f"/accounts/{view.key_id}")).raise_for_status().json()
            seen["cash"] = Decimal(account["cash_dollars"])
            seen["markets"] = (await control.get("/markets")).raise_for_status().json()["markets"]

    out = tmp_path / "out"
    options = BacktestOptions(
        data_dir=DATA_DIR,
        markets=[MARKET],
        policy="imbalance",
        speed=Decimal(40),
        registry=tmp_path / "models",
        out=out,
        json_path=tmp_path / "backtest.json",
        progress=False,
        keep_state=True,
    )
    lines: list[str] = []
    run_backtest(options, lines.append, read_the_exchange)
    doc = json.loads((tmp_path / "backtest.json").read_text())

    # the exchange's own record, read by the test
    fills = seen["fills"]
    settlements = seen["settlements"]
    assert isinstance(fills, list) and isinstance(settlements, list)
    assert fills, "the imbalance baseline trades this market (a report of nothing would prove nothing)"
    assert {m["ticker"]: m["status"] for m in seen["markets"]} == {MARKET: "finalized"}
    # the account's cash moved by exactly the net P&L (every position settled): cash flows of the fills under Kalshi's
    # net-position accounting, fees and the settlement payout
    net = seen["cash"] - Decimal(EnvConfig().initial_cash_cents) / 100
    fees = sum((f.fee_cost_dollars for f in fills), Decimal(0))
    payout = sum((Decimal(s.revenue_cents) / 100 for s in settlements), Decimal(0))
    assert doc["fills"] == len(fills)
    assert doc["gross_pnl_dollars"] == _money(net + fees)
    assert doc["fees_dollars"] == _money(fees)
    assert doc["net_pnl_dollars"] == _money(net)
    assert all(p.position_fp == 0 for p in seen["positions"])
    taker = sum((f.count_fp for f in fills if f.is_taker), Decimal(0))
    assert doc["taker_share"] == pytest.approx(float(taker / sum((f.count_fp for f in fills), Decimal(0))))
    market = doc["per_market"][MARKET]
    assert market["net_pnl_dollars"] == _money(net)
    assert market["fills"] == len(fills)
    assert market["settlement_dollars"] == _money(payout)
    assert market["wall_s"] > 0

    # the env column is the environment's own run of the same policy on the same market
    tapes = load_markets(DATA_DIR, [MARKET])
    config = EnvConfig()
    env = run_policy(make_policy("imbalance", config), tapes, config).markets[0]
    env_turnover = sum((f.count * f.price_dollars for f in env.fills), Decimal(0))
    assert doc["env_net_pnl_dollars"] == _money(env.net_pnl_dollars)
    assert doc["traded_value_dollars"] == _money(env_turnover)
    gap = net - env.net_pnl_dollars
    assert doc["gap_dollars"] == _money(gap)
    assert Decimal(doc["gap_pct_of_traded_value"]) == (gap / env_turnover * 100).quantize(Decimal("0.01"))
    assert doc["wall_s"] > 0 and doc["per_market"][MARKET]["env_net_pnl_dollars"] == _money(env.net_pnl_dollars)
    assert doc["actor_loop"]["drivers"].get("actor", 0) >= 1  # it traded from the WebSocket actor loop
    assert 0 <= doc["uncovered_tape_s"] < doc["tradeable_tape_s"]

    # decision points counted alike on both sides: every point where the checks ran, HOLD-only ones included (the
    # env shows the policy only the others), the env's inside the live epochs' tape (live decides nowhere else);
    # paced, live decides where the env does, so the two agree up to a few points per epoch
    points = doc["decision_points"]
    assert points["env_shown"] == sum(env.actions.values()) == doc["env_decisions"]
    assert points["env_forced_holds"] == len(env.forced_hold_ms) > 0
    assert points["env_in_epochs"] == points["env_shown_in_epochs"] + points["env_forced_in_epochs"]
    assert points["env_shown_outside"] + points["env_forced_outside"] == (
        points["env_shown"] + points["env_forced_holds"] - points["env_in_epochs"]
    )
    assert points["live"] == doc["actor_loop"]["updates_seen"] - doc["actor_loop"]["updates_skipped"]
    assert abs(points["live"] - points["env_in_epochs"]) <= 0.02 * points["env_in_epochs"], points

    # the report: text on stdout and in the folder, the JSON, the equity curve
    text = "\n".join(lines)
    assert "sim-to-env gap" in text and MARKET in text and "contributors:" in text
    assert (doc["speed_warning"] is not None) == ("warning: speed 40x was too fast" in text)
    assert (out / "report.txt").read_text().strip() in text
    assert json.loads((out / "report.json").read_text()) == doc
    assert (out / "equity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _processes_mentioning(str(tmp_path)) == []


def test_paced_replays_place_the_same_orders_at_any_speed_cap(tmp_path: Path) -> None:
    window_s = 120.0

    def paced(speed: Decimal | None, name: str) -> tuple[list[OrderRecord], dict[str, Any]]:
        seen: list[OrderRecord] = []

        async def read_orders(view: StackView) -> None:
            seen.extend(await exchange_orders(view))

        options = BacktestOptions(
            data_dir=DATA_DIR,
            markets=[MARKET],
            policy="imbalance",
            speed=speed,
            registry=tmp_path / "models",
            out=tmp_path / name,
            progress=False,
            tape_window_s=window_s,
        )
        prepared = prepare(options)
        state = tmp_path / name / "state"
        state.mkdir(parents=True)
        live = asyncio.run(run_live(prepared, state, lambda _line: None, read_orders))
        assert live.mode == ("paced max" if speed is None else f"paced {speed}x")
        assert live.pacing is not None
        start = prepared.start_ms
        return [o for o in seen if o.created_ms < start + window_s * 1000], live.pacing

    unbounded, stats = paced(None, "max")
    capped, capped_stats = paced(Decimal(5), "cap5")
    assert len(unbounded) >= 10, "the window should hold orders to compare"
    assert capped == unbounded
    # the pacer stepped actor epochs over the window (no tape went by outside them) and the cap held it back
    assert stats["epochs_paced"] >= 2 and stats["tape_ms"] >= window_s * 1000
    assert stats["unconfirmed_timeouts"] == 0 and capped_stats["cap_sleep_s"] > stats["cap_sleep_s"]
    assert _processes_mentioning(str(tmp_path)) == []


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", "backtest", "--no-progress", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )


@pytest.mark.parametrize(
    ("case", "args", "message"),
    [
        ("no MARKETS.csv", ["--data-dir", "{empty}"], "no MARKETS.csv"),
        ("no replayable market", ["--data-dir", "{no_tapes}"], "no replayable market"),
        ("unknown ticker", ["--markets", "KXGOLD15M-NOPE"], "unknown markets ['KXGOLD15M-NOPE']"),
        ("bad policy", ["--markets", MARKET, "--policy", "yolo"], "unknown policy 'yolo'"),
        ("unknown model", ["--markets", MARKET, "--policy", "rl:v-missing", "--registry", "{empty}"], "v-missing"),
        ("bad speed", ["--markets", MARKET, "--speed", "fast"], "--speed must be max or a number"),
        ("max unpaced", ["--markets", MARKET, "--no-pacing"], "--no-pacing needs a numeric --speed"),
    ],
)
def test_bad_input_is_one_error_line_and_starts_nothing(
    tmp_path: Path, case: str, args: list[str], message: str
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    no_tapes = tmp_path / "no_tapes"
    no_tapes.mkdir()
    header = (DATA_DIR / "MARKETS.csv").read_text().splitlines()[0]
    (no_tapes / "MARKETS.csv").write_text(header + "\n")
    out = tmp_path / "out"
    filled = [a.format(empty=empty, no_tapes=no_tapes) for a in args]
    if "--data-dir" not in filled:
        filled += ["--data-dir", str(DATA_DIR)]
    done = _cli(*filled, "--out", str(out), cwd=tmp_path)
    assert done.returncode == 2, (case, done.stdout, done.stderr)
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("error: ") and message in errors[0], (case, done.stderr)
    assert not out.exists()  # nothing was started, nothing written
    assert _processes_mentioning(str(tmp_path)) == []


def test_ctrl_c_stops_every_process_of_the_stack(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "workers.cli", "backtest", "--no-progress", "--markets", MARKET, "--data-dir",
         str(DATA_DIR), "--out", str(out), "--keep-state"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )  # fmt: skip
    try:
        worker_log = out / "state" / "logs" / "worker.log"
        deadline = time.monotonic() + 120
        while not (worker_log.is_file() and "polling task queues" in worker_log.read_text(errors="replace")):
            assert proc.poll() is None and time.monotonic() < deadline, "the stack did not start"
            time.sleep(0.2)
        assert _processes_mentioning(str(out / "state")), "the stack's children run while the backtest runs"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2
    assert stderr.strip().splitlines()[-1].startswith("error: interrupted"), stderr
    assert _processes_mentioning(str(tmp_path)) == []


def test_live_fills_are_booked_with_kalshis_net_position_accounting() -> None:
    """Buying NO while holding YES closes YES first: a sale of YES at 1 - the NO price, as the exchange books cash."""
    from kalshi.models.portfolio import Fill as ExchangeFill
    from rl.backtest import live_results

    tape = load_markets(DATA_DIR, [MARKET])[0]

    def fill(i: int, side: str, action: str, count: str, yes: str, fee: str) -> ExchangeFill:
        no = str(Decimal(1) - Decimal(yes))
        return ExchangeFill.model_validate(
            {"fill_id": f"f{i}", "trade_id": f"f{i}", "order_id": f"o{i}", "ticker": MARKET, "side": side,
             "action": action, "count_fp": count, "yes_price_dollars": yes, "no_price_dollars": no,
             "is_taker": True, "fee_cost": fee, "created_time": f"2026-08-10T22:50:0{i}.000Z"}
        )  # fmt: skip

    fills = [
        fill(1, "yes", "buy", "5.00", "0.4000", "0.0900"),  # long 5 YES, cash -2.00
        fill(2, "no", "buy", "8.00", "0.3000", "0.1200"),  # closes 5 YES at 0.30 (+1.50), opens 3 NO at 0.70 (-2.10)
        fill(3, "no", "sell", "3.00", "0.2000", "0.0300"),  # sells the 3 NO at 0.80 (+2.40)
    ]
    row = live_results([tape], fills, [], "live").markets[0]
    assert [(f.side, f.action, f.count, f.price_dollars) for f in row.fills] == [
        ("yes", "buy", Decimal(5), Decimal("0.4000")),
        ("yes", "sell", Decimal(5), Decimal("0.3000")),
        ("no", "buy", Decimal(3), Decimal("0.7000")),
        ("no", "sell", Decimal(3), Decimal("0.8000")),
    ]
    assert row.fees_dollars == Decimal("0.2400")
    assert row.net_pnl_dollars == Decimal("-2.00") + Decimal("1.50") - Decimal("2.10") + Decimal("2.40") - Decimal(
        "0.24"
    )
