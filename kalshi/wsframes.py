"""Kalshi WebSocket frames parsed ONCE, at the edge, into typed, exact events (kalshi-api.md §6).

:func:`parse_frame` turns one text frame (``bytes`` or ``str`` JSON) into exactly one typed event and
never raises for bad input:

* a known message type -> its event class (:class:`OrderbookSnapshot`, :class:`OrderbookDelta`,
  :class:`Trade`, :class:`Ticker`, :class:`TickerV2`, :class:`Fill`, :class:`MarketPositionUpdate`,
  :class:`UserOrderUpdate`, :class:`OrderGroupUpdate`, :class:`MarketLifecycle`, :class:`EventLifecycle`,
  :class:`Subscribed`, :class:`Ok`, :class:`Unsubscribed`, :class:`ErrorMessage`);
* a well-formed frame of a type this module does not know -> :class:`UnknownMessage` (count it);
* anything malformed (bad JSON, not an object, missing or mistyped fields, a float where money or a count
  belongs, a price outside $0..$1 or finer than $0.0001, a count finer than 0.01) -> :class:`FrameError`
  carrying the raw frame and the reason (count it; a FrameError of an order-book type means the book of
  that market can no longer be trusted, see :meth:`kalshi.orderbook.BookStore.apply`).

Both wire eras are read (§0, §4): the current fixed-point fields (``*_dollars`` 4-dp dollar strings,
``*_fp`` 2-dp count strings) and the legacy integers (prices in cents, counts in whole contracts, and the
CENTI-CENT money of old ``market_position`` frames). When both are present the fixed-point field wins.

Units (every number is exact; floats are never produced and never accepted for money or counts):

* prices are ``int`` **centi-cents** (``*_cc``): $1 = 10,000, so ``"0.4800"`` -> ``4800``; legacy cents
  ``48`` -> ``4800``. $0.0001 is the finest price on the wire (§4), so every price fits exactly;
* contract counts are ``int`` **lots** (``*_lots``) of 1/100 contract, the ``_fp`` granularity (§4):
  ``"46.02"`` -> ``4602``; legacy whole contracts ``46`` -> ``4600``. Signed where the field is signed
  (``delta_lots``, ``position_lots``: + = YES, - = NO, §8);
* other money (costs, fees, P&L, up to 6 dp) is :class:`~decimal.Decimal` **dollars** (``*_dollars``);
* times are ``int`` Unix **milliseconds** (``*_ts_ms``/``ts_ms``) or **seconds** (``ts_s``, ``*_ts``)
  as named.

Speed. Order-book deltas arrive by the hundred thousand per market and hour, so ``orderbook_delta``,
``orderbook_snapshot`` and ``trade`` take a fast path: one :mod:`msgspec` decode straight into typed wire
structs (no intermediate dict, no pydantic), then string -> scaled-int conversion through small bounded
caches (a market has at most 10,001 distinct price strings and a few thousand distinct delta strings), with
an exact parser (and a :class:`~decimal.Decimal` fallback for unusual spellings such as ``"4.8E-1"``) on a
miss. The slow path (every other type, and the error reporting of the hot ones) decodes to plain Python
objects and validates field by field; both paths produce identical events (tested on the recorded tapes).
Events are light immutable :class:`msgspec.Struct` objects; hot ones are not tracked by the cyclic GC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal, TypeAlias

import msgspec

__all__ = [
    "ERROR_CODE_NAMES",
    "HOT_MESSAGE_TYPES",
    "KNOWN_MESSAGE_TYPES",
    "LOTS_PER_CONTRACT",
    "PRICE_CC_PER_DOLLAR",
    "TERMINAL_ERROR_CODES",
    "ErrorMessage",
    "EventLifecycle",
    "Fill",
    "FixedPointError",
    "FrameError",
    "MarketLifecycle",
    "MarketPositionUpdate",
    "Ok",
    "OrderGroupUpdate",
    "OrderbookDelta",
    "OrderbookSnapshot",
    "PriceBand",
    "Subscribed",
    "SubscriptionInfo",
    "Ticker",
    "TickerV2",
    "Trade",
    "UnknownMessage",
    "Unsubscribed",
    "UserOrderUpdate",
    "WsEvent",
    "cc_to_dollars",
    "count_to_lots",
    "format_lots",
    "format_price_cc",
    "iso_to_ts_ms",
    "lots_to_contracts",
    "parse_frame",
    "price_to_cc",
]

PRICE_CC_PER_DOLLAR: Final = 10_000
"""Centi-cents per dollar: prices are carried as ``int`` centi-cents ($0.0001, the finest wire tick, §4)."""

LOTS_PER_CONTRACT: Final = 100
"""Lots per contract: counts are carried as ``int`` hundredths of a contract (the ``_fp`` granularity, §4)."""

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
# Exact fixed-point conversion
# --------------------------------------------------------------------------------------------------


class FixedPointError(ValueError):
    """A wire number could not be represented exactly in the requested scaled-integer unit.

    Raised by :func:`price_to_cc` and :func:`count_to_lots` for non-strings, non-numeric text, NaN or
    infinities, values finer than the unit (e.g. ``"0.48005"`` dollars, ``"1.005"`` contracts), prices
    outside $0..$1, negative counts where a count cannot be negative, and absurd magnitudes.
    """


_PLAIN_FIXED = re.compile(r"(-?)([0-9]{1,18})(?:\.([0-9]+))?")
"""The canonical spelling (``-?digits(.digits)?``, ASCII digits only), parsed without Decimal."""

_DECIMAL_SPELLING = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
"""Other exact spellings accepted through the Decimal fallback (``"+0.48"``, ``".48"``, ``"4.8E-1"``)."""

_MAX_SCALED: Final = 10**18
"""Largest magnitude accepted for a scaled value (far beyond any real price, count or position)."""

_CACHE_LIMIT: Final = 1 << 15
"""Most entries kept per conversion cache (bounded memory: a few MB per cache when full)."""

_PRICE_CACHE: dict[str, int] = {}
"""Price text -> centi-cents, for texts that parsed successfully (bounded by ``_CACHE_LIMIT``)."""

_LOTS_CACHE: dict[str, int] = {}
"""Signed count text -> lots, for texts that parsed successfully (bounded by ``_CACHE_LIMIT``)."""


def _to_scaled(text: str, places: int) -> int:
    """Exact ``text * 10**places`` as an int, or :class:`FixedPointError` (no caching, no range check)."""
    m = _PLAIN_FIXED.fullmatch(text)
    if m is not None:
        sign, whole, frac = m.groups()
        if frac is None:
            frac = ""
        if len(frac) > places:
            if frac[places:].strip("0"):
                raise FixedPointError(f"{text!r} is finer than 1e-{places}")
            frac = frac[:places]
        value = int(whole + frac.ljust(places, "0"))
    elif _DECIMAL_SPELLING.fullmatch(text):
        try:
            scaled = Decimal(text).scaleb(places)
        except InvalidOperation as exc:  # pragma: no cover - the regex admits only finite numbers
            raise FixedPointError(f"not a number: {text!r}") from exc
        if scaled != scaled.to_integral_value():
            raise FixedPointError(f"{text!r} is finer than 1e-{places}")
        value = int(scaled)
        sign = ""
    else:
        raise FixedPointError(f"not a fixed-point number: {text!r}")
    if abs(value) >= _MAX_SCALED:
        raise FixedPointError(f"{text!r} is out of range")
    return -value if sign else value


def price_to_cc(text: str) -> int:
    """Convert a dollar price string to exact integer centi-cents: ``"0.4800" -> 4800`` (kalshi-api.md §4).

    Args:
        text: a ``*_dollars`` price string, 4 dp on the wire (2-4 dp and exponent spellings are accepted
            when exact).

    Returns:
        The price in centi-cents, ``0 <= cc <= 10_000`` ($0 to $1 inclusive; an empty ticker side shows
        ``"0.0000"``/``"1.0000"``).

    Raises:
        FixedPointError: ``text`` is not a string, is not a finite number, has a non-zero digit beyond the
            4th decimal place, or lies outside $0..$1.

    """
    cached = _PRICE_CACHE.get(text)
    if cached is not None:
        return cached
    if type(text) is not str:
        raise FixedPointError(f"price must be a dollar string, got {type(text).__name__} {text!r}")
    value = _to_scaled(text, 4)
    if not 0 <= value <= PRICE_CC_PER_DOLLAR:
        raise FixedPointError(f"price {text!r} is outside $0..$1")
    if len(_PRICE_CACHE) < _CACHE_LIMIT:
        _PRICE_CACHE[text] = value
    return value


def count_to_lots(text: str, *, signed: bool = True) -> int:
    """Convert a contract-count string to exact integer lots (1/100 contract): ``"46.02" -> 4602`` (§4).

    Args:
        text: a ``*_fp`` count string (2 dp on the wire; 0-2 dp and exponent spellings accepted when exact).
        signed: ``False`` refuses negative values (sizes, volumes); deltas and positions are signed.

    Returns:
        The count in lots (signed when ``signed``).

    Raises:
        FixedPointError: ``text`` is not a string, not a finite number, finer than 0.01 contract, absurdly
            large, or negative while ``signed`` is ``False``.

    """
    value = _LOTS_CACHE.get(text)
    if value is None:
        if type(text) is not str:
            raise FixedPointError(f"count must be a fixed-point string, got {type(text).__name__} {text!r}")
        value = _to_scaled(text, 2)
        if len(_LOTS_CACHE) < _CACHE_LIMIT:
            _LOTS_CACHE[text] = value
    if value < 0 and not signed:
        raise FixedPointError(f"count {text!r} must not be negative")
    return value


def cc_to_dollars(cc: int) -> Decimal:
    """Centi-cents -> exact Decimal dollars with 4 dp: ``4800 -> Decimal("0.4800")``."""
    return Decimal(cc).scaleb(-4)


def lots_to_contracts(lots: int) -> Decimal:
    """Lots (1/100 contract) -> exact Decimal contracts with 2 dp: ``4602 -> Decimal("46.02")``."""
    return Decimal(lots).scaleb(-2)


def format_price_cc(cc: int) -> str:
    """Centi-cents -> the wire's 4-dp dollar string: ``4800 -> "0.4800"`` (negative values keep their sign)."""
    sign = "-" if cc < 0 else ""
    q, r = divmod(abs(cc), PRICE_CC_PER_DOLLAR)
    return f"{sign}{q}.{r:04d}"


