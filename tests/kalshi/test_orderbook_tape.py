"""The order book, verified against the real recorded Kalshi tape and on hand-built books.

Tape part (``../shared/data/kalshi-gold15m``; skipped cleanly when absent). Every market file is folded
through the product fast path (``parse_frame`` -> ``BookStore.apply``), and after EVERY delta the book is
checked never negative (the book raises on it) and never crossed or locked. Facts of the recording that the
test relies on, all asserted below:

* ``seq`` counts per sid across ALL gold markets of the recording, so inside one market's file it rises with
  gaps (not loss). It restarts only at a collector reconnect, which shows as a mid-file
  ``orderbook_snapshot`` (sid 1) and, a little later, a restarted trade seq (sid 2). That snapshot replaces
  the book: it differs from the folded book because deltas were missed while disconnected.
* Every market's last frame is an EMPTY snapshot at close (sometimes two), which empties the book.
* ``KXGOLD15M-26AUG102000-00`` continues into a second file (2026-08-11) that starts with deltas on the
  first file's book: a market's files are folded into one book, in date order.

Trade <-> delta association, found in the data and asserted for all 44,953 trades: every ``trade`` is
matched one-to-one by an ``orderbook_delta`` with

* the SAME exchange time (``delta.ts_ms == trade.ts_ms``, to the millisecond),
* on the MAKER's side: a taker who bought YES (``taker_outcome_side == "yes"``, ``taker_book_side ==
  "bid"``) lifted NO bids, so ``side == "no"`` at ``no_price`` (= $1 - ``yes_price``); a taker who bought
  NO (``"ask"``) hit YES bids at ``yes_price``,
* removing exactly the traded size (``delta == -count``),
* at the BEST bid of that side at that moment, which held at least the traded size (fills happen at the
  top of the book, price-time priority).

The trade and its delta travel on different sids (2 and 1), so their order in the file varies: the delta
comes first about 95% of the time. The association is therefore made per file by the key
``(ts_ms, maker side, maker price, -count)``.

An independent oracle (``json`` + ``Decimal`` dicts, nothing shared with the product code) is folded
alongside and compared with the book before every snapshot and at the end of every file, and every snapshot
exported by the book equals the tape's snapshot ``msg`` byte for byte (wire-shape round trip).
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kalshi.models import Market, PriceRange
from kalshi.models.ws import (
    FrameError,
    OrderbookDelta,
    OrderbookSnapshot,
    Trade,
    parse_frame,
)
from kalshi.orderbook import (
    BookIntegrityError,
    BookNotReadyError,
    BookStore,
    Level,
    OffTickPriceError,
    OrderBook,
    PriceGrid,
    Sweep,
    TopOfBook,
)

D = Decimal
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("KALSHI_DATA_DIR", PROJECT_ROOT.parent / "shared" / "data"))
EVENTS_DIR = DATA_DIR / "kalshi-gold15m" / "events"
CONTINUED_MARKET = "KXGOLD15M-26AUG102000-00"

_LINE = re.compile(rb'\{"recv_ms":\s*(\d+),\s*"event":\s*(\{.*\})\s*\}\s*')


def _market_dirs() -> list[Path]:
    return sorted(p for p in EVENTS_DIR.iterdir() if p.is_dir()) if EVENTS_DIR.is_dir() else []


def read_tape(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield ``(recv_ms, frame bytes exactly as recorded)`` for every line of a tape file."""
    with gzip.open(path, "rb") as fh:
        for line in fh:
            m = _LINE.fullmatch(line)
            if m is None:  # unexpected spacing: fall back to a real parse
                d = json.loads(line)
                yield d["recv_ms"], json.dumps(d["event"]).encode()
            else:
                yield int(m.group(1)), m.group(2)


class Oracle:
    """The plainest exact fold: ``{ticker: {side: {Decimal price: Decimal size}}}`` via json + Decimal."""

    def __init__(self) -> None:
        self.books: dict[str, dict[str, dict[Decimal, Decimal]]] = {}

    def apply(self, raw: bytes) -> None:
        e = json.loads(raw)
        m = e["msg"]
        if e["type"] == "orderbook_snapshot":
            self.books[m["market_ticker"]] = {
                s: {D(p): D(q) for p, q in m.get(f"{s}_dollars_fp", [])} for s in ("yes", "no")
            }
        elif e["type"] == "orderbook_delta":
            side = self.books[m["market_ticker"]][m["side"]]
            price = D(m["price_dollars"])
            size = side.get(price, D(0)) + D(m["delta_fp"])
            assert size >= 0
            if size:
                side[price] = size
            else:
                side.pop(price, None)


