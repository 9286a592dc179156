"""Parsing one WebSocket frame: :func:`parse_frame` (fast path first, then the generic slow path).

The slow path decodes to plain Python objects and validates field by field: every message type other than the
hot ones, and the error reporting of the hot ones; both paths produce identical events (tested on the
recorded tapes). Nothing here raises for bad input: it becomes a :class:`~kalshi.models.ws.events.FrameError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, TypeVar, cast

import msgspec

from kalshi.models.ws.events import (
    ErrorMessage,
    EventLifecycle,
    Fill,
    FrameError,
    MarketLifecycle,
    MarketPositionUpdate,
    Ok,
    OrderGroupUpdate,
    PriceBand,
    Subscribed,
    SubscriptionInfo,
    Ticker,
    TickerV2,
    UnknownMessage,
    Unsubscribed,
    UserOrderUpdate,
    WsEvent,
)
from kalshi.models.ws.hot import (
    ANY_DECODER,
    HOT_DECODER,
    UNDECODABLE,
    WIRE_TAGS,
    WIRE_TYPES,
    BadFrame,
    WireDelta,
    WireSnapshot,
    WireTrade,
    delta_event,
    legacy_cents_to_cc,
    legacy_count_to_lots,
    snapshot_event,
    trade_event,
)
from kalshi.models.ws.units import FixedPointError, count_to_lots, price_to_cc


def parse_frame(raw: bytes | bytearray | memoryview | str) -> WsEvent:
    """Parse one Kalshi WebSocket text frame into a typed event (kalshi-api.md §6). Never raises.

    Args:
        raw: the frame's JSON text, as ``bytes`` (preferred; what ``websockets`` gives with ``decode=False``)
            or ``str``.

    Returns:
        The typed event for a known ``type``; :class:`UnknownMessage` for a well-formed frame of another
        type; :class:`FrameError` (with ``raw`` and a one-line ``reason``) for anything malformed.

    """
    try:
        wire = HOT_DECODER.decode(raw)
    except msgspec.ValidationError:
        return _parse_slow(raw)
    except UNDECODABLE as exc:
        return FrameError(raw=raw, reason=f"invalid JSON: {type(exc).__name__}: {exc}")
    try:
        if type(wire) is WireDelta:
            return delta_event(wire)
        if type(wire) is WireSnapshot:
            return snapshot_event(wire)
        return trade_event(wire)
    except Exception as exc:  # BadFrame, FixedPointError; anything else would be a bug, still never a crash
        tag = WIRE_TAGS[type(wire)]
        return FrameError(
            raw=raw,
            reason=f"{tag}: {exc}" if isinstance(exc, BadFrame | FixedPointError) else f"{tag}: internal error {exc!r}",
            type=tag,
            market_ticker=wire.msg.market_ticker or None,
            sid=wire.sid,
            seq=wire.seq,
            id=wire.id,
        )


# --------------------------------------------------------------------------------------------------
# Slow path: every other message type, and error reporting for the hot ones
# --------------------------------------------------------------------------------------------------


_T = TypeVar("_T")

_JSON_KIND: Final[dict[type, str]] = {int: "integer", str: "string", bool: "boolean"}


def _opt(d: dict[str, Any], key: str, kind: type[_T]) -> _T | None:
    """``d[key]`` if exactly of JSON type ``kind`` (no bool for int, never a float); ``None`` when absent or null."""
    v = d.get(key)
    if v is None:
        return None
    if type(v) is not kind:
        raise BadFrame(f"{key}: expected {_JSON_KIND[kind]}, got {type(v).__name__} {v!r}")
    return cast(_T, v)


def _opt_int(d: dict[str, Any], key: str) -> int | None:
    """``d[key]`` as an int (JSON integer; bools and floats refused), or ``None`` when absent/null."""
    return _opt(d, key, int)


def _req_int(d: dict[str, Any], key: str) -> int:
    """Required ``d[key]`` as an int."""
    v = _opt(d, key, int)
    if v is None:
        raise BadFrame(f"missing {key}")
    return v


def _opt_str(d: dict[str, Any], key: str) -> str | None:
    """``d[key]`` as a string, or ``None`` when absent/null."""
    return _opt(d, key, str)


def _req_str(d: dict[str, Any], key: str) -> str:
    """Required non-empty ``d[key]`` as a string."""
    v = _opt(d, key, str)
    if not v:
        raise BadFrame(f"missing {key}")
    return v


def _opt_bool(d: dict[str, Any], key: str) -> bool | None:
    """``d[key]`` as a bool, or ``None`` when absent/null."""
    return _opt(d, key, bool)


def _money_type_error(key: str, v: Any) -> BadFrame:
    if type(v) is float:
        return BadFrame(f"{key}: refusing float {v!r}: money and counts must be fixed-point strings")
    return BadFrame(f"{key}: expected a fixed-point string, got {type(v).__name__} {v!r}")


def _opt_scaled(
    d: dict[str, Any],
    key: str,
    legacy: str | None,
    parse: Callable[[str], int],
    parse_legacy: Callable[[int, str], int],
) -> int | None:
    """A scaled int from ``key`` (a fixed-point string, ``parse``) or ``legacy`` (a JSON int, ``parse_legacy``)."""
    v = d.get(key)
    if v is not None:
        if type(v) is not str:
            raise _money_type_error(key, v)
        try:
            return parse(v)
        except FixedPointError as exc:
            raise BadFrame(f"{key}: {exc}") from exc
    if legacy is not None:
        v = d.get(legacy)
        if v is not None:
            if type(v) is not int:
                raise _money_type_error(legacy, v)
            return parse_legacy(v, legacy)
    return None


def _opt_price(d: dict[str, Any], key: str, legacy: str | None = None) -> int | None:
    """A price in centi-cents from ``key`` (dollar string) or ``legacy`` (int cents); ``None`` when absent."""
    return _opt_scaled(d, key, legacy, price_to_cc, legacy_cents_to_cc)


def _opt_lots(d: dict[str, Any], key: str, legacy: str | None = None, *, signed: bool = False) -> int | None:
    """A count in lots from ``key`` (``_fp`` string) or ``legacy`` (int contracts); ``None`` when absent."""
    return _opt_scaled(
        d,
        key,
        legacy,
        lambda text: count_to_lots(text, signed=signed),
        lambda value, where: legacy_count_to_lots(value, where, signed=signed),
    )


_STRICT_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _opt_dollars(d: dict[str, Any], key: str, legacy: str | None = None, legacy_scale: int = 2) -> Decimal | None:
    """Money in Decimal dollars from ``key`` (dollar string) or ``legacy`` (int, 10**-legacy_scale dollars).

    ``legacy_scale`` is 2 for cents and 4 for the centi-cents of old ``market_position`` frames (§6.5).
    """
    v = d.get(key)
    if v is not None:
        if type(v) is not str:
            raise _money_type_error(key, v)
        if not _STRICT_DECIMAL.fullmatch(v):
            raise BadFrame(f"{key}: not a dollar amount: {v!r}")
        return Decimal(v)
    if legacy is not None:
        v = d.get(legacy)
        if v is not None:
            if type(v) is not int:
                raise _money_type_error(legacy, v)
            return Decimal(v).scaleb(-legacy_scale)
    return None


def _req(value: Any, key: str) -> Any:
    if value is None:
        raise BadFrame(f"missing {key}")
    return value


def _msg(d: dict[str, Any]) -> dict[str, Any]:
    m = d.get("msg")
    if not isinstance(m, dict):
        raise BadFrame("missing msg object")
    return m


def _ts_pair(m: dict[str, Any]) -> tuple[int | None, int | None]:
    """``(ts_s, ts_ms)`` from integer ``ts`` seconds and ``ts_ms``; ``ts_ms`` defaults to ``ts * 1000``."""
    ts_s = _opt_int(m, "ts")
    ts_ms = _opt_int(m, "ts_ms")
    if ts_ms is None and ts_s is not None:
        ts_ms = ts_s * 1000
    return ts_s, ts_ms


def _p_ticker(d: dict[str, Any], env: dict[str, Any]) -> Ticker:
    m = _msg(d)
    ts_s, ts_ms = _ts_pair(m)
    return Ticker(
        **env,
        market_ticker=_req_str(m, "market_ticker"),
        market_id=_opt_str(m, "market_id"),
        price_cc=_opt_price(m, "price_dollars", "price"),
        yes_bid_cc=_opt_price(m, "yes_bid_dollars", "yes_bid"),
        yes_ask_cc=_opt_price(m, "yes_ask_dollars", "yes_ask"),
        yes_bid_size_lots=_opt_lots(m, "yes_bid_size_fp"),
        yes_ask_size_lots=_opt_lots(m, "yes_ask_size_fp"),
        last_trade_size_lots=_opt_lots(m, "last_trade_size_fp"),
        volume_lots=_opt_lots(m, "volume_fp", "volume"),
        open_interest_lots=_opt_lots(m, "open_interest_fp", "open_interest"),
        dollar_volume=_opt_int(m, "dollar_volume"),
        dollar_open_interest=_opt_int(m, "dollar_open_interest"),
        ts_s=ts_s,
        ts_ms=ts_ms,
    )


def _p_ticker_v2(d: dict[str, Any], env: dict[str, Any]) -> TickerV2:
    m = _msg(d)
    return TickerV2(
        **env,
        market_ticker=_req_str(m, "market_ticker"),
        market_id=_opt_str(m, "market_id"),
        price_cc=_opt_price(m, "price_dollars", "price"),
        yes_bid_cc=_opt_price(m, "yes_bid_dollars", "yes_bid"),
        yes_ask_cc=_opt_price(m, "yes_ask_dollars", "yes_ask"),
        volume_delta_lots=_opt_lots(m, "volume_delta_fp", "volume_delta", signed=True),
        open_interest_delta_lots=_opt_lots(m, "open_interest_delta_fp", "open_interest_delta", signed=True),
        dollar_volume_delta=_opt_int(m, "dollar_volume_delta"),
        dollar_open_interest_delta=_opt_int(m, "dollar_open_interest_delta"),
        ts_s=_opt_int(m, "ts"),
    )


def _p_fill(d: dict[str, Any], env: dict[str, Any]) -> Fill:
    m = _msg(d)
    ts_s, ts_ms = _ts_pair(m)
    return Fill(
        **env,
        market_ticker=_opt_str(m, "market_ticker") or _req_str(m, "ticker"),
        order_id=_req_str(m, "order_id"),
        yes_price_cc=_req(_opt_price(m, "yes_price_dollars", "yes_price"), "yes_price_dollars"),
        count_lots=_req(_opt_lots(m, "count_fp", "count"), "count_fp"),
        trade_id=_opt_str(m, "trade_id"),
        client_order_id=_opt_str(m, "client_order_id"),
        is_taker=_opt_bool(m, "is_taker"),
        side=_opt_str(m, "side"),
        action=_opt_str(m, "action"),
        outcome_side=_opt_str(m, "outcome_side"),
        book_side=_opt_str(m, "book_side"),
        purchased_side=_opt_str(m, "purchased_side"),
        fee_cost_dollars=_opt_dollars(m, "fee_cost"),
        post_position_lots=_opt_lots(m, "post_position_fp", "post_position", signed=True),
        exchange_index=_opt_int(m, "exchange_index"),
        subaccount=_opt_int(m, "subaccount"),
        ts_s=ts_s,
        ts_ms=ts_ms,
    )


def _p_market_position(d: dict[str, Any], env: dict[str, Any]) -> MarketPositionUpdate:
    m = _msg(d)
    return MarketPositionUpdate(
        **env,
        market_ticker=_req_str(m, "market_ticker"),
        position_lots=_req(_opt_lots(m, "position_fp", "position", signed=True), "position_fp"),
        user_id=_opt_str(m, "user_id"),
        position_cost_dollars=_opt_dollars(m, "position_cost_dollars", "position_cost", 4),
        realized_pnl_dollars=_opt_dollars(m, "realized_pnl_dollars", "realized_pnl", 4),
        fees_paid_dollars=_opt_dollars(m, "fees_paid_dollars", "fees_paid", 4),
        position_fee_cost_dollars=_opt_dollars(m, "position_fee_cost_dollars", "position_fee_cost", 4),
        volume_lots=_opt_lots(m, "volume_fp", "volume"),
        subaccount=_opt_int(m, "subaccount"),
    )


def _p_user_order(d: dict[str, Any], env: dict[str, Any]) -> UserOrderUpdate:
    m = _msg(d)
    return UserOrderUpdate(
        **env,
        order_id=_req_str(m, "order_id"),
        ticker=_opt_str(m, "ticker") or _req_str(m, "market_ticker"),
        status=_req_str(m, "status"),
        user_id=_opt_str(m, "user_id"),
        client_order_id=_opt_str(m, "client_order_id"),
        order_group_id=_opt_str(m, "order_group_id"),
        side=_opt_str(m, "side"),
        is_yes=_opt_bool(m, "is_yes"),
        outcome_side=_opt_str(m, "outcome_side"),
        book_side=_opt_str(m, "book_side"),
        yes_price_cc=_opt_price(m, "yes_price_dollars", "yes_price"),
        fill_count_lots=_opt_lots(m, "fill_count_fp", "fill_count"),
        remaining_count_lots=_opt_lots(m, "remaining_count_fp", "remaining_count"),
        initial_count_lots=_opt_lots(m, "initial_count_fp", "initial_count"),
        taker_fill_cost_dollars=_opt_dollars(m, "taker_fill_cost_dollars", "taker_fill_cost"),
        maker_fill_cost_dollars=_opt_dollars(m, "maker_fill_cost_dollars", "maker_fill_cost"),
        taker_fees_dollars=_opt_dollars(m, "taker_fees_dollars", "taker_fees"),
        maker_fees_dollars=_opt_dollars(m, "maker_fees_dollars", "maker_fees"),
        self_trade_prevention_type=_opt_str(m, "self_trade_prevention_type"),
        created_ts_ms=_opt_int(m, "created_ts_ms"),
        last_updated_ts_ms=_opt_int(m, "last_updated_ts_ms"),
        expiration_ts_ms=_opt_int(m, "expiration_ts_ms"),
        last_update_reason=_opt_str(m, "last_update_reason"),
        exchange_index=_opt_int(m, "exchange_index"),
        subaccount_number=_opt_int(m, "subaccount_number"),
    )


def _p_order_group(d: dict[str, Any], env: dict[str, Any]) -> OrderGroupUpdate:
    m = _msg(d)
    return OrderGroupUpdate(
        **env,
        event_type=_req_str(m, "event_type"),
        order_group_id=_req_str(m, "order_group_id"),
        contracts_limit_lots=_opt_lots(m, "contracts_limit_fp", "contracts_limit"),
        ts_ms=_opt_int(m, "ts_ms"),
    )


def _price_bands(value: Any) -> tuple[PriceBand, ...] | None:
    """``price_ranges`` ``[{start, end, step}, ...]`` (dollar strings) -> bands in centi-cents."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise BadFrame(f"price_ranges: expected a list, got {type(value).__name__}")
    bands: list[PriceBand] = []
    for item in value:
        if not isinstance(item, dict):
            raise BadFrame(f"price_ranges: expected objects, got {item!r}")
        start = _req(_opt_price(item, "start", "start_dollars"), "price_ranges.start")
        end = _req(_opt_price(item, "end", "end_dollars"), "price_ranges.end")
        step = _req(_opt_price(item, "step", "step_dollars"), "price_ranges.step")
        if step <= 0 or end < start:
            raise BadFrame(f"price_ranges: invalid band {item!r}")
        bands.append(PriceBand(start, end, step))
    return tuple(bands)


