"""Record a real market live, export it, replay the export in the simulator: the books must be identical.

Also: importing a recorded tape and exporting it again reproduces every file byte for byte (including a
market whose tape spans two UTC dates), and the export's edge cases (unresolved markets, results taken from
lifecycle frames, refusal to overwrite).
"""

from __future__ import annotations

import csv
import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from kalshi.models.ws import parse_frame
from recording.recorder import Recorder, RecorderConfig
from recording.tape import ExportError, export_ndjson, import_ndjson, session_frame_counts
from simulator.server import SimulatorConfig, SimulatorServer
from simulator.timeutil import iso_ms, parse_iso_ms
from tests.persistence.conftest import DATA_DIR, requires_tape, split_line, tape_lines
from tests.simulator.tape_oracle import Book, apply
from workers.cli import run as main

TICKER = "KXGOLD15M-26AUG102130-30"  # 197,896 frames, 4 snapshots (re-snapshots after reconnects)
EVENT = "KXGOLD15M-26AUG102130"
TWO_DAY_TICKER = "KXGOLD15M-26AUG102000-00"  # 2026-08-10 file + a short 2026-08-11 continuation
SOURCE_URL = "wss://api.elections.kalshi.com/trade-api/ws/v2"


def _fold(lines: list[bytes], at_ms: int) -> Book:
    """An independent fold of the ORIGINAL tape: frames whose replay time (running max of ``recv_ms`` for
    snapshots, ``msg.ts_ms`` otherwise; docs/simulator.md "Replay") is <= ``at_ms``."""
    book: Book = {"yes": {}, "no": {}}
    running = 0
    for line in lines:
        record = json.loads(line)
        event = record["event"]
        msg = event["msg"]
        kind = event["type"]
        running = max(running, record["recv_ms"] if kind == "orderbook_snapshot" else msg["ts_ms"])
        if running > at_ms:
            break
        apply(book, kind, msg)
    return book


def _snapshot_times(lines: list[bytes]) -> list[int]:
    return [json.loads(line)["recv_ms"] for line in lines if b'"type":"orderbook_snapshot"' in line]


def _csv_row(path: Path, ticker: str) -> dict[str, str]:
    with path.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["window"] == ticker]
    assert len(rows) == 1, rows
    return rows[0]


def _metadata(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(), parse_float=Decimal)


async def _served_book(http: httpx.AsyncClient, ticker: str) -> Book:
    r = await http.get(f"/trade-api/v2/markets/{ticker}/orderbook")
    assert r.status_code == 200, r.text
    fp = r.json()["orderbook_fp"]
    return {side: {Decimal(p): Decimal(s) for p, s in fp[f"{side}_dollars"]} for side in ("yes", "no")}


