"""JSON shapes of everything the simulator serves: the era superset (kalshi-api.md §0, §9, §10.2).

Every object carries every field the current OpenAPI models require, with their types and enum values
(the fixed-point ``*_dollars`` 4-dp strings and ``*_fp`` 2-dp count strings among them; checked against
the newest official SDK by ``tests/conformance``), the legacy integer fields (cents / whole contracts) that
SDK 3.2.0 requires, and the direction fields ``outcome_side`` / ``book_side``. A legacy field is kept only
where no current model has a field of that name with another meaning or type. Values the spec requires
but the simulator cannot know use the spec's documented defaults (docs/simulator.md "Known differences").

Legacy integers are exact where the value is representable; otherwise they are **truncated toward
zero** (a 0.5-contract count shows ``count: 0``, a $0.005 price shows 0 cents). Money fields that can
carry sub-centi-cent precision (costs, fees, P&L, balances) are 4-dp strings when exact at 4 dp and 6-dp
strings otherwise. All times are **served** times (tape time + clock offset, see
:mod:`simulator.clock`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_DOWN, Decimal
from typing import Any

from models.money import ONE_DOLLAR, format_count, format_dollars
from simulator.accounts import FillRecord, Position, SettlementRecord
from simulator.book import OrderBook
from simulator.events import TradeEvent
from simulator.market import FINALIZED, MarketState
from simulator.orders import Order
from simulator.tape import EventDefinition, SeriesDefinition
from simulator.timeutil import iso_ms, parse_iso_ms

ZERO = Decimal(0)
EXCHANGE_INDEX = 0
"""The exchange shard of everything here: the simulator is one shard (kalshi-api.md §3.0)."""
_SIX = Decimal("0.000001")
_FOUR = Decimal("0.0001")


def price(dollars: Decimal) -> str:
    """A price as Kalshi's 4-dp dollar string: ``Decimal("0.43") -> "0.4300"``."""
    return format_dollars(dollars)


def money(dollars: Decimal) -> str:
    """A money amount in dollars: 4 dp when exact at 4 dp, else 6 dp (§4 "computed values reach 6 dp")."""
    if dollars == dollars.quantize(_FOUR):
        return format_dollars(dollars, 4)
    return format_dollars(dollars, 6)


def count(contracts: Decimal) -> str:
    """A contract count as a 2-dp ``*_fp`` string."""
    return format_count(contracts)


def cents(dollars: Decimal) -> int:
    """Legacy integer cents of a dollar amount, truncated toward zero."""
    return int((dollars * 100).to_integral_value(rounding=ROUND_DOWN))


def whole(contracts: Decimal) -> int:
    """Legacy integer contracts, truncated toward zero."""
    return int(contracts.to_integral_value(rounding=ROUND_DOWN))


def _time(tape_ms: int | None, offset_ms: int) -> str | None:
    return None if tape_ms is None else iso_ms(tape_ms + offset_ms)


# -- markets ------------------------------------------------------------------------------------

_SHIFTED_RAW_TIMES = (
    "expected_expiration_time",
    "expiration_time",
    "latest_expiration_time",
    "occurrence_datetime",
    "fee_waiver_expiration_time",
)
LEGACY_SETTLED = "settled"
"""The pre-2026 name of ``finalized`` (served with ``legacy_market_status``)."""
SETTLEMENT_BOUNDS_DEFAULT = "default"
"""The spec's ``settlement_bounds_type`` for a market without settlement bounds (the recorded markets predate
the field; docs/simulator.md "Known differences")."""
_PASS_THROUGH = (
    "title",
    "subtitle",
    "yes_sub_title",
    "no_sub_title",
    "market_type",
    "can_close_early",
    "early_close_condition",
    "strike_type",
    "floor_strike",
    "cap_strike",
    "functional_strike",
    "custom_strike",
    "rules_primary",
    "rules_secondary",
    "mve_collection_ticker",
    "mve_selected_legs",
    "market_id",
)


