"""The frames the simulator's WebSocket server sends, rendered as JSON text (kalshi-api.md §6.5).

Era-superset form, like the REST side (§0, §10.2): the current fixed-point fields (``*_dollars`` 4-dp dollar
strings, ``*_fp`` 2-dp contract strings) plus the legacy integer fields (cents, whole contracts, centi-cents
for ``market_position`` money) **only where the value is exactly representable**. Times are served time.
Rendering runs in each connection's writer task, off the exchange's path; ``orderbook_delta`` frames (the hot
path) are assembled from cached pieces without a dict or ``json.dumps``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from models.money import ONE_DOLLAR
from simulator import events as ev
from simulator import market as mk
from simulator import wire
from simulator.context import SimContext
from simulator.timeutil import iso_ms

__all__ = ["FrameRenderer", "shown_levels"]

_CENT = Decimal(100)
_CENTI_CENT = Decimal(10_000)


# -- exact legacy integers ------------------------------------------------------------------------------
def _exact_int(value: Decimal) -> int | None:
    """``value`` as an int when it is whole, else None (legacy fields are sent only when exact)."""
    return int(value) if value == value.to_integral_value() else None


def _exact_cents(dollars: Decimal) -> int | None:
    """Legacy integer cents of a dollar price when exact (``0.43 -> 43``; ``0.435 -> None``)."""
    return _exact_int(dollars * _CENT)


def _exact_centi_cents(dollars: Decimal) -> int | None:
    """Legacy integer centi-cents (1/10,000 $) of a money amount when exact (old ``market_position``, §6.5)."""
    return _exact_int(dollars * _CENTI_CENT)


def _put_exact(out: dict[str, Any], key: str, value: int | None) -> None:
    if value is not None:
        out[key] = value


def _dec(text: Any) -> Decimal:
    """Decimal of a wire string/number produced by :mod:`simulator.wire` (never a float there)."""
    return text if isinstance(text, Decimal) else Decimal(str(text))


class FrameRenderer:
    """Renders one simulator's WebSocket frames (see the module docstring); one per :class:`simulator.ws.WsServer`.

    Args:
        ctx: the running simulator's context (exchange state for snapshots and tickers, the clock).

    Payloads are what the server queued per frame kind: ``"frame"`` (a finished dict: replies, errors),
    ``"delta"`` (:class:`~simulator.events.BookDelta`), ``"snapshot"`` (``(ticker, yes, no, cmd_id)``),
    ``"trade"``, ``"ticker"``, ``"fill"``, ``"user_order"``, ``"market_position"``, ``"order_group"``,
    ``"lifecycle"``.
    """

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self._market_head: dict[str, str] = {}
        self._price_text: dict[Decimal, tuple[str, int | None]] = {}
        self._delta_text_cache: dict[Decimal, tuple[str, int | None]] = {}
        self._iso_second = -1
        self._iso_prefix = ""

    def render(self, account_id: str | None, sid: int | None, seq: int | None, kind: str, payload: Any) -> str:
        """The JSON text of one queued frame for a connection of ``account_id`` (subscription ``sid``, ``seq``).

        ``sid`` is ``None`` only for ``"frame"`` payloads (replies and errors carry their own fields).
        """
        if kind == "delta":
            assert sid is not None and seq is not None
            return self.delta_text(account_id, sid, seq, payload)
        if kind == "frame":
            frame = payload
        else:
            assert sid is not None
            msg_type, msg, cmd_id = self._RENDERERS[kind](self, payload)
            frame = {"type": msg_type, "sid": sid}
            if seq is not None:
                frame["seq"] = seq
            if cmd_id:
                frame["id"] = cmd_id
            frame["msg"] = msg
        return json.dumps(frame, separators=(",", ":"))

    def _r_snapshot(self, payload: Any) -> tuple[str, dict[str, Any], int | None]:
        ticker, yes, no, cmd_id = payload
        msg: dict[str, Any] = {"market_ticker": ticker}
        _market_id(msg, self.ctx.exchange.markets[ticker])
        for side, levels in (("yes", yes), ("no", no)):
            if not levels:
                continue  # a side's key is absent when that side is empty (§6.5)
            msg[f"{side}_dollars_fp"] = [[wire.price(p), wire.count(s)] for p, s in levels]
            legacy = [(_exact_cents(p), _exact_int(s)) for p, s in levels]
            if all(c is not None and n is not None for c, n in legacy):
                msg[side] = [[c, n] for c, n in legacy]
        return "orderbook_snapshot", msg, cmd_id

    def delta_text(self, account_id: str | None, sid: int, seq: int, e: ev.BookDelta) -> str:
        """The ``orderbook_delta`` frame as JSON text (the hot path: cached pieces, no dict, no json.dumps).

        Same content as the generic renderer would produce: ``market_ticker``, ``market_id`` when known,
        ``price_dollars``, ``delta_fp``, ``side``, ``ts`` (RFC3339), ``ts_ms``, legacy ``price`` (cents) and
        ``delta`` (contracts) when exact, and ``client_order_id``/``subaccount`` for the order's owner.
        """
        head = self._market_head.get(e.ticker)
        if head is None:
            msg: dict[str, Any] = {"market_ticker": e.ticker}
            _market_id(msg, self.ctx.exchange.markets[e.ticker])
            head = self._market_head[e.ticker] = json.dumps(msg, separators=(",", ":"))[:-1]
        price = _cached(self._price_text, e.price, _price_pair)
        delta = _cached(self._delta_text_cache, e.delta, _count_pair)
        ts_ms = e.ts_ms
        second = ts_ms // 1000
        if second != self._iso_second:
            self._iso_second = second
            self._iso_prefix = iso_ms(second * 1000).removesuffix("Z")
        frac = ts_ms % 1000
        iso = f"{self._iso_prefix}.{frac:03d}Z" if frac else f"{self._iso_prefix}Z"
        legacy = ""
        if price[1] is not None:
            legacy += f',"price":{price[1]}'
        if delta[1] is not None:
            legacy += f',"delta":{delta[1]}'
        if e.account_id is not None and e.account_id == account_id and e.client_order_id:
            legacy += f',"client_order_id":{json.dumps(e.client_order_id)},"subaccount":0'
        return (
            f'{{"type":"orderbook_delta","sid":{sid},"seq":{seq},"msg":{head},"price_dollars":"{price[0]}",'
            f'"delta_fp":"{delta[0]}","side":"{e.side}","ts":"{iso}","ts_ms":{ts_ms}{legacy}}}}}'
        )

    def _r_trade(self, e: ev.TradeEvent) -> tuple[str, dict[str, Any], int | None]:
        no_price = ONE_DOLLAR - e.yes_price
        outcome = e.taker_outcome_side
        msg: dict[str, Any] = {
            "trade_id": e.trade_id,
            "market_ticker": e.ticker,
            "yes_price_dollars": wire.price(e.yes_price),
            "no_price_dollars": wire.price(no_price),
            "count_fp": wire.count(e.count),
            "taker_side": outcome,
            "taker_outcome_side": outcome,
            "taker_book_side": e.taker_book_side,
            "is_block_trade": False,
            "ts": e.ts_ms // 1000,
            "ts_ms": e.ts_ms,
        }
        _put_exact(msg, "yes_price", _exact_cents(e.yes_price))
        _put_exact(msg, "no_price", _exact_cents(no_price))
        _put_exact(msg, "count", _exact_int(e.count))
        return "trade", msg, None

    def _r_ticker(self, msg: dict[str, Any]) -> tuple[str, dict[str, Any], int | None]:
        return "ticker", msg, None

    def _r_fill(self, e: ev.FillEvent) -> tuple[str, dict[str, Any], int | None]:
        f = e.fill
        yes_price = _dec(f["yes_price_dollars"])
        count = _dec(f["count_fp"])
        msg: dict[str, Any] = {
            "trade_id": f["trade_id"],
            "order_id": f["order_id"],
            "market_ticker": e.ticker,
            "exchange_index": 0,
            "is_taker": f["is_taker"],
            "side": f["side"],
            "action": f["action"],
            "outcome_side": f["outcome_side"],
            "book_side": f["book_side"],
            "purchased_side": f["outcome_side"],
            "yes_price_dollars": f["yes_price_dollars"],
            "no_price_dollars": f["no_price_dollars"],
            "count_fp": f["count_fp"],
            "fee_cost": f["fee_cost"],
            "post_position_fp": wire.count(e.post_position),
            "ts": e.ts_ms // 1000,
            "ts_ms": e.ts_ms,
        }
        if f.get("client_order_id"):
            msg["client_order_id"] = f["client_order_id"]
        _put_exact(msg, "yes_price", _exact_cents(yes_price))
        _put_exact(msg, "count", _exact_int(count))
        _put_exact(msg, "post_position", _exact_int(e.post_position))
        return "fill", msg, None

    def _r_user_order(self, e: ev.UserOrderEvent) -> tuple[str, dict[str, Any], int | None]:
        o = e.order
        msg: dict[str, Any] = {
            key: o.get(key)
            for key in (
                "order_id",
                "user_id",
                "ticker",
                "client_order_id",
                "order_group_id",
                "status",
                "side",
                "outcome_side",
                "book_side",
                "yes_price_dollars",
                "no_price_dollars",
                "fill_count_fp",
                "remaining_count_fp",
                "initial_count_fp",
                "self_trade_prevention_type",
                "created_time",
                "created_ts_ms",
                "last_update_time",
                "last_updated_ts_ms",
                "expiration_time",
                "expiration_ts_ms",
                "subaccount_number",
                "exchange_index",
            )
        }
        msg["is_yes"] = o.get("side") == "yes"
        for key in ("taker_fill_cost_dollars", "maker_fill_cost_dollars", "taker_fees_dollars", "maker_fees_dollars"):
            msg[key] = f"{_dec(o[key]):.6f}"  # 6-dp dollars on this channel (§6.5 user_orders)
        if e.reason is not None or o.get("last_update_reason"):
            msg["last_update_reason"] = e.reason or o.get("last_update_reason")
        _put_exact(msg, "yes_price", _exact_cents(_dec(o["yes_price_dollars"])))
        for key in ("fill_count", "remaining_count", "initial_count"):
            _put_exact(msg, key, _exact_int(_dec(o[f"{key}_fp"])))
        return "user_order", msg, None

    def _r_position(self, e: ev.PositionEvent) -> tuple[str, dict[str, Any], int | None]:
        account = self.ctx.exchange.accounts.get(e.account_id)
        msg: dict[str, Any] = {
            "user_id": account.user_id if account is not None else "",
            "market_ticker": e.ticker,
            "position_fp": wire.count(e.position),
            "position_cost_dollars": wire.money(e.position_cost),
            "realized_pnl_dollars": wire.money(e.realized_pnl),
            "fees_paid_dollars": wire.money(e.fees_paid),
            "volume_fp": wire.count(e.volume),
        }
        _put_exact(msg, "position", _exact_int(e.position))
        _put_exact(msg, "position_cost", _exact_centi_cents(e.position_cost))
        _put_exact(msg, "realized_pnl", _exact_centi_cents(e.realized_pnl))
        _put_exact(msg, "fees_paid", _exact_centi_cents(e.fees_paid))
        _put_exact(msg, "volume", _exact_int(e.volume))
        return "market_position", msg, None

    def _r_order_group(self, e: ev.OrderGroupEvent) -> tuple[str, dict[str, Any], int | None]:
        msg: dict[str, Any] = {"event_type": e.event_type, "order_group_id": e.order_group_id, "ts_ms": e.ts_ms}
        if e.contracts_limit is not None and e.event_type in ("created", "limit_updated"):
            msg["contracts_limit_fp"] = wire.count(e.contracts_limit)
        return "order_group_updates", msg, None

    def _r_lifecycle(self, msg: dict[str, Any]) -> tuple[str, dict[str, Any], int | None]:
        return "market_lifecycle_v2", msg, None

    def ticker_msg(self, ticker: str, trade_count: Decimal | None) -> dict[str, Any]:
        """A ``ticker`` msg (§6.5): top of the displayed book, last trade, volume; served times."""
        state = self.ctx.exchange.markets[ticker]
        book = state.book
        best_yes, best_no = book.best("yes"), book.best("no")
        yes_bid = best_yes[0] if best_yes else Decimal(0)
        yes_ask = ONE_DOLLAR - best_no[0] if best_no else ONE_DOLLAR
        last = state.last_price if state.last_price is not None else Decimal(0)
        now = self.ctx.served_now_ms()
        msg: dict[str, Any] = {"market_ticker": ticker}
        _market_id(msg, state)
        msg.update(
            {
                "price_dollars": wire.price(last),
                "yes_bid_dollars": wire.price(yes_bid),
                "yes_ask_dollars": wire.price(yes_ask),
                "yes_bid_size_fp": wire.count(best_yes[1] if best_yes else Decimal(0)),
                "yes_ask_size_fp": wire.count(best_no[1] if best_no else Decimal(0)),
                "last_trade_size_fp": wire.count(trade_count if trade_count is not None else Decimal(0)),
                "volume_fp": wire.count(state.volume),
                "open_interest_fp": "0.00",
                "ts": now // 1000,
                "ts_ms": now,
                "time": iso_ms(now),
            }
        )
        _put_exact(msg, "price", _exact_cents(last))
        _put_exact(msg, "yes_bid", _exact_cents(yes_bid))
        _put_exact(msg, "yes_ask", _exact_cents(yes_ask))
        _put_exact(msg, "volume", _exact_int(state.volume))
        msg["open_interest"] = 0
        return msg

    # -- lifecycle -------------------------------------------------------------------------------------
    def lifecycle_msg(self, e: ev.LifecycleEvent) -> dict[str, Any] | None:
        """A ``market_lifecycle_v2`` msg for ``e``, or ``None`` where Kalshi sends nothing (see simulator.ws)."""
        state = self.ctx.exchange.markets.get(e.ticker)
        msg: dict[str, Any] = {"market_ticker": e.ticker}
        if state is not None:
            _market_id(msg, state)
        if e.event_type == "closed":
            if state is None or state.close_ms >= state.definition.close_ms:
                return None  # the scheduled close is implicit on Kalshi (§7)
            msg["event_type"] = "close_date_updated"
            msg["close_ts"] = (state.close_ms + self.ctx.clock.offset_ms) // 1000
        elif e.event_type == "determined":
            msg["event_type"] = "determined"
            msg["determination_ts"] = e.ts_ms // 1000
            msg["result"] = e.result or ""
            if e.settlement_value is not None:
                msg["settlement_value"] = wire.price(e.settlement_value)
        elif e.event_type == "settled":
            msg["event_type"] = "settled"
            msg["settled_ts"] = e.ts_ms // 1000
        else:
            return None  # "opened": implicit on Kalshi (§7)
        return msg

    _RENDERERS: dict[str, Callable[[FrameRenderer, Any], tuple[str, dict[str, Any], int | None]]] = {
        "snapshot": _r_snapshot,
        "trade": _r_trade,
        "ticker": _r_ticker,
        "fill": _r_fill,
        "user_order": _r_user_order,
        "market_position": _r_position,
        "order_group": _r_order_group,
        "lifecycle": _r_lifecycle,
    }


_CACHE_LIMIT = 1 << 14
"""Entries kept per text cache (prices: at most 10,001 per side; delta sizes: a few thousand per market)."""


def _price_pair(price: Decimal) -> tuple[str, int | None]:
    return wire.price(price), _exact_cents(price)


def _count_pair(count: Decimal) -> tuple[str, int | None]:
    return wire.count(count), _exact_int(count)


def _cached(
    cache: dict[Decimal, tuple[str, int | None]], key: Decimal, make: Callable[[Decimal], tuple[str, int | None]]
) -> tuple[str, int | None]:
    """``make(key)`` through a bounded cache (cleared when full)."""
    value = cache.get(key)
    if value is None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        value = cache[key] = make(key)
    return value


def _market_id(msg: dict[str, Any], state: mk.MarketState) -> None:
    """Add ``market_id`` when the market definition carries one (recorded metadata or synthetic)."""
    market_id = state.definition.raw_market.get("market_id")
    if isinstance(market_id, str) and market_id:
        msg["market_id"] = market_id


def shown_levels(book: Any) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    """The displayed levels the delta stream was last flushed at: ``(yes, no)``, ascending by price.

    ``OrderBook._shown`` holds the displayed size of every level as of the exchange's last flush, which is
    exactly the state the published :class:`~simulator.events.BookDelta` stream has reached. It equals
    ``OrderBook.displayed_levels`` (what REST serves) whenever no change is waiting to be flushed, and a
    snapshot built from it can never double-count a change whose delta is still to come.
    """
    return book.shown_levels()
