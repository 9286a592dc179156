"""Order writes: create (V2 with V1 fallback), cancel, batch cancel (kalshi-api.md §3.5-§3.6).

Order creation never places the same ``client_order_id`` twice on its own: a 409 duplicate is looked up and
returned (``already_existed=True``); a timeout, 408, 5xx or dropped connection after the request may have
been sent is looked up too, and only if the lookup cannot find the order does
:class:`~kalshi.errors.KalshiOutcomeUnknownError` escape. It never re-POSTs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, overload

from kalshi.errors import (
    KalshiAuthError,
    KalshiDuplicateOrderError,
    KalshiError,
    KalshiNotFoundError,
    KalshiOutcomeUnknownError,
    KalshiRateLimitedError,
    KalshiRejectedError,
    KalshiResponseError,
    KalshiUnavailableError,
    parse_error_body,
)
from kalshi.models import (
    ApiErrorBody,
    BatchCancelResult,
    CancelOrderV1Response,
    CreateOrderRequest,
    CreateOrderV2Response,
    Order,
    OrderAck,
)
from kalshi.ratelimit import BATCH_CANCEL_ITEM_COST, CANCEL_ORDER_COST
from kalshi.rest.portfolio import PortfolioEndpoints
from kalshi.rest.transport import BATCH_CANCEL_MAX, chunked, is_route_missing, logger, path_segment, unique_in_order

__all__ = ["OrderEndpoints"]


class OrderEndpoints(PortfolioEndpoints):
    """Order writes on top of the portfolio reads they resolve unknown outcomes with."""

    def _fall_back_to_v1(self, exc: KalshiError) -> bool:
        """Switch to V1 for the client's lifetime if ``exc`` says the V2 route is missing; report if so."""
        if self._order_api_mode != "auto" or not is_route_missing(exc):
            return False
        self._order_api = "v1"
        logger.warning("Kalshi V2 order endpoints unavailable (%s); using V1 /portfolio/orders from now on", exc)
        return True

    async def create_order(self, req: CreateOrderRequest, *, lookup_first: bool = False) -> OrderAck:
        """Place a limit order, idempotently by ``client_order_id`` (kalshi-api.md §3.5, §3.6, §5.1).

        Sends V2 ``POST /portfolio/events/orders`` (falling back to V1 ``POST /portfolio/orders`` when V2
        is missing; orders with ``buy_max_cost_cents`` always use V1, which alone has that field).

        * 201 -> the ack (``already_existed=False``).
        * 409 duplicate -> the existing order is looked up and returned with ``already_existed=True``.
        * Timeout, dropped connection, 408 or 5xx after the request may have been sent -> the order is
          looked up by ``client_order_id`` (``lookup_delays_s`` attempts, tolerating read errors); found
          -> returned with ``already_existed=True``; otherwise :class:`KalshiOutcomeUnknownError`.
          The request is never re-sent here.

        Args:
            req: the order.
            lookup_first: look the ``client_order_id`` up BEFORE sending (use on activity retries: Kalshi
                only rejects duplicates among open orders, so a retried intent whose first attempt
                already executed would otherwise be placed twice).

        Returns:
            The normalised acknowledgement.

        Raises:
            KalshiRejectedError: 400/410/422 business reject (``code``/``details`` set).
            KalshiDuplicateOrderError: 409 but no order with this ``client_order_id`` could be found.
            KalshiOutcomeUnknownError: the order may exist and the lookup could not find it (retryable:
                re-sending the same ``client_order_id`` is the safe next step).
            KalshiAuthError: 401/403. KalshiNotFoundError: unknown market.
            KalshiRateLimitedError: 429 (nothing was placed). KalshiUnavailableError: not sent at all.
            KalshiCredentialsError: no signer.

        """
        if lookup_first:
            existing = await self.find_order_by_client_order_id(req.client_order_id, ticker=req.ticker)
            if existing is not None:
                return self._ack_for_existing(existing, req)
        try:
            return await self._place_order(req)
        except KalshiDuplicateOrderError as dup:
            found, lookup_error = await self._resolve_client_order_id(req)
            if found is not None:
                logger.info("create_order %s: 409 duplicate resolved to order %s", req.client_order_id, found.order_id)
                return self._ack_for_existing(found, req)
            if lookup_error is not None:
                raise KalshiOutcomeUnknownError(
                    f"409 duplicate for client_order_id={req.client_order_id} but the lookup failed: {lookup_error}",
                    client_order_id=req.client_order_id,
                    status=dup.status,
                    code=dup.code,
                    method=dup.method,
                    path=dup.path,
                ) from dup
            raise
        except KalshiOutcomeUnknownError as unknown:
            found, lookup_error = await self._resolve_client_order_id(req)
            if found is not None:
                logger.info(
                    "create_order %s: outcome unknown (%s) resolved to order %s",
                    req.client_order_id,
                    unknown.message,
                    found.order_id,
                )
                return self._ack_for_existing(found, req)
            outcome = f"lookup failed: {lookup_error}" if lookup_error is not None else "lookup found no order"
            raise KalshiOutcomeUnknownError(
                f"outcome unknown for client_order_id={req.client_order_id} after "
                f"{unknown.message or 'no answer'}; {outcome}",
                client_order_id=req.client_order_id,
                status=unknown.status,
                code=unknown.code,
                details=unknown.details,
                method=unknown.method,
                path=unknown.path,
            ) from unknown

    def _ack_for_existing(self, order: Order, req: CreateOrderRequest) -> OrderAck:
        """Ack an order found by ``client_order_id``, after checking it is this request's order.

        The ack reports the request's ``side``/``action`` (an exchange may store e.g. "buy NO at q" as the
        equivalent "sell YES at 1 - q", §8); counts and status are the order's.

        Raises:
            KalshiDuplicateOrderError: the id belongs to an order on another market or book side (an id
                collision, never "our" order).

        """
        if order.ticker != req.ticker or order.book_side != req.book_side:
            raise KalshiDuplicateOrderError(
                f"client_order_id={req.client_order_id} belongs to order {order.order_id} "
                f"({order.ticker} {order.book_side}), not to this request ({req.ticker} {req.book_side})",
                method="POST",
                path=self._path("/portfolio/orders"),
            )
        if order.yes_price_dollars != req.yes_price_dollars or order.initial_count_fp != req.count_fp:
            logger.warning(
                "order %s found for client_order_id=%s differs from the request: yes price %s vs %s, count %s vs %s",
                order.order_id,
                req.client_order_id,
                order.yes_price_dollars,
                req.yes_price_dollars,
                order.initial_count_fp,
                req.count_fp,
            )
        ack = OrderAck.from_order(order, already_existed=True)
        return ack.model_copy(update={"side": req.side, "action": req.action})

    async def _place_order(self, req: CreateOrderRequest) -> OrderAck:
        """POST the order once (V2, or V1 when chosen); map the answer to an ack.

        The order endpoint's auth headers are pre-signed from the first order on (:mod:`kalshi.presign`), and a
        resting order's cancel (``DELETE``) is pre-signed while it rests.
        """
        ack = await self._post_order(req)
        if ack.status == "resting" and ack.order_id:
            self._presign_want("DELETE", self._cancel_endpoint(ack.order_id))
        return ack

    def _cancel_endpoint(self, order_id: str) -> str:
        """The cancel endpoint of ``order_id`` for the order API in use."""
        segment = path_segment(order_id, "order_id")
        return f"/portfolio/events/orders/{segment}" if self._order_api == "v2" else f"/portfolio/orders/{segment}"

    async def _post_order(self, req: CreateOrderRequest) -> OrderAck:
        if self._order_api == "v2" and req.buy_max_cost_cents is None:
            endpoint = "/portfolio/events/orders"
            self._presign_want("POST", endpoint, permanent=True)
            try:
                data = await self._request(
                    "POST", endpoint, json_body=req.to_v2_body(), bucket="write", auth=True, write=True
                )
            except KalshiError as exc:
                if not self._fall_back_to_v1(exc):
                    raise
            else:
                try:
                    resp = self._parse(CreateOrderV2Response, data, "POST", self._path(endpoint))
                except KalshiResponseError as exc:
                    self._raise_embedded_error(data, "POST", self._path(endpoint))
                    raise KalshiOutcomeUnknownError(
                        f"2xx answer without a readable order: {exc.message}",
                        client_order_id=req.client_order_id,
                        method="POST",
                        path=self._path(endpoint),
                    ) from exc
                return OrderAck.from_v2_response(resp, req)
        endpoint = "/portfolio/orders"
        self._presign_want("POST", endpoint, permanent=True)
        data = await self._request("POST", endpoint, json_body=req.to_v1_body(), bucket="write", auth=True, write=True)
        order_data = data.get("order") if isinstance(data, dict) else None
        if order_data is None:
            self._raise_embedded_error(data, "POST", self._path(endpoint))
            raise KalshiOutcomeUnknownError(
                "2xx answer without an 'order' object",
                client_order_id=req.client_order_id,
                method="POST",
                path=self._path(endpoint),
            )
        try:
            order = self._parse(Order, order_data, "POST", self._path(endpoint))
        except KalshiResponseError as exc:
            raise KalshiOutcomeUnknownError(
                f"2xx answer with an unreadable order: {exc.message}",
                client_order_id=req.client_order_id,
                method="POST",
                path=self._path(endpoint),
            ) from exc
        return OrderAck.from_order(order, already_existed=False)

    @staticmethod
    def _raise_embedded_error(data: Any, method: str, path: str) -> None:
        """Raise KalshiRejectedError if a 2xx body is really an error envelope with a code.

        A third-party report (kalshi-api.md §3.6) saw ``deprecated_v1_order_endpoint`` come back that way.
        """
        if isinstance(data, dict) and "error" in data:
            info = parse_error_body(data)
            if info.code:
                raise KalshiRejectedError(
                    info.message, code=info.code, details=info.details, method=method, path=path, envelope=True
                )

    async def _resolve_client_order_id(self, req: CreateOrderRequest) -> tuple[Order | None, KalshiError | None]:
        """Look the order up after a write of unknown outcome; tolerate transient read errors.

        Returns:
            ``(order, None)`` when found; ``(None, None)`` when every completed lookup found nothing;
            ``(None, last_error)`` when no lookup could complete.

        """
        last_error: KalshiError | None = None
        completed = False
        for delay in self._lookup_delays_s:
            if delay > 0:
                await self._sleep(delay)
            try:
                found = await self.find_order_by_client_order_id(req.client_order_id, ticker=req.ticker)
            except (KalshiUnavailableError, KalshiRateLimitedError, KalshiResponseError) as exc:
                last_error = exc
                logger.info("lookup of client_order_id=%s failed: %s", req.client_order_id, exc)
                continue
            if found is not None:
                return found, None
            completed = True
        return None, (None if completed else last_error)

    @overload
    async def cancel_order(self, order_id: str, *, ticker: str | None = None) -> Order: ...

    @overload
    async def cancel_order(self, order_id: str, *, ticker: str | None = None, reread: Literal[True]) -> Order: ...

    @overload
    async def cancel_order(
        self, order_id: str, *, ticker: str | None = None, reread: Literal[False]
    ) -> Order | None: ...

    async def cancel_order(self, order_id: str, *, ticker: str | None = None, reread: bool = True) -> Order | None:
        """Cancel one order and return it as it now stands (kalshi-api.md §3.5, §3.6; 2 write tokens).

        V2 ``DELETE /portfolio/events/orders/{id}`` answers with ids only, so the order is then re-read
        with :meth:`get_order` (``reread=False`` skips that second round trip and returns None: for a caller that
        only needs the order gone, e.g. the actor loop replacing its resting order); V1
        ``DELETE /portfolio/orders/{id}`` returns ``{order, reduced_by_fp}``.
        The cancelled order has ``remaining_count_fp == 0`` and status ``canceled`` (``executed`` if it
        had already filled). The DELETE's auth headers were pre-signed while the order rested
        (:mod:`kalshi.presign`) when it was placed by this client.

        Args:
            order_id: the exchange order id.
            ticker: the order's market (optional hint sent to V2 as ``market_ticker``).
            reread: return the order as it now stands (V2: one more GET); False: return None on V2.

        Raises:
            KalshiNotFoundError: unknown order.
            KalshiRejectedError: e.g. ``MARKET_INACTIVE`` after close.
            KalshiOutcomeUnknownError: the cancel may or may not have been applied (safe to repeat).
            KalshiCredentialsError, KalshiAuthError, KalshiRateLimitedError, KalshiUnavailableError.

        """
        segment = path_segment(order_id, "order_id")
        if self._order_api == "v2":
            endpoint = f"/portfolio/events/orders/{segment}"
            try:
                await self._request(
                    "DELETE",
                    endpoint,
                    params={"market_ticker": ticker},
                    bucket="write",
                    cost=CANCEL_ORDER_COST,
                    auth=True,
                    write=True,
                )
            except KalshiError as exc:
                if not isinstance(exc, KalshiOutcomeUnknownError):
                    self._presign_forget("DELETE", endpoint)
                if not self._fall_back_to_v1(exc):
                    raise
            else:
                self._presign_forget("DELETE", endpoint)
                return await self.get_order(order_id) if reread else None
        endpoint = f"/portfolio/orders/{segment}"
        try:
            data = await self._request(
                "DELETE", endpoint, bucket="write", cost=CANCEL_ORDER_COST, auth=True, write=True
            )
        finally:
            self._presign_forget("DELETE", endpoint)
        return self._parse(CancelOrderV1Response, data, "DELETE", self._path(endpoint)).order

    async def batch_cancel_orders(self, order_ids: Sequence[str]) -> list[BatchCancelResult]:
        """Cancel many orders, 20 per request (kalshi-api.md §3.5, §3.6; 2 write tokens per order).

        Uses ``DELETE /portfolio/events/orders/batched`` (V2) or ``DELETE /portfolio/orders/batched`` (V1)
        with body ``{"orders": [{"order_id": ...}]}``. If batch endpoints are forbidden for the key (403),
        cancels one by one instead (remembered for the client's lifetime).

        Returns:
            One result per distinct order id, in order; a failed item carries ``error`` (it does not raise).

        Raises:
            KalshiOutcomeUnknownError: a batch request may or may not have been applied (safe to repeat).
            KalshiCredentialsError, KalshiAuthError (401), KalshiRateLimitedError, KalshiUnavailableError.

        """
        ids = unique_in_order(order_ids)
        results: list[BatchCancelResult] = []
        for chunk in chunked(ids, BATCH_CANCEL_MAX):
            if self._batch_cancel_ok:
                try:
                    results.extend(await self._batch_cancel_chunk(chunk))
                    continue
                except KalshiAuthError as exc:
                    if exc.status != 403:
                        raise
                    self._batch_cancel_ok = False
                    logger.warning("batch cancel forbidden (%s); cancelling orders one by one", exc)
            for order_id in chunk:
                results.append(await self._cancel_one_as_result(order_id))
        return results

    async def _batch_cancel_chunk(self, chunk: list[str]) -> list[BatchCancelResult]:
        """One batch-cancel request (V2 path with V1 fallback)."""
        body = {"orders": [{"order_id": order_id} for order_id in chunk]}
        cost = BATCH_CANCEL_ITEM_COST * len(chunk)
        endpoint = "/portfolio/orders/batched"
        data: Any = None
        if self._order_api == "v2":
            try:
                data = await self._request(
                    "DELETE",
                    "/portfolio/events/orders/batched",
                    json_body=body,
                    bucket="write",
                    cost=cost,
                    auth=True,
                    write=True,
                )
                endpoint = "/portfolio/events/orders/batched"
            except KalshiError as exc:
                if not self._fall_back_to_v1(exc):
                    raise
        if data is None:
            data = await self._request(
                "DELETE", endpoint, json_body=body, bucket="write", cost=cost, auth=True, write=True
            )
        items = data.get("orders") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise KalshiResponseError(
                "batch cancel answer lacks an 'orders' list", method="DELETE", path=self._path(endpoint)
            )
        return [self._parse(BatchCancelResult, item, "DELETE", self._path(endpoint)) for item in items]

    async def _cancel_one_as_result(self, order_id: str) -> BatchCancelResult:
        """Cancel one order, folding business errors into a result item."""
        try:
            order = await self.cancel_order(order_id)
        except (KalshiNotFoundError, KalshiRejectedError) as exc:
            return BatchCancelResult(
                order_id=order_id, error=ApiErrorBody(code=exc.code, message=exc.message, details=exc.details)
            )
        return BatchCancelResult(order_id=order_id, client_order_id=order.client_order_id or None, order=order)

    async def cancel_all_resting(self, ticker: str | None = None) -> int:
        """Cancel every resting order (of one market, or all): list, then batch cancel.

        Returns:
            Number of orders cancelled without error.

        Raises:
            KalshiError: as :meth:`get_orders` and :meth:`batch_cancel_orders`.

        """
        resting = await self.get_orders(ticker=ticker, status="resting")
        if not resting:
            return 0
        results = await self.batch_cancel_orders([order.order_id for order in resting])
        return sum(1 for result in results if result.ok)
