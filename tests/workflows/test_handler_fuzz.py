"""Operator input can never wedge the trader: every signal and update gets malformed payloads on a real
dev server, and afterwards the history holds no WorkflowTaskFailed and the cycle counter still advances.

An exception that is not an ApplicationError inside workflow code fails the workflow task on every
replay (temporal.md §2 and §4), so each handler validates its payload: signals record a rejection in
``status.rejected_messages``, updates are refused by their validators (nothing reaches history).
"""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.service import RPCError

from models.trader import CloseResult, LifecycleState, RiskLimits
from tests.harness import Harness, fast_config
from workflows.names import (
    QUERY_STATUS,
    SIGNAL_PAUSE,
    SIGNAL_RECALIBRATE,
    SIGNAL_RESUME,
    SIGNAL_STOP,
    UPDATE_FORCE_CLOSE,
    UPDATE_SET_RISK_LIMITS,
)

pytestmark = pytest.mark.integration

HUGE = "9" * 400
JUNK: list[Any] = [
    [],
    "",
    "x",
    0,
    -1,
    1.5e308,
    10**40,
    True,
    [{"reason": "a"}],
    {"nope": 1},
    {"reason": None},
    {"reason": 5},
    {"reason": "x" * 5000},
    {"reason": {"nested": [1, 2]}},
    {"close_all": None},
    {"close_all": "maybe"},
    {"close_all": "yes"},
    {"close_all": 1},
]
"""Payloads that are wrong for pause and stop (every one of them)."""

BAD_RISK: list[Any] = [
    None,
    {},
    [],
    "x",
    5,
    {"take_profit_pct": None},
    {"order_size_contracts": None, "max_position_contracts": "30"},
    {"order_size_contracts": "-1"},
    {"order_size_contracts": "0"},
    {"order_size_contracts": "1e400"},
    {"order_size_contracts": HUGE},
    {"order_size_contracts": "NaN"},
    {"order_size_contracts": "Infinity"},
    {"order_size_contracts": "0.001"},
    {"order_size_contracts": "50"},  # above the position limit of 20: a combination that cannot work
    {"max_position_contracts": "1"},  # below the order size of 5
    {"max_open_positions": 1.5},
    {"max_open_positions": -3},
    {"per_market_throttle_ms": 10**20},
    {"max_spread_dollars": "1"},
    {"max_entry_price_dollars": "-0.5"},
    {"cash_reserve_cents": -5},
    {"stop_loss_pct": "2"},
    {"take_profit_pct": "abc"},
    {"take_profit_pct": [1]},
    {"take_profit_pct": {"a": 1}},
    {"unknown_limit": 1},
]

BAD_FORCE_CLOSE: list[Any] = [
    None,
    {},
    [],
    "x",
    {"ticker": None},
    {"ticker": ""},
    {"ticker": 5},
    {"ticker": "X" * 500},
    {"ticker": "../../etc/passwd"},
    {"ticker": "A B"},
    {"ticker": "KX", "extra": 1},
]


async def _task_failures(handle: WorkflowHandle[Any, Any]) -> list[str]:
    history = await handle.fetch_history()
    return [
        str(e.workflow_task_failed_event_attributes.failure.message)
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ]


