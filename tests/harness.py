"""End-to-end harness: the real worker (in-process) on a real dev server, trading the simulator over HTTP.

Nothing we own is faked: the workflow, activities, Kalshi client and simulator all run for real; the
test only arranges exchange state through the simulator's control API and watches the trader through
its ``status`` query and the exchange's account view.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WorkflowHandle

from models.market_data import IngestSettings, MarketDataInput
from models.trader import (
    CloseSettings,
    EpochSettings,
    ExitRules,
    RiskLimits,
    TraderConfig,
    TraderInput,
    TraderStatus,
)
from recording.metrics import AppMetrics
from tests.conftest import Account, eventually
from tests.worker_process import WorkerProcess, worker_env
from workers.worker import Workers, build_workers
from workflows.names import QUERY_STATUS
from workflows.trader import TraderWorkflow

SERIES = "KXGOLD15M"


def fast_config(**overrides: Any) -> TraderConfig:
    """A trader config for tests: 1 s cycles, no entries unless asked, quick closes."""
    base: dict[str, Any] = {
        "recalibration_interval_s": 1,
        "epoch": EpochSettings(policy="hold", poll_interval_ms=200, heartbeat_timeout_s=2, use_websocket=False),
        "close": CloseSettings(max_attempts=3, retry_delay_s=0.2),
        "exits": ExitRules(max_hold_time_s=3600, market_closing_window_s=120, cash_reserve_cents=0),
        "risk": RiskLimits(),
        "activity_timeout_s": 10,
        "degraded_backoff_s": [1, 1, 2],
    }
    base.update(overrides)
    return TraderConfig(**base)


def trading_risk(max_position: int | Decimal, throttle_ms: int = 0) -> RiskLimits:
    """Risk limits that let orders flow: 1-contract orders, any spread, any entry price below $0.99,
    ``max_position`` contracts per market, ``throttle_ms`` between two orders in one market."""
    return RiskLimits(
        order_size_contracts=Decimal(1),
        max_position_contracts=Decimal(max_position),
        max_spread_dollars=Decimal("0.99"),
        per_market_throttle_ms=throttle_ms,
        max_entry_price_dollars=Decimal("0.99"),
    )


def trading_config(**overrides: Any) -> TraderConfig:
    """:func:`fast_config` with the REST polling epoch acting on every update (threshold 0), 1-contract
    orders, no throttle and limits wide enough that orders keep flowing."""
    return fast_config(
        **overrides,
        epoch=EpochSettings(
            policy="imbalance",
            imbalance_threshold=Decimal(0),
            poll_interval_ms=200,
            heartbeat_timeout_s=2,
            use_websocket=False,
        ),
        risk=trading_risk(1000),
        order_group_contracts_limit=100_000,
    )


def fast_market_data(
    *, timeout_s: float = 4, silence_timeout_s: float | None = 10, **overrides: Any
) -> MarketDataInput:
    """``MarketDataWorkflow`` input for tests: the series, discovery every 2 s, heartbeats every 0.5 s.

    Args:
        timeout_s: the ingestion activity's heartbeat and schedule-to-start timeouts, seconds.
        silence_timeout_s: reconnect after this much WebSocket silence (None: the default).
        overrides: more :class:`MarketDataInput` fields (``restart_backoff_s``, ``healthy_after_s``...).
    """
    quiet = {} if silence_timeout_s is None else {"silence_timeout_s": silence_timeout_s}
    return MarketDataInput(
        series_tickers=[SERIES],
        settings=IngestSettings(discovery_interval_s=2, heartbeat_interval_s=0.5, **quiet),
        heartbeat_timeout_s=timeout_s,
        schedule_to_start_timeout_s=timeout_s,
        **overrides,
    )


def ws_trading_config(market_data_workflow_id: str, **overrides: Any) -> TraderConfig:
    """:func:`fast_config` trading from the WebSocket actor loop on every update (threshold 0), 1-contract
    orders capped at 3 per market with a 250 ms throttle (so position-limit and throttle rejections happen),
    3 s cycles, and the market-data workflow ``market_data_workflow_id`` with :func:`fast_market_data`."""
    base: dict[str, Any] = {
        "recalibration_interval_s": 3,
        "epoch": EpochSettings(
            policy="imbalance", imbalance_threshold=Decimal(0), heartbeat_timeout_s=2, use_websocket=True
        ),
        "risk": trading_risk(3, throttle_ms=250),
        "order_group_contracts_limit": 100_000,
        "market_data_workflow_id": market_data_workflow_id,
        "market_data": fast_market_data(restart_backoff_s=[0.5, 1]),
    }
    base.update(overrides)
    return fast_config(**base)


@dataclass
class Harness:
    """One test's trader: a worker on a unique task queue, its exchange account and the control API."""

    client: Client
    account: Account
    control: httpx.AsyncClient
    task_queue: str
    metrics: AppMetrics
    ws_url: str | None = None
    recorder: Any | None = None
    model_registry: Path | None = None
    workers: Workers | None = None
    _worker_task: asyncio.Task[None] | None = None
    handles: list[WorkflowHandle[Any, Any]] = field(default_factory=list)

    # ---------------------------------------------------------------- worker

    async def start_worker(self) -> None:
        """Start (or restart) the in-process workers: the shared queue and this process's market-data queue."""
        self.workers = build_workers(
            self.client,
            self.account.client,
            self.metrics,
            self.task_queue,
            ws_url=self.ws_url,
            signer=self.account.signer,
            recorder=self.recorder,
            model_registry=self.model_registry,
        )
        self._worker_task = asyncio.create_task(self.workers.run())

    async def stop_worker(self) -> None:
        """Shut the in-process workers down gracefully."""
        if self.workers is not None and self._worker_task is not None:
            await self.workers.shutdown()
            await self._worker_task
        self.workers = None
        self._worker_task = None

    # ---------------------------------------------------------------- trader

    def worker_process(
        self,
        log: Path,
        *,
        ws_url: str | None = None,
        database_url: str | None = "off",
        temporal_address: str | None = None,
    ) -> WorkerProcess:
        """A worker subprocess on this harness's task queue and account (not started yet).

        Args:
            log: its output file.
            ws_url: the WebSocket URL (None: the worker's default).
            database_url: ``DATABASE_URL`` (``"off"``: no recording; None: the worker's default).
            temporal_address: the Temporal frontend (default: the harness client's).
        """
        env = worker_env(
            temporal_address=temporal_address or self.client.service_client.config.target_host,
            task_queue=self.task_queue,
            rest_url=self.account.client.base_url,
            key_id=self.account.key_id,
            key_path=self.account.key_path,
            ws_url=ws_url,
            database_url=database_url,
        )
        return WorkerProcess(env, log)

    async def start(self, config: TraderConfig, workflow_id: str | None = None) -> WorkflowHandle[Any, Any]:
        """Start a TraderWorkflow with ``config`` on this harness's task queue."""
        handle = await self.client.start_workflow(
            TraderWorkflow.run,
            TraderInput(config=config),
            id=workflow_id or f"kalshi-trader-test-{uuid.uuid4().hex[:8]}",
            task_queue=self.task_queue,
        )
        self.handles.append(handle)
        return handle

    async def status(self, handle: WorkflowHandle[Any, Any]) -> TraderStatus:
        """The ``status`` query's answer."""
        return await handle.query(QUERY_STATUS, result_type=TraderStatus)

    async def wait_status(
        self,
        handle: WorkflowHandle[Any, Any],
        predicate: Callable[[TraderStatus], bool],
        what: str,
        timeout_s: float = 60.0,
    ) -> TraderStatus:
        """Query ``status`` until ``predicate`` holds (fails with ``what`` after ``timeout_s``)."""

        async def probe() -> TraderStatus | None:
            st = await self.status(handle)
            return st if predicate(st) else None

        return await eventually(probe, timeout_s=timeout_s, what=what)

    # ---------------------------------------------------------------- exchange (control API)

    async def exchange_account(self) -> dict[str, Any]:
        """The simulator's full view of this account (cash, positions, orders, fills)."""
        r = await self.control.get(f"/accounts/{self.account.key_id}")
        r.raise_for_status()
        return dict(r.json())

    async def exchange_position(self, ticker: str) -> Decimal:
        """Signed position (contracts) the exchange holds for this account in ``ticker``."""
        positions = await self.account.client.get_positions(ticker=ticker)
        return next((p.position_fp for p in positions if p.ticker == ticker), Decimal(0))

    async def arrange_position(self, ticker: str, position: str, exposure_dollars: Decimal | str) -> None:
        """Give this account a position as if bought earlier for ``exposure_dollars`` in total."""
        r = await self.control.put(
            f"/accounts/{self.account.key_id}/positions/{ticker}",
            json={"position_fp": position, "market_exposure_dollars": str(exposure_dollars)},
        )
        r.raise_for_status()

    async def set_balance(self, cents: int) -> None:
        """Set this account's cash (cents)."""
        r = await self.control.put(f"/accounts/{self.account.key_id}/balance", json={"balance_cents": cents})
        r.raise_for_status()

    async def clock(self, **body: Any) -> dict[str, Any]:
        """``PUT /sim/v1/clock`` (``paused``, ``speed``, ``tape_time``)."""
        r = await self.control.put("/clock", json=body)
        r.raise_for_status()
        return dict(r.json())

    async def advance(self, seconds: float) -> None:
        """Advance the (paused) exchange clock, applying every due tape frame."""
        r = await self.control.post("/clock/advance", json={"seconds": seconds})
        r.raise_for_status()

    async def faults(self, **body: Any) -> None:
        """``PUT /sim/v1/faults``."""
        r = await self.control.put("/faults", json=body)
        r.raise_for_status()

    async def timed_faults(self, *faults: dict[str, Any]) -> list[dict[str, Any]]:
        """``POST /sim/v1/faults/timed``: schedule timed faults (wall-clock offsets); their read-back (``id``...)."""
        r = await self.control.post("/faults/timed", json={"faults": list(faults)})
        r.raise_for_status()
        return list(r.json()["faults"])

    async def timed_fault(self, fault_id: str) -> dict[str, Any]:
        """One timed fault's read-back (``state``, ``matched``, ``affected``, ``started_at``...) by id."""
        r = await self.control.get("/faults/timed")
        r.raise_for_status()
        data = r.json()
        return next(f for group in ("active", "scheduled", "ended") for f in data[group] if f["id"] == fault_id)

    async def play_scenario(self, name: str, time_scale: float) -> list[dict[str, Any]]:
        """``POST /sim/v1/faults/scenario``: play a built-in scenario (``simulator/scenarios/<name>.yaml``) now,
        its offsets and durations multiplied by ``time_scale``; the scheduled faults' read-back."""
        from simulator.scenario import read_document

        r = await self.control.post(
            "/faults/scenario", json={"scenario": read_document(name), "time_scale": time_scale}
        )
        r.raise_for_status()
        return list(r.json()["faults"])

    async def clear_timed_faults(self, *ids: str) -> None:
        """End timed faults now (every one when no id is given)."""
        r = await self.control.delete("/faults/timed", params={"ids": ",".join(ids)} if ids else None)
        r.raise_for_status()

    async def take_profit_close_held(self) -> tuple[str, dict[str, Any]]:
        """A position whose take-profit close starts at the first calibration, its first quote held 2 s.

        Freezes the exchange on a quoted market, gives the account 10 YES bought at two thirds of the bid (+50 %),
        and holds the close's first book read (``GET /markets/{ticker}/orderbook``, which the calibration does not
        use) for 2 s: the window in which a test pauses trading "in the middle of the close".

        Returns:
            (ticker, the hold fault's read-back).
        """
        ticker, yes_bid, _ = await self.freeze_on_quoted_market()
        await self.arrange_position(ticker, "10", (yes_bid * 10 / Decimal("1.5")).quantize(Decimal("0.01")))
        [hold] = await self.timed_faults(
            {"kind": "hold", "path": f"/markets/{ticker}/orderbook", "method": "GET", "delay": "2s", "count": 1}
        )
        return ticker, hold

    async def freeze_on_quoted_market(self, min_size: Decimal = Decimal(20)) -> tuple[str, Decimal, Decimal]:
        """Pause the exchange clock on an open market quoted on both sides with depth.

        Returns:
            (ticker, best YES bid, best NO bid) in dollars.
        """
        await self.clock(paused=True)
        for _ in range(120):
            markets = await self.account.client.get_markets(series_ticker=SERIES, status="open")
            for m in markets:
                book = await self.account.client.get_orderbook(m.ticker)
                yes, no = book.best_yes_bid, book.best_no_bid
                if yes is None or no is None:
                    continue
                yes_size = sum((lvl[1] for lvl in book.yes_bids if lvl[0] >= yes - Decimal("0.03")), Decimal(0))
                no_size = sum((lvl[1] for lvl in book.no_bids if lvl[0] >= no - Decimal("0.03")), Decimal(0))
                seconds_left = (m.close_time - self.account.client.exchange_now()).total_seconds()
                if yes_size >= min_size and no_size >= min_size and seconds_left > 300 and yes >= Decimal("0.10"):
                    return m.ticker, yes, no
            await self.advance(10)
        raise AssertionError("no quoted open market found in the tape")
