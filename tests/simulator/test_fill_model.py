"""The fill model against replayed liquidity (docs/simulator.md "Fill model"), checked against an
independent reading of the recorded tape."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from models.fees import FeeSchedule, OrderFeeAccumulator
from simulator.timeutil import iso_ms, parse_iso_ms
from tests.simulator import tape_oracle
from tests.simulator.conftest import MARKET, requires_tape, running, v1_order

pytestmark = requires_tape

CENT = Decimal("0.01")


def v2_order(side: str, price: Decimal, count: str, time_in_force: str, client_order_id: str = "") -> dict[str, Any]:
    """A V2 ``POST /portfolio/events/orders`` body on the tests' market (``side`` bid/ask, ``price`` of YES)."""
    return {
        "ticker": MARKET,
        "side": side,
        "price": str(price),
        "count": count,
        "time_in_force": time_in_force,
        "self_trade_prevention_type": "taker_at_cross",
        "client_order_id": client_order_id or uuid.uuid4().hex,
    }


def cash_change(*fills: tuple[Decimal, Decimal]) -> Decimal:
    """The balance change of one buy order filled as a taker in ``(count, price)`` pieces, by Kalshi's fee rounding."""
    acc = OrderFeeAccumulator(FeeSchedule.taker_only())
    return sum((acc.fill(count, price, "buy", is_taker=True).cash_change_dollars for count, price in fills), Decimal(0))


def next_level_change(ticker: str, after_ms: int, side: str, price: Decimal) -> tuple[int, Decimal] | None:
    """The next batch after ``after_ms`` that changes the tape size at ``(side, price)``: ``(time, signed change)``."""
    book = tape_oracle.fold(ticker, after_ms)
    for when, frames in tape_oracle.batches(ticker, after_ms):
        before = book[side].get(price, Decimal(0))
        for kind, msg in frames:
            tape_oracle.apply(book, kind, msg)
        after = book[side].get(price, Decimal(0))
        if after != before:
            return when, after - before
    return None


async def test_crossing_buy_consumes_displayed_size_and_it_stays_consumed() -> None:
    """Taken tape size is hidden; later tape decreases at that level pay it down first, increases show in full."""
    async with running() as sim:
        t0 = tape_oracle.first_time(
            MARKET, parse_iso_ms("2026-08-10T21:47:00Z"), lambda b: bool(b["no"]) and b["no"][max(b["no"])] > 2
        )
        await sim.goto(iso_ms(t0))
        book = await sim.book(MARKET)
        assert book == tape_oracle.fold(MARKET, t0)
        q = max(book["no"])
        size = book["no"][q]
        yes_price = 1 - q
        trader = await sim.trader()
        r = await trader.post(
            "/portfolio/events/orders",
            json=v2_order("bid", yes_price, "1.50", "immediate_or_cancel"),
        )
        assert r.status_code == 201, r.text
        assert r.json()["fill_count"] == "1.50"
        assert Decimal(r.json()["average_fill_price"]) == yes_price
        after = await sim.book(MARKET)
        assert after["no"][q] == size - Decimal("1.50")
        assert after["yes"] == book["yes"]
        bal = (await trader.get("/portfolio/balance")).json()
        assert Decimal(bal["balance_dollars"]) == Decimal(10_000) + cash_change((Decimal("1.50"), yes_price))
        assert Decimal(bal["balance_dollars"]) % Decimal("0.01") == 0  # Kalshi balances move in whole cents

        # Follow the level until the tape has removed the consumed 1.50 contracts: until then the displayed size
        # is the tape's minus what is still consumed; increases do not make the consumed size reappear.
        consumed = Decimal("1.50")
        at = t0
        checked = 0
        while consumed > 0:
            change = next_level_change(MARKET, at, "no", q)
            assert change is not None, "the tape never removes the consumed size"
            at, delta = change
            if delta < 0:
                consumed = max(Decimal(0), consumed + delta)
            tape_size = tape_oracle.fold(MARKET, at)["no"].get(q, Decimal(0))
            consumed = min(consumed, tape_size)
            await sim.goto(iso_ms(at))
            shown = (await sim.book(MARKET))["no"].get(q, Decimal(0))
            assert shown == tape_size - consumed, (at, delta, tape_size, consumed)
            checked += 1
        assert checked >= 1
        assert await sim.book(MARKET) == tape_oracle.fold(MARKET, at)  # paid off: the tape is authoritative again