def format_lots(lots: int) -> str:
    """Lots -> the wire's 2-dp ``_fp`` string: ``4602 -> "46.02"``, ``-990 -> "-9.90"``."""
    sign = "-" if lots < 0 else ""
    q, r = divmod(abs(lots), LOTS_PER_CONTRACT)
    return f"{sign}{q}.{r:02d}"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def iso_to_ts_ms(text: str) -> int:
    """Parse an RFC 3339 / ISO 8601 time (``"2026-08-11T01:15:15.566273Z"``) to Unix milliseconds, exactly.

    Fractions below a millisecond are truncated (floor), matching Kalshi's ``ts_ms`` twin. A time without an
    offset is taken as UTC.

    Raises:
        ValueError: ``text`` is not an ISO 8601 time.

    """
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // _ONE_MS


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


# --------------------------------------------------------------------------------------------------
# Fast path: typed msgspec decode of the hot message types
# --------------------------------------------------------------------------------------------------


class _Bad(Exception):
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


class _WireDelta(msgspec.Struct, tag_field="type", tag="orderbook_delta", gc=False):
    sid: int
    seq: int
    msg: _WireDeltaMsg
    id: int | None = None


class _WireSnapshot(msgspec.Struct, tag_field="type", tag="orderbook_snapshot", gc=False):
    sid: int
    seq: int
    msg: _WireSnapshotMsg
    id: int | None = None


