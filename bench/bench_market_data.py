"""Market data on the worker: decision latency, memory at 100 markets, persistence alongside live ingestion.

Usage::

    python -m bench.bench_market_data [--duration-s 30] [--rounds 3] [--mem-duration-s 45]
                                      [--mem-markets 100] [--mem-source TICKER] [--mem-speed 1]
                                      [--only latency|memory] [--no-pin]
                                      [--policy imbalance|hold|rl:current|rl:<version>] [--registry DIR]
                                      [--traded-markets N] [--tier basic|advanced|...]
                                      [--recorder both|off|on] [--no-presign]
                                      [--gc-freeze] [--writer-nice N] [--switch-interval-ms X] [--profile PATH]
                                      (diagnostics)

Everything runs the product code over real sockets. The simulator is a SEPARATE process (``python -m
simulator``, real recorded tape, ``--rate-limit-tier off``): its replay, WebSocket fan-out and order matching
never share the worker's event loop or GIL, and it stands for an exchange that is elsewhere. The worker side runs
in a fresh child process per run (clean RSS, nothing carried between runs): the ingestion activity
(``MarketDataActivities.ingest_market_data`` -> ``IngestionLoop``: ``KalshiWebSocketClient`` +
``MarketDataFeed`` + ``MarketDataHub``, plus the SQLite ``Recorder`` when recording) and the reactive actor loop
(``MarketDataActivities.run_actor_epoch`` -> ``EpochCore``), both run through
``temporalio.testing.ActivityEnvironment`` (heartbeat, info, cancellation, worker shutdown) and sharing one hub.
The client-side rate limiter is the product default (Basic tier: 10 orders/s, burst 10; ``--tier`` another Kalshi
tier); logging is set up like the worker's (INFO, to the run's log file; httpx/httpcore at WARNING).

Policy (``--policy``, default ``imbalance``): the actor loop's policy, resolved as the worker resolves it
(:class:`trading.live.PolicyLibrary` over ``--registry``, default ``STATE_DIR/models``). A learned policy
(``rl:current``, ``rl:<version>``) runs as in production: the worker's :class:`trading.live.FeatureStore` is fed
by every frame from the start of ingestion, the loop decides at the model's decision interval on book updates and
trades, and each decision computes ``rl.features.observe`` and runs the model (torch on one thread) inline on the
event loop. The run fails if the library fell back to a baseline (a missing or incompatible model).
``--traded-markets N``: the memory (burst) run's actor trades the first N of the copies instead of one (the
issue's concurrency case: at most one order in flight per market, orders of different markets concurrently).

CPU placement (2 shared vCPUs here): the worker child is pinned to the first CPU and the simulator to the other
(``--no-pin`` turns this off). Unpinned, our loopback ``send()`` wakes the simulator, which then often runs on
OUR core and preempts the event loop in the middle of the order write (measured: the write of the request
body took 0.8 ms of wall time for 0.08 ms of CPU). The price of pinning: the recorder's writer thread shares
the worker's single core with the event loop (the worst case for part 3).

1. **Decision latency** ("WebSocket frame received to order request written on the socket", the issue's
   definition; target p99 < 5 ms with the baseline policy). Tape ``KXGOLD15M-26AUG102130-30`` from
   2026-08-11T01:16:00Z (its busiest minutes, ~300-420 deltas/s), speed 1. Baseline ``ImbalancePolicy`` at
   ``imbalance_threshold`` 0 (acts on every update), per-market throttle 250 ms (the default), 1-contract IOC
   orders priced to cross, limits wide enough that orders keep flowing (~4 orders/s). Each run restarts the
   simulator at the same tape time, so every run (recording off and on, ``--rounds`` each, alternating)
   replays the identical segment.

   Per order, on one clock (``perf_counter`` = ``CLOCK_MONOTONIC``, which ``time.monotonic`` uses too):

   * receipt ``mark``: the ``UpdateStream`` mark in the hub's client listener (where ``EpochCore`` measures
     from): after ``websockets`` decoded the frame, ``parse_frame`` parsed it and the feed applied it (the parse
     + apply cost is measured on the same tape and printed). Excluded: kernel -> event loop -> the protocol's
     ``data_received`` -> ``websockets`` framing -> our reader task; the part from the latest
     ``data_received`` (``client.last_receive_monotonic``) to the mark is printed separately (a lower bound of
     that in-process delay: a later chunk may have arrived meanwhile);
   * ``taken``: the actor loop took the coalesced batch (``UpdateStream.next`` returned);
   * decision sub-stages (bench wrappers of ``EpochCore.decide_many`` / ``submit`` / ``execute`` / ``_cancel`` /
     ``_place`` in the worker child): the turn's decisions, the hop to the market's operation task, the replaced
     resting order's cancel (MAKE), request building;
   * ``call``: ``create_order`` called (a bench subclass of ``KalshiRestClient`` notes the time and pairs the
     order's ``client_order_id`` with the receipt time of its ticker in the batch being processed);
   * rate limiter and RSA-PSS signing: timed by a ``RateLimiter`` subclass and a ``RequestSigner`` subclass;
   * ``written``: httpcore's ``http11.send_request_body.complete`` trace event, i.e. the last byte of the
     request handed to the kernel (``transport.write``), via a wrapping ``httpx`` transport (the ``transport=``
     argument ``KalshiRestClient`` already takes: no product code was changed);
   * off-CPU: wall time minus the event-loop thread's CPU time (``time.thread_time``) between mark and written:
     time the thread was descheduled or waiting for the GIL;
   * ack: ``http11.receive_response_headers.complete`` (and ``create_order`` returning the parsed ack).

2. **Worker memory with 100 markets** (target < 1 GB). A tape directory is built in a temp dir in the
   ``kalshi-gold15m`` layout: ``--mem-markets`` copies of one real market (``--mem-source``, default
   ``KXGOLD15M-26AUG102215-15``, ~90-150 deltas/s in its middle minutes) under distinct tickers of one event with
   the same window (symlinks to the recorded file, rewritten ``MARKETS.csv`` and metadata), replayed from one
   minute after the open at ``--mem-speed``: ~10,000 deltas/s in all, arriving in bursts (the copies move
   together). The worker child ingests all of them, the actor loop trades one of them (as in 1), and the recorder
   writes every frame to SQLite (WAL); RSS is sampled every 0.5 s (peak = ``VmHWM``); book memory is traced by
   rebuilding the held books under ``tracemalloc``. Also printed: deltas/s ingested, the recorder's rows/s,
   written / dropped / queue depth, main-thread and other-thread CPU, GC passes.
3. **Persistence alongside live ingestion**: runs 1 and 2 both ways (recorder off / on, same setup): rows/s
   committed to SQLite while the feed runs, and the hot path: decision latency, ``data_received`` -> mark per
   delta, event-loop lag (a 5 ms sleeper's oversleep), main-thread CPU per frame.

Per-delta figures are kept in log-bucketed histograms (~5% resolution, constant memory); per-order figures are
exact (nearest-rank percentiles). The diagnostic flags change the worker's setup and are off by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import csv
import gc
import gzip
import json
import logging
import math
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import httpx

from kalshi.ingest import MarketDataHub, UpdateStream
from kalshi.models import CreateOrderRequest, OrderAck
from kalshi.models.ws import OrderbookDelta
from kalshi.ratelimit import DEFAULT_COST, Bucket, RateLimiter
from kalshi.rest import KalshiRestClient
from kalshi.signer import RequestSigner

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "kalshi-gold15m"
SERIES = "KXGOLD15M"
LATENCY_MARKET = "KXGOLD15M-26AUG102130-30"
LATENCY_START = "2026-08-11T01:16:00Z"
MEM_SOURCE = "KXGOLD15M-26AUG102215-15"
KEY_ID = "bench"
INITIAL_BALANCE_CENTS = 100_000_000
TARGET_P99_MS = 5.0
TARGET_RSS_MB = 1024.0


# ==================================================================================================
# Small statistics helpers (shared by parent and child)
# ==================================================================================================


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def med(values: list[Any]) -> float | None:
    """Median of the non-None values (None when there are none)."""
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def medz(values: list[Any]) -> float:
    """Median of the non-None values, 0.0 when there are none."""
    return med(values) or 0.0


class Histogram:
    """Log-bucketed histogram of durations in seconds (1 ns .. 100 s, 50 buckets per decade, ~4.7% wide).

    Constant memory, so per-frame figures can be kept for millions of frames without growing the RSS the
    memory scenario measures. Quantiles are bucket upper edges (capped at the exact maximum).
    """

    PER_DECADE = 50
    LOW = 1e-9
    SIZE = 11 * PER_DECADE + 1

    def __init__(self) -> None:
        self.counts = [0] * self.SIZE
        self.n = 0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        self.n += 1
        if seconds > self.max:
            self.max = seconds
        i = 0 if seconds <= self.LOW else int(math.log10(seconds / self.LOW) * self.PER_DECADE)
        self.counts[min(i, self.SIZE - 1)] += 1

    def quantile(self, q: float) -> float | None:
        if not self.n:
            return None
        want = max(1, math.ceil(q / 100 * self.n))
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= want:
                return min(self.max, self.LOW * 10 ** ((i + 1) / self.PER_DECADE))
        return self.max

    def summary(self) -> dict[str, float | int | None]:
        return {"n": self.n, "p50": self.quantile(50), "p99": self.quantile(99), "max": self.max if self.n else None}


# ==================================================================================================
# CHILD: the worker side, and the bench-only instruments around product classes
# ==================================================================================================


@dataclass
class OrderTiming:
    """Timestamps (perf_counter seconds) of one order's way from the book update to the socket and back."""

    coid: str
    ticker: str
    call: float
    mark: float | None = None
    rx: float | None = None
    taken: float | None = None
    lim0: float | None = None
    lim1: float | None = None
    sig0: float | None = None
    sig1: float | None = None
    tx: float | None = None
    hdr0: float | None = None
    written: float | None = None
    resp: float | None = None
    ret: float | None = None
    cpu_mark: float | None = None
    cpu_written: float | None = None
    dec0: float | None = None  # EpochCore.decide entered (the order's decision)
    dec1: float | None = None  # EpochCore.decide returned the intent
    sub: float | None = None  # EpochCore.submit started the market's operation
    exe: float | None = None  # the operation's task started running (EpochCore.execute)
    can0: float | None = None  # the replaced resting order's cancel started (MAKE)
    can1: float | None = None  # ... and ended
    place: float | None = None  # EpochCore._place entered (request building)
    new_connection: bool = False
    outcome: str = "ok"
    trace: dict[str, float] = field(default_factory=dict)


