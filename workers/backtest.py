"""``kalshi-trader backtest``: replay recorded markets through the real stack and compare with the training env.

One run, in an isolated state folder (a temporary one, or ``--out DIR/state``):

1. **Validate** (nothing started yet): the data folder has a ``MARKETS.csv`` and the selected markets decode
   (:func:`rl.tapes.load_markets`), the policy is one the trader runs (:func:`models.trader.config.policy_problem`),
   a learned policy's model exists and loads. Bad input is one ``error:`` line and exit code 2.
2. **Environment estimate**: the same policy through :class:`rl.env.KalshiTapeEnv` on the same markets
   (:func:`rl.runner.run_policy`), before the stack starts (it does not compete with it for CPU).
3. **The real stack** on free ports: a Temporal dev server (SQLite in the state folder), the simulator
   (``python -m simulator``) replaying only the selected markets (:func:`rl.tapes.subset_tape_dir`: symlinks) from
   the first market's first recorded frame, on recorded times (``--no-time-shift``), paused; a worker process
   (``kalshi-trader worker``, the recorder writing to ``state/recording.db``); a fresh ``TraderWorkflow`` with the
   policy, the environment's risk limits, closing window, cash reserve, decision interval and starting cash (so both
   sides trade under the same limits) and the operator's exit thresholds (``TRADER_TAKE_PROFIT_PCT`` ...). The
   processes start concurrently (the simulator loads its tapes, the worker imports, while the dev server starts).
   **Paced** (the default): the worker's pacer (:mod:`workers.pacer`, ``SIM_PACE``) steps the clock decision point by
   decision point whenever the trader is quiescent, holds it between epochs and ends each actor epoch after the
   recalibration interval of tape; ``--speed`` caps the tape rate (None: unbounded); the driver here moves the clock
   only over idle tape (:class:`_IdleTape`). **Free-running** (``pacing=False``): every wall-clock interval
   (recalibration, close retries, order-group reset, back-offs, market discovery) is divided by the speed; once an
   epoch has run on the WebSocket actor loop (the feed holds the books), the clock runs at ``--speed``; idle tape
   between non-adjacent markets is skipped.
4. **Until the last market has settled** (its status ``finalized`` at the simulator), with a progress bar of tape
   time and markets done; then the account's fills, settlements and orders are read over REST (the exchange's own
   record), the trader is stopped, the worker, simulator and dev server end (also on Ctrl-C and on errors: every
   child runs in its own session and is stopped here, SIGINT then SIGKILL), and the epoch summaries are read from
   the worker's recording database.
5. **Report** (:mod:`rl.backtest`): stdout, ``report.txt``, ``report.json`` and ``equity.png`` in ``--out`` (default
   ``STATE_DIR/backtests/<time>``), and ``--json PATH``.

Why the exchange limits are off: the simulator's token buckets refill on wall time, so a replay at 20x would be
throttled 20 times harder than live; the trader's own throttle (``per_market_throttle_ms``) runs on the exchange
clock and is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple

import httpx
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from kalshi.models.orders import Order
from kalshi.models.portfolio import Fill, Settlement
from kalshi.rest import KalshiRestClient
from models.market_data import IngestSettings, MarketDataInput
from models.trader import EpochSummary, LifecycleState, TraderConfig, TraderStatus
from models.trader.config import policy_problem
from workers.devserver import DevServer, find_temporal_cli
from workers.metrics import free_port
from workers.settings import SIM_KEY_ID, Settings, SettingsError, load_settings
from workers.stack import child_process, ensure_sim_key, start_trader
from workflows.names import QUERY_STATUS, SIGNAL_STOP

log = logging.getLogger(__name__)


_ENV_PREFIXES = (
    "KALSHI_",
    "TRADER_",
    "SIM_",
    "TEMPORAL_",
    "DATABASE_URL",
    "MODEL_REGISTRY",
    "METRICS_PORT",
    "STATE_DIR",
)
_DONE = ("finalized", "settled")


class BacktestError(Exception):
    """The backtest cannot run or failed; the message is one line for the operator (``error: <message>``)."""


@dataclass
class BacktestOptions:
    """What ``kalshi-trader backtest`` was asked to do.

    Attributes:
        data_dir: recorded markets (``MARKETS.csv`` layout).
        markets: tickers to replay (empty: every market with a tape).
        policy: ``imbalance``, ``hold``, ``rl:current`` or ``rl:<version>``.
        speed: paced: an upper bound on tape seconds per wall second, None for unbounded (``max``); free-running
            (``pacing`` False): the replay speed (Decimal > 0, required).
        pacing: the exchange clock waits for the trader (:mod:`workers.pacer`); False: it free-runs at ``speed``.
        registry: the model registry (learned policies).
        out: the report folder (None: ``STATE_DIR/backtests/<UTC time>``); the run's state goes to ``out/state``
            when ``keep_state``, else to a temporary folder removed afterwards.
        json_path: also write the JSON document here.
        progress: show the progress bar (stderr).
        keep_state: keep the state folder (dev-server database, logs, recording database) under ``out/state``.
        settle_timeout_s: give up (error) when the markets have not settled after this many wall seconds of replay
            (None: three times the tape span at the speed, plus two minutes; paced unbounded: the tape span at 1x
            plus two minutes).
        tape_window_s: replay only this many tape seconds from the first frame, then read the exchange's orders and
            stop (no settlement, no report: :func:`run_live` returns early; the speed-invariance test and bench).

    """

    data_dir: Path
    markets: list[str]
    policy: str
    speed: Decimal | None
    registry: Path
    out: Path
    json_path: Path | None = None
    progress: bool = True
    keep_state: bool = False
    settle_timeout_s: float | None = None
    pacing: bool = True
    tape_window_s: float | None = None

    @property
    def mode(self) -> str:
        """``paced max``, ``paced <X>x`` or ``free-running <X>x`` (the report's and the JSON's ``mode``)."""
        if not self.pacing:
            return f"free-running {self.speed}x"
        return "paced max" if self.speed is None else f"paced {self.speed}x"


@dataclass
class Prepared:
    """Validated input: the decoded markets, the environment config of the policy, its env policy object."""

    options: BacktestOptions
    markets: list[Any]  # rl.tapes.MarketTape
    env_config: Any  # rl.env.EnvConfig
    env_policy: Any  # rl.decision.Policy

    @property
    def start_ms(self) -> int:
        """Tape time of the first selected market's first recorded frame (its first snapshot), Unix ms."""
        return min(int(m.times[0]) for m in self.markets)

    @property
    def end_ms(self) -> int:
        """The last selected market's close, Unix ms."""
        return max(m.definition.close_ms for m in self.markets)