def expected_first_fill(ticker: str, placed_ms: int, price: Decimal, ahead: Decimal) -> tuple[int, str, Decimal]:
    """When the model must first fill a resting YES bid at ``price`` with ``ahead`` tape contracts in front.

    Trades of a batch are applied before its book frames. Returns ``(time, why, queue ahead just before)``.
    """
    book = tape_oracle.fold(ticker, placed_ms)
    for when, frames in tape_oracle.batches(ticker, placed_ms):
        before = ahead
        for kind, msg in frames:
            if kind != "trade" or msg["taker_book_side"] != "ask":
                continue
            traded_at = Decimal(msg["yes_price_dollars"])
            count = Decimal(msg["count_fp"])
            if traded_at < price:
                return when, "trade through", before
            if traded_at == price:
                if count > ahead:
                    return when, "queue exhausted", before
                ahead -= count
        for kind, msg in frames:
            if kind == "trade":
                continue
            tape_oracle.apply(book, kind, msg)
            if kind == "orderbook_snapshot":
                ahead = min(ahead, book["yes"].get(price, Decimal(0)))
                if any(q >= 1 - price for q in book["no"]):
                    return when, "tape crossed", before
            elif msg["side"] == "yes" and Decimal(msg["price_dollars"]) == price and Decimal(msg["delta_fp"]) < 0:
                ahead = min(ahead, book["yes"].get(price, Decimal(0)))
            elif (
                msg["side"] == "no"
                and Decimal(msg["price_dollars"]) >= 1 - price
                and book["no"].get(Decimal(msg["price_dollars"]))
            ):
                return when, "tape crossed", before
    raise AssertionError("the tape never fills this order")


@pytest.mark.parametrize(
    ("start", "improve", "why"),
    [
        ("2026-08-10T21:47:20Z", False, "queue exhausted"),
        ("2026-08-10T21:47:00Z", False, "trade through"),
        ("2026-08-10T21:48:00Z", False, "tape crossed"),
        ("2026-08-10T21:47:00Z", True, "queue exhausted"),
    ],
)
async def test_resting_bid_fills_only_when_the_tape_trades_through_it(start: str, improve: bool, why: str) -> None:
    async with running() as sim:
        t0 = tape_oracle.first_time(MARKET, parse_iso_ms(start), tape_oracle.spread_at_least(2 * CENT))
        await sim.goto(iso_ms(t0))
        book = await sim.book(MARKET)
        best = max(book["yes"])
        price = best + CENT if improve else best
        ahead = Decimal(0) if improve else book["yes"][best]
        trader = await sim.trader()
        r = await trader.buy(MARKET, "yes", int(price * 100), 1)
        assert r.status_code == 201, r.text
        order = r.json()["order"]
        assert order["status"] == "resting" and order["fill_count_fp"] == "0.00"
        order_id = order["order_id"]
        queue = (await trader.get(f"/portfolio/orders/{order_id}/queue_position")).json()
        assert Decimal(queue["queue_position_fp"]) == ahead
        when, reason, ahead_before = expected_first_fill(MARKET, t0, price, ahead)
        assert reason == why
        if when - 1 > t0:
            await sim.goto(iso_ms(when - 1))
            assert (await trader.order(order_id))["fill_count_fp"] == "0.00"
            queue = (await trader.get(f"/portfolio/orders/{order_id}/queue_position")).json()
            assert Decimal(queue["queue_position_fp"]) == ahead_before
        await sim.goto(iso_ms(when))
        filled = await trader.order(order_id)
        assert Decimal(filled["fill_count_fp"]) > 0
        fills = (await trader.get("/portfolio/fills", params={"order_id": order_id})).json()["fills"]
        assert fills and all(f["is_taker"] is False and Decimal(f["yes_price_dollars"]) == price for f in fills)
        # makers pay no trade fee on a quadratic series, only Kalshi's rounding fee on sub-cent notional
        acc = OrderFeeAccumulator(FeeSchedule.taker_only())
        expected = [acc.fill(f["count_fp"], price, "buy", is_taker=False) for f in reversed(fills)]
        assert [Decimal(f["fee_cost"]) for f in reversed(fills)] == [e.net_fee_dollars for e in expected]
        assert all(e.trade_fee_micro == 0 for e in expected)
        position = (await trader.get("/portfolio/positions")).json()["market_positions"][0]
        assert Decimal(position["position_fp"]) == Decimal(filled["fill_count_fp"])