def _maker_key(t: Trade) -> tuple[int | None, str, int, int]:
    """The delta a trade must be matched by: (ts_ms, maker side, maker price cc, -count lots)."""
    if t.taker_outcome_side == "yes":
        assert t.taker_book_side == "bid"
        return (t.ts_ms, "no", t.no_price_cc, -t.count_lots)
    assert t.taker_book_side == "ask"
    return (t.ts_ms, "yes", t.yes_price_cc, -t.count_lots)


# --------------------------------------------------------------------------------------------------
# The real tape
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "market_dir",
    _market_dirs() or [pytest.param(None, marks=pytest.mark.skip(reason=f"recorded tape not available: {EVENTS_DIR}"))],
    ids=lambda p: p.name if isinstance(p, Path) else "absent",
)
def test_tape_folds_exactly(market_dir: Path) -> None:
    ticker = market_dir.name
    files = sorted(market_dir.glob("*.ndjson.gz"))
    assert files
    store = BookStore()
    oracle = Oracle()
    counts: Counter[str] = Counter()
    last_event: Any = None

    for file_no, path in enumerate(files):
        events = [(recv_ms, raw, parse_frame(raw)) for recv_ms, raw in read_tape(path)]
        assert events
        # Trades of this file, keyed by the delta that must match them.
        pending: Counter[tuple[int | None, str, int, int]] = Counter(
            _maker_key(ev) for _, _, ev in events if type(ev) is Trade
        )
        trades_in_file = sum(pending.values())
        last_seq: dict[int | None, int] = {}
        seq_resets: Counter[str] = Counter()
        mid_file_snapshots = 0
        closing_seen = False

        if file_no > 0:
            # The continuation file starts with deltas on the previous file's (still trusted) book.
            assert ticker == CONTINUED_MARKET
            assert type(events[0][2]) is OrderbookDelta
            assert store[ticker].trusted

        for i, (recv_ms, raw, ev) in enumerate(events):
            kind = type(ev)
            assert kind in (OrderbookDelta, OrderbookSnapshot, Trade), ev
            assert not closing_seen or kind is OrderbookSnapshot, "only empty snapshots after the close"
            assert isinstance(ev, OrderbookDelta | OrderbookSnapshot | Trade)
            counts[kind.__name__] += 1
            assert ev.market_ticker == ticker
            assert ev.seq is not None
            prev = last_seq.get(ev.sid)
            if prev is not None and ev.seq <= prev:
                # seq only restarts at a collector reconnect, announced by a fresh snapshot on sid 1.
                seq_resets[kind.__name__] += 1
                assert kind is OrderbookSnapshot or (kind is Trade and seq_resets["OrderbookSnapshot"] > 0)
            last_seq[ev.sid] = ev.seq

            if kind is OrderbookSnapshot:
                assert ev.sid == 1
                if ticker in oracle.books:  # the book before a (re-)snapshot matches the oracle
                    assert store[ticker].as_decimal_levels() == oracle.books[ticker]
                book = store.apply(ev, recv_ms=recv_ms)
                oracle.apply(raw)
                assert book is not None and book.trusted and book.last_update_ts_ms == recv_ms
                # Wire-shape round trip: the export IS the tape's snapshot msg.
                assert book.snapshot() == json.loads(raw)["msg"]
                assert isinstance(ev, OrderbookSnapshot)
                if not ev.yes_levels and not ev.no_levels:
                    closing_seen = True  # the close: nothing but further empty snapshots may follow
                elif i > 0:
                    mid_file_snapshots += 1
            elif kind is OrderbookDelta:
                assert isinstance(ev, OrderbookDelta)
                assert ev.sid == 1
                book = store[ticker]
                key = (ev.ts_ms, ev.side, ev.price_cc, ev.delta_lots)
                if pending[key] > 0:  # this delta is a fill of a trade in this file
                    pending[key] -= 1
                    counts["fills_matched"] += 1
                    assert book.bid_cc(ev.side) == ev.price_cc, "a fill must hit the best bid of its side"
                    assert book.bid_size_lots(ev.side) >= -ev.delta_lots
                store.apply(ev, recv_ms=recv_ms)
                oracle.apply(raw)
                # Never negative (apply raises) and never crossed nor locked, after every delta.
                bid, ask = book.best_yes_bid_cc, book.best_yes_ask_cc
                assert bid is None or ask is None or bid < ask
                assert book.trusted and not book.crossed and book.last_update_ts_ms == ev.ts_ms
            else:
                assert isinstance(ev, Trade)
                assert ev.sid == 2
                assert ev.taker_side == ev.taker_outcome_side
                assert ev.yes_price_cc + ev.no_price_cc == 10_000
            last_event = ev

        assert sum(pending.values()) == 0, f"{path.name}: trades without their fill delta: {+pending}"
        # Each mid-file snapshot is a collector reconnect: exactly where the sid-1 seq restarts.
        assert seq_resets["OrderbookSnapshot"] == mid_file_snapshots
        assert seq_resets["Trade"] <= mid_file_snapshots
        assert seq_resets["OrderbookDelta"] == 0
        counts["trades_in_files"] += trades_in_file
        assert store[ticker].as_decimal_levels() == oracle.books[ticker]

    # The market ends with an empty snapshot at close.
    assert type(last_event) is OrderbookSnapshot
    assert last_event.yes_levels == () and last_event.no_levels == ()
    final = store[ticker]
    assert final.trusted and final.level_count == 0
    assert final.snapshot() == {"market_ticker": ticker, "market_id": final.market_id}
    assert counts["fills_matched"] == counts["Trade"] == counts["trades_in_files"]
    assert counts["OrderbookDelta"] > 0