def prepare(options: BacktestOptions) -> Prepared:
    """Validate everything before anything starts (see the module docstring, step 1).

    Raises:
        BacktestError: no ``MARKETS.csv``, no replayable market, an unknown ticker, a bad speed, a policy the
            trader does not run, a model that is missing, corrupt or incompatible; or no RL extra installed.

    """
    try:
        from rl.env import EnvConfig
        from rl.registry import ModelRegistry, ModelRegistryError
        from rl.runner import make_policy
        from rl.tapes import TapeDataError, default_cache_dir, load_markets
    except ImportError as err:
        raise BacktestError(f"the backtest needs the RL extra (make install-rl): {err}") from None
    if options.speed is None:
        if not options.pacing:
            raise BacktestError("--no-pacing needs a numeric --speed (the free-running replay speed)")
    elif not options.speed.is_finite() or options.speed <= 0 or options.speed > 1000:
        raise BacktestError(f"--speed must be max or a number in (0, 1000], got {options.speed}")
    problem = policy_problem(options.policy)
    if problem is not None:
        raise BacktestError(problem)
    if not (options.data_dir / "MARKETS.csv").is_file():
        raise BacktestError(f"{options.data_dir}: no MARKETS.csv (not a recording directory)")
    try:
        markets = load_markets(options.data_dir, options.markets or None, cache_dir=default_cache_dir())
    except TapeDataError as err:
        text = str(err)
        if "no market with a tape" in text:
            text = f"{options.data_dir}: no replayable market (no events/<ticker>/*.ndjson.gz tape)"
        raise BacktestError(text) from None
    except OSError as err:
        raise BacktestError(f"{options.data_dir}: {err}") from None
    config = EnvConfig()
    try:
        if options.policy.startswith("rl:"):
            config = EnvConfig.model_validate(ModelRegistry(options.registry).metadata(options.policy).env_config)
        env_policy = make_policy(options.policy, config, registry=options.registry)
    except ModelRegistryError as err:
        raise BacktestError(str(err).splitlines()[0]) from None
    except ValueError as err:
        raise BacktestError(str(err).splitlines()[0]) from None
    return Prepared(options, markets, config, env_policy)


