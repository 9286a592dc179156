"""TraderWorkflow end to end: real dev server, real worker, the simulator replaying the real tape.

Each test arranges exchange state through the simulator's control API, runs the trader at a 1 s
recalibration interval, and asserts what an operator would check: the close (reason, status, the
order at the exchange) and the position gone at the exchange.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from models.trader import (
    CloseSettings,
    ExitRules,
    LifecycleState,
    TraderStatus,
)
from tests.harness import Harness, fast_config, trading_config
from workflows.names import SIGNAL_PAUSE, SIGNAL_RESUME, SIGNAL_STOP


def _closes(st: TraderStatus, reason: str):
    return [c for c in st.recent_closes if c.reason == reason]


async def _assert_closed_at_exchange(
    harness: Harness, ticker: str, reason: str, contracts: Decimal, held: str = "yes"
) -> None:
    assert await harness.exchange_position(ticker) == 0
    acct = await harness.exchange_account()
    orders = [o for o in acct["orders"] if o["client_order_id"].startswith(f"close_position:{reason}:")]
    assert orders, f"no close_position:{reason} order at the exchange"
    # Selling YES is an ask on the YES book; selling NO is a bid (kalshi-api.md §8).
    book_side = "ask" if held == "yes" else "bid"
    assert all(o["ticker"] == ticker and o["book_side"] == book_side for o in orders)
    assert sum(Decimal(o["fill_count_fp"]) for o in orders) == contracts


async def test_take_profit_closes_the_position_at_the_exchange(harness: Harness) -> None:
    ticker, yes_bid, _ = await harness.freeze_on_quoted_market()
    # 10 YES bought for bid/1.5 each: marked at the best YES bid that is +50 %.
    exposure = (yes_bid * 10 / Decimal("1.5")).quantize(Decimal("0.01"))
    await harness.arrange_position(ticker, "10", exposure)
    handle = await harness.start(fast_config())
    st = await harness.wait_status(handle, lambda s: bool(_closes(s, "take_profit")), "a take_profit close")
    [close] = _closes(st, "take_profit")
    assert (close.ticker, close.side, close.status, close.closed_contracts) == (ticker, "yes", "closed", 10)
    assert close.tag == "close_position:take_profit" and close.remaining_contracts == 0
    assert close.attempts == 1, "the close is priced to cross the whole size in one order"
    await _assert_closed_at_exchange(harness, ticker, "take_profit", Decimal(10))


async def test_stop_loss_closes_a_losing_no_position(harness: Harness) -> None:
    ticker, _, no_bid = await harness.freeze_on_quoted_market()
    # 8 NO bought for bid/0.8 each: marked at the best NO bid that is -20 %.
    exposure = (no_bid * 8 / Decimal("0.8")).quantize(Decimal("0.01"))
    await harness.arrange_position(ticker, "-8", exposure)
    handle = await harness.start(fast_config())
    st = await harness.wait_status(handle, lambda s: bool(_closes(s, "stop_loss")), "a stop_loss close")
    [close] = _closes(st, "stop_loss")
    assert (close.side, close.status, close.closed_contracts) == ("no", "closed", 8)
    await _assert_closed_at_exchange(harness, ticker, "stop_loss", Decimal(8), held="no")


async def test_max_hold_time_closes_an_old_position(harness: Harness) -> None:
    ticker, yes_bid, _ = await harness.freeze_on_quoted_market()
    await harness.arrange_position(ticker, "5", (yes_bid * 5).quantize(Decimal("0.01")))  # break-even
    config = fast_config(
        exits=ExitRules(
            take_profit_pct=Decimal(100), stop_loss_pct=Decimal(1), max_hold_time_s=30, cash_reserve_cents=0
        )
    )
    handle = await harness.start(config)
    # The position is adopted at the first calibration (exchange clock, which is paused): not old yet.
    st = await harness.wait_status(handle, lambda s: s.cycle >= 2 and bool(s.positions), "the position adopted")
    assert not st.recent_closes and st.positions[0].held_for_s is not None and st.positions[0].held_for_s < 30
    await harness.advance(31)  # the exchange clock moves 31 s: the position is now older than 30 s
    st = await harness.wait_status(handle, lambda s: bool(_closes(s, "max_hold_time")), "a max_hold_time close")
    assert _closes(st, "max_hold_time")[0].status == "closed"
    await _assert_closed_at_exchange(harness, ticker, "max_hold_time", Decimal(5))


async def test_market_closing_window_closes_and_makes_the_market_non_viable(harness: Harness) -> None:
    ticker, yes_bid, _ = await harness.freeze_on_quoted_market()
    await harness.arrange_position(ticker, "6", (yes_bid * 6).quantize(Decimal("0.01")))
    # A closing window longer than the time left (the tape's markets last 15 minutes).
    handle = await harness.start(fast_config(exits=ExitRules(market_closing_window_s=1800, cash_reserve_cents=0)))
    st = await harness.wait_status(handle, lambda s: bool(_closes(s, "market_closing")), "a market_closing close")
    assert _closes(st, "market_closing")[0].closed_contracts == 6
    viability = {m.ticker: m for m in st.last_calibration.markets}
    assert not viability[ticker].viable and viability[ticker].reasons[0].startswith("closing_in:")
    await _assert_closed_at_exchange(harness, ticker, "market_closing", Decimal(6))


async def test_cash_recovery_closes_when_cash_is_under_the_reserve(harness: Harness) -> None:
    ticker, yes_bid, _ = await harness.freeze_on_quoted_market()
    await harness.arrange_position(ticker, "10", (yes_bid * 10).quantize(Decimal("0.01")))
    await harness.set_balance(50)  # $0.50 free cash, reserve $2.00
    handle = await harness.start(fast_config(exits=ExitRules(cash_reserve_cents=200)))
    st = await harness.wait_status(handle, lambda s: bool(_closes(s, "cash_recovery")), "a cash_recovery close")
    assert _closes(st, "cash_recovery")[0].status == "closed"
    await _assert_closed_at_exchange(harness, ticker, "cash_recovery", Decimal(10))
    st = await harness.wait_status(handle, lambda s: (s.cash_cents or 0) > 50, "cash back above the start")
    assert st.cash_cents is not None and st.cash_cents >= 200


async def _epoch_orders(harness: Harness) -> int:
    acct = await harness.exchange_account()
    return sum(1 for o in acct["orders"] if o["client_order_id"].startswith("epoch:"))


async def test_epoch_opens_positions_and_pause_stops_orders_until_resume(harness: Harness) -> None:
    await harness.freeze_on_quoted_market()
    # A long epoch, so the pause has to cancel it mid-flight (not wait for its end).
    handle = await harness.start(trading_config(recalibration_interval_s=60))

    async def placed() -> int:
        return await _epoch_orders(harness)

    first = await _wait_value(placed, lambda n: n >= 3, "the epoch placing orders")
    assert first >= 3
    await handle.signal(SIGNAL_PAUSE, {"reason": "maintenance"})
    st = await harness.wait_status(handle, lambda s: s.state == LifecycleState.PAUSED, "paused")
    assert st.pause_reason == "maintenance"
    assert st.last_epoch is not None and st.last_epoch.ended_by == "cancelled"
    frozen = await _epoch_orders(harness)
    await asyncio.sleep(3)  # a negative check: several poll intervals and cycle lengths pass without orders
    assert await _epoch_orders(harness) == frozen
    st = await harness.status(handle)
    assert st.state == LifecycleState.PAUSED
    await handle.signal(SIGNAL_RESUME)
    await _wait_value(placed, lambda n: n > frozen, "orders again after resume")
    st = await harness.status(handle)
    assert [h.state for h in st.status_history if h.state == LifecycleState.PAUSED]
    positions = await harness.account.client.get_positions()
    assert any(p.position_fp != 0 for p in positions), "the epoch really opened a position"


async def test_stop_with_close_all_flattens_and_completes(harness: Harness) -> None:
    ticker, yes_bid, _ = await harness.freeze_on_quoted_market()
    await harness.arrange_position(ticker, "7", (yes_bid * 7).quantize(Decimal("0.01")))
    handle = await harness.start(fast_config())
    await harness.wait_status(handle, lambda s: s.cycle >= 1 and bool(s.positions), "a cycle with the position")
    await handle.signal(SIGNAL_STOP, {"close_all": True, "reason": "end of day"})
    final: TraderStatus = await handle.result()
    assert final.state == LifecycleState.STOPPED
    [close] = _closes(final, "stop_close_all")
    assert close.status == "closed" and close.closed_contracts == 7
    assert [h.state for h in final.status_history][-2:] == [LifecycleState.STOPPING, LifecycleState.STOPPED]
    await _assert_closed_at_exchange(harness, ticker, "stop_close_all", Decimal(7))
    assert not [o for o in (await harness.exchange_account())["orders"] if o["status"] == "resting"]


async def test_continue_as_new_keeps_state(harness: Harness) -> None:
    ticker, yes_bid, _ = await harness.freeze_on_quoted_market()
    await harness.arrange_position(ticker, "4", (yes_bid * 4 / Decimal("1.5")).quantize(Decimal("0.01")))
    handle = await harness.start(fast_config(continue_as_new_after_cycles=3))
    before = await harness.wait_status(handle, lambda s: bool(_closes(s, "take_profit")), "the close in run 1")
    first_run = before.run_id
    after = await harness.wait_status(handle, lambda s: s.generation >= 1 and s.cycle >= 4, "a continued run")
    assert after.run_id != first_run
    assert after.order_group_id == before.order_group_id
    assert [c.workflow_id for c in _closes(after, "take_profit")] == [
        c.workflow_id for c in _closes(before, "take_profit")
    ]
    assert after.status_history[0].at == before.status_history[0].at
    desc = await handle.describe()
    assert desc.run_id == after.run_id


async def _wait_value(fn, predicate, what: str, timeout_s: float = 60.0):
    from tests.conftest import eventually

    async def probe():
        value = await fn()
        return value if predicate(value) else None

    return await eventually(probe, timeout_s=timeout_s, what=what)


async def test_close_reprices_when_the_top_level_is_thin(harness: Harness) -> None:
    """A close larger than the visible bids sweeps them all (no slippage floor in the way), finds no bid
    left, and reports partial."""
    ticker, yes_bid, _ = await harness.freeze_on_quoted_market()
    book = await harness.account.client.get_orderbook(ticker)
    depth = sum((lvl[1] for lvl in book.yes_bids), Decimal(0))
    size = (depth + 50).quantize(Decimal(1))
    await harness.arrange_position(ticker, str(size), (yes_bid * size / Decimal(2)).quantize(Decimal("0.01")))
    settings = CloseSettings(max_attempts=2, retry_delay_s=0.1, max_slippage_dollars=Decimal("0.99"))
    handle = await harness.start(fast_config(close=settings))
    st = await harness.wait_status(handle, lambda s: bool(_closes(s, "take_profit")), "a take_profit close")
    close = _closes(st, "take_profit")[0]
    assert close.status == "partial" and close.attempts == 1  # one order swept every level
    assert close.closed_contracts == depth and close.remaining_contracts == size - depth
    assert close.error == "no yes bid to sell into"
    assert await harness.exchange_position(ticker) == size - depth


async def test_close_never_sells_below_the_slippage_floor_and_reports_pnl(harness: Harness) -> None:
    """With a 2-cent floor a close sells only the bids within 2 cents of the best bid; the result carries
    the cost basis, the fees and the realised P&L, summed in status and the Web UI details."""
    ticker, yes_bid, _ = await harness.freeze_on_quoted_market()
    book = await harness.account.client.get_orderbook(ticker)
    floor = yes_bid - Decimal("0.02")
    within = sum((lvl[1] for lvl in book.yes_bids if lvl[0] >= floor), Decimal(0))
    size = (sum((lvl[1] for lvl in book.yes_bids), Decimal(0)) + 10).quantize(Decimal(1))
    cost = (yes_bid * size / Decimal(2)).quantize(Decimal("0.01"))  # bought at half the bid: take profit
    await harness.arrange_position(ticker, str(size), cost)
    settings = CloseSettings(max_attempts=1, retry_delay_s=0.1, max_slippage_dollars=Decimal("0.02"))
    handle = await harness.start(fast_config(close=settings))
    st = await harness.wait_status(handle, lambda s: bool(_closes(s, "take_profit")), "a take_profit close")
    close = _closes(st, "take_profit")[0]
    assert close.slippage_floor_dollars == floor
    assert close.closed_contracts == within and close.status == "partial"
    fills = [f for f in (await harness.exchange_account())["fills"] if f["ticker"] == ticker]
    assert fills and min(Decimal(f["yes_price_dollars"]) for f in fills) >= floor
    basis = cost / size * within
    assert close.cost_basis_dollars == basis.quantize(Decimal("0.0001"))
    assert close.fees_dollars > 0
    assert close.realized_pnl_dollars == (close.proceeds_dollars - basis - close.fees_dollars).quantize(
        Decimal("0.0001")
    )
    assert st.realized_pnl_dollars == close.realized_pnl_dollars and st.close_fees_dollars == close.fees_dollars
    assert st.realized_pnl_by_ticker[ticker] == close.realized_pnl_dollars
    meta = await handle.query("__temporal_workflow_metadata")
    details = meta.current_details if hasattr(meta, "current_details") else meta["currentDetails"]
    assert "realised P&L of closes (session)" in details and f"{close.realized_pnl_dollars:.2f}"[1:] in details


async def test_critical_outage_pauses_and_recovers_with_backoff(harness: Harness) -> None:
    await harness.freeze_on_quoted_market()
    handle = await harness.start(fast_config(degraded_backoff_s=[1, 2, 3]))
    await harness.wait_status(handle, lambda s: s.state == LifecycleState.TRADING, "trading")
    await harness.faults(exchange_paused=True)  # GET /exchange/status reports the exchange inactive
    st = await harness.wait_status(handle, lambda s: s.state == LifecycleState.PAUSED, "paused by the outage")
    assert st.pause_reason is not None and st.pause_reason.startswith("the exchange is not active")
    assert st.mode == "paused" and not st.last_calibration.can_trade
    st = await harness.wait_status(
        handle, lambda s: any(h.result.startswith("recovery probe #2") for h in s.status_history), "two probes"
    )
    await harness.faults(exchange_paused=False)
    st = await harness.wait_status(handle, lambda s: s.state == LifecycleState.TRADING, "trading again")
    assert st.mode == "fully_operational" and st.pause_reason is None
    probes = [h.result for h in st.status_history if h.result.startswith("recovery probe")]
    assert probes[:2] == ["recovery probe #1", "recovery probe #2"]


async def test_exchange_wide_trading_pause_is_named_as_such(harness: Harness) -> None:
    await harness.freeze_on_quoted_market()
    handle = await harness.start(fast_config(degraded_backoff_s=[1]))
    await harness.wait_status(handle, lambda s: s.state == LifecycleState.TRADING, "trading")
    await harness.faults(trading_paused=True)
    st = await harness.wait_status(handle, lambda s: s.state == LifecycleState.PAUSED, "paused by the trading pause")
    assert st.pause_reason is not None and st.pause_reason.startswith("exchange-wide trading pause")
    await harness.faults(trading_paused=False)
    await harness.wait_status(handle, lambda s: s.state == LifecycleState.TRADING, "trading again")


async def test_order_group_trigger_is_reset_and_repeated_triggers_pause(harness: Harness) -> None:
    await harness.freeze_on_quoted_market()
    config = trading_config(order_group_window_s=1, max_group_triggers_before_pause=2)
    config.order_group_contracts_limit = 2  # 1-contract orders: the 3rd fill within 15 s triggers the group
    handle = await harness.start(config)
    st = await harness.wait_status(
        handle, lambda s: s.state == LifecycleState.PAUSED, "paused by the burst breaker", timeout_s=90
    )
    assert st.pause_reason is not None and "order group triggered" in st.pause_reason
    rejected = await harness.exchange_account()
    epoch_orders = [o for o in rejected["orders"] if o["client_order_id"].startswith("epoch:")]
    assert epoch_orders, "orders were placed before the trigger"
    history = await handle.fetch_history()
    resets = [
        e
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name == "reset_order_group"
    ]
    assert len(resets) >= 1, "the triggered group was reset once before the escalation"