def test_tape_totals_match_manifest() -> None:
    """Every frame of every file was seen (frame counts agree with MANIFEST.csv)."""
    manifest = DATA_DIR / "kalshi-gold15m" / "MANIFEST.csv"
    if not manifest.is_file():
        pytest.skip(f"recorded tape not available: {manifest}")
    expected: dict[str, int] = {}
    for row in manifest.read_text().splitlines()[1:]:
        _, file, _, events = row.split(",")
        if file.startswith("events/") and events:
            expected[file] = int(events)
    assert len(expected) == 35  # 34 markets + the continuation file
    for file, n in expected.items():
        assert sum(1 for _ in read_tape(DATA_DIR / "kalshi-gold15m" / file)) == n, file


# --------------------------------------------------------------------------------------------------
# Hand-built books
# --------------------------------------------------------------------------------------------------


def _book(grid: PriceGrid | None = None) -> OrderBook:
    """YES bids 0.40 x 10, 0.41 x 25, 0.42 x 13.50; NO bids 0.50 x 4, 0.55 x 7 (YES asks 0.45 x 7, 0.50 x 4)."""
    book = OrderBook("T", grid)
    book.apply_snapshot([(4000, 1000), (4100, 2500), (4200, 1350)], [(5000, 400), (5500, 700)], ts_ms=1)
    return book


def test_best_quotes_and_sizes() -> None:
    book = _book()
    assert book.trusted and book.untrusted_reason is None
    assert book.best_yes_bid_cc == 4200 and book.best_no_bid_cc == 5500
    assert book.best_yes_ask_cc == 4500 and book.best_no_ask_cc == 5800
    assert book.top() == TopOfBook(4200, 1350, 4500, 700)
    assert book.bid_cc("yes") == 4200 and book.ask_cc("yes") == 4500
    assert book.bid_cc("no") == 5500 and book.ask_cc("no") == 5800
    assert book.bid_size_lots("yes") == 1350 and book.ask_size_lots("yes") == 700
    assert book.bid_size_lots("no") == 700 and book.ask_size_lots("no") == 1350
    assert book.best_bid_dollars("yes") == D("0.42") and book.best_ask_dollars("no") == D("0.58")
    assert book.level_count == 5 and book.last_update_ts_ms == 1