CURRENT: contextvars.ContextVar[OrderTiming | None] = contextvars.ContextVar("bench_order_timing", default=None)


class TimedUpdateStream(UpdateStream):
    """UpdateStream that also keeps, per pending ticker, the last ``data_received`` before its first mark."""

    def __init__(self, hub: BenchHub) -> None:
        super().__init__()
        self.hub = hub
        self._rx: dict[str, float] = {}
        self._cpu: dict[str, float] = {}
        self.current: dict[str, float] = {}
        self.current_rx: dict[str, float] = {}
        self.current_cpu: dict[str, float] = {}
        self.taken_at = 0.0
        self.pickup = Histogram()
        # ticker -> (mark, rx, cpu at mark, taken) of the latest batch that held it: the actor submits orders of
        # different markets concurrently, so an order's first write may run after the next batch was taken
        self.latest: dict[str, tuple[float, float | None, float | None, float]] = {}

    def mark(self, ticker: str, received_at: float, *, count: bool = True) -> None:
        if ticker not in self._rx:
            client = self.hub.client
            last = client.last_receive_monotonic if client is not None else None
            self._rx[ticker] = received_at if last is None else last
            self._cpu[ticker] = time.thread_time()
        super().mark(ticker, received_at, count=count)

    async def next(self, timeout_s: float) -> dict[str, float]:
        batch = await super().next(timeout_s)
        now = time.perf_counter()  # no await since super() swapped its pending set: same batch
        rx, cpu = self._rx, self._cpu
        self._rx, self._cpu = {}, {}
        self.current = batch
        self.current_rx = rx
        self.current_cpu = cpu
        self.taken_at = now
        for ticker, received_at in batch.items():
            self.pickup.add(now - received_at)
            self.latest[ticker] = (received_at, rx.get(ticker), cpu.get(ticker), now)
        return batch


class BenchHub(MarketDataHub):
    """The product hub plus a per-delta ``rx -> mark`` histogram and a timed update stream."""

    def __init__(self, queue: str) -> None:
        super().__init__(queue)
        self.stream: TimedUpdateStream | None = None
        self.rx_to_mark = Histogram()
        self.last_pickup = Histogram()

    @contextlib.contextmanager
    def updates(self, *, trades: bool = False) -> Iterator[UpdateStream]:
        stream = TimedUpdateStream(self)
        stream.trades = trades
        self._streams.add(stream)
        self.stream = stream
        try:
            yield stream
        finally:
            self._streams.discard(stream)
            self.stream = None
            self.last_pickup = stream.pickup

    def _on_event(self, event: Any, raw: bytes | None, recv_ms: int) -> None:
        if type(event) is OrderbookDelta and self.client is not None:
            last = self.client.last_receive_monotonic
            if last is not None:
                self.rx_to_mark.add(time.perf_counter() - last)
        super()._on_event(event, raw, recv_ms)


class TimedLimiter(RateLimiter):
    async def acquire(self, bucket: Bucket, cost: float = DEFAULT_COST) -> float:
        t = CURRENT.get()
        if t is None:
            return await super().acquire(bucket, cost)
        t.lim0 = time.perf_counter()
        waited = await super().acquire(bucket, cost)
        t.lim1 = time.perf_counter()
        return waited


class TimedSigner(RequestSigner):
    def headers(self, method: str, path: str, timestamp_ms: int | None = None) -> dict[str, str]:
        t = CURRENT.get()
        if t is None:
            return super().headers(method, path, timestamp_ms)
        t.sig0 = time.perf_counter()
        out = super().headers(method, path, timestamp_ms)
        t.sig1 = time.perf_counter()
        return out


class TracingTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, plus httpcore's ``trace`` extension on order requests (timestamps only)."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        t = CURRENT.get()
        if t is not None and t.tx is None:
            t.tx = time.perf_counter()
            timing = t

            async def trace(name: str, info: dict[str, Any]) -> None:
                now = time.perf_counter()
                timing.trace.setdefault(name, now)
                if name == "http11.send_request_headers.started":
                    timing.hdr0 = now
                elif name == "http11.send_request_body.complete":
                    timing.written = now
                    timing.cpu_written = time.thread_time()
                elif name == "http11.receive_response_headers.complete":
                    timing.resp = now
                elif name == "connection.connect_tcp.started":
                    timing.new_connection = True

            request.extensions["trace"] = trace
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


BATCHES: dict[int, int] = {}
"""decide_many calls by how many of their updates reached the policy (decisions that were not forced holds)."""
DECIDING: dict[str, dict[str, float]] = {}
"""ticker -> the decision sub-stage times of its next order (filled by :func:`instrument_core`)."""


