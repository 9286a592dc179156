"""A worker killed (SIGKILL) while an order is in flight: after a restart, no intent is placed twice.

The crash window that creates duplicate orders in naive systems: the exchange has applied the close
order but its answer never reached the worker. The simulator holds the order's response for 30 s
(``fail_next`` with ``after_processing`` and ``delay_ms``); the test kills the worker process inside
that window, starts a new one, and checks the exchange: one close order, the position flat, exactly
the held contracts sold.
"""

from __future__ import annotations

from decimal import Decimal

from tests.conftest import eventually
from tests.harness import Harness, fast_config


async def test_killed_worker_leaves_no_duplicate_orders(harness: Harness, sim, tmp_path) -> None:
    await harness.stop_worker()  # this test runs the worker as a separate process it can kill
    ticker, yes_bid, _ = await harness.freeze_on_quoted_market()
    await harness.arrange_position(ticker, "10", (yes_bid * 10 / Decimal("1.5")).quantize(Decimal("0.01")))
    await harness.faults(
        fail_next=[
            {"path_prefix": "/portfolio/events/orders", "method": "POST", "after_processing": True, "delay_ms": 30_000}
        ]
    )
    log = tmp_path / "worker.log"
    first = harness.worker_process(log, database_url=None)
    first.start()
    try:
        handle = await harness.start(fast_config(activity_timeout_s=4))

        async def close_orders() -> list[dict]:
            acct = await harness.exchange_account()
            return [o for o in acct["orders"] if o["client_order_id"].startswith("close_position:take_profit:")]

        [applied] = await eventually(close_orders, timeout_s=60, what="the close order applied at the exchange")
        assert Decimal(applied["fill_count_fp"]) == 10  # applied and filled; its answer is held
        first.kill9()

        second = harness.worker_process(log, database_url=None)
        second.start()
        try:
            st = await harness.wait_status(
                handle, lambda s: any(c.reason == "take_profit" for c in s.recent_closes), "the close after restart", 90
            )
        finally:
            second.stop(timeout_s=30)
    finally:
        first.kill9()
    [close] = [c for c in st.recent_closes if c.reason == "take_profit"]
    assert close.status == "closed" and close.closed_contracts == 10 and close.attempts == 1
    orders = await close_orders()
    assert len(orders) == 1, f"the intent was placed {len(orders)} times"
    assert orders[0]["client_order_id"] == close.client_order_ids[0]
    assert await harness.exchange_position(ticker) == 0
    fills = [f for f in (await harness.exchange_account())["fills"] if f["order_id"] == orders[0]["order_id"]]
    assert sum(Decimal(f["count_fp"]) for f in fills) == 10
    assert "already existed" in log.read_text(), "the restarted worker resolved the order by client_order_id"