def run_env(prepared: Prepared) -> Any:
    """The environment's estimate: :func:`rl.runner.run_policy` of the policy on the markets (StrategyResults)."""
    from rl.runner import run_policy

    return run_policy(prepared.env_policy, prepared.markets, prepared.env_config)


# ------------------------------------------------------------------------------------------------ the stack


def _tail(path: Path, lines: int = 4) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _child_env(settings: Settings, pace: tuple[str, float] | None = None) -> dict[str, str]:
    """The worker's environment: the caller's, minus every setting of ours, plus the isolated stack's.

    ``pace``: ``(SIM_PACE, SIM_PACE_EPOCH_S)`` for a paced run (:mod:`workers.pacer`), None for a free-running one.
    """
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_ENV_PREFIXES)}
    env.update(
        {
            "KALSHI_ENV": "sim",
            "STATE_DIR": str(settings.state_dir),
            "TEMPORAL_ADDRESS": settings.temporal_address,
            "SIM_PORT": str(settings.sim_port),
            "METRICS_PORT": "0",
            "DATABASE_URL": settings.recording_url or "off",
            "MODEL_REGISTRY": str(settings.model_registry_dir),
            "TRADER_TASK_QUEUE": settings.task_queue,
            "PYTHONUNBUFFERED": "1",
        }
    )
    if pace is not None:
        env["SIM_PACE"], env["SIM_PACE_EPOCH_S"] = pace[0], str(pace[1])
    return env


PACED_WALL_FACTOR = 60
"""Paced runs divide the wall-clock waits outside epochs (close retries, back-offs, market discovery, the wait before
an order-group reset, the retry after a calibration with no viable market) by this: the exchange clock is held while
they run, so they cost wall time and no tape (the driver moves the clock over idle tape instead)."""


def trader_config(base: TraderConfig, prepared: Prepared, series: list[str], workflow_id: str) -> TraderConfig:
    """The backtest's trader: ``base`` (the operator's settings) with the environment's limits and the policy.

    Risk limits, closing window, cash reserve and decision interval are the environment's. Free-running, every
    wall-clock interval is divided by the speed (see the module docstring). Paced, the epoch keeps the operator's
    recalibration interval as its wall deadline (the pacer ends it earlier, when the exchange clock has moved that
    far: the tape deadline comes first unless the replay is slower than real time) and the other waits are divided
    by :data:`PACED_WALL_FACTOR`.

    Raises:
        pydantic.ValidationError: an inconsistent result (cannot happen for validated input).

    """
    opts = prepared.options
    speed = float(PACED_WALL_FACTOR if opts.pacing or opts.speed is None else opts.speed)
    env = prepared.env_config
    data = base.model_dump(mode="python")
    data.update(
        {
            "series_tickers": series,
            "recalibration_interval_s": (
                base.recalibration_interval_s if opts.pacing else max(1.0, base.recalibration_interval_s / speed)
            ),
            "risk": env.risk.model_dump(mode="python"),
            "no_viable_retry_s": max(0.1, base.no_viable_retry_s / speed),
            "order_group_window_s": base.order_group_window_s / speed,
            "degraded_backoff_s": [max(0.1, x / speed) for x in base.degraded_backoff_s],
            "market_data_workflow_id": f"{workflow_id}-md",
            "market_data": MarketDataInput(
                series_tickers=series,
                settings=IngestSettings(discovery_interval_s=max(0.5, 15.0 / speed), record=False),
            ).model_dump(mode="python"),
        }
    )
    data["exits"].update(
        market_closing_window_s=env.exits.market_closing_window_s, cash_reserve_cents=env.exits.cash_reserve_cents
    )
    data["epoch"].update(policy=prepared.options.policy, decision_interval_ms=env.decision_interval_ms)
    data["close"].update(retry_delay_s=base.close.retry_delay_s / speed)
    return TraderConfig.model_validate(data)


