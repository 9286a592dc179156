"""The typed events of Kalshi's WebSocket API (kalshi-api.md §6), what :func:`kalshi.models.ws.parse_frame` returns.

Light immutable :class:`msgspec.Struct` objects; the hot ones (snapshots, deltas, trades) are not tracked by
the cyclic GC. Units as in :mod:`kalshi.models.ws.units`: prices in ``int`` centi-cents (``*_cc``), counts in
``int`` lots (``*_lots``), other money in Decimal dollars (``*_dollars``), times in Unix ms or s as named.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final, Literal, TypeAlias

import msgspec

from kalshi.models.ws.units import PRICE_CC_PER_DOLLAR, cc_to_dollars, lots_to_contracts

__all__ = [
    "ERROR_CODE_NAMES",
    "MESSAGE_TYPE_OF",
    "TERMINAL_ERROR_CODES",
    "ErrorMessage",
    "EventLifecycle",
    "Fill",
    "FrameError",
    "MarketLifecycle",
    "MarketPositionUpdate",
    "Ok",
    "OrderGroupUpdate",
    "OrderbookDelta",
    "OrderbookSnapshot",
    "PriceBand",
    "Side",
    "Subscribed",
    "SubscriptionInfo",
    "Ticker",
    "TickerV2",
    "Trade",
    "UnknownMessage",
    "Unsubscribed",
    "UserOrderUpdate",
    "WsEvent",
]

TERMINAL_ERROR_CODES: Final = frozenset({10, 25})
"""WS error codes after which the subscription is dead and must be re-created (§6.3: 10 channel error,
25 subscription buffer overflow)."""

ERROR_CODE_NAMES: Final[dict[int, str]] = {
    1: "unable to process",
    2: "params required",
    3: "channels required",
    4: "sids required",
    5: "unknown command",
    7: "unknown sid",
    8: "unknown channel",
    9: "authentication required",
    10: "channel error",
    11: "invalid parameter",
    12: "exactly one sid required",
    13: "unsupported action",
    14: "market ticker required",
    15: "action required",
    18: "command timeout",
    19: "shard_factor/shard_key validation",
    20: "shard_factor/shard_key validation",
    21: "shard_factor/shard_key validation",
    22: "shard_factor/shard_key validation",
    23: "match ids required",
    24: "index ids required",
    25: "subscription buffer overflow",
    26: "per-subscription market limit exceeded",
    27: "too many commands",
    28: "underlying tickers required",
}
"""Kalshi WebSocket error codes (kalshi-api.md §6.3); 6, 16 and 17 are retired."""


# --------------------------------------------------------------------------------------------------
# Typed events
# --------------------------------------------------------------------------------------------------

Side: TypeAlias = Literal["yes", "no"]
"""A contract side / order-book side (kalshi-api.md §8)."""


class _Event(msgspec.Struct, frozen=True, kw_only=True):
    """Envelope fields shared by every event (kalshi-api.md §6.4).

    Attributes:
        sid: subscription id (``None`` when the frame had none).
        seq: per-sid sequence number (``None`` on ``ticker``, ``fill``, ``market_position``, ``user_order``,
            list replies).
        id: the command id this frame answers (``None`` for unsolicited data).

    """

    sid: int | None = None
    seq: int | None = None
    id: int | None = None


class OrderbookSnapshot(_Event, frozen=True, kw_only=True, gc=False):
    """``orderbook_snapshot``: the full book of one market (kalshi-api.md §6.5 orderbook_delta).

    Both sides are BIDS (a NO bid at q is a YES ask at 1 - q). Levels keep the wire order (ascending price,
    best bid last); an absent side is an empty tuple. ``sid`` and ``seq`` are always set.

    Attributes:
        market_ticker: the market.
        market_id: the market UUID, when sent.
        yes_levels: YES bids as ``(price_cc, size_lots)`` int pairs, from ``yes_dollars_fp`` (current),
            ``yes_dollars`` (era B) or legacy ``yes`` (cents, whole contracts).
        no_levels: NO bids, same shape.
        ts_ms: always ``None``: snapshots carry no exchange time; use the receive time.

    """

    market_ticker: str
    market_id: str | None = None
    yes_levels: tuple[tuple[int, int], ...] = ()
    no_levels: tuple[tuple[int, int], ...] = ()
    ts_ms: int | None = None


class OrderbookDelta(_Event, frozen=True, kw_only=True, gc=False):
    """``orderbook_delta``: one level changed: ``new_size = old_size + delta`` (kalshi-api.md §6.5).

    Attributes:
        market_ticker: the market.
        market_id: the market UUID, when sent.
        side: ``"yes"`` or ``"no"``: which side's BIDS changed.
        price_cc: the level's price in centi-cents (from ``price_dollars``, or legacy ``price`` cents x 100).
        delta_lots: signed change in lots (from ``delta_fp``, or legacy ``delta`` contracts x 100).
        ts_ms: exchange time in Unix ms (``ts_ms``; else derived from ``ts``: ISO text, or a legacy
            integer taken as ms when >= 10**11 and as seconds otherwise); ``None`` when neither was sent.
        ts: the raw deprecated ``ts`` field (ISO text or legacy int), kept for audit.
        client_order_id: set only when YOUR order caused the change.
        subaccount: set only when your order caused the change.

    """

    market_ticker: str
    side: Side
    price_cc: int
    delta_lots: int
    market_id: str | None = None
    ts_ms: int | None = None
    ts: str | int | None = None
    client_order_id: str | None = None
    subaccount: int | None = None


class Trade(_Event, frozen=True, kw_only=True, gc=False):
    """``trade``: a public execution (kalshi-api.md §6.5 trade, §8 direction).

    The taker bought ``taker_outcome_side``: a YES taker (``taker_book_side == "bid"``) lifted NO bids at
    ``no_price_cc``; a NO taker (``"ask"``) hit YES bids at ``yes_price_cc``.

    Attributes:
        trade_id: the trade UUID (``None`` if absent).
        market_ticker: the market.
        yes_price_cc: YES price in centi-cents; ``no_price_cc`` = 10,000 - ``yes_price_cc`` (checked when both
            are sent).
        no_price_cc: NO price in centi-cents.
        count_lots: contracts traded, in lots (> 0).
        taker_outcome_side: ``"yes"``/``"no"``: the outcome the taker bought (``taker_side`` on old frames).
        taker_book_side: ``"bid"``/``"ask"``: derived from the outcome side when absent.
        taker_side: the raw deprecated ``taker_side``.
        is_block_trade: when sent.
        ts_s: Unix seconds (``ts``).
        ts_ms: Unix ms (``ts_ms``; else ``ts * 1000``).

    """

    market_ticker: str
    yes_price_cc: int
    no_price_cc: int
    count_lots: int
    taker_outcome_side: Side
    taker_book_side: Literal["bid", "ask"]
    trade_id: str | None = None
    taker_side: str | None = None
    is_block_trade: bool | None = None
    ts_s: int | None = None
    ts_ms: int | None = None


class Ticker(_Event, frozen=True, kw_only=True):
    """``ticker``: top of book and activity of one market; no ``seq`` (kalshi-api.md §6.5 ticker).

    Prices in centi-cents (``price_cc`` = last trade), sizes/volumes in lots, ``dollar_volume`` and
    ``dollar_open_interest`` in WHOLE dollars (ints on the wire in every era, §4). Any field may be ``None``
    when not sent.
    """

    market_ticker: str
    market_id: str | None = None
    price_cc: int | None = None
    yes_bid_cc: int | None = None
    yes_ask_cc: int | None = None
    yes_bid_size_lots: int | None = None
    yes_ask_size_lots: int | None = None
    last_trade_size_lots: int | None = None
    volume_lots: int | None = None
    open_interest_lots: int | None = None
    dollar_volume: int | None = None
    dollar_open_interest: int | None = None
    ts_s: int | None = None
    ts_ms: int | None = None


class TickerV2(_Event, frozen=True, kw_only=True):
    """``ticker_v2`` (older docs): incremental ticker with a subset of fields (kalshi-api.md §6.5).

    ``*_delta_lots`` are signed changes in lots; ``dollar_*_delta`` are whole dollars; prices centi-cents.
    """

    market_ticker: str
    market_id: str | None = None
    price_cc: int | None = None
    yes_bid_cc: int | None = None
    yes_ask_cc: int | None = None
    volume_delta_lots: int | None = None
    open_interest_delta_lots: int | None = None
    dollar_volume_delta: int | None = None
    dollar_open_interest_delta: int | None = None
    ts_s: int | None = None


class Fill(_Event, frozen=True, kw_only=True):
    """``fill``: one of YOUR fills (private; no ``seq``; kalshi-api.md §6.5 fill, §8 direction).

    Attributes:
        order_id, trade_id, client_order_id, market_ticker: identity.
        yes_price_cc: YES price in centi-cents (``yes_price_dollars`` or legacy ``yes_price`` cents).
        count_lots: filled lots (``count_fp`` or legacy ``count``).
        fee_cost_dollars: fee in Decimal dollars (``fee_cost``), when sent.
        post_position_lots: signed position after the fill (+ YES, - NO), when sent.
        side, action, outcome_side, book_side, purchased_side: direction fields as sent (see §8).
        is_taker, exchange_index, subaccount: as sent.
        ts_s, ts_ms: Unix seconds / ms.

    """

    market_ticker: str
    order_id: str
    yes_price_cc: int
    count_lots: int
    trade_id: str | None = None
    client_order_id: str | None = None
    is_taker: bool | None = None
    side: str | None = None
    action: str | None = None
    outcome_side: str | None = None
    book_side: str | None = None
    purchased_side: str | None = None
    fee_cost_dollars: Decimal | None = None
    post_position_lots: int | None = None
    exchange_index: int | None = None
    subaccount: int | None = None
    ts_s: int | None = None
    ts_ms: int | None = None

    @property
    def no_price_cc(self) -> int:
        """NO price in centi-cents: 10,000 - ``yes_price_cc`` (§8)."""
        return PRICE_CC_PER_DOLLAR - self.yes_price_cc

    @property
    def yes_price_dollars(self) -> Decimal:
        """YES price in exact Decimal dollars (the domain's unit, docs/architecture.md "Units")."""
        return cc_to_dollars(self.yes_price_cc)

    @property
    def count_contracts(self) -> Decimal:
        """Filled contracts, exact Decimal."""
        return lots_to_contracts(self.count_lots)

    @property
    def post_position_contracts(self) -> Decimal | None:
        """Signed position after the fill (+ YES, - NO) in exact Decimal contracts, when sent."""
        return None if self.post_position_lots is None else lots_to_contracts(self.post_position_lots)


class MarketPositionUpdate(_Event, frozen=True, kw_only=True):
    """``market_position``: your position in one market (private; no ``seq``; kalshi-api.md §6.5).

    Money is Decimal dollars: from ``*_dollars`` strings, or from the legacy integer fields, which were
    CENTI-CENTS (``position_cost: 500000`` -> ``Decimal("50.0000")``, the §6.5 units trap).

    Attributes:
        market_ticker: the market.
        position_lots: signed position in lots (+ YES, - NO; ``position_fp`` or legacy ``position``).
        position_cost_dollars, realized_pnl_dollars, fees_paid_dollars, position_fee_cost_dollars: dollars.
        volume_lots: traded volume in lots.
        user_id, subaccount: as sent.

    """

    market_ticker: str
    position_lots: int
    user_id: str | None = None
    position_cost_dollars: Decimal | None = None
    realized_pnl_dollars: Decimal | None = None
    fees_paid_dollars: Decimal | None = None
    position_fee_cost_dollars: Decimal | None = None
    volume_lots: int | None = None
    subaccount: int | None = None

    @property
    def position_contracts(self) -> Decimal:
        """Signed position (+ YES, - NO) in exact Decimal contracts (the domain's unit)."""
        return lots_to_contracts(self.position_lots)


class UserOrderUpdate(_Event, frozen=True, kw_only=True):
    """``user_order``: a snapshot of one of YOUR orders on create and every change (kalshi-api.md §6.5).

    Prices centi-cents, counts lots, costs and fees Decimal dollars (legacy integer costs/fees are taken as
    cents, as on the REST Order object, §3.5 [unverified for this channel]); times Unix ms.
    """

    order_id: str
    ticker: str
    status: str
    user_id: str | None = None
    client_order_id: str | None = None
    order_group_id: str | None = None
    side: str | None = None
    is_yes: bool | None = None
    outcome_side: str | None = None
    book_side: str | None = None
    yes_price_cc: int | None = None
    fill_count_lots: int | None = None
    remaining_count_lots: int | None = None
    initial_count_lots: int | None = None
    taker_fill_cost_dollars: Decimal | None = None
    maker_fill_cost_dollars: Decimal | None = None
    taker_fees_dollars: Decimal | None = None
    maker_fees_dollars: Decimal | None = None
    self_trade_prevention_type: str | None = None
    created_ts_ms: int | None = None
    last_updated_ts_ms: int | None = None
    expiration_ts_ms: int | None = None
    last_update_reason: str | None = None
    exchange_index: int | None = None
    subaccount_number: int | None = None


class OrderGroupUpdate(_Event, frozen=True, kw_only=True):
    """``order_group_updates``: an order-group event (private; has ``seq``; kalshi-api.md §6.5, §3.7).

    Attributes:
        event_type: ``created``, ``triggered``, ``reset``, ``deleted`` or ``limit_updated``.
        order_group_id: the group.
        contracts_limit_lots: the limit in lots (on ``created``/``limit_updated`` only).
        ts_ms: Unix ms.

    """

    event_type: str
    order_group_id: str
    contracts_limit_lots: int | None = None
    ts_ms: int | None = None


class PriceBand(msgspec.Struct, frozen=True):
    """One band of a tick grid in centi-cents: prices ``start_cc <= p <= end_cc`` stepping by ``step_cc`` (§4)."""

    start_cc: int
    end_cc: int
    step_cc: int


class MarketLifecycle(_Event, frozen=True, kw_only=True):
    """``market_lifecycle_v2``: a market state change (kalshi-api.md §6.5, §7). Times are Unix SECONDS.

    Attributes:
        market_ticker: the market.
        event_type: ``created``, ``activated``, ``deactivated``, ``close_date_updated``, ``determined``,
            ``settled``, ``price_level_structure_updated`` or ``metadata_updated``.
        open_ts, close_ts, determination_ts, settled_ts: Unix seconds, when sent.
        result: on ``determined``.
        settlement_value_dollars: on ``determined`` (dollar string; a legacy int is taken as cents).
        is_deactivated: on (de)activation.
        price_level_structure, price_ranges: on ``created``/``price_level_structure_updated``.
        exchange_index: on ``created``.
        additional_metadata: the raw ``additional_metadata`` object on ``created``.

    """

    market_ticker: str
    event_type: str
    exchange_index: int | None = None
    open_ts: int | None = None
    close_ts: int | None = None
    determination_ts: int | None = None
    settled_ts: int | None = None
    result: str | None = None
    settlement_value_dollars: Decimal | None = None
    is_deactivated: bool | None = None
    price_level_structure: str | None = None
    price_ranges: tuple[PriceBand, ...] | None = None
    additional_metadata: dict[str, Any] | None = None


class EventLifecycle(_Event, frozen=True, kw_only=True):
    """``event_lifecycle``: an event was created or changed (kalshi-api.md §6.5 market_lifecycle_v2)."""

    event_ticker: str
    exchange_index: int | None = None
    title: str | None = None
    subtitle: str | None = None
    collateral_return_type: str | None = None
    series_ticker: str | None = None
    strike_date: int | None = None
    strike_period: str | None = None


class Subscribed(_Event, frozen=True, kw_only=True):
    """``subscribed``: the channel ``channel`` now streams under ``sid`` (taken from ``msg.sid``; §6.3)."""

    channel: str


class SubscriptionInfo(msgspec.Struct, frozen=True):
    """One entry of a ``list_subscriptions`` reply: a channel and its sid (§6.3)."""

    channel: str
    sid: int


class Ok(_Event, frozen=True, kw_only=True):
    """``ok``: a command succeeded (§6.3).

    Attributes:
        market_tickers: the full market list after ``update_subscription``, when sent.
        subscriptions: the reply to ``list_subscriptions`` (``msg`` is a list), when sent.

    """

    market_tickers: tuple[str, ...] | None = None
    subscriptions: tuple[SubscriptionInfo, ...] | None = None


class Unsubscribed(_Event, frozen=True, kw_only=True):
    """``unsubscribed``: the subscription ``sid`` ended (§6.3)."""


class ErrorMessage(_Event, frozen=True, kw_only=True):
    """``error``: a command or subscription failed (§6.3).

    Attributes:
        code: Kalshi's numeric WS error code (see :data:`ERROR_CODE_NAMES`).
        message: Kalshi's text.
        market_ticker, market_tickers: the markets concerned, when sent.

    """

    code: int
    message: str = ""
    market_ticker: str | None = None
    market_tickers: tuple[str, ...] | None = None

    @property
    def terminal(self) -> bool:
        """Whether the subscription is dead and must be re-created (codes 10 and 25, §6.3)."""
        return self.code in TERMINAL_ERROR_CODES

    @property
    def code_name(self) -> str:
        """Kalshi's documented meaning of ``code``, or ``"unknown"``."""
        return ERROR_CODE_NAMES.get(self.code, "unknown")


class UnknownMessage(_Event, frozen=True, kw_only=True):
    """A well-formed frame whose ``type`` this parser does not know: count it, never crash.

    Attributes:
        type: the frame's ``type``.
        msg: the decoded ``msg`` payload (plain JSON values), or ``None``.
        raw: the frame exactly as received.

    """

    type: str
    msg: Any = None
    raw: bytes | str = b""


class FrameError(_Event, frozen=True, kw_only=True):
    """A frame that could not be parsed: count it; never raised.

    Attributes:
        raw: the frame exactly as received (whatever object was passed in).
        reason: what was wrong, one line.
        type: the frame's ``type`` when it could be read (e.g. ``"orderbook_delta"``), else ``None``.
        market_ticker: the frame's ``msg.market_ticker`` when it could be read, else ``None``; a FrameError
            of an order-book type means that market's book missed an update.

    """

    raw: Any
    reason: str
    type: str | None = None
    market_ticker: str | None = None


WsEvent: TypeAlias = (
    OrderbookSnapshot
    | OrderbookDelta
    | Trade
    | Ticker
    | TickerV2
    | Fill
    | MarketPositionUpdate
    | UserOrderUpdate
    | OrderGroupUpdate
    | MarketLifecycle
    | EventLifecycle
    | Subscribed
    | Ok
    | Unsubscribed
    | ErrorMessage
    | UnknownMessage
    | FrameError
)
"""Everything :func:`parse_frame` can return."""

MESSAGE_TYPE_OF: Final[dict[type, str]] = {
    OrderbookSnapshot: "orderbook_snapshot",
    OrderbookDelta: "orderbook_delta",
    Trade: "trade",
    Ticker: "ticker",
    TickerV2: "ticker_v2",
    Fill: "fill",
    MarketPositionUpdate: "market_position",
    UserOrderUpdate: "user_order",
    OrderGroupUpdate: "order_group_updates",
    MarketLifecycle: "market_lifecycle_v2",
    EventLifecycle: "event_lifecycle",
    Subscribed: "subscribed",
    Ok: "ok",
    Unsubscribed: "unsubscribed",
    ErrorMessage: "error",
}
"""The wire ``type`` of each event class with a fixed type (:class:`UnknownMessage` and :class:`FrameError`
carry the type they were given, if any, in their ``type`` attribute)."""
