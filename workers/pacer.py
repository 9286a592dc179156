"""Backtest only: the simulator's exchange clock waits for the trader (``SIM_PACE``).

A free-running replay makes every wall-clock cost of the stack (an order's round trip, a decision, the gap between
two epochs) a cost in tape time multiplied by the speed: the faster the replay, the more decisions come late or not
at all, so a backtest's decisions depended on its speed. Paced, tape time moves only while the trader is quiescent,
and the decisions are those of a trader infinitely fast on this tape, whatever the machine and the speed cap.

The pacer runs in the worker process (the only place that sees the actor loop's state, no extra process boundary
between observing and stepping) and steps the simulator's paused clock over its control API
(``PUT /sim/v1/clock {"tape_time": ...}``; the simulator applies every frame due before it answers, and
``next_due_ms`` says where the next recorded frame batch or lifecycle event is). Per decision point ``t`` of the
actor epoch (the earliest exchange millisecond at which a market's decision interval has elapsed and a frame
arrives):

1. advance to ``t - 1`` in one batch (frames inside the decision interval: applied, never decided on), then wait
   until the trader is quiescent (skipped when no frame falls there);
2. advance to ``t`` (the decision point's own frames arrive as one small burst), wait until quiescent.

During each step the hub's update gate is closed (:meth:`kalshi.ingest.MarketDataHub.hold_updates`) until a barrier
shows every frame of the step delivered: the actor loop then decides once, on the book after the whole burst, as the
environment does, never on a part of it (the WebSocket reader may hand the frames over in several loop turns).

Quiescent: a WebSocket round-trip barrier (``list_subscriptions``: every frame the simulator sent before its reply
has been delivered to the hub), the actor loop has taken every update marked since (its decision, if one was due, is
made synchronously when it takes them), every order it submitted has been acknowledged, and the fills it booked from
acknowledgements have been confirmed by their ``fill`` frames (another barrier after each acknowledgement).
Exactly the conditions under which the live loop and the training environment agree order for order
(tests/rl/test_live_policy.py).

Between epochs (calibration, closes, order-group reset, degraded probes) the clock is held: no tape goes uncovered.
An actor epoch ends when the exchange clock reaches its start plus ``epoch_s`` (the trader's recalibration
interval, on tape time: epoch boundaries do not depend on the speed either); a REST polling epoch (the first ones,
before the market-data workflow holds the books) or a degraded one (before the ingestion's first heartbeat reached
the calibration) ends before it trades: a paced backtest trades from a healthy feed only.
While no epoch runs, the backtest driver (:mod:`workers.backtest`) moves the clock over idle tape (no viable market,
settlement).

``SIM_PACE`` = ``max`` (as fast as the trader goes) or a number (an upper bound on tape seconds per wall second).
Enabled only against the simulator (``KALSHI_ENV=sim``); unset, nothing here runs and live behaviour is untouched.
The figures (wall time held, steps, barriers) go to ``STATE_DIR/pacer.json`` after every epoch and at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from kalshi.errors import KalshiError
from models.trader import OverallStatus

if TYPE_CHECKING:
    from kalshi.ingest import MarketDataHub
    from trading.epoch import EpochCore
    from trading.fencing import EpochFence

log = logging.getLogger(__name__)

_SPIN = 50
"""Event-loop turns a wait yields (``sleep(0)``) before it sleeps: the actor loop usually answers within a few."""
_NAP_S = 0.0005
"""Sleep between checks once the spin is spent, seconds (an order round trip: a few ms)."""
_BARRIER_TIMEOUT_S = 10.0


class PacerError(Exception):
    """The simulator's control API refused a clock step (the message says which)."""


def parse_pace(text: str | None) -> Decimal | bool | None:
    """``SIM_PACE``: False when off (unset, empty, ``off``), None for ``max``, else the cap (tape s per wall s).

    Raises:
        ValueError: not ``off``, ``max`` or a number in (0, 100000].
    """
    if text is None or text.strip().lower() in ("", "off", "0", "false", "no"):
        return False
    value = text.strip().lower()
    if value == "max":
        return None
    try:
        cap = Decimal(value)
    except ArithmeticError:
        raise ValueError(
            f"SIM_PACE must be off, max or a number of tape seconds per wall second, got {text!r}"
        ) from None
    if not cap.is_finite() or cap <= 0 or cap > 100_000:
        raise ValueError(f"SIM_PACE must be in (0, 100000], got {text!r}")
    return cap


