"""Chaos harness: the trader's real processes, killed with SIGKILL, and an audit of what reached the exchange.

Used by ``tests/workflows/test_chaos.py`` and ``bench/bench_chaos.py``. Nothing we own is faked: the
worker runs as ``python -m workers.cli worker`` subprocesses (:mod:`tests.worker_process`; so ``kill -9`` is a
real process death),
the Temporal dev server is either the test session's or our own ``temporal server start-dev`` child with a
SQLite file (so it can be killed and restarted on the same database), and the simulator follows Kalshi's
duplicate rule (409 only while an open order holds the id). The audit reads the exchange's account
view through the simulator's control API: every order with its client_order_id, and every fill with the
position it left (``post_position_fp``), from which the largest position ever held is reconstructed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client

from models.trader import CloseSettings, EpochSettings, ExitRules, RiskLimits, TraderConfig
from simulator.server import SimulatorServer
from tests.harness import fast_market_data
from workers.devserver import DevServer
from workers.metrics import free_port

SERIES = "KXGOLD15M"


def chaos_config(
    *,
    recalibration_s: float = 3,
    heartbeat_timeout_s: float = 2,
    max_position: Decimal = Decimal(3),
    use_websocket: bool = False,
    market_data_workflow_id: str | None = None,
) -> TraderConfig:
    """A trader that trades all the time: threshold-0 imbalance policy, 1-contract IOC orders, a tight
    position limit (so an overlap of two epochs would show), positions closed after 2 s (the close path
    runs every cycle too)."""
    md = None
    if use_websocket:
        md = fast_market_data(restart_backoff_s=[0.5, 1, 2, 5], healthy_after_s=10)
    return TraderConfig(
        series_tickers=[SERIES],
        recalibration_interval_s=recalibration_s,
        epoch=EpochSettings(
            policy="imbalance",
            imbalance_threshold=Decimal(0),
            poll_interval_ms=250,
            heartbeat_timeout_s=heartbeat_timeout_s,
            use_websocket=use_websocket,
        ),
        risk=RiskLimits(
            order_size_contracts=Decimal(1),
            max_position_contracts=max_position,
            max_spread_dollars=Decimal("0.99"),
            per_market_throttle_ms=0,
            max_entry_price_dollars=Decimal("0.99"),
        ),
        exits=ExitRules(max_hold_time_s=2, market_closing_window_s=120, cash_reserve_cents=0),
        close=CloseSettings(max_attempts=3, retry_delay_s=0.2),
        activity_timeout_s=5,
        degraded_backoff_s=[1, 1, 2],
        order_group_contracts_limit=100_000,
        no_viable_retry_s=1,
        market_data=md,
        market_data_workflow_id=market_data_workflow_id,
    )


class OwnDevServer:
    """Our own ``temporal server start-dev`` with a SQLite file, so it can be killed and restarted on it."""

    def __init__(self, cli: Path, state_dir: Path) -> None:
        self.port = free_port()
        self.server = DevServer(cli, state_dir / "temporal.db", self.port, None, state_dir / "temporal.log")

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``."""
        return self.server.address

    async def start(self) -> float:
        """Start (or restart on the same database) and wait for the frontend port; returns monotonic time."""
        await self.server.start()
        return time.monotonic()

    def kill9(self) -> None:
        """SIGKILL the server process (its SQLite file stays as the crash left it)."""
        proc = self.server.proc
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # start_new_session=True: the group is the server's own
            proc.wait(timeout=10)

    def stop(self) -> None:
        """Graceful stop (SIGTERM)."""
        self.server.stop()


def account_orders(sim: SimulatorServer, key_id: str) -> list[Any]:
    """The exchange's orders of ``key_id`` in placement order (in-process read: cheap to poll)."""
    return list(sim.ctx.exchange.accounts[key_id].orders.values())


async def wait_for_new_order(
    sim: SimulatorServer, key_id: str, after: int, *, prefix: str = "epoch:", timeout_s: float = 90
) -> float | None:
    """Wait until an order with ``prefix`` appears after the first ``after`` orders; its monotonic time.

    Returns None after ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        orders = account_orders(sim, key_id)
        if any(o.client_order_id.startswith(prefix) for o in orders[after:]):
            return time.monotonic()
        await asyncio.sleep(0.05)
    return None


@dataclass
class Audit:
    """What the exchange saw (one simulator account).

    Attributes:
        orders: orders placed (every accepted order, epoch entries and closes).
        epoch_orders, close_orders: by origin (client_order_id prefix).
        duplicate_ids: client_order_ids carried by more than one order (an intent placed twice).
        max_position: the largest |position| ever held per market, from every fill's post position.
        positions: the final signed position per market (contracts).
    """

    orders: int = 0
    epoch_orders: int = 0
    close_orders: int = 0
    duplicate_ids: list[str] = field(default_factory=list)
    max_position: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[str, Decimal] = field(default_factory=dict)

    @property
    def worst_position(self) -> Decimal:
        """The largest |position| held in any market (0 when nothing filled)."""
        return max(self.max_position.values(), default=Decimal(0))


def audit_account(account: dict[str, Any]) -> Audit:
    """Audit the control API's account view (``GET /sim/v1/accounts/{key_id}``)."""
    orders = account["orders"]
    ids = Counter(o["client_order_id"] for o in orders if o["client_order_id"])
    audit = Audit(
        orders=len(orders),
        epoch_orders=sum(1 for o in orders if o["client_order_id"].startswith("epoch:")),
        close_orders=sum(1 for o in orders if o["client_order_id"].startswith("close_position:")),
        duplicate_ids=sorted(cid for cid, n in ids.items() if n > 1),
    )
    for fill in account["fills"]:
        after = abs(Decimal(fill["post_position_fp"]))
        ticker = fill["ticker"]
        audit.max_position[ticker] = max(audit.max_position.get(ticker, Decimal(0)), after)
    for pos in account.get("positions", []):
        value = Decimal(pos.get("position_fp", "0"))
        if value != 0:
            audit.positions[pos["ticker"]] = value
    return audit


BENIGN_TASK_FAILURES = {
    # A signal arrived while the worker completed a closing command (continue-as-new): the server refuses
    # the completion and hands out a new task with the signal (temporal.md §1).
    WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
    # `temporal workflow reset` records one on the new run: the marker of the reset itself ...
    WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW,
    # ... and the server force-closes the workflow task that was in flight on the run being reset.
    WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND,
}
"""WorkflowTaskFailed causes that are server bookkeeping, not a failure of the workflow code."""


@dataclass
class TaskFailures:
    """WorkflowTaskFailed events in the histories of a workflow id (every run and close child)."""

    total: int = 0
    benign: int = 0
    causes: Counter[str] = field(default_factory=Counter)

    @property
    def harmful(self) -> int:
        """Failures other than the benign race: a bug in workflow code (or nondeterminism)."""
        return self.total - self.benign


async def workflow_task_failures(client: Client, workflow_id: str) -> TaskFailures:
    """Count WorkflowTaskFailed events over every run of ``workflow_id`` and its close children."""
    out = TaskFailures()
    query = f"WorkflowId = '{workflow_id}' OR WorkflowId STARTS_WITH '{workflow_id}/close/'"
    async for wf in client.list_workflows(query):
        history = await client.get_workflow_handle(wf.id, run_id=wf.run_id).fetch_history()
        for event in history.events:
            if event.event_type != EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                continue
            cause = event.workflow_task_failed_event_attributes.cause
            out.total += 1
            out.causes[WorkflowTaskFailedCause.Name(cause)] += 1
            if cause in BENIGN_TASK_FAILURES:
                out.benign += 1
    return out
