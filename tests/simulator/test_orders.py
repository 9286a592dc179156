"""Order entry over real HTTP: V1/V2 parity, time in force, post/reduce only, validation, amend,
decrease, batches, self-trade prevention and order groups."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from simulator.timeutil import iso_ms, parse_iso_ms
from tests.simulator import tape_oracle
from tests.simulator.conftest import MARKET, Sim, Trader, requires_tape, running, v1_order

pytestmark = requires_tape

T0 = "2026-08-10T21:47:00Z"


def v2(side: str, price: Decimal | str, count: str, **extra: Any) -> dict[str, Any]:
    return {
        "ticker": MARKET,
        "side": side,
        "price": str(price),
        "count": count,
        "time_in_force": extra.pop("time_in_force", "good_till_canceled"),
        "self_trade_prevention_type": extra.pop("self_trade_prevention_type", "taker_at_cross"),
        "client_order_id": extra.pop("client_order_id", uuid.uuid4().hex),
        **extra,
    }


async def best(sim: Sim) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(best YES bid, its size, best YES ask, its size) of the displayed book."""
    book = await sim.book(MARKET)
    yes, no = max(book["yes"]), max(book["no"])
    return yes, book["yes"][yes], 1 - no, book["no"][no]


async def test_v1_and_v2_create_the_same_order() -> None:
    async with running() as sim:
        await sim.goto(T0)
        trader = await sim.trader()
        one = await trader.post(
            "/portfolio/orders",
            json=v1_order("yes", "buy", count=3, yes_price=5, client_order_id="v1-a"),
        )
        two = await trader.post("/portfolio/events/orders", json=v2("bid", "0.05", "3", client_order_id="v2-a"))
        assert one.status_code == 201 and two.status_code == 201, (one.text, two.text)
        assert two.json()["fill_count"] == "0.00" and two.json()["remaining_count"] == "3.00"
        assert "average_fill_price" not in two.json()
        a = one.json()["order"]
        b = await trader.order(two.json()["order_id"])
        same = (
            "ticker",
            "side",
            "action",
            "outcome_side",
            "book_side",
            "status",
            "yes_price",
            "no_price",
            "yes_price_dollars",
            "no_price_dollars",
            "initial_count_fp",
            "remaining_count_fp",
            "fill_count_fp",
            "initial_count",
            "type",
            "self_trade_prevention_type",
            "time_in_force",
        )
        assert {k: a[k] for k in same} == {k: b[k] for k in same}
        assert a["yes_price_dollars"] == "0.0500" and a["no_price"] == 95
        # buy NO at 1c (V1) is an ask at YES 99c (V2)
        no = await trader.post(
            "/portfolio/orders",
            json=v1_order("no", "buy", count=2, no_price_dollars="0.01", client_order_id="v1-b"),
        )
        ask = await trader.post("/portfolio/events/orders", json=v2("ask", "0.99", "2", client_order_id="v2-b"))
        assert no.status_code == 201 and ask.status_code == 201
        c, d = no.json()["order"], await trader.order(ask.json()["order_id"])
        assert c["book_side"] == d["book_side"] == "ask" and c["outcome_side"] == d["outcome_side"] == "no"
        assert c["yes_price_dollars"] == d["yes_price_dollars"] == "0.9900"
        assert c["status"] == d["status"] == "resting"
        for key in (
            "order_id",
            "user_id",
            "client_order_id",
            "ticker",
            "side",
            "action",
            "type",
            "status",
            "yes_price",
            "no_price",
            "yes_price_dollars",
            "no_price_dollars",
            "fill_count",
            "remaining_count",
            "initial_count",
            "taker_fees",
            "maker_fees",
            "taker_fill_cost",
            "maker_fill_cost",
            "taker_fill_cost_dollars",
            "maker_fill_cost_dollars",
            "queue_position",
        ):
            assert key in c, key
        listed = (await trader.get("/portfolio/orders", params={"status": "resting", "limit": 2})).json()
        assert [o["client_order_id"] for o in listed["orders"]] == ["v2-b", "v1-b"] and listed["cursor"]
        page2 = (await trader.get("/portfolio/orders", params={"limit": 2, "cursor": listed["cursor"]})).json()
        assert [o["client_order_id"] for o in page2["orders"]] == ["v2-a", "v1-a"] and page2["cursor"] == ""