@dataclass
class PaceStats:
    """What the pacer did (``STATE_DIR/pacer.json``).

    Attributes:
        mode: ``paced max`` or ``paced <cap>x``.
        epochs_paced: actor epochs it stepped; epochs_ended: of those, ended by it at their exchange deadline.
        polling_epochs_ended: REST polling epochs it ended before they traded.
        degraded_epochs_ended: actor epochs of a degraded calibration it ended before they traded.
        steps: clock steps (PUT /clock); tape_ms: tape milliseconds it advanced.
        barriers: WebSocket round-trip barriers.
        wait_trader_s: wall seconds spent waiting for the trader after a step (frames delivered, decisions made,
            orders acknowledged, fills confirmed).
        step_s: wall seconds in the simulator's clock steps (frames applied and sent).
        cap_sleep_s: wall seconds slept to keep under the speed cap.
        held_between_epochs_s: wall seconds no actor epoch was ready (the clock held for calibration, closes...).
        unconfirmed_timeouts: quiescence waits that gave up on a fill confirmation (a bug or a lost frame).
        epochs: ``[start, end]`` tape ms of every actor epoch paced (the tape the trader covered).
    """

    mode: str
    epochs_paced: int = 0
    epochs_ended: int = 0
    polling_epochs_ended: int = 0
    degraded_epochs_ended: int = 0
    steps: int = 0
    tape_ms: int = 0
    barriers: int = 0
    wait_trader_s: float = 0.0
    step_s: float = 0.0
    cap_sleep_s: float = 0.0
    held_between_epochs_s: float = 0.0
    unconfirmed_timeouts: int = 0
    epochs: list[list[int]] = field(default_factory=list)


