"""Persistence benchmark: the write-behind recorder on a real Kalshi tape, SQLite (file, WAL) and PostgreSQL.

Usage::

    python -m bench.bench_persistence [--repeat N] [--file PATH] [--paced-rate HZ] [--paced-seconds S]
                                      [--postgres-url URL | --no-postgres]

Input: every frame of one recorded market file of ``../shared/data/kalshi-gold15m`` (default
``KXGOLD15M-26AUG102130-30/2026-08-11.ndjson.gz``: 197,896 frames, 196,008 of them deltas), sliced out of its
line as the exact bytes Kalshi sent and parsed once with :func:`kalshi.models.ws.parse_frame` before timing
(the live WebSocket reader parses every frame anyway; the recorder receives the raw bytes and the event).

Measured, each as the median of ``--repeat`` runs on a fresh database:

1. **Sustained throughput**: every frame handed to ``Recorder.record_frame`` as fast as the caller can, with a
   queue large enough to hold the whole tape, then ``flush()``: frames (and deltas) per second from the first
   call until the last row is committed.
2. **Hot-path cost**: caller-side time per ``record_frame`` call (a loop of all frames, divided by the count),
   with the writer thread not started (pure enqueue) vs running and writing concurrently.
3. **Paced, per call**: frames offered at ``--paced-rate`` per second (default 20,000/s, ~90x the tape's
   average rate) in bursts of 100, each call timed individually (``perf_counter_ns``; the timer's own cost is
   printed): p50 / p99 / p99.9 / max per call with the writer off vs on, plus the queue's peak depth and
   drops, and how many calls took over 1 ms. Shows whether the writer thread (GIL, CPU) slows the caller.
4. **Overload**: the default configuration (100,000-frame queue), every frame offered at once: what is
   dropped (drop-newest), the peak depth, and the caller's time per call.

PostgreSQL: ``--postgres-url`` (a database the bench may create tables in), or a throwaway server started
from the installed binaries (durable settings: fsync on) when PostgreSQL is installed; skipped otherwise.
"""

from __future__ import annotations

import gc
import gzip
import logging
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from kalshi.models.ws import OrderbookDelta, WsEvent, parse_frame
from recording.recorder import Recorder, RecorderConfig

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kalshi-gold15m"
DEFAULT_FILE = DATA_DIR / "events" / "KXGOLD15M-26AUG102130-30" / "2026-08-11.ndjson.gz"

Frame = tuple[int, bytes, WsEvent]


def load_frames(path: Path) -> list[Frame]:
    """Every frame of ``path`` as ``(recv_ms, raw bytes exactly as recorded, parsed event)``."""
    frames: list[Frame] = []
    with gzip.open(path, "rb") as fh:
        for line in fh:
            cut = line.index(b',"event":')
            raw = bytes(line[cut + len(b',"event":') : line.rindex(b"}")])
            frames.append((int(line[len(b'{"recv_ms":') : cut]), raw, parse_frame(raw)))
    return frames


@dataclass
class Backend:
    """A database to benchmark: a name, and a factory of fresh database URLs (with cleanup)."""

    name: str
    fresh: Callable[[], Any]


@contextmanager
def sqlite_db() -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="bench-rec-")
    try:
        yield f"sqlite:///{folder}/recording.db"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def postgres_backend(url: str | None) -> tuple[Backend | None, Callable[[], None], str]:
    """A PostgreSQL backend (fresh database per run), its cleanup, and a description; or None and why not."""
    try:
        from tests.persistence.pgcluster import (
            PostgresUnavailable,
            TempPostgres,
            create_database,
            drop_database,
            psycopg_available,
        )
    except ImportError as exc:  # pragma: no cover - run from the repository root
        return None, lambda: None, f"skipped ({exc})"
    if not psycopg_available():
        return None, lambda: None, "skipped (psycopg is not installed)"
    server = None
    if url is None:
        try:
            server = TempPostgres(fast=False).init()
            server.start()
        except PostgresUnavailable as exc:
            return None, lambda: None, f"skipped ({str(exc).splitlines()[0]})"
        admin = server.url()
        where = f"throwaway server ({server.bin_dir}), unix socket, fsync on, synchronous_commit on"
    else:
        admin = url
        where = "given server"

    @contextmanager
    def fresh() -> Iterator[str]:
        db = create_database(admin)
        try:
            yield db
        finally:
            drop_database(admin, db)

    def cleanup() -> None:
        if server is not None:
            server.destroy()

    return Backend("PostgreSQL", fresh), cleanup, where


# --------------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------------