def market_json(
    state: MarketState, offset_ms: int, category: str = "", *, legacy_status: bool = False
) -> dict[str, Any]:
    """The Market object of ``GET /markets`` and ``GET /markets/{ticker}`` (§3.2), superset form.

    Quotes come from the displayed book (tape + account orders): no bid shows 0 / ``"0.0000"``, no ask
    shows 100 / ``"1.0000"``. ``result``, ``settlement_value_dollars`` and ``expiration_value`` appear
    once the market is determined; ``settlement_ts`` once it is finalized. ``legacy_status`` serves
    ``finalized`` as ``settled``, the pre-2026 name (SDK 3.2.0's status enum has no ``finalized``).
    """
    d = state.definition
    raw: Mapping[str, Any] = d.raw_market
    out: dict[str, Any] = {"ticker": d.ticker, "event_ticker": d.event_ticker}
    for key in _PASS_THROUGH:
        if key in raw:
            out[key] = raw[key]
    out.setdefault("title", d.ticker)
    out.setdefault("subtitle", "")
    out.setdefault("yes_sub_title", "")
    out.setdefault("no_sub_title", "")
    out.setdefault("market_type", "binary")
    out.setdefault("can_close_early", False)
    out.setdefault("rules_primary", "")
    out.setdefault("rules_secondary", "")
    out["settlement_bounds_type"] = raw.get("settlement_bounds_type") or SETTLEMENT_BOUNDS_DEFAULT
    for key in _SHIFTED_RAW_TIMES:
        if raw.get(key):
            out[key] = iso_ms(parse_iso_ms(str(raw[key])) + offset_ms)
    close_ms = state.close_ms
    out["created_time"] = iso_ms(d.created_ms + offset_ms)
    out["updated_time"] = iso_ms(max(state.updated_ms, d.created_ms) + offset_ms)
    out["open_time"] = iso_ms(d.open_ms + offset_ms)
    out["close_time"] = iso_ms(close_ms + offset_ms)
    out.setdefault("expected_expiration_time", iso_ms(close_ms + offset_ms))
    out.setdefault("expiration_time", iso_ms(close_ms + offset_ms))
    out.setdefault("latest_expiration_time", iso_ms(close_ms + offset_ms))
    out["settlement_timer_seconds"] = d.settlement_timer_s
    out["status"] = LEGACY_SETTLED if legacy_status and state.status == FINALIZED else state.status
    out["result"] = state.result
    book = state.book
    best_yes = book.best("yes")
    best_no = book.best("no")
    yes_bid = best_yes[0] if best_yes else ZERO
    no_bid = best_no[0] if best_no else ZERO
    yes_ask = ONE_DOLLAR - no_bid if best_no else ONE_DOLLAR
    no_ask = ONE_DOLLAR - yes_bid if best_yes else ONE_DOLLAR
    last = state.last_price if state.last_price is not None else ZERO
    for key, value in (
        ("yes_bid", yes_bid),
        ("yes_ask", yes_ask),
        ("no_bid", no_bid),
        ("no_ask", no_ask),
        ("last_price", last),
        ("previous_yes_bid", ZERO),
        ("previous_yes_ask", ONE_DOLLAR),
        ("previous_price", ZERO),
    ):
        out[key] = cents(value)
        out[f"{key}_dollars"] = price(value)
    out["yes_bid_size_fp"] = count(best_yes[1] if best_yes else ZERO)
    out["yes_ask_size_fp"] = count(best_no[1] if best_no else ZERO)
    out["volume"] = whole(state.volume)
    out["volume_fp"] = count(state.volume)
    out["volume_24h"] = whole(state.volume)
    out["volume_24h_fp"] = count(state.volume)
    out["open_interest"] = 0
    out["open_interest_fp"] = count(ZERO)
    out["liquidity"] = 0
    out["liquidity_dollars"] = "0.0000"
    out["notional_value"] = 100
    out["notional_value_dollars"] = "1.0000"
    settled_value = state.settlement_value
    out["expiration_value"] = d.expiration_value if settled_value is not None else ""
    if settled_value is not None:
        out["settlement_value"] = cents(settled_value)
        out["settlement_value_dollars"] = price(settled_value)
    if state.status == FINALIZED and state.settled_ms is not None:
        out["settlement_ts"] = iso_ms(state.settled_ms + offset_ms)
    out["price_level_structure"] = d.price_level_structure
    out["price_ranges"] = [
        {"start": price(r.start), "end": price(r.end), "step": price(r.step)} for r in d.price_ranges
    ]
    out["fractional_trading_enabled"] = d.fractional_trading_enabled
    out["response_price_units"] = "usd_cent"
    out["tick_size"] = max(1, cents(min(r.step for r in d.price_ranges)))
    out["risk_limit_cents"] = 0
    out["category"] = category
    out["is_provisional"] = False
    out["exchange_index"] = EXCHANGE_INDEX
    return out


def event_json(event: EventDefinition, offset_ms: int) -> dict[str, Any]:
    """The Event object of ``GET /events/{event_ticker}`` (recorded fields, times shifted)."""
    out = dict(event.raw_event)
    out["event_ticker"] = event.event_ticker
    out["series_ticker"] = event.series_ticker
    out.setdefault("title", event.event_ticker)
    out.setdefault("sub_title", "")
    out.setdefault("mutually_exclusive", False)
    out.setdefault("collateral_return_type", "MECNET" if out["mutually_exclusive"] else "")
    out.setdefault("category", "")
    if out.get("strike_date"):
        out["strike_date"] = iso_ms(parse_iso_ms(str(out["strike_date"])) + offset_ms)
    out.pop("last_updated_ts", None)
    return out


