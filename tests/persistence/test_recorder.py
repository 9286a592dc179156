"""The write-behind recorder on a real database: backpressure, outages, bad input, the trader's records.

Nothing here sleeps to wait: tests await the recorder's own flush/wait APIs, and assert outcomes (rows in the
database, counters), never durations.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlmodel import Session

from kalshi import models as km
from kalshi.models.ws import parse_frame
from models import trader as tm
from models.db import (
    BookDelta,
    BookSnapshot,
    CalibrationRecord,
    CloseRecord,
    EpochRecord,
    MarketMetadata,
    MarketTrade,
    OrderRecord,
    PositionRecord,
    RecordingGap,
    RecordingSession,
    StatusRecord,
    TraderFill,
    WsFrame,
    to_cc,
    to_lots,
    to_microdollars,
)
from recording import database as p
from recording.recorder import Recorder, RecorderConfig
from recording.tape import export_ndjson, session_frame_counts
from tests.persistence.conftest import Postgres, requires_tape, split_line, tape_lines
from tests.persistence.pgcluster import create_database, drop_database

TICKER = "KXGOLD15M-26AUG102130-30"
FAST = RecorderConfig(flush_interval_s=0.01, retry_initial_s=0.01, retry_max_s=0.05, sqlite_busy_timeout_ms=20)


def _tape_frames(n: int) -> list[tuple[int, bytes]]:
    return [split_line(line) for _name, line in tape_lines(TICKER)[:n]]


def _synthetic_frames(n: int, ticker: str = "MKT-SYN", start_ms: int = 1_786_000_000_000) -> list[tuple[int, bytes]]:
    """``n`` valid ``orderbook_delta`` frames (used where the recorded tape may be absent)."""
    out = []
    for i in range(n):
        msg = {
            "market_ticker": ticker,
            "price_dollars": f"0.{10 + i % 80:02d}00",
            "delta_fp": "1.00" if i % 2 == 0 else "-1.00",
            "side": "yes" if i % 3 else "no",
            "ts_ms": start_ms + i,
        }
        raw = json.dumps({"type": "orderbook_delta", "sid": 1, "seq": i + 1, "msg": msg}, separators=(",", ":"))
        out.append((start_ms + i, raw.encode()))
    return out


def _count(url: str, model: Any, session_id: int) -> int:
    engine = create_engine(p.normalize_database_url(url))
    try:
        with Session(engine) as s:
            return int(s.exec(select(func.count()).select_from(model).where(model.session_id == session_id)).one()[0])  # type: ignore[call-overload]
    finally:
        engine.dispose()


def _rows(url: str, model: Any, session_id: int) -> list[Any]:
    engine = create_engine(p.normalize_database_url(url))
    try:
        with Session(engine) as s:
            return list(s.exec(select(model).where(model.session_id == session_id).order_by(model.rec_no)).scalars())  # type: ignore[call-overload]
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------------
# Backpressure: bounded, drop newest, counted, never blocking
# --------------------------------------------------------------------------------------------------


def test_a_full_frame_queue_refuses_the_newest_frames_counts_them_and_records_the_gap(db_url: str) -> None:
    frames = _synthetic_frames(151)
    recorder = Recorder(db_url, config=RecorderConfig(frame_capacity=100, flush_interval_s=0.01))
    # the writer is not running yet, so nothing drains: the queue fills deterministically
    accepted = [recorder.record_frame(raw, parse_frame(raw), recv) for recv, raw in frames[:150]]
    assert accepted == [True] * 100 + [False] * 50
    assert (recorder.frames_enqueued, recorder.frames_dropped, recorder.dropped) == (100, 50, 50)
    assert recorder.max_frames_depth == 100
    # the records lane is separate: an order is never pushed out by market data
    order = tm.PlaceOrderInput(
        ticker="MKT-SYN",
        side="yes",
        action="buy",
        count_contracts=Decimal("2"),
        price_dollars=Decimal("0.45"),
        client_order_id="epoch:1",
    )
    assert recorder.record_order(order, origin="epoch", origin_id="wf:1")

    recorder.start()
    assert recorder.flush(60)
    assert recorder.written == 101
    # the lane accepts again: the gap is recorded, then the new frame
    recv, raw = frames[150]
    assert recorder.record_frame(raw, parse_frame(raw), recv)
    assert recorder.close(60)

    stored = [row.recv_ms for row in _rows(db_url, BookDelta, recorder.session_id)]
    assert stored == [recv for recv, _raw in frames[:100]] + [frames[150][0]]  # a gap-free prefix, then after
    gaps = _rows(db_url, RecordingGap, recorder.session_id)
    assert [(g.lane, g.first_recv_ms, g.last_recv_ms, g.dropped) for g in gaps] == [
        ("frames", frames[100][0], frames[149][0], 50)
    ]
    assert recorder.stats().dropped == 50 and recorder.stats().written == 102


def test_a_full_record_queue_drops_records_but_not_frames(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    recorder = Recorder(url, config=RecorderConfig(record_capacity=3, flush_interval_s=0.01))
    transition = tm.StatusTransition(at=datetime(2026, 8, 11, tzinfo=UTC), state=tm.LifecycleState.CALIBRATING)
    results = [recorder.record_status(transition, workflow_id="kalshi-trader-sim") for _ in range(5)]
    # the session row the recorder queued for itself does not count against the caller's capacity ... but
    # it does occupy the lane, so the lane (3) holds it and two records
    assert results == [True, True, False, False, False]
    assert (recorder.records_enqueued, recorder.records_dropped) == (2, 3)
    recv, raw = _synthetic_frames(1)[0]
    assert recorder.record_frame(raw, None, recv)
    recorder.start()
    assert recorder.close(60)
    assert _count(url, StatusRecord, recorder.session_id) == 2
    assert _count(url, BookDelta, recorder.session_id) == 1


# --------------------------------------------------------------------------------------------------
# Database outages: counted, retried, recording resumes; the caller never notices
# --------------------------------------------------------------------------------------------------


def _feed(recorder: Recorder, frames: list[tuple[int, bytes]]) -> None:
    for recv, raw in frames:
        assert recorder.record_frame(raw, parse_frame(raw), recv)  # accepted at once, database or not


def test_sqlite_locked_by_another_process_is_retried_and_recording_resumes(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    frames = _synthetic_frames(600)
    recorder = Recorder(path, config=FAST).start()
    _feed(recorder, frames[:100])
    assert recorder.flush(60) and recorder.written == 100

    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        _feed(recorder, frames[100:])
        assert recorder.wait_until(lambda: recorder.write_errors >= 3, 60)
        assert recorder.retrying and "locked" in (recorder.last_error or "")
        assert recorder.written == 100 and recorder.frames_dropped == 0
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert recorder.flush(60)
    assert (recorder.written, recorder.retrying, recorder.dropped) == (600, False, 0)
    assert recorder.close(60)
    assert _count(str(path), BookDelta, recorder.session_id) == 600


def test_during_an_outage_the_queue_fills_then_refuses_and_everything_accepted_is_written_later(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outage.db"
    frames = _synthetic_frames(400)
    config = FAST.model_copy(update={"frame_capacity": 100})
    recorder = Recorder(path, config=config).start()
    assert recorder.flush(60)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        accepted = [recorder.record_frame(raw, parse_frame(raw), recv) for recv, raw in frames]
        # the writer holds at most one batch it keeps retrying; the queue holds 100; the rest is refused
        assert accepted.count(False) == recorder.frames_dropped > 0
        assert accepted.count(True) == recorder.frames_enqueued >= 100
        assert recorder.max_frames_depth == 100
        assert recorder.wait_until(lambda: recorder.write_errors >= 1, 60)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert recorder.flush(60)
    last_recv, last_raw = _synthetic_frames(1, start_ms=1_786_999_000_000)[0]
    assert recorder.record_frame(last_raw, parse_frame(last_raw), last_recv)  # closes the gap
    assert recorder.close(60)
    kept = [recv for (recv, _raw), ok in zip(frames, accepted, strict=True) if ok]
    stored = [row.recv_ms for row in _rows(str(path), BookDelta, recorder.session_id)]
    assert stored == [*kept, last_recv]
    assert recorder.written == len(kept) + 1
    (gap,) = _rows(str(path), RecordingGap, recorder.session_id)
    refused = [recv for (recv, _raw), ok in zip(frames, accepted, strict=True) if not ok]
    assert (gap.lane, gap.dropped, gap.first_recv_ms, gap.last_recv_ms) == (
        "frames",
        len(refused),
        refused[0],
        refused[-1],
    )


def test_sqlite_directory_moved_away_and_back_is_retried_and_recording_resumes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    path = store / "rec.db"
    frames = _synthetic_frames(300)
    recorder = Recorder(f"sqlite:///{path}", config=FAST).start()
    _feed(recorder, frames[:100])
    assert recorder.flush(60) and recorder.written == 100

    moved = tmp_path / "elsewhere"
    os.rename(store, moved)  # the volume disappears (an open connection would keep writing into it unseen)
    try:
        _feed(recorder, frames[100:])
        assert recorder.wait_until(lambda: recorder.write_errors >= 2, 60)
        assert recorder.written == 100
        assert "removed or replaced" in (recorder.last_error or "") or "unable to open" in (recorder.last_error or "")
        assert not store.exists()  # the recorder did not silently create a fresh database elsewhere
    finally:
        os.rename(moved, store)
    assert recorder.flush(60)
    assert recorder.close(60)
    assert recorder.written == 300 and recorder.dropped == 0
    assert _count(str(path), BookDelta, recorder.session_id) == 300


def test_postgresql_server_stopped_is_retried_and_recording_resumes(postgres: Postgres) -> None:
    if postgres.server is None:
        pytest.skip("using an external PostgreSQL server ($KALSHI_TEST_POSTGRES_URL): not stopping it")
    url = create_database(postgres.admin_url)
    frames = _synthetic_frames(300)
    recorder = Recorder(url, config=FAST).start()
    try:
        _feed(recorder, frames[:100])
        assert recorder.flush(60) and recorder.written == 100
        postgres.server.stop()
        try:
            _feed(recorder, frames[100:])
            assert recorder.wait_until(lambda: recorder.write_errors >= 2, 60)
            assert recorder.written == 100 and recorder.retrying
        finally:
            postgres.server.start()
        assert recorder.flush(60)
        assert recorder.written == 300 and not recorder.retrying and recorder.dropped == 0
        assert recorder.close(60)
        assert _count(url, BookDelta, recorder.session_id) == 300
    finally:
        recorder.close(5)
        drop_database(postgres.admin_url, url)


def test_close_during_an_outage_gives_up_counts_the_loss_and_does_not_raise(tmp_path: Path) -> None:
    path = tmp_path / "down.db"
    recorder = Recorder(path, config=FAST).start()
    assert recorder.flush(60)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        _feed(recorder, _synthetic_frames(50))
        assert recorder.wait_until(lambda: recorder.write_errors >= 1, 60)
        assert recorder.close(timeout_s=0.2) is False
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert not recorder.running
    assert recorder.dropped_at_close == 50 and recorder.written == 0
    assert recorder.record_frame(b"{}", None, 1) is False and recorder.refused_closed == 1  # closed: refused
    assert recorder.close() is False  # idempotent


# --------------------------------------------------------------------------------------------------
# Bad input is stored (with its reason) and counted, never raised
# --------------------------------------------------------------------------------------------------


def test_malformed_frames_are_stored_with_their_reason_counted_and_not_exported(db_url: str, tmp_path: Path) -> None:
    good = _synthetic_frames(3, ticker="MKT-OK")
    buffer = bytearray(good[0][1])
    bad_precision = (
        b'{"type":"orderbook_delta","sid":1,"seq":9,"msg":{"market_ticker":"MKT-OK","side":"yes",'
        b'"price_dollars":"0.48005","delta_fp":"1.00","ts_ms":1}}'
    )
    inputs: list[tuple[Any, bool]] = [
        (good[0][1], True),
        (b"not json at all", False),
        (bad_precision, True),
        (b"\xff\xfe\x00garbage", False),
        (b"[1,2,3]", True),
        (b'{"type":"brand_new_type","sid":3,"msg":{"x":1}}', False),  # unknown, but well formed
        ('{"type":"ticker","sid":2,"msg":{"market_ticker":"MKT-OK","price_dollars":"0.5000"}}', True),
        (good[1][1], False),
        (buffer, False),  # a mutable buffer the reader reuses: the recorder must copy it
        (good[2][1], True),
    ]
    with Recorder(db_url, config=FAST) as recorder:
        for i, (raw, pre_parse) in enumerate(inputs):
            assert recorder.record_frame(raw, parse_frame(raw) if pre_parse else None, 1_786_000_000_000 + i)
        buffer[:] = b"x" * len(buffer)
        assert recorder.flush(60)
    assert recorder.frame_errors == 4
    assert recorder.written == len(inputs) and recorder.rows_rejected == 0

    frames = _rows(db_url, WsFrame, recorder.session_id)
    errors = {bytes(f.raw): f.error for f in frames if f.error}
    assert set(errors) == {b"not json at all", bad_precision, b"\xff\xfe\x00garbage", b"[1,2,3]"}
    assert "finer" in errors[bad_precision] and "invalid JSON" in errors[b"not json at all"]
    assert {f.type for f in frames if f.error} == {None, "orderbook_delta"}
    unknown = [f for f in frames if f.type == "brand_new_type"]
    assert len(unknown) == 1 and unknown[0].error is None
    ticker = [f for f in frames if f.type == "ticker"]
    assert len(ticker) == 1 and ticker[0].ticker == "MKT-OK" and bytes(ticker[0].raw) == inputs[6][0].encode()
    deltas = _rows(db_url, BookDelta, recorder.session_id)
    assert [bytes(d.raw) for d in deltas] == [good[0][1], good[1][1], good[0][1], good[2][1]]  # copy kept

    result = export_ndjson(db_url, recorder.session_id, tmp_path / "out")
    assert result.frames == 4  # the malformed delta of MKT-OK is not exported


def test_a_row_the_database_refuses_is_isolated_and_the_rest_of_its_batch_is_written(db_url: str) -> None:
    recorder = Recorder(db_url, config=FAST)
    for i, updates in enumerate((10, 2**64, 30)):  # 2**64 overflows BIGINT on both databases
        summary = tm.EpochSummary(epoch_id=f"wf:{i}", updates_seen=updates)
        assert recorder.record_epoch(summary)
    _feed(recorder, _synthetic_frames(5))
    recorder.start()  # all of it goes out as one batch
    assert recorder.flush(60)
    assert recorder.close(60)
    assert (recorder.written, recorder.rows_rejected, recorder.write_errors) == (7, 1, 0)
    assert recorder.last_error is not None
    assert [e.epoch_id for e in _rows(db_url, EpochRecord, recorder.session_id)] == ["wf:0", "wf:2"]
    assert _count(db_url, BookDelta, recorder.session_id) == 5


# --------------------------------------------------------------------------------------------------
# The trader's own records, exact units
# --------------------------------------------------------------------------------------------------

T0 = datetime(2026, 8, 11, 1, 20, tzinfo=UTC)
T0_MS = 1_786_411_200_000


def _ws(kind: str, msg: dict[str, Any]) -> Any:
    return parse_frame(json.dumps({"type": kind, "sid": 7, "msg": msg}).encode())


def test_trader_records_are_stored_with_exact_units(db_url: str) -> None:
    rest_order = km.Order.model_validate(
        {
            "order_id": "o-1",
            "client_order_id": "epoch:abc",
            "ticker": TICKER,
            "side": "no",
            "action": "buy",
            "status": "executed",
            "yes_price_dollars": "0.5300",
            "fill_count_fp": "5.00",
            "remaining_count_fp": "0.00",
            "initial_count_fp": "5.00",
            "taker_fill_cost_dollars": "2.350000",
            "taker_fees_dollars": "0.120000",
            "created_time": "2026-08-11T01:20:00Z",
            "last_update_time": "2026-08-11T01:20:00.250Z",
        }
    )
    ws_order = _ws(
        "user_order",
        {
            "order_id": "o-1",
            "ticker": TICKER,
            "status": "resting",
            "side": "no",
            "yes_price_dollars": "0.5300",
            "fill_count_fp": "1.50",
            "remaining_count_fp": "3.50",
            "initial_count_fp": "5.00",
            "taker_fees_dollars": "0.012345",
            "client_order_id": "epoch:abc",
            "last_updated_ts_ms": T0_MS + 100,
        },
    )
    rest_fill = km.Fill.model_validate(
        {
            "fill_id": "f-1",
            "trade_id": "t-1",
            "order_id": "o-1",
            "ticker": TICKER,
            "side": "no",
            "action": "buy",
            "count_fp": "1.50",
            "yes_price_dollars": "0.5300",
            "is_taker": True,
            "fee_cost": "0.0200",
            "created_time": "2026-08-11T01:20:00.100Z",
        }
    )
    ws_fill = _ws(
        "fill",
        {
            "trade_id": "t-2",
            "order_id": "o-1",
            "market_ticker": TICKER,
            "side": "no",
            "action": "buy",
            "yes_price_dollars": "0.5300",
            "count_fp": "3.50",
            "fee_cost": "0.040000",
            "post_position_fp": "-5.00",
            "ts_ms": T0_MS + 200,
        },
    )
    ws_position = _ws(
        "market_position",
        {"market_ticker": TICKER, "position": -5, "position_cost": 23500, "realized_pnl": -12345, "fees_paid": 1600},
    )
    report = tm.CalibrationReport(
        at=T0,
        duration_ms=183,
        components=[
            tm.ComponentHealth(
                name="exchange_rest", category=tm.ComponentCategory.CRITICAL, healthy=True, latency_ms=12
            ),
            tm.ComponentHealth(
                name="fill_ws",
                category=tm.ComponentCategory.OPTIONAL,
                healthy=False,
                error="503",
                fallback="poll fills over REST",
            ),
        ],
        overall_status=tm.OverallStatus.DEGRADED,
        can_trade=True,
        viable_markets=[TICKER],
        positions=[
            tm.PositionView(
                ticker=TICKER,
                side="no",
                contracts=Decimal("5"),
                exposure_dollars=Decimal("2.35"),
                avg_cost_dollars=Decimal("0.47"),
            )
        ],
    )
    close = tm.CloseResult(
        ticker=TICKER,
        side="no",
        reason=tm.ExitReason.TAKE_PROFIT,
        tag="close_position:take_profit",
        requested_contracts=Decimal("5"),
        closed_contracts=Decimal("5"),
        average_price_dollars=Decimal("0.563"),
        proceeds_dollars=Decimal("2.815"),
        attempts=2,
        status=tm.CloseStatus.CLOSED,
        at=T0,
        workflow_id="close-1",
    )
    with Recorder(db_url, config=FAST, environment="sim", source_url="http://sim", markets=[TICKER]) as recorder:
        intent = tm.PlaceOrderInput(
            ticker=TICKER,
            side="no",
            action="buy",
            count_contracts=Decimal("5"),
            price_dollars=Decimal("0.47"),
            client_order_id="epoch:abc",
            order_group_id="og-1",
        )
        assert recorder.record_order(intent, origin="epoch", origin_id="wf:7", at_ms=T0_MS)
        outcome = tm.OrderOutcome(
            order_id="", client_order_id="epoch:def", rejected_code="insufficient_balance", rejected_detail="no cash"
        )
        assert recorder.record_order(outcome, origin="epoch", origin_id="wf:7", ticker=TICKER, side="yes", at_ms=T0_MS)
        assert recorder.record_order(rest_order)
        assert recorder.record_order(ws_order)
        assert recorder.record_fill(rest_fill, recv_ms=T0_MS + 150)
        assert recorder.record_fill(ws_fill, recv_ms=T0_MS + 210)
        assert recorder.record_position(ws_position, at_ms=T0_MS + 220)
        assert recorder.record_position(
            tm.ExchangePosition(ticker=TICKER, position_contracts=Decimal("-5"), exposure_dollars=Decimal("2.35")),
            at_ms=T0_MS + 300,
        )
        assert recorder.record_calibration(report, workflow_id="kalshi-trader-sim")
        assert recorder.record_status(
            tm.StatusTransition(
                at=T0,
                state=tm.LifecycleState.TRADING,
                previous_state=tm.LifecycleState.CALIBRATING,
                time_in_previous_s=0.1834,
                result="degraded: fill_ws down",
            ),
            workflow_id="kalshi-trader-sim",
        )
        assert recorder.record_epoch(
            tm.EpochSummary(
                epoch_id="kalshi-trader-sim:7",
                started_at=T0,
                ended_by="duration",
                orders_placed=2,
                contracts_filled=Decimal("5"),
            )
        )
        assert recorder.record_close(close)
        # bad arguments are refused and counted, never raised
        off_grid = intent.model_copy(update={"price_dollars": Decimal("0.47005")})
        assert recorder.record_order(off_grid) is False
        assert recorder.record_calibration("not a report") is False
        assert recorder.record_order(object()) is False
        assert recorder.flush(60)
    assert recorder.bad_records == 3 and recorder.written == 12 and recorder.rows_rejected == 0
    sid = recorder.session_id

    orders = _rows(db_url, OrderRecord, sid)
    assert [(o.event, o.source, o.client_order_id) for o in orders] == [
        ("submitted", "trader", "epoch:abc"),
        ("rejected", "trader", "epoch:def"),
        ("update", "rest", "epoch:abc"),
        ("update", "ws", "epoch:abc"),
    ]
    submitted, rejected, rest, ws = orders
    assert (submitted.price_cc, submitted.yes_price_cc, submitted.count_lots) == (4700, 5300, 500)
    assert (submitted.origin, submitted.origin_id, submitted.order_group_id, submitted.at_ms) == (
        "epoch",
        "wf:7",
        "og-1",
        T0_MS,
    )
    assert (rejected.reject_code, rejected.detail, rejected.ticker, rejected.order_id) == (
        "insufficient_balance",
        "no cash",
        TICKER,
        None,
    )
    assert (rest.price_cc, rest.fill_count_lots, rest.fees_microdollars, rest.fill_cost_microdollars) == (
        4700,
        500,
        120_000,
        2_350_000,
    )
    assert (rest.created_ms, rest.updated_ms, rest.at_ms) == (T0_MS, T0_MS + 250, T0_MS + 250)
    assert (ws.fill_count_lots, ws.remaining_count_lots, ws.fees_microdollars, ws.at_ms) == (
        150,
        350,
        12_345,
        T0_MS + 100,
    )

    fills = _rows(db_url, TraderFill, sid)
    assert [(f.source, f.count_lots, f.yes_price_cc, f.fee_microdollars) for f in fills] == [
        ("rest", 150, 5300, 20_000),
        ("ws", 350, 5300, 40_000),
    ]
    assert fills[1].post_position_lots == -500 and fills[0].ts_ms == T0_MS + 100

    positions = _rows(db_url, PositionRecord, sid)
    assert [(x.source, x.position_lots, x.exposure_microdollars) for x in positions] == [
        ("ws", -500, 2_350_000),  # legacy centi-cents 23500 = $2.35
        ("trader", -500, 2_350_000),
    ]
    assert positions[0].realized_pnl_microdollars == -1_234_500

    (calibration,) = _rows(db_url, CalibrationRecord, sid)
    assert (calibration.overall_status, calibration.can_trade, calibration.duration_ms, calibration.at_ms) == (
        "degraded",
        True,
        183,
        T0_MS,
    )
    assert (calibration.viable_markets, calibration.positions) == (1, 1)
    assert tm.CalibrationReport.model_validate(calibration.report) == report

    (status,) = _rows(db_url, StatusRecord, sid)
    assert (status.state, status.previous_state, status.time_in_previous_ms, status.workflow_id) == (
        "trading",
        "calibrating",
        183,
        "kalshi-trader-sim",
    )
    (epoch,) = _rows(db_url, EpochRecord, sid)
    assert (epoch.epoch_id, epoch.contracts_filled_lots, epoch.orders_placed) == ("kalshi-trader-sim:7", 500, 2)
    (closed,) = _rows(db_url, CloseRecord, sid)
    assert (closed.closed_lots, closed.proceeds_microdollars, closed.reason, closed.status) == (
        500,
        2_815_000,
        "take_profit",
        "closed",
    )
    assert tm.CloseResult.model_validate(closed.result) == close

    (session,) = [s for s in _rows_sessions(db_url) if s.id == sid]
    assert (session.environment, session.source_url, session.markets) == ("sim", "http://sim", [TICKER])
    assert session.ended_ms is not None and session.ended_ms >= session.started_ms


def _rows_sessions(url: str) -> list[RecordingSession]:
    engine = create_engine(p.normalize_database_url(url))
    try:
        with Session(engine) as s:
            return list(s.exec(select(RecordingSession)).scalars())  # type: ignore[call-overload]
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------------
# Small pieces
# --------------------------------------------------------------------------------------------------


def test_unit_conversions_are_exact_or_refuse() -> None:
    assert (to_cc(Decimal("0.48")), to_lots(Decimal("-46.02")), to_microdollars(Decimal("0.012345"))) == (
        4800,
        -4602,
        12_345,
    )
    for bad in (lambda: to_cc(Decimal("0.48005")), lambda: to_lots(Decimal("1.005")), lambda: to_cc(0.48)):  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            bad()


def test_database_urls() -> None:
    assert p.normalize_database_url("rec.db").render_as_string() == f"sqlite:///{Path('rec.db').resolve()}"
    assert p.normalize_database_url("sqlite:///rel/x.db").database == str(Path("rel/x.db").resolve())
    assert p.normalize_database_url("postgresql://u:pw@h/db").drivername == "postgresql+psycopg"
    assert p.normalize_database_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    for bad in ("mysql://u@h/db", "sqlite://", "sqlite:///:memory:", "postgresql+psycopg2://u@h/db", "bad url://x"):
        with pytest.raises(ValueError):
            p.normalize_database_url(bad)


@requires_tape
def test_recorded_tape_frames_land_in_their_typed_tables(db_url: str) -> None:
    frames = _tape_frames(2_000)
    with Recorder(db_url, config=FAST) as recorder:
        _feed(recorder, frames)
        assert recorder.flush(60)
    counts = session_frame_counts(db_url, recorder.session_id)
    assert sum(counts.values()) == 2_000 and counts["ws_frame"] == 0
    (snapshot, *_) = _rows(db_url, BookSnapshot, recorder.session_id)
    first = json.loads(frames[0][1])["msg"]
    assert snapshot.yes_levels[0] == [to_cc(Decimal(first["yes_dollars_fp"][0][0])), 27_500]
    assert bytes(snapshot.raw) == frames[0][1] and snapshot.recv_ms == frames[0][0]
    trades = _rows(db_url, MarketTrade, recorder.session_id)
    assert trades and all(t.yes_price_cc + t.no_price_cc == 10_000 for t in trades)
    delta = _rows(db_url, BookDelta, recorder.session_id)[0]
    msg = json.loads(frames[1][1])["msg"]
    assert (delta.side, delta.price_cc, delta.delta_lots, delta.ts_ms) == (
        msg["side"],
        to_cc(Decimal(msg["price_dollars"])),
        to_lots(Decimal(msg["delta_fp"])),
        msg["ts_ms"],
    )
    assert _count(db_url, MarketMetadata, recorder.session_id) == 0