async def test_malformed_signals_and_updates_never_fail_a_workflow_task(harness: Harness) -> None:
    ticker, yes_bid, _ = await harness.freeze_on_quoted_market()
    await harness.arrange_position(ticker, "3", (yes_bid * 3).quantize(Decimal("0.01")))  # no exit rule fires
    handle = await harness.start(fast_config())
    await harness.wait_status(handle, lambda s: s.state == LifecycleState.TRADING and bool(s.positions), "trading")

    # Signals: every junk payload, to every signal, all at once (they are durable and processed in order).
    sends = [handle.signal(name, payload) for name in (SIGNAL_PAUSE, SIGNAL_STOP) for payload in JUNK]
    sends += [handle.signal(SIGNAL_RESUME, p) for p in JUNK if p not in ("",)]
    sends += [handle.signal(SIGNAL_RECALIBRATE, p) for p in JUNK[:6]]
    sends += [handle.signal(name, args=[{"reason": "a"}, {"b": 1}]) for name in (SIGNAL_PAUSE, SIGNAL_STOP)]
    sends += [handle.signal(SIGNAL_RESUME, args=[None, None]), handle.signal(SIGNAL_RECALIBRATE, args=[1, 2, 3])]
    sends += [handle.signal("no_such_signal", {"x": 1})]
    await asyncio.gather(*sends)

    # Updates: refused by their validators, each with a reason.
    for payload in BAD_RISK:
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(UPDATE_SET_RISK_LIMITS, payload, result_type=RiskLimits)
    for payload in BAD_FORCE_CLOSE:
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(UPDATE_FORCE_CLOSE, payload, result_type=CloseResult)
    with pytest.raises((WorkflowUpdateFailedError, RPCError)):
        await handle.execute_update("no_such_update", {"x": 1})
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(UPDATE_SET_RISK_LIMITS, args=[{"order_size_contracts": "2"}, {"x": 1}])
    with contextlib.suppress(WorkflowQueryFailedError, RPCError):  # answered or refused, never a task failure
        await handle.query(QUERY_STATUS, 5)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(UPDATE_SET_RISK_LIMITS, {"take_profit_pct": None}, result_type=RiskLimits)
    assert "null" in str(refused.value.cause)

    # Concurrent duplicates: five force_close of the same ticker and three identical risk updates at once.
    closes = await asyncio.gather(
        *(handle.execute_update(UPDATE_FORCE_CLOSE, {"ticker": ticker}, result_type=CloseResult) for _ in range(5)),
        return_exceptions=True,
    )
    done = [c for c in closes if isinstance(c, CloseResult)]
    assert done and all(isinstance(c, CloseResult | WorkflowUpdateFailedError) for c in closes), closes
    assert sum(c.closed_contracts for c in done) == 3 and await harness.exchange_position(ticker) == 0
    limits = await asyncio.gather(
        *(
            handle.execute_update(UPDATE_SET_RISK_LIMITS, {"order_size_contracts": "2"}, result_type=RiskLimits)
            for _ in range(3)
        )
    )
    assert all(lim.order_size_contracts == 2 for lim in limits)
    unknown = await handle.execute_update(UPDATE_FORCE_CLOSE, {"ticker": "NO-SUCH-MARKET"}, result_type=CloseResult)
    assert unknown.status == "failed"

    # Still alive: the cycle counter advances, nothing was paused or stopped by junk, and no task failed.
    st = await harness.status(handle)
    after = await harness.wait_status(handle, lambda s: s.cycle >= st.cycle + 2, "two more cycles", timeout_s=60)
    assert after.state in (LifecycleState.TRADING, LifecycleState.CALIBRATING)
    assert after.risk.order_size_contracts == 2 and after.risk.max_position_contracts == 20
    assert after.rejected_messages and {r.handler for r in after.rejected_messages} <= {"pause", "stop", "resume"}
    assert await _task_failures(handle) == []


async def test_resume_after_a_second_pause_resumes(harness: Harness) -> None:
    await harness.freeze_on_quoted_market()
    handle = await harness.start(fast_config())
    await harness.wait_status(handle, lambda s: s.state == LifecycleState.TRADING, "trading")
    await handle.signal(SIGNAL_PAUSE, {"reason": "first"})
    await harness.wait_status(handle, lambda s: s.state == LifecycleState.PAUSED, "paused")
    await handle.signal(SIGNAL_PAUSE, {"reason": "second"})  # queued while paused by the operator
    await handle.signal(SIGNAL_RESUME)
    st = await harness.wait_status(handle, lambda s: s.state == LifecycleState.TRADING, "trading after resume")
    assert st.pause_reason is None
    assert await _task_failures(handle) == []


async def test_a_pause_during_the_continue_as_new_drain_is_carried(harness: Harness) -> None:
    """A force_close keeps the run draining before continue-as-new; a pause sent meanwhile must survive."""
    ticker, yes_bid, _ = await harness.freeze_on_quoted_market()
    await harness.arrange_position(ticker, "2", (yes_bid * 2).quantize(Decimal("0.01")))
    handle = await harness.start(fast_config(continue_as_new_after_cycles=1))
    await harness.wait_status(handle, lambda s: s.generation >= 1 and bool(s.positions), "a continue-as-new")
    closing = asyncio.ensure_future(
        handle.execute_update(UPDATE_FORCE_CLOSE, {"ticker": ticker}, result_type=CloseResult)
    )
    await asyncio.sleep(0.05)
    await handle.signal(SIGNAL_PAUSE, {"reason": "during the drain"})
    assert (await closing).closed_contracts == 2
    st = await harness.wait_status(handle, lambda s: s.state == LifecycleState.PAUSED, "paused")
    assert st.pause_reason == "during the drain"
    generation = st.generation
    await asyncio.sleep(2)  # a negative check spanning two cycle lengths: still paused
    st = await harness.status(handle)
    assert st.state == LifecycleState.PAUSED and st.generation >= generation