def _settlement_value(m: dict[str, Any]) -> Decimal | None:
    """``settlement_value`` (dollar string per §6.5; a legacy int is taken as cents) in Decimal dollars."""
    value = _opt_dollars(m, "settlement_value_dollars")
    if value is not None:
        return value
    if type(m.get("settlement_value")) is int:
        return _opt_dollars(m, "__absent__", "settlement_value")
    return _opt_dollars(m, "settlement_value")


def _p_market_lifecycle(d: dict[str, Any], env: dict[str, Any]) -> MarketLifecycle:
    m = _msg(d)
    meta = m.get("additional_metadata")
    if meta is not None and not isinstance(meta, dict):
        raise BadFrame("additional_metadata: expected an object")
    return MarketLifecycle(
        **env,
        market_ticker=_req_str(m, "market_ticker"),
        event_type=_req_str(m, "event_type"),
        exchange_index=_opt_int(m, "exchange_index"),
        open_ts=_opt_int(m, "open_ts"),
        close_ts=_opt_int(m, "close_ts"),
        determination_ts=_opt_int(m, "determination_ts"),
        settled_ts=_opt_int(m, "settled_ts"),
        result=_opt_str(m, "result"),
        settlement_value_dollars=_settlement_value(m),
        is_deactivated=_opt_bool(m, "is_deactivated"),
        price_level_structure=_opt_str(m, "price_level_structure"),
        price_ranges=_price_bands(m.get("price_ranges")),
        additional_metadata=meta,
    )


