"""Per-market runtime state: lifecycle status, book, statistics (kalshi-api.md §3.2, §7)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from simulator.book import OrderBook
from simulator.tape import MarketDefinition

INITIALIZED = "initialized"
ACTIVE = "active"
CLOSED = "closed"
DETERMINED = "determined"
FINALIZED = "finalized"

STATUS_FILTERS = {
    "unopened": (INITIALIZED,),
    "open": (ACTIVE,),
    "paused": ("inactive",),
    "closed": (CLOSED, DETERMINED, "disputed", "amended"),
    "settled": (FINALIZED,),
}
"""``GET /markets?status=`` filter value -> returned statuses (§3.2 "Status filter vs returned status")."""

ZERO = Decimal(0)


@dataclass
class MarketState:
    """Runtime state of one market.

    ``status`` follows §7 (initialized -> active -> closed -> determined -> finalized). Times are tape
    epoch ms: ``close_ms`` is the effective close (earlier than the definition's when force-closed),
    ``determined_ms``/``settled_ms`` are set when those transitions happen. ``volume`` counts contracts
    traded since replay began (tape trades and account fills), kept in lots as ``volume_lots``;
    ``last_price`` is the last YES price in dollars, kept in centi-cents as ``last_price_cc`` (the replay's
    hot path stays in integers). ``frames_applied``/``last_frame_ms`` report tape progress.
    """

    definition: MarketDefinition
    book: OrderBook
    status: str = INITIALIZED
    close_ms: int = 0
    result: str = ""
    determined_ms: int | None = None
    settled_ms: int | None = None
    forced_result: str | None = None
    volume_lots: int = 0
    last_price_cc: int | None = None
    frames_applied: int = 0
    last_frame_ms: int | None = None
    tape_state: str = "pending"
    updated_ms: int = 0
    lifecycle_generation: int = 0
    tape_stopped: bool = False

    @property
    def ticker(self) -> str:
        """The market ticker."""
        return self.definition.ticker

    @property
    def volume(self) -> Decimal:
        """Contracts traded since replay began."""
        return Decimal(self.volume_lots).scaleb(-2)

    @property
    def last_price(self) -> Decimal | None:
        """The last trade's YES price in dollars, or None before the first trade."""
        return None if self.last_price_cc is None else Decimal(self.last_price_cc).scaleb(-4)

    @property
    def settlement_value(self) -> Decimal | None:
        """Dollars paid per YES contract once determined (1 for ``yes``, 0 for ``no``), else None."""
        if not self.result:
            return None
        return Decimal(1) if self.result == "yes" else Decimal(0)
