"""The fast path of :func:`kalshi.models.ws.parse_frame`: one typed :mod:`msgspec` decode of the hot types.

``orderbook_delta``, ``orderbook_snapshot`` and ``trade`` arrive by the hundred thousand per market and hour:
they are decoded straight into the typed wire structs below (no intermediate dict, no pydantic), then turned
into events with the exact scaled-int conversions of :mod:`kalshi.models.ws.units`. Internal to
:mod:`kalshi.models.ws`.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec

from kalshi.models.ws.events import OrderbookDelta, OrderbookSnapshot, Side, Trade
from kalshi.models.ws.units import (
    LOTS_CACHE,
    LOTS_PER_CONTRACT,
    MAX_SCALED,
    PRICE_CACHE,
    PRICE_CC_PER_DOLLAR,
    FixedPointError,
    count_to_lots,
    iso_to_ts_ms,
    price_to_cc,
)

# --------------------------------------------------------------------------------------------------
# Fast path: typed msgspec decode of the hot message types
# --------------------------------------------------------------------------------------------------


class BadFrame(Exception):
    """Internal: a frame is malformed; becomes a :class:`FrameError`."""


class _WireDeltaMsg(msgspec.Struct, gc=False):
    market_ticker: str
    side: Side
    price_dollars: str | None = None
    delta_fp: str | None = None
    price: int | None = None
    delta: int | None = None
    market_id: str | None = None
    ts_ms: int | None = None
    ts: str | int | None = None
    client_order_id: str | None = None
    subaccount: int | None = None


class _WireSnapshotMsg(msgspec.Struct, gc=False):
    market_ticker: str
    market_id: str | None = None
    yes_dollars_fp: list[Any] | None = None
    no_dollars_fp: list[Any] | None = None
    yes_dollars: list[Any] | None = None
    no_dollars: list[Any] | None = None
    yes: list[Any] | None = None
    no: list[Any] | None = None


class _WireTradeMsg(msgspec.Struct, gc=False):
    market_ticker: str
    trade_id: str | None = None
    yes_price_dollars: str | None = None
    no_price_dollars: str | None = None
    count_fp: str | None = None
    yes_price: int | None = None
    no_price: int | None = None
    count: int | None = None
    taker_side: str | None = None
    taker_outcome_side: str | None = None
    taker_book_side: str | None = None
    is_block_trade: bool | None = None
    ts: int | None = None
    ts_ms: int | None = None


class WireDelta(msgspec.Struct, tag_field="type", tag="orderbook_delta", gc=False):
    """An ``orderbook_delta`` frame as the typed decode reads it (envelope + typed ``msg``)."""

    sid: int
    seq: int
    msg: _WireDeltaMsg
    id: int | None = None


class WireSnapshot(msgspec.Struct, tag_field="type", tag="orderbook_snapshot", gc=False):
    """An ``orderbook_snapshot`` frame as the typed decode reads it (envelope + typed ``msg``)."""

    sid: int
    seq: int
    msg: _WireSnapshotMsg
    id: int | None = None


class WireTrade(msgspec.Struct, tag_field="type", tag="trade", gc=False):
    """An ``trade`` frame as the typed decode reads it (envelope + typed ``msg``)."""

    sid: int
    seq: int
    msg: _WireTradeMsg
    id: int | None = None


UNDECODABLE: Final = (msgspec.DecodeError, TypeError, ValueError, RecursionError)
"""What decoding a frame can raise: bad JSON, a non-buffer input, invalid UTF-8, absurd nesting."""

HOT_DECODER: Final = msgspec.json.Decoder(WireDelta | WireSnapshot | WireTrade)
ANY_DECODER: Final = msgspec.json.Decoder()
WIRE_TYPES: Final[dict[str, type[msgspec.Struct]]] = {
    "orderbook_delta": WireDelta,
    "orderbook_snapshot": WireSnapshot,
    "trade": WireTrade,
}

HOT_MESSAGE_TYPES: Final = frozenset(WIRE_TYPES)
"""Message types decoded on the fast path."""


def _ts_from_legacy(ts: str | int) -> int:
    """Exchange ms from a delta's deprecated ``ts``: ISO text, or an int (ms when >= 1e11, else seconds)."""
    if type(ts) is str:
        try:
            return iso_to_ts_ms(ts)
        except ValueError as exc:
            raise BadFrame(f"ts: not an ISO time: {ts!r}") from exc
    if type(ts) is not int:
        raise BadFrame(f"ts: expected ISO text or integer, got {type(ts).__name__}")
    return ts if ts >= 100_000_000_000 else ts * 1000