async def test_validation_errors() -> None:
    async with running() as sim:
        await sim.goto(T0)
        trader = await sim.trader(balance_cents=100)

        async def code(body: dict[str, Any], path: str = "/portfolio/orders") -> tuple[int, Any]:
            r = await trader.post(path, json=body)
            return r.status_code, r.json()

        base = {"ticker": MARKET, "side": "yes", "action": "buy", "count": 10, "yes_price": 50}
        status, body = await code({k: v for k, v in base.items() if k != "ticker"})
        assert (status, body["error"]["code"]) == (400, "missing_parameters")
        status, body = await code({k: v for k, v in base.items() if k != "side"})
        assert (status, body["error"]["code"]) == (400, "invalid_order")
        status, body = await code({k: v for k, v in base.items() if k != "yes_price"})
        assert (status, body["error"]["code"]) == (400, "invalid_order")
        status, body = await code({**base, "ticker": "NOPE-1"})
        assert (status, body["error"]["code"]) == (404, "not_found")
        status, body = await code({**{k: v for k, v in base.items() if k != "yes_price"}, "yes_price_dollars": "0.505"})
        assert (status, body["error"]["code"]) == (400, "invalid_order")
        status, body = await code(base)
        assert (status, body["error"]["code"]) == (400, "insufficient_balance")
        status, body = await code({**base, "count": "ten"})
        assert status == 400 and body["code"] == "bad_request"
        status, body = await code({**base, "count": 1, "count_fp": "2.00"})
        assert (status, body["error"]["code"]) == (400, "invalid_order")
        status, body = await code(v2("bid", "0.05", "1", time_in_force="sometimes"), "/portfolio/events/orders")
        assert (status, body["error"]["code"]) == (400, "invalid_order")
        # the tape is fractional, so fractional counts are accepted here
        status, body = await code({**base, "count": None, "count_fp": "1.50", "yes_price": 1})
        assert status == 201, body
    async with running(fractional_trading_enabled=False) as sim:
        await sim.goto(T0)
        trader = await sim.trader()
        r = await trader.post("/portfolio/events/orders", json=v2("bid", "0.05", "1.50"))
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_order"


async def test_duplicate_client_order_id_is_409_only_while_an_open_order_holds_it() -> None:
    """Kalshi's rule (kalshi-api.md §3.5): a duplicate is refused while the id's order rests; once it has
    executed or been cancelled, the id may be used again."""
    async with running() as sim:
        await sim.goto(T0)
        trader = await sim.trader()
        body = {
            "ticker": MARKET,
            "side": "yes",
            "action": "buy",
            "count": 1,
            "yes_price": 2,
            "client_order_id": "dup-1",
        }
        first = await trader.post("/portfolio/orders", json=body)
        assert first.status_code == 201 and first.json()["order"]["status"] == "resting"
        again = await trader.post("/portfolio/orders", json=body)
        assert again.status_code == 409
        assert set(again.json()["error"]) >= {"code", "message"}
        v2again = await trader.post("/portfolio/events/orders", json=v2("bid", "0.02", "1", client_order_id="dup-1"))
        assert v2again.status_code == 409
        other = await sim.trader(index=1)
        assert (await other.post("/portfolio/orders", json=body)).status_code == 201
        # Cancelled: the id is free again.
        assert (await trader.delete(f"/portfolio/orders/{first.json()['order']['order_id']}")).status_code == 200
        reused = await trader.post("/portfolio/orders", json=body)
        assert reused.status_code == 201, reused.text
        assert reused.json()["order"]["order_id"] != first.json()["order"]["order_id"]
        # An executed IOC's id is free at once.
        _, _, ask, _ = await best(sim)
        ioc = v2("bid", ask, "1", client_order_id="ioc-1", time_in_force="immediate_or_cancel")
        assert (await trader.post("/portfolio/events/orders", json=ioc)).status_code == 201
        assert (await trader.post("/portfolio/events/orders", json=ioc)).status_code == 201
        listed = (await trader.get("/portfolio/orders", params={"ticker": MARKET})).json()["orders"]
        assert [o["client_order_id"] for o in listed].count("ioc-1") == 2