class Pacer:
    """Steps the simulator's clock decision point by decision point while the worker's actor epoch is quiescent.

    Args:
        hub: the worker's market data (books, the WebSocket client used as a barrier, the update streams).
        fence: the account's epoch fence (the running epoch).
        control_url: the simulator's control API base (``http://host:port/sim/v1``).
        cap: upper bound on tape seconds per wall second; None: unbounded.
        epoch_s: tape seconds an actor epoch lasts (the trader's recalibration interval).
        stats_path: where :class:`PaceStats` is written (None: nowhere).
    """

    def __init__(
        self,
        hub: MarketDataHub,
        fence: EpochFence,
        control_url: str,
        *,
        cap: Decimal | None,
        epoch_s: float,
        stats_path: Path | None = None,
    ) -> None:
        self.hub = hub
        self.fence = fence
        self.control_url = control_url
        self.cap = cap
        self.epoch_ms = max(1, round(epoch_s * 1000))
        self.stats_path = stats_path
        self.stats = PaceStats(mode="paced max" if cap is None else f"paced {cap}x")
        self._epoch_changed = asyncio.Event()
        self._tape_ms = 0
        self._next_due: int | None = None
        fence.add_listener(self._on_epoch)

    # ---------------------------------------------------------------- epochs

    def _on_epoch(self, core: EpochCore) -> None:
        """A new epoch took the fence: a polling or degraded epoch ends before it trades; an actor epoch wakes run().

        Degraded (the calibration saw the market-data stream down: closing only, REST fallbacks refreshed on wall
        time): at a paced backtest's start-up that is the ingestion's first heartbeat not yet seen, a matter of wall
        time; trading it would make the first epoch depend on the machine. It ends at once (``market_data_lost``: the
        workflow recalibrates at once) with the clock held.
        """
        mode = getattr(core.inp, "mode", None)
        if core.origin != "actor":
            core.end("no_market_data")
            self.stats.polling_epochs_ended += 1
            log.info("paced replay: polling epoch %s ended before trading (feed only)", core.inp.epoch_id)
        elif mode is not None and mode != OverallStatus.FULLY_OPERATIONAL:
            core.end("market_data_lost")
            self.stats.degraded_epochs_ended += 1
            log.info("paced replay: %s epoch %s ended before trading (clock held)", mode, core.inp.epoch_id)
        self._epoch_changed.set()

    def _ready_epoch(self) -> EpochCore | None:
        core = self.fence.holder
        if core is None or core.origin != "actor" or not core.ready or core.ended is not None:
            return None
        return core

    async def run(self) -> None:
        """Pace every actor epoch of the account until cancelled.

        Raises:
            PacerError: the simulator refused a clock step (the clock stays where it is; the backtest's timeout
                reports it).
        """
        async with httpx.AsyncClient(base_url=self.control_url, timeout=30) as http:
            self._http = http
            try:
                while True:
                    held = time.perf_counter()
                    core = await self._wait_epoch()
                    self.stats.held_between_epochs_s += time.perf_counter() - held
                    await self._pace(core)
                    self._write_stats()
            finally:
                self.hub.hold_updates(False)
                self._write_stats()

    async def _wait_epoch(self) -> EpochCore:
        """The next ready actor epoch (the fence's listener wakes this; readiness follows its REST rebuild)."""
        while True:
            core = self._ready_epoch()
            if core is not None:
                return core
            if self.fence.holder is None:
                self._epoch_changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._epoch_changed.wait(), timeout=1.0)
            else:
                await asyncio.sleep(0.001)  # rebuilding (two REST reads), or ending

    async def _pace(self, core: EpochCore) -> None:
        """Step the clock through one actor epoch (module docstring), then end it at its exchange deadline."""
        self.stats.epochs_paced += 1
        await self._read_clock()
        start_tape, start_wall = self._tape_ms, time.perf_counter()
        end_ms = start_tape + self.epoch_ms
        pipeline: Any = core.pipeline
        interval = int(getattr(getattr(pipeline, "live", None), "interval_ms", 0) or 0)
        log.info(
            "paced replay: epoch %s from tape %s for %d s (decision interval %d ms)",
            core.inp.epoch_id,
            _iso(start_tape),
            self.epoch_ms // 1000,
            interval,
        )
        span = [start_tape, start_tape]
        self.stats.epochs.append(span)
        try:
            await self._pace_steps(core, (start_tape, start_wall), end_ms, interval)
        finally:
            span[1] = self._tape_ms

    async def _pace_steps(self, core: EpochCore, start: tuple[int, float], end_ms: int, interval: int) -> None:
        traded = list(core.close_times)
        last: dict[str, int] = getattr(core.pipeline, "last_decision_ms", {})
        await self._quiescent(core)
        while self._live(core):
            if self._tape_ms >= end_ms:
                core.end("duration")
                self.hub.wake()
                self.stats.epochs_ended += 1
                return
            nxt = self._next_due if self._next_due is not None and self._next_due > self._tape_ms else end_ms
            # the earliest millisecond a decision can fall on: a market that never decided decides on its next frame
            due = nxt
            if interval and traded and all(t in last for t in traded):
                due = max(nxt, min(last[t] for t in traded) + interval)
            due = min(due, end_ms)
            if nxt < due and due - 1 > self._tape_ms:
                await self._step(due - 1, start)  # frames inside the interval: applied, never decided on
                # the actor loop takes them now: at ``t`` a market is marked only by its own frames at ``t``, as live,
                # never by earlier ones (a trade at ``t`` marks nothing for a baseline, yet moves the clock to ``t``)
                await self._quiescent(core)
                if not self._live(core):
                    return
            nxt = self._next_due if self._next_due is not None and self._next_due > self._tape_ms else end_ms
            await self._step(min(max(nxt, self._tape_ms + 1), end_ms), start)
            await self._quiescent(core)

    def _live(self, core: EpochCore) -> bool:
        """Whether ``core`` still trades (its loop has not ended: it holds the fence; nobody ended it)."""
        return self.fence.holder is core and core.ended is None and core.superseded is None

    # ---------------------------------------------------------------- the clock

    async def _read_clock(self) -> None:
        r = await self._http.get("/clock")
        r.raise_for_status()
        self._take(r.json())

    def _take(self, clock: dict[str, Any]) -> None:
        self._tape_ms = int(clock["tape_time_ms"])
        due = clock.get("next_due_ms")
        self._next_due = None if due is None else int(due)

    async def _step(self, target_ms: int, start: tuple[int, float]) -> None:
        """Move the paused clock to ``target_ms`` (the simulator applies and sends every frame due, then answers).

        ``start``: the epoch's (tape ms, perf_counter s) the speed cap is measured from.
        """
        start_tape, start_wall = start
        if self.cap is not None:
            ahead = float(Decimal(target_ms - start_tape) / 1000 / self.cap) - (time.perf_counter() - start_wall)
            if ahead > 0:
                self.stats.cap_sleep_s += ahead
                await asyncio.sleep(ahead)
        began = time.perf_counter()
        self.hub.hold_updates(True)  # opened by _quiescent once every frame of the step has arrived
        r = await self._http.put("/clock", json={"tape_time": _iso(target_ms)})
        if r.status_code == 400:
            # the clock is already past the target (moved by someone else): carry on from where it stands
            await self._read_clock()
            if self._tape_ms >= target_ms:
                log.warning(
                    "paced replay: the clock was already at %s (step to %s)", _iso(self._tape_ms), _iso(target_ms)
                )
                return
        if r.status_code >= 400:
            raise PacerError(
                f"the simulator refused the clock step to {_iso(target_ms)}: {r.status_code} {r.text[:200]}"
            )
        before = self._tape_ms
        self._take(r.json())
        self.stats.steps += 1
        self.stats.tape_ms += max(0, self._tape_ms - before)
        self.stats.step_s += time.perf_counter() - began

    # ---------------------------------------------------------------- quiescence

    async def _barrier(self) -> bool:
        """A WebSocket round trip: when it returns, every frame sent before has reached the hub's listeners."""
        client = self.hub.client
        if client is None:
            return False
        self.stats.barriers += 1
        try:
            await asyncio.wait_for(client.list_subscriptions(), timeout=_BARRIER_TIMEOUT_S)
        except (KalshiError, TimeoutError) as err:
            log.warning("paced replay: WebSocket barrier failed (%s); the epoch will notice the feed", err)
            return False
        return True

    async def _quiescent(self, core: EpochCore) -> None:
        """Wait until the trader is quiescent (module docstring) or the epoch is over."""
        began = time.perf_counter()
        try:
            await self._barrier()
            self.hub.hold_updates(False)  # the step's frames are all in: the actor loop decides on the whole burst
            unconfirmed_checks = 0
            while self._live(core):
                if not await self._until(lambda: self.hub.pending_updates() == 0, core):
                    return
                if core.in_flight:
                    await asyncio.wait(list(core.in_flight.values()))
                    await self._barrier()  # the fill and order frames written before the acknowledgement
                    continue
                streamed = getattr(core.pipeline, "streamed", None)
                if streamed is not None and streamed.unconfirmed_lots:
                    unconfirmed_checks += 1
                    if unconfirmed_checks > 200:
                        self.stats.unconfirmed_timeouts += 1
                        log.warning("paced replay: %d lots still unconfirmed; stepping on", streamed.unconfirmed_lots)
                        return
                    await asyncio.sleep(0.005)
                    await self._barrier()
                    continue
                if self.hub.pending_updates() == 0:
                    return
        finally:
            self.hub.hold_updates(False)
            self.stats.wait_trader_s += time.perf_counter() - began

    async def _until(self, done: Any, core: EpochCore) -> bool:
        """Yield until ``done()`` (True) or the epoch is over (False); spin a few loop turns, then nap."""
        spins = 0
        while not done():
            if not self._live(core):
                return False
            if spins < _SPIN:
                spins += 1
                await asyncio.sleep(0)
            else:
                await asyncio.sleep(_NAP_S)
        return True

    def _write_stats(self) -> None:
        if self.stats_path is None:
            return
        with contextlib.suppress(OSError):
            tmp = self.stats_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(asdict(self.stats), indent=1))
            tmp.replace(self.stats_path)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read_stats(path: Path) -> dict[str, Any] | None:
    """The pacer's figures written by a worker (:class:`PaceStats` as a dict), or None when absent or unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


__all__ = ["PaceStats", "Pacer", "PacerError", "parse_pace", "read_stats"]
