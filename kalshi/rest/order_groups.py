"""Order group endpoints: Kalshi's burst breaker (kalshi-api.md §3.7; write bucket)."""

from __future__ import annotations

from typing import Any

from kalshi.errors import KalshiResponseError
from kalshi.models import OrderGroup, OrderGroupsPage
from kalshi.rest.transport import ORDER_GROUP_LIMIT_MAX, RestTransport, path_segment

__all__ = ["OrderGroupEndpoints"]


class OrderGroupEndpoints(RestTransport):
    """Create, list, get, reset, trigger, re-limit and delete order groups."""

    @staticmethod
    def _check_contracts_limit(contracts_limit: int) -> int:
        """Validate an order-group limit: an int between 1 and 1,000,000 contracts."""
        if isinstance(contracts_limit, bool) or not isinstance(contracts_limit, int):
            raise ValueError(f"contracts_limit must be an int, got {contracts_limit!r}")
        if not 1 <= contracts_limit <= ORDER_GROUP_LIMIT_MAX:
            raise ValueError(f"contracts_limit must be between 1 and {ORDER_GROUP_LIMIT_MAX}, got {contracts_limit}")
        return contracts_limit

    async def create_order_group(self, contracts_limit: int) -> str:
        """``POST /portfolio/order_groups/create`` with ``{contracts_limit}`` -> 201 ``{order_group_id}``.

        Args:
            contracts_limit: most contracts the group's orders may fill in a rolling 15 s window (1-1,000,000).

        Returns:
            The new group's id.

        Raises:
            ValueError: limit out of range.
            KalshiOutcomeUnknownError: the group may have been created (a retry creates another group).
            KalshiError: other mapped errors.

        """
        endpoint = "/portfolio/order_groups/create"
        body = {"contracts_limit": self._check_contracts_limit(contracts_limit)}
        data = await self._request("POST", endpoint, json_body=body, bucket="write", auth=True, write=True)
        group_id = data.get("order_group_id") if isinstance(data, dict) else None
        if not isinstance(group_id, str) or not group_id:
            raise KalshiResponseError("answer lacks 'order_group_id'", method="POST", path=self._path(endpoint))
        return group_id

    async def list_order_groups(self) -> list[OrderGroup]:
        """``GET /portfolio/order_groups``: your groups with ``is_auto_cancel_enabled`` (and limit when sent).

        Raises:
            KalshiCredentialsError, KalshiAuthError, KalshiError: as for every authenticated call.

        """
        endpoint = "/portfolio/order_groups"
        data = await self._request("GET", endpoint, bucket="write", auth=True)
        return self._parse(OrderGroupsPage, data, "GET", self._path(endpoint)).order_groups

    async def get_order_group(self, order_group_id: str) -> OrderGroup:
        """``GET /portfolio/order_groups/{id}``: the group's flags, limit and order ids (id filled from the request).

        Raises:
            KalshiNotFoundError: unknown group. KalshiError: other mapped errors.

        """
        endpoint = f"/portfolio/order_groups/{path_segment(order_group_id, 'order_group_id')}"
        data = await self._request("GET", endpoint, bucket="write", auth=True)
        if isinstance(data, dict) and isinstance(data.get("order_group"), dict):
            data = data["order_group"]
        if not isinstance(data, dict):
            raise KalshiResponseError("order group is not a JSON object", method="GET", path=self._path(endpoint))
        return self._parse(OrderGroup, {**data, "order_group_id": order_group_id}, "GET", self._path(endpoint))

    async def _order_group_put(self, order_group_id: str, action: str, body: dict[str, Any]) -> None:
        """PUT ``/portfolio/order_groups/{id}/{action}`` with a JSON body."""
        endpoint = f"/portfolio/order_groups/{path_segment(order_group_id, 'order_group_id')}/{action}"
        await self._request("PUT", endpoint, json_body=body, bucket="write", auth=True, write=True)

    async def reset_order_group(self, order_group_id: str) -> None:
        """``PUT /portfolio/order_groups/{id}/reset`` with ``{}``: clear the triggered state and the 15 s counter.

        Raises:
            KalshiNotFoundError: unknown group. KalshiOutcomeUnknownError: may or may not be applied
            (safe to repeat). KalshiError: other mapped errors.

        """
        await self._order_group_put(order_group_id, "reset", {})

    async def trigger_order_group(self, order_group_id: str) -> None:
        """``PUT /portfolio/order_groups/{id}/trigger`` with ``{}``: cancel its resting orders, block new ones.

        Raises:
            KalshiNotFoundError: unknown group. KalshiOutcomeUnknownError (safe to repeat). KalshiError.

        """
        await self._order_group_put(order_group_id, "trigger", {})

    async def update_order_group_limit(self, order_group_id: str, contracts_limit: int) -> None:
        """``PUT /portfolio/order_groups/{id}/limit`` with ``{contracts_limit}`` (below current volume triggers it).

        Raises:
            ValueError: limit out of range. KalshiNotFoundError: unknown group. KalshiError: other mapped errors.

        """
        await self._order_group_put(
            order_group_id, "limit", {"contracts_limit": self._check_contracts_limit(contracts_limit)}
        )

    async def delete_order_group(self, order_group_id: str) -> None:
        """``DELETE /portfolio/order_groups/{id}``: remove the group and cancel its resting orders.

        Raises:
            KalshiNotFoundError: unknown group. KalshiOutcomeUnknownError (safe to repeat). KalshiError.

        """
        endpoint = f"/portfolio/order_groups/{path_segment(order_group_id, 'order_group_id')}"
        await self._request("DELETE", endpoint, bucket="write", auth=True, write=True)