def instrument_core() -> None:
    """Time the decision stage's parts per order: wrap ``EpochCore``'s methods in THIS child process (bench only).

    decide (freshness excluded: observation, policy, pre-trade checks), the hop to the operation's task, the
    replaced order's cancel (MAKE), and request building up to ``create_order``.
    """
    from trading.epoch import EpochCore

    decide, submit, execute, cancel, place = (
        EpochCore.decide_many,
        EpochCore.submit,
        EpochCore.execute,
        EpochCore._cancel,
        EpochCore._place,
    )

    def t_decide(self: Any, updates: Any) -> Any:
        t0 = time.perf_counter()
        out = decide(self, updates)
        t1 = time.perf_counter()
        asked = sum(1 for d in out if d is not None and not d.forced)
        if asked:
            BATCHES[asked] = BATCHES.get(asked, 0) + 1
        for update, decision in zip(updates, out, strict=True):
            if decision is not None and decision.intent is not None:
                DECIDING[update.ticker] = {"dec0": t0, "dec1": t1}
        return out

    def t_submit(self: Any, intent: Any, *args: Any) -> Any:
        DECIDING.setdefault(intent.ticker, {})["sub"] = time.perf_counter()
        return submit(self, intent, *args)

    async def t_execute(self: Any, intent: Any, *args: Any, **kw: Any) -> Any:
        DECIDING.setdefault(intent.ticker, {})["exe"] = time.perf_counter()
        return await execute(self, intent, *args, **kw)

    async def t_cancel(self: Any, ticker: str, order_id: str, **kw: Any) -> Any:
        d = DECIDING.setdefault(ticker, {})
        d["can0"] = time.perf_counter()
        try:
            return await cancel(self, ticker, order_id, **kw)
        finally:
            d["can1"] = time.perf_counter()

    async def t_place(self: Any, intent: Any, *args: Any, **kw: Any) -> Any:
        DECIDING.setdefault(intent.ticker, {})["place"] = time.perf_counter()
        return await place(self, intent, *args, **kw)

    EpochCore.decide_many = t_decide  # type: ignore[method-assign]
    EpochCore.submit = t_submit  # type: ignore[method-assign,assignment]
    EpochCore.execute = t_execute  # type: ignore[method-assign]
    EpochCore._cancel = t_cancel  # type: ignore[method-assign]
    EpochCore._place = t_place  # type: ignore[method-assign]


class BenchRestClient(KalshiRestClient):
    """Notes each order's timings; pairs its client_order_id with the update that triggered it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hub: BenchHub | None = None
        self.timings: list[OrderTiming] = []

    async def create_order(self, req: CreateOrderRequest, *, lookup_first: bool = False) -> OrderAck:
        t = OrderTiming(coid=req.client_order_id, ticker=req.ticker, call=time.perf_counter())
        for k, v in DECIDING.pop(req.ticker, {}).items():
            setattr(t, k, v)
        stream = self.hub.stream if self.hub is not None else None
        if stream is not None and req.ticker in stream.latest:
            t.mark, t.rx, t.cpu_mark, t.taken = stream.latest[req.ticker]
        self.timings.append(t)
        token = CURRENT.set(t)
        try:
            return await super().create_order(req, lookup_first=lookup_first)
        except BaseException as exc:
            t.outcome = type(exc).__name__
            raise
        finally:
            t.ret = time.perf_counter()
            CURRENT.reset(token)


class Sampler:
    """RSS and the recorder's queue depth every ``interval_s``; plus an event-loop lag probe."""

    def __init__(self, interval_s: float = 0.5) -> None:
        self.interval_s = interval_s
        self.rss: list[tuple[float, int]] = []
        self.queue: list[int] = []
        self.loop_lag = Histogram()
        self.recorder: Any = None
        self._page = os.sysconf("SC_PAGE_SIZE")

    def rss_bytes(self) -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * self._page

    async def run_rss(self) -> None:
        while True:
            self.rss.append((time.monotonic(), self.rss_bytes()))
            if self.recorder is not None:
                self.queue.append(self.recorder.queue_depth)
            await asyncio.sleep(self.interval_s)

    async def run_lag(self, period_s: float = 0.005) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(period_s)
            self.loop_lag.add(max(0.0, time.perf_counter() - t0 - period_s))


def vm_hwm_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


class GcWatch:
    """Durations of the garbage collector's passes (a classic source of latency outliers)."""

    def __init__(self) -> None:
        self.pauses: dict[int, Histogram] = {0: Histogram(), 1: Histogram(), 2: Histogram()}
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.pauses[int(info.get("generation", 2))].add(time.perf_counter() - self._t0)

    def summary(self) -> dict[str, Any]:
        return {str(g): h.summary() for g, h in self.pauses.items()}


def book_memory(feed: Any) -> tuple[int, int]:
    """Bytes (tracemalloc) of fresh books holding exactly the feed's current books, and their total levels."""
    from kalshi.orderbook import BookStore

    snaps = [(t, b.snapshot(), b.level_count) for t in feed.markets if (b := feed.book(t)) is not None]
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        store = BookStore()
        for ticker, snap, _levels in snaps:
            store.book(ticker).apply_wire_snapshot(snap)
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del store
    return used - base, sum(levels for _t, _s, levels in snaps)


