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
LOCATE_MARKET_DATA = "locate_market_data"

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

# Search attributes (registered by the dev-server start: --search-attribute NAME=Keyword)
SA_STATE = SearchAttributeKey.for_keyword("KalshiTraderState")
SA_MODE = SearchAttributeKey.for_keyword("KalshiTraderMode")
SA_ENV = SearchAttributeKey.for_keyword("KalshiEnv")
SEARCH_ATTRIBUTES = (SA_STATE, SA_MODE, SA_ENV)
