"""Operator surface: updates, bad payloads, bad credentials, closed markets, Web UI metadata."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowUpdateFailedError

from kalshi.errors import KalshiAuthError
from kalshi.rest import KalshiRestClient
from kalshi.signer import RequestSigner, generate_key_pair
from models.trader import CloseResult, LifecycleState, RiskLimits
from recording.metrics import AppMetrics
from tests.harness import Harness, fast_config
from workers.worker import build_worker
from workflows.names import (
    SA_ENV,
    SA_MODE,
    SA_STATE,
    SIGNAL_PAUSE,
    SIGNAL_STOP,
    UPDATE_FORCE_CLOSE,
    UPDATE_SET_RISK_LIMITS,
)


async def test_force_close_update_returns_the_close(harness: Harness) -> None:
    ticker, yes_bid, _ = await harness.freeze_on_quoted_market()
    await harness.arrange_position(ticker, "3", (yes_bid * 3).quantize(Decimal("0.01")))  # no rule fires
    handle = await harness.start(fast_config(recalibration_interval_s=30))
    await harness.wait_status(handle, lambda s: bool(s.positions), "the position seen")
    result = await handle.execute_update(UPDATE_FORCE_CLOSE, {"ticker": ticker}, result_type=CloseResult)
    assert (result.reason, result.status, result.closed_contracts) == ("force_close", "closed", 3)
    assert await harness.exchange_position(ticker) == 0
    # A ticker with no position: answered, nothing traded.
    flat = await handle.execute_update(UPDATE_FORCE_CLOSE, {"ticker": ticker}, result_type=CloseResult)
    assert flat.status == "already_flat" and flat.closed_contracts == 0


async def test_malformed_payloads_are_rejected_and_change_nothing(harness: Harness) -> None:
    await harness.freeze_on_quoted_market()
    handle = await harness.start(fast_config())
    before = await harness.wait_status(handle, lambda s: s.state == LifecycleState.TRADING, "trading")

    with pytest.raises(WorkflowUpdateFailedError) as bad_update:
        await handle.execute_update(UPDATE_SET_RISK_LIMITS, {"order_size_contracts": "-1"}, result_type=RiskLimits)
    assert "order_size_contracts" in str(bad_update.value.cause)
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(UPDATE_SET_RISK_LIMITS, {"no_such_limit": 1}, result_type=RiskLimits)
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(UPDATE_FORCE_CLOSE, {"ticker": ""}, result_type=CloseResult)

    await handle.signal(SIGNAL_PAUSE, {"reason": 5})  # reason must be text
    await handle.signal(SIGNAL_STOP, {"close_all": "maybe"})
    st = await harness.wait_status(handle, lambda s: len(s.rejected_messages) >= 2, "both signals rejected")
    assert st.state == LifecycleState.TRADING or st.state == LifecycleState.CALIBRATING
    assert {r.handler for r in st.rejected_messages} == {"pause", "stop"}
    assert "reason" in st.rejected_messages[0].error
    assert st.risk == before.risk

    limits = await handle.execute_update(
        UPDATE_SET_RISK_LIMITS, {"order_size_contracts": "2", "take_profit_pct": "0.5"}, result_type=RiskLimits
    )
    assert limits.order_size_contracts == 2
    st = await harness.status(handle)
    assert st.risk.order_size_contracts == 2 and st.exits.take_profit_pct == Decimal("0.5")


async def test_bad_signature_pauses_with_a_non_retryable_auth_error(harness: Harness, sim) -> None:
    await harness.stop_worker()
    private_pem, _ = generate_key_pair()  # never registered with the exchange
    rogue = RequestSigner.from_pem(private_pem, harness.account.key_id)
    async with KalshiRestClient(sim.rest_url, rogue) as client:
        with pytest.raises(KalshiAuthError) as err:
            await client.get_balance()
        assert err.value.status == 401 and err.value.code == "authentication_error"
        worker = build_worker(harness.client, client, AppMetrics(), harness.task_queue)
        async with worker:
            handle = await harness.start(fast_config())
            st = await harness.wait_status(handle, lambda s: s.state == LifecycleState.PAUSED, "paused on auth")
    assert st.pause_reason is not None and "authentication failed" in st.pause_reason
    assert "KalshiAuthError" in st.pause_reason
    history = await handle.fetch_history()
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert attempts == [1], "an auth failure is not retried"


async def test_closed_and_unknown_markets_are_reported_non_viable(harness: Harness) -> None:
    ticker, yes_bid, _ = await harness.freeze_on_quoted_market()
    await harness.arrange_position(ticker, "2", (yes_bid * 2).quantize(Decimal("0.01")))
    r = await harness.control.post(f"/markets/{ticker}/close", json={})
    r.raise_for_status()
    handle = await harness.start(fast_config())
    st = await harness.wait_status(handle, lambda s: s.cycle >= 1, "a cycle")
    viability = {m.ticker: m for m in st.last_calibration.markets}
    assert ticker in viability and not viability[ticker].viable
    assert viability[ticker].reasons[0].startswith("not_open:")
    assert ticker in st.last_calibration.portfolio.stuck
    assert not st.recent_closes  # a closed market cannot be traded; it waits for settlement
    result = await handle.execute_update(UPDATE_FORCE_CLOSE, {"ticker": "NO-SUCH-MARKET"}, result_type=CloseResult)
    assert result.status == "failed" and "NO-SUCH-MARKET" in (result.error or "")
    assert (await harness.status(handle)).state in (LifecycleState.TRADING, LifecycleState.CALIBRATING)


async def test_web_ui_metadata_search_attributes_and_details(harness: Harness) -> None:
    await harness.freeze_on_quoted_market()
    handle = await harness.start(fast_config())
    await harness.wait_status(handle, lambda s: s.cycle >= 1, "a cycle")
    desc = await handle.describe()
    attrs = desc.typed_search_attributes
    assert attrs.get(SA_ENV) == "sim" and attrs.get(SA_STATE) == "trading"
    assert attrs.get(SA_MODE) == "fully_operational"
    meta = await handle.query("__temporal_workflow_metadata")
    details = meta.current_details if hasattr(meta, "current_details") else meta["currentDetails"]
    assert "| mode | fully_operational |" in details and "Kalshi trader (sim)" in details


async def test_operator_pause_is_not_undone_by_stale_resume_or_recalibrate(harness: Harness) -> None:
    await harness.freeze_on_quoted_market()
    handle = await harness.start(fast_config(recalibration_interval_s=2))
    await harness.wait_status(handle, lambda s: s.state == LifecycleState.TRADING, "trading")
    await handle.signal("resume")  # not paused: ignored, must not pre-empt the next pause
    await handle.signal(SIGNAL_PAUSE, {"reason": "desk review"})
    await harness.wait_status(handle, lambda s: s.state == LifecycleState.PAUSED, "paused")
    await handle.signal("recalibrate")  # probes a degraded trader, but never resumes an operator pause
    cycle = (await harness.status(handle)).cycle
    await asyncio.sleep(3)  # a negative check spanning more than one cycle length
    st = await harness.status(handle)
    assert st.state == LifecycleState.PAUSED and st.pause_reason == "desk review" and st.cycle == cycle
    await handle.signal("resume")
    await harness.wait_status(handle, lambda s: s.state == LifecycleState.TRADING, "trading after resume")


async def test_workflow_cancel_cancels_resting_orders_and_ends_cancelled(harness: Harness) -> None:
    ticker, _, _ = await harness.freeze_on_quoted_market()
    handle = await harness.start(fast_config(recalibration_interval_s=30, cancel_resting_on_start=False))
    await harness.wait_status(handle, lambda s: s.state == LifecycleState.TRADING, "trading")
    from kalshi.models import CreateOrderRequest

    resting = await harness.account.client.create_order(
        CreateOrderRequest(
            ticker=ticker,
            side="yes",
            action="buy",
            count_fp=Decimal(1),
            price_dollars=Decimal("0.01"),
            client_order_id="manual-resting-1",
        )
    )
    assert resting.status == "resting"
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    order = await harness.account.client.get_order(resting.order_id)
    assert order.status == "canceled"
    desc = await handle.describe()
    assert desc.status == WorkflowExecutionStatus.CANCELED


async def test_stop_close_all_during_an_outage_stays_stopping_until_flat(harness: Harness) -> None:
    ticker, yes_bid, _ = await harness.freeze_on_quoted_market()
    await harness.arrange_position(ticker, "4", (yes_bid * 4).quantize(Decimal("0.01")))  # no exit rule fires
    handle = await harness.start(fast_config(degraded_backoff_s=[0.5, 1]))
    await harness.wait_status(handle, lambda s: s.state == LifecycleState.TRADING and bool(s.positions), "trading")
    await harness.faults(exchange_paused=True)  # the exchange cannot trade: nothing can be closed now
    await handle.signal(SIGNAL_STOP, {"close_all": True, "reason": "end of day"})
    st = await harness.wait_status(handle, lambda s: s.state == LifecycleState.STOPPING, "stopping")
    await asyncio.sleep(3)  # several failed rounds: it must keep trying, not give up and report stopped
    st = await harness.status(handle)
    assert st.state == LifecycleState.STOPPING and await harness.exchange_position(ticker) == 4
    await harness.faults(exchange_paused=False)
    final = await asyncio.wait_for(handle.result(), timeout=60)
    assert final.state == LifecycleState.STOPPED and final.stop_outcome == "flat"
    assert await harness.exchange_position(ticker) == 0
    assert final.status_history[-1].result == "end of day; flat"


async def test_stop_close_all_says_plainly_what_it_could_not_close(harness: Harness) -> None:
    ticker, yes_bid, _ = await harness.freeze_on_quoted_market()
    await harness.arrange_position(ticker, "2", (yes_bid * 2).quantize(Decimal("0.01")))
    handle = await harness.start(fast_config())
    await harness.wait_status(handle, lambda s: bool(s.positions), "the position seen")
    (await harness.control.post(f"/markets/{ticker}/close", json={})).raise_for_status()
    await handle.signal(SIGNAL_STOP, {"close_all": True})
    final = await asyncio.wait_for(handle.result(), timeout=60)
    assert final.state == LifecycleState.STOPPED
    assert final.stop_outcome is not None and f"2.00 YES {ticker}" in final.stop_outcome
    assert "no longer trade" in final.stop_outcome
    assert await harness.exchange_position(ticker) == 2


async def test_a_cycle_without_viable_markets_recalibrates_soon(harness: Harness) -> None:
    await harness.freeze_on_quoted_market()
    markets = await harness.account.client.get_markets(series_ticker="KXGOLD15M", status="open")
    for m in markets:
        (await harness.control.post(f"/markets/{m.ticker}/close", json={})).raise_for_status()
    handle = await harness.start(fast_config(recalibration_interval_s=60, no_viable_retry_s=1))
    st = await harness.wait_status(handle, lambda s: s.cycle >= 3, "three cycles in far less than a minute", 30)
    assert st.last_calibration is not None and not st.last_calibration.viable_markets
    assert st.last_epoch is None, "no epoch runs without a market to trade"