async def test_strict_mode_refuses_any_used_client_order_id() -> None:
    async with running(strict_client_order_ids=True) as sim:
        await sim.goto(T0)
        trader = await sim.trader()
        _, _, ask, _ = await best(sim)
        ioc = v2("bid", ask, "1", client_order_id="ioc-strict", time_in_force="immediate_or_cancel")
        first = await trader.post("/portfolio/events/orders", json=ioc)
        assert first.status_code == 201
        again = await trader.post("/portfolio/events/orders", json=ioc)
        assert again.status_code == 409 and again.json()["error"]["code"] == "order_already_exists"


async def test_ioc_fok_post_only_reduce_only() -> None:
    async with running() as sim:
        await sim.goto(T0)
        trader = await sim.trader()
        _, _, ask, ask_size = await best(sim)
        book = await sim.book(MARKET)
        at_or_better = sum(s for q, s in book["no"].items() if 1 - q <= ask)
        assert at_or_better == ask_size
        # IOC larger than the best level: fills the level, cancels the rest
        ioc = await trader.post(
            "/portfolio/events/orders", json=v2("bid", ask, str(ask_size + 5), time_in_force="immediate_or_cancel")
        )
        assert ioc.status_code == 201
        assert ioc.json()["fill_count"] == str(ask_size.quantize(Decimal("0.01")))
        assert ioc.json()["remaining_count"] == "0.00"
        order = await trader.order(ioc.json()["order_id"])
        assert order["status"] == "canceled"
        # the level is now hidden: FOK for 1 at that price finds nothing there
        _, _, ask2, size2 = await best(sim)
        fok_big = await trader.post(
            "/portfolio/events/orders", json=v2("bid", ask2, str(size2 + 1), time_in_force="fill_or_kill")
        )
        assert fok_big.status_code == 201 and fok_big.json()["fill_count"] == "0.00"
        assert (await trader.order(fok_big.json()["order_id"]))["status"] == "canceled"
        assert (await sim.book(MARKET))["no"][1 - ask2] == size2
        fok = await trader.post("/portfolio/events/orders", json=v2("bid", ask2, "1", time_in_force="fill_or_kill"))
        assert fok.json()["fill_count"] == "1.00"
        assert (await trader.order(fok.json()["order_id"]))["status"] == "executed"
        # post only
        cross = await trader.post("/portfolio/events/orders", json=v2("bid", ask2, "1", post_only=True))
        assert cross.status_code == 400
        # Both error shapes: the spec's flat ErrorResponse and the nested {"error": {...}} (docs/simulator.md).
        reject = {"code": "invalid_order", "message": "invalid order", "details": "post only cross"}
        assert cross.json() == {**reject, "error": reject}
        passive = await trader.post("/portfolio/events/orders", json=v2("bid", "0.02", "1", post_only=True))
        assert passive.status_code == 201 and passive.json()["remaining_count"] == "1.00"
        # reduce only: long YES now, so a reduce-only bid cannot add, a reduce-only ask caps at the position
        held = Decimal((await trader.get("/portfolio/positions")).json()["market_positions"][0]["position_fp"])
        assert held == ask_size + 1
        more = await trader.post("/portfolio/events/orders", json=v2("bid", "0.02", "1", reduce_only=True))
        assert more.status_code == 201 and more.json()["remaining_count"] == "0.00"
        assert (await trader.order(more.json()["order_id"]))["status"] == "canceled"
        bid, _, _, _ = await best(sim)
        sell = await trader.post(
            "/portfolio/events/orders",
            json=v2("ask", "0.01", str(held + 10), reduce_only=True, time_in_force="immediate_or_cancel"),
        )
        assert sell.status_code == 201
        assert Decimal(sell.json()["fill_count"]) == held
        positions = (await trader.get("/portfolio/positions", params={"count_filter": "position"})).json()
        assert positions["market_positions"] == []
        everything = (await trader.get("/portfolio/positions")).json()["market_positions"][0]
        assert everything["position_fp"] == "0.00" and Decimal(everything["realized_pnl_dollars"]) != 0
        assert bid > 0


