"""WebSocket frame parsing: real tapes (both eras), every message type by hand, and every malformed input."""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kalshi.models.ws import (
    ErrorMessage,
    EventLifecycle,
    Fill,
    FixedPointError,
    FrameError,
    MarketLifecycle,
    MarketPositionUpdate,
    Ok,
    OrderbookDelta,
    OrderbookSnapshot,
    OrderGroupUpdate,
    PriceBand,
    Subscribed,
    SubscriptionInfo,
    Ticker,
    TickerV2,
    Trade,
    UnknownMessage,
    Unsubscribed,
    UserOrderUpdate,
    cc_to_dollars,
    count_to_lots,
    format_lots,
    format_price_cc,
    iso_to_ts_ms,
    lots_to_contracts,
    parse_frame,
    price_to_cc,
)
from kalshi.models.ws.parse import _parse_slow

D = Decimal
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("KALSHI_DATA_DIR", PROJECT_ROOT.parent / "shared" / "data"))
GOLD_EVENTS = DATA_DIR / "kalshi-gold15m" / "events"
SAMPLES = DATA_DIR / "kalshi-ws-samples"


def frame(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def cc(text: str) -> int:
    """Independent oracle: dollars text -> centi-cents via Decimal."""
    v = D(text) * 10_000
    assert v == v.to_integral_value()
    return int(v)


def lots(text: str) -> int:
    v = D(text) * 100
    assert v == v.to_integral_value()
    return int(v)


# --------------------------------------------------------------------------------------------------
# Exact conversions
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("0.4800", 4800),
        ("0.48", 4800),
        ("0.480000", 4800),
        ("0.0001", 1),
        ("1.0000", 10_000),
        ("0", 0),
        ("1", 10_000),
        ("0.4215", 4215),
        ("4.8E-1", 4800),
        ("+0.48", 4800),
        (".48", 4800),
    ],
)
def test_price_to_cc(text: str, want: int) -> None:
    assert price_to_cc(text) == want
    assert price_to_cc(text) == want  # cached path agrees


@pytest.mark.parametrize(
    "text",
    [
        "0.48001",
        "1.0001",
        "-0.0100",
        "2",
        "abc",
        "",
        " 0.48",
        "0.48 ",
        "0.4_8",
        "NaN",
        "Infinity",
        "1e999999",
        "\u0660.\u0665",
        "0x10",
    ],
)
def test_price_to_cc_rejects(text: str) -> None:
    with pytest.raises(FixedPointError):
        price_to_cc(text)


def test_price_to_cc_rejects_non_strings() -> None:
    for value in (0.48, 48, None, D("0.48"), True):
        with pytest.raises(FixedPointError):
            price_to_cc(value)  # type: ignore[arg-type]
    with pytest.raises(FixedPointError):
        count_to_lots(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "want"),
    [("46.02", 4602), ("-40.00", -4000), ("-9.90", -990), ("10", 1000), ("0.01", 1), ("1239.730", 123973), ("0", 0)],
)
def test_count_to_lots(text: str, want: int) -> None:
    assert count_to_lots(text) == want


def test_count_to_lots_rejects() -> None:
    for text in ("1.005", "x", "1e30", "-", "1..0"):
        with pytest.raises(FixedPointError):
            count_to_lots(text)
    with pytest.raises(FixedPointError):
        count_to_lots("-1.00", signed=False)
    count_to_lots("-1.00")  # cached as signed, still refused unsigned:
    with pytest.raises(FixedPointError):
        count_to_lots("-1.00", signed=False)


def test_formatting_and_decimals() -> None:
    assert format_price_cc(4800) == "0.4800" and format_price_cc(10_000) == "1.0000" and format_price_cc(1) == "0.0001"
    assert format_lots(4602) == "46.02" and format_lots(-990) == "-9.90" and format_lots(0) == "0.00"
    assert cc_to_dollars(4800) == D("0.4800") and lots_to_contracts(4602) == D("46.02")
    assert iso_to_ts_ms("2026-08-11T01:15:15.566273Z") == 1786410915566
    assert iso_to_ts_ms("2026-08-11T01:30:00.000075123Z") == 1786411800000
    assert iso_to_ts_ms("2022-11-22T20:44:01") == 1669149841000  # no offset: UTC
    with pytest.raises(ValueError):
        iso_to_ts_ms("yesterday")


# --------------------------------------------------------------------------------------------------
# The real tapes
# --------------------------------------------------------------------------------------------------


def test_every_gold_tape_frame_parses() -> None:
    files = sorted(GOLD_EVENTS.glob("*/*.ndjson.gz")) if GOLD_EVENTS.is_dir() else []
    if not files:
        pytest.skip(f"recorded tape not available: {GOLD_EVENTS}")
    assert len(files) == 35
    by_event: Counter[str] = Counter()
    by_wire_type: Counter[str] = Counter()
    event_name = {"orderbook_delta": "OrderbookDelta", "orderbook_snapshot": "OrderbookSnapshot", "trade": "Trade"}
    compared = 0
    for path in files:
        with gzip.open(path, "rb") as fh:
            for n, line in enumerate(fh):
                raw = line[line.index(b'"event":') + 8 : line.rindex(b"}")]
                ev = parse_frame(raw)
                by_event[type(ev).__name__] += 1
                assert raw.startswith(b'{"type":"')
                by_wire_type[event_name[raw[9 : raw.index(b'"', 9)].decode()]] += 1
                if n % 97 == 0:  # a sample, checked field by field against an independent json + Decimal read
                    _check_against_json(ev, json.loads(raw))
                    assert _parse_slow(raw) == ev  # the slow path yields the identical event
                    compared += 1
    assert by_event == by_wire_type
    assert by_event == {"OrderbookDelta": 1_862_072, "Trade": 44_953, "OrderbookSnapshot": 90}
    assert compared > 19_000


