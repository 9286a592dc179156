"""Database plumbing shared by the write-behind recorder and the tape export/import.

* :func:`normalize_database_url` / :func:`make_engine`: SQLite files (WAL, ``synchronous=NORMAL``) by default,
  PostgreSQL through psycopg 3 (``postgresql+psycopg://user:pw@host/db``); other dialects are refused.
* :class:`BulkInserter`: one pre-compiled, idempotent ``INSERT ... ON CONFLICT DO NOTHING`` (or ``DO UPDATE``
  for the two "latest wins" tables) per table, executed as a DB-API ``executemany`` of plain tuples. This
  skips SQLAlchemy's per-row parameter processing, so the writer thread spends most of a batch inside the
  driver (``sqlite3`` releases the GIL around every step) and very little holding the GIL.
* The table handles (``SESSION``, ``BOOK_DELTA``, ...) of :mod:`models.db` that rows are written to; the rows
  themselves are built by :mod:`recording.rows`.

Nothing here sleeps, retries or swallows errors: callers decide.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError

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
    table_of,
)

__all__ = [
    "BOOK_DELTA",
    "BOOK_SNAPSHOT",
    "CALIBRATION",
    "CLOSE",
    "DEFAULT_DATABASE_URL",
    "EPOCH",
    "GAP",
    "MARKET",
    "MARKET_TRADE",
    "ORDER",
    "POSITION",
    "SESSION",
    "STATUS",
    "SUPPORTED_DIALECTS",
    "TRADER_FILL",
    "WS_FRAME",
    "BulkInserter",
    "ensure_parent_dir",
    "make_engine",
    "normalize_database_url",
    "sqlite_path",
]

SUPPORTED_DIALECTS: Final = ("sqlite", "postgresql")
"""Database backends the recorder supports (and is tested on)."""

DEFAULT_DATABASE_URL: Final = "sqlite:///.state/recording.db"
"""Where the recorder writes when not told otherwise: a SQLite file under ``.state/`` (git-ignored), resolved
against the working directory when the recorder is created."""

SESSION: Final = table_of(RecordingSession)
GAP: Final = table_of(RecordingGap)
BOOK_SNAPSHOT: Final = table_of(BookSnapshot)
BOOK_DELTA: Final = table_of(BookDelta)
MARKET_TRADE: Final = table_of(MarketTrade)
WS_FRAME: Final = table_of(WsFrame)
ORDER: Final = table_of(OrderRecord)
TRADER_FILL: Final = table_of(TraderFill)
POSITION: Final = table_of(PositionRecord)
CALIBRATION: Final = table_of(CalibrationRecord)
STATUS: Final = table_of(StatusRecord)
EPOCH: Final = table_of(EpochRecord)
CLOSE: Final = table_of(CloseRecord)
MARKET: Final = table_of(MarketMetadata)

_UPSERT_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    SESSION.name: ("ended_ms", "markets", "label"),
    MARKET.name: tuple(c.name for c in MARKET.columns if not c.primary_key),
}
"""Tables written "latest wins" (``ON CONFLICT DO UPDATE`` of these columns); every other table is append-only
and a re-sent row is ignored (``ON CONFLICT DO NOTHING``)."""


# --------------------------------------------------------------------------------------------------
# Engines
# --------------------------------------------------------------------------------------------------


def normalize_database_url(url: str | Path | URL) -> URL:
    """Parse a database URL (or a bare SQLite file path) into a SQLAlchemy :class:`~sqlalchemy.engine.URL`.

    * a :class:`~pathlib.Path` or a string without ``://`` is a SQLite file: ``"rec.db"`` ->
      ``sqlite:///<absolute path>``; a relative ``sqlite:///rel/path.db`` is made absolute too (against the
      working directory now, so a later ``chdir`` cannot move the database);
    * ``postgresql://`` and ``postgres://`` select the psycopg 3 driver (``postgresql+psycopg://``);
    * ``sqlite:///path`` and ``postgresql+psycopg://user:pw@host:port/db?host=/socket/dir`` pass through.

    Raises:
        ValueError: an unparseable URL, a dialect other than SQLite/PostgreSQL, a PostgreSQL driver other than
            psycopg, or an in-memory (each connection would see a different empty database) or ``file:`` URI
            SQLite database.

    """
    if isinstance(url, Path) or (isinstance(url, str) and "://" not in url):
        return URL.create("sqlite", database=str(Path(url).expanduser().resolve()))
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"not a database URL: {url!r}") from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    if backend not in SUPPORTED_DIALECTS:
        raise ValueError(f"unsupported database {backend!r}: use sqlite:///path or postgresql+psycopg://...")
    if backend == "postgresql":
        if driver not in ("", "psycopg"):
            raise ValueError(f"unsupported PostgreSQL driver {driver!r}: use postgresql+psycopg://")
        parsed = parsed.set(drivername="postgresql+psycopg")
    else:
        if not parsed.database or parsed.database == ":memory:" or parsed.database.startswith("file:"):
            raise ValueError("an in-memory or URI SQLite database cannot be recorded to or exported: give a file path")
        parsed = parsed.set(database=str(Path(parsed.database).expanduser().resolve()))
    return parsed


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL (absolute), or ``None`` for other dialects."""
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database).expanduser().resolve()


