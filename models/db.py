"""Database tables (sqlmodel) of everything the trader sees and does, written by :mod:`recording.recorder`.

One **recording session** is one recorder lifetime (a worker process, an import of a tape file). Every other
row belongs to a session and is keyed by ``(session_id, rec_no)``: ``rec_no`` is the recorder's arrival
number, unique within the session and increasing in the order the recorder received things, so

* the primary key is known before the row reaches the database: the write-behind queue can retry a batch
  after an ambiguous failure (a commit whose answer was lost) and ``INSERT ... ON CONFLICT DO NOTHING`` makes
  the retry idempotent;
* the export reads frames back in exactly the order they were received (``ORDER BY rec_no``).

Units (exact integers, never floats; the unit is in every column name):

* ``*_cc``: prices in **centi-cents** ($1 = 10,000; ``"0.4800"`` -> 4800), as :mod:`kalshi.models.ws`;
* ``*_lots``: contract counts in **lots** of 1/100 contract (``"46.02"`` -> 4602); signed where the value is
  signed (``delta_lots``, ``position_lots``: + YES, - NO);
* ``*_microdollars``: other money (costs, fees, P&L, proceeds; Kalshi sends up to 6 dp) in 10**-6 dollars;
* ``*_ms``: Unix epoch **milliseconds** (``recv_ms`` = the recorder host's clock at receipt; ``ts_ms`` = the
  exchange's clock); durations in ms.

Frames are stored raw (``raw``: the WebSocket text frame exactly as received, as bytes) next to their decoded
columns, so an export reproduces the recorded tape byte for byte. Every recorded frame is exactly one row:
``orderbook_snapshot`` -> :class:`BookSnapshot`, ``orderbook_delta`` -> :class:`BookDelta`, ``trade`` ->
:class:`MarketTrade`, anything else (ticker, private channels, command replies, unknown types and malformed
frames) -> :class:`WsFrame`.

No foreign keys: rows arrive through a write-behind queue, possibly before their session row, and a foreign
key check per order-book delta would cost an index probe on the hottest table. Integrity is the recorder's
job (it writes the session row first and owns every ``rec_no``).

Schema management: :func:`create_schema` creates missing tables and indexes (idempotent); there are no
migrations yet (a changed column needs a new database or a manual ``ALTER``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final, cast

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, Table
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.types import TypeEngine
from sqlmodel import Field, SQLModel

__all__ = [
    "ALL_TABLES",
    "BookDelta",
    "BookSnapshot",
    "CalibrationRecord",
    "CloseRecord",
    "EpochRecord",
    "MarketMetadata",
    "MarketTrade",
    "OrderRecord",
    "PositionRecord",
    "RecordingGap",
    "RecordingSession",
    "StatusRecord",
    "TraderFill",
    "WsFrame",
    "create_schema",
    "table_of",
    "to_cc",
    "to_lots",
    "to_microdollars",
]


def _json_type() -> TypeEngine[Any]:
    """JSON column type: ``JSONB`` on PostgreSQL (indexable, queryable), JSON text elsewhere."""
    return JSON().with_variant(JSONB(), "postgresql")


def _json_column(nullable: bool = False) -> Any:
    """A fresh JSON column (a Column object can belong to one table only)."""
    return Column(_json_type(), nullable=nullable)


def _bigint(**kwargs: Any) -> Any:
    """A BIGINT field (Unix ms, lots, micro-dollars and sequence numbers overflow a 32-bit INTEGER)."""
    return Field(sa_type=BigInteger, **kwargs)


# --------------------------------------------------------------------------------------------------
# Unit conversion for the columns (exact or an error, never rounded)
# --------------------------------------------------------------------------------------------------


def _scaled(value: Decimal | int, places: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise ValueError(f"{what}: expected Decimal or int, got {type(value).__name__} {value!r}")
    scaled = Decimal(value).scaleb(places)
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise ValueError(f"{what}: {value} is not a whole number of 1e-{places}")
    return int(scaled)


def to_cc(dollars: Decimal | int) -> int:
    """Dollars (a price) -> exact centi-cents: ``Decimal("0.48") -> 4800``.

    Raises:
        ValueError: not a Decimal/int, or finer than $0.0001.

    """
    return _scaled(dollars, 4, "price")


def to_lots(contracts: Decimal | int) -> int:
    """Contracts -> exact lots of 1/100 contract (sign kept): ``Decimal("-46.02") -> -4602``.

    Raises:
        ValueError: not a Decimal/int, or finer than 0.01 contract.

    """
    return _scaled(contracts, 2, "count")


def to_microdollars(dollars: Decimal | int) -> int:
    """Dollars (money) -> exact micro-dollars (10**-6 $, sign kept): ``Decimal("0.18") -> 180000``.

    Raises:
        ValueError: not a Decimal/int, or finer than $0.000001.

    """
    return _scaled(dollars, 6, "money")


# --------------------------------------------------------------------------------------------------
# Sessions and gaps
# --------------------------------------------------------------------------------------------------


class RecordingSession(SQLModel, table=True):
    """One recorder lifetime: what was recorded, from where, when.

    Attributes:
        id: session id chosen by the recorder (``started_ms * 1000 + random 0..999``: sortable by start time,
            known without a database round trip).
        started_ms, ended_ms: Unix ms; ``ended_ms`` is NULL while recording (or after a crash).
        source_url: where the data came from (the WebSocket/REST base URL, or the imported directory).
        environment: ``sim`` | ``demo`` | ``prod`` | ``import`` | free text.
        markets: the market tickers the session was started for (JSON list of strings).
        label: free text.

    """

    __tablename__ = "recording_session"

    id: int = _bigint(primary_key=True, sa_column_kwargs={"autoincrement": False})
    started_ms: int = _bigint()
    ended_ms: int | None = _bigint(default=None, nullable=True)
    source_url: str = ""
    environment: str = ""
    markets: list[str] = Field(default_factory=list, sa_column=_json_column())
    label: str = ""


class RecordingGap(SQLModel, table=True):
    """A run of records the recorder refused because its queue was full (drop-newest backpressure).

    Everything received between ``first_recv_ms`` and ``last_recv_ms`` on ``lane`` may be missing from this
    session (exactly ``dropped`` records are). A replayed book is untrustworthy from ``first_recv_ms`` until
    the market's next snapshot.

    Attributes:
        lane: ``frames`` (market data) or ``records`` (the trader's own records).
        first_recv_ms, last_recv_ms: receive times (Unix ms) of the first and last dropped record.
        dropped: how many records were dropped in this run.

    """

    __tablename__ = "recording_gap"

    session_id: int = _bigint(primary_key=True)
    rec_no: int = _bigint(primary_key=True)
    lane: str
    first_recv_ms: int = _bigint()
    last_recv_ms: int = _bigint()
    dropped: int = _bigint()


# --------------------------------------------------------------------------------------------------
# Market data frames
# --------------------------------------------------------------------------------------------------


class BookSnapshot(SQLModel, table=True):
    """An ``orderbook_snapshot`` frame (kalshi-api.md §6.5): the full book of one market.

    Attributes:
        ticker: the market.
        recv_ms: receipt time (Unix ms); snapshots carry no exchange time.
        sid, seq: subscription id and sequence number as sent.
        market_id: the market UUID, when sent.
        yes_levels, no_levels: BIDS as JSON ``[[price_cc, size_lots], ...]``, wire order (ascending price).
        raw: the frame exactly as received.

    """

    __tablename__ = "book_snapshot"
    __table_args__ = (Index("ix_book_snapshot_session_ticker_recv", "session_id", "ticker", "recv_ms"),)

    session_id: int = _bigint(primary_key=True)
    rec_no: int = _bigint(primary_key=True)
    ticker: str
    recv_ms: int = _bigint()
    sid: int | None = _bigint(default=None, nullable=True)
    seq: int | None = _bigint(default=None, nullable=True)
    market_id: str | None = None
    yes_levels: list[list[int]] = Field(default_factory=list, sa_column=_json_column())
    no_levels: list[list[int]] = Field(default_factory=list, sa_column=_json_column())
    raw: bytes = Field(sa_type=LargeBinary)


class BookDelta(SQLModel, table=True):
    """An ``orderbook_delta`` frame: ``new_size = old_size + delta_lots`` at ``price_cc`` on ``side``'s bids.

    Attributes:
        ticker: the market.
        ts_ms: exchange time (Unix ms; NULL when the frame had none).
        recv_ms: receipt time (Unix ms).
        sid, seq: as sent.
        side: ``yes`` | ``no``.
        price_cc: level price in centi-cents.
        delta_lots: signed size change in lots.
        client_order_id: set when YOUR order caused the change.
        raw: the frame exactly as received.

    """

    __tablename__ = "book_delta"
    __table_args__ = (Index("ix_book_delta_session_ticker_ts", "session_id", "ticker", "ts_ms"),)

    session_id: int = _bigint(primary_key=True)
    rec_no: int = _bigint(primary_key=True)
    ticker: str
    ts_ms: int | None = _bigint(default=None, nullable=True)
    recv_ms: int = _bigint()
    sid: int | None = _bigint(default=None, nullable=True)
    seq: int | None = _bigint(default=None, nullable=True)
    side: str
    price_cc: int
    delta_lots: int = _bigint()
    client_order_id: str | None = None
    raw: bytes = Field(sa_type=LargeBinary)


class MarketTrade(SQLModel, table=True):
    """A public ``trade`` frame (kalshi-api.md §6.5 trade, §8 direction).

    Attributes:
        ticker: the market.
        trade_id: the trade UUID, when sent.
        ts_ms: exchange time (Unix ms), when sent.
        recv_ms: receipt time (Unix ms).
        sid, seq: as sent.
        yes_price_cc, no_price_cc: prices in centi-cents (sum 10,000).
        count_lots: contracts traded, in lots.
        taker_outcome_side: ``yes`` | ``no``: what the taker bought.
        taker_book_side: ``bid`` | ``ask``.
        taker_side: the raw deprecated ``taker_side``, when sent.
        is_block_trade: when sent.
        raw: the frame exactly as received.

    """

    __tablename__ = "market_trade"
    __table_args__ = (
        Index("ix_market_trade_session_ticker_ts", "session_id", "ticker", "ts_ms"),
        Index("ix_market_trade_trade_id", "trade_id"),
    )

    session_id: int = _bigint(primary_key=True)
    rec_no: int = _bigint(primary_key=True)
    ticker: str
    trade_id: str | None = None
    ts_ms: int | None = _bigint(default=None, nullable=True)
    recv_ms: int = _bigint()
    sid: int | None = _bigint(default=None, nullable=True)
    seq: int | None = _bigint(default=None, nullable=True)
    yes_price_cc: int
    no_price_cc: int
    count_lots: int = _bigint()
    taker_outcome_side: str
    taker_book_side: str
    taker_side: str | None = None
    is_block_trade: bool | None = None
    raw: bytes = Field(sa_type=LargeBinary)


class WsFrame(SQLModel, table=True):
    """Every other received frame: ticker, fill, market_position, user_order, lifecycle, replies, unknown, bad.

    Attributes:
        recv_ms: receipt time (Unix ms).
        type: the frame's ``type`` (NULL when it could not be read).
        ticker: ``msg.market_ticker`` (or ``msg.ticker``) when present.
        sid, seq: as sent.
        error: why the frame could not be parsed (:class:`kalshi.models.ws.FrameError` reason), else NULL.
        raw: the frame exactly as received (bytes; a ``str`` frame is stored UTF-8 encoded).

    """

    __tablename__ = "ws_frame"
    __table_args__ = (
        Index("ix_ws_frame_session_ticker_recv", "session_id", "ticker", "recv_ms"),
        Index("ix_ws_frame_session_type", "session_id", "type"),
    )

    session_id: int = _bigint(primary_key=True)
    rec_no: int = _bigint(primary_key=True)
    recv_ms: int = _bigint()
    type: str | None = None
    ticker: str | None = None
    sid: int | None = _bigint(default=None, nullable=True)
    seq: int | None = _bigint(default=None, nullable=True)
    error: str | None = None
    raw: bytes = Field(sa_type=LargeBinary)


# --------------------------------------------------------------------------------------------------
# The trader's own records
# --------------------------------------------------------------------------------------------------


class OrderRecord(SQLModel, table=True):
    """One event in the life of one of the trader's orders (append-only history; latest row = current state).

    Attributes:
        at_ms: when the event happened (exchange time when known, else the recorder's clock), Unix ms.
        event: ``submitted`` | ``acknowledged`` | ``rejected`` | ``update`` | ``canceled`` | free text.
        source: ``trader`` (its own intent/result), ``rest`` (an exchange Order object), ``ws`` (user_order).
        client_order_id, order_id: identifiers (either may be NULL before it is known).
        ticker: the market.
        side: ``yes`` | ``no``; action: ``buy`` | ``sell``.
        price_cc: limit price of ``side`` in centi-cents; yes_price_cc: the same as a YES price.
        count_lots, fill_count_lots, remaining_count_lots: initial, filled, remaining, in lots.
        status: ``resting`` | ``canceled`` | ``executed`` (exchange status), when known.
        time_in_force, order_group_id: as sent.
        origin: what issued the order (``epoch`` | ``close`` | ``manual`` | ...); origin_id: the epoch id or the
            close workflow id.
        reject_code, detail: the exchange's rejection, or other one-line detail.
        fees_microdollars: taker + maker fees paid so far; fill_cost_microdollars: taker + maker fill cost.
        created_ms, updated_ms: the exchange's order times (Unix ms), when known.

    """

    __tablename__ = "trader_order"
    __table_args__ = (
        Index("ix_trader_order_client_order_id", "client_order_id"),
        Index("ix_trader_order_order_id", "order_id"),
        Index("ix_trader_order_session_ticker_at", "session_id", "ticker", "at_ms"),
    )

    session_id: int = _bigint(primary_key=True)
    rec_no: int = _bigint(primary_key=True)
    at_ms: int = _bigint()
    event: str
    source: str
    client_order_id: str | None = None
    order_id: str | None = None
    ticker: str | None = None
    side: str | None = None
    action: str | None = None
    price_cc: int | None = None
    yes_price_cc: int | None = None
    count_lots: int | None = _bigint(default=None, nullable=True)
    fill_count_lots: int | None = _bigint(default=None, nullable=True)
    remaining_count_lots: int | None = _bigint(default=None, nullable=True)
    status: str | None = None
    time_in_force: str | None = None
    order_group_id: str | None = None
    origin: str | None = None
    origin_id: str | None = None
    reject_code: str | None = None
    detail: str | None = None
    fees_microdollars: int | None = _bigint(default=None, nullable=True)
    fill_cost_microdollars: int | None = _bigint(default=None, nullable=True)
    created_ms: int | None = _bigint(default=None, nullable=True)
    updated_ms: int | None = _bigint(default=None, nullable=True)


class TraderFill(SQLModel, table=True):
    """One of the trader's fills (REST ``GET /portfolio/fills`` or the ``fill`` WebSocket channel).

    Attributes:
        source: ``rest`` | ``ws``.
        fill_id, trade_id, order_id, client_order_id: identifiers (fill_id only from REST).
        ticker: the market.
        side, action, outcome_side, book_side: direction as sent (kalshi-api.md §8).
        is_taker: as sent.
        yes_price_cc: YES price in centi-cents (the NO price is 10,000 - it).
        count_lots: lots filled.
        fee_microdollars: fee paid, when sent.
        post_position_lots: signed position after the fill (WS only), when sent.
        ts_ms: exchange time (Unix ms), when sent.
        recv_ms: when the recorder got it (Unix ms).

    """

    __tablename__ = "trader_fill"
    __table_args__ = (
        Index("ix_trader_fill_order_id", "order_id"),
        Index("ix_trader_fill_session_ticker_ts", "session_id", "ticker", "ts_ms"),
    )

    session_id: int = _bigint(primary_key=True)
    rec_no: int = _bigint(primary_key=True)
    source: str
    fill_id: str | None = None
    trade_id: str | None = None
    order_id: str
    client_order_id: str | None = None
    ticker: str
    side: str | None = None
    action: str | None = None
    outcome_side: str | None = None
    book_side: str | None = None
    is_taker: bool | None = None
    yes_price_cc: int
    count_lots: int = _bigint()
    fee_microdollars: int | None = _bigint(default=None, nullable=True)
    post_position_lots: int | None = _bigint(default=None, nullable=True)
    ts_ms: int | None = _bigint(default=None, nullable=True)
    recv_ms: int = _bigint()


class PositionRecord(SQLModel, table=True):
    """A market position as seen at one instant (history: one row per observation).

    Attributes:
        at_ms: observation time (Unix ms).
        source: ``ws`` (market_position), ``rest`` (GET /portfolio/positions), ``trader`` (calibration).
        ticker: the market.
        position_lots: signed position (+ YES, - NO) in lots.
        exposure_microdollars: cost of the current position (Kalshi ``market_exposure`` / ``position_cost``).
        realized_pnl_microdollars, fees_paid_microdollars: as reported.
        volume_lots: traded volume, when reported.

    """

    __tablename__ = "position_history"
    __table_args__ = (Index("ix_position_history_session_ticker_at", "session_id", "ticker", "at_ms"),)

    session_id: int = _bigint(primary_key=True)
    rec_no: int = _bigint(primary_key=True)
    at_ms: int = _bigint()
    source: str
    ticker: str
    position_lots: int = _bigint()
    exposure_microdollars: int | None = _bigint(default=None, nullable=True)
    realized_pnl_microdollars: int | None = _bigint(default=None, nullable=True)
    fees_paid_microdollars: int | None = _bigint(default=None, nullable=True)
    volume_lots: int | None = _bigint(default=None, nullable=True)


class CalibrationRecord(SQLModel, table=True):
    """A :class:`models.trader.CalibrationReport`: key scalars plus the whole report as JSON.

    Attributes:
        workflow_id: the trader workflow that calibrated, when given.
        at_ms: the report's exchange time (Unix ms).
        duration_ms: how long the checks took.
        overall_status: ``fully_operational`` | ``degraded`` | ``paused``.
        can_trade: whether the epoch could run.
        viable_markets, positions: counts.
        report: ``CalibrationReport.model_dump(mode="json")`` (Decimals as strings; validate it back with
            ``CalibrationReport.model_validate``).

    """

    __tablename__ = "calibration_report"
    __table_args__ = (Index("ix_calibration_report_session_at", "session_id", "at_ms"),)

    session_id: int = _bigint(primary_key=True)
    rec_no: int = _bigint(primary_key=True)
    workflow_id: str | None = None
    at_ms: int = _bigint()
    duration_ms: int = _bigint()
    overall_status: str
    can_trade: bool
    viable_markets: int
    positions: int
    report: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column())


class StatusRecord(SQLModel, table=True):
    """A :class:`models.trader.StatusTransition` of a trader workflow.

    Attributes:
        workflow_id: the workflow.
        at_ms: when the state was entered (workflow clock, Unix ms).
        state, previous_state: lifecycle states.
        time_in_previous_ms: how long the previous state lasted (ms, rounded from the model's seconds).
        result: why (free text).
        repeats: collapsed routine cycles this entry stands for.

    """

    __tablename__ = "status_transition"
    __table_args__ = (Index("ix_status_transition_workflow_at", "workflow_id", "at_ms"),)

    session_id: int = _bigint(primary_key=True)
    rec_no: int = _bigint(primary_key=True)
    workflow_id: str
    at_ms: int = _bigint()
    state: str
    previous_state: str | None = None
    time_in_previous_ms: int = _bigint()
    result: str = ""
    repeats: int = 0


class EpochRecord(SQLModel, table=True):
    """A :class:`models.trader.EpochSummary` (one trading epoch).

    Attributes:
        epoch_id: ``<workflow_id>:<cycle>``.
        started_ms, ended_ms: exchange clock (Unix ms), when known.
        ended_by: ``duration`` | ``cancelled`` | ``circuit_breaker`` | ...
        updates_seen, orders_placed, errors: counts.
        contracts_filled_lots: lots filled on the epoch's orders.
        summary: ``EpochSummary.model_dump(mode="json")``.

    """

    __tablename__ = "epoch_summary"
    __table_args__ = (Index("ix_epoch_summary_epoch_id", "epoch_id"),)

    session_id: int = _bigint(primary_key=True)
    rec_no: int = _bigint(primary_key=True)
    epoch_id: str
    started_ms: int | None = _bigint(default=None, nullable=True)
    ended_ms: int | None = _bigint(default=None, nullable=True)
    ended_by: str
    updates_seen: int = _bigint()
    orders_placed: int
    contracts_filled_lots: int = _bigint()
    errors: int
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column())


class CloseRecord(SQLModel, table=True):
    """A :class:`models.trader.CloseResult` (one ``ClosePositionWorkflow``).

    The average price is not a column (an average of fills is generally not on the centi-cent grid): it is
    ``proceeds_microdollars / closed_lots`` exactly, and the model's value is in ``result``.

    Attributes:
        workflow_id: the close's child workflow id.
        ticker, side, reason, status: as in the model.
        requested_lots, closed_lots, remaining_lots: in lots.
        proceeds_microdollars: sale proceeds.
        attempts: orders sent.
        at_ms: when the close finished (Unix ms), when known.
        error: one-line error when failed.
        result: ``CloseResult.model_dump(mode="json")``.

    """

    __tablename__ = "close_result"
    __table_args__ = (Index("ix_close_result_session_ticker", "session_id", "ticker"),)

    session_id: int = _bigint(primary_key=True)
    rec_no: int = _bigint(primary_key=True)
    workflow_id: str
    ticker: str
    side: str
    reason: str
    status: str
    requested_lots: int = _bigint()
    closed_lots: int = _bigint()
    remaining_lots: int = _bigint()
    proceeds_microdollars: int = _bigint()
    attempts: int
    at_ms: int | None = _bigint(default=None, nullable=True)
    error: str | None = None
    result: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column())


class MarketMetadata(SQLModel, table=True):
    """The REST definition of a market seen in a session (what a tape export needs; latest write wins).

    Attributes:
        ticker, event_ticker, series_ticker: identifiers.
        status: the market status when fetched.
        open_ms, close_ms: trading window (Unix ms).
        result: ``yes`` | ``no`` | ``scalar`` | ``""`` (not determined yet).
        settlement_ms: settlement time (Unix ms), when known.
        settlement_value_cc: YES settlement value in centi-cents, when known.
        fetched_ms: when the definition was fetched (Unix ms).
        source_url: the URL it was fetched from.
        market_json: the REST market object as JSON text (numbers kept digit for digit).
        event_json: the REST event object (``GET /events/{event_ticker}`` ``event``) as JSON text, when known.

    """

    __tablename__ = "market_metadata"
    __table_args__ = (Index("ix_market_metadata_event", "event_ticker"),)

    session_id: int = _bigint(primary_key=True)
    ticker: str = Field(primary_key=True)
    event_ticker: str
    series_ticker: str
    status: str = ""
    open_ms: int | None = _bigint(default=None, nullable=True)
    close_ms: int | None = _bigint(default=None, nullable=True)
    result: str = ""
    settlement_ms: int | None = _bigint(default=None, nullable=True)
    settlement_value_cc: int | None = None
    fetched_ms: int = _bigint()
    source_url: str = ""
    market_json: str
    event_json: str | None = None


def table_of(model: type[SQLModel]) -> Table:
    """The SQLAlchemy :class:`~sqlalchemy.Table` of a table model of this module (``Model.__table__``)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


ALL_TABLES: Final[tuple[Table, ...]] = tuple(
    table_of(model)
    for model in (
        RecordingSession,
        RecordingGap,
        BookSnapshot,
        BookDelta,
        MarketTrade,
        WsFrame,
        OrderRecord,
        TraderFill,
        PositionRecord,
        CalibrationRecord,
        StatusRecord,
        EpochRecord,
        CloseRecord,
        MarketMetadata,
    )
)
"""Every table of this module, in creation order."""


def create_schema(bind: Engine | Connection) -> None:
    """Create the tables and indexes of this module that do not exist yet (idempotent; no migrations).

    Args:
        bind: an engine or a connection (inside a transaction, the DDL joins it).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database refused (unreachable, read-only, no privilege).

    """
    SQLModel.metadata.create_all(bind, tables=list(ALL_TABLES), checkfirst=True)