def _check_against_json(ev: Any, e: dict[str, Any]) -> None:
    m = e["msg"]
    assert (ev.sid, ev.seq, ev.market_ticker) == (e["sid"], e["seq"], m["market_ticker"])
    if e["type"] == "orderbook_delta":
        assert isinstance(ev, OrderbookDelta)
        assert ev.price_cc == cc(m["price_dollars"]) and ev.delta_lots == lots(m["delta_fp"])
        assert ev.side == m["side"] and ev.ts_ms == m["ts_ms"] and ev.ts == m["ts"] and ev.market_id == m["market_id"]
        assert iso_to_ts_ms(m["ts"]) == m["ts_ms"]  # the two clocks agree to the millisecond
    elif e["type"] == "trade":
        assert isinstance(ev, Trade)
        assert ev.yes_price_cc == cc(m["yes_price_dollars"]) and ev.no_price_cc == cc(m["no_price_dollars"])
        assert ev.count_lots == lots(m["count_fp"]) and ev.ts_s == m["ts"] and ev.ts_ms == m["ts_ms"]
        assert (ev.taker_outcome_side, ev.taker_book_side, ev.trade_id) == (
            m["taker_outcome_side"],
            m["taker_book_side"],
            m["trade_id"],
        )
    else:
        assert isinstance(ev, OrderbookSnapshot)
        assert ev.yes_levels == tuple((cc(p), lots(q)) for p, q in m.get("yes_dollars_fp", []))
        assert ev.no_levels == tuple((cc(p), lots(q)) for p, q in m.get("no_dollars_fp", []))


def _sample_lines(name: str) -> list[dict[str, Any]]:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"recorded samples not available: {path}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _only(msg: dict[str, Any], drop: set[str]) -> dict[str, Any]:
    return {k: v for k, v in msg.items() if k not in drop}


def test_legacy_trade_samples_match_their_dollar_fields() -> None:
    frames = _sample_lines("kalshi_trade.jsonl")
    assert len(frames) == 10
    legacy_keys = {"yes_price", "no_price", "count"}
    fp_keys = {"yes_price_dollars", "no_price_dollars", "count_fp"}
    for f in frames:
        both = parse_frame(frame(f))
        legacy = parse_frame(frame({**f, "msg": _only(f["msg"], fp_keys)}))
        current = parse_frame(frame({**f, "msg": _only(f["msg"], legacy_keys)}))
        assert isinstance(both, Trade)
        assert both == legacy == current
        m = f["msg"]
        assert both.yes_price_cc == cc(m["yes_price_dollars"]) == m["yes_price"] * 100
        assert both.no_price_cc == cc(m["no_price_dollars"]) == m["no_price"] * 100
        assert both.count_lots == lots(m["count_fp"]) == m["count"] * 100
        # Old frames carry only taker_side; the direction fields are derived (§8).
        assert both.taker_outcome_side == m["taker_side"]
        assert both.taker_book_side == ("bid" if m["taker_side"] == "yes" else "ask")
        assert both.ts_s == m["ts"] and both.ts_ms == m["ts"] * 1000 and both.seq == f["seq"]


def test_legacy_ticker_samples_match_their_dollar_fields() -> None:
    frames = _sample_lines("kalshi_ticker.jsonl")
    assert len(frames) == 10
    twins = {
        "price": "price_dollars",
        "yes_bid": "yes_bid_dollars",
        "yes_ask": "yes_ask_dollars",
        "volume": "volume_fp",
        "open_interest": "open_interest_fp",
    }
    for f in frames:
        assert "seq" not in f and "Clock" in f["msg"]
        both = parse_frame(frame(f))
        legacy = parse_frame(frame({**f, "msg": _only(f["msg"], set(twins.values()))}))
        current = parse_frame(frame({**f, "msg": _only(f["msg"], set(twins))}))
        assert isinstance(both, Ticker) and isinstance(legacy, Ticker) and isinstance(current, Ticker)
        assert both == current
        for attr in ("price_cc", "yes_bid_cc", "yes_ask_cc", "volume_lots", "open_interest_lots"):
            assert getattr(legacy, attr) == getattr(both, attr), attr
        m = f["msg"]
        assert both.seq is None and both.sid == 1
        assert both.price_cc == cc(m["price_dollars"]) and both.yes_bid_cc == cc(m["yes_bid_dollars"])
        assert both.yes_ask_cc == cc(m["yes_ask_dollars"]) == m["yes_ask"] * 100
        assert both.volume_lots == lots(m["volume_fp"]) and both.open_interest_lots == m["open_interest"] * 100
        assert both.yes_bid_size_lots == lots(m["yes_bid_size_fp"]) and both.yes_ask_size_lots == lots(
            m["yes_ask_size_fp"]
        )
        assert both.dollar_volume == m["dollar_volume"] and both.ts_ms == m["ts"] * 1000


# --------------------------------------------------------------------------------------------------
# Every message type, both eras (kalshi-api.md §6.3, §6.5)
# --------------------------------------------------------------------------------------------------


