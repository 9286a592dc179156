"""Order groups: Kalshi's burst breaker (kalshi-api.md §3.7, docs "Order Groups").

A group has a ``contracts_limit`` (1..1,000,000 contracts). Contracts **filled** by orders in the group
are summed over a rolling 15-second window of the **exchange (tape) clock**. When the rolling total
**exceeds** the limit the group is triggered: the exchange cancels its resting orders and rejects new
orders carrying its id (400 ``order_group_triggered``) until the group is reset. A manual trigger does
the same; lowering the limit below the current rolling volume triggers; reset clears the triggered state
and the rolling counter; delete cancels the group's resting orders and forgets it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

WINDOW_MS = 15_000
MIN_LIMIT = Decimal(1)
MAX_LIMIT = Decimal(1_000_000)
ZERO = Decimal(0)


@dataclass
class OrderGroup:
    """One order group of one account.

    ``contracts_limit`` contracts; ``fills`` is the rolling window as ``(tape ms, contracts)``;
    ``order_ids`` every order placed with the group (resting or not), in placement order.
    """

    order_group_id: str
    account_id: str
    contracts_limit: Decimal
    created_ms: int
    triggered: bool = False
    triggered_ms: int | None = None
    fills: deque[tuple[int, Decimal]] = field(default_factory=deque)
    order_ids: list[str] = field(default_factory=list)

    def rolling_total(self, now_ms: int) -> Decimal:
        """Contracts filled in ``(now - 15 s, now]``; older entries are dropped."""
        horizon = now_ms - WINDOW_MS
        while self.fills and self.fills[0][0] <= horizon:
            self.fills.popleft()
        total = ZERO
        for _, count in self.fills:
            total += count
        return total

    def record_fill(self, now_ms: int, count: Decimal) -> bool:
        """Add a fill of ``count`` contracts at ``now_ms``; return True if the limit is now exceeded."""
        self.fills.append((now_ms, count))
        return self.rolling_total(now_ms) > self.contracts_limit

    def reset(self) -> None:
        """Clear the triggered state and the rolling counter."""
        self.triggered = False
        self.triggered_ms = None
        self.fills.clear()
