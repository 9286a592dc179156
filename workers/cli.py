"""The ``kalshi-trader`` command: ``up``, ``worker``, ``simulator``, ``start``, ``status`` and the tape tools.

* ``up``: the whole local stack in one command: the Temporal dev server (SQLite under ``.state``,
  Web UI on 8233), the Kalshi-compatible simulator, the worker, and the ``TraderWorkflow`` started
  idempotently (running it again resumes the same workflow). Prints the Web UI URL and the
  ``temporal`` commands to pause, resume and query; Ctrl-C stops everything cleanly.
* ``worker``: run the worker against an existing Temporal server and exchange.
* ``simulator``: run the exchange simulator alone (flags are the simulator's own); ``simulator status`` and
  ``simulator fault set|list|clear|load|scenarios`` drive a running one's timed faults (:mod:`workers.sim_cli`).
* ``start``: start the trader workflow (or attach to the running one).
* ``status``: query the trader's ``status`` and print it (``--json`` for the raw answer).
* ``record``, ``sessions``, ``export``, ``import``: record a feed into the database, list its recording
  sessions, write one as a tape directory the simulator replays, read a tape directory into a new session.
* ``train``, ``evaluate``: train a MaskablePPO policy on recorded tapes into the model registry; evaluate it and
  the baselines net of Kalshi's fees (table, Markdown report, PNG figures, JSON). Need the ``.[rl]`` extra.
* ``backtest``: replay recorded markets through the real stack in an isolated state folder and report what the
  exchange booked next to the training environment's estimate (:mod:`workers.backtest`). Needs ``.[rl]``.

Invalid settings fail before anything starts, with one line on stderr and exit code 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
import httpx
from temporalio.service import RPCError

from models.trader import TraderStatus
from workers.devserver import DevServer, find_temporal_cli, port_open
from workers.settings import REPO_ROOT, Settings, SettingsError, load_settings
from workers.sim_cli import simulator as simulator_group
from workers.stack import child_process, ensure_sim_key, start_trader
from workers.worker import connect, ensure_search_attributes, run_worker
from workflows.names import QUERY_STATUS

log = logging.getLogger("kalshi_trader")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpcore", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _settings_or_exit(**overrides: Any) -> Settings:
    try:
        settings = load_settings(**overrides)
        settings.check_production()
        return settings
    except SettingsError as err:
        click.echo(f"kalshi-trader: invalid settings: {err}", err=True)
        sys.exit(2)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def cli(verbose: bool) -> None:
    """Automated Kalshi trader on Temporal (see README.md)."""
    _setup_logging(verbose)


# --------------------------------------------------------------------------------------- start/status


def operator_commands(workflow_id: str, address: str) -> str:
    """The ``temporal`` CLI commands an operator uses on the trader (printed by ``up`` and ``start``)."""
    a = "" if address in ("localhost:7233", "127.0.0.1:7233") else f" --address {address}"
    pause_input = """'{"reason":"maintenance"}'"""
    return "\n".join(
        [
            f"  status:      temporal workflow query{a} -w {workflow_id} --name status -o json",
            f"  pause:       temporal workflow signal{a} -w {workflow_id} --name pause --input {pause_input}",
            f"  resume:      temporal workflow signal{a} -w {workflow_id} --name resume",
            f"  recalibrate: temporal workflow signal{a} -w {workflow_id} --name recalibrate",
            f"  stop:        temporal workflow signal{a} -w {workflow_id} --name stop --input '{{\"close_all\":true}}'",
            f"  risk limits: temporal workflow update execute{a} -w {workflow_id} --name set_risk_limits "
            '--input \'{"order_size_contracts":"2"}\'',
            f"  force close: temporal workflow update execute{a} -w {workflow_id} --name force_close "
            '--input \'{"ticker":"<TICKER>"}\'',
            f"  details:     temporal workflow metadata{a} -w {workflow_id}",
        ]
    )


@cli.command()
def start() -> None:
    """Start the trader workflow (or attach to the running one) and print how to drive it."""
    settings = _settings_or_exit()

    async def go() -> None:
        client = await connect(settings.temporal_address, settings.temporal_namespace)
        await ensure_search_attributes(client, settings.temporal_namespace)
        handle = await start_trader(client, settings)
        click.echo(f"TraderWorkflow {handle.id} (run {handle.result_run_id}) on task queue {settings.task_queue}")
        click.echo(operator_commands(handle.id, settings.temporal_address))

    asyncio.run(go())


def format_status(st: TraderStatus) -> str:
    """A readable multi-line rendering of :class:`TraderStatus` for the terminal."""
    lines = [
        f"{st.workflow_id} ({st.environment.value}): state={st.state.value} mode={st.mode.value if st.mode else '-'}"
        + (f" paused: {st.pause_reason}" if st.pause_reason else ""),
        f"cycle {st.cycle}, generation {st.generation}, interval {st.recalibration_interval_s:g}s, "
        f"cash {'-' if st.cash_cents is None else f'{st.cash_cents / 100:,.2f} USD'}, "
        f"order group {st.order_group_id or '-'}",
    ]
    if st.last_calibration:
        c = st.last_calibration
        lines.append(
            f"last calibration {c.at:%H:%M:%S} {c.overall_status.value} in {c.duration_ms} ms; "
            f"viable: {', '.join(c.viable_markets) or 'none'}"
        )
        for comp in c.components:
            if not comp.healthy:
                instead = f"; fallback {comp.fallback_id}: {comp.fallback}" if comp.fallback_id else ""
                lines.append(f"  {comp.category.value} component {comp.name} down: {comp.error or '?'}{instead}")
    if st.limits is not None and st.limits.mode.value == "degraded":
        lim = st.limits
        lines.append(
            f"degraded limits: position cap {lim.max_position_contracts}, cash reserve "
            f"{lim.cash_reserve_cents / 100:,.2f} USD, new positions "
            + (f"no ({lim.closing_only})" if lim.closing_only else "allowed")
        )
    if st.last_probe is not None:
        probe = st.last_probe
        lines.append(f"last health probe {probe.at:%H:%M:%S}: {probe.failed or probe.changed or 'no change'}")
    for p in st.positions:
        pnl = "n/a" if p.pnl_pct is None else f"{p.unrealized_pnl_dollars:+.2f} USD ({p.pnl_pct * 100:+.1f}%)"
        lines.append(f"  position {p.ticker}: {p.contracts} {p.side.upper()} avg {p.avg_cost_dollars:.4f} P&L {pnl}")
    for cl in st.recent_closes[-5:]:
        pnl = "" if cl.realized_pnl_dollars is None else f", P&L {cl.realized_pnl_dollars:+.2f} USD after fees"
        lines.append(
            f"  close {cl.tag} {cl.ticker}: {cl.status.value} {cl.closed_contracts}/{cl.requested_contracts}{pnl}"
        )
    lines.append(
        f"session P&L: realised {st.session_realized_pnl_dollars:+.2f} USD after fees (closes "
        f"{st.realized_pnl_dollars:+.2f}, trades {st.trading_realized_pnl_dollars:+.2f}, settlements "
        f"{st.settlement_pnl_dollars:+.2f}; fees {st.close_fees_dollars + st.trading_fees_dollars:.2f}), unrealised "
        f"{st.unrealized_pnl_dollars:+.2f} USD"
    )
    for ticker, realised in list(st.session_realized_by_ticker.items())[-5:]:
        lines.append(f"  realised {ticker}: {realised:+.2f} USD")
    lines.append(f"policy: {_policy_line(st)}")
    if st.stop_outcome:
        lines.append(f"stop: {st.stop_outcome}")
    if st.last_epoch:
        e = st.last_epoch
        lines.append(
            f"last epoch: {e.driver}, ended by {e.ended_by}, {e.updates_seen} updates, {e.orders_placed} "
            f"orders, rejects {e.rejects}"
        )
    return "\n".join(lines)


def _policy_line(st: TraderStatus) -> str:
    """The configured policy and what the last epoch ran (model and feature version, or the fallback and why)."""
    used = st.policy_in_use
    if used is None:
        return f"{st.policy} (no epoch yet)"
    if used.fallback_reason:
        return f"{st.policy}; the last epoch ran {used.name} instead: {used.fallback_reason}"
    if used.model_version:
        return f"{st.policy}: model {used.model_version}, feature version {used.feature_version}"
    return st.policy if used.name == st.policy else f"{st.policy} (the last epoch ran {used.name})"


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON answer.")
def status(as_json: bool) -> None:
    """Query the trader's status."""
    settings = _settings_or_exit()

    async def go() -> None:
        client = await connect(settings.temporal_address, settings.temporal_namespace)
        handle = client.get_workflow_handle(settings.trader_workflow_id)
        try:
            st = await handle.query(QUERY_STATUS, result_type=TraderStatus)
        except RPCError as err:
            click.echo(f"kalshi-trader: cannot query {settings.trader_workflow_id}: {err}", err=True)
            sys.exit(1)
        click.echo(st.model_dump_json(indent=2) if as_json else format_status(st))

    asyncio.run(go())


