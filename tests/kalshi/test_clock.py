"""Exchange clock from HTTP Date headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kalshi.clock import ExchangeClock, clock_offset_s, parse_http_date


def test_parse_http_date() -> None:
    assert parse_http_date("Tue, 15 Nov 1994 08:12:31 GMT") == datetime(1994, 11, 15, 8, 12, 31, tzinfo=UTC)
    assert parse_http_date("Wed, 05 Aug 2026 03:50:00 GMT") == datetime(2026, 8, 5, 3, 50, tzinfo=UTC)
    assert parse_http_date("Wed, 05 Aug 2026 05:50:00 +0200") == datetime(2026, 8, 5, 3, 50, tzinfo=UTC)
    for bad in (None, "", "yesterday", "Wed, 99 Foo 2026 99:99:99 GMT"):
        assert parse_http_date(bad) is None


def test_offset_uses_round_trip_midpoint_and_half_second() -> None:
    server = datetime(2026, 8, 5, 3, 50, tzinfo=UTC).timestamp()
    # Local clock 1 hour behind a replaying simulator; request took 0.2 s.
    offset = clock_offset_s("Wed, 05 Aug 2026 03:50:00 GMT", server - 3600.1, server - 3599.9)
    assert offset == pytest.approx(3600.5)
    assert clock_offset_s("garbage", 0.0, 1.0) is None


def test_exchange_clock_follows_observations() -> None:
    local = [1_786_000_000.0]
    clock = ExchangeClock(lambda: local[0])
    assert clock.offset_s == 0.0 and not clock.has_observation
    assert clock.now() == datetime.fromtimestamp(local[0], tz=UTC)
    server = datetime(2026, 8, 5, 3, 50, tzinfo=UTC)
    assert clock.observe("Wed, 05 Aug 2026 03:50:00 GMT", local[0], local[0]) is not None
    assert clock.has_observation
    assert clock.now() == datetime.fromtimestamp(server.timestamp() + 0.5, tz=UTC)
    local[0] += 10
    assert clock.now_ts() == int(server.timestamp() + 10.5)
    assert clock.observe(None, local[0], local[0]) is None  # a missing header keeps the estimate
    assert clock.now().tzinfo is UTC
