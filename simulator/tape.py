"""The market catalog and the lazily streamed recorded tape (docs/simulator.md "Data").

A :class:`Catalog` holds every series, event and market the simulator lists, built either from a
recorded data directory (``kalshi-gold15m`` layout: ``MARKETS.csv``, ``metadata/<event>.json`` = the REST
``GET /events/{event_ticker}`` response, ``events/<ticker>/<date>.ndjson.gz`` = one WebSocket frame per
line, see ../shared/data/README.md) or from :mod:`simulator.synthetic`.

Each market's tape is a :class:`TapeSource` yielding :class:`TapeFrame` objects in file order. Files are
opened only when the replay engine asks for a market's frames and closed when the generator is
exhausted or closed, so the ~1.9 M recorded frames are never in memory at once.

Frame time (kalshi-api.md §6.5, data README): ``msg.ts_ms`` (the exchange clock) for
``orderbook_delta`` and ``trade``; ``recv_ms`` (the collector clock) for ``orderbook_snapshot``, which
carries no exchange time.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from models.money import to_decimal
from simulator.timeutil import parse_iso_ms

log = logging.getLogger(__name__)

SNAPSHOT = "orderbook_snapshot"
DELTA = "orderbook_delta"
TRADE = "trade"


class CatalogError(ValueError):
    """The data directory is missing or unreadable."""


class TapeFrame(NamedTuple):
    """One recorded WebSocket frame: its replay time (epoch ms), its ``type`` and its ``msg`` dict."""

    time_ms: int
    type: str
    msg: dict[str, Any]


class TapeSource(Protocol):
    """Something that can stream a market's frames, in recorded order, from the start."""

    def frames(self) -> Iterator[TapeFrame]:
        """Return a fresh lazy iterator over the market's frames."""
        ...


class TapeError(ValueError):
    """A recorded tape file is empty, truncated or corrupt (raised by :meth:`FileTape.frames` in strict mode)."""


@dataclass(frozen=True)
class FileTape:
    """A market's recorded tape: one or more ``.ndjson.gz`` files read in order (lazily)."""

    files: tuple[Path, ...]

    def frames(self, strict: bool = False) -> Iterator[TapeFrame]:
        """Yield frames file by file, line by line; a file is open only while it is being read.

        Lenient (the simulator's default, serving whatever the recording holds): lines that are not JSON are
        skipped (logged at WARNING once per file), frames of other types are skipped. Strict (the training
        environment, which must never learn from a damaged tape): a malformed line, a truncated or unreadable
        gzip stream and a tape without any frame raise :class:`TapeError` naming the file and line.

        Raises:
            TapeError: in strict mode only (see above).

        """
        seen = 0
        for path in self.files:
            bad = 0
            try:
                with gzip.open(path, "rb") as fh:
                    for number, line in enumerate(fh, 1):
                        if not line.strip():
                            continue
                        try:
                            record = json.loads(line)
                            event = record["event"]
                            kind = event["type"]
                            msg = event.get("msg") or {}
                            if kind == SNAPSHOT:
                                time_ms = int(record["recv_ms"])
                            elif kind in (DELTA, TRADE):
                                time_ms = int(msg.get("ts_ms") or record["recv_ms"])
                            else:
                                continue
                        except (ValueError, KeyError, TypeError, AttributeError) as exc:
                            if strict:
                                raise TapeError(f"{path}:{number}: not a recorded frame ({exc})") from exc
                            bad += 1
                            continue
                        seen += 1
                        yield TapeFrame(time_ms, kind, msg)
            except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError; a cut-off stream is EOFError
                if strict:
                    raise TapeError(f"{path}: truncated or unreadable gzip ({exc})") from exc
                log.warning("stopped reading %s: %s", path, exc)
            if bad:
                log.warning("skipped %d malformed lines in %s", bad, path)
        if strict and not seen:
            raise TapeError(f"{', '.join(map(str, self.files)) or 'no files'}: the tape holds no frames")


