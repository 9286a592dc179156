"""In-process event publisher: typed exchange events for the REST side and the WebSocket server.

The exchange core publishes an event for every externally visible change; subscribers get them
synchronously, in order, on the event-loop thread. The REST layer subscribes for the public trade log
(``GET /markets/trades``); the WebSocket server (``/trade-api/ws/v2``, a later issue) subscribes with
:meth:`EventBus.subscribe_queue` and maps events to channels (kalshi-api.md §6.5):

=========================  ==========================================================
event                      WebSocket channel / message
=========================  ==========================================================
:class:`BookDelta`         ``orderbook_delta`` / ``orderbook_delta``
:class:`BookSnapshot`      ``orderbook_delta`` / informational (tape re-snapshot)
:class:`TradeEvent`        ``trade`` / ``trade``
:class:`FillEvent`         ``fill`` / ``fill`` (private, per account)
:class:`UserOrderEvent`    ``user_orders`` / ``user_order`` (private)
:class:`PositionEvent`     ``market_positions`` / ``market_position`` (private)
:class:`OrderGroupEvent`   ``order_group_updates`` (private)
:class:`LifecycleEvent`    ``market_lifecycle_v2``
=========================  ==========================================================

All times in events are **served** epoch ms (tape time + clock offset, see :mod:`simulator.clock`);
prices are Decimal YES/NO dollars, counts Decimal contracts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BookDelta:
    """A change of the displayed size of one bid level (kalshi-api.md §6.5 ``orderbook_delta``).

    ``side`` is the bid book (``"yes"`` or ``"no"``), ``price`` the level price in that side's dollars,
    ``delta`` the signed change in contracts. ``client_order_id``/``account_id`` are set when an
    account's own order caused the change (Kalshi sends ``client_order_id`` only to its owner).
    """

    ticker: str
    side: str
    price: Decimal
    delta: Decimal
    ts_ms: int
    client_order_id: str | None = None
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """The tape re-snapshotted a market's book; ``yes``/``no`` are the displayed levels afterwards.

    Each side is a tuple of ``(price_dollars, size_contracts)`` ascending (best bid last). Deltas for
    every changed level are published as :class:`BookDelta` as well, so a subscriber may ignore this.
    """

    ticker: str
    yes: tuple[tuple[Decimal, Decimal], ...]
    no: tuple[tuple[Decimal, Decimal], ...]
    ts_ms: int


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """A public trade (kalshi-api.md §6.5 ``trade``): tape-recorded or involving an account order.

    ``yes_price`` in dollars, ``count`` in contracts, ``taker_book_side`` ``bid`` (taker bought YES) or
    ``ask``; ``source`` is ``"tape"`` or ``"account"``.
    """

    trade_id: str
    ticker: str
    yes_price: Decimal
    count: Decimal
    taker_book_side: str
    ts_ms: int
    source: str

    @property
    def taker_outcome_side(self) -> str:
        """``yes`` when the taker bought YES (bid), else ``no`` (§8)."""
        return "yes" if self.taker_book_side == "bid" else "no"


@dataclass(frozen=True, slots=True)
class FillEvent:
    """One fill of one account's order; ``fill`` is the wire dict of ``GET /portfolio/fills`` (§3.4)."""

    account_id: str
    ticker: str
    fill: dict[str, Any]
    post_position: Decimal
    ts_ms: int


@dataclass(frozen=True, slots=True)
class UserOrderEvent:
    """An order was created or changed; ``order`` is the wire dict of ``GET /portfolio/orders/{id}``.

    ``reason`` follows Kalshi's ``last_update_reason`` vocabulary (§6.5 ``user_orders``), e.g.
    ``Trade``, ``Decrease``, ``Amend``, ``SelfTradeCancel``, ``ExpiryCancel``, ``CloseCancel``.
    """

    account_id: str
    ticker: str
    order: dict[str, Any]
    reason: str | None
    ts_ms: int


@dataclass(frozen=True, slots=True)
class PositionEvent:
    """An account's position in a market changed (§6.5 ``market_positions``); money in dollars."""

    account_id: str
    ticker: str
    position: Decimal
    position_cost: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal
    volume: Decimal
    ts_ms: int


