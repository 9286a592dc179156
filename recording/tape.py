"""Recorded sessions <-> tape directories in the ``kalshi-gold15m`` layout (../shared/data/README.md).

:func:`export_ndjson` turns one recording session into a directory the simulator replays
(``SimulatorServer(SimulatorConfig(data_dir=out_dir))``) and any tool that reads the recorded tapes reads::

    out_dir/
      events/<ticker>/<utc-date>.ndjson.gz   one line per frame, in receive order:
                                             {"recv_ms":<Unix ms>,"event":<the frame exactly as received>}
      metadata/<event_ticker>.json           {"fetched_at_ms", "response": {"event", "markets"}, "status", "url"}
      MARKETS.csv                            one row per market with a known result (what the simulator lists)
      MANIFEST.csv                           window,file,bytes_gz,events

Frames are written from the stored raw bytes, so a frame recorded from Kalshi is exported byte for byte (a
frame containing a line break, which Kalshi never sends, is re-encoded compactly and counted). Files are
split by the UTC date of ``recv_ms``, as the recorder of the public tapes did. Malformed frames are never
exported (they stay in ``ws_frame`` with their reason).

:func:`import_ndjson` reads such a directory (the public tapes, or an export) into a new session, through the
same row builders the live recorder uses; importing then exporting reproduces every frame line byte for byte.

Both are synchronous, offline tools (they do I/O in the calling thread): call them from a thread or a CLI,
never from the trading loop. Command line (:mod:`workers.cli`)::

    kalshi-trader sessions --db sqlite:///recording.db
    kalshi-trader export --db sqlite:///recording.db --session 1786410915524123 --out tape/
    kalshi-trader import --db sqlite:///recording.db --data-dir ../shared/data/kalshi-gold15m
    kalshi-sim --data-dir tape/          # replay the recording
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import msgspec
from sqlalchemy import Table, func, select, union_all
from sqlalchemy.engine import URL, Connection

from kalshi.models.ws import FrameError, MarketLifecycle, parse_frame
from models.db import create_schema
from recording import database as rdb
from recording import rows as rb
from recording.recorder import new_session_id

__all__ = [
    "MARKETS_CSV_COLUMNS",
    "TAPE_FRAME_TYPES",
    "ExportError",
    "ExportResult",
    "ExportedFile",
    "ImportResult",
    "SessionInfo",
    "export_ndjson",
    "import_ndjson",
    "list_sessions",
    "session_frame_counts",
]

TAPE_FRAME_TYPES: Final = ("orderbook_snapshot", "orderbook_delta", "trade")
"""Frame types of a public market-data tape (what the simulator replays); the export's default."""

MARKETS_CSV_COLUMNS: Final = (
    "window",
    "event_ticker",
    "open_time",
    "close_time",
    "strike_type",
    "floor_strike",
    "status",
    "result",
    "expiration_value",
    "settlement_value_dollars",
    "settlement_ts",
    "price_level_structure",
    "volume_fp",
    "open_interest_fp",
)
"""Columns of ``MARKETS.csv`` (as in kalshi-gold15m; ``window`` is the market ticker)."""

_TYPED_TABLES: Final[dict[str, Table]] = {
    "orderbook_snapshot": rdb.BOOK_SNAPSHOT,
    "orderbook_delta": rdb.BOOK_DELTA,
    "trade": rdb.MARKET_TRADE,
}
_DAY_MS: Final = 86_400_000
_EPOCH_DAY: Final = date(1970, 1, 1)
_PRETTY: Final = msgspec.json.Encoder(decimal_format="number", order="sorted")
_LINE_HEAD: Final = b'{"recv_ms":'
_EVENT_KEY: Final = b',"event":'


class ExportError(Exception):
    """The export cannot be made: unknown session, or an output directory that is not empty."""