async def test_amend_decrease_cancel_batches_and_self_trade() -> None:
    async with running() as sim:
        await sim.goto(T0)
        trader = await sim.trader()
        made = await trader.post(
            "/portfolio/orders/batched",
            json={
                "orders": [
                    {
                        "ticker": MARKET,
                        "side": "yes",
                        "action": "buy",
                        "count": 4,
                        "yes_price": 3,
                        "client_order_id": "b-1",
                    },
                    {
                        "ticker": MARKET,
                        "side": "yes",
                        "action": "buy",
                        "count": 4,
                        "yes_price": 2,
                        "client_order_id": "b-2",
                    },
                    {"ticker": MARKET, "side": "yes", "action": "buy", "count": 4, "yes_price": 150},
                ]
            },
        )
        assert made.status_code == 201
        items = made.json()["orders"]
        assert items[0]["order"]["status"] == "resting" and items[2]["error"]["code"] == "invalid_order"
        first = items[0]["order"]["order_id"]
        dec = await trader.post(f"/portfolio/orders/{first}/decrease", json={"reduce_by": 1})
        assert dec.json()["order"]["remaining_count_fp"] == "3.00"
        amended = await trader.post(
            f"/portfolio/orders/{first}/amend",
            json=v1_order("yes", "buy", yes_price=4, count=5, updated_client_order_id="b-1x"),
        )
        assert amended.status_code == 200, amended.text
        assert amended.json()["old_order"]["yes_price"] == 3
        assert amended.json()["order"]["yes_price"] == 4 and amended.json()["order"]["remaining_count_fp"] == "5.00"
        assert amended.json()["order"]["client_order_id"] == "b-1x"
        assert (await sim.book(MARKET))["yes"][Decimal("0.04")] >= 5
        cancel = await trader.delete(f"/portfolio/orders/{first}")
        assert cancel.status_code == 200
        assert cancel.json()["reduced_by"] == 5 and cancel.json()["reduced_by_fp"] == "5.00"
        assert cancel.json()["order"]["status"] == "canceled" and cancel.json()["order"]["remaining_count_fp"] == "0.00"
        again = await trader.delete(f"/portfolio/orders/{first}")
        assert again.json()["reduced_by"] == 0
        assert (await trader.delete("/portfolio/orders/not-an-order")).status_code == 404
        second = items[1]["order"]["order_id"]
        gone = await trader.delete("/portfolio/orders/batched", json={"ids": [second, "nope"]})
        assert [o["reduced_by"] for o in gone.json()["orders"]] == [4, 0]
        assert gone.json()["orders"][1]["error"]["code"] == "not_found"
        v2_cancel_all = await trader.delete("/portfolio/events/orders")
        assert v2_cancel_all.status_code == 204 and not v2_cancel_all.content
        assert not (await trader.get("/portfolio/orders", params={"status": "resting"})).json()["orders"]


async def test_self_trade_prevention() -> None:
    async with running() as sim:
        t0 = tape_oracle.first_time(MARKET, parse_iso_ms(T0), tape_oracle.spread_at_least(Decimal("0.03")))
        await sim.goto(iso_ms(t0))
        _, _, ask, _ = await best(sim)
        mine = ask - Decimal("0.01")
        trader = await sim.trader()
        own = await trader.post("/portfolio/events/orders", json=v2("ask", mine, "2"))
        assert own.status_code == 201 and own.json()["remaining_count"] == "2.00"
        taker = await trader.post("/portfolio/events/orders", json=v2("bid", mine, "2"))
        assert taker.status_code == 201 and taker.json()["fill_count"] == "0.00"
        cancelled = await trader.order(taker.json()["order_id"])
        assert cancelled["status"] == "canceled" and cancelled["last_update_reason"] == "SelfTradeCancel"
        assert (await trader.order(own.json()["order_id"]))["status"] == "resting"
        maker = await trader.post(
            "/portfolio/events/orders", json=v2("bid", mine, "1", self_trade_prevention_type="maker")
        )
        assert maker.status_code == 201 and maker.json()["fill_count"] == "0.00"
        gone = await trader.order(own.json()["order_id"])
        assert gone["status"] == "canceled" and gone["last_update_reason"] == "SelfTradeCancel"
        assert (await trader.order(maker.json()["order_id"]))["status"] == "resting"


