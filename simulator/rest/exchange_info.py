"""Exchange-wide reads (kalshi-api.md §3.1, §5.4).

``/exchange/status``, ``/exchange/schedule``, ``/exchange/user_data_timestamp`` and ``/account/limits``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from simulator.httputil import (
    json_response,
)
from simulator.rest.common import (
    request_account,
    sim_ctx,
)
from simulator.timeutil import iso_ms


async def exchange_status(request: web.Request) -> web.Response:
    """``GET /exchange/status`` (§3.1)."""
    ex = sim_ctx(request).exchange
    return json_response(
        {
            "exchange_active": not ex.exchange_paused,
            "trading_active": not (ex.exchange_paused or ex.trading_paused),
            "exchange_estimated_resume_time": None,
        }
    )


async def exchange_schedule(request: web.Request) -> web.Response:
    """``GET /exchange/schedule`` (§3.1): the simulator trades around the clock, no maintenance."""
    day = [{"open_time": "00:00", "close_time": "24:00"}]
    hours: dict[str, Any] = {
        d: day for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    }
    ctx = sim_ctx(request)
    start, end = ctx.catalog.time_range_ms()
    hours.update({"start_time": iso_ms(start + ctx.clock.offset_ms), "end_time": iso_ms(end + ctx.clock.offset_ms)})
    return json_response({"schedule": {"standard_hours": [hours], "maintenance_windows": []}})


async def user_data_timestamp(request: web.Request) -> web.Response:
    """``GET /exchange/user_data_timestamp`` (§3.0): portfolio reads are always current here."""
    return json_response({"as_of_time": iso_ms(sim_ctx(request).served_now_ms())})


async def account_limits(request: web.Request) -> web.Response:
    """``GET /account/limits`` (§5.4)."""
    request_account(request)
    return json_response(sim_ctx(request).limiter.limits_json())