class _WireTrade(msgspec.Struct, tag_field="type", tag="trade", gc=False):
    sid: int
    seq: int
    msg: _WireTradeMsg
    id: int | None = None


_UNDECODABLE: Final = (msgspec.DecodeError, TypeError, ValueError, RecursionError)
"""What decoding a frame can raise: bad JSON, a non-buffer input, invalid UTF-8, absurd nesting."""

_HOT_DECODER: Final = msgspec.json.Decoder(_WireDelta | _WireSnapshot | _WireTrade)
_ANY_DECODER: Final = msgspec.json.Decoder()
_WIRE_TYPES: Final[dict[str, type[msgspec.Struct]]] = {
    "orderbook_delta": _WireDelta,
    "orderbook_snapshot": _WireSnapshot,
    "trade": _WireTrade,
}

HOT_MESSAGE_TYPES: Final = frozenset(_WIRE_TYPES)
"""Message types decoded on the fast path."""


def _ts_from_legacy(ts: str | int) -> int:
    """Exchange ms from a delta's deprecated ``ts``: ISO text, or an int (ms when >= 1e11, else seconds)."""
    if type(ts) is str:
        try:
            return iso_to_ts_ms(ts)
        except ValueError as exc:
            raise _Bad(f"ts: not an ISO time: {ts!r}") from exc
    if type(ts) is not int:
        raise _Bad(f"ts: expected ISO text or integer, got {type(ts).__name__}")
    return ts if ts >= 100_000_000_000 else ts * 1000


