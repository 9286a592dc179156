"""Orders: the internal order record and the parsing of V1 / V2 order requests.

Every request is normalised to one internal form (kalshi-api.md §10.4): ``book_side`` (``bid`` = buy
YES, ``ask`` = sell YES = buy NO), a **YES** price in dollars and a count in contracts. The V1 view
(``side`` yes/no + ``action`` buy/sell) is kept only for reporting. Direction table (§8):

======  =====  ============  =========
action  side   outcome_side  book_side
======  =====  ============  =========
buy     yes    yes           bid
sell    no     yes           bid
buy     no     no            ask
sell    yes    no            ask
======  =====  ============  =========
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from models.fees import OrderFeeAccumulator
from models.money import COUNT_QUANTUM, DOLLARS_QUANTUM, ONE_DOLLAR
from simulator.errors import ApiError, bad_request, invalid_order, missing
from simulator.tape import PriceRange

GTC = "good_till_canceled"
IOC = "immediate_or_cancel"
FOK = "fill_or_kill"
TIME_IN_FORCE = (GTC, IOC, FOK)
STP_TAKER = "taker_at_cross"
STP_MAKER = "maker"
STP_TYPES = (STP_TAKER, STP_MAKER)

RESTING = "resting"
CANCELED = "canceled"
EXECUTED = "executed"


def contracts_to_lots(count: Decimal) -> int:
    """Exact contracts to integer lots (``Decimal("1.50") -> 150``).

    Raises:
        ValueError: a count finer than 0.01 contract (validated orders never have one).

    """
    lots = count * 100
    if lots != lots.to_integral_value():
        raise ValueError(f"{count} contracts is finer than 0.01 contract")
    return int(lots)


CLIENT_ORDER_ID = re.compile(r"^[\-\w:+=/]{1,64}$", re.ASCII)
ZERO = Decimal(0)


@dataclass(slots=True, eq=False)
class Order:
    """One account order and its full history-relevant state.

    Units: ``yes_price`` dollars (the YES price even for asks); counts in contracts, except the two the book
    matches on, ``remaining_lots`` and ``queue_ahead_lots``, which are integer lots of 1/100 contract (the
    Decimal views ``remaining_count`` and ``queue_ahead`` read and write them); costs and fees in dollars;
    times in **tape** epoch ms. ``queue_ahead_lots`` is the tape size ahead of this order at its price level
    (docs/simulator.md "Fill model"). ``seq`` is the exchange-wide arrival number used for time priority and
    for pagination. ``fee_acc`` is the order's fee state across its fills (Kalshi's per-order fee accumulator,
    :class:`models.fees.OrderFeeAccumulator`).
    """

    order_id: str
    account_id: str
    user_id: str
    ticker: str
    client_order_id: str
    book_side: str
    yes_price: Decimal
    side: str
    action: str
    initial_count: Decimal
    remaining_lots: int
    time_in_force: str
    self_trade_prevention_type: str
    created_ms: int
    seq: int
    api: str = "v1"
    post_only: bool = False
    reduce_only: bool = False
    cancel_order_on_pause: bool = False
    expiration_ms: int | None = None
    order_group_id: str | None = None
    fill_count: Decimal = ZERO
    status: str = RESTING
    taker_fill_cost: Decimal = ZERO
    maker_fill_cost: Decimal = ZERO
    taker_fees: Decimal = ZERO
    maker_fees: Decimal = ZERO
    last_update_ms: int = 0
    last_update_reason: str | None = None
    queue_ahead_lots: int = 0
    fills: list[str] = field(default_factory=list)
    fee_acc: OrderFeeAccumulator | None = None

    @property
    def remaining_count(self) -> Decimal:
        """Unfilled contracts (exact Decimal view of ``remaining_lots``)."""
        return Decimal(self.remaining_lots).scaleb(-2)

    @remaining_count.setter
    def remaining_count(self, value: Decimal) -> None:
        self.remaining_lots = contracts_to_lots(value)

    @property
    def queue_ahead(self) -> Decimal:
        """Tape contracts ahead of the order at its level (exact Decimal view of ``queue_ahead_lots``)."""
        return Decimal(self.queue_ahead_lots).scaleb(-2)

    @queue_ahead.setter
    def queue_ahead(self, value: Decimal) -> None:
        self.queue_ahead_lots = contracts_to_lots(value)

    @property
    def no_price(self) -> Decimal:
        """The NO price in dollars (``1 - yes_price``, §8)."""
        return ONE_DOLLAR - self.yes_price

    @property
    def rest_side(self) -> str:
        """The bid book the order rests on: ``"yes"`` for bids, ``"no"`` for asks."""
        return "yes" if self.book_side == "bid" else "no"

    @property
    def rest_price(self) -> Decimal:
        """The order's price on its bid book in dollars: YES price for bids, NO price for asks."""
        return self.yes_price if self.book_side == "bid" else ONE_DOLLAR - self.yes_price

    @property
    def rest_price_cc(self) -> int:
        """:attr:`rest_price` in centi-cents (the book's price key)."""
        return int(self.rest_price * 10_000)

    @property
    def own_price(self) -> Decimal:
        """The price of the contract the order buys or sells (``side``), dollars."""
        return self.yes_price if self.side == "yes" else ONE_DOLLAR - self.yes_price

    @property
    def outcome_side(self) -> str:
        """``yes`` for bids, ``no`` for asks (§8)."""
        return "yes" if self.book_side == "bid" else "no"

    @property
    def is_resting(self) -> bool:
        """Whether the order is live on the book."""
        return self.status == RESTING


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """A parsed, normalised create-order request (before market-specific validation).

    ``count`` contracts; ``yes_price`` dollars; ``expiration_s`` Unix seconds in **served** time;
    ``buy_max_cost_cents`` integer cents (V1 only).
    """

    ticker: str
    client_order_id: str
    book_side: str
    yes_price: Decimal
    count: Decimal
    side: str
    action: str
    time_in_force: str
    self_trade_prevention_type: str
    api: str
    post_only: bool = False
    reduce_only: bool = False
    cancel_order_on_pause: bool = False
    expiration_s: int | None = None
    order_group_id: str | None = None
    buy_max_cost_cents: int | None = None


