"""WebSocket market data through Temporal, end to end.

* The actor loop (on the worker-specific queue that holds the books) opens positions from live
  order-book updates of the replayed tape; the recalibration loop closes them.
* Killing the worker process that holds ingestion moves it to another worker, and books recover there.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from models.market_data import MarketDataStatus
from models.trader import EpochSettings, ExitRules, TraderStatus
from tests.conftest import eventually
from tests.harness import Harness, ws_trading_config
from workflows.names import QUERY_STATUS


def ws_config(**overrides):
    return ws_trading_config(f"kalshi-md-test-{uuid.uuid4().hex[:8]}", **overrides)


async def test_actor_loop_trades_live_updates_and_the_recalibration_loop_closes(harness: Harness) -> None:
    await harness.freeze_on_quoted_market()
    await harness.clock(paused=False, speed="1")  # live deltas from the tape
    config = ws_config(exits=ExitRules(max_hold_time_s=2, market_closing_window_s=120, cash_reserve_cents=0))
    handle = await harness.start(config)
    harness.handles.append(harness.client.get_workflow_handle(config.market_data_workflow_id))

    st = await harness.wait_status(
        handle,
        lambda s: s.last_epoch is not None and s.last_epoch.driver == "actor" and s.last_epoch.orders_placed > 0,
        "the actor loop placing orders from live updates",
        timeout_s=90,
    )
    md = st.last_calibration.market_data
    assert md is not None and md.connected and md.queue == harness.workers.hub.queue
    assert {c.name: c.healthy for c in st.last_calibration.components}["orderbook_ws"]
    epoch = st.last_epoch
    assert epoch.updates_seen > 0 and epoch.latency_ms_p99 is not None
    st = await harness.wait_status(
        handle,
        lambda s: any(c.reason == "max_hold_time" and c.status == "closed" for c in s.recent_closes),
        "the recalibration loop closing a position the actor opened",
        timeout_s=90,
    )
    acct = await harness.exchange_account()
    assert any(o["client_order_id"].startswith("epoch:") for o in acct["orders"])
    assert any(o["client_order_id"].startswith("close_position:max_hold_time:") for o in acct["orders"])


def _fell_back_to_rest(history) -> bool:
    """Whether a failed ``run_actor_epoch`` was followed by ``run_trading_epoch`` in the same cycle."""
    kinds: dict[int, str] = {}
    sequence: list[tuple[str, str]] = []
    for e in history.events:
        if e.HasField("activity_task_scheduled_event_attributes"):
            kinds[e.event_id] = e.activity_task_scheduled_event_attributes.activity_type.name
            sequence.append(("scheduled", kinds[e.event_id]))
        for field in ("activity_task_timed_out_event_attributes", "activity_task_failed_event_attributes"):
            if e.HasField(field):
                sequence.append(("failed", kinds[getattr(e, field).scheduled_event_id]))
    for i, (what, kind) in enumerate(sequence):
        if (what, kind) == ("failed", "run_actor_epoch"):
            following = [k for w, k in sequence[i + 1 :] if w == "scheduled"]
            if following and following[0] == "run_trading_epoch":
                return True
    return False


def _queue_of(log: Path) -> str | None:
    m = re.search(r"worker polling task queues \S+ and (\S+) on", log.read_text(errors="replace"))
    return m.group(1) if m else None


async def test_killing_the_ingestion_worker_moves_ingestion_and_books_recover(
    harness: Harness, sim, tmp_path: Path
) -> None:
    await harness.stop_worker()  # two separate worker processes instead
    await harness.freeze_on_quoted_market()
    await harness.clock(paused=False, speed="1")
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    procs = [harness.worker_process(log, ws_url=sim.ws_url, database_url=None) for log in logs]
    for proc in procs:
        proc.start()
    try:
        queues = await eventually(lambda: all(_queue_of(log) for log in logs), timeout_s=60, what="both workers up")
        assert queues
        by_queue = {_queue_of(log): proc for log, proc in zip(logs, procs, strict=True)}
        # 10 s cycles: the kill lands inside an actor epoch, which then falls back to REST polling.
        config = ws_config(
            recalibration_interval_s=10,
            epoch=EpochSettings(policy="hold", heartbeat_timeout_s=2, use_websocket=True),
        )
        handle = await harness.start(config)
        md_handle = harness.client.get_workflow_handle(config.market_data_workflow_id)
        harness.handles.append(md_handle)

        def books_ok(s: TraderStatus) -> bool:
            md = s.last_calibration.market_data if s.last_calibration else None
            return md is not None and md.connected and md.books_trusted > 0 and md.queue in by_queue

        st = await harness.wait_status(
            handle, lambda s: books_ok(s) and s.state == "trading", "an actor epoch on the first worker", timeout_s=90
        )
        first = st.last_calibration.market_data.queue
        by_queue[first].kill9()

        st = await harness.wait_status(
            handle,
            lambda s: books_ok(s) and s.last_calibration.market_data.queue != first,
            "ingestion moved and books recovered on the other worker",
            timeout_s=120,
        )
        second = st.last_calibration.market_data.queue
        assert second != first and second in by_queue
        md_status = await md_handle.query(QUERY_STATUS, result_type=MarketDataStatus)
        assert md_status.queue == second and md_status.running
        assert any(m.from_queue == first and m.to_queue == second for m in md_status.moves)
        assert st.last_calibration.market_data.markets, "the new worker subscribed the series' markets"
        assert _fell_back_to_rest(await handle.fetch_history()), "the failed actor epoch fell back to REST polling"
    finally:
        for p in procs:
            p.stop(timeout_s=30)


async def test_the_worker_records_what_it_sees_and_does(harness: Harness, tmp_path: Path) -> None:
    from sqlalchemy import create_engine, func, select

    from models.db import BookDelta, CalibrationRecord, EpochRecord, OrderRecord, StatusRecord, TraderFill, table_of
    from recording.recorder import Recorder

    url = f"sqlite:///{tmp_path / 'recording.db'}"
    await harness.stop_worker()
    harness.recorder = Recorder(url, environment="sim", label="test").start()
    await harness.start_worker()
    await harness.freeze_on_quoted_market()
    await harness.clock(paused=False, speed="1")
    config = ws_config()
    handle = await harness.start(config)
    harness.handles.append(harness.client.get_workflow_handle(config.market_data_workflow_id))
    await harness.wait_status(
        handle,
        lambda s: s.cycle >= 3 and s.last_epoch is not None and s.last_epoch.orders_placed > 0,
        "three cycles with actor orders",
        timeout_s=90,
    )
    await harness.stop_worker()
    assert await harness.recorder.aclose()
    engine = create_engine(url)
    with engine.connect() as db:
        count = lambda model: db.execute(select(func.count()).select_from(model)).scalar_one()  # noqa: E731
        assert count(BookDelta) > 0, "order-book deltas from the WebSocket"
        assert count(CalibrationRecord) >= 2 and count(StatusRecord) >= 3 and count(EpochRecord) >= 2
        origins = {r for (r,) in db.execute(select(table_of(OrderRecord).c.origin))}
        assert "actor" in origins
        assert count(TraderFill) > 0, "fills from the private fill channel"
    stats = harness.recorder.stats()
    assert stats.dropped == 0 and stats.written == stats.enqueued
