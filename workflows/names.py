"""Stable names: task queue, workflow types, activity types, handlers, search attributes.

These strings are a public interface (the ``temporal`` CLI, scripts, dashboards and recorded
histories use them). Renaming one breaks running workflows and replay (temporal.md §4 "What breaks
replay"), so they live in one place and never change.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

TASK_QUEUE = "kalshi-trader"
"""Shared task queue: workflows and REST activities."""

TRADER_WORKFLOW = "TraderWorkflow"
CLOSE_POSITION_WORKFLOW = "ClosePositionWorkflow"
MARKET_DATA_WORKFLOW = "MarketDataWorkflow"


def default_workflow_id(environment: str) -> str:
    """The trader's workflow id for an environment: ``kalshi-trader-<env>`` (e.g. ``kalshi-trader-sim``)."""
    return f"kalshi-trader-{environment}"


# Activity types
CALIBRATION_SNAPSHOT = "calibration_snapshot"
ENSURE_ORDER_GROUP = "ensure_order_group"
RESET_ORDER_GROUP = "reset_order_group"
CANCEL_RESTING_ORDERS = "cancel_resting_orders"
GET_CLOSE_QUOTE = "get_close_quote"
PLACE_ORDER = "place_order"
RUN_TRADING_EPOCH = "run_trading_epoch"
PREDICT = "predict"
LOCATE_MARKET_DATA = "locate_market_data"
HEALTH_PROBE = "health_probe"

# Activity types on a worker-specific queue (they need that process's WebSocket and order books)
GET_WORKER_QUEUE = "get_worker_queue"
INGEST_MARKET_DATA = "ingest_market_data"
RUN_ACTOR_EPOCH = "run_actor_epoch"

# Handlers (CLI: temporal workflow signal/query/update --name <name>)
SIGNAL_PAUSE = "pause"
SIGNAL_RESUME = "resume"
SIGNAL_STOP = "stop"
SIGNAL_RECALIBRATE = "recalibrate"
QUERY_STATUS = "status"
UPDATE_SET_RISK_LIMITS = "set_risk_limits"
UPDATE_FORCE_CLOSE = "force_close"
UPDATE_SET_POLICY = "set_policy"

# Search attributes (registered by the dev-server start: --search-attribute NAME=Keyword)
SA_STATE = SearchAttributeKey.for_keyword("KalshiTraderState")
SA_MODE = SearchAttributeKey.for_keyword("KalshiTraderMode")
SA_ENV = SearchAttributeKey.for_keyword("KalshiEnv")
SEARCH_ATTRIBUTES = (SA_STATE, SA_MODE, SA_ENV)

# Patch ids (``workflow.patched``): each names one behaviour change, so histories recorded before it keep
# replaying the old branch (temporal.md §4 "Versioning"). Never rename or reuse one.
PATCH_RUN_SCOPED_ORDER_IDS = "run-scoped-order-ids"
"""Epoch client_order_ids from first_execution_run_id + run_id + cycle (+ attempt, sequence); close child ids
carry the run token."""
PATCH_CLOSE_RUN_SCOPED_IDS = "close-run-scoped-ids"
"""Close client_order_ids from the close run's first_execution_run_id instead of its workflow id."""
PATCH_CLOSE_FLOOR_AND_PNL = "close-floor-and-pnl"
"""Closes never sell below mark - max_slippage; results carry cost basis, fees and realised P&L."""
PATCH_OPERATOR_HANDLERS_V2 = "operator-handlers-v2"
"""set_risk_limits validates the whole new config; force_close results keyed by update id and refused for a
ticker already closing; resume is never swallowed; signals received during the continue-as-new drain are
carried to the next run."""
PATCH_PENDING_ORDERS_V2 = "pending-orders-v2"
"""Pending client order ids carry their ticker, are bounded and age out; own new positions are not drift;
an exchange-wide trading pause is named as such."""
PATCH_STOP_UNTIL_FLAT = "stop-until-flat"
"""stop {close_all} recalibrates and closes in rounds until flat, then reports what could not be closed."""
PATCH_EPOCH_FALLBACK = "epoch-fallback-and-no-viable-retry"
"""A failed actor epoch falls back to REST polling in the same cycle; a cycle with no viable market runs no
epoch and recalibrates after no_viable_retry_s."""
PATCH_SESSION_PNL = "session-pnl"
"""Realised P&L and fees of closes summed per market and for the session."""
PATCH_MD_HEALTHY_RESET = "md-reset-failures-when-healthy"
"""MarketDataWorkflow forgets earlier failures once an ingestion run has been healthy for healthy_after_s."""
PATCH_DEGRADED_MODE = "degraded-mode"
"""Degraded mode changes behaviour: effective limits, closing only and REST fallbacks handed to the epoch; a
health probe every degraded.health_probe_interval_s while an epoch runs (a change recalibrates at once); an actor
epoch that lost its market data recalibrates instead of polling for the rest of the cycle; a transient critical
failure is retried once before pausing; closes that outlive close_wait_s go on in the background (their markets
neither traded nor closed again meanwhile)."""
PATCH_CLOSE_WAITS_OUT_PAUSE = "close-waits-out-pause"
"""A close refused because trading, the exchange or the market is paused waits the pause out on durable timers
(CloseSettings.pause_retry_s) without using an attempt, each order with a fresh client_order_id."""
PATCH_PROBE_DURING_CLOSE_WAIT = "probe-during-close-wait"
"""While a cycle waits for its closes (up to degraded.close_wait_s) the health probe runs on its cadence too: a
component that went down or recovered meanwhile ends the wait (the closes go on in the background) and the loop
recalibrates at once instead of after the wait (an exchange pause that began during a close was reported up to
close_wait_s late)."""
PATCH_LIVE_POLICY = "live-policy-and-session-pnl"
"""The set_policy update (validated; from the next epoch); the epochs' realised P&L and fees and the settlements'
P&L are summed for the session and per market."""