def book_side_of(side: str, action: str) -> str:
    """Map a V1 (side, action) to the book side (§8 table)."""
    return "bid" if (side == "yes") == (action == "buy") else "ask"


# -- primitive field readers ---------------------------------------------------------------------


def require_object(body: Any) -> dict[str, Any]:
    """Return ``body`` if it is a JSON object.

    Raises:
        ApiError: flat 400 ``bad_request`` otherwise (§5.2).

    """
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    return body


def opt_bool(body: dict[str, Any], key: str) -> bool:
    """Read an optional JSON boolean (absent/null = False); wrong type -> flat 400 ``bad_request``."""
    value = body.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request(f"{key} must be a boolean")
    return value


def opt_str(body: dict[str, Any], key: str) -> str | None:
    """Read an optional JSON string; wrong type -> flat 400 ``bad_request``."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"{key} must be a string")
    return value


def opt_int(body: dict[str, Any], key: str) -> int | None:
    """Read an optional JSON integer; a fraction, bool or string -> flat 400 ``bad_request``."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{key} must be an integer")
    return value


def parse_count_text(value: Any, key: str) -> Decimal:
    """Parse a fixed-point count (``"10"``, ``"10.00"``, 0-2 dp, §4) or an int into contracts.

    Raises:
        ApiError: flat ``bad_request`` for a wrong JSON type; ``invalid_order`` for a non-number,
            a non-positive count or more than 2 decimal places.

    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise bad_request(f"{key} must be a string")
    try:
        count = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation as exc:
        raise invalid_order(f"{key} is not a number") from exc
    if not count.is_finite() or count <= 0:
        raise invalid_order(f"{key} must be positive")
    if count != count.quantize(COUNT_QUANTUM):
        raise invalid_order(f"{key} has more than 2 decimal places")
    return count


def parse_price_text(value: Any, key: str) -> Decimal:
    """Parse a dollar price string (2-4 dp accepted, §4) strictly between 0 and 1.

    Raises:
        ApiError: flat ``bad_request`` for a wrong JSON type; ``invalid_order`` otherwise.

    """
    if not isinstance(value, str):
        raise bad_request(f"{key} must be a string")
    try:
        price = Decimal(value.strip())
    except InvalidOperation as exc:
        raise invalid_order(f"{key} is not a number") from exc
    if not price.is_finite() or price <= 0 or price >= 1:
        raise invalid_order(f"{key} must be between 0 and 1 exclusive")
    if price != price.quantize(DOLLARS_QUANTUM):
        raise invalid_order(f"{key} has more than 4 decimal places")
    return price


def _cents_price(value: int, key: str) -> Decimal:
    if not 1 <= value <= 99:
        raise invalid_order(f"{key} must be between 1 and 99 cents")
    return Decimal(value) / 100


def _client_order_id(body: dict[str, Any]) -> str:
    coid = opt_str(body, "client_order_id")
    if coid is None or coid == "":
        return ""
    if not CLIENT_ORDER_ID.match(coid):
        raise invalid_order("client_order_id must be 1-64 characters of [A-Za-z0-9_-:+=/]")
    return coid


def _subaccount(body: dict[str, Any]) -> None:
    sub = opt_int(body, "subaccount")
    if sub not in (None, 0):
        raise invalid_order("subaccounts are not supported by the simulator (use 0)")


def _stp(body: dict[str, Any], required: bool) -> str:
    stp = opt_str(body, "self_trade_prevention_type")
    if stp is None:
        if required:
            raise invalid_order("self_trade_prevention_type is required")
        return STP_TAKER
    if stp not in STP_TYPES:
        raise invalid_order(f"self_trade_prevention_type must be one of {', '.join(STP_TYPES)}")
    return stp


def _tif(body: dict[str, Any], required: bool) -> str:
    tif = opt_str(body, "time_in_force")
    if tif is None or tif == "":
        if required:
            raise invalid_order("time_in_force is required")
        return GTC
    if tif not in TIME_IN_FORCE:
        raise invalid_order(f"time_in_force must be one of {', '.join(TIME_IN_FORCE)}")
    return tif


def v1_count(body: dict[str, Any], *, required: bool) -> Decimal | None:
    """Read V1 ``count`` (int >= 1) and/or ``count_fp`` (string); if both, they must match (§4).

    Raises:
        ApiError: ``invalid_order`` when required and absent, or when the two disagree.

    """
    count_int = opt_int(body, "count")
    count_fp = body.get("count_fp")
    parsed_fp = parse_count_text(count_fp, "count_fp") if count_fp is not None else None
    if count_int is not None:
        if count_int < 1:
            raise invalid_order("count must be at least 1")
        if parsed_fp is not None and parsed_fp != count_int:
            raise invalid_order("count and count_fp disagree")
        return Decimal(count_int)
    if parsed_fp is None and required:
        raise invalid_order("count is required")
    return parsed_fp


def v1_yes_price(body: dict[str, Any], *, required: bool) -> Decimal | None:
    """Read exactly one V1 price field and return the YES price in dollars.

    Accepts ``yes_price`` / ``no_price`` (int cents 1-99) or ``yes_price_dollars`` /
    ``no_price_dollars`` (strings); a field and its ``_dollars`` twin may both be given if they agree.

    Raises:
        ApiError: ``invalid_order`` for no price (when required), YES and NO prices together, or
            disagreeing twins.

    """
    yes_c, no_c = opt_int(body, "yes_price"), opt_int(body, "no_price")
    yes_d_raw, no_d_raw = body.get("yes_price_dollars"), body.get("no_price_dollars")
    yes_d = parse_price_text(yes_d_raw, "yes_price_dollars") if yes_d_raw is not None else None
    no_d = parse_price_text(no_d_raw, "no_price_dollars") if no_d_raw is not None else None
    yes = _cents_price(yes_c, "yes_price") if yes_c is not None else None
    no = _cents_price(no_c, "no_price") if no_c is not None else None
    if yes is not None and yes_d is not None and yes != yes_d:
        raise invalid_order("yes_price and yes_price_dollars disagree")
    if no is not None and no_d is not None and no != no_d:
        raise invalid_order("no_price and no_price_dollars disagree")
    yes = yes if yes is not None else yes_d
    no = no if no is not None else no_d
    if yes is not None and no is not None:
        raise invalid_order("give exactly one of yes_price and no_price")
    if yes is not None:
        return yes
    if no is not None:
        return ONE_DOLLAR - no
    if required:
        raise invalid_order("a price is required (yes_price, no_price, yes_price_dollars or no_price_dollars)")
    return None


def parse_v1_create(body: Any) -> OrderIntent:
    """Parse a V1 ``POST /portfolio/orders`` body (kalshi-api.md §3.5).

    Raises:
        ApiError: ``missing_parameters`` (no ticker), ``invalid_order`` (bad/missing side, action,
            count, price, time_in_force, ...), flat ``bad_request`` (wrong JSON types).

    """
    body = require_object(body)
    ticker = opt_str(body, "ticker")
    if not ticker:
        raise missing("ticker")
    side = opt_str(body, "side")
    if side not in ("yes", "no"):
        raise invalid_order("side must be yes or no")
    action = opt_str(body, "action")
    if action not in ("buy", "sell"):
        raise invalid_order("action must be buy or sell")
    order_type = opt_str(body, "type") or "limit"
    if order_type not in ("limit", "market"):
        raise invalid_order("type must be limit or market")
    count = v1_count(body, required=True)
    assert count is not None
    book_side = book_side_of(side, action)
    yes_price = v1_yes_price(body, required=order_type == "limit")
    tif = _tif(body, required=False)
    if yes_price is None:
        # A market order without a price: the most aggressive price, never resting.
        yes_price = Decimal("0.99") if book_side == "bid" else Decimal("0.01")
        if tif == GTC:
            tif = IOC
    expiration = opt_int(body, "expiration_ts")
    if expiration is not None and tif == IOC:
        raise invalid_order("expiration_ts cannot be combined with immediate_or_cancel")
    buy_max_cost = opt_int(body, "buy_max_cost")
    if buy_max_cost is not None:
        if buy_max_cost < 1:
            raise invalid_order("buy_max_cost must be at least 1 cent")
        tif = FOK
    reduce_only = opt_bool(body, "reduce_only")
    floor = opt_int(body, "sell_position_floor")
    if floor is not None:
        if floor != 0:
            raise invalid_order("sell_position_floor only supports 0")
        reduce_only = True
    _subaccount(body)
    return OrderIntent(
        ticker=ticker,
        client_order_id=_client_order_id(body),
        book_side=book_side,
        yes_price=yes_price,
        count=count,
        side=side,
        action=action,
        time_in_force=tif,
        self_trade_prevention_type=_stp(body, required=False),
        api="v1",
        post_only=opt_bool(body, "post_only"),
        reduce_only=reduce_only,
        cancel_order_on_pause=opt_bool(body, "cancel_order_on_pause"),
        expiration_s=expiration,
        order_group_id=opt_str(body, "order_group_id") or None,
        buy_max_cost_cents=buy_max_cost,
    )


def parse_v2_create(body: Any) -> OrderIntent:
    """Parse a V2 ``POST /portfolio/events/orders`` body (kalshi-api.md §3.6).

    ``side`` is ``bid`` (buy YES) or ``ask`` (sell YES); ``price`` is the YES price string; ``count`` an
    fp string. ``time_in_force`` and ``self_trade_prevention_type`` are required; ``client_order_id`` is
    optional as in the current spec (an order without one shows ``client_order_id: ""``).

    Raises:
        ApiError: ``missing_parameters`` (no ticker), ``invalid_order`` (missing/bad side, count,
            price, time_in_force, stp; a malformed client_order_id), flat ``bad_request`` (wrong JSON types).

    """
    body = require_object(body)
    ticker = opt_str(body, "ticker")
    if not ticker:
        raise missing("ticker")
    side = opt_str(body, "side")
    if side not in ("bid", "ask"):
        raise invalid_order("side must be bid or ask")
    if body.get("count") is None:
        raise invalid_order("count is required")
    count = parse_count_text(body["count"], "count")
    if body.get("price") is None:
        raise invalid_order("price is required")
    price = parse_price_text(body["price"], "price")
    tif = _tif(body, required=True)
    expiration = opt_int(body, "expiration_time")
    if expiration is None:
        expiration = opt_int(body, "expiration_ts")
    if expiration is not None and tif == IOC:
        raise invalid_order("expiration_time cannot be combined with immediate_or_cancel")
    _subaccount(body)
    return OrderIntent(
        ticker=ticker,
        client_order_id=_client_order_id(body),
        book_side=side,
        yes_price=price,
        count=count,
        side="yes",
        action="buy" if side == "bid" else "sell",
        time_in_force=tif,
        self_trade_prevention_type=_stp(body, required=True),
        api="v2",
        post_only=opt_bool(body, "post_only"),
        reduce_only=opt_bool(body, "reduce_only"),
        cancel_order_on_pause=opt_bool(body, "cancel_order_on_pause"),
        expiration_s=expiration,
        order_group_id=opt_str(body, "order_group_id") or None,
    )


def on_tick_grid(price: Decimal, ranges: tuple[PriceRange, ...]) -> bool:
    """Whether a dollar price lies on the market's tick grid (``price_ranges``, §4), 0 < price < 1."""
    if price <= 0 or price >= 1:
        return False
    return any(band.start <= price <= band.end and (price - band.start) % band.step == 0 for band in ranges)


def check_count_for_market(count: Decimal, fractional_enabled: bool, key: str = "count") -> None:
    """Validate a contract count against the market's fractional-trading flag (§4).

    Raises:
        ApiError: ``invalid_order`` for a fractional count when fractional trading is disabled.

    """
    if not fractional_enabled and count != count.to_integral_value():
        raise ApiError(400, "invalid_order", f"{key}: fractional contracts are not enabled for this market")
