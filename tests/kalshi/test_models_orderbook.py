"""Order book parsing (current fp, legacy cents, missing/null sides) and book arithmetic."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from kalshi.models import Orderbook, OrderbookLevel

D = Decimal


def _current() -> dict[str, object]:
    return {
        "orderbook_fp": {
            "yes_dollars": [["0.4000", "10.00"], ["0.4100", "25.00"], ["0.4200", "13.00"]],
            "no_dollars": [["0.5000", "4.00"], ["0.5500", "7.00"]],
        }
    }


def test_current_shape() -> None:
    book = Orderbook.model_validate({**_current(), "ticker": "T"})
    assert book.ticker == "T"
    assert book.yes_bids == [
        OrderbookLevel(D("0.40"), D(10)),
        OrderbookLevel(D("0.41"), D(25)),
        OrderbookLevel(D("0.42"), D(13)),
    ]
    assert book.best_yes_bid == D("0.42") and book.best_yes_bid_size_fp == D(13)
    assert book.best_no_bid == D("0.55") and book.best_no_bid_size_fp == D(7)
    assert book.best_yes_ask == D("0.45") and book.best_yes_ask_size_fp == D(7)
    assert book.best_no_ask == D("0.58") and book.best_no_ask_size_fp == D(13)
    assert book.bid_for("yes") == D("0.42") and book.ask_for("yes") == D("0.45")
    assert book.bid_for("no") == D("0.55") and book.ask_for("no") == D("0.58")
    assert book.bid_size_for("no") == D(7) and book.ask_size_for("no") == D(13)
    # levels are typed tuples: attribute and positional access both work
    price, count = book.yes_bids[-1]
    assert (price, count) == (book.yes_bids[-1].price_dollars, book.yes_bids[-1].count_fp)


def test_legacy_shape_with_cents_only() -> None:
    book = Orderbook.model_validate({"ticker": "T", "orderbook": {"yes": [[41, 25], [42, 13]], "no": [[55, 7]]}})
    assert book.best_yes_bid == D("0.42") and book.best_yes_bid_size_fp == D(13)
    assert book.best_no_bid == D("0.55")
    assert book.best_yes_ask == D("0.45")


def test_legacy_shape_prefers_dollar_pairs() -> None:
    book = Orderbook.model_validate(
        {
            "ticker": "T",
            "orderbook": {
                "yes": [[41, 25]],
                "no": [[55, 7]],
                "yes_dollars": [["0.4150", "25"]],
                "no_dollars": [["0.5500", "7"]],
            },
        }
    )
    assert book.best_yes_bid == D("0.415")


@pytest.mark.parametrize(
    "payload",
    [
        {"orderbook_fp": {"yes_dollars": [["0.3000", "5.00"]]}},
        {"orderbook_fp": {"yes_dollars": [["0.3000", "5.00"]], "no_dollars": None}},
        {"orderbook": {"yes": [[30, 5]], "no": None}},
        {"orderbook": {"yes": [[30, 5]]}},
    ],
)
def test_missing_or_null_side_is_empty(payload: dict[str, object]) -> None:
    book = Orderbook.model_validate({**payload, "ticker": "T"})
    assert book.best_yes_bid == D("0.30")
    assert book.no_bids == [] and book.best_no_bid is None
    assert book.best_yes_ask is None and book.best_no_ask == D("0.70")
    assert book.best_no_bid_size_fp == 0


def test_entirely_empty_book() -> None:
    book = Orderbook.model_validate({"ticker": "T", "orderbook_fp": {}})
    assert book.best_yes_bid is None and book.best_no_ask is None
    assert book.depth_to_sell("yes", D(5)).filled_fp == 0


def test_unsorted_levels_are_sorted_and_zero_levels_dropped() -> None:
    book = Orderbook.model_validate(
        {"ticker": "T", "orderbook_fp": {"yes_dollars": [["0.42", "1"], ["0.40", "2"], ["0.41", "0"]]}}
    )
    assert [lvl.price_dollars for lvl in book.yes_bids] == [D("0.40"), D("0.42")]


def test_ws_style_keys_and_extra_level_items() -> None:
    book = Orderbook.model_validate(
        {"market_ticker": "T", "yes_dollars_fp": [["0.0800", "300.00", 4]], "no_dollars_fp": [["0.5400", "20.00", 1]]}
    )
    assert book.ticker == "T"
    assert book.best_yes_bid == D("0.08") and book.best_no_bid == D("0.54")


def test_fractional_sizes_are_exact() -> None:
    book = Orderbook.model_validate({"ticker": "T", "orderbook_fp": {"yes_dollars": [["0.4800", "46.02"]]}})
    assert book.best_yes_bid_size_fp == D("46.02")


def test_refuses_floats_and_negative_counts() -> None:
    with pytest.raises(ValidationError, match="refusing float"):
        Orderbook.model_validate({"ticker": "T", "orderbook_fp": {"yes_dollars": [[0.41, "2"]]}})
    with pytest.raises(ValidationError, match="negative"):
        Orderbook.model_validate({"ticker": "T", "orderbook_fp": {"yes_dollars": [["0.41", "-2"]]}})


def test_json_round_trip() -> None:
    book = Orderbook.model_validate({**_current(), "ticker": "T"})
    dumped = book.model_dump(mode="json")
    assert dumped["yes_bids"][0] == ["0.4000", "10.00"]
    assert Orderbook.model_validate(dumped) == book


def test_depth_to_sell_walks_bids_best_first() -> None:
    book = Orderbook.model_validate({**_current(), "ticker": "T"})
    sweep = book.depth_to_sell("yes", D(20))
    # 13 @ 0.42 + 7 @ 0.41
    assert sweep.filled_fp == D(20) and sweep.complete
    assert sweep.total_dollars == D("13") * D("0.42") + D("7") * D("0.41")
    assert sweep.worst_price_dollars == D("0.41")
    assert sweep.average_price_dollars == sweep.total_dollars / 20

    partial = book.depth_to_sell("no", D(100))
    assert partial.filled_fp == D(11) and not partial.complete
    assert partial.total_dollars == D(7) * D("0.55") + D(4) * D("0.50")


def test_depth_to_buy_uses_complement_of_other_side() -> None:
    book = Orderbook.model_validate({**_current(), "ticker": "T"})
    yes = book.depth_to_buy("yes", D(10))  # YES asks = 1 - NO bids: 7 @ 0.45, then 3 @ 0.50
    assert yes.filled_fp == D(10)
    assert yes.total_dollars == D(7) * D("0.45") + D(3) * D("0.50")
    assert yes.worst_price_dollars == D("0.50")
    no = book.depth_to_buy("no", D("0.5"))  # fractional request, best NO ask 0.58
    assert no.total_dollars == D("0.5") * D("0.58")


def test_depth_arguments_validated() -> None:
    book = Orderbook.model_validate({**_current(), "ticker": "T"})
    with pytest.raises(ValueError):
        book.depth_to_sell("yes", D(0))
    with pytest.raises(ValueError, match="refusing float"):
        book.depth_to_buy("yes", 1.5)  # type: ignore[arg-type]
    assert book.depth_to_sell("yes", D(1)).average_price_dollars == D("0.42")
    assert Orderbook.model_validate({"ticker": "T"}).depth_to_sell("yes", D(1)).average_price_dollars is None
