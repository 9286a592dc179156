"""The operator/test control API under ``/sim/v1`` (docs/simulator.md "Control API").

No Kalshi authentication (the simulator binds to loopback by default); JSON in and out; errors use the
same ``{"error": {code, message, details}}`` envelope as the trade API.

=========================================  ====================================================
``GET  /sim/v1/health``                    liveness, data source, clock, replay counters
``POST /sim/v1/accounts``                  register ``{key_id, public_key_pem, balance_cents?}`` (201)
``GET  /sim/v1/accounts``                  every account (key id, balance)
``GET  /sim/v1/accounts/{key_id}``         cash, positions, orders, fills, settlements, adjustments
``PUT  /sim/v1/accounts/{key_id}/balance``  ``{balance_cents}``: set total cash
``PUT  /sim/v1/accounts/{key_id}/positions/{ticker}``  ``{position_fp, market_exposure_dollars}``
``GET/PUT /sim/v1/clock``                  ``{now, tape_time, speed, paused, next_due_ms}``
``POST /sim/v1/clock/advance``             ``{seconds}``: step the clock, apply every frame due
``GET/PUT /sim/v1/faults``                 static faults (latency, fail_next rules, pauses, WS knobs) + timed
``DELETE /sim/v1/faults``                  clear every fault (static back to defaults, timed ended)
``POST /sim/v1/faults/timed``              schedule timed faults: one spec or ``{faults: [...]}`` (201)
``GET  /sim/v1/faults/timed``              active, scheduled and recently ended timed faults
``DELETE /sim/v1/faults/timed[/{id}]``     end every timed fault (or ``?ids=f1,f3``), or one
``POST /sim/v1/faults/scenario``           ``{scenario: {name, seed?, faults}, time_scale?}``: play a scenario (201)
``GET  /sim/v1/markets``                   every market with status and tape progress
``POST /sim/v1/markets/{ticker}/close``    ``{result?}``: force-close now
=========================================  ====================================================
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from models.money import floor_to_cents, to_decimal
from simulator import wire
from simulator.auth import KeyLoadError
from simulator.clock import ClockError
from simulator.context import SimContext
from simulator.errors import ApiError, invalid_param
from simulator.fault_schedule import TimedFault
from simulator.fault_specs import FaultBatch, ScenarioLoad, validation_message
from simulator.faults import FaultsUpdate
from simulator.httputil import BODY_KEY, body, error_response, json_response
from simulator.rest import CTX_KEY
from simulator.timeutil import iso_ms, parse_iso_ms

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ExactDecimal = Annotated[Decimal, BeforeValidator(to_decimal)]


def _ctx(request: web.Request) -> SimContext:
    return request.app[CTX_KEY]


def _model(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise invalid_param(f"{where}: {first.get('msg')}" if where else str(first.get("msg"))) from exc


@web.middleware
async def control_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Pre-read the body, bring the exchange to the clock, render errors as Kalshi envelopes."""
    try:
        request[BODY_KEY] = await request.read() if request.can_read_body else b""
        await _ctx(request).sync()
        return await handler(request)
    except ApiError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "bad_request")
        return json_response(
            {"error": {"code": code, "message": exc.reason, "details": request.path}}, status=exc.status
        )


# -- health & markets -----------------------------------------------------------------------------
async def health(request: web.Request) -> web.Response:
    """``GET /sim/v1/health``: status, data source, clock and replay throughput counters."""
    ctx = _ctx(request)
    stats = ctx.engine.stats
    busy_s = Decimal(stats.busy_ns) / 1_000_000_000
    uptime_s = Decimal(time.monotonic_ns() - ctx.started_wall_ns) / 1_000_000_000
    return json_response(
        {
            "status": "ok",
            "source": ctx.catalog.source,
            "description": ctx.catalog.description,
            "markets": len(ctx.catalog.markets),
            "accounts": len(ctx.exchange.accounts),
            "clock": _clock_json(ctx),
            "replay": {
                "frames_applied": stats.frames,
                "batches": stats.batches,
                "actions": stats.actions,
                "open_tapes": stats.open_tapes,
                "busy_seconds": str(busy_s.quantize(Decimal("0.001"))),
                "frames_per_busy_second": int(stats.frames / busy_s) if busy_s else None,
            },
            "uptime_seconds": str(uptime_s.quantize(Decimal("0.001"))),
            "requests": ctx.requests,
            "faults": _faults_status(ctx),
        }
    )


