"""What a trading epoch needs from the activity attempt that runs it, with no Temporal in the interface.

The activities pass :class:`activities.attempt.TemporalAttempt` (the running Temporal activity: its attempt
number, heartbeats, worker shutdown, and the heartbeat RPC that renews the epoch's lease, temporal.md §3). Keeping
Temporal behind this interface keeps :mod:`trading` importable and testable without a worker.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

RenewalStatus = Literal["ok", "cancel_requested", "reset", "gone", "failed"]
"""How the server answered a lease renewal: acknowledged; cancellation requested; the activity was reset; the
attempt is gone (timed out, terminated: NOT_FOUND); or no answer (network, timeout, another RPC error)."""


@dataclass(frozen=True, slots=True)
class Renewal:
    """The answer to one lease renewal (a heartbeat RPC).

    Attributes:
        status: see :data:`RenewalStatus`.
        detail: the server's or the transport's message, for logs.
    """

    status: RenewalStatus
    detail: str = ""


class Attempt(Protocol):
    """The activity attempt running an epoch (see the module docstring)."""

    @property
    def number(self) -> int:
        """The attempt number, 1 for the first (a retry decides afresh from the exchange's state)."""
        ...

    @property
    def heartbeat_details(self) -> Sequence[Any]:
        """The last heartbeat details an earlier attempt of this activity recorded (legacy resume)."""
        ...

    @property
    def heartbeat_timeout_s(self) -> float | None:
        """The activity's heartbeat timeout in seconds, None when it has none."""
        ...

    @property
    def logger(self) -> logging.Logger | logging.LoggerAdapter[Any]:
        """Where the epoch logs (the activity's logger carries the workflow and activity ids)."""
        ...

    @property
    def can_renew(self) -> bool:
        """Whether :meth:`renew` reaches a server (False without one: the lease is then not enforced)."""
        ...

    def heartbeat(self, details: Any) -> None:
        """Record progress (throttled by the SDK; delivers cancellation to the running task)."""
        ...

    def shutting_down(self) -> bool:
        """Whether the worker is shutting down (the epoch stops trading at once)."""
        ...

    async def wait_for_shutdown(self) -> None:
        """Return when the worker starts shutting down."""
        ...

    async def renew(self, details: Any) -> Renewal:
        """Heartbeat the server by RPC now and say how it answered (never raises for a server answer)."""
        ...