def test_command_replies() -> None:
    ev = parse_frame(b'{"id":1,"type":"subscribed","msg":{"channel":"orderbook_delta","sid":1}}')
    assert ev == Subscribed(id=1, sid=1, channel="orderbook_delta")
    ev = parse_frame(b'{"id":2,"sid":1,"seq":7,"type":"unsubscribed"}')
    assert ev == Unsubscribed(id=2, sid=1, seq=7)
    ev = parse_frame(b'{"id":3,"sid":1,"seq":222,"type":"ok","msg":{"market_tickers":["A","B"]}}')
    assert ev == Ok(id=3, sid=1, seq=222, market_tickers=("A", "B"))
    ev = parse_frame(b'{"id":5,"type":"ok","msg":[{"channel":"ticker","sid":2},{"channel":"trade","sid":3}]}')
    assert ev == Ok(id=5, subscriptions=(SubscriptionInfo("ticker", 2), SubscriptionInfo("trade", 3)))
    assert parse_frame(b'{"id":6,"type":"ok"}') == Ok(id=6)


def test_error_frames() -> None:
    ev = parse_frame(b'{"id":9,"type":"error","msg":{"code":8,"msg":"Unknown channel name"}}')
    assert ev == ErrorMessage(id=9, code=8, message="Unknown channel name")
    assert isinstance(ev, ErrorMessage) and not ev.terminal and ev.code_name == "unknown channel"
    ev = parse_frame(b'{"type":"error","sid":4,"seq":10,"msg":{"code":25,"msg":"buffer","market_tickers":["A"]}}')
    assert isinstance(ev, ErrorMessage) and ev.terminal and ev.sid == 4 and ev.market_tickers == ("A",)
    assert isinstance(parse_frame(b'{"type":"error","msg":{"code":10}}'), ErrorMessage)
    ev = parse_frame(b'{"type":"error","msg":{"code":99}}')
    assert isinstance(ev, ErrorMessage) and ev.code_name == "unknown" and ev.message == ""


def test_orderbook_snapshot_all_eras() -> None:
    current = {
        "type": "orderbook_snapshot",
        "sid": 2,
        "seq": 2,
        "msg": {
            "market_ticker": "M",
            "market_id": "u",
            "yes_dollars_fp": [["0.0800", "300.00"], ["0.0810", "1.50"]],
            "no_dollars_fp": [["0.5400", "20.00"]],
        },
    }
    want = OrderbookSnapshot(
        sid=2, seq=2, market_ticker="M", market_id="u", yes_levels=((800, 30000), (810, 150)), no_levels=((5400, 2000),)
    )
    assert parse_frame(frame(current)) == want
    era_b = {
        **current,
        "msg": {"market_ticker": "M", "market_id": "u", "yes": [[8, 300]], "yes_dollars": [["0.0800", 300]]},
    }
    assert parse_frame(frame(era_b)) == OrderbookSnapshot(
        sid=2, seq=2, market_ticker="M", market_id="u", yes_levels=((800, 30000),)
    )
    legacy = {
        "type": "orderbook_snapshot",
        "sid": 2,
        "seq": 2,
        "msg": {"market_ticker": "M", "yes": [[8, 300]], "no": [[54, 20]]},
    }
    assert parse_frame(frame(legacy)) == OrderbookSnapshot(
        sid=2, seq=2, market_ticker="M", yes_levels=((800, 30000),), no_levels=((5400, 2000),)
    )
    empty = parse_frame(b'{"type":"orderbook_snapshot","sid":1,"seq":3,"id":4,"msg":{"market_ticker":"M"}}')
    assert empty == OrderbookSnapshot(sid=1, seq=3, id=4, market_ticker="M")
    # extra trailing items in a level are ignored
    extra = {**current, "msg": {"market_ticker": "M", "no_dollars_fp": [["0.5400", "20.00", 3]]}}
    assert parse_frame(frame(extra)) == OrderbookSnapshot(sid=2, seq=2, market_ticker="M", no_levels=((5400, 2000),))


def test_orderbook_delta_both_eras() -> None:
    current = {
        "type": "orderbook_delta",
        "sid": 2,
        "seq": 3,
        "msg": {
            "market_ticker": "M",
            "market_id": "u",
            "price_dollars": "0.9600",
            "delta_fp": "-54.00",
            "side": "yes",
            "ts_ms": 1669149841000,
            "ts": "2022-11-22T20:44:01Z",
            "client_order_id": "c1",
            "subaccount": 3,
        },
    }
    ev = parse_frame(frame(current))
    assert ev == OrderbookDelta(
        sid=2,
        seq=3,
        market_ticker="M",
        market_id="u",
        side="yes",
        price_cc=9600,
        delta_lots=-5400,
        ts_ms=1669149841000,
        ts="2022-11-22T20:44:01Z",
        client_order_id="c1",
        subaccount=3,
    )
    legacy = {
        "type": "orderbook_delta",
        "sid": 2,
        "seq": 3,
        "msg": {"market_ticker": "M", "price": 96, "delta": -54, "side": "yes"},
    }
    assert parse_frame(frame(legacy)) == OrderbookDelta(
        sid=2, seq=3, market_ticker="M", side="yes", price_cc=9600, delta_lots=-5400
    )
    # ts without ts_ms: ISO text, or a legacy integer (ms when >= 1e11, else seconds)
    for ts, want in (
        ("2022-11-22T20:44:01Z", 1669149841000),
        (1669149841000, 1669149841000),
        (1669149841, 1669149841000),
    ):
        msg = {"market_ticker": "M", "price_dollars": "0.9600", "delta_fp": "1.00", "side": "no", "ts": ts}
        ev = parse_frame(frame({"type": "orderbook_delta", "sid": 1, "seq": 1, "msg": msg}))
        assert isinstance(ev, OrderbookDelta) and ev.ts_ms == want and ev.ts == ts