async def child_main(cfg: dict[str, Any]) -> dict[str, Any]:
    """One worker-side run against the simulator at ``cfg['base_url']``; returns its figures."""
    from temporalio.testing import ActivityEnvironment

    from activities.market_data import MarketDataActivities
    from models.market_data import IngestInput, IngestSettings
    from models.trader import EpochInput, EpochMarket, EpochSettings, ExitRules, RiskLimits
    from recording.metrics import AppMetrics
    from recording.recorder import Recorder

    gcw = GcWatch()
    gc.callbacks.append(gcw)
    sampler = Sampler()
    rss_start = sampler.rss_bytes()
    base_url = cfg["base_url"]
    rest_url, ws_url = base_url + "/trade-api/v2", base_url.replace("http", "ws", 1) + "/trade-api/ws/v2"
    signer = TimedSigner.from_pem(cfg["private_pem"].encode(), KEY_ID)
    rest = BenchRestClient(
        rest_url,
        signer,
        TimedLimiter.for_tier(cfg.get("tier", "basic")),
        transport=TracingTransport(),
        lookup_delays_s=(0.2, 1.0),
        presign_max_age_s=None if cfg.get("no_presign") else 1.0,
    )
    hub = BenchHub(queue="bench-worker")
    rest.hub = hub
    recorder = None
    if cfg["record"]:
        recorder = Recorder(f"sqlite:///{cfg['db_path']}", environment="sim", label="bench", source_url=ws_url).start()
        sampler.recorder = recorder
        if cfg.get("writer_nice"):  # diagnostic knob (--writer-nice): not what the product does
            for thread in threading.enumerate():
                if thread.name.startswith("recorder-") and thread.native_id is not None:
                    os.setpriority(os.PRIO_PROCESS, thread.native_id, cfg["writer_nice"])
    metrics = AppMetrics()
    features = policies = None
    if str(cfg.get("policy", "imbalance")).startswith("rl:"):
        from trading.live import FeatureStore, PolicyLibrary

        features = FeatureStore(hub)  # fed by every frame from the first one, as in the worker
        policies = PolicyLibrary(Path(cfg["registry"]), metrics, features)
        await policies.preload()  # as the worker does at start-up (before its gc.freeze)
    acts = MarketDataActivities(rest, ws_url, signer, metrics, hub, recorder, policies, features)
    ingest_env = ActivityEnvironment()
    settings = IngestSettings(
        discovery_interval_s=15, heartbeat_interval_s=1, silence_timeout_s=30, record=cfg["record"]
    )
    ingest = asyncio.create_task(
        ingest_env.run(acts.ingest_market_data, IngestInput(series_tickers=[SERIES], settings=settings))
    )
    tasks = [asyncio.create_task(sampler.run_rss()), asyncio.create_task(sampler.run_lag())]
    out: dict[str, Any] = {"kind": cfg["kind"], "record": cfg["record"], "rss_start": rss_start}
    try:
        # Ready: every expected market has a trusted book.
        deadline = time.monotonic() + 60
        while True:
            if ingest.done():
                ingest.result()
                raise RuntimeError("ingestion ended before the books were ready")
            feed = hub.feed
            if feed is not None and len(feed.markets) >= cfg["markets"]:
                m = feed.metrics()
                if m["feed_books_trusted"] == len(feed.markets):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"books not ready within 60 s: {feed.metrics() if feed else 'no feed'}")
            await asyncio.sleep(0.05)
        out["ready_s"] = round(60 - (deadline - time.monotonic()), 2)
        out["gc_tracked"] = len(gc.get_objects())
        if cfg.get("gc_freeze"):
            gc.collect()
            gc.freeze()  # diagnostic knob (--gc-freeze): not what the product does
        out["rss_ready"] = sampler.rss_bytes()
        feed = hub.feed
        client = hub.client
        m0 = feed.metrics()
        w0 = recorder.written if recorder else 0
        hub.rx_to_mark = Histogram()
        sampler.loop_lag = Histogram()
        sampler.rss.clear()
        sampler.queue.clear()
        gcw.pauses = {g: Histogram() for g in gcw.pauses}
        cpu_main0, cpu_proc0, t0 = time.thread_time(), time.process_time(), time.perf_counter()

        # The actor loop trades ONE market (the open gold market; in the memory run the first of the copies)
        # while ingestion holds every subscribed market: 4 orders/s stay far below the Basic tier's 10/s.
        open_markets = sorted(await rest.get_markets(series_ticker=SERIES, status="open"), key=lambda mk: mk.ticker)
        traded = open_markets[: cfg.get("traded_markets", 1)]
        epoch = EpochInput(
            epoch_id=f"bench:{cfg['run_id']}",
            deadline=datetime.now(UTC) + timedelta(seconds=cfg["duration_s"]),
            markets=[EpochMarket(ticker=mk.ticker, close_time=mk.close_time) for mk in traded],
            balance_cents=INITIAL_BALANCE_CENTS,
            risk=RiskLimits(
                order_size_contracts=Decimal(1),
                max_position_contracts=Decimal(100_000),
                max_open_positions=100,
                max_spread_dollars=Decimal("0.99"),
                per_market_throttle_ms=250,
                max_entry_price_dollars=Decimal("0.99"),
            ),
            exits=ExitRules(market_closing_window_s=60, cash_reserve_cents=0),
            settings=EpochSettings(
                policy=cfg.get("policy", "imbalance"), imbalance_threshold=Decimal(0), use_websocket=True
            ),
        )
        actor_env = ActivityEnvironment()
        profiler = None
        if cfg.get("profile"):  # diagnostic (--profile): cProfile of the actor epoch (the whole event loop)
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        summary = await actor_env.run(acts.run_actor_epoch, epoch)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(f"{cfg['profile']}.{cfg['run_id']}.pstats")
        out["summary"] = summary.model_dump(mode="json", exclude={"client_order_ids"})
        used = summary.policy
        if used is not None and used.fallback_reason:
            raise RuntimeError(f"the actor ran {used.name}, not {used.requested}: {used.fallback_reason}")
        out["orders"] = [asdict(t) for t in rest.timings]
        out["presign"] = asdict(rest.presign_stats) if rest.presign_stats is not None else None
        out["batches"] = dict(BATCHES)
        out["pickup"] = hub.last_pickup.summary()
        out["traded"] = [mk.ticker for mk in traded]
        elapsed = time.perf_counter() - t0
        cpu_main, cpu_proc = time.thread_time() - cpu_main0, time.process_time() - cpu_proc0
        m1 = feed.metrics()
        out["elapsed_s"] = elapsed
        out["deltas"] = int(m1["feed_deltas_applied"] or 0) - int(m0["feed_deltas_applied"] or 0)
        out["frames"] = int(m1["ws_frames"] or 0) - int(m0["ws_frames"] or 0)
        out["cpu_main_s"], out["cpu_other_s"] = cpu_main, max(0.0, cpu_proc - cpu_main)
        out["rx_to_mark"] = hub.rx_to_mark.summary()
        out["loop_lag"] = sampler.loop_lag.summary()
        out["gc"] = gcw.summary()
        out["counters"] = {k: v for k, v in m1.items() if isinstance(v, int) and not isinstance(v, bool)}
        out["connected"] = client.connected if client else False
        out["rss_samples"] = [b for _, b in sampler.rss]
        out["queue_samples"] = list(sampler.queue)
        out["rss_hwm"] = vm_hwm_bytes()  # before the (tracemalloc) book measurement below
        if cfg["kind"] == "memory":
            out["book_bytes"], out["book_levels"] = book_memory(feed)
            out["markets"] = len(feed.markets)
        if recorder is not None:
            out["recorder_window_written"] = recorder.written - w0
    finally:
        for t in tasks:
            t.cancel()
        ingest_env.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(ingest, timeout=15)
        if recorder is not None:
            closed = await recorder.aclose(timeout_s=30)
            st = recorder.stats()
            out["recorder"] = {**asdict(st), "closed_clean": closed}
            db = Path(cfg["db_path"])
            out["db_bytes"] = sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())
        await rest.aclose()
        gc.callbacks.remove(gcw)
    return out


def child_entry(cfg_path: str) -> int:
    cfg = json.loads(Path(cfg_path).read_text())
    cfg["private_pem"] = Path(cfg["key_path"]).read_text()
    if cfg.get("switch_interval_ms"):
        sys.setswitchinterval(cfg["switch_interval_ms"] / 1000)  # diagnostic knob: not what the product does
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    import faulthandler

    instrument_core()
    # a run that overstays: every thread's stack in the log (the parent kills it at duration + 240 s)
    faulthandler.dump_traceback_later(cfg["duration_s"] + 150, exit=False)
    result = asyncio.run(_with_stall_report(child_main(cfg), cfg["duration_s"] + 120))
    faulthandler.cancel_dump_traceback_later()
    Path(cfg["out"]).write_text(json.dumps(result, default=str))
    return 0


async def _with_stall_report(main: Any, after_s: float) -> Any:
    """Run ``main``; if it is still running after ``after_s``, log every asyncio task's stack (a stall's where)."""

    async def report() -> None:
        await asyncio.sleep(after_s)
        for task in asyncio.all_tasks():
            logging.getLogger("bench").error("stalled task %r:\n%s", task, "".join(_stack(task)))

    watcher = asyncio.create_task(report())
    try:
        return await main
    finally:
        watcher.cancel()


def _stack(task: asyncio.Task[Any]) -> list[str]:
    import io

    buf = io.StringIO()
    task.print_stack(file=buf)
    return [buf.getvalue()]


# ==================================================================================================
# PARENT: processes, tape directory, runs, report
# ==================================================================================================