def run_sustained(url: str, frames: list[Frame]) -> dict[str, float]:
    """All frames as fast as possible (queue holds them all), then flush; caller loop timed separately."""
    config = RecorderConfig(frame_capacity=len(frames) + 1)
    recorder = Recorder(url, config=config).start()
    assert recorder.flush(60), "database unavailable"
    record = recorder.record_frame
    gc.collect()
    started = time.perf_counter()
    for recv_ms, raw, event in frames:
        record(raw, event, recv_ms)
    enqueued = time.perf_counter()
    assert recorder.flush(600)
    done = time.perf_counter()
    recorder.close(60)
    assert recorder.written == len(frames) and recorder.dropped == 0, recorder.stats()
    return {
        "elapsed_s": done - started,
        "call_ns": (enqueued - started) * 1e9 / len(frames),
        "max_depth": float(recorder.max_frames_depth),
        "batches": float(recorder.batches),
    }


def run_enqueue_only(url: str, frames: list[Frame]) -> float:
    """Caller-side ns per call with the writer NOT running (pure enqueue)."""
    recorder = Recorder(url, config=RecorderConfig(frame_capacity=len(frames) + 1))
    record = recorder.record_frame
    gc.collect()
    started = time.perf_counter()
    for recv_ms, raw, event in frames:
        record(raw, event, recv_ms)
    elapsed = time.perf_counter() - started
    recorder.close(0)
    return elapsed * 1e9 / len(frames)


def timer_overhead_ns(n: int = 200_000) -> float:
    """Median cost of the per-call timing itself (two perf_counter_ns calls around a no-op call)."""

    def noop(_a: Any, _b: Any, _c: Any) -> bool:
        return True

    samples = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t0 = clock()
        noop(1, 2, 3)
        samples.append(clock() - t0)
    return float(statistics.median(samples))


