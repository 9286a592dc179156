"""KalshiRestClient parts that need no exchange: request building and signing, error classification,
argument validation that fails before any I/O. Behaviour against an exchange (409 lookups, unknown
outcomes, pagination, V1 fallback, 401/429) is covered by the simulator integration tests.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kalshi.errors import (
    KalshiCredentialsError,
    KalshiNotFoundError,
    KalshiOutcomeUnknownError,
    KalshiRejectedError,
    KalshiResponseError,
    KalshiUnavailableError,
    error_from_response,
)
from kalshi.models import CreateOrderRequest
from kalshi.rest import KalshiRestClient
from kalshi.rest.transport import is_route_missing as _is_route_missing
from kalshi.rest.transport import path_segment as _segment
from kalshi.signer import HEADER_SIGNATURE, HEADER_TIMESTAMP, RequestSigner, generate_key_pair

# Nothing listens here; every test below fails (as intended) before a connection would be attempted.
UNROUTABLE = "http://127.0.0.1:9/trade-api/v2"


@pytest.fixture(scope="module")
def key_pair() -> tuple[bytes, bytes]:
    return generate_key_pair()


async def test_build_request_path_and_query() -> None:
    async with KalshiRestClient(UNROUTABLE) as client:
        request, path = client._build_request(
            "get", "/portfolio/orders", params={"limit": 5, "ticker": None, "cursor": "abc=="}
        )
        assert request.method == "GET"
        assert path == "/trade-api/v2/portfolio/orders"
        assert request.url.path == "/trade-api/v2/portfolio/orders"
        assert dict(request.url.params) == {"limit": "5", "cursor": "abc=="}

        request, path = client._build_request("GET", "/markets/orderbooks", params={"tickers": ["A", "B"]})
        assert request.url.params.get_list("tickers") == ["A", "B"]
        assert path == "/trade-api/v2/markets/orderbooks"

        request, path = client._build_request("DELETE", "/portfolio/orders/batched", json_body={"orders": []})
        assert json.loads(request.content) == {"orders": []}
        assert request.headers["content-type"] == "application/json"


async def test_requests_without_a_query_are_the_ones_httpx_builds() -> None:
    """The direct build (order writes: no query, no cookies) sends what ``AsyncClient.build_request`` would."""
    body = {"ticker": "KX-1", "price": "0.4300", "post_only": False, "note": "é", "orders": [{"order_id": "o"}]}
    async with KalshiRestClient(UNROUTABLE) as client:
        cases: list[tuple[str, str, Any]] = [
            ("POST", "/portfolio/events/orders", body),
            ("POST", "/portfolio/events/orders", {**body, "price": "0.4400"}),  # the cached URL, a new body
            ("DELETE", f"/portfolio/events/orders/{_segment('a/b', 'order_id')}", None),
            ("DELETE", "/portfolio/orders/batched", {"orders": []}),
            ("GET", "/portfolio/balance", None),
        ]
        for method, endpoint, json_body in cases:
            fast, path = client._build_request(method, endpoint, json_body=json_body)
            reference = client._http.build_request(method, endpoint.lstrip("/"), json=json_body)
            assert (fast.method, str(fast.url), fast.content) == (method, str(reference.url), reference.content)
            assert sorted(fast.headers.multi_items()) == sorted(reference.headers.multi_items())
            assert path == reference.url.raw_path.decode()
        client._http.cookies.set("__cf_bm", "x", domain="127.0.0.1")  # a cookie to send: httpx builds it
        request, _ = client._build_request("POST", "/portfolio/events/orders", json_body=body)
        assert request.headers["cookie"] == "__cf_bm=x"


async def test_signed_path_excludes_query_and_verifies(key_pair: tuple[bytes, bytes]) -> None:
    private_pem, public_pem = key_pair
    signer = RequestSigner.from_pem(private_pem, "0f3c9e2a-5b7d-4e11-9a0c-7d2b1e4f6a88")
    async with KalshiRestClient(UNROUTABLE, signer) as client:
        request, path = client._build_request("GET", "/portfolio/fills", params={"limit": 1000})
        client._sign(request, "GET", path)
        ts = request.headers[HEADER_TIMESTAMP]
        message = f"{ts}GET/trade-api/v2/portfolio/fills".encode()
        public_key = serialization.load_pem_public_key(public_pem)
        assert isinstance(public_key, rsa.RSAPublicKey)
        public_key.verify(
            base64.b64decode(request.headers[HEADER_SIGNATURE]),
            message,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )
        assert "0f3c9e2a-5b7d" not in repr(client) and "RequestSigner(key_id='0f3c9e2a…'" in repr(client)


async def test_path_segments_are_percent_encoded() -> None:
    assert _segment("KXGOLD15M-26AUG050000-00", "ticker") == "KXGOLD15M-26AUG050000-00"
    assert _segment("EURUSD-23JUN2618-B1.087", "ticker") == "EURUSD-23JUN2618-B1.087"
    assert _segment("a/b?c", "order_id") == "a%2Fb%3Fc"
    with pytest.raises(ValueError):
        _segment("", "order_id")
    async with KalshiRestClient(UNROUTABLE) as client:
        _, path = client._build_request("GET", f"/portfolio/orders/{_segment('a/b', 'order_id')}")
        assert path == "/trade-api/v2/portfolio/orders/a%2Fb"


async def test_portfolio_calls_without_signer_fail_before_sending() -> None:
    async with KalshiRestClient(UNROUTABLE) as client:
        with pytest.raises(KalshiCredentialsError, match="GET /trade-api/v2/portfolio/balance requires"):
            await client.get_balance()
        req = CreateOrderRequest(
            ticker="T",
            side="yes",
            action="buy",
            count_fp=Decimal(1),
            price_dollars=Decimal("0.5"),
            client_order_id="cid",
        )
        with pytest.raises(KalshiCredentialsError, match="POST /trade-api/v2/portfolio/events/orders"):
            await client.create_order(req)
        with pytest.raises(KalshiCredentialsError):
            await client.get_positions()
        # nothing was spent from the rate-limit buckets either
        assert client.rate_limiter.read.tokens == client.rate_limiter.read.capacity
        assert client.rate_limiter.write.tokens == client.rate_limiter.write.capacity


async def test_argument_validation_before_io() -> None:
    async with KalshiRestClient(UNROUTABLE) as client:
        with pytest.raises(ValueError, match="limit"):
            await client.get_markets(limit=0)
        with pytest.raises(ValueError, match="limit"):
            await client.get_markets(limit=1001)
        with pytest.raises(ValueError, match="status"):
            await client.get_markets(status="active")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="max_pages"):
            await client.get_markets(max_pages=0)
        with pytest.raises(ValueError):
            await client.get_market("")
        with pytest.raises(ValueError, match="contracts_limit"):
            await client.create_order_group(0)
        with pytest.raises(ValueError, match="contracts_limit"):
            await client.update_order_group_limit("og", 1_000_001)
        with pytest.raises(ValueError, match="contracts_limit"):
            await client.create_order_group(True)
        assert await client.get_markets(tickers=[]) == []
        assert await client.get_orderbooks([]) == {}


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="base_url"):
        KalshiRestClient("127.0.0.1:8765/trade-api/v2")
    with pytest.raises(ValueError, match="order_api"):
        KalshiRestClient(UNROUTABLE, order_api="v3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lookup_delays_s"):
        KalshiRestClient(UNROUTABLE, lookup_delays_s=())


async def test_for_environment_and_initial_clock() -> None:
    async with KalshiRestClient.for_environment("sim") as client:
        assert client.base_url == "http://127.0.0.1:8765/trade-api/v2"
        assert client.order_api == "v2"
        assert client.server_time_offset_s == 0.0
        assert client.exchange_now().tzinfo is not None
    async with KalshiRestClient.for_environment("sim", rest_base_url="http://localhost:1/trade-api/v2/") as client:
        assert client.base_url == "http://localhost:1/trade-api/v2"
    async with KalshiRestClient(UNROUTABLE, order_api="v1") as client:
        assert client.order_api == "v1"


def test_route_missing_detection() -> None:
    bare_404 = error_from_response(404, b"404 page not found", method="POST", path="/p")
    kalshi_404 = error_from_response(
        404, b'{"error": {"code": "not_found", "message": "not found"}}', method="POST", path="/p"
    )
    assert isinstance(bare_404, KalshiNotFoundError) and _is_route_missing(bare_404)
    assert not _is_route_missing(kalshi_404)
    assert _is_route_missing(error_from_response(405, b"", method="POST", path="/p"))
    assert _is_route_missing(error_from_response(410, b'{"error": {"code": "gone"}}', method="POST", path="/p"))
    assert not _is_route_missing(
        error_from_response(400, b'{"error": {"code": "invalid_order"}}', method="POST", path="/p")
    )
    assert not _is_route_missing(KalshiOutcomeUnknownError("ReadTimeout", method="POST", path="/p"))


@pytest.mark.parametrize(
    ("exc", "write", "expected"),
    [
        (httpx.ConnectError("refused"), True, KalshiUnavailableError),  # never sent: safe
        (httpx.ConnectTimeout("slow"), True, KalshiUnavailableError),
        (httpx.PoolTimeout("busy"), True, KalshiUnavailableError),
        (httpx.ReadTimeout("slow"), True, KalshiOutcomeUnknownError),  # may have been applied
        (httpx.WriteTimeout("slow"), True, KalshiOutcomeUnknownError),
        (httpx.ReadError("reset"), True, KalshiOutcomeUnknownError),
        (httpx.RemoteProtocolError("closed"), True, KalshiOutcomeUnknownError),
        (httpx.ReadTimeout("slow"), False, KalshiUnavailableError),
        (httpx.RemoteProtocolError("closed"), False, KalshiUnavailableError),
    ],
)
def test_transport_error_classification(exc: httpx.HTTPError, write: bool, expected: type[Exception]) -> None:
    err = KalshiRestClient._transport_error(exc, "POST", "/trade-api/v2/portfolio/events/orders", write)
    assert type(err) is expected
    assert err.retryable
    assert err.status is None and type(exc).__name__ in str(err)


def test_decode() -> None:
    assert KalshiRestClient._decode(b"", "PUT", "/p", 200) == {}
    body = KalshiRestClient._decode(b'{"x": 0.1, "n": 3}', "GET", "/p", 200)
    assert body == {"x": Decimal("0.1"), "n": 3} and isinstance(body["x"], Decimal)
    with pytest.raises(KalshiResponseError, match="not JSON"):
        KalshiRestClient._decode(b"<html>", "GET", "/p", 200)


def test_parse_errors_are_one_line_response_errors() -> None:
    from kalshi.models import Balance

    with pytest.raises(KalshiResponseError, match="unexpected Balance shape") as exc:
        KalshiRestClient._parse(Balance, {"portfolio_value": 1}, "GET", "/trade-api/v2/portfolio/balance")
    assert "\n" not in str(exc.value)


def test_embedded_error_in_2xx_body() -> None:
    body = {"error": {"code": "deprecated_v1_order_endpoint", "message": "Please switch to the V2 endpoints"}}
    with pytest.raises(KalshiRejectedError) as exc:
        KalshiRestClient._raise_embedded_error(body, "POST", "/trade-api/v2/portfolio/orders")
    assert exc.value.code == "deprecated_v1_order_endpoint"
    KalshiRestClient._raise_embedded_error({"order": {}}, "POST", "/p")  # no error: returns


async def test_existing_order_must_match_the_request() -> None:
    from kalshi.errors import KalshiDuplicateOrderError
    from kalshi.models import Order

    req = CreateOrderRequest(
        ticker="T",
        side="no",
        action="buy",
        count_fp=Decimal(5),
        price_dollars=Decimal("0.60"),
        client_order_id="cid-7",
    )
    # An exchange may store "buy NO at 0.60" as the equivalent "sell YES at 0.40" (V2 ask).
    stored = Order.model_validate(
        {
            "order_id": "o7",
            "client_order_id": "cid-7",
            "ticker": "T",
            "side": "yes",
            "action": "sell",
            "book_side": "ask",
            "status": "executed",
            "yes_price_dollars": "0.4000",
            "fill_count_fp": "5.00",
            "remaining_count_fp": "0.00",
            "initial_count_fp": "5.00",
        }
    )
    async with KalshiRestClient(UNROUTABLE) as client:
        ack = client._ack_for_existing(stored, req)
        assert ack.already_existed and ack.status == "executed" and ack.order_id == "o7"
        assert (ack.side, ack.action) == ("no", "buy")
        assert ack.fill_count_fp == 5 and ack.remaining_count_fp == 0
        other_market = stored.model_copy(update={"ticker": "OTHER"})
        with pytest.raises(KalshiDuplicateOrderError, match="belongs to order o7"):
            client._ack_for_existing(other_market, req)
        other_side = stored.model_copy(update={"book_side": "bid"})
        with pytest.raises(KalshiDuplicateOrderError):
            client._ack_for_existing(other_side, req)