@dataclass(frozen=True)
class StackView:
    """Where the running stack is, for an :data:`OnSettled` hook (the stack is up while it runs).

    Attributes:
        rest_url: the simulator's Kalshi REST base (``.../trade-api/v2``).
        control_url: the simulator's control API (``.../sim/v1``).
        key_id, key_path: the account's API key id and private key file (the backtest's own throwaway key).
        temporal_address: the dev server.
        workflow_id: the trader's workflow id.
        state_dir: the run's state folder.

    """

    rest_url: str
    control_url: str
    key_id: str
    key_path: Path
    temporal_address: str
    workflow_id: str
    state_dir: Path


class OrderRecord(NamedTuple):
    """One order as the exchange booked it (strings as the wire gives them).

    Two runs made the same decisions when their lists of these are equal.
    """

    ticker: str
    created_ms: int  # tape ms
    side: str
    action: str
    contracts: str
    yes_price_dollars: str
    time_in_force: str
    post_only: bool


async def exchange_orders(view: StackView) -> list[OrderRecord]:
    """The account's orders from the simulator's control API (``GET /sim/v1/accounts/{key}``), in placement order.

    The exchange's own record, including what ``GET /portfolio/orders`` lists too (time in force, post-only); the
    created time is tape time (the backtest replays on recorded times, ``--no-time-shift``).

    Raises:
        httpx.HTTPError: the simulator did not answer.
    """
    async with httpx.AsyncClient(base_url=view.control_url, timeout=30) as http:
        account = (await http.get(f"/accounts/{view.key_id}")).raise_for_status().json()
    return [
        OrderRecord(
            o["ticker"],
            int(o["created_ts_ms"]),
            o["side"],
            o["action"],
            o["initial_count_fp"],
            o["yes_price_dollars"],
            o["time_in_force"],
            bool(o["post_only"]),
        )
        for o in account["orders"]
    ]


OnSettled = Callable[[StackView], Awaitable[None]]
"""Called once every market has settled (or the tape window was replayed), before the stack stops (tests read the
exchange independently here)."""


@dataclass
class LiveRun:
    """What the live run produced: the exchange's record of the account and the trader's epoch summaries.

    ``mode`` is :attr:`BacktestOptions.mode`; ``pacing`` the pacer's figures (:class:`workers.pacer.PaceStats` as a
    dict, plus ``idle_moves``/``idle_tape_s``: the driver's moves over idle tape), None when free-running.
    """

    fills: list[Fill]
    settlements: list[Settlement]
    orders: list[Order]
    epochs: list[EpochSummary]
    wall_s: float
    stack_s: float
    market_wall_s: dict[str, float] = field(default_factory=dict)
    mode: str = ""
    pacing: dict[str, Any] | None = None


class _Progress:
    """The progress bar (tqdm on stderr): tape seconds replayed and markets settled."""

    def __init__(self, enabled: bool, total_s: float, markets: int) -> None:
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(
                total=round(total_s),
                unit="tape s",
                desc="backtest",
                file=sys.stderr,
                dynamic_ncols=True,
                mininterval=0.5 if sys.stderr.isatty() else 10.0,
            )
        self.markets = markets

    def update(self, tape_s: float, done: int, tape_ms: int) -> None:
        """Move the bar to ``tape_s`` tape seconds replayed with ``done`` markets settled."""
        if self.bar is None:
            return
        clock = datetime.fromtimestamp(tape_ms / 1000, UTC).strftime("%H:%M:%S")
        self.bar.set_postfix_str(f"tape {clock}Z, markets settled {done}/{self.markets}", refresh=False)
        self.bar.update(max(0, min(self.bar.total, round(tape_s)) - self.bar.n))

    def close(self) -> None:
        """Close the bar (its last state stays on the terminal)."""
        if self.bar is not None:
            self.bar.close()