class Simulator:
    """``python -m simulator`` as a child process on a free port; stopped with SIGINT (then killed)."""

    def __init__(
        self, data_dir: Path, start: str, speed: str, keys_dir: Path, log_path: Path, cpus: set[int] | None = None
    ) -> None:
        self.cpus = cpus
        self.cmd = [
            sys.executable,
            "-m",
            "simulator",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--start",
            start,
            "--speed",
            speed,
            "--rate-limit-tier",
            "off",
            "--keys-dir",
            str(keys_dir),
            "--initial-balance-cents",
            str(INITIAL_BALANCE_CENTS),
            "--log-level",
            "warning",
        ]
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""

    def __enter__(self) -> Simulator:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=log, preexec_fn=pinner(self.cpus)
            )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 120
        line = b""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                line = self.proc.stdout.readline()
                if b"listening on " in line:
                    self.base_url = line.split(b"listening on ", 1)[1].split()[0].decode()
                    return self
        self.__exit__(None, None, None)
        raise RuntimeError(f"simulator did not start: {line!r}; see {self.log_path}:\n{tail(self.log_path)}")

    def __exit__(self, *exc: Any) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        self.proc = None


def tail(path: Path, lines: int = 30) -> str:
    """The log's last traceback (torch's extensions print pages of leak reports at exit), else its last lines."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    starts = [i for i, line in enumerate(text) if line.startswith("Traceback")]
    if starts:
        end = next((i for i in range(starts[-1] + 1, len(text)) if text[i] and not text[i][0].isspace()), len(text))
        return "\n".join(text[starts[-1] : end + 1])
    return "\n".join(text[-lines:])


def pinner(cpus: set[int] | None) -> Any:
    """A ``preexec_fn`` pinning the new process (and every thread it starts) to ``cpus``; None = no pinning."""
    if not cpus:
        return None

    def pin() -> None:
        os.sched_setaffinity(0, cpus)

    return pin


def cpu_split(enabled: bool) -> tuple[set[int] | None, set[int] | None]:
    """(worker CPUs, simulator CPUs): the first allowed CPU for the worker, the rest for the exchange."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not enabled or len(allowed) < 2:
        return None, None
    return {allowed[0]}, set(allowed[1:])


def run_child(cfg: dict[str, Any], tmp: Path, name: str, cpus: set[int] | None = None) -> dict[str, Any]:
    cfg_path = tmp / f"{name}.json"
    out_path = tmp / f"{name}.out.json"
    log_path = tmp / f"{name}.log"
    cfg = {**cfg, "out": str(out_path)}
    cfg_path.write_text(json.dumps(cfg))
    with log_path.open("ab") as log:
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "bench.bench_market_data", "--child", str(cfg_path)],
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=cfg["duration_s"] + 240,
                check=False,
                preexec_fn=pinner(cpus),
            )
        except subprocess.TimeoutExpired:
            kept = Path(tempfile.gettempdir()) / f"bench-md-{name}-{os.getpid()}.log"
            kept.write_bytes(log_path.read_bytes())  # the temp folder goes; the stall's stacks stay
            raise RuntimeError(f"worker run {name} timed out (its log: {kept}):\n{tail(log_path)}") from None
    if proc.returncode != 0 or not out_path.is_file():
        raise RuntimeError(f"worker run {name} failed (exit {proc.returncode}):\n{tail(log_path)}")
    result: dict[str, Any] = json.loads(out_path.read_text())
    result["log_warnings"] = [
        ln for ln in log_path.read_text(errors="replace").splitlines() if " WARNING " in ln or " ERROR " in ln
    ][:20]
    return result