def _price_field(text: str, key: str) -> int:
    """:func:`price_to_cc` with the field name in the error (cache-miss path)."""
    try:
        return price_to_cc(text)
    except FixedPointError as exc:
        raise _Bad(f"{key}: {exc}") from exc


def _lots_field(text: str, key: str, *, signed: bool) -> int:
    """:func:`count_to_lots` with the field name in the error (cache-miss path)."""
    try:
        return count_to_lots(text, signed=signed)
    except FixedPointError as exc:
        raise _Bad(f"{key}: {exc}") from exc


def _delta_event(w: _WireDelta) -> OrderbookDelta:
    """Convert a decoded wire delta to :class:`OrderbookDelta` (raises _Bad / FixedPointError)."""
    m = w.msg
    text = m.price_dollars
    if text is not None:
        price = _PRICE_CACHE.get(text)
        if price is None:
            price = _price_field(text, "price_dollars")
    elif m.price is not None:
        price = _legacy_cents_to_cc(m.price, "price")
    else:
        raise _Bad("missing price_dollars")
    text = m.delta_fp
    if text is not None:
        delta = _LOTS_CACHE.get(text)
        if delta is None:
            delta = _lots_field(text, "delta_fp", signed=True)
    elif m.delta is not None:
        delta = _legacy_count_to_lots(m.delta, "delta", signed=True)
    else:
        raise _Bad("missing delta_fp")
    ts_ms = m.ts_ms
    if ts_ms is None and m.ts is not None:
        ts_ms = _ts_from_legacy(m.ts)
    if not m.market_ticker:
        raise _Bad("empty market_ticker")
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
            raise _Bad(f"{where}: level must be [price, size], got {pair!r}")
        price, size = pair[0], pair[1]
        if type(price) is str:
            cc = _price_field(price, where)
        elif type(price) is int and legacy_cents:
            cc = _legacy_cents_to_cc(price, where)
        else:
            raise _Bad(f"{where}: price must be a dollar string, got {type(price).__name__} {price!r}")
        if type(size) is str:
            lots = _lots_field(size, where, signed=True)
        elif type(size) is int:
            lots = _legacy_count_to_lots(size, where, signed=True)
        else:
            raise _Bad(f"{where}: size must be a fixed-point string, got {type(size).__name__} {size!r}")
        out.append((cc, lots))
    return tuple(out)


def _snapshot_side(fp: list[Any] | None, dollars: list[Any] | None, legacy: list[Any] | None, side: str) -> Any:
    """Pick the most precise representation of one snapshot side (fp > dollars > legacy cents)."""
    if fp is not None:
        return _levels(fp, f"{side}_dollars_fp", legacy_cents=False)
    if dollars is not None:
        return _levels(dollars, f"{side}_dollars", legacy_cents=False)
    return _levels(legacy, side, legacy_cents=True)


def _snapshot_event(w: _WireSnapshot) -> OrderbookSnapshot:
    """Convert a decoded wire snapshot to :class:`OrderbookSnapshot`."""
    m = w.msg
    if not m.market_ticker:
        raise _Bad("empty market_ticker")
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


def _trade_event(w: _WireTrade) -> Trade:
    """Convert a decoded wire trade to :class:`Trade` (prices checked to sum to $1, §8)."""
    m = w.msg
    if not m.market_ticker:
        raise _Bad("empty market_ticker")
    if m.yes_price_dollars is not None:
        yes_cc = _price_field(m.yes_price_dollars, "yes_price_dollars")
    elif m.yes_price is not None:
        yes_cc = _legacy_cents_to_cc(m.yes_price, "yes_price")
    else:
        yes_cc = None
    if m.no_price_dollars is not None:
        no_cc = _price_field(m.no_price_dollars, "no_price_dollars")
    elif m.no_price is not None:
        no_cc = _legacy_cents_to_cc(m.no_price, "no_price")
    else:
        no_cc = None
    if yes_cc is None:
        if no_cc is None:
            raise _Bad("missing yes_price_dollars")
        yes_cc = PRICE_CC_PER_DOLLAR - no_cc
    elif no_cc is None:
        no_cc = PRICE_CC_PER_DOLLAR - yes_cc
    elif yes_cc + no_cc != PRICE_CC_PER_DOLLAR:
        raise _Bad(f"yes price {yes_cc}cc + no price {no_cc}cc != $1")
    if m.count_fp is not None:
        count = _lots_field(m.count_fp, "count_fp", signed=False)
    elif m.count is not None:
        count = _legacy_count_to_lots(m.count, "count", signed=False)
    else:
        raise _Bad("missing count_fp")
    outcome_raw = m.taker_outcome_side or m.taker_side
    book_side = m.taker_book_side
    if outcome_raw is None:
        if book_side is None:
            raise _Bad("missing taker_outcome_side / taker_side / taker_book_side")
        outcome_raw = _OUTCOME_OF_BOOK_SIDE.get(book_side)
    if outcome_raw == "yes":
        outcome: Side = "yes"
    elif outcome_raw == "no":
        outcome = "no"
    else:
        raise _Bad(f"taker side must be yes/no, got {outcome_raw!r}")
    expected_book = _BOOK_SIDE_OF_OUTCOME[outcome]
    if book_side is not None and book_side != expected_book:
        raise _Bad(f"taker_book_side {book_side!r} contradicts taker outcome {outcome!r}")
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