def test_empty_book_reads() -> None:
    book = OrderBook("T")
    assert not book.trusted and book.untrusted_reason == "no snapshot yet"
    assert book.best_yes_bid_cc is None and book.best_yes_ask_cc is None
    assert book.top() == TopOfBook(None, 0, None, 0)
    assert book.best_bid_dollars("yes") is None and book.best_ask_dollars("yes") is None
    assert book.depth("yes") == [] and book.imbalance() is None
    book.apply_snapshot([], [])
    assert book.trusted and book.snapshot() == {"market_ticker": "T"}
    s = book.sweep("yes", 5)
    assert s.filled_lots == 0 and s.vwap_dollars is None and s.worst_price_cc is None and not s.complete


def test_depth_best_first() -> None:
    book = _book()
    assert book.depth("yes", 2) == [Level(4200, 1350), Level(4100, 2500)]
    assert book.depth("yes") == [Level(4200, 1350), Level(4100, 2500), Level(4000, 1000)]
    assert book.depth("yes", 0) == []
    assert book.depth("no", 5) == [Level(5500, 700), Level(5000, 400)]
    assert book.ask_depth("yes", 2) == [Level(4500, 700), Level(5000, 400)]
    assert book.ask_depth("no", 1) == [Level(5800, 1350)]
    assert book.levels("yes") == [Level(4000, 1000), Level(4100, 2500), Level(4200, 1350)]
    lvl = book.depth("yes", 1)[0]
    assert lvl.price_dollars == D("0.4200") and lvl.size_contracts == D("13.50")