# --------------------------------------------------------------------------------------- worker / simulator


@cli.command()
@click.option("--allow-production", is_flag=True, help="Required to trade KALSHI_ENV=prod (real money).")
def worker(allow_production: bool) -> None:
    """Run the worker (workflows + REST activities on the kalshi-trader task queue)."""
    overrides = {"kalshi_allow_production": True} if allow_production else {}
    settings = _settings_or_exit(**overrides)
    try:
        settings.signer()
    except SettingsError as err:
        click.echo(f"kalshi-trader: invalid settings: {err}", err=True)
        sys.exit(2)
    asyncio.run(run_worker(settings))


cli.add_command(simulator_group, "simulator")


# --------------------------------------------------------------------------------------- record / export


@cli.command()
@click.option("--series", default=None, help="Comma list of series to record (default TRADER_SERIES).")
@click.option("--ticker", "tickers", multiple=True, help="A further market to record (repeatable).")
@click.option("--duration-s", type=float, default=None, help="Stop after this many seconds (default: Ctrl-C).")
@click.option("--database-url", default=None, help="Default DATABASE_URL or sqlite:///.state/recording.db.")
def record(series: str | None, tickers: tuple[str, ...], duration_s: float | None, database_url: str | None) -> None:
    """Record the WebSocket feed of a series' open markets into the database (replayable after `export`)."""
    overrides: dict[str, Any] = {}
    if series:
        overrides["series"] = series
    if database_url:
        overrides["database_url"] = database_url
    settings = _settings_or_exit(**overrides)
    url = settings.recording_url
    if url is None:
        click.echo("kalshi-trader: DATABASE_URL=off: nothing to record into", err=True)
        sys.exit(2)
    try:
        signer = settings.signer()
    except SettingsError as err:
        click.echo(f"kalshi-trader: invalid settings: {err}", err=True)
        sys.exit(2)
    asyncio.run(_record(settings, url, signer, list(tickers), duration_s))


