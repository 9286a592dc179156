"""Integer-millisecond time helpers (no floats): RFC3339 formatting and parsing.

All simulator times are Unix epoch **milliseconds** as ``int``. Kalshi's wire uses RFC3339 strings
for ``*_time`` fields and Unix **seconds** for ``*_ts`` fields (kalshi-api.md §3.0).
"""

from __future__ import annotations

import datetime as dt

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def ms_to_datetime(ms: int) -> dt.datetime:
    """Convert epoch milliseconds to an aware UTC datetime (exact, no float)."""
    return _EPOCH + dt.timedelta(milliseconds=ms)


def datetime_to_ms(value: dt.datetime) -> int:
    """Convert a datetime to epoch milliseconds (naive datetimes are taken as UTC); sub-ms truncated."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def iso_ms(ms: int) -> str:
    """Format epoch ms as RFC3339 UTC: ``"2026-08-10T22:00:00Z"`` or ``"...T22:00:05.462Z"``."""
    d = ms_to_datetime(ms)
    base = d.strftime("%Y-%m-%dT%H:%M:%S")
    frac = ms % 1000
    return f"{base}.{frac:03d}Z" if frac else f"{base}Z"


def parse_iso_ms(text: str) -> int:
    """Parse an RFC3339 / ISO 8601 time (``Z`` or offset; naive = UTC) to epoch ms.

    Raises:
        ValueError: if the text is not an ISO 8601 date-time.

    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    return datetime_to_ms(dt.datetime.fromisoformat(value))


def seconds(ms: int) -> int:
    """Epoch ms to whole Unix seconds (floor), the unit of Kalshi ``*_ts`` fields."""
    return ms // 1000