def build_tape_dir(dst: Path, source: str, copies: int) -> tuple[str, str]:
    """``copies`` replicas of market ``source`` (same window, distinct tickers, one event); returns (start, event)."""
    from simulator.tape import replicate_market

    try:
        tickers = replicate_market(DATA_DIR, source, copies, dst)
    except ValueError as err:
        raise SystemExit(f"--mem-source: {err}") from None
    with (DATA_DIR / "MARKETS.csv").open(newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["window"] == source)
    opened = datetime.fromisoformat(row["open_time"].replace("Z", "+00:00"))
    return (opened + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ"), tickers[0].rsplit("-", 1)[0]


def parse_apply_cost(path: Path, limit: int = 60_000) -> tuple[float, float, int]:
    """Median us per frame of ``parse_frame`` and of ``BookStore.apply`` on the first ``limit`` book frames."""
    from kalshi.models.ws import parse_frame
    from kalshi.orderbook import BookStore

    frames: list[bytes] = []
    with gzip.open(path, "rb") as fh:
        for line in fh:
            start = line.index(b'"event":') + len(b'"event":')
            raw = bytes(line[start : line.rindex(b"}")].strip())
            if b'"orderbook_' in raw[:40]:
                frames.append(raw)
            if len(frames) >= limit:
                break
    parse_t, apply_t = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        events = [parse_frame(r) for r in frames]
        t1 = time.perf_counter()
        store = BookStore()
        for e in events:
            store.apply(e)
        t2 = time.perf_counter()
        parse_t.append((t1 - t0) / len(frames))
        apply_t.append((t2 - t1) / len(frames))
    return statistics.median(parse_t) * 1e6, statistics.median(apply_t) * 1e6, len(frames)


# ----------------------------------------------------------------------------------------------- report


def ms(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x * 1000:.{digits}f}"


def order_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [o for o in result["orders"] if o["outcome"] == "ok" and o["mark"] is not None and o["written"] is not None]
    for o in rows:
        o["total"] = o["written"] - o["mark"]
        if o.get("cpu_mark") is not None and o.get("cpu_written") is not None:
            o["off_cpu"] = max(0.0, o["total"] - (o["cpu_written"] - o["cpu_mark"]))
            o["zero"] = 0.0
    return rows


PARTS: list[tuple[str, str, str, str]] = [
    ("total", "mark", "written", "receipt (UpdateStream mark) -> request written on the socket"),
    ("queue", "mark", "taken", "  mark -> actor takes the batch (wake-up, coalescing, reader busy)"),
    ("decide", "taken", "call", "  batch -> create_order called (freshness, top of book, policy, pre-trade)"),
    ("d_pre", "taken", "dec0", "    batch -> decide (freshness, top of book; earlier markets of the batch)"),
    ("d_decide", "dec0", "dec1", "    decide_many: observation, inference, pre-trade checks, counters (whole batch)"),
    ("d_hop", "sub", "exe", "    submit -> the market's operation task runs (event-loop turn)"),
    ("d_cancel", "can0", "can1", "    cancel of the replaced resting order (MAKE orders that replace one)"),
    ("d_place", "place", "call", "    _place: CreateOrderRequest, counters -> create_order runs"),
    ("prep", "call", "lim0", "  create_order -> limiter (request body, httpx Request)"),
    ("limiter", "lim0", "lim1", "  client-side rate limiter (Basic tier token bucket)"),
    ("sign", "sig0", "sig1", "  RSA-PSS signing (2048-bit key)"),
    ("to_transport", "sig1", "tx", "  httpx client: signed -> transport"),
    ("httpcore", "tx", "written", "  httpcore: pool, h11, transport.write of headers+body"),
    ("off_cpu", "zero", "off_cpu", "  of the total: main thread off-CPU (descheduled, waiting for the GIL)"),
    ("ack", "written", "resp", "ack: written -> response headers read"),
    ("ack_parsed", "written", "ret", "ack: written -> create_order returned (parsed ack)"),
    ("rx_mark", "rx", "mark", "(excluded) latest data_received -> mark (lower bound)"),
]


def part_values(rows: list[dict[str, Any]], a: str, b: str) -> list[float]:
    return [o[b] - o[a] for o in rows if o.get(a) is not None and o.get(b) is not None]


def latency_block(runs: list[dict[str, Any]], indent: str = "     ") -> list[float]:
    """Print the per-part table of ``runs`` (pooled p50 / p99 / max, and medians of per-run p50 / p99)."""
    pooled = [o for r in runs for o in order_rows(r)]
    print(
        f"{indent}{len(pooled)} orders over {len(runs)} run(s); ms: pooled p50 / p99 / max  |  median over runs of p50 / p99"
    )
    for _key, a, b, label in PARTS:
        vals = part_values(pooled, a, b)
        run_p50 = med([pct(part_values(order_rows(r), a, b), 50) for r in runs])
        run_p99 = med([pct(part_values(order_rows(r), a, b), 99) for r in runs])
        print(
            f"{indent}{label:<80} {ms(pct(vals, 50), 3):>7} / {ms(pct(vals, 99), 3):>7} / "
            f"{ms(max(vals) if vals else None, 3):>7}  |  {ms(run_p50, 3)} / {ms(run_p99, 3)}"
        )
    pickup = [r["pickup"] for r in runs]
    print(
        f"{indent}every update (not only those that led to an order): mark -> actor takes it p50 "
        f"{ms(med([h['p50'] for h in pickup]), 3)} / p99 {ms(med([h['p99'] for h in pickup]), 3)} / max "
        f"{ms(max((h['max'] or 0) for h in pickup), 2)} ms ({sum(h['n'] for h in pickup):,} updates)"
    )
    for o in sorted(pooled, key=lambda o: -o["total"])[:3]:
        parts = ", ".join(
            f"{k} {ms(o[b] - o[a], 2)}" for k, a, b, _ in PARTS[1:14] if o.get(a) is not None and o.get(b) is not None
        )
        print(f"{indent}slowest: {ms(o['total'])} ms = {parts}{' (new TCP connection)' if o['new_connection'] else ''}")
    plain = [o["total"] for o in pooled if o.get("can0") is None]
    replacing = [o["total"] for o in pooled if o.get("can0") is not None]
    presigned = sum(1 for o in pooled if o.get("sig0") is None)
    print(
        f"{indent}orders that cancel nothing first (TAKE, first MAKE): {len(plain)}, receipt -> written p50 "
        f"{ms(pct(plain, 50), 3)} / p99 {ms(pct(plain, 99), 3)} ms; MAKE orders replacing a resting one (cancel "
        f"round trip first): {len(replacing)}, p50 {ms(pct(replacing, 50), 3)} / p99 {ms(pct(replacing, 99), 3)} ms"
    )
    batches: dict[int, int] = {}
    for r in runs:
        for size, count in (r.get("batches") or {}).items():
            batches[int(size)] = batches.get(int(size), 0) + count
    if batches:
        shown = ", ".join(f"{size}: {batches[size]:,}" for size in sorted(batches))
        print(f"{indent}actor-loop turns by markets decided by the policy in one forward pass: {shown}")
    stats = [r["presign"] for r in runs if r.get("presign")]
    print(
        f"{indent}order requests with a pre-signed header: {presigned} of {len(pooled)}"
        + (
            f"; pool: signed {sum(x['signed'] for x in stats)}, taken {sum(x['taken'] for x in stats)}, missed "
            f"{sum(x['missed'] for x in stats)}, stale (discarded, never sent) {sum(x['stale'] for x in stats)}, "
            f"refreshed {sum(x.get('refreshed', 0) for x in stats)}"
            if stats
            else " (pre-signing off)"
        )
    )
    failed = sum(1 for r in runs for o in r["orders"] if o["outcome"] != "ok")
    unpaired = sum(
        1 for r in runs for o in r["orders"] if o["outcome"] == "ok" and (o["mark"] is None or o["written"] is None)
    )
    new_conn = sum(1 for o in pooled if o["new_connection"])
    print(f"{indent}orders failed {failed}, not paired {unpaired}, opened a new TCP connection {new_conn}")
    return [o["total"] for o in pooled]


def hot_path_line(runs: list[dict[str, Any]], indent: str = "     ") -> None:
    hot = [r["rx_to_mark"] for r in runs]
    lag = [r["loop_lag"] for r in runs]
    print(
        f"{indent}hot path: latest data_received -> mark per delta p50 {ms(med([h['p50'] for h in hot]), 3)} / p99 "
        f"{ms(med([h['p99'] for h in hot]), 3)} / max {ms(max((h['max'] or 0) for h in hot), 2)} ms; event-loop lag "
        f"(5 ms sleeper) p50 {ms(med([h['p50'] for h in lag]), 3)} / p99 {ms(med([h['p99'] for h in lag]), 3)} / max "
        f"{ms(max((h['max'] or 0) for h in lag), 2)} ms"
    )
    el = [r["elapsed_s"] for r in runs]
    print(
        f"{indent}ingest {medz([r['deltas'] / e for r, e in zip(runs, el, strict=True)]):,.0f} deltas/s "
        f"({medz([r['frames'] / e for r, e in zip(runs, el, strict=True)]):,.0f} frames/s); CPU main thread "
        f"{medz([r['cpu_main_s'] / e for r, e in zip(runs, el, strict=True)]) * 100:.0f}% of a core "
        f"({medz([r['cpu_main_s'] / max(r['frames'], 1) for r in runs]) * 1e6:.1f} us per frame, actor and orders "
        f"included), other threads {medz([r['cpu_other_s'] / e for r, e in zip(runs, el, strict=True)]) * 100:.0f}%; "
        f"GC gen2 {medz([r['gc']['2']['n'] for r in runs]):.0f} passes/run (longest {ms(max((r['gc']['2']['max'] or 0) for r in runs))} ms), "
        f"gen1 longest {ms(max((r['gc']['1']['max'] or 0) for r in runs))} ms; {medz([r['gc_tracked'] for r in runs]):,.0f} "
        "GC-tracked objects when ready"
    )


def recorder_line(runs: list[dict[str, Any]], indent: str = "     ") -> None:
    rec = [r["recorder"] for r in runs]
    q = [x for r in runs for x in r["queue_samples"]]
    rate = medz([r["recorder_window_written"] / r["elapsed_s"] for r in runs])
    print(
        f"{indent}recorder: {rate:,.0f} rows/s committed while the feed ran; written {sum(x['written'] for x in rec):,} of "
        f"{sum(x['enqueued'] for x in rec):,} enqueued, dropped {sum(x['dropped'] for x in rec):,}, queue depth (0.5 s samples) "
        f"median {statistics.median(q) if q else 0:,.0f} / max {max(q) if q else 0:,}, peak {max(x['max_queue_depth'] for x in rec):,}; "
        f"write errors {sum(x['write_errors'] for x in rec)}, closed clean {all(x['closed_clean'] for x in rec)}; "
        f"database {medz([r['db_bytes'] for r in runs]) / 1e6:.0f} MB/run"
    )


def compare_line(off: list[dict[str, Any]], on: list[dict[str, Any]], indent: str = "   ") -> None:
    t_off = [o["total"] for r in off for o in order_rows(r)]
    t_on = [o["total"] for r in on for o in order_rows(r)]
    print(
        f"{indent}recording ON vs OFF: decision latency p50 {ms(pct(t_on, 50))} vs {ms(pct(t_off, 50))} ms, p99 "
        f"{ms(pct(t_on, 99))} vs {ms(pct(t_off, 99))} ms; rx->mark p99 {ms(med([r['rx_to_mark']['p99'] for r in on]), 3)} vs "
        f"{ms(med([r['rx_to_mark']['p99'] for r in off]), 3)} ms; loop lag p99 {ms(med([r['loop_lag']['p99'] for r in on]), 3)} vs "
        f"{ms(med([r['loop_lag']['p99'] for r in off]), 3)} ms; main-thread CPU per frame "
        f"{medz([r['cpu_main_s'] / max(r['frames'], 1) for r in on]) * 1e6:.1f} vs "
        f"{medz([r['cpu_main_s'] / max(r['frames'], 1) for r in off]) * 1e6:.1f} us"
    )


def warnings_line(results: list[dict[str, Any]], indent: str = "   ") -> None:
    warnings = sorted({w.split(": ", 1)[-1][:160] for r in results for w in r["log_warnings"]})
    if warnings:
        print(f"{indent}worker log warnings: " + " | ".join(warnings[:5]))


def report_latency(results: list[dict[str, Any]], duration_s: float, rounds: int) -> None:
    print()
    print(
        "1. Decision latency: WebSocket frame received -> order request written on the socket (+ 3. recording off/on)"
    )
    print(
        f"   tape {LATENCY_MARKET} from {LATENCY_START}, speed 1; {rounds} run(s) x {duration_s:.0f} s per mode, "
        "alternating, simulator restarted at the same tape time for each; ImbalancePolicy threshold 0, throttle 250 ms, "
        "1-contract IOC orders"
    )
    print(f"   policy: {policy_line(results)}")
    print(
        f"   {'run':<13}{'orders':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'ack p50':>9}{'ack p99':>9}  EpochSummary"
    )
    by_mode: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    for r in results:
        by_mode[r["record"]].append(r)
    for mode in (False, True):
        for i, r in enumerate(by_mode[mode]):
            rows = order_rows(r)
            tot = [o["total"] for o in rows]
            ack = part_values(rows, "written", "resp")
            s = r["summary"]
            print(
                f"   {'rec ' + ('on' if mode else 'off') + f' #{i + 1}':<13}{len(rows):>7}{ms(pct(tot, 50)):>9}{ms(pct(tot, 99)):>9}"
                f"{ms(max(tot) if tot else None):>9}{ms(pct(ack, 50)):>9}{ms(pct(ack, 99)):>9}  latency p50/p99 "
                f"{s['latency_ms_p50'] or 0:.3f}/{s['latency_ms_p99'] or 0:.3f} ms, ack {s['ack_latency_ms_p50'] or 0:.2f}/"
                f"{s['ack_latency_ms_p99'] or 0:.2f} ms; placed {s['orders_placed']}, updates {s['updates_seen']:,}, "
                f"rejects {s['rejects']}, errors {s['errors']}"
            )
    for mode in (False, True):
        runs = by_mode[mode]
        if not runs:
            continue
        print()
        print(f"   recorder {'ON' if mode else 'OFF'}:")
        tot = latency_block(runs)
        p99 = pct(tot, 99)
        print(
            f"     target p99 < {TARGET_P99_MS:.0f} ms: {'met' if p99 is not None and p99 * 1000 < TARGET_P99_MS else 'NOT met'} "
            f"(pooled p99 {ms(p99)} ms, max {ms(max(tot) if tot else None)} ms)"
        )
        hot_path_line(runs)
        if mode:
            recorder_line(runs)
    if by_mode[False] and by_mode[True]:
        print()
        compare_line(by_mode[False], by_mode[True])
    warnings_line(results)


def policy_line(results: list[dict[str, Any]]) -> str:
    """The policy the runs' epochs ran, with their decisions, inference latency and forced holds."""
    s = results[0]["summary"]
    used = s.get("policy") or {}
    name = used.get("name") or "?"
    if used.get("model_version"):
        name += (
            f" (feature version {used.get('feature_version')}, decision interval {used.get('decision_interval_ms')} ms)"
        )
    decisions: dict[str, int] = {}
    for r in results:
        for action, n in (r["summary"].get("decisions") or {}).items():
            decisions[action] = decisions.get(action, 0) + n
    inf = [r["summary"].get("inference_ms_p99") for r in results if r["summary"].get("inference_ms_p99") is not None]
    inf50 = [r["summary"].get("inference_ms_p50") for r in results if r["summary"].get("inference_ms_p50") is not None]
    line = f"{name}; decisions {decisions}"
    if inf:
        line += f"; observation + inference per decision (EpochSummary) p50 {medz(inf50):.3f} / p99 {medz(inf):.3f} ms"
    return line


def report_memory(results: list[dict[str, Any]], args: Options, event: str) -> None:
    mb = 1024 * 1024
    print()
    print(f"2. Worker memory with {args.mem_markets} subscribed markets (+ 3. persistence alongside live ingestion)")
    print(
        f"   tape: {args.mem_markets} copies of {args.mem_source} (event {event}: same window, distinct tickers), from "
        f"open + 60 s, speed {args.mem_speed}; worker: ingestion of all of them (WS client + feed + hub), the actor loop "
        f"trading {args.traded_markets} of them, recorder (SQLite, WAL) on / off; {args.mem_duration_s:.0f} s measured "
        "once every book is trusted"
    )
    print(f"   policy: {policy_line(results)}; rate-limit tier {args.tier}")
    for r in results:
        rss = r["rss_samples"]
        steady = statistics.median(rss[len(rss) // 2 :]) if rss else 0
        first, last = (rss[0], rss[-1]) if rss else (0, 0)
        growth = (last - first) / mb / (r["elapsed_s"] / 60)
        print()
        print(
            f"   recorder {'ON' if r['record'] else 'OFF'}: {r['markets']} markets, every book trusted {r['ready_s']} s after start"
        )
        print(
            f"     RSS: process start {r['rss_start'] / mb:.0f} MB, books ready {r['rss_ready'] / mb:.0f} MB, steady (median "
            f"of the 2nd half) {steady / mb:.0f} MB, peak (VmHWM) {r['rss_hwm'] / mb:.0f} MB; drift over the window "
            f"{first / mb:.0f} -> {last / mb:.0f} MB ({growth:+.1f} MB/min); target < {TARGET_RSS_MB:.0f} MB: "
            f"{'met' if r['rss_hwm'] / mb < TARGET_RSS_MB else 'NOT met'}"
        )
        print(
            f"     books: {r['book_levels']:,} levels in {r['markets']} books = {r['book_bytes'] / 1e6:.2f} MB (tracemalloc)"
        )
        hot_path_line([r])
        c = r["counters"]
        print(
            f"     feed: gaps {c.get('feed_gaps', 0)}, integrity errors {c.get('feed_integrity_errors', 0)}, dropped while "
            f"untrusted {c.get('feed_deltas_dropped_untrusted', 0)}, reconnects {c.get('ws_reconnects', 0)}; connected at "
            f"end {r['connected']}"
        )
        if r["record"]:
            recorder_line([r])
        traded = r["traded"][0] if len(r["traded"]) == 1 else f"{len(r['traded'])} traded markets"
        print(f"     decision latency on the {traded} meanwhile:")
        latency_block([r], indent="       ")
    on = [r for r in results if r["record"]]
    off = [r for r in results if not r["record"]]
    if on and off:
        print()
        compare_line(off, on)
        print(f"   peak RSS ON vs OFF: {on[0]['rss_hwm'] / mb:.0f} vs {off[0]['rss_hwm'] / mb:.0f} MB")
    warnings_line(results)


# ----------------------------------------------------------------------------------------------- main


@dataclass(frozen=True)
class Options:
    """The command line's choices (see :func:`main`)."""

    duration_s: float
    rounds: int
    mem_duration_s: float
    mem_markets: int
    mem_source: str
    mem_speed: str
    only: str | None
    no_pin: bool
    gc_freeze: bool
    writer_nice: int
    switch_interval_ms: float | None
    policy: str
    registry: Path | None
    traded_markets: int
    tier: str
    recorder: str
    profile: Path | None
    no_presign: bool


@click.command(help=(__doc__ or "").split("\n\n")[0])
@click.option(
    "--duration-s", type=float, default=30.0, show_default=True, help="Actor epoch length per latency run (s)."
)
@click.option("--rounds", type=int, default=3, show_default=True, help="Latency runs per mode (recorder off / on).")
@click.option(
    "--mem-duration-s", type=float, default=45.0, show_default=True, help="Measured ingestion time per memory run (s)."
)
@click.option("--mem-markets", type=int, default=100, show_default=True, help="Subscribed markets in the memory run.")
@click.option(
    "--mem-source", default=MEM_SOURCE, show_default=True, help="Recorded market replicated for the memory run."
)
@click.option("--mem-speed", default="1", show_default=True, help="Replay speed of the memory run.")
@click.option("--only", type=click.Choice(["latency", "memory"]), default=None)
@click.option("--no-pin", is_flag=True, help="Do not pin the worker and the simulator to different CPUs.")
@click.option("--gc-freeze", is_flag=True, help="Diagnostic: gc.freeze() in the worker once ready.")
@click.option(
    "--writer-nice",
    type=int,
    default=0,
    show_default=True,
    help="Diagnostic: nice value of the recorder's writer thread.",
)
@click.option("--switch-interval-ms", type=float, default=None, help="Diagnostic: sys.setswitchinterval in the worker.")
@click.option(
    "--policy",
    default="imbalance",
    show_default=True,
    help="The actor's policy: imbalance, hold, rl:current or rl:<version> (from --registry).",
)
@click.option(
    "--registry",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Model registry for rl: policies (default STATE_DIR/models).",
)
@click.option(
    "--traded-markets", type=int, default=1, show_default=True, help="Markets the actor trades in the memory run."
)
@click.option("--tier", default="basic", show_default=True, help="Kalshi rate-limit tier of the client-side limiter.")
@click.option(
    "--recorder",
    type=click.Choice(["both", "off", "on"]),
    default="both",
    show_default=True,
    help="Recorder modes to run (both: off and on alternating).",
)
@click.option(
    "--profile",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Diagnostic: cProfile each run's actor epoch into PROFILE.<run>.pstats (slows the loop).",
)
@click.option("--no-presign", is_flag=True, help="Sign every order request when it is sent (no pre-signed headers).")
@click.option("--child", default=None, hidden=True)
def main(child: str | None, **options: Any) -> None:
    try:
        sys.exit(child_entry(child) if child else run(Options(**options)))
    except KeyboardInterrupt:
        print("interrupted: worker and simulator processes stopped, temporary files removed", file=sys.stderr)
        sys.exit(130)


def run(args: Options) -> int:
    """The benchmark (see the module docstring); returns the exit status."""
    if not DATA_DIR.is_dir():
        print(f"tape not found: {DATA_DIR} (the recorded data lives in ../shared/data)", file=sys.stderr)
        return 2

    def terminated(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")  # unwind: children stopped, temp dir removed

    signal.signal(signal.SIGTERM, terminated)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started in the background by a shell
        signal.signal(signal.SIGINT, terminated)
    from kalshi.signer import generate_key_pair

    worker_cpus, sim_cpus = cpu_split(not args.no_pin)
    knobs = {
        "gc_freeze": args.gc_freeze,
        "switch_interval_ms": args.switch_interval_ms,
        "writer_nice": args.writer_nice,
        "profile": str(args.profile.resolve()) if args.profile else None,
    }
    registry = args.registry
    if registry is None:
        from workers.settings import Settings

        registry = Settings().model_registry_dir
    policy = {"policy": args.policy, "registry": str(registry), "tier": args.tier, "no_presign": args.no_presign}
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; tape {DATA_DIR}; "
        + (
            f"worker pinned to CPU {sorted(worker_cpus)}, simulator to CPU {sorted(sim_cpus)}"
            if worker_cpus and sim_cpus
            else "no CPU pinning (worker and simulator share the CPUs)"
        )
        + (f"; DIAGNOSTIC KNOBS {knobs}" if any(knobs.values()) else "")
    )
    with tempfile.TemporaryDirectory(prefix="bench-md-") as tmp_name:
        tmp = Path(tmp_name)
        private_pem, public_pem = generate_key_pair()
        keys = tmp / "keys"
        keys.mkdir()
        (keys / f"{KEY_ID}.pub.pem").write_bytes(public_pem)
        key_path = tmp / f"{KEY_ID}.pem"
        key_path.write_bytes(private_pem)
        key_path.chmod(0o600)

        src = sorted((DATA_DIR / "events" / LATENCY_MARKET).glob("*.ndjson.gz"))[0]
        parse_us, apply_us, n = parse_apply_cost(src)
        print(
            f"excluded from the receipt mark, measured here on {n:,} frames of {LATENCY_MARKET}: parse_frame "
            f"{parse_us:.2f} us + BookStore.apply {apply_us:.2f} us per frame (medians of 5)"
        )

        if args.only in (None, "latency"):
            results = []
            for rnd in range(args.rounds):
                modes = (False, True) if rnd % 2 == 0 else (True, False)
                for record in [m for m in modes if args.recorder == "both" or m == (args.recorder == "on")]:
                    name = f"lat{rnd}{'on' if record else 'off'}"
                    with Simulator(DATA_DIR, LATENCY_START, "1", keys, tmp / f"sim-{name}.log", sim_cpus) as sim:
                        cfg = {
                            "kind": "latency",
                            "run_id": name,
                            "record": record,
                            "base_url": sim.base_url,
                            "key_path": str(key_path),
                            "db_path": str(tmp / f"{name}.db"),
                            "duration_s": args.duration_s,
                            "markets": 1,
                            **policy,
                            **knobs,
                        }
                        res = run_child(cfg, tmp, name, worker_cpus)
                    results.append(res)
                    rows = order_rows(res)
                    tot = [o["total"] for o in rows]
                    print(
                        f"  run {name}: {len(rows)} orders, p50 {ms(pct(tot, 50))} ms, p99 {ms(pct(tot, 99))} ms",
                        flush=True,
                    )
            report_latency(results, args.duration_s, args.rounds)

        if args.only in (None, "memory"):
            tape = tmp / "tape100"
            start, event = build_tape_dir(tape, args.mem_source, args.mem_markets)
            mem_results = []
            for record in [m for m in (True, False) if args.recorder == "both" or m == (args.recorder == "on")]:
                name = f"mem{'on' if record else 'off'}"
                with Simulator(tape, start, args.mem_speed, keys, tmp / f"sim-{name}.log", sim_cpus) as sim:
                    cfg = {
                        "kind": "memory",
                        "run_id": name,
                        "record": record,
                        "base_url": sim.base_url,
                        "key_path": str(key_path),
                        "db_path": str(tmp / f"{name}.db"),
                        "duration_s": args.mem_duration_s,
                        "markets": args.mem_markets,
                        "traded_markets": args.traded_markets,
                        **policy,
                        **knobs,
                    }
                    res = run_child(cfg, tmp, name, worker_cpus)
                mem_results.append(res)
                print(f"  run {name}: peak RSS {res['rss_hwm'] / 2**20:.0f} MB", flush=True)
            report_memory(mem_results, args, event)
    return 0


if __name__ == "__main__":
    main()