async def _record(settings: Settings, url: str, signer: Any, tickers: list[str], duration_s: float | None) -> None:
    from kalshi.ingest import IngestionLoop, MarketDataHub
    from kalshi.rest import KalshiRestClient
    from models.market_data import IngestInput, IngestSettings
    from recording.recorder import Recorder

    endpoints = settings.endpoints()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    series = settings.trader_config().series_tickers
    recorder = Recorder(url, source_url=endpoints.ws_url, environment=settings.kalshi_env, label="record").start()
    click.echo(f"recording {', '.join(series + tickers)} from {endpoints.ws_url} into session {recorder.session_id}")
    last = [0.0]

    def progress(details: dict[str, Any]) -> None:
        if time.monotonic() - last[0] >= 10:
            last[0] = time.monotonic()
            st = recorder.stats()
            click.echo(
                f"  {len(details['markets'])} markets, connected={details['connected']}, "
                f"{details.get('ws_frames', 0)} frames, {details.get('feed_deltas_applied', 0)} deltas; "
                f"recorder written {st.written}, queued {st.queue_depth}, dropped {st.dropped}"
            )

    inp = IngestInput(
        series_tickers=series,
        extra_tickers=tickers,
        settings=IngestSettings(max_run_s=duration_s or 10 * 365 * 86400.0, discovery_interval_s=15),
    )
    async with KalshiRestClient(endpoints.rest_base_url, signer) as rest:
        summary = await IngestionLoop(rest, endpoints.ws_url, signer, MarketDataHub("record"), recorder, inp).run(
            on_tick=progress, should_stop=stop.is_set
        )
    complete = await recorder.aclose()
    st = recorder.stats()
    click.echo(
        f"session {recorder.session_id}: {st.written} rows written, {st.dropped} dropped"
        f"{'' if complete else ' (some rows were lost at close)'}; markets {', '.join(summary.markets) or 'none'}"
    )
    click.echo(f"export: kalshi-trader export --session {recorder.session_id} --out <empty dir>")