def _legacy_cents_to_cc(value: Any, where: str) -> int:
    """Legacy integer cents (0..100) -> centi-cents."""
    if type(value) is not int:
        raise _Bad(f"{where}: expected integer cents, got {type(value).__name__} {value!r}")
    if not 0 <= value <= 100:
        raise _Bad(f"{where}: {value} cents is outside $0..$1")
    return value * 100


def _legacy_count_to_lots(value: Any, where: str, *, signed: bool) -> int:
    """Legacy integer contracts -> lots."""
    if type(value) is not int:
        raise _Bad(f"{where}: expected integer contracts, got {type(value).__name__} {value!r}")
    if value < 0 and not signed:
        raise _Bad(f"{where}: count must not be negative, got {value}")
    if abs(value) * LOTS_PER_CONTRACT >= _MAX_SCALED:
        raise _Bad(f"{where}: {value} is out of range")
    return value * LOTS_PER_CONTRACT


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
        wire = _HOT_DECODER.decode(raw)
    except msgspec.ValidationError:
        return _parse_slow(raw)
    except _UNDECODABLE as exc:
        return FrameError(raw=raw, reason=f"invalid JSON: {type(exc).__name__}: {exc}")
    try:
        if type(wire) is _WireDelta:
            return _delta_event(wire)
        if type(wire) is _WireSnapshot:
            return _snapshot_event(wire)
        return _trade_event(wire)
    except Exception as exc:  # _Bad, FixedPointError; anything else would be a bug, still never a crash
        tag = _WIRE_TAGS[type(wire)]
        return FrameError(
            raw=raw,
            reason=f"{tag}: {exc}" if isinstance(exc, _Bad | FixedPointError) else f"{tag}: internal error {exc!r}",
            type=tag,
            market_ticker=wire.msg.market_ticker or None,
            sid=wire.sid,
            seq=wire.seq,
            id=wire.id,
        )


_WIRE_TAGS: Final[dict[type, str]] = {v: k for k, v in _WIRE_TYPES.items()}


# --------------------------------------------------------------------------------------------------
# Slow path: every other message type, and error reporting for the hot ones
# --------------------------------------------------------------------------------------------------


def _opt_int(d: dict[str, Any], key: str) -> int | None:
    """``d[key]`` as an int (JSON integer; bools and floats refused), or ``None`` when absent/null."""
    v = d.get(key)
    if v is None:
        return None
    if type(v) is not int:
        raise _Bad(f"{key}: expected integer, got {type(v).__name__} {v!r}")
    return v


def _req_int(d: dict[str, Any], key: str) -> int:
    """Required ``d[key]`` as an int."""
    v = _opt_int(d, key)
    if v is None:
        raise _Bad(f"missing {key}")
    return v


def _opt_str(d: dict[str, Any], key: str) -> str | None:
    """``d[key]`` as a string, or ``None`` when absent/null."""
    v = d.get(key)
    if v is None:
        return None
    if type(v) is not str:
        raise _Bad(f"{key}: expected string, got {type(v).__name__} {v!r}")
    return v


def _req_str(d: dict[str, Any], key: str) -> str:
    """Required non-empty ``d[key]`` as a string."""
    v = _opt_str(d, key)
    if not v:
        raise _Bad(f"missing {key}")
    return v


def _opt_bool(d: dict[str, Any], key: str) -> bool | None:
    """``d[key]`` as a bool, or ``None`` when absent/null."""
    v = d.get(key)
    if v is None:
        return None
    if type(v) is not bool:
        raise _Bad(f"{key}: expected boolean, got {type(v).__name__} {v!r}")
    return v