def test_trade_current_era() -> None:
    f = {
        "type": "trade",
        "sid": 2,
        "seq": 172193,
        "msg": {
            "trade_id": "d17a",
            "market_ticker": "M",
            "yes_price_dollars": "0.3100",
            "no_price_dollars": "0.6900",
            "count_fp": "1.88",
            "taker_side": "no",
            "taker_outcome_side": "no",
            "taker_book_side": "ask",
            "is_block_trade": False,
            "ts": 1786410916,
            "ts_ms": 1786410916130,
        },
    }
    assert parse_frame(frame(f)) == Trade(
        sid=2,
        seq=172193,
        market_ticker="M",
        trade_id="d17a",
        yes_price_cc=3100,
        no_price_cc=6900,
        count_lots=188,
        taker_outcome_side="no",
        taker_book_side="ask",
        taker_side="no",
        is_block_trade=False,
        ts_s=1786410916,
        ts_ms=1786410916130,
    )
    # Only the book side: the outcome is derived; only one price: the other is its complement.
    m = {"market_ticker": "M", "yes_price_dollars": "0.3100", "count_fp": "1.00", "taker_book_side": "bid"}
    ev = parse_frame(frame({"type": "trade", "sid": 2, "seq": 1, "msg": m}))
    assert isinstance(ev, Trade) and ev.taker_outcome_side == "yes" and ev.no_price_cc == 6900 and ev.ts_ms is None


def test_ticker_current_and_v2() -> None:
    f = {
        "type": "ticker",
        "sid": 3,
        "msg": {
            "market_ticker": "M",
            "market_id": "u",
            "price_dollars": "0.4800",
            "yes_bid_dollars": "0.4700",
            "yes_ask_dollars": "0.4900",
            "volume_fp": "100.50",
            "open_interest_fp": "20.00",
            "dollar_volume": 48,
            "dollar_open_interest": 10,
            "yes_bid_size_fp": "5.00",
            "yes_ask_size_fp": "6.00",
            "last_trade_size_fp": "0.50",
            "ts": 1786410916,
            "ts_ms": 1786410916001,
            "time": "2026-08-11T01:15:16.001Z",
        },
    }
    assert parse_frame(frame(f)) == Ticker(
        sid=3,
        market_ticker="M",
        market_id="u",
        price_cc=4800,
        yes_bid_cc=4700,
        yes_ask_cc=4900,
        yes_bid_size_lots=500,
        yes_ask_size_lots=600,
        last_trade_size_lots=50,
        volume_lots=10050,
        open_interest_lots=2000,
        dollar_volume=48,
        dollar_open_interest=10,
        ts_s=1786410916,
        ts_ms=1786410916001,
    )
    v2 = {
        "type": "ticker_v2",
        "sid": 4,
        "seq": 9,
        "msg": {
            "market_ticker": "M",
            "price": 48,
            "volume_delta": 5,
            "open_interest_delta": -2,
            "dollar_volume_delta": 2,
            "dollar_open_interest_delta": -1,
            "yes_bid": 47,
            "ts": 1700000000,
        },
    }
    assert parse_frame(frame(v2)) == TickerV2(
        sid=4,
        seq=9,
        market_ticker="M",
        price_cc=4800,
        yes_bid_cc=4700,
        volume_delta_lots=500,
        open_interest_delta_lots=-200,
        dollar_volume_delta=2,
        dollar_open_interest_delta=-1,
        ts_s=1700000000,
    )
    v2_fp = {**v2, "msg": {"market_ticker": "M", "price_dollars": "0.4810", "volume_delta_fp": "0.50"}}
    assert parse_frame(frame(v2_fp)) == TickerV2(sid=4, seq=9, market_ticker="M", price_cc=4810, volume_delta_lots=50)


def test_fill_both_eras() -> None:
    current = {
        "type": "fill",
        "sid": 13,
        "msg": {
            "trade_id": "t",
            "order_id": "o",
            "client_order_id": "c",
            "market_ticker": "M",
            "exchange_index": 0,
            "is_taker": True,
            "side": "yes",
            "action": "buy",
            "outcome_side": "yes",
            "book_side": "bid",
            "purchased_side": "yes",
            "yes_price_dollars": "0.7500",
            "count_fp": "2.50",
            "fee_cost": "0.040000",
            "post_position_fp": "-1.50",
            "ts": 1700000000,
            "ts_ms": 1700000000123,
            "subaccount": 2,
        },
    }
    ev = parse_frame(frame(current))
    assert ev == Fill(
        sid=13,
        trade_id="t",
        order_id="o",
        client_order_id="c",
        market_ticker="M",
        exchange_index=0,
        is_taker=True,
        side="yes",
        action="buy",
        outcome_side="yes",
        book_side="bid",
        purchased_side="yes",
        yes_price_cc=7500,
        count_lots=250,
        fee_cost_dollars=D("0.040000"),
        post_position_lots=-150,
        ts_s=1700000000,
        ts_ms=1700000000123,
        subaccount=2,
    )
    assert isinstance(ev, Fill) and ev.no_price_cc == 2500
    legacy = {
        "type": "fill",
        "sid": 13,
        "msg": {
            "order_id": "o",
            "market_ticker": "M",
            "yes_price": 75,
            "count": 3,
            "post_position": -2,
            "ts": 1700000000,
        },
    }
    assert parse_frame(frame(legacy)) == Fill(
        sid=13,
        order_id="o",
        market_ticker="M",
        yes_price_cc=7500,
        count_lots=300,
        post_position_lots=-200,
        ts_s=1700000000,
        ts_ms=1700000000000,
    )


