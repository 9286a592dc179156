"""Order groups under ``/portfolio/order_groups`` (kalshi-api.md §3.7)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from simulator import wire
from simulator.context import SimContext
from simulator.errors import invalid_order
from simulator.httputil import (
    body,
    json_response,
)
from simulator.orders import (
    opt_int,
    parse_count_text,
    require_object,
)
from simulator.rest.common import (
    request_account,
    sim_ctx,
)


def _limit_from(data: dict[str, Any]) -> Decimal:
    as_int = opt_int(data, "contracts_limit")
    as_fp = data.get("contracts_limit_fp")
    if as_int is not None:
        limit = Decimal(as_int)
        if as_fp is not None and parse_count_text(as_fp, "contracts_limit_fp") != limit:
            raise invalid_order("contracts_limit and contracts_limit_fp disagree")
        return limit
    if as_fp is not None:
        return parse_count_text(as_fp, "contracts_limit_fp")
    raise invalid_order("contracts_limit is required")


def _group_json(ctx: SimContext, group: Any, *, with_id: bool) -> dict[str, Any]:
    ex = ctx.exchange
    out: dict[str, Any] = {}
    if with_id:
        out["id"] = group.order_group_id
        out["order_group_id"] = group.order_group_id
    out.update(
        {
            "is_auto_cancel_enabled": True,
            "contracts_limit": wire.whole(group.contracts_limit),
            "contracts_limit_fp": wire.count(group.contracts_limit),
            "status": "triggered" if group.triggered else "active",
            "triggered": group.triggered,
            "rolling_contracts_fp": wire.count(group.rolling_total(ex.now_ms)),
        }
    )
    return out


async def create_order_group(request: web.Request) -> web.Response:
    """``POST /portfolio/order_groups/create`` -> 201 ``{order_group_id, subaccount, exchange_index}``."""
    ctx = sim_ctx(request)
    group = ctx.exchange.create_group(request_account(request), _limit_from(require_object(body(request))))
    return json_response(
        {"order_group_id": group.order_group_id, "subaccount": 0, "exchange_index": wire.EXCHANGE_INDEX}, status=201
    )


async def list_order_groups(request: web.Request) -> web.Response:
    """``GET /portfolio/order_groups`` -> ``{order_groups: [{id, is_auto_cancel_enabled, ...}]}``."""
    ctx = sim_ctx(request)
    account = request_account(request)
    return json_response({"order_groups": [_group_json(ctx, g, with_id=True) for g in account.order_groups.values()]})


async def get_order_group(request: web.Request) -> web.Response:
    """``GET /portfolio/order_groups/{id}`` (§3.7).

    Returns ``{is_auto_cancel_enabled, orders, contracts_limit_fp, status, triggered}``: ``orders`` are
    the ids of the group's resting orders; ``status``/``triggered`` are simulator extras.
    """
    ctx = sim_ctx(request)
    group = ctx.exchange.get_group(request_account(request), request.match_info["group_id"])
    out = _group_json(ctx, group, with_id=False)
    out["orders"] = [o.order_id for o in ctx.exchange.group_resting_orders(group)]
    return json_response(out)


async def reset_order_group(request: web.Request) -> web.Response:
    """``PUT /portfolio/order_groups/{id}/reset`` -> ``{}``."""
    ctx = sim_ctx(request)
    body(request, empty={})
    ctx.exchange.reset_group(request_account(request), request.match_info["group_id"])
    return json_response({})


async def trigger_order_group(request: web.Request) -> web.Response:
    """``PUT /portfolio/order_groups/{id}/trigger`` -> ``{}``."""
    ctx = sim_ctx(request)
    body(request, empty={})
    ctx.exchange.trigger_group(request_account(request), request.match_info["group_id"])
    return json_response({})


async def limit_order_group(request: web.Request) -> web.Response:
    """``PUT /portfolio/order_groups/{id}/limit`` with ``{contracts_limit}`` -> ``{}``."""
    ctx = sim_ctx(request)
    limit = _limit_from(require_object(body(request)))
    ctx.exchange.set_group_limit(request_account(request), request.match_info["group_id"], limit)
    return json_response({})


async def delete_order_group(request: web.Request) -> web.Response:
    """``DELETE /portfolio/order_groups/{id}`` -> ``{}``."""
    ctx = sim_ctx(request)
    ctx.exchange.delete_group(request_account(request), request.match_info["group_id"])
    return json_response({})