_DATABASE_OPTION = click.option(
    "--database-url",
    "--db",
    "database_url",
    default=None,
    help="sqlite:///path.db, a file path, or postgresql+psycopg://... (default DATABASE_URL, else "
    "sqlite:///.state/recording.db).",
)


def _recording_database(database_url: str | None) -> str:
    """The database the tape commands read or write: ``--database-url``, else the settings' ``DATABASE_URL``."""
    if database_url:
        return database_url
    url = _settings_or_exit().recording_url
    if url is None:
        click.echo("error: DATABASE_URL=off: no recording database (give --database-url)", err=True)
        sys.exit(2)
    return url


def _iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _tape_failed(what: str, err: Exception) -> NoReturn:
    click.echo(f"error: {what} failed: {err}", err=True)
    sys.exit(1)


@cli.command()
@_DATABASE_OPTION
def sessions(database_url: str | None) -> None:
    """List the recording sessions in the database (id, start .. end, environment, source)."""
    from recording.tape import list_sessions

    url = _recording_database(database_url)
    try:
        infos = list_sessions(url)
    except ValueError as err:
        _tape_failed("listing sessions", err)
    for info in infos:
        end = _iso_ms(info.ended_ms) if info.ended_ms is not None else "(open)"
        click.echo(f"{info.id}  {_iso_ms(info.started_ms)} .. {end}  {info.environment or '-'}  {info.source_url}")


@cli.command()
@click.option("--session", "session_id", type=int, required=True, help="Session id (see `sessions`).")
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="Output directory (created; must be empty)."
)
@click.option("--ticker", "tickers", multiple=True, help="Only this market (repeatable; default all).")
@click.option(
    "--type",
    "frame_types",
    multiple=True,
    help="Frame type to export (repeatable; default orderbook_snapshot, orderbook_delta, trade).",
)
@_DATABASE_OPTION
def export(
    session_id: int, out: Path, tickers: tuple[str, ...], frame_types: tuple[str, ...], database_url: str | None
) -> None:
    """Export a recorded session as a tape directory the simulator replays (`kalshi-sim --data-dir OUT`)."""
    from recording.tape import TAPE_FRAME_TYPES, ExportError, export_ndjson

    url = _recording_database(database_url)
    try:
        result = export_ndjson(
            url, session_id, out, tickers=tickers or None, frame_types=frame_types or TAPE_FRAME_TYPES
        )
    except (ExportError, FileNotFoundError, ValueError) as err:
        _tape_failed("export", err)
    click.echo(f"wrote {result.frames} frames in {len(result.files)} files to {result.out_dir}")
    click.echo(
        f"MARKETS.csv: {len(result.markets)} markets; not replayable (no definition or result): "
        f"{', '.join(result.unresolved) or 'none'}; recording gaps: {len(result.gaps)}"
    )
    click.echo(f"replay: kalshi-sim --data-dir {result.out_dir}")


@cli.command("import")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    required=True,
    help="A tape directory in the kalshi-gold15m layout (events/, metadata/, MARKETS.csv).",
)
@click.option("--ticker", "tickers", multiple=True, help="Only this market (repeatable; default all).")
@_DATABASE_OPTION
def import_tape(data_dir: Path, tickers: tuple[str, ...], database_url: str | None) -> None:
    """Import a tape directory (the public tapes, or an export) into a new recording session."""
    from recording.tape import ExportError, import_ndjson

    url = _recording_database(database_url)
    try:
        imported = import_ndjson(url, data_dir, tickers=tickers or None)
    except (ExportError, FileNotFoundError, ValueError) as err:
        _tape_failed("import", err)
    click.echo(
        f"session {imported.session_id}: {imported.frames} frames from {imported.files} files, "
        f"{imported.markets} markets, {imported.bad_lines} bad lines"
    )


# --------------------------------------------------------------------------------------- train / evaluate

GOLD_TAPES = REPO_ROOT.parent / "shared" / "data" / "kalshi-gold15m"
"""The shared recorded gold tapes (the default data of ``train`` and ``evaluate``)."""


def _rl_failed(err: Exception) -> NoReturn:
    click.echo(f"error: {err}", err=True)
    sys.exit(1)