def test_market_position_legacy_centi_cents() -> None:
    legacy = {
        "type": "market_position",
        "sid": 14,
        "msg": {
            "user_id": "u",
            "market_ticker": "M",
            "position": -10,
            "position_cost": 500000,
            "realized_pnl": -12345,
            "fees_paid": 1800,
            "position_fee_cost": 700,
            "volume": 25,
        },
    }
    ev = parse_frame(frame(legacy))
    assert ev == MarketPositionUpdate(
        sid=14,
        user_id="u",
        market_ticker="M",
        position_lots=-1000,
        position_cost_dollars=D("50"),
        realized_pnl_dollars=D("-1.2345"),
        fees_paid_dollars=D("0.18"),
        position_fee_cost_dollars=D("0.07"),
        volume_lots=2500,
    )
    assert isinstance(ev, MarketPositionUpdate) and ev.position_cost_dollars == D("50.0000")
    current = {
        "type": "market_position",
        "sid": 14,
        "msg": {
            "user_id": "u",
            "market_ticker": "M",
            "position_fp": "-10.00",
            "position_cost_dollars": "50.0000",
            "realized_pnl_dollars": "-1.2345",
            "fees_paid_dollars": "0.1800",
            "position_fee_cost_dollars": "0.0700",
            "volume_fp": "25.00",
            "subaccount": 1,
        },
    }
    cur = parse_frame(frame(current))
    assert isinstance(cur, MarketPositionUpdate)
    assert cur == MarketPositionUpdate(**{**_fields(ev), "subaccount": 1})
    assert str(cur.position_cost_dollars) == "50.0000"


def _fields(ev: Any) -> dict[str, Any]:
    return {f: getattr(ev, f) for f in ev.__struct_fields__}


def test_user_order_both_eras() -> None:
    current = {
        "type": "user_order",
        "sid": 15,
        "msg": {
            "order_id": "o",
            "user_id": "u",
            "ticker": "M",
            "status": "resting",
            "side": "yes",
            "is_yes": True,
            "outcome_side": "yes",
            "book_side": "bid",
            "yes_price_dollars": "0.4200",
            "fill_count_fp": "1.00",
            "remaining_count_fp": "4.00",
            "initial_count_fp": "5.00",
            "taker_fill_cost_dollars": "0.420000",
            "maker_fill_cost_dollars": "0.000000",
            "taker_fees_dollars": "0.020000",
            "maker_fees_dollars": "0.000000",
            "client_order_id": "c",
            "order_group_id": "g",
            "self_trade_prevention_type": "taker_at_cross",
            "created_ts_ms": 1,
            "last_updated_ts_ms": 2,
            "expiration_ts_ms": None,
            "last_update_reason": "Trade",
            "exchange_index": 0,
            "subaccount_number": 0,
        },
    }
    ev = parse_frame(frame(current))
    assert isinstance(ev, UserOrderUpdate)
    assert (ev.yes_price_cc, ev.fill_count_lots, ev.remaining_count_lots, ev.initial_count_lots) == (
        4200,
        100,
        400,
        500,
    )
    assert ev.taker_fill_cost_dollars == D("0.42") and ev.taker_fees_dollars == D("0.02") and ev.status == "resting"
    assert ev.expiration_ts_ms is None and ev.last_update_reason == "Trade" and ev.seq is None
    legacy = {
        "type": "user_order",
        "sid": 15,
        "msg": {
            "order_id": "o",
            "ticker": "M",
            "status": "executed",
            "yes_price": 42,
            "fill_count": 5,
            "taker_fees": 2,
        },
    }
    ev = parse_frame(frame(legacy))
    assert ev == UserOrderUpdate(
        sid=15,
        order_id="o",
        ticker="M",
        status="executed",
        yes_price_cc=4200,
        fill_count_lots=500,
        taker_fees_dollars=D("0.02"),
    )


def test_order_group_updates() -> None:
    f = {
        "type": "order_group_updates",
        "sid": 21,
        "seq": 7,
        "msg": {"event_type": "limit_updated", "order_group_id": "og_123", "contracts_limit_fp": "150.00", "ts_ms": 5},
    }
    assert parse_frame(frame(f)) == OrderGroupUpdate(
        sid=21, seq=7, event_type="limit_updated", order_group_id="og_123", contracts_limit_lots=15000, ts_ms=5
    )
    legacy = {**f, "msg": {"event_type": "created", "order_group_id": "og_1", "contracts_limit": 10}}
    assert parse_frame(frame(legacy)) == OrderGroupUpdate(
        sid=21, seq=7, event_type="created", order_group_id="og_1", contracts_limit_lots=1000
    )
    triggered = {**f, "msg": {"event_type": "triggered", "order_group_id": "og_1"}}
    assert parse_frame(frame(triggered)) == OrderGroupUpdate(
        sid=21, seq=7, event_type="triggered", order_group_id="og_1"
    )