async def list_markets(request: web.Request) -> web.Response:
    """``GET /sim/v1/markets``: every market with lifecycle status and tape progress (served times)."""
    ctx = _ctx(request)
    offset = ctx.clock.offset_ms
    out = []
    for state in ctx.exchange.markets.values():
        d = state.definition
        out.append(
            {
                "ticker": d.ticker,
                "event_ticker": d.event_ticker,
                "series_ticker": d.series_ticker,
                "status": state.status,
                "open_time": iso_ms(d.open_ms + offset),
                "close_time": iso_ms(state.close_ms + offset),
                "tape_open_time": iso_ms(d.open_ms),
                "tape_close_time": iso_ms(d.close_ms),
                "result": state.result,
                "recorded_result": d.result,
                "tape": {
                    "state": state.tape_state,
                    "frames_applied": state.frames_applied,
                    "last_frame_tape_time": iso_ms(state.last_frame_ms) if state.last_frame_ms else None,
                },
                "resting_account_orders": len(state.book.resting_orders()),
            }
        )
    return json_response({"markets": out})


class CloseBody(BaseModel):
    """``POST /sim/v1/markets/{ticker}/close`` body."""

    model_config = ConfigDict(extra="forbid")
    result: str | None = None


async def close_market(request: web.Request) -> web.Response:
    """``POST /sim/v1/markets/{ticker}/close``: force-close a market now.

    Resting orders are swept; the market is determined and finalized after the configured delays, with
    the recorded or the given ``result``.
    """
    ctx = _ctx(request)
    data = _model(CloseBody, body(request, empty={}))
    state = ctx.exchange.force_close(request.match_info["ticker"], data.result)
    return json_response(
        {
            "ticker": state.ticker,
            "status": state.status,
            "close_time": iso_ms(state.close_ms + ctx.clock.offset_ms),
            "result": data.result or state.definition.result,
        }
    )


# -- clock ----------------------------------------------------------------------------------------
def _clock_json(ctx: SimContext) -> dict[str, Any]:
    clock = ctx.clock
    tape = clock.now_ms()
    return {
        "now": iso_ms(tape + clock.offset_ms),
        "now_ms": tape + clock.offset_ms,
        "tape_time": iso_ms(tape),
        "tape_time_ms": tape,
        "offset_ms": clock.offset_ms,
        "speed": str(clock.speed),
        "paused": clock.paused,
        # the tape time of the next scheduled replay action (a recorded frame batch, a lifecycle transition, an
        # order-group window), None when nothing is scheduled: a stepping client (the backtest's pacer) advances
        # to it instead of probing millisecond by millisecond
        "next_due_ms": ctx.engine.next_due_ms(),
    }


class ClockBody(BaseModel):
    """``PUT /sim/v1/clock`` body.

    Any of ``now`` (served ISO), ``tape_time`` (tape ISO), ``speed``, ``paused``. Times only move forward.
    """

    model_config = ConfigDict(extra="forbid")
    now: str | None = None
    tape_time: str | None = None
    speed: ExactDecimal | None = Field(default=None, gt=0, le=100_000)
    paused: bool | None = None


class AdvanceBody(BaseModel):
    """``POST /sim/v1/clock/advance`` body: ``seconds`` (tape seconds, >= 0, may be fractional)."""

    model_config = ConfigDict(extra="forbid")
    seconds: ExactDecimal = Field(ge=0, le=10_000_000)


