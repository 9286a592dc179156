"""Kalshi-shaped API errors raised by the simulator core and rendered by the HTTP layer.

Error bodies follow kalshi-api.md §5.2: a normal reject is ``{"error": {"code", "message",
"details"}}``; an unparseable request body is a flat ``{"code": "bad_request", "message",
"details"}``; a rate-limit reject is ``{"error": "too many requests"}`` (rendered by
:mod:`simulator.ratelimit`, not here).

The code table (kalshi-api.md §5.3; codes marked *sim* are the simulator's documented choice where
Kalshi's exact string is not published):

=============================  ======  ==============================================================
code                           status  when
=============================  ======  ==============================================================
``missing_parameters``         400     a required field is absent (e.g. ``ticker`` on create)
``invalid_order``              400     bad side/count/price/tick, post-only cross, bad combination
``invalid_parameters`` (sim)   400     a query parameter (limit, cursor, status, ...) is invalid
``bad_request``                400     malformed JSON / wrong JSON type (flat body)
``MARKET_INACTIVE``            400     any order operation on a market that is not ``active``
``insufficient_balance``       400     a buy needs more free cash than the account has
``order_group_triggered`` sim  400     an order names a triggered order group
``trading_paused`` (sim)       400     new orders / amends while trading is paused
``exchange_paused`` (sim)      503     any order operation while the whole exchange is paused
``not_found``                  404     unknown market, event, series, order or order group
``order_already_exists`` sim   409     the account already has an order with that client_order_id
``authentication_error``       401     missing/invalid signature, unknown key, stale timestamp
=============================  ======  ==============================================================
"""

from __future__ import annotations

from typing import Any

MISSING_PARAMETERS = "missing_parameters"
INVALID_ORDER = "invalid_order"
INVALID_PARAMETERS = "invalid_parameters"
BAD_REQUEST = "bad_request"
MARKET_INACTIVE = "MARKET_INACTIVE"
INSUFFICIENT_BALANCE = "insufficient_balance"
ORDER_GROUP_TRIGGERED = "order_group_triggered"
TRADING_PAUSED = "trading_paused"
EXCHANGE_PAUSED = "exchange_paused"
NOT_FOUND = "not_found"
ORDER_ALREADY_EXISTS = "order_already_exists"
AUTHENTICATION_ERROR = "authentication_error"

_MESSAGES = {
    MISSING_PARAMETERS: "missing parameters",
    INVALID_ORDER: "invalid order",
    INVALID_PARAMETERS: "invalid parameters",
    BAD_REQUEST: "bad request",
    MARKET_INACTIVE: "market is not active",
    INSUFFICIENT_BALANCE: "insufficient balance",
    ORDER_GROUP_TRIGGERED: "order group is triggered",
    TRADING_PAUSED: "trading is paused",
    EXCHANGE_PAUSED: "exchange is paused",
    NOT_FOUND: "not found",
    ORDER_ALREADY_EXISTS: "order with this client_order_id already exists",
    AUTHENTICATION_ERROR: "authentication_error",
}


class ApiError(Exception):
    """A rejected request, rendered as Kalshi's error envelope (kalshi-api.md §5.2).

    Attributes:
        status: HTTP status code (400, 401, 404, 409, 503, ...).
        code: machine-readable code, matched case-sensitively by clients (see the module table).
        message: human-readable message (defaults to the code's standard message).
        details: optional extra text, e.g. ``"post only cross"``.
        flat: render the fields at the top level (``bad_request`` for unparseable bodies).

    """

    def __init__(
        self,
        status: int,
        code: str,
        details: str | None = None,
        *,
        message: str | None = None,
        flat: bool = False,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message if message is not None else _MESSAGES.get(code, code)
        self.details = details
        self.flat = flat
        super().__init__(f"{status} {code}: {details or self.message}")

    def body(self) -> dict[str, Any]:
        """Return the JSON body: ``{"error": {code, message, details?}}`` or the flat form."""
        inner: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            inner["details"] = self.details
        if self.flat:
            return inner
        return {"error": inner}

    def batch_item(self) -> dict[str, Any]:
        """Return the error object used inside batch responses (``details`` always present, §5.2)."""
        return {"code": self.code, "message": self.message, "details": self.details or ""}


def bad_request(details: str) -> ApiError:
    """Unparseable body (malformed JSON or a wrong JSON type): 400 with the flat body (§5.2)."""
    return ApiError(400, BAD_REQUEST, details, flat=True)


def invalid_order(details: str) -> ApiError:
    """A 400 ``invalid_order`` reject (§5.3)."""
    return ApiError(400, INVALID_ORDER, details)


def missing(field: str) -> ApiError:
    """A 400 ``missing_parameters`` reject naming the field (§5.3)."""
    return ApiError(400, MISSING_PARAMETERS, f"{field} is required")


def invalid_param(details: str) -> ApiError:
    """A 400 ``invalid_parameters`` reject for a bad query parameter."""
    return ApiError(400, INVALID_PARAMETERS, details)


def not_found(what: str) -> ApiError:
    """A 404 ``not_found`` reject naming what was not found."""
    return ApiError(404, NOT_FOUND, what)


def market_inactive(ticker: str, status: str) -> ApiError:
    """A 400 ``MARKET_INACTIVE`` reject: order operations need an ``active`` market (§7)."""
    return ApiError(400, MARKET_INACTIVE, f"market {ticker} is {status}")
