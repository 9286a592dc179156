"""Kalshi trading fees, exactly: the fee model, the fee rounding and the per-order fee accumulator.

ONE implementation, meant for every place that charges or predicts a fee: the simulator's matching
engine, the reinforcement-learning environment and the trader's pre-trade checks.

Sources (read them before changing anything here):

* Fee model, Kalshi's fee schedule (kalshi.com/docs/kalshi-fee-schedule.pdf, in force since 1 Jul 2025;
  ../shared/reference/kalshi-api.md §7 "Trading fees"): a fill of ``C`` contracts at price ``P`` dollars
  costs ``multiplier x C x P x (1 - P)``. ``multiplier`` is 0.07 for the taker; the maker pays 0.0175
  on series whose ``fee_type`` is ``quadratic_with_maker_fees`` and nothing on ``quadratic`` series.
  The series' ``fee_multiplier`` scales both. The published example: 10 contracts at $0.50 cost
  $0.175, charged as $0.18.
* Fee rounding, docs.kalshi.com/getting_started/fee_rounding ("Fee Rounding"): every fill produces

  1. a **trade fee**: the fee model's value rounded UP to $0.0001 (a centi-cent);
  2. a **rounding fee**: with ``revenue`` the fill's signed cash flow (negative for a buyer),
     ``balance_change = revenue - trade_fee`` is floored toward minus infinity to the member's balance
     precision ($0.01 for members who are not direct members of the exchange, i.e. API users trading
     through their Kalshi account; $0.0001 for direct members), and
     ``rounding_fee = balance_change - floor(balance_change)``;
  3. a **rebate**: the rounding fees of one order accumulate across all of its fills (taker and maker
     alike); once the accumulator exceeds $0.01, a whole-cent rebate is paid and the accumulator drops
     by $0.01, so many small fills cost what one equivalent fill costs.

  ``net fee = trade fee + rounding fee - rebate``, always >= $0. The page's three worked examples are
  the unit test of this module (tests/models/test_fees.py).

  One case the page leaves open: a rebate larger than the fill's trade fee plus rounding fee would make
  the net fee negative, which the page rules out. Here such a rebate waits (the accumulator keeps it)
  until a fill whose fee can absorb it.

Units. The core works in exact integers so the training environment can charge fees per fill without
Decimal arithmetic: prices in **centi-cents** (``*_cc``; $1 = 10,000), counts in **lots** of 1/100
contract (``*_lots``), money in **micro-dollars** (``*_micro``; $1 = 1,000,000; Kalshi's fee arithmetic
reaches 6 decimal places, e.g. $0.3301 x 0.03 = $0.009903). :class:`FillFee` offers the same numbers as
exact Decimal dollars. Nothing is ever a float.

A fill at a price or size finer than those grids (finer than Kalshi's $0.0001 price and 0.01 contract
resolution) is refused with :class:`FeeInputError`, never rounded silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Final, Literal

__all__ = [
    "FEE_VERSION",
    "BalancePrecision",
    "FeeInputError",
    "FeeSchedule",
    "FeeType",
    "FillFee",
    "OrderFeeAccumulator",
    "UnsupportedFeeTypeError",
    "fill_fee_micro",
    "single_fill_fee_dollars",
]

FEE_VERSION: Final = 1
"""Version of the fee arithmetic in this module, recorded in trained models' metadata.