def _price_field(text: str, key: str) -> int:
    """:func:`price_to_cc` with the field name in the error (cache-miss path)."""
    try:
        return price_to_cc(text)
    except FixedPointError as exc:
        raise BadFrame(f"{key}: {exc}") from exc


def _lots_field(text: str, key: str, *, signed: bool) -> int:
    """:func:`count_to_lots` with the field name in the error (cache-miss path)."""
    try:
        return count_to_lots(text, signed=signed)
    except FixedPointError as exc:
        raise BadFrame(f"{key}: {exc}") from exc


def delta_event(w: WireDelta) -> OrderbookDelta:
    """Convert a decoded wire delta to :class:`OrderbookDelta` (raises BadFrame / FixedPointError)."""
    m = w.msg
    text = m.price_dollars
    if text is not None:
        price = PRICE_CACHE.get(text)
        if price is None:
            price = _price_field(text, "price_dollars")
    elif m.price is not None:
        price = legacy_cents_to_cc(m.price, "price")
    else:
        raise BadFrame("missing price_dollars")
    text = m.delta_fp
    if text is not None:
        delta = LOTS_CACHE.get(text)
        if delta is None:
            delta = _lots_field(text, "delta_fp", signed=True)
    elif m.delta is not None:
        delta = legacy_count_to_lots(m.delta, "delta", signed=True)
    else:
        raise BadFrame("missing delta_fp")
    ts_ms = m.ts_ms
    if ts_ms is None and m.ts is not None:
        ts_ms = _ts_from_legacy(m.ts)
    if not m.market_ticker:
        raise BadFrame("empty market_ticker")
    return OrderbookDelta(
        sid=w.sid,
        seq=w.seq,
        id=w.id,
        market_ticker=m.market_ticker,
        side=m.side,
        price_cc=price,
        delta_lots=delta,
        market_id=m.market_id,
        ts_ms=ts_ms,
        ts=m.ts,
        client_order_id=m.client_order_id,
        subaccount=m.subaccount,
    )


def _levels(levels: list[Any] | None, where: str, *, legacy_cents: bool) -> tuple[tuple[int, int], ...]:
    """Snapshot levels -> ``((price_cc, size_lots), ...)``.

    Pairs are ``[price, size]`` (extra trailing items ignored). A string price is dollars; an int price is
    legacy cents (only under the legacy ``yes``/``no`` keys). A string size is ``_fp`` contracts, an int size
    whole contracts. Sizes may be signed here; the order book rejects non-positive ones.
    """
    if levels is None:
        return ()
    out: list[tuple[int, int]] = []
    for pair in levels:
        if not isinstance(pair, list) or len(pair) < 2:
            raise BadFrame(f"{where}: level must be [price, size], got {pair!r}")
        price, size = pair[0], pair[1]
        if type(price) is str:
            cc = _price_field(price, where)
        elif type(price) is int and legacy_cents:
            cc = legacy_cents_to_cc(price, where)
        else:
            raise BadFrame(f"{where}: price must be a dollar string, got {type(price).__name__} {price!r}")
        if type(size) is str:
            lots = _lots_field(size, where, signed=True)
        elif type(size) is int:
            lots = legacy_count_to_lots(size, where, signed=True)
        else:
            raise BadFrame(f"{where}: size must be a fixed-point string, got {type(size).__name__} {size!r}")
        out.append((cc, lots))
    return tuple(out)


def _snapshot_side(fp: list[Any] | None, dollars: list[Any] | None, legacy: list[Any] | None, side: str) -> Any:
    """Pick the most precise representation of one snapshot side (fp > dollars > legacy cents)."""
    if fp is not None:
        return _levels(fp, f"{side}_dollars_fp", legacy_cents=False)
    if dollars is not None:
        return _levels(dollars, f"{side}_dollars", legacy_cents=False)
    return _levels(legacy, side, legacy_cents=True)


def snapshot_event(w: WireSnapshot) -> OrderbookSnapshot:
    """Convert a decoded wire snapshot to :class:`OrderbookSnapshot`."""
    m = w.msg
    if not m.market_ticker:
        raise BadFrame("empty market_ticker")
    return OrderbookSnapshot(
        sid=w.sid,
        seq=w.seq,
        id=w.id,
        market_ticker=m.market_ticker,
        market_id=m.market_id,
        yes_levels=_snapshot_side(m.yes_dollars_fp, m.yes_dollars, m.yes, "yes"),
        no_levels=_snapshot_side(m.no_dollars_fp, m.no_dollars, m.no, "no"),
    )