@dataclass(frozen=True)
class ExportedFile:
    """One written tape file: ``path`` relative to the output directory, frame count, compressed size (bytes)."""

    ticker: str
    path: str
    frames: int
    bytes_gz: int


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_ndjson` wrote.

    Attributes:
        session_id: the exported session.
        out_dir: the output directory.
        files: every events file, in ticker then date order.
        markets: tickers listed in ``MARKETS.csv`` (known definition and a yes/no result).
        unresolved: tickers with frames but left out of ``MARKETS.csv`` (no recorded definition, or not
            determined yet: the simulator needs the result); their events files are written anyway.
        reencoded_frames: frames whose raw text held a line break and were re-encoded compactly.
        gaps: ``(lane, first_recv_ms, last_recv_ms, dropped)`` of every recording gap of the session.

    """

    session_id: int
    out_dir: Path
    files: tuple[ExportedFile, ...]
    markets: tuple[str, ...]
    unresolved: tuple[str, ...]
    reencoded_frames: int
    gaps: tuple[tuple[str, int, int, int], ...] = field(default=())

    @property
    def frames(self) -> int:
        """Frames written over all files."""
        return sum(f.frames for f in self.files)


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_ndjson` read.

    Attributes:
        session_id: the new session holding the import.
        frames: frames imported.
        markets: market definitions imported.
        files: events files read.
        reencoded_lines: lines not in the canonical ``{"recv_ms":N,"event":...}`` spelling, whose event was
            re-encoded compactly (their raw bytes differ from the file).
        bad_lines: lines that were not JSON objects with ``recv_ms`` and ``event`` (skipped).

    """

    session_id: int
    frames: int
    markets: int
    files: int
    reencoded_lines: int
    bad_lines: int


# --------------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------------


def _utc_date(recv_ms: int, cache: dict[int, str]) -> str:
    day = recv_ms // _DAY_MS
    text = cache.get(day)
    if text is None:
        text = cache[day] = (_EPOCH_DAY + timedelta(days=day)).isoformat()
    return text


def _frames_query(session_id: int, ticker: str, frame_types: Sequence[str]) -> Any:
    parts = []
    for kind, table in _TYPED_TABLES.items():
        if kind in frame_types:
            parts.append(
                select(table.c.rec_no, table.c.recv_ms, table.c.raw).where(
                    table.c.session_id == session_id, table.c.ticker == ticker
                )
            )
    others = [t for t in frame_types if t not in _TYPED_TABLES]
    if others:
        ws = rdb.WS_FRAME
        parts.append(
            select(ws.c.rec_no, ws.c.recv_ms, ws.c.raw).where(
                ws.c.session_id == session_id, ws.c.ticker == ticker, ws.c.type.in_(others), ws.c.error.is_(None)
            )
        )
    sub = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    return select(sub.c.rec_no, sub.c.recv_ms, sub.c.raw).order_by(sub.c.rec_no)


def _tickers(conn: Connection, session_id: int, frame_types: Sequence[str]) -> list[str]:
    found: set[str] = set()
    for kind, table in _TYPED_TABLES.items():
        if kind in frame_types:
            found.update(conn.scalars(select(table.c.ticker).distinct().where(table.c.session_id == session_id)))
    others = [t for t in frame_types if t not in _TYPED_TABLES]
    if others:
        ws = rdb.WS_FRAME
        found.update(
            t
            for t in conn.scalars(
                select(ws.c.ticker)
                .distinct()
                .where(ws.c.session_id == session_id, ws.c.type.in_(others), ws.c.error.is_(None))
            )
            if t
        )
    return sorted(found)


def _line(recv_ms: int, raw: bytes) -> tuple[bytes, bool]:
    if b"\n" in raw or b"\r" in raw:
        return b'{"recv_ms":%d,"event":%b}\n' % (recv_ms, msgspec.json.encode(msgspec.json.decode(raw))), True
    return b'{"recv_ms":%d,"event":%b}\n' % (recv_ms, raw), False


def _write_ticker(
    conn: Connection, session_id: int, ticker: str, frame_types: Sequence[str], out_dir: Path, compresslevel: int
) -> tuple[list[ExportedFile], int]:
    """Stream one market's frames (receive order) into per-UTC-date gzip files."""
    dates: dict[int, str] = {}
    open_files: dict[str, tuple[Any, gzip.GzipFile, list[int]]] = {}
    reencoded = 0
    folder = out_dir / "events" / ticker
    try:
        result = conn.execution_options(yield_per=5_000).execute(_frames_query(session_id, ticker, frame_types))
        for _rec_no, recv_ms, raw in result:
            day = _utc_date(recv_ms, dates)
            entry = open_files.get(day)
            if entry is None:
                folder.mkdir(parents=True, exist_ok=True)
                fh = open(folder / f"{day}.ndjson.gz", "wb")  # noqa: SIM115 - closed in finally
                gz = gzip.GzipFile(filename="", mode="wb", fileobj=fh, compresslevel=compresslevel, mtime=0)
                entry = open_files[day] = (fh, gz, [0])
            line, changed = _line(recv_ms, bytes(raw))
            reencoded += changed
            entry[1].write(line)
            entry[2][0] += 1
    finally:
        for fh, gz, _count in open_files.values():
            gz.close()
            fh.close()
    files = []
    for day, (_fh, _gz, count) in sorted(open_files.items()):
        path = folder / f"{day}.ndjson.gz"
        files.append(ExportedFile(ticker, f"events/{ticker}/{day}.ndjson.gz", count[0], path.stat().st_size))
    return files, reencoded


