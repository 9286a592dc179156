"""Order groups area of the REST API: Kalshi's burst breaker (kalshi-api.md §3.7)."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field

from kalshi.models.common import KalshiModel, _Page
from models.money import Contracts

__all__ = ["OrderGroup", "OrderGroupsPage"]


class OrderGroup(KalshiModel):
    """An order group (kalshi-api.md §3.7): a rolling 15 s filled-contracts limit across its orders.

    List items carry ``id``; ``GET /portfolio/order_groups/{id}`` carries no id (the client fills it from
    the request) but lists the group's order ids under ``orders``. Legacy int ``contracts_limit`` is read
    into ``contracts_limit_fp``.

    ``triggered`` is ``None`` (unknown) on Kalshi's documented REST shape, which has no such field: Kalshi
    reports triggering on the ``order_group_updates`` WebSocket channel (§6.5) and by rejecting orders.
    It is read when a server sends ``triggered`` or ``is_triggered`` (the project's simulator may).
    """

    order_group_id: str = Field(validation_alias=AliasChoices("order_group_id", "id"))
    is_auto_cancel_enabled: bool | None = None
    contracts_limit_fp: Contracts | None = None
    triggered: bool | None = Field(default=None, validation_alias=AliasChoices("triggered", "is_triggered"))
    order_ids: list[str] = Field(default_factory=list, validation_alias=AliasChoices("order_ids", "orders"))

    LEGACY_COUNTS = ("contracts_limit",)

    @classmethod
    def _from_wire_dict(cls, d: dict[str, Any]) -> Any:
        for key in ("orders", "order_ids"):
            if key in d and d[key] is None:
                d[key] = []
        return d


class OrderGroupsPage(_Page):
    """``GET /portfolio/order_groups``: ``{order_groups: [{id, is_auto_cancel_enabled, contracts_limit_fp?}]}``."""

    order_groups: list[OrderGroup] = Field(default_factory=list)