async def test_account_vs_account_price_time_priority_and_partial_fills() -> None:
    async with running() as sim:
        t0 = tape_oracle.first_time(MARKET, parse_iso_ms("2026-08-10T21:47:00Z"), tape_oracle.spread_at_least(3 * CENT))
        await sim.goto(iso_ms(t0))
        book = await sim.book(MARKET)
        price = max(book["yes"]) + CENT
        cents = int(price * 100)
        first, second, taker = await sim.trader(), await sim.trader(index=1), await sim.trader(index=2)
        a = await first.post(
            "/portfolio/orders",
            json=v1_order("yes", "sell", count=5, yes_price=cents, client_order_id="a1"),
        )
        assert a.status_code == 201 and a.json()["order"]["status"] == "resting", a.text
        b = await second.post(
            "/portfolio/events/orders",
            json=v2_order("ask", price, "4", "good_till_canceled", client_order_id="b1"),
        )
        assert b.status_code == 201, b.text
        shown = await sim.book(MARKET)
        assert shown["no"][1 - price] == 9
        c = await taker.buy(MARKET, "yes", cents, 7)
        assert c.status_code == 201, c.text
        taken = c.json()["order"]
        assert taken["status"] == "executed" and taken["fill_count_fp"] == "7.00"
        assert Decimal(taken["taker_fill_cost_dollars"]) == 7 * price
        assert (await first.order(a.json()["order"]["order_id"]))["status"] == "executed"
        rest = await second.order(b.json()["order_id"])
        assert rest["status"] == "resting" and rest["fill_count_fp"] == "2.00" and rest["remaining_count_fp"] == "2.00"
        assert (await sim.book(MARKET))["no"][1 - price] == 2
        fills = (await taker.get("/portfolio/fills")).json()["fills"]
        assert sorted(f["count_fp"] for f in fills) == ["2.00", "5.00"]
        assert all(f["is_taker"] and Decimal(f["yes_price_dollars"]) == price for f in fills)
        maker_fill = (await first.get("/portfolio/fills")).json()["fills"][0]
        assert maker_fill["is_taker"] is False and maker_fill["fee_cost"] == "0.0000"
        assert maker_fill["outcome_side"] == "no" and maker_fill["book_side"] == "ask"

        async def position(trader) -> str:
            rows = (await trader.get("/portfolio/positions")).json()["market_positions"]
            return rows[0]["position_fp"]

        assert await position(first) == "-5.00"
        assert await position(second) == "-2.00"
        assert await position(taker) == "7.00"
        expected = 10_000 + cash_change((Decimal(5), price), (Decimal(2), price))
        assert Decimal((await taker.get("/portfolio/balance")).json()["balance_dollars"]) == expected
        # the maker's NO cost is its collateral: 5 contracts at 1 - price
        assert Decimal((await first.get("/portfolio/balance")).json()["balance_dollars"]) == 10_000 - 5 * (1 - price)


@pytest.mark.parametrize("maker_count", ["1.00", "0.30"])
async def test_a_taker_order_filled_by_many_makers_pays_whole_cents(maker_count: str) -> None:
    """Kalshi's fee rounding over HTTP (kalshi-api.md §7, docs.kalshi.com "Fee Rounding"; a non-direct member's
    balance precision is $0.01): every fill moves the balance by whole cents, so an order whose notional is whole
    cents pays a whole-cent fee in total, the fills' ``fee_cost`` add up to the order's ``taker_fees_dollars``, and
    the per-order accumulator makes the order cost what one equivalent fill costs, give or take its last cent. A
    single fill's ``fee_cost`` is sub-cent only when its own notional is (0.30 contract at a cent price): the
    rounding fee then brings the balance change to whole cents, exactly as the page's worked examples do."""
    async with running() as sim:
        t0 = tape_oracle.first_time(MARKET, parse_iso_ms("2026-08-10T21:47:00Z"), tape_oracle.spread_at_least(3 * CENT))
        await sim.goto(iso_ms(t0))
        price = max((await sim.book(MARKET))["yes"]) + CENT
        makers = 10 if maker_count == "0.30" else 3  # 3.00 contracts in all either way: a whole-cent notional
        for index in range(makers):
            maker = await sim.trader(index=index + 1)
            r = await maker.post(
                "/portfolio/events/orders", json=v2_order("ask", price, maker_count, "good_till_canceled")
            )
            assert r.status_code == 201, r.text
        taker = await sim.trader()
        before = await taker.balance_cents()
        total = Decimal(maker_count) * makers
        r = await taker.buy(MARKET, "yes", int(price * 100), int(total))
        assert r.status_code == 201, r.text
        order = r.json()["order"]
        assert order["status"] == "executed" and Decimal(order["fill_count_fp"]) == total
        fills = (await taker.get("/portfolio/fills", params={"order_id": order["order_id"]})).json()["fills"]
        assert len(fills) == makers and all(f["is_taker"] for f in fills)
        fees = [Decimal(f["fee_cost"]) for f in fills]
        assert all(fee > 0 for fee in fees)
        assert all((Decimal(f["count_fp"]) * price + fee) % CENT == 0 for f, fee in zip(fills, fees, strict=True))
        if maker_count == "1.00":
            assert all(fee % CENT == 0 for fee in fees)
        else:
            assert any(fee % CENT != 0 for fee in fees)  # sub-cent notional, sub-cent fee, whole-cent balance change
        paid = sum(fees, Decimal(0))
        assert paid % CENT == 0 and Decimal(order["taker_fees_dollars"]) == paid
        one_fill = OrderFeeAccumulator(FeeSchedule.taker_only()).fill(total, price, "buy", is_taker=True)
        assert one_fill.net_fee_dollars <= paid <= one_fill.net_fee_dollars + CENT
        assert before - await taker.balance_cents() == int((total * price + paid) * 100)