async def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float, what: str, log_file: Path) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=1.0) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BacktestError(f"{what} exited with {proc.returncode}: {_tail(log_file)}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code < 500:
                    return
            await asyncio.sleep(0.1)
    raise BacktestError(f"{what} did not answer {url} within {timeout_s:.0f} s (see {log_file})")


async def _status(handle: WorkflowHandle[Any, Any]) -> TraderStatus | None:
    try:
        return await handle.query(QUERY_STATUS, result_type=TraderStatus)
    except RPCError:
        return None


def _read_epochs(url: str | None) -> list[EpochSummary]:
    """The worker recorder's epoch summaries (``epoch_summary`` rows of the SQLite recording database), in order."""
    if not url or not url.startswith("sqlite:///"):
        return []
    path = Path(url.removeprefix("sqlite:///"))
    if not path.is_file():
        return []
    with contextlib.closing(sqlite3.connect(path)) as db:
        try:
            rows = db.execute("SELECT summary FROM epoch_summary ORDER BY session_id, rec_no").fetchall()
        except sqlite3.Error:
            return []
    return [EpochSummary.model_validate_json(r[0]) for r in rows if r[0]]


async def run_live(
    prepared: Prepared, state: Path, echo: Callable[[str], None], on_settled: OnSettled | None = None
) -> LiveRun:
    """Run the real stack in ``state`` until the last market has settled; return the exchange's record.

    Raises:
        BacktestError: a component failed to start or died, the trader never started trading, the run was
            interrupted (SIGINT/SIGTERM), or the markets did not settle in time. Every child is stopped first.

    """
    from rl.tapes import subset_tape_dir

    opts = prepared.options
    cli_path = find_temporal_cli()
    if cli_path is None:
        raise BacktestError("no `temporal` CLI found: run `make install` (it builds one) or set TEMPORAL_CLI")
    tickers = [m.ticker for m in prepared.markets]
    series = sorted({m.definition.series_ticker for m in prepared.markets})
    logs = state / "logs"
    tape_dir = state / "tape"
    subset_tape_dir(opts.data_dir, tickers, tape_dir)
    workflow_id = "kalshi-backtest"
    try:
        settings = load_settings(
            kalshi_env="sim",
            kalshi_api_key_id=None,
            kalshi_private_key_path=None,
            kalshi_private_key_pem=None,
            kalshi_rest_url=None,
            kalshi_ws_url=None,
            state_dir=state,
            temporal_address=f"127.0.0.1:{free_port()}",
            temporal_namespace="default",
            workflow_id=workflow_id,
            sim_port=free_port(),
            metrics_port=0,
            database_url=f"sqlite:///{state / 'recording.db'}",
            model_registry=opts.registry,
        )
        config = trader_config(settings.trader_config(), prepared, series, workflow_id)
    except (SettingsError, ValueError) as err:
        raise BacktestError(f"invalid settings: {str(err).splitlines()[0]}") from None
    from workers.worker import connect, ensure_search_attributes

    ensure_sim_key(settings)
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted.set)
    t0 = time.monotonic()
    try:
        with contextlib.ExitStack() as stack:
            port = int(settings.temporal_address.rsplit(":", 1)[1])
            dev = DevServer(cli_path, state / "temporal.db", port, None, logs / "temporal.log")
            stack.callback(dev.stop)
            # start-up in parallel: the simulator loads its tapes while the dev server starts
            start_iso = datetime.fromtimestamp(prepared.start_ms / 1000, UTC).isoformat(timespec="milliseconds")
            sim_args = [
                sys.executable, "-m", "simulator",
                "--port", str(settings.sim_port),
                "--data-dir", str(tape_dir),
                "--keys-dir", str(settings.sim_key_path.parent / "public"),
                "--speed", str(opts.speed or 1),
                "--start", start_iso.replace("+00:00", "Z"),
                "--paused", "--no-time-shift",
                "--initial-balance-cents", str(prepared.env_config.initial_cash_cents),
                "--rate-limit-tier", "off",
                "--log-level", "warning",
            ]  # fmt: skip
            sim = stack.enter_context(child_process(sim_args, logs / "simulator.log"))
            control = f"http://127.0.0.1:{settings.sim_port}/sim/v1"
            try:
                await dev.start()
            except RuntimeError as err:
                raise BacktestError(str(err)) from None
            pace = (
                ("max" if opts.speed is None else str(opts.speed), settings.recalibration_interval_s)
                if opts.pacing
                else None
            )
            # the worker imports its modules (torch for a learned policy) while the simulator finishes loading
            worker = stack.enter_context(
                child_process(
                    [sys.executable, "-m", "workers.cli", "worker"],
                    logs / "worker.log",
                    env=_child_env(settings, pace),
                    cwd=state,
                    stop_timeout_s=20,
                )
            )
            await _wait_http(f"{control}/health", sim, 60, "simulator", logs / "simulator.log")
            client = await connect(settings.temporal_address, settings.temporal_namespace)
            await ensure_search_attributes(client, settings.temporal_namespace)
            handle = await start_trader(client, settings, config)
            try:
                procs = _Procs(sim, worker, logs, interrupted)
                return await _drive(prepared, settings, client, handle, procs, control, t0, echo, on_settled)
            finally:
                with contextlib.suppress(Exception):
                    await _stop_trader(client, handle, config.market_data_workflow_id)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _stop_trader(client: Client, handle: WorkflowHandle[Any, Any], market_data_id: str | None) -> None:
    """Stop the trader (``stop`` signal, no closes: the markets have settled), then end the market-data workflow."""
    with contextlib.suppress(RPCError):
        await handle.signal(SIGNAL_STOP, {"close_all": False, "reason": "backtest finished"})
        try:
            await asyncio.wait_for(handle.result(), timeout=10)
        except (TimeoutError, Exception):
            with contextlib.suppress(RPCError):
                await handle.terminate("backtest finished")
    if market_data_id:
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(market_data_id).terminate("backtest finished")


