"""Shared plumbing of the Trade API sub-application.

Request context and account lookup, the middleware (injected latency and failures, authentication, rate
limits, clock sync, Kalshi-shaped error bodies), response observers, and small helpers the handlers of
several API areas share (time bounds, batch bodies, counts).

**Error bodies.** Kalshi's OpenAPI ``ErrorResponse`` (what the official SDKs parse into the exception's
``data``) is flat, ``{code, message, details}``, while the live exchange has been seen to nest the same
fields, ``{"error": {code, message, details}}`` (kalshi-api.md §5.2). Every error answer here carries both,
so clients written against either read the same code and message; a rate-limit reject keeps Kalshi's
``{"error": "too many requests"}`` string and adds the flat fields; an unparseable request body gets the
flat fields only, as Kalshi sends it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiohttp import web

from simulator import errors
from simulator.accounts import Account
from simulator.auth import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from simulator.context import SimContext
from simulator.errors import ApiError, invalid_param
from simulator.faults import fault_body
from simulator.httputil import BODY_KEY, json_response
from simulator.orders import Order, parse_count_text, require_object
from simulator.ratelimit import classify

log = logging.getLogger("simulator.rest")

API_PREFIX = "/trade-api/v2"
CTX_KEY: web.AppKey[SimContext] = web.AppKey("sim_context", SimContext)
ACCOUNT_KEY: web.RequestKey[Account] = web.RequestKey("sim_account", Account)
MAX_BATCH = 20
RATE_LIMITED_CODE = "too_many_requests"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ObservedResponse:
    """One Trade API answer as handed to response observers.

    Attributes:
        method: HTTP method of the request.
        route: the route as registered, relative to ``/trade-api/v2`` (``/markets/{ticker}``), or None when
            no route matched the path.
        status: HTTP status code.
        body: the raw response body (empty for a body-less answer).
        legacy_market_status: the simulator serves ``settled`` for ``finalized`` (a deliberate departure
            from the current spec, see :class:`simulator.config.SimulatorConfig`).

    """

    method: str
    route: str | None
    status: int
    body: bytes
    legacy_market_status: bool


ResponseObserver = Callable[[ObservedResponse], None]

_observers: list[ResponseObserver] = []


def observe_responses(observer: ResponseObserver) -> Callable[[], None]:
    """Call ``observer`` with every Trade API response (:class:`ObservedResponse`) of every simulator in this process.

    The test suite uses it to validate each body against Kalshi's generated SDK models. Observers run
    after the response is built, on the event loop; an exception in one is logged and ignored. With no
    observer registered the cost is one list check per request.

    Returns:
        A function that unregisters ``observer``.

    """
    _observers.append(observer)

    def remove() -> None:
        if observer in _observers:
            _observers.remove(observer)

    return remove


def sim_ctx(request: web.Request) -> SimContext:
    """The simulator context of the app serving ``request``."""
    return request.app[CTX_KEY]


def request_account(request: web.Request) -> Account:
    """The account of a signed request.

    Raises:
        ApiError: 401 ``authentication_error`` (``MISSING_AUTH_HEADERS``) on an unsigned request.

    """
    account = request.get(ACCOUNT_KEY)
    if account is None:
        raise errors.ApiError(401, errors.AUTHENTICATION_ERROR, "MISSING_AUTH_HEADERS", message="authentication_error")
    return account


def is_public(api_path: str) -> bool:
    """Whether a path (relative to ``/trade-api/v2``) is public market data needing no signature (§2)."""
    return api_path.startswith(("/exchange", "/markets", "/events", "/series"))


def batch_items(api_path: str, raw: bytes) -> int:
    """Number of orders in a ``/batched`` request body (0 for other paths or unreadable bodies)."""
    if not api_path.endswith("/batched"):
        return 0
    try:
        parsed = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return 0
    if not isinstance(parsed, dict):
        return 0
    body_items = parsed.get("orders") or parsed.get("ids") or []
    return len(body_items) if isinstance(body_items, list) else 0


def error_body(code: str, message: str, details: str | None) -> dict[str, Any]:
    """An error body in both shapes: the spec's flat ``{code, message, details}`` and ``{"error": {...}}``."""
    fields: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        fields["details"] = details
    return {**fields, "error": dict(fields)}


