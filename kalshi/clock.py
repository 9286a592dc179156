"""The exchange's clock, estimated from HTTP ``Date`` response headers.

Kalshi (and the project's simulator, which replays recorded time) stamp every HTTP answer with a
``Date`` header (RFC 9110 §6.6.1, whole seconds, GMT). Market deadlines (``close_time``, settlement) are
on the exchange's clock, so decisions such as "the market closes in 60 s" use :meth:`ExchangeClock.now`
rather than the local clock. The simulator may run its clock far from wall time; the estimate follows it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

__all__ = ["DATE_RESOLUTION_S", "ExchangeClock", "clock_offset_s", "parse_http_date"]

DATE_RESOLUTION_S = 1.0
"""Resolution of the HTTP Date header, in seconds (values are truncated to whole seconds)."""


def parse_http_date(value: str | None) -> datetime | None:
    """Parse an HTTP ``Date`` header (IMF-fixdate, e.g. ``Tue, 15 Nov 1994 08:12:31 GMT``).

    Args:
        value: the header value, or ``None``.

    Returns:
        A timezone-aware UTC datetime, or ``None`` when the value is missing or unparseable (never raises).

    """
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # "-0000" means UTC with unknown origin zone
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def clock_offset_s(date_header: str | None, sent_at_s: float, received_at_s: float) -> float | None:
    """Estimate ``exchange_time - local_time`` in seconds from one response.

    The server stamped ``Date`` somewhere between sending and receiving; the estimate compares it with
    the local midpoint of the round trip and adds half the header's resolution, since ``Date`` is
    truncated to whole seconds. Accuracy is about +/-0.5 s plus half the round trip.

    Args:
        date_header: the response's ``Date`` header value.
        sent_at_s: local Unix time (seconds) when the request was sent.
        received_at_s: local Unix time (seconds) when the response headers arrived.

    Returns:
        The offset in seconds (positive when the exchange clock is ahead), or ``None`` without a usable header.

    """
    server = parse_http_date(date_header)
    if server is None:
        return None
    midpoint = (sent_at_s + received_at_s) / 2.0
    return server.timestamp() + DATE_RESOLUTION_S / 2.0 - midpoint


class ExchangeClock:
    """Tracks the offset between the exchange clock and the local wall clock.

    Args:
        local_time: local wall clock in Unix seconds; defaults to :func:`time.time` (inject in tests).

    Until the first observation the offset is 0 (the local clock is used as is).

    """

    def __init__(self, local_time: Callable[[], float] = time.time) -> None:
        self._local_time = local_time
        self._offset_s = 0.0
        self._observed = False

    @property
    def offset_s(self) -> float:
        """Latest estimate of ``exchange_time - local_time``, in seconds (0.0 before any observation)."""
        return self._offset_s

    @property
    def has_observation(self) -> bool:
        """Whether at least one ``Date`` header has been observed."""
        return self._observed

    def local_time(self) -> float:
        """Local wall-clock Unix time in seconds (the injected clock)."""
        return self._local_time()

    def observe(self, date_header: str | None, sent_at_s: float, received_at_s: float) -> float | None:
        """Update the offset from one response's ``Date`` header (ignored when missing or malformed).

        Args:
            date_header: the ``Date`` header value.
            sent_at_s: local Unix seconds when the request was sent.
            received_at_s: local Unix seconds when the response arrived.

        Returns:
            The new offset in seconds, or ``None`` if the header was unusable (the old estimate stays).

        """
        offset = clock_offset_s(date_header, sent_at_s, received_at_s)
        if offset is None:
            return None
        self._offset_s = offset
        self._observed = True
        return offset

    def now(self) -> datetime:
        """Estimated current exchange time, timezone-aware UTC."""
        return datetime.fromtimestamp(self._local_time(), tz=UTC) + timedelta(seconds=self._offset_s)

    def now_ts(self) -> int:
        """Estimated current exchange time as whole Unix seconds (for ``*_ts`` query parameters)."""
        return int(self._local_time() + self._offset_s)