@dataclass
class _Procs:
    sim: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    logs: Path
    interrupted: asyncio.Event


class _IdleTape:
    """Paced runs: where to move the held clock when the trader has nothing to trade (no epoch will step it).

    Idle: the trader's last calibration found no viable market and the workflow is waiting for its retry timer
    (nothing else pending: no activity, no close child workflow). Each such cycle moves the tape by the trader's
    unscaled ``no_viable_retry_s`` (live, that much exchange time passes before it calibrates again). When no
    selected market can be traded any more (every open one is inside its closing window, or closed and awaiting
    settlement, or none has opened yet) and the trader holds no position, straight on to the next event if that is
    later: the earliest close of an open market, else the next scheduled replay action (a lifecycle transition, the
    next market's first frames).
    """

    def __init__(self, handle: WorkflowHandle[Any, Any], retry_ms: int) -> None:
        self.handle = handle
        self.retry_ms = retry_ms
        self.cycle: int | None = None
        self.moves = 0
        self.tape_ms = 0

    async def target(self, tape_ms: int, next_due_ms: int | None, tradeable: bool, close_ms: int | None) -> int | None:
        """The tape ms to move the clock to now, or None (the trader is busy or trading).

        Args:
            tape_ms: the clock now.
            next_due_ms: the simulator's next scheduled action (``GET /clock``).
            tradeable: some selected market is open and before its closing window.
            close_ms: the earliest close of the open selected markets (None: none open).
        """
        st = await _status(self.handle)
        report = None if st is None else st.last_calibration
        if st is None or report is None or report.viable_markets or st.state is not LifecycleState.CALIBRATING:
            return None
        if st.cycle == self.cycle:
            return None
        try:
            desc = await self.handle.describe()
        except RPCError:
            return None
        raw = desc.raw_description
        if raw.pending_activities or raw.pending_children:
            return None
        self.cycle = st.cycle
        target = tape_ms + self.retry_ms
        if not tradeable and not st.positions:
            if close_ms is not None and close_ms > tape_ms:
                target = max(target, close_ms)
            elif next_due_ms is not None:
                target = max(target, int(next_due_ms))
        self.moves += 1
        self.tape_ms += target - tape_ms
        return target