def test_market_lifecycle() -> None:
    created = {
        "type": "market_lifecycle_v2",
        "sid": 30,
        "seq": 1,
        "msg": {
            "market_ticker": "M",
            "event_type": "created",
            "exchange_index": 0,
            "open_ts": 1700000000,
            "close_ts": 1700000900,
            "price_level_structure": "tapered_deci_cent",
            "price_ranges": [
                {"start": "0.0000", "end": "0.1000", "step": "0.0010"},
                {"start": "0.1000", "end": "0.9000", "step": "0.0100"},
                {"start": "0.9000", "end": "1.0000", "step": "0.0010"},
            ],
            "additional_metadata": {"name": "n", "event_ticker": "E", "strike_type": "greater_or_equal"},
        },
    }
    ev = parse_frame(frame(created))
    assert isinstance(ev, MarketLifecycle)
    assert ev.price_ranges == (PriceBand(0, 1000, 10), PriceBand(1000, 9000, 100), PriceBand(9000, 10000, 10))
    assert (
        ev.open_ts == 1700000000
        and ev.close_ts == 1700000900
        and ev.additional_metadata
        == {
            "name": "n",
            "event_ticker": "E",
            "strike_type": "greater_or_equal",
        }
    )
    determined = {
        "type": "market_lifecycle_v2",
        "sid": 30,
        "seq": 2,
        "msg": {
            "market_ticker": "M",
            "event_type": "determined",
            "determination_ts": 1,
            "result": "yes",
            "settlement_value": "1.0000",
        },
    }
    assert parse_frame(frame(determined)) == MarketLifecycle(
        sid=30,
        seq=2,
        market_ticker="M",
        event_type="determined",
        determination_ts=1,
        result="yes",
        settlement_value_dollars=D("1"),
    )
    legacy_value = {**determined, "msg": {**determined["msg"], "settlement_value": 100}}  # type: ignore[dict-item]
    ev = parse_frame(frame(legacy_value))
    assert isinstance(ev, MarketLifecycle) and ev.settlement_value_dollars == D("1.00")
    deactivated = {
        "type": "market_lifecycle_v2",
        "sid": 30,
        "seq": 3,
        "msg": {"market_ticker": "M", "event_type": "deactivated", "is_deactivated": True},
    }
    ev = parse_frame(frame(deactivated))
    assert isinstance(ev, MarketLifecycle) and ev.is_deactivated is True
    settled = {
        "type": "market_lifecycle_v2",
        "sid": 30,
        "seq": 4,
        "msg": {"market_ticker": "M", "event_type": "settled", "settled_ts": 9},
    }
    assert parse_frame(frame(settled)) == MarketLifecycle(
        sid=30, seq=4, market_ticker="M", event_type="settled", settled_ts=9
    )


def test_event_lifecycle() -> None:
    f = {
        "type": "event_lifecycle",
        "sid": 30,
        "seq": 5,
        "msg": {
            "event_ticker": "E",
            "exchange_index": 0,
            "title": "Gold up?",
            "subtitle": "",
            "collateral_return_type": "MECNET",
            "series_ticker": "KXGOLD15M",
            "strike_date": 1700000000,
            "strike_period": "15m",
        },
    }
    assert parse_frame(frame(f)) == EventLifecycle(
        sid=30,
        seq=5,
        event_ticker="E",
        exchange_index=0,
        title="Gold up?",
        subtitle="",
        collateral_return_type="MECNET",
        series_ticker="KXGOLD15M",
        strike_date=1700000000,
        strike_period="15m",
    )


def test_unknown_types_are_typed_not_errors() -> None:
    for raw in (
        b'{"type":"event_fee_update","sid":30,"seq":6,"msg":{"event_ticker":"E","fee_multiplier_override":null}}',
        b'{"type":"rfq_created","sid":40,"seq":1,"msg":{"id":"r"}}',
        b'{"type":"multivariate_market_lifecycle","sid":41,"seq":1,"msg":{}}',
        b'{"type":"brand_new","msg":[1,2]}',
    ):
        ev = parse_frame(raw)
        assert isinstance(ev, UnknownMessage) and ev.raw is raw
    ev = parse_frame(b'{"type":"rfq_created","sid":40,"seq":1,"msg":{"id":"r"}}')
    assert ev == UnknownMessage(sid=40, seq=1, type="rfq_created", msg={"id": "r"}, raw=ev.raw)


def test_str_input_is_accepted() -> None:
    text = '{"type":"orderbook_delta","sid":1,"seq":2,"msg":{"market_ticker":"M","price_dollars":"0.5000","delta_fp":"1.00","side":"no"}}'
    assert parse_frame(text) == parse_frame(text.encode())
    assert parse_frame(bytearray(text.encode())) == parse_frame(text.encode())


# --------------------------------------------------------------------------------------------------
# Malformed input: always a FrameError carrying the raw frame
# --------------------------------------------------------------------------------------------------

_DELTA_MSG = {"market_ticker": "M", "price_dollars": "0.4800", "delta_fp": "-40.00", "side": "no", "ts_ms": 1}


def _delta(**changes: Any) -> bytes:
    msg = {k: v for k, v in {**_DELTA_MSG, **changes}.items() if v is not ...}
    return frame({"type": "orderbook_delta", "sid": 1, "seq": 5, "msg": msg})