@requires_tape
async def test_live_recording_exports_a_tape_the_simulator_replays_with_identical_books(
    db_url: str, tmp_path: Path
) -> None:
    lines = [line for _name, line in tape_lines(TICKER)]
    assert len(lines) == 197_896
    meta = _metadata(DATA_DIR / "metadata" / f"{EVENT}.json")
    market = next(m for m in meta["response"]["markets"] if m["ticker"] == TICKER)

    recorder = Recorder(db_url, source_url=SOURCE_URL, environment="prod", markets=[TICKER]).start()
    assert recorder.record_market(
        market, event=meta["response"]["event"], fetched_ms=meta["fetched_at_ms"], source_url=meta["url"]
    )
    for i, line in enumerate(lines):
        recv_ms, raw = split_line(line)
        # as the WebSocket reader does it: parse once, hand the raw bytes and the event to the recorder
        assert recorder.record_frame(raw, parse_frame(raw), recv_ms)
        if i % 25_000 == 24_999:  # live, frames arrive far slower than the writer writes: let it keep up
            assert await recorder.aflush(120)
    assert await recorder.aclose(120)

    assert recorder.frames_enqueued == len(lines)
    assert recorder.written == len(lines) + 1  # + the market definition
    assert (recorder.dropped, recorder.frame_errors, recorder.rows_rejected, recorder.write_errors) == (0, 0, 0, 0)
    assert session_frame_counts(db_url, recorder.session_id) == {
        "book_snapshot": 4,
        "book_delta": 196_008,
        "market_trade": 1_884,
        "ws_frame": 0,
    }

    out = tmp_path / "tape"
    result = export_ndjson(db_url, recorder.session_id, out)
    assert [(f.path, f.frames) for f in result.files] == [(f"events/{TICKER}/2026-08-11.ndjson.gz", len(lines))]
    assert (result.markets, result.unresolved, result.reencoded_frames, result.gaps) == ((TICKER,), (), 0, ())
    # byte for byte the tape Kalshi's frames were recorded into
    with gzip.open(out / "events" / TICKER / "2026-08-11.ndjson.gz", "rb") as fh:
        assert fh.read() == b"".join(lines)
    assert _csv_row(out / "MARKETS.csv", TICKER) == _csv_row(DATA_DIR / "MARKETS.csv", TICKER)
    exported_meta = _metadata(out / "metadata" / f"{EVENT}.json")
    assert exported_meta == meta
    manifest = (out / "MANIFEST.csv").read_text().splitlines()
    assert manifest[1].startswith(f"{TICKER},events/{TICKER}/2026-08-11.ndjson.gz,") and manifest[1].endswith(
        f",{len(lines)}"
    )

    snapshots = _snapshot_times(lines)
    assert len(snapshots) == 4
    instants = [
        parse_iso_ms("2026-08-11T01:16:30Z"),
        parse_iso_ms("2026-08-11T01:20:00.500Z"),
        snapshots[1] - 1,  # just before a re-snapshot (reconnect) ...
        snapshots[1],  # ... and at it
        parse_iso_ms("2026-08-11T01:25:31Z"),
        parse_iso_ms("2026-08-11T01:29:59.999Z"),
    ]
    config = SimulatorConfig(port=0, data_dir=out, paused=True, rate_limit_tier="off")
    async with SimulatorServer(config) as sim, httpx.AsyncClient(base_url=sim.base_url, timeout=60) as http:
        r = await http.get(f"/trade-api/v2/markets/{TICKER}")
        assert r.status_code == 200 and r.json()["market"]["ticker"] == TICKER
        seen_non_empty = 0
        for at_ms in sorted(instants):
            r = await http.put("/sim/v1/clock", json={"tape_time": iso_ms(at_ms)})
            assert r.status_code == 200, r.text
            served = await _served_book(http, TICKER)
            assert served == _fold(lines, at_ms), iso_ms(at_ms)
            seen_non_empty += bool(served["yes"] or served["no"])
        assert seen_non_empty == len(instants)
        # the empty snapshot at close empties the book
        r = await http.put("/sim/v1/clock", json={"tape_time": "2026-08-11T01:30:06Z"})
        assert r.status_code == 200, r.text
        assert await _served_book(http, TICKER) == {"yes": {}, "no": {}}


@requires_tape
def test_import_then_export_reproduces_a_two_day_tape_byte_for_byte(db_url: str, tmp_path: Path) -> None:
    imported = import_ndjson(db_url, DATA_DIR, tickers=[TWO_DAY_TICKER])
    lines_by_file: dict[str, list[bytes]] = {}
    for name, line in tape_lines(TWO_DAY_TICKER):
        lines_by_file.setdefault(name, []).append(line)
    assert set(lines_by_file) == {"2026-08-10.ndjson.gz", "2026-08-11.ndjson.gz"}
    total = sum(len(v) for v in lines_by_file.values())
    assert (imported.frames, imported.files, imported.markets, imported.reencoded_lines, imported.bad_lines) == (
        total,
        2,
        1,
        0,
        0,
    )

    out = tmp_path / "again"
    result = export_ndjson(db_url, imported.session_id, out)
    assert [(f.path, f.frames) for f in result.files] == [
        (f"events/{TWO_DAY_TICKER}/{name}", len(lines_by_file[name])) for name in sorted(lines_by_file)
    ]
    for name, lines in lines_by_file.items():
        with gzip.open(out / "events" / TWO_DAY_TICKER / name, "rb") as fh:
            assert fh.read() == b"".join(lines), name
    assert _csv_row(out / "MARKETS.csv", TWO_DAY_TICKER) == _csv_row(DATA_DIR / "MARKETS.csv", TWO_DAY_TICKER)
    event = TWO_DAY_TICKER.rsplit("-", 1)[0]
    assert _metadata(out / "metadata" / f"{event}.json") == _metadata(DATA_DIR / "metadata" / f"{event}.json")


