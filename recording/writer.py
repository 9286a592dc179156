"""The writer thread's half of the write-behind recorder: batches off the lanes, into the database.

:class:`BatchWriter` is the base of :class:`recording.recorder.Recorder`; the recorder's hot-path half (the
``record_*`` methods, bounded lanes, drop-newest backpressure, gaps, lifecycle) lives in
:mod:`recording.recorder`, this half only ever runs on the writer thread:

* take up to ``batch_size`` rows off each lane, build the frame rows (:func:`recording.rows.frame_row`);
* commit a batch in one transaction through the idempotent :class:`recording.database.BulkInserter`;
* an outage (:func:`_transient`: connection lost, locked, disk full, the SQLite file removed or replaced) is
  counted and retried with exponential backoff, reconnecting and re-creating the schema first; a batch the
  database refuses for its content is written row by row and only the refused rows are dropped.

The counters it writes (``written``, ``rows_rejected``, ``frame_errors``, ``batches``, ``write_errors``,
``dropped_at_close``, ``last_write_latency_s``, ``last_batch_rows``, ``last_error``, ``retrying``) are read
by :meth:`recording.recorder.Recorder.stats`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Final, TypeAlias

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine

from kalshi.models.ws import FrameError, WsEvent, parse_frame
from models.db import create_schema
from recording import database as rdb
from recording import rows as rb

__all__ = ["INTERNAL_TABLES", "BatchWriter", "FrameItem", "RecordItem", "RecorderConfig", "error_line"]

log = logging.getLogger("recording.recorder")  # one logger for both halves of the recorder

FrameItem: TypeAlias = tuple[int, int, Any, WsEvent | None]
"""(rec_no, recv_ms, raw frame, parsed event or None)."""

RecordItem: TypeAlias = tuple[Table, tuple[Any, ...]]
"""(table, row tuple in column order)."""

INTERNAL_TABLES: Final = frozenset({rdb.SESSION.name, rdb.GAP.name})
"""Rows the recorder writes for itself (not counted in enqueued/written)."""


class RecorderConfig(BaseModel):
    """Tuning of a :class:`recording.recorder.Recorder` (defaults suit a trader recording a few markets live).

    Attributes:
        frame_capacity: most frames queued before new ones are dropped (~100,000 frames ~ 50 MB).
        record_capacity: most rows queued on the records lane (the trader's records, plus the recorder's own
            session and gap rows) before new records are dropped.
        batch_size: most rows per lane per transaction; a full batch wakes the writer at once.
        flush_interval_s: longest a partial batch waits before it is written (seconds).
        retry_initial_s, retry_max_s: backoff between attempts while the database fails (seconds, doubling).
        sqlite_busy_timeout_ms: how long a SQLite write waits for another process's lock (ms).
        connect_timeout_s: PostgreSQL connection timeout (seconds).
        close_timeout_s: default time :meth:`recording.recorder.Recorder.close` lets the writer drain (seconds).
        writer_nice: scheduling niceness of the writer thread on Linux (0 = unchanged): batches cost
            10-15 ms of CPU under heavy load, and at a lower priority they yield the core to the event
            loop instead of delaying decisions (bench_market_data measured the p99 effect).

    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    frame_capacity: int = Field(default=100_000, ge=1)
    record_capacity: int = Field(default=10_000, ge=1)
    batch_size: int = Field(default=2_000, ge=1)
    flush_interval_s: float = Field(default=0.25, gt=0)
    retry_initial_s: float = Field(default=0.1, gt=0)
    retry_max_s: float = Field(default=5.0, gt=0)
    sqlite_busy_timeout_ms: int = Field(default=5_000, ge=0)
    connect_timeout_s: int = Field(default=10, ge=1)
    close_timeout_s: float = Field(default=10.0, ge=0)
    writer_nice: int = Field(default=10, ge=0, le=19)


class _DatabaseFileGone(Exception):
    """The SQLite database file was removed or replaced while open (a transient, retried outage)."""


_TRANSIENT_SQLSTATE_CLASSES: Final = frozenset({"08", "40", "53", "57", "58"})
"""PostgreSQL SQLSTATE classes of outages: connection, transaction rollback (deadlock, serialization),
insufficient resources (disk full, out of memory, too many connections), operator intervention (shutdown,
cannot connect now, statement timeout), system error (I/O)."""

_TRANSIENT_SQLSTATES: Final = frozenset({"25006", "55P03", "42P01"})
"""Also outages: read-only transaction (a standby after failover), lock not available, undefined table (the
database was recreated under us: the writer re-creates the schema before the next attempt)."""

_TRANSIENT_SQLITE_CODES: Final = frozenset({5, 6, 10, 11, 13, 14, 26})
"""SQLite result codes of outages: BUSY, LOCKED, IOERR, CORRUPT, FULL, CANTOPEN, NOTADB (a file that is not,
or no longer, a healthy database does not heal by dropping rows; replacing the file resumes recording)."""