def _determined_result(conn: Connection, session_id: int, ticker: str) -> str:
    """The result of the last recorded ``market_lifecycle_v2`` ``determined`` frame of ``ticker``, else ``""``."""
    ws = rdb.WS_FRAME
    rows = conn.execute(
        select(ws.c.raw)
        .where(
            ws.c.session_id == session_id,
            ws.c.ticker == ticker,
            ws.c.type == "market_lifecycle_v2",
            ws.c.error.is_(None),
        )
        .order_by(ws.c.rec_no.desc())
    )
    for (raw,) in rows:
        event = parse_frame(bytes(raw))
        if isinstance(event, MarketLifecycle) and event.event_type == "determined" and event.result:
            return event.result
    return ""


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _loads_exact(text: str | None) -> dict[str, Any] | None:
    """JSON text -> dict with non-integers as Decimal (digits kept: ``4128.40`` stays ``4128.40``)."""
    if text is None:
        return None
    value = json.loads(text, parse_float=Decimal)
    return value if isinstance(value, dict) else None


def export_ndjson(
    database_url: str | Path | URL,
    session_id: int,
    out_dir: str | os.PathLike[str],
    *,
    tickers: Iterable[str] | None = None,
    frame_types: Sequence[str] = TAPE_FRAME_TYPES,
    compresslevel: int = 6,
) -> ExportResult:
    """Write one recording session as a ``kalshi-gold15m`` tape directory (see the module docstring).

    Args:
        database_url: the recorder's database (``sqlite:///...`` or ``postgresql+psycopg://...``).
        session_id: the session to export.
        out_dir: output directory; created, and it must be empty if it exists.
        tickers: only these markets (default: every market with frames of ``frame_types``).
        frame_types: frame ``type`` values to export (default: snapshots, deltas, trades: a public tape);
            add e.g. ``"ticker"`` or ``"market_lifecycle_v2"`` to export those frames too.
        compresslevel: gzip level 1..9.

    Returns:
        An :class:`ExportResult` (files, markets listed, markets left out, gaps of the recording).

    Raises:
        ExportError: no such session (no session row and no frames), or ``out_dir`` is not empty.
        ValueError: an invalid database URL.
        sqlalchemy.exc.SQLAlchemyError: the database could not be read.
        OSError: the files could not be written.

    """
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} exists and is not an empty directory")
    wanted = None if tickers is None else set(tickers)
    engine = rdb.make_engine(database_url)
    try:
        with engine.connect() as conn:
            session = conn.execute(select(rdb.SESSION).where(rdb.SESSION.c.id == session_id)).mappings().first()
            names = [t for t in _tickers(conn, session_id, frame_types) if wanted is None or t in wanted]
            if session is None and not names:
                raise ExportError(f"no recording session {session_id} in the database")
            out.mkdir(parents=True, exist_ok=True)
            files: list[ExportedFile] = []
            reencoded = 0
            for ticker in names:
                written, changed = _write_ticker(conn, session_id, ticker, frame_types, out, compresslevel)
                files.extend(written)
                reencoded += changed
            metadata = [
                dict(row)
                for row in conn.execute(select(rdb.MARKET).where(rdb.MARKET.c.session_id == session_id)).mappings()
            ]
            markets, unresolved, meta_files = _write_markets(conn, session_id, metadata, names, wanted, out)
            gaps = tuple(
                (g.lane, g.first_recv_ms, g.last_recv_ms, g.dropped)
                for g in conn.execute(
                    select(rdb.GAP).where(rdb.GAP.c.session_id == session_id).order_by(rdb.GAP.c.rec_no)
                ).all()
            )
    finally:
        engine.dispose()
    _write_manifest(out, files, meta_files)
    return ExportResult(
        session_id=session_id,
        out_dir=out,
        files=tuple(files),
        markets=tuple(markets),
        unresolved=tuple(unresolved),
        reencoded_frames=reencoded,
        gaps=gaps,
    )