1: quadratic taker 0.07 / maker 0.0175 x ``fee_multiplier``; trade fee ceiled to $0.0001; balance change
floored to the member precision; per-order whole-cent rebate (docs.kalshi.com "Fee Rounding").
"""

_CC_PER_DOLLAR: Final = 10_000
_LOTS_PER_CONTRACT: Final = 100
_MICRO_PER_DOLLAR: Final = 1_000_000
_MICRO_PER_CC: Final = _MICRO_PER_DOLLAR // _CC_PER_DOLLAR  # 100: the trade fee's rounding quantum
_REBATE_MICRO: Final = 10_000  # one cent, the rebate quantum
# lots x cc is micro-dollars exactly (C x P: 1/100 contract x 1/10,000 $); the factor (1 - P) is (10^4 - cc) / 10^4.
_FEE_SCALE: Final = _CC_PER_DOLLAR


class FeeInputError(ValueError):
    """A fee was asked for an impossible fill: a count or price off Kalshi's grids or out of range.

    Counts are positive multiples of 0.01 contract; prices lie in [$0, $1] in steps of $0.0001.
    """


class UnsupportedFeeTypeError(ValueError):
    """A series' ``fee_type`` is one whose arithmetic is not published (so not modelled here).

    Modelled: ``quadratic`` and ``quadratic_with_maker_fees``. Not modelled: ``flat``,
    ``quadratic_with_combo_maker_fees``, ``margin_market_maker_program_fees`` (kalshi-api.md §7).
    """


class FeeType(StrEnum):
    """A series' ``fee_type`` (kalshi-api.md §7, ``GET /series/{ticker}``) that this module models."""

    QUADRATIC = "quadratic"
    QUADRATIC_WITH_MAKER_FEES = "quadratic_with_maker_fees"


class BalancePrecision(StrEnum):
    """The member's target balance precision (docs.kalshi.com "Fee Rounding", Overview)."""

    CENT = "cent"
    """$0.01: members who are not direct members of the exchange (every API user of a Kalshi account)."""
    CENTI_CENT = "centi_cent"
    """$0.0001: direct members of the exchange."""

    @property
    def micro(self) -> int:
        """The precision in micro-dollars: 10,000 for a cent, 100 for a centi-cent."""
        return 10_000 if self is BalancePrecision.CENT else 100


TAKER_MULTIPLIER: Final = Decimal("0.07")
"""The quadratic fee's taker multiplier (fee schedule; kalshi-api.md §7)."""

MAKER_MULTIPLIER: Final = Decimal("0.0175")
"""The maker multiplier on ``quadratic_with_maker_fees`` series (fee schedule; kalshi-api.md §7)."""