def _transient(exc: BaseException) -> bool:
    """Errors of the database or its connection rather than of the rows: keep the batch and retry it later.

    Everything else (a constraint, a value the database cannot store) is blamed on the rows: the batch is
    retried row by row and only the refused rows are dropped.
    """
    if isinstance(
        exc,
        _DatabaseFileGone
        | OSError
        | sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.DisconnectionError
        | sa_exc.TimeoutError,
    ):
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and (sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES or sqlstate in _TRANSIENT_SQLSTATES):
        return True
    code = getattr(orig, "sqlite_errorcode", None)
    return isinstance(code, int) and (code & 0xFF) in _TRANSIENT_SQLITE_CODES


def error_line(exc: BaseException) -> str:
    """One line naming ``exc`` (type and first line of its message, at most 500 characters) for logs and stats."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:500]


class BatchWriter:
    """The writer thread of a recorder (see the module docstring); never used on its own.

    The attributes below are set by :class:`recording.recorder.Recorder` and shared with its producer half:
    the lanes and the condition are the only state both threads touch.
    """

    config: RecorderConfig
    url: URL
    session_id: int
    _sqlite_file: Path | None
    _frames: deque[FrameItem]
    _records: deque[RecordItem]
    _batch_size: int
    _wake: threading.Event
    _abort: threading.Event
    _progress: threading.Condition
    _closing: bool
    _finished: bool
    _flush_waiters: int
    _frames_done: int
    _records_done: int
    _engine: Engine | None
    _inserter: rdb.BulkInserter | None
    _schema_ready: bool
    _sqlite_identity: tuple[int, int] | None
    written: int
    rows_rejected: int
    frame_errors: int
    batches: int
    write_errors: int
    dropped_at_close: int
    last_write_latency_s: float
    last_batch_rows: int
    last_error: str | None
    retrying: bool

    def _run(self) -> None:
        if self.config.writer_nice and hasattr(os, "setpriority"):
            try:  # Linux: a thread is a task; only this writer thread is lowered
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.config.writer_nice)
            except OSError as exc:
                log.debug("cannot lower the recorder thread's priority: %s", exc)
        log.info("recorder session %d writing to %s", self.session_id, self.url.render_as_string(hide_password=True))
        try:
            while True:
                records = self._take(self._records)
                frames = self._take(self._frames)
                if not records and not frames:
                    # close() queues the session's end row before it sets _closing, so a closing recorder
                    # with both lanes empty here has nothing left to write
                    if self._closing and not self._records and not self._frames:
                        break
                    if not self._closing:
                        self._idle()
                    continue
                self._process(records, frames)
                if (
                    not self._closing
                    and not self._flush_waiters
                    and len(self._frames) < self._batch_size
                    and len(self._records) < self._batch_size
                ):
                    self._idle()
        except BaseException:  # pragma: no cover - a bug; never let it pass silently
            log.exception("recorder session %d: writer thread crashed", self.session_id)
            raise
        finally:
            engine, self._engine = self._engine, None
            if engine is not None:
                try:
                    engine.dispose()
                except Exception as exc:  # pragma: no cover - disposal of a dead connection
                    log.debug("engine dispose failed: %s", exc)
            with self._progress:
                self._finished = True
                self._progress.notify_all()

    def _idle(self) -> None:
        self._wake.wait(self.config.flush_interval_s)
        self._wake.clear()

    def _take(self, lane: deque[Any]) -> list[Any]:
        out: list[Any] = []
        pop = lane.popleft
        for _ in range(min(len(lane), self._batch_size)):
            try:
                out.append(pop())
            except IndexError:  # close() discarded it meanwhile
                break
        return out

    def _process(self, records: list[RecordItem], frames: list[FrameItem]) -> None:
        batch: dict[Table, list[tuple[Any, ...]]] = {}
        for table, row in records:
            rows = batch.get(table)
            if rows is None:
                batch[table] = rows = []
            rows.append(row)
        session_id = self.session_id
        frame_row = rb.frame_row
        for rec_no, recv_ms, raw, event in frames:
            try:
                data = raw if type(raw) is bytes else rb.raw_bytes(raw)
                if event is None:
                    event = parse_frame(data)
                if type(event) is FrameError:
                    self.frame_errors += 1
                table, row = frame_row(session_id, rec_no, recv_ms, data, event)
            except Exception as exc:  # pragma: no cover - frame_row handles every parse_frame result
                self.rows_rejected += 1
                self.last_error = error_line(exc)
                log.error("recorder session %d: cannot encode frame %d: %s", session_id, rec_no, self.last_error)
                continue
            rows = batch.get(table)
            if rows is None:
                batch[table] = rows = []
            rows.append(row)
        if batch:
            self._write(batch)
        with self._progress:
            self._records_done += len(records)
            self._frames_done += len(frames)
            self._progress.notify_all()

    def _ready_engine(self) -> tuple[Engine, rdb.BulkInserter]:
        """The engine, (re)created and with the schema in place; SQLite file identity checked."""
        if self._engine is None or self._inserter is None:
            self._engine = rdb.make_engine(
                self.url,
                sqlite_busy_timeout_ms=self.config.sqlite_busy_timeout_ms,
                connect_timeout_s=self.config.connect_timeout_s,
            )
            self._inserter = rdb.BulkInserter(self._engine)
            self._schema_ready = False
        engine = self._engine
        if self._sqlite_file is not None:
            identity = self._file_identity()
            if self._sqlite_identity is not None and identity != self._sqlite_identity:
                self._sqlite_identity = None
                self._schema_ready = False
                engine.dispose()
                raise _DatabaseFileGone(f"database file {self._sqlite_file} was removed or replaced")
        if not self._schema_ready:
            engine.dispose()
            create_schema(engine)
            self._schema_ready = True
            if self._sqlite_file is not None:
                self._sqlite_identity = self._file_identity()
        return engine, self._inserter

    def _file_identity(self) -> tuple[int, int] | None:
        assert self._sqlite_file is not None
        try:
            st = os.stat(self._sqlite_file)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _user_rows(self, table: Table, n: int) -> int:
        return 0 if table.name in INTERNAL_TABLES else n

    def _write(self, batch: dict[Table, list[tuple[Any, ...]]]) -> None:
        """Commit ``batch`` in one transaction; retry outages with backoff; isolate rows the database refuses."""
        delay = self.config.retry_initial_s
        while True:
            if self._abort.is_set():
                self._lose(batch)
                return
            try:
                engine, inserter = self._ready_engine()
                started = time.perf_counter()
                with engine.begin() as conn:
                    for table, rows in batch.items():
                        inserter.insert(conn, table, rows)
                self.last_write_latency_s = time.perf_counter() - started
            except Exception as exc:
                if not _transient(exc):
                    self._write_rows_one_by_one(batch, exc)
                    return
                self._failed_attempt(exc)
                self._abort.wait(delay)
                delay = min(delay * 2, self.config.retry_max_s)
                continue
            rows_total = sum(len(rows) for rows in batch.values())
            self.written += sum(self._user_rows(t, len(rows)) for t, rows in batch.items())
            self.batches += 1
            self.last_batch_rows = rows_total
            self._recovered()
            return

    def _write_rows_one_by_one(self, batch: dict[Table, list[tuple[Any, ...]]], cause: BaseException) -> None:
        log.warning(
            "recorder session %d: a batch was refused (%s); writing its rows one by one",
            self.session_id,
            error_line(cause),
        )
        for table, rows in batch.items():
            for row in rows:
                delay = self.config.retry_initial_s
                while True:
                    if self._abort.is_set():
                        self.dropped_at_close += self._user_rows(table, 1)
                        break
                    try:
                        engine, inserter = self._ready_engine()
                        with engine.begin() as conn:
                            inserter.insert(conn, table, [row])
                    except Exception as exc:
                        if _transient(exc):
                            self._failed_attempt(exc)
                            self._abort.wait(delay)
                            delay = min(delay * 2, self.config.retry_max_s)
                            continue
                        self.rows_rejected += self._user_rows(table, 1)  # the recorder's own rows: logged only
                        self.last_error = error_line(exc)
                        if self.rows_rejected <= 10 or self.rows_rejected % 1000 == 0 or table.name in INTERNAL_TABLES:
                            log.error(
                                "recorder session %d: %s row refused (%d so far): %s",
                                self.session_id,
                                table.name,
                                self.rows_rejected,
                                self.last_error,
                            )
                        break
                    self.written += self._user_rows(table, 1)
                    self._recovered()
                    break
        self.batches += 1

    def _failed_attempt(self, exc: BaseException) -> None:
        self.write_errors += 1
        self.last_error = error_line(exc)
        self._schema_ready = False  # reconnect and make sure the tables exist before the next attempt
        if not self.retrying:
            log.warning("recorder session %d: database unavailable, retrying: %s", self.session_id, self.last_error)
        self.retrying = True
        with self._progress:
            self._progress.notify_all()

    def _recovered(self) -> None:
        if self.retrying:
            log.warning("recorder session %d: database available again", self.session_id)
            self.retrying = False

    def _lose(self, batch: dict[Table, list[tuple[Any, ...]]]) -> None:
        self.dropped_at_close += sum(self._user_rows(t, len(rows)) for t, rows in batch.items())

    def _discard_queued(self) -> int:
        """Count (and forget) rows still queued after close gave up; returns how many user rows."""
        lost = 0
        while True:
            try:
                self._frames.popleft()
            except IndexError:
                break
            lost += 1
        while True:
            try:
                table, _row = self._records.popleft()
            except IndexError:
                break
            lost += self._user_rows(table, 1)
        self.dropped_at_close += lost
        return lost