def error_json(status: int, body: dict[str, Any]) -> web.Response:
    """Render an error answer, adding whichever of the two shapes ``body`` lacks (see the module doc)."""
    nested = body.get("error")
    if isinstance(nested, dict):
        return json_response(error_body(nested["code"], nested["message"], nested.get("details")), status=status)
    if isinstance(nested, str):
        return json_response({"error": nested, "code": RATE_LIMITED_CODE, "message": nested}, status=status)
    return json_response(error_body(body["code"], body["message"], body.get("details")), status=status)


def _api_error(exc: ApiError) -> web.Response:
    if exc.flat:  # an unparseable body: Kalshi answers with the flat fields only, as the spec has them
        return json_response(exc.body(), status=exc.status)
    return json_response(error_body(exc.code, exc.message, exc.details), status=exc.status)


def _notify(request: web.Request, response: web.StreamResponse) -> None:
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else None
    if route is not None and route.startswith(API_PREFIX):
        route = route[len(API_PREFIX) :]
    payload = response.body if isinstance(response, web.Response) else None
    raw = payload if isinstance(payload, bytes) else b""
    seen = ObservedResponse(request.method, route, response.status, raw, sim_ctx(request).config.legacy_market_status)
    for observer in list(_observers):
        try:
            observer(seen)
        except Exception:
            log.exception("response observer failed on %s %s", request.method, request.path)


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Latency and injected failures, auth, rate limits and clock sync around every API request."""
    response = await _handle(request, handler)
    if _observers:
        _notify(request, response)
    return response


async def _handle(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = sim_ctx(request)
    ctx.requests += 1
    plan = ctx.faults.for_request(request.method, request.path)
    if plan.latency_s:
        await asyncio.sleep(plan.latency_s)
    rule = plan.rule
    if rule is not None and not rule.after_processing:
        if rule.delay_ms:
            await asyncio.sleep(rule.delay_ms / 1000)
        if rule.status is not None:
            return error_json(rule.status, fault_body(rule.status))
        rule = None
    api_path = request.path[len(API_PREFIX) :] or "/"
    try:
        raw = await request.read() if request.can_read_body else b""
        request[BODY_KEY] = raw
        key_id: str | None = None
        has_auth = any(h in request.headers for h in (KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER))
        signed_path = request.url.raw_path
        if not is_public(api_path):
            key_id = ctx.keys.verify(request.method, signed_path, request.headers)
        elif has_auth:
            try:
                key_id = ctx.keys.verify(request.method, signed_path, request.headers)
            except ApiError:
                key_id = None
        if key_id is not None:
            account = ctx.exchange.accounts.get(key_id)
            if account is None:
                account = ctx.exchange.create_account(key_id)
            request[ACCOUNT_KEY] = account
        kind, cost = classify(request.method, api_path, batch_items(api_path, raw))
        who = key_id if key_id is not None else f"anon:{request.remote}"
        if not ctx.limiter.allow(who, kind, cost):
            response: web.StreamResponse = error_json(429, fault_body(429))
        else:
            await ctx.sync()
            response = await handler(request)
    except ApiError as exc:
        response = _api_error(exc)
    except web.HTTPException as exc:
        code = {404: errors.NOT_FOUND, 405: "method_not_allowed"}.get(exc.status, "bad_request")
        response = json_response(error_body(code, exc.reason, request.path), status=exc.status)
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        response = json_response(error_body("internal_server_error", "internal server error", ""), status=500)
    if rule is not None:
        if rule.delay_ms:
            await asyncio.sleep(rule.delay_ms / 1000)
        if rule.status is not None:
            return error_json(rule.status, fault_body(rule.status))
    return response


def served_s(ctx: SimContext, tape_ms: int | None) -> int | None:
    """Served Unix seconds of a tape time in ms (None stays None)."""
    return None if tape_ms is None else (tape_ms + ctx.clock.offset_ms) // 1000


def in_bounds(value: int | None, lo: int | None, hi: int | None) -> bool:
    """Whether ``value`` lies in ``[lo, hi]`` (open ends allowed); None fails any bound."""
    if lo is None and hi is None:
        return True
    if value is None:
        return False
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def batch_list(payload: Any, *keys: str) -> list[Any]:
    """The item list of a batch body under the first present key of ``keys`` (1..20 items).

    Raises:
        ApiError: flat ``bad_request`` (not an array), ``invalid_parameters`` (empty or over 20 items),
            ``missing_parameters`` (no such key).

    """
    data = require_object(payload)
    for key in keys:
        if key in data and data[key] is not None:
            items = data[key]
            if not isinstance(items, list):
                raise errors.bad_request(f"{key} must be an array")
            if not items:
                raise invalid_param(f"{key} must not be empty")
            if len(items) > MAX_BATCH:
                raise invalid_param(f"at most {MAX_BATCH} orders per batch")
            return items
    raise errors.missing(keys[0])


def cancel_ids(payload: Any) -> list[str]:
    """Order ids of a batch-cancel body: ``{orders: [{order_id}]}`` or the deprecated ``{ids: [...]}``.

    Raises:
        ApiError: as :func:`batch_list`; flat ``bad_request`` for a non-string id.

    """
    data = require_object(payload)
    if data.get("orders") is not None:
        items = batch_list(data, "orders")
        ids = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("order_id"), str):
                raise errors.bad_request("each orders[] item needs an order_id string")
            ids.append(item["order_id"])
        return ids
    items = batch_list(data, "ids")
    if not all(isinstance(i, str) for i in items):
        raise errors.bad_request("ids must be strings")
    return list(items)


def nonneg_count(value: Any, key: str) -> Decimal:
    """A contract count that may be zero (``reduce_to``): ``"0"`` or a positive fp count string.

    Raises:
        ApiError: ``invalid_order`` for anything else.

    """
    if isinstance(value, str) and value.strip() in ("0", "0.0", "0.00"):
        return Decimal(0)
    return parse_count_text(value, key)


def batch_answers(
    items: list[Any], apply: Callable[[Any], dict[str, Any]], failed: Callable[[Any], dict[str, Any]]
) -> list[dict[str, Any]]:
    """One answer per batch item, in order (a failed item never fails the batch).

    Each answer is ``apply(item)`` with ``error: null``, or, when it raises an :class:`ApiError`, ``failed(item)``
    with the error's batch form.
    """
    out = []
    for item in items:
        try:
            answer = {**apply(item), "error": None}
        except ApiError as exc:
            answer = {**failed(item), "error": exc.batch_item()}
        out.append(answer)
    return out


def batch_client_order_id(item: Any) -> Any:
    """The ``client_order_id`` a batch item carried (for its error answer), None when it is not an object."""
    return item.get("client_order_id") if isinstance(item, dict) else None


def cancel_response(
    request: web.Request, body_of: Callable[[SimContext, Order, Decimal], dict[str, Any]]
) -> web.Response:
    """Cancel the path's ``{order_id}`` for the request's account; answer ``body_of(ctx, order, reduced_by)``.

    Raises:
        ApiError: ``not_found`` for an order the account does not have; the exchange's refusal otherwise.
    """
    ctx = sim_ctx(request)
    order, reduced = ctx.exchange.cancel_order(request_account(request), request.match_info["order_id"])
    return json_response(body_of(ctx, order, reduced))