_OUTCOME_OF_BOOK_SIDE: Final[dict[str, Side]] = {"bid": "yes", "ask": "no"}
_BOOK_SIDE_OF_OUTCOME: Final[dict[str, Literal["bid", "ask"]]] = {"yes": "bid", "no": "ask"}


def trade_event(w: WireTrade) -> Trade:
    """Convert a decoded wire trade to :class:`Trade` (prices checked to sum to $1, §8)."""
    m = w.msg
    if not m.market_ticker:
        raise BadFrame("empty market_ticker")
    if m.yes_price_dollars is not None:
        yes_cc = _price_field(m.yes_price_dollars, "yes_price_dollars")
    elif m.yes_price is not None:
        yes_cc = legacy_cents_to_cc(m.yes_price, "yes_price")
    else:
        yes_cc = None
    if m.no_price_dollars is not None:
        no_cc = _price_field(m.no_price_dollars, "no_price_dollars")
    elif m.no_price is not None:
        no_cc = legacy_cents_to_cc(m.no_price, "no_price")
    else:
        no_cc = None
    if yes_cc is None:
        if no_cc is None:
            raise BadFrame("missing yes_price_dollars")
        yes_cc = PRICE_CC_PER_DOLLAR - no_cc
    elif no_cc is None:
        no_cc = PRICE_CC_PER_DOLLAR - yes_cc
    elif yes_cc + no_cc != PRICE_CC_PER_DOLLAR:
        raise BadFrame(f"yes price {yes_cc}cc + no price {no_cc}cc != $1")
    if m.count_fp is not None:
        count = _lots_field(m.count_fp, "count_fp", signed=False)
    elif m.count is not None:
        count = legacy_count_to_lots(m.count, "count", signed=False)
    else:
        raise BadFrame("missing count_fp")
    outcome_raw = m.taker_outcome_side or m.taker_side
    book_side = m.taker_book_side
    if outcome_raw is None:
        if book_side is None:
            raise BadFrame("missing taker_outcome_side / taker_side / taker_book_side")
        outcome_raw = _OUTCOME_OF_BOOK_SIDE.get(book_side)
    if outcome_raw == "yes":
        outcome: Side = "yes"
    elif outcome_raw == "no":
        outcome = "no"
    else:
        raise BadFrame(f"taker side must be yes/no, got {outcome_raw!r}")
    expected_book = _BOOK_SIDE_OF_OUTCOME[outcome]
    if book_side is not None and book_side != expected_book:
        raise BadFrame(f"taker_book_side {book_side!r} contradicts taker outcome {outcome!r}")
    ts_ms = m.ts_ms
    if ts_ms is None and m.ts is not None:
        ts_ms = m.ts * 1000
    return Trade(
        sid=w.sid,
        seq=w.seq,
        id=w.id,
        market_ticker=m.market_ticker,
        yes_price_cc=yes_cc,
        no_price_cc=no_cc,
        count_lots=count,
        taker_outcome_side=outcome,
        taker_book_side=expected_book,
        trade_id=m.trade_id,
        taker_side=m.taker_side,
        is_block_trade=m.is_block_trade,
        ts_s=m.ts,
        ts_ms=ts_ms,
    )


def legacy_cents_to_cc(value: Any, where: str) -> int:
    """Legacy integer cents (0..100) -> centi-cents."""
    if type(value) is not int:
        raise BadFrame(f"{where}: expected integer cents, got {type(value).__name__} {value!r}")
    if not 0 <= value <= 100:
        raise BadFrame(f"{where}: {value} cents is outside $0..$1")
    return value * 100


def legacy_count_to_lots(value: Any, where: str, *, signed: bool) -> int:
    """Legacy integer contracts -> lots."""
    if type(value) is not int:
        raise BadFrame(f"{where}: expected integer contracts, got {type(value).__name__} {value!r}")
    if value < 0 and not signed:
        raise BadFrame(f"{where}: count must not be negative, got {value}")
    if abs(value) * LOTS_PER_CONTRACT >= MAX_SCALED:
        raise BadFrame(f"{where}: {value} is out of range")
    return value * LOTS_PER_CONTRACT


WIRE_TAGS: Final[dict[type, str]] = {v: k for k, v in WIRE_TYPES.items()}