def _write_markets(
    conn: Connection,
    session_id: int,
    metadata: Sequence[Mapping[str, Any]],
    recorded: Sequence[str],
    wanted: set[str] | None,
    out: Path,
) -> tuple[list[str], list[str], list[tuple[str, str, int]]]:
    """Write ``MARKETS.csv`` and ``metadata/<event>.json``; return (listed, unresolved, metadata files)."""
    by_ticker = {row["ticker"]: row for row in metadata if wanted is None or row["ticker"] in wanted}
    listed: list[tuple[int, str, dict[str, Any], Mapping[str, Any]]] = []
    unresolved: list[str] = []
    for ticker in sorted(set(by_ticker) | set(recorded)):
        row = by_ticker.get(ticker)
        market = _loads_exact(row["market_json"]) if row is not None else None
        if row is None or market is None:
            unresolved.append(ticker)
            continue
        result = str(market.get("result") or row["result"] or "") or _determined_result(conn, session_id, ticker)
        if result not in ("yes", "no") or not market.get("open_time") or not market.get("close_time"):
            unresolved.append(ticker)
            continue
        market["result"] = result
        listed.append((row["open_ms"] or 0, ticker, market, row))
    listed.sort(key=lambda item: (item[0], item[1]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MARKETS_CSV_COLUMNS)
    events: dict[str, list[tuple[dict[str, Any], Mapping[str, Any]]]] = {}
    for _open_ms, ticker, market, row in listed:
        values = {name: market.get(name) for name in MARKETS_CSV_COLUMNS}
        values["window"] = ticker
        values["event_ticker"] = row["event_ticker"]
        writer.writerow([_csv_value(values[name]) for name in MARKETS_CSV_COLUMNS])
        events.setdefault(row["event_ticker"], []).append((market, row))
    (out / "MARKETS.csv").write_text(buffer.getvalue())
    meta_files: list[tuple[str, str, int]] = []
    if events:
        (out / "metadata").mkdir(exist_ok=True)
    for event_ticker, members in sorted(events.items()):
        latest = max(members, key=lambda m: m[1]["fetched_ms"])[1]
        event_obj = next(
            (e for e in (_loads_exact(m[1]["event_json"]) for m in members) if e is not None),
            {"event_ticker": event_ticker, "series_ticker": latest["series_ticker"]},
        )
        document = {
            "fetched_at_ms": latest["fetched_ms"],
            "response": {"event": event_obj, "markets": [m[0] for m in sorted(members, key=lambda m: m[1]["ticker"])]},
            "status": 200,
            "url": latest["source_url"] or "",
        }
        path = out / "metadata" / f"{event_ticker}.json"
        path.write_bytes(msgspec.json.format(_PRETTY.encode(document), indent=1))
        for market, _row in members:
            meta_files.append((str(market["ticker"]), f"metadata/{event_ticker}.json", path.stat().st_size))
    return [item[1] for item in listed], unresolved, meta_files


def _write_manifest(out: Path, files: Sequence[ExportedFile], meta_files: Sequence[tuple[str, str, int]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("window", "file", "bytes_gz", "events"))
    for f in files:
        writer.writerow((f.ticker, f.path, f.bytes_gz, f.frames))
    for ticker, path, size in meta_files:
        writer.writerow((ticker, path, size, ""))
    (out / "MANIFEST.csv").write_text(buffer.getvalue())


# --------------------------------------------------------------------------------------------------
# Import
# --------------------------------------------------------------------------------------------------


def _split_line(line: bytes) -> tuple[int, bytes, bool] | None:
    """``(recv_ms, raw event bytes, re-encoded?)`` of one tape line, or ``None`` if it is not one.

    The canonical spelling ``{"recv_ms":N,"event":<frame>}`` is sliced (the frame's exact bytes); anything
    else is parsed as JSON and its event re-encoded compactly.
    """
    if line.startswith(_LINE_HEAD):
        cut = line.find(_EVENT_KEY)
        end = line.rstrip(b"\r\n")
        if cut > len(_LINE_HEAD) and end.endswith(b"}"):
            digits = line[len(_LINE_HEAD) : cut]
            if digits.isdigit():
                return int(digits), end[cut + len(_EVENT_KEY) : -1], False
    return _split_line_json(line)


def _split_line_json(line: bytes) -> tuple[int, bytes, bool] | None:
    try:
        record = json.loads(line)
        recv_ms = record["recv_ms"]
        event = record["event"]
    except (ValueError, KeyError, TypeError):
        return None
    if type(recv_ms) is not int or not isinstance(event, dict):
        return None
    return recv_ms, msgspec.json.encode(event), True


def _tape_lines(paths: Sequence[Path]) -> Iterator[bytes]:
    for path in paths:
        with gzip.open(path, "rb") as fh:
            for line in fh:
                if line.strip():
                    yield line


def _csv_market(row: Mapping[str, str]) -> dict[str, Any]:
    """A minimal REST-like market object from a ``MARKETS.csv`` row (when no metadata file exists)."""
    market: dict[str, Any] = {"ticker": row["window"]}
    for name in MARKETS_CSV_COLUMNS[1:]:
        value = row.get(name)
        if value not in (None, ""):
            market[name] = Decimal(value) if name == "floor_strike" else value
    return market


def import_ndjson(
    database_url: str | Path | URL,
    data_dir: str | os.PathLike[str],
    *,
    tickers: Iterable[str] | None = None,
    session_id: int | None = None,
    environment: str = "import",
    batch_rows: int = 5_000,
) -> ImportResult:
    """Import a ``kalshi-gold15m``-layout directory into a new recording session.

    Every frame line becomes one row exactly as the live recorder would store it (raw bytes sliced out of the
    line, ``recv_ms`` from the line, parsed with :func:`kalshi.models.ws.parse_frame`; malformed frames land
    in ``ws_frame`` with their reason). ``MARKETS.csv`` and ``metadata/<event>.json`` become
    ``market_metadata`` rows.

    Args:
        database_url: target database (tables are created if missing).
        data_dir: the directory (``events/``, ``metadata/``, ``MARKETS.csv``; any may be absent).
        tickers: only these markets (default: all).
        session_id: the new session's id (default: a fresh one).
        environment: stored on the session row.
        batch_rows: rows per transaction.

    Returns:
        An :class:`ImportResult`.

    Raises:
        FileNotFoundError: ``data_dir`` does not exist.
        ValueError: an invalid database URL, or an unparseable ``MARKETS.csv``/metadata time.
        sqlalchemy.exc.SQLAlchemyError: the database refused.

    """
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    wanted = None if tickers is None else set(tickers)
    events_dir = root / "events"
    ticker_dirs = sorted(d for d in events_dir.iterdir() if d.is_dir()) if events_dir.is_dir() else []
    ticker_dirs = [d for d in ticker_dirs if wanted is None or d.name in wanted]
    started_ms = _wall_ms()
    sid = session_id if session_id is not None else new_session_id(started_ms)
    markets_rows = _market_rows(root, sid, wanted, started_ms)
    engine = rdb.make_engine(database_url)
    inserter = rdb.BulkInserter(engine)
    frames = files = reencoded = bad = 0
    try:
        create_schema(engine)
        session_fields: dict[str, Any] = {
            "started_ms": started_ms,
            "source_url": str(root.resolve()),
            "environment": environment,
            "markets": [d.name for d in ticker_dirs],
            "label": "",
        }
        with engine.begin() as conn:
            inserter.insert(conn, rdb.SESSION, [rb.session_row(sid, ended_ms=None, **session_fields)])
            inserter.insert(conn, rdb.MARKET, markets_rows)
        rec_no = 0
        for folder in ticker_dirs:
            paths = sorted(folder.glob("*.ndjson.gz"))
            files += len(paths)
            batch: dict[Table, list[tuple[Any, ...]]] = {}
            pending = 0
            for line in _tape_lines(paths):
                split = _split_line(line)
                if split is None:
                    bad += 1
                    continue
                recv_ms, raw, changed = split
                event = parse_frame(raw)
                if not changed and isinstance(event, FrameError):
                    # a line that only looks canonical (e.g. a key after "event"): take the JSON reading
                    again = _split_line_json(line)
                    if again is not None and again[1] != raw:
                        recv_ms, raw, changed = again
                        event = parse_frame(raw)
                reencoded += changed
                rec_no += 1
                table, row = rb.frame_row(sid, rec_no, recv_ms, raw, event)
                batch.setdefault(table, []).append(row)
                pending += 1
                if pending >= batch_rows:
                    _flush(engine, inserter, batch)
                    frames += pending
                    batch, pending = {}, 0
            _flush(engine, inserter, batch)
            frames += pending
        with engine.begin() as conn:
            inserter.insert(conn, rdb.SESSION, [rb.session_row(sid, ended_ms=_wall_ms(), **session_fields)])
    finally:
        engine.dispose()
    return ImportResult(
        session_id=sid, frames=frames, markets=len(markets_rows), files=files, reencoded_lines=reencoded, bad_lines=bad
    )


def _flush(engine: Any, inserter: rdb.BulkInserter, batch: Mapping[Table, list[tuple[Any, ...]]]) -> None:
    if batch:
        with engine.begin() as conn:
            for table, rows in batch.items():
                inserter.insert(conn, table, rows)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def _market_rows(root: Path, sid: int, wanted: set[str] | None, now_ms: int) -> list[tuple[Any, ...]]:
    index = root / "MARKETS.csv"
    rows: list[tuple[Any, ...]] = []
    if not index.is_file():
        return rows
    with index.open(newline="") as fh:
        for csv_row in csv.DictReader(fh):
            ticker = csv_row.get("window") or ""
            if not ticker or (wanted is not None and ticker not in wanted):
                continue
            event_ticker = csv_row.get("event_ticker") or ticker.rsplit("-", 1)[0]
            meta_path = root / "metadata" / f"{event_ticker}.json"
            market: dict[str, Any] | None = None
            event: dict[str, Any] | None = None
            fetched_ms, url = now_ms, ""
            if meta_path.is_file():
                document = json.loads(meta_path.read_text(), parse_float=Decimal)
                response = document.get("response") or {}
                event = response.get("event")
                market = next((m for m in response.get("markets") or () if m.get("ticker") == ticker), None)
                fetched_ms = int(document.get("fetched_at_ms") or now_ms)
                url = str(document.get("url") or "")
            if market is None:
                market = _csv_market(csv_row)
            market.setdefault("event_ticker", event_ticker)
            rows.append(rb.market_row(sid, market, event=event, fetched_ms=fetched_ms, source_url=url))
    return rows


def session_frame_counts(database_url: str | Path | URL, session_id: int) -> dict[str, int]:
    """Rows per frame table of one session (``{"book_delta": n, ...}``); a quick check of a recording.

    Raises:
        ValueError: an invalid database URL.
        sqlalchemy.exc.SQLAlchemyError: the database could not be read.

    """
    engine = rdb.make_engine(database_url)
    try:
        with engine.connect() as conn:
            return {
                table.name: int(
                    conn.scalar(select(func.count()).select_from(table).where(table.c.session_id == session_id)) or 0
                )
                for table in (rdb.BOOK_SNAPSHOT, rdb.BOOK_DELTA, rdb.MARKET_TRADE, rdb.WS_FRAME)
            }
    finally:
        engine.dispose()


@dataclass(frozen=True)
class SessionInfo:
    """One ``recording_session`` row.

    Attributes:
        id: the session id.
        started_ms, ended_ms: Unix ms; ``ended_ms`` is ``None`` while recording (or after a crash).
        environment, source_url, markets, label: as given to the recorder.
    """

    id: int
    started_ms: int
    ended_ms: int | None
    environment: str
    source_url: str
    markets: tuple[str, ...]
    label: str


def list_sessions(database_url: str | Path | URL) -> list[SessionInfo]:
    """Every recording session in the database, oldest first.

    Raises:
        ValueError: an invalid database URL.
        sqlalchemy.exc.SQLAlchemyError: the database could not be read (e.g. it has no recorder tables).

    """
    engine = rdb.make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(rdb.SESSION).order_by(rdb.SESSION.c.started_ms, rdb.SESSION.c.id)).mappings()
            return [
                SessionInfo(
                    id=r["id"],
                    started_ms=r["started_ms"],
                    ended_ms=r["ended_ms"],
                    environment=r["environment"],
                    source_url=r["source_url"],
                    markets=tuple(r["markets"] or ()),
                    label=r["label"],
                )
                for r in rows
            ]
    finally:
        engine.dispose()