def indexed_balance(dollars: Decimal) -> list[dict[str, Any]]:
    """A per-shard breakdown (``IndexedBalance[]``) of a dollar amount: one entry, shard 0."""
    return [{"exchange_index": EXCHANGE_INDEX, "balance": money(dollars)}]


def series_json(series: SeriesDefinition) -> dict[str, Any]:
    """The Series object of ``GET /series/{series_ticker}`` (minimal)."""
    return {
        "ticker": series.ticker,
        "title": series.title,
        "category": series.category,
        "categories": [series.category] if series.category else [],
        "frequency": series.frequency,
        "tags": [],
        "settlement_sources": [dict(s) for s in series.settlement_sources],
        "contract_url": "",
        "contract_terms_url": "",
        "fee_type": "quadratic",
        "fee_multiplier": 1,
        "additional_prohibitions": [],
    }


def orderbook_json(book: OrderBook, depth: int) -> dict[str, Any]:
    """``GET /markets/{ticker}/orderbook`` body: ``orderbook_fp`` plus the legacy ``orderbook`` (§3.3).

    Levels are displayed bids, ascending by price (best bid last); ``depth`` > 0 keeps the best
    ``depth`` levels per side. Legacy ``yes``/``no`` arrays are ``[cents, contracts]`` ints and
    ``yes_dollars``/``no_dollars`` are ``[price, count]`` string pairs (what SDK 3.2.0 needs, §9).
    """
    sides = {}
    for side in ("yes", "no"):
        levels = book.displayed_levels(side)
        if depth > 0:
            levels = levels[-depth:]
        sides[side] = levels
    fp = {f"{s}_dollars": [[price(p), count(c)] for p, c in sides[s]] for s in ("yes", "no")}
    legacy: dict[str, Any] = {s: [[cents(p), whole(c)] for p, c in sides[s]] for s in ("yes", "no")}
    legacy.update(fp)
    return {"orderbook": legacy, "orderbook_fp": fp}


# -- orders, fills, positions, settlements ------------------------------------------------------


def order_json(order: Order, offset_ms: int) -> dict[str, Any]:
    """The Order object (§3.5) in superset form; costs/fees in dollars and legacy cents."""
    expiration = order.expiration_ms
    return {
        "order_id": order.order_id,
        "user_id": order.user_id,
        "client_order_id": order.client_order_id,
        "ticker": order.ticker,
        "side": order.side,
        "action": order.action,
        "outcome_side": order.outcome_side,
        "book_side": order.book_side,
        "type": "limit",
        "status": order.status,
        "yes_price": cents(order.yes_price),
        "no_price": cents(order.no_price),
        "yes_price_dollars": price(order.yes_price),
        "no_price_dollars": price(order.no_price),
        "fill_count": whole(order.fill_count),
        "fill_count_fp": count(order.fill_count),
        "remaining_count": whole(order.remaining_count),
        "remaining_count_fp": count(order.remaining_count),
        "initial_count": whole(order.initial_count),
        "initial_count_fp": count(order.initial_count),
        "taker_fill_cost": cents(order.taker_fill_cost),
        "taker_fill_cost_dollars": money(order.taker_fill_cost),
        "maker_fill_cost": cents(order.maker_fill_cost),
        "maker_fill_cost_dollars": money(order.maker_fill_cost),
        "taker_fees": cents(order.taker_fees),
        "taker_fees_dollars": money(order.taker_fees),
        "maker_fees": cents(order.maker_fees),
        "maker_fees_dollars": money(order.maker_fees),
        "queue_position": 0,
        "created_time": iso_ms(order.created_ms + offset_ms),
        "created_ts_ms": order.created_ms + offset_ms,
        "last_update_time": iso_ms(order.last_update_ms + offset_ms),
        "last_updated_ts_ms": order.last_update_ms + offset_ms,
        "last_update_reason": order.last_update_reason,
        "expiration_time": _time(expiration, offset_ms),
        "expiration_ts_ms": None if expiration is None else expiration + offset_ms,
        "time_in_force": order.time_in_force,
        "post_only": order.post_only,
        "reduce_only": order.reduce_only,
        "self_trade_prevention_type": order.self_trade_prevention_type,
        "order_group_id": order.order_group_id,
        "cancel_order_on_pause": order.cancel_order_on_pause,
        "subaccount_number": 0,
        "exchange_index": EXCHANGE_INDEX,
    }


