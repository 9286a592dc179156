"""Typed errors for the Kalshi client, and the one function that maps HTTP answers onto them.

Every error carries the HTTP ``status`` (``None`` when no answer arrived), Kalshi's error ``code``,
``message`` and ``details``, and the ``method`` and ``path`` of the request, and renders as ONE readable
line (``POST /trade-api/v2/portfolio/events/orders -> HTTP 400 invalid_order: invalid order (post only
cross)``). Each class states through ``retryable`` whether repeating the same call can succeed; the
Temporal activity layer, not this library, decides whether to retry.

Error body shapes follow kalshi-api.md §5.2:

* normal reject: ``{"error": {"code": "invalid_order", "message": "invalid order", "details": "..."}}``,
* unparseable request: the same fields at the top level, ``{"code": ..., "message": ..., "details": ...}``,
* rate limited: ``{"error": "too many requests"}`` (a string, not an object).

A body carrying both shapes (the spec's flat ``ErrorResponse`` fields next to ``error``, as the simulator
sends) reads the same code and message either way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "ErrorBody",
    "KalshiAuthError",
    "KalshiCredentialsError",
    "KalshiDuplicateOrderError",
    "KalshiError",
    "KalshiNotFoundError",
    "KalshiOutcomeUnknownError",
    "KalshiRateLimitedError",
    "KalshiRejectedError",
    "KalshiResponseError",
    "KalshiUnavailableError",
    "error_from_response",
    "parse_error_body",
]

_MAX_TEXT = 300
"""Longest excerpt of a non-JSON error body kept in a message, in characters."""


def _one_line(text: str, limit: int = _MAX_TEXT) -> str:
    """Collapse whitespace (newlines included) and cut ``text`` to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class KalshiError(Exception):
    """Base of every error raised by the ``kalshi`` package.

    Attributes:
        status: HTTP status code of the answer, or ``None`` when no answer arrived (connection error,
            timeout) or the error is local.
        code: Kalshi's error code (``error.code`` or top-level ``code``), matched case-sensitively
            (kalshi-api.md §5.2, §5.3), or ``None``.
        message: Kalshi's error message, a plain-language description, or ``None``.
        details: Kalshi's ``details`` string (e.g. ``"post only cross"``), or ``None``.
        method: HTTP method of the request (``GET``, ``POST`` ...), or ``None``.
        path: URL path of the request without the query (e.g. ``/trade-api/v2/portfolio/orders``), or ``None``.
        envelope: ``True`` when the body was one of Kalshi's error shapes (§5.2); ``False`` for a bare
            body (plain text, HTML, empty), which e.g. distinguishes "route missing" from "order not found".
        retryable: class attribute; whether the same call may succeed if repeated later.

    """

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        details: str | None = None,
        method: str | None = None,
        path: str | None = None,
        envelope: bool = False,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.method = method
        self.path = path
        self.envelope = envelope
        super().__init__(self._render())

    def _render(self) -> str:
        """Build the one-line description used as ``str(error)``."""
        parts: list[str] = []
        if self.method or self.path:
            parts.append(f"{self.method or '?'} {self.path or '?'}")
        if self.status is not None:
            parts.append(f"-> HTTP {self.status}")
        head = " ".join(parts)
        body = ""
        if self.code:
            body = self.code
        if self.message and self.message != self.code:
            body = f"{body}: {self.message}" if body else self.message
        if self.details:
            body = f"{body} ({self.details})" if body else self.details
        if not body:
            body = type(self).__name__
        return _one_line(f"{head} {body}" if head else body, limit=1000)


class KalshiCredentialsError(KalshiError, ValueError):
    """Local API-key configuration is unusable (kalshi-api.md §2).

    Raised by :mod:`kalshi.signer` for a missing or unreadable key file, malformed PEM, encrypted or
    non-RSA key, or an empty key id. The message is one line and never contains key material.
    """

    retryable = False


class KalshiAuthError(KalshiError):
    """HTTP 401 (bad key, signature or timestamp) or 403 (forbidden); see kalshi-api.md §2, §5.1."""

    retryable = False


class KalshiNotFoundError(KalshiError):
    """HTTP 404: unknown market, order or order group (kalshi-api.md §5.1)."""

    retryable = False


class KalshiRejectedError(KalshiError):
    """A business reject: HTTP 400, 409, 410, 422 or another 4xx (kalshi-api.md §5.1-§5.3).

    ``code`` and ``details`` come from either error body shape (§5.2), e.g. ``invalid_order`` /
    ``post only cross``, ``insufficient_balance``, ``MARKET_INACTIVE``, ``deprecated_v1_order_endpoint``.
    """

    retryable = False


class KalshiDuplicateOrderError(KalshiRejectedError):
    """HTTP 409 Conflict: an order with this ``client_order_id`` already exists (kalshi-api.md §3.5).

    :meth:`kalshi.rest.KalshiRestClient.create_order` resolves it by looking the order up; it only
    escapes when that lookup finds nothing.
    """

    retryable = False


class KalshiRateLimitedError(KalshiError):
    """HTTP 429, body ``{"error": "too many requests"}``, no Retry-After header (kalshi-api.md §5.2, §5.4)."""

    retryable = True