def _frame(kind: str, ticker: str, seq: int, **msg: Any) -> bytes:
    return json.dumps(
        {"type": kind, "sid": 1, "seq": seq, "msg": {"market_ticker": ticker, **msg}}, separators=(",", ":")
    ).encode()


def test_export_takes_results_from_lifecycle_frames_and_lists_what_it_cannot_replay(
    db_url: str, tmp_path: Path
) -> None:
    config = RecorderConfig(flush_interval_s=0.01)
    with Recorder(db_url, config=config) as recorder:
        for ticker in ("MKT-A", "MKT-B", "MKT-C"):
            recorder.record_frame(
                _frame("orderbook_snapshot", ticker, 1, yes_dollars_fp=[["0.4000", "10.00"]]), None, 1_786_000_000_000
            )
        market = {
            "ticker": "MKT-A",
            "event_ticker": "EVT-A",
            "open_time": "2026-08-11T00:00:00Z",
            "close_time": "2026-08-11T00:15:00Z",
            "status": "active",
            "result": "",
            "floor_strike": Decimal("4128.40"),
        }
        recorder.record_market(market, fetched_ms=1)
        recorder.record_market({**market, "ticker": "MKT-B", "event_ticker": "EVT-B"}, fetched_ms=1)
        lifecycle = {
            "type": "market_lifecycle_v2",
            "sid": 9,
            "seq": 3,
            "msg": {"market_ticker": "MKT-A", "event_type": "determined", "result": "no", "determination_ts": 1},
        }
        recorder.record_frame(json.dumps(lifecycle).encode(), None, 1_786_000_900_000)
        assert recorder.flush(60)
    assert recorder.written == 6

    result = export_ndjson(db_url, recorder.session_id, tmp_path / "x")
    assert result.markets == ("MKT-A",)  # result from the recorded "determined" frame
    assert result.unresolved == ("MKT-B", "MKT-C")  # B: not determined; C: no definition recorded
    assert [f.ticker for f in result.files] == ["MKT-A", "MKT-B", "MKT-C"]  # frames are exported regardless
    row = _csv_row(tmp_path / "x" / "MARKETS.csv", "MKT-A")
    assert (row["result"], row["floor_strike"], row["event_ticker"]) == ("no", "4128.40", "EVT-A")

    with pytest.raises(ExportError, match="not an empty directory"):
        export_ndjson(db_url, recorder.session_id, tmp_path / "x")
    with pytest.raises(ExportError, match="no recording session"):
        export_ndjson(db_url, recorder.session_id + 1, tmp_path / "y")


@requires_tape
def test_command_line_imports_lists_and_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ticker = "KXGOLD15M-26AUG050000-00"
    db = str(tmp_path / "cli.db")
    assert main(["import", "--db", db, "--data-dir", str(DATA_DIR), "--ticker", ticker]) == 0
    session_id = int(capsys.readouterr().out.split()[1].rstrip(":"))
    assert main(["sessions", "--db", db]) == 0
    assert capsys.readouterr().out.startswith(f"{session_id}  ")
    assert main(["export", "--db", db, "--session", str(session_id), "--out", str(tmp_path / "t")]) == 0
    assert "wrote 38127 frames in 1 files" in capsys.readouterr().out
    with (
        gzip.open(tmp_path / "t" / "events" / ticker / "2026-08-05.ndjson.gz", "rb") as got,
        gzip.open(DATA_DIR / "events" / ticker / "2026-08-05.ndjson.gz", "rb") as want,
    ):
        assert got.read() == want.read()
    assert main(["export", "--db", db, "--session", str(session_id), "--out", str(tmp_path / "t")]) == 1
    assert capsys.readouterr().err.startswith("error: ")