async def _drive(
    prepared: Prepared,
    settings: Settings,
    client: Client,
    handle: WorkflowHandle[Any, Any],
    procs: _Procs,
    control: str,
    t0: float,
    echo: Callable[[str], None],
    on_settled: OnSettled | None,
) -> LiveRun:
    opts = prepared.options
    sim, worker, logs, interrupted = procs.sim, procs.worker, procs.logs, procs.interrupted
    tickers = [m.ticker for m in prepared.markets]
    first_ms = {m.ticker: int(m.times[0]) for m in prepared.markets}
    closes = {m.ticker: m.definition.close_ms for m in prepared.markets}
    window_ms = int(prepared.env_config.exits.market_closing_window_s * 1000)
    last_ms = {t: c - window_ms for t, c in closes.items()}  # the last tape ms a market may be traded

    def check_alive() -> None:
        for proc, what, log_name in ((sim, "simulator", "simulator.log"), (worker, "worker", "worker.log")):
            if proc.poll() is not None:
                raise BacktestError(f"the {what} exited with {proc.returncode}: {_tail(logs / log_name)}")
        if interrupted.is_set():
            raise BacktestError("interrupted: every process of the stack was stopped")

    # 1. the trader trading (its first epoch holds the books), with the clock still paused at the first frame
    deadline = time.monotonic() + 120
    async with httpx.AsyncClient(base_url=control, timeout=10) as http:
        while True:
            check_alive()
            st = await _status(handle)
            if opts.pacing:
                # ready: the pacer took the first actor epoch and moved the clock off the first frame
                ready = int((await http.get("/clock")).json()["tape_time_ms"]) > prepared.start_ms
            else:
                # ready: an epoch has run on the WebSocket actor loop (the first ones poll REST until the
                # market-data workflow has subscribed and holds the books), and the trader is trading again
                epoch = None if st is None else st.last_epoch
                ready = (
                    st is not None
                    and st.state is LifecycleState.TRADING
                    and epoch is not None
                    and epoch.driver == "actor"
                )
            if ready:
                break
            if time.monotonic() > deadline:
                state = "unknown" if st is None else f"{st.state.value} ({st.pause_reason or '-'})"
                raise BacktestError(
                    f"the trader was not trading from the feed within 120 s: state {state} (see {logs})"
                )
            await asyncio.sleep(0.05 if opts.pacing else 0.2)
    stack_s = time.monotonic() - t0
    span_s = (prepared.end_ms - prepared.start_ms) / 1000
    window_end_ms = None if opts.tape_window_s is None else prepared.start_ms + round(opts.tape_window_s * 1000)
    if opts.settle_timeout_s is not None:
        timeout_s = opts.settle_timeout_s
    else:
        timeout_s = span_s / float(opts.speed or 1) * 3 + 120
    bar = _Progress(opts.progress, span_s, len(tickers))
    market_start: dict[str, float] = {}
    market_wall: dict[str, float] = {}
    idle = _IdleTape(handle, int(settings.trader_config().no_viable_retry_s * 1000))
    async with httpx.AsyncClient(base_url=control, timeout=10) as http:
        if not opts.pacing:
            (await http.put("/clock", json={"paused": False, "speed": str(opts.speed)})).raise_for_status()
        started = time.monotonic()
        try:
            while True:
                check_alive()
                clock = (await http.get("/clock")).json()
                tape_ms = int(clock["tape_time_ms"])
                statuses = {m["ticker"]: m["status"] for m in (await http.get("/markets")).json()["markets"]}
                now = time.monotonic() - started
                for t in tickers:
                    if t not in market_start and tape_ms >= first_ms[t]:
                        market_start[t] = now
                    if t not in market_wall and statuses.get(t) in _DONE:
                        market_wall[t] = now - market_start.get(t, 0.0)
                bar.update((tape_ms - prepared.start_ms) / 1000, len(market_wall), tape_ms)
                if len(market_wall) == len(tickers) or (window_end_ms is not None and tape_ms >= window_end_ms):
                    break
                pending = [first_ms[t] for t in tickers if t not in market_start]
                active = [t for t in market_start if t not in market_wall]
                if opts.pacing:
                    trading = [t for t in active if statuses.get(t) in ("active", "open")]
                    tradeable = any(tape_ms < last_ms[t] for t in trading)
                    close_ms = min((closes[t] for t in trading), default=None)
                    target = await idle.target(tape_ms, clock.get("next_due_ms"), tradeable, close_ms)
                    if target is not None:
                        await http.put("/clock", json={"tape_time": _iso(target)})
                elif pending and not active and min(pending) > tape_ms + 2_000:
                    # nothing open to trade until the next market's first frame: skip the idle tape
                    await http.put("/clock", json={"tape_time": _iso(min(pending))})
                if now > timeout_s:
                    raise BacktestError(
                        f"the markets did not settle within {timeout_s:.0f} s of wall time "
                        f"({len(market_wall)}/{len(tickers)} settled; see {logs})"
                    )
                await asyncio.sleep(0.1 if opts.pacing else 0.25)
        finally:
            bar.close()
    wall_s = time.monotonic() - started
    # 2. the exchange's own record of the account
    async with KalshiRestClient(settings.endpoints().rest_base_url, settings.signer()) as rest:
        fills = await rest.get_fills()
        settlements = await rest.get_settlements()
        orders = await rest.get_orders()
    if on_settled is not None:
        await on_settled(
            StackView(
                rest_url=settings.endpoints().rest_base_url,
                control_url=control,
                key_id=SIM_KEY_ID,
                key_path=settings.sim_key_path,
                temporal_address=settings.temporal_address,
                workflow_id=handle.id,
                state_dir=settings.state_dir,
            )
        )
    await _stop_trader(client, handle, f"{handle.id}-md")
    # 3. the worker flushes its recorder on shutdown: stop it, then read the epoch summaries
    worker.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        await asyncio.to_thread(worker.wait, 30)
    epochs = _read_epochs(settings.recording_url)
    pacing = None
    if opts.pacing:
        from workers.pacer import read_stats

        pacing = read_stats(settings.state_dir / "pacer.json") or {}
        pacing["idle_moves"], pacing["idle_tape_s"] = idle.moves, idle.tape_ms / 1000
    done = "replayed" if window_end_ms is not None else "replayed and settled"
    echo(f"stack ready in {stack_s:.1f} s; {done} in {wall_s:.1f} s ({opts.mode})")
    return LiveRun(fills, settlements, orders, epochs, wall_s, stack_s, market_wall, opts.mode, pacing)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ------------------------------------------------------------------------------------------------ the command