class KalshiUnavailableError(KalshiError):
    """The exchange could not be reached or failed: 5xx, 408, connection errors, read timeouts on reads.

    For writes, the same conditions after the request may have been sent become
    :class:`KalshiOutcomeUnknownError` instead (kalshi-api.md §5.1).
    """

    retryable = True


class KalshiOutcomeUnknownError(KalshiError):
    """A write may or may not have taken effect (kalshi-api.md §5.1: 408, 5xx or a dropped connection).

    For order creation it is raised only after the ``client_order_id`` lookup could not find the order;
    re-sending the same ``client_order_id`` is then the safe next step (a live duplicate answers 409).

    Attributes:
        client_order_id: the idempotency key of the order whose fate is unknown, or ``None`` for
            writes that have none (cancels, order-group operations).

    """

    retryable = True

    def __init__(self, message: str | None = None, *, client_order_id: str | None = None, **kwargs: Any) -> None:
        self.client_order_id = client_order_id
        super().__init__(message, **kwargs)


class KalshiResponseError(KalshiError):
    """A successful-looking answer whose body could not be read (bad JSON, missing keys, wrong types).

    Also used for unexpected statuses (e.g. 3xx). Not retryable: the same call returns the same body.
    """

    retryable = False


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """Fields read from a Kalshi error body (kalshi-api.md §5.2).

    Attributes:
        code: ``error.code`` or the top-level ``code``; ``None`` when absent.
        message: ``error.message``, the top-level ``message``, the ``error`` string itself (429), or an
            excerpt of a non-JSON body.
        details: ``error.details`` or top-level ``details``, as a string; ``None`` when absent or empty.
        envelope: whether the body was one of Kalshi's JSON error shapes.

    """

    code: str | None
    message: str | None
    details: str | None
    envelope: bool


def _str_or_none(value: Any) -> str | None:
    """Return ``value`` as a non-empty one-line string, or ``None``."""
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = _one_line(text)
    return text or None


def parse_error_body(body: bytes | str | Any) -> ErrorBody:
    """Read Kalshi's error fields from a response body, whatever its shape (kalshi-api.md §5.2).

    Args:
        body: raw bytes or text of the response, or an already-decoded JSON value.

    Returns:
        The code, message and details; ``envelope`` tells whether the body was a Kalshi error shape
        (``{"error": {...}}``, ``{"error": "..."}`` or flat ``{"code", "message", "details"}``).
        Never raises.

    """
    decoded: Any = body
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            decoded = json.loads(body) if body.strip() else None
        except ValueError:
            return ErrorBody(code=None, message=_str_or_none(body), details=None, envelope=False)
    if isinstance(decoded, dict):
        err = decoded.get("error")
        if isinstance(err, dict):
            return ErrorBody(
                code=_str_or_none(err.get("code")),
                message=_str_or_none(err.get("message")),
                details=_str_or_none(err.get("details")),
                envelope=True,
            )
        if isinstance(err, str):
            # Kalshi's 429 ``{"error": "too many requests"}``; a top-level code (the spec's flat
            # ErrorResponse fields, which the simulator adds) is kept when present.
            return ErrorBody(
                code=_str_or_none(decoded.get("code")), message=_str_or_none(err), details=None, envelope=True
            )
        if "code" in decoded or "message" in decoded:
            return ErrorBody(
                code=_str_or_none(decoded.get("code")),
                message=_str_or_none(decoded.get("message")),
                details=_str_or_none(decoded.get("details")),
                envelope=True,
            )
    if decoded is None:
        return ErrorBody(code=None, message=None, details=None, envelope=False)
    return ErrorBody(code=None, message=_str_or_none(decoded), details=None, envelope=False)


def error_from_response(status: int, body: bytes | str | Any, *, method: str, path: str) -> KalshiError:
    """Map a non-2xx HTTP answer to the typed error for it (kalshi-api.md §5.1, §5.2).

    Mapping: 401/403 -> :class:`KalshiAuthError`; 404 -> :class:`KalshiNotFoundError`;
    409 -> :class:`KalshiDuplicateOrderError`; 429 -> :class:`KalshiRateLimitedError`;
    408 and 5xx -> :class:`KalshiUnavailableError`; other 4xx (400, 410, 422 ...) ->
    :class:`KalshiRejectedError`; anything else (1xx/3xx) -> :class:`KalshiResponseError`.
    Whether a failed *write* is "outcome unknown" is decided by the caller, which knows the method.

    Args:
        status: the HTTP status code.
        body: the response body (bytes, text or decoded JSON).
        method: the request's HTTP method, upper case.
        path: the request's URL path without the query.

    Returns:
        The error instance (not raised).

    """
    info = parse_error_body(body)
    cls: type[KalshiError]
    if status in (401, 403):
        cls = KalshiAuthError
    elif status == 404:
        cls = KalshiNotFoundError
    elif status == 409:
        cls = KalshiDuplicateOrderError
    elif status == 429:
        cls = KalshiRateLimitedError
    elif status == 408 or 500 <= status <= 599:
        cls = KalshiUnavailableError
    elif 400 <= status <= 499:
        cls = KalshiRejectedError
    else:
        cls = KalshiResponseError
    return cls(
        info.message,
        status=status,
        code=info.code,
        details=info.details,
        method=method,
        path=path,
        envelope=info.envelope,
    )