def make_engine(
    url: str | Path | URL,
    *,
    sqlite_busy_timeout_ms: int = 5_000,
    connect_timeout_s: int = 10,
) -> Engine:
    """A SQLAlchemy engine for ``url`` configured for the recorder (creating it opens no connection).

    SQLite: every connection sets ``journal_mode=WAL`` (readers never block the writer, and the writer never
    blocks readers such as an export), ``synchronous=NORMAL`` (no fsync per commit; a power loss can lose the
    last transactions but never corrupts the file) and ``busy_timeout`` (how long a write waits for another
    process's lock before failing with "database is locked").
    PostgreSQL (psycopg 3): ``connect_timeout`` bounds a connection attempt to a dead host, and
    ``pool_pre_ping`` replaces connections a server restart killed.

    Args:
        url: see :func:`normalize_database_url`.
        sqlite_busy_timeout_ms: SQLite lock wait, milliseconds.
        connect_timeout_s: PostgreSQL connection timeout, seconds.

    Raises:
        ValueError: see :func:`normalize_database_url`.

    """
    parsed = normalize_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, paramstyle="qmark")
        busy = int(sqlite_busy_timeout_ms)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout={busy}")
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            finally:
                cursor.close()

        return engine
    return create_engine(
        parsed,
        paramstyle="format",
        pool_pre_ping=True,
        pool_size=2,
        max_overflow=2,
        connect_args={"connect_timeout": int(connect_timeout_s)},
    )


class BulkInserter:
    """Idempotent multi-row inserts of plain tuples (column order of the table) for one engine's dialect.

    Append-only tables use ``INSERT ... ON CONFLICT DO NOTHING``: every row's primary key
    ``(session_id, rec_no)`` is fixed before it is sent, so re-sending a batch whose commit outcome was lost
    inserts nothing twice. ``recording_session`` and ``market_metadata`` use ``ON CONFLICT DO UPDATE`` (the
    latest write wins).

    Args:
        engine: a SQLite or PostgreSQL engine from :func:`make_engine` (its paramstyle is positional).

    Raises:
        ValueError: the engine's dialect is not supported.

    """

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect
        if dialect.name == "sqlite":
            insert_fn: Callable[[Table], Any] = sqlite.insert
        elif dialect.name == "postgresql":
            insert_fn = postgresql.insert
        else:  # pragma: no cover - normalize_database_url refuses these first
            raise ValueError(f"unsupported dialect {dialect.name!r}")
        if dialect.paramstyle not in ("qmark", "format"):
            raise ValueError(f"BulkInserter needs a positional paramstyle, got {dialect.paramstyle!r}")
        self._insert_fn = insert_fn
        self._dialect = dialect
        self._sql: dict[str, str] = {}

    def sql(self, table: Table) -> str:
        """The compiled, idempotent INSERT statement for ``table`` (positional parameters, column order)."""
        text = self._sql.get(table.name)
        if text is None:
            stmt = self._insert_fn(table)
            upsert = _UPSERT_COLUMNS.get(table.name)
            if upsert:
                stmt = stmt.on_conflict_do_update(
                    index_elements=list(table.primary_key.columns),
                    set_={name: stmt.excluded[name] for name in upsert},
                )
            else:
                stmt = stmt.on_conflict_do_nothing()
            compiled = stmt.compile(dialect=self._dialect)
            order = list(compiled.positiontup or ())
            if order != [c.name for c in table.columns]:
                raise RuntimeError(f"{table.name}: compiled parameter order {order} is not the column order")
            text = compiled.string
            self._sql[table.name] = text
        return text

    def insert(self, conn: Connection, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert ``rows`` (tuples in ``table``'s column order) in the connection's current transaction.

        Raises:
            sqlalchemy.exc.DBAPIError: whatever the database raised (connection lost, locked, constraint...).

        """
        if rows:
            conn.exec_driver_sql(self.sql(table), list(rows))


def ensure_parent_dir(url: URL) -> None:
    """Create the directory of a SQLite database file if it is missing (configuration time only).

    Raises:
        OSError: the directory cannot be created.

    """
    path = sqlite_path(url)
    if path is not None:
        os.makedirs(path.parent, exist_ok=True)