@dataclass(frozen=True)
class PriceRange:
    """One band of a market's tick grid (kalshi-api.md §4): prices ``start..end`` step ``step`` dollars."""

    start: Decimal
    end: Decimal
    step: Decimal


LINEAR_CENT = (PriceRange(Decimal("0"), Decimal("1"), Decimal("0.01")),)


@dataclass(frozen=True)
class MarketDefinition:
    """Static facts of one market, from the recorded metadata (times are **tape** epoch ms).

    Attributes:
        open_ms / close_ms / created_ms: trading window and creation (tape ms).
        determination_ms: when the result becomes known (``settlement_ts - settlement_timer``, at least
            ``close_ms``).
        settlement_ms: when the market is finalized and paid (the recorded ``settlement_ts``).
        settlement_timer_s: seconds between determination and finalization.
        result: ``"yes"`` or ``"no"``; settlement_value: dollars paid per YES contract (1 or 0).
        fractional_trading_enabled: whether counts may have cents of a contract (§4).
        raw_market: the recorded market object (titles, rules, strikes, ... passed through to clients).
        tape: the frame source, or None for a market without a tape.

    """

    ticker: str
    event_ticker: str
    series_ticker: str
    open_ms: int
    close_ms: int
    created_ms: int
    determination_ms: int
    settlement_ms: int
    settlement_timer_s: int
    result: str
    settlement_value: Decimal
    expiration_value: str
    price_level_structure: str
    price_ranges: tuple[PriceRange, ...]
    fractional_trading_enabled: bool
    raw_market: Mapping[str, Any]
    tape: TapeSource | None = field(default=None, compare=False)


@dataclass(frozen=True)
class EventDefinition:
    """One event (``GET /events/{event_ticker}``); ``raw_event`` is the recorded event object."""

    event_ticker: str
    series_ticker: str
    raw_event: Mapping[str, Any]
    market_tickers: tuple[str, ...]


@dataclass(frozen=True)
class SeriesDefinition:
    """One series (``GET /series/{series_ticker}``), minimal fields."""

    ticker: str
    title: str
    category: str
    frequency: str
    settlement_sources: tuple[Mapping[str, Any], ...] = ()


@dataclass
class Catalog:
    """Every series, event and market the simulator serves, and where their tapes come from.

    ``markets`` is ordered by ``(open_ms, ticker)``. ``source`` is ``"tape"`` or ``"synthetic"``.
    """

    source: str
    description: str
    series: dict[str, SeriesDefinition]
    events: dict[str, EventDefinition]
    markets: dict[str, MarketDefinition]

    def auto_start_ms(self) -> int:
        """Default start: the first open of the longest run of back-to-back windows, plus 60 s.

        A run is a sequence of markets (ordered by open time) where each opens exactly when the previous
        one closes. For the gold tape that is 2026-08-10T21:45Z .. 2026-08-11T04:00Z, so the default start
        is 21:46:00Z, one minute into an open market.

        Raises:
            CatalogError: if the catalog has no markets.

        """
        ordered = sorted(self.markets.values(), key=lambda m: (m.open_ms, m.ticker))
        if not ordered:
            raise CatalogError("the catalog has no markets")
        best_start, best_len = ordered[0].open_ms, 1
        run_start, run_len, prev_close = ordered[0].open_ms, 1, ordered[0].close_ms
        for market in ordered[1:]:
            if market.open_ms == prev_close:
                run_len += 1
            else:
                run_start, run_len = market.open_ms, 1
            prev_close = market.close_ms
            if run_len > best_len:
                best_start, best_len = run_start, run_len
        return best_start + 60_000

    def time_range_ms(self) -> tuple[int, int]:
        """``(earliest open, latest settlement)`` over all markets, tape epoch ms."""
        opens = [m.open_ms for m in self.markets.values()]
        ends = [m.settlement_ms for m in self.markets.values()]
        return min(opens), max(ends)