async def get_clock(request: web.Request) -> web.Response:
    """``GET /sim/v1/clock``."""
    return json_response(_clock_json(_ctx(request)))


async def put_clock(request: web.Request) -> web.Response:
    """``PUT /sim/v1/clock``: set speed/pause and/or jump forward; returns after applying the tape."""
    ctx = _ctx(request)
    data: ClockBody = _model(ClockBody, body(request))
    clock = ctx.clock
    try:
        if data.now is not None and data.tape_time is not None:
            raise invalid_param("give now or tape_time, not both")
        target = None
        if data.now is not None:
            target = clock.to_tape_ms(parse_iso_ms(data.now))
        elif data.tape_time is not None:
            target = parse_iso_ms(data.tape_time)
        if data.paused is True:
            clock.pause()
        if data.speed is not None:
            clock.set_speed(data.speed)
        if target is not None:
            clock.set_tape_ms(target)
        if data.paused is False:
            clock.resume()
    except (ClockError, ValueError) as exc:
        raise invalid_param(str(exc)) from exc
    await ctx.sync()
    return json_response(_clock_json(ctx))


async def advance_clock(request: web.Request) -> web.Response:
    """``POST /sim/v1/clock/advance`` ``{seconds}``: step forward and apply every frame due."""
    ctx = _ctx(request)
    data: AdvanceBody = _model(AdvanceBody, body(request))
    ms = int((data.seconds * 1000).to_integral_value())
    ctx.clock.advance(ms)
    await ctx.sync()
    return json_response(_clock_json(ctx))


# -- faults ---------------------------------------------------------------------------------------
def _faults_status(ctx: SimContext) -> dict[str, Any]:
    """What ``/health`` shows of the faults: the timed ones active and scheduled, and the static ones in force."""
    faults = ctx.faults
    body = faults.as_json()
    static = {
        k: body[k] for k in ("latency_ms", "trading_paused", "exchange_paused", "ws_handshake_503", "ws_skip_seq")
    }
    static["fail_next"] = len(faults.fail_next)
    return {
        "active": body["timed"]["active"],
        "scheduled": body["timed"]["scheduled"],
        "static": {k: v for k, v in static.items() if v},
        "effective": body["effective"],
    }


def _json_faults(faults: list[TimedFault], ctx: SimContext) -> list[dict[str, Any]]:
    now = ctx.faults.timed.clock()
    return [f.as_json(now) for f in faults]


async def get_faults(request: web.Request) -> web.Response:
    """``GET /sim/v1/faults``: static faults plus ``timed`` (``active``, ``scheduled``, ``ended``)."""
    return json_response(_ctx(request).faults.as_json())


async def put_faults(request: web.Request) -> web.Response:
    """``PUT /sim/v1/faults``: merge the given static fields (``fail_next`` replaces the list)."""
    ctx = _ctx(request)
    update: FaultsUpdate = _model(FaultsUpdate, body(request))
    ctx.faults.apply(update)
    return json_response(ctx.faults.as_json())


async def delete_faults(request: web.Request) -> web.Response:
    """``DELETE /sim/v1/faults``: every static fault back to its default and every timed fault ended."""
    ctx = _ctx(request)
    cleared = ctx.faults.reset()
    out = ctx.faults.as_json()
    out["cleared"] = [f.id for f in cleared]
    return json_response(out)


def _schedule(ctx: SimContext, data: Any) -> list[TimedFault]:
    try:
        batch = FaultBatch.model_validate(data if isinstance(data, dict) and "faults" in data else {"faults": [data]})
    except ValidationError as exc:
        raise invalid_param(validation_message(exc)) from exc
    try:
        return ctx.faults.schedule(batch.faults)
    except ValueError as exc:
        raise invalid_param(str(exc)) from exc