MALFORMED: list[tuple[str, Any]] = [
    ("empty", b""),
    ("not json", b"hello"),
    ("truncated", b'{"type":"orderbook_delta","sid":1,'),
    ("trailing garbage", b'{"type":"ok"} x'),
    ("invalid utf-8", b'{"type":"\xff"}'),
    ("absurd nesting", b"[" * 100_000 + b"]" * 100_000),
    ("absurd nesting inside msg", b'{"type":"ok","msg":' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    (
        "absurd nesting inside a snapshot",
        b'{"type":"orderbook_snapshot","sid":1,"seq":1,"msg":{"market_ticker":"M","yes":'
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}}",
    ),
    ("a list", b"[1,2]"),
    ("a string", b'"orderbook_delta"'),
    ("a number", b"42"),
    ("null", b"null"),
    ("no type", b'{"sid":1,"msg":{}}'),
    ("type not a string", b'{"type":5,"msg":{}}'),
    ("empty type", b'{"type":"","msg":{}}'),
    ("not bytes", 12345),
    ("None", None),
    ("delta without msg", b'{"type":"orderbook_delta","sid":1,"seq":5}'),
    ("delta msg not an object", b'{"type":"orderbook_delta","sid":1,"seq":5,"msg":[]}'),
    ("delta without seq", frame({"type": "orderbook_delta", "sid": 1, "msg": _DELTA_MSG})),
    ("delta without sid", frame({"type": "orderbook_delta", "seq": 1, "msg": _DELTA_MSG})),
    ("seq as float", frame({"type": "orderbook_delta", "sid": 1, "seq": 5.0, "msg": _DELTA_MSG})),
    ("sid as string", frame({"type": "orderbook_delta", "sid": "1", "seq": 5, "msg": _DELTA_MSG})),
    ("seq as bool", frame({"type": "orderbook_delta", "sid": 1, "seq": True, "msg": _DELTA_MSG})),
    ("missing ticker", _delta(market_ticker=...)),
    ("empty ticker", _delta(market_ticker="")),
    ("missing price", _delta(price_dollars=...)),
    ("missing delta", _delta(delta_fp=...)),
    ("missing side", _delta(side=...)),
    ("bad side", _delta(side="maybe")),
    ("float price", _delta(price_dollars=0.48)),
    ("float delta", _delta(delta_fp=-40.0)),
    ("int price in the fp field", _delta(price_dollars=48)),
    ("price above $1", _delta(price_dollars="1.0100")),
    ("negative price", _delta(price_dollars="-0.0100")),
    ("price finer than a centi-cent", _delta(price_dollars="0.48005")),
    ("delta finer than a lot", _delta(delta_fp="-40.005")),
    ("price NaN", _delta(price_dollars="NaN")),
    ("price with spaces", _delta(price_dollars=" 0.48")),
    ("price with underscore", _delta(price_dollars="0.4_8")),
    ("legacy price as float", _delta(price_dollars=..., price=48.0)),
    ("legacy price above 100", _delta(price_dollars=..., price=101)),
    ("ts_ms as string", _delta(ts_ms="1")),
    ("ts not a time", _delta(ts_ms=..., ts="soon")),
    (
        "snapshot levels not pairs",
        frame(
            {
                "type": "orderbook_snapshot",
                "sid": 1,
                "seq": 1,
                "msg": {"market_ticker": "M", "yes_dollars_fp": [["0.48"]]},
            }
        ),
    ),
    (
        "snapshot level float size",
        frame(
            {
                "type": "orderbook_snapshot",
                "sid": 1,
                "seq": 1,
                "msg": {"market_ticker": "M", "yes_dollars_fp": [["0.4800", 1.5]]},
            }
        ),
    ),
    (
        "snapshot level float price",
        frame(
            {
                "type": "orderbook_snapshot",
                "sid": 1,
                "seq": 1,
                "msg": {"market_ticker": "M", "no_dollars_fp": [[0.48, "1.00"]]},
            }
        ),
    ),
    (
        "snapshot cents under a dollars key",
        frame(
            {
                "type": "orderbook_snapshot",
                "sid": 1,
                "seq": 1,
                "msg": {"market_ticker": "M", "yes_dollars_fp": [[48, "1.00"]]},
            }
        ),
    ),
    (
        "snapshot side not a list",
        frame({"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": {"market_ticker": "M", "yes_dollars_fp": "x"}}),
    ),
    (
        "trade prices do not sum to $1",
        frame(
            {
                "type": "trade",
                "sid": 2,
                "seq": 1,
                "msg": {
                    "market_ticker": "M",
                    "yes_price_dollars": "0.3100",
                    "no_price_dollars": "0.6800",
                    "count_fp": "1.00",
                    "taker_outcome_side": "yes",
                },
            }
        ),
    ),
    (
        "trade book side contradicts outcome",
        frame(
            {
                "type": "trade",
                "sid": 2,
                "seq": 1,
                "msg": {
                    "market_ticker": "M",
                    "yes_price_dollars": "0.3100",
                    "count_fp": "1.00",
                    "taker_outcome_side": "yes",
                    "taker_book_side": "ask",
                },
            }
        ),
    ),
    (
        "trade negative count",
        frame(
            {
                "type": "trade",
                "sid": 2,
                "seq": 1,
                "msg": {"market_ticker": "M", "yes_price_dollars": "0.3100", "count_fp": "-1.00", "taker_side": "yes"},
            }
        ),
    ),
    (
        "trade without direction",
        frame(
            {
                "type": "trade",
                "sid": 2,
                "seq": 1,
                "msg": {"market_ticker": "M", "yes_price_dollars": "0.3100", "count_fp": "1.00"},
            }
        ),
    ),
    (
        "trade without price",
        frame(
            {"type": "trade", "sid": 2, "seq": 1, "msg": {"market_ticker": "M", "count_fp": "1.00", "taker_side": "no"}}
        ),
    ),
    (
        "trade float count",
        frame(
            {
                "type": "trade",
                "sid": 2,
                "seq": 1,
                "msg": {"market_ticker": "M", "yes_price_dollars": "0.31", "count_fp": 1.0, "taker_side": "no"},
            }
        ),
    ),
    ("ticker float price", frame({"type": "ticker", "sid": 3, "msg": {"market_ticker": "M", "price_dollars": 0.48}})),
    ("ticker float legacy price", frame({"type": "ticker", "sid": 3, "msg": {"market_ticker": "M", "yes_bid": 47.0}})),
    ("ticker without ticker", frame({"type": "ticker", "sid": 3, "msg": {"price_dollars": "0.4800"}})),
    (
        "ticker float dollar_volume",
        frame({"type": "ticker", "sid": 3, "msg": {"market_ticker": "M", "dollar_volume": 1.5}}),
    ),
    (
        "fill without order id",
        frame(
            {
                "type": "fill",
                "sid": 13,
                "msg": {"market_ticker": "M", "yes_price_dollars": "0.5000", "count_fp": "1.00"},
            }
        ),
    ),
    (
        "fill float fee",
        frame(
            {
                "type": "fill",
                "sid": 13,
                "msg": {
                    "order_id": "o",
                    "market_ticker": "M",
                    "yes_price_dollars": "0.5000",
                    "count_fp": "1.00",
                    "fee_cost": 0.02,
                },
            }
        ),
    ),
    (
        "fill bad fee text",
        frame(
            {
                "type": "fill",
                "sid": 13,
                "msg": {
                    "order_id": "o",
                    "market_ticker": "M",
                    "yes_price_dollars": "0.5000",
                    "count_fp": "1.00",
                    "fee_cost": "2 cents",
                },
            }
        ),
    ),
    (
        "fill is_taker as string",
        frame(
            {
                "type": "fill",
                "sid": 13,
                "msg": {"order_id": "o", "market_ticker": "M", "yes_price": 50, "count": 1, "is_taker": "yes"},
            }
        ),
    ),
    (
        "position cost float (legacy centi-cents)",
        frame(
            {
                "type": "market_position",
                "sid": 14,
                "msg": {"market_ticker": "M", "position": 1, "position_cost": 5000.0},
            }
        ),
    ),
    ("position without position", frame({"type": "market_position", "sid": 14, "msg": {"market_ticker": "M"}})),
    (
        "position fp float",
        frame({"type": "market_position", "sid": 14, "msg": {"market_ticker": "M", "position_fp": 1.0}}),
    ),
    ("user order without status", frame({"type": "user_order", "sid": 15, "msg": {"order_id": "o", "ticker": "M"}})),
    (
        "order group without id",
        frame({"type": "order_group_updates", "sid": 21, "seq": 1, "msg": {"event_type": "reset"}}),
    ),
    (
        "lifecycle bad price_ranges",
        frame(
            {
                "type": "market_lifecycle_v2",
                "sid": 30,
                "seq": 1,
                "msg": {"market_ticker": "M", "event_type": "created", "price_ranges": [{"start": "0", "end": "1"}]},
            }
        ),
    ),
    (
        "lifecycle ts as string",
        frame(
            {
                "type": "market_lifecycle_v2",
                "sid": 30,
                "seq": 1,
                "msg": {"market_ticker": "M", "event_type": "settled", "settled_ts": "9"},
            }
        ),
    ),
    (
        "lifecycle metadata not an object",
        frame(
            {
                "type": "market_lifecycle_v2",
                "sid": 30,
                "seq": 1,
                "msg": {"market_ticker": "M", "event_type": "created", "additional_metadata": []},
            }
        ),
    ),
    ("event lifecycle without ticker", frame({"type": "event_lifecycle", "sid": 30, "seq": 1, "msg": {"title": "t"}})),
    ("subscribed without sid", b'{"id":1,"type":"subscribed","msg":{"channel":"ticker"}}'),
    ("ok with bad market list", b'{"id":1,"type":"ok","msg":{"market_tickers":[1]}}'),
    ("ok with a string msg", b'{"id":1,"type":"ok","msg":"fine"}'),
    ("error code as string", b'{"id":9,"type":"error","msg":{"code":"8","msg":"x"}}'),
    ("error without code", b'{"id":9,"type":"error","msg":{"msg":"x"}}'),
    ("id as float", b'{"id":1.0,"type":"unsubscribed","sid":1}'),
    ("unknown type with bad sid", b'{"type":"brand_new","sid":"x"}'),
]