def _money_type_error(key: str, v: Any) -> _Bad:
    if type(v) is float:
        return _Bad(f"{key}: refusing float {v!r}: money and counts must be fixed-point strings")
    return _Bad(f"{key}: expected a fixed-point string, got {type(v).__name__} {v!r}")


def _opt_price(d: dict[str, Any], key: str, legacy: str | None = None) -> int | None:
    """A price in centi-cents from ``key`` (dollar string) or ``legacy`` (int cents); ``None`` when absent."""
    v = d.get(key)
    if v is not None:
        if type(v) is not str:
            raise _money_type_error(key, v)
        try:
            return price_to_cc(v)
        except FixedPointError as exc:
            raise _Bad(f"{key}: {exc}") from exc
    if legacy is not None:
        v = d.get(legacy)
        if v is not None:
            if type(v) is not int:
                raise _money_type_error(legacy, v)
            return _legacy_cents_to_cc(v, legacy)
    return None


def _opt_lots(d: dict[str, Any], key: str, legacy: str | None = None, *, signed: bool = False) -> int | None:
    """A count in lots from ``key`` (``_fp`` string) or ``legacy`` (int contracts); ``None`` when absent."""
    v = d.get(key)
    if v is not None:
        if type(v) is not str:
            raise _money_type_error(key, v)
        try:
            return count_to_lots(v, signed=signed)
        except FixedPointError as exc:
            raise _Bad(f"{key}: {exc}") from exc
    if legacy is not None:
        v = d.get(legacy)
        if v is not None:
            if type(v) is not int:
                raise _money_type_error(legacy, v)
            return _legacy_count_to_lots(v, legacy, signed=signed)
    return None


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
            raise _Bad(f"{key}: not a dollar amount: {v!r}")
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
        raise _Bad(f"missing {key}")
    return value


def _msg(d: dict[str, Any]) -> dict[str, Any]:
    m = d.get("msg")
    if not isinstance(m, dict):
        raise _Bad("missing msg object")
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
        raise _Bad(f"price_ranges: expected a list, got {type(value).__name__}")
    bands: list[PriceBand] = []
    for item in value:
        if not isinstance(item, dict):
            raise _Bad(f"price_ranges: expected objects, got {item!r}")
        start = _req(_opt_price(item, "start", "start_dollars"), "price_ranges.start")
        end = _req(_opt_price(item, "end", "end_dollars"), "price_ranges.end")
        step = _req(_opt_price(item, "step", "step_dollars"), "price_ranges.step")
        if step <= 0 or end < start:
            raise _Bad(f"price_ranges: invalid band {item!r}")
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
        raise _Bad("additional_metadata: expected an object")
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
        raise _Bad(f"{key}: expected a list of strings")
    return tuple(value)


def _p_ok(d: dict[str, Any], env: dict[str, Any]) -> Ok:
    m = d.get("msg")
    if m is None:
        return Ok(**env)
    if isinstance(m, list):
        subs: list[SubscriptionInfo] = []
        for item in m:
            if not isinstance(item, dict):
                raise _Bad("ok: list_subscriptions entries must be objects")
            subs.append(SubscriptionInfo(channel=_req_str(item, "channel"), sid=_req_int(item, "sid")))
        return Ok(**env, subscriptions=tuple(subs))
    if not isinstance(m, dict):
        raise _Bad("ok: msg must be an object or a list")
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
    wire_type = _WIRE_TYPES[d["type"]]
    try:
        wire = msgspec.convert(d, wire_type)
    except msgspec.ValidationError as exc:
        raise _Bad(str(exc)) from exc
    if isinstance(wire, _WireDelta):
        return _delta_event(wire)
    if isinstance(wire, _WireSnapshot):
        return _snapshot_event(wire)
    assert isinstance(wire, _WireTrade)
    return _trade_event(wire)


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
        d = _ANY_DECODER.decode(raw)
    except _UNDECODABLE as exc:
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
    except Exception as exc:  # _Bad, FixedPointError; anything else would be a bug, still never a crash
        return FrameError(
            raw=raw,
            reason=f"{msg_type}: {exc}"
            if isinstance(exc, _Bad | FixedPointError)
            else f"{msg_type}: internal error {exc!r}",
            type=msg_type,
            market_ticker=ticker,
            sid=env.get("sid"),
            seq=env.get("seq"),
            id=env.get("id"),
        )
