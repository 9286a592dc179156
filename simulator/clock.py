"""The exchange clock: tape time advancing at ``speed`` x wall time, pausable and steppable.

Two time axes exist (docs/simulator.md "Time"):

* **tape time**: the recorded exchange clock of the tape (``msg.ts_ms`` of the frames), epoch ms.
  Replay, matching, order-group windows and lifecycle all run on tape time.
* **served time**: what the simulator tells clients (``created_time``, ``ts``, ``close_time``, the HTTP
  ``Date`` header, ...): ``served = tape + offset_ms``. The offset is fixed when the clock is created so
  that the start tape time maps to the wall clock "now"; at ``speed`` 1 served time tracks the wall
  clock, at ``speed`` 60 it runs 60 times faster.

Elapsed wall time comes from :func:`time.monotonic_ns`; nothing here uses floats.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import ROUND_FLOOR, Decimal

MonotonicNs = Callable[[], int]


class ClockError(ValueError):
    """An invalid clock operation (non-positive speed, moving tape time backwards)."""


class ExchangeClock:
    """Tape-time clock with a speed factor, pause and forward steps.

    Args:
        tape_start_ms: tape time (epoch ms) at creation.
        speed: tape milliseconds per wall millisecond, a positive Decimal (1 = real time).
        paused: start paused (tape time then moves only through :meth:`advance` / :meth:`set_tape_ms`).
        time_shift: when True (default) served time = tape time shifted so that ``tape_start_ms`` is
            the wall-clock now; when False served time equals tape time.
        monotonic_ns: elapsed-time source (default :func:`time.monotonic_ns`).
        wall_ms: epoch-ms source used once to compute the offset (default :func:`time.time_ns` // 1e6).

    Raises:
        ClockError: if ``speed`` is not positive.

    """

    def __init__(
        self,
        tape_start_ms: int,
        speed: Decimal = Decimal(1),
        *,
        paused: bool = False,
        time_shift: bool = True,
        monotonic_ns: MonotonicNs = time.monotonic_ns,
        wall_ms: Callable[[], int] | None = None,
    ) -> None:
        _check_speed(speed)
        self._mono = monotonic_ns
        self._anchor_tape_ms = tape_start_ms
        self._anchor_mono_ns = monotonic_ns()
        self._speed = speed
        self._paused = paused
        now_wall = wall_ms() if wall_ms is not None else time.time_ns() // 1_000_000
        self.offset_ms: int = (now_wall - tape_start_ms) if time_shift else 0
        """served time minus tape time, in ms (constant for the clock's life)."""
        self._listeners: list[Callable[[], None]] = []

    # -- reading ---------------------------------------------------------------------------------
    def now_ms(self) -> int:
        """Current tape time in epoch ms."""
        if self._paused:
            return self._anchor_tape_ms
        elapsed_ns = self._mono() - self._anchor_mono_ns
        advanced = (Decimal(elapsed_ns) * self._speed / 1_000_000).to_integral_value(rounding=ROUND_FLOOR)
        return self._anchor_tape_ms + int(advanced)

    def served_now_ms(self) -> int:
        """Current served (client-visible) time in epoch ms: ``now_ms() + offset_ms``."""
        return self.now_ms() + self.offset_ms

    def to_served_ms(self, tape_ms: int) -> int:
        """Map a tape time to served time (epoch ms)."""
        return tape_ms + self.offset_ms

    def to_tape_ms(self, served_ms: int) -> int:
        """Map a served time (e.g. a client's ``expiration_ts`` x 1000) back to tape time (epoch ms)."""
        return served_ms - self.offset_ms

    @property
    def speed(self) -> Decimal:
        """Tape ms per wall ms."""
        return self._speed

    @property
    def paused(self) -> bool:
        """Whether tape time is frozen."""
        return self._paused

    def wall_delay_s(self, tape_ms_ahead: int) -> Decimal | None:
        """Wall seconds until tape time has moved ``tape_ms_ahead`` further, or None when paused."""
        if self._paused:
            return None
        return Decimal(max(0, tape_ms_ahead)) / self._speed / 1000

    # -- control ---------------------------------------------------------------------------------
    def on_change(self, callback: Callable[[], None]) -> None:
        """Register a callback run after every speed/pause/step change (the replay driver wakes up)."""
        self._listeners.append(callback)

    def _reanchor(self) -> None:
        self._anchor_tape_ms = self.now_ms()
        self._anchor_mono_ns = self._mono()

    def _changed(self) -> None:
        for callback in list(self._listeners):
            callback()

    def set_speed(self, speed: Decimal) -> None:
        """Change the speed factor from now on.

        Raises:
            ClockError: if ``speed`` is not positive.

        """
        _check_speed(speed)
        self._reanchor()
        self._speed = speed
        self._changed()

    def pause(self) -> None:
        """Freeze tape time."""
        if not self._paused:
            self._reanchor()
            self._paused = True
            self._changed()

    def resume(self) -> None:
        """Let tape time run again at ``speed`` from where it stands."""
        if self._paused:
            self._anchor_mono_ns = self._mono()
            self._paused = False
            self._changed()

    def advance(self, ms: int) -> int:
        """Step tape time forward by ``ms`` (paused or running); returns the new tape time.

        Raises:
            ClockError: if ``ms`` is negative (the tape cannot rewind).

        """
        if ms < 0:
            raise ClockError("the clock cannot move backwards")
        self._reanchor()
        self._anchor_tape_ms += ms
        self._changed()
        return self._anchor_tape_ms

    def set_tape_ms(self, tape_ms: int) -> int:
        """Jump tape time forward to ``tape_ms``; returns it.

        Raises:
            ClockError: if ``tape_ms`` is earlier than the current tape time.

        """
        current = self.now_ms()
        if tape_ms < current:
            raise ClockError("the clock cannot move backwards")
        return self.advance(tape_ms - current)


def _check_speed(speed: Decimal) -> None:
    if not isinstance(speed, Decimal) or not speed.is_finite() or speed <= 0:
        raise ClockError(f"speed must be a positive number, got {speed!r}")
