"""The write-behind recorder: persists everything the trader sees and does without ever slowing it down.

The hot path (the WebSocket reader, the trading loop, activities) calls ``record_*`` methods that only append
to a bounded in-memory queue and return at once: no I/O, no await, no lock wait on the frames lane. A
dedicated writer thread takes batches off the queues and writes them with one transaction per batch through
a synchronous SQLAlchemy engine (tables of :mod:`models.db`, rows built by :mod:`recording.rows`)::

    recorder = Recorder("sqlite:///var/kalshi/recording.db", source_url=ws_url, environment="prod")
    recorder.start()
    ...                                           # hot path, per received frame:
    event = parse_frame(raw)
    recorder.record_frame(raw, event, recv_ms)    # -> bool, well under 1 us, never raises
    ...                                           # elsewhere:
    recorder.record_order(ack, origin="epoch", origin_id=epoch_id)
    recorder.record_calibration(report, workflow_id=wf_id)
    ...
    await recorder.aclose()                       # drains (bounded by a timeout), ends the session

Why a thread and a sync engine (not an async driver): the database work then never runs on the event loop
that holds the order books. ``sqlite3`` releases the GIL inside every SQLite step, and rows are sent as plain
tuples through one pre-compiled ``executemany`` (:class:`~recording.database.BulkInserter`), so the
writer holds the GIL for little more than building tuples. An async driver (aiosqlite, asyncpg) would put
row encoding and protocol parsing on the trading loop itself, and aiosqlite uses a thread anyway. The same
code serves SQLite and PostgreSQL (psycopg 3); the thread can block on a dead server without consequence.

Two lanes, each a bounded FIFO:

* **frames** (``record_frame``: market data and every other WebSocket frame; by far the most volume);
  single producer: call it from one thread (the event loop that reads the WebSocket);
* **records** (orders, fills, positions, calibration reports, status transitions, epochs, closes, market
  metadata): low volume and precious, so a burst of order-book deltas can never push an order out. Safe to
  call from any thread.

Backpressure policy: **drop newest**. When a lane is full the incoming record is refused: the call returns
``False`` and counts it (``frames_dropped`` / ``records_dropped``); nothing ever waits. Why newest rather than
oldest: what is stored (database + queue) then stays a gap-free prefix of what was received up to the moment
the queue filled, followed by one gap, followed by everything after the writer caught up; the book at the
start of the gap is exactly known, and the gap is recorded as a :class:`models.rdb.RecordingGap` row (lane,
first/last receive time, count) as soon as the lane accepts again, so a replay or a training job knows where
the tape is incomplete (a replayed book is untrustworthy from the gap until the market's next snapshot).
Dropping oldest would also leave one gap per episode, but would need the producer to pop items the writer may
be consuming, and would throw away the data that continues what is already on disk. Refusing costs the caller
one comparison.

Failures never reach the caller. A database outage (server down, file locked by another process, disk full,
the database file or its directory gone) is counted in ``write_errors`` with ``last_error``; the batch is
kept and retried with exponential backoff (``retry_initial_s`` doubling to ``retry_max_s``), the engine
reconnects and re-creates missing tables, and meanwhile the queues fill and then drop newest. A batch that
the database refuses for its content (a constraint, an unencodable value) is retried row by row and only the
offending rows are dropped (``rows_rejected``). Retries are idempotent: every row's primary key
``(session_id, rec_no)`` is assigned at enqueue time and inserts are ``ON CONFLICT DO NOTHING``, so a batch
whose commit outcome was lost is re-sent safely. A SQLite database file that disappears or is replaced while
open (directory removed or moved, file deleted) is detected before every batch (the open connection would
otherwise keep writing into the unlinked file and lose everything silently): the writer reconnects, which
fails (counted, retried) while the directory is missing, resumes in the same file when it comes back, and
starts a fresh database file when only the file was deleted.

Counters are plain attributes (ints, a float and a string), read by a metrics layer: see
:class:`RecorderStats` and :meth:`Recorder.stats`. At any time ``enqueued == written + rows_rejected +
dropped_at_close + rows in flight`` (queued, or in the batch being written); after :meth:`Recorder.flush`
returns ``True`` nothing enqueued before the call is in flight. Refused rows (``dropped``,
``refused_closed``, ``bad_records``) are never enqueued.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import URL, Engine

from kalshi.models.ws import WsEvent
from recording import database as rdb
from recording import rows as rb
from recording.writer import BatchWriter, FrameItem, RecorderConfig, RecordItem, error_line

__all__ = ["Recorder", "RecorderConfig", "RecorderStats", "new_session_id"]

log = logging.getLogger(__name__)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def new_session_id(started_ms: int) -> int:
    """A new session id: ``started_ms * 1000 + random 0..999`` (sortable by start time, no DB round trip)."""
    return started_ms * 1000 + secrets.randbelow(1000)


@dataclass(frozen=True)
class RecorderStats:
    """A snapshot of a recorder's counters (all counts are rows; one ``record_*`` call = one row).

    Attributes:
        session_id: the recording session.
        enqueued: rows accepted into the queues (frames + records).
        written: rows committed to the database.
        dropped: rows refused because a lane was full (drop-newest backpressure).
        refused_closed: rows refused because the recorder was closed.
        dropped_at_close: rows still queued or pending when :meth:`Recorder.close` gave up.
        bad_records: ``record_*`` calls whose arguments could not be converted (e.g. an inexact price).
        rows_rejected: rows the database refused for their content (isolated row by row).
        frame_errors: malformed frames recorded (stored in ``ws_frame`` with their reason).
        batches: batches written (a batch the database refused and that was then written row by row counts
            once).
        write_errors: failed write attempts (each is retried with backoff).
        queue_depth: rows queued now (both lanes).
        max_queue_depth: the highest depth seen (both lanes, each at its own peak).
        last_write_latency_s: duration of the last committed transaction (seconds).
        last_error: the last database error, one line (``None`` before any).
        retrying: the writer is currently backing off after a failed attempt.

    """

    session_id: int
    enqueued: int
    written: int
    dropped: int
    refused_closed: int
    dropped_at_close: int
    bad_records: int
    rows_rejected: int
    frame_errors: int
    batches: int
    write_errors: int
    queue_depth: int
    max_queue_depth: int
    last_write_latency_s: float
    last_error: str | None
    retrying: bool


class _Gap:
    """A run of dropped rows on one lane (first/last receive time in Unix ms, count)."""

    __slots__ = ("count", "first_ms", "last_ms")

    def __init__(self, at_ms: int) -> None:
        self.first_ms = at_ms
        self.last_ms = at_ms
        self.count = 1


class Recorder(BatchWriter):
    """Bounded, batching, write-behind persistence of frames and trader records (see the module docstring).

    Args:
        database_url: ``sqlite:///path.db`` (or a bare path), or ``postgresql+psycopg://user:pw@host/db``
            (default :data:`recording.database.DEFAULT_DATABASE_URL`, a SQLite file under ``.state/``).
        config: tuning (:class:`RecorderConfig`).
        source_url: where the data comes from (stored on the session row).
        environment: ``sim`` | ``demo`` | ``prod`` | free text (stored on the session row).
        markets: the market tickers this session records (stored on the session row).
        label: free text for the session row.
        session_id: reuse a specific id (default: :func:`new_session_id`).

    Raises:
        ValueError: an invalid or unsupported database URL (see
            :func:`recording.database.normalize_database_url`). Nothing else raises: an unreachable
            database is an outage, handled by retrying.

    Attributes (counters; writer-side ones are written only by the writer thread):
        session_id, started_ms: the session.
        frames_enqueued, frames_dropped, max_frames_depth: frames lane (producer side).
        records_enqueued, records_dropped, max_records_depth: records lane (producer side).
        refused_closed, bad_records: producer side.
        written, rows_rejected, frame_errors, batches, write_errors, dropped_at_close, last_write_latency_s,
        last_batch_rows, last_error, retrying: writer side.

    """

    def __init__(
        self,
        database_url: str | Path | URL = rdb.DEFAULT_DATABASE_URL,
        *,
        config: RecorderConfig | None = None,
        source_url: str = "",
        environment: str = "",
        markets: Iterable[str] = (),
        label: str = "",
        session_id: int | None = None,
    ) -> None:
        self.config = config or RecorderConfig()
        self.url = rdb.normalize_database_url(database_url)
        self._sqlite_file = rdb.sqlite_path(self.url)
        if self._sqlite_file is not None:
            try:
                rdb.ensure_parent_dir(self.url)
            except OSError as exc:  # an outage like any other: the writer will count and retry
                log.warning("cannot create the directory of %s: %s", self._sqlite_file, exc)
        self.started_ms = _now_ms()
        self.session_id = session_id if session_id is not None else new_session_id(self.started_ms)
        self._session_fields: dict[str, Any] = {
            "started_ms": self.started_ms,
            "source_url": source_url,
            "environment": environment,
            "markets": list(markets),
            "label": label,
        }

        self._frames: deque[FrameItem] = deque()
        self._records: deque[RecordItem] = deque()
        self._frame_capacity = self.config.frame_capacity
        self._record_capacity = self.config.record_capacity
        self._batch_size = self.config.batch_size
        self._next_no: Callable[[], int] = itertools.count(1).__next__
        self._records_lock = threading.Lock()
        self._wake = threading.Event()
        self._abort = threading.Event()
        self._progress = threading.Condition()
        self._thread: threading.Thread | None = None
        self._accepting = True
        self._closing = False
        self._finished = False
        self._flush_waiters = 0
        self._frame_gap: _Gap | None = None
        self._record_gap: _Gap | None = None
        self._records_seq = 0
        self._frames_done = 0
        self._records_done = 0
        self._engine: Engine | None = None
        self._inserter: rdb.BulkInserter | None = None
        self._schema_ready = False
        self._sqlite_identity: tuple[int, int] | None = None
        self._close_result: bool | None = None

        self.frames_enqueued = 0
        self.frames_dropped = 0
        self.max_frames_depth = 0
        self.records_enqueued = 0
        self.records_dropped = 0
        self.max_records_depth = 0
        self.refused_closed = 0
        self.bad_records = 0
        self.written = 0
        self.rows_rejected = 0
        self.frame_errors = 0
        self.batches = 0
        self.write_errors = 0
        self.dropped_at_close = 0
        self.last_write_latency_s = 0.0
        self.last_batch_rows = 0
        self.last_error: str | None = None
        self.retrying = False

        self._append_internal(rdb.SESSION, self._session_row(ended_ms=None))

    # ------------------------------------------------------------------------------------------
    # Lifecycle
    # ------------------------------------------------------------------------------------------

    def start(self) -> Recorder:
        """Start the writer thread (idempotent). Rows recorded before start wait in the queues.

        Returns:
            ``self``.

        """
        if self._thread is None and not self._closing:
            self._thread = threading.Thread(target=self._run, name=f"recorder-{self.session_id}", daemon=True)
            self._thread.start()
        return self

    @property
    def running(self) -> bool:
        """Whether the writer thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def flush(self, timeout_s: float | None = None) -> bool:
        """Block until every row enqueued before this call has been written (or rejected), or ``timeout_s``.

        Never call it on the event loop: use :meth:`aflush`. Partial batches are written at once while a
        flush waits.

        Args:
            timeout_s: longest wait in seconds (``None`` = until done, which is forever during an outage).

        Returns:
            ``True`` when everything enqueued before the call is resolved; ``False`` on timeout, or when the
            writer is not running (never started, or closed).

        """
        target_frames = self.frames_enqueued
        with self._records_lock:
            target_records = self._records_seq

        def done() -> bool:
            return self._frames_done >= target_frames and self._records_done >= target_records

        if not self.running:
            return done()
        with self._progress:
            self._flush_waiters += 1
            self._wake.set()
            try:
                self._progress.wait_for(lambda: done() or self._finished, timeout_s)
            finally:
                self._flush_waiters -= 1
        return done()

    drain = flush
    """Alias of :meth:`flush`."""

    def wait_until(self, predicate: Callable[[], bool], timeout_s: float | None = None) -> bool:
        """Block until ``predicate()`` is true, re-checking after every write attempt of the writer.

        Meant for tests and shutdown logic (e.g. ``lambda: rec.write_errors >= 2``). Never call it on the
        event loop: use :meth:`await_until`.

        Returns:
            The predicate's last value (``False`` on timeout).

        """
        with self._progress:
            return bool(self._progress.wait_for(predicate, timeout_s))

    def close(self, timeout_s: float | None = None) -> bool:
        """Stop accepting rows, write what is queued plus the session's end time, stop the writer.

        Bounded: after ``timeout_s`` (default ``config.close_timeout_s``) the writer is told to give up; rows
        not written by then are counted in ``dropped_at_close``. Returns within about ``timeout_s + 1`` s
        (longer only if the database driver itself hangs). Idempotent. Never raises.

        Returns:
            ``True`` when every accepted row was written (or rejected by the database for its content).

        """
        if self._close_result is not None:
            return self._close_result
        with self._records_lock:
            if self._closing:
                return False
            self._accepting = False
            self._append_internal(rdb.SESSION, self._session_row(ended_ms=_now_ms()))
            self._closing = True
        timeout = self.config.close_timeout_s if timeout_s is None else timeout_s
        thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning(
                    "recorder session %d: writer did not drain within %.1f s; giving up", self.session_id, timeout
                )
                self._abort.set()
                self._wake.set()
                thread.join(1.0)
        else:
            self._finished = True
        lost = self._discard_queued()
        if lost:
            log.warning("recorder session %d: %d rows were never written", self.session_id, lost)
        self._close_result = (thread is not None and not thread.is_alive()) and self.dropped_at_close == 0
        with self._progress:
            self._progress.notify_all()
        return self._close_result

    async def aflush(self, timeout_s: float | None = None) -> bool:
        """:meth:`flush` in a worker thread (safe on the event loop)."""
        return await asyncio.to_thread(self.flush, timeout_s)

    async def await_until(self, predicate: Callable[[], bool], timeout_s: float | None = None) -> bool:
        """:meth:`wait_until` in a worker thread (safe on the event loop)."""
        return await asyncio.to_thread(self.wait_until, predicate, timeout_s)

    async def aclose(self, timeout_s: float | None = None) -> bool:
        """:meth:`close` in a worker thread (safe on the event loop)."""
        return await asyncio.to_thread(self.close, timeout_s)

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Recorder:
        return self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------------------------------
    # Counters
    # ------------------------------------------------------------------------------------------

    @property
    def enqueued(self) -> int:
        """Rows accepted (frames + records)."""
        return self.frames_enqueued + self.records_enqueued

    @property
    def dropped(self) -> int:
        """Rows refused because a lane was full."""
        return self.frames_dropped + self.records_dropped

    @property
    def queue_depth(self) -> int:
        """Rows queued now (both lanes, including the recorder's own session/gap rows)."""
        return len(self._frames) + len(self._records)

    def stats(self) -> RecorderStats:
        """A consistent-enough snapshot of the counters (each read is atomic; the set is not)."""
        return RecorderStats(
            session_id=self.session_id,
            enqueued=self.enqueued,
            written=self.written,
            dropped=self.dropped,
            refused_closed=self.refused_closed,
            dropped_at_close=self.dropped_at_close,
            bad_records=self.bad_records,
            rows_rejected=self.rows_rejected,
            frame_errors=self.frame_errors,
            batches=self.batches,
            write_errors=self.write_errors,
            queue_depth=self.queue_depth,
            max_queue_depth=self.max_frames_depth + self.max_records_depth,
            last_write_latency_s=self.last_write_latency_s,
            last_error=self.last_error,
            retrying=self.retrying,
        )

    # ------------------------------------------------------------------------------------------
    # Hot path
    # ------------------------------------------------------------------------------------------

    def record_frame(self, raw: bytes | str, event: WsEvent | None = None, recv_ms: int | None = None) -> bool:
        """Queue one received WebSocket frame; O(1), no I/O, never blocks, never raises.

        Single producer: call it from one thread (the event loop reading the WebSocket).

        Args:
            raw: the frame exactly as received (``bytes`` from ``websockets`` with ``decode=False``, or
                ``str``); a mutable buffer is copied. Stored byte for byte for the tape export.
            event: ``kalshi.models.ws.parse_frame(raw)`` when the caller already parsed it (it always has);
                ``None`` lets the writer thread parse it.
            recv_ms: receipt time, Unix ms (default: now, from the system clock).

        Returns:
            ``True`` if queued; ``False`` if refused (lane full: counted in ``frames_dropped``; or closed).

        """
        frames = self._frames
        depth = len(frames)
        if depth >= self._frame_capacity or not self._accepting:
            self._drop_frame(recv_ms)
            return False
        if recv_ms is None:
            recv_ms = time.time_ns() // 1_000_000
        if type(raw) is not bytes and type(raw) is not str:
            raw = rb.raw_bytes(raw)
        frames.append((self._next_no(), recv_ms, raw, event))
        self.frames_enqueued += 1
        if self._frame_gap is not None:
            self._end_frame_gap()
        depth += 1
        if depth > self.max_frames_depth:
            self.max_frames_depth = depth
        if depth % self._batch_size == 0:
            self._wake.set()
        return True

    def _drop_frame(self, recv_ms: int | None) -> None:
        if not self._accepting:
            self.refused_closed += 1
            return
        self.frames_dropped += 1
        at = recv_ms if recv_ms is not None else _now_ms()
        gap = self._frame_gap
        if gap is None:
            self._frame_gap = _Gap(at)
            log.warning(
                "recorder session %d: frame queue full (%d); dropping new frames", self.session_id, len(self._frames)
            )
        else:
            gap.count += 1
            gap.last_ms = at

    def _end_frame_gap(self) -> None:
        gap, self._frame_gap = self._frame_gap, None
        if gap is not None:
            log.warning(
                "recorder session %d: frame queue accepting again after dropping %d", self.session_id, gap.count
            )
            with self._records_lock:
                self._append_gap("frames", gap)

    # ------------------------------------------------------------------------------------------
    # Trader records (any thread; each call builds one small row, then queues it)
    # ------------------------------------------------------------------------------------------

    def record_order(
        self,
        order: Any,
        *,
        event: str | None = None,
        origin: str | None = None,
        origin_id: str | None = None,
        detail: str | None = None,
        at_ms: int | None = None,
        **columns: Any,
    ) -> bool:
        """Queue one event of one of the trader's orders (``trader_order``). Never raises.

        Args:
            order: a ``CreateOrderRequest`` / ``PlaceOrderInput`` (intent), ``OrderAck`` / ``OrderOutcome``
                (result), REST ``Order``, WS ``UserOrderUpdate``, or a mapping of columns (see
                :func:`recording.rows.order_row`).
            event: ``submitted`` | ``acknowledged`` | ``rejected`` | ``update`` | ``canceled`` | ... (default
                from the object's type).
            origin: what issued it (``epoch`` | ``close`` | ``manual``).
            origin_id: the epoch id or the close workflow id.
            detail: one line of context.
            at_ms: event time, Unix ms (default: the object's own time, else now).
            **columns: column overrides, e.g. ``ticker=..., side=...`` for an ``OrderOutcome``.

        Returns:
            ``True`` if queued; ``False`` if refused (full, closed, or unconvertible: ``bad_records``).

        """
        when = _now_ms() if at_ms is None else at_ms
        return self._put_record(
            rdb.ORDER,
            lambda rec_no: rb.order_row(
                self.session_id,
                rec_no,
                order,
                at_ms=when,
                event=event,
                origin=origin,
                origin_id=origin_id,
                detail=detail,
                overrides=columns,
            ),
            when,
        )

    def record_fill(self, fill: Any, *, recv_ms: int | None = None) -> bool:
        """Queue one of the trader's fills (``trader_fill``). Never raises.

        Args:
            fill: a REST ``kalshi.models.Fill`` or a WS ``kalshi.models.ws.Fill``.
            recv_ms: when it was received, Unix ms (default now).

        Returns:
            ``True`` if queued; ``False`` if refused (full, closed, or unconvertible).

        """
        when = _now_ms() if recv_ms is None else recv_ms
        return self._put_record(
            rdb.TRADER_FILL, lambda rec_no: rb.fill_row(self.session_id, rec_no, fill, recv_ms=when), when
        )

    def record_position(self, position: Any, *, at_ms: int | None = None) -> bool:
        """Queue one observation of a market position (``position_history``). Never raises.

        Args:
            position: a WS ``MarketPositionUpdate``, a REST ``MarketPosition`` or a trader
                ``ExchangePosition`` (signed: + YES, - NO).
            at_ms: observation time, Unix ms (default: the object's own time, else now).

        Returns:
            ``True`` if queued; ``False`` if refused.

        """
        when = _now_ms() if at_ms is None else at_ms
        return self._put_record(
            rdb.POSITION, lambda rec_no: rb.position_row(self.session_id, rec_no, position, at_ms=when), when
        )

    def record_calibration(self, report: Any, *, workflow_id: str | None = None) -> bool:
        """Queue a :class:`models.trader.CalibrationReport` (``calibration_report``). Never raises.

        Returns:
            ``True`` if queued; ``False`` if refused.

        """
        return self._put_record(
            rdb.CALIBRATION,
            lambda rec_no: rb.calibration_row(self.session_id, rec_no, report, workflow_id=workflow_id),
            None,
        )

    def record_status(self, transition: Any, *, workflow_id: str) -> bool:
        """Queue a :class:`models.trader.StatusTransition` of ``workflow_id`` (``status_transition``). Never raises.

        Returns:
            ``True`` if queued; ``False`` if refused.

        """
        return self._put_record(
            rdb.STATUS,
            lambda rec_no: rb.status_row(self.session_id, rec_no, transition, workflow_id=workflow_id),
            None,
        )

    def record_epoch(self, summary: Any) -> bool:
        """Queue a :class:`models.trader.EpochSummary` (``epoch_summary``). Never raises.

        Returns:
            ``True`` if queued; ``False`` if refused.

        """
        return self._put_record(rdb.EPOCH, lambda rec_no: rb.epoch_row(self.session_id, rec_no, summary), None)

    def record_close(self, result: Any) -> bool:
        """Queue a :class:`models.trader.CloseResult` (``close_result``). Never raises.

        Returns:
            ``True`` if queued; ``False`` if refused.

        """
        return self._put_record(rdb.CLOSE, lambda rec_no: rb.close_row(self.session_id, rec_no, result), None)

    def record_market(
        self, market: Mapping[str, Any] | Any, *, event: Any = None, fetched_ms: int | None = None, source_url: str = ""
    ) -> bool:
        """Queue a market's REST definition (``market_metadata``; the latest call per ticker wins). Never raises.

        Record it when a market is first seen and again after it is determined: a tape export needs the
        market's ``open_time``, ``close_time``, ``result`` and settlement fields.

        Args:
            market: the REST market JSON object (a mapping; every field is kept) or a ``kalshi.models.Market``.
            event: the REST event object of ``GET /events/{event_ticker}`` (mapping or model), if known.
            fetched_ms: when it was fetched, Unix ms (default now).
            source_url: the URL it came from.

        Returns:
            ``True`` if queued; ``False`` if refused.

        """
        when = _now_ms() if fetched_ms is None else fetched_ms
        return self._put_record(
            rdb.MARKET,
            lambda _rec_no: rb.market_row(self.session_id, market, event=event, fetched_ms=when, source_url=source_url),
            when,
        )

    def _put_record(self, table: Table, build: Callable[[int], tuple[Any, ...]], at_ms: int | None) -> bool:
        """Build a row off the lock, then queue it under the lock (capacity, closed, gap bookkeeping)."""
        try:
            if not self._accepting:
                with self._records_lock:
                    self.refused_closed += 1
                return False
            row = build(self._next_no())
        except Exception as exc:  # bad arguments never reach the caller as an exception
            with self._records_lock:
                self.bad_records += 1
            log.error("recorder session %d: cannot record a %s row: %s", self.session_id, table.name, error_line(exc))
            return False
        with self._records_lock:
            if not self._accepting:
                self.refused_closed += 1
                return False
            depth = len(self._records)
            if depth >= self._record_capacity:
                self.records_dropped += 1
                now = at_ms if at_ms is not None else _now_ms()
                if self._record_gap is None:
                    self._record_gap = _Gap(now)
                    log.warning("recorder session %d: record queue full; dropping new records", self.session_id)
                else:
                    self._record_gap.count += 1
                    self._record_gap.last_ms = now
                return False
            if self._record_gap is not None:
                gap, self._record_gap = self._record_gap, None
                self._append_gap("records", gap)
            self._records.append((table, row))
            self._records_seq += 1
            self.records_enqueued += 1
            depth = len(self._records)
            if depth > self.max_records_depth:
                self.max_records_depth = depth
            if depth % self._batch_size == 0:
                self._wake.set()
        return True

    def _append_gap(self, lane: str, gap: _Gap) -> None:
        """Queue a gap row (caller holds ``_records_lock``); bypasses capacity (one per drop episode)."""
        self._append_internal(
            rdb.GAP, rb.gap_row(self.session_id, self._next_no(), lane, gap.first_ms, gap.last_ms, gap.count)
        )

    def _append_internal(self, table: Table, row: tuple[Any, ...]) -> None:
        self._records.append((table, row))
        self._records_seq += 1

    def _session_row(self, *, ended_ms: int | None) -> tuple[Any, ...]:
        f = self._session_fields
        return rb.session_row(
            self.session_id,
            started_ms=f["started_ms"],
            ended_ms=ended_ms,
            source_url=f["source_url"],
            environment=f["environment"],
            markets=f["markets"],
            label=f["label"],
        )

    # ------------------------------------------------------------------------------------------
    # Writer thread
    # ------------------------------------------------------------------------------------------
