"""Kalshi's fees against Kalshi's OWN published examples (not a re-derivation of our formula).

Sources, verbatim numbers:

* docs.kalshi.com/getting_started/fee_rounding, "Worked Examples" (target balance precision $0.01): three
  orders each filled as three matches; per fill the page lists Trade Fee, Rounding, Accumulator, Rebate, Net
  Fee and Balance Change. Examples 1 and 2 state their trade fee as an input ($0.0085, $0.0041); example 3's
  ($0.0005) is the taker fee model's, so example 3 is checked end to end through the fee model too.
* The fee schedule (kalshi-api.md §7, from Kalshi's fee schedule and its 1 Jul 2025 announcement):
  10 contracts at $0.50 -> 0.07 x 10 x 0.5 x 0.5 = $0.175, charged $0.18. The maker case below applies the
  schedule's maker formula, "round up(0.0175 x C x P x (1 - P))", to the same fill (no published figure).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from models.fees import (
    BalancePrecision,
    FeeInputError,
    FeeSchedule,
    OrderFeeAccumulator,
    UnsupportedFeeTypeError,
    fill_fee_micro,
    single_fill_fee_dollars,
)

D = Decimal


def _micro(dollars: str) -> int:
    return int(D(dollars) * 1_000_000)


# (trade fee, rounding, accumulator, rebate, net fee, balance change) per fill, as printed on the page.
SUBPENNY = [
    ("0.0085", "0.0065", "0.0065", "0", "0.0150", "-0.07"),
    ("0.0085", "0.0065", "0.0130", "0.0100", "0.0050", "-0.07"),
    ("0.0085", "0.0065", "0.0095", "0", "0.0150", "-0.07"),
]
FRACTIONAL = [
    ("0.0041", "0.0059", "0.0059", "0", "0.0100", "-0.16"),
    ("0.0041", "0.0059", "0.0118", "0.0100", "0.0000", "-0.16"),
    ("0.0041", "0.0059", "0.0077", "0", "0.0100", "-0.16"),
]
COMBINED = [
    ("0.0005", "0.009597", "0.009597", "0", "0.010097", "-0.02"),
    ("0.0005", "0.009597", "0.019194", "0.0100", "0.000097", "-0.02"),
    ("0.0005", "0.009597", "0.018791", "0.0100", "0.000097", "-0.02"),
]


def _rows(fees) -> list[tuple[Decimal, ...]]:
    return [
        (
            f.trade_fee_dollars,
            f.rounding_fee_dollars,
            f.accumulator_dollars,
            f.rebate_dollars,
            f.net_fee_dollars,
            f.balance_change_dollars,
        )
        for f in fees
    ]


def _published(table) -> list[tuple[Decimal, ...]]:
    return [tuple(D(v) for v in row) for row in table]


@pytest.mark.parametrize(
    ("revenue", "trade_fee", "table"),
    [
        ("-0.0550", "0.0085", SUBPENNY),  # buy 3 at $0.055 as three 1-lot matches
        ("-0.1500", "0.0041", FRACTIONAL),  # buy 0.90 at $0.50 as three 0.30-lot matches
        ("-0.009903", "0.0005", COMBINED),  # buy 0.09 at $0.3301 as three 0.03-lot matches
    ],
    ids=["subpenny", "fractional", "combined"],
)
def test_fee_rounding_worked_examples(revenue: str, trade_fee: str, table) -> None:
    acc = 0
    fees = []
    for _ in range(3):
        fee, acc = fill_fee_micro(_micro(revenue), _micro(trade_fee), acc, BalancePrecision.CENT.micro)
        fees.append(fee)
    assert _rows(fees) == _published(table)
    # What the member's balance moved by: the floored change plus any rebate, i.e. revenue - net fee.
    for fee in fees:
        assert fee.cash_change_micro == _micro(revenue) - fee.net_fee_micro


def test_combined_example_through_the_taker_fee_model() -> None:
    """Example 3's trade fee ($0.0005) is the taker fee model's: run the whole order through it."""
    acc = OrderFeeAccumulator(FeeSchedule.taker_only())
    fees = [acc.fill(D("0.03"), D("0.3301"), "buy", is_taker=True) for _ in range(3)]
    assert _rows(fees) == _published(COMBINED)
    assert acc.fees_paid_micro == _micro("0.010097") + 2 * _micro("0.000097")


def test_fee_schedule_example_ten_contracts_at_fifty_cents() -> None:
    assert single_fill_fee_dollars(10, D("0.50")) == D("0.18")
    fee = OrderFeeAccumulator(FeeSchedule.taker_only()).fill(10, "0.50", "buy", is_taker=True)
    assert fee.trade_fee_dollars == D("0.175")
    assert fee.cash_change_dollars == D("-5.18")


def test_maker_fee_series_example() -> None:
    maker_series = FeeSchedule.for_series("quadratic_with_maker_fees")
    assert single_fill_fee_dollars(10, "0.50", is_taker=False, schedule=maker_series) == D("0.05")
    # Makers pay nothing on plain quadratic series (the default, and the gold series' simulator default).
    assert single_fill_fee_dollars(10, "0.50", is_taker=False) == D("0")


def test_fee_multiplier_scales_both_sides() -> None:
    doubled = FeeSchedule.for_series("quadratic_with_maker_fees", "2")
    assert doubled.trade_fee_micro(1000, 5000, is_taker=True) == _micro("0.35")
    assert doubled.trade_fee_micro(1000, 5000, is_taker=False) == _micro("0.0875")
    assert FeeSchedule.waived().trade_fee_micro(1000, 5000, is_taker=True) == 0


def test_many_small_fills_converge_to_one_fill() -> None:
    """The accumulator's purpose (page: "many small fills ... what a single equivalent fill would cost")."""
    one = single_fill_fee_dollars(D("0.90"), D("0.50"))
    acc = OrderFeeAccumulator(FeeSchedule.taker_only())
    for _ in range(3):
        acc.fill(D("0.30"), D("0.50"), "buy", is_taker=True)
    # Three 0.30 fills pay at most one cent more than one 0.90 fill (whole-cent rebates).
    assert D(acc.fees_paid_micro).scaleb(-6) - one <= D("0.01")