def fill_json(fill: FillRecord, offset_ms: int) -> dict[str, Any]:
    """The Fill object of ``GET /portfolio/fills`` (§3.4) in superset form."""
    no_price = ONE_DOLLAR - fill.yes_price
    side_price = fill.yes_price if fill.side == "yes" else no_price
    served = fill.ts_ms + offset_ms
    return {
        "fill_id": fill.fill_id,
        "trade_id": fill.fill_id,
        "order_id": fill.order_id,
        "client_order_id": fill.client_order_id,
        "ticker": fill.ticker,
        "market_ticker": fill.ticker,
        "side": fill.side,
        "action": fill.action,
        "outcome_side": fill.outcome_side,
        "book_side": fill.book_side,
        "count": whole(fill.count),
        "count_fp": count(fill.count),
        "price": cents(side_price),
        "yes_price": cents(fill.yes_price),
        "no_price": cents(no_price),
        "yes_price_fixed": price(fill.yes_price),
        "no_price_fixed": price(no_price),
        "yes_price_dollars": price(fill.yes_price),
        "no_price_dollars": price(no_price),
        "is_taker": fill.is_taker,
        "fee_cost": money(fill.fee),
        "post_position_fp": count(fill.post_position),
        "created_time": iso_ms(served),
        "ts": served // 1000,
        "ts_ms": served,
        "subaccount_number": 0,
        "exchange_index": EXCHANGE_INDEX,
    }


def position_json(pos: Position, resting_orders: int, offset_ms: int) -> dict[str, Any]:
    """A MarketPosition (§3.4): signed position (+ YES / - NO), money in dollars and legacy cents."""
    return {
        "ticker": pos.ticker,
        "position": whole(pos.position),
        "position_fp": count(pos.position),
        "market_exposure": cents(pos.exposure),
        "market_exposure_dollars": money(pos.exposure),
        "realized_pnl": cents(pos.realized_pnl),
        "realized_pnl_dollars": money(pos.realized_pnl),
        "fees_paid": cents(pos.fees_paid),
        "fees_paid_dollars": money(pos.fees_paid),
        "total_traded": cents(pos.total_traded),
        "total_traded_dollars": money(pos.total_traded),
        "resting_orders_count": resting_orders,
        "last_updated_ts": iso_ms(pos.last_updated_ms + offset_ms),
        "exchange_index": EXCHANGE_INDEX,
    }


def event_position_json(event_ticker: str, positions: Iterable[Position]) -> dict[str, Any]:
    """An EventPosition (§3.4): sums over the event's market positions."""
    rows = list(positions)
    cost = sum((p.exposure for p in rows), ZERO)
    shares = sum((abs(p.position) for p in rows), ZERO)
    pnl = sum((p.realized_pnl for p in rows), ZERO)
    fees = sum((p.fees_paid for p in rows), ZERO)
    return {
        "event_ticker": event_ticker,
        "total_cost": cents(cost),
        "total_cost_dollars": money(cost),
        "total_cost_shares": whole(shares),
        "total_cost_shares_fp": count(shares),
        "event_exposure": cents(cost),
        "event_exposure_dollars": money(cost),
        "realized_pnl": cents(pnl),
        "realized_pnl_dollars": money(pnl),
        "fees_paid": cents(fees),
        "fees_paid_dollars": money(fees),
    }


def settlement_json(s: SettlementRecord, offset_ms: int) -> dict[str, Any]:
    """A Settlement row (§3.4): ``revenue`` and ``value`` in integer cents."""
    return {
        "ticker": s.ticker,
        "event_ticker": s.event_ticker,
        "market_result": s.market_result,
        "yes_count": whole(s.yes_count),
        "yes_count_fp": count(s.yes_count),
        "no_count": whole(s.no_count),
        "no_count_fp": count(s.no_count),
        "yes_total_cost": cents(s.yes_total_cost),
        "yes_total_cost_dollars": money(s.yes_total_cost),
        "no_total_cost": cents(s.no_total_cost),
        "no_total_cost_dollars": money(s.no_total_cost),
        "revenue": s.revenue_cents,
        "value": s.value_cents,
        "fee_cost": "0.0000",
        "settled_time": iso_ms(s.ts_ms + offset_ms),
        "exchange_index": EXCHANGE_INDEX,
    }


def trade_json(trade: TradeEvent) -> dict[str, Any]:
    """A public Trade (§3.2 ``GET /markets/trades``); ``trade.ts_ms`` is already served time."""
    no_price = ONE_DOLLAR - trade.yes_price
    taker_side = "yes" if trade.taker_book_side == "bid" else "no"
    return {
        "trade_id": trade.trade_id,
        "ticker": trade.ticker,
        "count": whole(trade.count),
        "count_fp": count(trade.count),
        "price": cents(trade.yes_price),
        "yes_price": cents(trade.yes_price),
        "no_price": cents(no_price),
        "yes_price_dollars": price(trade.yes_price),
        "no_price_dollars": price(no_price),
        "taker_side": taker_side,
        "taker_outcome_side": taker_side,
        "taker_book_side": trade.taker_book_side,
        "created_time": iso_ms(trade.ts_ms),
        "ts": trade.ts_ms // 1000,
        "is_block_trade": False,
    }
