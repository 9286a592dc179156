"""Row builders: received frames and REST/trader objects -> rows of :mod:`models.db` (tuples in column order).

Every number is converted exactly to the column's unit (centi-cents, lots, micro-dollars, Unix ms); the
units are those of :mod:`models.db`. Used by the write-behind recorder (:mod:`recording.recorder`) and the tape
import (:mod:`recording.tape`), so a live recording and an imported tape produce identical rows. Nothing here
does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import msgspec
from pydantic import BaseModel
from sqlalchemy import Table

from kalshi import models as km
from kalshi.models import ws as wf
from models import trader as tm
from models.db import to_cc, to_lots, to_microdollars
from recording.database import (
    BOOK_DELTA,
    BOOK_SNAPSHOT,
    CALIBRATION,
    CLOSE,
    EPOCH,
    GAP,
    MARKET,
    MARKET_TRADE,
    ORDER,
    POSITION,
    SESSION,
    STATUS,
    TRADER_FILL,
    WS_FRAME,
)

__all__ = [
    "calibration_row",
    "close_row",
    "datetime_ms",
    "encode_json",
    "epoch_row",
    "fill_row",
    "frame_row",
    "frame_type_name",
    "gap_row",
    "market_row",
    "order_row",
    "position_row",
    "raw_bytes",
    "session_row",
    "status_row",
]

# --------------------------------------------------------------------------------------------------
# Value conversion
# --------------------------------------------------------------------------------------------------

_JSON_ENCODER: Final = msgspec.json.Encoder(decimal_format="number")
"""JSON with Decimals written as numbers digit for digit (``Decimal("4128.40")`` -> ``4128.40``)."""


def encode_json(value: Any) -> str:
    """Compact JSON text of plain values, Decimals as exact numbers, tuples as arrays, datetimes ISO 8601.

    Raises:
        TypeError: a value of a type JSON cannot represent.

    """
    return _JSON_ENCODER.encode(value).decode()


def raw_bytes(raw: Any) -> bytes:
    """A received frame as bytes (``bytes`` as is, ``str`` UTF-8 encoded, buffers copied).

    Anything else (never sent by a WebSocket library, but recorded rather than refused) becomes its ``repr``.
    """
    if type(raw) is bytes:
        return raw
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogatepass")
    if isinstance(raw, bytes | bytearray | memoryview):
        return bytes(raw)
    return repr(raw).encode("utf-8", "backslashreplace")


def datetime_ms(value: datetime | None) -> int | None:
    """An aware datetime -> exact Unix milliseconds (sub-millisecond truncated); naive is taken as UTC."""
    if value is None:
        return None
    return wf.iso_to_ts_ms(value.isoformat())


def _opt(fn: Callable[[Any], int], value: Any) -> int | None:
    return None if value is None else fn(value)


# --------------------------------------------------------------------------------------------------
# Frames (one row each)
# --------------------------------------------------------------------------------------------------


def frame_type_name(event: wf.WsEvent) -> str | None:
    """The wire ``type`` of a parsed frame (``"orderbook_delta"``, ...); ``None`` when a bad frame had none."""
    if isinstance(event, wf.UnknownMessage | wf.FrameError):
        return event.type
    return wf.MESSAGE_TYPE_OF.get(type(event))


_BOOK_DELTA_COLUMNS: Final = (
    "session_id",
    "rec_no",
    "ticker",
    "ts_ms",
    "recv_ms",
    "sid",
    "seq",
    "side",
    "price_cc",
    "delta_lots",
    "client_order_id",
    "raw",
)
_BOOK_SNAPSHOT_COLUMNS: Final = (
    "session_id",
    "rec_no",
    "ticker",
    "recv_ms",
    "sid",
    "seq",
    "market_id",
    "yes_levels",
    "no_levels",
    "raw",
)
_MARKET_TRADE_COLUMNS: Final = (
    "session_id",
    "rec_no",
    "ticker",
    "trade_id",
    "ts_ms",
    "recv_ms",
    "sid",
    "seq",
    "yes_price_cc",
    "no_price_cc",
    "count_lots",
    "taker_outcome_side",
    "taker_book_side",
    "taker_side",
    "is_block_trade",
    "raw",
)
_WS_FRAME_COLUMNS: Final = ("session_id", "rec_no", "recv_ms", "type", "ticker", "sid", "seq", "error", "raw")
for _table, _columns in (
    (BOOK_DELTA, _BOOK_DELTA_COLUMNS),
    (BOOK_SNAPSHOT, _BOOK_SNAPSHOT_COLUMNS),
    (MARKET_TRADE, _MARKET_TRADE_COLUMNS),
    (WS_FRAME, _WS_FRAME_COLUMNS),
):
    if tuple(_table.columns.keys()) != _columns:  # pragma: no cover - a model edit must update the builders
        raise RuntimeError(f"{_table.name}: columns {tuple(_table.columns.keys())} != row builder {_columns}")


def frame_row(
    session_id: int, rec_no: int, recv_ms: int, raw: bytes, event: wf.WsEvent
) -> tuple[Table, tuple[Any, ...]]:
    """The one row a received frame becomes: ``(table, tuple in column order)``.

    ``orderbook_delta`` -> ``book_delta``, ``orderbook_snapshot`` -> ``book_snapshot``, ``trade`` ->
    ``market_trade``; everything else (including :class:`~kalshi.models.ws.FrameError` with its reason in
    ``error``) -> ``ws_frame``.

    Args:
        session_id: the session (first half of the row's key).
        rec_no: the recorder's arrival number (second half of the key).
        recv_ms: receipt time, Unix ms.
        raw: the frame exactly as received.
        event: ``parse_frame(raw)``.

    Raises:
        TypeError: only on a programming error (an event this module cannot encode).

    """
    kind = type(event)
    if kind is wf.OrderbookDelta:
        d: wf.OrderbookDelta = event  # type: ignore[assignment]
        return BOOK_DELTA, (
            session_id,
            rec_no,
            d.market_ticker,
            d.ts_ms,
            recv_ms,
            d.sid,
            d.seq,
            d.side,
            d.price_cc,
            d.delta_lots,
            d.client_order_id,
            raw,
        )
    if kind is wf.Trade:
        t: wf.Trade = event  # type: ignore[assignment]
        return MARKET_TRADE, (
            session_id,
            rec_no,
            t.market_ticker,
            t.trade_id,
            t.ts_ms,
            recv_ms,
            t.sid,
            t.seq,
            t.yes_price_cc,
            t.no_price_cc,
            t.count_lots,
            t.taker_outcome_side,
            t.taker_book_side,
            t.taker_side,
            t.is_block_trade,
            raw,
        )
    if kind is wf.OrderbookSnapshot:
        s: wf.OrderbookSnapshot = event  # type: ignore[assignment]
        return BOOK_SNAPSHOT, (
            session_id,
            rec_no,
            s.market_ticker,
            recv_ms,
            s.sid,
            s.seq,
            s.market_id,
            encode_json(s.yes_levels),
            encode_json(s.no_levels),
            raw,
        )
    ticker = getattr(event, "market_ticker", None)
    if ticker is None and kind is wf.UserOrderUpdate:
        ticker = event.ticker  # type: ignore[union-attr]
    error = event.reason if kind is wf.FrameError else None  # type: ignore[union-attr]
    return WS_FRAME, (
        session_id,
        rec_no,
        recv_ms,
        frame_type_name(event),
        ticker if isinstance(ticker, str) else None,
        event.sid,
        event.seq,
        error,
        raw,
    )


# --------------------------------------------------------------------------------------------------
# The trader's records (built where they are recorded; small and infrequent)
# --------------------------------------------------------------------------------------------------


def _row(table: Table, values: Mapping[str, Any]) -> tuple[Any, ...]:
    """``values`` as a tuple in ``table``'s column order; absent columns are NULL.

    Raises:
        KeyError: a key that is not a column of ``table`` (a typo must not silently lose data).

    """
    unknown = set(values) - set(table.columns.keys())
    if unknown:
        raise KeyError(f"{table.name} has no columns {sorted(unknown)}")
    return tuple(values.get(name) for name in table.columns.keys())  # noqa: SIM118 - column order


def session_row(
    session_id: int,
    *,
    started_ms: int,
    ended_ms: int | None,
    source_url: str,
    environment: str,
    markets: Iterable[str],
    label: str,
) -> tuple[Any, ...]:
    """A ``recording_session`` row (times Unix ms)."""
    return _row(
        SESSION,
        {
            "id": session_id,
            "started_ms": started_ms,
            "ended_ms": ended_ms,
            "source_url": source_url,
            "environment": environment,
            "markets": encode_json(list(markets)),
            "label": label,
        },
    )


def gap_row(session_id: int, rec_no: int, lane: str, first_ms: int, last_ms: int, dropped: int) -> tuple[Any, ...]:
    """A ``recording_gap`` row: ``dropped`` records refused on ``lane`` between two receive times (Unix ms)."""
    return _row(
        GAP,
        {
            "session_id": session_id,
            "rec_no": rec_no,
            "lane": lane,
            "first_recv_ms": first_ms,
            "last_recv_ms": last_ms,
            "dropped": dropped,
        },
    )


def _price_of_side_cc(side: Any, yes_price_cc: int | None) -> int | None:
    if yes_price_cc is None or side not in ("yes", "no"):
        return None
    return yes_price_cc if side == "yes" else wf.PRICE_CC_PER_DOLLAR - yes_price_cc


def _sum_micro(*values: Decimal | None) -> int | None:
    present = [v for v in values if v is not None]
    return to_microdollars(sum(present, Decimal(0))) if present else None


def order_row(
    session_id: int,
    rec_no: int,
    order: Any,
    *,
    at_ms: int,
    event: str | None = None,
    origin: str | None = None,
    origin_id: str | None = None,
    detail: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[Any, ...]:
    """A ``trader_order`` row from whichever order object the caller has.

    Accepted ``order`` types (money in Decimal dollars and counts in Decimal contracts are converted exactly):

    * :class:`kalshi.models.CreateOrderRequest` and :class:`models.trader.PlaceOrderInput` (an intent;
      default event ``submitted``, source ``trader``);
    * :class:`kalshi.models.OrderAck` and :class:`models.trader.OrderOutcome` (the placement's result; default
      event ``acknowledged``, or ``rejected`` when the outcome carries a rejection code);
    * :class:`kalshi.models.Order` (a REST order; event ``update``, source ``rest``);
    * :class:`kalshi.models.ws.UserOrderUpdate` (a ``user_order`` frame; event ``update``, source ``ws``);
    * a ``Mapping`` of column names to values (units of :class:`models.db.OrderRecord`).

    Args:
        session_id: the session.
        rec_no: the row's arrival number.
        order: see above.
        at_ms: event time (Unix ms) when the object carries none.
        event: overrides the default event name (see :class:`models.db.OrderRecord`).
        origin: what issued the order (``epoch`` | ``close`` | ...).
        origin_id: the epoch id or close workflow id.
        detail: one line of context.
        overrides: column values that win over those taken from ``order`` (e.g. ``ticker``/``side`` for an
            ``OrderOutcome``, which carries neither).

    Raises:
        ValueError: a price finer than $0.0001, a count finer than 0.01, money finer than $0.000001.
        TypeError: an unsupported ``order`` type.
        KeyError: an override that is not a column.

    """
    v: dict[str, Any] = {"session_id": session_id, "rec_no": rec_no, "at_ms": at_ms}
    if isinstance(order, Mapping):
        v.update(order)
        v.setdefault("source", "trader")
        v.setdefault("event", event or "update")
    elif isinstance(order, km.CreateOrderRequest | tm.PlaceOrderInput):
        count = order.count_fp if isinstance(order, km.CreateOrderRequest) else order.count_contracts
        price_cc = to_cc(order.price_dollars)
        v.update(
            event="submitted",
            source="trader",
            client_order_id=order.client_order_id,
            ticker=order.ticker,
            side=order.side,
            action=order.action,
            price_cc=price_cc,
            yes_price_cc=_price_of_side_cc(order.side, price_cc),
            count_lots=to_lots(count),
            time_in_force=order.time_in_force,
            order_group_id=order.order_group_id,
        )
    elif isinstance(order, km.OrderAck):
        v.update(
            event="acknowledged",
            source="trader",
            client_order_id=order.client_order_id,
            order_id=order.order_id,
            ticker=order.ticker,
            side=order.side,
            action=order.action,
            fill_count_lots=to_lots(order.fill_count_fp),
            remaining_count_lots=to_lots(order.remaining_count_fp),
            count_lots=to_lots(order.fill_count_fp + order.remaining_count_fp),
            status=order.status,
            detail="already existed" if order.already_existed else None,
        )
        if order.ts_ms is not None:
            v["at_ms"] = order.ts_ms
    elif isinstance(order, tm.OrderOutcome):
        v.update(
            event="rejected" if order.rejected_code else "acknowledged",
            source="trader",
            client_order_id=order.client_order_id,
            order_id=order.order_id or None,
            fill_count_lots=to_lots(order.filled_contracts),
            remaining_count_lots=to_lots(order.remaining_contracts),
            count_lots=to_lots(order.filled_contracts + order.remaining_contracts),
            status=order.status,
            reject_code=order.rejected_code,
            detail=order.rejected_detail or ("already existed" if order.already_existed else None),
        )
    elif isinstance(order, km.Order):
        yes_cc = to_cc(order.yes_price_dollars)
        v.update(
            event="update",
            source="rest",
            client_order_id=order.client_order_id or None,
            order_id=order.order_id,
            ticker=order.ticker,
            side=order.side,
            action=order.action,
            price_cc=_price_of_side_cc(order.side, yes_cc),
            yes_price_cc=yes_cc,
            count_lots=to_lots(order.initial_count_fp),
            fill_count_lots=to_lots(order.fill_count_fp),
            remaining_count_lots=to_lots(order.remaining_count_fp),
            status=order.status,
            order_group_id=order.order_group_id,
            fees_microdollars=_sum_micro(order.taker_fees_dollars, order.maker_fees_dollars),
            fill_cost_microdollars=_sum_micro(order.taker_fill_cost_dollars, order.maker_fill_cost_dollars),
            created_ms=datetime_ms(order.created_time),
            updated_ms=datetime_ms(order.last_update_time),
        )
        if order.last_update_time is not None:
            v["at_ms"] = datetime_ms(order.last_update_time)
    elif isinstance(order, wf.UserOrderUpdate):
        v.update(
            event="update",
            source="ws",
            client_order_id=order.client_order_id,
            order_id=order.order_id,
            ticker=order.ticker,
            side=order.side,
            price_cc=_price_of_side_cc(order.side, order.yes_price_cc),
            yes_price_cc=order.yes_price_cc,
            count_lots=order.initial_count_lots,
            fill_count_lots=order.fill_count_lots,
            remaining_count_lots=order.remaining_count_lots,
            status=order.status,
            order_group_id=order.order_group_id,
            fees_microdollars=_sum_micro(order.taker_fees_dollars, order.maker_fees_dollars),
            fill_cost_microdollars=_sum_micro(order.taker_fill_cost_dollars, order.maker_fill_cost_dollars),
            created_ms=order.created_ts_ms,
            updated_ms=order.last_updated_ts_ms,
            detail=order.last_update_reason,
        )
        if order.last_updated_ts_ms is not None:
            v["at_ms"] = order.last_updated_ts_ms
    else:
        raise TypeError(f"cannot record an order from {type(order).__name__}")
    if event is not None:
        v["event"] = event
    if origin is not None:
        v["origin"] = origin
    if origin_id is not None:
        v["origin_id"] = origin_id
    if detail is not None:
        v["detail"] = detail
    if overrides:
        v.update(overrides)
    return _row(ORDER, v)


def fill_row(session_id: int, rec_no: int, fill: Any, *, recv_ms: int) -> tuple[Any, ...]:
    """A ``trader_fill`` row from a REST :class:`kalshi.models.Fill` or a WS :class:`kalshi.models.ws.Fill`.

    Raises:
        ValueError: an inexact price, count or fee.
        TypeError: another type.

    """
    if isinstance(fill, km.Fill):
        v: dict[str, Any] = {
            "source": "rest",
            "fill_id": fill.fill_id,
            "trade_id": fill.trade_id,
            "order_id": fill.order_id,
            "client_order_id": fill.client_order_id,
            "ticker": fill.ticker,
            "side": fill.side,
            "action": fill.action,
            "outcome_side": fill.outcome_side,
            "book_side": fill.book_side,
            "is_taker": fill.is_taker,
            "yes_price_cc": to_cc(fill.yes_price_dollars),
            "count_lots": to_lots(fill.count_fp),
            "fee_microdollars": to_microdollars(fill.fee_cost_dollars),
            "ts_ms": datetime_ms(fill.created_time) if fill.created_time else _opt(lambda s: s * 1000, fill.ts),
        }
    elif isinstance(fill, wf.Fill):
        v = {
            "source": "ws",
            "trade_id": fill.trade_id,
            "order_id": fill.order_id,
            "client_order_id": fill.client_order_id,
            "ticker": fill.market_ticker,
            "side": fill.side,
            "action": fill.action,
            "outcome_side": fill.outcome_side,
            "book_side": fill.book_side,
            "is_taker": fill.is_taker,
            "yes_price_cc": fill.yes_price_cc,
            "count_lots": fill.count_lots,
            "fee_microdollars": _opt(to_microdollars, fill.fee_cost_dollars),
            "post_position_lots": fill.post_position_lots,
            "ts_ms": fill.ts_ms,
        }
    else:
        raise TypeError(f"cannot record a fill from {type(fill).__name__}")
    v.update(session_id=session_id, rec_no=rec_no, recv_ms=recv_ms)
    return _row(TRADER_FILL, v)


def position_row(session_id: int, rec_no: int, position: Any, *, at_ms: int) -> tuple[Any, ...]:
    """A ``position_history`` row from a WS, REST or trader position object.

    Accepted: :class:`kalshi.models.ws.MarketPositionUpdate`, :class:`kalshi.models.MarketPosition`,
    :class:`models.trader.ExchangePosition`; ``at_ms`` (Unix ms) is used when the object has no time.

    Raises:
        ValueError: an inexact count or amount.
        TypeError: another type.

    """
    if isinstance(position, wf.MarketPositionUpdate):
        v: dict[str, Any] = {
            "source": "ws",
            "ticker": position.market_ticker,
            "position_lots": position.position_lots,
            "exposure_microdollars": _opt(to_microdollars, position.position_cost_dollars),
            "realized_pnl_microdollars": _opt(to_microdollars, position.realized_pnl_dollars),
            "fees_paid_microdollars": _opt(to_microdollars, position.fees_paid_dollars),
            "volume_lots": position.volume_lots,
        }
    elif isinstance(position, km.MarketPosition):
        v = {
            "source": "rest",
            "ticker": position.ticker,
            "position_lots": to_lots(position.position_fp),
            "exposure_microdollars": to_microdollars(position.market_exposure_dollars),
            "realized_pnl_microdollars": to_microdollars(position.realized_pnl_dollars),
            "fees_paid_microdollars": to_microdollars(position.fees_paid_dollars),
        }
        if position.last_updated_ts is not None:
            at_ms = datetime_ms(position.last_updated_ts) or at_ms
    elif isinstance(position, tm.ExchangePosition):
        v = {
            "source": "trader",
            "ticker": position.ticker,
            "position_lots": to_lots(position.position_contracts),
            "exposure_microdollars": to_microdollars(position.exposure_dollars),
            "realized_pnl_microdollars": to_microdollars(position.realized_pnl_dollars),
            "fees_paid_microdollars": to_microdollars(position.fees_paid_dollars),
        }
    else:
        raise TypeError(f"cannot record a position from {type(position).__name__}")
    v.update(session_id=session_id, rec_no=rec_no, at_ms=at_ms)
    return _row(POSITION, v)


def _dump(model: BaseModel) -> str:
    return encode_json(model.model_dump(mode="json"))


def calibration_row(session_id: int, rec_no: int, report: Any, *, workflow_id: str | None) -> tuple[Any, ...]:
    """A ``calibration_report`` row from a :class:`models.trader.CalibrationReport`.

    Raises:
        TypeError: another type.

    """
    if not isinstance(report, tm.CalibrationReport):
        raise TypeError(f"expected a CalibrationReport, got {type(report).__name__}")
    return _row(
        CALIBRATION,
        {
            "session_id": session_id,
            "rec_no": rec_no,
            "workflow_id": workflow_id,
            "at_ms": datetime_ms(report.at),
            "duration_ms": report.duration_ms,
            "overall_status": str(report.overall_status),
            "can_trade": report.can_trade,
            "viable_markets": len(report.viable_markets),
            "positions": len(report.positions),
            "report": _dump(report),
        },
    )


def status_row(session_id: int, rec_no: int, transition: Any, *, workflow_id: str) -> tuple[Any, ...]:
    """A ``status_transition`` row from a :class:`models.trader.StatusTransition` (seconds -> whole ms).

    Raises:
        TypeError: another type.

    """
    if not isinstance(transition, tm.StatusTransition):
        raise TypeError(f"expected a StatusTransition, got {type(transition).__name__}")
    previous = transition.previous_state
    return _row(
        STATUS,
        {
            "session_id": session_id,
            "rec_no": rec_no,
            "workflow_id": workflow_id,
            "at_ms": datetime_ms(transition.at),
            "state": str(transition.state),
            "previous_state": None if previous is None else str(previous),
            "time_in_previous_ms": round(Decimal(repr(transition.time_in_previous_s)) * 1000),
            "result": transition.result,
            "repeats": transition.repeats,
        },
    )


def epoch_row(session_id: int, rec_no: int, summary: Any) -> tuple[Any, ...]:
    """An ``epoch_summary`` row from a :class:`models.trader.EpochSummary`.

    Raises:
        ValueError: a filled count finer than 0.01 contract.
        TypeError: another type.

    """
    if not isinstance(summary, tm.EpochSummary):
        raise TypeError(f"expected an EpochSummary, got {type(summary).__name__}")
    return _row(
        EPOCH,
        {
            "session_id": session_id,
            "rec_no": rec_no,
            "epoch_id": summary.epoch_id,
            "started_ms": datetime_ms(summary.started_at),
            "ended_ms": datetime_ms(summary.ended_at),
            "ended_by": summary.ended_by,
            "updates_seen": summary.updates_seen,
            "orders_placed": summary.orders_placed,
            "contracts_filled_lots": to_lots(summary.contracts_filled),
            "errors": summary.errors,
            "summary": _dump(summary),
        },
    )


def close_row(session_id: int, rec_no: int, result: Any) -> tuple[Any, ...]:
    """A ``close_result`` row from a :class:`models.trader.CloseResult`.

    Raises:
        ValueError: a count finer than 0.01 contract or proceeds finer than $0.000001.
        TypeError: another type.

    """
    if not isinstance(result, tm.CloseResult):
        raise TypeError(f"expected a CloseResult, got {type(result).__name__}")
    return _row(
        CLOSE,
        {
            "session_id": session_id,
            "rec_no": rec_no,
            "workflow_id": result.workflow_id,
            "ticker": result.ticker,
            "side": result.side,
            "reason": str(result.reason),
            "status": str(result.status),
            "requested_lots": to_lots(result.requested_contracts),
            "closed_lots": to_lots(result.closed_contracts),
            "remaining_lots": to_lots(result.remaining_contracts),
            "proceeds_microdollars": to_microdollars(result.proceeds_dollars),
            "attempts": result.attempts,
            "at_ms": datetime_ms(result.at),
            "error": result.error,
            "result": _dump(result),
        },
    )


def _iso_ms(value: Any) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return datetime_ms(value)
    return wf.iso_to_ts_ms(str(value))


def _as_json_object(value: Any, what: str) -> dict[str, Any]:
    wire = getattr(value, "wire", None)
    if isinstance(wire, Mapping):  # the JSON object as received (kalshi.models.Market keeps it)
        return dict(wire)
    if isinstance(value, BaseModel):
        dumped: dict[str, Any] = value.model_dump(mode="json", by_alias=True, exclude_none=True)
        return dumped
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{what}: expected a mapping (the REST JSON object) or a pydantic model, got {type(value)}")


def market_row(
    session_id: int,
    market: Any,
    *,
    event: Any = None,
    fetched_ms: int,
    source_url: str = "",
) -> tuple[Any, ...]:
    """A ``market_metadata`` row from a REST market object (and optionally its event object).

    Args:
        session_id: the session.
        market: the REST ``Market`` JSON object as a mapping (preferred: every field is kept), or a
            :class:`kalshi.models.Market` (its declared fields only).
        event: the REST event object (``GET /events/{event_ticker}`` -> ``event``), mapping or model, if known.
        fetched_ms: when it was fetched, Unix ms.
        source_url: the URL it was fetched from.

    Raises:
        KeyError: the market has no ``ticker`` or ``event_ticker``.
        ValueError: an unparseable time or settlement value.
        TypeError: ``market``/``event`` of another type, or values JSON cannot encode.

    """
    m = _as_json_object(market, "market")
    e = None if event is None else _as_json_object(event, "event")
    ticker = str(m["ticker"])
    event_ticker = str(m["event_ticker"])
    series = str((e or {}).get("series_ticker") or event_ticker.split("-")[0])
    value = m.get("settlement_value_dollars")
    return _row(
        MARKET,
        {
            "session_id": session_id,
            "ticker": ticker,
            "event_ticker": event_ticker,
            "series_ticker": series,
            "status": str(m.get("status") or ""),
            "open_ms": _iso_ms(m.get("open_time")),
            "close_ms": _iso_ms(m.get("close_time")),
            "result": str(m.get("result") or ""),
            "settlement_ms": _iso_ms(m.get("settlement_ts")),
            "settlement_value_cc": None if value in (None, "") else wf.price_to_cc(str(value)),
            "fetched_ms": fetched_ms,
            "source_url": source_url,
            "market_json": encode_json(m),
            "event_json": None if e is None else encode_json(e),
        },
    )