async def test_order_group_triggers_past_its_limit_within_15_seconds() -> None:
    async with running() as sim:
        await sim.goto(T0)
        trader = await sim.trader()
        r = await trader.post("/portfolio/order_groups/create", json={"contracts_limit": 5})
        assert r.status_code == 201
        group = r.json()["order_group_id"]
        resting = await trader.post("/portfolio/events/orders", json=v2("bid", "0.02", "3", order_group_id=group))
        assert resting.status_code == 201
        _, _, ask, size = await best(sim)
        assert size >= 3, "needs 3 contracts at the best ask"
        first = await trader.post(
            "/portfolio/events/orders",
            json=v2("bid", ask, "3", order_group_id=group, time_in_force="immediate_or_cancel"),
        )
        assert first.json()["fill_count"] == "3.00"
        info = (await trader.get(f"/portfolio/order_groups/{group}")).json()
        assert info["is_auto_cancel_enabled"] is True and info["triggered"] is False
        assert info["orders"] == [resting.json()["order_id"]]
        await sim.advance(5)
        _, _, ask, size = await best(sim)
        assert size >= 3
        second = await trader.post(
            "/portfolio/events/orders",
            json=v2("bid", ask, "3", order_group_id=group, time_in_force="immediate_or_cancel"),
        )
        assert second.json()["fill_count"] == "3.00"
        info = (await trader.get(f"/portfolio/order_groups/{group}")).json()
        assert info["triggered"] is True and info["status"] == "triggered" and info["orders"] == []
        assert (await trader.order(resting.json()["order_id"]))["status"] == "canceled"
        rejected = await trader.post("/portfolio/events/orders", json=v2("bid", "0.02", "1", order_group_id=group))
        assert rejected.status_code == 400 and rejected.json()["error"]["code"] == "order_group_triggered"
        assert (
            await trader.put(
                f"/portfolio/order_groups/{group}/reset", content=b"", headers={"Content-Type": "application/json"}
            )
        ).json() == {}
        ok = await trader.post("/portfolio/events/orders", json=v2("bid", "0.02", "1", order_group_id=group))
        assert ok.status_code == 201
        # lowering the limit below the rolling volume triggers; the window is 15 s of exchange time
        await sim.advance(1)
        _, _, ask, size = await best(sim)
        assert size >= 2
        two = await trader.post(
            "/portfolio/events/orders",
            json=v2("bid", ask, "2", order_group_id=group, time_in_force="immediate_or_cancel"),
        )
        assert two.json()["fill_count"] == "2.00"
        assert (await trader.get(f"/portfolio/order_groups/{group}")).json()["triggered"] is False
        lowered = await trader.put(f"/portfolio/order_groups/{group}/limit", json={"contracts_limit": 1})
        assert lowered.status_code == 200
        info = (await trader.get(f"/portfolio/order_groups/{group}")).json()
        assert info["triggered"] is True and info["contracts_limit_fp"] == "1.00"
        assert (await trader.order(ok.json()["order_id"]))["status"] == "canceled"
        await trader.put(f"/portfolio/order_groups/{group}/reset", json={})
        assert (await trader.get(f"/portfolio/order_groups/{group}")).json()["triggered"] is False
        await trader.put(f"/portfolio/order_groups/{group}/trigger", json={})
        assert (await trader.get(f"/portfolio/order_groups/{group}")).json()["triggered"] is True
        listed = (await trader.get("/portfolio/order_groups")).json()["order_groups"]
        assert listed[0]["id"] == group
        assert (await trader.delete(f"/portfolio/order_groups/{group}")).json() == {}
        assert (await trader.get(f"/portfolio/order_groups/{group}")).status_code == 404
        bad = await trader.post("/portfolio/events/orders", json=v2("bid", "0.02", "1", order_group_id=group))
        assert bad.status_code == 404


async def test_rolling_window_forgets_fills_older_than_15_seconds() -> None:
    async with running() as sim:
        await sim.goto(T0)
        trader: Trader = await sim.trader()
        created = await trader.post("/portfolio/order_groups/create", json={"contracts_limit": 5})
        group = created.json()["order_group_id"]
        for _ in range(2):
            _, _, ask, size = await best(sim)
            assert size >= 3
            r = await trader.post(
                "/portfolio/events/orders",
                json=v2("bid", ask, "3", order_group_id=group, time_in_force="immediate_or_cancel"),
            )
            assert r.json()["fill_count"] == "3.00"
            assert (await trader.get(f"/portfolio/order_groups/{group}")).json()["triggered"] is False
            await sim.advance(16)