def _p_event_lifecycle(d: dict[str, Any], env: dict[str, Any]) -> EventLifecycle:
    m = _msg(d)
    return EventLifecycle(
        **env,
        event_ticker=_req_str(m, "event_ticker"),
        exchange_index=_opt_int(m, "exchange_index"),
        title=_opt_str(m, "title"),
        subtitle=_opt_str(m, "subtitle"),
        collateral_return_type=_opt_str(m, "collateral_return_type"),
        series_ticker=_opt_str(m, "series_ticker"),
        strike_date=_opt_int(m, "strike_date"),
        strike_period=_opt_str(m, "strike_period"),
    )


def _p_subscribed(d: dict[str, Any], env: dict[str, Any]) -> Subscribed:
    m = _msg(d)
    env["sid"] = _req_int(m, "sid") if env["sid"] is None else env["sid"]
    return Subscribed(**env, channel=_req_str(m, "channel"))


def _str_tuple(value: Any, key: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(type(x) is str for x in value):
        raise BadFrame(f"{key}: expected a list of strings")
    return tuple(value)


def _p_ok(d: dict[str, Any], env: dict[str, Any]) -> Ok:
    m = d.get("msg")
    if m is None:
        return Ok(**env)
    if isinstance(m, list):
        subs: list[SubscriptionInfo] = []
        for item in m:
            if not isinstance(item, dict):
                raise BadFrame("ok: list_subscriptions entries must be objects")
            subs.append(SubscriptionInfo(channel=_req_str(item, "channel"), sid=_req_int(item, "sid")))
        return Ok(**env, subscriptions=tuple(subs))
    if not isinstance(m, dict):
        raise BadFrame("ok: msg must be an object or a list")
    return Ok(**env, market_tickers=_str_tuple(m.get("market_tickers"), "market_tickers"))


def _p_unsubscribed(d: dict[str, Any], env: dict[str, Any]) -> Unsubscribed:
    return Unsubscribed(**env)


def _p_error(d: dict[str, Any], env: dict[str, Any]) -> ErrorMessage:
    m = _msg(d)
    return ErrorMessage(
        **env,
        code=_req_int(m, "code"),
        message=_opt_str(m, "msg") or "",
        market_ticker=_opt_str(m, "market_ticker"),
        market_tickers=_str_tuple(m.get("market_tickers"), "market_tickers"),
    )


def _p_hot(d: dict[str, Any], env: dict[str, Any]) -> WsEvent:
    """Hot types reaching the slow path (only after the typed decode failed): re-validate via msgspec."""
    wire_type = WIRE_TYPES[d["type"]]
    try:
        wire = msgspec.convert(d, wire_type)
    except msgspec.ValidationError as exc:
        raise BadFrame(str(exc)) from exc
    if isinstance(wire, WireDelta):
        return delta_event(wire)
    if isinstance(wire, WireSnapshot):
        return snapshot_event(wire)
    assert isinstance(wire, WireTrade)
    return trade_event(wire)


_PARSERS: Final[dict[str, Any]] = {
    "orderbook_delta": _p_hot,
    "orderbook_snapshot": _p_hot,
    "trade": _p_hot,
    "ticker": _p_ticker,
    "ticker_v2": _p_ticker_v2,
    "fill": _p_fill,
    "market_position": _p_market_position,
    "user_order": _p_user_order,
    "order_group_updates": _p_order_group,
    "market_lifecycle_v2": _p_market_lifecycle,
    "event_lifecycle": _p_event_lifecycle,
    "subscribed": _p_subscribed,
    "ok": _p_ok,
    "unsubscribed": _p_unsubscribed,
    "error": _p_error,
}

KNOWN_MESSAGE_TYPES: Final = frozenset(_PARSERS)
"""Every message ``type`` that :func:`parse_frame` turns into a dedicated event."""


def _parse_slow(raw: Any) -> WsEvent:
    """Parse ``raw`` via plain JSON values; every failure becomes a :class:`FrameError` (never raises)."""
    try:
        d = ANY_DECODER.decode(raw)
    except UNDECODABLE as exc:
        return FrameError(raw=raw, reason=f"invalid JSON: {type(exc).__name__}: {exc}")
    if not isinstance(d, dict):
        return FrameError(raw=raw, reason=f"frame is not a JSON object but {type(d).__name__}")
    msg_type = d.get("type")
    m = d.get("msg")
    ticker = m.get("market_ticker") if isinstance(m, dict) else None
    ticker = ticker if type(ticker) is str and ticker else None
    if type(msg_type) is not str or not msg_type:
        return FrameError(raw=raw, reason="missing message type", market_ticker=ticker)
    env: dict[str, Any] = {}
    try:
        env = {"sid": _opt_int(d, "sid"), "seq": _opt_int(d, "seq"), "id": _opt_int(d, "id")}
        parser = _PARSERS.get(msg_type)
        if parser is None:
            return UnknownMessage(**env, type=msg_type, msg=m, raw=raw)
        event: WsEvent = parser(d, dict(env))
        return event
    except Exception as exc:  # BadFrame, FixedPointError; anything else would be a bug, still never a crash
        return FrameError(
            raw=raw,
            reason=f"{msg_type}: {exc}"
            if isinstance(exc, BadFrame | FixedPointError)
            else f"{msg_type}: internal error {exc!r}",
            type=msg_type,
            market_ticker=ticker,
            sid=env.get("sid"),
            seq=env.get("seq"),
            id=env.get("id"),
        )