def parse_speed(text: str) -> Decimal | None:
    """``--speed`` as a Decimal, None for ``max``. Raises BacktestError for anything else."""
    if text.strip().lower() == "max":
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise BacktestError(f"--speed must be max or a number, got {text!r}") from None


def run_backtest(options: BacktestOptions, echo: Callable[[str], None], on_settled: OnSettled | None = None) -> Any:
    """Validate, estimate with the env, run the stack, write the report; return the report.

    Returns:
        The :class:`rl.backtest.BacktestReport` (also printed and written to ``options.out``).

    Raises:
        BacktestError: bad input (before anything starts) or a failed run (after everything stopped).

    """
    prepared = prepare(options)
    from rl.backtest import RunRecord, build_report

    tickers = ", ".join(m.ticker for m in prepared.markets)
    if options.tape_window_s is not None:
        raise BacktestError("a tape window replays part of a market: use run_live, there is no report to build")
    echo(f"backtest {options.policy} on {tickers}, {options.mode} (env estimate first)")
    env_results = run_env(prepared)
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    if options.keep_state:
        state = out / "state"
        if state.exists():
            shutil.rmtree(state)
        state.mkdir(parents=True)
        cleanup = None
    else:
        cleanup = tempfile.TemporaryDirectory(prefix="kalshi-backtest-")
        state = Path(cleanup.name)
    try:
        live = asyncio.run(run_live(prepared, state, echo, on_settled))
    finally:
        if cleanup is not None:
            cleanup.cleanup()
    record = RunRecord(
        policy=options.policy,
        speed=options.speed,
        wall_s=live.wall_s,
        tape_start_ms=prepared.start_ms,
        tape_end_ms=prepared.end_ms,
        tradeable=[
            (int(m.times[0]), m.definition.close_ms - int(prepared.env_config.exits.market_closing_window_s * 1000))
            for m in prepared.markets
        ],
        orders=[(o.client_order_id or None, o.status) for o in live.orders],
        epochs=live.epochs,
        stack_s=live.stack_s,
        market_wall_s=live.market_wall_s,
        mode=live.mode,
        pacing=live.pacing,
    )
    try:
        report = build_report(prepared.markets, env_results, live.fills, live.settlements, record)
    except ValueError as err:
        raise BacktestError(str(err).splitlines()[0]) from None
    text = report.text()
    (out / "report.txt").write_text(text + "\n")
    report.write_json(out / "report.json")
    report.write_equity_png(out / "equity.png")
    if options.json_path is not None:
        report.write_json(options.json_path)
    echo(text)
    echo(f"report: {out / 'report.txt'}, {out / 'report.json'}, {out / 'equity.png'}")
    return report


__all__ = [
    "BacktestError",
    "BacktestOptions",
    "OnSettled",
    "OrderRecord",
    "StackView",
    "exchange_orders",
    "prepare",
    "run_backtest",
    "run_live",
    "trader_config",
]
