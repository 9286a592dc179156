"""The timed-fault schedule: when each fault starts and ends, what it matched, and seeded draws.

Time base: the WALL clock (``time.monotonic`` for the schedule, ``time.time`` for the instants shown), not the
simulator's replay clock. A fault for a reliability test is aimed at the trader's wall-clock machinery
(Temporal timers, heartbeat and HTTP timeouts, reconnect backoff, probe schedules), which runs on wall time
whatever the replay speed; on the replay clock a "2 minute outage" would last 2 s at speed 60 and forever on a
paused clock (docs/simulator.md "Timed faults and scenarios").

A fault is ``scheduled`` until ``after`` has elapsed, ``active`` for ``for`` (or until cleared), then ``ended``
(``expired``, ``cleared`` or ``count_exhausted``). Each fault draws from its own ``random.Random`` seeded by
its ``seed`` (or the simulator's fault seed and the fault id), so the same seed affects the same requests of
the same sequence: ``rate`` 0.3 over 1,000 matching requests affects a reproducible ~300 of them.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from simulator.fault_specs import FaultSpec, HoldSpec, HttpErrorSpec, LatencySpec, WsDropSpec
from simulator.timeutil import iso_ms

State = Literal["scheduled", "active", "ended"]
ENDED_KEPT = 200
"""How many ended faults ``GET /sim/v1/faults`` still lists (newest first)."""
_PPM = 1_000_000


@dataclass
class TimedFault:
    """One scheduled fault and its counters.

    Attributes:
        id: ``f1``, ``f2``, ... in creation order.
        spec: the validated spec.
        scenario: the scenario it came from, if any.
        start / end: monotonic seconds of the window (``end`` None: until cleared).
        wall_offset: ``time.time() - time.monotonic()`` at creation, to show monotonic instants as wall time.
        matched: requests (or frames, handshakes) seen inside the window and route.
        affected: of which the fault acted on.

    """

    id: str
    spec: FaultSpec
    scenario: str | None
    start: float
    end: float | None
    wall_offset: float
    rng: random.Random
    rate_ppm: int
    state: State = "scheduled"
    matched: int = 0
    affected: int = 0
    started_wall: float | None = None
    ended_wall: float | None = None
    ended_reason: str | None = None
    next_drop: float | None = None
    seed: str = ""
    _extra: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """The fault kind (``spec.kind``)."""
        return self.spec.kind

    def covers(self, method: str, path: str) -> bool:
        """Whether a request kind's route takes ``method path`` (path under ``/trade-api/v2``)."""
        spec = self.spec
        if not isinstance(spec, LatencySpec | HttpErrorSpec | HoldSpec):
            return False
        if spec.method is not None and spec.method != method.upper():
            return False
        return spec.path is None or path.startswith(spec.path)

    def as_json(self, now: float) -> dict[str, Any]:
        """The fault as ``GET /sim/v1/faults`` lists it (instants in wall-clock ISO, seconds as strings)."""

        def wall(mono: float | None) -> str | None:
            return None if mono is None else iso_ms(round((mono + self.wall_offset) * 1000))

        def secs(value: float) -> str:
            return str(Decimal(value).quantize(Decimal("0.001")))

        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "name": self.spec.name,
            "scenario": self.scenario,
            "state": self.state,
            "spec": self.spec.dump(),
            "seed": self.seed,
            "starts_at": wall(self.start),
            "ends_at": wall(self.end),
            "matched": self.matched,
            "affected": self.affected,
        }
        if self.end is not None:
            out["lasts_s"] = secs(self.end - self.start)
        if self.state == "scheduled":
            out["starts_in_s"] = secs(max(0.0, self.start - now))
        if self.state != "ended" and self.end is not None:
            out["ends_in_s"] = secs(max(0.0, self.end - now))
        if self.started_wall is not None:
            out["started_at"] = iso_ms(round(self.started_wall * 1000))
        if self.ended_wall is not None:
            out["ended_at"] = iso_ms(round(self.ended_wall * 1000))
            out["ended_reason"] = self.ended_reason
        return out


Transition = tuple[Literal["start", "end", "repeat"], TimedFault]


