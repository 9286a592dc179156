"""Pieces of the local stack shared by ``kalshi-trader up`` and ``kalshi-trader backtest``.

The simulator account's key pair, child processes that never outlive the command, and starting ``TraderWorkflow``
idempotently.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy

from models.trader import TraderConfig, TraderInput
from workers.settings import SIM_KEY_ID, Settings
from workflows.names import SA_ENV, SA_MODE, SA_STATE
from workflows.trader import TraderWorkflow

__all__ = ["child_process", "ensure_sim_key", "start_trader"]


async def start_trader(
    client: Client, settings: Settings, config: TraderConfig | None = None
) -> WorkflowHandle[Any, Any]:
    """Start ``TraderWorkflow`` idempotently: attach to the running one with the same id, else start it.

    The input holds only :class:`TraderConfig` (no secrets). Search attributes ``KalshiEnv``,
    ``KalshiTraderState`` and ``KalshiTraderMode`` are set at start; a static summary names the trader
    in the Web UI.
    """
    config = config or settings.trader_config()
    env = settings.kalshi_env
    return await client.start_workflow(
        TraderWorkflow.run,
        TraderInput(config=config),
        id=settings.trader_workflow_id,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(SA_ENV, env),
                SearchAttributePair(SA_STATE, "initializing"),
                SearchAttributePair(SA_MODE, "unknown"),
            ]
        ),
        static_summary=f"Kalshi trader ({env}): series {', '.join(config.series_tickers)}",
        static_details=(
            f"Recalibrates every {config.recalibration_interval_s:g} s. Exits: take profit "
            f"{config.exits.take_profit_pct * 100:.0f}%, stop loss {config.exits.stop_loss_pct * 100:.0f}%, "
            f"max hold {config.exits.max_hold_time_s:g} s, closing window {config.exits.market_closing_window_s:g} s, "
            f"cash reserve {config.exits.cash_reserve_cents} cents."
        ),
    )


def ensure_sim_key(settings: Settings) -> Path:
    """Generate the local simulator account's RSA key pair under ``.state/keys`` if missing.

    Writes ``<id>.pem`` (private, mode 0600) and ``public/<id>.pub.pem`` (the simulator loads every
    public key in that folder). Returns the private key path.
    """
    from kalshi.signer import generate_key_pair

    private = settings.sim_key_path
    public = private.parent / "public" / f"{SIM_KEY_ID}.pub.pem"
    if private.exists() and public.exists():
        return private
    private.parent.mkdir(parents=True, exist_ok=True)
    public.parent.mkdir(parents=True, exist_ok=True)
    priv_pem, pub_pem = generate_key_pair()
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(priv_pem)
    public.write_bytes(pub_pem)
    return private


@contextlib.contextmanager
def child_process(
    args: list[str],
    log_file: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stop_timeout_s: float = 15.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``args`` as a child process that never outlives the ``with`` block.

    It runs in its own session (a terminal's Ctrl-C reaches only the parent), its output appended to ``log_file``;
    on exit (normal, error or interrupt) it gets SIGINT, then SIGKILL after ``stop_timeout_s``.

    Raises:
        OSError: the program cannot be started or the log file opened.

    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=stop_timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