async def post_timed(request: web.Request) -> web.Response:
    """``POST /sim/v1/faults/timed``: schedule one spec or ``{"faults": [...]}``, all or none (201)."""
    ctx = _ctx(request)
    added = _schedule(ctx, body(request))
    return json_response({"faults": _json_faults(added, ctx)}, status=201)


async def get_timed(request: web.Request) -> web.Response:
    """``GET /sim/v1/faults/timed``: ``{active, scheduled, ended}``."""
    ctx = _ctx(request)
    ctx.faults.tick()
    return json_response(ctx.faults.timed.as_json())


async def delete_timed(request: web.Request) -> web.Response:
    """``DELETE /sim/v1/faults/timed`` (all, or ``?ids=f1,f3``) or ``.../timed/{id}``: end timed faults now.

    All or nothing: an unknown id answers 404 and clears none.
    """
    ctx = _ctx(request)
    fid = request.match_info.get("fault_id")
    ids = [fid] if fid is not None else [i for i in request.query.get("ids", "").split(",") if i] or None
    try:
        cleared = ctx.faults.clear(ids)
    except KeyError as exc:
        raise ApiError(404, "not_found", f"no scheduled or active timed fault {exc.args[0]}; nothing cleared") from exc
    return json_response({"cleared": _json_faults(cleared, ctx)})


async def post_scenario(request: web.Request) -> web.Response:
    """``POST /sim/v1/faults/scenario``: schedule a scenario's faults from now, schedule scaled by ``time_scale``."""
    ctx = _ctx(request)
    try:
        load = ScenarioLoad.model_validate(body(request))
    except ValidationError as exc:
        raise invalid_param(validation_message(exc)) from exc
    try:
        added = ctx.faults.schedule(load.scenario.faults, load.scenario, load.time_scale)
    except ValueError as exc:
        raise invalid_param(str(exc).replace("faults.", "scenario.faults.", 1)) from exc
    return json_response(
        {"scenario": load.scenario.name, "time_scale": str(load.time_scale), "faults": _json_faults(added, ctx)},
        status=201,
    )


# -- accounts -------------------------------------------------------------------------------------
class AccountBody(BaseModel):
    """``POST /sim/v1/accounts`` body."""

    model_config = ConfigDict(extra="forbid")
    key_id: str = Field(min_length=1, max_length=200)
    public_key_pem: str
    balance_cents: int | None = Field(default=None, ge=0)


class BalanceBody(BaseModel):
    """``PUT /sim/v1/accounts/{key_id}/balance`` body: total cash in integer cents."""

    model_config = ConfigDict(extra="forbid")
    balance_cents: int = Field(ge=0)


class PositionBody(BaseModel):
    """``PUT /sim/v1/accounts/{key_id}/positions/{ticker}`` body: signed contracts and total cost."""

    model_config = ConfigDict(extra="forbid")
    position_fp: ExactDecimal
    market_exposure_dollars: ExactDecimal = Decimal(0)


def _account_summary(ctx: SimContext, key_id: str) -> dict[str, Any]:
    ex = ctx.exchange
    account = ex.account(key_id)
    free = ex.free_cash(account)
    return {
        "key_id": account.key_id,
        "user_id": account.user_id,
        "cash_dollars": wire.money(account.cash),
        "balance_cents": floor_to_cents(free),
        "balance_dollars": wire.money(free),
    }


async def create_account(request: web.Request) -> web.Response:
    """``POST /sim/v1/accounts``: register a public key and its account (201); 409 if the key exists."""
    ctx = _ctx(request)
    data: AccountBody = _model(AccountBody, body(request))
    if data.key_id in ctx.keys or data.key_id in ctx.exchange.accounts:
        raise ApiError(409, "account_exists", f"key {data.key_id} is already registered")
    try:
        ctx.keys.register(data.key_id, data.public_key_pem)
    except KeyLoadError as exc:
        raise invalid_param(str(exc)) from exc
    ctx.exchange.create_account(data.key_id, data.balance_cents)
    return json_response(_account_summary(ctx, data.key_id), status=201)


