"""Error-body parsing (kalshi-api.md §5.2) and status -> typed error mapping (§5.1)."""

from __future__ import annotations

import json

import pytest

from kalshi.errors import (
    KalshiAuthError,
    KalshiCredentialsError,
    KalshiDuplicateOrderError,
    KalshiError,
    KalshiNotFoundError,
    KalshiOutcomeUnknownError,
    KalshiRateLimitedError,
    KalshiRejectedError,
    KalshiResponseError,
    KalshiUnavailableError,
    error_from_response,
    parse_error_body,
)

PATH = "/trade-api/v2/portfolio/events/orders"


def test_nested_envelope() -> None:
    body = b'{"error": {"code": "invalid_order", "message": "invalid order", "details": "post only cross"}}'
    info = parse_error_body(body)
    assert (info.code, info.message, info.details, info.envelope) == (
        "invalid_order",
        "invalid order",
        "post only cross",
        True,
    )


def test_flat_top_level_shape() -> None:
    info = parse_error_body('{"code":"bad_request","message":"bad request","details":"json: cannot unmarshal"}')
    assert (info.code, info.message, info.details, info.envelope) == (
        "bad_request",
        "bad request",
        "json: cannot unmarshal",
        True,
    )


def test_rate_limit_string_error() -> None:
    info = parse_error_body(b'{"error": "too many requests"}')
    assert info.code is None and info.message == "too many requests" and info.envelope


def test_both_error_shapes_in_one_body_read_the_same() -> None:
    # What the simulator sends: the spec's flat ErrorResponse fields next to Kalshi's nested envelope.
    fields = {"code": "invalid_order", "message": "invalid order", "details": "post only cross"}
    info = parse_error_body(json.dumps({**fields, "error": fields}))
    assert (info.code, info.message, info.details, info.envelope) == (
        "invalid_order",
        "invalid order",
        "post only cross",
        True,
    )
    limited = parse_error_body(
        b'{"error": "too many requests", "code": "too_many_requests", "message": "too many requests"}'
    )
    assert (limited.code, limited.message) == ("too_many_requests", "too many requests")


def test_auth_error_body_seen_in_the_wild() -> None:
    body = json.dumps(
        {
            "error": {
                "code": "authentication_error",
                "message": "authentication_error",
                "details": "INCORRECT_API_KEY_SIGNATURE",
            }
        }
    )
    err = error_from_response(401, body, method="GET", path="/trade-api/v2/portfolio/balance")
    assert isinstance(err, KalshiAuthError) and not err.retryable
    assert err.code == "authentication_error" and err.details == "INCORRECT_API_KEY_SIGNATURE"
    assert str(err) == (
        "GET /trade-api/v2/portfolio/balance -> HTTP 401 authentication_error (INCORRECT_API_KEY_SIGNATURE)"
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"<html>\n<body>502 Bad Gateway</body>\n</html>",
        b"404 page not found",
        b'{"detail": "Not Found"}',
        b"[1, 2]",
        b"null",
    ],
)
def test_bare_bodies_are_not_envelopes(body: bytes) -> None:
    info = parse_error_body(body)
    assert info.envelope is False and info.code is None
    if info.message:
        assert "\n" not in info.message


def test_details_missing_or_empty() -> None:
    info = parse_error_body({"error": {"code": "MARKET_INACTIVE", "message": "market is not active", "details": ""}})
    assert info.code == "MARKET_INACTIVE" and info.details is None
    assert parse_error_body({"error": {"code": "not_found"}}).message is None


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, KalshiRejectedError, False),
        (401, KalshiAuthError, False),
        (403, KalshiAuthError, False),
        (404, KalshiNotFoundError, False),
        (405, KalshiRejectedError, False),
        (408, KalshiUnavailableError, True),
        (409, KalshiDuplicateOrderError, False),
        (410, KalshiRejectedError, False),
        (422, KalshiRejectedError, False),
        (429, KalshiRateLimitedError, True),
        (500, KalshiUnavailableError, True),
        (502, KalshiUnavailableError, True),
        (503, KalshiUnavailableError, True),
        (504, KalshiUnavailableError, True),
        (302, KalshiResponseError, False),
    ],
)
def test_status_mapping(status: int, cls: type[KalshiError], retryable: bool) -> None:
    err = error_from_response(status, b'{"error": {"code": "c", "message": "m"}}', method="POST", path=PATH)
    assert type(err) is cls
    assert err.retryable is retryable
    assert err.status == status and err.method == "POST" and err.path == PATH
    assert isinstance(err, KalshiError)


def test_duplicate_is_a_reject() -> None:
    err = error_from_response(
        409,
        {"error": {"code": "order_already_exists", "message": "order with this client_order_id already exists"}},
        method="POST",
        path=PATH,
    )
    assert isinstance(err, KalshiRejectedError) and isinstance(err, KalshiDuplicateOrderError)
    assert err.code == "order_already_exists"


def test_rate_limited_message() -> None:
    err = error_from_response(429, b'{"error": "too many requests"}', method="GET", path="/trade-api/v2/markets")
    assert isinstance(err, KalshiRateLimitedError)
    assert str(err) == "GET /trade-api/v2/markets -> HTTP 429 too many requests"


def test_deprecated_v1_reject() -> None:
    body = {
        "error": {
            "code": "deprecated_v1_order_endpoint",
            "message": "Please switch to the V2 endpoints",
            "details": "https://docs.kalshi.com/api-reference/orders/create-order-v2",
        }
    }
    err = error_from_response(410, body, method="POST", path="/trade-api/v2/portfolio/orders")
    assert isinstance(err, KalshiRejectedError) and err.envelope
    assert err.code == "deprecated_v1_order_endpoint"


def test_messages_are_one_line() -> None:
    err = error_from_response(503, b"<html>\nService\nUnavailable\n</html>", method="GET", path="/p")
    assert "\n" not in str(err) and "HTTP 503" in str(err)
    long = error_from_response(400, "x" * 5000, method="GET", path="/p")
    assert len(str(long)) < 1100


def test_class_hierarchy_and_flags() -> None:
    assert issubclass(KalshiCredentialsError, ValueError) and issubclass(KalshiCredentialsError, KalshiError)
    assert KalshiOutcomeUnknownError.retryable and KalshiUnavailableError.retryable
    assert KalshiRateLimitedError.retryable
    for cls in (
        KalshiAuthError,
        KalshiNotFoundError,
        KalshiRejectedError,
        KalshiDuplicateOrderError,
        KalshiCredentialsError,
        KalshiResponseError,
    ):
        assert cls.retryable is False
    unknown = KalshiOutcomeUnknownError("ReadTimeout", client_order_id="cid-1", method="POST", path=PATH)
    assert unknown.client_order_id == "cid-1"
    assert str(unknown) == f"POST {PATH} ReadTimeout"
    assert str(KalshiCredentialsError("key file not found: /x.pem")) == "key file not found: /x.pem"
