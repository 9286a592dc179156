"""The synthetic generator on every supported tick grid: prices on the grid, books never crossed, sub-penny bands used.

``linear_cent`` output is pinned (a digest of the frames of two seeds): adding sub-penny grids must not change
what existing users and tests replay.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest

from simulator.orders import on_tick_grid
from simulator.synthetic import GRIDS, build_synthetic_catalog, price_ranges

D = Decimal


@pytest.mark.parametrize("structure", sorted(GRIDS))
def test_synthetic_tapes_stay_on_their_grid_and_never_cross(structure: str) -> None:
    catalog = build_synthetic_catalog(seed=1, markets=3, price_level_structure=structure)
    ranges = price_ranges(structure)
    sub_cent = 0
    for market in catalog.markets.values():
        assert market.price_level_structure == structure and market.price_ranges == ranges
        book: dict[str, dict[Decimal, Decimal]] = {"yes": {}, "no": {}}
        for frame in market.tape.frames():
            msg = frame.msg
            if frame.type == "orderbook_snapshot":
                book = {s: {D(p): D(q) for p, q in msg.get(f"{s}_dollars_fp", [])} for s in ("yes", "no")}
                prices = [p for side in book.values() for p in side]
            elif frame.type == "orderbook_delta":
                price = D(msg["price_dollars"])
                level = book[msg["side"]]
                level[price] = level.get(price, D(0)) + D(msg["delta_fp"])
                assert level[price] >= 0
                if not level[price]:
                    del level[price]
                prices = [price]
            else:
                prices = [D(msg["yes_price_dollars"])]
                assert D(msg["yes_price_dollars"]) + D(msg["no_price_dollars"]) == 1
            for p in prices:
                assert on_tick_grid(p, ranges), (structure, p)
                sub_cent += p % D("0.01") != 0
            if book["yes"] and book["no"]:
                assert max(book["yes"]) + max(book["no"]) < 1, frame
    if structure == "linear_cent":
        assert sub_cent == 0
    else:
        assert sub_cent > 1000


def test_linear_cent_tapes_are_unchanged() -> None:
    digest = hashlib.sha256()
    for seed in (0, 3):
        for market in build_synthetic_catalog(seed, 3).markets.values():
            for frame in market.tape.frames():
                digest.update(json.dumps([frame.time_ms, frame.type, frame.msg], sort_keys=True).encode())
    assert digest.hexdigest() == "ecdcd1213b78dea66e9b91a07d2ee637df1d77fbdb92e514514e44a8b4e77243"


def test_unknown_grid_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown price_level_structure 'banded_centi_cent'"):
        build_synthetic_catalog(price_level_structure="banded_centi_cent")
