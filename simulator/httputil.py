"""Small HTTP helpers shared by the Kalshi REST surface and the control API.

JSON bodies, query parameters and opaque pagination cursors (kalshi-api.md §3.0).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from aiohttp import web

from simulator.errors import ApiError, bad_request, invalid_param

T = TypeVar("T")
BODY_KEY: web.RequestKey[bytes] = web.RequestKey("sim_body", bytes)


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON response (``application/json``); ``data`` must hold no floats or Decimals."""
    return web.json_response(data, status=status)


def error_response(exc: ApiError) -> web.Response:
    """Render an :class:`ApiError` as its Kalshi-shaped body."""
    return json_response(exc.body(), status=exc.status)


def parse_json_bytes(raw: bytes, *, empty: Any = None) -> Any:
    """Parse a request body; numbers with a fraction become Decimal (never float).

    Args:
        raw: the body bytes.
        empty: value returned for an empty body (None means "a body is required").

    Raises:
        ApiError: flat 400 ``bad_request`` for malformed JSON or a missing body (§5.2).

    """
    if not raw.strip():
        if empty is None:
            raise bad_request("request body is required")
        return empty
    try:
        return json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"malformed JSON: {exc}") from exc


def body(request: web.Request, *, empty: Any = None) -> Any:
    """The JSON body pre-read by the middleware (see :func:`parse_json_bytes`)."""
    raw = request.get(BODY_KEY, b"")
    return parse_json_bytes(raw, empty=empty)


def q_str(request: web.Request, name: str) -> str | None:
    """An optional query string parameter (empty = absent)."""
    value = request.query.get(name)
    return value if value else None


def q_int(
    request: web.Request, name: str, default: int | None = None, *, lo: int | None = None, hi: int | None = None
) -> int | None:
    """An optional integer query parameter within ``[lo, hi]``.

    Raises:
        ApiError: 400 ``invalid_parameters`` if it is not an integer or out of range.

    """
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise invalid_param(f"{name} must be an integer") from exc
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise invalid_param(f"{name} must be between {lo} and {hi}")
    return value


def q_list(request: web.Request, name: str) -> list[str]:
    """A list parameter given as repeated keys and/or comma-separated values."""
    out: list[str] = []
    for raw in request.query.getall(name, []):
        out.extend(part.strip() for part in raw.split(",") if part.strip())
    return out


def limit_param(request: web.Request, maximum: int = 1000, default: int = 100) -> int:
    """The ``limit`` query parameter (1..maximum, default 100)."""
    value = q_int(request, "limit", default, lo=1, hi=maximum)
    assert value is not None
    return value


def encode_cursor(kind: str, last: Any) -> str:
    """An opaque cursor naming the list kind and the last key returned."""
    return base64.urlsafe_b64encode(json.dumps([kind, last]).encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> Any:
    """Decode a cursor made by :func:`encode_cursor` for the same list kind.

    Raises:
        ApiError: 400 ``invalid_parameters`` for a malformed or foreign cursor.

    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error) as exc:
        raise invalid_param("invalid cursor") from exc
    if not isinstance(decoded, list) or len(decoded) != 2 or decoded[0] != kind:
        raise invalid_param("invalid cursor")
    return decoded[1]


def paginate(
    request: web.Request,
    items: Sequence[T],
    key: Callable[[T], Any],
    kind: str,
    *,
    descending: bool,
    maximum: int = 1000,
) -> tuple[list[T], str]:
    """Cut one page out of ``items`` (already sorted by ``key``, ascending or descending).

    The cursor holds the last key returned, so a page stays correct when items are added or removed
    between requests. Returns ``(page, next cursor or "")``.

    Raises:
        ApiError: 400 ``invalid_parameters`` for a bad ``limit`` or ``cursor``.

    """
    limit = limit_param(request, maximum)
    raw_cursor = q_str(request, "cursor")
    start = 0
    if raw_cursor:
        last = decode_cursor(kind, raw_cursor)
        start = len(items)
        for index, item in enumerate(items):
            k = key(item)
            if (k < last) if descending else (k > last):
                start = index
                break
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    return page, encode_cursor(kind, key(page[-1])) if more and page else ""