def test_sell_side_rounding_floors_proceeds() -> None:
    # Selling 1 at $0.055: revenue +$0.055, taker trade fee $0.0037 -> +$0.0513 floored to +$0.05.
    fee = OrderFeeAccumulator(FeeSchedule.taker_only()).fill(1, "0.055", "sell", is_taker=True)
    assert fee.trade_fee_dollars == D("0.0037")
    assert fee.balance_change_dollars == D("0.05")
    assert fee.rounding_fee_dollars == D("0.0013")


def test_direct_member_precision_keeps_centi_cents() -> None:
    acc = OrderFeeAccumulator(FeeSchedule.taker_only(), BalancePrecision.CENTI_CENT)
    fee = acc.fill(1, "0.055", "buy", is_taker=True)
    assert fee.rounding_fee_micro == 0
    assert fee.cash_change_dollars == D("-0.0587")


def test_rebate_never_makes_a_net_fee_negative() -> None:
    """The page says net fee >= $0 always: a rebate waits for a fill whose fee can absorb it."""
    acc = OrderFeeAccumulator(FeeSchedule.taker_only())
    # Maker fills on a quadratic series pay no trade fee; sub-cent prices still produce rounding fees.
    nets = [acc.fill(1, "0.055", "buy", is_taker=False).net_fee_micro for _ in range(4)]
    assert all(n >= 0 for n in nets)
    assert acc.accumulator_micro > 10_000  # the rebate is owed, not lost


@pytest.mark.parametrize(
    ("count", "price"),
    [(D("0.001"), D("0.5")), (0, D("0.5")), (D("-1"), D("0.5")), (1, D("0.00005")), (1, D("1.5")), (1, "abc")],
)
def test_bad_fill_inputs_raise(count, price) -> None:
    with pytest.raises(FeeInputError):
        OrderFeeAccumulator(FeeSchedule.taker_only()).fill(count, price, "buy", is_taker=True)


def test_floats_and_unknown_fee_types_are_refused() -> None:
    with pytest.raises(FeeInputError, match="float"):
        OrderFeeAccumulator(FeeSchedule.taker_only()).fill(1, 0.5, "buy", is_taker=True)  # type: ignore[arg-type]
    with pytest.raises(UnsupportedFeeTypeError, match="flat"):
        FeeSchedule.for_series("flat")
    with pytest.raises(FeeInputError):
        FeeSchedule.for_series("quadratic", "-1")
