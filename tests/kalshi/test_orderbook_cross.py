"""Transient locked/crossed books: tolerated within one exchange timestamp, an integrity error past it.

Kalshi publishes the add of an incoming order before the removal of the opposite level(s) it trades against,
all stamped with the same exchange ``ts_ms``; a book applied delta by delta is locked or crossed for 1 to 174
frames (recordings of 15-minute bitcoin markets on the tapered deci-cent grid, May 2026) and clears within that
timestamp. Those recordings are not available here (../shared/data holds the gold tape, which never crosses),
so the pattern is reproduced faithfully: a taker's add at its limit price, then the removal of every opposite
level it sweeps, best first, then the removal of its own filled add, all at one ``ts_ms``.

The unit tests drive :class:`kalshi.orderbook.OrderBook` directly; the end-to-end tests inject the same frames
into a real WebSocket connection of the simulator (``ws_inject`` on the feed's own sid, seq assigned in order)
and check :class:`kalshi.feed.MarketDataFeed`: no resync for a transient cross, the book unusable while it
lasts, counters; a cross that outlives its timestamp is resynced.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from kalshi.feed import MarketDataFeed
from kalshi.models.ws import format_lots, format_price_cc
from kalshi.orderbook import BookIntegrityError, BookNotReadyError, BookStore, CrossedBookError, OrderBook, PriceGrid
from kalshi.ws import Resynced
from tests.kalshi.test_ws_client import OPEN_AT, book_matches_rest, feed_on, register
from tests.simulator.conftest import Sim, requires_tape, running

TS = 1_780_000_000_123
Delta = tuple[str, int, int, int]  # side, price_cc, delta_lots, ts_ms


def taker_sweep(book: OrderBook, side: str, levels: int, ts_ms: int) -> list[Delta]:
    """The deltas Kalshi publishes when an incoming order takes the best ``levels`` bids of ``side``.

    The incoming order bids the other side at ``$1 - worst price taken`` for the whole swept size: its add is
    published first (the book locks or crosses), then each swept level's removal, best first, then the removal
    of the incoming order's own (fully filled) add. All at ``ts_ms``.
    """
    taken = book.depth(side, levels)  # type: ignore[arg-type]
    assert len(taken) == levels
    other = "no" if side == "yes" else "yes"
    total = sum(level.size_lots for level in taken)
    limit = 10_000 - taken[-1].price_cc
    out: list[Delta] = [(other, limit, total, ts_ms)]
    out += [(side, level.price_cc, -level.size_lots, ts_ms) for level in taken]
    out.append((other, limit, -total, ts_ms))
    return out


def deci_book(yes_levels: int) -> OrderBook:
    """A deci-cent book with ``yes_levels`` YES bids at $0.300, $0.301, ... and NO bids up to $0.520."""
    book = OrderBook("KXBTC15M-26MAY011200-00", PriceGrid.deci_cent())
    yes = [(3000 + 10 * i, 100 + i) for i in range(yes_levels)]
    best_yes = yes[-1][0]
    no = [(p, 500) for p in range(4000, min(5200, 10_000 - best_yes - 10) + 1, 10)]
    book.apply_snapshot(yes, no)
    return book


def apply_all(book: OrderBook, deltas: list[Delta]) -> list[bool]:
    crossed = []
    for side, price, delta, ts in deltas:
        book.apply_delta(side, price, delta, ts)
        crossed.append(book.crossed)
    return crossed


@pytest.mark.parametrize("levels", [1, 2, 17, 174])
def test_a_cross_that_clears_within_its_timestamp_is_tolerated(levels: int) -> None:
    book = deci_book(180)
    before = book.as_decimal_levels()
    swept = book.depth("yes", levels)
    deltas = taker_sweep(book, "yes", levels, TS)
    crossed = apply_all(book, deltas)
    # locked/crossed after the add and every removal but the last one: exactly `levels` frames
    assert crossed == [True] * levels + [False, False]
    assert book.trusted and not book.crossed and book.cross_deltas == 0 and book.cross_ts_ms is None
    assert book.last_update_ts_ms == TS
    after = book.as_decimal_levels()
    assert after["no"] == before["no"]  # the incoming order filled completely
    assert set(before["yes"]) - set(after["yes"]) == {level.price_dollars for level in swept}
    bid, ask = book.best_yes_bid_cc, book.best_yes_ask_cc
    assert bid is not None and ask is not None and bid < ask


def test_state_while_crossed() -> None:
    book = deci_book(5)
    deltas = taker_sweep(book, "yes", 3, TS)
    book.apply_delta(*deltas[0])
    assert book.crossed and book.trusted and book.cross_ts_ms == TS and book.cross_deltas == 1
    assert "crossed since ts" in repr(book)
    book.apply_delta(*deltas[1])
    assert book.crossed and book.cross_deltas == 2
    # a delta stamped a millisecond EARLIER (Kalshi's ts_ms are not strictly ordered) does not end the window
    book.apply_delta("no", 4000, 1, TS - 1)
    assert book.crossed and book.cross_deltas == 3
    for delta in deltas[2:]:
        book.apply_delta(*delta)
    assert not book.crossed and book.trusted


def test_a_cross_still_there_at_a_later_timestamp_is_an_integrity_error() -> None:
    book = deci_book(5)
    deltas = taker_sweep(book, "yes", 2, TS)
    book.apply_delta(*deltas[0])
    book.apply_delta(*deltas[1])
    held = book.snapshot()
    side, price, delta, _ = deltas[2]
    with pytest.raises(CrossedBookError) as info:
        book.apply_delta(side, price, delta, TS + 1)
    err = info.value
    assert isinstance(err, BookIntegrityError) and err.cross_ts_ms == TS
    assert "still crossed" in str(err) and "after 2 deltas" in str(err)
    assert not book.trusted and "still crossed" in (book.untrusted_reason or "")
    assert book.snapshot() == held  # the late delta was not applied
    with pytest.raises(BookNotReadyError):
        book.apply_delta(*deltas[2])
    book.apply_snapshot([(3000, 100)], [(5000, 100)])  # the resync snapshot restores trust and ends the cross
    assert book.trusted and not book.crossed and book.cross_deltas == 0


def test_a_delta_without_timestamp_while_crossed_is_an_integrity_error() -> None:
    book = deci_book(5)
    book.apply_delta(*taker_sweep(book, "yes", 1, TS)[0])
    with pytest.raises(CrossedBookError):
        book.apply_delta("yes", 3000, 1)


def test_a_crossed_snapshot_is_still_refused() -> None:
    book = OrderBook("T")
    with pytest.raises(BookIntegrityError, match="snapshot crossed"):
        book.apply_snapshot([(5000, 100)], [(5000, 100)])
    assert not book.crossed and not book.trusted


def test_tapered_deci_cent_sweep_across_the_band_edge() -> None:
    """A NO taker sweeping YES bids from $0.95 down through $0.90 into the cent band (tapered grid)."""
    grid = PriceGrid.tapered_deci_cent()
    book = OrderBook("KXBTC15M-26MAY011215-15", grid)
    yes = [(p, 1000) for p in (8700, 8800, 8900, 9000, 9010, 9050, 9100, 9230, 9500)]
    book.apply_snapshot(yes, [(100, 500), (420, 250)])  # NO bids $0.010, $0.042: YES asks $0.99, $0.958
    assert all(p in grid for p, _ in yes) and 9005 not in grid and 8950 not in grid
    deltas = taker_sweep(book, "yes", 7, TS)  # down to $0.89: the incoming NO bid is at $0.11
    assert deltas[0] == ("no", 1100, 7000, TS)
    crossed = apply_all(book, deltas)
    assert crossed == [True] * 7 + [False, False]
    assert book.best_yes_bid_cc == 8800 and book.best_yes_ask_cc == 9580 and book.trusted


def test_book_store_applies_the_same_rule() -> None:
    store = BookStore(PriceGrid.deci_cent())
    store.book("T").apply_snapshot([(3000, 100), (3010, 100)], [(6900, 100)])
    frames = taker_sweep(store["T"], "yes", 2, TS)
    for side, price, delta, ts in frames:
        store["T"].apply_delta(side, price, delta, ts)
    assert store["T"].trusted and store["T"].best_no_bid_cc == 6900


# =================================================================================================
# end to end: frames injected into a real WebSocket connection, read by the real client and feed
# =================================================================================================

MARKET = "KXGOLD15M-26AUG101800-00"


def _frames(sid: int, market: str, deltas: list[Delta]) -> list[dict[str, Any]]:
    return [
        {
            "type": "orderbook_delta",
            "sid": sid,
            "msg": {
                "market_ticker": market,
                "price_dollars": format_price_cc(price),
                "delta_fp": format_lots(delta),
                "side": side,
                "ts_ms": ts,
            },
        }
        for side, price, delta, ts in deltas
    ]


async def _inject(sim: Any, client: Any, frames: list[dict[str, Any]]) -> None:
    r = await sim.ctl("PUT", "/faults", json={"ws_inject": frames})
    assert r.status_code == 200, r.text
    await client.list_subscriptions()  # barrier: the reply is queued behind the injected frames


@asynccontextmanager
async def live_feed() -> AsyncIterator[tuple[Sim, Any, MarketDataFeed, Any, OrderBook, int, int]]:
    """A simulator 30 s into MARKET, a client and feed holding its book: ``(sim, client, feed, events, book, sid,
    a fresh exchange ts_ms)``."""
    async with running() as sim:
        clock = await sim.goto(OPEN_AT)
        signer = await register(sim)
        async with feed_on(sim, signer) as (client, feed, events):
            await feed.add_markets([MARKET])
            await sim.advance(30)
            await book_matches_rest(sim, client, feed, MARKET)
            book = feed.book(MARKET)
            sid = feed.subscription.sid if feed.subscription is not None else None
            assert isinstance(book, OrderBook) and sid is not None
            yield sim, client, feed, events, book, sid, clock["now_ms"] + 30_000


@requires_tape
async def test_feed_tolerates_a_transient_cross_without_resync_and_refuses_to_trade_on_it() -> None:
    async with live_feed() as (sim, client, feed, _events, book, sid, ts):
        best = book.depth("yes", 2)
        sweep = taker_sweep(book, "yes", 2, ts)
        # put the swept levels back (new orders at the same timestamp) so the book equals the exchange's again
        restore = [("yes", level.price_cc, level.size_lots, ts) for level in best]

        await _inject(sim, client, _frames(sid, MARKET, sweep[:2]))
        fresh = feed.freshness(MARKET)
        assert fresh.crossed and fresh.trusted and not fresh.usable(60_000)
        assert feed.usable_book(MARKET, 60_000) is None
        assert feed.metrics()["feed_books_crossed"] == 1

        await _inject(sim, client, _frames(sid, MARKET, sweep[2:] + restore))
        assert not feed.freshness(MARKET).crossed and feed.usable_book(MARKET, 60_000) is book
        await book_matches_rest(sim, client, feed, MARKET)
        f = feed.counters
        assert (f.transient_crosses, f.crossed_deltas, f.max_cross_deltas) == (1, 2, 2)
        assert (f.persistent_crosses, f.integrity_errors, f.resyncs_requested) == (0, 0, 0)
        assert client.counters.resyncs == 0
        # the book keeps following the exchange afterwards
        await sim.advance(20)
        await book_matches_rest(sim, client, feed, MARKET)


@requires_tape
async def test_feed_resyncs_a_cross_that_outlives_its_timestamp() -> None:
    async with live_feed() as (sim, client, feed, events, book, sid, ts):
        add = taker_sweep(book, "yes", 1, ts)[0]
        late = (add[0], add[1], -add[2], ts + 1)  # the add is withdrawn only at the next timestamp
        await _inject(sim, client, _frames(sid, MARKET, [add, late]))
        await events.wait(lambda e: isinstance(e, Resynced))
        await book_matches_rest(sim, client, feed, MARKET)
        f = feed.counters
        assert (f.persistent_crosses, f.integrity_errors, f.transient_crosses) == (1, 1, 0)
        assert (f.resyncs_requested, f.resyncs_completed) == (1, 1)
        assert not feed.freshness(MARKET).crossed