def _registry_dir(registry: Path | None) -> Path:
    return registry if registry is not None else _settings_or_exit().state_dir / "models"


_DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=GOLD_TAPES,
    show_default=True,
    help="Recorded markets (MARKETS.csv layout: the shared tapes or a `kalshi-trader export`).",
)
_JSON_OPTION = click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the JSON here.",
)
_REGISTRY_OPTION = click.option(
    "--registry",
    type=click.Path(path_type=Path),
    default=None,
    help="Model registry folder (default STATE_DIR/models).",
)


@cli.command()
@_DATA_DIR_OPTION
@_REGISTRY_OPTION
@click.option("--timesteps", type=int, default=None, help="Most environment steps (default 1,500,000).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--envs", "n_envs", type=int, default=None, help="Environments stepped together (default 8).")
@click.option("--workers", "n_workers", type=int, default=None, help="Environment processes (default 1: in-process).")
@click.option("--budget-minutes", type=float, default=None, help="Wall-time budget of learning (default 11).")
@click.option("--eval-every", type=int, default=None, help="Steps between validation evaluations (default 100,000).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def train(
    data_dir: Path,
    registry: Path | None,
    timesteps: int | None,
    seed: int,
    n_envs: int | None,
    n_workers: int | None,
    budget_minutes: float | None,
    eval_every: int | None,
    no_progress: bool,
) -> None:
    """Train a MaskablePPO policy on the recorded markets (time-ordered 70/30 split) into the model registry."""
    try:
        from pydantic import ValidationError

        from rl.registry import ModelRegistryError
        from rl.tapes import TapeDataError
        from rl.train import TrainSettings
        from rl.train import train as run_training
    except ImportError as err:
        _rl_failed(RuntimeError(f"training needs the RL extra (make install-rl): {err}"))
    given = {
        "timesteps": timesteps,
        "n_envs": n_envs,
        "n_workers": n_workers,
        "budget_minutes": budget_minutes,
        "eval_every": eval_every,
    }
    try:
        settings = TrainSettings(
            data_dir=data_dir,
            registry=_registry_dir(registry),
            seed=seed,
            progress_bar=not no_progress,
            **{k: v for k, v in given.items() if v is not None},
        )
        result = run_training(settings, echo=click.echo)
    except ValidationError as err:
        _rl_failed(ValueError(f"invalid training settings: {err.errors()[0]['loc'][0]}: {err.errors()[0]['msg']}"))
    except (TapeDataError, ModelRegistryError, OSError) as err:
        _rl_failed(err)
    click.echo(
        f"model {result.version}: {result.steps:,} steps, {result.steps_per_second:,.0f} steps/s, stopped by "
        f"{result.stopped_by}; wall {result.seconds:.0f} s"
    )


@cli.command()
@_DATA_DIR_OPTION
@click.option("--markets", "tickers", multiple=True, help="A market to evaluate (repeatable; default: see below).")
@click.option(
    "--policy",
    "specs",
    multiple=True,
    help="rl:current, rl:<version>, hold, random, imbalance, maker or longshot (repeatable; default: the current "
    "model, if any, and every baseline).",
)
@_REGISTRY_OPTION
@_JSON_OPTION
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where report.md, report.json and the figures go (default STATE_DIR/reports/<time>).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random baseline and the bootstrap.")
def evaluate(
    data_dir: Path,
    tickers: tuple[str, ...],
    specs: tuple[str, ...],
    registry: Path | None,
    json_path: Path | None,
    report_dir: Path | None,
    seed: int,
) -> None:
    """Evaluate the learned policy and the baselines net of Kalshi's fees on recorded markets.

    Markets: --markets, else the learned policy's validation markets (never trained on), else all of --data-dir.
    """
    try:
        from rl.env import EnvConfig, EnvError
        from rl.evaluate import EvaluationError
        from rl.features import FeatureError
        from rl.registry import ModelRegistry, ModelRegistryError
        from rl.runner import default_specs, run_evaluation, select_markets, write_outputs
        from rl.tapes import TapeDataError, default_cache_dir
    except ImportError as err:
        _rl_failed(RuntimeError(f"evaluation needs the RL extra (make install-rl): {err}"))
    root = _registry_dir(registry)
    chosen = list(specs) or default_specs(root)
    try:
        config = EnvConfig()
        learned = [s for s in chosen if s.startswith("rl:")]
        if learned:
            config = EnvConfig.model_validate(ModelRegistry(root).metadata(learned[0]).env_config)
        markets, why = select_markets(data_dir, tickers or None, chosen, registry=root, cache_dir=default_cache_dir())
        click.echo(f"evaluating {', '.join(chosen)} on {why}")
        run = run_evaluation(markets, chosen, config, registry=root, seed=seed)
        out = report_dir or (_settings_or_exit().state_dir / "reports" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))
        path = write_outputs(run, out, json_path)
    except (TapeDataError, ModelRegistryError, EvaluationError, EnvError, FeatureError, ValueError, OSError) as err:
        _rl_failed(err)
    click.echo(run.table())
    click.echo(f"report: {path} ({run.seconds:.0f} s)" + (f"; json: {json_path}" if json_path else ""))


