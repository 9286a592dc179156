"""Types shared by the trader's and the market-data models."""

from __future__ import annotations

from enum import StrEnum


class Environment(StrEnum):
    """Which exchange the trader talks to: our simulator, the Kalshi demo, or Kalshi production."""

    SIM = "sim"
    DEMO = "demo"
    PROD = "prod"
