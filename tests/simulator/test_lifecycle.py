"""Market lifecycle over real HTTP: close sweeps and MARKET_INACTIVE, determination, settlement."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import Any

from tests.simulator.conftest import MARKET, Sim, Trader, requires_tape, running

pytestmark = requires_tape

CENT = Decimal("0.01")


def fee(count: Decimal, price: Decimal) -> Decimal:
    return (Decimal("0.07") * count * price * (1 - price)).quantize(CENT, rounding=ROUND_CEILING)


async def take(sim: Sim, trader: Trader, side: str, count: int) -> tuple[Decimal, Decimal]:
    """Buy ``count`` of ``side`` at the best displayed price (IOC); return (price paid, fee)."""
    book = await sim.book(MARKET)
    price = 1 - max(book["no"]) if side == "yes" else 1 - max(book["yes"])
    levels = book["no"] if side == "yes" else book["yes"]
    assert levels[1 - price] >= count
    r = await trader.post(
        "/portfolio/orders",
        json={
            "ticker": MARKET,
            "side": side,
            "action": "buy",
            "count": count,
            f"{side}_price_dollars": str(price),
            "time_in_force": "immediate_or_cancel",
        },
    )
    assert r.status_code == 201 and r.json()["order"]["fill_count"] == count, r.text
    return price, fee(Decimal(count), price)


async def status(sim: Sim) -> dict[str, Any]:
    return await sim.market(MARKET)


async def test_close_determine_finalize_pays_winning_contracts() -> None:
    async with running() as sim:
        await sim.goto("2026-08-10T21:55:00Z")
        yes_holder, no_holder = await sim.trader(), await sim.trader(index=1)
        yes_price, yes_fee = await take(sim, yes_holder, "yes", 2)
        no_price, no_fee = await take(sim, no_holder, "no", 3)
        resting = await yes_holder.post(
            "/portfolio/orders", json={"ticker": MARKET, "side": "yes", "action": "sell", "count": 1, "yes_price": 99}
        )
        resting_id = resting.json()["order"]["order_id"]

        await sim.goto("2026-08-10T21:59:59.999Z")
        assert (await status(sim))["status"] == "active"
        await sim.goto("2026-08-10T22:00:00Z")
        assert (await status(sim))["status"] == "closed"
        swept = await yes_holder.order(resting_id)
        assert swept["status"] == "canceled" and swept["last_update_reason"] == "CloseCancel"
        late = await yes_holder.post(
            "/portfolio/orders", json={"ticker": MARKET, "side": "yes", "action": "buy", "count": 1, "yes_price": 1}
        )
        assert late.status_code == 400 and late.json()["error"]["code"] == "MARKET_INACTIVE"
        cancel = await yes_holder.delete(f"/portfolio/orders/{resting_id}")
        assert cancel.status_code == 400 and cancel.json()["error"]["code"] == "MARKET_INACTIVE"
        listed = await sim.http.get("/trade-api/v2/markets", params={"status": "closed", "series_ticker": "KXGOLD15M"})
        assert MARKET in [m["ticker"] for m in listed.json()["markets"]]

        await sim.goto("2026-08-10T22:00:04.461Z")
        assert (await status(sim))["status"] == "closed"
        await sim.goto("2026-08-10T22:00:04.462Z")
        market = await status(sim)
        assert market["status"] == "determined" and market["result"] == "no"
        assert market["settlement_value_dollars"] == "0.0000"

        await sim.goto("2026-08-10T22:00:05.462Z")
        market = await status(sim)
        assert market["status"] == "finalized" and "settlement_ts" in market
        winner = (await no_holder.get("/portfolio/settlements")).json()["settlements"]
        assert len(winner) == 1
        row = winner[0]
        assert row["market_result"] == "no" and row["revenue"] == 300 and row["no_count_fp"] == "3.00"
        assert row["yes_count"] == 0 and Decimal(row["no_total_cost_dollars"]) == 3 * no_price
        loser = (await yes_holder.get("/portfolio/settlements")).json()["settlements"][0]
        assert loser["revenue"] == 0 and loser["yes_count"] == 2
        expected_no = Decimal(10_000) - 3 * no_price - no_fee + 3
        bal = (await no_holder.get("/portfolio/balance")).json()
        assert Decimal(bal["balance_dollars"]) == expected_no
        assert bal["balance"] == int(expected_no * 100)
        assert bal["portfolio_value"] == 0
        expected_yes = Decimal(10_000) - 2 * yes_price - yes_fee
        assert Decimal((await yes_holder.get("/portfolio/balance")).json()["balance_dollars"]) == expected_yes
        assert (await no_holder.get("/portfolio/positions")).json()["market_positions"] == []
        settled = await sim.http.get("/trade-api/v2/markets", params={"status": "settled", "limit": 100})
        assert MARKET in [m["ticker"] for m in settled.json()["markets"]]


async def test_force_close_with_result_and_configured_delays() -> None:
    async with running(determination_delay_s="2", settlement_timer_s="3") as sim:
        await sim.goto("2026-08-10T21:50:00Z")
        trader = await sim.trader()
        price, paid_fee = await take(sim, trader, "yes", 4)
        r = await sim.ctl("POST", f"/markets/{MARKET}/close", json={"result": "yes"})
        assert r.status_code == 200 and r.json()["status"] == "closed"
        assert await sim.book(MARKET) == {"yes": {}, "no": {}}
        again = await sim.ctl("POST", f"/markets/{MARKET}/close", json={})
        assert again.status_code == 400
        await sim.advance("1.999")
        assert (await status(sim))["status"] == "closed"
        await sim.advance("0.001")
        assert (await status(sim))["result"] == "yes"
        await sim.advance(3)
        assert (await status(sim))["status"] == "finalized"
        row = (await trader.get("/portfolio/settlements")).json()["settlements"][0]
        assert row["revenue"] == 400 and row["value"] == 100 and row["market_result"] == "yes"
        expected = Decimal(10_000) - 4 * price - paid_fee + 4
        assert Decimal((await trader.get("/portfolio/balance")).json()["balance_dollars"]) == expected
        listing = (await sim.ctl("GET", "/markets")).json()["markets"]
        mine = next(m for m in listing if m["ticker"] == MARKET)
        assert mine["status"] == "finalized" and mine["tape"]["state"] in ("stopped", "done")


async def test_arranged_position_settles_and_shows_in_portfolio() -> None:
    async with running() as sim:
        trader = await sim.trader()
        r = await sim.ctl(
            "PUT",
            f"/accounts/{trader.key_id}/positions/{MARKET}",
            json={"position_fp": "-10", "market_exposure_dollars": "4.50"},
        )
        assert r.status_code == 200, r.text
        pos = (await trader.get("/portfolio/positions")).json()
        assert pos["market_positions"][0]["position_fp"] == "-10.00"
        assert pos["market_positions"][0]["market_exposure_dollars"] == "4.5000"
        assert pos["event_positions"][0]["total_cost_dollars"] == "4.5000"
        funded = await sim.ctl("PUT", f"/accounts/{trader.key_id}/balance", json={"balance_cents": 500})
        assert funded.status_code == 200
        assert await trader.balance_cents() == 500
        await sim.goto("2026-08-10T22:00:06Z")
        row = (await trader.get("/portfolio/settlements")).json()["settlements"][0]
        assert row["revenue"] == 1000 and row["no_count"] == 10
        assert await trader.balance_cents() == 1500
        account = (await sim.ctl("GET", f"/accounts/{trader.key_id}")).json()
        assert account["adjustments"][0]["position_fp"] == "-10.00"
        assert account["settlements"][0]["revenue"] == 1000