@cli.command()
@_DATA_DIR_OPTION
@click.option(
    "--markets",
    "tickers",
    multiple=True,
    help="Markets to replay: T1,T2 or repeated (default: every market of --data-dir with a tape).",
)
@click.option("--policy", default="imbalance", show_default=True, help="imbalance, hold, rl:current or rl:<version>.")
@click.option(
    "--speed",
    default="max",
    show_default=True,
    help="Paced (default): an upper bound on tape seconds per wall second, or max; the exchange clock waits for the "
    "trader, so the decisions do not depend on it. With --no-pacing: the free-running replay speed.",
)
@click.option(
    "--no-pacing",
    is_flag=True,
    help="Free-running clock at --speed (the old mode, for comparison): wall-clock costs become tape time and the "
    "decisions depend on the speed (docs/rl.md).",
)
@_REGISTRY_OPTION
@_JSON_OPTION
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Report folder (default STATE_DIR/backtests/<time>): report.txt, report.json, equity.png.",
)
@click.option("--keep-state", is_flag=True, help="Keep the run's state (logs, databases) in OUT/state.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def backtest(
    data_dir: Path,
    tickers: tuple[str, ...],
    policy: str,
    speed: str,
    no_pacing: bool,
    registry: Path | None,
    json_path: Path | None,
    out: Path | None,
    keep_state: bool,
    no_progress: bool,
) -> None:
    """Replay recorded markets through the real stack and compare with the training environment.

    Starts an isolated dev server, simulator, worker and trader; reports the P&L the exchange booked next to the
    environment's estimate for the same markets and policy (the sim-to-env gap).
    """
    from workers.backtest import BacktestError, BacktestOptions, parse_speed, run_backtest

    try:
        options = BacktestOptions(
            data_dir=data_dir,
            markets=[t.strip() for item in tickers for t in item.split(",") if t.strip()],
            policy=policy,
            speed=parse_speed(speed),
            pacing=not no_pacing,
            registry=_registry_dir(registry),
            out=out or (_settings_or_exit().state_dir / "backtests" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")),
            json_path=json_path,
            progress=not no_progress,
            keep_state=keep_state,
        )
        run_backtest(options, click.echo)
    except BacktestError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:  # before the stack started (the env estimate): nothing to stop
        click.echo("error: interrupted", err=True)
        sys.exit(2)


# --------------------------------------------------------------------------------------- up


@cli.command()
@click.option("--state-dir", type=click.Path(path_type=Path), default=None, help="Default: STATE_DIR or .state")
def keygen(state_dir: Path | None) -> None:
    """Generate the local simulator account's RSA key pair (idempotent; never overwrites)."""
    settings = _settings_or_exit(**({"state_dir": state_dir} if state_dir else {}))
    private = ensure_sim_key(settings)
    click.echo(f"simulator key: {private} (public key in {private.parent / 'public'})")


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float, what: str, log_file: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = " | ".join(log_file.read_text(errors="replace").strip().splitlines()[-5:])
            raise click.ClickException(f"{what} exited with {proc.returncode}: {tail}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise click.ClickException(f"{what} did not answer {url} within {timeout_s:.0f}s (see {log_file})")


@cli.command()
@click.option("--speed", type=float, default=None, help="Simulator replay speed (default SIM_SPEED or 1).")
@click.option("--temporal-port", type=int, default=7233, show_default=True)
@click.option("--ui-port", type=int, default=8233, show_default=True)
def up(speed: float | None, temporal_port: int, ui_port: int) -> None:
    """Run the whole local stack: Temporal dev server + Web UI, simulator, worker, TraderWorkflow."""
    overrides: dict[str, Any] = {"temporal_address": f"127.0.0.1:{temporal_port}"}
    if speed is not None:
        overrides["sim_speed"] = speed
    settings = _settings_or_exit(**overrides)
    if settings.kalshi_env != "sim":
        click.echo("kalshi-trader up runs the local simulator stack; set KALSHI_ENV=sim (or use `worker`)", err=True)
        sys.exit(2)
    state = settings.state_dir
    logs = state / "logs"
    ensure_sim_key(settings)
    cli_path = find_temporal_cli()

    with contextlib.ExitStack() as stack:
        dev: DevServer | None = None
        if port_open("127.0.0.1", temporal_port):
            click.echo(f"Temporal already listening on 127.0.0.1:{temporal_port}; using it")
        elif cli_path is None:
            raise click.ClickException(
                "no `temporal` CLI found: run `make run` (it builds one into .tools/bin) or set TEMPORAL_CLI"
            )
        else:
            dev = DevServer(cli_path, state / "temporal.db", temporal_port, ui_port, logs / "temporal.log")
            click.echo(f"starting Temporal dev server ({cli_path}) ...")
            asyncio.run(dev.start())
            stack.callback(dev.stop)

        sim_args = [
            sys.executable, "-m", "simulator",
            "--port", str(settings.sim_port),
            "--keys-dir", str(settings.sim_key_path.parent / "public"),
            "--speed", str(settings.sim_speed),
            "--start", settings.sim_start,
        ]  # fmt: skip
        if settings.sim_data_dir is not None:
            sim_args += ["--data-dir", str(settings.sim_data_dir)]
        if port_open("127.0.0.1", settings.sim_port):
            raise click.ClickException(f"port {settings.sim_port} is busy: stop what uses it or set SIM_PORT")
        click.echo("starting the Kalshi simulator ...")
        sim = stack.enter_context(child_process(sim_args, logs / "simulator.log"))
        _wait_http(f"http://127.0.0.1:{settings.sim_port}/sim/v1/health", sim, 60, "simulator", logs / "simulator.log")

        asyncio.run(_up_main(settings, ui_port))
        click.echo("worker stopped; stopping the simulator and the Temporal dev server ...")
    click.echo("stack stopped. The workflow stays open in .state/temporal.db: `make run` resumes it.")


async def _up_main(settings: Settings, ui_port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker_task = asyncio.create_task(run_worker(settings, stop))
    client = await connect(settings.temporal_address, settings.temporal_namespace)
    await ensure_search_attributes(client, settings.temporal_namespace)
    handle = await start_trader(client, settings)
    wid = handle.id
    click.echo("")
    click.echo(f"Kalshi trader is up: workflow {wid} on task queue {settings.task_queue}")
    click.echo(f"  Web UI:      http://localhost:{ui_port}/namespaces/{settings.temporal_namespace}/workflows/{wid}")
    click.echo(f"  simulator:   http://127.0.0.1:{settings.sim_port}/trade-api/v2 (control: /sim/v1)")
    click.echo(f"  metrics:     http://127.0.0.1:{settings.metrics_port}/metrics")
    click.echo(f"  logs:        {settings.state_dir / 'logs'}")
    click.echo(operator_commands(wid, settings.temporal_address))
    click.echo("Ctrl-C stops the stack; `make run` again resumes the same workflow.")
    await worker_task


def run(argv: Sequence[str]) -> int:
    """Run one ``kalshi-trader`` command in this process; return the exit status a shell would see.

    For callers that drive the CLI as a function (tests, scripts): ``run(["export", "--db", url, ...])``.
    Output goes to stdout/stderr exactly as from the console script.
    """
    try:
        cli.main(args=list(argv), prog_name="kalshi-trader", standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.Abort:
        return 1
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 1
    except SettingsError as err:
        click.echo(f"kalshi-trader: invalid settings: {err}", err=True)
        return 2
    return 0


def main() -> None:
    """Entry point of the ``kalshi-trader`` console script."""
    try:
        cli.main(prog_name="kalshi-trader")
    except SettingsError as err:
        click.echo(f"kalshi-trader: invalid settings: {err}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