def test_sweep_buy_and_sell_exact() -> None:
    book = _book()
    # Buy 10 YES: 7 @ 0.45 (NO bid 0.55) + 3 @ 0.50 (NO bid 0.50) = 3.15 + 1.50 = 4.65; VWAP 0.465.
    s = book.sweep("yes", "10")
    assert s == Sweep("yes", "buy", 1000, 1000, 4_650_000, 4500, 5000, 2)
    assert s.complete and s.total_dollars == D("4.65") and s.vwap_dollars == D("0.465")
    assert s.filled_contracts == D("10.00")
    # Buy more than is offered: 11 available.
    s = book.sweep("yes", D("20"))
    assert not s.complete and s.filled_lots == 1100 and s.total_dollars == D("5.15") and s.worst_price_cc == 5000
    # Sell 20 YES into YES bids: 13.5 @ 0.42 + 6.5 @ 0.41 = 5.67 + 2.665 = 8.335.
    s = book.sweep("yes", "20", action="sell")
    assert (s.best_price_cc, s.worst_price_cc, s.levels_used) == (4200, 4100, 2)
    assert s.total_dollars == D("8.335") and s.vwap_dollars == D("0.41675")
    # Buy NO lifts YES bids at 1 - bid: 13.5 @ 0.58 + 0.5 @ 0.59 = 7.83 + 0.295 = 8.125 for 14.
    s = book.sweep("no", "14.00")
    assert s.total_dollars == D("8.125") and s.best_price_cc == 5800 and s.worst_price_cc == 5900
    assert s.vwap_dollars == D("8.125") / D(14)
    # Sell NO hits NO bids.
    s = book.sweep("no", 1, action="sell")
    assert s.total_dollars == D("0.55") and s.vwap_dollars == D("0.55")
    # Fractional request.
    assert book.sweep("yes", "0.01").total_micro == 4500
    for bad in ("0", "-1", "0.001", 0.5):
        with pytest.raises(ValueError):
            book.sweep("yes", bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        book.sweep_lots("maybe", 1)  # type: ignore[arg-type]


def test_imbalance() -> None:
    book = _book()
    # top level: YES bid 13.50 vs YES ask 7.00 -> (1350 - 700) / 2050
    assert book.imbalance() == D(650) / D(2050)
    # top 2: 38.50 vs 11.00
    assert book.imbalance(2) == D(3850 - 1100) / D(3850 + 1100)
    assert book.imbalance(99) == D(4850 - 1100) / D(4850 + 1100)
    with pytest.raises(ValueError):
        book.imbalance(0)
    one_sided = OrderBook("T")
    one_sided.apply_snapshot([(100, 5)], [])
    assert one_sided.imbalance() == D(1)


def test_deltas_update_remove_and_add_levels() -> None:
    book = _book()
    book.apply_delta("yes", 4200, -1350, ts_ms=7)  # best level emptied -> removed
    assert book.best_yes_bid_cc == 4100 and book.last_update_ts_ms == 7
    book.apply_delta("yes", 4300, 250)  # new best
    assert book.top().yes_bid_cc == 4300 and book.bid_size_lots("yes") == 250
    book.apply_delta("yes", 4200, 1)  # new inner level (insort)
    book.apply_delta("yes", 4100, -2500)  # inner level removed (bisect delete)
    assert [lvl.price_cc for lvl in book.levels("yes")] == [4000, 4200, 4300]
    book.apply_delta("no", 5000, 600)
    assert book.depth("no", 1) == [Level(5500, 700)] and book.levels("no")[0] == Level(5000, 1000)
    book.apply_delta("no", 4000, 0)  # a zero delta on an absent level changes nothing
    assert book.level_count == 5 and book.last_update_ts_ms == 7


def test_negative_delta_raises_and_untrusts() -> None:
    book = _book()
    before = book.snapshot()
    with pytest.raises(BookIntegrityError) as info:
        book.apply_delta("no", 5000, -401)
    assert info.value.ticker == "T" and info.value.side == "no" and info.value.price_cc == 5000
    assert "negative" in str(info.value)
    assert not book.trusted and "negative" in (book.untrusted_reason or "")
    assert book.snapshot() == before  # the bad update was not applied
    with pytest.raises(BookNotReadyError):
        book.apply_delta("no", 5000, 1)
    book.apply_snapshot([(4000, 100)], [])  # a resync snapshot restores trust
    assert book.trusted
    with pytest.raises(BookIntegrityError):
        book.apply_delta("no", 3000, -1)  # removing from an absent level


@pytest.mark.parametrize(
    ("side", "price_cc"),
    [("no", 5800), ("no", 5900), ("yes", 4500), ("yes", 4600)],
    ids=["no-locks", "no-crosses", "yes-locks", "yes-crosses"],
)
def test_crossing_or_locking_delta_raises(side: str, price_cc: int) -> None:
    # Without an exchange timestamp nothing bounds a cross, so it raises at once (with one, it is tolerated
    # until the timestamp moves on: tests/kalshi/test_orderbook_cross.py).
    book = _book()  # best YES bid 0.42, best NO bid 0.55: a NO bid >= 0.58 or a YES bid >= 0.45 crosses/locks
    with pytest.raises(BookIntegrityError, match="cross"):
        book.apply_delta(side, price_cc, 100)
    assert not book.trusted
    assert book.best_yes_bid_cc == 4200 and book.best_no_bid_cc == 5500


def test_adding_below_the_cross_is_fine() -> None:
    book = _book()
    book.apply_delta("no", 5700, 100)  # 0.42 + 0.57 = 0.99 < 1
    assert book.best_yes_ask_cc == 4300 and book.trusted


def test_off_tick_prices_raise() -> None:
    book = _book()
    for price in (4250, 0, 10_000, -100, 10_100):
        b = _book()
        with pytest.raises(OffTickPriceError) as info:
            b.apply_delta("yes", price, 100)
        assert isinstance(info.value, BookIntegrityError) and not b.trusted
    with pytest.raises(OffTickPriceError):
        book.apply_snapshot([(4005, 100)], [])
    assert not book.trusted and book.level_count == 0
    with pytest.raises(ValueError):
        _book().apply_delta("maybe", 4000, 1)


@pytest.mark.parametrize(
    ("yes", "no", "match"),
    [
        ([(4000, 100), (4000, 5)], [], "twice"),
        ([(4000, -100)], [], "< 0"),
        ([(6000, 100)], [(4000, 100)], "crossed"),
        ([(6000, 100)], [(5000, 100), (3000, 1)], "crossed"),
    ],
)
def test_bad_snapshots_raise_and_leave_empty(yes: list[tuple[int, int]], no: list[tuple[int, int]], match: str) -> None:
    book = _book()
    with pytest.raises(BookIntegrityError, match=match):
        book.apply_snapshot(yes, no)
    assert not book.trusted and book.level_count == 0


def test_snapshot_sorts_and_drops_zero_levels() -> None:
    book = OrderBook("T")
    book.apply_snapshot([(4200, 1), (4000, 0), (4100, 2)], [])
    assert book.levels("yes") == [Level(4100, 2), Level(4200, 1)]


def test_export_round_trips_the_wire_shape() -> None:
    wire = {
        "market_ticker": "KXGOLD15M-26AUG102130-30",
        "market_id": "31185e50-0db4-4c57-b95d-0123f5c07ec8",
        "yes_dollars_fp": [["0.0100", "275.00"], ["0.2100", "1239.73"], ["0.2700", "9.90"]],
        "no_dollars_fp": [["0.0100", "275.00"], ["0.4800", "41.26"], ["0.4900", "22.00"]],
    }
    book = OrderBook(wire["market_ticker"])  # type: ignore[arg-type]
    book.apply_wire_snapshot(wire)
    assert book.snapshot() == wire
    assert book.top() == TopOfBook(2700, 990, 5100, 2200)
    copy = OrderBook("X")
    copy.apply_wire_snapshot(book.snapshot())
    assert copy.as_decimal_levels() == book.as_decimal_levels()
    # A side's key is absent when empty; the REST orderbook_fp spelling is accepted too.
    rest = OrderBook("R")
    rest.apply_wire_snapshot({"yes_dollars": [["0.4100", "25.00"]], "no_dollars": None})
    assert rest.snapshot() == {"market_ticker": "R", "yes_dollars_fp": [["0.4100", "25.00"]]}


def test_sub_penny_grids() -> None:
    deci = _book(PriceGrid.deci_cent())
    deci.apply_delta("yes", 4210, 100)  # $0.421
    assert deci.best_yes_bid_cc == 4210
    assert deci.snapshot()["yes_dollars_fp"][-1] == ["0.4210", "1.00"]
    with pytest.raises(OffTickPriceError):
        deci.apply_delta("yes", 4215, 1)  # $0.4215 is not on the deci-cent grid

    tapered = PriceGrid.tapered_deci_cent()
    assert 50 in tapered and 990 in tapered and 1000 in tapered and 9010 in tapered and 9990 in tapered
    assert 1010 not in tapered and 5050 not in tapered and 5000 in tapered
    book = OrderBook("T", tapered)
    book.apply_snapshot([(50, 100), (990, 3)], [(9000, 700)])
    assert book.best_yes_ask_cc == 1000 and book.ask_size_lots("yes") == 700
    with pytest.raises(OffTickPriceError):
        book.apply_delta("yes", 1010, 1)
    book.apply_snapshot([(50, 100), (990, 3)], [(9000, 700)])
    with pytest.raises(BookIntegrityError, match="cross"):
        book.apply_delta("no", 9010, 1)  # $0.099 YES bid + $0.901 NO bid = $1: locked

    assert 4201 in PriceGrid.centi_cent() and 4201 not in PriceGrid.deci_cent()
    assert PriceGrid.linear_cent() is PriceGrid.from_structure("linear_cent")
    with pytest.raises(ValueError):
        PriceGrid.from_structure("banded_centi_cent")
    assert True not in PriceGrid.centi_cent() and "4200" not in PriceGrid.centi_cent()


def test_grid_from_market_price_ranges() -> None:
    ranges = [
        PriceRange.model_validate({"start": "0.0000", "end": "0.1000", "step": "0.0010"}),
        PriceRange.model_validate({"start": "0.1000", "end": "0.9000", "step": "0.0100"}),
        PriceRange.model_validate({"start": "0.9000", "end": "1.0000", "step": "0.0010"}),
    ]
    grid = PriceGrid.from_price_ranges(ranges, "tapered_deci_cent")
    assert grid._valid == PriceGrid.tapered_deci_cent()._valid
    as_dicts = PriceGrid.from_price_ranges([{"start": "0.0000", "end": "1.0000", "step": "0.0010"}])
    assert as_dicts._valid == PriceGrid.deci_cent()._valid
    base = {
        "ticker": "M",
        "event_ticker": "E",
        "status": "active",
        "open_time": "2026-08-11T01:15:00Z",
        "close_time": "2026-08-11T01:30:00Z",
    }
    market = Market.model_validate(
        {
            **base,
            "price_level_structure": "tapered_deci_cent",
            "price_ranges": [r.model_dump(mode="json") for r in ranges],
        }
    )
    assert PriceGrid.from_market(market) is PriceGrid.tapered_deci_cent()
    plain = Market.model_validate(base)
    assert PriceGrid.from_market(plain) is PriceGrid.linear_cent()
    with pytest.raises(ValueError):
        PriceGrid([(0, 10_000, 0)])
    with pytest.raises(ValueError):
        PriceGrid.from_price_ranges([{"start": "0.00005", "end": "1", "step": "0.01"}])


def test_set_grid_untrusts_when_levels_fall_off() -> None:
    book = _book(PriceGrid.deci_cent())
    book.set_grid(PriceGrid.linear_cent())
    assert book.trusted  # all levels are whole cents
    book.set_grid(PriceGrid.deci_cent())
    book.apply_delta("yes", 4010, 1)
    book.set_grid(PriceGrid.linear_cent())
    assert not book.trusted and "0.4010" in (book.untrusted_reason or "")


def _delta_frame(ticker: str, side: str, price: str, delta: str, seq: int = 2) -> bytes:
    return json.dumps(
        {
            "type": "orderbook_delta",
            "sid": 1,
            "seq": seq,
            "msg": {
                "market_ticker": ticker,
                "price_dollars": price,
                "delta_fp": delta,
                "side": side,
                "ts": "2026-08-11T01:15:15.566273Z",
                "ts_ms": 1786410915566,
            },
        }
    ).encode()


def test_book_store() -> None:
    store = BookStore()
    with pytest.raises(BookNotReadyError):
        store.apply_frame(_delta_frame("A", "yes", "0.4000", "1.00"))
    snap = json.dumps(
        {
            "type": "orderbook_snapshot",
            "sid": 1,
            "seq": 1,
            "msg": {"market_ticker": "A", "market_id": "uuid-a", "yes_dollars_fp": [["0.4000", "1.00"]]},
        }
    ).encode()
    ev = store.apply_frame(snap, recv_ms=123)
    assert type(ev) is OrderbookSnapshot and "A" in store and len(store) == 1 and list(store) == ["A"]
    assert store["A"].market_id == "uuid-a" and store["A"].last_update_ts_ms == 123
    ev = store.apply_frame(_delta_frame("A", "yes", "0.4000", "2.50"))
    assert type(ev) is OrderbookDelta and store["A"].bid_size_lots("yes") == 350
    assert store["A"].last_update_ts_ms == 1786410915566
    # A malformed frame of an order-book type marks that market's book untrusted.
    bad = store.apply_frame(_delta_frame("A", "yes", "0.40001", "1.00"))
    assert type(bad) is FrameError and not store["A"].trusted
    with pytest.raises(BookNotReadyError):
        store.apply_frame(_delta_frame("A", "yes", "0.4000", "1.00"))
    store.apply_frame(snap)
    assert store["A"].trusted
    # Non-book events pass through untouched.
    trade = store.apply_frame(
        b'{"type":"trade","sid":2,"seq":9,"msg":{"market_ticker":"A","yes_price_dollars":"0.4000",'
        b'"no_price_dollars":"0.6000","count_fp":"1.00","taker_outcome_side":"no","taker_book_side":"ask",'
        b'"ts":1786410916,"ts_ms":1786410916130}}'
    )
    assert type(trade) is Trade and store.apply(trade) is None
    # Per-ticker grids, untrusting on demand, removal.
    store.set_grid("B", PriceGrid.deci_cent())
    assert store.book("B").grid is PriceGrid.deci_cent() and store.get("C") is None
    store.mark_untrusted("seq gap on sid 1", ["A"])
    assert not store["A"].trusted and store["A"].untrusted_reason == "seq gap on sid 1"
    store.mark_untrusted("reconnect")
    assert not store["B"].trusted
    store.remove("A")
    store.remove("nope")
    assert "A" not in store and store.get("A") is None
    assert "untrusted" in repr(store["B"])