def _dec(value: Any, default: str = "0") -> Decimal:
    if value is None or value == "":
        return Decimal(default)
    return to_decimal(str(value)) if isinstance(value, int | float) else to_decimal(value)


def parse_price_ranges(raw: Any) -> tuple[PriceRange, ...]:
    """Parse ``price_ranges`` (``[{start, end, step}]`` dollar strings, §4); default linear cent grid."""
    if not raw:
        return LINEAR_CENT
    ranges = []
    for item in raw:
        ranges.append(PriceRange(_dec(item["start"]), _dec(item["end"]), _dec(item["step"])))
    return tuple(ranges)


def load_recorded_catalog(data_dir: Path, fractional_override: bool | None = None) -> Catalog:
    """Build the catalog from a recorded data directory (``kalshi-gold15m`` layout).

    Args:
        data_dir: directory holding ``MARKETS.csv``, ``metadata/`` and ``events/``.
        fractional_override: force ``fractional_trading_enabled`` for every market; None = the
            metadata's field when present, else True (the recorded tape has fractional sizes).

    Returns:
        The catalog; markets without tape files still trade (their book only holds account orders).

    Raises:
        CatalogError: if ``MARKETS.csv`` is missing or a row cannot be parsed.

    """
    index = data_dir / "MARKETS.csv"
    if not index.is_file():
        raise CatalogError(f"{data_dir} has no MARKETS.csv (not a recorded tape directory)")
    series: dict[str, SeriesDefinition] = {}
    events: dict[str, EventDefinition] = {}
    markets: dict[str, MarketDefinition] = {}
    with index.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        try:
            market_def, event_raw = _recorded_market(data_dir, row, fractional_override)
        except (KeyError, ValueError) as exc:
            raise CatalogError(f"bad MARKETS.csv row {row.get('window')!r}: {exc}") from exc
        markets[market_def.ticker] = market_def
        prev = events.get(market_def.event_ticker)
        tickers = (*prev.market_tickers, market_def.ticker) if prev else (market_def.ticker,)
        events[market_def.event_ticker] = EventDefinition(
            market_def.event_ticker, market_def.series_ticker, event_raw, tickers
        )
        if market_def.series_ticker not in series:
            series[market_def.series_ticker] = SeriesDefinition(
                ticker=market_def.series_ticker,
                title=str(event_raw.get("title", market_def.series_ticker)).split("·")[0].strip(),
                category=str(event_raw.get("category", "")),
                frequency=str((event_raw.get("product_metadata") or {}).get("cadence", "custom")),
                settlement_sources=tuple(event_raw.get("settlement_sources") or ()),
            )
    ordered = dict(sorted(markets.items(), key=lambda kv: (kv[1].open_ms, kv[0])))
    return Catalog("tape", f"recorded tape at {data_dir}", series, events, ordered)