@pytest.mark.parametrize(("case", "raw"), MALFORMED, ids=[c for c, _ in MALFORMED])
def test_malformed_frames_become_frame_errors(case: str, raw: Any) -> None:
    ev = parse_frame(raw)
    assert isinstance(ev, FrameError), f"{case}: {ev!r}"
    assert ev.raw is raw and ev.reason
    decodable = not ev.reason.startswith("invalid JSON")
    if decodable and isinstance(raw, bytes) and b'"market_ticker":"M"' in raw.replace(b" ", b""):
        assert ev.market_ticker == "M"


def test_frame_error_details() -> None:
    ev = parse_frame(_delta(price_dollars="0.48005"))
    assert isinstance(ev, FrameError)
    assert ev.type == "orderbook_delta" and ev.market_ticker == "M" and (ev.sid, ev.seq) == (1, 5)
    assert "price_dollars" in ev.reason and "0.48005" in ev.reason
    ev = parse_frame(_delta(price_dollars=0.48))
    assert isinstance(ev, FrameError) and "float" in ev.reason and "price_dollars" in ev.reason
    ev = parse_frame(
        frame(
            {
                "type": "market_position",
                "sid": 14,
                "msg": {"market_ticker": "M", "position": 1, "position_cost": 5000.0},
            }
        )
    )
    assert isinstance(ev, FrameError) and "refusing float" in ev.reason and ev.type == "market_position"
