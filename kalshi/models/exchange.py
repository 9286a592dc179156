"""Exchange area of the REST API: ``GET /exchange/status`` (kalshi-api.md §3.1)."""

from __future__ import annotations

from pydantic import AwareDatetime

from kalshi.models.common import KalshiModel

__all__ = ["ExchangeStatus"]


class ExchangeStatus(KalshiModel):
    """``GET /exchange/status`` (kalshi-api.md §3.1).

    During a trading pause new orders and amends are rejected but cancels work; during an exchange pause
    nothing works.
    """

    exchange_active: bool
    trading_active: bool
    exchange_estimated_resume_time: AwareDatetime | None = None