def _ratio(value: Decimal | int | str, what: str) -> Fraction:
    try:
        frac = Fraction(Decimal(value)) if not isinstance(value, int) else Fraction(value)
    except (ArithmeticError, ValueError) as exc:
        raise FeeInputError(f"{what} must be a decimal number, got {value!r}") from exc
    if frac < 0:
        raise FeeInputError(f"{what} must be >= 0, got {value!r}")
    return frac


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """The fee model of one series: taker and maker multipliers, already scaled by ``fee_multiplier``.

    Build it with :meth:`for_series` from the series' ``fee_type`` and ``fee_multiplier``, or use
    :meth:`taker_only` (Kalshi's default ``quadratic`` series, as the simulator serves) or :meth:`waived`
    (a market inside its ``fee_waiver_expiration_time``).

    Attributes:
        taker_multiplier: exact multiplier of ``C x P x (1 - P)`` for taker fills (0.07 x fee_multiplier).
        maker_multiplier: the same for maker fills (0.0175 x fee_multiplier, or 0 on ``quadratic`` series).

    """

    taker_multiplier: Fraction
    maker_multiplier: Fraction

    @classmethod
    def for_series(cls, fee_type: str, fee_multiplier: Decimal | int | str = 1) -> FeeSchedule:
        """The schedule of a series from its ``fee_type`` and ``fee_multiplier`` (kalshi-api.md §7).

        Args:
            fee_type: ``"quadratic"`` (takers pay 0.07, makers nothing) or ``"quadratic_with_maker_fees"``
                (takers 0.07, makers 0.0175).
            fee_multiplier: the series' scale on both multipliers (1 on most series), a decimal string,
                Decimal or int; never a float.

        Raises:
            UnsupportedFeeTypeError: any other ``fee_type``.
            FeeInputError: ``fee_multiplier`` is negative or not a number.

        """
        scale = _ratio(fee_multiplier, "fee_multiplier")
        try:
            kind = FeeType(fee_type)
        except ValueError:
            raise UnsupportedFeeTypeError(
                f"fee_type {fee_type!r} is not modelled (known: {', '.join(t.value for t in FeeType)})"
            ) from None
        maker = MAKER_MULTIPLIER if kind is FeeType.QUADRATIC_WITH_MAKER_FEES else Decimal(0)
        return cls(Fraction(TAKER_MULTIPLIER) * scale, Fraction(maker) * scale)

    @classmethod
    def taker_only(cls) -> FeeSchedule:
        """A ``quadratic`` series with ``fee_multiplier`` 1: takers pay 0.07, makers nothing."""
        return cls.for_series(FeeType.QUADRATIC)

    @classmethod
    def waived(cls) -> FeeSchedule:
        """No trading fee at all (a market whose ``fee_waiver_expiration_time`` has not passed)."""
        return cls(Fraction(0), Fraction(0))

    def trade_fee_micro(self, count_lots: int, price_cc: int, *, is_taker: bool) -> int:
        """The trade fee of one fill, rounded UP to $0.0001, in micro-dollars (a multiple of 100).

        ``ceil_to_$0.0001(multiplier x C x P x (1 - P))`` with ``C = count_lots / 100`` contracts and
        ``P = price_cc / 10,000`` dollars (docs.kalshi.com "Fee Rounding", step 1). Exact integer arithmetic.

        Args:
            count_lots: the fill's size in lots (1/100 contract), > 0.
            price_cc: the fill's price of the traded side in centi-cents, 0..10,000 (``P (1 - P)`` is the
                same for the YES price and the NO price of one trade).
            is_taker: taker (True) or maker (False) fill.

        Raises:
            FeeInputError: ``count_lots <= 0`` or ``price_cc`` outside 0..10,000.

        """
        if type(count_lots) is not int or count_lots <= 0:
            raise FeeInputError(f"fill count must be a positive number of lots, got {count_lots!r}")
        if type(price_cc) is not int or not 0 <= price_cc <= _CC_PER_DOLLAR:
            raise FeeInputError(f"fill price must be 0..10000 centi-cents, got {price_cc!r}")
        mult = self.taker_multiplier if is_taker else self.maker_multiplier
        if not mult:
            return 0
        # fee in micro-dollars = mult x lots x cc x (10^4 - cc) / 10^4; its ceiling in units of 100 micro:
        num = mult.numerator * count_lots * price_cc * (_CC_PER_DOLLAR - price_cc)
        den = mult.denominator * _FEE_SCALE * _MICRO_PER_CC
        return -(-num // den) * _MICRO_PER_CC


@dataclass(frozen=True, slots=True)
class FillFee:
    """The fee components of one fill (docs.kalshi.com "Fee Rounding"), in exact micro-dollars.

    Attributes:
        trade_fee_micro: the fee model's fee ceiled to $0.0001.
        rounding_fee_micro: ``balance_change - floor(balance_change)``, in [0, precision).
        rebate_micro: a whole-cent rebate from the order's accumulator (0 or 10,000).
        net_fee_micro: ``trade + rounding - rebate`` (>= 0): what the fill costs in fees.
        balance_change_micro: ``floor(revenue - trade_fee)`` to the balance precision, before the rebate
            (the page's "Balance Change" column).
        cash_change_micro: what the member's balance actually moves by: ``balance_change + rebate`` =
            ``revenue - net_fee``.
        accumulator_micro: the order's accumulator after this fill's rounding fee was added and before a
            rebate reduced it (the page's "Accumulator" column).

    """

    trade_fee_micro: int
    rounding_fee_micro: int
    rebate_micro: int
    net_fee_micro: int
    balance_change_micro: int
    cash_change_micro: int
    accumulator_micro: int

    @staticmethod
    def _dollars(micro: int) -> Decimal:
        return Decimal(micro).scaleb(-6)

    @property
    def trade_fee_dollars(self) -> Decimal:
        """Trade fee, exact dollars."""
        return self._dollars(self.trade_fee_micro)

    @property
    def rounding_fee_dollars(self) -> Decimal:
        """Rounding fee, exact dollars."""
        return self._dollars(self.rounding_fee_micro)

    @property
    def rebate_dollars(self) -> Decimal:
        """Rebate, exact dollars (0 or 0.01)."""
        return self._dollars(self.rebate_micro)

    @property
    def net_fee_dollars(self) -> Decimal:
        """Net fee, exact dollars (what Kalshi reports as the fill's ``fee_cost``)."""
        return self._dollars(self.net_fee_micro)

    @property
    def balance_change_dollars(self) -> Decimal:
        """Floored balance change before the rebate, exact dollars."""
        return self._dollars(self.balance_change_micro)

    @property
    def cash_change_dollars(self) -> Decimal:
        """Change of the member's cash balance for this fill, rebate included, exact dollars."""
        return self._dollars(self.cash_change_micro)

    @property
    def accumulator_dollars(self) -> Decimal:
        """The order's accumulator as the page shows it, exact dollars."""
        return self._dollars(self.accumulator_micro)


def fill_fee_micro(
    revenue_micro: int, trade_fee_micro: int, accumulator_micro: int, precision_micro: int
) -> tuple[FillFee, int]:
    """The rounding mechanics of one fill (docs.kalshi.com "Fee Rounding", steps 2-4 and the accumulator).

    Args:
        revenue_micro: the fill's signed cash flow before fees, micro-dollars (``-P x C`` for a buy,
            ``+P x C`` for a sell).
        trade_fee_micro: the trade fee already ceiled to $0.0001 (:meth:`FeeSchedule.trade_fee_micro`), >= 0.
        accumulator_micro: the order's accumulator carried from its previous fills (0 for the first), >= 0.
        precision_micro: the member's balance precision (10,000 for $0.01, 100 for $0.0001).

    Returns:
        ``(fill fee, accumulator to carry to the order's next fill)``.

    Raises:
        FeeInputError: a negative trade fee or accumulator, or a precision that does not divide one cent.

    """
    if trade_fee_micro < 0 or accumulator_micro < 0:
        raise FeeInputError(f"trade fee and accumulator must be >= 0, got {trade_fee_micro}, {accumulator_micro}")
    if precision_micro <= 0 or _REBATE_MICRO % precision_micro:
        raise FeeInputError(f"balance precision must divide one cent, got {precision_micro} micro-dollars")
    change = revenue_micro - trade_fee_micro
    floored = (change // precision_micro) * precision_micro
    rounding = change - floored
    shown = accumulator_micro + rounding
    carried = shown
    rebate = 0
    if shown > _REBATE_MICRO and trade_fee_micro + rounding >= _REBATE_MICRO:
        rebate = _REBATE_MICRO
        carried = shown - _REBATE_MICRO
    net = trade_fee_micro + rounding - rebate
    return FillFee(trade_fee_micro, rounding, rebate, net, floored, floored + rebate, shown), carried


def _lots(count: Decimal | int | str) -> int:
    try:
        value = Decimal(count) * _LOTS_PER_CONTRACT if not isinstance(count, int) else Decimal(count * 100)
    except ArithmeticError as exc:
        raise FeeInputError(f"count must be a decimal number of contracts, got {count!r}") from exc
    if not value.is_finite() or value != value.to_integral_value() or value <= 0:
        raise FeeInputError(f"count must be a positive multiple of 0.01 contract, got {count!r}")
    return int(value)


def _cc(price: Decimal | str) -> int:
    try:
        value = Decimal(price) * _CC_PER_DOLLAR
    except ArithmeticError as exc:
        raise FeeInputError(f"price must be decimal dollars, got {price!r}") from exc
    if not value.is_finite() or value != value.to_integral_value() or not 0 <= value <= _CC_PER_DOLLAR:
        raise FeeInputError(f"price must be $0..$1 in steps of $0.0001, got {price!r}")
    return int(value)


class OrderFeeAccumulator:
    """The fee state of ONE order across its fills: the rounding-fee accumulator (docs "Fee Accumulator").

    Create one per order (the accumulator never crosses orders) and call :meth:`fill_micro` (hot path,
    integers) or :meth:`fill` (Decimal) for each of its fills in order, taker and maker fills alike.

    Args:
        schedule: the series' :class:`FeeSchedule`.
        precision: the member's balance precision (default: one cent, every non-direct member).

    Attributes:
        accumulator_micro: the rounding overpayment carried to the next fill, micro-dollars.
        fees_paid_micro: the sum of the net fees of the fills so far, micro-dollars.

    """

    __slots__ = ("_precision", "accumulator_micro", "fees_paid_micro", "schedule")

    def __init__(self, schedule: FeeSchedule, precision: BalancePrecision = BalancePrecision.CENT) -> None:
        self.schedule = schedule
        self._precision = precision.micro
        self.accumulator_micro = 0
        self.fees_paid_micro = 0

    def fill_micro(self, count_lots: int, price_cc: int, *, buy: bool, is_taker: bool) -> FillFee:
        """Charge one fill of this order: integer units (see the module docstring).

        Args:
            count_lots: the fill's size in lots, > 0.
            price_cc: the price of the contract bought or sold, centi-cents.
            buy: True when the order buys (revenue ``-P x C``), False when it sells (``+P x C``).
            is_taker: taker (True) or maker (False) fill.

        Raises:
            FeeInputError: see :meth:`FeeSchedule.trade_fee_micro`.

        """
        trade = self.schedule.trade_fee_micro(count_lots, price_cc, is_taker=is_taker)
        notional = count_lots * price_cc
        fee, self.accumulator_micro = fill_fee_micro(
            -notional if buy else notional, trade, self.accumulator_micro, self._precision
        )
        self.fees_paid_micro += fee.net_fee_micro
        return fee

    def fill(
        self,
        count: Decimal | int | str,
        price_dollars: Decimal | str,
        action: Literal["buy", "sell"],
        *,
        is_taker: bool,
    ) -> FillFee:
        """Charge one fill given in contracts and dollars (exact; floats refused).

        Args:
            count: contracts filled, a positive multiple of 0.01 (Decimal, int or decimal string).
            price_dollars: the price of the contract bought or sold, $0..$1 in steps of $0.0001.
            action: ``"buy"`` or ``"sell"``.
            is_taker: taker (True) or maker (False) fill.

        Raises:
            FeeInputError: a float, a count or price off Kalshi's grids, or a bad ``action``.

        """
        if isinstance(count, float) or isinstance(price_dollars, float):
            raise FeeInputError("fees take exact decimals, never floats")
        if action not in ("buy", "sell"):
            raise FeeInputError(f"action must be 'buy' or 'sell', got {action!r}")
        return self.fill_micro(_lots(count), _cc(price_dollars), buy=action == "buy", is_taker=is_taker)


def single_fill_fee_dollars(
    count: Decimal | int | str,
    price_dollars: Decimal | str,
    *,
    is_taker: bool = True,
    action: Literal["buy", "sell"] = "buy",
    schedule: FeeSchedule | None = None,
    precision: BalancePrecision = BalancePrecision.CENT,
) -> Decimal:
    """The net fee of an order filled in ONE fill, exact dollars: the figure a pre-trade check budgets.

    For whole-cent prices and whole contracts this equals ``ceil_to_cent(0.07 x C x P x (1 - P))`` (10
    contracts at $0.50 -> $0.18); Kalshi's accumulator makes an order filled in many pieces converge to it.

    Args:
        count: contracts, a positive multiple of 0.01.
        price_dollars: the price of the contract, $0..$1 in steps of $0.0001.
        is_taker: taker (default) or maker.
        action: ``"buy"`` (default) or ``"sell"``; matters only for the rounding of sub-cent revenue.
        schedule: the series' schedule (default: :meth:`FeeSchedule.taker_only`).
        precision: the member's balance precision (default one cent).

    Raises:
        FeeInputError: a float, or a count or price off Kalshi's grids.

    """
    acc = OrderFeeAccumulator(schedule or FeeSchedule.taker_only(), precision)
    return acc.fill(count, price_dollars, action, is_taker=is_taker).net_fee_dollars