@dataclass(frozen=True, slots=True)
class OrderGroupEvent:
    """An order group changed (§6.5 ``order_group_updates``).

    ``event_type`` is one of ``created``, ``triggered``, ``reset``, ``deleted``, ``limit_updated``;
    ``contracts_limit`` (contracts) is set on created and limit_updated.
    """

    account_id: str
    order_group_id: str
    event_type: str
    ts_ms: int
    contracts_limit: Decimal | None = None


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """A market lifecycle transition (§6.5 ``market_lifecycle_v2``, §7).

    ``event_type``: ``opened`` and ``closed`` (implicit in Kalshi, no WS event there), ``determined``
    (with ``result`` and ``settlement_value`` dollars) and ``settled`` (status ``finalized``).
    """

    ticker: str
    event_type: str
    ts_ms: int
    result: str | None = None
    settlement_value: Decimal | None = None


Event = (
    BookDelta
    | BookSnapshot
    | TradeEvent
    | FillEvent
    | UserOrderEvent
    | PositionEvent
    | OrderGroupEvent
    | LifecycleEvent
)
Handler = Callable[[Any], None]


@dataclass(eq=False)
class Subscription:
    """A handle returned by :meth:`EventBus.subscribe`; call :meth:`close` to stop receiving."""

    bus: EventBus
    handler: Handler
    kinds: frozenset[type] | None

    def close(self) -> None:
        """Unsubscribe (idempotent)."""
        self.bus._remove(self)


@dataclass(eq=False)
class QueueSubscription:
    """A bounded asyncio queue of events for a consumer task (the WebSocket server).

    When the consumer falls more than ``maxsize`` events behind, ``overflowed`` becomes True and no
    further events are queued (Kalshi's terminal WS error 25 "subscription buffer overflow").
    """

    queue: asyncio.Queue[Any]
    overflowed: bool = False
    _sub: Subscription | None = field(default=None, repr=False)

    def close(self) -> None:
        """Unsubscribe (idempotent)."""
        if self._sub is not None:
            self._sub.close()


class EventBus:
    """Synchronous publish/subscribe of exchange events, filtered by event class."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._by_kind: dict[type, list[Subscription]] = {}

    def subscribe(self, handler: Handler, kinds: tuple[type, ...] | None = None) -> Subscription:
        """Call ``handler(event)`` for every published event of the given classes (all when None).

        Handlers run synchronously inside :meth:`publish`; they must not block. Exceptions they raise
        are logged and swallowed so a faulty subscriber cannot break matching.
        """
        sub = Subscription(self, handler, frozenset(kinds) if kinds is not None else None)
        self._subs.append(sub)
        self._by_kind.clear()
        return sub

    def subscribe_queue(self, kinds: tuple[type, ...] | None = None, maxsize: int = 10_000) -> QueueSubscription:
        """Deliver events into a bounded :class:`asyncio.Queue` (see :class:`QueueSubscription`)."""
        qsub = QueueSubscription(asyncio.Queue(maxsize=maxsize))

        def _put(event: Any) -> None:
            if qsub.overflowed:
                return
            try:
                qsub.queue.put_nowait(event)
            except asyncio.QueueFull:
                qsub.overflowed = True

        qsub._sub = self.subscribe(_put, kinds)
        return qsub

    def _remove(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            self._by_kind.clear()

    def _targets(self, kind: type) -> list[Subscription]:
        targets = self._by_kind.get(kind)
        if targets is None:
            targets = [s for s in self._subs if s.kinds is None or kind in s.kinds]
            self._by_kind[kind] = targets
        return targets

    def wants(self, kind: type) -> bool:
        """Whether anyone subscribes to ``kind`` (lets publishers skip building costly payloads)."""
        targets = self._by_kind.get(kind)
        return bool(targets if targets is not None else self._targets(kind))

    def publish(self, event: Any) -> None:
        """Deliver ``event`` to every matching subscriber, in subscription order."""
        for sub in self._targets(type(event)):
            try:
                sub.handler(event)
            except Exception:
                log.exception("event subscriber failed on %s", type(event).__name__)
