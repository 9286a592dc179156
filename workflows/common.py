"""Helpers shared by the workflows: REST activity retry policy and one-line error messages.

Deterministic (no I/O, no clock): used by ``TraderWorkflow``, ``ClosePositionWorkflow`` and
``MarketDataWorkflow``.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

NON_RETRYABLE_ERRORS = ["KalshiAuthError", "KalshiRejectedError", "KalshiNotFoundError", "KalshiCredentialsError"]
"""Activity error types never retried (temporal.md §3: the type string of the ApplicationError)."""


def rest_retry_policy(max_attempts: int) -> RetryPolicy:
    """Bounded retries for REST activities in the loop: 1 s, x2, at most 10 s, ``max_attempts`` tries."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=max_attempts,
        non_retryable_error_types=NON_RETRYABLE_ERRORS,
    )


def error_line(err: BaseException) -> str:
    """The innermost cause's message, on one line (for status and the Web UI)."""
    cause: BaseException = err
    while cause.__cause__ is not None:
        cause = cause.__cause__
    msg = str(cause) or type(cause).__name__
    if isinstance(cause, ApplicationError) and cause.type:
        msg = f"{cause.type}: {msg}"
    return msg.replace("\n", " ")[:300]


def error_type(err: BaseException) -> str | None:
    """The ``type`` of the outermost ``ApplicationError`` in ``err``'s cause chain (e.g. ``KalshiAuthError``)."""
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, ApplicationError):
            return cause.type
        cause = cause.__cause__
    return None
