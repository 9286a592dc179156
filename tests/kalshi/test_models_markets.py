"""Market parsing against real recorded Kalshi payloads (era B dual fields, era C fixed-point only)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from kalshi.models import ExchangeStatus, Market, MarketsPage, PriceRange

D = Decimal

_FIXED_POINT_SUFFIXES = ("_dollars", "_fp")
_LEGACY_MARKET_INTS = (
    "yes_bid",
    "yes_ask",
    "no_bid",
    "no_ask",
    "last_price",
    "previous_yes_bid",
    "previous_yes_ask",
    "previous_price",
    "volume",
    "volume_24h",
    "open_interest",
    "notional_value",
    "liquidity",
    "tick_size",
)


def _legacy_only(payload: dict[str, Any]) -> dict[str, Any]:
    """An era-A view of an era-B payload: drop every fixed-point field and the price grid."""
    out = {k: v for k, v in payload.items() if not k.endswith(_FIXED_POINT_SUFFIXES)}
    out.pop("price_ranges", None)
    return out


def _fixed_point_only(payload: dict[str, Any]) -> dict[str, Any]:
    """An era-C view of an era-B payload: drop every legacy integer field."""
    return {k: v for k, v in payload.items() if k not in _LEGACY_MARKET_INTS}


# ---------------------------------------------------------------- real era-B file (46 markets)


def test_every_fedmention_market_parses(fedmention_markets: dict[str, Any]) -> None:
    assert sorted(fedmention_markets, key=int) == [str(i) for i in range(46)]
    markets = [Market.model_validate(v) for v in fedmention_markets.values()]
    assert len(markets) == 46
    assert len({m.ticker for m in markets}) == 46
    for m in markets:
        assert m.event_ticker == "KXFEDMENTION-26MAR"
        assert m.status == "active" and m.is_active
        assert m.result == ""
        assert m.market_type == "binary"
        assert m.open_time.tzinfo is not None and m.close_time.tzinfo is not None
        assert m.close_time == datetime(2026, 3, 19, 14, 0, tzinfo=UTC)
        assert m.price_level_structure == "linear_cent"
        assert m.price_ranges == [PriceRange(start_dollars=D(0), end_dollars=D(1), step_dollars=D("0.01"))]
        # YES bid + NO ask = $1 and YES ask + NO bid = $1 on every real market.
        assert m.yes_bid_dollars + m.no_ask_dollars == 1
        assert m.yes_ask_dollars + m.no_bid_dollars == 1
        for value in (m.yes_bid_dollars, m.yes_ask_dollars, m.volume_fp, m.open_interest_fp):
            assert isinstance(value, Decimal)


def test_known_fedmention_values(fedmention_markets: dict[str, Any]) -> None:
    judy = Market.model_validate(fedmention_markets["0"])
    assert judy.ticker == "KXFEDMENTION-26MAR-JUDY"
    assert judy.title == "Will Powell say Judy Shelton at his Mar 2026 press conference?"
    assert judy.yes_sub_title == "Judy Shelton"
    assert judy.yes_bid_dollars == D("0.00")
    assert judy.yes_ask_dollars == D("0.01")
    assert judy.no_bid_dollars == D("0.99")
    assert judy.no_ask_dollars == D("1")
    assert judy.last_price_dollars == D("0.01")
    assert judy.volume_fp == D("7065")
    assert judy.open_interest_fp == D("6934")
    assert judy.yes_bid_size_fp == D("0")
    assert judy.yes_ask_size_fp == D("4907")
    assert judy.settlement_value_dollars is None
    assert judy.can_close_early is True
    assert judy.fractional_trading_enabled is False
    assert judy.settlement_timer_seconds == 1800
    assert judy.open_time == datetime(2026, 3, 3, 23, 0, tzinfo=UTC)

    proj = Market.model_validate(fedmention_markets["20"])
    assert proj.ticker == "KXFEDMENTION-26MAR-PROJ"
    assert (proj.yes_bid_dollars, proj.yes_ask_dollars, proj.no_bid_dollars) == (D("0.96"), D("0.97"), D("0.03"))
    assert proj.yes_bid_size_fp == D("5972") and proj.yes_ask_size_fp == D("1675")


def test_fedmention_legacy_only_view_matches_fixed_point(fedmention_markets: dict[str, Any]) -> None:
    """Converting the legacy integer cents gives exactly the values of the _dollars/_fp twins."""
    for payload in fedmention_markets.values():
        full = Market.model_validate(payload)
        legacy = Market.model_validate(_legacy_only(payload))
        modern = Market.model_validate(_fixed_point_only(payload))
        for name in (
            "yes_bid_dollars",
            "yes_ask_dollars",
            "no_bid_dollars",
            "no_ask_dollars",
            "last_price_dollars",
            "previous_price_dollars",
            "volume_fp",
            "volume_24h_fp",
            "open_interest_fp",
            "notional_value_dollars",
        ):
            assert getattr(legacy, name) == getattr(full, name) == getattr(modern, name), (payload["ticker"], name)
        # tick_size: 1 (cent) becomes the default one-cent grid
        assert legacy.price_ranges == full.price_ranges
        assert legacy.tick_size_dollars(D("0.5")) == D("0.01")


def test_fedmention_json_round_trip(fedmention_markets: dict[str, Any]) -> None:
    for payload in list(fedmention_markets.values())[:5]:
        m = Market.model_validate(payload)
        dumped = m.model_dump(mode="json")
        assert dumped["yes_ask_dollars"] == str(m.yes_ask_dollars)
        assert Market.model_validate(dumped) == m
        assert Market.model_validate_json(m.model_dump_json()) == m


def test_input_payload_is_not_mutated(fedmention_markets: dict[str, Any]) -> None:
    payload = _legacy_only(fedmention_markets["1"])
    before = copy.deepcopy(payload)
    Market.model_validate(payload)
    assert payload == before


# ---------------------------------------------------------------- real era-C gold metadata


def test_every_gold_market_parses(gold_market_payloads: list[dict[str, Any]]) -> None:
    assert len(gold_market_payloads) == 34
    results = {"yes": 0, "no": 0}
    for payload in gold_market_payloads:
        assert "yes_bid" not in payload  # era C: no legacy integers at all
        m = Market.model_validate(payload)
        assert m.status == "finalized" and not m.is_active
        assert m.result in results
        results[m.result] += 1
        assert m.settlement_value_dollars == (D(1) if m.result == "yes" else D(0))
        assert m.settlement_ts is not None and m.settlement_ts.tzinfo is not None
        assert m.strike_type == "greater_or_equal"
        assert isinstance(m.floor_strike, Decimal)
        assert m.close_time > m.open_time
    assert results == {"yes": 19, "no": 15}


def test_known_gold_values(gold_market_payloads: list[dict[str, Any]]) -> None:
    by_ticker = {p["ticker"]: Market.model_validate(p) for p in gold_market_payloads}
    m = by_ticker["KXGOLD15M-26AUG050000-00"]
    assert m.event_ticker == "KXGOLD15M-26AUG050000"
    assert m.floor_strike == D("4128.56")  # a JSON number, read exactly
    assert m.volume_fp == D("23727.91")
    assert m.open_interest_fp == D("6556.98")
    assert m.last_price_dollars == D("0.28")
    assert m.result == "no"
    assert m.settlement_value_dollars == D("0")
    assert m.open_time == datetime(2026, 8, 5, 3, 45, tzinfo=UTC)
    assert m.close_time == datetime(2026, 8, 5, 4, 0, tzinfo=UTC)
    assert m.settlement_timer_seconds == 1


def test_gold_market_with_decimal_decoded_json(gold_market_payloads: list[dict[str, Any]]) -> None:
    """The REST client decodes with parse_float=Decimal; strikes then arrive as Decimal already."""
    payload = dict(gold_market_payloads[0])
    payload["floor_strike"] = D(repr(payload["floor_strike"]))
    assert Market.model_validate(payload).floor_strike == D("4128.56")


# ---------------------------------------------------------------- synthetic era payloads


def _base_market(**extra: Any) -> dict[str, Any]:
    return {
        "ticker": "KXTEST-26JAN01-T50",
        "event_ticker": "KXTEST-26JAN01",
        "status": "active",
        "open_time": "2026-01-01T00:00:00Z",
        "close_time": "2026-01-01T01:00:00Z",
        **extra,
    }


def test_legacy_only_market() -> None:
    m = Market.model_validate(
        _base_market(
            yes_bid=40,
            yes_ask=42,
            no_bid=58,
            no_ask=60,
            last_price=41,
            volume=1200,
            open_interest=300,
            tick_size=1,
            settlement_value=100,
            status="open",
            result=None,
        )
    )
    assert (m.yes_bid_dollars, m.yes_ask_dollars, m.no_bid_dollars, m.no_ask_dollars) == (
        D("0.40"),
        D("0.42"),
        D("0.58"),
        D("0.60"),
    )
    assert m.last_price_dollars == D("0.41")
    assert m.volume_fp == D(1200) and m.open_interest_fp == D(300)
    assert m.settlement_value_dollars == D(1)
    assert m.is_active  # legacy "open"
    assert m.result == ""


def test_era_c_market_with_subpenny_grid() -> None:
    m = Market.model_validate(
        _base_market(
            yes_bid_dollars="0.0950",
            yes_ask_dollars="0.0970",
            volume_fp="12.34",
            price_level_structure="tapered_deci_cent",
            price_ranges=[
                {"start": "0.0000", "end": "0.1000", "step": "0.0010"},
                {"start": "0.1000", "end": "0.9000", "step": "0.0100"},
                {"start": "0.9000", "end": "1.0000", "step": "0.0010"},
            ],
            fractional_trading_enabled=True,
        )
    )
    assert m.yes_bid_dollars == D("0.095")
    assert m.volume_fp == D("12.34")
    assert m.tick_size_dollars(D("0.05")) == D("0.001")
    assert m.tick_size_dollars(D("0.10")) == D("0.01")  # boundary takes the band above
    assert m.tick_size_dollars(D("0.50")) == D("0.01")
    assert m.tick_size_dollars(D("0.95")) == D("0.001")
    assert m.tick_size_dollars(D("1")) == D("0.001")
    assert m.is_on_tick(D("0.095")) and m.is_on_tick("0.0950")
    assert not m.is_on_tick(D("0.105"))
    assert m.is_on_tick(D("0.10")) and m.is_on_tick(D("0.91"))
    assert m.tick_above(D("0.099")) == D("0.100")
    assert m.tick_above(D("0.10")) == D("0.11")
    assert m.tick_below(D("0.10")) == D("0.099")
    assert m.tick_below(D("0.11")) == D("0.10")
    assert m.tick_above(D("0.89")) == D("0.90")
    assert m.tick_above(D("0.90")) == D("0.901")
    assert m.round_to_tick(D("0.1050"), "down") == D("0.10")
    assert m.round_to_tick(D("0.1050"), "up") == D("0.11")
    assert m.round_to_tick(D("0.50"), "up") == D("0.50")
    assert m.tick_above(D("1")) is None and m.tick_below(D("0")) is None
    assert m.is_valid_order_price(D("0.001")) and not m.is_valid_order_price(D("0"))
    with pytest.raises(ValueError, match="outside"):
        m.tick_size_dollars(D("1.5"))


def test_default_tick_grid_without_price_ranges() -> None:
    m = Market.model_validate(_base_market())
    assert m.price_ranges == []
    assert m.tick_size_dollars(D("0.37")) == D("0.01")
    assert m.is_on_tick(D("0.37")) and not m.is_on_tick(D("0.375"))
    assert (m.yes_bid_dollars, m.yes_ask_dollars) == (D(0), D(1))  # empty book defaults


def test_market_refuses_floats() -> None:
    with pytest.raises(ValidationError, match="refusing float"):
        Market.model_validate(_base_market(yes_bid_dollars=0.4))
    with pytest.raises(ValidationError, match="refusing float"):
        Market.model_validate(_base_market(yes_bid=40.0))  # legacy cents must be ints too
    m = Market.model_validate(_base_market())
    with pytest.raises(ValueError, match="refusing float"):
        m.is_on_tick(0.4)  # type: ignore[arg-type]


def test_market_requires_identity_and_times() -> None:
    with pytest.raises(ValidationError):
        Market.model_validate({"ticker": "X", "status": "active"})
    with pytest.raises(ValidationError):  # naive datetimes are refused: times must be tz-aware
        Market.model_validate(_base_market(close_time="2026-01-01T01:00:00"))


def test_markets_page_cursor() -> None:
    page = MarketsPage.model_validate({"markets": [_base_market()], "cursor": ""})
    assert page.cursor is None and len(page.markets) == 1
    assert MarketsPage.model_validate({"markets": [], "cursor": "abc"}).cursor == "abc"


def test_exchange_status() -> None:
    s = ExchangeStatus.model_validate(
        {
            "exchange_active": True,
            "trading_active": False,
            "exchange_estimated_resume_time": "2026-01-01T05:00:00Z",
            "exchange_index_statuses": [],
        }
    )
    assert s.exchange_active and not s.trading_active
    assert s.exchange_estimated_resume_time == datetime(2026, 1, 1, 5, tzinfo=UTC)
    assert (
        ExchangeStatus.model_validate(
            {"exchange_active": True, "trading_active": True, "exchange_estimated_resume_time": None}
        ).exchange_estimated_resume_time
        is None
    )
