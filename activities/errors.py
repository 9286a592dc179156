"""Kalshi client errors -> Temporal ``ApplicationError``: the one place the activities map errors.

Every :class:`kalshi.errors.KalshiError` that leaves an activity becomes an ``ApplicationError`` whose ``type``
is the error's class name, so workflow retry policies can list non-retryable types
(``workflows.common.NON_RETRYABLE_ERRORS``); authentication, validation and not-found errors are
non-retryable, rate limits ask Temporal for a later retry with ``next_retry_delay`` (temporal.md §3 "Retries
and errors"). Order rejections are outcomes, not errors: the activities return them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from temporalio.exceptions import ApplicationError

from kalshi.errors import KalshiError, KalshiRateLimitedError


def to_application_error(err: KalshiError) -> ApplicationError:
    """Convert a Kalshi client error into the ``ApplicationError`` Temporal retries (or not).

    ``type`` is the error class name (``KalshiAuthError``, ``KalshiUnavailableError``...), so retry
    policies can list non-retryable types; 429s carry ``next_retry_delay`` of 1 s.
    """
    delay = timedelta(seconds=1) if isinstance(err, KalshiRateLimitedError) else None
    return ApplicationError(
        str(err),
        type=type(err).__name__,
        non_retryable=not err.retryable,
        next_retry_delay=delay,
    )


@contextlib.asynccontextmanager
async def kalshi_errors() -> AsyncIterator[None]:
    """Re-raise any :class:`KalshiError` inside the block as an ``ApplicationError`` (see above)."""
    try:
        yield
    except KalshiError as err:
        raise to_application_error(err) from err
