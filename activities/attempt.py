"""The running Temporal activity as a trading epoch's :class:`trading.attempt.Attempt`.

Everything the epoch needs from Temporal goes through here: the attempt number and last heartbeat details
(``activity.info()``), heartbeats and worker shutdown, and the heartbeat RPC with this attempt's task token that
renews the epoch's lease (``RecordActivityTaskHeartbeat``; temporal.md §3 "Timeouts"): the server's answer is
mapped to a :class:`trading.attempt.Renewal`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from temporalio import activity
from temporalio.client import AsyncActivityCancelledError, AsyncActivityHandle
from temporalio.service import RPCError, RPCStatusCode

from trading.attempt import Renewal

T = TypeVar("T")


async def heartbeating(work: Awaitable[T], interval_s: float = 0.5) -> T:
    """Await ``work`` while heartbeating every ``interval_s`` (e.g. a model's first load, which imports torch).

    Heartbeats also deliver cancellation (temporal.md §3): a cancelled activity cancels ``work``.
    """
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=interval_s)
            if done:
                return task.result()
            activity.heartbeat({"waiting": "policy"})
    finally:
        if not task.done():
            task.cancel()


class TemporalAttempt:
    """The running activity attempt (construct it inside the activity).

    Without a Temporal client in the activity context (``temporalio.testing.ActivityEnvironment`` in a
    benchmark) :attr:`can_renew` is False: there is no server to fence against.
    """

    def __init__(self) -> None:
        self._info = activity.info()
        handle: AsyncActivityHandle | None
        try:
            handle = activity.client().get_async_activity_handle(task_token=self._info.task_token)
        except RuntimeError:
            handle = None
        self._handle = handle

    @property
    def number(self) -> int:
        """The activity attempt, 1 for the first."""
        return self._info.attempt

    @property
    def heartbeat_details(self) -> Sequence[Any]:
        """The last heartbeat details recorded by an earlier attempt."""
        return self._info.heartbeat_details

    @property
    def heartbeat_timeout_s(self) -> float | None:
        """The activity's heartbeat timeout, seconds (None when unset)."""
        timeout = self._info.heartbeat_timeout
        return timeout.total_seconds() if timeout else None

    @property
    def logger(self) -> logging.LoggerAdapter[Any]:
        """The activity logger (adds the activity and workflow ids)."""
        return activity.logger

    @property
    def can_renew(self) -> bool:
        """Whether a Temporal client is there to renew the lease with."""
        return self._handle is not None

    def heartbeat(self, details: Any) -> None:
        """``activity.heartbeat(details)``."""
        activity.heartbeat(details)

    def shutting_down(self) -> bool:
        """``activity.is_worker_shutdown()``."""
        return activity.is_worker_shutdown()

    async def wait_for_shutdown(self) -> None:
        """``activity.wait_for_worker_shutdown()``."""
        await activity.wait_for_worker_shutdown()

    async def renew(self, details: Any) -> Renewal:
        """Heartbeat by RPC and map the server's answer (cancel or reset requested, NOT_FOUND, other errors)."""
        if self._handle is None:
            return Renewal("ok")
        try:
            await self._handle.heartbeat(details)
        except AsyncActivityCancelledError as err:
            return Renewal("reset" if err.details is not None and err.details.reset else "cancel_requested")
        except RPCError as err:
            return Renewal("gone" if err.status == RPCStatusCode.NOT_FOUND else "failed", err.message)
        except (OSError, RuntimeError) as err:
            return Renewal("failed", repr(err))
        return Renewal("ok")
