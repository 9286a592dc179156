"""The pre-trade limits in the pipeline's integer units (lots, centi-cents, micro-dollars, milliseconds).

Built once from the trader's configuration (:class:`models.trader.RiskLimits`, :class:`models.trader.ExitRules`,
the epoch settings) with :meth:`Limits.from_settings`; the checks then never touch Decimal. Every conversion is
exact: a limit finer than the exchange's grids (0.01 contract, $0.0001, 1 ms) is refused, never rounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from models.fees import FeeSchedule, OrderFeeAccumulator
from models.trader import ExitRules, RiskLimits

__all__ = ["Limits", "LimitsError"]


class LimitsError(ValueError):
    """A limit cannot be expressed exactly in the pipeline's integer units."""


def _exact(value: Decimal | int | float, scale: int, what: str) -> int:
    scaled = Decimal(str(value)) * scale
    if scaled != scaled.to_integral_value():
        raise LimitsError(f"{what} = {value} is finer than the exchange's resolution")
    return int(scaled)


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits the pre-trade checks apply (integer units; see the module docstring).

    Attributes:
        order_size_lots: lots per order (``RiskLimits.order_size_contracts`` x 100).
        max_position_lots: largest absolute signed position per market, lots.
        max_open_positions: markets that may hold a position at once.
        max_spread_cc: no entry (buy) when the YES spread is wider, centi-cents.
        max_entry_price_cc: never buy at more than this, centi-cents.
        throttle_ms: minimum time between two orders in one market, ms (on the caller's ``now_ms`` clock).
        closing_window_ms: no order when the market closes in less than this, ms
            (``ExitRules.market_closing_window_s``).
        cash_reserve_micro: free cash that a buy must leave, micro-dollars (``ExitRules.cash_reserve_cents``).
        max_consecutive_errors: the circuit breaker's threshold.
        max_book_age_ms: never act on a book older than this (None = no limit).
        fee_schedule: the series' fee model, for the worst-case fee a buy must be able to pay.
        no_new_positions: when set (the reason, in the operator's words, e.g. "degraded: market data down"), no
            order that can add exposure is allowed: only reduce-only sells pass (reject ``closing_only``).
            Degraded mode (issue 10) sets it together with a tighter ``max_position_lots`` and a larger
            ``cash_reserve_micro`` (:meth:`from_settings`'s ``degraded_*`` arguments).

    """

    order_size_lots: int = 500
    max_position_lots: int = 2_000
    max_open_positions: int = 5
    max_spread_cc: int = 500
    max_entry_price_cc: int = 9_000
    throttle_ms: int = 250
    closing_window_ms: float = 300_000.0
    cash_reserve_micro: int = 100_000_000
    max_consecutive_errors: int = 5
    max_book_age_ms: float | None = None
    fee_schedule: FeeSchedule = field(default_factory=FeeSchedule.taker_only)
    no_new_positions: str | None = None
    _costs: dict[tuple[int, int, bool], int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def buy_cost_micro(self, lots: int, price_cc: int, is_taker: bool) -> int:
        """What buying ``lots`` at ``price_cc`` in one fill takes from cash: notional + net fee, micro-dollars.

        Kalshi's fee rounding (:mod:`models.fees`): ``-floor_to_cent(-notional - trade fee)``, a whole number of
        cents. Memoised per instance: the checks ask for the same few (size, price) pairs at every decision point.
        """
        key = (lots, price_cc, is_taker)
        cost = self._costs.get(key)
        if cost is None:
            fee = OrderFeeAccumulator(self.fee_schedule).fill_micro(lots, price_cc, buy=True, is_taker=is_taker)
            cost = self._costs[key] = -fee.cash_change_micro
        return cost

    @classmethod
    def from_settings(
        cls,
        risk: RiskLimits,
        exits: ExitRules,
        *,
        max_consecutive_errors: int = 5,
        max_book_age_ms: float | None = None,
        fee_schedule: FeeSchedule | None = None,
        no_new_positions: str | None = None,
        degraded_max_position_contracts: Decimal | None = None,
        degraded_cash_reserve_cents: int | None = None,
    ) -> Limits:
        """The limits of a trader configuration, converted exactly.

        Args:
            risk: the trader's risk limits.
            exits: the exit rules (closing window, cash reserve).
            max_consecutive_errors: the circuit breaker's threshold.
            max_book_age_ms: never act on an older book (None = no limit).
            fee_schedule: the series' fee model (default :meth:`models.fees.FeeSchedule.taker_only`).
            no_new_positions: refuse every order that can add exposure, with this reason (degraded mode's
                "closing only").
            degraded_max_position_contracts: a tighter position cap in force (the smaller of it and the
                risk limit's applies).
            degraded_cash_reserve_cents: a larger cash reserve in force (the larger of it and the exit rules'
                applies).

        Raises:
            LimitsError: a contract count finer than 0.01 or a price finer than $0.0001.

        """
        max_position = _exact(risk.max_position_contracts, 100, "max_position_contracts")
        if degraded_max_position_contracts is not None:
            max_position = min(
                max_position, _exact(degraded_max_position_contracts, 100, "degraded_max_position_contracts")
            )
        reserve = exits.cash_reserve_cents
        if degraded_cash_reserve_cents is not None:
            reserve = max(reserve, degraded_cash_reserve_cents)
        return cls(
            order_size_lots=_exact(risk.order_size_contracts, 100, "order_size_contracts"),
            max_position_lots=max_position,
            max_open_positions=risk.max_open_positions,
            max_spread_cc=_exact(risk.max_spread_dollars, 10_000, "max_spread_dollars"),
            max_entry_price_cc=_exact(risk.max_entry_price_dollars, 10_000, "max_entry_price_dollars"),
            throttle_ms=risk.per_market_throttle_ms,
            closing_window_ms=exits.market_closing_window_s * 1000,
            cash_reserve_micro=reserve * 10_000,
            max_consecutive_errors=max_consecutive_errors,
            max_book_age_ms=max_book_age_ms,
            fee_schedule=fee_schedule if fee_schedule is not None else FeeSchedule.taker_only(),
            no_new_positions=no_new_positions,
        )