def run_paced(url: str, frames: list[Frame], rate_hz: int, seconds: float, writer: bool) -> dict[str, float]:
    """Offer frames at ``rate_hz`` in bursts of 100, timing every call; writer thread on or off."""
    total = min(len(frames), int(rate_hz * seconds))
    recorder = Recorder(url, config=RecorderConfig(frame_capacity=total + 1))
    if writer:
        recorder.start()
        assert recorder.flush(60)
    record = recorder.record_frame
    clock = time.perf_counter_ns
    samples: list[int] = []
    burst = 100
    period_ns = int(burst * 1e9 / rate_hz)
    gc.collect()
    next_burst = clock()
    for start in range(0, total, burst):
        for recv_ms, raw, event in frames[start : start + burst]:
            t0 = clock()
            record(raw, event, recv_ms)
            samples.append(clock() - t0)
        next_burst += period_ns
        pause = next_burst - clock()
        if pause > 0:
            time.sleep(pause / 1e9)
    if writer:
        assert recorder.flush(600)
    recorder.close(60 if writer else 0)
    samples.sort()
    n = len(samples)
    return {
        "p50": float(samples[n // 2]),
        "p99": float(samples[int(n * 0.99)]),
        "p999": float(samples[int(n * 0.999)]),
        "max": float(samples[-1]),
        "over_1ms": float(sum(1 for x in samples if x > 1_000_000)),
        "max_depth": float(recorder.max_frames_depth),
        "dropped": float(recorder.dropped),
        "written": float(recorder.written),
    }


def run_overload(url: str, frames: list[Frame]) -> dict[str, float]:
    """Default config (100,000-frame queue), every frame at once: drops, peak depth, caller ns per call."""
    recorder = Recorder(url).start()
    assert recorder.flush(60)
    record = recorder.record_frame
    gc.collect()
    started = time.perf_counter()
    accepted = sum(1 for recv_ms, raw, event in frames if record(raw, event, recv_ms))
    elapsed = time.perf_counter() - started
    assert recorder.flush(600)
    recorder.close(60)
    return {
        "call_ns": elapsed * 1e9 / len(frames),
        "accepted": float(accepted),
        "dropped": float(recorder.dropped),
        "written": float(recorder.written),
        "max_depth": float(recorder.max_frames_depth),
    }


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def _spread(values: list[float], fmt: str = "{:,.0f}") -> str:
    return f"{fmt.format(_median(values))} (runs {fmt.format(min(values))}..{fmt.format(max(values))})"


def bench_backend(backend: Backend, frames: list[Frame], deltas: int, args: Options) -> None:
    print(f"\n== {backend.name} ==")
    sustained = []
    for _ in range(args.repeat):
        with backend.fresh() as url:
            sustained.append(run_sustained(url, frames))
    fps = [len(frames) / r["elapsed_s"] for r in sustained]
    dps = [deltas / r["elapsed_s"] for r in sustained]
    print(f"1. sustained, record_frame -> committed rows (queue holds the whole tape; {len(frames):,} frames):")
    print(f"   frames/s  {_spread(fps)}")
    print(f"   deltas/s  {_spread(dps)}")
    print(
        f"   time to commit the tape: {_median([r['elapsed_s'] for r in sustained]):.2f} s in "
        f"{_median([r['batches'] for r in sustained]):,.0f} transactions"
    )

    enqueue_only = []
    for _ in range(args.repeat):
        with backend.fresh() as url:
            enqueue_only.append(run_enqueue_only(url, frames))
    running = [r["call_ns"] for r in sustained]
    print("2. caller-side ns per record_frame call (loop over the whole tape / frames):")
    print(f"   writer not running: {_spread(enqueue_only)} ns")
    print(f"   writer running:     {_spread(running)} ns   (ratio {_median(running) / _median(enqueue_only):.2f}x)")

    print(
        f"3. paced at {args.paced_rate:,}/s in bursts of 100 for {args.paced_seconds:g} s, every call timed "
        f"(timer overhead ~{timer_overhead_ns():.0f} ns included):"
    )
    total = min(len(frames), int(args.paced_rate * args.paced_seconds))
    for writer in (False, True):
        runs = []
        for _ in range(args.repeat):
            with backend.fresh() as url:
                runs.append(run_paced(url, frames, args.paced_rate, args.paced_seconds, writer))
        label = "writer running:    " if writer else "writer not running:"
        print(
            f"   {label} p50 {_median([r['p50'] for r in runs]):,.0f} ns, p99 {_median([r['p99'] for r in runs]):,.0f}"
            f" ns, p99.9 {_median([r['p999'] for r in runs]):,.0f} ns, max {_median([r['max'] for r in runs]):,.0f}"
            f" ns (worst run {max(r['max'] for r in runs):,.0f} ns), calls > 1 ms "
            f"{_median([r['over_1ms'] for r in runs]):,.0f} of {total:,}; peak depth "
            f"{_median([r['max_depth'] for r in runs]):,.0f}, dropped {max(r['dropped'] for r in runs):,.0f}"
        )

    overload = []
    for _ in range(args.repeat):
        with backend.fresh() as url:
            overload.append(run_overload(url, frames))
    print("4. overload: default RecorderConfig (frame_capacity 100,000), the whole tape offered at once:")
    print(
        f"   accepted {_median([r['accepted'] for r in overload]):,.0f}, dropped (newest) "
        f"{_median([r['dropped'] for r in overload]):,.0f}, written {_median([r['written'] for r in overload]):,.0f},"
        f" peak depth {_median([r['max_depth'] for r in overload]):,.0f}; caller "
        f"{_median([r['call_ns'] for r in overload]):,.0f} ns per call"
    )


@dataclass(frozen=True)
class Options:
    """The command line's choices (see :func:`main`)."""

    repeat: int
    file: Path
    paced_rate: int
    paced_seconds: float
    postgres_url: str | None
    no_postgres: bool


@click.command(help=__doc__.split("\n\n")[0] if __doc__ else None)
@click.option("--repeat", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--file", type=click.Path(path_type=Path), default=DEFAULT_FILE)
@click.option("--paced-rate", type=int, default=20_000, show_default=True)
@click.option("--paced-seconds", type=float, default=5.0, show_default=True)
@click.option("--postgres-url", default=None)
@click.option("--no-postgres", is_flag=True)
def main(**options: Any) -> None:
    sys.exit(run(Options(**options)))


def run(args: Options) -> int:
    """The benchmark (see the module docstring); returns the exit status."""
    # expected warnings (rows never written after close(0), queue full in the overload run) are not figures
    logging.getLogger("recording.recorder").setLevel(logging.ERROR)
    if not args.file.is_file():
        print(f"tape file {args.file} not found (../shared/data is absent?)", file=sys.stderr)
        return 2
    frames = load_frames(args.file)
    deltas = sum(1 for _r, _b, e in frames if type(e) is OrderbookDelta)
    print(
        f"input: {args.file} ({len(frames):,} frames, {deltas:,} deltas); Python {sys.version.split()[0]}; "
        f"repeat {args.repeat}, medians"
    )
    bench_backend(Backend("SQLite (file, WAL, synchronous=NORMAL)", sqlite_db), frames, deltas, args)
    if args.no_postgres:
        return 0
    backend, cleanup, where = postgres_backend(args.postgres_url)
    try:
        if backend is None:
            print(f"\n== PostgreSQL == {where}")
        else:
            backend.name = f"PostgreSQL ({where})"
            bench_backend(backend, frames, deltas, args)
    finally:
        cleanup()
    return 0


if __name__ == "__main__":
    main()