class FaultSchedule:
    """Every timed fault of one simulator, with its clock (see the module docstring).

    Args:
        seed: the simulator's fault seed (``--fault-seed``), used for faults without their own ``seed``.
        clock: monotonic seconds (injectable for tests of this class).
        wall: wall seconds since the epoch.

    """

    def __init__(
        self,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.seed = seed
        self.clock = clock
        self.wall = wall
        self.faults: dict[str, TimedFault] = {}
        self.ended: deque[TimedFault] = deque(maxlen=ENDED_KEPT)
        self._ids = 0
        self._due: float | None = None

    # -- changes ---------------------------------------------------------------------------------------
    def add(
        self,
        specs: list[FaultSpec],
        scenario: str | None = None,
        scenario_seed: int | str | None = None,
        scale: Decimal = Decimal(1),
    ) -> list[TimedFault]:
        """Schedule ``specs`` from now (offsets and durations multiplied by ``scale``); return the new faults."""
        now = self.clock()
        wall_offset = self.wall() - now
        out: list[TimedFault] = []
        for spec in specs:
            self._ids += 1
            fid = f"f{self._ids}"
            own = getattr(spec, "seed", None)
            if own is not None:
                seed = str(own)
            elif scenario_seed is not None:
                seed = f"{scenario_seed}/{len(out)}"
            else:
                seed = f"{self.seed}/{fid}"
            start = now + float(spec.after * scale)
            end = None if spec.for_ is None else start + float(spec.for_ * scale)
            rate = getattr(spec, "rate", Decimal(1))
            fault = TimedFault(
                id=fid,
                spec=spec,
                scenario=scenario,
                start=start,
                end=end,
                wall_offset=wall_offset,
                rng=random.Random(f"kalshi-sim-fault/{seed}"),
                rate_ppm=int(rate * _PPM),
                seed=seed,
            )
            if isinstance(spec, WsDropSpec) and spec.every is not None:
                fault._extra["every"] = float(spec.every * scale)
            self.faults[fid] = fault
            out.append(fault)
        self._due = None
        return out

    def clear(self, ids: list[str] | None = None) -> list[TimedFault]:
        """End the faults ``ids`` (all when None) now, reason ``cleared``; return them.

        Raises:
            KeyError: an id is not a scheduled or active fault (nothing is cleared then).

        """
        chosen = list(self.faults) if ids is None else ids
        unknown = [i for i in chosen if i not in self.faults]
        if unknown:
            raise KeyError(", ".join(unknown))
        out = [self.faults[i] for i in chosen]
        for fault in out:
            self._finish(fault, "cleared")
        self._due = None
        return out

    def _finish(self, fault: TimedFault, reason: str) -> None:
        fault.state = "ended"
        fault.ended_wall = self.wall()
        fault.ended_reason = reason
        self.faults.pop(fault.id, None)
        self.ended.appendleft(fault)
        self._due = None

    # -- time ------------------------------------------------------------------------------------------
    def next_due(self) -> float | None:
        """Monotonic time of the next start, end or repeat, or None when nothing is pending."""
        if self._due is None:
            due = float("inf")
            for f in self.faults.values():
                times = (f.start,) if f.state == "scheduled" else (f.end, f.next_drop)
                for t in times:
                    if t is not None and t < due:
                        due = t
            self._due = due
        return None if self._due == float("inf") else self._due

    def tick(self) -> list[Transition]:
        """Move every fault whose time has come; return what happened (starts, ends, repeats), in order."""
        due = self.next_due()
        now = self.clock()
        if due is None or now < due:
            return []
        out: list[Transition] = []
        for fault in sorted(self.faults.values(), key=lambda f: f.start):
            if fault.state == "scheduled" and now >= fault.start:
                fault.state = "active"
                fault.started_wall = self.wall()
                every = fault._extra.get("every")
                if every is not None:
                    fault.next_drop = fault.start + every
                out.append(("start", fault))
            if fault.state != "active":
                continue
            if (
                fault.next_drop is not None
                and now >= fault.next_drop
                and (fault.end is None or fault.next_drop < fault.end)
            ):
                fault.next_drop += fault._extra["every"] * (1 + int((now - fault.next_drop) // fault._extra["every"]))
                out.append(("repeat", fault))
            if fault.end is not None and now >= fault.end:
                self._finish(fault, "expired")
                out.append(("end", fault))
            elif fault.spec.kind in ("ws_inject",) or (fault.spec.kind == "ws_drop" and fault.next_drop is None):
                self._finish(fault, "done")  # one-shot actions end once performed
                out.append(("end", fault))
        self._due = None
        return out

    # -- queries ---------------------------------------------------------------------------------------
    def active(self, *kinds: str) -> Iterator[TimedFault]:
        """Active faults of ``kinds``, in creation order (call :meth:`tick` first)."""
        for fault in self.faults.values():
            if fault.state == "active" and fault.spec.kind in kinds:
                yield fault

    def draw(self, fault: TimedFault) -> bool:
        """Count one match of ``fault`` and decide with its seeded generator whether it acts; honour ``count``."""
        fault.matched += 1
        hit = fault.rate_ppm >= _PPM or fault.rng.randrange(_PPM) < fault.rate_ppm
        if hit:
            fault.affected += 1
            count = getattr(fault.spec, "count", None)
            if count is not None and fault.affected >= count:
                self._finish(fault, "count_exhausted")
        return hit

    def as_json(self) -> dict[str, Any]:
        """``{"active": [...], "scheduled": [...], "ended": [...]}`` (see :meth:`TimedFault.as_json`)."""
        now = self.clock()
        faults = list(self.faults.values())
        return {
            "active": [f.as_json(now) for f in faults if f.state == "active"],
            "scheduled": [f.as_json(now) for f in sorted(faults, key=lambda f: f.start) if f.state == "scheduled"],
            "ended": [f.as_json(now) for f in self.ended],
        }


__all__ = ["ENDED_KEPT", "FaultSchedule", "TimedFault", "Transition"]
