"""The running simulator's shared objects, handed to the HTTP handlers."""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass

from simulator.auth import KeyRegistry
from simulator.clock import ExchangeClock
from simulator.config import SimulatorConfig
from simulator.events import EventBus, TradeEvent
from simulator.exchange import Exchange
from simulator.faults import Faults
from simulator.ratelimit import RateLimiter
from simulator.replay import ReplayEngine
from simulator.tape import Catalog

TRADES_KEPT_PER_MARKET = 20_000


class TradeLog:
    """Public trades per market for ``GET /markets/trades``, fed by the event publisher.

    Keeps the newest ``TRADES_KEPT_PER_MARKET`` trades of each market as ``(seq, TradeEvent)``;
    ``seq`` increases with publication order (used for cursors).
    """

    def __init__(self, bus: EventBus) -> None:
        self._seq = itertools.count(1)
        self.by_market: dict[str, deque[tuple[int, TradeEvent]]] = {}
        self._sub = bus.subscribe(self._on_trade, (TradeEvent,))

    def _on_trade(self, event: TradeEvent) -> None:
        log = self.by_market.get(event.ticker)
        if log is None:
            log = self.by_market[event.ticker] = deque(maxlen=TRADES_KEPT_PER_MARKET)
        log.append((next(self._seq), event))

    def close(self) -> None:
        """Stop listening."""
        self._sub.close()


@dataclass
class SimContext:
    """Everything a request handler may touch."""

    config: SimulatorConfig
    catalog: Catalog
    clock: ExchangeClock
    bus: EventBus
    exchange: Exchange
    engine: ReplayEngine
    keys: KeyRegistry
    limiter: RateLimiter
    faults: Faults
    trade_log: TradeLog
    started_wall_ns: int = 0
    requests: int = 0

    async def sync(self) -> None:
        """Bring the exchange to the clock's current time (see :meth:`ReplayEngine.sync`)."""
        await self.engine.sync()

    def served_now_ms(self) -> int:
        """The served (client-visible) time now, epoch ms."""
        return self.clock.served_now_ms()