async def list_accounts(request: web.Request) -> web.Response:
    """``GET /sim/v1/accounts``."""
    ctx = _ctx(request)
    return json_response({"accounts": [_account_summary(ctx, k) for k in ctx.exchange.accounts]})


async def get_account(request: web.Request) -> web.Response:
    """``GET /sim/v1/accounts/{key_id}``: cash, positions, orders, fills, settlements, adjustments."""
    ctx = _ctx(request)
    ex = ctx.exchange
    key_id = request.match_info["key_id"]
    account = ex.account(key_id)
    offset = ctx.clock.offset_ms
    out = _account_summary(ctx, key_id)
    out.update(
        {
            "portfolio_value_cents": floor_to_cents(ex.portfolio_value(account)),
            "positions": [
                wire.position_json(p, ex.resting_count(account, p.ticker), offset) for p in ex.positions_for(account)
            ],
            "orders": [ex.order_dict(o) for o in sorted(account.orders.values(), key=lambda o: o.seq)],
            "fills": [wire.fill_json(f, offset) for f in account.fills],
            "settlements": [wire.settlement_json(s, offset) for s in account.settlements],
            "adjustments": [
                {
                    "ticker": a.ticker,
                    "position_fp": wire.count(a.position),
                    "market_exposure_dollars": wire.money(a.exposure),
                    "time": iso_ms(a.ts_ms + offset),
                }
                for a in account.adjustments
            ],
            "order_groups": [g.order_group_id for g in account.order_groups.values()],
        }
    )
    return json_response(out)


async def put_balance(request: web.Request) -> web.Response:
    """``PUT /sim/v1/accounts/{key_id}/balance`` ``{balance_cents}``: set the account's total cash."""
    ctx = _ctx(request)
    data: BalanceBody = _model(BalanceBody, body(request))
    key_id = request.match_info["key_id"]
    ctx.exchange.set_cash(ctx.exchange.account(key_id), data.balance_cents)
    return json_response(_account_summary(ctx, key_id))


async def put_position(request: web.Request) -> web.Response:
    """``PUT /sim/v1/accounts/{key_id}/positions/{ticker}``: arrange a position.

    As if bought earlier at ``market_exposure_dollars`` total cost. No fill is recorded and cash does not
    move.
    """
    ctx = _ctx(request)
    data: PositionBody = _model(PositionBody, body(request))
    account = ctx.exchange.account(request.match_info["key_id"])
    pos = ctx.exchange.arrange_position(
        account, request.match_info["ticker"], data.position_fp, data.market_exposure_dollars
    )
    return json_response(
        {"position": wire.position_json(pos, ctx.exchange.resting_count(account, pos.ticker), ctx.clock.offset_ms)}
    )


def make_control_app(ctx: SimContext) -> web.Application:
    """Build the ``/sim/v1`` sub-application."""
    app = web.Application(middlewares=[control_middleware])
    app[CTX_KEY] = ctx
    r = app.router
    r.add_get("/health", health)
    r.add_get("/markets", list_markets)
    r.add_post("/markets/{ticker}/close", close_market)
    r.add_get("/clock", get_clock)
    r.add_put("/clock", put_clock)
    r.add_post("/clock/advance", advance_clock)
    r.add_get("/faults", get_faults)
    r.add_put("/faults", put_faults)
    r.add_delete("/faults", delete_faults)
    r.add_post("/faults/timed", post_timed)
    r.add_get("/faults/timed", get_timed)
    r.add_delete("/faults/timed", delete_timed)
    r.add_delete("/faults/timed/{fault_id}", delete_timed)
    r.add_post("/faults/scenario", post_scenario)
    r.add_post("/accounts", create_account)
    r.add_get("/accounts", list_accounts)
    r.add_get("/accounts/{key_id}", get_account)
    r.add_put("/accounts/{key_id}/balance", put_balance)
    r.add_put("/accounts/{key_id}/positions/{ticker}", put_position)
    return app
