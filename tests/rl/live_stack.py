"""A one-market live stack for the learned-policy tests: the simulator replaying one recorded market, an account
funded like the training environment, a worker (in-process, real Temporal dev server) with a model registry.

The simulator replays a subset of the shared tapes (:func:`rl.tapes.subset_tape_dir`: symlinks, nothing copied)
on its recorded times (``time_shift=False``: served times equal tape times, so the live loop's exchange clock and
the environment's agree to the millisecond), paused until the test moves the clock.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from kalshi.rest import KalshiRestClient
from models.market_data import IngestSettings, MarketDataInput
from models.trader import CloseSettings, EpochSettings, ExitRules, RiskLimits, TraderConfig
from recording.metrics import AppMetrics
from rl.tapes import subset_tape_dir
from simulator.server import SimulatorConfig, SimulatorServer
from simulator.tape import replicate_market
from tests.conftest import DATA_DIR, Account, register_account
from tests.harness import Harness
from trading.epoch import EpochCore
from trading.fencing import EpochFence


@dataclass
class LiveStack:
    """The running stack: the simulator, its control API, the harness (worker, account) and the tape folder."""

    sim: SimulatorServer
    control: httpx.AsyncClient
    harness: Harness
    tape_dir: Path

    async def tape_ms(self) -> int:
        """The simulator's tape clock, Unix ms."""
        r = await self.control.get("/clock")
        r.raise_for_status()
        return int(r.json()["tape_time_ms"])

    async def advance_to(self, tape_ms: int) -> None:
        """Move the paused clock forward to ``tape_ms`` (every frame due is applied before the call returns)."""
        now = await self.tape_ms()
        if tape_ms > now:
            seconds = Decimal(tape_ms - now) / 1000
            r = await self.control.post("/clock/advance", json={"seconds": str(seconds)})
            r.raise_for_status()

    def epoch(self) -> EpochCore | None:
        """The epoch placing orders for the account in the worker right now (the fence's holder)."""
        client = self.harness.account.client
        return EpochFence.for_account(f"{client.base_url}|{client.key_id or '-'}").holder


def learned_config(policy: str, workflow_id: str, **overrides: Any) -> TraderConfig:
    """A trader that trades ``policy`` from the actor loop with the training environment's limits and cash reserve,
    and exit rules that do not fire (the environment has none); one long epoch (the clock is the test's)."""
    base: dict[str, Any] = {
        "recalibration_interval_s": 600,
        "no_viable_retry_s": 0.5,
        "epoch": EpochSettings(
            policy=policy,
            heartbeat_timeout_s=4,
            use_websocket=True,
            max_book_age_ms=3_600_000,
            max_connection_idle_ms=3_600_000,
        ),
        "risk": RiskLimits(),
        "exits": ExitRules(take_profit_pct=Decimal(1000), stop_loss_pct=Decimal(1), max_hold_time_s=10**9),
        "close": CloseSettings(max_attempts=2, retry_delay_s=0.2),
        "order_group_contracts_limit": 1_000_000,
        "activity_timeout_s": 10,
        "degraded_backoff_s": [0.5, 1],
        "market_data_workflow_id": f"{workflow_id}-md",
        "market_data": MarketDataInput(
            series_tickers=["KXGOLD15M"],
            settings=IngestSettings(discovery_interval_s=1, heartbeat_interval_s=0.5, record=False),
            heartbeat_timeout_s=4,
            schedule_to_start_timeout_s=4,
        ),
    }
    base.update(overrides)
    return TraderConfig(**base)


@contextlib.asynccontextmanager
async def live_stack(
    temporal_env: WorkflowEnvironment,
    tmp: Path,
    markets: list[str],
    *,
    start: str,
    registry: Path | None,
    balance_cents: int,
    paused: bool = True,
    copies: int = 0,
) -> AsyncIterator[LiveStack]:
    """Start the simulator on ``markets`` at tape time ``start``, an account with ``balance_cents`` and a worker.

    ``copies``: instead, that many replicas of ``markets[0]`` open at once (:func:`simulator.tape.replicate_market`).
    """
    tape = tmp / "tape"
    if copies:
        replicate_market(DATA_DIR, markets[0], copies, tape)
    else:
        subset_tape_dir(DATA_DIR, markets, tape)
    config = SimulatorConfig(port=0, data_dir=tape, start=start, paused=paused, time_shift=False, rate_limit_tier="off")
    async with (
        SimulatorServer(config) as sim,
        httpx.AsyncClient(base_url=sim.base_url + "/sim/v1", timeout=30) as control,
    ):
        key_id, key_path, signer = await register_account(sim, tmp)
        (await control.put(f"/accounts/{key_id}/balance", json={"balance_cents": balance_cents})).raise_for_status()
        async with KalshiRestClient(sim.rest_url, signer) as client:
            account = Account(key_id=key_id, key_path=key_path, signer=signer, client=client)
            harness = Harness(
                temporal_env.client,
                account,
                control,
                f"kalshi-trader-rl-{uuid.uuid4().hex[:8]}",
                AppMetrics(),
                ws_url=sim.ws_url,
                model_registry=registry,
            )
            await harness.start_worker()
            try:
                yield LiveStack(sim, control, harness, tape)
            finally:
                for handle in harness.handles:
                    with contextlib.suppress(Exception):
                        await handle.terminate("test finished")
                await harness.stop_worker()