def _recorded_market(
    data_dir: Path, row: Mapping[str, str], fractional_override: bool | None
) -> tuple[MarketDefinition, Mapping[str, Any]]:
    ticker = row["window"]
    event_ticker = row["event_ticker"]
    meta_path = data_dir / "metadata" / f"{event_ticker}.json"
    raw_market: dict[str, Any] = {}
    raw_event: dict[str, Any] = {"event_ticker": event_ticker}
    if meta_path.is_file():
        response = json.loads(meta_path.read_text()).get("response", {})
        raw_event = dict(response.get("event") or raw_event)
        for candidate in response.get("markets") or ():
            if candidate.get("ticker") == ticker:
                raw_market = dict(candidate)
    series_ticker = str(raw_event.get("series_ticker") or event_ticker.split("-")[0])
    open_ms = parse_iso_ms(row["open_time"])
    close_ms = parse_iso_ms(row["close_time"])
    settlement_ms = parse_iso_ms(row["settlement_ts"]) if row.get("settlement_ts") else close_ms + 5_000
    timer_s = int(raw_market.get("settlement_timer_seconds") or 1)
    determination_ms = max(close_ms, settlement_ms - timer_s * 1000)
    created_ms = parse_iso_ms(raw_market["created_time"]) if raw_market.get("created_time") else open_ms
    result = (row.get("result") or raw_market.get("result") or "").strip()
    if result not in ("yes", "no"):
        raise ValueError(f"unsupported result {result!r}")
    value = _dec(
        row.get("settlement_value_dollars") or raw_market.get("settlement_value_dollars"),
        "1" if result == "yes" else "0",
    )
    if "fractional_trading_enabled" in raw_market and fractional_override is None:
        fractional = bool(raw_market["fractional_trading_enabled"])
    else:
        fractional = True if fractional_override is None else fractional_override
    tape_dir = data_dir / "events" / ticker
    files = tuple(sorted(tape_dir.glob("*.ndjson.gz"))) if tape_dir.is_dir() else ()
    definition = MarketDefinition(
        ticker=ticker,
        event_ticker=event_ticker,
        series_ticker=series_ticker,
        open_ms=open_ms,
        close_ms=close_ms,
        created_ms=min(created_ms, open_ms),
        determination_ms=determination_ms,
        settlement_ms=max(settlement_ms, determination_ms),
        settlement_timer_s=timer_s,
        result=result,
        settlement_value=value,
        expiration_value=str(row.get("expiration_value") or raw_market.get("expiration_value") or ""),
        price_level_structure=str(
            raw_market.get("price_level_structure") or row.get("price_level_structure") or "linear_cent"
        ),
        price_ranges=parse_price_ranges(raw_market.get("price_ranges")),
        fractional_trading_enabled=fractional,
        raw_market=raw_market,
        tape=FileTape(files) if files else None,
    )
    return definition, raw_event


def replicate_market(data_dir: Path, source: str, copies: int, dst: Path) -> list[str]:
    """Write a recording directory holding ``copies`` replicas of market ``source`` of ``data_dir`` into ``dst``.

    The replicas share the source's window, strike and tape (its files symlinked, never copied) under distinct
    tickers ``<event>X-C000``.. of one event ``<event>X``: a simulator replaying ``dst`` lists ``copies`` open markets
    of the series at once, moving together (benchmarks and tests of many subscribed or traded markets).

    Returns:
        The replicas' tickers.

    Raises:
        ValueError: ``source`` is not in ``data_dir/MARKETS.csv`` or ``copies`` < 1.
        OSError: ``data_dir`` cannot be read or ``dst`` written (it must not hold a recording yet).
    """
    if copies < 1:
        raise ValueError(f"copies must be >= 1 (got {copies})")
    with (data_dir / "MARKETS.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        rows = {r["window"]: r for r in reader}
    if source not in rows:
        raise ValueError(f"market {source} is not in {data_dir / 'MARKETS.csv'}")
    row = rows[source]
    event = row["event_ticker"] + "X"
    meta = json.loads((data_dir / "metadata" / f"{row['event_ticker']}.json").read_text())
    market = next(m for m in meta["response"]["markets"] if m["ticker"] == source)
    files = sorted((data_dir / "events" / source).glob("*.ndjson.gz"))
    (dst / "metadata").mkdir(parents=True)
    new_rows, new_markets, tickers = [], [], []
    for i in range(copies):
        ticker = f"{event}-C{i:03d}"
        tickers.append(ticker)
        new_rows.append({**row, "window": ticker, "event_ticker": event})
        new_markets.append({**market, "ticker": ticker, "event_ticker": event})
        tdir = dst / "events" / ticker
        tdir.mkdir(parents=True)
        for f in files:
            (tdir / f.name).symlink_to(f.resolve())
    with (dst / "MARKETS.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(new_rows)
    meta["response"]["event"] = {**meta["response"]["event"], "event_ticker": event}
    meta["response"]["markets"] = new_markets
    (dst / "metadata" / f"{event}.json").write_text(json.dumps(meta))
    return tickers