async def test_expiration_ts_cancels_at_that_exchange_time() -> None:
    async with running() as sim:
        clock = await sim.goto(T0)
        trader = await sim.trader()
        expires = clock["now_ms"] // 1000 + 10
        r = await trader.post(
            "/portfolio/orders",
            json=v1_order("yes", "buy", count=1, yes_price=1, expiration_ts=expires),
        )
        order_id = r.json()["order"]["order_id"]
        assert r.json()["order"]["expiration_time"] == iso_ms(expires * 1000)
        await sim.advance(9)
        assert (await trader.order(order_id))["status"] == "resting"
        await sim.advance(2)
        expired = await trader.order(order_id)
        assert expired["status"] == "canceled" and expired["last_update_reason"] == "ExpiryCancel"


async def test_v2_amend_decrease_batches_and_portfolio_filters() -> None:
    async with running() as sim:
        await sim.goto(T0)
        trader = await sim.trader()
        made = await trader.post(
            "/portfolio/events/orders/batched",
            json={
                "orders": [
                    v2("bid", "0.02", "5", client_order_id="e-1"),
                    v2("bid", "0.03", "5", client_order_id="e-2"),
                    v2("bid", "0.03", "-1", client_order_id="e-3"),
                ]
            },
        )
        assert made.status_code == 201
        items = made.json()["orders"]
        assert items[0]["error"] is None and items[2]["error"]["code"] == "invalid_order"
        first, second = items[0]["order_id"], items[1]["order_id"]
        dec = await trader.post(f"/portfolio/events/orders/{first}/decrease", json={"reduce_to": "2"})
        assert dec.json()["remaining_count"] == "2.00"
        amend = await trader.post(
            f"/portfolio/events/orders/{first}/amend",
            json={"ticker": MARKET, "side": "bid", "price": "0.04", "count": "3"},
        )
        assert amend.status_code == 200, amend.text
        assert amend.json()["remaining_count"] == "3.00" and amend.json()["fill_count"] == "0.00"
        assert (await trader.order(first))["yes_price_dollars"] == "0.0400"
        wrong_side = await trader.post(
            f"/portfolio/events/orders/{first}/amend",
            json={"ticker": MARKET, "side": "ask", "price": "0.04", "count": "3"},
        )
        assert wrong_side.status_code == 400
        gone = await trader.delete("/portfolio/events/orders/batched", json={"orders": [{"order_id": second}]})
        assert gone.json()["orders"][0]["reduced_by"] == "5.00"
        one = await trader.delete(f"/portfolio/events/orders/{first}")
        assert one.json()["reduced_by"] == "3.00"
        value = (await trader.get("/portfolio/summary/total_resting_order_value")).json()
        assert value["total_resting_order_value"] == 0
        assert value["resting_order_value_breakdown"] == [{"exchange_index": 0, "balance": "0.0000"}]
        _, _, ask, _ = await best(sim)
        bought = await trader.post(
            "/portfolio/events/orders", json=v2("bid", ask, "1", time_in_force="immediate_or_cancel")
        )
        order_id = bought.json()["order_id"]
        fills = (await trader.get("/portfolio/fills", params={"order_id": order_id})).json()["fills"]
        assert len(fills) == 1 and fills[0]["order_id"] == order_id and fills[0]["ticker"] == MARKET
        assert (await trader.get("/portfolio/fills", params={"ticker": "OTHER-1"})).json()["fills"] == []
        positions = (
            await trader.get(
                "/portfolio/positions",
                params={"event_ticker": "KXGOLD15M-26AUG101800", "count_filter": "position,total_traded"},
            )
        ).json()
        assert positions["market_positions"][0]["position_fp"] == "1.00"
        assert positions["event_positions"][0]["event_ticker"] == "KXGOLD15M-26AUG101800"
        assert (await trader.get("/portfolio/positions", params={"count_filter": "nonsense"})).status_code == 400
        events = (
            await sim.http.get(
                "/trade-api/v2/events",
                params={"series_ticker": "KXGOLD15M", "status": "open", "with_nested_markets": "true"},
            )
        ).json()
        assert [e["event_ticker"] for e in events["events"]] == ["KXGOLD15M-26AUG101800"]
        assert events["events"][0]["markets"][0]["ticker"] == MARKET
